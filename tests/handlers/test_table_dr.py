"""Issue 13: table exports, recovery-point restores, the regional objective at cutover, stream consumers, and the
tables' RPO-age rows.

What each test stubs, because moto 5.2.5 cannot model it:
- PITR restores and exports ignore the requested time (moto copies the current data; an export writes no manifest);
- AWS Backup has plans and vaults in moto but no jobs and no recovery points: the backup client is a botocore
  ``Stubber``, and the restore job's effect (a new table) is emulated with a DynamoDB backup restore;
- MRSC is not modelled: DescribeTable's answer for the source is amended (``MultiRegionConsistency``, ``Replicas``);
- ``ReplicaUpdates`` is ignored by moto: the test checks the request, not a replica.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from typer.testing import CliRunner

from handlers import app_setting
from handlers.cli import load_commands
from handlers.dynamodb.export import ExportError, export_table
from handlers.dynamodb.restore import Cutover, RecoveryPoint, RestoreError, TableClients, WaitPolicy, restore_table
from handlers.rpo_age import RPO_AGE_METRIC, newest_recovery_point_age, run_table_rpo_age

REGION = "us-east-1"
SOURCE = "shop-orders"
BUCKET = "shop-backup-us-east-1"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
FAST = WaitPolicy(delay_seconds=0, max_attempts=3)
POINT_ARN = "arn:aws:backup:us-east-1:123456789012:recovery-point:ddb-orders-1"
ROLE_ARN = "arn:aws:iam::123456789012:role/table-backup-role"
VAULT = "shop-dr-us-east-1"


def make_table(ddb: Any, name: str = SOURCE, *, pitr: bool = True, items: int = 3) -> str:
    arn = ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        Tags=[{"Key": "dr:component", "Value": "orders"}],
    )["TableDescription"]["TableArn"]
    if pitr:
        ddb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    for index in range(items):
        ddb.put_item(TableName=name, Item={"pk": {"S": f"k{index}"}})
    return str(arn)


def make_bucket(s3: Any, key: str | None = KEY_ARN) -> None:
    s3.create_bucket(Bucket=BUCKET)
    if key:
        s3.put_bucket_encryption(
            Bucket=BUCKET,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}}]
            },
        )


def capture(client: Any, operation: str) -> list[dict[str, Any]]:
    """The parameters of every ``operation`` request the client sends (moto drops some of them)."""
    seen: list[dict[str, Any]] = []
    client.meta.events.register(
        f"provide-client-params.{client.meta.service_model.service_name}.{operation}",
        lambda params, **_: seen.append(dict(params)),
    )
    return seen


# ---------------------------------------------------------------- export


def test_export_uses_sse_kms_with_the_bucket_key_and_the_requested_time(mock_aws: None) -> None:
    ddb, s3 = boto3.client("dynamodb", region_name=REGION), boto3.client("s3", region_name=REGION)
    make_table(ddb)
    make_bucket(s3)
    sent = capture(ddb, "ExportTableToPointInTime")
    window = ddb.describe_continuous_backups(TableName=SOURCE)["ContinuousBackupsDescription"]
    latest = window["PointInTimeRecoveryDescription"]["LatestRestorableDateTime"]

    result = export_table(ddb, s3, SOURCE, BUCKET, to=latest)

    [request] = sent
    assert request["S3SseAlgorithm"] == "KMS" and request["S3SseKmsKeyId"] == KEY_ARN
    assert request["ExportTime"] == latest.astimezone(UTC)
    assert request["ExportFormat"] == "DYNAMODB_JSON" and request["S3Bucket"] == BUCKET
    again = capture(ddb, "ExportTableToPointInTime")
    export_table(ddb, s3, SOURCE, BUCKET, to=latest)
    assert again[0]["ClientToken"] == request["ClientToken"]  # the same export on a retry
    # moto ignores ExportTime and writes the items of now, with no manifest: the description is all we check.
    assert ddb.describe_export(ExportArn=result["export_arn"])["ExportDescription"]["S3Bucket"] == BUCKET


def test_export_refuses_a_table_without_pitr(mock_aws: None) -> None:
    ddb, s3 = boto3.client("dynamodb", region_name=REGION), boto3.client("s3", region_name=REGION)
    make_table(ddb, pitr=False)
    make_bucket(s3)
    with pytest.raises(ExportError, match="no point-in-time recovery"):
        export_table(ddb, s3, SOURCE, BUCKET)


def test_export_refuses_a_time_outside_the_pitr_window(mock_aws: None) -> None:
    ddb, s3 = boto3.client("dynamodb", region_name=REGION), boto3.client("s3", region_name=REGION)
    make_table(ddb)
    make_bucket(s3)
    with pytest.raises(ExportError, match="outside shop-orders's PITR window"):
        export_table(ddb, s3, SOURCE, BUCKET, to=datetime.now(UTC) - timedelta(days=40))


def test_export_refuses_a_bucket_without_a_kms_key(mock_aws: None) -> None:
    ddb, s3 = boto3.client("dynamodb", region_name=REGION), boto3.client("s3", region_name=REGION)
    make_table(ddb)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_encryption(
        Bucket=BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    with pytest.raises(ExportError, match="no SSE-KMS default encryption"):
        export_table(ddb, s3, SOURCE, BUCKET)


def test_drctl_export_table_exits_2_without_pitr_and_prints_the_export(mock_aws: None) -> None:
    ddb, s3 = boto3.client("dynamodb", region_name=REGION), boto3.client("s3", region_name=REGION)
    make_table(ddb)
    make_table(ddb, "no-pitr", pitr=False)
    make_bucket(s3)
    runner = CliRunner()
    refused = runner.invoke(load_commands(), ["export-table", "no-pitr", "--bucket", BUCKET, "--json"])
    assert refused.exit_code == 2 and "no point-in-time recovery" in json.loads(refused.stdout)["error"]
    done = runner.invoke(load_commands(), ["export-table", SOURCE, "--bucket", BUCKET, "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["kms_key"] == KEY_ARN


# ---------------------------------------------------------------- recovery points (AWS Backup, stubbed)


def clients_with_stubbed_backup() -> tuple[TableClients, Stubber]:
    backup = boto3.client("backup", region_name=REGION)
    clients = TableClients(
        dynamodb=boto3.client("dynamodb", region_name=REGION),
        autoscaling=boto3.client("application-autoscaling", region_name=REGION),
        cloudwatch=boto3.client("cloudwatch", region_name=REGION),
        ssm=boto3.client("ssm", region_name=REGION),
        backup=backup,
    )
    return clients, Stubber(backup)


def emulate_restore_job(clients: TableClients, target: str) -> None:
    """When the (stubbed) job reports COMPLETED, make its table exist, as AWS Backup would (emulated)."""
    snapshot = clients.dynamodb.create_backup(TableName=SOURCE, BackupName="emulated-recovery-point")
    backup_arn = snapshot["BackupDetails"]["BackupArn"]

    def restored(parsed: dict[str, Any], **_: Any) -> None:
        if parsed.get("Status") == "COMPLETED":
            clients.dynamodb.restore_table_from_backup(TargetTableName=target, BackupArn=backup_arn)

    clients.backup.meta.events.register("after-call.backup.DescribeRestoreJob", restored)


def test_a_recovery_point_restores_through_start_restore_job_then_validates(mock_aws: None) -> None:
    clients, stub = clients_with_stubbed_backup()
    source_arn = make_table(clients.dynamodb)
    target = "shop-orders-rp-ddb-orders-1"
    emulate_restore_job(clients, target)
    stub.add_response(
        "list_recovery_points_by_resource",
        {"RecoveryPoints": [{"RecoveryPointArn": POINT_ARN, "BackupVaultName": VAULT}]},
        {"ResourceArn": source_arn},
    )
    stub.add_response(
        "get_recovery_point_restore_metadata",
        {"RestoreMetadata": {"targetTableName": SOURCE, "encryptionType": "Default"}},
        {"BackupVaultName": VAULT, "RecoveryPointArn": POINT_ARN},
    )
    stub.add_response(
        "start_restore_job",
        {"RestoreJobId": "job-1"},
        {
            "RecoveryPointArn": POINT_ARN,
            "Metadata": {"targetTableName": target, "encryptionType": "Default"},
            "IamRoleArn": ROLE_ARN,
            "ResourceType": "DynamoDB",
            "IdempotencyToken": ANY,
        },
    )
    stub.add_response("describe_restore_job", {"RestoreJobId": "job-1", "Status": "RUNNING"}, {"RestoreJobId": "job-1"})
    stub.add_response(
        "describe_restore_job", {"RestoreJobId": "job-1", "Status": "COMPLETED"}, {"RestoreJobId": "job-1"}
    )

    with stub:
        report = restore_table(clients, SOURCE, recovery_point=RecoveryPoint(POINT_ARN, role_arn=ROLE_ARN), wait=FAST)
    stub.assert_no_pending_responses()
    assert report["mode"] == "recovery-point" and report["target"] == target
    assert report["restore_job"] == {"restore_job_id": "job-1", "vault": VAULT, "status": "COMPLETED"}
    assert report["validation"]["count"] == 3
    assert report["reapplied"]["applied"]["stream"] == "NEW_AND_OLD_IMAGES"  # re-applied like any restore


def test_a_failed_restore_job_is_an_error_naming_the_job(mock_aws: None) -> None:
    clients, stub = clients_with_stubbed_backup()
    make_table(clients.dynamodb)
    stub.add_response("get_recovery_point_restore_metadata", {"RestoreMetadata": {}})
    stub.add_response("start_restore_job", {"RestoreJobId": "job-2"})
    stub.add_response("describe_restore_job", {"Status": "FAILED", "StatusMessage": "KMS access denied"})
    with stub, pytest.raises(RestoreError, match="restore job job-2 FAILED: KMS access denied"):
        restore_table(clients, SOURCE, recovery_point=RecoveryPoint(POINT_ARN, VAULT, ROLE_ARN), wait=FAST)


def test_a_copy_in_another_region_must_be_restored_there(mock_aws: None) -> None:
    clients, _ = clients_with_stubbed_backup()
    copy_arn = POINT_ARN.replace("us-east-1", "us-west-2")
    with pytest.raises(RestoreError, match="pass --region us-west-2"):
        restore_table(clients, SOURCE, recovery_point=RecoveryPoint(copy_arn, VAULT, ROLE_ARN), wait=FAST)


def test_a_recovery_point_restore_needs_the_backup_role(mock_aws: None) -> None:
    clients, _ = clients_with_stubbed_backup()
    make_table(clients.dynamodb)
    with pytest.raises(RestoreError, match="--backup-role-arn"):
        restore_table(clients, SOURCE, recovery_point=RecoveryPoint(POINT_ARN, VAULT), wait=FAST)


def test_drctl_refuses_two_restore_sources() -> None:
    result = CliRunner().invoke(
        load_commands(), ["restore-table", SOURCE, "--to", "latest", "--recovery-point", POINT_ARN, "--json"]
    )
    assert result.exit_code == 2
    assert "exactly one of --to, --backup and --recovery-point" in json.loads(result.stdout)["error"]


# ---------------------------------------------------------------- the regional objective at cutover


def amend_source(clients: TableClients, *, strong: bool) -> None:
    """moto models neither MRSC nor replicas: the source's DescribeTable answer gets them (emulated)."""

    def amend(parsed: dict[str, Any], **_: Any) -> None:
        table = parsed.get("Table", {})
        if table.get("TableName") == SOURCE:
            table["Replicas"] = [{"RegionName": "us-west-2", "ReplicaStatus": "ACTIVE"}]
            if strong:
                table["MultiRegionConsistency"] = "STRONG"

    clients.dynamodb.meta.events.register("after-call.dynamodb.DescribeTable", amend)


