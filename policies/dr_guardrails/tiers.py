"""Reading the DR tier and objectives that components write as tags (see docs/contract.md)."""

from __future__ import annotations

from typing import Any, Final

from .props import MISSING, UNKNOWN, Tags

TIER_TAG: Final = "dr:tier"
ROLE_TAG: Final = "dr:role"
MFA_ATTESTED_TAG: Final = "dr:mfa-delete-attested"
OBJECTIVE_TAGS: Final = (
    "dr:rpo-logical-minutes",
    "dr:rto-logical-minutes",
    "dr:rpo-regional-minutes",
    "dr:rto-regional-minutes",
)
VALID_TIERS: Final = ("1", "2", "3")


class Invalid:
    """A tag whose value does not follow the contract."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw


def in_scope(tags: Tags, tiers: list[str]) -> Any:
    """Whether a tier-scoped rule applies: True, False, or UNKNOWN.

    A resource without a valid tier tag is always in scope, so forgetting the tag never exempts it.
    """
    tier = tags.get(TIER_TAG)
    if tier is UNKNOWN:
        return UNKNOWN
    if isinstance(tier, str) and tier in VALID_TIERS:
        return tier in tiers
    return True


def objective(tags: Tags, key: str) -> Any:
    """An objective in minutes: an int, None for "none", MISSING, UNKNOWN, or :class:`Invalid`."""
    value = tags.get(key)
    if value is MISSING or value is UNKNOWN:
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "none":
            return None
        if text.isdigit():
            return int(text)
    return Invalid(value)
