"""The registration comparison (tools/compare_registrations.py) finds every difference except the ignored ones."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from tests.components.harness import REPO
from tools.compare_registrations import LAMBDA_FUNCTION, Resource, compare, record


def resource(type_token: str, name: str, inputs: dict[str, Any], **options: Any) -> Resource:
    defaults: dict[str, Any] = {
        "custom": True,
        "parent": "dr:storage:Tier1Bucket audio",
        "provider": "pulumi:providers:aws primary",
        "protect": False,
        "retain_on_delete": False,
        "ignore_changes": [],
        "dependencies": [],
    }
    return Resource(type=type_token, name=name, inputs=inputs, **(defaults | options))


def function(**environment: str) -> Resource:
    return resource(
        LAMBDA_FUNCTION,
        "audio-auto-restore",
        {
            "handler": "handlers.auto_restore.lambda_handler",
            "code": {"assets": {"handlers": {"path": "/old/handlers"}}},
            "timeout": 300,
            "environment": {"variables": {"PROTECTED_PREFIXES": "masters/,releases/", **environment}},
        },
    )


@pytest.fixture
def before() -> list[Resource]:
    return [
        resource("dr:storage:Tier1Bucket", "audio", {}, custom=False, parent="", provider=""),
        resource("aws:cloudwatch/logGroup:LogGroup", "audio-auto-restore-logs", {"retentionInDays": 90}),
        function(ALERT_TOPIC_ARN="arn:aws:sns:us-east-1:123456789012:alerts"),
    ]


def test_identical_runs_have_no_differences(before: list[Resource]) -> None:
    result = compare(before, list(before))
    assert result.differences == []
    assert result.informational == []


def test_a_changed_input_is_a_difference(before: list[Resource]) -> None:
    after = [*before[:1], dataclasses.replace(before[1], inputs={"retentionInDays": 30}), before[2]]
    result = compare(before, after)
    assert result.differences == [
        "changed input aws:cloudwatch/logGroup:LogGroup audio-auto-restore-logs: retentionInDays: 90 -> 30"
    ]


def test_handler_code_and_protected_prefixes_are_ignored_by_name_and_reported(before: list[Resource]) -> None:
    moved = dataclasses.replace(
        before[2],
        inputs={
            "handler": "handlers.s3.auto_restore.lambda_handler",
            "code": {"assets": {"handlers": {"path": "/new/handlers"}}},
            "timeout": 300,
            "environment": {
                "variables": {
                    "PROTECTED_PREFIXES": '["masters/", "releases/"]',
                    "ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:alerts",
                }
            },
        },
    )
    result = compare(before, [*before[:2], moved])
    assert result.differences == []
    label = f"{LAMBDA_FUNCTION} audio-auto-restore"
    assert result.informational == [
        f"ignored {label}: handler changed",
        f"ignored {label}: code changed",
        f"ignored {label}: environment.variables.PROTECTED_PREFIXES changed",
    ]


def test_other_environment_entries_of_a_function_still_count(before: list[Resource]) -> None:
    changed = function(ALERT_TOPIC_ARN="arn:aws:sns:us-east-1:123456789012:other")
    result = compare(before, [*before[:2], changed])
    assert result.differences == [
        f"changed input {LAMBDA_FUNCTION} audio-auto-restore: environment.variables.ALERT_TOPIC_ARN: "
        '"arn:aws:sns:us-east-1:123456789012:alerts" -> "arn:aws:sns:us-east-1:123456789012:other"'
    ]


def test_the_ignored_names_apply_only_to_lambda_functions(before: list[Resource]) -> None:
    """A ``handler`` or ``code`` input on any other type is compared like every other input."""
    other = resource("aws:example/thing:Thing", "thing", {"handler": "a", "code": "x"})
    result = compare([*before, other], [*before, dataclasses.replace(other, inputs={"handler": "b", "code": "x"})])
    assert result.differences == ['changed input aws:example/thing:Thing thing: handler: "a" -> "b"']


def test_added_and_removed_resources_are_differences_and_components_informational(before: list[Resource]) -> None:
    component = resource("dr-as-code:runtime:RecoveryFunction", "audio-auto-restore", {}, custom=False)
    alarm = resource("aws:cloudwatch/metricAlarm:MetricAlarm", "audio-extra", {"threshold": 1})
    result = compare(before, [*before[1:], component, alarm])
    assert result.differences == ["added resource aws:cloudwatch/metricAlarm:MetricAlarm audio-extra"]
    assert result.informational == [
        "removed component dr:storage:Tier1Bucket audio",
        "added component dr-as-code:runtime:RecoveryFunction audio-auto-restore",
    ]
    assert compare([*before, alarm], before).differences == [
        "removed resource aws:cloudwatch/metricAlarm:MetricAlarm audio-extra"
    ]


def test_new_parents_and_dependencies_are_informational(before: list[Resource]) -> None:
    reparented = dataclasses.replace(
        before[2],
        parent="dr-as-code:runtime:RecoveryFunction audio-auto-restore",
        dependencies=["aws:iam/rolePolicy:RolePolicy audio-auto-restore-policy"],
    )
    result = compare(before, [*before[:2], reparented])
    assert result.differences == []
    label = f"{LAMBDA_FUNCTION} audio-auto-restore"
    assert result.informational == [
        f"parent {label}: dr:storage:Tier1Bucket audio -> dr-as-code:runtime:RecoveryFunction audio-auto-restore",
        f"dependency {label}: now depends on aws:iam/rolePolicy:RolePolicy audio-auto-restore-policy",
    ]


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("provider", "pulumi:providers:aws recovery"),
        ("protect", True),
        ("retain_on_delete", True),
        ("ignore_changes", ["retentionInDays"]),
    ],
)
def test_changed_resource_options_are_differences(before: list[Resource], option: str, value: Any) -> None:
    changed = dataclasses.replace(before[1], **{option: value})
    [difference] = compare(before, [before[0], changed, before[2]]).differences
    assert difference.startswith(f"changed option aws:cloudwatch/logGroup:LogGroup audio-auto-restore-logs: {option}:")


def test_a_name_registered_twice_cannot_be_matched(before: list[Resource]) -> None:
    with pytest.raises(ValueError, match="registered twice"):
        compare([*before, before[1]], before)


@pytest.mark.slow
def test_recording_the_working_tree_sees_every_runtime_function() -> None:
    recorded = record(REPO, "prod", preview=True)
    functions = {r.name: r for r in recorded if r.type == LAMBDA_FUNCTION}
    # The scheduled drill (prod sets drills.scheduled) runs in the recovery Region, where it publishes.
    drill = functions.pop("dr-drills-scheduled")
    assert drill.provider == "pulumi:providers:aws recovery"
    buckets = (
        {
            f"{bucket}-{purpose}"
            for bucket in ("audio", "uploads")
            for purpose in ("auto-restore", "replication-audit", "rpo-age")
        }
        | {f"{table}-rpo-age" for table in ("users", "orders", "transactions")}
        | {"users-export"}
    )
    validators = {"restore-testing-us-east-1-validate", "restore-testing-us-west-2-validate"}  # one per Region
    assert set(functions) == buckets | validators | {"site-api-orchestrator", "site-api-switch-function"}
    # The buckets' RPO-age functions run beside their replicas (S3 publishes ReplicationLatency there), and the
    # failover site's orchestrator in the recovery region.
    in_recovery = {
        "audio-rpo-age",
        "uploads-rpo-age",
        "site-api-orchestrator",
        "site-api-switch-function",
        "restore-testing-us-west-2-validate",
    }
    assert {name: r.provider for name, r in functions.items()} == {
        name: f"pulumi:providers:aws {'recovery' if name in in_recovery else 'primary'}" for name in functions
    }
    rpo_age = functions["audio-rpo-age"]
    changed = dataclasses.replace(rpo_age, inputs={**rpo_age.inputs, "timeout": 1})
    result = compare(recorded, [changed if r is rpo_age else r for r in recorded])
    assert result.differences == [f"changed input {LAMBDA_FUNCTION} audio-rpo-age: timeout: 300.0 -> 1"]
