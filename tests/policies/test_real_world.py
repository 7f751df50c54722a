"""Rules found missing on real-world programs: v7 inline bucket arguments, PITR beyond DynamoDB, messages a user
can act on, and the tests a mutation run showed missing (issue 11)."""

from __future__ import annotations

from typing import Any

import pytest
from dr_guardrails import SPECS

from tests.policies.fixtures import (
    PRIMARY,
    RECOVERY,
    TIER1_TAGS,
    compliant_stack,
    objective_tags,
    tls_policy,
)
from tests.policies.support import (
    BUCKET,
    DELETE,
    LIFECYCLE,
    REPLICATION,
    UNKNOWN_BOOL,
    UNKNOWN_LIST,
    UNKNOWN_NUM,
    Stack,
    changed,
    messages,
    run_resource,
    run_stack,
    urn,
)

RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_CLUSTER = "aws:rds/cluster:Cluster"
DOCDB_CLUSTER = "aws:docdb/cluster:Cluster"
NEPTUNE_CLUSTER = "aws:neptune/cluster:Cluster"

# --- v7 inline bucket arguments -----------------------------------------------------------------------------

INLINE_RULE = {
    "applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": "arn:aws:kms:key/1"},
    "bucketKeyEnabled": True,
}


def inline_bucket(**overrides: Any) -> dict[str, Any]:
    """A tier-2 bucket declaring everything inline (v7 `aws.s3.Bucket(versioning=..., ...)`), compliant."""
    props = {
        "bucket": "acme-inline",
        "objectLockEnabled": True,
        "tags": objective_tags("2", "0", "240", "none", "none"),
        "versioning": {"enabled": True},
        "serverSideEncryptionConfiguration": {"rule": INLINE_RULE},
        "objectLockConfiguration": {
            "objectLockEnabled": "Enabled",
            "rule": {"defaultRetention": {"mode": "GOVERNANCE", "days": 7}},
        },
        "policy": tls_policy("acme-inline"),
    }
    props.update(overrides)
    return {key: value for key, value in props.items() if value is not DELETE}


def inline_stack(**overrides: Any) -> Stack:
    stack = Stack()
    stack.add(BUCKET, "inline", inline_bucket(**overrides), region=PRIMARY)
    stack.add(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "inline-pab",
        {
            "bucket": "acme-inline",
            **dict.fromkeys(
                ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"), True
            ),
        },
        links={"bucket": ["inline"]},
    )
    return stack


STACK_POLICIES_ON_INLINE = (
    "aws-s3-bucket-versioning-attached",
    "aws-s3-bucket-object-lock-attached",
    "aws-s3-bucket-sse-kms-attached",
    "aws-s3-bucket-policy-tls-only-attached",
    "aws-s3-bucket-public-access-block-attached",
    "aws-s3-bucket-objectives-achievable",
    "aws-s3-bucket-mfa-delete-enabled",
    "aws-s3-bucket-replication-cross-region",
)
RESOURCE_POLICIES_ON_INLINE = (
    "aws-s3-bucket-versioning-enabled",
    "aws-s3-bucket-object-lock-retention",
    "aws-s3-bucket-sse-kms",
    "aws-s3-bucket-policy-tls-only",
    "aws-s3-bucket-object-lock-enabled",
)


@pytest.mark.parametrize("policy", STACK_POLICIES_ON_INLINE)
def test_a_compliant_inline_bucket_passes_every_stack_policy(policy: str) -> None:
    assert run_stack(policy, inline_stack()) == []


@pytest.mark.parametrize("policy", RESOURCE_POLICIES_ON_INLINE)
def test_a_compliant_inline_bucket_passes_every_resource_policy(policy: str) -> None:
    assert run_resource(policy, BUCKET, inline_bucket()) == []


