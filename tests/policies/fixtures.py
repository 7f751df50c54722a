"""Compliant fixtures: one realistic DR estate and one compliant resource per type.

Each failing test changes exactly one property of these.
"""

from __future__ import annotations

import json
from typing import Any

from tests.policies.support import (
    ALARM,
    ATTACHMENT,
    BUCKET,
    BUCKET_POLICY,
    HEALTH_CHECK,
    IAM_POLICY,
    KMS_KEY,
    LIFECYCLE,
    OBJECT_LOCK,
    PAB,
    RECORD,
    REPLICATION,
    ROLE,
    ROLE_POLICY,
    SSE,
    TABLE,
    TABLE_REPLICA,
    UNKNOWN_STR,
    VERSIONING,
    Stack,
)

PRIMARY, RECOVERY = "us-east-1", "us-west-2"


def objective_tags(
    tier: str, rpo_logical: str, rto_logical: str, rpo_regional: str, rto_regional: str
) -> dict[str, str]:
    return {
        "dr:tier": tier,
        "dr:rpo-logical-minutes": rpo_logical,
        "dr:rto-logical-minutes": rto_logical,
        "dr:rpo-regional-minutes": rpo_regional,
        "dr:rto-regional-minutes": rto_regional,
        "dr:component": "audio",
    }


TIER1_TAGS = objective_tags("1", "0", "60", "15", "60")
TIER2_TAGS = objective_tags("2", "0", "240", "none", "none")
TIER3_TAGS = objective_tags("3", "none", "none", "none", "none")


def tls_policy(bucket: str = UNKNOWN_STR) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


def versioning_props(mfa: str | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {"status": "Enabled"}
    if mfa is not None:
        config["mfaDelete"] = mfa
    return {"bucket": UNKNOWN_STR, "versioningConfiguration": config}


def object_lock_props(mode: str = "COMPLIANCE", days: float = 30) -> dict[str, Any]:
    return {
        "bucket": UNKNOWN_STR,
        "objectLockEnabled": "Enabled",
        "rule": {"defaultRetention": {"mode": mode, "days": days}},
    }


def sse_props() -> dict[str, Any]:
    return {
        "bucket": UNKNOWN_STR,
        "rules": [
            {
                "applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": UNKNOWN_STR},
                "bucketKeyEnabled": True,
            }
        ],
    }


def pab_props() -> dict[str, Any]:
    return {
        "bucket": UNKNOWN_STR,
        "blockPublicAcls": True,
        "blockPublicPolicy": True,
        "ignorePublicAcls": True,
        "restrictPublicBuckets": True,
    }


def replication_props() -> dict[str, Any]:
    return {
        "bucket": UNKNOWN_STR,
        "role": UNKNOWN_STR,
        "rules": [
            {
                "id": "all-objects",
                "status": "Enabled",
                "filter": {},
                "deleteMarkerReplication": {"status": "Enabled"},
                "sourceSelectionCriteria": {"sseKmsEncryptedObjects": {"status": "Enabled"}},
                "destination": {
                    "bucket": UNKNOWN_STR,
                    "storageClass": "STANDARD",
                    "replicationTime": {"status": "Enabled", "time": {"minutes": 15}},
                    "metrics": {"status": "Enabled", "eventThreshold": {"minutes": 15}},
                    "encryptionConfiguration": {"replicaKmsKeyId": UNKNOWN_STR},
                },
            }
        ],
    }


def table_props() -> dict[str, Any]:
    return {
        "name": "orders",
        "billingMode": "PAY_PER_REQUEST",
        "hashKey": "pk",
        "attributes": [{"name": "pk", "type": "S"}],
        "pointInTimeRecovery": {"enabled": True, "recoveryPeriodInDays": 35},
        "deletionProtectionEnabled": True,
        "streamEnabled": True,
        "replicas": [{"regionName": RECOVERY, "pointInTimeRecovery": True, "deletionProtectionEnabled": True}],
        "tags": {**objective_tags("1", "5", "60", "5", "15"), "dr:backup-plan": "acme-tables-60m"},
    }


