"""``drctl`` under bad input and interruption (issue 12), against moto: each test fails against the code before it.

Ranges and the pruning floor, markup-proof messages, one JSON object per run, exit codes by cause, a clean stop on
SIGINT/SIGTERM, one time rule, blast-radius guards, fail-fast on systemic errors, single-flight locks.
"""

from __future__ import annotations

import importlib
import json
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from typer.testing import CliRunner

from handlers import cli
from handlers.cli import COMMAND_MODULES, EXIT_AWS, EXIT_FAILED, EXIT_OK, EXIT_SIGINT, EXIT_USAGE, app
from handlers.dynamodb.backups import BackupPlan, BackupRecord, run_backups, select_for_pruning
from handlers.runtime_names import MIN_BACKUP_RETENTION_DAYS
from handlers.s3 import audit
from handlers.s3.lock import LockHeld, RestoreLock, lock_key
from handlers.s3.restore import GATED_WRITES, RestoreEvent, RestoreOptions, restore_bucket, restore_client
from handlers.times import TimeError, parse_time
from tests.handlers.s3_scenario import (
    LOCK_BUCKET,
    current_contents,
    point_in_time,
    replicate,
    versioned_bucket,
)

for module in COMMAND_MODULES:
    importlib.import_module(module)

BUCKET = "safety-restore"
WRITE_OPERATIONS = frozenset(
    {"CopyObject", "DeleteObjects", "DeleteObject", "PutObject", "UploadPartCopy", "CompleteMultipartUpload"}
)


@pytest.fixture
def s3(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("DR_BATCH_REPORT_BUCKET", LOCK_BUCKET)
    client = boto3.client("s3")
    versioned_bucket(client, BUCKET)
    return client


def overwritten_history(s3: Any, keys: int, *, bucket: str = BUCKET) -> tuple[str, dict[str, bytes]]:
    """``keys`` keys written before T and all overwritten after it; returns T and the contents at T."""
    expected = {f"k/{index:04d}": f"old {index}".encode() for index in range(keys)}

    def before() -> None:
        for key, body in expected.items():
            s3.put_object(Bucket=bucket, Key=key, Body=body)

    def after() -> None:
        for key in expected:
            s3.put_object(Bucket=bucket, Key=key, Body=b"new " + key.encode())

    return point_in_time(before, after).isoformat(), expected


def invoke(args: list[str]) -> Any:
    return CliRunner().invoke(app, args)


def one_json_object(stdout: str) -> dict[str, Any]:
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert len(lines) == 1, stdout
    document = json.loads(lines[0])
    assert isinstance(document, dict)
    return document


# ---------------------------------------------------------------- 1. validated options, pruning floor


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["restore-bucket", BUCKET, "--to", "2026-01-01T00:00:00Z", "--workers", "0"], "--workers"),
        (["restore-bucket", BUCKET, "--to", "2026-01-01T00:00:00Z", "--workers", "257"], "--workers"),
        (["restore-bucket", BUCKET, "--to", "2026-01-01T00:00:00Z", "--archive-days", "0"], "--archive-days"),
        (["restore-bucket", BUCKET, "--to", "2026-01-01T00:00:00Z", "--batch-threshold", "0"], "--batch-threshold"),
        (["restore-bucket", BUCKET, "--to", "2026-01-01T00:00:00Z", "--max-change-share", "0"], "--max-change-share"),
        (["audit-replication", "--bucket", BUCKET, "--rtc-window-minutes", "-1"], "--rtc-window-minutes"),
        (["audit-replication", "--bucket", BUCKET, "--workers", "0"], "--workers"),
        (["restore-table", "orders", "--to", "latest", "--sample", "0"], "--sample"),
        (["restore-table", "orders", "--to", "latest", "--wait-delay", "-5"], "--wait-delay"),
        (["drill-bucket", BUCKET, "--rpo-minutes", "-1"], "--rpo-minutes"),
    ],
)
def test_every_numeric_option_has_a_range(moto_endpoint: str, args: list[str], option: str) -> None:
    result = invoke([*args, "--json"])
    assert result.exit_code == EXIT_USAGE
    assert option in one_json_object(result.stdout)["error"]


