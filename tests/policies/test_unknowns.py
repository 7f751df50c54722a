"""No silent pass on unknowns: every policy names the property it cannot verify at preview."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.policies.fixtures import (
    compliant_stack,
    object_lock_props,
    pab_props,
    sse_props,
    table_props,
    table_replica_props,
    versioning_props,
)
from tests.policies.support import (
    ALARM,
    BUCKET,
    BUCKET_POLICY,
    CANNOT_VERIFY,
    KMS_KEY,
    OBJECT_LOCK,
    PAB,
    RECORD,
    SSE,
    TABLE,
    TABLE_REPLICA,
    UNKNOWN_BOOL,
    UNKNOWN_LIST,
    UNKNOWN_NUM,
    UNKNOWN_OBJ,
    UNKNOWN_STR,
    VERSIONING,
    Stack,
    changed,
    messages,
    run_resource,
    run_stack,
)

# policy, type, props with one unknown value, the property the message must name
RESOURCE_CASES: list[tuple[str, str, dict[str, Any], str]] = [
    (
        "aws-s3-bucket-versioning-enabled",
        VERSIONING,
        changed(versioning_props(), ("versioningConfiguration", "status"), UNKNOWN_STR),
        "versioningConfiguration.status",
    ),
    (
        "aws-s3-bucket-versioning-enabled",
        VERSIONING,
        changed(versioning_props(), ("versioningConfiguration",), UNKNOWN_OBJ),
        "versioningConfiguration.status",
    ),
    (
        "aws-s3-bucket-object-lock-enabled",
        BUCKET,
        {"objectLockEnabled": UNKNOWN_BOOL, "tags": {"dr:tier": "1"}},
        "objectLockEnabled",
    ),
    ("aws-s3-bucket-object-lock-enabled", BUCKET, {"objectLockEnabled": False, "tags": UNKNOWN_OBJ}, "tags.dr:tier"),
    (
        "aws-s3-bucket-object-lock-retention",
        OBJECT_LOCK,
        changed(object_lock_props(), ("rule", "defaultRetention", "days"), UNKNOWN_NUM),
        "rule.defaultRetention.days",
    ),
    (
        "aws-s3-bucket-object-lock-retention",
        OBJECT_LOCK,
        changed(object_lock_props(), ("rule", "defaultRetention", "mode"), UNKNOWN_STR),
        "rule.defaultRetention.mode",
    ),
    ("aws-s3-bucket-sse-kms", SSE, changed(sse_props(), ("rules",), UNKNOWN_LIST), "rules"),
    (
        "aws-s3-bucket-sse-kms",
        SSE,
        changed(sse_props(), ("rules", 0, "applyServerSideEncryptionByDefault", "sseAlgorithm"), UNKNOWN_STR),
        "rules[0].applyServerSideEncryptionByDefault.sseAlgorithm",
    ),
    (
        "aws-s3-bucket-public-access-block",
        PAB,
        changed(pab_props(), ("blockPublicPolicy",), UNKNOWN_BOOL),
        "blockPublicPolicy",
    ),
    ("aws-s3-bucket-policy-tls-only", BUCKET_POLICY, {"bucket": "b", "policy": UNKNOWN_STR}, "policy"),
    (
        "aws-s3-bucket-policy-tls-only",
        BUCKET_POLICY,
        {"bucket": "b", "policy": {"Statement": [{"Effect": "Deny", "Principal": "*", "Action": UNKNOWN_STR}]}},
        "policy",
    ),
    (
        "aws-dynamodb-table-pitr-enabled",
        TABLE,
        changed(table_props(), ("pointInTimeRecovery", "enabled"), UNKNOWN_BOOL),
        "pointInTimeRecovery.enabled",
    ),
    (
        "aws-dynamodb-table-pitr-enabled",
        TABLE,
        changed(table_props(), ("pointInTimeRecovery", "recoveryPeriodInDays"), UNKNOWN_NUM),
        "pointInTimeRecovery.recoveryPeriodInDays",
    ),
    ("aws-dynamodb-table-pitr-enabled", TABLE, changed(table_props(), ("replicas",), UNKNOWN_LIST), "replicas"),
    (
        "aws-dynamodb-table-pitr-enabled",
        TABLE,
        changed(table_props(), ("replicas", 0), UNKNOWN_OBJ),
        "replicas[0].pointInTimeRecovery",
    ),
    (
        "aws-dynamodb-table-pitr-enabled",
        TABLE_REPLICA,
        changed(table_replica_props(), ("pointInTimeRecovery",), UNKNOWN_BOOL),
        "pointInTimeRecovery",
    ),
    (
        "aws-dynamodb-table-deletion-protection",
        TABLE,
        changed(table_props(), ("deletionProtectionEnabled",), UNKNOWN_BOOL),
        "deletionProtectionEnabled",
    ),
    ("aws-kms-key-rotation-enabled", KMS_KEY, {"enableKeyRotation": UNKNOWN_BOOL}, "enableKeyRotation"),
    (
        "aws-route53-record-primary-health-check",
        RECORD,
        {"failoverRoutingPolicies": UNKNOWN_LIST},
        "failoverRoutingPolicies[].type",
    ),
    (
        "aws-route53-record-primary-health-check",
        RECORD,
        {"failoverRoutingPolicies": [{"type": UNKNOWN_STR}]},
        "failoverRoutingPolicies[].type",
    ),
    ("aws-cloudwatch-alarm-route53-us-east-1", ALARM, {"namespace": UNKNOWN_STR}, "namespace"),
    ("aws-cloudwatch-alarm-route53-us-east-1", ALARM, {"namespace": "AWS/Route53", "region": UNKNOWN_STR}, "region"),
    ("aws-s3-bucket-objectives-declared", BUCKET, {"tags": UNKNOWN_OBJ}, "tags.dr:tier"),
    (
        "aws-dynamodb-table-objectives-declared",
        TABLE,
        changed(table_props(), ("tags", "dr:rpo-regional-minutes"), UNKNOWN_STR),
        "tags.dr:rpo-regional-minutes",
    ),
]


@pytest.mark.parametrize(("policy", "resource_type", "props", "prop"), RESOURCE_CASES)
def test_resource_policy_reports_the_unknown_property(
    policy: str, resource_type: str, props: dict[str, Any], prop: str
) -> None:
    found = run_resource(policy, resource_type, props)
    assert any(message.startswith(f"{CANNOT_VERIFY}: ") and prop in message for message in found), found


def _set(name: str, path: tuple[str | int, ...], value: object) -> Callable[[Stack], None]:
    def mutate(stack: Stack) -> None:
        stack.nodes[name].props = changed(stack.props(name), path, value)

    return mutate


RULE = ("rules", 0)
STACK_CASES: list[tuple[str, Callable[[Stack], None], str]] = [
    (
        "aws-s3-bucket-versioning-attached",
        _set("reporting-versioning", ("versioningConfiguration", "status"), UNKNOWN_STR),
        "reporting-versioning.versioningConfiguration.status",
    ),
    (
        "aws-s3-bucket-versioning-attached",
        _set("backup-versioning", ("versioningConfiguration",), UNKNOWN_OBJ),
        "versioningConfiguration",
    ),
    ("aws-s3-bucket-mfa-delete-enabled", _set("audio-primary", ("tags",), UNKNOWN_OBJ), "tags.dr:mfa-delete-attested"),
    (
        "aws-s3-bucket-object-lock-attached",
        _set("audio-primary-lock", ("rule", "defaultRetention", "days"), UNKNOWN_NUM),
        "audio-primary-lock.rule.defaultRetention.days",
    ),
    (
        "aws-s3-bucket-replication-cross-region",
        _set("audio-replication", ("rules",), UNKNOWN_LIST),
        "audio-replication.rules",
    ),
    (
        "aws-s3-bucket-replication-cross-region",
        _set("audio-replication", (*RULE, "destination", "replicationTime", "status"), UNKNOWN_STR),
        "replicationTime.status",
    ),
    (
        "aws-s3-bucket-replication-cross-region",
        _set("audio-replica", ("region",), UNKNOWN_STR),
        "region of destination bucket 'audio-replica'",
    ),
    ("aws-s3-bucket-sse-kms-attached", _set("reporting-sse", ("rules",), UNKNOWN_LIST), "reporting-sse.rules"),
    (
        "aws-s3-bucket-public-access-block-attached",
        _set("backup-pab", ("blockPublicAcls",), UNKNOWN_BOOL),
        "backup-pab.blockPublicAcls",
    ),
    ("aws-s3-bucket-policy-tls-only-attached", _set("backup-tls", ("policy",), UNKNOWN_STR), "backup-tls.policy"),
    ("aws-route53-record-secondary-exists", _set("site-primary", ("zoneId",), UNKNOWN_STR), "zoneId"),
    (
        "aws-s3-bucket-objectives-achievable",
        _set("audio-primary", ("objectLockEnabled",), UNKNOWN_BOOL),
        "versioning/object lock",
    ),
    (
        "aws-dynamodb-table-objectives-achievable",
        _set("orders", ("pointInTimeRecovery", "enabled"), UNKNOWN_BOOL),
        "point-in-time recovery",
    ),
    (
        "aws-iam-role-dr-least-privilege",
        _set("drctl-runtime-policy", ("policy",), UNKNOWN_STR),
        "policy document of runtime role 'drctl-runtime'",
    ),
    ("aws-iam-role-dr-least-privilege", _set("drctl-runtime", ("tags",), UNKNOWN_OBJ), "drctl-runtime.tags.dr:role"),
]


@pytest.mark.parametrize(("policy", "mutate", "prop"), STACK_CASES)
def test_stack_policy_reports_the_unknown_property(policy: str, mutate: Callable[[Stack], None], prop: str) -> None:
    stack = compliant_stack()
    mutate(stack)
    found = messages(run_stack(policy, stack))
    assert any(message.startswith(f"{CANNOT_VERIFY}: ") and prop in message for message in found), found


def test_unknown_ids_at_preview_are_linked_through_property_dependencies() -> None:
    """The fixture's children all have `bucket: <unknown>`; only property dependencies link them."""
    stack = compliant_stack()
    assert stack.props("reporting-versioning")["bucket"] == UNKNOWN_STR
    assert run_stack("aws-s3-bucket-versioning-attached", stack) == []
    stack.nodes["reporting-versioning"].links = {}
    assert run_stack("aws-s3-bucket-versioning-attached", stack)


def test_an_unknown_that_cannot_change_the_outcome_is_not_reported() -> None:
    """A definite violation elsewhere in the same resource still fails, not 'cannot verify' only."""
    props = changed(changed(pab_props(), ("blockPublicAcls",), False), ("ignorePublicAcls",), UNKNOWN_BOOL)
    found = run_resource("aws-s3-bucket-public-access-block", PAB, props)
    assert any(message.startswith("block_public_acls (engine: blockPublicAcls) must be True") for message in found)
    assert any(message.startswith(CANNOT_VERIFY) for message in found)
