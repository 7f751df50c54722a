"""``drctl restore-bucket --plan-from inventory`` and ``drctl audit-objects`` against a moto server.

Emulated: moto has no S3 Inventory, EventBridge delivery or Batch Operations ``DescribeJob``; the tests write the
report and the journal (``tests/handlers/inventory_scenario.py``) and stub ``DescribeJob`` with botocore's Stubber.
Athena runs no SQL on moto: the Athena engine's test checks what it submits (the same SQL file, the bound
parameters, the workgroup) and how it reads results, with results queued through moto's Athena results API.
"""

from __future__ import annotations

import importlib
import json
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from typer.testing import CliRunner

from handlers.cli import COMMAND_MODULES, EXIT_OK, EXIT_USAGE, app
from handlers.s3.batch import track_jobs
from handlers.s3.inventory import AthenaEngine, PlanParameters, query_text, render
from handlers.s3.inventory_files import journal_keys, write_journal
from tests.handlers.inventory_scenario import JournalRecorder, snapshot_inventory
from tests.handlers.s3_scenario import LOCK_BUCKET, current_contents, point_in_time, versioned_bucket

for module in COMMAND_MODULES:
    importlib.import_module(module)

BUCKET = "inventory-cli"


@pytest.fixture
def s3(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("DR_BATCH_REPORT_BUCKET", LOCK_BUCKET)
    client = boto3.client("s3")
    versioned_bucket(client, BUCKET)
    return client


def _history(s3: Any, *, report: bool = True) -> tuple[str, dict[str, bytes], JournalRecorder]:
    journal = JournalRecorder(s3, BUCKET)
    expected = {f"docs/{i}.txt": f"v1 {i}".encode() for i in range(8)}

    def before() -> None:
        for key, body in expected.items():
            journal.put(key, body)

    def after() -> None:
        journal.put("docs/0.txt", b"damaged")
        journal.delete("docs/1.txt")
        journal.delete("docs/2.txt")
        journal.put("docs/new.txt", b"new")

    at = point_in_time(before, after)
    if report:
        snapshot_inventory(s3, BUCKET, LOCK_BUCKET, datetime.now(UTC))
        journal.write_journal(LOCK_BUCKET)
    return at.isoformat(), expected, journal


def _run(args: list[str]) -> tuple[int, dict[str, Any], str]:
    result = CliRunner().invoke(app, args)
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, result.stdout + result.stderr
    return result.exit_code, json.loads(lines[0]), result.stderr


INVENTORY = ["--plan-from", "inventory", "--journal-settle-seconds", "0", "--json"]


def test_restore_plans_from_the_inventory_and_restores(s3: Any) -> None:
    at, expected, _ = _history(s3)

    code, summary, _ = _run(["restore-bucket", BUCKET, "--to", at, *INVENTORY, "--delete-created-after", "--yes"])

    assert code == EXIT_OK
    assert summary["planner"] == "inventory" and summary["engine"] == "duckdb"
    assert summary["inventory_report"]["journal_files"] == 1 and summary["relisted_keys"] == 0
    assert (summary["copied"], summary["undeleted"], summary["deleted"]) == (1, 2, 1)
    assert current_contents(s3, BUCKET) == expected


def test_without_a_report_it_plans_from_a_listing_and_says_so(s3: Any) -> None:
    at, _, _ = _history(s3, report=False)

    code, summary, stderr = _run(["restore-bucket", BUCKET, "--to", at, *INVENTORY, "--dry-run"])

    assert code == EXIT_OK
    assert summary["planner"] == "listing" and "no inventory report yet" in summary["planner_note"]
    assert "no S3 Inventory report" in stderr and "48 h" in stderr


def test_dry_run_checks_the_inventory_plan_against_the_listing(s3: Any) -> None:
    at, _, _ = _history(s3)

    code, summary, _ = _run(["restore-bucket", BUCKET, "--to", at, *INVENTORY, "--dry-run", "--check-against-listing"])

    assert code == EXIT_OK
    assert summary["plan_check"]["keys_compared"] == 9 and summary["plan_check"]["differences"] == 0


def test_check_against_listing_finds_a_stale_report(s3: Any) -> None:
    """Without the journal, a report taken before the damage plans nothing: the check says where."""
    journal = JournalRecorder(s3, BUCKET)
    at = point_in_time(lambda: journal.put("k", b"1"), lambda: None)
    snapshot_inventory(s3, BUCKET, LOCK_BUCKET, datetime.now(UTC))
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"damaged")  # after the report, and no journal

    code, summary, stderr = _run(
        ["restore-bucket", BUCKET, "--to", at.isoformat(), *INVENTORY, "--dry-run", "--check-against-listing"]
    )

    assert code == EXIT_OK and summary["plan_check"]["differences"] == 1
    assert summary["plan_check"]["sample"][0]["inventory"][0] == "skip"
    assert summary["plan_check"]["sample"][0]["listing"][0] == "copy"
    assert "differs from the listing plan" in stderr