@pytest.mark.parametrize(
    ("override", "resource_policy", "stack_policy", "expected"),
    [
        (
            {"versioning": {"enabled": False}},
            "aws-s3-bucket-versioning-enabled",
            "aws-s3-bucket-versioning-attached",
            "inline versioning",
        ),
        (
            {
                "serverSideEncryptionConfiguration": {
                    "rule": {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}
                }
            },
            "aws-s3-bucket-sse-kms",
            "aws-s3-bucket-sse-kms-attached",
            "sseAlgorithm",
        ),
        (
            {
                "objectLockConfiguration": {
                    "objectLockEnabled": "Enabled",
                    "rule": {"defaultRetention": {"mode": "GOVERNANCE", "days": 1}},
                }
            },
            "aws-s3-bucket-object-lock-retention",
            "aws-s3-bucket-object-lock-attached",
            "at least 7 days",
        ),
        (
            {"policy": '{"Statement": []}'},
            "aws-s3-bucket-policy-tls-only",
            "aws-s3-bucket-policy-tls-only-attached",
            "aws:SecureTransport",
        ),
    ],
    ids=["versioning", "encryption", "object-lock", "policy"],
)
def test_a_non_compliant_inline_argument_fails_both_resource_and_stack_policy(
    override: dict[str, Any], resource_policy: str, stack_policy: str, expected: str
) -> None:
    found = run_resource(resource_policy, BUCKET, inline_bucket(**override))
    assert any(expected in message for message in found), found
    stack_found = run_stack(stack_policy, inline_stack(**override))
    assert stack_found and all(resource_urn == urn(BUCKET, "inline") for resource_urn, _ in stack_found)


def test_inline_mfa_delete_counts_and_conflicts_with_inline_lifecycle_rules() -> None:
    tier1 = {"tags": dict(TIER1_TAGS), "versioning": {"enabled": True, "mfaDelete": True}}
    assert run_stack("aws-s3-bucket-mfa-delete-enabled", inline_stack(**tier1)) == []
    found = run_stack(
        "aws-s3-bucket-mfa-delete-without-lifecycle",
        inline_stack(**tier1, lifecycleRules=[{"enabled": True, "expiration": {"days": 30}}]),
    )
    assert [message for message in messages(found) if "inline lifecycleRules" in message], found


def test_inline_replication_counts_for_replication_and_regional_objectives() -> None:
    stack = Stack()
    rule = {
        "id": "all",
        "status": "Enabled",
        "deleteMarkerReplicationStatus": "Enabled",
        "sourceSelectionCriteria": {"sseKmsEncryptedObjects": {"enabled": True}},
        "destination": {
            "bucket": "arn:aws:s3:::acme-inline-replica",
            "replicaKmsKeyId": "arn:aws:kms:key/2",
            "replicationTime": {"status": "Enabled", "minutes": 15},
            "metrics": {"status": "Enabled", "minutes": 15},
        },
    }
    primary = inline_bucket(
        bucket="acme-inline-primary",
        tags={**TIER1_TAGS, "dr:mfa-delete-attested": "2026-01-15"},
        replicationConfiguration={"role": "arn:aws:iam::1:role/r", "rules": [rule]},
    )
    stack.add(BUCKET, "primary", primary, region=PRIMARY)
    stack.add(BUCKET, "replica", inline_bucket(bucket="acme-inline-replica", tags=dict(TIER1_TAGS)), region=RECOVERY)
    for policy in ("aws-s3-bucket-replication-cross-region", "aws-s3-bucket-objectives-achievable"):
        assert run_stack(policy, stack) == [], policy
    # The replica is recognised as the regional copy, so MFA delete is not required of it.
    assert run_stack("aws-s3-bucket-mfa-delete-enabled", stack) == []
    without_rtc = changed(primary, ("replicationConfiguration", "rules", 0, "destination", "replicationTime"), DELETE)
    stack.add(BUCKET, "primary", without_rtc, region=PRIMARY)
    assert run_stack("aws-s3-bucket-replication-cross-region", stack)


# --- PITR wherever AWS has it -------------------------------------------------------------------------------


def database(**overrides: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "backupRetentionPeriod": 35,
        "deletionProtection": True,
        "skipFinalSnapshot": False,
        "finalSnapshotIdentifier": "orders-final",
        "copyTagsToSnapshot": True,
        "tags": {"dr:tier": "1"},
    }
    props.update(overrides)
    return {key: value for key, value in props.items() if value is not DELETE}


