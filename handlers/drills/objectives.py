"""The one rule every drill uses to measure RPO from data, and to judge a drill against the declared objectives.

A drill writes sequenced canaries (objects or items that carry their own write time) continuously before and
across the fault. After recovery it reads them back:

- RPO = fault time - write time of the newest canary written *before* the fault whose pre-fault content is present
  after recovery; 0 when the newest pre-fault canary survived. It is measured from what came back, never from the
  restore point the drill chose.
- A canary counts as pre-fault when its write was acknowledged before the fault; canaries written after the fault
  are excluded from the RPO and reported separately (a restore to before the fault may legitimately drop them).
- When no pre-fault canary came back, the loss reaches at least back to the first canary: the figure is then a
  lower bound (``lower_bound``).
- Lost canaries older than the newest recovered one are holes: data the recovery skipped. They do not change the
  RPO (which is about the newest data) but they fail the drill's correctness check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

# S3's LastModified and DynamoDB's PITR restore to the second: a recovery point cannot separate two writes in the
# same second, so a measured RPO up to this much above a declared 0 is the resolution, not a missed objective.
RPO_RESOLUTION_SECONDS = 1.0


@dataclass(frozen=True)
class CanaryWrite:
    """One canary as written: its sequence number, the write time it carries, and when the write was acknowledged."""

    sequence: int
    written_at: float  # epoch seconds, stored inside the canary
    acknowledged_at: float  # epoch seconds, when the service acknowledged the write


@dataclass(frozen=True)
class RpoMeasurement:
    rpo_seconds: float
    fault_at: float
    pre_fault: int
    pre_fault_recovered: int
    newest_pre_fault: int | None  # sequence numbers
    newest_recovered: int | None
    holes: tuple[int, ...] = field(default_factory=tuple)  # lost pre-fault canaries older than the newest recovered
    lost_newest: tuple[int, ...] = field(default_factory=tuple)  # lost pre-fault canaries newer than it (the RPO)
    post_fault: int = 0
    post_fault_present: int = 0
    lower_bound: bool = False  # no pre-fault canary came back

    @property
    def every_pre_fault_canary_back(self) -> bool:
        return self.pre_fault > 0 and self.pre_fault_recovered == self.pre_fault

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "every_pre_fault_canary_back": self.every_pre_fault_canary_back}


def measure_rpo(
    fault_at: float, canaries: Iterable[CanaryWrite], recovered: Callable[[CanaryWrite], bool]
) -> RpoMeasurement:
    """RPO from the canaries: ``recovered(canary)`` says whether its pre-fault content is present after recovery."""
    ordered = sorted(canaries, key=lambda canary: canary.sequence)
    pre_fault = [canary for canary in ordered if canary.acknowledged_at <= fault_at]
    post_fault = [canary for canary in ordered if canary.acknowledged_at > fault_at]
    if not pre_fault:
        raise ValueError("no canary was acknowledged before the fault: the drill cannot measure an RPO")
    back = {canary.sequence for canary in pre_fault if recovered(canary)}
    newest = pre_fault[-1]
    newest_back = next((canary for canary in reversed(pre_fault) if canary.sequence in back), None)
    if newest_back is None:
        rpo, lower_bound = fault_at - pre_fault[0].written_at, True
    elif newest_back is newest:
        rpo, lower_bound = 0.0, False
    else:
        rpo, lower_bound = fault_at - newest_back.written_at, False
    boundary = newest_back.sequence if newest_back else -1
    lost = [canary.sequence for canary in pre_fault if canary.sequence not in back]
    return RpoMeasurement(
        rpo_seconds=round(max(rpo, 0.0), 3),
        fault_at=fault_at,
        pre_fault=len(pre_fault),
        pre_fault_recovered=len(back),
        newest_pre_fault=newest.sequence,
        newest_recovered=newest_back.sequence if newest_back else None,
        holes=tuple(sequence for sequence in lost if sequence < boundary),
        lost_newest=tuple(sequence for sequence in lost if sequence > boundary),
        post_fault=len(post_fault),
        post_fault_present=sum(1 for canary in post_fault if recovered(canary)),
        lower_bound=lower_bound,
    )


def measure_rto(fault_at: float, acknowledgements: Iterable[tuple[float, bool]]) -> float | None:
    """RTO from a workload's writes: fault time to the first write acknowledged after the fault that reached the
    recovery side (``(acknowledged_at, recovered)``, ``recovered`` = served and stored where the application runs
    after failover, through DNS and settings). None when none did: nothing measured is not a pass."""
    after = [at for at, recovered in acknowledgements if recovered and at > fault_at]
    return round(min(after) - fault_at, 3) if after else None


def within_objectives(
    rto_seconds: float | None,
    rpo_seconds: float | None,
    declared_rto_minutes: float | None,
    declared_rpo_minutes: float | None,
) -> bool:
    """Whether measured figures meet the declared ones. An undeclared objective is not checked; a declared one
    without a figure is missed (nothing measured is not a pass). The RPO is allowed its timestamp resolution."""
    rto_ok = declared_rto_minutes is None or (rto_seconds is not None and rto_seconds <= declared_rto_minutes * 60)
    rpo_ok = declared_rpo_minutes is None or (
        rpo_seconds is not None and rpo_seconds <= declared_rpo_minutes * 60 + RPO_RESOLUTION_SECONDS
    )
    return rto_ok and rpo_ok
