"""The local two-Region rehearsal: region loss measured end to end, failback proven to lose nothing, and the two
races, on the emulated AWS of ``emulator/`` and the stack's own runtime (docs/design/failover-and-rehearsal.md).

One ``Rehearsal`` drives one site of a ``RehearsalStack`` (``emulator.provision``) through its scenarios, in order,
on the real clock:

- ``region_loss``: replication runs (``emulator.replication``: S3 CRR from the stored rules, the tables as MREC or
  MRSC), the workload (``emulator.workload``) writes canaries through the caching resolver and the application's
  settings, and the orchestrator's Lambda is invoked every ``SCHEDULE_SECONDS`` through ``emulator.functions``
  with its configured timeout (killed at it; a killed invocation fails the scenario). Then the primary Region is
  lost (``Emulator.lose_region``). **RTO measured** = fault to the first canary acknowledged in the recovery Region
  through DNS and settings; **RPO measured** = span of canaries acknowledged before the fault that are absent from
  the recovery Region after failover; both by ``handlers/drills/objectives.py``'s shared rule (through the
  workload). The site's modelled budget (``stackmodel/failover_budget.py``) is reported beside them.
- ``failback``: the Region is restored with the data it had (held replication delivered late), the workload keeps
  writing, the orchestrator fails back on its own once the primary has been healthy ``healthyMinutesBeforeFailback``
  (both vantage points); every acknowledged canary must then be present and current where the application reads,
  and the reconcile's conflicts are reported. A probe round (an extra orchestrator invocation) runs **during the
  reconcile** (race 1).
- ``overlapping_rounds``: the Region is lost again and two invocation streams half a schedule apart overlap
  through the whole failover (race 2). After each transition phase, switch, settings and DNS must agree, and the
  transition must have happened once (``epoch`` + 1).

Profiles (``Profile``): ``SCALED`` divides every time constant by one factor N (probe interval, checker interval,
TTL, config refresh, schedule, function timeouts, replication lag, failback hold-down) through ``DR_TIME_SCALE``
and the emulator's own scale; its figures are reported **scaled back** (multiplied by N) and
labelled ``measured (emulated AWS, time x1/N)`` (with the multiplication sign). ``REAL`` runs the stack's own
settings on the real clock.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from emulator import dns as emulator_dns
from emulator.functions import Invocation, invoke
from emulator.provision import LocalSite, RehearsalStack
from emulator.replication import Lag, Replicator
from emulator.route53 import DEFAULT_CHECKER_REGIONS
from emulator.workload import Workload, summarize
from handlers.drills.model import (
    REHEARSAL_TIME_SCALE,
    Basis,
    ScenarioResult,
    Status,
    judge,
    minutes_to_seconds,
    not_run,
)
from handlers.failover.state import SiteStore, State
from stackmodel.site import ORCHESTRATOR_TIMEOUT_SECONDS, SCHEDULE_SECONDS

ORCHESTRATOR = "handlers.failover.orchestrator:lambda_handler"
SCHEDULED_EVENT = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
PHASE_PRIMARY, PHASE_FAILED_OVER, PHASE_FAILING_BACK = "primary", "failed-over", "failing-back"

STILL_EMULATED = [
    "AWS itself: moto on 127.0.0.1 behind one proxy per Region (about 150-200 requests/s); a lost Region refuses "
    "its endpoint and every request for its buckets, tables and parameters",
    "replication: S3 CRR and DynamoDB MREC/MRSC by emulator/replication.py from the stored rules, lag drawn from a "
    "log-normal around 2 s (not AWS's distribution); in-flight writes of the lost Region are delivered on restore",
    "Route 53: health checkers, calculated/alarm checks and failover answers by emulator/route53.py from the "
    "documented rules; the delay from the checkers' verdict to changed answers at Route 53's name servers is "
    "undocumented and taken as 0 here (the drill record measures it deployed)",
    "DNS: one authoritative server per delegated name server on 127.0.0.1 and one caching resolver (the "
    "application's); real resolvers may hold an answer up to the full TTL, as this one does",
    "Lambda: each invocation in a local worker process with its configured timeout (killed at it); no cold-start, "
    "throttling or EventBridge delivery delay beyond the schedule",
    "the application: a client writing canaries every interval through DNS and its settings, not a real service",
]


@dataclass(frozen=True)
class Profile:
    name: str
    time_scale: float  # every time constant is divided by it
    checker_regions: tuple[str, ...]
    canary_interval_seconds: float  # wall seconds between canaries
    pre_fault_seconds: float  # stack seconds of normal operation before the fault
    # From the restore on: the failback judges lost writes, not time, and its reconcile's work per write is not
    # scaled (moto answers in wall time), so the scaled profile writes a canary every 40 s of stack time there.
    failback_canary_interval_seconds: float

    @property
    def basis_label(self) -> str:
        if self.time_scale == 1:
            return "measured (emulated AWS, real clock)"
        return f"measured (emulated AWS, time ×1/{self.time_scale:g})"  # noqa: RUF001 (the label's sign)

    def wall(self, stack_seconds: float) -> float:
        """Wall-clock seconds for a duration of the stack's time."""
        return stack_seconds / self.time_scale

    def stack(self, wall_seconds: float) -> float:
        """A measured wall-clock duration scaled back to the stack's time."""
        return round(wall_seconds * self.time_scale, 3)


