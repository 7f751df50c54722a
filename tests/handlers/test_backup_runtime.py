"""AWS Backup at run time: job verdicts, restore-test validation, restores from a recovery point, and status.

EMULATED: moto 5.2.5 has no AWS Backup jobs, recovery points or restores, so the backup client is a botocore
Stubber (every call checked against botocore's model of the request and response); DynamoDB and S3 in the
validation tests are moto's.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from handlers.backup.jobs import job_verdict
from handlers.backup.restore import RestoreRefused, restore_metadata, start_bucket_restore, track_restore
from handlers.backup.restore_validation import validate_restore
from handlers.backup.status import backup_status

REGION = "us-west-2"
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
POINT = "arn:aws:backup:us-west-2:111122223333:recovery-point:abc"
BUCKET_ARN = "arn:aws:s3:::prod-audio-replica"
PLAN_ARN = "arn:aws:backup:us-west-2:111122223333:restore-testing-plan:prod-tests"


def stubbed_backup() -> tuple[Any, Stubber]:
    backup = boto3.client("backup", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    return backup, Stubber(backup)


def test_job_states_are_botocore_enums_and_a_copy_retrying_in_created_is_not_failed() -> None:
    model = botocore.session.get_session().get_service_model("backup")
    for state in model.shape_for("CopyJobState").enum + model.shape_for("BackupJobState").enum:
        job_verdict({"State": state})  # every state AWS can return has a verdict
    assert job_verdict({"State": "CREATED", "StatusMessage": "system error, retrying"}) == "retrying"
    assert job_verdict({"State": "CREATED"}) == "running"
    assert job_verdict({"State": "FAILED"}) == "failed"
    assert job_verdict({"State": "EXPIRED"}) == "failed"


@pytest.fixture
def restored() -> Iterator[tuple[Any, Any]]:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        s3 = boto3.client("s3", region_name=REGION)
        yield dynamodb, s3


def _restore_job(resource_type: str, created: str, *, tested: bool = True) -> dict[str, Any]:
    job: dict[str, Any] = {
        "RestoreJobId": "job-1",
        "Status": "COMPLETED",
        "ResourceType": resource_type,
        "CreatedResourceArn": created,
    }
    if tested:
        job["CreatedBy"] = {"RestoreTestingPlanArn": PLAN_ARN}
    return job


def test_a_restored_table_with_the_canary_is_reported_successful(restored: tuple[Any, Any]) -> None:
    dynamodb, s3 = restored
    dynamodb.create_table(
        TableName="restored-users",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.put_item(TableName="restored-users", Item={"pk": {"S": "dr-canary"}})
    backup, stub = stubbed_backup()
    arn = f"arn:aws:dynamodb:{REGION}:111122223333:table/restored-users"
    stub.add_response("describe_restore_job", _restore_job("DynamoDB", arn), {"RestoreJobId": "job-1"})
    stub.add_response(
        "put_restore_validation_result",
        {},
        {"RestoreJobId": "job-1", "ValidationStatus": "SUCCESSFUL", "ValidationStatusMessage": stub_any()},
    )
    with stub:
        verdict = validate_restore(backup, dynamodb, s3, "job-1", {"pk": {"S": "dr-canary"}}, "dr-drill/canary")
    assert verdict is not None and verdict.status == "SUCCESSFUL"
    stub.assert_no_pending_responses()


def test_an_empty_restored_bucket_is_reported_failed(restored: tuple[Any, Any]) -> None:
    dynamodb, s3 = restored
    s3.create_bucket(Bucket="restored-audio", CreateBucketConfiguration={"LocationConstraint": REGION})
    backup, stub = stubbed_backup()
    stub.add_response(
        "describe_restore_job", _restore_job("S3", "arn:aws:s3:::restored-audio"), {"RestoreJobId": "job-1"}
    )
    stub.add_response(
        "put_restore_validation_result",
        {},
        {
            "RestoreJobId": "job-1",
            "ValidationStatus": "FAILED",
            "ValidationStatusMessage": "restored bucket restored-audio is empty",
        },
    )
    with stub:
        verdict = validate_restore(backup, dynamodb, s3, "job-1", None, "dr-drill/canary")
    assert verdict is not None and verdict.status == "FAILED"


def test_a_restore_no_restore_test_made_is_left_alone(restored: tuple[Any, Any]) -> None:
    dynamodb, s3 = restored
    backup, stub = stubbed_backup()
    stub.add_response(
        "describe_restore_job", _restore_job("S3", "arn:aws:s3:::x", tested=False), {"RestoreJobId": "job-1"}
    )
    with stub:  # no PutRestoreValidationResult is stubbed: calling it would fail the test
        assert validate_restore(backup, dynamodb, s3, "job-1", None, "dr-drill/canary") is None


def stub_any() -> Any:
    from botocore.stub import ANY

    return ANY


def test_restore_from_backup_starts_a_new_bucket_restore_and_tracks_it_to_completion() -> None:
    backup, stub = stubbed_backup()
    stub.add_response(
        "get_recovery_point_restore_metadata",
        {"RestoreMetadata": {"DestinationBucketName": "prod-audio-replica", "RestoreTime": ""}},
        {"BackupVaultName": "prod-dr-s3-us-west-2", "RecoveryPointArn": POINT},
    )
    stub.add_response(
        "start_restore_job",
        {"RestoreJobId": "r-1"},
        {
            "RecoveryPointArn": POINT,
            "Metadata": {
                "DestinationBucketName": "prod-restore-audio",
                "RestoreTime": "2026-12-07T10:00:00+00:00",
                "NewBucket": "true",
            },
            "IamRoleArn": "arn:aws:iam::111122223333:role/prod-bucket-backup",
            "IdempotencyToken": "t-1",
            "ResourceType": "S3",
        },
    )
    for status in ("PENDING", "RUNNING", "COMPLETED"):
        stub.add_response(
            "describe_restore_job",
            {"RestoreJobId": "r-1", "Status": status, "CreatedResourceArn": "arn:aws:s3:::restored"},
            {"RestoreJobId": "r-1"},
        )
    sleeps: list[float] = []
    with stub:
        at = datetime(2026, 12, 7, 10, tzinfo=UTC)
        metadata = restore_metadata(backup, POINT, "prod-dr-s3-us-west-2", "prod-restore-audio", at)
        job = start_bucket_restore(backup, POINT, "arn:aws:iam::111122223333:role/prod-bucket-backup", metadata, "t-1")
        states = [p.status for p in track_restore(backup, job, poll_seconds=5, sleep=sleeps.append)]
    assert states == ["PENDING", "RUNNING", "COMPLETED"] and sleeps == [5, 5]


def test_a_time_on_a_snapshot_is_refused_before_any_restore_starts() -> None:
    backup, stub = stubbed_backup()
    stub.add_response(
        "get_recovery_point_restore_metadata",
        {"RestoreMetadata": {"DestinationBucketName": "prod-audio-replica"}},
        {"BackupVaultName": "isolated", "RecoveryPointArn": POINT},
    )
    with stub, pytest.raises(RestoreRefused, match="snapshot"):
        restore_metadata(backup, POINT, "isolated", None, NOW)


def _status_document() -> dict[str, Any]:
    return {
        "stores": [
            {
                "name": "audio",
                "kind": "bucket",
                "region": REGION,
                "resourceArn": BUCKET_ARN,
                "restoreTested": True,
                "restoreTestRegion": REGION,
                "vaults": [
                    {"role": "source", "region": REGION, "name": "prod-dr-s3-us-west-2", "rpoMinutes": 1440},
                    {
                        "role": "isolated",
                        "region": REGION,
                        "name": "prod-isolated-us-west-2",
                        "arn": "arn:aws:backup:us-west-2:999988887777:backup-vault:prod-isolated-us-west-2",
                        "account": "other",
                        "rpoMinutes": 1440,
                    },
                ],
            }
        ]
    }


def _status(source_age: timedelta, copy_state: str, message: str | None, validation: str) -> list[Any]:
    backup, stub = stubbed_backup()
    stub.add_response(
        "list_recovery_points_by_backup_vault",
        {"RecoveryPoints": [{"RecoveryPointArn": POINT, "CreationDate": NOW - source_age, "Status": "COMPLETED"}]},
        {"BackupVaultName": "prod-dr-s3-us-west-2", "ByResourceArn": BUCKET_ARN},
    )
    stub.add_response(
        "list_copy_jobs",
        {
            "CopyJobs": [
                {
                    "CopyJobId": "c-0",
                    "CompletionDate": NOW - timedelta(hours=3),
                    "CreationDate": NOW - timedelta(hours=4),
                    "State": "COMPLETED",
                }
            ]
        },
        {"ByResourceArn": BUCKET_ARN, "ByDestinationVaultArn": stub_any(), "ByState": "COMPLETED"},
    )
    copy: dict[str, Any] = {"CopyJobId": "c-1", "CreationDate": NOW - timedelta(hours=1), "State": copy_state}
    if message:
        copy["StatusMessage"] = message
    stub.add_response("list_copy_jobs", {"CopyJobs": [copy]}, {"ByResourceArn": BUCKET_ARN})
    stub.add_response(
        "list_restore_jobs_by_protected_resource",
        {
            "RestoreJobs": [
                {
                    "RestoreJobId": "r-1",
                    "CreationDate": NOW - timedelta(days=2),
                    "CompletionDate": NOW - timedelta(days=2) + timedelta(minutes=42),
                    "Status": "COMPLETED",
                    "ValidationStatus": validation,
                    "CreatedBy": {"RestoreTestingPlanArn": PLAN_ARN},
                }
            ]
        },
        {"ResourceArn": BUCKET_ARN},
    )
    with stub:
        return backup_status(lambda region: backup, _status_document(), NOW)


def test_status_meets_every_objective_and_shows_a_retrying_copy_as_retrying() -> None:
    [store] = _status(timedelta(hours=5), "CREATED", "Copy job failed with a system error; retrying", "SUCCESSFUL")
    assert store.met, store.problems
    assert store.last_copy_job["verdict"] == "retrying"
    assert store.last_restore_test["durationMinutes"] == 42
    assert [v.seen_through for v in store.vaults] == ["vault listing", "copy jobs"]


def test_status_is_unmet_for_an_old_recovery_point_a_failed_copy_or_a_failed_validation() -> None:
    [store] = _status(timedelta(hours=30), "FAILED", "Access denied", "FAILED")
    assert not store.met
    assert len(store.problems) == 3
    assert "RPO 1440 min" in store.problems[0]


def test_restore_tests_become_drill_rows_with_the_measured_rto_and_the_restored_points_age() -> None:
    from handlers.backup.restore_tests import restore_test_rows
    from handlers.drills.model import Status

    document = _status_document()
    document["stores"][0] |= {"restoreRtoMinutes": 30, "restoreRpoMinutes": 1440}
    document["stores"].append(
        {**document["stores"][0], "name": "uploads", "resourceArn": "arn:aws:s3:::prod-uploads-replica"}
    )
    backup, stub = stubbed_backup()
    created = NOW - timedelta(days=1)
    stub.add_response(
        "list_restore_jobs_by_protected_resource",
        {
            "RestoreJobs": [
                {  # an operator's restore: not a test, never a row
                    "RestoreJobId": "manual",
                    "CreationDate": NOW - timedelta(hours=1),
                    "CompletionDate": NOW,
                    "Status": "COMPLETED",
                },
                {
                    "RestoreJobId": "r-1",
                    "CreationDate": created,
                    "CompletionDate": created + timedelta(minutes=25),
                    "RecoveryPointCreationDate": created - timedelta(hours=20),
                    "Status": "COMPLETED",
                    "ValidationStatus": "SUCCESSFUL",
                    "CreatedBy": {"RestoreTestingPlanArn": PLAN_ARN},
                },
            ]
        },
        {"ResourceArn": BUCKET_ARN},
    )
    stub.add_response(
        "list_restore_jobs_by_protected_resource",
        {"RestoreJobs": []},
        {"ResourceArn": "arn:aws:s3:::prod-uploads-replica"},
    )
    with stub:
        audio, uploads = restore_test_rows(lambda region: backup, document, NOW)
    assert audio.status is Status.passed and audio.checks["restore_job_id"] == "r-1"
    assert (audio.rto_seconds_measured, audio.rpo_seconds_measured) == (25 * 60, 20 * 3600)
    assert (audio.rto_seconds_target, audio.rpo_seconds_target) == (30 * 60, 1440 * 60)
    assert uploads.status is Status.not_run  # no test yet: never a pass


def test_a_restore_test_slower_than_the_rto_fails_its_row() -> None:
    from handlers.backup.restore_tests import restore_test_rows
    from handlers.drills.model import Status

    document = _status_document()
    document["stores"][0] |= {"restoreRtoMinutes": 30, "restoreRpoMinutes": 1440}
    backup, stub = stubbed_backup()
    stub.add_response(
        "list_restore_jobs_by_protected_resource",
        {
            "RestoreJobs": [
                {
                    "RestoreJobId": "r-2",
                    "CreationDate": NOW - timedelta(hours=2),
                    "CompletionDate": NOW - timedelta(minutes=10),
                    "RecoveryPointCreationDate": NOW - timedelta(hours=3),
                    "Status": "COMPLETED",
                    "ValidationStatus": "SUCCESSFUL",
                    "CreatedBy": {"RestoreTestingPlanArn": PLAN_ARN},
                }
            ]
        },
        {"ResourceArn": BUCKET_ARN},
    )
    with stub:
        [row] = restore_test_rows(lambda region: backup, document, NOW)
    assert row.status is Status.failed and "outside the objectives" in row.notes[-1]


def test_prod_exports_what_backup_status_and_the_drill_read() -> None:
    import runpy

    from tests.components.harness import REPO, run_capturing, stack_config

    exported: dict[str, Any] = {}

    def program() -> None:
        import pulumi

        original = pulumi.export
        pulumi.export = lambda key, value: exported.__setitem__(key, value)  # type: ignore[assignment]
        try:
            runpy.run_path(str(REPO / "__main__.py"), run_name="__main__")
        finally:
            pulumi.export = original

    _, error = run_capturing(program, stack_config("prod"), preview=True)
    assert error is None
    stores = {store["name"]: store for store in exported["backupStatus"]["stores"]}
    assert set(stores) == {"users", "orders", "transactions", "audio", "uploads"}
    audio = stores["audio"]
    assert audio["resourceArn"] == "arn:aws:s3:::distronation-prod-audio-us-west-2"
    assert [(v["role"], v.get("account", "this")) for v in audio["vaults"]] == [
        ("source", "this"),
        ("isolated", "this"),
    ]
    users = stores["users"]
    assert [v["role"] for v in users["vaults"]] == ["source", "recovery", "isolated"]
    assert users["vaults"][2]["account"] == "other" and users["restoreTested"]


def test_without_a_target_the_restore_goes_back_into_the_recovery_points_bucket() -> None:
    backup, stub = stubbed_backup()
    stub.add_response(
        "get_recovery_point_restore_metadata",
        {"RestoreMetadata": {"DestinationBucketName": "prod-audio-replica"}},
        {"BackupVaultName": "isolated", "RecoveryPointArn": POINT},
    )
    with stub:
        metadata = restore_metadata(backup, POINT, "isolated", None, None)
    assert metadata == {"DestinationBucketName": "prod-audio-replica", "NewBucket": "false"}


def test_drctl_backup_status_exits_1_with_one_json_object_when_an_objective_is_unmet(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from typer.testing import CliRunner

    import handlers.cli.backup as cli_backup
    from handlers.cli import load_commands

    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"backupStatus": _status_document()}))
    backup, stub = stubbed_backup()
    stub.add_response(
        "list_recovery_points_by_backup_vault",
        {"RecoveryPoints": []},
        {"BackupVaultName": stub_any(), "ByResourceArn": BUCKET_ARN},
    )
    stub.add_response(
        "list_copy_jobs",
        {"CopyJobs": []},
        {"ByResourceArn": BUCKET_ARN, "ByDestinationVaultArn": stub_any(), "ByState": "COMPLETED"},
    )
    stub.add_response("list_copy_jobs", {"CopyJobs": []}, {"ByResourceArn": BUCKET_ARN})
    stub.add_response("list_restore_jobs_by_protected_resource", {"RestoreJobs": []}, {"ResourceArn": BUCKET_ARN})
    monkeypatch.setattr(cli_backup, "client", lambda service, region: backup)
    with stub:
        result = CliRunner().invoke(load_commands(), ["backup", "status", "--outputs", str(outputs), "--json"])
    assert result.exit_code == 1
    [line] = result.stdout.strip().splitlines()
    document = json.loads(line)
    assert document["exit_code"] == 1 and document["unmet"] == ["audio"]
    problems = document["stores"][0]["problems"]
    assert "source vault prod-dr-s3-us-west-2: no recovery point" in problems
    assert "no restore test has run" in problems


def test_drctl_backup_without_a_subcommand_still_takes_on_demand_backups() -> None:
    from typer.testing import CliRunner

    from handlers.cli import load_commands

    result = CliRunner().invoke(load_commands(), ["backup", "--help"])
    assert result.exit_code == 0
    assert "--tables" in result.stdout and "status" in result.stdout
