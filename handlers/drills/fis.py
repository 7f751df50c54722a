"""The regional RPO measured from data while AWS FIS pauses replication (deployed stacks only).

For one tier-1 bucket and its FIS template (``components/drills.py``, ``aws:s3:bucket-pause-replication``), or one
global table's primary replica and its template (``aws:dynamodb:global-table-pause-replication``); the steps are
``measure_paused_replication``'s, on a ``PausedStore`` (canary objects, or canary items):

1. canaries are written continuously into the primary, under the drill prefix;
2. the baseline: the drill waits until replication delivers a canary to the replica (a broken replication is
   reported as such, not measured as an RPO);
3. once the template's stop conditions are out of ALARM (tables), ``fis.start_experiment`` pauses replication; the
   drill waits until the experiment is ``running``;
4. canaries keep being written for ``hold_seconds`` across the pause (a bucket's lag guard in ALARM ends the hold
   early); then the region is declared lost: that instant is the fault;
5. the replica is read: the RPO is ``handlers.drills.objectives.measure_rpo`` over the canaries present in the
   replica with their content (fault time minus the write time of the newest pre-fault canary that arrived);
6. ``fis.stop_experiment`` (always, even when a step failed) and a wait for a terminal state; then the store's
   canaries are cleaned up where they can be (table items; tier-1 objects stay under the bucket's lock).

The figure is what a region loss after ``hold_seconds`` of stalled replication would lose; it is judged against
the bucket's declared regional RPO. Canaries written after the fault are reported, not counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from handlers.drills.canaries import CanaryWriter, canary_payload
from handlers.drills.model import BucketTarget, ScenarioResult, Status, TableTarget, judge, minutes_to_seconds
from handlers.drills.objectives import measure_rpo
from handlers.drills.table import _delete_canaries
from handlers.dynamodb.restore import batch_get, canonical_key
from handlers.runtime_names import drill_table_stop_alarm_name

RUNNING = "running"
TERMINAL_STATES = frozenset({"completed", "stopped", "failed", "cancelled"})
CANARY_RATE_PER_SECOND = 2.0  # a few hundred canaries per pause: each is read back from the replica


@dataclass(frozen=True)
class FisTiming:
    hold_seconds: float = 60.0  # canaries written while replication is paused, before the fault
    baseline_timeout_seconds: float = 300.0  # replication must deliver a canary within this before the pause
    state_timeout_seconds: float = 180.0  # FIS must reach running (or a terminal state after a stop) within this
    poll_seconds: float = 5.0
    canary_rate: float = CANARY_RATE_PER_SECOND


class ExperimentError(RuntimeError):
    """The experiment did not reach the state the drill needs; the drill reports it and measures nothing."""


@dataclass
class Experiment:
    id: str
    states: list[str] = field(default_factory=list)


def _state(response: dict[str, Any]) -> str:
    return str(response["experiment"]["state"]["status"])


# Experiment states before a terminal one (FIS API reference, ExperimentState).
ACTIVE_STATES = frozenset({"pending", "initiating", "running", "stopping"})
DRILL_TAG = "dr:drill"  # every experiment a drill starts carries it (start_experiment below)


def running_drill_experiments(fis: Any, templates: Collection[str] = ()) -> list[dict[str, Any]]:
    """Drill experiments not yet finished in the client's Region: those a drill started (tagged ``dr:drill``) and any
    started from one of ``templates`` (the stack's, from the console too). A ``pulumi up`` (or another drill) must
    wait for them, since the stack would change the replication they pause."""
    found, token = [], None
    while True:
        page = fis.list_experiments(**({"nextToken": token} if token else {}))
        for experiment in page.get("experiments", []):
            state = experiment.get("state", {}).get("status")
            tags = experiment.get("tags") or {}
            template = experiment.get("experimentTemplateId")
            if state in ACTIVE_STATES and (DRILL_TAG in tags or template in templates):
                found.append(
                    {"id": experiment.get("id"), "template": template, "state": state, "drill": tags.get(DRILL_TAG)}
                )
        token = page.get("nextToken")
        if not token:
            return found


def running_drill_workflows(stepfunctions: Any, name: str) -> list[dict[str, Any]]:
    """Running executions of the scheduled drill's workflow ``name`` (client in the recovery Region): each may start
    a pause at any moment, so a ``pulumi up`` waits for them too. No such state machine: nothing runs."""
    machine = None
    for page in stepfunctions.get_paginator("list_state_machines").paginate():
        machine = next((m for m in page.get("stateMachines", []) if m.get("name") == name), machine)
    if machine is None:
        return []
    running = []
    pages = stepfunctions.get_paginator("list_executions").paginate(
        stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING"
    )
    for page in pages:
        running += [
            {"execution": e["executionArn"], "started": str(e.get("startDate")), "workflow": name}
            for e in page.get("executions", [])
        ]
    return running


FIRST_RUN = "first-run-after-deploy"


def start_first_drill(stepfunctions: Any, name: str) -> dict[str, Any]:
    """Start the scheduled drill's workflow once if it has never run, so its ``DrillPassed`` alarm (missing data
    breaches: no drill is a failure) reports a verdict soon after the first deploy instead of an interval later.
    The fixed execution name makes a repeated start of the same run idempotent (Standard workflows, StartExecution)."""
    machine = next(
        (
            m
            for page in stepfunctions.get_paginator("list_state_machines").paginate()
            for m in page.get("stateMachines", [])
            if m.get("name") == name
        ),
        None,
    )
    if machine is None:
        return {"workflow": name, "started": None, "reason": "the stack has no scheduled drill workflow"}
    executions = stepfunctions.list_executions(stateMachineArn=machine["stateMachineArn"], maxResults=1)
    if executions.get("executions"):
        return {"workflow": name, "started": None, "reason": "the workflow has run before: its schedule carries on"}
    started = stepfunctions.start_execution(stateMachineArn=machine["stateMachineArn"], name=FIRST_RUN, input="{}")
    return {"workflow": name, "started": started["executionArn"], "reason": "never run: the first drill starts now"}


def start_experiment(fis: Any, template_id: str, drill_id: str) -> Experiment:
    running = running_drill_experiments(fis)
    if running:
        raise ExperimentError(f"another drill's experiment is still active, not starting a second pause: {running}")
    response = fis.start_experiment(
        clientToken=f"{drill_id}-{template_id}"[:64],  # idempotent: a retried start runs one experiment
        experimentTemplateId=template_id,
        tags={DRILL_TAG: drill_id},
    )
    experiment = Experiment(response["experiment"]["id"])
    experiment.states.append(_state(response))
    return experiment


def wait_for(
    fis: Any,
    experiment: Experiment,
    wanted: frozenset[str],
    timing: FisTiming,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """Poll ``GetExperiment`` until its state is in ``wanted``; a terminal state not wanted is an error."""
    deadline = clock() + timing.state_timeout_seconds
    while True:
        state = _state(fis.get_experiment(id=experiment.id))
        if not experiment.states or experiment.states[-1] != state:
            experiment.states.append(state)
        if state in wanted:
            return state
        if state in TERMINAL_STATES:
            raise ExperimentError(f"experiment {experiment.id} ended {state} before it reached {sorted(wanted)}")
        if clock() > deadline:
            raise ExperimentError(f"experiment {experiment.id} still {state} after {timing.state_timeout_seconds} s")
        sleep(timing.poll_seconds)


def stop_experiment(fis: Any, experiment: Experiment, timing: FisTiming, **waits: Any) -> str:
    """Stop (a finished experiment is left as it is) and wait for a terminal state."""
    state = _state(fis.get_experiment(id=experiment.id))
    if state not in TERMINAL_STATES:
        experiment.states.append(_state(fis.stop_experiment(id=experiment.id)))
    return wait_for(fis, experiment, TERMINAL_STATES, timing, **waits)


def canary_key(prefix: str, sequence: int) -> str:
    return f"{prefix}canaries/{sequence:06d}.json"


def replica_contents(replica_s3: Any, bucket: str, prefix: str) -> dict[str, bytes]:
    """Every canary object in the replica under ``prefix``, by key."""
    found: dict[str, bytes] = {}
    for page in replica_s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}canaries/"):
        for item in page.get("Contents", []):
            found[item["Key"]] = replica_s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return found


@dataclass(frozen=True)
class PausedStore:
    """What a replication pause is measured on: canaries go into the primary, and arrive (or not) in the replica.

    ``arrived(sequences)`` returns the payload of each canary present in the replica, by sequence number;
    ``clean_up(sequences)`` removes the drill's canaries where they can be removed (after the experiment stopped)."""

    target: str
    write: Callable[[int, bytes], None]
    arrived: Callable[[list[int]], dict[int, bytes]]
    clean_up: Callable[[list[int]], list[str]] = lambda _sequences: []
    guard: AlarmGuard | None = None  # read while the pause is held
    # The experiment's stop conditions: FIS stops an experiment whose stop condition is in ALARM, so the drill
    # starts it only once these have left ALARM (its canaries give the metric datapoints).
    start_gates: tuple[AlarmGuard, ...] = ()


