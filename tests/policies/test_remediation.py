"""Remediation: only where the provider has no default, so an explicit value is never mistaken for an absent one.

Under the engine, Remediate runs after the provider's Check, which fills schema defaults: a remediation of a
property with a provider default would flip an author's explicit value (an explicit `block_public_acls=False`
for a deliberately public bucket) and could not be told from an absent one. So only PITR's table block, which
has no provider default, stays at `remediate`.
"""

from __future__ import annotations

from typing import Any

import pytest
from dr_guardrails import SPECS
from dr_guardrails.props import to_plain

from tests.policies import analyzer
from tests.policies.fixtures import compliant_stack, table_props, table_replica_props
from tests.policies.support import (
    DELETE,
    PAB,
    TABLE,
    TABLE_REPLICA,
    UNKNOWN_STR,
    changed,
    remediate,
    run_resource,
)

REMEDIATING = {"aws-dynamodb-table-pitr-enabled"}

# Every property a remediating policy reads that has a provider (schema) default, with that default, cited:
# https://www.pulumi.com/registry/packages/aws/api-docs/dynamodb/table/ ("recovery_period_in_days ... Default is
# 35"; replicas[].point_in_time_recovery "Default is false"; TableReplica point_in_time_recovery "Default is false").
PROVIDER_DEFAULTS: dict[str, list[tuple[str, tuple[str | int, ...], Any]]] = {
    "aws-dynamodb-table-pitr-enabled": [
        (TABLE, ("pointInTimeRecovery", "recoveryPeriodInDays"), 35),
        (TABLE, ("replicas", 0, "pointInTimeRecovery"), False),
        (TABLE_REPLICA, ("pointInTimeRecovery",), False),
    ]
}


def test_only_policies_without_a_provider_default_remediate() -> None:
    assert {name for name, spec in SPECS.items() if spec.fix is not None} == REMEDIATING
    assert {name for name, spec in SPECS.items() if spec.enforcement_level.value == "remediate"} == REMEDIATING
    assert all(spec.enforcement_level.value == "mandatory" for name, spec in SPECS.items() if name not in REMEDIATING)
    # All four flags are documented "Defaults to `false`": an explicit False must block, never be flipped.
    assert SPECS["aws-s3-bucket-public-access-block"].enforcement_level.value == "mandatory"
    assert SPECS["aws-dynamodb-table-deletion-protection"].enforcement_level.value == "mandatory"


def _outcome(policy: str, resource_type: str, props: dict[str, Any]) -> tuple[Any, list[str]]:
    fixed = remediate(policy, resource_type, props)
    return (to_plain(fixed) if fixed is not None else None), run_resource(policy, resource_type, props)


@pytest.mark.parametrize(
    ("policy", "resource_type", "path", "default"),
    [(policy, *case) for policy, cases in PROVIDER_DEFAULTS.items() for case in cases],
)
def test_a_property_absent_or_set_to_its_provider_default_gives_the_same_outcome(
    policy: str, resource_type: str, path: tuple[str | int, ...], default: Any
) -> None:
    base = table_props() if resource_type == TABLE else table_replica_props()
    absent, explicit = changed(base, path, DELETE), changed(base, path, default)

    fixed_absent, found_absent = _outcome(policy, resource_type, absent)
    fixed_default, found_default = _outcome(policy, resource_type, explicit)

    # The same verdict (the messages may say "declared: not set" instead of "declared: False").
    assert len(found_absent) == len(found_default)
    if fixed_absent is None or fixed_default is None:
        assert fixed_absent is None and fixed_default is None
    else:
        # The remediation writes the same values either way, and never the defaulted property itself.
        assert to_plain(changed(fixed_absent, path, DELETE)) == to_plain(changed(fixed_default, path, DELETE))


def test_pitr_fix_turns_on_the_table_block_and_raises_a_short_period() -> None:
    props = changed(table_props(), ("pointInTimeRecovery",), {"enabled": False, "recoveryPeriodInDays": 7})
    fixed = to_plain(remediate("aws-dynamodb-table-pitr-enabled", TABLE, props))
    assert fixed["pointInTimeRecovery"] == {"enabled": True, "recoveryPeriodInDays": 35}
    assert fixed["hashKey"] == "pk"
    assert run_resource("aws-dynamodb-table-pitr-enabled", TABLE, fixed) == []


def test_pitr_fix_adds_a_missing_block_and_respects_configured_minimum() -> None:
    props = changed(table_props(), ("pointInTimeRecovery",), DELETE)
    fixed = to_plain(remediate("aws-dynamodb-table-pitr-enabled", TABLE, props, config={"tier1MinDays": 14.0}))
    assert fixed["pointInTimeRecovery"] == {"enabled": True}
    short = changed(table_props(), ("pointInTimeRecovery", "recoveryPeriodInDays"), 7)
    fixed = to_plain(remediate("aws-dynamodb-table-pitr-enabled", TABLE, short, config={"tier1MinDays": 14.0}))
    assert fixed["pointInTimeRecovery"]["recoveryPeriodInDays"] == 14


