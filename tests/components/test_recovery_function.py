"""RecoveryFunction under Pulumi's mock runtime: one in each region, each child in its region with its provider."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from components.recovery_function import (
    EventTrigger,
    RecoveryFunction,
    RecoveryFunctionArgs,
    Schedule,
    publish_metrics_statement,
)
from tests.components.harness import ACCOUNT_ID, Registration, Run, run_capturing

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
FUNCTION = "aws:lambda/function:Function"
PERMISSION = "aws:lambda/permission:Permission"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
EVENT_INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
PRIMARY, RECOVERY = "us-east-1", "us-west-2"
SOURCE_BUCKET = "arn:aws:s3:::example-us-east-1"


def args(region: str, provider: aws.Provider, **extra: Any) -> RecoveryFunctionArgs:
    purpose = "orchestrator" if region == RECOVERY else "auto-restore"
    return RecoveryFunctionArgs(
        purpose=purpose,
        function_name=f"example-{purpose}",
        handler=f"handlers.example_{purpose.replace('-', '_')}.lambda_handler",
        region=region,
        provider=provider,
        account_id=ACCOUNT_ID,
        description=f"{purpose} for the example",
        statements=[publish_metrics_statement()],
        environment={"EXAMPLE": region},
        tags={"dr:component": "example", "dr:tier": "1"},
        layers=[f"arn:aws:lambda:{region}:017000801446:layer:Example:1"],
        **extra,
    )


def two_regions() -> dict[str, Any]:
    primary = aws.Provider("primary", region=PRIMARY)
    recovery = aws.Provider("recovery", region=RECOVERY)
    # The failover orchestrator's shape: scheduled, in the recovery region.
    orchestrator = RecoveryFunction(
        "orchestrator",
        args(RECOVERY, recovery, schedule=Schedule("rate(5 minutes)", "health check"), log_retention_days=30),
    )
    # The auto-restore's shape: invoked by S3 events in the primary region.
    undelete = RecoveryFunction(
        "undelete",
        args(PRIMARY, primary, trigger=EventTrigger("s3.amazonaws.com", SOURCE_BUCKET, ACCOUNT_ID)),
    )
    return {
        name: {
            "function_arn": component.function_arn,
            "function_name": component.function_name,
            "role_arn": component.role_arn,
            "role_name": component.role_name,
            "log_group_name": component.log_group_name,
        }
        for name, component in (("orchestrator", orchestrator), ("undelete", undelete))
    }


@pytest.fixture(scope="module")
def run() -> Run:
    result, error = run_capturing(two_regions, {}, preview=False)
    assert error is None, error
    return result


@pytest.fixture(scope="module")
def first_preview() -> Run:
    """Nothing exists yet: outputs such as the rule's name are unknown, so links show as property dependencies."""
    result, error = run_capturing(two_regions, {}, preview=True)
    assert error is None, error
    return result


def component(run: Run, name: str) -> Registration:
    [match] = [r for r in run.of_type(RecoveryFunction.TYPE) if r.name == name]
    return match


def child(run: Run, parent: Registration, type_token: str) -> Registration:
    [match] = [r for r in run.children_of(parent.urn) if r.type == type_token]
    return match


def provider_urn(run: Run, region: str) -> str:
    [provider] = [r for r in run.of_type("pulumi:providers:aws") if r.inputs["region"] == region]
    return provider.urn


@pytest.mark.parametrize(("name", "region"), [("orchestrator", RECOVERY), ("undelete", PRIMARY)])
def test_every_child_is_in_its_region_with_its_provider(run: Run, name: str, region: str) -> None:
    parent = component(run, name)
    children = run.children_of(parent.urn)
    assert {r.type for r in children} >= {LOG_GROUP, ROLE, ROLE_POLICY, FUNCTION, PERMISSION}
    for resource in children:
        # A provider reference is "<provider urn>::<provider id>".
        assert resource.provider.rsplit("::", 1)[0] == provider_urn(run, region), resource.name
        if resource.type not in (ROLE, ROLE_POLICY):  # IAM is global: its resources take no region
            assert resource.inputs["region"] == region, resource.name
        assert resource.aliases == [], "a new RecoveryFunction's children have no earlier URN"


def test_children_are_named_after_the_component(run: Run) -> None:
    parent = component(run, "orchestrator")
    names = {(r.type, r.name) for r in run.children_of(parent.urn)}
    assert names == {
        (LOG_GROUP, "orchestrator-logs"),
        (ROLE, "orchestrator"),
        (ROLE_POLICY, "orchestrator-policy"),
        (FUNCTION, "orchestrator"),
        (RULE, "orchestrator"),
        (PERMISSION, "orchestrator"),
        (TARGET, "orchestrator"),
        (EVENT_INVOKE_CONFIG, "orchestrator"),
    }


@pytest.mark.parametrize("name", ["orchestrator", "undelete"])
def test_asynchronous_invocations_are_never_retried(run: Run, name: str) -> None:
    """A schedule or an S3 event invokes asynchronously; Lambda's default two retries would repeat the actions of
    a run that failed or timed out midway."""
    parent = component(run, name)
    config = child(run, parent, EVENT_INVOKE_CONFIG)
    function = child(run, parent, FUNCTION)
    assert config.inputs["maximumRetryAttempts"] == 0
    assert config.property_dependencies["functionName"] == [function.urn]


@pytest.mark.parametrize(("name", "days"), [("orchestrator", 30), ("undelete", 90)])
def test_log_group_is_the_functions_own_with_retention(run: Run, name: str, days: int) -> None:
    log_group = child(run, component(run, name), LOG_GROUP)
    assert (
        log_group.inputs["name"]
        == f"/aws/lambda/example-{'orchestrator' if name == 'orchestrator' else 'auto-restore'}"
    )
    assert log_group.inputs["retentionInDays"] == days


