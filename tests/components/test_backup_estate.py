"""The stack's AWS Backup beyond the table plans, under the mock runtime: isolated vaults, AWS Backup for S3, restore
testing, audit, and the second program's vault in another account."""

from __future__ import annotations

import json
import runpy
from typing import Any

import pytest

from components.backup_estate import FRAMEWORK_CONTROLS, MAX_CONTROLS_PER_REGION
from tests.components.harness import ACCOUNT_ID, REPO, Run, prod_run, run_capturing, run_program, stack_config

PROD = stack_config("prod")


@pytest.fixture(scope="module")
def prod() -> Run:
    return prod_run(preview=True)


def one(run: Run, type_token: str) -> Any:
    [found] = run.of_type(type_token)
    return found


def test_the_air_gapped_vault_sits_in_the_recovery_region_shared_with_the_recovery_account(prod: Run) -> None:
    vault = one(prod, "aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault")
    assert vault.inputs["region"] == "us-west-2" and vault.protect
    assert (vault.inputs["minRetentionDays"], vault.inputs["maxRetentionDays"]) == (7, 400)
    assert vault.inputs["tags"]["dr:isolated"] == "air-gapped"
    assert one(prod, "aws:ram/principalAssociation:PrincipalAssociation").inputs["principal"] == "210987654321"
    share = one(prod, "aws:ram/resourceShare:ResourceShare")
    assert share.inputs["allowExternalPrincipals"]  # RAM shares across organisations too
    association = one(prod, "aws:ram/resourceAssociation:ResourceAssociation")
    assert association.property_dependencies["resourceArn"] == [vault.urn]


def test_without_a_recovery_account_nothing_is_shared() -> None:
    config = json.loads(json.dumps(PROD))
    del config["backup"]["airGappedVault"]["recoveryAccountId"]
    run = run_program(config, preview=True)
    assert run.of_type("aws:ram/resourceShare:ResourceShare") == []


def test_the_replicas_are_backed_up_continuously_and_daily_with_the_snapshot_copied_out(prod: Run) -> None:
    [plan] = [p for p in prod.of_type("aws:backup/plan:Plan") if p.name == "bucket-backup-plan"]
    assert plan.inputs["region"] == "us-west-2"  # the replicas' Region: they have a lifecycle (the cost trap)
    continuous, snapshot = plan.inputs["rules"]
    assert continuous["enableContinuousBackup"] and continuous["lifecycle"] == {"deleteAfter": 35}
    assert "copyActions" not in continuous or continuous["copyActions"] == []  # copies lose PITR anyway
    assert continuous["targetVaultName"] == snapshot["targetVaultName"]  # one vault for both, as AWS requires
    assert snapshot["schedule"] == "cron(0 3 * * ? *)"
    [copy] = snapshot["copyActions"]
    assert copy["destinationVaultArn"] == (
        f"arn:aws:backup:us-west-2:{ACCOUNT_ID}:backup-vault:distronation-prod-isolated-us-west-2"
    )
    assert copy["lifecycle"] == {"deleteAfter": 35}
    # Continuous backup in one plan only: no other plan selects the buckets.
    [selection] = [s for s in prod.of_type("aws:backup/selection:Selection") if s.name == "bucket-backup-selection"]
    assert selection.inputs["resources"] == [
        "arn:aws:s3:::distronation-prod-audio-us-west-2",
        "arn:aws:s3:::distronation-prod-uploads-us-west-2",
    ]
    others = [s for s in prod.of_type("aws:backup/selection:Selection") if s is not selection]
    assert not any(":s3:::" in r for s in others for r in s.inputs.get("resources", []))


def test_the_primary_is_backed_up_only_by_opt_in() -> None:
    config = json.loads(json.dumps(PROD))
    config["backup"]["s3"] = {"target": "primary"}
    run = run_program(config, preview=True)
    [selection] = [s for s in run.of_type("aws:backup/selection:Selection") if s.name == "bucket-backup-selection"]
    assert selection.inputs["region"] == "us-east-1"
    assert selection.inputs["resources"] == [
        "arn:aws:s3:::distronation-prod-audio-us-east-1",
        "arn:aws:s3:::distronation-prod-uploads-us-east-1",
    ]


def test_the_bucket_keys_grant_the_backup_role_through_s3(prod: Run) -> None:
    policies = [p for p in prod.of_type("aws:kms/keyPolicy:KeyPolicy") if p.name.startswith("audio-replica")]
    statements = [s for p in policies for s in json.loads(p.inputs["policy"])["Statement"]]
    [uses] = [s for s in statements if s.get("Sid") == "BucketBackupRoleUsesKey"]
    assert uses["Principal"]["AWS"].endswith(":role/distronation-prod-bucket-backup")
    assert "kms:Decrypt" in uses["Action"]