def test_pitr_never_remediates_replicas_whose_flag_has_a_provider_default() -> None:
    replica_off = changed(table_props(), ("replicas", 0, "pointInTimeRecovery"), False)
    assert remediate("aws-dynamodb-table-pitr-enabled", TABLE, replica_off) is None
    assert run_resource("aws-dynamodb-table-pitr-enabled", TABLE, replica_off)
    off = changed(table_replica_props(), ("pointInTimeRecovery",), False)
    assert remediate("aws-dynamodb-table-pitr-enabled", TABLE_REPLICA, off) is None
    assert remediate("aws-dynamodb-table-pitr-enabled", TABLE, table_props()) is None


def test_fix_keeps_unknown_values_unknown() -> None:
    props = changed(changed(table_props(), ("pointInTimeRecovery", "enabled"), False), ("name",), UNKNOWN_STR)
    fixed = to_plain(remediate("aws-dynamodb-table-pitr-enabled", TABLE, props))
    assert fixed["pointInTimeRecovery"]["enabled"] is True
    assert str(fixed["name"]) == "UNKNOWN"


# --- through the SDK servicer, as the engine runs it -------------------------------------------------


def _broken_table() -> dict[str, Any]:
    return changed(
        changed(table_props(), ("pointInTimeRecovery", "enabled"), False), ("deletionProtectionEnabled",), False
    )


def test_at_remediate_level_the_engine_fixes_pitr_and_reports_deletion_protection() -> None:
    server = analyzer.servicer(analyzer.default_levels())
    fixed, applied = analyzer.remediate(server, TABLE, _broken_table())
    assert applied == ["aws-dynamodb-table-pitr-enabled"]
    assert fixed["pointInTimeRecovery"]["enabled"] is True and fixed["deletionProtectionEnabled"] is False
    assert {policy for policy, _, _ in analyzer.analyze(server, TABLE, fixed)} == {
        "aws-dynamodb-table-deletion-protection"
    }
    _, applied = analyzer.remediate(server, PAB, {"bucket": "b", "blockPublicAcls": False})
    assert applied == []
    assert {policy for policy, _, _ in analyzer.analyze(server, PAB, {"bucket": "b"})} == {
        "aws-s3-bucket-public-access-block"
    }


def test_at_mandatory_level_the_pack_reports_instead_of_fixing() -> None:
    levels = {name: {"enforcementLevel": "mandatory"} for name in REMEDIATING}
    server = analyzer.servicer({**analyzer.default_levels(), **levels})
    props = _broken_table()
    fixed, applied = analyzer.remediate(server, TABLE, props)
    assert applied == [] and fixed == props
    found = analyzer.analyze(server, TABLE, props)
    assert {(policy, level) for policy, level, _ in found} == {
        ("aws-dynamodb-table-pitr-enabled", "mandatory"),
        ("aws-dynamodb-table-deletion-protection", "mandatory"),
    }


def test_unknowns_reach_the_engine_as_mandatory_cannot_verify_not_the_sdk_advisory_note() -> None:
    server = analyzer.servicer(analyzer.default_levels())
    found = analyzer.analyze(
        server,
        "aws:s3/bucketVersioning:BucketVersioning",
        {"bucket": UNKNOWN_STR, "versioningConfiguration": {"status": UNKNOWN_STR}},
    )
    assert found, "an unknown status passed silently"
    policy, level, message = found[0]
    assert policy == "aws-s3-bucket-versioning-enabled" and level == "mandatory"
    # The SDK prefixes every diagnostic with the policy description and a newline; the marker opens line 2.
    description, reported = message.split("\n", 1)
    assert description == SPECS[policy].full_description
    assert reported == "cannot verify until deploy: versioningConfiguration.status"
    assert not any("can't run policy" in text for _, _, text in found)


def test_prod_like_estate_through_analyze_stack_has_no_mandatory_violation() -> None:
    server = analyzer.servicer(analyzer.default_levels())
    assert analyzer.analyze_stack(server, compliant_stack()) == []
    broken = compliant_stack()
    broken.remove("reporting-versioning")
    found = analyzer.analyze_stack(server, broken)
    # the missing versioning also breaks the bucket's declared logical RPO of 0
    assert sorted((policy, level) for policy, level, _, _ in found) == [
        ("aws-s3-bucket-objectives-achievable", "mandatory"),
        ("aws-s3-bucket-versioning-attached", "mandatory"),
    ]