def test_retention_below_the_floor_exits_2_naming_both_values(mock_aws: None) -> None:
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    result = invoke(["backup", "--tables", "orders", "--regions", "us-east-1", "--retention-days", "-1", "--json"])
    error = one_json_object(result.stdout)["error"]
    assert result.exit_code == EXIT_USAGE and "--retention-days" in error and "-1" in error
    assert str(MIN_BACKUP_RETENTION_DAYS) in error
    assert ddb.list_backups(TableName="orders")["BackupSummaries"] == []  # nothing taken, nothing pruned
    with pytest.raises(ValueError, match="retention floor"):
        BackupPlan(tables=["orders"], regions=["us-east-1"], reason="x", retention_days=1)  # the Lambda's path


def _record(name: str, age_days: float, now: datetime, *, reason: str | None = "nightly", kind: str = "USER") -> Any:
    return BackupRecord(f"arn:{name}", name, now - timedelta(days=age_days), "AVAILABLE", reason, kind)


def test_pruning_never_deletes_below_the_floor_nor_recovery_points_nor_foreign_backups() -> None:
    now = datetime(2026, 11, 22, tzinfo=UTC)
    records = [
        _record("minutes-old", 0.01, now),
        _record("six-days", 6, now),
        _record("aws-backup-point", 400, now, kind="AWS_BACKUP"),
        _record("foreign", 400, now, reason=None),
        _record("old", 30, now),
        _record("newest", 0.001, now),
    ]
    # Even a caller that bypasses the plan's check with retention 0 cannot prune inside the floor.
    pruned = select_for_pruning(records, now, retention_days=0, release_retention_days=0)
    assert [r.name for r in pruned] == ["old"]


def test_backup_dry_run_shows_what_it_would_prune_and_changes_nothing(mock_aws: None) -> None:
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    factory = lambda service, region: boto3.client(service, region_name=region)  # noqa: E731
    now = datetime.now(UTC)
    base = {"tables": ["orders"], "regions": ["us-east-1"], "reason": "nightly", "retention_days": 7}
    run_backups(BackupPlan(**base), factory, now=now)
    before = ddb.list_backups(TableName="orders")["BackupSummaries"]

    summary = run_backups(BackupPlan(**base, dry_run=True), factory, now=now + timedelta(days=20))

    [table] = summary["tables"]
    assert summary["dry_run"] and summary["would_prune"] == 1 and table["backup_status"] == "would-create"
    assert [p["arn"] for p in table["would_prune"]] == [before[0]["BackupArn"]]
    assert ddb.list_backups(TableName="orders")["BackupSummaries"] == before


# ---------------------------------------------------------------- 2-4. markup, one JSON object, exit codes


@pytest.mark.parametrize(
    "args",
    [
        ["restore-bucket", "s3://x", "--to", "2026-01-01T00:00:00Z"],
        ["restore-bucket", "arn:aws:s3:::[/x]", "--to", "2026-01-01T00:00:00Z"],
        ["restore-bucket", BUCKET, "--to", "[/red]"],
        ["restore-bucket", BUCKET, "--to", "2026-01-01T00:00:00Z", "--prefix", "exports[/tmp]/\udcff"],
        ["audit-replication", "--bucket", "[/bold]"],
    ],
)
@pytest.mark.parametrize("as_json", [False, True])
def test_text_with_markup_never_crashes(s3: Any, args: list[str], as_json: bool) -> None:
    result = invoke([*args, *(["--json"] if as_json else [])])
    assert result.exit_code == EXIT_USAGE, result.output
    assert "Traceback" not in result.stderr and "MarkupError" not in repr(result.exception)
    if as_json:
        assert one_json_object(result.stdout)["exit_code"] == EXIT_USAGE


def test_a_prefix_with_markup_reaches_the_restore_and_is_printed_as_text(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="exports[/tmp]/a", Body=b"x")
    result = invoke(["restore-bucket", BUCKET, "--to", datetime.now(UTC).isoformat(), "--prefix", "exports[/tmp]/"])
    assert result.exit_code == EXIT_OK, result.output
    assert "exports[/tmp]/" in result.stderr  # shown literally, not swallowed as a tag


@pytest.mark.parametrize(
    "args",
    [
        ["restore-bucket", BUCKET, "--to", "2026-01-01T00:00:00Z", "--workers", "0"],
        ["restore-bucket", BUCKET],  # missing --to
        ["restore-bucket", BUCKET, "--to", "2026-01-01T00:00:00Z", "--no-such-option"],
        ["restore-table", "orders", "--backup", "not-an-arn"],
        ["no-such-command"],
    ],
)
def test_usage_errors_under_json_are_one_object_with_exit_2(s3: Any, args: list[str]) -> None:
    result = invoke([*args, "--json"])
    assert result.exit_code == EXIT_USAGE
    document = one_json_object(result.stdout)
    assert document["exit_code"] == EXIT_USAGE and document["error"]


