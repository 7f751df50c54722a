"""What a whole-stack drill works on and what it reports: plain data, no Pulumi and no CLI libraries.

``StackTargets`` is built by the CLI from the stack's typed config (``--local``) or from its outputs (deployed);
the scheduled drill builds it from resource tags. Scenarios turn targets into ``ScenarioResult``s.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from handlers.drills.objectives import within_objectives

# The local rehearsal's scaled profile (``make demo``, ``drctl drill --local``): every time constant of the stack is
# divided by this factor, so prod's 30-minute failback hold-down takes 90 s and the demo stays within minutes. The
# runtime reads the divided values as floats; DNS TTLs are divided in the application's resolver cache, exactly.
REHEARSAL_TIME_SCALE = 20.0


class Basis(StrEnum):
    """What a figure is: measured end to end, a measured lower bound (the emulator is faster than AWS), or a
    model (a budget of AWS latencies the emulator cannot show, plus what was measured)."""

    measured = "measured"
    lower_bound = "lower_bound"
    modelled = "modelled"


class Status(StrEnum):
    passed = "passed"
    failed = "failed"
    not_run = "not_run"  # the scenario could not run here: never a pass


@dataclass(frozen=True)
class Objective:
    rpo_minutes: float | None
    rto_minutes: float | None


@dataclass(frozen=True)
class BucketTarget:
    name: str  # logical name from config
    tier: int
    primary: str
    primary_region: str
    replica: str | None
    replica_region: str | None
    logical: Objective
    regional: Objective
    lock_mode: str | None = None
    lock_days: int | None = None


@dataclass(frozen=True)
class TableTarget:
    """A table as GlobalTable builds it (``stackmodel/config/tables.py`` ``TableSpec``), as plain data."""

    name: str  # logical name from config
    table_name: str
    region: str  # the primary replica's Region
    partition_key: str
    sort_key: str | None
    logical: Objective
    regional: Objective = Objective(None, None)
    replica_regions: tuple[str, ...] = ()
    # DynamoDB scalar types of the key attributes ("S", "N" or "B"), from the spec's attributes.
    partition_key_type: str = "S"
    sort_key_type: str = "S"
    stream_enabled: bool = False
    pitr_recovery_period_days: int | None = None
    consistency_mode: str = "EVENTUAL"

    def key(self, text: str) -> dict[str, Any]:
        """A drill item's key: ``text`` as the partition key value, ``dr-drill`` as the sort key's when there is one."""
        key = {self.partition_key: key_value(self.partition_key_type, text)}
        if self.sort_key:
            key[self.sort_key] = key_value(self.sort_key_type, DRILL_SORT_KEY_VALUE)
        return key


DRILL_SORT_KEY_VALUE = "dr-drill"


def key_value(kind: str, text: str) -> dict[str, str]:
    """``text`` as a value of the key attribute's declared type: itself (S), or a stable integer derived from it
    (N: 15 hex digits of its SHA-256, well inside DynamoDB's 38 digits). Binary keys are not drilled."""
    if kind == "N":
        return {"N": str(int(hashlib.sha256(text.encode()).hexdigest()[:15], 16))}
    return {"S": text}


@dataclass(frozen=True)
class SiteTarget:
    name: str
    # The site descriptor as ``components/site.py`` writes it (SSM /dr/<app>/site/<name>), read by
    # ``handlers.failover.site.Site.from_descriptor``.
    descriptor: Mapping[str, Any]
    regional: Objective  # the site's declared rpoMinutes / rtoMinutes
    # The FailoverSite's RTO budget (``stackmodel/failover_budget.py``, ``Budget.as_dict()``): the AWS latencies
    # (detection, switch, TTL, promotion, config refresh) the emulator cannot show.
    budget: Mapping[str, int] = field(default_factory=dict)

    @property
    def rto_budget_seconds(self) -> float:
        return float(self.budget.get("rtoSeconds", 0))


@dataclass(frozen=True)
class StackTargets:
    stack: str
    primary_region: str
    recovery_region: str
    buckets: tuple[BucketTarget, ...]
    # None: this build's config has no such store kind at all (reported, never a pass); () : none configured.
    tables: tuple[TableTarget, ...] | None = None
    sites: tuple[SiteTarget, ...] | None = None
    # The stack's reports bucket: every restore a drill runs takes its single-flight lock there
    # (``dr-locks/<bucket>.json``, handlers/s3/lock.py). None: bucket restores refuse to start.
    lock_bucket: str | None = None

    def tier1_buckets(self) -> tuple[BucketTarget, ...]:
        return tuple(bucket for bucket in self.buckets if bucket.tier == 1)


@dataclass
class ScenarioResult:
    scenario: str
    target: str
    status: Status
    rto_seconds_measured: float | None = None
    rpo_seconds_measured: float | None = None
    rto_seconds_target: float | None = None
    rpo_seconds_target: float | None = None
    rto_basis: Basis = Basis.measured
    rpo_basis: Basis = Basis.measured
    # Figures judged when the basis is ``modelled`` (measured parts plus modelled AWS latencies).
    rto_seconds_modelled: float | None = None
    rpo_seconds_modelled: float | None = None
    emulated: list[str] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)
    rpo: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.status is Status.passed

    @property
    def rto_seconds_judged(self) -> float | None:
        return self.rto_seconds_modelled if self.rto_basis is Basis.modelled else self.rto_seconds_measured

    @property
    def rpo_seconds_judged(self) -> float | None:
        return self.rpo_seconds_modelled if self.rpo_basis is Basis.modelled else self.rpo_seconds_measured

    def as_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document.update(status=self.status.value, rto_basis=self.rto_basis.value, rpo_basis=self.rpo_basis.value)
        document["passed"] = self.passed
        return document


def judge(result: ScenarioResult, correct: bool) -> ScenarioResult:
    """Set the status: correct data (every check) and both judged figures within the targets."""
    meets = within_objectives(
        result.rto_seconds_judged,
        result.rpo_seconds_judged,
        None if result.rto_seconds_target is None else result.rto_seconds_target / 60,
        None if result.rpo_seconds_target is None else result.rpo_seconds_target / 60,
    )
    result.status = Status.passed if correct and meets else Status.failed
    return result


def not_run(scenario: str, target: str, reason: str, **extra: Any) -> ScenarioResult:
    return ScenarioResult(scenario=scenario, target=target, status=Status.not_run, notes=[reason], **extra)


def minutes_to_seconds(minutes: float | None) -> float | None:
    return None if minutes is None else float(minutes) * 60


Progress = Callable[[str], None]