def pitr_clients() -> TableClients:
    return TableClients(
        dynamodb=boto3.client("dynamodb", region_name=REGION),
        autoscaling=boto3.client("application-autoscaling", region_name=REGION),
        cloudwatch=boto3.client("cloudwatch", region_name=REGION),
        ssm=boto3.client("ssm", region_name=REGION),
        lambda_=boto3.client("lambda", region_name=REGION),
    )


def test_an_mrsc_source_refuses_the_cutover_without_accepting_regional_degradation(mock_aws: None) -> None:
    clients = pitr_clients()
    make_table(clients.dynamodb)
    amend_source(clients, strong=True)
    parameter = app_setting.active_table_parameter("shop", "orders")
    clients.ssm.put_parameter(Name=parameter, Value=SOURCE, Type="String")

    refused = restore_table(
        clients, SOURCE, use_latest=True, target="orders-r1", cutover=Cutover(app="shop", force=True)
    )
    assert refused["cutover"]["done"] is False
    assert "--accept-regional-degradation" in refused["cutover"]["reason"]
    assert refused["objectives"]["regional"]["met"] is False
    assert app_setting.read_setting(clients.ssm, parameter) == SOURCE

    accepted = restore_table(
        clients,
        SOURCE,
        use_latest=True,
        target="orders-r1",
        cutover=Cutover(app="shop", force=True, accept_regional_degradation=True),
    )
    assert accepted["cutover"]["done"] is True
    assert accepted["objectives"]["regional"]["met"] is False
    assert "can never become MRSC" in accepted["objectives"]["regional"]["reason"]
    assert app_setting.read_setting(clients.ssm, parameter) == "orders-r1"


