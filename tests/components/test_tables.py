"""Issue 13, items 2, 4, 6, 7, 8 and 10: the prod stack's global tables, AWS Backup and alarms under the mock runtime.

Preview semantics (``preview=True``: computed outputs such as key ARNs stay unknown) unless a test says otherwise.
The mock runtime does not model DynamoDB: MRSC, replicas and AWS Backup are checked as the inputs the engine
would send, not as AWS behaviour.
"""

from __future__ import annotations

import json
import runpy
from typing import Any

import pytest

from stackmodel.config import parse
from tests.components.harness import (
    ACCOUNT_ID,
    REPO,
    UNKNOWN,
    Registration,
    Run,
    prod_run,
    run_capturing,
    run_program,
    stack_config,
)

PROD = stack_config("prod")
TABLE = "aws:dynamodb/table:Table"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
PARAMETER = "aws:ssm/parameter:Parameter"
KEY = "aws:kms/key:Key"
TABLES = {"users": "EVENTUAL", "orders": "STRONG", "transactions": "EVENTUAL"}
PLAN = "distronation-prod-tables-60m-cold7d-keep120d"
SNS = "arn:aws:sns:{region}:" + ACCOUNT_ID + ":distronation-prod-dr-alerts"
# backup.vaultAccount in Pulumi.prod.yaml: the vault stacks/isolated-vault builds in the backup account.
ISOLATED_VAULT = "arn:aws:backup:us-west-2:345678901234:backup-vault:distronation-prod-isolated-us-west-2"


@pytest.fixture(scope="module")
def prod() -> Run:
    return prod_run(preview=True)


@pytest.fixture(scope="module")
def prod_up() -> Run:
    return prod_run(preview=False)


def provider_regions(run: Run) -> dict[str, str]:
    return {r.urn: r.inputs["region"] for r in run.of_type("pulumi:providers:aws")}


def provider_region(run: Run, registration: Registration) -> str:
    return provider_regions(run)[registration.provider.rsplit("::", 1)[0]]


def table(run: Run, name: str) -> Registration:
    [match] = [r for r in run.of_type(TABLE) if r.name == name]
    return match


def component(run: Run, type_token: str, name: str) -> Registration:
    [match] = [r for r in run.registrations if r.type == type_token and r.name == name]
    return match


def alarms(run: Run, **inputs: Any) -> list[Registration]:
    return [r for r in run.of_type(ALARM) if all(r.inputs.get(k) == v for k, v in inputs.items())]


def test_every_table_is_one_table_with_inline_replicas_never_the_legacy_global_table(prod: Run) -> None:
    assert {r.name for r in prod.of_type(TABLE) if not r.name.startswith("site-")} == set(TABLES)  # not the lock
    assert not [r for r in prod.registrations if r.type == "aws:dynamodb/globalTable:GlobalTable"]
    for name in TABLES:
        assert component(prod, "dr:database:GlobalTable", name).urn == table(prod, name).parent


@pytest.mark.parametrize("name", TABLES)
def test_pitr_and_deletion_protection_on_the_table_and_every_replica(prod: Run, name: str) -> None:
    inputs = table(prod, name).inputs
    assert inputs["pointInTimeRecovery"] == {"enabled": True, "recoveryPeriodInDays": 35}
    assert inputs["deletionProtectionEnabled"] is True
    assert table(prod, name).protect is True
    [replica] = inputs["replicas"]
    assert replica["regionName"] == "us-west-2"
    assert replica["pointInTimeRecovery"] is True  # pulumi-aws: a bool only; the period is the table's
    assert replica["deletionProtectionEnabled"] is True
    assert replica["propagateTags"] is True
    assert replica["consistencyMode"] == TABLES[name]


@pytest.mark.parametrize("name", TABLES)
def test_sse_with_a_rotated_customer_managed_key_per_region(prod_up: Run, name: str) -> None:
    keys = [r for r in prod_up.of_type(KEY) if r.name.startswith(f"{name}-key-")]
    assert {r.inputs["region"] for r in keys} == {"us-east-1", "us-west-2"}
    assert all(r.inputs["enableKeyRotation"] is True and r.protect for r in keys)
    inputs = table(prod_up, name).inputs
    by_region = {r.inputs["region"]: r for r in keys}
    # With known outputs the mock ARN names the key resource, so each region's key is the one used there.
    assert inputs["serverSideEncryption"] == {"enabled": True, "kmsKeyArn": f"arn:aws:mock:::{name}-key-us-east-1"}
    assert inputs["replicas"][0]["kmsKeyArn"] == f"arn:aws:mock:::{by_region['us-west-2'].name}"


