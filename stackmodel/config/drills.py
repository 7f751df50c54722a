"""The ``drills`` key: AWS FIS experiment templates and the scheduled drill, both off unless switched on.

``faultInjection`` declares, for each tier-1 bucket (and each replicated table whose regional RPO is above the
pause), an AWS FIS experiment template that pauses replication, with its stop-condition alarm and the FIS role
(``components/drills.py``).
``scheduled`` deploys the drill runner as a Step Functions workflow on ``schedule`` in the recovery Region (one
Lambda invocation per tier-1 bucket); its ``DrillPassed`` alarm breaches when no passing drill was published within
one schedule interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from stackmodel.config.errors import dr_error
from stackmodel.config.schedules import rate_seconds
from stackmodel.tiers import FailureMode

if TYPE_CHECKING:
    from stackmodel.config.tables import TableSpec

# CloudWatch: Period x EvaluationPeriods may not exceed 7 days (PutMetricAlarm, "Period"), and the drill alarm's
# window is one schedule interval, so the interval is at most 7 days; below an hour a Lambda drill would overlap
# the next run (canaries, restores and a FIS pause take minutes).
MIN_INTERVAL_SECONDS = 3600
MAX_INTERVAL_SECONDS = 7 * 86400
DEFAULT_SCHEDULE = "rate(7 days)"
# The same rule for the JSON Schema (editors): rate(1 hour) to rate(7 days) in EventBridge's grammar; a test checks it
# against _schedule for every count.
DRILL_SCHEDULE_PATTERN = (
    r"^rate\((1 (hour|day)|([2-7]) days|([2-9]|[1-9][0-9]|1[0-5][0-9]|16[0-8]) hours"
    r"|(6[0-9]|[7-9][0-9]|[1-9][0-9]{2}|[1-9][0-9]{3}|100[0-7][0-9]|10080) minutes)\)$"
)
# The FIS action's duration runs from 1 minute to 12 hours (FIS actions reference); a drill needs minutes, and a
# pause longer than tier 1's 15-minute regional RPO would itself break the objective it measures.
MAX_PAUSE_MINUTES = 14
# An experiment template takes at most 5 stop conditions (AWS FIS quotas); a table's pause has one stop alarm per
# receiving Region (components/drills.py).
MAX_STOP_CONDITIONS = 5


def schedule_seconds(expression: str) -> int:
    """The interval of an EventBridge ``rate(...)`` expression, in seconds (stackmodel/config/schedules.py)."""
    return rate_seconds(expression)


def _schedule(value: str) -> str:
    try:
        seconds = schedule_seconds(value)
    except ValueError as error:
        raise dr_error(
            f"must be an EventBridge rate expression such as {DEFAULT_SCHEDULE!r} ({error}); cron is not accepted "
            "because the drill alarm's window is derived from the interval"
        ) from None
    if not MIN_INTERVAL_SECONDS <= seconds <= MAX_INTERVAL_SECONDS:
        raise dr_error("must be between rate(1 hour) and rate(7 days): the drill alarm's window is one interval")
    return value


class DrillsConfig(BaseModel):
    """``dr-as-code:drills``: fault injection and the scheduled drill."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    fault_injection: StrictBool = Field(
        default=False,
        alias="faultInjection",
        description="Declare AWS FIS experiment templates that pause replication of each tier-1 bucket (and table), "
        "each with a stop-condition alarm, and their role. Never run `pulumi up` while an experiment runs.",
    )
    scheduled: StrictBool = Field(
        default=False,
        description="Deploy the drill runner as a scheduled Step Functions workflow in the recovery Region, one Lambda "
        "invocation per tier-1 bucket: logical-loss scenarios and, with faultInjection, the FIS regional RPO "
        "measurement; alarm on DrillPassed.",
    )
    schedule: Annotated[StrictStr, AfterValidator(_schedule)] = Field(
        default=DEFAULT_SCHEDULE,
        json_schema_extra={"pattern": DRILL_SCHEDULE_PATTERN},
        description="EventBridge rate expression of the scheduled drill, between rate(1 hour) and rate(7 days).",
    )
    pause_minutes: Annotated[StrictInt, Field(ge=1, le=MAX_PAUSE_MINUTES)] = Field(
        default=5,
        alias="pauseMinutes",
        description="Duration of each FIS replication pause (the experiment's duration parameter), in minutes.",
    )


def regional_rpo(table: TableSpec) -> int | None:
    objective = table.objectives.get(FailureMode.REGIONAL)
    return objective.rpo_minutes if objective else None


def drilled(table: TableSpec, pause_minutes: int) -> bool:
    """Whether the FIS templates pause this table: it has replicas, and a pause as long as its regional RPO would not
    by itself break the objective the drill measures (MRSC with RPO 0, or an MREC RPO at or below the pause)."""
    rpo = regional_rpo(table)
    return bool(table.replica_regions) and (rpo is None or rpo > pause_minutes)


def drill_problems(drills: DrillsConfig, tables: Sequence[tuple[int, TableSpec]]) -> list[tuple[str, str]]:
    """``(key path, message)`` for tables the FIS templates could not drill, so the program stops before any
    resource is registered instead of half-way (components/drills.py builds what passes here). Buckets need no
    check: a bucket's regional RPO is at least 15 min (stackmodel/tiers.py) and the pause at most 14. ``tables`` pairs
    each valid spec with its index in the config's list (an invalid entry before it must not shift the path)."""
    if not drills.fault_injection:
        return []
    pause = drills.pause_minutes
    problems = []
    for index, table in tables:
        if drilled(table, pause) and len(table.replica_regions) > MAX_STOP_CONDITIONS:
            problems.append(
                (
                    f"tables[{index}].replicaRegions",
                    f"with drills.faultInjection the table's replication pause needs one stop alarm per receiving "
                    f"Region, and FIS allows at most {MAX_STOP_CONDITIONS}; got {len(table.replica_regions)}",
                )
            )
    return problems
