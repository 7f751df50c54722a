"""DynamoDB restore: re-application, idempotency, validation and cutover, on moto.

moto's PITR restore ignores the requested time and copies the source's *current* items (GUIDE §3), so no
test here can prove the restored content matches the point in time. What is tested instead: the API is
called with the requested time, everything a restore drops is re-applied (checked with describe calls),
validation catches missing/different/unexpected items and count drift, and cutover writes the setting only
after validation passes. Backup restores are real snapshots in moto, so those tests do check content.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

import handlers.cli.dynamodb  # noqa: F401  (registers the commands on the app)
from handlers import app_setting
from handlers.cli import app
from handlers.dynamodb.restore import (
    Cutover,
    ExpectedItem,
    Reference,
    RestoreError,
    TableClients,
    WaitPolicy,
    default_target_name,
    load_reference,
    restore_table,
)

REGION = "us-east-1"
SOURCE = "orders"
FAST_WAIT = WaitPolicy(delay_seconds=1, max_attempts=5)


def _clients() -> TableClients:
    return TableClients(
        dynamodb=boto3.client("dynamodb", region_name=REGION),
        autoscaling=boto3.client("application-autoscaling", region_name=REGION),
        cloudwatch=boto3.client("cloudwatch", region_name=REGION),
        ssm=boto3.client("ssm", region_name=REGION),
    )


def _item(pk: str, **attributes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"pk": {"S": pk}}
    item.update({name: {"S": str(value)} for name, value in attributes.items()})
    return item


def make_source(clients: TableClients, *, protected: bool = True, items: int = 3) -> str:
    """A table carrying everything a restore drops."""
    ddb = clients.dynamodb
    arn = ddb.create_table(
        TableName=SOURCE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        DeletionProtectionEnabled=protected,
        Tags=[
            {"Key": "dr:component", "Value": "orders-logical"},
            {"Key": "dr:tier", "Value": "1"},
            {"Key": "dr:rpo-logical-minutes", "Value": "0"},
        ],
    )["TableDescription"]["TableArn"]
    ddb.update_time_to_live(TableName=SOURCE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"})
    ddb.update_continuous_backups(
        TableName=SOURCE,
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True, "RecoveryPeriodInDays": 14},
    )
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:role/app"},
                "Action": "dynamodb:GetItem",
                "Resource": arn,
            }
        ],
    }
    ddb.put_resource_policy(ResourceArn=arn, Policy=json.dumps(policy))
    clients.autoscaling.register_scalable_target(
        ServiceNamespace="dynamodb",
        ResourceId=f"table/{SOURCE}",
        ScalableDimension="dynamodb:table:ReadCapacityUnits",
        MinCapacity=5,
        MaxCapacity=50,
    )
    clients.autoscaling.put_scaling_policy(
        PolicyName="orders-read",
        ServiceNamespace="dynamodb",
        ResourceId=f"table/{SOURCE}",
        ScalableDimension="dynamodb:table:ReadCapacityUnits",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 70.0,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "DynamoDBReadCapacityUtilization"},
        },
    )
    clients.cloudwatch.put_metric_alarm(
        AlarmName=f"{SOURCE}-throttles",
        Namespace="AWS/DynamoDB",
        MetricName="ThrottledRequests",
        Dimensions=[{"Name": "TableName", "Value": SOURCE}],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    for index in range(items):
        ddb.put_item(TableName=SOURCE, Item=_item(f"k{index}", v=index))
    return str(arn)


class CallRecorder:
    """Records the parameters of every DynamoDB call a client makes."""

    def __init__(self, client: Any) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        client.meta.events.register("provide-client-params.dynamodb", self._record)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append((model.name, dict(params)))

    def named(self, operation: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == operation]


class ReportsRequestedRestoreTime:
    """Stub: DescribeTable reports the requested point as RestoreSummary.RestoreDateTime, as DynamoDB does.

    moto fills RestoreDateTime with the moment the restored table was created, whatever time was asked for
    (checked on moto 5.2.5), so only that one field of the answer is replaced; the rest is moto's.
    """

    def __init__(self, client: Any) -> None:
        self.requested: dict[str, datetime] = {}
        client.meta.events.register("provide-client-params.dynamodb.RestoreTableToPointInTime", self._record)
        client.meta.events.register("after-call.dynamodb.DescribeTable", self._report)

    def _record(self, params: dict[str, Any], **_: Any) -> None:
        if "RestoreDateTime" in params:
            self.requested[params["TargetTableName"]] = params["RestoreDateTime"]

    def _report(self, parsed: dict[str, Any], **_: Any) -> None:
        table = parsed.get("Table", {})
        if table.get("TableName") in self.requested and "RestoreSummary" in table:
            table["RestoreSummary"]["RestoreDateTime"] = self.requested[table["TableName"]]


def _tags(ddb: Any, arn: str) -> list[dict[str, str]]:
    return list(ddb.list_tags_of_resource(ResourceArn=arn)["Tags"])


def test_pitr_restore_requests_the_time_and_reapplies_everything_dropped(mock_aws: None) -> None:
    clients = _clients()
    source_arn = make_source(clients)
    recorder = CallRecorder(clients.dynamodb)
    point = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)

    report = restore_table(clients, SOURCE, to=point, wait=FAST_WAIT)

    target = f"{SOURCE}-pitr-{point:%Y%m%dT%H%M%SZ}"
    assert report["target"] == target and report["restored"] is True
    [request] = recorder.named("RestoreTableToPointInTime")
    assert request["RestoreDateTime"] == point and request["TargetTableName"] == target
    ddb = clients.dynamodb
    table = ddb.describe_table(TableName=target)["Table"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert report["reapplied"]["applied"]["stream_arn"] == table["LatestStreamArn"]
    assert table["DeletionProtectionEnabled"] is True
    ttl = ddb.describe_time_to_live(TableName=target)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")
    pitr = ddb.describe_continuous_backups(TableName=target)["ContinuousBackupsDescription"]
    assert pitr["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    assert pitr["PointInTimeRecoveryDescription"]["RecoveryPeriodInDays"] == 14
    assert sorted(map(str, _tags(ddb, table["TableArn"]))) == sorted(map(str, _tags(ddb, source_arn)))
    policy = ddb.get_resource_policy(ResourceArn=table["TableArn"])["Policy"]
    assert json.loads(policy)["Statement"][0]["Resource"] == table["TableArn"]
    scalable = clients.autoscaling.describe_scalable_targets(
        ServiceNamespace="dynamodb", ResourceIds=[f"table/{target}"]
    )["ScalableTargets"]
    assert [(s["MinCapacity"], s["MaxCapacity"]) for s in scalable] == [(5, 50)]
    policies = clients.autoscaling.describe_scaling_policies(ServiceNamespace="dynamodb", ResourceId=f"table/{target}")[
        "ScalingPolicies"
    ]
    # moto filters ResourceId as a substring, so the source's policy shows up too: match exactly.
    assert [p["PolicyName"] for p in policies if p["ResourceId"] == f"table/{target}"] == ["orders-read"]
    # Only the operator's alarm is copied; autoscaling's own alarms come with the new policy.
    assert report["reapplied"]["applied"]["alarms"] == [f"{target}-throttles"]
    [alarm] = clients.cloudwatch.describe_alarms(AlarmNames=[f"{target}-throttles"])["MetricAlarms"]
    assert alarm["Dimensions"] == [{"Name": "TableName", "Value": target}]
    assert alarm["Threshold"] == 1 and alarm["MetricName"] == "ThrottledRequests"
    [original] = clients.cloudwatch.describe_alarms(AlarmNames=[f"{SOURCE}-throttles"])["MetricAlarms"]
    assert original["Dimensions"] == [{"Name": "TableName", "Value": SOURCE}]  # the source's alarm is untouched
    assert report["validation"] == {
        "count": 3,
        "reference": None,
        "sampled": 0,
        "mismatch_count": 0,
        "ok": None,
    }
    assert set(report["timings"]) == {
        "restore_to_active_seconds",
        "reapply_seconds",
        "validate_seconds",
        "cutover_seconds",
        "total_seconds",
    }


def test_rerun_with_the_same_target_adopts_the_table_and_changes_nothing(mock_aws: None) -> None:
    clients = _clients()
    make_source(clients)
    ReportsRequestedRestoreTime(clients.dynamodb)
    point = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    first = restore_table(clients, SOURCE, to=point, wait=FAST_WAIT)
    target_arn = clients.dynamodb.describe_table(TableName=first["target"])["Table"]["TableArn"]
    tags_before = _tags(clients.dynamodb, target_arn)
    recorder = CallRecorder(clients.dynamodb)

    second = restore_table(clients, SOURCE, to=point, wait=FAST_WAIT)

    assert second["restored"] is False and second["target"] == first["target"]
    assert recorder.named("RestoreTableToPointInTime") == []
    assert set(second["reapplied"]["applied"]) <= {"stream_arn", "scalable_targets", "scaling_policies", "alarms"}
    # moto appends on TagResource, so a blind re-tag would duplicate every tag.
    assert recorder.named("TagResource") == [] and recorder.named("UpdateTable") == []
    assert _tags(clients.dynamodb, target_arn) == tags_before


def test_an_unrelated_table_with_the_target_name_is_refused(mock_aws: None) -> None:
    clients = _clients()
    make_source(clients, protected=False)
    clients.dynamodb.create_table(
        TableName="someone-elses",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    with pytest.raises(RestoreError, match="was not restored from this source"):
        restore_table(clients, SOURCE, to=datetime.now(UTC), target="someone-elses", wait=FAST_WAIT)


def test_a_target_restored_to_another_point_is_refused(mock_aws: None) -> None:
    clients = _clients()
    make_source(clients)
    ReportsRequestedRestoreTime(clients.dynamodb)
    first_point = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    restore_table(clients, SOURCE, to=first_point, target="orders-recovered", wait=FAST_WAIT)
    recorder = CallRecorder(clients.dynamodb)

    with pytest.raises(RestoreError) as refused:
        restore_table(clients, SOURCE, to=first_point + timedelta(minutes=5), target="orders-recovered", wait=FAST_WAIT)

    message = str(refused.value)
    assert "orders-recovered" in message and f"table/{SOURCE}" in message
    assert first_point.isoformat() in message and (first_point + timedelta(minutes=5)).isoformat() in message
    assert recorder.named("RestoreTableToPointInTime") == [] and recorder.named("UpdateTable") == []


def test_a_latest_rerun_never_adopts_a_table_restored_from_a_backup(mock_aws: None) -> None:
    clients = _clients()
    make_source(clients)
    backup_arn = clients.dynamodb.create_backup(TableName=SOURCE, BackupName="before-run")["BackupDetails"]["BackupArn"]
    restore_table(clients, SOURCE, backup_arn=backup_arn, target="orders-recovered", wait=FAST_WAIT)

    # The backup restore also names the source table; a PITR run must still see it is another restore.
    with pytest.raises(RestoreError, match="not restored from this source"):
        restore_table(clients, SOURCE, use_latest=True, target="orders-recovered", wait=FAST_WAIT)


def test_default_target_names_are_the_same_for_one_instant_in_any_offset() -> None:
    utc = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    assert default_target_name(SOURCE, utc, None) == "orders-pitr-20261120T120000Z"
    assert default_target_name(SOURCE, utc.astimezone(timezone(timedelta(hours=2))), None) == (
        "orders-pitr-20261120T120000Z"
    )


def test_the_same_point_in_another_offset_or_with_a_fraction_is_adopted(mock_aws: None) -> None:
    """PITR works to the second, so 12:00:00.4Z, 12:00:00Z and 14:00:00+02:00 are the same restore point."""
    clients = _clients()
    make_source(clients)
    ReportsRequestedRestoreTime(clients.dynamodb)
    point = datetime.now(UTC).replace(microsecond=400_000) - timedelta(minutes=10)
    restore_table(clients, SOURCE, to=point, target="orders-recovered", wait=FAST_WAIT)

    same = point.replace(microsecond=0).astimezone(timezone(timedelta(hours=2)))
    again = restore_table(clients, SOURCE, to=same, target="orders-recovered", wait=FAST_WAIT)

    assert again["restored"] is False


def _backup_then_change(clients: TableClients) -> str:
    """Back up k0..k2, then change k0 and add k9: the backup must show the old state."""
    backup_arn = clients.dynamodb.create_backup(TableName=SOURCE, BackupName="before-change")["BackupDetails"][
        "BackupArn"
    ]
    clients.dynamodb.put_item(TableName=SOURCE, Item=_item("k0", v="changed"))
    clients.dynamodb.put_item(TableName=SOURCE, Item=_item("k9", v=9))
    return str(backup_arn)


def test_backup_restore_validates_against_canary_records(mock_aws: None) -> None:
    clients = _clients()
    make_source(clients, protected=False)
    backup_arn = _backup_then_change(clients)
    reference = Reference(
        expected=[
            ExpectedItem(key={"pk": {"S": "k0"}}, item=_item("k0", v=0)),
            ExpectedItem(key={"pk": {"S": "k1"}}, item=_item("k1", v=1)),
            ExpectedItem(key={"pk": {"S": "k9"}}, item=None),  # written after the backup: must be absent
        ],
        expected_count=3,
    )

    report = restore_table(clients, SOURCE, backup_arn=backup_arn, reference=reference, wait=FAST_WAIT)

    assert report["mode"] == "backup" and report["restored"] is True
    assert report["validation"]["ok"] is True
    assert (report["validation"]["count"], report["validation"]["sampled"]) == (3, 3)


def test_validation_reports_missing_different_unexpected_and_count_drift(mock_aws: None) -> None:
    clients = _clients()
    make_source(clients, protected=False)
    backup_arn = _backup_then_change(clients)
    wrong = Reference(
        expected=[
            ExpectedItem(key={"pk": {"S": "k0"}}, item=_item("k0", v="changed")),  # the backup has v=0
            ExpectedItem(key={"pk": {"S": "k9"}}, item=_item("k9", v=9)),  # not in the backup
            ExpectedItem(key={"pk": {"S": "k1"}}, item=None),  # in the backup
            ExpectedItem(key={"pk": {"S": "k2"}}, item=_item("k2", v=2)),  # matches
        ],
        expected_count=4,
    )

    validation = restore_table(clients, SOURCE, backup_arn=backup_arn, reference=wrong, wait=FAST_WAIT)["validation"]

    assert validation["ok"] is False and validation["mismatch_count"] == 4
    problems = {(m["problem"], json.dumps(m.get("key"), sort_keys=True)) for m in validation["mismatches"]}
    assert problems == {
        ("count", "null"),
        ("different", '{"pk": "k0"}'),
        ("missing", '{"pk": "k9"}'),
        ("unexpected", '{"pk": "k1"}'),
    }
    [different] = [m for m in validation["mismatches"] if m["problem"] == "different"]
    assert different["attributes"] == ["v"]


def test_a_jsonl_export_is_a_complete_reference(mock_aws: None, tmp_path: Path) -> None:
    clients = _clients()
    make_source(clients, protected=False)
    backup_arn = _backup_then_change(clients)
    export = tmp_path / "export.jsonl"
    # DynamoDB export format; numbers as written by another tool ("0" vs "0.0") must still compare equal.
    lines = [{"Item": {"pk": {"S": f"k{i}"}, "v": {"S": str(i)}}} for i in range(3)]
    lines.append({"Item": {"pk": {"S": "k3"}, "v": {"S": "3"}}})  # one more than the backup holds
    export.write_text("\n".join(json.dumps(line) for line in lines) + "\n")

    reference = load_reference(export, ["pk"])
    validation = restore_table(clients, SOURCE, backup_arn=backup_arn, reference=reference, wait=FAST_WAIT)[
        "validation"
    ]

    assert reference.expected_count == 4
    assert [m["problem"] for m in validation["mismatches"]] == ["count", "missing"]


def test_a_large_gzipped_export_is_sampled_without_loading_it(tmp_path: Path) -> None:
    export = tmp_path / "export.jsonl.gz"
    with gzip.open(export, "wt", encoding="utf-8") as out:
        for index in range(500):
            out.write(json.dumps({"Item": _item(f"k{index:03d}", v=index)}) + "\n")

    reference = load_reference(export, ["pk"], sample_size=50, seed=7)

    assert reference.expected_count == 500 and len(reference.expected) == 50
    keys = [entry.key["pk"]["S"] for entry in reference.expected]
    assert len(set(keys)) == 50
    assert max(keys) > "k100"  # a reservoir sample, not just the first 50 lines
    assert all(
        entry.item == _item(entry.key["pk"]["S"], v=int(entry.key["pk"]["S"][1:])) for entry in reference.expected
    )


def test_cutover_writes_the_setting_only_after_validation_passes(mock_aws: None) -> None:
    clients = _clients()
    make_source(clients, protected=False)
    backup_arn = _backup_then_change(clients)
    parameter = app_setting.active_table_parameter("shop", "orders-logical")
    clients.ssm.put_parameter(Name=parameter, Value=SOURCE, Type="String")
    failing = Reference(expected=[ExpectedItem(key={"pk": {"S": "k9"}}, item=_item("k9", v=9))])

    refused = restore_table(
        clients, SOURCE, backup_arn=backup_arn, reference=failing, cutover=Cutover(app="shop"), wait=FAST_WAIT
    )
    assert refused["cutover"]["done"] is False
    assert app_setting.read_setting(clients.ssm, parameter) == SOURCE

    passing = Reference(expected=[ExpectedItem(key={"pk": {"S": "k1"}}, item=_item("k1", v=1))])
    done = restore_table(
        clients, SOURCE, backup_arn=backup_arn, reference=passing, cutover=Cutover(app="shop"), wait=FAST_WAIT
    )
    # The logical name defaults to the source's dr:component tag.
    assert done["cutover"] == {
        "done": True,
        "parameter": parameter,
        "previous": SOURCE,
        "active": done["target"],
        "stream_consumers": [],  # no Lambda client given
    }
    assert app_setting.read_setting(clients.ssm, parameter) == done["target"]


def test_a_deleted_source_restores_from_backup_and_says_what_was_not_reapplied(mock_aws: None) -> None:
    clients = _clients()
    make_source(clients, protected=False)
    backup_arn = clients.dynamodb.create_backup(TableName=SOURCE, BackupName="last-one")["BackupDetails"]["BackupArn"]
    clients.dynamodb.delete_table(TableName=SOURCE)

    report = restore_table(clients, SOURCE, backup_arn=backup_arn, target="orders-recovered", wait=FAST_WAIT)

    assert report["validation"]["count"] == 3
    assert report["reapplied"]["applied"] == {}
    assert report["warnings"] and "source table gone" in report["warnings"][0]


# ---------------------------------------------------------------- drctl end to end on a moto server


@pytest.mark.slow
def test_drctl_restore_table_from_backup_with_cutover(moto_endpoint: str, tmp_path: Path) -> None:
    clients = TableClients.for_region(REGION)
    make_source(clients, protected=False)
    backup_arn = _backup_then_change(clients)
    reference = tmp_path / "canaries.json"
    reference.write_text(
        json.dumps(
            {
                "expected": [
                    {"key": {"pk": {"S": "k1"}}, "item": _item("k1", v=1)},
                    {"key": {"pk": {"S": "k9"}}, "item": None},
                ]
            }
        )
    )
    args = ["restore-table", SOURCE, "--backup", backup_arn, "--reference", str(reference)]
    args += ["--cutover", "--app", "shop", "--wait-delay", "1", "--json"]

    result = CliRunner().invoke(app, args)

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["validation"]["ok"] is True and report["cutover"]["done"] is True
    assert report["endpoint"] == moto_endpoint
    parameter = app_setting.active_table_parameter("shop", "orders-logical")
    assert app_setting.read_setting(clients.ssm, parameter) == report["target"]
    assert report["timings"]["total_seconds"] >= report["timings"]["restore_to_active_seconds"]


@pytest.mark.slow
def test_drctl_restore_table_exits_1_on_mismatch_and_2_on_bad_time(moto_endpoint: str, tmp_path: Path) -> None:
    clients = TableClients.for_region(REGION)
    make_source(clients, protected=False)
    backup_arn = _backup_then_change(clients)
    reference = tmp_path / "canaries.json"
    reference.write_text(json.dumps({"expected": [{"key": {"pk": {"S": "k9"}}, "item": _item("k9", v=9)}]}))
    mismatch = CliRunner().invoke(
        app, ["restore-table", SOURCE, "--backup", backup_arn, "--reference", str(reference), "--json"]
    )
    assert mismatch.exit_code == 1, mismatch.output
    assert json.loads(mismatch.stdout)["validation"]["mismatches"][0]["problem"] == "missing"

    naive = CliRunner().invoke(app, ["restore-table", SOURCE, "--to", "2026-01-01T00:00:00", "--json"])
    assert naive.exit_code == 2
    error = json.loads(naive.stdout)  # --json: the error is the one object on stdout
    assert error["exit_code"] == 2 and "has no offset" in error["error"]


@pytest.mark.slow
def test_drctl_restore_table_to_another_point_into_an_existing_target_exits_2(moto_endpoint: str) -> None:
    clients = TableClients.for_region(REGION)
    make_source(clients, protected=False)
    first_point = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    clients.dynamodb.restore_table_to_point_in_time(
        SourceTableName=SOURCE, TargetTableName="orders-recovered", RestoreDateTime=first_point
    )
    # moto reports the table's creation time as its RestoreDateTime (see ReportsRequestedRestoreTime), so the
    # CLI is asked for a point that differs from both that and the one requested above.
    asked = first_point - timedelta(minutes=5)

    result = CliRunner().invoke(
        app, ["restore-table", SOURCE, "--to", asked.isoformat(), "--target", "orders-recovered", "--json"]
    )

    assert result.exit_code == 2, result.output
    error = json.loads(result.stdout)
    assert error["exit_code"] == 2 and "orders-recovered" in error["error"] and asked.isoformat() in error["error"]
