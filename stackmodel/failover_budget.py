"""The one place that computes a FailoverSite's RTO budget (docs/runbooks/failover.md, "RTO budget").

Every term is labelled: ``documented`` (an AWS page states the figure; the source quotes it), ``configured`` (the
site's own key), ``estimate`` (no AWS page gives it: measure it with a drill) or ``measured`` (a drill's figure,
declared in the stack config). The orchestrator's actions run in the order of docs/design/failover-and-rehearsal.md:
the database and the settings move **before** the switch, so both paths carry them.

detection        = failureThreshold x probeInterval (configured) + the schedule gap between invocations (estimate)
DNS path         = detection + actions + database promotion + switch + record TTL
  switch         = endpoint: the inverted switch check's verdict (RequestInterval 10 x FailureThreshold 1,
                   documented) + the checkers' verdict reaching Route 53's name servers (estimate until the
                   drill record measures it)
                   cloudwatch: metric period (documented) + Route 53's read of the metric stream (estimate) + the
                   name-server delay; arc: the routing control (estimate) + the name-server delay
  autoDnsFailover adds its own path (DNS moves on Route 53's own endpoint check of the primary, without the
                   orchestrator): failureThreshold x probeInterval + name-server delay + TTL; DNS takes the shorter
application path = detection + actions + database promotion + the application's config refresh
RTO              = the larger of the DNS and application paths

Alarm evaluation is not on any path: an alarm-based health check reads the alarm's metric data stream with its own
copy of the alarm's settings, never the alarm's state (Route 53 Developer Guide, "How Amazon Route 53 determines
whether a health check is healthy").

Dependency-free on purpose: the config validator, the component, ``benchmarks/failover.py`` and ``drctl status``
use it; the policy pack cannot import repository code, so it carries the same table as its config defaults and
``tests/policies/test_site_objectives.py`` proves the two tables equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Switch = Literal["endpoint", "cloudwatch", "arc"]
DatabaseEngine = Literal["aurora-global", "rds-replica"]
Label = Literal["documented", "configured", "estimate", "measured"]

ROUTE53_HEALTH = (
    "https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html"
)


@dataclass(frozen=True)
class Constant:
    seconds: int
    label: Label
    source: str  # documented: the page and the sentence's figure; estimate: what measures it


# Keys are the pack's config names (policies/dr_guardrails/catalog.py) except the database defaults.
CONSTANTS: dict[str, Constant] = {
    "scheduleGapSeconds": Constant(
        10,
        "estimate",
        "the gap between one orchestrator invocation's last round and the next one's first (EventBridge rate(1 "
        "minute), rounds until ROUND_BUDGET_SECONDS remain, stackmodel/site.py); measure with a drill "
        "(DetectionSeconds metric)",
    ),
    "orchestratorActionSeconds": Constant(
        10,
        "estimate",
        "begin, database, settings and switch, one bounded round each, run back to back once detection is confirmed; "
        "SwitchSeconds median 0.39 s over 5 runs on moto (benchmarks/failover.py), real API latency unmeasured; "
        "measure with a drill (SwitchSeconds + TransitionSeconds metrics)",
    ),
    "switchCheckSeconds": Constant(
        10,
        "documented",
        f"{ROUTE53_HEALTH}: health checkers send requests 'every 10 seconds or every 30 seconds'; the switch check "
        "uses RequestInterval 10 and FailureThreshold 1 (API_HealthCheckConfig: failure threshold 1-10)",
    ),
    "nameServerDelaySeconds": Constant(
        30,
        "estimate",
        "the checkers' verdict reaching the answers of Route 53's name servers: no AWS page gives it; measure with "
        "`drctl drill --stack NAME --scenario switch-latency` on the drill record and declare the p95 as the site's "
        "measuredNameServerDelaySeconds",
    ),
    "metricPeriodSeconds": Constant(
        60,
        "documented",
        "https://docs.aws.amazon.com/Route53/latest/APIReference/API_AlarmIdentifier.html: Route 53 supports "
        "'standard-resolution metrics' only, whose period is 60 seconds (CloudWatch User Guide, 'Metrics concepts': "
        "standard resolution, one-minute granularity)",
    ),
    "route53AlarmCheckSeconds": Constant(
        60,
        "estimate",
        "Route 53 reading the alarm's metric data stream after the period closes: no AWS page gives it; measure "
        "with the switch-latency drill on a site with switch 'cloudwatch'",
    ),
    "routingControlSeconds": Constant(
        5,
        "estimate",
        "an ARC routing-control state change reaching its RECOVERY_CONTROL health check: no AWS page gives it; "
        "measure with the switch-latency drill on a site with switch 'arc'",
    ),
    # Database promotion when a site declares no promotionSeconds: estimates, declare your own from a drill.
    "auroraGlobalFailoverSeconds": Constant(
        120,
        "estimate",
        "Aurora global database managed failover; depends on the cluster: declare database.promotionSeconds from a "
        "drill (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-disaster-recovery.html)",
    ),
    "rdsPromoteReplicaSeconds": Constant(
        600,
        "estimate",
        "RDS read-replica promotion; depends on the backlog: declare database.promotionSeconds from a drill "
        "(https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReadRepl.Promote.html)",
    ),
}
# The pack's config keys: every constant on a path it recomputes (database defaults arrive as the promotion tag).
PACK_CONSTANTS = tuple(name for name in CONSTANTS if not name.endswith(("FailoverSeconds", "ReplicaSeconds")))


def constant(name: str) -> int:
    return CONSTANTS[name].seconds


@dataclass(frozen=True)
class BudgetInputs:
    probe_interval_seconds: int
    failure_threshold: int
    ttl_seconds: int
    config_refresh_seconds: int
    switch: Switch = "endpoint"
    database: DatabaseEngine | None = None
    promotion_seconds: int | None = None  # overrides the engine's default
    auto_dns_failover: bool = False
    measured_name_server_delay_seconds: int | None = None  # a drill's p95; replaces the estimate

    def promotion(self) -> int:
        if self.database is None:
            return 0
        if self.promotion_seconds is not None:
            return self.promotion_seconds
        return constant(
            "auroraGlobalFailoverSeconds" if self.database == "aurora-global" else "rdsPromoteReplicaSeconds"
        )

    def promotion_label(self) -> Label:
        return "configured" if self.database is None or self.promotion_seconds is not None else "estimate"


@dataclass(frozen=True)
class Term:
    name: str
    seconds: int
    label: Label
    source: str


@dataclass(frozen=True)
class Budget:
    """Each term in seconds, labelled, and the arithmetic as text."""

    detection: int
    actions: int
    promotion: int
    switch: int
    ttl: int
    config_refresh: int
    auto_dns: int | None = None  # autoDnsFailover's own DNS path, when the site has it
    terms: tuple[Term, ...] = ()

    @property
    def switched_dns_path(self) -> int:
        return self.detection + self.actions + self.promotion + self.switch + self.ttl

    @property
    def dns_path(self) -> int:
        if self.auto_dns is None:
            return self.switched_dns_path
        return min(self.switched_dns_path, self.auto_dns)

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
        figures = {
            "detectionSeconds": self.detection,
            "actionsSeconds": self.actions,
            "promotionSeconds": self.promotion,
            "switchSeconds": self.switch,
            "ttlSeconds": self.ttl,
            "configRefreshSeconds": self.config_refresh,
            "dnsPathSeconds": self.dns_path,
            "appPathSeconds": self.app_path,
            "rtoSeconds": self.rto_seconds,
            "rtoMinutes": self.rto_minutes,
        }
        if self.auto_dns is not None:
            figures["autoDnsPathSeconds"] = self.auto_dns
        return figures

    def explain(self) -> str:
        dns = (
            f"DNS path {self.switched_dns_path} s = detection {self.detection} s + actions {self.actions} s + "
            f"database promotion {self.promotion} s + switch {self.switch} s + TTL {self.ttl} s"
        )
        if self.auto_dns is not None:
            dns += f"; autoDnsFailover path {self.auto_dns} s (DNS takes {self.dns_path} s)"
        return (
            f"{dns}; application path {self.app_path} s = detection {self.detection} s + actions {self.actions} s + "
            f"database promotion {self.promotion} s + config refresh {self.config_refresh} s; "
            f"budget = {self.rto_seconds} s = {self.rto_minutes} min"
        )


def _table(constants: dict[str, int] | None) -> dict[str, int]:
    return {name: c.seconds for name, c in CONSTANTS.items()} | (constants or {})


def budget(inputs: BudgetInputs, constants: dict[str, int] | None = None) -> Budget:
    """The site's RTO budget; ``constants`` overrides the table (the pack passes its configured values)."""
    table = _table(constants)

    def documented(name: str) -> Term:
        return Term(name, table[name], CONSTANTS[name].label, CONSTANTS[name].source)

    checkers = inputs.failure_threshold * inputs.probe_interval_seconds
    probing = Term(
        "failureThreshold x probeIntervalSeconds",
        checkers,
        "configured",
        "the site's probeIntervalSeconds x failureThreshold",
    )
    if inputs.measured_name_server_delay_seconds is not None:
        name_servers = Term(
            "nameServerDelaySeconds",
            inputs.measured_name_server_delay_seconds,
            "measured",
            "the site's measuredNameServerDelaySeconds (p95 of `drctl drill --scenario switch-latency`)",
        )
    else:
        name_servers = documented("nameServerDelaySeconds")
    switch_terms = {
        "endpoint": (documented("switchCheckSeconds"), name_servers),
        "cloudwatch": (documented("metricPeriodSeconds"), documented("route53AlarmCheckSeconds"), name_servers),
        "arc": (documented("routingControlSeconds"), name_servers),
    }[inputs.switch]
    promotion = Term(
        "promotionSeconds",
        inputs.promotion(),
        inputs.promotion_label(),
        "no database" if inputs.database is None else f"{inputs.database} promotion (database.promotionSeconds)",
    )
    terms = (
        probing,
        documented("scheduleGapSeconds"),
        documented("orchestratorActionSeconds"),
        promotion,
        *switch_terms,
        Term(
            "ttlSeconds", inputs.ttl_seconds, "configured", "the site's ttlSeconds (counts in full in the worst case)"
        ),
        Term("configRefreshSeconds", inputs.config_refresh_seconds, "configured", "the site's configRefreshSeconds"),
    )
    return Budget(
        detection=checkers + table["scheduleGapSeconds"],
        actions=table["orchestratorActionSeconds"],
        promotion=inputs.promotion(),
        switch=sum(term.seconds for term in switch_terms),
        ttl=inputs.ttl_seconds,
        config_refresh=inputs.config_refresh_seconds,
        auto_dns=checkers + name_servers.seconds + inputs.ttl_seconds if inputs.auto_dns_failover else None,
        terms=terms,
    )
