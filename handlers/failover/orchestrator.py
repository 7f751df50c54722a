"""The failover orchestrator: a phase machine in the lock table, advanced by bounded rounds
(docs/design/failover-and-rehearsal.md §1).

A round (``run_once``) reads the state, publishes the switch metric from the state's ``switch``, then by phase:

- ``primary``: votes from two vantage points, the recovery region's own probe of the primary and Route 53's
  checkers' verdict read as DNS (``probe.<record>`` from the zone's name servers), recorded by a health-tracking
  write. The probe's ``failureThreshold`` failed rounds in a row (a healthy vote from either resets them), with
  Route 53's checkers saying "unhealthy" at that point, lead to the standby checks, and only a ready standby to
  ``begin`` (under the lock: fenced ``phase=failing-over``, ``epoch+1``).
- ``failing-over`` / ``failing-back``: under the lock, the **first action not yet in ``done``**, one per round;
  a polled action (database writability, DNS, the failback hold-down) checks once and returns. Each finished
  action is recorded by a fenced write; a lost lock ends the round (``lost-lock``) before anything else moves.
- ``failed-over``: tracks since when both vantage points see the primary healthy; after
  ``healthyMinutesBeforeFailback`` it begins the failback.

Nothing waits inside a round: a run (``run_rounds``, the Lambda, ``drctl``) starts the next round at once after an
action finished, ``POLL_SECONDS`` later while an action is polled, ``probeIntervalSeconds`` later while watching,
and never starts a round that could outlive its deadline (``ROUND_BUDGET_SECONDS``). A run that stops mid-transition
releases the lock; whoever runs next reads ``done`` and continues with the first pending action.

Why not Step Functions Standard: a history capped at 25,000 events (the probe loop restarts itself), a price per
state transition for a loop that runs every 10 s, and no local emulation without Lambda/Docker; the same code here
runs in the Lambda, in ``drctl`` and in the rehearsal's timeout-enforcing runner. Per round: 2 DynamoDB reads, at
most 2 writes, one PutMetricData, one probe and one or two DNS queries.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from handlers import aws
from handlers.failover import actions
from handlers.failover.actions import Clients
from handlers.failover.dns import answers_with, site_resolver
from handlers.failover.failback import FAILBACK_STEPS, Step, StepContext, parse_iso
from handlers.failover.probe import Probe, ProbeResult, http_probe
from handlers.failover.site import Site, load_site
from handlers.failover.state import (
    FAILED_OVER,
    FAILING_BACK,
    FAILING_OVER,
    LOCK_LEASE_SECONDS,
    PRIMARY,
    SWITCH_FAILED_OVER,
    SiteStore,
    State,
    iso,
)

# ``DR_TIME_SCALE`` divides the run's time constants (the rehearsal's scaled profile; 1 on AWS).
TIME_SCALE = float(os.environ.get("DR_TIME_SCALE", "1") or 1)
RUN_SECONDS = 55 / TIME_SCALE  # rounds start for this long per invocation (EventBridge rate(1 minute))
# The worst-case round: the primary probe's 4 s + two name servers at 1 s + one action step (a few recovery-region
# calls, the primary region's settings copy best effort at 2 s + 2 s) + two state writes, with margin.
ROUND_BUDGET_SECONDS = 20 / TIME_SCALE
POLL_SECONDS = 5 / TIME_SCALE  # between two polls of a pending action
LEASE_SECONDS = LOCK_LEASE_SECONDS / TIME_SCALE
DATABASE_ALERT_SECONDS = 600
DRCTL_RUN_SECONDS = 3600.0  # the longest ``drctl failover|failback`` drives a transition; a re-run continues it

FAILOVER_ACTIONS: tuple[str, ...] = ("begin", "database", "settings", "switch", "dns", "report", "finish")
FAILBACK_ACTIONS: tuple[str, ...] = (
    "begin",
    "reconcile-1",
    "database",
    "settings",
    "switch",
    "hold",
    "reconcile-2",
    "report",
    "finish",
)
VOTE_PROBE, VOTE_ROUTE53 = "recovery-probe", "route53-checkers"

# Decision outcomes
HEALTHY = "healthy"
SUSPECT = "suspect"  # failed rounds below the threshold, or the two vantage points disagree: nothing happens
STANDBY_NOT_READY = "standby-not-ready"  # alert, no action
DATA_LOSS_NOT_ACCEPTED = "data-loss-not-accepted"  # manual failover over the RPO without --accept-data-loss
LOCKED = "locked"  # another run holds the lock
LOST_LOCK = "lost-lock"  # a fenced write was refused: this run no longer owns the transition
CONTENDED = "contended"  # a health write lost to another round's; the next round re-reads
STARTED = "started"  # ``begin`` written: a transition is under way
ADVANCED = "advanced"  # one action finished this round
WAITING = "waiting"  # a polled action is not there yet
CONTINUING = "continuing"  # long work (a reconcile) saved its progress and goes on in the next round, at once
ACTION_FAILED = "action-failed"  # AWS refused an action; the next round (or a re-run) retries it
FAILED_OVER_NOW = "failed-over"  # the failover's last action finished this round
ALREADY_FAILED_OVER = "already-failed-over"  # failed over, every action done
FAILED_BACK = "failed-back"
NOT_FAILED_OVER = "not-failed-over"
WAITING_FOR_HEALTH = "waiting-for-primary-health"
TRANSITION_IN_PROGRESS = "transition-in-progress"
DRY_RUN = "dry-run"
CONTINUE_AT_ONCE = (STARTED, ADVANCED, CONTINUING)
SETTLED = (FAILED_OVER_NOW, ALREADY_FAILED_OVER, FAILED_BACK)


@dataclass
class Decision:
    outcome: str
    site: str
    failures: int = 0
    reasons: list[str] = field(default_factory=list)
    actions: dict[str, Any] = field(default_factory=dict)  # what this round (or a dry run) did or would do
    timings: dict[str, float] = field(default_factory=dict)
    round_seconds: float | None = None  # how long the round took (set by ``run_rounds``)
    dns_confirmed: bool | None = None
    phase: str | None = None
    done: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)

    @property
    def acted(self) -> bool:
        """The failover finished in this round."""
        return self.outcome == FAILED_OVER_NOW

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _progress(decision: Decision, state: State, order: tuple[str, ...]) -> Decision:
    decision.phase = state.phase
    decision.done = [a for a in order if a in state.done]
    decision.pending = [a for a in order if a not in state.done]
    return decision


def transition_actions(phase: str) -> tuple[str, ...]:
    return FAILBACK_ACTIONS if phase in (FAILING_BACK,) else FAILOVER_ACTIONS


def probe_record(site: Site) -> str:
    """``probe.<record>``: PRIMARY with Route 53's check of the primary endpoint, SECONDARY without a check."""
    return f"probe.{site.record_name}"


