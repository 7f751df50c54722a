"""DrillInfrastructure under the mock runtime: FIS replication-pause templates behind `drills.faultInjection`, their
stop alarms in the Region of their metric, the least-privilege FIS role, and the scheduled drill with its alarm.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from components import drills
from components.drills import DrillInfrastructure, DrillsArgs, FisTable, alarm_window
from handlers.runtime_names import drill_table_stop_alarm_name
from stackmodel.config.drills import schedule_seconds
from tests.components.harness import ACCOUNT_ID, UNKNOWN, Registration, Run, run_capturing, run_program, stack_config

TEMPLATE = "aws:fis/experimentTemplate:ExperimentTemplate"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
FUNCTION = "aws:lambda/function:Function"
STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
ROLE = "aws:iam/role:Role"
TIER1 = {"audio": "distronation-prod-audio", "uploads": "distronation-prod-uploads"}


def prod_with(**switches: Any) -> dict[str, Any]:
    return {**stack_config("prod"), "drills": switches}


@pytest.fixture(scope="module")
def drilled() -> Run:
    return run_program(prod_with(faultInjection=True, scheduled=True), preview=False)


def under_drills(run: Run) -> list[Registration]:
    [component] = run.of_type(DrillInfrastructure.TYPE)
    return run.descendants_of(component.urn)


def named(run: Run, type_token: str, name: str) -> Registration:
    [match] = [r for r in run.of_type(type_token) if r.name == name]
    return match


def params(action: dict[str, Any]) -> dict[str, str]:
    return {p["key"]: p["value"] for p in action["parameters"]}


def fis_policy(run: Run) -> dict[str, Any]:
    policy = named(run, ROLE_POLICY, "dr-drills-fis-policy")
    return {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}


def test_off_by_default_nothing_is_declared() -> None:
    run = run_program({k: v for k, v in stack_config("prod").items() if k != "drills"}, preview=True)
    assert not run.of_type(DrillInfrastructure.TYPE) and not run.of_type(TEMPLATE)


@pytest.mark.parametrize("logical", sorted(TIER1))
def test_each_tier1_bucket_gets_a_pause_replication_template_in_its_source_region(drilled: Run, logical: str) -> None:
    template = named(drilled, TEMPLATE, f"dr-drills-{logical}-pause-replication")
    [action] = template.inputs["actions"]
    assert action["actionId"] == "aws:s3:bucket-pause-replication"
    assert action["target"] == {"key": "Buckets", "value": "source"}
    assert params(action) == {
        "duration": "PT5M",
        "region": "us-west-2",
        "destinationBuckets": f"{TIER1[logical]}-us-west-2",
    }
    [target] = template.inputs["targets"]
    assert target["resourceType"] == "aws:s3:bucket" and target["selectionMode"] == "ALL"
    assert target["resourceArns"] == [f"arn:aws:s3:::{TIER1[logical]}-us-east-1"]
    assert template.inputs["region"] == "us-east-1"
    assert "pulumi up" in template.inputs["tags"][drills.NO_PULUMI_UP_TAG]
    stop = named(drilled, ALARM, f"dr-drills-{logical}-pause-replication-stop")
    assert template.inputs["stopConditions"] == [
        {"source": "aws:cloudwatch:alarm", "value": f"arn:aws:mock:::{stop.name}"}
    ]
    # OperationsFailedReplication is published in the source Region, with exactly these dimensions.
    assert stop.inputs["region"] == template.inputs["region"] == "us-east-1"
    assert stop.inputs["metricName"] == "OperationsFailedReplication" and stop.inputs["namespace"] == "AWS/S3"
    assert stop.inputs["dimensions"] == {
        "SourceBucket": f"{TIER1[logical]}-us-east-1",
        "DestinationBucket": f"{TIER1[logical]}-us-west-2",
        "RuleId": "all-objects",
    }
    assert template.dependencies, "the template waits for its role's policy"
    # The time bound: ReplicationLatency at the regional RPO, where S3 publishes it (the destination Region); the
    # drill reads it while it holds the pause (no AWS page documents a cross-Region stop condition).
    lag = named(drilled, ALARM, f"dr-drills-{logical}-pause-replication-lag")
    assert lag.inputs["name"] == f"dr-drill-lag-{TIER1[logical]}-us-east-1"
    assert (lag.inputs["region"], lag.inputs["metricName"], lag.inputs["statistic"]) == (
        "us-west-2",
        "ReplicationLatency",
        "Maximum",
    )
    assert lag.inputs["dimensions"] == stop.inputs["dimensions"]
    assert lag.inputs["threshold"] == 15 * 60 and lag.inputs["treatMissingData"] == "notBreaching"
    assert lag.inputs["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert f"arn:aws:mock:::{lag.name}" not in json.dumps(template.inputs["stopConditions"])


def test_tier2_and_tier3_buckets_get_no_template(drilled: Run) -> None:
    by_target: dict[str, set[str]] = {}
    for template in drilled.of_type(TEMPLATE):
        by_target.setdefault(template.inputs["targets"][0]["resourceType"], set()).add(template.name)
    assert by_target["aws:s3:bucket"] == {f"dr-drills-{logical}-pause-replication" for logical in TIER1}
    # Tables are drilled too (components/drills.py fis_tables): only users has a regional RPO above the pause.
    assert by_target["aws:dynamodb:global-table"] == {"dr-drills-users-us-east-1-pause-replication"}


def test_the_fis_role_holds_only_what_the_s3_action_documents_on_the_drilled_buckets(drilled: Run) -> None:
    statements = fis_policy(drilled)
    sources = sorted(f"arn:aws:s3:::{bucket}-us-east-1" for bucket in TIER1.values())
    assert statements["PauseReplication"]["Resource"] == sources
    assert statements["PauseReplication"]["Condition"] == {"StringEquals": {"s3:DestinationRegion": ["us-west-2"]}}
    # s3:IsReplicationPauseRequest is a condition key of s3:PutReplicationConfiguration only (IAM definition).
    config = statements["ReplicationConfigurationForPauseOnly"]
    assert config["Action"] == ["s3:PutReplicationConfiguration"]
    assert config["Condition"] == {"BoolIfExists": {"s3:IsReplicationPauseRequest": "true"}}
    read = statements["ReadReplicationConfiguration"]
    assert read["Action"] == ["s3:GetReplicationConfiguration"] and "Condition" not in read
    assert read["Resource"] == config["Resource"] == sources
    actions = {a for s in statements.values() for a in s["Action"]}
    assert actions == {
        "s3:PauseReplication",
        "s3:GetReplicationConfiguration",
        "s3:PutReplicationConfiguration",
        "s3:ListAllMyBuckets",
        "tag:GetResources",
        # the users table's pause (the only prod table whose regional RPO is above the pause)
        "dynamodb:PutResourcePolicy",
        "dynamodb:DeleteResourcePolicy",
        "dynamodb:GetResourcePolicy",
        "dynamodb:DescribeTable",
    }
    [role] = [r for r in drilled.of_type("aws:iam/role:Role") if r.name == "dr-drills-fis"]
    assert role.inputs["name"] == "distronation-prod-dr-drill-fis"
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {"Service": "fis.amazonaws.com"}


def test_the_scheduled_drill_runs_weekly_in_the_recovery_region_with_its_alarm(drilled: Run) -> None:
    function = named(drilled, FUNCTION, "dr-drills-scheduled")
    assert function.inputs["handler"] == "handlers.drills.scheduled.lambda_handler"
    assert function.inputs["region"] == "us-west-2" and function.inputs["timeout"] == 900
    env = function.inputs["environment"]["variables"]
    assert json.loads(env["DRILL_BUCKETS"]) == sorted(f"{b}-us-east-1" for b in TIER1.values())
    assert set(json.loads(env["DRILL_FIS_TEMPLATES"])) == {"s3:audio", "s3:uploads"}
    assert env["DRILL_METRICS_REGION"] == "us-west-2" and env["DRILL_STACK"] == "test"
    assert json.loads(env["DRILL_FIS_REGIONS"]) == ["us-east-1"]  # where the preflight lists experiments
    # The schedule starts the workflow, not the function (issue 23 item 11: one store per invocation).
    [rule] = [r for r in drilled.of_type("aws:cloudwatch/eventRule:EventRule") if r.name == "dr-drills-schedule"]
    assert rule.inputs["scheduleExpression"] == "rate(7 days)" and rule.inputs["region"] == "us-west-2"
    [target] = [r for r in drilled.of_type("aws:cloudwatch/eventTarget:EventTarget") if r.name == "dr-drills-schedule"]
    machine = named(drilled, STATE_MACHINE, "dr-drills-workflow")
    assert target.inputs["arn"] == f"arn:aws:mock:::{machine.name}"
    assert target.inputs["roleArn"] == f"arn:aws:mock:::{named(drilled, ROLE, 'dr-drills-schedule').name}"
    assert not [r for r in drilled.of_type("aws:lambda/permission:Permission") if r.name.startswith("dr-drills")]
    [retries] = [
        r
        for r in drilled.of_type("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")
        if r.name == "dr-drills-scheduled"
    ]
    assert retries.inputs["maximumRetryAttempts"] == 0  # a timed-out drill is never re-run with a new FIS pause
    alarm = named(drilled, ALARM, "dr-drills-drill-passed")
    assert alarm.inputs["region"] == env["DRILL_METRICS_REGION"]  # the Region the runner publishes in
    assert (alarm.inputs["namespace"], alarm.inputs["metricName"]) == ("DR/Recovery", "DrillPassed")
    assert alarm.inputs["dimensions"] == {"Stack": "test"}  # handlers/drills/report.py publishes exactly this
    assert alarm.inputs["treatMissingData"] == "breaching"
    assert (alarm.inputs["period"], alarm.inputs["evaluationPeriods"], alarm.inputs["datapointsToAlarm"]) == (
        86400,
        7,
        7,
    )
    assert alarm.inputs["comparisonOperator"] == "LessThanThreshold" and alarm.inputs["threshold"] == 1


def test_the_drill_role_touches_only_drill_objects_and_starts_only_experiments(drilled: Run) -> None:
    [policy] = [r for r in drilled.of_type(ROLE_POLICY) if r.name == "dr-drills-scheduled-policy"]
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    objects = statements["DrillObjectsAudio"]
    assert objects["Resource"] == ["arn:aws:s3:::distronation-prod-audio-us-east-1/dr-drill/*"]
    assert "s3:DeleteObjectVersion" not in objects["Action"] and "s3:BypassGovernanceRetention" not in objects["Action"]
    assert statements["ReadReplicaCanaryObjectsAudio"]["Action"] == ["s3:GetObject"]
    assert statements["ReadLagGuardAudio"] == {
        "Sid": "ReadLagGuardAudio",
        "Effect": "Allow",
        "Action": ["cloudwatch:DescribeAlarms"],
        "Resource": [f"arn:aws:cloudwatch:us-west-2:{ACCOUNT_ID}:alarm:dr-drill-lag-distronation-prod-audio-us-east-1"],
    }
    # StartExperiment takes the template and the experiment; Get/StopExperiment the experiment only.
    assert statements["RunReplicationPauses"]["Action"] == ["fis:StartExperiment"]
    assert statements["RunReplicationPauses"]["Resource"] == [
        f"arn:aws:fis:us-east-1:{ACCOUNT_ID}:experiment-template/*",
        f"arn:aws:fis:us-east-1:{ACCOUNT_ID}:experiment/*",
    ]
    assert statements["WatchReplicationPauses"]["Action"] == ["fis:GetExperiment", "fis:StopExperiment"]
    assert statements["WatchReplicationPauses"]["Resource"] == [f"arn:aws:fis:us-east-1:{ACCOUNT_ID}:experiment/*"]
    assert statements["PublishRecoveryMetrics"]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": "DR/Recovery"}
    }


def test_every_drill_resource_has_an_explicit_provider_and_the_component_as_ancestor(drilled: Run) -> None:
    children = [r for r in under_drills(drilled) if r.custom]
    assert len(children) >= 2 + 2 + 2 + 6  # templates, stop alarms, role+policy, function and its children
    assert all(r.provider for r in children)
    assert {r.type for r in drilled.registrations if r.custom and r.type.startswith("aws:fis")} == {TEMPLATE}
    assert {r.urn for r in drilled.of_type(TEMPLATE)} <= {r.urn for r in under_drills(drilled)}


def test_preview_knows_every_policy_document() -> None:
    run = run_program(prod_with(faultInjection=True, scheduled=True), preview=True)
    assert all(r.inputs["policy"] != UNKNOWN for r in run.of_type(ROLE_POLICY) if r.name.startswith("dr-drills"))


def test_prod_enables_both_switches() -> None:
    assert stack_config("prod")["drills"] == {"faultInjection": True, "scheduled": True, "schedule": "rate(7 days)"}


def test_fault_injection_alone_deploys_no_scheduled_drill() -> None:
    run = run_program(prod_with(faultInjection=True), preview=True)
    assert len(run.of_type(TEMPLATE)) == len(TIER1) + 1  # the tier-1 buckets and the users table
    assert not [r for r in run.of_type(FUNCTION) if r.name.startswith("dr-drills")]


def _tables_program(tables: list[FisTable], pause_minutes: int = 5) -> Any:
    def program() -> dict[str, Any]:
        east = aws.Provider("east", region="us-east-1")
        west = aws.Provider("west", region="us-west-2")
        component = DrillInfrastructure(
            "dr-drills",
            DrillsArgs(
                stack="test",
                name_prefix="t",
                providers={"us-east-1": east, "us-west-2": west},
                recovery_region="us-west-2",
                alert_topic_arns={"us-east-1": "arn:aws:sns:us-east-1:123456789012:a"},
                fault_injection=True,
                pause_minutes=pause_minutes,
                tables=tables,
            ),
        )
        return {"templates": pulumi.Output.from_input(component.fis_templates)}

    return program


def drill_resources(run: Run) -> list[Registration]:
    """What the component registered (the test program's own providers aside)."""
    return [r for r in run.registrations if not r.type.startswith("pulumi:providers:")]


ORDERS = FisTable("orders", "t-orders", "us-east-1", ("us-west-2", "eu-west-1"), regional_rpo_minutes=15)


def test_a_table_input_gets_a_global_table_pause_with_a_stop_alarm_per_receiving_region() -> None:
    run, error = run_capturing(_tables_program([ORDERS]), {}, preview=False)
    assert error is None, error
    template = named(run, TEMPLATE, "dr-drills-orders-us-east-1-pause-replication")
    [action] = template.inputs["actions"]
    assert action["actionId"] == "aws:dynamodb:global-table-pause-replication"
    assert action["target"] == {"key": "Tables", "value": "table"} and params(action) == {"duration": "PT5M"}
    [target] = template.inputs["targets"]
    assert target["resourceType"] == "aws:dynamodb:global-table"
    assert target["resourceArns"] == [f"arn:aws:dynamodb:us-east-1:{ACCOUNT_ID}:table/t-orders"]
    stops = [r for r in run.of_type(ALARM) if r.name.startswith("dr-drills-orders-us-east-1-pause-replication-stop")]
    assert {(s.inputs["region"], s.inputs["dimensions"]["ReceivingRegion"]) for s in stops} == {
        ("us-east-1", "us-west-2"),
        ("us-east-1", "eu-west-1"),
    }
    assert all(s.inputs["metricName"] == "ReplicationLatency" and s.inputs["threshold"] == 15 * 60_000 for s in stops)
    # A pause leaves no datapoints: missing data breaches, over the RPO's window (issue 23 item 11); so a quiet table
    # keeps the alarm in ALARM, and it notifies nobody (the drill waits for OK before it starts the experiment).
    assert all(s.inputs["treatMissingData"] == "breaching" for s in stops)
    assert all(not s.inputs.get("alarmActions") for s in stops)
    assert {s.inputs["name"] for s in stops} == {
        drill_table_stop_alarm_name("t-orders", "us-east-1", r) for r in ("us-west-2", "eu-west-1")
    }
    assert all((s.inputs["evaluationPeriods"], s.inputs["datapointsToAlarm"], s.inputs["period"]) == (15, 15, 60)
               for s in stops)  # fmt: skip
    assert len(template.inputs["stopConditions"]) == 2
    statements = fis_policy(run)
    assert statements["PauseTableReplication"]["Resource"] == [
        f"arn:aws:dynamodb:us-east-1:{ACCOUNT_ID}:table/t-orders",
        f"arn:aws:dynamodb:us-east-1:{ACCOUNT_ID}:table/t-orders/stream/*",
    ]
    assert "PauseMrscReplication" not in statements and "PauseReplication" not in statements
    assert set(run.outputs["templates"]) == {"dynamodb:orders"}


def test_an_mrsc_table_adds_inject_error_only_then() -> None:
    mrsc = FisTable("ledger", "t-ledger", "us-east-1", ("us-east-2",), 0, multi_region_strong=True)
    run, error = run_capturing(_tables_program([mrsc], pause_minutes=1), {}, preview=False)
    assert error is not None and "pauseMinutes (1) must be shorter than the regional RPO of ledger (0 min)" in str(
        error
    )
    assert not drill_resources(run), "nothing half-created"
    mrsc = FisTable("ledger", "t-ledger", "us-east-1", ("us-east-2",), 5, multi_region_strong=True)
    run, error = run_capturing(_tables_program([mrsc], pause_minutes=1), {}, preview=False)
    assert error is None and fis_policy(run)["PauseMrscReplication"]["Action"] == ["dynamodb:InjectError"]


def test_a_table_without_a_provider_for_its_region_is_refused_by_name() -> None:
    far = FisTable("far", "t-far", "ap-south-1", ("us-east-1",), 15)
    run, error = run_capturing(_tables_program([far]), {}, preview=True)
    assert isinstance(error, ValueError) and "no provider for ap-south-1" in str(error)
    assert not drill_resources(run)


@pytest.mark.parametrize(
    ("expression", "window"),
    [
        ("rate(7 days)", (86400, 7)),
        ("rate(1 hour)", (3600, 1)),
        ("rate(36 hours)", (86400, 2)),
        ("rate(1 day)", (86400, 1)),
    ],
)
def test_the_alarm_window_covers_one_interval_within_cloudwatch_limits(
    expression: str, window: tuple[int, int]
) -> None:
    period, periods = alarm_window(schedule_seconds(expression))
    assert (period, periods) == window
    assert period * periods <= 7 * 86400 and period * periods >= schedule_seconds(expression)


def test_the_scheduled_drill_takes_its_restore_lock_in_the_reports_bucket(drilled: Run) -> None:
    reports = "distronation-prod-dr-batch-reports-us-east-1"
    function = named(drilled, "aws:lambda/function:Function", "dr-drills-scheduled")
    assert function.inputs["environment"]["variables"]["DR_BATCH_REPORT_BUCKET"] == reports
    policy = named(drilled, "aws:iam/rolePolicy:RolePolicy", "dr-drills-scheduled-policy")
    [locks] = [s for s in json.loads(policy.inputs["policy"])["Statement"] if s["Sid"] == "RestoreLocks"]
    assert locks["Action"] == ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    assert locks["Resource"] == [f"arn:aws:s3:::{reports}/dr-locks/*"]
    # The lock objects are SSE-KMS under the reports bucket's key: its policy grants the drill role by ARN.
    key_policy = named(drilled, "aws:kms/keyPolicy:KeyPolicy", "dr-batch-reports-primary-key-policy")
    [grant] = [s for s in json.loads(key_policy.inputs["policy"])["Statement"] if s["Sid"] == "ScheduledDrillLocks"]
    assert grant["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:role/distronation-prod-dr-drill"}
    assert grant["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]


def test_the_workflow_drills_one_store_at_a_time_never_retries_and_skips_during_a_pause(drilled: Run) -> None:
    machine = named(drilled, STATE_MACHINE, "dr-drills-workflow")
    assert machine.inputs["type"] == "STANDARD" and machine.inputs["region"] == "us-west-2"
    definition = json.loads(machine.inputs["definition"])
    function_arn = f"arn:aws:lambda:us-west-2:{ACCOUNT_ID}:function:distronation-prod-dr-drill"
    states = definition["States"]
    assert definition["StartAt"] == "Preflight" and states["Preflight"]["Parameters"]["Payload"] == {
        "step": "preflight"
    }
    assert states["PauseActive"]["Choices"] == [
        {"Variable": "$.preflight.skip", "BooleanEquals": True, "Next": "Skipped"}
    ]
    assert states["Skipped"]["Type"] == "Fail" and states["Skipped"]["Error"] == "DrillSkipped"
    each = states["DrillEachStore"]
    assert each["Type"] == "Map" and each["MaxConcurrency"] == 1 and each["ItemsPath"] == "$.preflight.stores"
    store = each["ItemProcessor"]["States"]["DrillStore"]
    assert store["Parameters"] == {"FunctionName": function_arn, "Payload": {"step": "drill", "bucket.$": "$.bucket"}}
    assert store["TimeoutSeconds"] > 900  # the function's own timeout ends it first; the task records that
    # No Retry anywhere (Step Functions retries only what a Retry names); every store error is caught and recorded.
    assert "Retry" not in machine.inputs["definition"]
    assert store["Resource"] == "arn:aws:states:::lambda:invoke"
    china = drills.workflow_definition("test", "arn:aws-cn:lambda:cn-north-1:1:function:f", 900, "cn-north-1")
    assert china["States"]["Verdict"]["Resource"] == "arn:aws-cn:states:::lambda:invoke"
    assert store["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "StoreFailed"}]
    assert each["ItemProcessor"]["States"]["StoreFailed"]["Parameters"]["passed"] is False
    assert states["Verdict"]["Parameters"]["Payload"] == {"step": "verdict", "results.$": "$.results"}


def test_the_workflow_roles_hold_one_action_each_on_one_resource(drilled: Run) -> None:
    workflow = json.loads(named(drilled, ROLE_POLICY, "dr-drills-workflow-policy").inputs["policy"])["Statement"]
    function_arn = f"arn:aws:lambda:us-west-2:{ACCOUNT_ID}:function:distronation-prod-dr-drill"
    assert named(drilled, FUNCTION, "dr-drills-scheduled").inputs["name"] == "distronation-prod-dr-drill"
    assert workflow == [
        {"Sid": "InvokeDrill", "Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": [function_arn]}
    ]
    assert "states.amazonaws.com" in named(drilled, ROLE, "dr-drills-workflow").inputs["assumeRolePolicy"]
    schedule = json.loads(named(drilled, ROLE_POLICY, "dr-drills-schedule-policy").inputs["policy"])["Statement"]
    machine_arn = f"arn:aws:states:us-west-2:{ACCOUNT_ID}:stateMachine:distronation-prod-dr-drill"
    assert named(drilled, STATE_MACHINE, "dr-drills-workflow").inputs["name"] == "distronation-prod-dr-drill"
    assert schedule == [
        {"Sid": "StartDrillWorkflow", "Effect": "Allow", "Action": ["states:StartExecution"], "Resource": [machine_arn]}
    ]
    assert "events.amazonaws.com" in named(drilled, ROLE, "dr-drills-schedule").inputs["assumeRolePolicy"]
    # The preflight lists experiments: ListExperiments takes no resource (Service Authorization Reference).
    [policy] = [r for r in drilled.of_type(ROLE_POLICY) if r.name == "dr-drills-scheduled-policy"]
    [listing] = [s for s in json.loads(policy.inputs["policy"])["Statement"] if s["Sid"] == "ListReplicationPauses"]
    assert listing == {
        "Sid": "ListReplicationPauses",
        "Effect": "Allow",
        "Action": ["fis:ListExperiments"],
        "Resource": "*",
    }