def test_check_against_listing_needs_a_dry_run_of_the_inventory_plan(s3: Any) -> None:
    code, summary, _ = _run(
        ["restore-bucket", BUCKET, "--to", "2026-01-01T00:00:00Z", "--json", "--check-against-listing"]
    )
    assert code == EXIT_USAGE and "--dry-run and --plan-from inventory" in summary["error"]


def test_blast_radius_refusal_holds_for_the_inventory_plan(s3: Any) -> None:
    at, _, _ = _history(s3)  # an overwrite and a delete of 7 live keys: above 25 % (undeletes do not count)

    code, summary, _ = _run(["restore-bucket", BUCKET, "--to", at, *INVENTORY, "--delete-created-after"])

    assert code == EXIT_USAGE
    radius = summary["blast_radius"]
    assert (radius["would_overwrite"], radius["would_delete"], radius["live_keys"]) == (1, 1, 7)
    assert radius["would_undelete"] == 2


def test_large_listing_suggests_the_inventory(s3: Any) -> None:
    at, _, _ = _history(s3, report=False)

    code, summary, stderr = _run(
        ["restore-bucket", BUCKET, "--to", at, "--json", "--dry-run", "--suggest-inventory-above", "5"]
    )

    assert code == EXIT_OK and summary["inventory_suggested"] is True
    assert "--plan-from inventory" in stderr


def test_audit_objects_names_who_changed_what(s3: Any) -> None:
    at, _, _ = _history(s3)

    code, report, _ = _run(["audit-objects", "--bucket", BUCKET, "--since", at, "--json"])

    assert code == EXIT_OK
    assert report["counts"] == {"create": 1, "overwrite": 1, "delete": 2}
    changes = {(change["action"], change["key"]) for change in report["changes"]}
    assert changes == {
        ("overwrite", "docs/0.txt"),
        ("delete", "docs/1.txt"),
        ("delete", "docs/2.txt"),
        ("create", "docs/new.txt"),
    }
    assert all(change["requester"] == "123456789012" for change in report["changes"])


def test_audit_objects_filters_actions_and_prefix_and_finds_spikes(s3: Any) -> None:
    at, _, _ = _history(s3)

    code, report, _ = _run(
        [
            "audit-objects", "--bucket", BUCKET, "--since", at, "--json",
            "--actions", "delete", "--key-prefix", "docs/1", "--spikes-min-deletes", "2",
        ]
    )  # fmt: skip

    assert code == EXIT_OK
    assert [(c["action"], c["key"]) for c in report["changes"]] == [("delete", "docs/1.txt")]
    # The spike query counts the whole bucket: both deletes fall in one 5-minute window.
    assert [spike["deleted_objects"] for spike in report["deletion_spikes"]] == [2]


def test_audit_objects_de_duplicates_repeated_deliveries(s3: Any) -> None:
    at, _, journal = _history(s3, report=False)
    rows = journal.journal_rows()
    write_journal(s3, LOCK_BUCKET, BUCKET, rows)
    # A second delivery of the last four events, in another Firehose object.
    write_journal(s3, LOCK_BUCKET, BUCKET, [{**row, "request_id": "redelivered"} for row in rows[-4:]])

    code, report, _ = _run(["audit-objects", "--bucket", BUCKET, "--since", at, "--json"])

    assert code == EXIT_OK and sum(report["counts"].values()) == 4
    assert len(journal_keys(s3, LOCK_BUCKET, BUCKET, datetime(2000, 1, 1))) == 2