def test_streams_follow_the_consistency_mode(prod: Run) -> None:
    assert table(prod, "users").inputs["streamViewType"] == "NEW_AND_OLD_IMAGES"  # MREC needs it
    assert table(prod, "transactions").inputs["streamEnabled"] is True
    orders = table(prod, "orders").inputs
    assert orders["streamEnabled"] is False and "streamViewType" not in orders  # MRSC without a consumer


def test_mrsc_table_has_its_witness_and_no_ttl(prod: Run) -> None:
    orders = table(prod, "orders").inputs
    assert orders["globalTableWitness"] == {"regionName": "us-east-2"}
    assert "ttl" not in orders
    assert table(prod, "users").inputs["ttl"] == {"attributeName": "expiresAt", "enabled": True}
    assert "globalTableWitness" not in table(prod, "users").inputs


def test_tables_carry_their_objectives_and_backup_plan_tag(prod: Run) -> None:
    orders = table(prod, "orders").inputs["tags"]
    assert orders["dr:rpo-regional-minutes"] == "0" and orders["dr:rto-regional-minutes"] == "15"
    assert table(prod, "transactions").inputs["tags"]["dr:rpo-regional-minutes"] == "1"
    assert {table(prod, n).inputs["tags"]["dr:backup-plan"] for n in TABLES} == {PLAN}


def test_every_aws_resource_has_an_explicit_provider_in_its_own_region(prod: Run) -> None:
    regions = provider_regions(prod)
    assert sorted(regions.values()) == ["us-east-1", "us-west-2"]  # one per region, the witness needs none
    for registration in prod.registrations:
        if not registration.type.startswith("aws:"):
            continue
        assert registration.provider, registration.name
        region = registration.inputs.get("region")
        if region is not None:
            assert provider_region(prod, registration) == region, registration.name


def test_active_table_parameters_in_both_regions_keep_a_cutover(prod: Run) -> None:
    for name in TABLES:
        params = [r for r in prod.of_type(PARAMETER) if r.name.startswith(f"{name}-active-table-")]
        assert {r.inputs["region"] for r in params} == {"us-east-1", "us-west-2"}
        for param in params:
            assert param.inputs["name"] == f"/dr/distronation/active-table/{name}"
            value = param.inputs["value"]  # pulumi-aws marks a parameter's value secret
            assert value.get("value", value) == f"distronation-prod-{name}"
            assert param.ignore_changes == ["value"]


def test_replication_latency_alarms_per_source_and_receiving_region_in_the_source_region(prod: Run) -> None:
    # The tables' own alarms; the drills' FIS stop alarms watch the same metric (tests/components/test_drills.py).
    tables = {r.urn for c in prod.of_type("dr:database:GlobalTable") for r in prod.descendants_of(c.urn)}
    found = [a for a in alarms(prod, metricName="ReplicationLatency", namespace="AWS/DynamoDB") if a.urn in tables]
    by_table: dict[str, list[tuple[str, str]]] = {}
    for alarm in found:
        dims = alarm.inputs["dimensions"]
        by_table.setdefault(dims["TableName"], []).append((alarm.inputs["region"], dims["ReceivingRegion"]))
        assert set(dims) == {"TableName", "ReceivingRegion"}
        assert alarm.inputs["alarmActions"] == [SNS.format(region=alarm.inputs["region"])]
    assert sorted(by_table) == ["distronation-prod-transactions", "distronation-prod-users"]  # none for MRSC
    for pairs in by_table.values():
        assert sorted(pairs) == [("us-east-1", "us-west-2"), ("us-west-2", "us-east-1")]
    [transactions] = [a for a in found if a.name == "transactions-replication-latency-us-east-1-to-us-west-2"]
    assert transactions.inputs["threshold"] == 60_000  # regional RPO 1 min, in milliseconds
    [users] = [a for a in found if a.name == "users-replication-latency-us-west-2-to-us-east-1"]
    assert users.inputs["threshold"] == 15 * 60_000


@pytest.mark.parametrize("metric", ["ThrottledRequests", "SystemErrors"])
def test_throttles_and_system_errors_sum_each_operation_in_each_region(prod: Run, metric: str) -> None:
    found = [
        a
        for a in prod.of_type(ALARM)
        if any(q.get("metric", {}).get("metricName") == metric for q in a.inputs.get("metricQueries", []))
    ]
    assert len(found) == 6  # three tables, two regions
    [transactions] = [a for a in found if a.name.startswith("transactions-") and a.inputs["region"] == "us-west-2"]
    queries = transactions.inputs["metricQueries"]
    operations = [q["metric"]["dimensions"]["Operation"] for q in queries if "metric" in q]
    assert operations == ["GetItem", "Query", "PutItem", "UpdateItem", "TransactWriteItems", "TransactGetItems"]
    assert all(set(q["metric"]["dimensions"]) == {"TableName", "Operation"} for q in queries if "metric" in q)
    assert queries[-1]["expression"] == "SUM([m0, m1, m2, m3, m4, m5])" and queries[-1]["returnData"] is True
    assert transactions.inputs["alarmActions"] == [SNS.format(region="us-west-2")]