class AlarmGuard:
    """A CloudWatch alarm the drill reads while it holds a pause: in ALARM, the pause stops now. An alarm the stack
    does not have (an older deploy) or that cannot be read guards nothing, and ``notes`` says so; the pause stays
    bounded by its FIS duration."""

    def __init__(self, cloudwatch: Any, alarm: str) -> None:
        self.cloudwatch, self.alarm = cloudwatch, alarm
        self.notes: list[str] = []

    def __call__(self) -> str | None:
        try:
            found = self.cloudwatch.describe_alarms(AlarmNames=[self.alarm], AlarmTypes=["MetricAlarm"])
        except (ClientError, BotoCoreError) as error:
            if not self.notes:
                self.notes.append(f"guard {self.alarm} unreadable ({error}): the FIS duration bounds the pause")
            return None
        alarms = found.get("MetricAlarms", [])
        if not alarms:
            if not self.notes:
                self.notes.append(f"guard {self.alarm} does not exist: the FIS duration bounds the pause")
            return None
        if alarms[0].get("StateValue") == "ALARM":
            return f"{self.alarm} in ALARM ({alarms[0].get('StateReason', 'no reason given')})"
        return None


def s3_store(
    primary_s3: Any, replica_s3: Any, bucket: BucketTarget, prefix: str, guard: AlarmGuard | None = None
) -> PausedStore:
    """Canary objects under the drill prefix (tier-1 drill objects stay under the bucket's lock: never deleted)."""

    def write(sequence: int, payload: bytes) -> None:
        primary_s3.put_object(Bucket=bucket.primary, Key=canary_key(prefix, sequence), Body=payload)

    def arrived(_sequences: list[int]) -> dict[int, bytes]:
        present = replica_contents(replica_s3, str(bucket.replica), prefix)
        return {int(key.rsplit("/", 1)[-1].split(".", 1)[0]): body for key, body in present.items()}

    return PausedStore(f"s3://{bucket.primary} -> s3://{bucket.replica}", write, arrived, guard=guard)