def test_an_mrec_source_gets_its_replica_regions_back_before_the_cutover(mock_aws: None) -> None:
    clients = pitr_clients()
    make_table(clients.dynamodb)
    amend_source(clients, strong=False)
    updates = capture(clients.dynamodb, "UpdateTable")

    report = restore_table(
        clients, SOURCE, use_latest=True, target="orders-r2", cutover=Cutover(app="shop", force=True)
    )

    assert report["cutover"]["done"] is True
    assert report["objectives"]["regional"] == {
        "met": True,
        "replicas_added": ["us-west-2"],
        "reason": "the source's replica regions were re-added",
    }
    # moto ignores ReplicaUpdates: the request is what is checked.
    assert [u["ReplicaUpdates"] for u in updates if "ReplicaUpdates" in u] == [
        [{"Create": {"RegionName": "us-west-2"}}]
    ]


def test_no_replicas_reports_the_regional_objective_unmet(mock_aws: None) -> None:
    clients = pitr_clients()
    make_table(clients.dynamodb)
    amend_source(clients, strong=False)
    updates = capture(clients.dynamodb, "UpdateTable")
    report = restore_table(
        clients, SOURCE, use_latest=True, target="orders-r3", cutover=Cutover(app="shop", force=True, replicas=False)
    )
    assert report["cutover"]["done"] is True
    assert report["objectives"]["regional"]["met"] is False
    assert not [u for u in updates if "ReplicaUpdates" in u]