def test_an_unreachable_endpoint_is_exit_3_and_one_object(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # discard port: connection refused
    monkeypatch.setattr("handlers.aws.DEFAULT_MAX_ATTEMPTS", 1)
    monkeypatch.setattr("handlers.s3.restore.RESTORE_MAX_ATTEMPTS", 1)
    result = invoke(["restore-bucket", BUCKET, "--to", "2026-01-01T00:00:00Z", "--json"])
    assert result.exit_code == EXIT_AWS
    assert one_json_object(result.stdout)["exit_code"] == EXIT_AWS


# ---------------------------------------------------------------- 6. one time rule


@pytest.mark.parametrize(
    ("text", "message"),
    [("2026-11-20T09:00:00", "has no offset"), ("2999-01-01T00:00:00Z", "in the future"), ("soon", "ISO 8601")],
)
def test_one_time_rule_for_every_command(s3: Any, text: str, message: str) -> None:
    for args in (["restore-bucket", BUCKET, "--to", text], ["restore-table", "orders", "--to", text]):
        result = invoke([*args, "--json"])
        error = one_json_object(result.stdout)["error"]
        assert result.exit_code == EXIT_USAGE and "--to" in error and message in error
    with pytest.raises(TimeError, match=message):
        RestoreEvent.parse({"bucket": BUCKET, "to": text})  # the restore Lambda's event follows the same rule
    assert parse_time("2026-11-20T09:00:00+01:00", "--to") == datetime(2026, 11, 20, 8, tzinfo=UTC)


# ---------------------------------------------------------------- 7. blast radius


def test_a_restore_to_before_the_bucket_existed_is_refused_with_counts(s3: Any) -> None:
    overwritten_history(s3, 6)
    before = datetime(2020, 1, 1, tzinfo=UTC).isoformat()
    result = invoke(["restore-bucket", BUCKET, "--to", before, "--delete-created-after", "--json"])
    document = one_json_object(result.stdout)
    assert result.exit_code == EXIT_USAGE and "before the oldest version" in document["error"]
    assert document["blast_radius"]["would_delete"] == 6 and document["blast_radius"]["live_keys"] == 6
    assert s3.list_object_versions(Bucket=BUCKET).get("DeleteMarkers") is None  # nothing written


def test_a_restore_changing_more_than_the_share_is_refused_until_yes(s3: Any) -> None:
    at, expected = overwritten_history(s3, 8)
    refused = invoke(["restore-bucket", BUCKET, "--to", at, "--json"])
    document = one_json_object(refused.stdout)
    assert refused.exit_code == EXIT_USAGE and document["blast_radius"]["would_overwrite"] == 8
    assert document["blast_radius"]["requests"] >= 1 and "--yes" in document["error"]

    done = invoke(["restore-bucket", BUCKET, "--to", at, "--json", "--yes"])
    summary = one_json_object(done.stdout)
    assert done.exit_code == EXIT_OK and summary["copied"] == 8 and summary["blast_radius"] is None
    assert current_contents(s3, BUCKET) == expected
    # A re-run is not refused: the listing shows every key already as at T (same size and storage class).
    again = one_json_object(invoke(["restore-bucket", BUCKET, "--to", at, "--json"]).stdout)
    assert again["exit_code"] == EXIT_OK and again["copied"] == 0 and again["blast_radius"]["would_overwrite"] == 0


def test_the_restore_lambda_needs_confirm_above_the_share(s3: Any, lambda_context: Any) -> None:
    from handlers.s3 import restore as s3_restore

    at, expected = overwritten_history(s3, 4)
    s3_restore._lambda_client.cache_clear()
    try:
        with pytest.raises(s3_restore.BlastRadiusRefused):
            s3_restore.lambda_handler({"bucket": BUCKET, "to": at}, lambda_context)
        summary = s3_restore.lambda_handler({"bucket": BUCKET, "to": at, "confirm": True}, lambda_context)
    finally:
        s3_restore._lambda_client.cache_clear()
    assert summary["copied"] == 4 and current_contents(s3, BUCKET) == expected


def test_a_prefix_that_matches_nothing_exits_1_with_a_warning(s3: Any) -> None:
    overwritten_history(s3, 2)
    result = invoke(["restore-bucket", BUCKET, "--to", "2026-01-01T00:00:00Z", "--prefix", "typo/", "--json"])
    document = one_json_object(result.stdout)
    assert result.exit_code == EXIT_FAILED and "nothing matched" in document["warning"]
    assert document["keys_scanned"] == 0


def test_audit_refuses_a_replica_equal_to_the_primary(s3: Any) -> None:
    result = invoke(["audit-replication", "--bucket", BUCKET, "--replica-bucket", BUCKET, "--no-publish", "--json"])
    assert result.exit_code == EXIT_USAGE and "primary itself" in one_json_object(result.stdout)["error"]
    with pytest.raises(ValueError, match="primary itself"):
        audit.AuditTarget(BUCKET, BUCKET)


# ---------------------------------------------------------------- 5. a clean stop


class WriteClock:
    """Every write request the restore sends (botocore ``before-parameter-build``, registered after the restore's own
    gate, so it sees exactly the writes that were admitted); after ``signal_after`` completed writes it sends SIGINT
    to the main thread (where Python runs handlers; a process-directed signal may land on a worker and wait for the
    main thread's next bytecode), and holds every admitted write until the stop is set, so no scheduling delay lets
    the restore finish before the handler runs."""

    def __init__(self, signal_after: int, stop_flag: Callable[[], Any]) -> None:
        self.signal_after = signal_after
        self.stop_flag = stop_flag
        self.sent = 0
        self.completed = 0
        self.signalled = False
        self._lock = threading.Lock()

    def attach(self, client: Any) -> Any:
        client.meta.events.register_last("before-parameter-build.s3", self._before)
        client.meta.events.register("after-call.s3", self._after)
        return client

    @staticmethod
    def _is_restore_write(model: Any, params: dict[str, Any] | None) -> bool:
        params = params or {}
        lock_request = params.get("Bucket") == LOCK_BUCKET and str(params.get("Key", "")).startswith("dr-locks/")
        return model.name in GATED_WRITES and not lock_request

    def _before(self, model: Any, params: dict[str, Any] | None = None, **_: Any) -> None:
        if self._is_restore_write(model, params):
            with self._lock:
                self.sent += 1
            if self.signalled:
                assert self.stop_flag().wait(120), "the SIGINT handler never set the stop"

    def _after(self, model: Any, params: dict[str, Any] | None = None, **_: Any) -> None:
        if not self._is_restore_write(model, params):
            return
        with self._lock:
            self.completed += 1
            send = self.completed == self.signal_after
        if send:
            self.signalled = True
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)


