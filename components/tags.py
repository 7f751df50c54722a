"""Tag keys that carry each resource's declared objectives (see docs/contract.md).

The policy pack reads these tags, so changing a key here means changing the pack too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from stackmodel.tiers import FailureMode, Objective

TIER = "dr:tier"
COMPONENT = "dr:component"
# An isolated vault ("air-gapped", or "account" in stacks/isolated-vault): the pack checks its lock.
ISOLATED = "dr:isolated"
BUCKET_ROLE = "dr:bucket-role"
IAM_ROLE = "dr:role"
MFA_DELETE_ATTESTED = "dr:mfa-delete-attested"
NOT_COVERED = "none"


def objective_key(kind: str, mode: FailureMode) -> str:
    return f"dr:{kind}-{mode.value}-minutes"


def _minutes(value: int | None) -> str:
    return NOT_COVERED if value is None else str(value)


def objective_tags(component: str, tier: int, objectives: Mapping[FailureMode, Objective]) -> dict[str, str]:
    """The tags every child of a DR component carries."""
    tags = {COMPONENT: component, TIER: str(tier)}
    for mode, objective in objectives.items():
        tags[objective_key("rpo", mode)] = _minutes(objective.rpo_minutes)
        tags[objective_key("rto", mode)] = _minutes(objective.rto_minutes)
    return tags


def attestation_tags(attested: dt.date | None) -> dict[str, str]:
    return {} if attested is None else {MFA_DELETE_ATTESTED: attested.isoformat()}
