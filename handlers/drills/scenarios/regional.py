"""Loss of the primary region: the FailoverSite's orchestrator fails the site over, and service comes from replicas.

It drives ``handlers.failover.orchestrator`` with the site's descriptor (``handlers.failover.site.Site``):

- ``--local`` with the rehearsal (``context.rehearsal``, what ``drctl drill --local`` gives): region loss measured
  end to end on emulated AWS (``emulator/rehearsal.py``): RTO from the fault to the first canary acknowledged in the
  recovery Region through DNS and settings, RPO from the canaries missing there, both measured (scaled profile:
  labelled and scaled back), the modelled budget beside them.
- ``--local`` without it (a caller that gives only two endpoints): the descriptor's endpoint URLs are replaced by
  two HTTP endpoints on 127.0.0.1 (the primary's answers 503, the secondary's 200); the configured endpoints are
  never contacted (the probe refuses any other host). ``run_once`` is called round after round, as the scheduled
  orchestrator would every ``probeIntervalSeconds``, until it fails over after ``failureThreshold`` failed rounds.
  The rounds run back to back, so the measured time is the orchestrator's own work (a lower bound); the RTO judged
  is modelled: that time plus the site's RTO budget (``stackmodel/failover_budget.py``: detection, switch, TTL,
  config refresh), which the emulator cannot show. Validated afterwards: the switch metric says "failed over",
  ``active-region`` and each ``active-bucket/<logical>`` name the recovery Region and replicas, and the secondary
  serves. The regional RPO is modelled from the replication SLA (the emulator never replicates).
- Deployed: production traffic moves only with ``--allow-production-failover``, through the manual, controlled
  path (``orchestrator.failover``: the same standby checks, lock and switch). The stack has no drill record
  (``drill.<record>`` with its own switch) yet, so without the flag the scenario is not run, and says why.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from handlers.drills import fis
from handlers.drills.model import (
    Basis,
    BucketTarget,
    ScenarioResult,
    SiteTarget,
    Status,
    TableTarget,
    judge,
    minutes_to_seconds,
    not_run,
)
from handlers.drills.runner import DrillContext, LocalEndpoints, Scenario
from handlers.failover import orchestrator
from handlers.failover.actions import Clients, switch_dimensions
from handlers.failover.probe import ProbeResult
from handlers.failover.probe import http_probe as failover_probe
from handlers.failover.site import Site
from handlers.runtime_names import drill_lag_alarm_name

NAME = "region-loss-failover"
PROBE_TIMEOUT_SECONDS = 2.0
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
DRILL_RECORD_PREFIX = "drill."
NO_DRILL_RECORD = (
    "the stack declares no drill record (drill.<record> with its own switch) for this site, and a drill never moves "
    "production traffic by default: pass --allow-production-failover to fail over the real record"
)
LOCAL_EMULATED = [
    "primary region loss: the primary endpoint is an HTTP server on 127.0.0.1 that answers 503",
    "secondary endpoint: an HTTP server on 127.0.0.1 that answers 200; the configured endpoints are never contacted",
    "probe rounds: run back to back instead of probeIntervalSeconds apart; the budget's detection term models them",
    "Route 53 health checks, the switch alarm and DNS TTL: not shown by the emulator (moto's alarms fire nothing); "
    "the site's RTO budget models them, and no resolver verifies DNS",
    "table replicas: tables of the same name in each Region, never replicated (moto ignores ReplicaUpdates)",
    "replication: moto never copies objects, so the regional RPO is modelled from the replication SLA",
]


def http_probe(url: str, *, local_only: bool) -> ProbeResult:
    """The orchestrator's probe (``handlers.failover.probe``); locally only 127.0.0.1 may be contacted."""
    host = urllib.parse.urlsplit(url).hostname
    if local_only and host not in LOCAL_HOSTS:
        raise ValueError(f"a local drill never contacts {url}: only 127.0.0.1 endpoints are probed")
    return failover_probe(url, timeout=PROBE_TIMEOUT_SECONDS)


