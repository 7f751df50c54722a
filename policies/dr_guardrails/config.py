"""Policy configuration: JSON-schema properties with defaults, read defensively.

The Pulumi CLI fills schema defaults before calling ``Configure``; the SDK does not. Other drivers
(tests, the offline preview, an old CLI) may send nothing, so every policy resolves its own
defaults here. JSON numbers travel as protobuf doubles, so integers can arrive as ``7.0``.
"""

from __future__ import annotations

import copy
import datetime as dt
import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .props import to_plain

Schema = Mapping[str, Mapping[str, Any]]


class ConfigError(ValueError):
    """A configured value does not fit the policy's schema."""


def resolve(schema: Schema, raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """Schema defaults overlaid with the configured values, integers normalised."""
    resolved: dict[str, Any] = {
        key: copy.deepcopy(spec["default"]) for key, spec in schema.items() if "default" in spec
    }
    for key, value in (to_plain(raw) or {}).items():
        if key in schema:
            resolved[key] = _coerce(key, schema[key], value)
    return resolved


def _coerce(key: str, spec: Mapping[str, Any], value: Any) -> Any:
    kind = spec.get("type")
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
            raise ConfigError(f"config {key!r} must be an integer, got {value!r}")
        return int(value)
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"config {key!r} must be a number, got {value!r}")
        return value
    if kind == "boolean" and not isinstance(value, bool):
        raise ConfigError(f"config {key!r} must be a boolean, got {value!r}")
    if kind == "string" and not isinstance(value, str):
        raise ConfigError(f"config {key!r} must be a string, got {value!r}")
    if kind == "array":
        if not isinstance(value, list):
            raise ConfigError(f"config {key!r} must be a list, got {value!r}")
        item_spec = spec.get("items", {})
        return [_coerce(f"{key}[{index}]", item_spec, item) for index, item in enumerate(value)]
    return value


# ---------------------------------------------------------------------------------------------
# Shared schema fragments


def tiers_schema(default: list[str], what: str) -> dict[str, Any]:
    return {
        "type": "array",
        "items": {"type": "string", "enum": ["1", "2", "3"]},
        "default": default,
        "description": (
            f"DR tiers (the `dr:tier` tag) whose buckets {what}. A bucket without a `dr:tier` tag is always checked."
        ),
    }


EXCEPTIONS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "default": [],
    "description": (
        "Time-boxed waivers. Each entry names a resource-name glob (`pattern`, matched against the "
        "Pulumi resource name), a `reason`, and an `expires` date (YYYY-MM-DD, inclusive). "
        "An expired waiver stops applying."
    ),
    "items": {
        "type": "object",
        "required": ["pattern", "reason", "expires"],
        "properties": {
            "pattern": {"type": "string"},
            "reason": {"type": "string"},
            "expires": {"type": "string", "format": "date"},
        },
    },
}


@dataclass(frozen=True)
class Waiver:
    pattern: str
    reason: str
    expires: str

    def matches(self, resource_name: str) -> bool:
        return fnmatch.fnmatchcase(resource_name, self.pattern)

    def active_on(self, today: dt.date) -> bool:
        try:
            return dt.date.fromisoformat(self.expires) >= today
        except ValueError:
            return False  # an unreadable date never waives anything


def waivers(config: Mapping[str, Any]) -> list[Waiver]:
    return [
        Waiver(str(item.get("pattern", "")), str(item.get("reason", "")), str(item.get("expires", "")))
        for item in config.get("exceptions", [])
        if isinstance(item, Mapping)
    ]


def today() -> dt.date:
    """The UTC date; a function so tests can pin it."""
    return dt.datetime.now(dt.UTC).date()


@dataclass(frozen=True)
class WaiverDecision:
    active: Waiver | None
    expired: list[Waiver]


def waiver_for(resource_name: str, config: Mapping[str, Any], on: dt.date | None = None) -> WaiverDecision:
    date = on or today()
    matching = [waiver for waiver in waivers(config) if waiver.matches(resource_name)]
    active = next((waiver for waiver in matching if waiver.active_on(date)), None)
    return WaiverDecision(active, [waiver for waiver in matching if not waiver.active_on(date)])