def table_replica_props() -> dict[str, Any]:
    return {
        "globalTableArn": UNKNOWN_STR,
        "pointInTimeRecovery": True,
        "deletionProtectionEnabled": True,
        "region": RECOVERY,
    }


def role_policy_document(*actions: str) -> str:
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}]}
    )


REPLICATION_ACTIONS = (
    "s3:GetReplicationConfiguration",
    "s3:ListBucket",
    "s3:GetObjectVersionForReplication",
    "s3:GetObjectVersionAcl",
    "s3:GetObjectVersionTagging",
    "s3:GetObjectRetention",
    "s3:GetObjectLegalHold",
    "s3:ReplicateObject",
    "s3:ReplicateDelete",
    "s3:ReplicateTags",
    "kms:Decrypt",
    "kms:Encrypt",
)
RUNTIME_ACTIONS = (
    "s3:ListBucketVersions",
    "s3:GetObjectVersion",
    "s3:PutObject",
    "s3:DeleteObjectVersion",
    "dynamodb:RestoreTableToPointInTime",
)


def add_bucket_children(
    stack: Stack, bucket: str, region: str, *, lock_mode: str | None, kms: bool = True, versioned: bool = True
) -> None:
    link = {"bucket": [bucket]}
    if versioned:
        stack.add(VERSIONING, f"{bucket}-versioning", versioning_props(), region=region, links=link)
    if lock_mode is not None:
        stack.add(OBJECT_LOCK, f"{bucket}-lock", object_lock_props(lock_mode), region=region, links=link)
    if kms:
        stack.add(KMS_KEY, f"{bucket}-key", {"enableKeyRotation": True, "description": bucket}, region=region)
        stack.add(SSE, f"{bucket}-sse", sse_props(), region=region, links={**link, "rules": [f"{bucket}-key"]})
    stack.add(PAB, f"{bucket}-pab", pab_props(), region=region, links=link)
    stack.add(
        BUCKET_POLICY, f"{bucket}-tls", {"bucket": UNKNOWN_STR, "policy": tls_policy()}, region=region, links=link
    )


BACKUP_PLAN = "aws:backup/plan:Plan"
BACKUP_SELECTION = "aws:backup/selection:Selection"
BACKUP_VAULT = "aws:backup/vault:Vault"
AIR_GAPPED_VAULT = "aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault"
VAULT_LOCK = "aws:backup/vaultLockConfiguration:VaultLockConfiguration"
OWN_ACCOUNT = "111122223333"
VAULT_ACCOUNT = "444455556666"


def vault_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:backup:{region}:{account}:backup-vault:{name}"