def test_user_errors_is_one_account_level_alarm_per_region(prod: Run) -> None:
    found = alarms(prod, metricName="UserErrors")
    assert sorted(a.inputs["region"] for a in found) == ["us-east-1", "us-west-2"]
    assert all("dimensions" not in a.inputs for a in found)
    assert all(a.inputs["alarmActions"] == [SNS.format(region=a.inputs["region"])] for a in found)


def test_rpo_age_alarms_sit_where_the_function_publishes(prod: Run) -> None:
    found = [
        a
        for a in alarms(prod, metricName="RecoveryPointAgeSeconds", namespace="DR/Recovery")
        if a.inputs["dimensions"]["ResourceType"].startswith("DynamoDB")  # buckets' sit beside their replicas
    ]
    pitr = [a for a in found if a.inputs["dimensions"]["ResourceType"] == "DynamoDBTable"]
    assert sorted((a.inputs["dimensions"]["Resource"], a.inputs["region"]) for a in pitr) == sorted(
        (f"distronation-prod-{n}", r) for n in TABLES for r in ("us-east-1", "us-west-2")
    )
    assert all(a.inputs["dimensions"]["Region"] == a.inputs["region"] for a in found)
    assert all(a.inputs["treatMissingData"] == "breaching" for a in found)
    assert {a.inputs["threshold"] for a in pitr} == {300}  # logical RPO 0, PITR's ~5 min lag
    backup = [a for a in found if a.inputs["dimensions"]["ResourceType"] == "DynamoDBTableBackup"]
    assert len(backup) == 3 and {a.inputs["threshold"] for a in backup} == {3600 + 3 * 3600}
    functions = [r for r in prod.of_type("aws:lambda/function:Function") if r.name.endswith("-rpo-age")]
    table_functions = [f for f in functions if f.inputs["handler"] == "handlers.rpo_age.tables_lambda_handler"]
    assert len(table_functions) == 3
    env = table_functions[0].inputs["environment"]["variables"]
    assert env["BACKUP_REGIONS"] == "us-east-1,us-west-2"


def test_scheduled_export_writes_under_the_bucket_key(prod: Run) -> None:
    [export] = [r for r in prod.of_type("aws:lambda/function:Function") if r.name == "users-export"]
    assert export.inputs["handler"] == "handlers.dynamodb.export.lambda_handler"
    assert export.inputs["environment"]["variables"]["EXPORT_BUCKET"] == "distronation-prod-backup-us-east-1"
    [policy] = [r for r in prod.of_type("aws:iam/rolePolicy:RolePolicy") if r.name == "users-export-policy"]
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    assert statements["Export"]["Action"] == ["dynamodb:ExportTableToPointInTime", "dynamodb:DescribeContinuousBackups"]
    # No IAM statement names keys: the bucket key's own policy grants this role by ARN, through S3 only.
    assert not any(action.startswith("kms:") for s in statements.values() for action in s["Action"])
    [key_policy] = [r for r in prod.of_type("aws:kms/keyPolicy:KeyPolicy") if r.name == "backup-primary-key-policy"]
    grants = {s["Sid"]: s for s in json.loads(key_policy.inputs["policy"])["Statement"]}
    export_role = "arn:aws:iam::123456789012:role/distronation-prod-users-export"
    assert grants["ExportUsers"]["Principal"] == {"AWS": export_role}
    assert grants["ExportUsers"]["Action"] == ["kms:GenerateDataKey", "kms:Encrypt"]
    assert grants["ExportUsers"]["Condition"] == {"StringEquals": {"kms:ViaService": ["s3.us-east-1.amazonaws.com"]}}


# ---------------------------------------------------------------- AWS Backup


