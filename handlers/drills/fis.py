"""The regional RPO measured from data while AWS FIS pauses replication (deployed stacks only).

For one tier-1 bucket and its FIS template (``components/drills.py``, ``aws:s3:bucket-pause-replication``):

1. canaries are written continuously into the primary, under the drill prefix;
2. the baseline: the drill waits until replication delivers a canary to the replica (a broken replication is
   reported as such, not measured as an RPO);
3. ``fis.start_experiment`` pauses replication; the drill waits until the experiment is ``running``;
4. canaries keep being written for ``hold_seconds`` across the pause; then the region is declared lost: that
   instant is the fault;
5. the replica is read: the RPO is ``handlers.drills.objectives.measure_rpo`` over the canaries present in the
   replica with their content (fault time minus the write time of the newest pre-fault canary that arrived);
6. ``fis.stop_experiment`` (always, even when a step failed) and a wait for a terminal state.

The figure is what a region loss after ``hold_seconds`` of stalled replication would lose; it is judged against
the bucket's declared regional RPO. Canaries written after the fault are reported, not counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from handlers.drills.canaries import CanaryWriter, canary_payload
from handlers.drills.model import BucketTarget, ScenarioResult, Status, judge, minutes_to_seconds
from handlers.drills.objectives import measure_rpo

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


def running_drill_experiments(fis: Any) -> list[dict[str, Any]]:
    """Drill experiments not yet finished in the client's Region: a ``pulumi up`` (or another drill) must wait for
    them, since the stack would change the replication they pause."""
    found, token = [], None
    while True:
        page = fis.list_experiments(**({"nextToken": token} if token else {}))
        for experiment in page.get("experiments", []):
            state = experiment.get("state", {}).get("status")
            if state in ACTIVE_STATES and DRILL_TAG in (experiment.get("tags") or {}):
                found.append(
                    {
                        "id": experiment.get("id"),
                        "template": experiment.get("experimentTemplateId"),
                        "state": state,
                        "drill": experiment["tags"][DRILL_TAG],
                    }
                )
        token = page.get("nextToken")
        if not token:
            return found


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
) -> ScenarioResult:
    result = ScenarioResult(
        scenario=scenario,
        target=f"s3://{bucket.primary} -> s3://{bucket.replica}",
        status=Status.failed,
        rpo_seconds_target=minutes_to_seconds(bucket.regional.rpo_minutes),
        notes=["regional RTO is measured by region-loss-failover; this scenario measures the regional RPO only"],
    )
    if not bucket.replica:
        result.notes.append(f"{bucket.primary} has no replica: nothing to pause")
        return result
    payloads: dict[int, bytes] = {}

    def write(sequence: int, written_at: float) -> None:
        payloads[sequence] = canary_payload(drill_id, sequence, written_at)
        primary_s3.put_object(Bucket=bucket.primary, Key=canary_key(prefix, sequence), Body=payloads[sequence])

    writer = CanaryWriter(write, rate_per_second=timing.canary_rate)
    experiment: Experiment | None = None
    fault_at: float | None = None
    present: dict[str, bytes] = {}
    writer.start()
    try:
        writer.wait_for(2)
        progress(f"{scenario} {bucket.primary}: waiting for replication to deliver a canary (baseline)")
        deadline = time.monotonic() + timing.baseline_timeout_seconds
        while not replica_contents(replica_s3, bucket.replica, prefix):
            if time.monotonic() > deadline:
                raise ExperimentError(
                    f"no canary reached {bucket.replica} in {timing.baseline_timeout_seconds} s before the pause: "
                    "replication is not working, so no RPO under a pause can be measured"
                )
            sleep(timing.poll_seconds)
        progress(f"{scenario} {bucket.primary}: starting FIS experiment from template {template_id}")
        experiment = start_experiment(fis, template_id, drill_id)
        wait_for(fis, experiment, frozenset({RUNNING}), timing, sleep=sleep)
        sleep(timing.hold_seconds)
        fault_at = time.time()
        progress(f"{scenario} {bucket.primary}: region declared lost; reading the replica")
        present = replica_contents(replica_s3, bucket.replica, prefix)
    except ExperimentError as error:
        result.notes.append(str(error))
    finally:
        canaries = writer.stop()
        if experiment is not None:
            try:
                stop_experiment(fis, experiment, timing, sleep=sleep)
            except ExperimentError as error:
                result.notes.append(f"stopping: {error}")
    result.checks = {
        "experiment_id": experiment.id if experiment else None,
        "experiment_states": experiment.states if experiment else [],
        "canary_write_errors": writer.errors[:5],
        "hold_seconds": timing.hold_seconds,
    }
    if fault_at is None:
        return result
    rpo = measure_rpo(
        fault_at, canaries, lambda canary: present.get(canary_key(prefix, canary.sequence)) == payloads[canary.sequence]
    )
    result.rpo_seconds_measured = rpo.rpo_seconds
    result.rpo = rpo.as_dict()
    # Holes (older canaries missing while newer ones arrived) would be data the replica skipped, not lag.
    correct = rpo.pre_fault_recovered > 0 and not rpo.holes and bool(experiment and RUNNING in experiment.states)
    return judge(result, correct)
