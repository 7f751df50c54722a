"""Loss of the primary region: the FailoverSite's orchestrator fails the site over, and service comes from replicas.

It drives the orchestrator (issue 14): ``handlers.failover.orchestrator.run_once(site, clients, probe, now)``
returns a ``Decision``. A build without it reports "FailoverSite not available in this build": not run, never a
pass.

- ``--local``: the site's endpoints are replaced by two HTTP endpoints on 127.0.0.1 (the primary's fails, the
  recovery's is healthy); the configured endpoints are never contacted. The orchestrator's time to decide and
  switch is measured (a lower bound); the RTO judged is modelled: that time plus the site's RTO budget (health
  checks and DNS TTL, which the emulator cannot show). The regional RPO is modelled from the replication SLA
  (the emulator never replicates).
- Deployed: the switch moved is the drill record ``drill.<record>`` (its own health-checked switch) unless
  ``--allow-production-failover``; the regional RPO is measured from data while AWS FIS pauses replication
  (``handlers.drills.fis``).
"""

from __future__ import annotations

import importlib
import importlib.util
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from handlers.drills import fis
from handlers.drills.model import Basis, ScenarioResult, SiteTarget, Status, judge, minutes_to_seconds, not_run
from handlers.drills.runner import DrillContext, LocalEndpoints, Scenario

NAME = "region-loss-failover"
ORCHESTRATOR_MODULE = "handlers.failover.orchestrator"
NOT_AVAILABLE = "FailoverSite not available in this build (no handlers.failover.orchestrator)"
PROBE_TIMEOUT_SECONDS = 2.0
MAX_ORCHESTRATOR_ROUNDS = 20
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
# Keys of the site descriptor that hold endpoint URLs (issue 14's descriptor), by role.
PRIMARY_ENDPOINT_KEYS = ("primaryEndpoint", "primary_endpoint")
RECOVERY_ENDPOINT_KEYS = ("recoveryEndpoint", "recovery_endpoint", "secondaryEndpoint", "secondary_endpoint")
DRILL_RECORD_PREFIX = "drill."
LOCAL_EMULATED = [
    "primary region loss: the primary endpoint is an HTTP server on 127.0.0.1 that answers 503",
    "recovery endpoint: an HTTP server on 127.0.0.1 that answers 200; the configured endpoints are never contacted",
    "Route 53 health checks and DNS TTL: not shown by the emulator; the site's RTO budget models them",
    "replication: moto never copies objects, so the regional RPO is modelled from the replication SLA",
]


def orchestrator_available() -> bool:
    try:
        return importlib.util.find_spec(ORCHESTRATOR_MODULE) is not None
    except ModuleNotFoundError:
        return False


def http_probe(url: str, *, local_only: bool) -> bool:
    """Healthy when the endpoint answers 2xx within the timeout. Locally only 127.0.0.1 may be contacted."""
    host = urllib.parse.urlsplit(url).hostname
    if local_only and host not in LOCAL_HOSTS:
        raise ValueError(f"a local drill never contacts {url}: only 127.0.0.1 endpoints are probed")
    try:
        with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT_SECONDS) as response:
            return 200 <= int(response.status) < 300
    except (urllib.error.URLError, TimeoutError, ConnectionError):
        return False


def substitute_endpoints(descriptor: Mapping[str, Any], endpoints: LocalEndpoints) -> dict[str, Any]:
    """The site descriptor with its endpoints replaced by the local ones; a descriptor without them is refused."""
    site = dict(descriptor)
    primary = [key for key in PRIMARY_ENDPOINT_KEYS if key in site]
    recovery = [key for key in RECOVERY_ENDPOINT_KEYS if key in site]
    if not primary or not recovery:
        raise ValueError(
            f"site descriptor has no endpoint keys ({PRIMARY_ENDPOINT_KEYS[0]}, {RECOVERY_ENDPOINT_KEYS[0]}): "
            "the local drill cannot substitute them, so it will not run"
        )
    for key in primary:
        site[key] = endpoints.failing_url
    for key in recovery:
        site[key] = endpoints.healthy_url
    return site


def drill_record_site(descriptor: Mapping[str, Any], allow_production_failover: bool) -> dict[str, Any]:
    """Deployed: the site with its record switched to ``drill.<record>`` unless production failover is allowed."""
    site = dict(descriptor)
    record = site.get("recordName") or site.get("record_name")
    if not allow_production_failover:
        if not record:
            raise ValueError("site descriptor has no recordName: cannot derive the drill record drill.<record>")
        site["recordName"] = f"{DRILL_RECORD_PREFIX}{record}"
        site["drill"] = True
    return site


def failed_over(decision: Any) -> bool:
    """Whether a ``Decision`` says traffic now goes to the recovery region (issue 14's Decision)."""
    for attribute in ("failed_over", "active_is_recovery"):
        if isinstance(getattr(decision, attribute, None), bool):
            return bool(getattr(decision, attribute))
    action = str(getattr(decision, "action", "") or getattr(decision, "state", "")).lower()
    return action in {"failover", "failed_over", "failed-over", "recovery"}


