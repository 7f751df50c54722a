"""Configuration: schema defaults, overrides, empty config, float numbers, and time-boxed exceptions."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jsonschema
import pytest
from dr_guardrails import CATALOG, SPECS
from dr_guardrails import config as policy_config
from dr_guardrails.config import ConfigError

from tests.policies.fixtures import compliant_stack, object_lock_props, table_props
from tests.policies.support import DELETE, OBJECT_LOCK, TABLE, changed, messages, run_resource, run_stack

EXAMPLE = Path(__file__).resolve().parents[2] / "policies" / "config.example.json"


@pytest.mark.parametrize("spec", CATALOG, ids=lambda spec: spec.name)
def test_every_schema_property_has_a_default_and_empty_config_resolves_to_them(spec) -> None:  # type: ignore[no-untyped-def]
    for key, schema in spec.config.items():
        assert "default" in schema, f"{spec.name}.{key} has no default"
    defaults = {key: schema["default"] for key, schema in spec.config.items()}
    assert spec.resolved_config(None) == defaults
    assert spec.resolved_config({}) == defaults


@pytest.mark.parametrize("spec", [spec for spec in CATALOG if spec.is_stack_policy], ids=lambda spec: spec.name)
def test_stack_policies_behave_identically_with_empty_and_default_config(spec) -> None:  # type: ignore[no-untyped-def]
    stack = compliant_stack()
    stack.remove("reporting-versioning").remove("backup-pab").remove("site-secondary")
    defaults = {key: schema["default"] for key, schema in spec.config.items()}
    assert run_stack(spec.name, stack, {}) == run_stack(spec.name, stack, defaults) == run_stack(spec.name, stack, None)


def test_integers_arriving_as_floats_are_accepted() -> None:
    resolved = SPECS["aws-s3-bucket-object-lock-retention"].resolved_config({"minRetentionDays": 30.0})
    assert resolved["minRetentionDays"] == 30 and isinstance(resolved["minRetentionDays"], int)
    assert (
        run_resource(
            "aws-s3-bucket-object-lock-retention",
            OBJECT_LOCK,
            object_lock_props(days=30.0),
            config={"minRetentionDays": 30.0},
        )
        == []
    )
    assert run_resource(
        "aws-s3-bucket-object-lock-retention",
        OBJECT_LOCK,
        object_lock_props(days=29.0),
        config={"minRetentionDays": 30.0},
    )


def test_non_integral_or_wrong_typed_config_is_an_error_not_a_silent_default() -> None:
    with pytest.raises(ConfigError, match="minRetentionDays"):
        SPECS["aws-s3-bucket-object-lock-retention"].resolved_config({"minRetentionDays": 7.5})
    with pytest.raises(ConfigError, match="tiers"):
        SPECS["aws-s3-bucket-versioning-attached"].resolved_config({"tiers": "1"})


def test_overrides_change_the_outcome() -> None:
    lock = object_lock_props(mode="GOVERNANCE", days=30)
    assert run_resource("aws-s3-bucket-object-lock-retention", OBJECT_LOCK, lock) == []
    assert run_resource(
        "aws-s3-bucket-object-lock-retention", OBJECT_LOCK, lock, config={"allowedModes": ["COMPLIANCE"]}
    )
    assert run_resource("aws-s3-bucket-object-lock-retention", OBJECT_LOCK, lock, config={"minRetentionDays": 31})
    short = changed(table_props(), ("pointInTimeRecovery", "recoveryPeriodInDays"), 14)
    assert run_resource("aws-dynamodb-table-pitr-enabled", TABLE, short)
    assert run_resource("aws-dynamodb-table-pitr-enabled", TABLE, short, config={"minRecoveryPeriodDays": 14.0}) == []
    stack = compliant_stack()
    stack.remove("backup-versioning")
    assert run_stack("aws-s3-bucket-versioning-attached", stack, {"tiers": ["1", "2", "3"]}), (
        "tier 3 backup is unversioned"
    )
    assert run_stack("aws-s3-bucket-versioning-attached", stack, {"tiers": ["1", "2"]}) == []


def _unattested() -> object:
    stack = compliant_stack()
    stack.nodes["audio-primary"].props = changed(
        stack.props("audio-primary"), ("tags", "dr:mfa-delete-attested"), DELETE
    )
    return stack


def _waiver(expires: str, pattern: str = "audio-*") -> dict[str, object]:
    return {"exceptions": [{"pattern": pattern, "reason": "root MFA device being replaced", "expires": expires}]}


def test_active_exception_waives_mfa_delete_and_expired_one_stops_applying(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(policy_config, "today", lambda: dt.date(2026, 6, 1))
    stack = _unattested()
    assert run_stack("aws-s3-bucket-mfa-delete-enabled", stack)
    assert run_stack("aws-s3-bucket-mfa-delete-enabled", stack, _waiver("2026-06-01")) == [], "expiry day is inclusive"
    found = messages(run_stack("aws-s3-bucket-mfa-delete-enabled", stack, _waiver("2026-05-31")))
    assert len(found) == 1 and "expired on 2026-05-31" in found[0]
    assert run_stack("aws-s3-bucket-mfa-delete-enabled", stack, _waiver("2030-01-01", pattern="reporting")), (
        "pattern must match"
    )
    assert run_stack("aws-s3-bucket-mfa-delete-enabled", stack, _waiver("not-a-date")), "unreadable expiry never waives"


def test_mfa_tiers_are_configurable() -> None:
    stack = _unattested()
    assert run_stack("aws-s3-bucket-mfa-delete-enabled", stack, {"tiers": ["2"]}), "tier-2 reporting now needs MFA"
    assert run_stack("aws-s3-bucket-mfa-delete-enabled", stack, {"tiers": []}) == []


def test_example_config_is_valid_for_the_pack() -> None:
    example = json.loads(EXAMPLE.read_text())
    assert "all" in example
    assert example["all"] in ("advisory", "mandatory", "disabled") or "enforcementLevel" in example["all"]
    unknown = set(example) - set(SPECS) - {"all"}
    assert not unknown, f"example config names policies the pack does not have: {unknown}"
    for name, entry in example.items():
        if name == "all" or isinstance(entry, str):
            continue
        properties = {key: value for key, value in entry.items() if key != "enforcementLevel"}
        schema = {"type": "object", "properties": dict(SPECS[name].config), "additionalProperties": False}
        jsonschema.validate(properties, schema)
        resolved = SPECS[name].resolved_config(properties)
        assert {key: resolved[key] for key in properties} == properties