TABLE_PAYLOAD_ATTRIBUTE = "dr_drill_payload"


def table_store(
    primary_ddb: Any,
    replica_ddb: Any,
    table: TableTarget,
    replica_region: str,
    prefix: str,
    start_gates: tuple[AlarmGuard, ...] = (),
) -> PausedStore:
    """Canary items ``<prefix>fis#<n>`` (typed as the table's key attributes) written into the primary replica and
    read back, strongly consistent, from the replica in ``replica_region``; deleted from the primary afterwards, and
    the deletes replicate once the pause is over."""

    def key(sequence: int) -> dict[str, Any]:
        return table.key(f"{prefix}fis#{sequence:06d}")

    def write(sequence: int, payload: bytes) -> None:
        item = {**key(sequence), TABLE_PAYLOAD_ATTRIBUTE: {"S": payload.decode()}}
        primary_ddb.put_item(TableName=table.table_name, Item=item)

    def arrived(sequences: list[int]) -> dict[int, bytes]:
        found = batch_get(replica_ddb, table.table_name, [key(s) for s in sequences]) if sequences else {}
        present = {}
        for sequence in sequences:
            item = found.get(canonical_key(key(sequence)))
            if item is not None:
                present[sequence] = str(item[TABLE_PAYLOAD_ATTRIBUTE]["S"]).encode()
        return present

    def clean_up(sequences: list[int]) -> list[str]:
        try:
            _delete_canaries(primary_ddb, table.table_name, [key(s) for s in sequences], time.sleep)
        except Exception as error:  # reported: the canaries are the drill's own items, named by the prefix
            return [f"canary items {prefix}fis#* left in {table.table_name}: {type(error).__name__}: {error}"]
        return []

    target = f"dynamodb://{table.table_name} ({table.region} -> {replica_region})"
    return PausedStore(target, write, arrived, clean_up, start_gates=start_gates)