# --- votes ---------------------------------------------------------------------------------------------------------


def route53_vote(clients: Clients, site: Site) -> bool | None:
    """Route 53's checkers on the primary, read as the answer for ``probe.<record>``: the primary's value means
    healthy, the secondary's unhealthy; None when no name server answered or the answer names neither."""
    answers = actions.resolve(clients, probe_record(site), site.record_type)
    if not answers:
        return None
    if answers_with(answers, site.primary_host):
        return True
    if answers_with(answers, site.secondary_host):
        return False
    return None


def _votes(clients: Clients, site: Site, probe: Probe, now: float) -> tuple[ProbeResult, bool | None, dict[str, Any]]:
    direct = probe(site.primary_url)
    route53 = route53_vote(clients, site)
    votes: dict[str, Any] = {VOTE_PROBE: {"healthy": direct.healthy, "at": now, "detail": direct.detail}}
    if route53 is not None:
        votes[VOTE_ROUTE53] = {"healthy": route53, "at": now}
    return direct, route53, votes


def _single_vantage(clients: Clients) -> bool:
    """Without any resolver (a local drill without DNS), the recovery region's probe decides alone."""
    return clients.resolver is None


# --- one round -----------------------------------------------------------------------------------------------------


def run_once(
    site: Site,
    clients: Clients,
    probe: Probe,
    now: datetime,
    *,
    owner: str | None = None,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    auto_failback: bool = True,
) -> Decision:
    """One round; advances at most one action; idempotent. ``deadline`` (on ``clock``) bounds long work."""
    owner = owner or f"round-{uuid.uuid4()}"
    store = SiteStore(clients.dynamodb, site.lock_table)
    state = store.read()
    if actions.uses_switch_metric(site):
        actions.publish_switch(clients, site, state.switch == SWITCH_FAILED_OVER, now)
    if state.phase in (FAILING_OVER, FAILING_BACK):
        return transition_round(site, clients, store, owner, now, deadline=deadline, clock=clock)
    if state.phase == FAILED_OVER:
        return _watch_failed_over(site, clients, store, state, probe, now, owner, auto_failback)
    return _watch_primary(site, clients, store, state, probe, now, owner)