DATABASE_TYPES = {
    "aws-rds-instance": RDS_INSTANCE,
    "aws-rds-cluster": RDS_CLUSTER,
    "aws-docdb-cluster": DOCDB_CLUSTER,
    "aws-neptune-cluster": NEPTUNE_CLUSTER,
}
DATABASE_POLICIES = sorted(name for name in SPECS if name.startswith(tuple(DATABASE_TYPES)))


def _type_of(policy: str) -> str:
    return next(token for stem, token in DATABASE_TYPES.items() if policy.startswith(stem))


def test_every_store_with_point_in_time_recovery_has_its_policies() -> None:
    assert {policy.rsplit("-", 2)[0] for policy in DATABASE_POLICIES if policy.endswith("backup-retention")} == {
        "aws-rds-instance", "aws-rds-cluster", "aws-docdb-cluster", "aws-neptune-cluster"
    }  # fmt: skip
    assert "aws-docdb-cluster-copy-tags-to-snapshot" not in SPECS  # docdb.Cluster has no copy_tags_to_snapshot
    assert SPECS["aws-rds-cluster-deletion-protection"].controls[0].id == "RDS.7"
    assert SPECS["aws-rds-instance-deletion-protection"].controls[0].id == "RDS.8"


@pytest.mark.parametrize("policy", DATABASE_POLICIES)
def test_a_protected_database_passes(policy: str) -> None:
    assert run_resource(policy, _type_of(policy), database()) == []


@pytest.mark.parametrize(
    ("check", "override", "expected"),
    [
        (
            "backup-retention",
            {"backupRetentionPeriod": 7},
            "backup_retention_period (engine: backupRetentionPeriod) must be at least 35 days for `dr:tier` 1",
        ),
        ("backup-retention", {"backupRetentionPeriod": DELETE}, "not set, so the provider default of"),
        (
            "deletion-protection",
            {"deletionProtection": False},
            "deletion_protection (engine: deletionProtection) must be True",
        ),
        (
            "final-snapshot",
            {"skipFinalSnapshot": True},
            "skip_final_snapshot (engine: skipFinalSnapshot) must be False",
        ),
        (
            "final-snapshot",
            {"finalSnapshotIdentifier": DELETE},
            "final_snapshot_identifier (engine: finalSnapshotIdentifier) must be set",
        ),
        (
            "copy-tags-to-snapshot",
            {"copyTagsToSnapshot": DELETE},
            "copy_tags_to_snapshot (engine: copyTagsToSnapshot) must be True",
        ),
    ],
)
def test_one_change_fails_each_database_policy(check: str, override: dict[str, Any], expected: str) -> None:
    policies = [policy for policy in DATABASE_POLICIES if policy.endswith(check)]
    assert policies
    for policy in policies:
        found = run_resource(policy, _type_of(policy), database(**override))
        assert any(expected in message for message in found), (policy, found)


def test_backup_retention_is_configurable_per_tier_and_untagged_databases_count_as_tier_1() -> None:
    policy = "aws-rds-cluster-backup-retention"
    tier3 = database(backupRetentionPeriod=7, tags={"dr:tier": "3"})
    assert run_resource(policy, RDS_CLUSTER, tier3) == []
    assert run_resource(policy, RDS_CLUSTER, tier3, config={"tier3MinDays": 14})
    untagged = run_resource(policy, RDS_CLUSTER, database(backupRetentionPeriod=14, tags=DELETE))
    assert any("without a valid `dr:tier` tag (checked as tier 1)" in message for message in untagged), untagged


def test_unknown_retention_is_not_verifiable_never_a_pass() -> None:
    found = run_resource(
        "aws-neptune-cluster-backup-retention", NEPTUNE_CLUSTER, database(backupRetentionPeriod=UNKNOWN_NUM)
    )
    assert found == ["cannot verify until deploy: backupRetentionPeriod"]


def test_aurora_instances_are_judged_through_their_cluster() -> None:
    member = {"engine": "aurora-postgresql", "clusterIdentifier": "orders", "instanceClass": "db.r6g.large"}
    for policy in DATABASE_POLICIES:
        if policy.startswith("aws-rds-instance"):
            assert run_resource(policy, RDS_INSTANCE, member) == [], policy


# --- messages -----------------------------------------------------------------------------------------------