def substitute_endpoints(descriptor: Mapping[str, Any], endpoints: LocalEndpoints) -> dict[str, Any]:
    """The site descriptor with its endpoint URLs replaced by the local ones (the primary's fails); hosts stay, so
    nothing else in the descriptor changes."""
    site = dict(descriptor)
    if not isinstance(site.get("primary"), Mapping) or not isinstance(site.get("secondary"), Mapping):
        raise ValueError("site descriptor has no primary/secondary endpoints: the local drill cannot substitute them")
    site["primary"] = {**site["primary"], "url": endpoints.failing_url}
    site["secondary"] = {**site["secondary"], "url": endpoints.healthy_url}
    return site


def drill_record_site(descriptor: Mapping[str, Any], allow_production_failover: bool) -> dict[str, Any]:
    """Deployed: the descriptor as the drill may act on it. Only ``--allow-production-failover`` acts on the real
    record; the drill record ``drill.<record>`` needs its own switch, which the stack does not declare yet."""
    if allow_production_failover:
        return dict(descriptor)
    raise LookupError(NO_DRILL_RECORD)


def site_clients(context: DrillContext, site: Site) -> Clients:
    """The orchestrator's clients in the recovery Region (``orchestrator.clients_for``), from the drill's factory;
    no RDS client without a linked database, and no DNS resolver (the emulator serves no DNS)."""
    region = site.recovery_region
    return Clients(
        cloudwatch=context.client("cloudwatch", region),
        ssm=context.client("ssm", region),
        dynamodb=context.client("dynamodb", region),
        sns=context.client("sns", region),
        s3=context.client("s3", region),
        rds=context.client("rds", region) if site.database else None,
        ssm_primary=context.client("ssm", site.primary_region),
    )


