"""Failback's steps (``failed-over → failing-back → primary``), one per round, sequenced by the orchestrator's phase
machine (handlers/failover/orchestrator.py, ``FAILBACK_ACTIONS``):

1. ``begin`` (fenced ``phase=failing-back``; the switch has not moved),
2. ``reconcile-1``: every linked bucket from the failover time (handlers/failover/reconcile.py), keeping the
   earliest ``watermark``; the application still writes to the replica meanwhile,
3. ``database``: Aurora switches over to the old primary and is done only once that cluster **reports it is the
   writer**; an RDS promotion is one-way (re-create the replica),
4. ``settings`` back (``active-bucket/*``, ``active-epoch``, ``active-region``) before DNS moves,
5. ``switch`` back (fenced ``switch=primary``, ARC's reverse call, metric 0),
6. ``hold``: config refresh + switch + TTL, polled, so the last writes through old settings or cached DNS land,
7. ``reconcile-2`` from the watermark, catching what was written to the replica in between,
8. ``report``, 9. ``finish`` (fenced ``phase=primary``).

Each step is a plain function over a ``StepContext``; it changes nothing in the state itself (the orchestrator
records it with a fenced write) and is idempotent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from handlers.failover import actions
from handlers.failover.actions import Clients
from handlers.failover.site import Site
from handlers.failover.state import SWITCH_PRIMARY, State

DEFAULT_CONFIG_REFRESH_SECONDS = 60
DEFAULT_SWITCH_SECONDS = 120


@dataclass
class StepContext:
    site: Site
    clients: Clients
    state: State
    now: datetime
    renew: Callable[[], bool]  # renews the lock (False: lost, or the round's time is up): long work stops
    dry_run: bool = False
    out_of_time: Callable[[], bool] = lambda: False  # cheap, checked often: the round's time is up


@dataclass
class Step:
    """What one round's action found: ``finished`` (recorded in ``done``), or still waiting (``pending`` marks the
    start of a polled action); ``changes`` go into the same fenced write as the ``done`` entry."""

    finished: bool
    detail: Any = None
    changes: dict[str, Any] = field(default_factory=dict)
    note: str | None = None
    start_pending: bool = False
    reason: str | None = None
    more_now: bool = False  # long work saved its progress and has more to do at once: no pause before the next round


def parse_iso(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def hold_seconds(site: Site) -> float:
    """configRefresh + switch + TTL: until every reader has left the replica (``hold`` waits this long)."""
    budget = site.budget
    refresh = float(budget.get("configRefreshSeconds", DEFAULT_CONFIG_REFRESH_SECONDS))
    return refresh + float(budget.get("switchSeconds", DEFAULT_SWITCH_SECONDS)) + site.ttl_seconds


# --- reconcile -----------------------------------------------------------------------------------------------------


def reconcile_pass(context: StepContext, action: str, since: datetime) -> Step:
    """One pass over every linked bucket, resumable: a pass that runs out of the round's time records each
    bucket's cursor (``reconcile_progress``) and the next round continues after it, with the same pass start (the
    watermark), so a bucket of any size is reconciled in bounded rounds and never restarted from its first key.
    The single call site of ``reconcile.reconcile_bucket``."""
    from handlers.failover import reconcile  # the data rules live there

    clients = context.clients
    if clients.s3_primary is None:
        return Step(False, reason="no S3 client for the primary region")
    progress = context.state.reconcile_progress or {}
    if progress.get("action") != action or progress.get("since") != since.isoformat():
        progress = {"action": action, "since": since.isoformat(), "started": actions_iso(context.now)}
    cursors: dict[str, str] = dict(progress.get("cursors") or {})
    finished: dict[str, Any] = dict(progress.get("finished") or {})
    totals: dict[str, dict[str, int]] = dict(progress.get("totals") or {})  # counts of rounds that stopped early
    incomplete: list[str] = []
    stopped_for_time = failed_keys = False
    for bucket in context.site.buckets:
        logical = bucket["logical"]
        if logical in finished:
            continue
        result = reconcile.reconcile_bucket(
            clients.s3_primary,
            clients.s3,
            bucket,
            since,
            options=reconcile.ReconcileOptions(
                dry_run=context.dry_run,
                renew=context.renew,
                out_of_time=context.out_of_time,
                start_after=cursors.get(logical, ""),
                pass_started=parse_iso(progress["started"]),
            ),
        )
        # A bucket of many rounds reports its whole pass: this round's counts added to the earlier rounds'.
        earlier = totals.get(logical, {})
        counts: dict[str, Any] = {
            "copied": result.copied + earlier.get("copied", 0),
            "deleted": result.deleted + earlier.get("deleted", 0),
            "deferred": result.deferred + earlier.get("deferred", 0),
            "conflicts": len(result.conflicts) + earlier.get("conflicts", 0),
            "failed": len(result.failed),
            "batchJob": result.batch_job,
        }
        if result.lost_lock:
            totals[logical] = {name: counts[name] for name in ("copied", "deleted", "deferred", "conflicts")}
            if result.cursor:
                cursors[logical] = result.cursor
            where = f"after {result.cursor!r}" if result.cursor else "before its first key"
            incomplete.append(
                f"{logical}: stopped (the round's time is up or the lock was lost) {where}; resumes there"
            )
            stopped_for_time = True
            break
        if result.failed:
            incomplete += [f"{logical}: {failure}" for failure in result.failed[:5]]
            failed_keys = True
            continue
        finished[logical] = counts
    tables = {t["logical"]: reconcile.table_resolution(t) for t in context.site.tables}
    detail = {"buckets": finished, "tables": tables}
    if incomplete:
        saved = {**progress, "cursors": cursors, "finished": finished, "totals": totals}
        return Step(
            False,
            detail,
            changes={"reconcile_progress": saved},
            reason="; ".join(incomplete),
            more_now=stopped_for_time and not failed_keys,  # failed keys are retried after a pause
        )
    watermark = iso_minus_overlap(progress["started"])
    return Step(
        True,
        detail,
        changes={"watermark": watermark, "reconcile_progress": None},
        note=json.dumps(finished, sort_keys=True),
    )


def iso_minus_overlap(started: str) -> str:
    """The pass's watermark: its first round's start, less LastModified's one-second resolution."""
    from handlers.failover.reconcile import WATERMARK_OVERLAP

    return (parse_iso(started) - WATERMARK_OVERLAP).isoformat()