def test_an_untagged_bucket_gets_one_objectives_finding_not_five() -> None:
    found = run_resource("aws-s3-bucket-objectives-declared", BUCKET, {"bucket": "b"})
    assert len(found) == 1
    assert "`dr:tier`" in found[0] and "`dr:rto-regional-minutes`" in found[0]


def test_mfa_messages_use_tier_wording_only_for_buckets_with_a_tier_and_link_outside_this_repository() -> None:
    stack = Stack()
    stack.add(BUCKET, "untagged", {"bucket": "acme-untagged"}, region=PRIMARY)
    stack.add(BUCKET, "tiered", {"bucket": "acme-tiered", "tags": dict(TIER1_TAGS)}, region=PRIMARY)
    found = dict(run_stack("aws-s3-bucket-mfa-delete-enabled", stack))
    untagged, tiered = found[urn(BUCKET, "untagged")], found[urn(BUCKET, "tiered")]
    assert "tier in" not in untagged and "it has no valid `dr:tier` tag" in untagged
    assert "its `dr:tier` is 1" in tiered
    assert "https://docs.aws.amazon.com/AmazonS3/latest/userguide/MultiFactorAuthenticationDelete.html" in untagged
    assert "docs/runbooks" not in untagged


# --- tests a mutation run showed missing ---------------------------------------------------------------------


def test_every_bucket_after_a_flagged_one_still_gets_its_regional_checks() -> None:
    """Kills `continue` -> `break` in check_bucket_objectives_achievable: two buckets, both flagged."""
    stack = Stack()
    for name in ("first", "second"):
        stack.add(BUCKET, name, {"bucket": f"acme-{name}", "tags": objective_tags("1", "none", "none", "5", "60")})
    found = run_stack("aws-s3-bucket-objectives-achievable", stack)
    assert {resource_urn for resource_urn, _ in found} == {urn(BUCKET, "first"), urn(BUCKET, "second")}
    unknown = Stack()
    for name in ("first", "second"):
        unknown.add(
            BUCKET,
            name,
            {"bucket": f"acme-{name}", "tags": objective_tags("1", "none", "none", "15", "60")},
            region=None,
        )
        unknown.add(
            REPLICATION, f"{name}-replication", {"bucket": "x", "rules": UNKNOWN_LIST}, links={"bucket": [name]}
        )
    found = run_stack("aws-s3-bucket-objectives-achievable", unknown)
    assert {resource_urn for resource_urn, _ in found} == {urn(BUCKET, "first"), urn(BUCKET, "second")}


def test_a_bucket_declaring_only_a_regional_rto_needs_replication_but_not_rtc() -> None:
    """Kills `needs_rtc = rpo is not None and rpo <= rtc` -> `or`: no crash on an RTO-only bucket, and a loose
    RPO does not require RTC."""
    stack = compliant_stack()
    stack.props("audio-replication")["rules"][0]["destination"]["replicationTime"] = {"status": "Disabled"}
    stack.props("audio-primary")["tags"] = {
        **stack.props("audio-primary")["tags"], "dr:rpo-regional-minutes": "none", "dr:rto-regional-minutes": "60"
    }  # fmt: skip
    assert run_stack("aws-s3-bucket-objectives-achievable", stack) == []
    stack.props("audio-primary")["tags"]["dr:rpo-regional-minutes"] = "120"
    assert run_stack("aws-s3-bucket-objectives-achievable", stack) == []
    stack.props("audio-primary")["tags"]["dr:rpo-regional-minutes"] = "15"
    found = messages(run_stack("aws-s3-bucket-objectives-achievable", stack))
    assert any("Replication Time Control" in message for message in found), found


def test_inline_lifecycle_rules_on_an_mfa_delete_bucket_are_a_violation() -> None:
    """Kills dropping the inline `lifecycleRules` case of the MFA-delete-plus-lifecycle check."""
    stack = compliant_stack()
    assert not [child for child in stack.nodes.values() if child.resource_type == LIFECYCLE
                and "audio-primary" in child.links.get("bucket", [])]  # fmt: skip
    stack.props("audio-primary")["lifecycleRules"] = [{"enabled": True, "expiration": {"days": 30}}]
    found = run_stack("aws-s3-bucket-mfa-delete-without-lifecycle", stack)
    assert [(resource_urn, "inline lifecycleRules" in message) for resource_urn, message in found] == [
        (urn(BUCKET, "audio-primary"), True)
    ]