def wait_for_gates(
    gates: tuple[AlarmGuard, ...], deadline: float, timing: FisTiming, sleep: Callable[[float], None]
) -> None:
    """Until no stop condition is in ALARM, within the baseline's deadline."""
    while reasons := [reason for gate in gates if (reason := gate())]:
        if time.monotonic() > deadline:
            raise ExperimentError(
                f"stop conditions still in ALARM after {timing.baseline_timeout_seconds} s of canaries, so FIS "
                f"would stop the experiment at once: {'; '.join(reasons)}"
            )
        sleep(timing.poll_seconds)


def hold(guard: AlarmGuard | None, timing: FisTiming, sleep: Callable[[float], None], notes: list[str]) -> None:
    """Keep the pause for ``hold_seconds``, reading the guard every ``poll_seconds``; it may end the hold early."""
    if guard is None:
        sleep(timing.hold_seconds)
        return
    deadline = time.monotonic() + timing.hold_seconds
    while (left := deadline - time.monotonic()) > 0:
        reason = guard()
        if reason:
            notes.append(f"guard {reason}: the region is declared lost now and the pause stopped")
            return
        sleep(min(timing.poll_seconds, left))


def measure_paused_replication(
    *,
    store: PausedStore,
    fis: Any,
    template_id: str,
    drill_id: str,
    scenario: str,
    rpo_minutes_target: float | None,
    timing: FisTiming = FisTiming(),
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[str], None] = lambda _message: None,
) -> ScenarioResult:
    """Steps 1-6 of the module docstring on any store: the RPO of a region loss after ``hold_seconds`` of pause."""
    result = ScenarioResult(
        scenario=scenario,
        target=store.target,
        status=Status.failed,
        rpo_seconds_target=minutes_to_seconds(rpo_minutes_target),
        notes=["regional RTO is measured by region-loss-failover; this scenario measures the regional RPO only"],
    )
    payloads: dict[int, bytes] = {}

    def write(sequence: int, written_at: float) -> None:
        payloads[sequence] = canary_payload(drill_id, sequence, written_at)
        store.write(sequence, payloads[sequence])

    writer = CanaryWriter(write, rate_per_second=timing.canary_rate)
    experiment: Experiment | None = None
    fault_at: float | None = None
    present: dict[int, bytes] = {}
    cleanup_errors: list[str] = []
    writer.start()
    try:
        writer.wait_for(2)
        progress(f"{scenario} {store.target}: waiting for replication to deliver a canary (baseline)")
        deadline = time.monotonic() + timing.baseline_timeout_seconds
        while not store.arrived([c.sequence for c in writer.written]):
            if time.monotonic() > deadline:
                raise ExperimentError(
                    f"no canary reached the replica in {timing.baseline_timeout_seconds} s before the pause: "
                    "replication is not working, so no RPO under a pause can be measured"
                )
            sleep(timing.poll_seconds)
        wait_for_gates(store.start_gates, deadline, timing, sleep)
        progress(f"{scenario} {store.target}: starting FIS experiment from template {template_id}")
        experiment = start_experiment(fis, template_id, drill_id)
        wait_for(fis, experiment, frozenset({RUNNING}), timing, sleep=sleep)
        hold(store.guard, timing, sleep, result.notes)
        fault_at = time.time()
        progress(f"{scenario} {store.target}: region declared lost; reading the replica")
        present = store.arrived([c.sequence for c in writer.written])
    except ExperimentError as error:
        result.notes.append(str(error))
    finally:
        canaries = writer.stop()
        if experiment is not None:
            try:
                stop_experiment(fis, experiment, timing, sleep=sleep)
            except ExperimentError as error:
                result.notes.append(f"stopping: {error}")
        cleanup_errors = store.clean_up([c.sequence for c in canaries])
    if store.guard is not None:
        result.notes += store.guard.notes
    result.checks = {
        "experiment_id": experiment.id if experiment else None,
        "experiment_states": experiment.states if experiment else [],
        "canary_write_errors": writer.errors[:5],
        "hold_seconds": timing.hold_seconds,
        "cleanup_errors": cleanup_errors,
    }
    if fault_at is None:
        return result
    rpo = measure_rpo(fault_at, canaries, lambda canary: present.get(canary.sequence) == payloads[canary.sequence])
    result.rpo_seconds_measured = rpo.rpo_seconds
    result.rpo = rpo.as_dict()
    # Holes (older canaries missing while newer ones arrived) would be data the replica skipped, not lag.
    correct = rpo.pre_fault_recovered > 0 and not rpo.holes and bool(experiment and RUNNING in experiment.states)
    return judge(result, correct)