def test_ctrl_c_stops_dispatching_reports_and_a_rerun_converges(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """No write is dispatched after the stop is set, whatever the scheduling.

    The stop flag admits each write and is set under one lock (``StopFlag``), so the writes sent are exactly those
    admitted before the stop: an equality of counts, not a time window. (The old check counted writes completed
    after ``os.kill``: a signal delivered to a worker thread runs its handler only when the main thread next
    executes Python, so under load many writes were legitimately dispatched between the kill and the stop, and
    a work item already running could still send its write after the stop.) The signal goes to the main thread and
    admitted writes wait for the stop, so the interrupted run always stops part-way.
    """
    replicate(s3, BUCKET, "safety-replica")  # copy path: one CopyObject per key
    at, expected = overwritten_history(s3, 120)
    workers = 4
    flags: list[Any] = []
    clock = WriteClock(signal_after=20, stop_flag=lambda: flags[0])
    import handlers.cli.s3 as cli_s3

    real_restore = cli_s3.restore_bucket

    def restore_keeping_the_flag(*args: Any, **kwargs: Any) -> Any:
        flags.append(kwargs["stop"])
        return real_restore(*args, **kwargs)

    monkeypatch.setattr(cli_s3, "restore_client", lambda n: clock.attach(restore_client(n)))
    monkeypatch.setattr(cli_s3, "restore_bucket", restore_keeping_the_flag)

    result = invoke(["restore-bucket", BUCKET, "--to", at, "--workers", str(workers), "--yes", "--json"])

    assert result.exit_code == EXIT_SIGINT
    summary = one_json_object(result.stdout)
    assert summary["exit_code"] == EXIT_SIGINT and summary["stopped"] == "interrupted"
    [flag] = flags
    assert clock.signalled and flag.is_set()
    assert clock.sent == flag.admitted_when_set, "a write was sent after the stop was set"
    assert clock.sent >= 20 and summary["copied"] <= clock.sent
    assert summary["copied"] < 120 and summary["copied"] + summary["not_done"] + summary["skipped"] >= 20
    assert "stopped" in result.stderr
    monkeypatch.setattr(cli_s3, "restore_bucket", real_restore)
    rerun = invoke(["restore-bucket", BUCKET, "--to", at, "--workers", str(workers), "--yes", "--json"])
    assert rerun.exit_code == EXIT_OK and current_contents(s3, BUCKET) == expected
    assert not s3.list_objects_v2(Bucket=LOCK_BUCKET).get("Contents")  # the interrupted run released its lock


def test_a_second_signal_abandons_at_once_with_one_json_object(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    exits: list[int] = []

    def fake_exit(code: int) -> None:
        exits.append(code)
        raise SystemExit(code)

    monkeypatch.setattr(cli.os, "_exit", fake_exit)
    with pytest.raises(SystemExit), cli.interruptible(True, "the restore") as interruption:
        signal.raise_signal(signal.SIGTERM)
        assert interruption.stop.is_set() and interruption.code == 143
        signal.raise_signal(signal.SIGINT)
    assert exits == [130]
    document = one_json_object(capsys.readouterr().out)
    assert document["abandoned"] is True and document["exit_code"] == 130


# ---------------------------------------------------------------- 8. fail fast


class RejectCopies:
    """Every CopyObject is refused with 403 AccessDenied before it is sent (botocore ``before-send``)."""

    def __init__(self) -> None:
        self.copies = 0
        self._lock = threading.Lock()

    def attach(self, client: Any) -> Any:
        client.meta.events.register("before-send.s3.CopyObject", self._refuse)
        return client

    def _refuse(self, request: Any, **_: Any) -> AWSResponse:
        with self._lock:
            self.copies += 1

        class Body:
            def stream(self, **_: Any) -> Any:
                yield b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"

        return AWSResponse(request.url, 403, {"Content-Type": "application/xml"}, Body())


def test_a_systemic_refusal_stops_early_with_classes_and_bounded_memory(
    s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    replicate(s3, BUCKET, "safety-replica")
    at, expected = overwritten_history(s3, 300)
    rejecter = RejectCopies()
    import handlers.cli.s3 as cli_s3

    monkeypatch.setattr(cli_s3, "restore_client", lambda n: rejecter.attach(restore_client(n)))
    result = invoke(["restore-bucket", BUCKET, "--to", at, "--workers", "4", "--yes", "--json"])

    summary = one_json_object(result.stdout)
    assert result.exit_code == EXIT_AWS and summary["systemic_failure"] == "AccessDenied"
    assert rejecter.copies < 100, f"{rejecter.copies} copies sent after the failure was systemic"
    assert summary["error_classes"]["AccessDenied"]["count"] == summary["failed"]
    assert len(summary["error_classes"]["AccessDenied"]["sample"]) <= 5 and len(summary["failures"]) <= 50
    assert summary["not_done"] + summary["failed"] + summary["copied"] <= 300
    assert "AccessDenied" in result.stderr  # each class with its count, on stderr too

    monkeypatch.setattr(cli_s3, "restore_client", restore_client)  # the cause is fixed
    rerun = invoke(["restore-bucket", BUCKET, "--to", at, "--workers", "4", "--yes", "--json"])
    assert rerun.exit_code == EXIT_OK and current_contents(s3, BUCKET) == expected


def test_failure_memory_is_bounded_however_many_keys_fail() -> None:
    from handlers.s3.plan import FailFast, RestoreSummary

    summary = RestoreSummary(fail_fast=FailFast(first_writes=10**9, window=10, window_share=2.0))  # never trips
    for index in range(20_000):
        summary.fail(f"key-{index}", f"Code{index % 50}")
    document = summary.as_dict()
    assert document["failed"] == 20_000 and len(document["failures"]) == 50
    assert (
        len(document["error_classes"]) <= 21
        and sum(len(c["sample"]) for c in document["error_classes"].values()) <= 105
    )
    assert sum(c["count"] for c in document["error_classes"].values()) == 20_000


# ---------------------------------------------------------------- 9. single-flight


def test_a_second_restore_refuses_with_owner_and_age_and_break_lock_breaks_it(s3: Any) -> None:
    at, expected = overwritten_history(s3, 3)
    held = RestoreLock(s3, LOCK_BUCKET, BUCKET, owner="alice@ops pid 1", prefix="")
    held.acquire()

    refused = invoke(["restore-bucket", BUCKET, "--to", at, "--yes", "--json"])
    document = one_json_object(refused.stdout)
    assert refused.exit_code == EXIT_FAILED and "alice@ops pid 1" in document["error"] and " s)" in document["error"]
    assert current_contents(s3, BUCKET) != expected  # nothing copied

    broken = invoke(["restore-bucket", BUCKET, "--to", at, "--yes", "--break-lock", "--json"])
    summary = one_json_object(broken.stdout)
    assert broken.exit_code == EXIT_OK and summary["lock_broken"]["owner"] == "alice@ops pid 1"
    assert current_contents(s3, BUCKET) == expected
    assert held.renew() is False and held.lost.is_set()  # the broken holder learns it on its next renewal


def test_the_lock_is_conditional_renewed_with_its_etag_and_released(s3: Any) -> None:
    lock = RestoreLock(s3, LOCK_BUCKET, BUCKET, owner="me", prefix="p/")
    lock.acquire()
    first = lock.etag
    body = json.loads(s3.get_object(Bucket=LOCK_BUCKET, Key=lock_key(BUCKET))["Body"].read())
    assert body["owner"] == "me" and body["prefix"] == "p/" and body["started"]
    with pytest.raises(LockHeld, match="held by me"):
        RestoreLock(s3, LOCK_BUCKET, BUCKET, owner="other").acquire()
    assert lock.renew() and lock.etag != first
    lock.release()
    assert not s3.list_objects_v2(Bucket=LOCK_BUCKET).get("Contents")


def test_a_writing_restore_refuses_without_a_lock_bucket(s3: Any) -> None:
    at, _ = overwritten_history(s3, 1)
    with pytest.raises(ValueError, match="lock bucket"):
        restore_bucket(s3, RestoreOptions(bucket=BUCKET, at=parse_time(at, "--to"), confirmed=True))
    assert restore_bucket(s3, RestoreOptions(bucket=BUCKET, at=parse_time(at, "--to"), dry_run=True))["copied"] == 1


class GarbleCopies:
    """Every CopyObject is answered 200 with an unparseable ``LastModified`` (botocore ``before-send``)."""

    def __init__(self) -> None:
        self.copies = 0
        self._lock = threading.Lock()

    def attach(self, client: Any) -> Any:
        client.meta.events.register("before-send.s3.CopyObject", self._garble)
        return client

    def _garble(self, request: Any, **_: Any) -> AWSResponse:
        with self._lock:
            self.copies += 1

        class Body:
            def stream(self, **_: Any) -> Any:
                yield (
                    b'<?xml version="1.0" encoding="UTF-8"?><CopyObjectResult><LastModified>not a time</LastModified>'
                    b"<ETag>&quot;0&quot;</ETag></CopyObjectResult>"
                )

        return AWSResponse(request.url, 200, {"Content-Type": "application/xml"}, Body())


def test_unparseable_copy_responses_stop_early_and_the_summary_is_printed(
    s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 23 item 10: any per-key failure counts toward the systemic rule, and the counts are always printed."""
    replicate(s3, BUCKET, "safety-replica")
    at, _expected = overwritten_history(s3, 300)
    garbler = GarbleCopies()
    import handlers.cli.s3 as cli_s3

    monkeypatch.setattr(cli_s3, "restore_client", lambda n: garbler.attach(restore_client(n)))
    result = invoke(["restore-bucket", BUCKET, "--to", at, "--workers", "4", "--yes", "--json"])

    summary = one_json_object(result.stdout)
    assert result.exit_code == EXIT_FAILED, (result.stdout, result.stderr)
    assert summary["systemic_failure"] is not None and summary["copied"] == 0
    assert garbler.copies < 100, f"{garbler.copies} copies sent after the failure was systemic"
    assert summary["failed"] >= 50 and summary["not_done"] > 0
    assert summary["failed"] + summary["not_done"] + summary["skipped"] <= 300
    assert "stopped early" in result.stderr


def test_alternating_successes_and_failures_are_not_systemic() -> None:
    """Half the keys failing is not "every request fails the same way": the first-writes rule needs all of them."""
    from handlers.s3.plan import FailFast, RestoreSummary

    summary = RestoreSummary(fail_fast=FailFast(first_writes=50, window=200, window_share=0.9))
    for index in range(1_000):
        if index % 2:
            summary.fail(f"key-{index}", "AccessDenied")
        else:
            summary.succeeded()
    assert summary.systemic_failure is None and summary.failed == 500
