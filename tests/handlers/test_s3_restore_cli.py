"""``drctl restore-bucket`` end to end against a moto server (``ThreadedMotoServer`` on 127.0.0.1).

The CLI builds its own clients from ``AWS_ENDPOINT_URL``, which the ``moto_endpoint`` fixture sets.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from handlers.cli import COMMAND_MODULES, EXIT_AWS, EXIT_FAILED, EXIT_OK, EXIT_USAGE, app
from handlers.s3.restore import RestoreOptions, restore_bucket, restore_client
from handlers.times import parse_time
from tests.handlers.s3_scenario import (
    LOCK_BUCKET,
    MECHANICS,
    all_entries,
    current_contents,
    point_in_time,
    versioned_bucket,
)

# As ``drctl``'s main() does: every command module registers on the app.
for module in COMMAND_MODULES:
    importlib.import_module(module)

BUCKET = "cli-restore"
SUMMARY_KEYS = {
    "undeleted",
    "copied",
    "deleted",
    "skipped",
    "archived_pending",
    "failed",
    "bytes_copied",
    "requests",
    "seconds",
}


def _history(s3: Any) -> tuple[str, dict[str, bytes]]:
    expected = {"keep.txt": b"keep", "over written.txt": b"old", "délété.txt": b"old"}

    def before() -> None:
        for key, body in expected.items():
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)

    def after() -> None:
        s3.put_object(Bucket=BUCKET, Key="over written.txt", Body=b"new")
        s3.delete_object(Bucket=BUCKET, Key="délété.txt")
        s3.put_object(Bucket=BUCKET, Key="new.txt", Body=b"new")

    return point_in_time(before, after).isoformat(), expected


@pytest.fixture
def s3(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("DR_BATCH_REPORT_BUCKET", LOCK_BUCKET)  # the lock bucket, as the stack's env gives it
    client = boto3.client("s3")
    versioned_bucket(client, BUCKET)
    return client


def test_json_summary_is_the_only_stdout(s3: Any) -> None:
    at, expected = _history(s3)

    result = CliRunner().invoke(
        app, ["restore-bucket", BUCKET, "--to", at, "--json", "--workers", "4", "--delete-created-after", "--yes"]
    )

    assert result.exit_code == EXIT_OK, result.stderr
    summary = json.loads(result.stdout)  # one JSON object, nothing else
    assert summary.keys() >= SUMMARY_KEYS
    assert (summary["copied"], summary["undeleted"], summary["deleted"], summary["skipped"]) == (1, 1, 1, 1)
    assert current_contents(s3, BUCKET) == expected


def test_progress_accounts_for_every_listed_key_exactly_once(s3: Any) -> None:
    at, _ = _history(s3)
    listed: list[int] = []
    done: list[int] = []
    options = RestoreOptions(
        **MECHANICS, bucket=BUCKET, at=parse_time(at, "--to"), delete_created_after=True, workers=4
    )

    summary = restore_bucket(restore_client(4), options, on_key_done=done.append, on_key_listed=listed.append)

    # The bar's total grows with the listing and its completed count ends exactly at it: skips, batched
    # undeletes and deletes, and copies each advance it once per key.
    assert listed == [1, 2, 3, 4] and summary["keys_scanned"] == 4
    assert sum(done) == 4


def test_dry_run_reports_the_plan_and_changes_nothing(s3: Any) -> None:
    at, _ = _history(s3)
    before = all_entries(s3, BUCKET)

    result = CliRunner().invoke(app, ["restore-bucket", BUCKET, "--to", at, "--json", "--dry-run"])

    assert result.exit_code == EXIT_OK
    summary = json.loads(result.stdout)
    assert summary["dry_run"] is True and (summary["copied"], summary["undeleted"]) == (1, 1)
    assert all_entries(s3, BUCKET) == before


@pytest.mark.parametrize(
    ("arguments", "code", "message"),
    [
        (["--to", "yesterday"], EXIT_USAGE, "ISO 8601"),
        (["--to", "2026-01-01T00:00:00Z", "--archive-tier", "Fast"], EXIT_USAGE, "archive-tier"),
        (["--to", "2026-01-01T00:00:00Z", "--batch-threshold", "10"], EXIT_USAGE, "batch-role-arn"),
    ],
)
def test_bad_arguments_exit_with_usage_code(s3: Any, arguments: list[str], code: int, message: str) -> None:
    result = CliRunner().invoke(app, ["restore-bucket", BUCKET, *arguments])
    assert result.exit_code == code and message in result.stderr


def test_missing_bucket_exits_with_aws_code(s3: Any) -> None:
    result = CliRunner().invoke(app, ["restore-bucket", "no-such-bucket", "--to", "2026-01-01T00:00:00Z"])
    assert result.exit_code == EXIT_AWS and "NoSuchBucket" in result.stderr


@pytest.mark.parametrize(
    ("arguments", "code", "message"),
    [
        (["cli-restore", "--to", "yesterday"], EXIT_USAGE, "ISO 8601"),
        (["cli-restore", "--to", "2026-01-01T00:00:00Z", "--batch-threshold", "10"], EXIT_USAGE, "batch-role-arn"),
        (["no-such-bucket", "--to", "2026-01-01T00:00:00Z"], EXIT_AWS, "NoSuchBucket"),
    ],
)
def test_errors_under_json_are_one_json_object_on_stdout(
    s3: Any, arguments: list[str], code: int, message: str
) -> None:
    result = CliRunner().invoke(app, ["restore-bucket", *arguments, "--json"])

    assert result.exit_code == code
    error = json.loads(result.stdout)  # a script parsing --json output gets an object on every outcome
    assert error["exit_code"] == code and message in error["error"]


def test_unversioned_bucket_is_refused(s3: Any) -> None:
    s3.create_bucket(Bucket="cli-unversioned")
    result = CliRunner().invoke(app, ["restore-bucket", "cli-unversioned", "--to", "2026-01-01T00:00:00Z"])
    assert result.exit_code == EXIT_USAGE and "never been versioned" in result.stderr


def test_failed_keys_give_exit_code_1(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    at, _ = _history(s3)
    from handlers.s3 import restore as s3_restore

    def refuse_copies(*_: Any, **__: Any) -> str:
        raise s3.exceptions.ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, "CopyObject")

    monkeypatch.setattr(s3_restore, "copy_version", refuse_copies)
    result = CliRunner().invoke(app, ["restore-bucket", BUCKET, "--to", at, "--json", "--yes"])

    summary = json.loads(result.stdout)
    assert result.exit_code == EXIT_FAILED
    assert summary["failed"] == 1 and summary["failures"] == {"over written.txt": "AccessDenied"}


@pytest.mark.slow
def test_installed_drctl_prints_only_json_on_stdout(s3: Any, moto_endpoint: str) -> None:
    at, expected = _history(s3)
    drctl = Path(sys.executable).with_name("drctl")

    done = subprocess.run(
        [str(drctl), "restore-bucket", BUCKET, "--to", at, "--json", "--yes"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "AWS_ENDPOINT_URL": moto_endpoint},
        check=False,
    )

    assert done.returncode == EXIT_OK, done.stderr
    assert len(done.stdout.splitlines()) == 1 and json.loads(done.stdout)["copied"] == 1
    assert current_contents(s3, BUCKET) == expected | {"new.txt": b"new"}


def test_restore_lambda_entry_is_idempotent(s3: Any, lambda_context: Any) -> None:
    """The automated-restore Lambda runs the same function; a repeated invocation writes nothing."""
    from handlers.s3 import restore as s3_restore

    at, expected = _history(s3)
    event = {"bucket": BUCKET, "to": at, "delete_created_after": True, "workers": 4, "confirm": True}
    s3_restore._lambda_client.cache_clear()  # its module-scope client must see this test's endpoint
    try:
        first = s3_restore.lambda_handler(event, lambda_context)
        second = s3_restore.lambda_handler(event, lambda_context)
    finally:
        s3_restore._lambda_client.cache_clear()

    assert (first["copied"], first["undeleted"], first["deleted"]) == (1, 1, 1)
    assert (second["copied"], second["undeleted"], second["deleted"], second["skipped"]) == (0, 0, 0, 4)
    assert current_contents(s3, BUCKET) == expected


def test_restore_lambda_fails_the_invocation_when_keys_fail(
    s3: Any, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Async retries and Step Functions only see a failure that is raised, not one left in a metric."""
    from handlers.s3 import restore as s3_restore

    at, _ = _history(s3)
    monkeypatch.setattr(
        s3_restore,
        "restore_bucket",
        lambda *_a, **_k: {
            **dict.fromkeys(s3_restore.SUMMARY_COUNTERS, 0),
            "failed": 1,
            "failures": {"k": "AccessDenied"},
        },
    )
    with pytest.raises(s3_restore.RestoreIncomplete, match="AccessDenied"):
        s3_restore.lambda_handler({"bucket": BUCKET, "to": at}, lambda_context)
