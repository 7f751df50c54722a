"""Resource type tokens: pulumi-aws v7 names plus the deprecated ``…V2`` classes that still register."""

from __future__ import annotations

from typing import Final

BUCKET: Final = frozenset({"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"})
BUCKET_VERSIONING: Final = frozenset(
    {"aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2"}
)
OBJECT_LOCK_CONFIGURATION: Final = frozenset(
    {
        "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
        "aws:s3/bucketObjectLockConfigurationV2:BucketObjectLockConfigurationV2",
    }
)
LIFECYCLE_CONFIGURATION: Final = frozenset(
    {
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
    }
)
ENCRYPTION_CONFIGURATION: Final = frozenset(
    {
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
    }
)
# pulumi-aws never shipped V2 variants of these three.
REPLICATION_CONFIGURATION: Final = frozenset({"aws:s3/bucketReplicationConfig:BucketReplicationConfig"})
PUBLIC_ACCESS_BLOCK: Final = frozenset({"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"})
BUCKET_POLICY: Final = frozenset({"aws:s3/bucketPolicy:BucketPolicy"})
INVENTORY: Final = frozenset({"aws:s3/inventory:Inventory"})

TABLE: Final = frozenset({"aws:dynamodb/table:Table"})
TABLE_REPLICA: Final = frozenset({"aws:dynamodb/tableReplica:TableReplica"})
LEGACY_GLOBAL_TABLE: Final = frozenset({"aws:dynamodb/globalTable:GlobalTable"})

KMS_KEY: Final = frozenset({"aws:kms/key:Key"})

ROUTE53_RECORD: Final = frozenset({"aws:route53/record:Record"})
ROUTE53_HEALTH_CHECK: Final = frozenset({"aws:route53/healthCheck:HealthCheck"})
METRIC_ALARM: Final = frozenset({"aws:cloudwatch/metricAlarm:MetricAlarm"})

IAM_ROLE: Final = frozenset({"aws:iam/role:Role"})
IAM_ROLE_POLICY: Final = frozenset({"aws:iam/rolePolicy:RolePolicy"})
IAM_POLICY: Final = frozenset({"aws:iam/policy:Policy"})
IAM_ROLE_POLICY_ATTACHMENT: Final = frozenset({"aws:iam/rolePolicyAttachment:RolePolicyAttachment"})

BUCKET_CHILDREN: Final = {
    "versioning": BUCKET_VERSIONING,
    "object_lock": OBJECT_LOCK_CONFIGURATION,
    "lifecycle": LIFECYCLE_CONFIGURATION,
    "encryption": ENCRYPTION_CONFIGURATION,
    "replication": REPLICATION_CONFIGURATION,
    "public_access_block": PUBLIC_ACCESS_BLOCK,
    "policy": BUCKET_POLICY,
    "inventory": INVENTORY,
}
"""Child kind -> tokens of the S3 resources that attach to a bucket through their ``bucket`` input."""

RDS_INSTANCE: Final = frozenset({"aws:rds/instance:Instance"})
RDS_CLUSTER: Final = frozenset({"aws:rds/cluster:Cluster"})
DOCDB_CLUSTER: Final = frozenset({"aws:docdb/cluster:Cluster"})
NEPTUNE_CLUSTER: Final = frozenset({"aws:neptune/cluster:Cluster"})

BACKUP_PLAN: Final = frozenset({"aws:backup/plan:Plan"})
BACKUP_SELECTION: Final = frozenset({"aws:backup/selection:Selection"})
BACKUP_VAULT: Final = frozenset({"aws:backup/vault:Vault"})
BACKUP_AIR_GAPPED_VAULT: Final = frozenset({"aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault"})
BACKUP_VAULT_LOCK: Final = frozenset({"aws:backup/vaultLockConfiguration:VaultLockConfiguration"})
