"""FailoverSite under Pulumi's mock runtime (preview semantics), through the real program and the prod stack."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from stackmodel.config import ConfigError
from tests.components.harness import Registration, Run, run_program, run_program_capturing, stack_config

HEALTH_CHECK = "aws:route53/healthCheck:HealthCheck"
RECORD = "aws:route53/record:Record"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
FUNCTION = "aws:lambda/function:Function"
RULE = "aws:cloudwatch/eventRule:EventRule"
POLICY = "aws:iam/rolePolicy:RolePolicy"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
PARAMETER = "aws:ssm/parameter:Parameter"
TABLE = "aws:dynamodb/table:Table"
PROVIDER = "pulumi:providers:aws"


def site_config(**changes: Any) -> dict[str, Any]:
    config = copy.deepcopy(stack_config("prod"))
    config["sites"][0].update(changes)
    return config


def in_site(run: Run, type_token: str) -> list[Registration]:
    return [r for r in run.of_type(type_token) if "site-api" in r.urn]


def provider_region(run: Run, registration: Registration) -> str:
    urn = registration.provider.rsplit("::", 1)[0]
    provider = next(r for r in run.registrations if r.urn == urn)
    return str(provider.inputs["region"])


@pytest.fixture(scope="module")
def prod() -> Run:
    return run_program(stack_config("prod"))


@pytest.fixture(scope="module")
def deployed() -> Run:
    """Outputs resolved (``pulumi up``): the JSON documents built from ids and ARNs are complete."""
    return run_program(stack_config("prod"), preview=False)


def by_name(registrations: list[Registration], suffix: str) -> Registration:
    return next(r for r in registrations if r.name.endswith(suffix))


def test_primary_record_is_on_the_switch_alone(prod: Run) -> None:
    checks = in_site(prod, HEALTH_CHECK)
    switch = by_name(checks, "site-api-switch")
    primary = by_name(in_site(prod, RECORD), "site-api-primary")
    secondary = by_name(in_site(prod, RECORD), "site-api-secondary")
    assert primary.inputs["failoverRoutingPolicies"] == [{"type": "PRIMARY"}]
    assert secondary.inputs["failoverRoutingPolicies"] == [{"type": "SECONDARY"}]
    assert primary.property_dependencies["healthCheckId"] == [switch.urn]
    assert not any(r.type == HEALTH_CHECK and "calculated" in r.name for r in prod.registrations)
    assert primary.inputs["records"] == ["api-use1.distronation.example"] and primary.inputs["ttl"] == 60


def test_switch_is_an_alarm_in_the_recovery_region_on_a_standard_metric(prod: Run) -> None:
    switch_check = by_name(in_site(prod, HEALTH_CHECK), "site-api-switch")
    alarm = by_name(in_site(prod, ALARM), "site-api-switch")
    assert switch_check.inputs["type"] == "CLOUDWATCH_METRIC"
    assert switch_check.inputs["cloudwatchAlarmRegion"] == "us-west-2"
    assert switch_check.inputs["insufficientDataHealthStatus"] == "LastKnownStatus"
    assert alarm.inputs["region"] == "us-west-2" and provider_region(prod, alarm) == "us-west-2"
    assert alarm.inputs["statistic"] == "Maximum" and alarm.inputs["period"] == 60
    assert "extendedStatistic" not in alarm.inputs
    silent = by_name(in_site(prod, ALARM), "site-api-switch-silent")
    assert silent.inputs["evaluationPeriods"] == 2 and silent.inputs["treatMissingData"] == "breaching"
    assert silent.inputs["region"] == "us-west-2"


def test_endpoint_checks_probe_both_endpoints(prod: Run) -> None:
    checks = in_site(prod, HEALTH_CHECK)
    for role, host in (("primary", "api-use1.distronation.example"), ("secondary", "api-usw2.distronation.example")):
        check = by_name(checks, f"site-api-{role}")
        assert check.inputs["fqdn"] == host and check.inputs["requestInterval"] == 10
        assert check.inputs["failureThreshold"] == 3 and check.inputs["type"] == "HTTPS"


def test_orchestrator_runs_every_minute_in_the_recovery_region(prod: Run) -> None:
    function = by_name(in_site(prod, FUNCTION), "orchestrator")
    assert function.inputs["region"] == "us-west-2" and provider_region(prod, function) == "us-west-2"
    assert function.inputs["handler"] == "handlers.failover.orchestrator.lambda_handler"
    assert function.inputs["timeout"] >= 60
    rule = by_name(in_site(prod, RULE), "orchestrator")
    assert rule.inputs["scheduleExpression"] == "rate(1 minute)"


def test_advisory_route53_alarms_live_in_us_east_1(prod: Run) -> None:
    advisory = [r for r in in_site(prod, ALARM) if r.inputs.get("namespace") == "AWS/Route53"]
    assert len(advisory) == 3
    for alarm in advisory:
        assert alarm.inputs["region"] == "us-east-1" and provider_region(prod, alarm) == "us-east-1"
        assert alarm.inputs["metricName"] == "HealthCheckStatus"
        assert list(alarm.inputs["dimensions"]) == ["HealthCheckId"]
        assert ":us-east-1:" in alarm.inputs["alarmActions"][0]


def test_orchestrator_role_is_least_privilege(deployed: Run) -> None:
    policy = json.loads(by_name(in_site(deployed, POLICY), "orchestrator-policy").inputs["policy"])
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert not any(a.endswith("*") for a in actions)
    assert not any(a.startswith("route53:") for a in actions)  # never the Route 53 control plane
    settings = next(s for s in policy["Statement"] if s["Sid"] == "WriteSettings")
    assert "arn:aws:ssm:us-west-2:123456789012:parameter/dr/distronation/active-region" in settings["Resource"]
    assert "arn:aws:ssm:us-west-2:123456789012:parameter/dr/distronation/active-bucket/audio" in settings["Resource"]
    buckets = next(s for s in policy["Statement"] if s["Sid"] == "StandbyBuckets")
    assert buckets["Resource"] == [
        "arn:aws:s3:::distronation-prod-audio-us-west-2",
        "arn:aws:s3:::distronation-prod-uploads-us-west-2",
    ]


def test_dashboard_widgets_sit_where_their_metrics_live(deployed: Run) -> None:
    body = json.loads(by_name(in_site(deployed, DASHBOARD), "dashboard").inputs["dashboardBody"])
    regions = {w["properties"]["title"]: w["properties"]["region"] for w in body["widgets"]}
    assert regions["Endpoint and switch health (Route 53, us-east-1)"] == "us-east-1"
    assert regions["Failover switch (1 = failed over)"] == "us-west-2"
    assert regions["Replication latency audio (s)"] == "us-west-2"  # S3: the destination's region
    # A bucket's RPO age is read from ReplicationLatency and published beside the replica (handlers/rpo_age.py).
    assert regions["Newest recovery point age audio (s)"] == "us-west-2"


def test_descriptor_is_in_the_recovery_region(deployed: Run) -> None:
    parameter = by_name(in_site(deployed, PARAMETER), "descriptor")
    assert parameter.inputs["name"] == "/dr/distronation/site/api"
    assert parameter.inputs["region"] == "us-west-2"
    descriptor = json.loads(parameter.inputs["insecureValue"])
    assert descriptor["switch"]["kind"] == "cloudwatch"
    assert descriptor["parameters"]["activeBuckets"]["uploads"] == "/dr/distronation/active-bucket/uploads"
    assert descriptor["budget"]["rtoSeconds"] == 220


def test_lock_table_is_protected(prod: Run) -> None:
    lock = by_name(in_site(prod, TABLE), "lock")
    assert lock.inputs["region"] == "us-west-2"
    assert lock.inputs["pointInTimeRecovery"]["enabled"] is True and lock.inputs["deletionProtectionEnabled"] is True


def test_every_site_resource_has_an_explicit_provider(prod: Run) -> None:
    custom = [r for r in prod.registrations if "site-api" in r.urn and r.custom and r.type.startswith("aws:")]
    assert custom and all(r.provider for r in custom)


def test_auto_dns_failover_uses_a_calculated_check_of_endpoint_and_switch() -> None:
    run = run_program(site_config(autoDnsFailover=True))
    checks = in_site(run, HEALTH_CHECK)
    calculated = by_name(checks, "primary-calculated")
    assert calculated.inputs["type"] == "CALCULATED" and calculated.inputs["childHealthThreshold"] == 2
    assert set(calculated.property_dependencies["childHealthchecks"]) == {
        by_name(checks, "site-api-primary").urn,
        by_name(checks, "site-api-switch").urn,
    }
    primary = by_name(in_site(run, RECORD), "site-api-primary")
    assert primary.property_dependencies["healthCheckId"] == [calculated.urn]


def test_arc_switch_uses_its_own_pinned_provider() -> None:
    run = run_program(site_config(switch="arc", rtoMinutes=3))
    controls = [r for r in in_site(run, "aws:route53recoverycontrol/routingControl:RoutingControl")]
    assert len(controls) == 2
    assert {provider_region(run, r) for r in controls} == {"us-west-2"}
    assert controls[0].provider.split("::")[-2].endswith("arc")
    primary = by_name(in_site(run, RECORD), "site-api-primary")
    primary_control_check = by_name(in_site(run, HEALTH_CHECK), "arc-primary")
    assert primary.property_dependencies["healthCheckId"] == [primary_control_check.urn]
    assert primary_control_check.inputs["type"] == "RECOVERY_CONTROL"


def test_route53_alarms_use_us_east_1_even_when_neither_region_is() -> None:
    config = site_config(tables=[])
    config["primaryRegion"], config["recoveryRegion"] = "eu-west-1", "eu-central-1"
    del config["tables"]  # prod's tables are in US regions (and an MRSC region set)
    run = run_program(config)
    advisory = [r for r in in_site(run, ALARM) if r.inputs.get("namespace") == "AWS/Route53"]
    assert advisory and {provider_region(run, r) for r in advisory} == {"us-east-1"}
    switch = by_name(in_site(run, ALARM), "site-api-switch")
    assert provider_region(run, switch) == "eu-central-1"


def test_a_declared_rto_below_the_budget_stops_the_program_with_the_arithmetic() -> None:
    run, error = run_program_capturing(site_config(rtoMinutes=2))
    assert isinstance(error, ConfigError)
    [problem] = error.problems
    assert problem.startswith("sites[0].rtoMinutes: 2 min is below what this site can achieve")
    assert "DNS path 220 s = detection 40 s + switch 120 s + TTL 60 s" in problem
    assert "declare at least 4" in problem
    assert run.registrations == []


def test_the_settings_the_orchestrator_writes_are_declared_where_it_writes_them(prod: Run) -> None:
    """active-region in both Regions, active-bucket/<logical> in the recovery Region, with their initial values;
    a failover's value survives the next `pulumi up`, `pulumi destroy` removes them, and the orchestrator waits."""
    settings = [r for r in prod.of_type(PARAMETER) if "site-settings" in r.urn]
    declared = {(r.inputs["name"], r.inputs["region"]): r for r in settings}
    assert set(declared) == {
        ("/dr/distronation/active-region", "us-east-1"),
        ("/dr/distronation/active-region", "us-west-2"),
        ("/dr/distronation/active-bucket/audio", "us-west-2"),
        ("/dr/distronation/active-bucket/uploads", "us-west-2"),
    }
    for (name, region), parameter in declared.items():
        value = parameter.inputs["value"]  # pulumi-aws marks a parameter's value secret
        initial = (
            "us-east-1" if name.endswith("active-region") else f"distronation-prod-{name.rsplit('/', 1)[1]}-us-east-1"
        )
        assert value.get("value", value) == initial and parameter.inputs["type"] == "String"
        assert parameter.ignore_changes == ["value"]
        assert provider_region(prod, parameter) == region
    orchestrator = by_name(in_site(prod, FUNCTION), "orchestrator")
    assert {r.urn for r in settings} <= set(orchestrator.dependencies)


def test_two_sites_share_one_declaration_of_each_setting() -> None:
    config = copy.deepcopy(stack_config("prod"))
    second = {**config["sites"][0], "name": "web", "recordName": "web.distronation.example", "buckets": ["audio"]}
    config["sites"].append(second)
    run = run_program(config)
    names = [(r.inputs["name"], r.inputs["region"]) for r in run.of_type(PARAMETER) if "site-settings" in r.urn]
    assert len(names) == len(set(names)) == 4