def actions_iso(now: datetime) -> str:
    return now.astimezone(UTC).isoformat()


def reconcile_first(context: StepContext) -> Step:
    failed_over_at = context.state.failed_over_at
    if not failed_over_at:
        # Without the failover time every replica change since the epoch would be compared; an operator decides.
        return Step(False, reason="the site state has no failover time; reconcile by hand (drctl) first")
    # LastModified has one-second resolution: a write in the failover's own second reads as that whole second.
    return reconcile_pass(context, "reconcile-1", datetime.fromtimestamp(int(failed_over_at), tz=UTC))


def reconcile_second(context: StepContext) -> Step:
    watermark = context.state.watermark
    if not watermark:
        return Step(False, reason="reconcile-1 left no watermark")
    return reconcile_pass(context, "reconcile-2", parse_iso(watermark))


# --- database ------------------------------------------------------------------------------------------------------


def old_primary_member(site: Site, members: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((m for m in members if f":{site.primary_region}:" in m["DBClusterArn"]), None)


def database_back(context: StepContext) -> Step:
    """Aurora: ``SwitchoverGlobalCluster`` to the old primary once it has rejoined, then done only when that
    cluster reports ``IsWriter``. RDS: nothing can move back (a promotion is one-way)."""
    site, rds = context.site, context.clients.rds
    database = site.database
    if database is None:
        return Step(True, note="no database")
    if database["engine"] != "aurora-global":
        return Step(True, note="RDS promotion is one-way: re-create the replica in the primary region")
    if rds is None:
        return Step(False, reason="no RDS client for the linked database")
    global_id = database["globalClusterIdentifier"]
    members = rds.describe_global_clusters(GlobalClusterIdentifier=global_id)["GlobalClusters"][0][
        "GlobalClusterMembers"
    ]
    old_primary = old_primary_member(site, members)
    if old_primary is None:
        return Step(False, reason=f"no cluster in {site.primary_region} has rejoined the global database yet")
    if old_primary.get("IsWriter"):
        return Step(True, {"writer": old_primary["DBClusterArn"]}, note="old primary is the writer")
    if "database" in context.state.pending:
        return Step(False, reason=f"waiting for {old_primary['DBClusterArn']} to report it is the writer")
    rds.switchover_global_cluster(
        GlobalClusterIdentifier=global_id, TargetDbClusterIdentifier=old_primary["DBClusterArn"]
    )
    return Step(False, {"action": "SwitchoverGlobalCluster", "target": old_primary["DBClusterArn"]}, start_pending=True)


# --- settings, switch, hold ----------------------------------------------------------------------------------------


def settings_back(context: StepContext) -> Step:
    written = actions.move_settings(context.clients, context.site, to_recovery=False, epoch=context.state.epoch)
    return Step(True, written, note=f"primary copy {written['primaryRegionCopy']}")


def switch_back(context: StepContext) -> Step:
    site = context.site
    if site.switch_kind == "arc":
        region = actions.set_routing_controls(context.clients, site, failed_over=False)
        return Step(True, {"routingControls": f"primary On, secondary Off via {region}"}, {"switch": SWITCH_PRIMARY})
    return Step(True, {"switch": SWITCH_PRIMARY}, {"switch": SWITCH_PRIMARY})


def hold(context: StepContext) -> Step:
    switched = context.state.done.get("switch")
    waited = (context.now - parse_iso(switched)).total_seconds() if switched else 0.0
    needed = hold_seconds(context.site)
    if waited >= needed:
        return Step(True, note=f"held {waited:.0f} s of {needed:g} s")
    return Step(False, reason=f"holding {waited:.0f} s of {needed:g} s (config refresh + switch + TTL)")


FAILBACK_STEPS: dict[str, Callable[[StepContext], Step]] = {
    "reconcile-1": reconcile_first,
    "database": database_back,
    "settings": settings_back,
    "switch": switch_back,
    "hold": hold,
    "reconcile-2": reconcile_second,
}
