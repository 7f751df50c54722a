"""FailoverSite under Pulumi's mock runtime (preview semantics), through the real program and the prod stack."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from stackmodel.config import ConfigError, parse
from stackmodel.config.sites import site_reservations
from stackmodel.site import (
    ORCHESTRATOR_TIMEOUT_SECONDS,
    ROUND_BUDGET_SECONDS,
    RUN_SECONDS,
    SWITCH_FUNCTION_TIMEOUT_SECONDS,
)
from tests.components.harness import Registration, Run, prod_run, run_program, run_program_capturing, stack_config

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
FUNCTION_URL = "aws:lambda/functionUrl:FunctionUrl"
PERMISSION = "aws:lambda/permission:Permission"
EVENT_INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"


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
    return prod_run(preview=True)


@pytest.fixture(scope="module")
def deployed() -> Run:
    """Outputs resolved (``pulumi up``): the JSON documents built from ids and ARNs are complete."""
    return prod_run(preview=False)


@pytest.fixture(scope="module")
def deployed_fidelity() -> Run:
    """Outputs as AWS returns them (a function URL's https://<id>.lambda-url.<region>.on.aws/)."""
    from tests.fidelity.stack_runs import update_run

    return update_run("prod")


def by_name(registrations: list[Registration], suffix: str) -> Registration:
    return next(r for r in registrations if r.name.endswith(suffix))


def test_primary_record_is_on_the_calculated_switch_of_endpoint_and_alarm(prod: Run) -> None:
    checks = in_site(prod, HEALTH_CHECK)
    calculated = by_name(checks, "site-api-switch-calculated")
    endpoint, alarm = by_name(checks, "site-api-switch-endpoint"), by_name(checks, "site-api-switch")
    primary = by_name(in_site(prod, RECORD), "site-api-primary")
    secondary = by_name(in_site(prod, RECORD), "site-api-secondary")
    assert primary.inputs["failoverRoutingPolicies"] == [{"type": "PRIMARY"}]
    assert secondary.inputs["failoverRoutingPolicies"] == [{"type": "SECONDARY"}]
    assert primary.property_dependencies["healthCheckId"] == [calculated.urn]
    assert "healthCheckId" not in secondary.inputs
    # Failover needs either child to say "failed over"; failback needs both to say "primary".
    assert calculated.inputs["type"] == "CALCULATED" and calculated.inputs["childHealthThreshold"] == 2
    assert set(calculated.property_dependencies["childHealthchecks"]) == {endpoint.urn, alarm.urn}
    assert not any(r.type == HEALTH_CHECK and "primary-calculated" in r.name for r in prod.registrations)
    assert primary.inputs["records"] == ["api-use1.distronation.example"] and primary.inputs["ttl"] == 30


def test_switch_checks_are_protected(prod: Run) -> None:
    """A new check reads healthy: replacing a switch check while failed over would send DNS back."""
    checks = {r.name: r for r in in_site(prod, HEALTH_CHECK)}
    for name in (
        "site-api-switch",
        "site-api-switch-endpoint",
        "site-api-switch-calculated",
        "site-api-drill-switch",
        "site-api-drill-switch-endpoint",
        "site-api-drill-switch-calculated",
    ):
        assert checks[name].protect, name
    assert not checks["site-api-primary"].protect  # Route 53's view of the primary: replaceable


def test_switch_endpoint_check_is_inverted_fast_https_on_the_function_url(deployed_fidelity: Run) -> None:
    check = by_name(in_site(deployed_fidelity, HEALTH_CHECK), "site-api-switch-endpoint")
    url = by_name(in_site(deployed_fidelity, FUNCTION_URL), "site-api-switch-url")
    assert check.inputs["type"] == "HTTPS" and check.inputs["invertHealthcheck"] is True
    assert check.inputs["requestInterval"] == 10 and check.inputs["failureThreshold"] == 1
    assert check.inputs["enableSni"] is True and check.inputs["port"] == 443 and check.inputs["resourcePath"] == "/"
    assert check.inputs["fqdn"].endswith(".lambda-url.us-west-2.on.aws")
    assert url.inputs["authorizationType"] == "NONE"
    drill = by_name(in_site(deployed_fidelity, HEALTH_CHECK), "site-api-drill-switch-endpoint")
    assert drill.inputs["fqdn"] == check.inputs["fqdn"] and drill.inputs["resourcePath"] == "/drill"


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
    drill = by_name(in_site(prod, ALARM), "site-api-drill-switch")
    assert drill.inputs["dimensions"] == {"Site": "distronation/api/drill"}
    assert alarm.inputs["dimensions"] == {"Site": "distronation/api"}


def test_switch_function_answers_from_the_lock_table_with_its_own_concurrency(deployed: Run) -> None:
    function = by_name(in_site(deployed, FUNCTION), "site-api-switch-function")
    assert function.inputs["handler"] == "handlers.failover.switch_endpoint.lambda_handler"
    assert function.inputs["region"] == "us-west-2" and function.inputs["reservedConcurrentExecutions"] == 10
    assert function.inputs["timeout"] == SWITCH_FUNCTION_TIMEOUT_SECONDS <= 3
    policy = json.loads(by_name(in_site(deployed, POLICY), "switch-function-policy").inputs["policy"])
    actions = {a for statement in policy["Statement"] for a in statement["Action"]}
    assert actions == {"dynamodb:GetItem", "logs:CreateLogStream", "logs:PutLogEvents"}  # it never writes
    permissions = {r.name: r.inputs for r in in_site(deployed, PERMISSION) if "switch" in r.name}
    assert (
        permissions["site-api-switch-url"].items()
        >= {
            "action": "lambda:InvokeFunctionUrl",
            "principal": "*",
            "functionUrlAuthType": "NONE",
        }.items()
    )
    assert (
        permissions["site-api-switch-invoke"].items()
        >= {
            "action": "lambda:InvokeFunction",
            "principal": "*",
            "invokedViaFunctionUrl": True,
        }.items()
    )


def test_drill_and_probe_records_pair_with_their_own_checks(prod: Run) -> None:
    records = {r.name: r for r in in_site(prod, RECORD)}
    checks = {r.name: r for r in in_site(prod, HEALTH_CHECK)}
    drill_primary, drill_secondary = records["site-api-drill-primary"], records["site-api-drill-secondary"]
    assert drill_primary.inputs["name"] == drill_secondary.inputs["name"] == "drill.api.distronation.example"
    assert drill_primary.property_dependencies["healthCheckId"] == [checks["site-api-drill-switch-calculated"].urn]
    assert "healthCheckId" not in drill_secondary.inputs  # an unhealthy SECONDARY would answer PRIMARY anyway
    probe_primary, probe_secondary = records["site-api-probe-primary"], records["site-api-probe-secondary"]
    assert probe_primary.inputs["name"] == "probe.api.distronation.example"
    # Route 53's own endpoint check of the primary: the second vantage point, read through DNS.
    assert probe_primary.property_dependencies["healthCheckId"] == [checks["site-api-primary"].urn]
    assert "healthCheckId" not in probe_secondary.inputs
    assert {r.inputs["setIdentifier"] for r in records.values()} == {
        "api-primary",
        "api-secondary",
        "api-drill-primary",
        "api-drill-secondary",
        "api-probe-primary",
        "api-probe-secondary",
    }


def test_the_component_builds_exactly_the_route53_plan(deployed_fidelity: Run) -> None:
    """The rehearsal provisions route53_plan on moto: the component must register the same checks and records."""
    from stackmodel.config import parse
    from stackmodel.site import route53_plan

    descriptor = json.loads(by_name(in_site(deployed_fidelity, PARAMETER), "descriptor").inputs["insecureValue"])
    plan = route53_plan(descriptor)
    checks = {r.name: r for r in in_site(deployed_fidelity, HEALTH_CHECK)}
    by_id = {r.inputs.get("referenceName"): r for r in checks.values()}
    assert len(checks) == len(plan.checks) == len(by_id)
    fields = {
        "Type": "type",
        "FullyQualifiedDomainName": "fqdn",
        "Port": "port",
        "ResourcePath": "resourcePath",
        "RequestInterval": "requestInterval",
        "FailureThreshold": "failureThreshold",
        "Inverted": "invertHealthcheck",
        "EnableSNI": "enableSni",
        "HealthThreshold": "childHealthThreshold",
        "InsufficientDataHealthStatus": "insufficientDataHealthStatus",
    }
    from components.site_checks import CHECK_NAMES

    for spec in plan.checks:
        registered = checks[f"site-api-{CHECK_NAMES[spec.logical][0]}"]
        for key, prop in fields.items():
            assert registered.inputs.get(prop) == spec.config.get(key), (spec.logical, key)
        assert registered.protect == spec.protect
    records = {(r.inputs["name"], r.inputs["setIdentifier"]) for r in in_site(deployed_fidelity, RECORD)}
    assert records == {(r.name, r.set_identifier) for r in plan.records}
    assert parse(stack_config("prod")).sites[0].record_type == plan.records[0].type == "CNAME"


def test_endpoint_checks_probe_both_endpoints(prod: Run) -> None:
    checks = in_site(prod, HEALTH_CHECK)
    for role, host in (("primary", "api-use1.distronation.example"), ("secondary", "api-usw2.distronation.example")):
        check = by_name(checks, f"site-api-{role}")
        assert check.inputs["fqdn"] == host and check.inputs["requestInterval"] == 10
        assert check.inputs["failureThreshold"] == 3 and check.inputs["type"] == "HTTPS"


def test_orchestrator_runs_bounded_rounds_every_minute_in_the_recovery_region(prod: Run) -> None:
    function = by_name(in_site(prod, FUNCTION), "orchestrator")
    assert function.inputs["region"] == "us-west-2" and provider_region(prod, function) == "us-west-2"
    assert function.inputs["handler"] == "handlers.failover.orchestrator.lambda_handler"
    # The design's bounded rounds: the last round may start at RUN_SECONDS and take ROUND_BUDGET_SECONDS.
    assert function.inputs["timeout"] == ORCHESTRATOR_TIMEOUT_SECONDS >= RUN_SECONDS + ROUND_BUDGET_SECONDS + 10
    assert function.inputs["reservedConcurrentExecutions"] == 2
    rule = by_name(in_site(prod, RULE), "orchestrator")
    assert rule.inputs["scheduleExpression"] == "rate(1 minute)"


def test_the_config_counts_every_reserved_concurrency_the_program_registers(prod: Run) -> None:
    """The config's per-Region sum (stackmodel/config/concurrency.py) holds only if it sees every function that
    reserves concurrency: a new one must be added to its reservations."""
    registered: dict[str, int] = {}
    for function in prod.of_type(FUNCTION):
        reserved = function.inputs.get("reservedConcurrentExecutions")
        if reserved is not None:
            registered[function.inputs["region"]] = registered.get(function.inputs["region"], 0) + reserved
    settings = parse(stack_config("prod"))
    counted: dict[str, int] = {}
    for spec in settings.sites:
        for region, _, amount in site_reservations(spec, settings.recovery_region):
            counted[region] = counted.get(region, 0) + amount
    assert registered == counted == {"us-west-2": 12}


def test_no_asynchronously_invoked_runtime_function_is_retried(prod: Run) -> None:
    """EventBridge and S3 invoke asynchronously; Lambda would retry a failed run twice and repeat its actions."""
    configs = {r.name: r for r in prod.of_type(EVENT_INVOKE_CONFIG)}
    # Every function an EventBridge rule or S3 invokes has its invoke permission (rules that target SNS or
    # Firehose have none, and no function to retry).
    triggered = {
        r.name
        for r in prod.of_type(PERMISSION)
        if r.inputs.get("principal") in ("events.amazonaws.com", "s3.amazonaws.com")
    }
    assert triggered and triggered <= set(configs)
    assert all(c.inputs["maximumRetryAttempts"] == 0 for c in configs.values())
    assert "site-api-switch-function" not in configs  # invoked synchronously through its URL


def test_advisory_route53_alarms_live_in_us_east_1(prod: Run) -> None:
    advisory = [r for r in in_site(prod, ALARM) if r.inputs.get("namespace") == "AWS/Route53"]
    assert len(advisory) == 3
    switch = by_name(in_site(prod, HEALTH_CHECK), "site-api-switch-calculated")
    assert by_name(advisory, "switch-status").property_dependencies["dimensions"] == [switch.urn]
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
    lock = next(s for s in policy["Statement"] if s["Sid"] == "Lock")
    assert "dynamodb:ConditionCheckItem" in lock["Action"]  # fenced writes are TransactWriteItems
    settings = next(s for s in policy["Statement"] if s["Sid"] == "WriteSettings")
    assert "arn:aws:ssm:us-west-2:123456789012:parameter/dr/distronation/active-region" in settings["Resource"]
    assert "arn:aws:ssm:us-west-2:123456789012:parameter/dr/distronation/active-bucket/audio" in settings["Resource"]
    buckets = next(s for s in policy["Statement"] if s["Sid"] == "StandbyBuckets")
    assert buckets["Resource"] == [
        "arn:aws:s3:::distronation-prod-audio-us-west-2",
        "arn:aws:s3:::distronation-prod-uploads-us-west-2",
    ]


def test_orchestrator_may_run_the_failback_reconcile_on_exactly_the_linked_pairs(deployed: Run) -> None:
    """handlers/failover/reconcile.py lists both buckets, reads replica versions, copies them to the primary and
    deletes there; the buckets' own key policies grant the role by ARN (no key ARN in its IAM policy)."""
    policy = json.loads(by_name(in_site(deployed, POLICY), "orchestrator-policy").inputs["policy"])
    granted = {s["Sid"]: (s["Action"], s["Resource"]) for s in policy["Statement"] if s["Sid"].startswith("Failback")}
    primaries = ["arn:aws:s3:::distronation-prod-audio-us-east-1", "arn:aws:s3:::distronation-prod-uploads-us-east-1"]
    replicas = ["arn:aws:s3:::distronation-prod-audio-us-west-2", "arn:aws:s3:::distronation-prod-uploads-us-west-2"]
    assert granted == {
        "FailbackListReplicaVersions": (["s3:ListBucketVersions"], replicas),
        "FailbackListPrimaries": (["s3:ListBucket", "s3:ListBucketVersions"], primaries),
        "FailbackReadReplicaObjects": (
            ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging", "s3:GetObjectVersionTagging"],
            [f"{arn}/*" for arn in replicas],
        ),
        "FailbackWritePrimaryObjects": (
            ["s3:GetObject", "s3:PutObject", "s3:PutObjectTagging", "s3:AbortMultipartUpload", "s3:DeleteObject"],
            [f"{arn}/*" for arn in primaries],
        ),
    }
    assert not any(
        a.startswith(("kms:", "s3:DeleteObjectVersion", "s3control:")) for s in policy["Statement"] for a in s["Action"]
    )
    role = by_name(in_site(deployed, "aws:iam/role:Role"), "orchestrator")
    for logical in ("audio", "uploads"):
        for side, actions in (("primary", ["kms:Decrypt", "kms:GenerateDataKey"]), ("replica", ["kms:Decrypt"])):
            key_policy = next(
                r for r in deployed.of_type("aws:kms/keyPolicy:KeyPolicy") if r.name == f"{logical}-{side}-key-policy"
            )
            [grant] = [
                s for s in json.loads(key_policy.inputs["policy"])["Statement"] if s["Sid"] == "FailoverOrchestratorApi"
            ]
            assert grant["Principal"]["AWS"] == "arn:aws:iam::123456789012:role/distronation-prod-api-failover"
            assert grant["Action"] == actions
            assert role.urn in key_policy.dependencies, "KMS rejects a policy naming the role before it exists"


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
    assert parameter.inputs["tier"] == "Advanced"  # a Standard parameter's 4 KB fits about eight linked stores
    assert descriptor["switch"]["kind"] == "endpoint" and descriptor["switch"]["path"] == "/"
    assert descriptor["switch"]["alarmName"] == "distronation-prod-api-failover-switch"
    assert descriptor["drill"]["recordName"] == "drill.api.distronation.example"
    assert descriptor["drill"]["switch"]["path"] == "/drill" and descriptor["drill"]["switch"]["item"] == "drill"
    assert descriptor["probe"]["recordName"] == "probe.api.distronation.example"
    assert descriptor["parameters"]["activeBuckets"]["uploads"] == "/dr/distronation/active-bucket/uploads"
    assert descriptor["budget"]["rtoSeconds"] == 120


def test_lock_table_is_protected(prod: Run) -> None:
    lock = by_name(in_site(prod, TABLE), "lock")
    assert lock.inputs["region"] == "us-west-2"
    assert lock.inputs["pointInTimeRecovery"]["enabled"] is True and lock.inputs["deletionProtectionEnabled"] is True


def test_every_site_resource_has_an_explicit_provider(prod: Run) -> None:
    custom = [r for r in prod.registrations if "site-api" in r.urn and r.custom and r.type.startswith("aws:")]
    assert custom and all(r.provider for r in custom)


def test_auto_dns_failover_uses_one_flat_calculated_check_of_endpoint_and_switches() -> None:
    run = run_program(site_config(autoDnsFailover=True, buckets=[], tables=[]))  # stateless sites only
    checks = in_site(run, HEALTH_CHECK)
    calculated = by_name(checks, "primary-calculated")
    # Any child unhealthy fails over; no calculated check is a child of another.
    assert calculated.inputs["type"] == "CALCULATED" and calculated.inputs["childHealthThreshold"] == 3
    assert set(calculated.property_dependencies["childHealthchecks"]) == {
        by_name(checks, "site-api-primary").urn,
        by_name(checks, "site-api-switch").urn,
        by_name(checks, "site-api-switch-endpoint").urn,
    }
    primary = by_name(in_site(run, RECORD), "site-api-primary")
    assert primary.property_dependencies["healthCheckId"] == [calculated.urn]


def test_arc_switch_uses_its_own_pinned_provider() -> None:
    run = run_program(site_config(switch="arc", rtoMinutes=2), preview=False)
    controls = [r for r in in_site(run, "aws:route53recoverycontrol/routingControl:RoutingControl")]
    assert len(controls) == 2
    assert {provider_region(run, r) for r in controls} == {"us-west-2"}
    assert controls[0].provider.split("::")[-2].endswith("arc")
    primary = by_name(in_site(run, RECORD), "site-api-primary")
    primary_control_check = by_name(in_site(run, HEALTH_CHECK), "arc-primary")
    assert primary.property_dependencies["healthCheckId"] == [primary_control_check.urn]
    assert primary_control_check.inputs["type"] == "RECOVERY_CONTROL" and primary_control_check.protect
    secondary = by_name(in_site(run, RECORD), "site-api-secondary")
    assert secondary.property_dependencies["healthCheckId"] == [
        by_name(in_site(run, HEALTH_CHECK), "arc-secondary").urn
    ]
    # One UpdateRoutingControlStates call moves both controls: the role may update both.
    policy = json.loads(by_name(in_site(run, POLICY), "orchestrator-policy").inputs["policy"])
    arc = next(s for s in policy["Statement"] if s["Sid"] == "RoutingControl")
    assert "route53-recovery-cluster:UpdateRoutingControlStates" in arc["Action"] and len(arc["Resource"]) == 2
    # The drill record still flips on its own endpoint switch (the name-server delay is the same for every kind).
    assert by_name(in_site(run, HEALTH_CHECK), "drill-switch-endpoint").inputs["invertHealthcheck"] is True


def test_route53_alarms_use_us_east_1_even_when_neither_region_is() -> None:
    config = site_config(tables=[])
    config["primaryRegion"], config["recoveryRegion"] = "eu-west-1", "eu-central-1"
    del config["tables"]  # prod's tables are in US regions (and an MRSC region set)
    run = run_program(config)
    advisory = [r for r in in_site(run, ALARM) if r.inputs.get("namespace") == "AWS/Route53"]
    assert advisory and {provider_region(run, r) for r in advisory} == {"us-east-1"}
    switch = by_name(in_site(run, ALARM), "site-api-switch")
    assert provider_region(run, switch) == "eu-central-1"


def test_an_ipv6_endpoint_gets_an_aaaa_record() -> None:
    run = run_program(
        site_config(
            primary={"host": "2600:1f18:4a3:6901::10", "port": 443, "path": "/health", "protocol": "HTTPS"},
            secondary={"host": "2600:1f18:4a3:6902::20", "port": 443, "path": "/health", "protocol": "HTTPS"},
        )
    )
    records = in_site(run, RECORD)
    assert records and {r.inputs["type"] for r in records} == {"AAAA"}
    probe = by_name(in_site(run, HEALTH_CHECK), "site-api-primary")
    assert probe.inputs["ipAddress"] == "2600:1f18:4a3:6901::10" and "fqdn" not in probe.inputs
    assert "enableSni" not in probe.inputs  # SNI sends a name; an address has none


def test_a_declared_rto_below_the_budget_stops_the_program_with_the_arithmetic() -> None:
    run, error = run_program_capturing(site_config(rtoMinutes=1))
    assert isinstance(error, ConfigError)
    [problem] = error.problems
    assert problem.startswith("sites[0].rtoMinutes: 1 min is below what this site can achieve")
    assert "DNS path 120 s = detection 40 s + actions 10 s + database promotion 0 s + switch 40 s + TTL 30 s" in problem
    assert "declare at least 2" in problem
    assert run.registrations == []


def test_the_settings_the_orchestrator_writes_are_declared_where_it_writes_them(prod: Run) -> None:
    """active-region in both Regions, active-bucket/<logical> in the recovery Region, with their initial values;
    a failover's value survives the next `pulumi up`, `pulumi destroy` removes them, and the orchestrator waits."""
    settings = [r for r in prod.of_type(PARAMETER) if "site-settings" in r.urn]
    declared = {(r.inputs["name"], r.inputs["region"]): r for r in settings}
    assert set(declared) == {
        ("/dr/distronation/active-region", "us-east-1"),
        ("/dr/distronation/active-region", "us-west-2"),
        ("/dr/distronation/active-epoch", "us-east-1"),
        ("/dr/distronation/active-epoch", "us-west-2"),
        ("/dr/distronation/active-bucket/audio", "us-west-2"),
        ("/dr/distronation/active-bucket/uploads", "us-west-2"),
    }
    for (name, region), parameter in declared.items():
        value = parameter.inputs["value"]  # pulumi-aws marks a parameter's value secret
        initial = {"active-region": "us-east-1", "active-epoch": "0"}.get(
            name.rsplit("/", 1)[1], f"distronation-prod-{name.rsplit('/', 1)[1]}-us-east-1"
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
    assert len(names) == len(set(names)) == 6


# Every resource FailoverSite registered before it was split into child components (06673cf), by type and name.
EARLIER_CHILDREN = {
    (HEALTH_CHECK, "site-api-primary"),
    (HEALTH_CHECK, "site-api-secondary"),
    (HEALTH_CHECK, "site-api-switch"),
    (ALARM, "site-api-switch"),
    (ALARM, "site-api-switch-silent"),
    (ALARM, "site-api-primary-status"),
    (ALARM, "site-api-secondary-status"),
    (ALARM, "site-api-switch-status"),
    (RECORD, "site-api-primary"),
    (RECORD, "site-api-secondary"),
    (TABLE, "site-api-lock"),
    (PARAMETER, "site-api-descriptor"),
    (DASHBOARD, "site-api-dashboard"),
    ("dr:runtime:RecoveryFunction", "site-api-orchestrator"),
}
EARLIER_ORCHESTRATOR_CHILDREN = {
    ("aws:cloudwatch/logGroup:LogGroup", "site-api-orchestrator-logs"),
    ("aws:iam/role:Role", "site-api-orchestrator"),
    (POLICY, "site-api-orchestrator-policy"),
    (FUNCTION, "site-api-orchestrator"),
    (RULE, "site-api-orchestrator"),
    (PERMISSION, "site-api-orchestrator"),
    ("aws:cloudwatch/eventTarget:EventTarget", "site-api-orchestrator"),
}


def _chain(urn: str) -> str:
    """The type chain of a URN; the mock monitor's URNs leave out the root stack, the SDK's alias specs do not."""
    return urn.split("::")[2].removeprefix("pulumi:pulumi:Stack$")


def test_every_earlier_resource_keeps_its_urn_through_an_alias(prod: Run) -> None:
    """What the engine matches on `pulumi up`: a child's alias names the FailoverSite as its former parent; a
    moved component's children inherit its alias (same names), so their URNs are the ones they had."""
    urns = prod.by_urn()
    [site] = [r for r in prod.registrations if r.type == "dr:site:FailoverSite"]
    prefix = site.urn.rsplit("::", 2)[0]

    def former_urn(registration: Registration) -> str:
        parent_aliases = [a["spec"]["parentUrn"] for a in registration.aliases if "parentUrn" in a.get("spec", {})]
        chain = _chain(parent_aliases[0] if parent_aliases else former_urn(urns[registration.parent]))
        return f"{prefix}::{chain}${registration.type}::{registration.name}"

    expected = {(t, n): f"{prefix}::{_chain(site.urn)}${t}::{n}" for t, n in EARLIER_CHILDREN} | {
        (t, n): f"{prefix}::{_chain(site.urn)}$dr:runtime:RecoveryFunction${t}::{n}"
        for t, n in EARLIER_ORCHESTRATOR_CHILDREN
    }
    found = {
        (r.type, r.name): former_urn(r) if r.parent != site.urn else r.urn
        for r in prod.descendants_of(site.urn)
        if (r.type, r.name) in expected
    }
    assert found == expected
