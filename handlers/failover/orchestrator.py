"""The failover orchestrator: seed 002's steps made safe, as a plain function over injectable clients.

``run_once`` is one probing round: publish the switch's current value (so its alarm never lacks data), probe the
primary, and count consecutive failures in the lock table. Only ``failureThreshold`` failed rounds in a row (never
one blip) lead to the standby checks; only a ready standby leads to acting, under the single-flight lock: flip the
switch, move ``active-region`` and ``active-bucket/<logical>``, promote the linked database, verify DNS with a
resolver, then an SNS summary and the timings as metrics in the recovery region. Once failed over, every run is a
no-op that keeps publishing "failed over": only ``failback`` hands DNS back.

``lambda_handler`` runs rounds ``probeIntervalSeconds`` apart for about 55 s per one-minute schedule.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from handlers import aws
from handlers.failover import actions
from handlers.failover.actions import Clients
from handlers.failover.dns import stub_resolver, wait_for_answer
from handlers.failover.probe import Probe, http_probe
from handlers.failover.site import Site, load_site
from handlers.failover.state import FAILED_OVER, PRIMARY, SiteStore, State

RUN_SECONDS = 55  # one-minute schedule, a few seconds of slack before the next run
DNS_POLL_SECONDS = 5.0

# Decision outcomes
HEALTHY = "healthy"
SUSPECT = "suspect"  # failed rounds below the threshold: nothing happens
STANDBY_NOT_READY = "standby-not-ready"  # alert, no action
LOCKED = "locked"  # another run holds the lock
FAILED_OVER_NOW = "failed-over"
ALREADY_FAILED_OVER = "already-failed-over"  # a repeat after success: a no-op
CONTENDED = "contended"  # another run changed the state between read and write; the next round re-reads
DRY_RUN = "dry-run"


@dataclass
class Decision:
    outcome: str
    site: str
    failures: int = 0
    reasons: list[str] = field(default_factory=list)
    actions: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    dns_confirmed: bool | None = None

    @property
    def acted(self) -> bool:
        return self.outcome == FAILED_OVER_NOW

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_once(
    site: Site,
    clients: Clients,
    probe: Probe,
    now: datetime,
    *,
    owner: str | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Decision:
    """One round. Idempotent: a repeat after a failover changes nothing and says so."""
    store = SiteStore(clients.dynamodb, site.lock_table)
    state = store.read()
    if state.phase == FAILED_OVER:
        if site.switch_kind == "cloudwatch":
            actions.publish_switch(clients, site, failed_over=True, now=now)  # keep DNS where it is
        _track_primary_health(store, state, site, probe, now)
        return Decision(ALREADY_FAILED_OVER, site.name)
    if site.switch_kind == "cloudwatch":
        actions.publish_switch(clients, site, failed_over=False, now=now)

    result = probe(site.primary_url)
    if result.healthy:
        if state.failures:
            store.write(state, replace(state, failures=0, first_failure_at=None))
        return Decision(HEALTHY, site.name)

    failures = state.failures + 1
    first = state.first_failure_at or now.timestamp()
    if not store.write(state, replace(state, failures=failures, first_failure_at=first)):
        return Decision(CONTENDED, site.name, state.failures, [f"primary probe: {result.detail}"])
    if failures < site.failure_threshold:
        return Decision(SUSPECT, site.name, failures, [f"primary probe: {result.detail}"])
    confirmed_at = clock()
    return failover(
        site,
        clients,
        probe,
        now,
        reason=f"primary failed {failures} consecutive rounds ({result.detail})",
        owner=owner,
        clock=clock,
        detection_seconds=now.timestamp() - first + site.probe_interval_seconds,
        confirmed_at=confirmed_at,
        failures=failures,
    )


def failover(
    site: Site,
    clients: Clients,
    probe: Probe,
    now: datetime,
    *,
    reason: str,
    owner: str | None = None,
    dry_run: bool = False,
    clock: Callable[[], float] = time.monotonic,
    detection_seconds: float | None = None,
    confirmed_at: float | None = None,
    failures: int = 0,
) -> Decision:
    """Check the standby, then act under the lock. Also the manual, controlled failover (``drctl failover``):
    the same switch, the same checks, the same lock."""
    started = confirmed_at if confirmed_at is not None else clock()
    owner = owner or f"run-{uuid.uuid4()}"
    timings: dict[str, float] = {}
    if detection_seconds is not None:
        timings["DetectionSeconds"] = detection_seconds
    problems, lag = actions.standby_problems(clients, site, probe, now)
    if problems:
        if not dry_run:
            actions.notify(
                clients,
                site,
                f"DR {site.name}: standby not ready, no failover",
                f"{reason}. The standby is not ready, so nothing was changed:\n- " + "\n- ".join(problems),
            )
        return Decision(STANDBY_NOT_READY, site.name, failures, problems)
    if dry_run:
        plan = {
            "switch": site.switch_kind,
            "activeRegion": site.recovery_region,
            "activeBuckets": {b["logical"]: b["replica"] for b in site.buckets},
            "database": site.database,
            "observedLagSeconds": lag,
        }
        return Decision(DRY_RUN, site.name, failures, [reason], plan)

    store = SiteStore(clients.dynamodb, site.lock_table)
    if not store.acquire(owner, now):
        return Decision(LOCKED, site.name, failures, ["another run holds the failover lock"])
    try:
        state = store.read()  # under the lock: a run that finished first has already moved the phase
        if state.phase == FAILED_OVER:
            return Decision(ALREADY_FAILED_OVER, site.name, failures)
        timings["DecisionSeconds"] = clock() - started
        switched_at = clock()
        done: dict[str, Any] = {"switch": actions.flip_switch(clients, site, failed_over=True, now=now)}
        timings["SwitchSeconds"] = clock() - switched_at
        store.write(
            state,
            State(phase=FAILED_OVER, failures=0, failed_over_at=now.timestamp(), version=state.version),
        )
        done["settings"] = actions.move_settings(clients, site, to_recovery=True)
        if site.database is not None:
            done["database"] = actions.promote_database(clients, site, clock)
            done["database"]["observedLagSeconds"] = lag  # the RPO this promotion accepted
        confirmed = None
        if clients.resolver is not None:
            deadline = site.ttl_seconds + int(site.budget.get("switchSeconds", 120))
            confirmed, waited, answers = wait_for_answer(
                clients.resolver,
                site.record_name,
                site.record_type,
                site.secondary_host,
                deadline,
                DNS_POLL_SECONDS,
                clock=clock,
                sleep=clients.sleep,
            )
            timings["DnsConfirmedSeconds"] = waited
            done["dns"] = [a.value for a in answers]
        decision = Decision(FAILED_OVER_NOW, site.name, failures, [reason], done, timings, confirmed)
        actions.publish_timings(clients, site, timings, now)
        actions.notify(
            clients,
            site,
            f"DR {site.name}: failed over to {site.recovery_region}",
            f"{reason}.\nswitch: {done['switch']}\nsettings: {done['settings']}\n"
            f"database: {done.get('database')}\nDNS confirmed: {confirmed}\ntimings (s): {timings}",
        )
        return decision
    finally:
        store.release(owner)


def _track_primary_health(store: SiteStore, state: State, site: Site, probe: Probe, now: datetime) -> None:
    """While failed over, remember since when the primary has passed every probe (failback waits for it)."""
    healthy = probe(site.primary_url).healthy
    since = (state.primary_healthy_since or now.timestamp()) if healthy else None
    if since != state.primary_healthy_since:
        store.write(state, replace(state, primary_healthy_since=since))


def clients_for(site: Site) -> Clients:
    recovery = site.recovery_region

    def arc(endpoint: str, region: str) -> Any:
        import boto3

        return boto3.client(
            "route53-recovery-cluster",
            region_name=region,
            endpoint_url=endpoint,
            config=aws.client_config(max_attempts=2),
        )

    return Clients(
        cloudwatch=aws.cached_client("cloudwatch", recovery),
        ssm=aws.cached_client("ssm", recovery),
        dynamodb=aws.cached_client("dynamodb", recovery),
        sns=aws.cached_client("sns", recovery),
        s3=aws.cached_client("s3", recovery),
        rds=aws.cached_client("rds", recovery) if site.database else None,
        ssm_primary=aws.client("ssm", site.primary_region, max_attempts=1),
        arc=arc,
        resolver=stub_resolver(*_resolver_address()),
        sleep=time.sleep,
    )


def _resolver_address() -> tuple[str | None, int]:
    """``DR_DNS_RESOLVER=host[:port]`` picks the resolver that verifies DNS; the system's by default."""
    configured = os.environ.get("DR_DNS_RESOLVER", "")
    host, _, port = configured.rpartition(":") if configured.count(":") == 1 else (configured, "", "")
    return (host or None), int(port or 53)


