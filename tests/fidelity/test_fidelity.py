"""Deploy fidelity: the prod stack and an all-features stack, in a first preview and in an update with realistic ids
and ARNs, pass every check in ``tests.fidelity.checks``; and each check fails, naming resource and property, when
its defect is planted in a copy of the registrations (so none of them can pass by not looking)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.components.harness import Registration, Run
from tests.fidelity import checks
from tests.fidelity.checks import CHECKS, Finding
from tests.fidelity.metrics import METRICS, REGION_RULES
from tests.fidelity.stack_runs import CONFIGS, preview_run, update_run

RUNS: dict[tuple[str, str], Run] = {}


def stack_run(stack: str, mode: str) -> Run:
    if (stack, mode) not in RUNS:
        RUNS[stack, mode] = preview_run(stack) if mode == "preview" else update_run(stack)
    return RUNS[stack, mode]


@pytest.mark.parametrize("mode", ["preview", "update"])
@pytest.mark.parametrize("stack", list(CONFIGS))
@pytest.mark.parametrize("check", list(CHECKS))
def test_stack_passes_the_check(stack: str, mode: str, check: str) -> None:
    findings = CHECKS[check](stack_run(stack, mode))
    assert not findings, "\n".join(map(str, findings))


def test_update_mode_answers_with_realistic_arns() -> None:
    run = stack_run("prod", "update")
    [sse] = [r for r in run.of_type(checks.SSE) if r.name == "audio-primary-sse"]
    key_arn = sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"]
    assert key_arn.startswith("arn:aws:kms:us-east-1:123456789012:key/") and len(key_arn.rsplit("/", 1)[1]) == 36


def planted(stack: str, name: str, type_token: str, change: Callable[[Registration], None]) -> Run:
    """A copy of the update-mode registrations with one resource changed."""
    run = copy.deepcopy(stack_run(stack, "update"))
    [target] = [r for r in run.registrations if r.type == type_token and r.name == name]
    change(target)
    return run


def named(findings: list[Finding], check: str, resource: str, prop: str) -> list[Finding]:
    return [f for f in findings if f.check == check and f.resource == resource and f.property.startswith(prop)]


def set_input(key: str, value: Any) -> Callable[[Registration], None]:
    def change(registration: Registration) -> None:
        registration.inputs[key] = value

    return change


# ------------------------------------------------------------------- the two alarm findings of issue 10, reverted


def test_replication_latency_alarm_back_in_the_source_region_fails() -> None:
    run = planted("prod", "uploads-replication-latency", checks.ALARM, set_input("region", "us-east-1"))
    found = named(checks.check_alarm_metrics(run), "metric", f"{checks.ALARM} uploads-replication-latency", "region")
    assert found and "published in us-west-2" in found[0].message


def test_rpo_age_alarm_in_the_source_region_fails() -> None:
    """The RPO age is read from ReplicationLatency, so it exists only in the replica's Region."""
    run = planted("prod", "uploads-rpo-age", checks.ALARM, set_input("region", "us-east-1"))
    assert named(checks.check_alarm_metrics(run), "metric", f"{checks.ALARM} uploads-rpo-age", "region")


def test_failed_replication_alarm_moved_to_the_destination_fails() -> None:
    run = planted("prod", "audio-replication-failed", checks.ALARM, set_input("region", "us-west-2"))
    assert named(checks.check_alarm_metrics(run), "metric", f"{checks.ALARM} audio-replication-failed", "region")


def test_alarm_notifying_a_topic_in_another_region_fails() -> None:
    def other_topic(alarm: Registration) -> None:
        alarm.inputs["alarmActions"] = ["arn:aws:sns:us-east-1:123456789012:distronation-prod-dr-alerts"]

    run = planted("prod", "uploads-replication-latency", checks.ALARM, other_topic)
    [found] = named(
        checks.check_references(run), "reference", f"{checks.ALARM} uploads-replication-latency", "alarmActions"
    )
    assert "its user in us-west-2" in found.message


# ------------------------------------------------------------------- one planted defect per check


def test_wrong_dimension_set_fails() -> None:
    def dimensions(alarm: Registration) -> None:
        alarm.inputs["dimensions"] = {"BucketName": "distronation-prod-audio-us-east-1"}

    run = planted("prod", "audio-replication-failed", checks.ALARM, dimensions)
    assert named(checks.check_alarm_metrics(run), "metric", f"{checks.ALARM} audio-replication-failed", "metricName")


