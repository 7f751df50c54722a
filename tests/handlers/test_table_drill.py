"""DynamoDB restore drills: canaries damaged, the table restored into a new one, RTO and RPO measured.

Backup restores are real snapshots in moto, so the backup-mode drill proves content. moto's PITR restore
ignores the requested time and copies the source's *current* items (GUIDE §3), so a PITR drill on moto must
fail: the test says so rather than stubbing the restore into a pass.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from handlers import cli
from handlers.drills import table as table_drill
from handlers.drills.table import CANARY_PREFIX, CANARY_SORT_KEY_VALUE, DrillMode, TableClients, run_table_drill
from handlers.dynamodb import restore as table_restore
from handlers.dynamodb.restore import WaitPolicy

REGION = "us-east-1"
FAST_WAIT = WaitPolicy(delay_seconds=1, max_attempts=5)


def _clients() -> TableClients:
    return TableClients.for_region(REGION)  # handlers.aws clients: mock_aws intercepts them like any boto3 client


def _make_table(
    ddb: Any, name: str, *, key_type: str = "S", sort_key: bool = False, protected: bool = True, pitr: bool = False
) -> None:
    """A production-shaped table: deletion protection on (so the restore re-applies it), one non-canary item."""
    schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
    definitions = [{"AttributeName": "pk", "AttributeType": key_type}]
    if sort_key:
        schema.append({"AttributeName": "sk", "KeyType": "RANGE"})
        definitions.append({"AttributeName": "sk", "AttributeType": "S"})
    ddb.create_table(
        TableName=name,
        KeySchema=schema,
        AttributeDefinitions=definitions,
        BillingMode="PAY_PER_REQUEST",
        DeletionProtectionEnabled=protected,
    )
    if pitr:
        ddb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    if key_type == "S":
        item = {"pk": {"S": "order-1"}, "total": {"N": "42"}}
        if sort_key:
            item["sk"] = {"S": "v1"}
        ddb.put_item(TableName=name, Item=item)


def _items(ddb: Any, table: str) -> list[dict[str, Any]]:
    return [item for page in ddb.get_paginator("scan").paginate(TableName=table) for item in page["Items"]]


def _canaries(ddb: Any, table: str) -> list[dict[str, Any]]:
    return [item for item in _items(ddb, table) if item["pk"]["S"].startswith(CANARY_PREFIX)]


def _table_exists(ddb: Any, table: str) -> bool:
    try:
        ddb.describe_table(TableName=table)
    except ddb.exceptions.ResourceNotFoundException:
        return False
    return True


def _backups(ddb: Any, table: str) -> list[dict[str, Any]]:
    return list(ddb.list_backups(TableName=table)["BackupSummaries"])


@pytest.mark.parametrize("sort_key", [False, True], ids=["partition-key-only", "with-sort-key"])
def test_backup_drill_brings_every_canary_back_and_cleans_up(mock_aws: None, sort_key: bool) -> None:
    clients = _clients()
    ddb = clients.dynamodb
    _make_table(ddb, "orders", sort_key=sort_key)
    messages: list[str] = []

    result = run_table_drill(
        clients,
        "orders",
        canaries=40,
        declared_rto_minutes=30,
        declared_rpo_minutes=0,
        wait=FAST_WAIT,
        sleep=lambda _seconds: None,
        progress=messages.append,
    )

    assert result.passed, result.as_dict()
    assert result.keys_wrong == [] and result.rpo_seconds == 0
    assert (result.overwritten, result.deleted) == (20, 10)
    assert result.restore["mode"] == "backup" and result.restore["target"] == result.restored_table
    assert result.restored_table.startswith("orders-drill-")
    validation = result.restore["validation"]
    assert (validation["ok"], validation["sampled"], validation["count"]) == (True, 40, 41)  # 40 canaries + order-1
    assert 0 < result.rto_seconds < 60
    # Cleaned: no canary left in the source, the drill table and the backup gone; the real item untouched.
    assert _canaries(ddb, "orders") == []
    assert [item["pk"]["S"] for item in _items(ddb, "orders")] == ["order-1"]
    assert not _table_exists(ddb, result.restored_table)
    assert _backups(ddb, "orders") == []
    assert result.cleanup["canaries_deleted"] == 40
    assert result.cleanup["restored_table_deleted"] is True and result.cleanup["backup_deleted"] is True
    assert result.cleanup["errors"] == []
    assert any("Restoring" in message for message in messages)
    assert result.as_dict()["passed"] is True


def test_keep_leaves_the_canaries_the_drill_table_and_the_backup(mock_aws: None) -> None:
    clients = _clients()
    ddb = clients.dynamodb
    _make_table(ddb, "orders", sort_key=True)

    result = run_table_drill(clients, "orders", canaries=8, keep=True, wait=FAST_WAIT, sleep=lambda _seconds: None)

    assert result.passed and result.cleanup == {"kept": True}
    # After the damage the source holds 2 untouched and 4 overwritten canaries (2 were deleted).
    canaries = _canaries(ddb, "orders")
    assert len(canaries) == 6 and {item["sk"]["S"] for item in canaries} == {CANARY_SORT_KEY_VALUE}
    restored = _canaries(ddb, result.restored_table)
    assert len(restored) == 8 and {item["dr_drill_generation"]["N"] for item in restored} == {"1"}
    assert [backup["BackupArn"] for backup in _backups(ddb, "orders")] == [result.backup_arn]


def test_a_numeric_key_is_refused_before_anything_is_written(moto_endpoint: str) -> None:
    ddb = boto3.client("dynamodb", region_name=REGION)
    _make_table(ddb, "ledger", key_type="N")
    tables_before = ddb.list_tables()["TableNames"]

    result = CliRunner().invoke(cli.load_commands(), ["drill-table", "ledger", "--canaries", "4", "--json"])

    assert result.exit_code == cli.EXIT_USAGE, result.output
    error = json.loads(result.stdout)
    assert error["exit_code"] == cli.EXIT_USAGE
    assert "pk" in error["error"] and "not S" in error["error"]
    assert _items(ddb, "ledger") == []
    assert _backups(ddb, "ledger") == []
    assert ddb.list_tables()["TableNames"] == tables_before


def test_pitr_mode_needs_pitr_on_the_table_before_anything_is_written(mock_aws: None) -> None:
    clients = _clients()
    _make_table(clients.dynamodb, "orders", pitr=False)

    with pytest.raises(ValueError, match="point-in-time recovery"):
        run_table_drill(clients, "orders", mode=DrillMode.pitr, canaries=8, sleep=lambda _seconds: None)

    assert _canaries(clients.dynamodb, "orders") == []


def test_pitr_drill_on_moto_fails_honestly_and_still_cleans_up(mock_aws: None) -> None:
    """moto's PITR restore ignores the requested time and copies the table as it is now, damage included.

    A drill that trusted the API would pass here; this one reads every canary back, so it must report the
    overwritten (generation 2) and deleted canaries as wrong, a positive RPO and a failure. moto also never
    advances LatestRestorableDateTime, so the drill stops waiting for it and says so.
    """
    clients = _clients()
    ddb = clients.dynamodb
    _make_table(ddb, "orders", pitr=True)
    slept: list[float] = []

    result = run_table_drill(
        clients, "orders", mode="pitr", canaries=8, declared_rpo_minutes=0, wait=FAST_WAIT, sleep=slept.append
    )

    assert not result.passed
    # 4 overwritten, 2 deleted: canary numbers 0-5 of this drill
    assert [key.rsplit("#", 1)[1] for key in result.keys_wrong] == [f"{index:05d}" for index in range(6)]
    assert result.restore["validation"]["ok"] is False and result.restore["validation"]["mismatch_count"] == 6
    problems = sorted(mismatch["problem"] for mismatch in result.restore["validation"]["mismatches"])
    assert problems == ["different"] * 4 + ["missing"] * 2
    # The newest canaries were never damaged, so the RPO by the shared rule is 0; the damaged older ones fail it.
    assert result.rpo_seconds == 0 and not result.passed
    # T sits past the 1 s resolution on both sides (asked of the injected sleep, so the test does not wait).
    assert slept[:2] == [table_drill.TIMESTAMP_RESOLUTION_SECONDS] * 2
    assert result.backup_arn is None and result.restore["mode"] == "pitr"
    assert any("LatestRestorableDateTime" in warning for warning in result.warnings)
    # Cleanup ran although validation failed.
    assert _canaries(ddb, "orders") == []
    assert not _table_exists(ddb, result.restored_table)
    assert result.cleanup["restored_table_deleted"] is True


def test_a_drill_stopped_by_an_aws_error_cleans_up_and_says_so(mock_aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    clients = _clients()
    ddb = clients.dynamodb
    _make_table(ddb, "orders")

    def refuse(*_args: Any, **_kwargs: Any) -> dict[str, Any]:
        raise ClientError({"Error": {"Code": "LimitExceededException", "Message": "too many restores"}}, "Restore")

    monkeypatch.setattr(table_drill, "restore_table", refuse)
    with pytest.raises(ClientError) as stopped:
        run_table_drill(clients, "orders", canaries=8, wait=FAST_WAIT, sleep=lambda _seconds: None)

    assert any("drill cleanup after the failure" in note for note in stopped.value.__notes__)
    assert _canaries(ddb, "orders") == []
    assert _backups(ddb, "orders") == []


def test_a_restore_that_fails_after_copying_alarms_leaves_no_alarm_behind(
    mock_aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    clients = _clients()
    ddb = clients.dynamodb
    _make_table(ddb, "orders")
    clients.cloudwatch.put_metric_alarm(
        AlarmName="orders-throttles",
        Namespace="AWS/DynamoDB",
        MetricName="ThrottledRequests",
        Dimensions=[{"Name": "TableName", "Value": "orders"}],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )

    def throttled(*_args: Any, **_kwargs: Any) -> dict[str, Any]:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "Scan")

    # The restore creates the table and copies the alarm onto it, then validation fails.
    monkeypatch.setattr(table_restore, "validate_restore", throttled)
    with pytest.raises(ClientError):
        run_table_drill(clients, "orders", canaries=8, wait=FAST_WAIT, sleep=lambda _seconds: None)

    alarms = clients.cloudwatch.describe_alarms()["MetricAlarms"]
    assert [alarm["AlarmName"] for alarm in alarms] == ["orders-throttles"]  # only the source's own alarm
    assert [t for t in ddb.list_tables()["TableNames"] if t.startswith("orders-drill-")] == []


def test_two_drills_of_one_table_share_no_canary_and_no_restored_table(mock_aws: None) -> None:
    clients = _clients()
    _make_table(clients.dynamodb, "orders")

    first, second = (
        run_table_drill(clients, "orders", canaries=4, keep=True, wait=FAST_WAIT, sleep=lambda _seconds: None)
        for _ in range(2)
    )

    assert first.passed and second.passed and first.restored_table != second.restored_table
    # Kept as each drill left them (one of four deleted): three per drill, under two different drill ids.
    drill_ids = Counter(item["pk"]["S"].rsplit("#", 1)[0] for item in _canaries(clients.dynamodb, "orders"))
    assert sorted(drill_ids.values()) == [3, 3]


def test_drill_table_command_prints_one_json_object_and_exits_0(moto_endpoint: str) -> None:
    ddb = boto3.client("dynamodb", region_name=REGION)
    _make_table(ddb, "orders", sort_key=True)

    result = CliRunner().invoke(
        cli.load_commands(), ["drill-table", "orders", "--canaries", "8", "--rpo-minutes", "0", "--json"]
    )

    assert result.exit_code == cli.EXIT_OK, result.output
    document = json.loads(result.stdout)  # exactly one object: json.loads rejects anything after it
    assert document["passed"] is True and document["keys_wrong"] == [] and document["rpo_seconds"] == 0
    assert document["mode"] == "backup" and document["restore"]["validation"]["ok"] is True
    assert document["cleanup"]["restored_table_deleted"] is True
    assert _canaries(ddb, "orders") == [] and not _table_exists(ddb, document["restored_table"])


def test_drill_table_command_on_a_missing_table_exits_3_with_a_json_error(moto_endpoint: str) -> None:
    result = CliRunner().invoke(cli.load_commands(), ["drill-table", "no-such-table", "--canaries", "4", "--json"])

    assert result.exit_code == cli.EXIT_AWS, result.output
    error = json.loads(result.stdout)
    assert error["exit_code"] == cli.EXIT_AWS and "ResourceNotFoundException" in error["error"]
