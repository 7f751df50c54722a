"""Resolve a policy pack's config the way the Pulumi CLI does; the Python SDK does not do it itself.

Mirrors pulumi/pulumi ``pkg/resource/analyzer/config.go`` (``ReconcilePolicyPackConfig``):
1. every policy starts from its enforcement level in GetAnalyzerInfo and the ``default`` of each property
   in its config schema (``createConfigWithDefaults``);
2. the pack's ``initialConfig`` is applied, then the config file (``applyConfig``): an ``all`` entry sets
   every policy's level, then each policy's own entry sets its level and merges its properties;
3. each policy's properties are validated against its JSON schema (``validatePolicyPackConfig``).

Two deliberate differences, both to stop a typo from looking like a pass: a config-file entry naming a policy
the pack does not have is an error, and so is a non-object file.

One quirk is kept, with a warning: an ``initialConfig`` entry without a level reaches the CLI as level 0,
which is ``advisory`` (``convertEnforcementLevel``), so the CLI downgrades that policy to advisory.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
from pulumi.runtime.proto import analyzer_pb2

from preview.analyzer_client import LEVEL_NAMES, LEVEL_VALUES, PolicyConfig, from_struct
from preview.errors import PolicyConfigError

ALL_POLICIES = "all"


@dataclass(frozen=True)
class ConfigEntry:
    """One entry of a config source: a level, properties, or both."""

    enforcement_level: str | None = None
    properties: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class ResolvedPolicyConfig:
    policies: dict[str, PolicyConfig]
    warnings: list[str]


def _level(policy: str, value: Any) -> str:
    if not isinstance(value, str) or value not in LEVEL_VALUES:
        allowed = ", ".join(LEVEL_VALUES)
        raise PolicyConfigError(f"policy config for {policy!r}: {value!r} is not an enforcement level ({allowed})")
    return value


def parse_policy_config(document: Any) -> dict[str, ConfigEntry]:
    """The CLI's parsePolicyPackConfig: each value is a level string or an object with enforcementLevel."""
    if not isinstance(document, dict):
        raise PolicyConfigError("policy config must be a JSON object keyed by policy name (or 'all')")
    entries: dict[str, ConfigEntry] = {}
    for policy, value in document.items():
        if isinstance(value, str):
            entries[policy] = ConfigEntry(enforcement_level=_level(policy, value))
        elif isinstance(value, dict):
            properties = {key: item for key, item in value.items() if key != "enforcementLevel"}
            level = _level(policy, value["enforcementLevel"]) if "enforcementLevel" in value else None
            entries[policy] = ConfigEntry(enforcement_level=level, properties=properties or None)
        else:
            raise PolicyConfigError(f"policy config for {policy!r}: must be a level string or an object")
    return entries


def load_policy_config_file(path: Path) -> dict[str, ConfigEntry]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyConfigError(f"cannot read policy config {path}: {exc}") from exc
    if not text.strip():
        return {}
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyConfigError(f"policy config {path} is not valid JSON: {exc}") from exc
    return parse_policy_config(document)


def _schema_defaults(schema_properties: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: definition["default"]
        for key, definition in schema_properties.items()
        if isinstance(definition, dict) and "default" in definition
    }


def _apply(result: dict[str, ConfigEntry], source: Mapping[str, ConfigEntry]) -> None:
    """The CLI's applyConfig: `all` sets every level first, then per-policy entries win."""
    all_entry = source.get(ALL_POLICIES)
    if all_entry is not None and all_entry.enforcement_level is not None:
        for name, entry in result.items():
            result[name] = ConfigEntry(all_entry.enforcement_level, entry.properties)
    for name, given in source.items():
        if name == ALL_POLICIES:
            continue
        current = result.get(name, ConfigEntry())
        properties = dict(current.properties or {})
        properties.update(given.properties or {})
        result[name] = ConfigEntry(given.enforcement_level or current.enforcement_level, properties or None)


def _initial_config(info: analyzer_pb2.AnalyzerInfo, warnings: list[str]) -> dict[str, ConfigEntry]:
    entries: dict[str, ConfigEntry] = {}
    for name, config in info.initialConfig.items():
        level = LEVEL_NAMES[config.enforcementLevel]
        properties = from_struct(config.properties) if config.HasField("properties") else None
        if config.enforcementLevel == analyzer_pb2.ADVISORY and properties:
            warnings.append(
                f"the pack's initial config for {name!r} sets properties but no level; "
                "the Pulumi CLI reads that as 'advisory'"
            )
        entries[name] = ConfigEntry(level, properties)
    return entries


def _validate(name: str, schema: dict[str, Any], properties: Mapping[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(schema)
    problems = []
    for error in sorted(validator.iter_errors(dict(properties)), key=lambda error: list(error.path)):
        where = ".".join(str(part) for part in error.path)
        problems.append(f"policy {name!r}: {where + ': ' if where else ''}{error.message}")
    return problems


def resolve_policy_config(
    info: analyzer_pb2.AnalyzerInfo, file_config: Mapping[str, ConfigEntry] | None = None
) -> ResolvedPolicyConfig:
    """Every policy's level and properties, ready for Configure; PolicyConfigError names policy and key."""
    warnings: list[str] = []
    schemas: dict[str, dict[str, Any]] = {}
    result: dict[str, ConfigEntry] = {}
    for policy in info.policies:
        schema_properties = from_struct(policy.configSchema.properties)
        schemas[policy.name] = {
            "type": "object",
            "properties": schema_properties,
            **({"required": list(policy.configSchema.required)} if policy.configSchema.required else {}),
        }
        result[policy.name] = ConfigEntry(
            LEVEL_NAMES[policy.enforcementLevel], _schema_defaults(schema_properties) or None
        )

    unknown = sorted(set(file_config or {}) - set(result) - {ALL_POLICIES})
    if unknown:
        raise PolicyConfigError(
            f"policy config names {', '.join(map(repr, unknown))}, which the pack {info.name!r} does not have"
        )
    _apply(result, _initial_config(info, warnings))
    _apply(result, file_config or {})

    problems = [
        problem for name in schemas for problem in _validate(name, schemas[name], result[name].properties or {})
    ]
    if problems:
        raise PolicyConfigError("invalid policy config:\n  " + "\n  ".join(problems))
    policies = {
        name: PolicyConfig(entry.enforcement_level or "advisory", dict(entry.properties or {}))
        for name, entry in result.items()
        if name in schemas
    }
    return ResolvedPolicyConfig(policies=policies, warnings=warnings)
