"""The one place that computes a FailoverSite's RTO budget (docs/runbooks/failover.md, "RTO budget").

DNS path         = detection + switch latency + record TTL
application path = detection + the orchestrator's actions (database promotion included) + the app's config refresh
RTO              = the larger of the two

Detection is the orchestrator's own probing: ``failureThreshold`` consecutive failed rounds, ``probeInterval``
apart, plus the gap before the next scheduled run picks the count up (the count survives between runs in the lock
table, so a failure that straddles two runs is not counted twice). Every constant below is either cited or an
upper bound to be replaced by the figure a drill measures; each says which.

Dependency-free on purpose: the config validator, the component, ``benchmarks/failover.py`` and ``drctl status``
use it; the policy pack cannot import repository code, so it carries the same table as its config defaults and
``tests/policies/test_site_objectives.py`` proves the two tables are equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Switch = Literal["cloudwatch", "arc"]
DatabaseEngine = Literal["aurora-global", "rds-replica"]

# name -> (seconds, source). Keys are the pack's config names (policies/dr_guardrails/catalog.py).
CONSTANTS: dict[str, tuple[int, str]] = {
    # EventBridge's finest schedule is one minute; each run probes for 55 s, so a new run starts within about 5 s
    # of the previous run's last probe (Lambda start included). Upper bound; a drill measures it.
    "scheduleGapSeconds": (
        10,
        "EventBridge rate(1 minute) schedule, 55 s probing window per run "
        "(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html)",
    ),
    # Route 53 alarm-based health checks accept only standard-resolution metrics, whose finest period is 60 s.
    "metricPeriodSeconds": (
        60,
        "Route 53 supports alarms on standard-resolution metrics only "
        "(https://docs.aws.amazon.com/Route53/latest/APIReference/API_AlarmIdentifier.html)",
    ),
    # CloudWatch evaluates a 60 s alarm once the period's datapoint is in; upper bound, measured by a drill.
    "alarmEvaluationSeconds": (
        30,
        "CloudWatch alarm evaluation of a 60 s period (upper bound until a drill measures it; "
        "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html)",
    ),
    # Route 53 health checkers read the alarm's data stream; upper bound, measured by a drill.
    "route53AlarmRefreshSeconds": (
        30,
        "Route 53 health check on a CloudWatch alarm follows the alarm's data stream (upper bound until a drill "
        "measures it; https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/health-checks-creating-values.html)",
    ),
    # An ARC routing control state change reaches Route 53's data plane in seconds.
    "routingControlSeconds": (
        5,
        "Route 53 ARC routing controls are data-plane state read by Route 53 health checks "
        "(https://docs.aws.amazon.com/r53recovery/latest/dg/routing-control.failover-different-accounts.html)",
    ),
    # Writing the settings (two SSM regions), the lock and the metric: a handful of API calls.
    "orchestratorActionSeconds": (
        10,
        "measured on moto by benchmarks/failover.py (about 0.1 s); 10 s covers real API latency and retries",
    ),
    # Database promotion defaults when a site declares none.
    "auroraGlobalFailoverSeconds": (
        120,
        "Aurora global database managed failover, typically 1-2 min "
        "(https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-disaster-recovery.html)",
    ),
    "rdsPromoteReplicaSeconds": (
        600,
        "RDS read-replica promotion takes several minutes, more with a backlog "
        "(https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReadRepl.Promote.html)",
    ),
}


def constant(name: str) -> int:
    return CONSTANTS[name][0]


@dataclass(frozen=True)
class BudgetInputs:
    probe_interval_seconds: int
    failure_threshold: int
    ttl_seconds: int
    config_refresh_seconds: int
    switch: Switch = "cloudwatch"
    database: DatabaseEngine | None = None
    promotion_seconds: int | None = None  # overrides the engine's default

    def promotion(self) -> int:
        if self.database is None:
            return 0
        if self.promotion_seconds is not None:
            return self.promotion_seconds
        return constant(
            "auroraGlobalFailoverSeconds" if self.database == "aurora-global" else "rdsPromoteReplicaSeconds"
        )


@dataclass(frozen=True)
class Budget:
    """Each term in seconds, and the arithmetic as text."""

    detection: int
    switch: int
    ttl: int
    actions: int
    promotion: int
    config_refresh: int

    @property
    def dns_path(self) -> int:
        return self.detection + self.switch + self.ttl

    @property
    def app_path(self) -> int:
        return self.detection + self.actions + self.promotion + self.config_refresh

    @property
    def rto_seconds(self) -> int:
        return max(self.dns_path, self.app_path)

    @property
    def rto_minutes(self) -> int:
        return -(-self.rto_seconds // 60)  # a declared RTO is whole minutes, so round up

    def as_dict(self) -> dict[str, int]:
        return {
            "detectionSeconds": self.detection,
            "switchSeconds": self.switch,
            "ttlSeconds": self.ttl,
            "actionsSeconds": self.actions,
            "promotionSeconds": self.promotion,
            "configRefreshSeconds": self.config_refresh,
            "dnsPathSeconds": self.dns_path,
            "appPathSeconds": self.app_path,
            "rtoSeconds": self.rto_seconds,
            "rtoMinutes": self.rto_minutes,
        }

    def explain(self) -> str:
        return (
            f"DNS path {self.dns_path} s = detection {self.detection} s + switch {self.switch} s + TTL {self.ttl} s; "
            f"application path {self.app_path} s = detection {self.detection} s + actions {self.actions} s + "
            f"database promotion {self.promotion} s + config refresh {self.config_refresh} s; "
            f"budget = {self.rto_seconds} s = {self.rto_minutes} min"
        )


def detection_seconds(inputs: BudgetInputs, constants: dict[str, int] | None = None) -> int:
    table = constants or {name: value for name, (value, _) in CONSTANTS.items()}
    return inputs.failure_threshold * inputs.probe_interval_seconds + table["scheduleGapSeconds"]


def budget(inputs: BudgetInputs, constants: dict[str, int] | None = None) -> Budget:
    """The site's RTO budget; ``constants`` overrides the table (the pack passes its configured values)."""
    table = {name: value for name, (value, _) in CONSTANTS.items()} | (constants or {})
    if inputs.switch == "arc":
        switch = table["routingControlSeconds"]
    else:
        switch = table["metricPeriodSeconds"] + table["alarmEvaluationSeconds"] + table["route53AlarmRefreshSeconds"]
    return Budget(
        detection=detection_seconds(inputs, table),
        switch=switch,
        ttl=inputs.ttl_seconds,
        actions=table["orchestratorActionSeconds"],
        promotion=inputs.promotion(),
        config_refresh=inputs.config_refresh_seconds,
    )