def run_rounds(
    site: Site,
    clients: Clients,
    probe: Probe,
    *,
    seconds: float = RUN_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[Decision]:
    """Rounds ``probeIntervalSeconds`` apart for ``seconds``; stops early once a failover happened."""
    started = clock()
    decisions: list[Decision] = []
    while True:
        round_started = clock()
        decision = run_once(site, clients, probe, now(), clock=clock)
        decisions.append(decision)
        if decision.acted or decision.outcome == ALREADY_FAILED_OVER:
            return decisions
        next_round = round_started + site.probe_interval_seconds
        if next_round - started > seconds:
            return decisions
        clients.sleep(max(0.0, next_round - clock()))


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The scheduled entry point: the site comes from its descriptor (``SITE_PARAMETER``) in this region."""
    from aws_lambda_powertools import Logger

    logger = Logger()
    parameter = os.environ["SITE_PARAMETER"]
    ssm = aws.cached_client("ssm")
    site = load_site(ssm, parameter.rsplit("/", 1)[-1], app=parameter.split("/")[2])
    decisions = run_rounds(site, clients_for(site), http_probe)
    last = decisions[-1]
    logger.info("failover round(s) done", extra={"decisions": [d.outcome for d in decisions], "last": last.as_dict()})
    return {"site": site.name, "rounds": len(decisions), "outcome": last.outcome, "decision": last.as_dict()}


__all__ = ["FAILED_OVER", "PRIMARY", "Decision", "failover", "lambda_handler", "run_once", "run_rounds"]