# Three checker Regions (Route 53's minimum) keep the scaled demo within two cores; the real profile uses all eight.
SCALED = Profile(
    "scaled",
    time_scale=REHEARSAL_TIME_SCALE,
    checker_regions=DEFAULT_CHECKER_REGIONS[:3],
    canary_interval_seconds=0.5,  # a canary every 10 s of stack time: the RTO's resolution
    pre_fault_seconds=120.0,
    failback_canary_interval_seconds=2.0,
)
REAL = Profile(
    "real",
    time_scale=1.0,
    checker_regions=DEFAULT_CHECKER_REGIONS,
    canary_interval_seconds=1.0,
    pre_fault_seconds=180.0,
    failback_canary_interval_seconds=1.0,
)


def profile_for(time_scale: float) -> Profile:
    if time_scale == 1:
        return REAL
    return Profile(
        "scaled",
        time_scale=time_scale,
        checker_regions=SCALED.checker_regions,
        canary_interval_seconds=SCALED.canary_interval_seconds,
        pre_fault_seconds=SCALED.pre_fault_seconds,
        failback_canary_interval_seconds=SCALED.failback_canary_interval_seconds,
    )


@dataclass
class Schedule:
    """EventBridge ``rate(1 minute)``: an asynchronous invocation every ``SCHEDULE_SECONDS`` (scaled), whether the
    last one has finished or not; ``offset`` starts a second, overlapping stream (race 2)."""

    rehearsal: Rehearsal
    offset: float = 0.0
    invocations: list[tuple[float, Invocation]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> Schedule:
        thread = threading.Thread(target=self._run, name="eventbridge", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def _run(self) -> None:
        period = self.rehearsal.profile.wall(SCHEDULE_SECONDS)
        next_at = time.monotonic() + self.offset
        while not self._stop.wait(max(0.0, next_at - time.monotonic())):
            self.fire()
            next_at += period

    def fire(self) -> threading.Thread:
        started = time.time()

        def call() -> None:
            result = self.rehearsal.invoke_orchestrator()
            self.invocations.append((started, result))

        thread = threading.Thread(target=call, name="orchestrator-invocation", daemon=True)
        thread.start()
        self._threads.append(thread)
        return thread

    def stop(self) -> None:
        self._stop.set()
        for thread in list(self._threads):
            thread.join(timeout=self.rehearsal.profile.wall(ORCHESTRATOR_TIMEOUT_SECONDS) + 30)

    def timeouts(self) -> list[Invocation]:
        return [result for _, result in self.invocations if result.outcome == "timeout"]

    def errors(self) -> list[Invocation]:
        return [result for _, result in self.invocations if result.outcome == "error"]


class Timeline:
    """When phase, switch, the active-region setting and the DNS answer changed (sampled every ``interval``)."""

    def __init__(self, rehearsal: Rehearsal, interval: float = 0.2) -> None:
        self.rehearsal = rehearsal
        self.interval = interval
        self.changes: list[tuple[float, str, Any]] = []  # (epoch seconds, what, new value)
        self._last: dict[str, Any] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="timeline", daemon=True)

    def start(self) -> Timeline:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _sample(self) -> dict[str, Any]:
        sample: dict[str, Any] = {}
        with contextlib.suppress(Exception):
            state = self.rehearsal.state()
            sample.update(phase=state.phase, switch=state.switch)
        with contextlib.suppress(Exception):
            regions = set(self.rehearsal.dns_regions().values())
            sample["dns"] = regions.pop() if len(regions) == 1 else sorted(str(r) for r in regions)
        with contextlib.suppress(Exception):
            parameter = self.rehearsal.descriptor["parameters"]["activeRegion"]
            ssm = self.rehearsal.client("ssm", self.rehearsal.recovery)
            sample["active-region"] = ssm.get_parameter(Name=parameter)["Parameter"]["Value"]
        return sample

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            now = time.time()
            for what, value in self._sample().items():
                if self._last.get(what) != value:
                    self._last[what] = value
                    self.changes.append((now, what, value))

    def first(self, what: str, value: Any, after: float) -> float | None:
        return next((at for at, name, new in self.changes if name == what and new == value and at >= after), None)

    def since(self, start: float, scale: Callable[[float], float]) -> list[str]:
        return [f"+{scale(at - start):.1f} s {what} = {value}" for at, what, value in self.changes if at >= start]


class Rehearsal:
    """The scenarios of one site on one rehearsal stack (module docstring)."""

    def __init__(
        self,
        stack: RehearsalStack,
        site: LocalSite,
        profile: Profile,
        *,
        witnesses: Mapping[str, str] | None = None,
        progress: Callable[[str], None] = lambda _message: None,
        seed: int = 19,
    ) -> None:
        self.stack = stack
        self.site = site
        self.profile = profile
        self.progress = progress
        self.descriptor = site.descriptor
        self.primary = str(self.descriptor["primaryRegion"])
        self.recovery = str(self.descriptor["recoveryRegion"])
        self.client = functools.cache(lambda service, region: stack.emulator.client(service, region))
        self.replicator = Replicator(
            stack.emulator,
            s3_lag=Lag.seconds().scaled(1 / profile.time_scale),
            dynamodb_lag=Lag.seconds(median=0.5).scaled(1 / profile.time_scale),
            seed=seed,
        )
        for table in stack.targets.tables or ():
            regions = [table.region, *table.replica_regions]
            if table.consistency_mode == "STRONG":
                witness = (witnesses or {}).get(table.table_name)
                self.replicator.add_global_table(table.table_name, regions, mode="MRSC", witness=witness)
            elif len(regions) > 1:
                self.replicator.add_global_table(table.table_name, regions)
        budget = self.descriptor.get("budget") or {}
        resolver = stack.resolver(site)
        self.resolver = resolver
        self.workload = Workload(
            self.descriptor,
            resolve=lambda name: (resolver.resolve(name), 0.0),  # a CNAME answers any type: followed
            connect=lambda address: stack.network(address),
            clients=self.client,
            config_refresh_seconds=profile.wall(float(budget.get("configRefreshSeconds", 30))),
            interval_seconds=profile.canary_interval_seconds,
        )
        self.schedule = Schedule(self)
        self.timeline = Timeline(self)
        self.started = False
        self.fault_at: float | None = None

    # --- running -------------------------------------------------------------------------------------------------

    def invoke_orchestrator(self) -> Invocation:
        return invoke(
            ORCHESTRATOR,
            SCHEDULED_EVENT,
            timeout_seconds=self.profile.wall(ORCHESTRATOR_TIMEOUT_SECONDS),
            env=self.stack.function_environment(self.site),
        )

    def start(self) -> None:
        if self.started:
            return
        self.replicator.start()
        self.workload.start()
        self.schedule.start()
        self.timeline.start()
        self.started = True

    def stop(self) -> None:
        if not self.started:
            return
        self.timeline.stop()
        self.schedule.stop()
        self.workload.stop()
        self.replicator.stop()
        self.started = False

    def __enter__(self) -> Rehearsal:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def state(self) -> State:
        return SiteStore(self.client("dynamodb", self.recovery), str(self.descriptor["lockTable"])).read()

    def wait_for(self, predicate: Callable[[], bool], stack_seconds: float, poll: float = 0.05) -> bool:
        deadline = time.monotonic() + self.profile.wall(stack_seconds)
        while time.monotonic() < deadline:
            try:
                if predicate():
                    return True
            except Exception:  # a read through a lost Region: not yet
                pass
            time.sleep(poll)
        return False

    # --- what agrees ---------------------------------------------------------------------------------------------

    def name_servers(self) -> list[tuple[str, int]]:
        assert self.site.name_servers is not None
        return self.site.name_servers.addresses()

    def dns_regions(self) -> dict[str, str | None]:
        """What each of the zone's name servers answers for the record, as the Region it names."""
        hosts = {
            str(self.descriptor["primary"]["host"]).lower(): self.primary,
            str(self.descriptor["secondary"]["host"]).lower(): self.recovery,
        }
        answers: dict[str, str | None] = {}
        assert self.site.name_servers is not None
        for name, server in self.site.name_servers.servers.items():
            try:
                found = emulator_dns.query(self.site.record_name, "A", server.address)
            except OSError:
                answers[name] = None
                continue
            answers[name] = next((hosts.get(a.value.lower()) for a in found if a.value.lower() in hosts), None)
        return answers

    def agreement(self) -> dict[str, Any]:
        """Phase, switch, the active-region setting (recovery Region's copy) and DNS, and whether they agree."""
        state = self.state()
        parameter = self.descriptor["parameters"]["activeRegion"]
        active = self.client("ssm", self.recovery).get_parameter(Name=parameter)["Parameter"]["Value"]
        dns_regions = self.dns_regions()
        expected = {PHASE_PRIMARY: self.primary, PHASE_FAILED_OVER: self.recovery}.get(state.phase)
        switch_expected = {PHASE_PRIMARY: "primary", PHASE_FAILED_OVER: "failed-over"}.get(state.phase)
        agree = (
            expected is not None
            and state.switch == switch_expected
            and active == expected
            and all(region == expected for region in dns_regions.values())
        )
        return {
            "phase": state.phase,
            "switch": state.switch,
            "epoch": state.epoch,
            "active_region": active,
            "dns": dns_regions,
            "agree": agree,
            "done": sorted(state.done),
        }

    def _result(self, scenario: str, *, rto_target: float | None, rpo_target: float | None) -> ScenarioResult:
        return ScenarioResult(
            scenario=scenario,
            target=f"site {self.site.name}",
            status=Status.failed,
            rto_seconds_target=rto_target,
            rpo_seconds_target=rpo_target,
            rto_basis=Basis.measured,
            rpo_basis=Basis.measured,
            emulated=list(STILL_EMULATED),
        )

    def _label(self, result: ScenarioResult) -> None:
        result.checks["basis_label"] = self.profile.basis_label
        result.checks["time_scale"] = self.profile.time_scale

    def _invocations(self, since: float) -> dict[str, Any]:
        chosen = [(at, r) for at, r in list(self.schedule.invocations) if at >= since]
        return {
            "count": len(chosen),
            "outcomes": [r.outcome for _, r in chosen],
            "timeouts": sum(1 for _, r in chosen if r.outcome == "timeout"),
            "errors": [str((r.payload or {}).get("errorMessage", ""))[:200] for _, r in chosen if r.outcome == "error"],
            "max_duration_seconds_scaled_back": self.profile.stack(
                max((r.duration_seconds for _, r in chosen), default=0)
            ),
            # the orchestrator's own measure of its rounds (a killed invocation returns none)
            "slowest_round_seconds_scaled_back": self.profile.stack(
                max(
                    (s for _, r in chosen if isinstance(r.payload, dict) for s in r.payload.get("round_seconds") or ()),
                    default=0,
                )
            ),
            "timeout_seconds": ORCHESTRATOR_TIMEOUT_SECONDS,
        }

    # --- scenarios -----------------------------------------------------------------------------------------------

    def region_loss(self, name: str = "region-loss-failover") -> ScenarioResult:
        objective = self.stack.targets
        site_target = next(t for t in objective.sites or () if t.name == self.site.name)
        result = self._result(
            name,
            rto_target=minutes_to_seconds(site_target.regional.rto_minutes),
            rpo_target=minutes_to_seconds(site_target.regional.rpo_minutes),
        )
        self._label(result)
        self.start()
        self.progress(f"{name}: workload writing, orchestrator every {self.profile.wall(SCHEDULE_SECONDS):g} s")
        time.sleep(self.profile.wall(self.profile.pre_fault_seconds))
        before = self.agreement()
        counts = summarize(self.workload.records())
        self.progress(f"{name}: before the fault {counts['acknowledged']} writes acknowledged, {before}")
        if not counts["acknowledged"]:
            result.checks["workload"] = counts
            result.notes.append("the workload had no write acknowledged before the fault: nothing to measure")
            return judge(result, False)
        began = time.time()
        self.fault_at = fault_at = time.time()
        self.stack.emulator.lose_region(self.primary)
        self.progress(f"{name}: {self.primary} lost")
        budget = float(site_target.budget.get("rtoSeconds", 120))
        limit = 3 * budget + 2 * SCHEDULE_SECONDS + 120
        failed_over = self.wait_for(
            lambda: self.state().phase == PHASE_FAILED_OVER and self.workload.rto(fault_at, self.recovery) is not None,
            limit,
        )
        settled = self.wait_for(lambda: bool(self.agreement()["agree"]), 2 * budget)
        # pre-fault writes still in flight to the recovery Region arrive; the lost Region's stay held (not lost)
        self.replicator.wait_until_idle(timeout=self.profile.wall(60) + 5)
        rto_wall = self.workload.rto(fault_at, self.recovery)
        rpo_s3 = self.workload.rpo(fault_at, self.recovery, store="s3")
        rpo_table = self.workload.rpo(fault_at, self.recovery, store="table") if self._has_tables() else None
        worst = max((m for m in (rpo_s3, rpo_table) if m is not None), key=lambda m: m.rpo_seconds)
        result.rto_seconds_measured = None if rto_wall is None else self.profile.stack(rto_wall)
        result.rpo_seconds_measured = self.profile.stack(worst.rpo_seconds)
        result.rpo = {**worst.as_dict(), "store": "s3" if worst is rpo_s3 else "table"}
        after = self.agreement()
        invocations = self._invocations(began - self.profile.wall(SCHEDULE_SECONDS))
        result.checks.update(
            {
                "before": before,
                "after": after,
                "failed_over": failed_over,
                "settled": settled,
                "invocations": invocations,
                "workload": summarize(self.workload.records()),
                "rpo_by_store": {
                    "s3": rpo_s3.as_dict(),
                    **({"table": rpo_table.as_dict()} if rpo_table is not None else {}),
                },
                "budget": dict(site_target.budget),
                "replication": self.replicator.pending(),
            }
        )
        rto_text = "-" if rto_wall is None else f"{rto_wall:.2f} s wall x {self.profile.time_scale:g}"
        result.checks["timeline"] = self.timeline.since(fault_at, self.profile.stack)
        milestones = {
            "failover begun": self.timeline.first("phase", "failing-over", fault_at),
            "settings moved": self.timeline.first("active-region", self.recovery, fault_at),
            "switch flipped": self.timeline.first("switch", "failed-over", fault_at),
            "DNS answers the secondary": self.timeline.first("dns", self.recovery, fault_at),
            "failed over": self.timeline.first("phase", PHASE_FAILED_OVER, fault_at),
        }
        result.checks["milestones_seconds"] = {
            what: None if at is None else self.profile.stack(at - fault_at) for what, at in milestones.items()
        }
        result.notes += [
            "after the fault (scaled back): "
            + ", ".join(
                f"{what} +{seconds:.0f} s" for what, seconds in result.checks["milestones_seconds"].items() if seconds
            ),
            f"basis: {self.profile.basis_label}; figures scaled back to the stack's time",
            f"RTO measured {result.rto_seconds_measured} s ({rto_text}) beside the modelled budget {budget:.0f} s "
            f"({_budget_text(site_target.budget)})",
            f"RPO measured {result.rpo_seconds_measured} s from {worst.pre_fault} canaries acknowledged before the "
            f"fault ({worst.pre_fault_recovered} in {self.recovery} after failover)",
            f"orchestrator invocations: {invocations['count']}, timed out {invocations['timeouts']} "
            f"(timeout {ORCHESTRATOR_TIMEOUT_SECONDS} s)",
        ]
        if invocations["timeouts"]:
            result.notes.append("an orchestrator invocation outlived its timeout and was killed: the scenario fails")
        correct = failed_over and settled and bool(after["agree"]) and not invocations["timeouts"]
        return judge(result, correct)

    def _has_tables(self) -> bool:
        return any(record.store == "table" for record in self.workload.acknowledged())

    def failback(self, name: str = "failback") -> list[ScenarioResult]:
        """Restore the primary, keep writing, let the orchestrator fail back (with a probe round during the
        reconcile), and check that no acknowledged write is lost."""
        result = self._result(name, rto_target=None, rpo_target=0.0)
        race = self._result("race-probe-during-reconcile", rto_target=None, rpo_target=None)
        self._label(result)
        self._label(race)
        if self.state().phase != PHASE_FAILED_OVER:
            reason = f"the site is not failed over (phase {self.state().phase}): run region-loss-failover first"
            return [not_run(name, result.target, reason), not_run(race.scenario, race.target, reason)]
        restored_at = time.time()
        self.stack.emulator.restore_region(self.primary)
        self.workload.set_interval(self.profile.failback_canary_interval_seconds)
        self.progress(
            f"{name}: {self.primary} restored; failback after "
            f"{self.descriptor['healthyMinutesBeforeFailback']} min healthy "
            f"({self.profile.wall(60 * float(self.descriptor['healthyMinutesBeforeFailback'])):.0f} s here)"
        )
        hold = 60 * float(self.descriptor["healthyMinutesBeforeFailback"])
        reconcile_race: dict[str, Any] = {}
        probe_thread: threading.Thread | None = None

        def failing_back() -> bool:
            nonlocal probe_thread
            state = self.state()
            if state.phase == PHASE_FAILING_BACK and probe_thread is None:
                # race 1: a probe round while the failback reconciles (its health write bumps the version)
                reconcile_race["phase_at_probe"] = state.phase
                reconcile_race["done_at_probe"] = sorted(state.done)
                probe_thread = self.schedule.fire()
            return state.phase == PHASE_FAILING_BACK

        self.wait_for(failing_back, hold + 3 * SCHEDULE_SECONDS + 300, poll=0.02)
        # Two reconcile passes over every write of the failover, the hold (config refresh + switch + TTL) between
        # them and five short steps. On AWS minutes; here the passes' S3 work is not scaled (moto answers in wall
        # time while each round's budget is divided), so the bound is 40 minutes of stack time (2 min at x1/20).
        back = self.wait_for(lambda: self.state().phase == PHASE_PRIMARY, 2400)
        settled = self.wait_for(lambda: bool(self.agreement()["agree"]), 300)
        finished_at = time.time()
        time.sleep(self.profile.wall(10))  # writes after failback, to the primary
        self.replicator.wait_until_idle(timeout=self.profile.wall(60) + 5)
        after = self.agreement()
        missing = self.workload.missing_after(self.primary)
        acknowledged = self.workload.acknowledged()
        during = [r for r in acknowledged if (r.acknowledged_at or 0) >= (self.fault_at or restored_at)]
        conflicts = self._reconcile_reports(restored_at)
        result.rto_seconds_measured = self.profile.stack(finished_at - restored_at)
        result.rpo_seconds_measured = (
            0.0 if not missing else self.profile.stack(max(finished_at - r.written_at for r in missing))
        )
        result.checks.update(
            {
                "after": after,
                "failed_back": back,
                "settled": settled,
                "acknowledged": len(acknowledged),
                "acknowledged_since_failover": len(during),
                "lost": [{"sequence": r.sequence, "store": r.store, "location": r.location} for r in missing[:20]],
                "lost_count": len(missing),
                "reconcile": conflicts,
                "invocations": self._invocations(restored_at),
                "workload": summarize(self.workload.records()),
            }
        )
        result.notes += [
            f"basis: {self.profile.basis_label}",
            f"failback took {result.rto_seconds_measured} s from the restore (hold-down "
            f"{self.descriptor['healthyMinutesBeforeFailback']} min included); no failback RTO is declared",
            f"{len(acknowledged) - len(missing)} of {len(acknowledged)} acknowledged canaries present and current "
            f"in {self.primary} after failback; {len(missing)} lost",
            f"reconcile conflicts reported: {conflicts.get('conflicts', 'none reported')}",
        ]
        timed_out = result.checks["invocations"]["timeouts"]
        if timed_out:
            pending = [
                a
                for a in (
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
                if a not in after["done"]
            ]
            result.notes.append(
                f"{timed_out} orchestrator invocations outlived their {ORCHESTRATOR_TIMEOUT_SECONDS} s timeout, were "
                f"killed while the failback was in phase {after['phase']} with {pending[:1] or ['nothing']} pending: "
                "that step does not fit the function's round budget"
            )
        judge(result, back and settled and not missing and not self.schedule.timeouts())
        race.checks.update({"probe_round": reconcile_race, "after": after, "fired": probe_thread is not None})
        race.notes.append(
            "an extra orchestrator invocation fired as soon as the phase read failing-back (reconcile under way); "
            "phase, switch, settings and DNS must agree afterwards"
        )
        judge(race, probe_thread is not None and back and bool(after["agree"]))
        return [result, race]

    def _reconcile_reports(self, since: float) -> dict[str, Any]:
        """What the failback's reconcile reported (each invocation's decision), summed."""
        found: dict[str, Any] = {"passes": []}
        for at, invocation in list(self.schedule.invocations):
            if at < since or not isinstance(invocation.payload, Mapping):
                continue
            decision = invocation.payload.get("decision") or {}
            for action, detail in (decision.get("actions") or {}).items():
                if str(action).startswith("reconcile"):
                    found["passes"].append({"action": action, "detail": detail})
        conflicts = [
            conflict
            for entry in found["passes"]
            if isinstance(entry["detail"], Mapping)
            for conflict in _as_list(entry["detail"].get("conflicts"))
        ]
        found["conflicts"] = conflicts
        return found

    def overlapping_rounds(self, name: str = "race-overlapping-rounds") -> ScenarioResult:
        """Race 2: a second invocation stream half a schedule apart overlaps the first through a failover."""
        result = self._result(name, rto_target=None, rpo_target=None)
        self._label(result)
        if self.state().phase != PHASE_PRIMARY:
            return not_run(name, result.target, f"the site is in phase {self.state().phase}, not primary")
        self.start()
        epoch_before = self.state().epoch
        second = Schedule(self, offset=self.profile.wall(SCHEDULE_SECONDS) / 2).start()
        began = time.time()
        self.stack.emulator.lose_region(self.primary)
        self.progress(f"{name}: {self.primary} lost again, two overlapping invocation streams")
        try:
            failed_over = self.wait_for(lambda: self.state().phase == PHASE_FAILED_OVER, 600)
            # keep both streams running a few schedules past the transition: late rounds must not move anything
            time.sleep(self.profile.wall(2 * SCHEDULE_SECONDS))
            settled = self.wait_for(lambda: bool(self.agreement()["agree"]), 120)
        finally:
            second.stop()
        after = self.agreement()
        overlapping = [(at, inv) for at, inv in self.schedule.invocations + second.invocations if at >= began]
        result.checks.update(
            {
                "after": after,
                "epoch_before": epoch_before,
                "transitions": after["epoch"] - epoch_before,
                "invocations": len(overlapping),
                "outcomes": sorted({str((inv.payload or {}).get("outcome")) for _, inv in overlapping}),
                "timeouts": sum(1 for _, inv in overlapping if inv.outcome == "timeout"),
            }
        )
        result.notes.append(
            f"{len(overlapping)} invocations from two streams overlapped; the failover happened "
            f"{after['epoch'] - epoch_before} time(s) and phase, switch, settings and DNS "
            f"{'agree' if after['agree'] else 'DISAGREE'}"
        )
        judge(
            result,
            failed_over
            and settled
            and bool(after["agree"])
            and after["epoch"] - epoch_before == 1
            and not result.checks["timeouts"],
        )
        return result


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, int):
        return [value] if value else []
    return [value]


def _budget_text(budget: Mapping[str, Any]) -> str:
    keys = (
        ("detection", "detectionSeconds"),
        ("actions", "actionsSeconds"),
        ("switch", "switchSeconds"),
        ("TTL", "ttlSeconds"),
        ("config refresh", "configRefreshSeconds"),
    )
    return ", ".join(f"{label} {budget[key]} s" for label, key in keys if key in budget)


class LocalRehearsals:
    """The rehearsal of each site of a drilled stack, started on first use (one ``RehearsalStack`` for all sites)
    and kept across scenarios: region loss, then failback, then the overlapping rounds run on the same site."""

    def __init__(
        self,
        targets: Any,
        profile: Profile,
        *,
        witnesses: Mapping[str, str] | None = None,
        progress: Callable[[str], None] = lambda _message: None,
    ) -> None:
        self.targets = targets
        self.profile = profile
        self.witnesses = dict(witnesses or {})
        self.progress = progress
        self._exit = contextlib.ExitStack()
        self._stack: RehearsalStack | None = None
        self._sites: dict[str, Rehearsal] = {}

    def for_site(self, name: str) -> Rehearsal:
        from emulator.provision import rehearsal_stack

        if self._stack is None:
            self.progress(f"rehearsal: starting the two-Region emulator ({self.profile.basis_label})")
            self._stack = self._exit.enter_context(
                rehearsal_stack(
                    self.targets,
                    time_scale=self.profile.time_scale,
                    checker_regions=self.profile.checker_regions,
                    witness_regions=sorted(set(self.witnesses.values())),
                )
            )
        if name not in self._sites:
            rehearsal = Rehearsal(
                self._stack, self._stack.site(name), self.profile, witnesses=self.witnesses, progress=self.progress
            )
            self._exit.callback(rehearsal.stop)
            self._sites[name] = rehearsal
        return self._sites[name]

    def close(self) -> None:
        self._exit.close()


@contextlib.contextmanager
def rehearsal_for(
    stack: RehearsalStack,
    site: LocalSite,
    profile: Profile,
    *,
    witnesses: Mapping[str, str] | None = None,
    progress: Callable[[str], None] = lambda _message: None,
) -> Iterator[Rehearsal]:
    rehearsal = Rehearsal(stack, site, profile, witnesses=witnesses, progress=progress)
    try:
        yield rehearsal
    finally:
        rehearsal.stop()
