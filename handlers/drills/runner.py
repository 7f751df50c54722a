"""The whole-stack drill: run the registered scenarios against a stack's targets and collect one report.

Scenarios register themselves in ``handlers.drills.scenarios``; each takes a ``DrillContext`` and returns one
``ScenarioResult`` per resource it drilled (or one ``not_run`` result saying why it could not run). A scenario
that raises is reported as failed with the error, and the next scenario still runs.
"""

from __future__ import annotations

import time
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from handlers.drills.canaries import DEFAULT_RATE_PER_SECOND
from handlers.drills.fis import FisTiming
from handlers.drills.model import Progress, ScenarioResult, StackTargets, Status


@dataclass(frozen=True)
class LocalEndpoints:
    """The two HTTP endpoints on 127.0.0.1 the local regional scenario substitutes for the site's."""

    healthy_url: str
    failing_url: str


@dataclass
class DrillContext:
    targets: StackTargets
    local: bool
    client: Callable[[str, str], Any]  # (service, region) -> boto3 client
    drill_id: str = field(default_factory=lambda: f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}")
    progress: Progress = lambda _message: None
    canary_rate: float = DEFAULT_RATE_PER_SECOND
    seed_objects: int = 120
    pre_fault_seconds: float = 2.5  # canaries written before the fault
    post_fault_seconds: float = 1.0  # and across it
    endpoints: LocalEndpoints | None = None
    rehearsal: Any = None  # local only: emulator.rehearsal.LocalRehearsals (the two-Region rehearsal of each site)
    # Deployed only: FIS experiment template ids, "s3:<bucket>" / "dynamodb:<table>" (stack output drills.fisTemplates).
    fis_templates: Mapping[str, str] = field(default_factory=dict)
    fis_timing: FisTiming = field(default_factory=FisTiming)
    allow_production_failover: bool = False

    @property
    def drill_prefix(self) -> str:
        return f"dr-drill/{self.drill_id}/"


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    failure_mode: str  # "logical" or "regional"
    run: Callable[[DrillContext], list[ScenarioResult]]
    scheduled: bool  # part of the scheduled (weekly) drill
    deployed_only: bool = False  # needs AWS (FIS has no emulator): left out of --local unless named
    local_only: bool = False  # the rehearsal's (failback, races): left out of a deployed drill unless named


@dataclass
class DrillReport:
    stack: str
    mode: str  # "local" or "deployed"
    drill_id: str
    started_at: str
    finished_at: str
    scenarios: list[ScenarioResult]
    emulator_ceiling: str | None = None

    @property
    def passed(self) -> bool:
        return bool(self.scenarios) and all(result.passed for result in self.scenarios)

    def as_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "mode": self.mode,
            "drill_id": self.drill_id,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "passed": self.passed,
            "emulator_ceiling": self.emulator_ceiling,
            "scenarios": [result.as_dict() for result in self.scenarios],
        }


def run_drill(context: DrillContext, scenarios: Sequence[Scenario]) -> DrillReport:
    started = datetime.now(UTC)
    results: list[ScenarioResult] = []
    for scenario in scenarios:
        context.progress(f"scenario {scenario.name}: {scenario.summary}")
        began = time.monotonic()
        try:
            produced = scenario.run(context)
        except Exception as error:  # one broken scenario must not hide the others' results
            produced = [
                ScenarioResult(
                    scenario=scenario.name,
                    target="-",
                    status=Status.failed,
                    notes=[f"stopped by {type(error).__name__}: {error}", traceback.format_exc(limit=3)],
                )
            ]
        for result in produced:
            result.checks.setdefault("scenario_wall_seconds", round(time.monotonic() - began, 3))
        results.extend(produced)
    return DrillReport(
        stack=context.targets.stack,
        mode="local" if context.local else "deployed",
        drill_id=context.drill_id,
        started_at=started.isoformat(),
        finished_at=datetime.now(UTC).isoformat(),
        scenarios=results,
        emulator_ceiling="moto on 127.0.0.1, about 150-200 requests/s" if context.local else None,
    )