@pytest.mark.parametrize("name", ["orchestrator", "undelete"])
def test_function_waits_for_its_log_group_and_role_policy(run: Run, name: str) -> None:
    parent = component(run, name)
    function = child(run, parent, FUNCTION)
    log_group, policy, role = child(run, parent, LOG_GROUP), child(run, parent, ROLE_POLICY), child(run, parent, ROLE)
    assert log_group.urn in function.dependencies, "Lambda would create the log group itself, without retention"
    assert policy.urn in function.dependencies, "a first invocation could run before its permissions exist"
    assert role.urn in function.property_dependencies["role"]
    assert role.urn in policy.property_dependencies["role"]


def test_function_runs_the_given_handler_with_powertools_settings(run: Run) -> None:
    function = child(run, component(run, "orchestrator"), FUNCTION)
    assert function.inputs["name"] == "example-orchestrator"
    assert function.inputs["handler"] == "handlers.example_orchestrator.lambda_handler"
    assert function.inputs["runtime"] == "python3.12"
    assert function.inputs["layers"] == [f"arn:aws:lambda:{RECOVERY}:017000801446:layer:Example:1"]
    assert function.inputs["environment"]["variables"] == {
        "EXAMPLE": RECOVERY,
        "POWERTOOLS_SERVICE_NAME": "dr-orchestrator",
        "POWERTOOLS_METRICS_NAMESPACE": "DR/Recovery",
    }
    assert function.inputs["tags"] == {"dr:component": "example", "dr:tier": "1"}


def test_role_is_a_tagged_runtime_role_that_may_write_only_its_own_logs(run: Run) -> None:
    parent = component(run, "orchestrator")
    role = child(run, parent, ROLE)
    assert role.inputs["tags"]["dr:role"] == "runtime"
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust == [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    statements = {s["Sid"]: s for s in json.loads(child(run, parent, ROLE_POLICY).inputs["policy"])["Statement"]}
    assert set(statements) == {"PublishRecoveryMetrics", "WriteLogs"}
    assert statements["WriteLogs"]["Resource"] == (
        f"arn:aws:logs:{RECOVERY}:{ACCOUNT_ID}:log-group:/aws/lambda/example-orchestrator:*"
    )


def test_schedule_invokes_the_function_through_its_own_rule(first_preview: Run) -> None:
    run = first_preview
    parent = component(run, "orchestrator")
    function, rule = child(run, parent, FUNCTION), child(run, parent, RULE)
    permission, target = child(run, parent, PERMISSION), child(run, parent, TARGET)
    assert rule.inputs["scheduleExpression"] == "rate(5 minutes)"
    assert rule.inputs["description"] == "health check"
    assert permission.inputs["principal"] == "events.amazonaws.com"
    assert permission.inputs["action"] == "lambda:InvokeFunction"
    assert rule.urn in permission.property_dependencies["sourceArn"]
    assert function.urn in permission.property_dependencies["function"]
    assert rule.urn in target.property_dependencies["rule"]
    assert function.urn in target.property_dependencies["arn"]


def test_event_trigger_grants_invoke_to_the_given_source_only(run: Run) -> None:
    parent = component(run, "undelete")
    assert not [r for r in run.children_of(parent.urn) if r.type in (RULE, TARGET)]
    permission = child(run, parent, PERMISSION)
    assert permission.inputs["principal"] == "s3.amazonaws.com"
    assert permission.inputs["sourceArn"] == SOURCE_BUCKET
    assert permission.inputs["sourceAccount"] == ACCOUNT_ID
    assert child(run, parent, FUNCTION).urn in permission.property_dependencies["function"]


def test_outputs_name_the_function_role_and_log_group(run: Run) -> None:
    outputs = run.outputs["orchestrator"]
    assert outputs["function_name"] == "example-orchestrator"
    assert outputs["function_arn"] == "arn:aws:mock:::orchestrator"  # the mock's ARN for the function
    assert outputs["log_group_name"] == "/aws/lambda/example-orchestrator"
    # Built from the role's explicit name, so it is known at preview and key policies can name it.
    assert outputs["role_arn"] == f"arn:aws:iam::{ACCOUNT_ID}:role/example-orchestrator"
    assert run.outputs["undelete"]["function_name"] == "example-auto-restore"


def test_a_schedule_and_a_trigger_together_are_refused() -> None:
    def both() -> None:
        provider = aws.Provider("primary", region=PRIMARY)
        RecoveryFunction(
            "both",
            args(
                PRIMARY,
                provider,
                schedule=Schedule("rate(1 hour)", "hourly"),
                trigger=EventTrigger("s3.amazonaws.com", SOURCE_BUCKET),
            ),
        )

    run, error = run_capturing(both, {}, preview=True)
    assert isinstance(error, ValueError)
    assert "both: give a schedule or an event trigger, not both" in str(error)
    assert run.of_type(RecoveryFunction.TYPE) == [], "nothing half-created"


def test_moved_children_are_aliased_to_their_former_parent() -> None:
    def moved() -> None:
        provider = aws.Provider("primary", region=PRIMARY)
        former = pulumi.ComponentResource("dr:test:Former", "former")
        RecoveryFunction("moved", args(PRIMARY, provider, moved_from=former), pulumi.ResourceOptions(parent=former))

    run, error = run_capturing(moved, {}, preview=True)
    assert error is None, error
    [former] = run.of_type("dr:test:Former")
    children = run.children_of(component(run, "moved").urn)
    assert children
    assert all(r.aliases == [{"spec": {"parentUrn": former.urn}}] for r in children)
