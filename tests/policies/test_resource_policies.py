"""Every resource policy: the compliant fixture passes, and changing one property fails it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.policies.fixtures import (
    object_lock_props,
    pab_props,
    sse_props,
    table_props,
    table_replica_props,
    tls_policy,
    versioning_props,
)
from tests.policies.support import (
    ALARM,
    BUCKET,
    BUCKET_POLICY,
    DELETE,
    GLOBAL_TABLE,
    KMS_KEY,
    OBJECT_LOCK,
    PAB,
    RECORD,
    SSE,
    TABLE,
    TABLE_REPLICA,
    UNKNOWN_STR,
    VERSIONING,
    changed,
    run_resource,
)

TIER1_BUCKET = {
    "bucket": "acme-audio",
    "objectLockEnabled": True,
    "tags": {
        "dr:tier": "1",
        "dr:rpo-logical-minutes": "0",
        "dr:rto-logical-minutes": "60",
        "dr:rpo-regional-minutes": "15",
        "dr:rto-regional-minutes": "60",
    },
}
PRIMARY_RECORD = {
    "zoneId": "Z1",
    "name": "app.example.com",
    "type": "A",
    "setIdentifier": "primary",
    "failoverRoutingPolicies": [{"type": "PRIMARY"}],
    "healthCheckId": "hc-123",
}
ROUTE53_ALARM = {"namespace": "AWS/Route53", "metricName": "HealthCheckStatus", "region": "us-east-1"}

# policy, resource type, compliant props
COMPLIANT: list[tuple[str, str, dict[str, Any]]] = [
    ("aws-s3-bucket-versioning-enabled", VERSIONING, versioning_props()),
    ("aws-s3-bucket-versioning-enabled", "aws:s3/bucketVersioningV2:BucketVersioningV2", versioning_props()),
    ("aws-s3-bucket-object-lock-enabled", BUCKET, TIER1_BUCKET),
    ("aws-s3-bucket-object-lock-enabled", "aws:s3/bucketV2:BucketV2", TIER1_BUCKET),
    ("aws-s3-bucket-object-lock-retention", OBJECT_LOCK, object_lock_props()),
    (
        "aws-s3-bucket-object-lock-retention",
        OBJECT_LOCK,
        changed(object_lock_props(), ("rule", "defaultRetention"), {"mode": "GOVERNANCE", "years": 1}),
    ),
    ("aws-s3-bucket-sse-kms", SSE, sse_props()),
    (
        "aws-s3-bucket-sse-kms",
        "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
        sse_props(),
    ),
    ("aws-s3-bucket-public-access-block", PAB, pab_props()),
    ("aws-s3-bucket-policy-tls-only", BUCKET_POLICY, {"bucket": "b", "policy": tls_policy("b")}),
    ("aws-s3-bucket-policy-tls-only", BUCKET_POLICY, {"bucket": "b", "policy": json.loads(tls_policy("b"))}),
    ("aws-dynamodb-table-pitr-enabled", TABLE, table_props()),
    (
        "aws-dynamodb-table-pitr-enabled",
        TABLE,
        changed(table_props(), ("pointInTimeRecovery", "recoveryPeriodInDays"), DELETE),
    ),
    ("aws-dynamodb-table-pitr-enabled", TABLE_REPLICA, table_replica_props()),
    ("aws-dynamodb-table-deletion-protection", TABLE, table_props()),
    ("aws-dynamodb-table-deletion-protection", TABLE_REPLICA, table_replica_props()),
    ("aws-kms-key-rotation-enabled", KMS_KEY, {"enableKeyRotation": True}),
    ("aws-kms-key-rotation-enabled", KMS_KEY, {"customerMasterKeySpec": "RSA_2048", "keyUsage": "SIGN_VERIFY"}),
    ("aws-route53-record-primary-health-check", RECORD, PRIMARY_RECORD),
    ("aws-route53-record-primary-health-check", RECORD, changed(PRIMARY_RECORD, ("healthCheckId",), UNKNOWN_STR)),
    (
        "aws-route53-record-primary-health-check",
        RECORD,
        changed(
            changed(PRIMARY_RECORD, ("failoverRoutingPolicies",), [{"type": "SECONDARY"}]), ("healthCheckId",), DELETE
        ),
    ),
    ("aws-cloudwatch-alarm-route53-us-east-1", ALARM, ROUTE53_ALARM),
    ("aws-cloudwatch-alarm-route53-us-east-1", ALARM, {"namespace": "AWS/S3", "region": "us-west-2"}),
    ("aws-s3-bucket-objectives-declared", BUCKET, TIER1_BUCKET),
    ("aws-dynamodb-table-objectives-declared", TABLE, table_props()),
]


@pytest.mark.parametrize(("policy", "resource_type", "props"), COMPLIANT)
def test_compliant_fixture_passes(policy: str, resource_type: str, props: dict[str, Any]) -> None:
    assert run_resource(policy, resource_type, props) == []


# policy, resource type, props with exactly one property changed, expected text in the message
FAILING: list[tuple[str, str, dict[str, Any], str]] = [
    (
        "aws-s3-bucket-versioning-enabled",
        VERSIONING,
        changed(versioning_props(), ("versioningConfiguration", "status"), "Suspended"),
        "versioningConfiguration.status",
    ),
    (
        "aws-s3-bucket-versioning-enabled",
        VERSIONING,
        changed(versioning_props(), ("versioningConfiguration",), DELETE),
        "versioningConfiguration.status",
    ),
    (
        "aws-s3-bucket-object-lock-enabled",
        BUCKET,
        changed(TIER1_BUCKET, ("objectLockEnabled",), False),
        "objectLockEnabled",
    ),
    (
        "aws-s3-bucket-object-lock-enabled",
        BUCKET,
        changed(TIER1_BUCKET, ("objectLockEnabled",), DELETE),
        "objectLockEnabled",
    ),
    (
        "aws-s3-bucket-object-lock-retention",
        OBJECT_LOCK,
        changed(object_lock_props(), ("rule", "defaultRetention", "days"), 1),
        "at least 7 days",
    ),
    (
        "aws-s3-bucket-object-lock-retention",
        OBJECT_LOCK,
        changed(object_lock_props(), ("rule", "defaultRetention", "mode"), "NONE"),
        "mode",
    ),
    (
        "aws-s3-bucket-object-lock-retention",
        OBJECT_LOCK,
        changed(object_lock_props(), ("rule",), DELETE),
        "defaultRetention",
    ),
    (
        "aws-s3-bucket-object-lock-retention",
        OBJECT_LOCK,
        changed(object_lock_props(), ("objectLockEnabled",), "Disabled"),
        "objectLockEnabled",
    ),
    (
        "aws-s3-bucket-sse-kms",
        SSE,
        changed(sse_props(), ("rules", 0, "applyServerSideEncryptionByDefault", "sseAlgorithm"), "AES256"),
        "sseAlgorithm",
    ),
    (
        "aws-s3-bucket-sse-kms",
        SSE,
        changed(sse_props(), ("rules", 0, "applyServerSideEncryptionByDefault", "kmsMasterKeyId"), DELETE),
        "customer-managed",
    ),
    ("aws-s3-bucket-sse-kms", SSE, changed(sse_props(), ("rules",), []), "no encryption rule"),
    ("aws-s3-bucket-public-access-block", PAB, changed(pab_props(), ("blockPublicAcls",), False), "blockPublicAcls"),
    (
        "aws-s3-bucket-public-access-block",
        PAB,
        changed(pab_props(), ("blockPublicPolicy",), DELETE),
        "blockPublicPolicy",
    ),
    ("aws-s3-bucket-public-access-block", PAB, changed(pab_props(), ("ignorePublicAcls",), "true"), "ignorePublicAcls"),
    (
        "aws-s3-bucket-public-access-block",
        PAB,
        changed(pab_props(), ("restrictPublicBuckets",), False),
        "restrictPublicBuckets",
    ),
    (
        "aws-s3-bucket-policy-tls-only",
        BUCKET_POLICY,
        {"bucket": "b", "policy": tls_policy("b").replace('"false"', '"true"')},
        "aws:SecureTransport",
    ),
    (
        "aws-s3-bucket-policy-tls-only",
        BUCKET_POLICY,
        {"bucket": "b", "policy": tls_policy("b").replace("Deny", "Allow")},
        "aws:SecureTransport",
    ),
    ("aws-s3-bucket-policy-tls-only", BUCKET_POLICY, {"bucket": "b", "policy": "{not json"}, "not valid JSON"),
    ("aws-s3-bucket-policy-tls-only", BUCKET_POLICY, {"bucket": "b"}, "policy is not set"),
    (
        "aws-dynamodb-table-pitr-enabled",
        TABLE,
        changed(table_props(), ("pointInTimeRecovery", "enabled"), False),
        "pointInTimeRecovery.enabled",
    ),
    (
        "aws-dynamodb-table-pitr-enabled",
        TABLE,
        changed(table_props(), ("pointInTimeRecovery",), DELETE),
        "pointInTimeRecovery.enabled",
    ),
    (
        "aws-dynamodb-table-pitr-enabled",
        TABLE,
        changed(table_props(), ("pointInTimeRecovery", "recoveryPeriodInDays"), 7),
        "recoveryPeriodInDays",
    ),
    (
        "aws-dynamodb-table-pitr-enabled",
        TABLE,
        changed(table_props(), ("replicas", 0, "pointInTimeRecovery"), False),
        "replicas[0].pointInTimeRecovery",
    ),
    (
        "aws-dynamodb-table-pitr-enabled",
        TABLE,
        changed(table_props(), ("replicas", 0, "pointInTimeRecovery"), DELETE),
        "replicas[0].pointInTimeRecovery",
    ),
    (
        "aws-dynamodb-table-pitr-enabled",
        TABLE_REPLICA,
        changed(table_replica_props(), ("pointInTimeRecovery",), False),
        "pointInTimeRecovery",
    ),
    (
        "aws-dynamodb-table-deletion-protection",
        TABLE,
        changed(table_props(), ("deletionProtectionEnabled",), False),
        "deletionProtectionEnabled",
    ),
    (
        "aws-dynamodb-table-deletion-protection",
        TABLE,
        changed(table_props(), ("replicas", 0, "deletionProtectionEnabled"), DELETE),
        "replicas[0].deletionProtectionEnabled",
    ),
    (
        "aws-dynamodb-table-deletion-protection",
        TABLE_REPLICA,
        changed(table_replica_props(), ("deletionProtectionEnabled",), DELETE),
        "deletionProtectionEnabled",
    ),
    (
        "aws-dynamodb-globaltable-not-legacy",
        GLOBAL_TABLE,
        {"name": "orders", "replicas": [{"regionName": "us-east-1"}]},
        "aws.dynamodb.GlobalTable",
    ),
    ("aws-kms-key-rotation-enabled", KMS_KEY, {"enableKeyRotation": False}, "enableKeyRotation"),
    ("aws-kms-key-rotation-enabled", KMS_KEY, {"customerMasterKeySpec": "SYMMETRIC_DEFAULT"}, "enableKeyRotation"),
    (
        "aws-route53-record-primary-health-check",
        RECORD,
        changed(PRIMARY_RECORD, ("healthCheckId",), DELETE),
        "healthCheckId",
    ),
    (
        "aws-route53-record-primary-health-check",
        RECORD,
        changed(PRIMARY_RECORD, ("healthCheckId",), ""),
        "healthCheckId",
    ),
    ("aws-cloudwatch-alarm-route53-us-east-1", ALARM, changed(ROUTE53_ALARM, ("region",), "us-west-2"), "us-west-2"),
    ("aws-s3-bucket-objectives-declared", BUCKET, changed(TIER1_BUCKET, ("tags", "dr:tier"), "4"), "dr:tier"),
    (
        "aws-s3-bucket-objectives-declared",
        BUCKET,
        changed(TIER1_BUCKET, ("tags", "dr:rpo-logical-minutes"), DELETE),
        "dr:rpo-logical-minutes",
    ),
    (
        "aws-s3-bucket-objectives-declared",
        BUCKET,
        changed(TIER1_BUCKET, ("tags", "dr:rto-regional-minutes"), "an hour"),
        "dr:rto-regional-minutes",
    ),
    (
        "aws-dynamodb-table-objectives-declared",
        TABLE,
        changed(table_props(), ("tags", "dr:rto-logical-minutes"), DELETE),
        "dr:rto-logical-minutes",
    ),
    ("aws-dynamodb-table-objectives-declared", TABLE, changed(table_props(), ("tags",), DELETE), "dr:tier"),
]


@pytest.mark.parametrize(("policy", "resource_type", "props", "expected"), FAILING)
def test_one_changed_property_fails(policy: str, resource_type: str, props: dict[str, Any], expected: str) -> None:
    found = run_resource(policy, resource_type, props)
    assert found, f"{policy} passed a non-compliant {resource_type}"
    assert any(expected in message for message in found), found
    assert not any(message.startswith("cannot verify") for message in found), found


def test_alarm_region_comes_from_the_provider_when_the_alarm_sets_none() -> None:
    props = changed(ROUTE53_ALARM, ("region",), DELETE)
    assert run_resource("aws-cloudwatch-alarm-route53-us-east-1", ALARM, props, region="us-east-1") == []
    found = run_resource("aws-cloudwatch-alarm-route53-us-east-1", ALARM, props, region="eu-west-1")
    assert any("eu-west-1" in message for message in found)


def test_tier_scoping_skips_object_lock_on_tier_3_but_not_on_untagged_buckets() -> None:
    tier3 = changed(changed(TIER1_BUCKET, ("tags", "dr:tier"), "3"), ("objectLockEnabled",), False)
    assert run_resource("aws-s3-bucket-object-lock-enabled", BUCKET, tier3) == []
    untagged = changed(changed(TIER1_BUCKET, ("tags",), DELETE), ("objectLockEnabled",), False)
    assert run_resource("aws-s3-bucket-object-lock-enabled", BUCKET, untagged)


def test_resource_policies_ignore_other_types() -> None:
    assert run_resource("aws-kms-key-rotation-enabled", BUCKET, {"enableKeyRotation": False}) == []