def add_isolated_backups(stack: Stack) -> None:
    """AWS Backup as the components build it: the table plan copies to the recovery vault and to the other
    account's vault; the replica's S3 plan copies its daily snapshot to the air-gapped vault."""
    stack.add(BACKUP_VAULT, "vault-primary", {"name": "acme-dr-primary", "tags": {}}, region=PRIMARY)
    stack.add(BACKUP_VAULT, "vault-recovery", {"name": "acme-dr-recovery", "tags": {}}, region=RECOVERY)
    stack.add(
        AIR_GAPPED_VAULT,
        "vault-air-gapped",
        {
            "name": "acme-isolated",
            "minRetentionDays": 7,
            "maxRetentionDays": 400,
            "tags": {"dr:isolated": "air-gapped"},
        },
        region=RECOVERY,
    )
    copy_lifecycle = {"deleteAfter": 120}
    stack.add(
        BACKUP_PLAN,
        "tables-plan",
        {
            "name": "acme-tables-60m",
            "rules": [
                {
                    "ruleName": "hourly",
                    "targetVaultName": "acme-dr-primary",
                    "copyActions": [
                        {
                            "destinationVaultArn": vault_arn(RECOVERY, OWN_ACCOUNT, "acme-dr-recovery"),
                            "lifecycle": copy_lifecycle,
                        },
                        {
                            "destinationVaultArn": vault_arn(RECOVERY, VAULT_ACCOUNT, "acme-isolated"),
                            "lifecycle": copy_lifecycle,
                        },
                    ],
                }
            ],
        },
        region=PRIMARY,
    )
    stack.add(
        BACKUP_PLAN,
        "buckets-plan",
        {
            "name": "acme-buckets",
            "rules": [
                {"ruleName": "continuous", "targetVaultName": "acme-dr-recovery", "enableContinuousBackup": True},
                {
                    "ruleName": "daily-snapshot",
                    "targetVaultName": "acme-dr-recovery",
                    "copyActions": [{"destinationVaultArn": vault_arn(RECOVERY, OWN_ACCOUNT, "acme-isolated")}],
                },
            ],
        },
        region=RECOVERY,
    )
    stack.add(
        BACKUP_SELECTION,
        "buckets-selection",
        {"planId": UNKNOWN_STR, "resources": ["arn:aws:s3:::acme-audio-replica"]},
        region=RECOVERY,
        links={"planId": ["buckets-plan"]},
    )


INVENTORY = "aws:s3/inventory:Inventory"


def inventory_props() -> dict[str, Any]:
    """A daily Parquet inventory of every version (components/inventory.py::bucket_inventory)."""
    return {
        "bucket": UNKNOWN_STR,
        "name": "dr-versions",
        "includedObjectVersions": "All",
        "schedule": {"frequency": "Daily"},
        "destination": {"bucket": {"bucketArn": "arn:aws:s3:::acme-reports", "format": "Parquet"}},
        "enabled": True,
    }


def add_inventory(stack: Stack, bucket: str, region: str) -> None:
    stack.add(INVENTORY, f"{bucket}-inventory", inventory_props(), region=region, links={"bucket": [bucket]})


