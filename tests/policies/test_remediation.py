"""Safe remediations: PITR, deletion protection and public-access-block flags."""

from __future__ import annotations

from typing import Any

from dr_guardrails import SPECS
from dr_guardrails.props import to_plain

from tests.policies import analyzer
from tests.policies.fixtures import compliant_stack, pab_props, table_props, table_replica_props
from tests.policies.support import (
    DELETE,
    PAB,
    TABLE,
    TABLE_REPLICA,
    UNKNOWN_LIST,
    UNKNOWN_STR,
    changed,
    remediate,
    run_resource,
)

REMEDIATING = {
    "aws-dynamodb-table-pitr-enabled",
    "aws-dynamodb-table-deletion-protection",
    "aws-s3-bucket-public-access-block",
}


def test_exactly_the_safe_policies_remediate_and_default_to_remediate() -> None:
    assert {name for name, spec in SPECS.items() if spec.fix is not None} == REMEDIATING
    assert {name for name, spec in SPECS.items() if spec.enforcement_level.value == "remediate"} == REMEDIATING
    assert all(spec.enforcement_level.value == "mandatory" for name, spec in SPECS.items() if name not in REMEDIATING)


def test_pitr_fix_enables_table_replicas_and_raises_a_short_period() -> None:
    props = changed(
        changed(table_props(), ("pointInTimeRecovery",), {"enabled": False, "recoveryPeriodInDays": 7}),
        ("replicas", 0, "pointInTimeRecovery"),
        False,
    )
    fixed = to_plain(remediate("aws-dynamodb-table-pitr-enabled", TABLE, props))
    assert fixed["pointInTimeRecovery"] == {"enabled": True, "recoveryPeriodInDays": 35}
    assert fixed["replicas"][0]["pointInTimeRecovery"] is True
    assert fixed["replicas"][0]["regionName"] == "us-west-2"
    assert fixed["hashKey"] == "pk"
    assert run_resource("aws-dynamodb-table-pitr-enabled", TABLE, fixed) == []


def test_pitr_fix_adds_a_missing_block_and_respects_configured_minimum() -> None:
    props = changed(table_props(), ("pointInTimeRecovery",), DELETE)
    fixed = to_plain(remediate("aws-dynamodb-table-pitr-enabled", TABLE, props, config={"minRecoveryPeriodDays": 14.0}))
    assert fixed["pointInTimeRecovery"] == {"enabled": True}
    short = changed(table_props(), ("pointInTimeRecovery", "recoveryPeriodInDays"), 7)
    fixed = to_plain(remediate("aws-dynamodb-table-pitr-enabled", TABLE, short, config={"minRecoveryPeriodDays": 14.0}))
    assert fixed["pointInTimeRecovery"]["recoveryPeriodInDays"] == 14


def test_pitr_fix_on_table_replica_and_no_change_when_compliant() -> None:
    fixed = to_plain(
        remediate(
            "aws-dynamodb-table-pitr-enabled",
            TABLE_REPLICA,
            changed(table_replica_props(), ("pointInTimeRecovery",), DELETE),
        )
    )
    assert fixed["pointInTimeRecovery"] is True
    assert remediate("aws-dynamodb-table-pitr-enabled", TABLE, table_props()) is None
    assert remediate("aws-dynamodb-table-pitr-enabled", TABLE_REPLICA, table_replica_props()) is None


def test_fix_keeps_unknown_values_unknown() -> None:
    props = changed(changed(table_props(), ("deletionProtectionEnabled",), False), ("name",), UNKNOWN_STR)
    fixed = to_plain(
        remediate("aws-dynamodb-table-deletion-protection", TABLE, changed(props, ("replicas",), UNKNOWN_LIST))
    )
    assert fixed["deletionProtectionEnabled"] is True
    assert str(fixed["name"]) == "UNKNOWN"
    assert str(fixed["replicas"]) == "UNKNOWN"


def test_deletion_protection_fix_covers_inline_replicas_and_table_replicas() -> None:
    props = changed(
        changed(table_props(), ("deletionProtectionEnabled",), DELETE),
        ("replicas", 0, "deletionProtectionEnabled"),
        False,
    )
    fixed = to_plain(remediate("aws-dynamodb-table-deletion-protection", TABLE, props))
    assert fixed["deletionProtectionEnabled"] is True
    assert fixed["replicas"][0]["deletionProtectionEnabled"] is True
    replica = to_plain(
        remediate(
            "aws-dynamodb-table-deletion-protection",
            TABLE_REPLICA,
            changed(table_replica_props(), ("deletionProtectionEnabled",), False),
        )
    )
    assert replica["deletionProtectionEnabled"] is True


def test_public_access_block_fix_sets_all_four_flags() -> None:
    props = {"bucket": "b", "blockPublicAcls": False}
    fixed = to_plain(remediate("aws-s3-bucket-public-access-block", PAB, props))
    assert fixed == {
        "bucket": "b",
        "blockPublicAcls": True,
        "blockPublicPolicy": True,
        "ignorePublicAcls": True,
        "restrictPublicBuckets": True,
    }
    assert remediate("aws-s3-bucket-public-access-block", PAB, pab_props()) is None


# --- through the SDK servicer, as the engine runs it -------------------------------------------------


def _broken_table() -> dict[str, Any]:
    return changed(
        changed(table_props(), ("pointInTimeRecovery", "enabled"), False), ("deletionProtectionEnabled",), False
    )


def test_at_remediate_level_the_engine_fixes_and_analyze_then_passes() -> None:
    server = analyzer.servicer(analyzer.default_levels())
    fixed, applied = analyzer.remediate(server, TABLE, _broken_table())
    assert set(applied) == {"aws-dynamodb-table-pitr-enabled", "aws-dynamodb-table-deletion-protection"}
    assert fixed["pointInTimeRecovery"]["enabled"] is True and fixed["deletionProtectionEnabled"] is True
    assert analyzer.analyze(server, TABLE, fixed) == []
    fixed_pab, applied = analyzer.remediate(server, PAB, {"bucket": "b"})
    assert applied == ["aws-s3-bucket-public-access-block"]
    assert analyzer.analyze(server, PAB, fixed_pab) == []


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
    _, applied = analyzer.remediate(server, PAB, {"bucket": "b"})
    assert applied == []
    assert {policy for policy, _, _ in analyzer.analyze(server, PAB, {"bucket": "b"})} == {
        "aws-s3-bucket-public-access-block"
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