def test_region_settings_write_true_only_for_the_types_the_stack_protects(prod: Run) -> None:
    found = {r.inputs["region"]: r for r in prod.of_type("aws:backup/regionSettings:RegionSettings")}
    assert sorted(found) == ["us-east-1", "us-west-2"]
    # Tables in both Regions; the tier-1 replicas' AWS Backup for S3 in us-west-2. Never a false (Aurora, RDS, ...).
    assert found["us-east-1"].inputs["resourceTypeOptInPreference"] == {"DynamoDB": True}
    assert found["us-west-2"].inputs["resourceTypeOptInPreference"] == {"DynamoDB": True, "S3": True}
    for settings in found.values():
        assert settings.inputs["resourceTypeManagementPreference"] == {"DynamoDB": True}
        # The provider reads the whole map back (perpetual diff): changes are ignored, deletes never sent.
        assert set(settings.ignore_changes) == {"resourceTypeOptInPreference", "resourceTypeManagementPreference"}
        assert settings.retain_on_delete


def test_a_vault_per_region_with_its_own_key_and_a_compliance_lock_in_prod(prod: Run) -> None:
    vaults = [v for v in prod.of_type("aws:backup/vault:Vault") if v.name.startswith("table-backup-")]
    assert sorted(v.inputs["name"] for v in vaults) == [
        "distronation-prod-dr-us-east-1",
        "distronation-prod-dr-us-west-2",
    ]
    assert all(v.protect and v.inputs["kmsKeyArn"] == UNKNOWN for v in vaults)  # each its own (new) key
    keys = [r for r in prod.of_type(KEY) if r.name.startswith("table-backup-vault-key-")]
    assert len(keys) == 2 and all(k.inputs["enableKeyRotation"] for k in keys)
    for lock in prod.of_type("aws:backup/vaultLockConfiguration:VaultLockConfiguration"):
        # pulumi-aws: changeable_for_days set means COMPLIANCE.
        assert (lock.inputs["changeableForDays"], lock.inputs["minRetentionDays"], lock.inputs["maxRetentionDays"]) == (
            3,
            7,
            400,
        )


def test_a_governance_stack_sends_no_changeable_for_days() -> None:
    run = run_program({**PROD, "backup": {"vaultLock": {"mode": "GOVERNANCE"}}}, preview=True)
    locks = run.of_type("aws:backup/vaultLockConfiguration:VaultLockConfiguration")
    assert len(locks) == 2 and all("changeableForDays" not in lock.inputs for lock in locks)
    assert run.of_type("aws:backup/regionSettings:RegionSettings") == []  # the switch is off by default


def test_the_plan_runs_hourly_with_lifecycle_and_a_copy_to_the_recovery_vault(prod: Run) -> None:
    [plan] = [p for p in prod.of_type("aws:backup/plan:Plan") if p.inputs["name"] == PLAN]
    assert plan.inputs["region"] == "us-east-1"
    [rule] = plan.inputs["rules"]
    assert rule["schedule"] == "cron(0 * * * ? *)"
    assert rule["lifecycle"] == {"coldStorageAfter": 7, "deleteAfter": 120}
    assert rule["targetVaultName"] == "distronation-prod-dr-us-east-1"
    assert rule["copyActions"] == [
        {
            "destinationVaultArn": f"arn:aws:backup:us-west-2:{ACCOUNT_ID}:backup-vault:distronation-prod-dr-us-west-2",
            "lifecycle": {"coldStorageAfter": 7, "deleteAfter": 120},
        },
        {
            # Tier 1's isolated copy: DynamoDB goes to the backup account's vault (stacks/isolated-vault).
            "destinationVaultArn": ISOLATED_VAULT,
            "lifecycle": {"coldStorageAfter": 7, "deleteAfter": 120},
        },
    ]
    # Region settings first: a copy action needs advanced DynamoDB backup.
    settings_urns = {r.urn for r in prod.of_type("aws:backup/regionSettings:RegionSettings")}
    assert settings_urns <= set(plan.dependencies)


def test_a_cross_account_copy_is_a_second_copy_action() -> None:
    vault = "arn:aws:backup:us-east-1:210987654321:backup-vault:org-dr"
    run = run_program({**PROD, "backup": {**PROD["backup"], "crossAccountVaultArn": vault}}, preview=True)
    [plan] = [p for p in run.of_type("aws:backup/plan:Plan") if p.inputs["name"] == PLAN]
    assert [c["destinationVaultArn"] for c in plan.inputs["rules"][0]["copyActions"]][-1] == vault


def test_the_selection_matches_the_plan_tag_on_dynamodb_tables_only(prod: Run) -> None:
    [selection] = [s for s in prod.of_type("aws:backup/selection:Selection") if s.name.startswith("table-backup")]
    assert "selectionTags" not in selection.inputs  # ListOfTags: undocumented semantics with wildcard Resources
    assert selection.inputs["conditions"] == [
        {"stringEquals": [{"key": "aws:ResourceTag/dr:backup-plan", "value": PLAN}]}
    ]
    assert selection.inputs["resources"] == [f"arn:aws:dynamodb:us-east-1:{ACCOUNT_ID}:table/distronation-prod-*"]