def compliant_stack() -> Stack:
    """A prod-like estate: tier-1 audio (primary + replica), tier-2 reporting, tier-3 backup, a global
    table, a failover site and the DR IAM roles. Every policy passes on it with default config."""
    stack = Stack()
    # tier 1: primary (MFA delete attested, no lifecycle) replicating to the replica (lifecycle here)
    stack.add(
        BUCKET,
        "audio-primary",
        {
            "bucket": "acme-audio",
            "objectLockEnabled": True,
            "tags": {**TIER1_TAGS, "dr:mfa-delete-attested": "2026-01-15"},
        },
        region=PRIMARY,
    )
    add_bucket_children(stack, "audio-primary", PRIMARY, lock_mode="COMPLIANCE")
    add_inventory(stack, "audio-primary", PRIMARY)
    stack.add(
        BUCKET,
        "audio-replica",
        {"bucket": "acme-audio-replica", "objectLockEnabled": True, "tags": dict(TIER1_TAGS)},
        region=RECOVERY,
    )
    add_bucket_children(stack, "audio-replica", RECOVERY, lock_mode="COMPLIANCE")
    add_inventory(stack, "audio-replica", RECOVERY)
    stack.add(
        LIFECYCLE,
        "audio-replica-lifecycle",
        {"bucket": UNKNOWN_STR, "rules": [{"id": "noncurrent", "status": "Enabled"}]},
        region=RECOVERY,
        links={"bucket": ["audio-replica"]},
    )
    stack.add(
        ROLE, "audio-replication-role", {"assumeRolePolicy": "{}", "tags": {"dr:role": "replication"}}, region=None
    )
    stack.add(
        ROLE_POLICY,
        "audio-replication-policy",
        {"role": UNKNOWN_STR, "policy": role_policy_document(*REPLICATION_ACTIONS)},
        region=None,
        links={"role": ["audio-replication-role"]},
    )
    stack.add(
        REPLICATION,
        "audio-replication",
        replication_props(),
        region=PRIMARY,
        links={
            "bucket": ["audio-primary"],
            "role": ["audio-replication-role"],
            "rules": ["audio-replica", "audio-replica-key"],
        },
    )
    # tier 2: versioning + GOVERNANCE lock + lifecycle, no replication
    stack.add(
        BUCKET, "reporting", {"bucket": "acme-reporting", "objectLockEnabled": True, "tags": TIER2_TAGS}, region=PRIMARY
    )
    add_bucket_children(stack, "reporting", PRIMARY, lock_mode="GOVERNANCE")
    stack.add(
        LIFECYCLE,
        "reporting-lifecycle",
        {"bucket": UNKNOWN_STR, "rules": [{"id": "ia", "status": "Enabled"}]},
        links={"bucket": ["reporting"]},
    )
    # tier 3: versioned (every bucket is), no lock
    stack.add(BUCKET, "backup", {"bucket": "acme-backup", "tags": TIER3_TAGS}, region=PRIMARY)
    add_bucket_children(stack, "backup", PRIMARY, lock_mode=None, versioned=True)
    stack.add(
        LIFECYCLE,
        "backup-lifecycle",
        {"bucket": UNKNOWN_STR, "rules": [{"id": "expire", "status": "Enabled"}]},
        links={"bucket": ["backup"]},
    )
    # DynamoDB global table with an inline replica and a TableReplica
    stack.add(TABLE, "orders", table_props(), region=PRIMARY)
    stack.add(
        TABLE_REPLICA,
        "orders-eu",
        {**table_replica_props(), "region": "eu-west-1"},
        region=PRIMARY,
        links={"globalTableArn": ["orders"]},
    )
    add_isolated_backups(stack)
    # failover site
    stack.add(
        HEALTH_CHECK,
        "site-health",
        {"type": "CLOUDWATCH_METRIC", "cloudwatchAlarmName": "site-down", "cloudwatchAlarmRegion": RECOVERY},
        region=None,
    )
    record = {"zoneId": "Z123", "name": "app.example.com", "type": "A", "ttl": 60}
    stack.add(
        RECORD,
        "site-primary",
        {
            **record,
            "setIdentifier": "primary",
            "failoverRoutingPolicies": [{"type": "PRIMARY"}],
            "healthCheckId": UNKNOWN_STR,
        },
        region=None,
        links={"healthCheckId": ["site-health"]},
    )
    stack.add(
        RECORD,
        "site-secondary",
        {**record, "setIdentifier": "secondary", "failoverRoutingPolicies": [{"type": "SECONDARY"}]},
        region=None,
    )
    stack.add(
        ALARM,
        "site-health-alarm",
        {
            "namespace": "AWS/Route53",
            "metricName": "HealthCheckStatus",
            "comparisonOperator": "LessThanThreshold",
            "threshold": 1,
        },
        region=PRIMARY,
    )
    # recovery runtime role: managed policy + attachment
    stack.add(ROLE, "drctl-runtime", {"assumeRolePolicy": "{}", "tags": {"dr:role": "runtime"}}, region=None)
    stack.add(IAM_POLICY, "drctl-runtime-policy", {"policy": role_policy_document(*RUNTIME_ACTIONS)}, region=None)
    stack.add(
        ATTACHMENT,
        "drctl-runtime-attach",
        {"role": UNKNOWN_STR, "policyArn": UNKNOWN_STR},
        region=None,
        links={"role": ["drctl-runtime"], "policyArn": ["drctl-runtime-policy"]},
    )
    stack.add(
        ATTACHMENT,
        "drctl-runtime-logs",
        {"role": UNKNOWN_STR, "policyArn": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"},
        region=None,
        links={"role": ["drctl-runtime"]},
    )
    return stack