def test_metric_math_alarms_are_checked_per_metric() -> None:
    def math(alarm: Registration) -> None:
        metric = {k: alarm.inputs.pop(k) for k in ("namespace", "metricName", "dimensions")}
        alarm.inputs["metricQueries"] = [
            {"id": "m1", "metric": {**metric, "period": 300, "stat": "Maximum"}},
            {"id": "e1", "expression": "m1 / 60", "returnData": True},
        ]

    run = planted("prod", "uploads-replication-latency", checks.ALARM, math)
    assert checks.check_alarm_metrics(run) == []
    run.registrations[[r.name for r in run.registrations].index("uploads-replication-latency")].inputs["region"] = (
        "us-east-1"
    )
    assert named(checks.check_alarm_metrics(run), "metric", f"{checks.ALARM} uploads-replication-latency", "region")


def test_a_metric_without_a_row_fails() -> None:
    run = planted("prod", "audio-replication-failed", checks.ALARM, set_input("metricName", "ReplicationLag"))
    [found] = named(checks.check_alarm_metrics(run), "metric", f"{checks.ALARM} audio-replication-failed", "metricName")
    assert "no row" in found.message


@pytest.mark.parametrize(
    ("type_token", "name", "key", "value"),
    [
        (checks.ALARM, "audio-replication-failed", "treatMissingData", "NotBreaching"),
        (checks.ALARM, "audio-replication-failed", "statistic", "Max"),
        (checks.ALARM, "audio-replication-failed", "comparisonOperator", "GreaterThan"),
        (checks.FUNCTION, "audio-auto-restore", "runtime", "python3.99"),
        (checks.LOG_GROUP, "audio-auto-restore-logs", "retentionInDays", 45),
        (checks.SUBSCRIPTION, "dr-alerts-email", "protocol", "e-mail"),
        (checks.EVENT_RULE, "audio-rpo-age", "scheduleExpression", "rate(15 minute)"),
        (checks.INVENTORY, "audio-primary-inventory", "includedObjectVersions", "Every"),
    ],
)
def test_an_input_aws_does_not_accept_fails(type_token: str, name: str, key: str, value: Any) -> None:
    run = planted("prod", name, type_token, set_input(key, value))
    [found] = named(checks.check_enum_inputs(run), "enum", f"{type_token} {name}", key)
    assert repr(value) in found.message


def test_a_storage_class_aws_does_not_accept_fails() -> None:
    def storage_class(replication: Registration) -> None:
        replication.inputs["rules"][0]["destination"]["storageClass"] = "INFREQUENT_ACCESS"

    run = planted("prod", "audio-replication", checks.REPLICATION, storage_class)
    [found] = named(
        checks.check_enum_inputs(run), "enum", f"{checks.REPLICATION} audio-replication", "rules[0].destination"
    )
    assert "INFREQUENT_ACCESS" in found.message


def edit_policy(edit: Callable[[list[dict[str, Any]]], None]) -> Callable[[Registration], None]:
    def change(registration: Registration) -> None:
        document = json.loads(registration.inputs["policy"])
        edit(document["Statement"])
        registration.inputs["policy"] = json.dumps(document)

    return change


def test_an_action_missing_from_the_iam_definition_fails() -> None:
    run = planted(
        "prod",
        "audio-replication-policy",
        checks.ROLE_POLICY,
        edit_policy(lambda statements: statements[0]["Action"].append("s3:GetReplicationConfigurations")),
    )
    [found] = named(checks.check_iam_documents(run), "iam", f"{checks.ROLE_POLICY} audio-replication-policy", "policy")
    assert "s3:GetReplicationConfigurations" in found.message


def test_an_object_action_on_a_bucket_arn_fails() -> None:
    def bucket_arn(statements: list[dict[str, Any]]) -> None:
        statements[1]["Resource"] = statements[1]["Resource"].removesuffix("/*")  # ReadSourceVersions

    run = planted("prod", "audio-replication-policy", checks.ROLE_POLICY, edit_policy(bucket_arn))
    findings = named(checks.check_iam_documents(run), "iam", f"{checks.ROLE_POLICY} audio-replication-policy", "policy")
    assert findings and all(f.property.endswith("Resource") for f in findings)
    assert "s3:GetObjectVersionForReplication" in findings[0].message