def measure_regional_rpo(
    *,
    primary_s3: Any,
    replica_s3: Any,
    fis: Any,
    bucket: BucketTarget,
    template_id: str,
    drill_id: str,
    prefix: str,
    scenario: str,
    timing: FisTiming = FisTiming(),
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[str], None] = lambda _message: None,
    guard: AlarmGuard | None = None,
) -> ScenarioResult:
    """A tier-1 bucket's regional RPO under ``aws:s3:bucket-pause-replication``; ``guard``: the bucket's lag guard
    (``drill_lag_alarm_name``, in the replica's Region), read while the pause is held."""
    if not bucket.replica:
        result = ScenarioResult(scenario=scenario, target=f"s3://{bucket.primary}", status=Status.failed)
        result.notes.append(f"{bucket.primary} has no replica: nothing to pause")
        return result
    return measure_paused_replication(
        store=s3_store(primary_s3, replica_s3, bucket, prefix, guard),
        fis=fis,
        template_id=template_id,
        drill_id=drill_id,
        scenario=scenario,
        rpo_minutes_target=bucket.regional.rpo_minutes,
        timing=timing,
        sleep=sleep,
        progress=progress,
    )


def stop_condition_gates(cloudwatch: Any, table: TableTarget) -> tuple[AlarmGuard, ...]:
    """The table template's stop conditions (``cloudwatch`` in the paused replica's Region), one per other replica."""
    others = [r for r in table.replica_regions if r != table.region]
    return tuple(AlarmGuard(cloudwatch, drill_table_stop_alarm_name(table.table_name, table.region, r)) for r in others)


def measure_table_regional_rpo(
    *,
    primary_ddb: Any,
    replica_ddb: Any,
    replica_region: str,
    fis: Any,
    table: TableTarget,
    template_id: str,
    drill_id: str,
    prefix: str,
    scenario: str,
    timing: FisTiming = FisTiming(),
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[str], None] = lambda _message: None,
    cloudwatch: Any = None,
) -> ScenarioResult:
    """A global table's regional RPO under ``aws:dynamodb:global-table-pause-replication`` on its primary replica:
    the action denies the replication service-linked role on that replica, so replication to and from it stops
    (DynamoDB Developer Guide, "DynamoDB global tables security"); canaries written there are read back from
    ``replica_region``. A hold shorter than the time the action takes to stop replication measures an RPO near 0:
    that is what a region loss at that moment would have lost, so the figure stays honest either way."""
    return measure_paused_replication(
        store=table_store(
            primary_ddb,
            replica_ddb,
            table,
            replica_region,
            prefix,
            stop_condition_gates(cloudwatch, table) if cloudwatch is not None else (),
        ),
        fis=fis,
        template_id=template_id,
        drill_id=drill_id,
        scenario=scenario,
        rpo_minutes_target=table.regional.rpo_minutes,
        timing=timing,
        sleep=sleep,
        progress=progress,
    )