def test_the_cutover_reports_each_stream_consumer_and_the_change_its_stack_makes(mock_aws: None) -> None:
    clients = pitr_clients()
    make_table(clients.dynamodb)
    old_stream = clients.dynamodb.describe_table(TableName=SOURCE)["Table"]["LatestStreamArn"]
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="consumer", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    function = clients.lambda_.create_function(
        FunctionName="ledger-projector", Runtime="python3.12", Role=role, Handler="h.h", Code={"ZipFile": b"zip"}
    )["FunctionArn"]
    mapping = clients.lambda_.create_event_source_mapping(
        EventSourceArn=old_stream, FunctionName="ledger-projector", StartingPosition="LATEST"
    )["UUID"]

    report = restore_table(
        clients, SOURCE, use_latest=True, target="orders-r4", cutover=Cutover(app="shop", force=True)
    )

    [consumer] = report["cutover"]["stream_consumers"]
    new_stream = clients.dynamodb.describe_table(TableName="orders-r4")["Table"]["LatestStreamArn"]
    assert consumer["uuid"] == mapping and consumer["function"] == function
    assert (consumer["old_stream_arn"], consumer["new_stream_arn"]) == (old_stream, new_stream)
    assert "cannot be updated in place" in consumer["change"]
    # Nothing was re-pointed.
    assert clients.lambda_.get_event_source_mapping(UUID=mapping)["EventSourceArn"] == old_stream


