"""The site as plain data: derived names, linked stores and the site descriptor (``/dr/<app>/site/<name>``).

The component writes the descriptor (components/site.py) and a local drill builds the same from config
(handlers/cli/drill_stack.py), so both import it from here, where no pulumi is imported. ``lock_table`` and a
table's name may be a Pulumi output in the program (typed ``Any`` here).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from handlers.runtime_names import RECOVERY_METRICS_NAMESPACE as METRICS_NAMESPACE
from stackmodel.config.sites import Endpoint, SiteSpec
from stackmodel.config.stack import StackSettings

SWITCH_METRIC = "FailoverSwitch"  # 1 = failed over (PRIMARY unhealthy), 0 = primary active

# --- the orchestrator's bounded rounds (docs/design/failover-and-rehearsal.md §1) ------------------------------
# One value each for the component (function timeout) and the rehearsal's timeout-enforcing runner.
ORCHESTRATOR_SCHEDULE = "rate(1 minute)"  # EventBridge's finest
SCHEDULE_SECONDS = 60
RUN_SECONDS = 55  # an invocation starts no round after this: the next invocation takes over
PROBE_TIMEOUT_SECONDS = 5  # each of a round's two reads: the primary's endpoint and probe.<record>
# The worst-case round: both probes time out (2 x 5 s), one action step (one AWS call with standard retries,
# handlers/aws.py, about 5 s) and one state write (1 s), plus 4 s margin.
ROUND_BUDGET_SECONDS = 20
# Cold start, log flush and the lock release after the last round, and a last round slower than its budget (a
# call retried with standard backoff; the scaled rehearsal measured rounds of 29 s and killed invocations at 15 s).
# The timeout stays under two schedule periods, so the default reserved concurrency of 2 is never exceeded.
TIMEOUT_MARGIN_SECONDS = 35
ORCHESTRATOR_TIMEOUT_SECONDS = RUN_SECONDS + ROUND_BUDGET_SECONDS + TIMEOUT_MARGIN_SECONDS  # 110

# --- the switch endpoint (§2) and its Route 53 checks (§3) -------------------------------------------------------
SWITCH_FUNCTION_TIMEOUT_SECONDS = 3  # checkers wait 4 s to connect and 2 s for the status line; never longer
SWITCH_FUNCTION_MEMORY_MB = 256  # a GetItem and a small answer; more memory only shortens a cold start
SWITCH_PATH = "/"  # answers the site's switch (lock table item pk "state")
DRILL_SWITCH_PATH = "/drill"  # answers the drill record's switch (lock table item pk "drill")
DRILL_SWITCH_ITEM = "drill"
SWITCH_CHECK_INTERVAL_SECONDS = 10  # Route 53's fast interval
SWITCH_CHECK_FAILURE_THRESHOLD = 1
SWITCH_CHECK_PORT = 443


def drill_record_name(record_name: str) -> str:
    return f"drill.{record_name}"


def probe_record_name(record_name: str) -> str:
    return f"probe.{record_name}"


def switch_function_name(name_prefix: str, site: str) -> str:
    return f"{name_prefix}-{site}-switch"[:64]


def site_drill_switch_alarm_name(name_prefix: str, site: str) -> str:
    return f"{name_prefix}-{site}-drill-switch"


def active_region_parameter(app: str) -> str:
    return f"/dr/{app}/active-region"


def active_epoch_parameter(app: str) -> str:
    """The fencing token written with active-region (docs/design/failover-and-rehearsal.md §1)."""
    return f"/dr/{app}/active-epoch"


def active_bucket_parameter(app: str, logical: str) -> str:
    return f"/dr/{app}/active-bucket/{logical}"


def site_parameter(app: str, site: str) -> str:
    return f"/dr/{app}/site/{site}"


@dataclass(frozen=True)
class LinkedBucket:
    """A tier-1 bucket the site depends on: the application reads ``active-bucket/<logical>``."""

    logical: str
    primary_name: str
    primary_region: str
    replica_name: str
    replica_region: str


@dataclass(frozen=True)
class LinkedTable:
    """A global table the site depends on (the stack's TableSpec, as plain data): replicas checked before failover."""

    logical: str
    table_name: Any
    regions: tuple[str, ...]
    strong: bool = False  # MRSC: synchronous, so no ReplicationLatency metric


def linked_stores(settings: StackSettings, site: SiteSpec) -> tuple[list[LinkedBucket], list[LinkedTable]]:
    """The site's linked buckets and tables, resolved from the stack's typed config."""
    buckets = {spec.name: spec for spec in settings.buckets}
    tables = {spec.name: spec for spec in settings.tables}
    return (
        [
            LinkedBucket(
                logical=name,
                primary_name=buckets[name].primary_bucket_name,
                primary_region=settings.primary_region,
                replica_name=buckets[name].replica_bucket_name or "",
                replica_region=settings.recovery_region,
            )
            for name in site.buckets
        ],
        [
            LinkedTable(name, tables[name].table_name, tables[name].regions, tables[name].consistency_mode == "STRONG")
            for name in site.tables
        ],
    )


def site_switch_alarm_name(name_prefix: str, site: str) -> str:
    return f"{name_prefix}-{site}-failover-switch"


def site_lock_table_name(name_prefix: str, site: str) -> str:
    return f"{name_prefix}-{site}-failover-lock"


def cloudwatch_switch(
    app: str, name_prefix: str, site: str, recovery_region: str, *, drill: bool = False
) -> dict[str, Any]:
    """How the orchestrator flips the CloudWatch switch: the metric it publishes and the alarm Route 53 reads.
    The drill record's alarm reads the same metric under its own ``Site`` value (``<app>/<site>/drill``)."""
    return {
        "kind": "cloudwatch",
        "namespace": METRICS_NAMESPACE,
        "metricName": SWITCH_METRIC,
        "dimensions": {"Site": f"{app}/{site}/drill" if drill else f"{app}/{site}"},
        "alarmName": site_drill_switch_alarm_name(name_prefix, site)
        if drill
        else site_switch_alarm_name(name_prefix, site),
        "region": recovery_region,
    }


def endpoint_switch(
    app: str, name_prefix: str, site: str, recovery_region: str, *, url: Any, host: Any, drill: bool = False
) -> dict[str, Any]:
    """The switch endpoint (a Lambda function URL in the recovery Region; ``url``/``host`` are outputs in the
    program) together with the alarm the calculated check keeps as its fail-static child."""
    return {
        **cloudwatch_switch(app, name_prefix, site, recovery_region, drill=drill),
        "kind": "endpoint",
        "url": url,
        "host": host,
        "path": DRILL_SWITCH_PATH if drill else SWITCH_PATH,
        "item": DRILL_SWITCH_ITEM if drill else "state",
    }


def describe_site(
    spec: SiteSpec,
    *,
    app: str,
    primary_region: str,
    recovery_region: str,
    buckets: Sequence[LinkedBucket],
    tables: Sequence[LinkedTable],
    switch: Mapping[str, Any],
    lock_table: Any,
    topic_arn: Any | None,
    drill_switch: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The site descriptor (``/dr/<app>/site/<name>``) that the orchestrator and drctl read
    (handlers/failover/site.py): the component writes it, and a local drill builds the same from config."""
    return {
        "name": spec.name,
        "app": app,
        "primaryRegion": primary_region,
        "recoveryRegion": recovery_region,
        "hostedZoneId": spec.hosted_zone_id,
        "recordName": spec.record_name,
        "recordType": spec.record_type,
        "ttlSeconds": spec.ttl_seconds,
        "primary": _endpoint(spec.primary),
        "secondary": _endpoint(spec.secondary),
        "probeIntervalSeconds": spec.probe_interval_seconds,
        "failureThreshold": spec.failure_threshold,
        "healthyMinutesBeforeFailback": spec.healthy_minutes_before_failback,
        "rpoMinutes": spec.rpo_minutes,
        "rtoMinutes": spec.rto_minutes,
        "autoDnsFailover": spec.auto_dns_failover,
        "switch": switch,
        # The drill record flips on its own switch (drctl drill --scenario switch-latency); production never moves.
        "drill": {"recordName": drill_record_name(spec.record_name), "switch": drill_switch},
        # Route 53's own verdict on the primary, read through DNS: the second vantage point (design §4).
        "probe": {"recordName": probe_record_name(spec.record_name)},
        "parameters": {
            "activeRegion": active_region_parameter(app),
            "activeEpoch": active_epoch_parameter(app),
            "activeBuckets": {b.logical: active_bucket_parameter(app, b.logical) for b in buckets},
        },
        "lockTable": lock_table,
        "topicArn": topic_arn,
        "metricsNamespace": METRICS_NAMESPACE,
        "buckets": [
            {
                "logical": b.logical,
                "primary": b.primary_name,
                "primaryRegion": b.primary_region,
                "replica": b.replica_name,
                "replicaRegion": b.replica_region,
            }
            for b in buckets
        ],
        "tables": [{"logical": t.logical, "name": t.table_name, "regions": list(t.regions)} for t in tables],
        "database": None
        if spec.database is None
        else {
            "engine": spec.database.engine,
            "identifier": spec.database.identifier,
            "globalClusterIdentifier": spec.database.global_cluster_identifier,
        },
        "budget": spec.budget.as_dict(),
    }


def _endpoint(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "host": endpoint.host,
        "url": endpoint.url,
        "port": endpoint.port,
        "path": endpoint.path,
        "protocol": endpoint.protocol,
        "isIp": endpoint.is_ip,
    }


# --- the Route 53 plan (docs/design/failover-and-rehearsal.md §3) ------------------------------------------------
# Plain data in botocore's shapes, read by the component (components/site_checks.py builds aws.route53 resources
# from it) and by the rehearsal's provisioner (CreateHealthCheck, PutMetricAlarm, ChangeResourceRecordSets on moto):
# one description of what Route 53 evaluates, whichever side builds it.


@dataclass(frozen=True)
class CheckSpec:
    """One health check: ``config`` is a botocore ``HealthCheckConfig``; ``ChildHealthChecks`` holds logical
    names, resolved to ids at creation. ``protect``: replacing it while failed over would send DNS back (a new
    check has no last status and reads healthy), so Pulumi must refuse to delete it."""

    logical: str
    config: dict[str, Any]
    protect: bool = False


@dataclass(frozen=True)
class AlarmSpec:
    """The switch alarm an alarm-based check names, as botocore's ``PutMetricAlarm`` request (actions left to the
    caller). Route 53 copies period, statistic, threshold, comparison and evaluation periods into the check."""

    logical: str
    config: dict[str, Any]


@dataclass(frozen=True)
class RecordSpec:
    name: str
    type: str
    set_identifier: str
    failover: str  # PRIMARY | SECONDARY
    check_logical: str | None
    value: str
    ttl: int

    def resource_record_set(self, check_ids: Mapping[str, str]) -> dict[str, Any]:
        """botocore's ``ResourceRecordSet`` for ``ChangeResourceRecordSets``, with the check's id."""
        record: dict[str, Any] = {
            "Name": self.name,
            "Type": self.type,
            "SetIdentifier": self.set_identifier,
            "Failover": self.failover,
            "TTL": self.ttl,
            "ResourceRecords": [{"Value": self.value}],
        }
        if self.check_logical is not None:
            record["HealthCheckId"] = check_ids[self.check_logical]
        return record


@dataclass(frozen=True)
class Route53Plan:
    checks: tuple[CheckSpec, ...]
    alarms: tuple[AlarmSpec, ...]
    records: tuple[RecordSpec, ...]

    def check(self, logical: str) -> CheckSpec:
        return next(c for c in self.checks if c.logical == logical)

    def record(self, name: str, failover: str) -> RecordSpec:
        return next(r for r in self.records if r.name == name and r.failover == failover)


def _endpoint_check(endpoint: Mapping[str, Any], interval: int, threshold: int) -> dict[str, Any]:
    config: dict[str, Any] = {
        "Type": endpoint["protocol"],
        "Port": endpoint["port"],
        "ResourcePath": endpoint["path"],
        "RequestInterval": interval,
        "FailureThreshold": threshold,
    }
    if endpoint["isIp"]:
        config["IPAddress"] = endpoint["host"]
    else:
        config["FullyQualifiedDomainName"] = endpoint["host"]
        if endpoint["protocol"] == "HTTPS":
            config["EnableSNI"] = True  # the endpoint's certificate is chosen by name
    return config


def switch_alarm(logical: str, switch: Mapping[str, Any]) -> AlarmSpec:
    return AlarmSpec(
        logical,
        {
            "AlarmName": switch["alarmName"],
            "Namespace": switch["namespace"],
            "MetricName": switch["metricName"],
            "Dimensions": [{"Name": k, "Value": v} for k, v in switch["dimensions"].items()],
            "Statistic": "Maximum",  # Route 53 accepts no extended statistics
            "Period": 60,  # standard resolution: Route 53 alarm-based checks accept nothing finer
            "EvaluationPeriods": 1,
            "Threshold": 1.0,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "missing",  # not read by Route 53; the alarm's own state for the console
        },
    )


def _switch_checks(prefix: str, switch: Mapping[str, Any]) -> tuple[list[CheckSpec], list[AlarmSpec], str]:
    """The checks behind one switch and the logical name of the one a PRIMARY record uses."""
    kind = switch["kind"]
    if kind == "arc":
        checks = [
            CheckSpec(
                f"{prefix}arc-{role}",
                {"Type": "RECOVERY_CONTROL", "RoutingControlArn": switch[key]},
                protect=True,
            )
            for role, key in (("primary", "routingControlArn"), ("secondary", "secondaryRoutingControlArn"))
        ]
        return checks, [], f"{prefix}arc-primary"
    alarm_check = CheckSpec(
        f"{prefix}switch-alarm",
        {
            "Type": "CLOUDWATCH_METRIC",
            "AlarmIdentifier": {"Region": switch["region"], "Name": switch["alarmName"]},
            # A new check with no data would read healthy; LastKnownStatus keeps DNS where the switch put it.
            "InsufficientDataHealthStatus": "LastKnownStatus",
        },
        protect=True,
    )
    alarms = [switch_alarm(f"{prefix}switch-alarm", switch)]
    if kind == "cloudwatch":
        return [alarm_check], alarms, alarm_check.logical
    endpoint_check = CheckSpec(
        f"{prefix}switch-endpoint",
        {
            "Type": "HTTPS",
            "FullyQualifiedDomainName": switch["host"],
            "Port": SWITCH_CHECK_PORT,
            "ResourcePath": switch["path"],
            "RequestInterval": SWITCH_CHECK_INTERVAL_SECONDS,
            "FailureThreshold": SWITCH_CHECK_FAILURE_THRESHOLD,
            "Inverted": True,  # 200 "failed-over" makes the check unhealthy, so PRIMARY fails over
            "EnableSNI": True,  # function URLs serve many hosts on one address
        },
        protect=True,
    )
    calculated = CheckSpec(
        f"{prefix}switch",
        {
            "Type": "CALCULATED",
            "ChildHealthChecks": [endpoint_check.logical, alarm_check.logical],
            # Both children must say "primary": either saying "failed over" fails over (the endpoint is the fast
            # path); an unreachable endpoint reads healthy when inverted, so the alarm child holds DNS put.
            "HealthThreshold": 2,
        },
        protect=True,
    )
    return [endpoint_check, alarm_check, calculated], alarms, calculated.logical


def route53_plan(descriptor: Mapping[str, Any]) -> Route53Plan:
    """Every health check, switch alarm and failover record of a site, from its descriptor (``describe_site``)."""
    primary, secondary = descriptor["primary"], descriptor["secondary"]
    interval, threshold = descriptor["probeIntervalSeconds"], descriptor["failureThreshold"]
    kind = descriptor["recordType"]
    ttl = descriptor["ttlSeconds"]
    checks, alarms, switch_logical = _switch_checks("", descriptor["switch"])
    # Route 53's own view of each endpoint: the primary's is the second vantage point (probe.<record>) and, with
    # autoDnsFailover, a child of the PRIMARY record's check; the secondary's feeds the advisory alarm only.
    checks.append(CheckSpec("probe-primary", _endpoint_check(primary, interval, threshold)))
    checks.append(CheckSpec("secondary", _endpoint_check(secondary, interval, threshold)))
    primary_logical = switch_logical
    if descriptor["autoDnsFailover"]:
        switch_children = (
            ["switch-endpoint", "switch-alarm"] if descriptor["switch"]["kind"] == "endpoint" else [switch_logical]
        )
        children = [*switch_children, "probe-primary"]
        checks.append(
            CheckSpec(
                "primary-calculated",
                # Stateless sites only: any child unhealthy fails over, so DNS may move on Route 53's own
                # verdict before the orchestrator moves the settings. Flat (no calculated child).
                {"Type": "CALCULATED", "ChildHealthChecks": children, "HealthThreshold": len(children)},
                protect=True,
            )
        )
        primary_logical = "primary-calculated"
    record = descriptor["recordName"]
    site = descriptor["name"]
    records = [
        RecordSpec(record, kind, f"{site}-primary", "PRIMARY", primary_logical, primary["host"], ttl),
        RecordSpec(
            record,
            kind,
            f"{site}-secondary",
            "SECONDARY",
            "arc-secondary" if descriptor["switch"]["kind"] == "arc" else None,
            secondary["host"],
            ttl,
        ),
    ]
    drill = descriptor.get("drill") or {}
    if drill.get("switch"):
        drill_checks, drill_alarms, drill_logical = _switch_checks("drill-", drill["switch"])
        checks += drill_checks
        alarms += drill_alarms
        records += [
            RecordSpec(
                drill["recordName"], kind, f"{site}-drill-primary", "PRIMARY", drill_logical, primary["host"], ttl
            ),
            # No check on the SECONDARY: when it is unhealthy Route 53 answers with the PRIMARY whatever its health.
            RecordSpec(drill["recordName"], kind, f"{site}-drill-secondary", "SECONDARY", None, secondary["host"], ttl),
        ]
    probe = descriptor["probe"]["recordName"]
    records += [
        RecordSpec(probe, kind, f"{site}-probe-primary", "PRIMARY", "probe-primary", primary["host"], ttl),
        RecordSpec(probe, kind, f"{site}-probe-secondary", "SECONDARY", None, secondary["host"], ttl),
    ]
    return Route53Plan(tuple(checks), tuple(alarms), tuple(records))
