"""The scenario registry: every scenario ``drctl drill`` knows, in the order it runs them."""

from __future__ import annotations

from handlers.drills.runner import Scenario
from handlers.drills.scenarios import buckets, failback, regional, switch_latency, tables

SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        buckets.ACCIDENTAL_DELETE,
        buckets.PREFIX_CORRUPTION,
        tables.ITEM_CORRUPTION,
        switch_latency.SWITCH_LATENCY,  # on the drill record, before the site itself fails over
        regional.REGION_LOSS,
        failback.FAILBACK,  # after region-loss-failover, on the same rehearsal
        failback.OVERLAPPING_ROUNDS,
        regional.REGIONAL_RPO_FIS,
    )
}


def select(names: list[str] | None = None, *, scheduled_only: bool = False, local: bool = False) -> list[Scenario]:
    """The scenarios named (all when none; locally, all that can run on the emulator), in registry order; an
    unknown name is a ``ValueError`` naming it. A deployed-only scenario named with ``--local`` runs and reports
    itself as not run."""
    unknown = sorted(set(names or ()) - set(SCENARIOS))
    if unknown:
        raise ValueError(f"unknown scenario {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    if names:
        chosen = [scenario for name, scenario in SCENARIOS.items() if name in names]
    else:
        chosen = [
            scenario
            for scenario in SCENARIOS.values()
            if not (local and scenario.deployed_only) and not (not local and scenario.local_only)
        ]
    return [scenario for scenario in chosen if scenario.scheduled] if scheduled_only else chosen