# ---------------------------------------------------------------- RPO age, table rows


def test_newest_completed_recovery_point_age_ignores_running_jobs() -> None:
    backup = boto3.client("backup", region_name=REGION)
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    with Stubber(backup) as stub:
        stub.add_response(
            "list_recovery_points_by_resource",
            {
                "RecoveryPoints": [
                    {"RecoveryPointArn": "a", "Status": "COMPLETED", "CreationDate": now - timedelta(hours=2)},
                    {"RecoveryPointArn": "b", "Status": "COMPLETED", "CreationDate": now - timedelta(hours=1)},
                    {"RecoveryPointArn": "c", "Status": "PARTIAL", "CreationDate": now - timedelta(minutes=5)},
                ]
            },
        )
        assert newest_recovery_point_age(backup, "arn:table", now) == 3600.0
        stub.add_response("list_recovery_points_by_resource", {"RecoveryPoints": []})
        assert newest_recovery_point_age(backup, "arn:table", now) is None


def test_table_rpo_age_publishes_pitr_per_region_and_backups_in_the_primary(mock_aws: None) -> None:
    now = datetime.now(UTC)
    backup = boto3.client("backup", region_name=REGION)
    regional = {region: boto3.client("dynamodb", region_name=region) for region in (REGION, "us-west-2")}
    for ddb in regional.values():
        make_table(ddb)  # moto has no replicas: one table per region stands in for the replica

    def clients(service: str, region: str) -> Any:
        if service == "backup":
            return backup
        return regional[region] if service == "dynamodb" else boto3.client(service, region_name=region)

    with Stubber(backup) as stub:  # AWS Backup recovery points do not exist in moto 5.2.5
        stub.add_response(
            "list_recovery_points_by_resource",
            {"RecoveryPoints": [{"Status": "COMPLETED", "CreationDate": now - timedelta(minutes=30)}]},
        )
        summary = run_table_rpo_age([SOURCE], [REGION, "us-west-2"], [SOURCE], clients, now)

    assert summary["errors"] == []
    assert [(r["region"], r["recovery_point"]) for r in summary["tables"]] == [
        (REGION, "pitr"),
        ("us-west-2", "pitr"),
        (REGION, "aws-backup"),
    ]
    assert summary["tables"][2]["rpo_age_seconds"] == pytest.approx(1800, abs=1)
    for region, kinds in ((REGION, {"DynamoDBTable", "DynamoDBTableBackup"}), ("us-west-2", {"DynamoDBTable"})):
        metrics = boto3.client("cloudwatch", region_name=region).list_metrics(
            Namespace="DR/Recovery", MetricName=RPO_AGE_METRIC
        )["Metrics"]
        found = {next(d["Value"] for d in m["Dimensions"] if d["Name"] == "ResourceType") for m in metrics}
        assert found == kinds
        assert all({"Name": "Region", "Value": region} in m["Dimensions"] for m in metrics)
    # No alarm is created at run time: the stack owns them.
    assert boto3.client("cloudwatch", region_name=REGION).describe_alarms()["MetricAlarms"] == []