@pytest.mark.parametrize(("years", "minimum", "passes"), [(1, 365, True), (1, 366, False)])
def test_retention_in_years_counts_365_days_a_year(years: int, minimum: int, passes: bool) -> None:
    props = {"bucket": "b", "rule": {"defaultRetention": {"mode": "COMPLIANCE", "years": years}}}
    found = run_resource(
        "aws-s3-bucket-object-lock-retention",
        "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
        props,
        config={"tier1MinDays": minimum, "tier2MinDays": minimum},
    )
    assert (found == []) is passes, found


def test_undeclared_and_logical_only_buckets_never_end_the_loop() -> None:
    """Kills `continue` -> `break` on the buckets that are skipped (no objectives, no regional objectives)."""
    stack = Stack()
    stack.add(BUCKET, "undeclared", {"bucket": "acme-undeclared"})
    stack.add(
        BUCKET, "logical-only", {"bucket": "acme-logical", "tags": objective_tags("3", "60", "none", "none", "none")}
    )
    stack.add(
        "aws:s3/bucketVersioning:BucketVersioning",
        "logical-only-versioning",
        {"bucket": "acme-logical", "versioningConfiguration": {"status": "Enabled"}},
        links={"bucket": ["logical-only"]},
    )
    stack.add(BUCKET, "flagged", {"bucket": "acme-flagged", "tags": objective_tags("1", "none", "none", "5", "60")})
    found = run_stack("aws-s3-bucket-objectives-achievable", stack)
    assert {resource_urn for resource_urn, _ in found} == {urn(BUCKET, "flagged")}


def test_every_table_and_every_objective_rule_is_checked() -> None:
    """Kills `continue` -> `break` in check_table_objectives_achievable (tables and rules)."""
    table = "aws:dynamodb/table:Table"
    stack = Stack()
    stack.add(table, "undeclared", {"name": "undeclared"})
    # PITR on satisfies the logical RPO (first rule), the regional RPO without a replica still fails.
    stack.add(
        table,
        "no-replica",
        {"name": "a", "pointInTimeRecovery": {"enabled": True}, "tags": objective_tags("1", "5", "60", "5", "600")},
    )
    # PITR unknown (first rule not verifiable), the regional RPO still fails.
    stack.add(
        table,
        "unknown-pitr",
        {
            "name": "b",
            "pointInTimeRecovery": {"enabled": UNKNOWN_BOOL},
            "tags": objective_tags("1", "5", "60", "5", "600"),
        },
    )
    found = run_stack("aws-dynamodb-table-objectives-achievable", stack)
    regional = {resource_urn for resource_urn, message in found if "dr:rpo-regional-minutes=5" in message}
    assert regional == {urn(table, "no-replica"), urn(table, "unknown-pitr")}, found


# Words a control's title must contain for each database check (issue 23 item 13: IDs came from memory).
CHECK_WORDS = {
    "backup-retention": ("backup",),
    "deletion-protection": ("deletion protection",),
    "copy-tags-to-snapshot": ("copy tags to snapshots",),
}


def test_every_database_control_has_a_verified_title_that_matches_its_check() -> None:
    from policies.dr_guardrails.catalog import CATALOG, VERIFIED_CONTROL_TITLES

    checked = 0
    for spec in CATALOG:
        stem, _, check = (
            spec.name.partition("-cluster-") if "-cluster-" in spec.name else spec.name.partition("-instance-")
        )
        if not stem.startswith(("aws-rds", "aws-docdb", "aws-neptune")):
            continue
        for control in spec.controls:
            if control.framework != "Security Hub":
                continue
            title, source = VERIFIED_CONTROL_TITLES[control.id]
            assert source.startswith("https://docs.aws.amazon.com/securityhub/"), control.id
            assert any(word in title for word in CHECK_WORDS[check]), (spec.name, control.id, title)
            checked += 1
    assert checked == 10
