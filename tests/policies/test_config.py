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
    resolved = SPECS["aws-s3-bucket-object-lock-retention"].resolved_config({"tier2MinDays": 30.0})
    assert resolved["tier2MinDays"] == 30 and isinstance(resolved["tier2MinDays"], int)
    assert (
        run_resource(
            "aws-s3-bucket-object-lock-retention",
            OBJECT_LOCK,
            object_lock_props(days=30.0),
            config={"tier2MinDays": 30.0},
        )
        == []
    )
    assert run_resource(
        "aws-s3-bucket-object-lock-retention",
        OBJECT_LOCK,
        object_lock_props(days=29.0),
        config={"tier2MinDays": 30.0},
    )


def test_non_integral_or_wrong_typed_config_is_an_error_not_a_silent_default() -> None:
    with pytest.raises(ConfigError, match="tier1MinDays"):
        SPECS["aws-s3-bucket-object-lock-retention"].resolved_config({"tier1MinDays": 7.5})
    with pytest.raises(ConfigError, match="tiers"):
        SPECS["aws-s3-bucket-versioning-attached"].resolved_config({"tiers": "1"})


def test_overrides_change_the_outcome() -> None:
    lock = object_lock_props(mode="GOVERNANCE", days=30)
    assert run_resource("aws-s3-bucket-object-lock-retention", OBJECT_LOCK, lock) == []
    assert run_resource(
        "aws-s3-bucket-object-lock-retention", OBJECT_LOCK, lock, config={"allowedModes": ["COMPLIANCE"]}
    )
    assert run_resource(
        "aws-s3-bucket-object-lock-retention", OBJECT_LOCK, lock, config={"tier1MinDays": 31, "tier2MinDays": 31}
    )
    short = changed(table_props(), ("pointInTimeRecovery", "recoveryPeriodInDays"), 14)
    assert run_resource("aws-dynamodb-table-pitr-enabled", TABLE, short)
    assert run_resource("aws-dynamodb-table-pitr-enabled", TABLE, short, config={"tier1MinDays": 14.0}) == []
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


# --- Tier-aware minimums (issue 23, items 1 and 2) ------------------------------------------------------------


def _tier_defaults(policy: str) -> dict[str, int]:
    return {key: spec["default"] for key, spec in SPECS[policy].config.items() if key.endswith("MinDays")}


def test_tier_minimums_equal_the_program_tiers() -> None:
    """The pack is published on its own, so it cannot import stackmodel: its defaults are literals, proved equal."""
    from stackmodel.tiers import TABLE_TIERS, TIERS

    pitr = {f"tier{tier}MinDays": profile.pitr_recovery_period_days for tier, profile in TABLE_TIERS.items()}
    assert _tier_defaults("aws-dynamodb-table-pitr-enabled") == pitr
    locks = {f"tier{tier}MinDays": p.default_lock_days for tier, p in TIERS.items() if p.default_lock_days}
    assert locks == {"tier1MinDays": 30, "tier2MinDays": 7}
    assert _tier_defaults("aws-s3-bucket-object-lock-retention") == locks
    assert _tier_defaults("aws-s3-bucket-object-lock-attached") == locks


@pytest.mark.parametrize(("tier", "period", "passes"), [("2", 14, True), ("2", 13, False), ("3", 7, True),
                                                         ("3", 6, False), ("1", 34, False)])  # fmt: skip
def test_pitr_minimum_follows_the_table_tier(tier: str, period: int, passes: bool) -> None:
    props = changed(table_props(), ("pointInTimeRecovery", "recoveryPeriodInDays"), period)
    props["tags"]["dr:tier"] = tier
    found = run_resource("aws-dynamodb-table-pitr-enabled", TABLE, props)
    assert (found == []) is passes, found
    if not passes:
        [message] = found
        assert f"`dr:tier` {tier}" in message and f"(declared: {period})" in message


def test_pitr_remediation_raises_a_short_period_to_the_tier_minimum_only() -> None:
    from tests.policies.support import remediate

    props = changed(table_props(), ("pointInTimeRecovery", "recoveryPeriodInDays"), 7)
    props["tags"]["dr:tier"] = "2"
    fixed = remediate("aws-dynamodb-table-pitr-enabled", TABLE, props)
    assert fixed is not None and fixed["pointInTimeRecovery"]["recoveryPeriodInDays"] == 14
    props["pointInTimeRecovery"]["recoveryPeriodInDays"] = 14
    assert remediate("aws-dynamodb-table-pitr-enabled", TABLE, props) is None


def test_an_untagged_table_is_held_to_tier_one() -> None:
    props = changed(table_props(), ("pointInTimeRecovery", "recoveryPeriodInDays"), 14)
    del props["tags"]["dr:tier"]
    [message] = run_resource("aws-dynamodb-table-pitr-enabled", TABLE, props)
    assert "at least 35" in message and "checked as tier 1" in message


@pytest.mark.parametrize(("tier", "days", "passes"), [("2", 7, True), ("1", 7, False), ("1", 30, True)])
def test_object_lock_minimum_follows_the_bucket_tier(tier: str, days: int, passes: bool) -> None:
    stack = compliant_stack()
    bucket = "reporting" if tier == "2" else "audio-primary"
    stack.props(f"{bucket}-lock")["rule"]["defaultRetention"]["days"] = days
    found = messages(run_stack("aws-s3-bucket-object-lock-attached", stack))
    assert (found == []) is passes, found
    if not passes:
        [message] = found
        assert f"at least 30 days for `dr:tier` 1 (declared: {days} days)" in message


def test_retention_message_names_only_what_is_declared() -> None:
    years = {"bucket": "b", "objectLockEnabled": "Enabled", "rule": {"defaultRetention": {"mode": "GOVERNANCE"}}}
    [message] = run_resource("aws-s3-bucket-object-lock-retention", OBJECT_LOCK, years)
    assert "(declared: neither days nor years is set)" in message and "not set years" not in message
    years["rule"]["defaultRetention"]["years"] = 0
    [message] = run_resource("aws-s3-bucket-object-lock-retention", OBJECT_LOCK, years)
    assert "(declared: 0 years)" in message