def test_restore_tests_run_weekly_per_region_with_one_type_per_selection(prod: Run) -> None:
    plans = {p.inputs["region"]: p for p in prod.of_type("aws:backup/restoreTestingPlan:RestoreTestingPlan")}
    assert sorted(plans) == ["us-east-1", "us-west-2"]
    for plan in plans.values():
        assert plan.inputs["scheduleExpression"] == "cron(0 5 ? * SUN *)"
        assert plan.inputs["recoveryPointSelection"]["recoveryPointTypes"] == ["SNAPSHOT"]
    selections = {
        s.inputs["region"]: s for s in prod.of_type("aws:backup/restoreTestingSelection:RestoreTestingSelection")
    }
    tables, buckets = selections["us-east-1"], selections["us-west-2"]
    assert tables.inputs["protectedResourceType"] == "DynamoDB" and tables.inputs["protectedResourceArns"] == ["*"]
    assert tables.inputs["protectedResourceConditions"] == {
        "stringEquals": [{"key": "aws:ResourceTag/dr:tier", "value": "1"}]
    }
    assert buckets.inputs["protectedResourceType"] == "S3" and len(buckets.inputs["protectedResourceArns"]) == 2
    assert all(s.inputs["validationWindowHours"] == 24 for s in selections.values())


def test_each_restore_region_has_a_validation_function_on_completed_restores(prod: Run) -> None:
    functions = [f for f in prod.of_type("aws:lambda/function:Function") if "restore-validation" in f.inputs["name"]]
    assert sorted(f.inputs["region"] for f in functions) == ["us-east-1", "us-west-2"]
    assert all(f.inputs["handler"] == "handlers.backup.restore_validation.lambda_handler" for f in functions)
    rules = [r for r in prod.of_type("aws:cloudwatch/eventRule:EventRule") if r.name.endswith("-completed")]
    assert len(rules) == 2
    assert json.loads(rules[0].inputs["eventPattern"])["detail-type"] == ["Restore Job State Change"]


def test_the_audit_framework_uses_only_cited_controls_with_one_tag_scope(prod: Run) -> None:
    framework = one(prod, "aws:backup/framework:Framework")
    controls = framework.inputs["controls"]
    assert {c["name"] for c in controls} <= set(FRAMEWORK_CONTROLS) and len(controls) <= MAX_CONTROLS_PER_REGION
    assert all(len(c["scope"].get("tags", {})) <= 1 for c in controls)  # one tag key and value per scope
    report = one(prod, "aws:backup/reportPlan:ReportPlan")
    assert report.inputs["reportDeliveryChannel"]["s3BucketName"] == "distronation-prod-dr-batch-reports-us-east-1"


def test_the_framework_proves_copies_outside_the_region_and_the_account_within_the_rpo(prod: Run) -> None:
    """Prod: the tier-1 tables' hourly plan copies to us-west-2 and to the backup account, the tier-1 buckets'
    snapshots to the air-gapped vault; each control is scoped to what it proves ("Controls and remediation")."""
    controls = one(prod, "aws:backup/framework:Framework").inputs["controls"]

    def scoped(name: str) -> list[tuple[Any, dict[str, str]]]:
        return [
            (c["scope"], {p["name"]: p["value"] for p in c.get("inputParameters", [])})
            for c in controls
            if c["name"] == name
        ]

    plan = {"tags": {"dr:backup-plan": "distronation-prod-tables-60m-cold7d-keep120d"}}
    assert scoped("BACKUP_RESOURCES_PROTECTED_BY_CROSS_REGION") == [(plan, {})]
    assert scoped("BACKUP_RESOURCES_PROTECTED_BY_CROSS_ACCOUNT") == [(plan, {})]
    # The hourly plan's own RPO plus AWS Backup's one-hour start window; the buckets' day under the tier tag.
    assert sorted(scoped("BACKUP_LAST_RECOVERY_POINT_CREATED"), key=str) == sorted(
        [
            ({"tags": {"dr:tier": "1"}}, {"recoveryPointAgeUnit": "hours", "recoveryPointAgeValue": "24"}),
            (plan, {"recoveryPointAgeUnit": "hours", "recoveryPointAgeValue": "2"}),
        ],
        key=str,
    )
    # No tag scope for this control; 24 h is both the tier-1 account-compromise RPO and AWS's minimum.
    assert scoped("RESOURCES_IN_LOGICALLY_AIR_GAPPED_VAULT") == [
        ({"complianceResourceTypes": ["S3"]}, {"recoveryPointAgeUnit": "hours", "recoveryPointAgeValue": "24"})
    ]