def _watch_primary(
    site: Site, clients: Clients, store: SiteStore, state: State, probe: Probe, now: datetime, owner: str
) -> Decision:
    t = now.timestamp()
    direct, route53, votes = _votes(clients, site, probe, t)
    # The recovery Region's probe counts its own failed rounds; Route 53's checkers apply their own failure
    # threshold, so their verdict is read as it stands when the count is reached. Route 53 answers "healthy" until
    # its checkers reach their threshold, so letting that answer reset the count would add one detection time to
    # the other's (the rehearsal measured 58-69 s against the budget's 40 s). Only a healthy probe resets it; a
    # partition (Route 53 healthy) never fails over, however high the count.
    route53_unhealthy = route53 is False or (route53 is None and _single_vantage(clients))
    failures, first = state.failures, state.first_failure_at
    if direct.healthy:
        failures, first = 0, None
    else:
        failures, first = failures + 1, first or t
    reasons = [f"primary probe: {direct.detail}", f"route53 checkers: {_say(route53)}"]
    if not store.track(state, failures=failures, first_failure_at=first, votes=votes):
        return Decision(CONTENDED, site.name, state.failures, reasons, phase=state.phase)
    if direct.healthy:  # the count is 0 exactly then
        return Decision(HEALTHY, site.name, 0, phase=state.phase)
    if failures < site.failure_threshold or not route53_unhealthy:
        if failures >= site.failure_threshold:
            reasons.append("Route 53's checkers do not see the primary fail (yet): no failover on one vantage point")
        return Decision(SUSPECT, site.name, failures, reasons, phase=state.phase)
    reason = (
        f"the recovery Region's probe saw the primary fail {failures} rounds in a row ({direct.detail}) and Route "
        f"53's checkers see it {_say(route53)}"
    )
    # An unready standby is alerted once: on the first round both vantage points agree at the threshold.
    previous = (state.votes.get(VOTE_ROUTE53) or {}).get("healthy")
    alert = failures == site.failure_threshold or (state.failures >= site.failure_threshold and previous is not False)
    return start_failover(site, clients, probe, now, owner=owner, reason=reason, manual=False, alert=alert)


def _say(vote: bool | None) -> str:
    return "unknown" if vote is None else ("healthy" if vote else "unhealthy")


def _watch_failed_over(
    site: Site,
    clients: Clients,
    store: SiteStore,
    state: State,
    probe: Probe,
    now: datetime,
    owner: str,
    auto_failback: bool,
) -> Decision:
    """Every action is done (``finish`` is the last one). Track the primary's health for failback."""
    t = now.timestamp()
    direct, route53, votes = _votes(clients, site, probe, t)
    healthy = direct.healthy and (route53 is True or (route53 is None and _single_vantage(clients)))
    since = (state.primary_healthy_since or t) if healthy else None
    store.track(state, primary_healthy_since=since, votes=votes)  # lost to another round: it wrote the same
    decision = _progress(Decision(ALREADY_FAILED_OVER, site.name), state, FAILOVER_ACTIONS)
    if auto_failback and since is not None and t - since >= site.healthy_minutes_before_failback * 60:
        started = start_failback(site, clients, now, owner=owner, reason="primary healthy from both vantage points")
        if started.outcome == STARTED:
            return started
    return decision


# --- starting a transition -----------------------------------------------------------------------------------------


def start_failover(
    site: Site,
    clients: Clients,
    probe: Probe,
    now: datetime,
    *,
    owner: str,
    reason: str,
    manual: bool,
    accept_data_loss: bool = False,
    dry_run: bool = False,
    alert: bool = True,
) -> Decision:
    """Standby checks, the lag gate (manual only), then ``begin`` under the lock."""
    problems, lag = actions.standby_problems(clients, site, probe, now)
    if problems:
        if alert and not dry_run:
            actions.notify(
                clients,
                site,
                f"DR {site.name}: standby not ready, no failover",
                f"{reason}. The standby is not ready, so nothing was changed:\n- " + "\n- ".join(problems),
            )
        return Decision(STANDBY_NOT_READY, site.name, reasons=problems, phase=PRIMARY)
    refusal = actions.lag_gate(site, lag) if manual else None
    if refusal and not accept_data_loss:
        return Decision(
            DATA_LOSS_NOT_ACCEPTED,
            site.name,
            reasons=[refusal, "pass --accept-data-loss to fail over anyway (the lag is the data lost)"],
            actions={"observedLagSeconds": lag},
            phase=PRIMARY,
        )
    if dry_run:
        plan = {
            "switch": site.switch_kind,
            "activeRegion": site.recovery_region,
            "activeBuckets": {b["logical"]: b["replica"] for b in site.buckets},
            "database": site.database,
            "observedLagSeconds": lag,
            "actions": list(FAILOVER_ACTIONS),
        }
        return Decision(DRY_RUN, site.name, reasons=[reason] + ([refusal] if refusal else []), actions=plan)
    return _begin(site, clients, now, owner, PRIMARY, FAILING_OVER, reason, lag=lag, manual=manual)


