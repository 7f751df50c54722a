"""Failback and the two races, rehearsed locally (``emulator/rehearsal.py``) after ``region-loss-failover``.

- ``failback``: the primary Region comes back with the data it had (replication held during the outage is
  delivered late), the workload keeps writing, and the orchestrator fails back on its own after
  ``healthyMinutesBeforeFailback``; every acknowledged canary must be present and current where the application
  reads afterwards (0 acknowledged writes lost), and the reconcile's conflicts are reported. It also reports
  ``race-probe-during-reconcile``: a probe round fired while the failback reconciles.
- ``race-overlapping-rounds``: the Region is lost again and two invocation streams overlap through the failover;
  phase, switch, settings and DNS must agree and the failover must happen once.

Deployed, neither runs: a drill never moves production back and forth (the drill record measures the switch).
"""

from __future__ import annotations

from handlers.drills.model import ScenarioResult, not_run
from handlers.drills.runner import DrillContext, Scenario

FAILBACK_NAME = "failback"
OVERLAPPING_NAME = "race-overlapping-rounds"
DEPLOYED = "rehearsal only: a deployed drill never fails production back and forth (see switch-latency)"


def _sites(context: DrillContext, name: str) -> list[str] | ScenarioResult:
    if not context.local or context.rehearsal is None:
        return not_run(name, "-", DEPLOYED)
    sites = context.targets.sites
    if not sites:
        return not_run(name, "-", "the stack declares no site")
    return [site.name for site in sites]


def run_failback(context: DrillContext) -> list[ScenarioResult]:
    sites = _sites(context, FAILBACK_NAME)
    if isinstance(sites, ScenarioResult):
        return [sites]
    results: list[ScenarioResult] = []
    for site in sites:
        results += context.rehearsal.for_site(site).failback(FAILBACK_NAME)
    return results


def run_overlapping(context: DrillContext) -> list[ScenarioResult]:
    sites = _sites(context, OVERLAPPING_NAME)
    if isinstance(sites, ScenarioResult):
        return [sites]
    return [context.rehearsal.for_site(site).overlapping_rounds(OVERLAPPING_NAME) for site in sites]


FAILBACK = Scenario(
    name=FAILBACK_NAME,
    summary="restore the primary; the orchestrator fails back while the workload writes; no acknowledged write lost",
    failure_mode="regional",
    run=run_failback,
    scheduled=False,
    local_only=True,
)
OVERLAPPING_ROUNDS = Scenario(
    name=OVERLAPPING_NAME,
    summary="lose the primary again with two overlapping orchestrator invocation streams; one failover, all agree",
    failure_mode="regional",
    run=run_overlapping,
    scheduled=False,
    local_only=True,
)