def drive_orchestrator(
    site: Site,
    clients: Clients,
    probe: Callable[[str], ProbeResult],
    *,
    started_at: datetime,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[orchestrator.Decision, float, list[str]]:
    """``run_once`` round after round, each ``probeIntervalSeconds`` later in the orchestrator's time, until it
    acts or cannot (at most ``failureThreshold`` + 2 rounds). Returns the last decision, the wall time of all
    rounds, and each round's outcome."""
    began, outcomes = clock(), []
    decision = orchestrator.Decision("not-run", site.name)
    # detection rounds, then one round per action of the transition (the phase machine advances one at a time)
    going = (orchestrator.SUSPECT, orchestrator.HEALTHY, orchestrator.CONTENDED, *orchestrator.CONTINUE_AT_ONCE)
    for index in range(site.failure_threshold + len(orchestrator.FAILOVER_ACTIONS) + 2):
        now = started_at + timedelta(seconds=index * site.probe_interval_seconds)
        decision = orchestrator.run_once(site, clients, probe, now, owner="drill", clock=clock)
        outcomes.append(decision.outcome)
        if decision.outcome not in going:
            break
    return decision, clock() - began, outcomes


def _switch_value(clients: Clients, site: Site, since: datetime) -> float | None:
    points = clients.cloudwatch.get_metric_statistics(
        Namespace=site.switch.get("namespace", site.metrics_namespace),
        MetricName=site.switch.get("metricName", "FailoverSwitch"),
        Dimensions=switch_dimensions(site),
        StartTime=since - timedelta(minutes=5),
        EndTime=datetime.now(UTC) + timedelta(hours=1),
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    return max((float(point["Maximum"]) for point in points), default=None)


def _setting(ssm: Any, name: str) -> str | None:
    try:
        return str(ssm.get_parameter(Name=name)["Parameter"]["Value"])
    except ssm.exceptions.ParameterNotFound:
        return None


def validate_failover(
    clients: Clients, site: Site, probe: Callable[[str], ProbeResult], since: datetime
) -> dict[str, Any]:
    """Service from the recovery Region: the switch says failed over, the settings name the recovery Region and
    each replica bucket, and the secondary answers."""
    buckets = {
        bucket["logical"]: _setting(clients.ssm, site.active_bucket_parameters[bucket["logical"]])
        for bucket in site.buckets
    }
    checks = {
        "switch_value": _switch_value(clients, site, since),
        "active_region": _setting(clients.ssm, site.active_region_parameter),
        "active_buckets": buckets,
        "secondary_serves": probe(site.secondary_url).healthy,
    }
    checks["ok"] = (
        checks["switch_value"] == 1.0
        and checks["active_region"] == site.recovery_region
        and all(buckets[b["logical"]] == b["replica"] for b in site.buckets)
        and checks["secondary_serves"]
    )
    return checks


def drill_site(context: DrillContext, target: SiteTarget) -> ScenarioResult:
    result = ScenarioResult(
        scenario=NAME,
        target=f"site {target.name}",
        status=Status.failed,
        rto_seconds_target=minutes_to_seconds(target.regional.rto_minutes),
        rpo_seconds_target=minutes_to_seconds(target.regional.rpo_minutes),
    )
    started_at = datetime.now(UTC)
    if context.local and context.rehearsal is not None:
        # The two-Region rehearsal (emulator/rehearsal.py): the Region really lost, replication, Route 53's
        # checkers, DNS with TTLs, the orchestrator's Lambda on its schedule and timeout, and a workload.
        site_name = target.name
        if str(target.descriptor.get("switch", {}).get("kind")) == "arc":
            return not_run(NAME, result.target, "the rehearsal has no ARC cluster data plane to fail over through")
        if target.descriptor.get("database") is not None:
            return not_run(NAME, result.target, "the rehearsal cannot promote a database (moto has no replica lag)")
        return context.rehearsal.for_site(site_name).region_loss(NAME)  # type: ignore[no-any-return]
    if context.local:
        if context.endpoints is None:
            raise ValueError("a local regional drill needs the 127.0.0.1 endpoints")
        site = Site.from_descriptor(substitute_endpoints(target.descriptor, context.endpoints))
        if site.switch_kind == "arc":
            return not_run(NAME, result.target, "a local drill has no ARC cluster to fail over through")
        if site.database is not None:
            return not_run(NAME, result.target, "a local drill cannot promote a database (moto has no replica lag)")

        def probe(url: str) -> ProbeResult:
            return http_probe(url, local_only=True)

        clients = site_clients(context, site)
        context.progress(f"{NAME} {target.name}: primary down, orchestrator rounds against 127.0.0.1")
        decision, seconds, outcomes = drive_orchestrator(site, clients, probe, started_at=started_at)
        checks = validate_failover(clients, site, probe, started_at) if decision.acted else {"ok": False}
        result.emulated = list(LOCAL_EMULATED)
        result.rto_seconds_measured = round(seconds, 3)
        result.rto_basis = Basis.modelled
        result.rto_seconds_modelled = round(seconds + target.rto_budget_seconds, 3)
        result.rpo_basis = Basis.modelled
        result.rpo_seconds_modelled = result.rpo_seconds_target  # the replication SLA the linked stores are built on
        result.notes += [
            f"RTO modelled = orchestrator {seconds:.3f} s (measured, lower bound) + budget "
            f"{target.rto_budget_seconds:.0f} s ({_budget_text(target.budget)})",
            "regional RPO modelled from the replication SLA; deployed drills measure it under AWS FIS",
        ]
    else:
        try:
            site = Site.from_descriptor(drill_record_site(target.descriptor, context.allow_production_failover))
        except LookupError as error:
            return not_run(NAME, result.target, str(error))
        clients = orchestrator.clients_for(site)

        def probe(url: str) -> ProbeResult:
            return http_probe(url, local_only=False)

        began = time.monotonic()
        decision = orchestrator.failover(site, clients, probe, started_at, reason=f"drill {context.drill_id}")
        seconds = time.monotonic() - began
        outcomes = [decision.outcome]
        checks = validate_failover(clients, site, probe, started_at) if decision.acted else {"ok": False}
        result.rto_seconds_measured = round(seconds, 3)
        result.notes.append(
            "switched the production record through the manual path; the RTO starts at the decision (detection is "
            "the budget's)"
        )
    result.checks = {
        "outcome": decision.outcome,
        "rounds": outcomes,
        "timings": decision.timings,
        "reasons": decision.reasons[:5],
        "validation": checks,
        "budget": dict(target.budget),
    }
    return judge(result, decision.acted and bool(checks.get("ok")))


def _budget_text(budget: Mapping[str, int]) -> str:
    return ", ".join(
        f"{label} {budget[key]} s"
        for label, key in (
            ("detection", "detectionSeconds"),
            ("switch", "switchSeconds"),
            ("TTL", "ttlSeconds"),
            ("config refresh", "configRefreshSeconds"),
        )
        if key in budget
    )


def run(context: DrillContext) -> list[ScenarioResult]:
    sites = context.targets.sites
    if sites is None:
        return [not_run(NAME, "-", "no site to fail over: the targets carry no sites (FailoverSite)")]
    if not sites:
        return [not_run(NAME, "-", "no site to fail over: the stack declares no site")]
    return [drill_site(context, site) for site in sites]


REGION_LOSS = Scenario(
    name=NAME,
    summary="lose the primary region; the orchestrator fails the site over and replicas serve",
    failure_mode="regional",
    run=run,
    scheduled=False,  # the scheduled drill measures the regional RPO with FIS only (handlers.drills.fis)
)


FIS_NAME = "regional-rpo-fis"


def run_fis(context: DrillContext) -> list[ScenarioResult]:
    """The regional RPO of each tier-1 bucket and each drilled table, measured while AWS FIS pauses its replication
    (``fis``): ``s3:<bucket>`` and ``dynamodb:<table>`` templates (``components/drills.py``)."""
    if context.local:
        return [not_run(FIS_NAME, "-", "AWS FIS has no emulator: the regional RPO under a pause is measured deployed")]
    buckets = context.targets.tier1_buckets()
    tables = [t for t in context.targets.tables or () if f"dynamodb:{t.name}" in context.fis_templates]
    if not buckets and not tables:
        return [not_run(FIS_NAME, "-", "the stack declares no tier-1 bucket and no drilled table")]
    results = [fis_bucket(context, bucket) for bucket in buckets]
    return results + [fis_table(context, table) for table in tables]


def fis_bucket(context: DrillContext, bucket: BucketTarget) -> ScenarioResult:
    template = context.fis_templates.get(f"s3:{bucket.name}")
    if not template:
        return not_run(FIS_NAME, f"s3://{bucket.primary}", "no FIS template: set drills.faultInjection and deploy")
    replica_region = bucket.replica_region or context.targets.recovery_region
    return fis.measure_regional_rpo(
        primary_s3=context.client("s3", bucket.primary_region),
        replica_s3=context.client("s3", replica_region),
        fis=context.client("fis", bucket.primary_region),  # templates live in the source's Region
        bucket=bucket,
        template_id=template,
        drill_id=context.drill_id,
        prefix=f"{context.drill_prefix}{FIS_NAME}/",
        scenario=FIS_NAME,
        timing=context.fis_timing,
        progress=context.progress,
        # S3 publishes ReplicationLatency in the destination Region only: the guard is read there.
        guard=fis.AlarmGuard(context.client("cloudwatch", replica_region), drill_lag_alarm_name(bucket.primary)),
    )


def fis_table(context: DrillContext, table: TableTarget) -> ScenarioResult:
    """The pause of the table's primary replica (the template's target); canaries are read from the first other
    replica, the recovery Region when it holds one."""
    target = f"dynamodb://{table.table_name}"
    others = [r for r in table.replica_regions if r != table.region]
    if not others:
        return not_run(FIS_NAME, target, "the table has no other replica: nothing to pause")
    if "B" in (table.partition_key_type, table.sort_key_type if table.sort_key else "S"):
        return not_run(FIS_NAME, target, "binary (B) key attributes: the drill writes string or number canary keys")
    replica_region = context.targets.recovery_region if context.targets.recovery_region in others else others[0]
    return fis.measure_table_regional_rpo(
        primary_ddb=context.client("dynamodb", table.region),
        replica_ddb=context.client("dynamodb", replica_region),
        replica_region=replica_region,
        fis=context.client("fis", table.region),  # the template lives with the paused replica
        cloudwatch=context.client("cloudwatch", table.region),  # and its stop conditions
        table=table,
        template_id=context.fis_templates[f"dynamodb:{table.name}"],
        drill_id=context.drill_id,
        prefix=f"dr-drill#{context.drill_id}#",
        scenario=FIS_NAME,
        timing=context.fis_timing,
        progress=context.progress,
    )


REGIONAL_RPO_FIS = Scenario(
    name=FIS_NAME,
    summary="pause each tier-1 bucket's and drilled table's replication with AWS FIS; measure the regional RPO from "
    "replica canaries",
    failure_mode="regional",
    run=run_fis,
    scheduled=True,
    deployed_only=True,
)