def test_without_isolated_vaults_only_the_cross_region_controls_remain() -> None:
    config = json.loads(json.dumps(PROD))
    for key in ("airGappedVault", "vaultAccount"):
        del config["backup"][key]
    config["backup"]["isolatedCopies"] = {"tier1": False}
    run = run_program(config, preview=True)
    names = [c["name"] for c in one(run, "aws:backup/framework:Framework").inputs["controls"]]
    assert "BACKUP_RESOURCES_PROTECTED_BY_CROSS_REGION" in names
    assert "BACKUP_RESOURCES_PROTECTED_BY_CROSS_ACCOUNT" not in names
    assert "RESOURCES_IN_LOGICALLY_AIR_GAPPED_VAULT" not in names


def test_the_second_program_builds_the_other_accounts_vault_through_the_assumed_role() -> None:
    def program() -> None:
        runpy.run_path(str(REPO / "stacks" / "isolated-vault" / "__main__.py"), run_name="__main__")

    run, error = run_capturing(program, {"sourceStackFile": "../../Pulumi.prod.yaml"}, preview=True)
    assert error is None
    [provider] = [r for r in run.registrations if r.type == "pulumi:providers:aws"]
    assert json.loads(provider.inputs["assumeRoles"])[0]["roleArn"] == (
        "arn:aws:iam::345678901234:role/dr-isolated-vault-deployer"
    )
    vault = one(run, "aws:backup/vault:Vault")
    assert vault.inputs["name"] == "distronation-prod-isolated-us-west-2" and vault.protect
    assert vault.inputs["tags"]["dr:isolated"] == "account"
    lock = one(run, "aws:backup/vaultLockConfiguration:VaultLockConfiguration")
    assert lock.inputs["changeableForDays"] == 3  # COMPLIANCE
    policy = json.loads(one(run, "aws:backup/vaultPolicy:VaultPolicy").inputs["policy"])
    [statement] = policy["Statement"]
    assert statement["Action"] == "backup:CopyIntoBackupVault"
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-distronation01"}}


def test_every_enum_the_backup_resources_send_is_one_botocore_knows(prod: Run) -> None:
    import botocore.session

    from components.backup_events import FAILED_JOB_STATES

    model = botocore.session.get_session().get_service_model("backup")

    def enum(shape: str) -> set[str]:
        return set(model.shape_for(shape).enum)

    for plan in prod.of_type("aws:backup/restoreTestingPlan:RestoreTestingPlan"):
        selection = plan.inputs["recoveryPointSelection"]
        assert selection["algorithm"] in enum("RestoreTestingRecoveryPointSelectionAlgorithm")
        assert set(selection["recoveryPointTypes"]) <= enum("RestoreTestingRecoveryPointType")
    # The job-failure pattern: backup jobs can end FAILED, EXPIRED or ABORTED; copy jobs only FAILED (CopyJobState).
    assert set(FAILED_JOB_STATES) <= enum("BackupJobState")
    assert set(FAILED_JOB_STATES) & enum("CopyJobState") == {"FAILED"}
    assert {"SUCCESSFUL", "FAILED"} <= enum("RestoreValidationStatus")  # what the validation function reports


def test_tables_copy_to_the_air_gapped_vault_when_it_takes_dynamodb() -> None:
    """Without backup.vaultAccount and with the air-gapped vault taking every type it can hold (its default),
    tier-1 table backups are copied there and the framework checks both types in it."""
    config = json.loads(json.dumps(PROD))
    del config["backup"]["vaultAccount"]
    del config["backup"]["airGappedVault"]["resourceTypes"]
    run = run_program(config, preview=True)
    lag = f"arn:aws:backup:us-west-2:{ACCOUNT_ID}:backup-vault:distronation-prod-isolated-us-west-2"
    [plan] = [p for p in run.of_type("aws:backup/plan:Plan") if p.name.startswith("table-backup")]
    assert [c["destinationVaultArn"] for c in plan.inputs["rules"][0]["copyActions"]][-1] == lag
    controls = one(run, "aws:backup/framework:Framework").inputs["controls"]
    [in_lag] = [c for c in controls if c["name"] == "RESOURCES_IN_LOGICALLY_AIR_GAPPED_VAULT"]
    assert in_lag["scope"] == {"complianceResourceTypes": ["DynamoDB", "S3"]}
    assert "BACKUP_RESOURCES_PROTECTED_BY_CROSS_ACCOUNT" not in {c["name"] for c in controls}
