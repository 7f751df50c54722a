"""The one rule bucket and table drills use to measure RPO and to judge a drill against the declared objectives."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime


def measured_rpo_seconds(recovery_point: datetime, written_at: Mapping[str, float], keys_wrong: Iterable[str]) -> float:
    """Data lost, as time: the recovery point minus the earliest write that did not come back (0 when all did)."""
    lost_writes = [written_at[key] for key in keys_wrong]
    return recovery_point.timestamp() - min(lost_writes) if lost_writes else 0.0


def within_objectives(
    rto_seconds: float, rpo_seconds: float, declared_rto_minutes: int | None, declared_rpo_minutes: int | None
) -> bool:
    """Whether a drill's measured RTO and RPO meet the declared ones (an undeclared objective is not checked)."""
    rto_ok = declared_rto_minutes is None or rto_seconds <= declared_rto_minutes * 60
    rpo_ok = declared_rpo_minutes is None or rpo_seconds <= declared_rpo_minutes * 60
    return rto_ok and rpo_ok