def drive_orchestrator(
    run_once: Callable[..., Any],
    site: Mapping[str, Any],
    clients: Any,
    probe: Callable[[str], bool],
    *,
    clock: Callable[[], float] = time.time,
    rounds: int = MAX_ORCHESTRATOR_ROUNDS,
) -> tuple[bool, float, list[str]]:
    """Call ``run_once`` until it fails over; returns (failed over, seconds taken, each decision as text)."""
    started, decisions = clock(), []
    for _ in range(rounds):
        decision = run_once(site, clients, probe, datetime.fromtimestamp(clock(), UTC))
        decisions.append(repr(decision))
        if failed_over(decision):
            return True, clock() - started, decisions
    return False, clock() - started, decisions


def drill_site(context: DrillContext, site: SiteTarget, run_once: Callable[..., Any]) -> ScenarioResult:
    result = ScenarioResult(
        scenario=NAME,
        target=f"site {site.name}",
        status=Status.failed,
        rto_seconds_target=minutes_to_seconds(site.regional.rto_minutes),
        rpo_seconds_target=minutes_to_seconds(site.regional.rpo_minutes),
    )
    region = context.targets.recovery_region
    clients = {service: context.client(service, region) for service in ("ssm", "route53", "cloudwatch", "s3")}
    if context.local:
        if context.endpoints is None:
            raise ValueError("a local regional drill needs the 127.0.0.1 endpoints")
        descriptor = substitute_endpoints(site.descriptor, context.endpoints)
        result.emulated = list(LOCAL_EMULATED)
        ok, seconds, decisions = drive_orchestrator(
            run_once, descriptor, clients, lambda url: http_probe(url, local_only=True)
        )
        result.rto_seconds_measured = round(seconds, 3)
        result.rto_basis = Basis.modelled
        result.rto_seconds_modelled = round(seconds + site.rto_budget_seconds, 3)
        result.rpo_basis = Basis.modelled
        result.rpo_seconds_modelled = result.rpo_seconds_target  # the replication SLA the tier is built on
        result.notes.append("regional RPO modelled from the replication SLA; deployed drills measure it under FIS")
    else:
        descriptor = drill_record_site(site.descriptor, context.allow_production_failover)
        ok, seconds, decisions = drive_orchestrator(
            run_once, descriptor, clients, lambda url: http_probe(url, local_only=False)
        )
        result.rto_seconds_measured = round(seconds, 3)
        result.notes.append(
            "switched the production record" if context.allow_production_failover else "switched drill." + "<record>"
        )
    result.checks = {"failed_over": ok, "decisions": decisions[-5:]}
    return judge(result, ok)


def run(context: DrillContext) -> list[ScenarioResult]:
    if not orchestrator_available():
        return [not_run(NAME, "-", NOT_AVAILABLE)]
    sites = context.targets.sites
    if sites is None:
        return [not_run(NAME, "-", "no site to fail over: this build's stack config has no `sites` (FailoverSite)")]
    if not sites:
        return [not_run(NAME, "-", "no site to fail over: the stack declares no site")]
    run_once = importlib.import_module(ORCHESTRATOR_MODULE).run_once
    return [drill_site(context, site, run_once) for site in sites]


REGION_LOSS = Scenario(
    name=NAME,
    summary="lose the primary region; the orchestrator fails the site over and replicas serve",
    failure_mode="regional",
    run=run,
    scheduled=False,  # the scheduled drill measures the regional RPO with FIS only (handlers.drills.fis)
)


FIS_NAME = "regional-rpo-fis"


def run_fis(context: DrillContext) -> list[ScenarioResult]:
    """The regional RPO of each tier-1 bucket, measured while AWS FIS pauses its replication (``fis``)."""
    if context.local:
        return [not_run(FIS_NAME, "-", "AWS FIS has no emulator: the regional RPO under a pause is measured deployed")]
    buckets = context.targets.tier1_buckets()
    if not buckets:
        return [not_run(FIS_NAME, "-", "the stack declares no tier-1 bucket")]
    results = []
    for bucket in buckets:
        template = context.fis_templates.get(f"s3:{bucket.name}")
        if not template:
            results.append(
                not_run(FIS_NAME, f"s3://{bucket.primary}", "no FIS template: set drills.faultInjection and deploy")
            )
            continue
        results.append(
            fis.measure_regional_rpo(
                primary_s3=context.client("s3", bucket.primary_region),
                replica_s3=context.client("s3", bucket.replica_region or context.targets.recovery_region),
                fis=context.client("fis", bucket.primary_region),  # templates live in the source's Region
                bucket=bucket,
                template_id=template,
                drill_id=context.drill_id,
                prefix=f"{context.drill_prefix}{FIS_NAME}/",
                scenario=FIS_NAME,
                timing=context.fis_timing,
                progress=context.progress,
            )
        )
    return results


REGIONAL_RPO_FIS = Scenario(
    name=FIS_NAME,
    summary="pause each tier-1 bucket's replication with AWS FIS; measure the regional RPO from replica canaries",
    failure_mode="regional",
    run=run_fis,
    scheduled=True,
    deployed_only=True,
)