def test_rds_enters_the_selection_only_behind_its_switch() -> None:
    run = run_program({**PROD, "backup": {**PROD["backup"], "includeRds": True}}, preview=True)
    [selection] = [s for s in run.of_type("aws:backup/selection:Selection") if s.name.startswith("table-backup")]
    assert [r.split(":")[2] for r in selection.inputs["resources"]] == ["dynamodb", "rds", "rds"]
    opt_in = {
        r.inputs["region"]: r.inputs["resourceTypeOptInPreference"]
        for r in run.of_type("aws:backup/regionSettings:RegionSettings")
    }
    assert opt_in["us-east-1"] == {"Aurora": True, "DynamoDB": True, "RDS": True}


def test_the_backup_role_is_scoped_to_the_stack_tables_and_keys(prod: Run) -> None:
    [role] = [r for r in prod.of_type("aws:iam/role:Role") if r.name == "table-backup-role"]
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {
        "Service": "backup.amazonaws.com"
    }
    [policy] = [r for r in prod.of_type("aws:iam/rolePolicy:RolePolicy") if r.name == "table-backup-role-policy"]
    statements = json.loads(policy.inputs["policy"])["Statement"]
    for statement in statements:
        assert "*" not in statement["Action"] and not any(a.endswith(":*") for a in statement["Action"])
        if statement["Sid"] != "SelectByTag":
            assert statement["Resource"] != "*"
    copy_into = next(s for s in statements if s["Sid"] == "CopyIntoVaults")
    assert copy_into["Resource"] == [
        f"arn:aws:backup:us-east-1:{ACCOUNT_ID}:backup-vault:distronation-prod-dr-us-east-1",
        f"arn:aws:backup:us-west-2:{ACCOUNT_ID}:backup-vault:distronation-prod-dr-us-west-2",
        ISOLATED_VAULT,
    ]
    assert not [r for r in prod.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") if "backup" in r.name]


def test_failed_backup_and_copy_jobs_reach_the_alert_topic_through_eventbridge(prod: Run) -> None:
    assert alarms(prod, namespace="AWS/Backup") == []  # the metric's dimensions are not confirmed: events instead
    rules = [r for r in prod.of_type("aws:cloudwatch/eventRule:EventRule") if r.name.startswith("table-backup-failed")]
    [rule] = rules
    assert rule.inputs["region"] == "us-east-1"  # backup jobs and the copies out of the primary vault run there
    pattern = json.loads(rule.inputs["eventPattern"])
    assert pattern["detail-type"] == ["Backup Job State Change", "Copy Job State Change"]
    assert {"detail": {"state": ["FAILED", "EXPIRED", "ABORTED"]}} in pattern["$or"]
    assert "CREATED" not in json.dumps(pattern)  # a copy job retrying a system error is not a failure
    [target] = [t for t in prod.of_type("aws:cloudwatch/eventTarget:EventTarget") if t.name == rule.name]
    assert target.inputs["arn"] == SNS.format(region="us-east-1")


def test_tables_are_exported_for_drctl_and_the_other_components() -> None:
    exported: dict[str, Any] = {}

    def program() -> None:
        import pulumi

        original = pulumi.export
        pulumi.export = lambda key, value: exported.__setitem__(key, value)  # type: ignore[assignment]
        try:
            runpy.run_path(str(REPO / "__main__.py"), run_name="__main__")
        finally:
            pulumi.export = original

    _, error = run_capturing(program, PROD, preview=True)
    assert error is None
    orders = exported["tables"]["orders"]
    assert orders["name"] == "distronation-prod-orders"
    assert (orders["regions"], orders["primaryRegion"], orders["consistencyMode"]) == (
        ["us-east-1", "us-west-2"],
        "us-east-1",
        "STRONG",
    )
    assert set(orders) == {"name", "regions", "primaryRegion", "consistencyMode", "streamArn", "activeTableParameter"}
    assert exported["backupVaults"] == {
        "us-east-1": "distronation-prod-dr-us-east-1",
        "us-west-2": "distronation-prod-dr-us-west-2",
    }


def test_a_stack_without_tables_registers_none_of_this() -> None:
    config = {k: v for k, v in PROD.items() if k not in ("tables", "app", "backup", "sites")}
    assert parse(config).tables == ()
    run = run_program(config, preview=True)
    assert not [r for r in run.registrations if r.type.startswith(("aws:dynamodb", "aws:backup", "dr:database"))]