def start_failback(
    site: Site, clients: Clients, now: datetime, *, owner: str, reason: str, dry_run: bool = False
) -> Decision:
    if dry_run:
        plan = {"actions": list(FAILBACK_ACTIONS), "buckets": [b["logical"] for b in site.buckets]}
        return Decision(DRY_RUN, site.name, reasons=[reason], actions=plan, phase=FAILED_OVER)
    return _begin(site, clients, now, owner, FAILED_OVER, FAILING_BACK, reason)


def _begin(
    site: Site,
    clients: Clients,
    now: datetime,
    owner: str,
    expect: str,
    phase: str,
    reason: str,
    *,
    lag: float | None = None,
    manual: bool = False,
) -> Decision:
    store = SiteStore(clients.dynamodb, site.lock_table)
    t = now.timestamp()
    if not store.acquire(owner, t, LEASE_SECONDS):
        return Decision(LOCKED, site.name, reasons=["another run holds the failover lock"], phase=expect)
    state = store.read()  # under the lock: the epoch and phase another run may have moved
    if state.phase != expect:
        return (
            transition_round(site, clients, store, owner, now)
            if state.phase == phase
            else Decision(
                TRANSITION_IN_PROGRESS if state.phase in (FAILING_OVER, FAILING_BACK) else NOT_FAILED_OVER,
                site.name,
                reasons=[f"site is in phase {state.phase!r}"],
                phase=state.phase,
            )
        )
    kind = "failover" if phase == FAILING_OVER else "failback"
    changes: dict[str, Any] = {
        "phase": phase,
        "transition": f"{kind}-{int(t * 1000)}-{owner}",
        "epoch": state.epoch + 1,
        "manual": manual,
    }
    if phase == FAILING_OVER:
        # From here on the application may write to the replica: failback reconciles from this moment.
        changes |= {"failed_over_at": t, "last_lag_seconds": lag}
    if not store.advance(owner, expect, changes, now=t, done={"begin": iso(now)}, reset_done=True):
        return Decision(LOST_LOCK, site.name, reasons=["the lock or the phase moved before begin was written"])
    decision = Decision(STARTED, site.name, state.failures, [reason], {"begin": changes})
    return _progress(decision, store.read(), transition_actions(phase))


# --- a transition round --------------------------------------------------------------------------------------------