def test_audit_objects_rejects_unknown_actions(s3: Any) -> None:
    result = CliRunner().invoke(
        app, ["audit-objects", "--bucket", BUCKET, "--since", "2026-01-01T00:00:00Z", "--actions", "purge"]
    )
    assert result.exit_code == EXIT_USAGE and "purge" in result.stderr


def test_batch_jobs_are_tracked_until_they_end() -> None:
    s3control = boto3.client("s3control", region_name="us-east-1")
    stub = Stubber(s3control)
    for status in ("Active", "Complete"):
        stub.add_response(
            "describe_job",
            {
                "Job": {
                    "JobId": "job-1",
                    "Status": status,
                    "ProgressSummary": {"NumberOfTasksSucceeded": 3 if status == "Complete" else 1},
                }
            },
            {"AccountId": "123456789012", "JobId": "job-1"},
        )
    with stub:
        tracked = track_jobs(
            s3control, "123456789012", [{"job_id": "job-1", "keys": 3}], timeout_seconds=30, poll_seconds=0.01
        )
    stub.assert_no_pending_responses()
    assert tracked == [{"job_id": "job-1", "keys": 3, "status": "Complete", "tasks_succeeded": 3, "tasks_failed": 0}]


def test_athena_engine_submits_the_same_sql_with_bound_parameters(moto_endpoint: str) -> None:
    athena = boto3.client("athena", region_name="us-east-1")
    athena.create_work_group(Name="dr-recovery-us-east-1", Configuration={})
    submitted: list[dict[str, Any]] = []
    athena.meta.events.register(
        "provide-client-params.athena.StartQueryExecution", lambda params, **_: submitted.append(dict(params))
    )
    columns = ["key", "action", "wanted_version", "markers", "relist", "versions", "wanted_size"]
    _queue_athena_results(
        moto_endpoint,
        [columns, ["k/a", "undelete", "v1", "[m1, m2]", "0", "3", "5"]],
        columns,
    )
    engine = AthenaEngine(
        athena, "dr-recovery-us-east-1", "dr_recovery", "inventory_b", "journal_b", "2026-01-02-00-00"
    )
    at = datetime(2026, 1, 1, 12, tzinfo=UTC)
    parameters = PlanParameters("b", "", at, at - timedelta(days=2), at, True, True, False, True)

    rows = list(engine.plan_rows(parameters))

    sql = submitted[0]["QueryString"]
    assert sql == render(query_text("restore_plan"), **engine.relations())
    statements = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    assert "dt = '2026-01-02-00-00'" in sql and "QUALIFY" not in statements.upper()
    assert submitted[0]["WorkGroup"] == "dr-recovery-us-east-1"
    # bucket, prefix, the whole key range (Athena plans the prefix at once), T; the four switches last
    assert submitted[0]["ExecutionParameters"][:5] == ["'b'", "''", "''", "''", "'2026-01-01 12:00:00.000'"]
    assert submitted[0]["ExecutionParameters"][9:] == ["true", "true", "false", "true"]
    assert rows[0]["markers"] == ["m1", "m2"] and rows[0]["relist"] == 0 and rows[0]["wanted_size"] == 5


def _queue_athena_results(endpoint: str, rows: list[list[str]], columns: list[str]) -> None:
    """moto's Athena answers GetQueryResults with results queued through its API (moto docs, "Athena")."""
    body = {
        "results": [
            {
                "rows": [{"Data": [{"VarCharValue": value} for value in row]} for row in rows],
                "column_info": [{"Name": name, "Type": "varchar"} for name in columns],
            }
        ],
        "region": "us-east-1",
    }
    request = urllib.request.Request(
        f"{endpoint}/moto-api/static/athena/query-results",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).close()
