"""Reading the DR tier and objectives that components write as tags (see docs/contract.md)."""

from __future__ import annotations

from typing import Any, Final

from .framework import Config
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


def tier_minimum_schema(defaults: dict[str, int], what: str, maximum: int | None = None) -> dict[str, Any]:
    """``tier<N>MinDays`` config keys, one per tier that has a floor; the first tier also covers untagged resources."""
    first = min(defaults)
    return {
        f"tier{tier}MinDays": {
            "type": "integer",
            "minimum": 1,
            **({"maximum": maximum} if maximum is not None else {}),
            "default": days,
            "description": (
                f"Minimum {what} for `dr:tier` {tier}"
                + (" and for resources without a valid `dr:tier` tag." if tier == first else ".")
            ),
        }
        for tier, days in defaults.items()
    }


def tier_minimum(tags: Tags, config: Config) -> tuple[Any, str]:
    """(the minimum of the resource's tier or UNKNOWN, how the tier was decided) from ``tier<N>MinDays`` keys.

    A resource without a valid tier tag is held to tier 1's minimum, so forgetting the tag never loosens a rule; a
    tier without its own key (tier 3 has no object lock) is held to the lowest configured minimum.
    """
    tier = tags.get(TIER_TAG)
    if tier is UNKNOWN:
        return UNKNOWN, ""
    if isinstance(tier, str) and tier in VALID_TIERS:
        key = f"tier{tier}MinDays"
        if key in config:
            return config[key], f"`{TIER_TAG}` {tier}"
        return lowest_tier_minimum(config), f"`{TIER_TAG}` {tier} (the lowest tier minimum)"
    return config["tier1MinDays"], f"a resource without a valid `{TIER_TAG}` tag (checked as tier 1)"


def lowest_tier_minimum(config: Config) -> Any:
    return min(config[f"tier{tier}MinDays"] for tier in VALID_TIERS if f"tier{tier}MinDays" in config)