def transition_round(
    site: Site,
    clients: Clients,
    store: SiteStore,
    owner: str,
    now: datetime,
    *,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Decision:
    """Under the lock: the first pending action of the current transition, once."""
    t = now.timestamp()
    if not store.acquire(owner, t, LEASE_SECONDS):
        held = store.read()
        return Decision(
            LOCKED,
            site.name,
            reasons=[f"{held.lock_owner} holds the lock until {held.lock_expires_at}; it continues the transition"],
            phase=held.phase,
        )
    state = store.read()
    if state.phase not in (FAILING_OVER, FAILING_BACK):
        order = FAILOVER_ACTIONS if state.phase == FAILED_OVER else FAILBACK_ACTIONS
        outcome = ALREADY_FAILED_OVER if state.phase == FAILED_OVER else NOT_FAILED_OVER
        return _progress(Decision(outcome, site.name), state, order)
    order = transition_actions(state.phase)
    action = next(a for a in order if a not in state.done)

    def renew() -> bool:
        if deadline is not None and clock() > deadline:
            return False
        return store.renew(owner, time.time(), LEASE_SECONDS)

    def out_of_time() -> bool:
        return deadline is not None and clock() > deadline

    context = StepContext(site, clients, state, now, renew, out_of_time=out_of_time)
    try:
        step = _step(action, context)
    except (ClientError, BotoCoreError, RuntimeError, ValueError) as error:
        decision = Decision(ACTION_FAILED, site.name, reasons=[f"{action}: {error}"])
        return _progress(decision, state, order)
    if not step.finished:
        first_poll = step.start_pending and action not in state.pending
        if first_poll and not store.advance(owner, state.phase, now=t, pending={action: iso(now)}):
            return _progress(Decision(LOST_LOCK, site.name, reasons=[f"{action}: lock lost"]), state, order)
        # Progress of long work (a reconcile's cursors) is kept, fenced, so the next round resumes instead of
        # starting over.
        if step.changes and not store.advance(owner, state.phase, dict(step.changes), now=t):
            return _progress(Decision(LOST_LOCK, site.name, reasons=[f"{action}: lock lost"]), state, order)
        outcome = CONTINUING if step.more_now else WAITING
        decision = Decision(outcome, site.name, reasons=[f"{action}: {step.reason or 'waiting'}"])
        decision.actions[action] = step.detail
        return _progress(decision, state, order)
    changes = dict(step.changes)
    finishing = action == "finish"
    if finishing:
        changes |= {"phase": FAILED_OVER if state.phase == FAILING_OVER else PRIMARY, "failures": 0}
        changes |= {"primary_healthy_since": None}
        if state.phase == FAILING_BACK:  # the failover keeps it: its detection time is reported from it
            changes |= {"first_failure_at": None}
    notes = {action: step.note} if step.note else None
    if not store.advance(owner, state.phase, changes, now=t, done={action: iso(now)}, notes=notes):
        return _progress(
            Decision(LOST_LOCK, site.name, reasons=[f"{action}: lock lost, nothing recorded"]), state, order
        )
    if "switch" in changes and actions.uses_switch_metric(site):
        # Only after the fenced write: the metric never says what the state does not.
        actions.publish_switch(clients, site, changes["switch"] == SWITCH_FAILED_OVER, now)
    after = store.read()
    if finishing:
        store.release(owner)
        outcome = FAILED_OVER_NOW if after.phase == FAILED_OVER else FAILED_BACK
        decision = Decision(outcome, site.name, reasons=[f"{state.transition} finished"])
        decision.timings = timings(site, after)
        decision.dns_confirmed = _dns_confirmed(after)
        return _progress(decision, after, order)
    decision = Decision(ADVANCED, site.name, reasons=[f"{action} done"], actions={action: step.detail})
    if action == "dns":
        decision.dns_confirmed = _dns_confirmed(after)
    return _progress(decision, after, order)


def _dns_confirmed(state: State) -> bool | None:
    note = state.notes.get("dns")
    return None if note is None or note.startswith("not verified") else note.startswith("confirmed")


def _step(action: str, context: StepContext) -> Step:
    if context.state.phase == FAILING_BACK and action in FAILBACK_STEPS:
        return FAILBACK_STEPS[action](context)
    if action == "report":
        return _report(context)
    if action == "finish":
        return Step(True)
    return FAILOVER_STEPS[action](context)


# --- the failover's steps ------------------------------------------------------------------------------------------


def _database(context: StepContext) -> Step:
    site, clients, state = context.site, context.clients, context.state
    if site.database is None:
        return Step(True, note="no database")
    if actions.database_writable(clients, site):
        return Step(True, note=f"writable; lag at begin {state.last_lag_seconds} s (the RPO estimate)")
    started = state.pending.get("database")
    if started is None:
        return Step(False, {"action": actions.start_promotion(clients, site)}, start_pending=True, reason="promoting")
    waited = (context.now - parse_iso(started)).total_seconds()
    if waited > DATABASE_ALERT_SECONDS and waited - DATABASE_ALERT_SECONDS < POLL_SECONDS * 2:
        actions.notify(clients, site, f"DR {site.name}: database not writable after {waited:.0f} s", "still polling")
    return Step(False, reason=f"promotion running for {waited:.0f} s")


def _settings(context: StepContext) -> Step:
    written = actions.move_settings(context.clients, context.site, to_recovery=True, epoch=context.state.epoch)
    return Step(True, written, note=f"primary copy {written['primaryRegionCopy']}")


def _switch(context: StepContext) -> Step:
    site = context.site
    if site.switch_kind == "arc":
        region = actions.set_routing_controls(context.clients, site, failed_over=True)
        return Step(
            True, {"routingControls": f"primary Off, secondary On via {region}"}, {"switch": SWITCH_FAILED_OVER}
        )
    return Step(True, {"switch": SWITCH_FAILED_OVER}, {"switch": SWITCH_FAILED_OVER})


def _dns(context: StepContext) -> Step:
    site, clients = context.site, context.clients
    if clients.resolver is None:
        return Step(True, note="not verified: no resolver configured")
    moved, values = actions.dns_moved(clients, site, to_recovery=True)
    if moved:
        return Step(True, values, note=f"confirmed: {', '.join(values)}")
    switched = context.state.done.get("switch")
    waited = (context.now - parse_iso(switched)).total_seconds() if switched else 0.0
    allowed = site.ttl_seconds + float(site.budget.get("switchSeconds", 120))
    if waited > allowed:
        actions.notify(
            clients,
            site,
            f"DR {site.name}: DNS not confirmed",
            f"{site.record_name} still answers {values or 'nothing'} {waited:.0f} s after the switch "
            f"(allowed {allowed:g} s)",
        )
        return Step(True, values, note=f"unconfirmed after {waited:.0f} s: {', '.join(values) or 'no answer'}")
    return Step(
        False, values, reason=f"{site.record_name} answers {values or 'nothing'} ({waited:.0f} s of {allowed:g} s)"
    )


def timings(site: Site, state: State) -> dict[str, float]:
    """Seconds between the transition's recorded steps (its timing metrics)."""
    done = {name: parse_iso(at).timestamp() for name, at in state.done.items()}
    found: dict[str, float] = {}
    if "begin" in done and state.first_failure_at:
        found["DetectionSeconds"] = done["begin"] - state.first_failure_at + site.probe_interval_seconds
    if "begin" in done and "switch" in done:
        found["SwitchSeconds"] = done["switch"] - done["begin"]
    if "switch" in done and "dns" in done and (state.notes.get("dns") or "").startswith("confirmed"):
        found["DnsConfirmedSeconds"] = done["dns"] - done["switch"]
    if "begin" in done and "report" in done:
        found["TransitionSeconds"] = done["report"] - done["begin"]
    return found


def _report(context: StepContext) -> Step:
    site, clients, state = context.site, context.clients, context.state
    failing_over = state.phase == FAILING_OVER
    measured = timings(site, state)
    if "begin" in state.done:
        measured["TransitionSeconds"] = context.now.timestamp() - parse_iso(state.done["begin"]).timestamp()
    actions.publish_timings(clients, site, measured, context.now)
    where = site.recovery_region if failing_over else site.primary_region
    body = {
        "transition": state.transition,
        "epoch": state.epoch,
        "done": state.done,
        "notes": state.notes,
        "rpoEstimateSeconds": state.last_lag_seconds,
        "timingsSeconds": measured,
    }
    verb = "failed over" if failing_over else "failed back"
    actions.notify(clients, site, f"DR {site.name}: {verb} to {where}", json.dumps(body, indent=2, sort_keys=True))
    return Step(True, measured)


FAILOVER_STEPS: dict[str, Callable[[StepContext], Step]] = {
    "database": _database,
    "settings": _settings,
    "switch": _switch,
    "dns": _dns,
}


# --- runs: the Lambda and drctl --------------------------------------------------------------------------------------


def pause_after(decision: Decision, site: Site) -> float:
    """Seconds to the next round: none after an action, a poll interval while one is polled or failed, the probe
    interval while watching."""
    if decision.outcome in CONTINUE_AT_ONCE:
        return 0.0
    if decision.outcome in (WAITING, ACTION_FAILED, LOCKED, LOST_LOCK):
        return min(POLL_SECONDS, float(site.probe_interval_seconds))
    return float(site.probe_interval_seconds)


def run_rounds(
    site: Site,
    clients: Clients,
    probe: Probe,
    *,
    owner: str,
    seconds: float = RUN_SECONDS,
    round_budget: float = ROUND_BUDGET_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
    stop: threading.Event | None = None,
    until: Callable[[Decision], bool] = lambda decision: False,
    first: Callable[[], Decision] | None = None,
    release: bool = True,
) -> list[Decision]:
    """Rounds for ``seconds``; a round starts only while ``seconds`` have not passed and the slowest round of this
    run would still end within ``seconds + round_budget`` (a slow AWS, or a loaded emulator, makes rounds longer
    than the budget assumes), so the run ends within that. Stops early on ``stop`` or when ``until(decision)``.
    Each decision's ``round_seconds`` is its duration. Releases the lock on the way out, so the next run
    continues at once instead of after the lease."""
    started = clock()
    decisions: list[Decision] = []
    slowest = 0.0
    store = SiteStore(clients.dynamodb, site.lock_table)
    try:
        while True:
            round_started = clock()
            if first is not None and not decisions:
                decision = first()
            else:
                decision = run_once(
                    site, clients, probe, now(), owner=owner, deadline=round_started + round_budget, clock=clock
                )
            decision.round_seconds = round(clock() - round_started, 6)
            slowest = max(slowest, decision.round_seconds)
            decisions.append(decision)
            if until(decision) or (stop is not None and stop.is_set()):
                return decisions
            next_round = (
                clock() if decision.outcome in CONTINUE_AT_ONCE else round_started + pause_after(decision, site)
            )
            if next_round - started > seconds or next_round - started + slowest > seconds + round_budget:
                return decisions
            delay = max(0.0, next_round - clock())
            if stop is not None:
                if stop.wait(delay):
                    return decisions
            else:
                sleep(delay)
    finally:
        if release:
            store.release(owner)


def failover(
    site: Site,
    clients: Clients,
    probe: Probe,
    now: datetime,
    *,
    reason: str,
    owner: str | None = None,
    dry_run: bool = False,
    accept_data_loss: bool = False,
    seconds: float = DRCTL_RUN_SECONDS,
    stop: threading.Event | None = None,
    clock: Callable[[], float] = time.monotonic,
    release: bool = True,
) -> Decision:
    """The manual, controlled failover (``drctl failover``): the same standby checks, lock and actions as an
    unplanned one, plus the lag gate. A run on a site already failing over finishes its pending actions."""
    owner = owner or f"drctl-failover-{uuid.uuid4()}"
    state = SiteStore(clients.dynamodb, site.lock_table).read()
    if state.phase == FAILED_OVER:
        return _progress(Decision(ALREADY_FAILED_OVER, site.name), state, FAILOVER_ACTIONS)
    if state.phase == FAILING_BACK:
        return _progress(
            Decision(TRANSITION_IN_PROGRESS, site.name, reasons=["a failback is in progress; let it finish"]),
            state,
            FAILBACK_ACTIONS,
        )
    begun = None
    if dry_run or state.phase == PRIMARY:
        begun = start_failover(
            site,
            clients,
            probe,
            now,
            owner=owner,
            reason=reason,
            manual=True,
            accept_data_loss=accept_data_loss,
            dry_run=dry_run,
        )
    return _drive(site, clients, probe, owner, seconds, stop, clock, release, begun=begun)


def failback(
    site: Site,
    clients: Clients,
    probe: Probe,
    now: datetime,
    *,
    owner: str | None = None,
    dry_run: bool = False,
    seconds: float = DRCTL_RUN_SECONDS,
    stop: threading.Event | None = None,
    clock: Callable[[], float] = time.monotonic,
    release: bool = True,
) -> Decision:
    """``drctl failback``: once the primary passes its probe now and has been healthy for
    ``healthyMinutesBeforeFailback`` (both vantage points), begin (or continue) the failback and drive it."""
    owner = owner or f"drctl-failback-{uuid.uuid4()}"
    store = SiteStore(clients.dynamodb, site.lock_table)
    state = store.read()
    if state.phase in (PRIMARY, FAILING_OVER):
        outcome = NOT_FAILED_OVER if state.phase == PRIMARY else TRANSITION_IN_PROGRESS
        return _progress(
            Decision(outcome, site.name, reasons=[f"site is in phase {state.phase!r}"]), state, FAILBACK_ACTIONS
        )
    begun = None
    if state.phase == FAILED_OVER:
        if not probe(site.primary_url).healthy:
            return Decision(WAITING_FOR_HEALTH, site.name, reasons=["the primary endpoint fails its probe now"])
        needed = site.healthy_minutes_before_failback * 60
        healthy_for = now.timestamp() - state.primary_healthy_since if state.primary_healthy_since else 0.0
        if healthy_for < needed:
            return Decision(
                WAITING_FOR_HEALTH,
                site.name,
                reasons=[
                    f"primary healthy for {healthy_for:.0f} s of the {needed:g} s required "
                    "(healthyMinutesBeforeFailback)"
                ],
            )
        begun = start_failback(site, clients, now, owner=owner, reason="drctl failback", dry_run=dry_run)
    return _drive(site, clients, probe, owner, seconds, stop, clock, release, begun=begun)


def _drive(
    site: Site,
    clients: Clients,
    probe: Probe,
    owner: str,
    seconds: float,
    stop: threading.Event | None,
    clock: Callable[[], float],
    release: bool,
    *,
    begun: Decision | None = None,
) -> Decision:
    """Rounds until the transition settles, an action fails (the re-run retries it), the lock is lost, ``stop``
    is set or ``seconds`` pass; the lock is released on the way out. ``begun``: this run's attempt to begin the
    transition (None when one was already under way); anything but ``started`` is the answer, and no round runs."""
    if begun is not None and begun.outcome != STARTED:
        return begun
    decisions = run_rounds(
        site,
        clients,
        probe,
        owner=owner,
        seconds=seconds,
        round_budget=seconds,
        clock=clock,
        stop=stop,
        until=lambda d: d.outcome in (*SETTLED, ACTION_FAILED, LOST_LOCK, LOCKED, NOT_FAILED_OVER),
        release=release,
    )
    return decisions[-1]


# --- clients and the Lambda entry point ------------------------------------------------------------------------------


class LazyClient:
    """A client created on first use: a cold start (the Lambda's, each ``drctl`` run) builds only the clients the
    rounds it runs need (each costs a botocore session: tenths of a second, seconds on a busy machine)."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._client: Any = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._factory()
        return getattr(self._client, name)


def clients_for(site: Site) -> Clients:
    recovery, primary = site.recovery_region, site.primary_region

    def arc(endpoint: str, region: str) -> Any:
        import boto3

        return boto3.client(
            "route53-recovery-cluster",
            region_name=region,
            endpoint_url=endpoint,
            config=aws.client_config(max_attempts=2),
        )

    def lazy(service: str, region: str, **options: Any) -> LazyClient:
        return LazyClient(lambda: aws.client(service, region, **options))

    def warm(service: str) -> LazyClient:  # the recovery region's: kept by a warm container between invocations
        return LazyClient(lambda: aws.cached_client(service, recovery))

    return Clients(
        cloudwatch=warm("cloudwatch"),
        ssm=warm("ssm"),
        dynamodb=warm("dynamodb"),
        sns=warm("sns"),
        s3=warm("s3"),
        rds=warm("rds") if site.database else None,
        ssm_primary=lazy("ssm", primary, max_attempts=1),  # best effort: the region may be gone
        arc=arc,
        resolver=site_resolver(site.record_name, os.environ.get("DR_DNS_NAMESERVERS")),
        s3_primary=lazy("s3", primary, max_attempts=2),
        dynamodb_primary=lazy("dynamodb", primary, max_attempts=1),
        rds_primary=lazy("rds", primary, max_attempts=1) if site.database else None,
        sleep=time.sleep,
    )


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The scheduled entry point (EventBridge ``rate(1 minute)``, async retries 0): rounds for ``RUN_SECONDS``,
    never starting one that could outlive the invocation (``get_remaining_time_in_millis``)."""
    from aws_lambda_powertools import Logger

    logger = Logger()
    parameter = os.environ["SITE_PARAMETER"]
    site = load_site(aws.cached_client("ssm"), parameter.rsplit("/", 1)[-1], app=parameter.split("/")[2])
    clients = clients_for(site)
    owner = f"orchestrator-{getattr(context, 'aws_request_id', None) or uuid.uuid4()}"
    # Counted after the setup (the descriptor read, the clients): a round starts only while a whole one still fits.
    remaining = context.get_remaining_time_in_millis() / 1000
    seconds = max(0.0, min(RUN_SECONDS, remaining - ROUND_BUDGET_SECONDS))
    decisions = run_rounds(site, clients, http_probe, owner=owner, seconds=seconds)
    last = decisions[-1]
    logger.info("failover rounds done", extra={"outcomes": [d.outcome for d in decisions], "last": last.as_dict()})
    return {
        "site": site.name,
        "rounds": len(decisions),
        "outcome": last.outcome,
        "outcomes": [d.outcome for d in decisions],
        "round_seconds": [d.round_seconds for d in decisions],
        "decision": last.as_dict(),
    }


__all__ = [
    "FAILBACK_ACTIONS",
    "FAILOVER_ACTIONS",
    "ROUND_BUDGET_SECONDS",
    "RUN_SECONDS",
    "Decision",
    "failback",
    "failover",
    "lambda_handler",
    "run_once",
    "run_rounds",
]