def test_a_condition_key_the_action_does_not_have_fails() -> None:
    def condition(statements: list[dict[str, Any]]) -> None:
        statements[0]["Condition"] = {"StringEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}

    run = planted("prod", "audio-replication-policy", checks.ROLE_POLICY, edit_policy(condition))
    [*found] = named(checks.check_iam_documents(run), "iam", f"{checks.ROLE_POLICY} audio-replication-policy", "policy")
    assert found and "Condition" in found[0].property


def test_a_wildcard_action_on_a_dr_role_fails() -> None:
    run = planted(
        "prod",
        "audio-auto-restore-policy",
        checks.ROLE_POLICY,
        edit_policy(lambda statements: statements[0].update(Action="s3:*")),
    )
    found = named(checks.check_iam_documents(run), "iam", f"{checks.ROLE_POLICY} audio-auto-restore-policy", "policy")
    assert any("wildcard" in f.message for f in found)


def test_an_undeclared_topic_in_a_lambda_environment_fails() -> None:
    def environment(function: Registration) -> None:
        function.inputs["environment"]["variables"]["ALERT_TOPIC_ARN"] = "arn:aws:sns:us-east-1:123456789012:other"

    run = planted("prod", "audio-auto-restore", checks.FUNCTION, environment)
    [found] = named(checks.check_references(run), "reference", f"{checks.FUNCTION} audio-auto-restore", "environment")
    assert "not declared" in found.message


def test_an_undeclared_bucket_in_a_policy_and_an_unlisted_layer_fail() -> None:
    run = planted(
        "prod",
        "audio-replication-policy",
        checks.ROLE_POLICY,
        edit_policy(lambda statements: statements[2].update(Resource="arn:aws:s3:::someone-elses-bucket/*")),
    )
    assert named(checks.check_references(run), "reference", f"{checks.ROLE_POLICY} audio-replication-policy", "policy")
    run = planted(
        "prod", "audio-auto-restore", checks.FUNCTION, set_input("layers", ["arn:aws:lambda:us-east-1:1:layer:x:1"])
    )
    assert named(checks.check_references(run), "reference", f"{checks.FUNCTION} audio-auto-restore", "layers")


def test_a_key_in_another_region_fails() -> None:
    run = planted("prod", "audio-primary-sse", checks.SSE, set_input("region", "us-west-2"))
    [found] = named(checks.check_references(run), "reference", f"{checks.SSE} audio-primary-sse", "rules")
    assert "is in us-east-1" in found.message


def drop_dependency(on_type: str) -> Callable[[Registration], None]:
    def change(registration: Registration) -> None:
        registration.dependencies = [u for u in registration.dependencies if on_type not in u]

    return change


@pytest.mark.parametrize(
    ("type_token", "name", "dependency", "says"),
    [
        (checks.REPLICATION, "audio-replication", "aws:iam/rolePolicy:RolePolicy", "role's policy"),
        (checks.REPLICATION, "audio-replication", "aws:s3/bucketVersioning:BucketVersioning", "versioning"),
        (checks.FUNCTION, "audio-auto-restore", "aws:iam/rolePolicy:RolePolicy", "role's policy"),
        (checks.NOTIFICATION, "audio-auto-restore-notification", "aws:lambda/permission:Permission", "permission"),
    ],
)
def test_missing_ordering_fails(type_token: str, name: str, dependency: str, says: str) -> None:
    run = planted("prod", name, type_token, drop_dependency(dependency))
    found = named(checks.check_ordering(run), "ordering", f"{type_token} {name}", "dependsOn")
    assert found and says in found[0].message


def test_every_metric_row_cites_its_source_and_has_a_known_region_rule() -> None:
    assert set().union(*(r.rules() for r in METRICS)) <= REGION_RULES
    assert all(r.source and r.dimension_sets for r in METRICS)


# ------------------------------------------------------------------- tables (issue 13)


def test_dynamodb_replication_latency_alarm_in_the_receiving_region_fails() -> None:
    """DynamoDB publishes ReplicationLatency in the source Region, one series per ReceivingRegion."""
    name = "users-replication-latency-us-east-1-to-us-west-2"
    run = planted("prod", name, checks.ALARM, set_input("region", "us-west-2"))
    [found] = named(checks.check_alarm_metrics(run), "metric", f"{checks.ALARM} {name}", "region")
    assert "published in us-east-1 (table-source)" in found.message


def test_throttled_requests_without_operation_fails() -> None:
    def drop_operation(alarm: Registration) -> None:
        del alarm.inputs["metricQueries"][0]["metric"]["dimensions"]["Operation"]

    run = planted("prod", "users-throttled-us-east-1", checks.ALARM, drop_operation)
    [found] = named(
        checks.check_alarm_metrics(run), "metric", f"{checks.ALARM} users-throttled-us-east-1", "metricQueries[0]"
    )
    assert found.property.endswith(".dimensions") and "TableName" in found.message


def test_table_error_alarm_in_a_region_without_the_table_fails() -> None:
    run = planted("prod", "users-system-errors-us-west-2", checks.ALARM, set_input("region", "eu-west-1"))
    assert named(checks.check_alarm_metrics(run), "metric", f"{checks.ALARM} users-system-errors-us-west-2", "region")


@pytest.mark.parametrize(
    ("name", "region"),
    [
        # PITR age: published in the Region its Region dimension names, by the table's function.
        ("users-rpo-age-pitr-us-west-2", "us-east-1"),
        # AWS Backup age: published where the function publishes it (the first of its BACKUP_REGIONS).
        ("users-rpo-age-backup-us-east-1", "us-west-2"),
    ],
)
def test_table_rpo_and_backup_alarms_in_another_region_fail(name: str, region: str) -> None:
    run = planted("prod", name, checks.ALARM, set_input("region", region))
    assert named(checks.check_alarm_metrics(run), "metric", f"{checks.ALARM} {name}", "region")


def test_a_backup_job_notification_to_another_regions_topic_fails() -> None:
    """Job failures are EventBridge events of the Region that runs the job; the rule targets that Region's topic."""
    run = planted(
        "prod",
        "table-backup-failed-jobs-us-east-1",
        checks.EVENT_TARGET,
        set_input("arn", "arn:aws:sns:us-west-2:123456789012:distronation-prod-dr-alerts"),
    )
    [found] = named(
        checks.check_event_targets(run), "reference", f"{checks.EVENT_TARGET} table-backup-failed-jobs-us-east-1", "arn"
    )
    assert "in us-west-2, its user in us-east-1" in found.message


@pytest.mark.parametrize(
    ("role", "action", "managed"),
    [
        # The review's finding: without it every copy job fails, and only a comparison can see a missing grant.
        ("table-backup-role", "backup:CopyIntoBackupVault", "AWSBackupServiceRolePolicyForBackup"),
        ("table-backup-role", "backup:CopyFromBackupVault", "AWSBackupServiceRolePolicyForBackup"),
        ("bucket-backup-role", "s3:GetObjectVersion", "AWSBackupServiceRolePolicyForS3Backup"),
    ],
)
def test_a_backup_role_missing_a_managed_permission_fails(role: str, action: str, managed: str) -> None:
    def drop(statements: list[dict[str, Any]]) -> None:
        for statement in statements:
            statement["Action"] = [a for a in checks._as_list(statement["Action"]) if a != action]

    run = planted("prod", f"{role}-policy", checks.ROLE_POLICY, edit_policy(drop))
    found = named(checks.check_backup_roles(run), "backup-role", f"{checks.ROLE} {role}", "policy")
    assert any(action in f.message and managed in f.message for f in found)


def test_rpo_age_of_a_resource_type_without_a_rule_fails() -> None:
    def resource_type(alarm: Registration) -> None:
        alarm.inputs["dimensions"] = {**alarm.inputs["dimensions"], "ResourceType": "DynamoDBStream"}

    run = planted("prod", "users-rpo-age-pitr-us-east-1", checks.ALARM, resource_type)
    [found] = named(checks.check_alarm_metrics(run), "metric", f"{checks.ALARM} users-rpo-age-pitr-us-east-1", "region")
    assert "cannot tell" in found.message


@pytest.mark.parametrize(
    ("resource", "says"),
    [
        ("arn:aws:dynamodb:us-east-1:123456789012:table/someone-elses-table", "not declared"),
        ("arn:aws:dynamodb:eu-west-1:123456789012:table/distronation-prod-users", "no replica in eu-west-1"),
        ("arn:aws:dynamodb:us-east-1:123456789012:table/*", "not the stack's own prefix"),
        ("arn:aws:dynamodb:us-east-1:123456789012:table/distronation-*", "not the stack's own prefix"),
    ],
)
def test_a_table_arn_naming_an_undeclared_table_fails(resource: str, says: str) -> None:
    run = planted(
        "prod",
        "users-rpo-age-policy",
        checks.ROLE_POLICY,
        edit_policy(lambda statements: statements[0].update(Resource=resource)),
    )
    [found] = named(checks.check_references(run), "reference", f"{checks.ROLE_POLICY} users-rpo-age-policy", "policy")
    assert says in found.message


def test_a_key_named_by_arn_text_in_the_backup_role_fails() -> None:
    """Key use is granted in each key's policy by role ARN; a ``key/*`` statement is the defect that replaced."""

    def any_key(statements: list[dict[str, Any]]) -> None:
        statements.append(
            {
                "Effect": "Allow",
                "Action": ["kms:Decrypt"],
                "Resource": "arn:aws:kms:us-east-1:123456789012:key/*",
            }
        )

    run = planted("prod", "table-backup-role-policy", checks.ROLE_POLICY, edit_policy(any_key))
    [found] = named(
        checks.check_references(run), "reference", f"{checks.ROLE_POLICY} table-backup-role-policy", "policy"
    )
    assert "named by ARN text" in found.message


def test_grant_condition_on_a_cryptographic_action_in_a_key_policy_fails() -> None:
    """kms:GrantIsForAWSResource is a condition key of the grant operations only."""

    def merged(statements: list[dict[str, Any]]) -> None:
        statements[1]["Condition"] = {"Bool": {"kms:GrantIsForAWSResource": "true"}}

    run = planted("prod", "users-key-policy-us-west-2", checks.KEY_POLICY, edit_policy(merged))
    found = named(checks.check_iam_documents(run), "iam", f"{checks.KEY_POLICY} users-key-policy-us-west-2", "policy")
    assert {f.message for f in found} == {
        f"kms:GrantIsForAWSResource is no condition key of {action}"
        for action in ("kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey")
    }


def test_table_keys_and_the_export_bucket_key_grant_dr_roles_by_arn() -> None:
    """The backup role uses every table and vault key, the export role the export bucket's key: each by its ARN in
    the key's own policy, after the role exists."""
    run = stack_run("prod", "preview")
    by_urn = run.by_urn()
    for policy_name, role_name in (
        ("users-key-policy-us-west-2", "distronation-prod-table-backup"),
        ("table-backup-vault-key-policy-us-west-2", "distronation-prod-table-backup"),
        ("backup-primary-key-policy", "distronation-prod-users-export"),
    ):
        [policy] = [r for r in run.of_type(checks.KEY_POLICY) if r.name == policy_name]
        principals = {str(s["Principal"]["AWS"]) for s in json.loads(policy.inputs["policy"])["Statement"]}
        assert f"arn:aws:iam::123456789012:role/{role_name}" in principals
        assert role_name in {by_urn[u].inputs.get("name") for u in policy.dependencies if checks.ROLE in u}


# ------------------------------------------------------------------- request metrics, sites and drills (issues 14, 15)


def test_delete_requests_alarm_outside_the_buckets_region_fails() -> None:
    run = planted("prod", "audio-delete-volume", checks.ALARM, set_input("region", "us-west-2"))
    [found] = named(checks.check_alarm_metrics(run), "metric", f"{checks.ALARM} audio-delete-volume", "region")
    assert "published in us-east-1 (bucket-request-metrics)" in found.message


def test_delete_requests_on_a_filter_the_bucket_does_not_configure_fails() -> None:
    """S3 publishes request metrics only for a configured metrics filter: another FilterId never gets data."""

    def other_filter(alarm: Registration) -> None:
        alarm.inputs["metricQueries"][0]["metric"]["dimensions"]["FilterId"] = "NoSuchFilter"

    run = planted("prod", "audio-delete-volume", checks.ALARM, other_filter)
    [found] = named(checks.check_alarm_metrics(run), "metric", f"{checks.ALARM} audio-delete-volume", "region")
    assert "cannot tell" in found.message


def test_route53_health_check_alarm_outside_us_east_1_fails() -> None:
    run = planted("prod", "site-api-primary-status", checks.ALARM, set_input("region", "us-west-2"))
    [found] = named(checks.check_alarm_metrics(run), "metric", f"{checks.ALARM} site-api-primary-status", "region")
    assert "published in us-east-1 (us-east-1)" in found.message


@pytest.mark.parametrize("name", ["site-api-switch", "site-api-switch-silent"])
def test_switch_alarm_outside_the_recovery_region_or_on_another_site_fails(name: str) -> None:
    run = planted("prod", name, checks.ALARM, set_input("region", "us-east-1"))
    [found] = named(checks.check_alarm_metrics(run), "metric", f"{checks.ALARM} {name}", "region")
    assert "published in us-west-2 (site-orchestrator)" in found.message
    run = planted("prod", name, checks.ALARM, set_input("dimensions", {"Site": "distronation/web"}))
    [found] = named(checks.check_alarm_metrics(run), "metric", f"{checks.ALARM} {name}", "region")
    assert "cannot tell" in found.message


def test_drill_passed_alarm_outside_the_drills_metrics_region_or_on_a_partial_dimension_set_fails() -> None:
    run = planted("prod", "dr-drills-drill-passed", checks.ALARM, set_input("region", "us-east-1"))
    [found] = named(checks.check_alarm_metrics(run), "metric", f"{checks.ALARM} dr-drills-drill-passed", "region")
    assert "published in us-west-2 (drill-metrics)" in found.message
    run = planted(
        "prod", "dr-drills-drill-passed", checks.ALARM, set_input("dimensions", {"Stack": "test", "Scenario": "x"})
    )
    assert named(checks.check_alarm_metrics(run), "metric", f"{checks.ALARM} dr-drills-drill-passed", "metricName")


def test_an_ssm_parameter_arn_naming_an_undeclared_parameter_or_region_fails() -> None:
    def settings(resource: str) -> Callable[[list[dict[str, Any]]], None]:
        def edit(statements: list[dict[str, Any]]) -> None:
            next(s for s in statements if s["Sid"] == "WriteSettings")["Resource"] = [resource]

        return edit

    where = f"{checks.ROLE_POLICY} site-api-orchestrator-policy"
    for resource, says in (
        ("arn:aws:ssm:us-west-2:123456789012:parameter/dr/distronation/active-bucket/profile-pictures", "not declared"),
        ("arn:aws:ssm:eu-west-1:123456789012:parameter/dr/distronation/active-region", "not eu-west-1"),
        ("arn:aws:ssm:us-east-1:123456789012:parameter/dr/distronation/active-bucket/audio", "not us-east-1"),
    ):
        run = planted("prod", "site-api-orchestrator-policy", checks.ROLE_POLICY, edit_policy(settings(resource)))
        [found] = named(checks.check_references(run), "reference", where, "policy")
        assert says in found.message


def test_a_setting_the_stack_stops_declaring_fails() -> None:
    """The orchestrator writes active-region; without its declaration the role names a parameter nobody owns."""
    run = copy.deepcopy(stack_run("prod", "update"))
    run.registrations = [
        r
        for r in run.registrations
        if not (r.type == checks.PARAMETER and r.inputs.get("name") == "/dr/distronation/active-region")
    ]
    found = named(
        checks.check_references(run), "reference", f"{checks.ROLE_POLICY} site-api-orchestrator-policy", "policy"
    )
    assert {f.message for f in found} == {
        f"parameter /dr/distronation/active-region in {region} is not declared" for region in ("us-east-1", "us-west-2")
    }


def test_fis_wildcards_in_a_region_without_templates_fail() -> None:
    def elsewhere(statements: list[dict[str, Any]]) -> None:
        for statement in statements:
            if statement["Sid"] in ("RunReplicationPauses", "WatchReplicationPauses"):
                statement["Resource"] = [r.replace(":us-east-1:", ":eu-west-1:") for r in statement["Resource"]]

    run = planted("prod", "dr-drills-scheduled-policy", checks.ROLE_POLICY, edit_policy(elsewhere))
    found = named(
        checks.check_references(run), "reference", f"{checks.ROLE_POLICY} dr-drills-scheduled-policy", "policy"
    )
    assert len(found) == 3 and all("declares no experiment template" in f.message for f in found)


def test_a_fis_action_on_a_resource_type_it_does_not_take_fails() -> None:
    """GetExperiment and StopExperiment take experiments, never templates (Service Authorization Reference)."""

    def merged(statements: list[dict[str, Any]]) -> None:
        start = next(s for s in statements if s["Sid"] == "RunReplicationPauses")
        start["Action"] = ["fis:StartExperiment", "fis:GetExperiment", "fis:StopExperiment"]

    run = planted("prod", "dr-drills-scheduled-policy", checks.ROLE_POLICY, edit_policy(merged))
    found = named(checks.check_iam_documents(run), "iam", f"{checks.ROLE_POLICY} dr-drills-scheduled-policy", "policy")
    assert {f.message.split(" takes ")[0].rsplit(" ", 1)[-1] for f in found} == {
        "fis:GetExperiment",
        "fis:StopExperiment",
    }


def test_the_pause_condition_on_reading_the_replication_configuration_fails() -> None:
    """s3:IsReplicationPauseRequest is a condition key of s3:PutReplicationConfiguration only."""

    def merged(statements: list[dict[str, Any]]) -> None:
        next(s for s in statements if s["Sid"] == "ReplicationConfigurationForPauseOnly")["Action"].insert(
            0, "s3:GetReplicationConfiguration"
        )

    run = planted("prod", "dr-drills-fis-policy", checks.ROLE_POLICY, edit_policy(merged))
    [found] = named(checks.check_iam_documents(run), "iam", f"{checks.ROLE_POLICY} dr-drills-fis-policy", "policy")
    assert found.message == "s3:IsReplicationPauseRequest is no condition key of s3:GetReplicationConfiguration"


def test_a_json_bucket_list_in_a_lambda_environment_is_read_by_name() -> None:
    def environment(function: Registration) -> None:
        variables = function.inputs["environment"]["variables"]
        variables["DRILL_BUCKETS"] = json.dumps([*json.loads(variables["DRILL_BUCKETS"]), "someone-elses-bucket"])

    assert not named(
        checks.check_references(stack_run("prod", "update")),
        "reference",
        f"{checks.FUNCTION} dr-drills-scheduled",
        "environment",
    )
    run = planted("prod", "dr-drills-scheduled", checks.FUNCTION, environment)
    [found] = named(checks.check_references(run), "reference", f"{checks.FUNCTION} dr-drills-scheduled", "environment")
    assert found.message == "bucket someone-elses-bucket is not declared"


def test_the_all_features_stack_holds_every_component() -> None:
    run = stack_run("all-features", "preview")
    for component in ("dr:database:GlobalTable", "dr:site:FailoverSite", "dr:drills:DrillInfrastructure"):
        assert run.of_type(component), f"all-features declares no {component}"


def test_an_inventory_optional_field_aws_does_not_accept_fails() -> None:
    def field(inventory: Registration) -> None:
        inventory.inputs["optionalFields"] = [*inventory.inputs["optionalFields"], "VersionId"]

    run = planted("prod", "audio-primary-inventory", checks.INVENTORY, field)
    [found] = named(
        checks.check_enum_inputs(run), "enum", f"{checks.INVENTORY} audio-primary-inventory", "optionalFields"
    )
    assert "VersionId" in found.message


def test_an_inventory_format_aws_does_not_accept_fails() -> None:
    def json_format(inventory: Registration) -> None:
        inventory.inputs["destination"]["bucket"]["format"] = "JSON"

    run = planted("prod", "audio-primary-inventory", checks.INVENTORY, json_format)
    [found] = named(
        checks.check_enum_inputs(run),
        "enum",
        f"{checks.INVENTORY} audio-primary-inventory",
        "destination.bucket.format",
    )
    assert "JSON" in found.message


def test_an_inventory_delivered_to_another_region_fails() -> None:
    """The replica's inventory pointed at the primary Region's reports bucket: S3 would refuse the configuration."""

    def primary_reports(inventory: Registration) -> None:
        destination = inventory.inputs["destination"]["bucket"]
        destination["bucketArn"] = destination["bucketArn"].replace("us-west-2", "us-east-1")

    run = planted("prod", "audio-replica-inventory", checks.INVENTORY, primary_reports)
    [found] = named(
        checks.check_references(run), "reference", f"{checks.INVENTORY} audio-replica-inventory", "destination"
    )
    assert "us-east-1" in found.message and "us-west-2" in found.message


def test_a_journal_role_naming_an_undeclared_stream_fails() -> None:
    run = planted("prod", "audio-primary-journal-events-policy", checks.ROLE_POLICY, edit_policy(_other_stream))
    [found] = named(
        checks.check_references(run),
        "reference",
        f"{checks.ROLE_POLICY} audio-primary-journal-events-policy",
        "policy.Statement[0].Resource",
    )
    assert "delivery stream" in found.message


def _other_stream(statements: list[dict[str, Any]]) -> None:
    statements[0]["Resource"] = statements[0]["Resource"].replace("dr-journal-", "dr-journal-other-")


# ------------------------------------------------------------------- FailoverSite: switch endpoint, checks, retries


def test_switch_endpoint_check_on_a_host_that_is_not_a_function_url_fails() -> None:
    def elsewhere(check: Registration) -> None:
        check.inputs["fqdn"] = "switch.example.com"
        check.property_dependencies["fqdn"] = []

    run = planted("prod", "site-api-switch-endpoint", checks.HEALTH_CHECK, elsewhere)
    [found] = named(
        checks.check_switch_endpoints(run), "switch-endpoint", f"{checks.HEALTH_CHECK} site-api-switch-endpoint", "fqdn"
    )
    assert "not the host of a declared function URL" in found.message


def test_switch_endpoint_without_sni_fails() -> None:
    run = planted("prod", "site-api-switch-endpoint", checks.HEALTH_CHECK, set_input("enableSni", False))
    assert named(
        checks.check_switch_endpoints(run),
        "switch-endpoint",
        f"{checks.HEALTH_CHECK} site-api-switch-endpoint",
        "enableSni",
    )


def test_switch_function_without_the_public_invoke_permission_fails() -> None:
    run = planted("prod", "site-api-switch-invoke", checks.PERMISSION, set_input("invokedViaFunctionUrl", False))
    findings = checks.check_switch_endpoints(run)
    assert any("lacks a public lambda:InvokeFunction" in f.message for f in findings)


def test_switch_function_url_signed_requests_fail() -> None:
    run = planted("prod", "site-api-switch-url", checks.FUNCTION_URL, set_input("authorizationType", "AWS_IAM"))
    assert any("needs auth NONE" in f.message for f in checks.check_switch_endpoints(run))


@pytest.mark.parametrize(
    ("name", "type_token", "prop", "value"),
    [
        ("site-api-switch-endpoint", checks.HEALTH_CHECK, "requestInterval", 15),
        ("site-api-switch-endpoint", checks.HEALTH_CHECK, "failureThreshold", 0),
        ("site-api-switch", checks.HEALTH_CHECK, "insufficientDataHealthStatus", "LastKnown"),
        ("site-api-switch-calculated", checks.HEALTH_CHECK, "type", "CALCULATE"),
        ("site-api-switch-url", checks.FUNCTION_URL, "authorizationType", "PUBLIC"),
        ("site-api-orchestrator", checks.EVENT_INVOKE_CONFIG, "maximumRetryAttempts", 3),
        ("site-api-orchestrator", checks.FUNCTION, "reservedConcurrentExecutions", -1),
        ("site-api-descriptor", checks.PARAMETER, "tier", "advanced"),
    ],
)
def test_a_site_value_aws_rejects_fails(name: str, type_token: str, prop: str, value: Any) -> None:
    run = planted("prod", name, type_token, set_input(prop, value))
    assert named(checks.check_enum_inputs(run), "enum", f"{type_token} {name}", prop)


def test_drill_switch_alarm_on_a_dimension_the_orchestrator_never_publishes_fails() -> None:
    def dimensions(alarm: Registration) -> None:
        alarm.inputs["dimensions"] = {"Site": "distronation/api", "Record": "drill"}

    run = planted("prod", "site-api-drill-switch", checks.ALARM, dimensions)
    assert named(checks.check_alarm_metrics(run), "metric", f"{checks.ALARM} site-api-drill-switch", "")


# ------------------------------------------------------------------- Backup Audit Manager's report delivery


def _without_reports_role(statements: Any) -> list[dict[str, Any]]:
    return [s for s in statements if not any(checks._grants_reports_role(s, a) for a in checks._as_list(s["Action"]))]


def test_the_reports_bucket_grants_backup_audit_manager_delivery() -> None:
    run = stack_run("prod", "update")
    assert checks.check_report_delivery(run) == []
    [policy] = [p for p in run.of_type(checks.BUCKET_POLICY) if p.name == "dr-batch-reports-primary-tls-only"]
    [grant] = [s for s in checks._statements(policy) if checks._grants_reports_role(s, "s3:PutObject")]
    assert grant["Principal"]["AWS"] == (
        "arn:aws:iam::123456789012:role/aws-service-role/reports.backup.amazonaws.com/AWSServiceRoleForBackupReports"
    )
    assert grant["Resource"] == "arn:aws:s3:::distronation-prod-dr-batch-reports-us-east-1/dr-audit/*"


def test_a_reports_bucket_policy_without_the_delivery_grant_fails() -> None:
    def drop(policy: Registration) -> None:
        document = policy.inputs["policy"]
        document = json.loads(document) if isinstance(document, str) else document
        policy.inputs["policy"] = {**document, "Statement": _without_reports_role(document["Statement"])}

    run = planted("prod", "dr-batch-reports-primary-tls-only", checks.BUCKET_POLICY, drop)
    [found] = checks.check_report_delivery(run)
    assert found.resource.endswith("backup-audit-report") and "grants no delivery" in found.message


def test_a_reports_key_without_the_delivery_grant_fails() -> None:
    def drop(policy: Registration) -> None:
        document = json.loads(policy.inputs["policy"])
        policy.inputs["policy"] = json.dumps({**document, "Statement": _without_reports_role(document["Statement"])})

    run = planted("prod", "dr-batch-reports-primary-key-policy", checks.KEY_POLICY, drop)
    [found] = checks.check_report_delivery(run)
    assert "grants the reports role only []" in found.message


def test_a_reports_bucket_policy_written_before_the_report_plan_fails() -> None:
    run = planted(
        "prod", "dr-batch-reports-primary-tls-only", checks.BUCKET_POLICY, drop_dependency(checks.REPORT_PLAN)
    )
    [found] = checks.check_report_delivery(run)
    assert found.property == "dependsOn" and "wait for the plan" in found.message


# ------------------------------------------------------------------- the scheduled drill's workflow (issue 23)


@pytest.mark.parametrize(
    ("name", "old", "new", "says"),
    [
        ("dr-drills-workflow-policy", ":function:", ":function:someone-elses-", "function someone-elses-"),
        ("dr-drills-schedule-policy", ":us-west-2:", ":eu-west-1:", "state machine distronation-prod-dr-drill in eu"),
    ],
)
def test_a_workflow_role_naming_an_undeclared_function_or_state_machine_fails(
    name: str, old: str, new: str, says: str
) -> None:
    def elsewhere(statements: list[dict[str, Any]]) -> None:
        statements[0]["Resource"] = [r.replace(old, new) for r in statements[0]["Resource"]]

    run = planted("prod", name, checks.ROLE_POLICY, edit_policy(elsewhere))
    found = named(checks.check_references(run), "reference", f"{checks.ROLE_POLICY} {name}", "policy")
    assert len(found) == 1 and says in found[0].message


def test_a_schedule_starting_the_workflow_without_a_role_or_from_another_region_fails() -> None:
    run = planted("prod", "dr-drills-schedule", checks.EVENT_TARGET, set_input("roleArn", None))
    where = f"{checks.EVENT_TARGET} dr-drills-schedule"
    assert named(checks.check_event_targets(run), "reference", where, "roleArn")
    run = planted("prod", "dr-drills-schedule", checks.EVENT_TARGET, set_input("region", "us-east-1"))
    assert named(checks.check_event_targets(run), "reference", where, "arn")


def test_the_drill_lag_guard_moved_to_the_source_region_fails() -> None:
    """S3 publishes ReplicationLatency in the destination Region only: a guard beside the template would never fire."""
    name = "dr-drills-audio-pause-replication-lag"
    run = planted("prod", name, checks.ALARM, set_input("region", "us-east-1"))
    found = named(checks.check_alarm_metrics(run), "metric", f"{checks.ALARM} {name}", "region")
    assert found and "published in us-west-2" in found[0].message
