"""The registry: every policy of the pack, its metadata and its configuration, in one place."""

from __future__ import annotations

from typing import Final

from pulumi_policy import Policy, Severity

from . import backup, databases, dynamodb, failover, iam, kms, objectives, s3, types
from .config import EXCEPTIONS_SCHEMA, tiers_schema
from .framework import Control, PolicySpec
from .tiers import tier_minimum_schema

PACK_NAME: Final = "dr-guardrails"

ALL_TIERS = ["1", "2", "3"]
LOCK_MODES = ["COMPLIANCE", "GOVERNANCE"]


def _security_hub(control: str) -> Control:
    return Control("Security Hub", control)


def _aws_config(rule: str) -> Control:
    return Control("Config", rule)


# The tiers' object-lock floors (stackmodel/tiers.py TIERS default_lock_days; tests/policies/test_config.py proves
# them equal). Tier 3 has no object lock; a lock it declares anyway is held to the lowest minimum.
_LOCK_MINIMUMS = tier_minimum_schema(
    {"1": 30, "2": 7}, "default object-lock retention, in days (years count as 365 days),"
)
_ALLOWED_MODES = {
    "type": "array",
    "items": {"type": "string", "enum": LOCK_MODES},
    "default": LOCK_MODES,
    "description": "Object-lock retention modes allowed as the bucket default.",
}
_MFA_TIERS = tiers_schema(["1"], "need MFA delete (replication destinations are exempt: they carry the lifecycle)")

CATALOG: tuple[PolicySpec, ...] = (
    # --- S3: versioning -------------------------------------------------------------------------
    PolicySpec(
        name="aws-s3-bucket-versioning-enabled",
        description="Checks that every S3 BucketVersioning resource sets versioningConfiguration.status to Enabled.",
        severity=Severity.HIGH,
        controls=(_security_hub("S3.14"), _aws_config("s3-bucket-versioning-enabled")),
        remediation_steps='Set versioning_configuration={"status": "Enabled"} on the aws.s3.BucketVersioning resource.',
        resource_types=types.BUCKET_VERSIONING | types.BUCKET,
        check=s3.resource_check(s3.versioning_problems, "versioning"),
    ),
    PolicySpec(
        name="aws-s3-bucket-versioning-attached",
        description=(
            "Checks that every S3 bucket of the configured tiers has a BucketVersioning resource with status Enabled."
        ),
        severity=Severity.HIGH,
        controls=(_security_hub("S3.14"), _aws_config("s3-bucket-versioning-enabled")),
        remediation_steps="Declare aws.s3.BucketVersioning(bucket=<bucket>.id, status Enabled) for the bucket.",
        config={"tiers": tiers_schema(ALL_TIERS, "must be versioned")},
        check=s3.require_child("versioning", s3.versioning_problems, "versioning Enabled"),
    ),
    PolicySpec(
        name="aws-s3-bucket-inventory-versioned",
        description=(
            "Checks that every S3 bucket of the configured tiers has a daily Parquet S3 Inventory of all object "
            "versions (IncludedObjectVersions All), from which restores of any size are planned."
        ),
        severity=Severity.MEDIUM,
        controls=(),  # no Security Hub control or Config managed rule covers S3 Inventory
        remediation_steps=(
            'Declare aws.s3.Inventory(bucket=<bucket>.id, included_object_versions="All", '
            'schedule={"frequency": "Daily"}, destination={"bucket": {"format": "Parquet", ...}}) delivering to a '
            "bucket in the same Region (components/inventory.py::bucket_inventory)."
        ),
        config={"tiers": tiers_schema(["1"], "need a versioned inventory (restore planning at scale)")},
        check=s3.require_child("inventory", s3.inventory_problems, "a daily Parquet inventory of every version"),
    ),
    # --- S3: MFA delete -------------------------------------------------------------------------
    PolicySpec(
        name="aws-s3-bucket-mfa-delete-enabled",
        description=(
            "Checks that primary buckets of the configured tiers declare MFA delete or carry the root attestation tag."
        ),
        severity=Severity.HIGH,
        controls=(_security_hub("S3.20"),),
        remediation_steps=s3.MFA_REMEDIATION,
        config={"tiers": _MFA_TIERS, "exceptions": EXCEPTIONS_SCHEMA},
        check=s3.check_mfa_delete,
    ),
    PolicySpec(
        name="aws-s3-bucket-mfa-delete-without-lifecycle",
        description=(
            "Checks that no bucket combines MFA delete (declared, attested or required by its tier) with a lifecycle "
            "configuration."
        ),
        severity=Severity.HIGH,
        controls=(),
        remediation_steps=(
            "Keep MFA delete on the primary bucket and move its lifecycle rules to the replica; AWS rejects "
            "lifecycle configuration on MFA-delete buckets."
        ),
        config={"tiers": _MFA_TIERS, "exceptions": EXCEPTIONS_SCHEMA},
        check=s3.check_mfa_delete_without_lifecycle,
    ),
    # --- S3: object lock ------------------------------------------------------------------------
    PolicySpec(
        name="aws-s3-bucket-object-lock-enabled",
        description="Checks that S3 buckets of the configured tiers are created with objectLockEnabled true.",
        severity=Severity.HIGH,
        controls=(_security_hub("S3.15"), _aws_config("s3-bucket-default-lock-enabled")),
        remediation_steps=(
            "Create the bucket with object_lock_enabled=True (it cannot be turned on later without AWS support)."
        ),
        resource_types=types.BUCKET,
        config={"tiers": tiers_schema(["1", "2"], "need object lock")},
        check=s3.check_bucket_object_lock_enabled,
    ),
    PolicySpec(
        name="aws-s3-bucket-object-lock-retention",
        description=(
            "Checks that every object-lock configuration sets a default retention of at least N days in an allowed "
            "mode."
        ),
        severity=Severity.HIGH,
        controls=(_security_hub("S3.15"), _aws_config("s3-bucket-default-lock-enabled")),
        remediation_steps=(
            "Set rule.default_retention with mode COMPLIANCE or GOVERNANCE and days at least the bucket tier's "
            "minimum (tier1MinDays/tier2MinDays; a configuration alone is held to the lowest)."
        ),
        resource_types=types.OBJECT_LOCK_CONFIGURATION | types.BUCKET,
        config={**_LOCK_MINIMUMS, "allowedModes": _ALLOWED_MODES},
        check=s3.check_object_lock_retention,
    ),
    PolicySpec(
        name="aws-s3-bucket-object-lock-attached",
        description=(
            "Checks that every S3 bucket of the configured tiers has an object-lock configuration with a compliant "
            "default retention."
        ),
        severity=Severity.HIGH,
        controls=(_security_hub("S3.15"), _aws_config("s3-bucket-default-lock-enabled")),
        remediation_steps="Declare aws.s3.BucketObjectLockConfiguration for the bucket with a default retention.",
        config={
            "tiers": tiers_schema(["1", "2"], "need object lock"),
            **_LOCK_MINIMUMS,
            "allowedModes": _ALLOWED_MODES,
        },
        check=s3.require_child(
            "object_lock",
            s3.object_lock_retention_problems,
            "an object-lock default retention",
            s3.lock_minimum_config,
        ),
    ),
    # --- S3: replication ------------------------------------------------------------------------
    PolicySpec(
        name="aws-s3-bucket-replication-cross-region",
        description=(
            "Checks that primary buckets of the configured tiers replicate to another region with RTC, metrics, delete "
            "markers and the replica KMS key."
        ),
        severity=Severity.HIGH,
        controls=(_security_hub("S3.7"), _aws_config("s3-bucket-cross-region-replication-enabled")),
        remediation_steps=(
            "Declare aws.s3.BucketReplicationConfig to a versioned bucket in the recovery region: rule status Enabled, "
            "destination.replication_time and destination.metrics Enabled, delete_marker_replication Enabled and, "
            "for SSE-KMS sources, destination.encryption_configuration.replica_kms_key_id plus "
            "source_selection_criteria.sse_kms_encrypted_objects Enabled."
        ),
        config={"tiers": tiers_schema(["1"], "must replicate across regions")},
        check=s3.check_tier_replication,
    ),
    # --- S3: encryption and exposure ------------------------------------------------------------
    PolicySpec(
        name="aws-s3-bucket-sse-kms",
        description="Checks that every S3 server-side encryption configuration uses SSE-KMS.",
        severity=Severity.MEDIUM,
        controls=(_security_hub("S3.17"),),
        remediation_steps=(
            'Set apply_server_side_encryption_by_default={"sse_algorithm": "aws:kms", "kms_master_key_id": <key arn>}.'
        ),
        resource_types=types.ENCRYPTION_CONFIGURATION | types.BUCKET,
        config={
            "requireCustomerManagedKey": {
                "type": "boolean",
                "default": True,
                "description": "Require kmsMasterKeyId (a customer-managed key), not the AWS managed aws/s3 key.",
            }
        },
        check=s3.resource_check(s3.encryption_problems, "encryption"),
    ),
    PolicySpec(
        name="aws-s3-bucket-sse-kms-attached",
        description="Checks that every S3 bucket of the configured tiers has an SSE-KMS encryption configuration.",
        severity=Severity.MEDIUM,
        controls=(_security_hub("S3.17"),),
        remediation_steps="Declare aws.s3.BucketServerSideEncryptionConfiguration for the bucket with SSE-KMS.",
        config={
            "tiers": tiers_schema(ALL_TIERS, "must use SSE-KMS"),
            "requireCustomerManagedKey": {"type": "boolean", "default": True},
        },
        check=s3.require_child("encryption", s3.encryption_problems, "SSE-KMS default encryption"),
    ),
    PolicySpec(
        name="aws-s3-bucket-public-access-block",
        description="Checks that every S3 public access block sets all four flags to true.",
        severity=Severity.CRITICAL,
        controls=(_security_hub("S3.8"), _aws_config("s3-bucket-level-public-access-prohibited")),
        remediation_steps=(
            "Set block_public_acls, block_public_policy, ignore_public_acls and restrict_public_buckets to True."
        ),
        resource_types=types.PUBLIC_ACCESS_BLOCK,
        # Mandatory, never remediated: all four flags are documented "Defaults to `false`", so after the
        # provider's Check an explicit False (a deliberately public bucket) looks exactly like an absent flag.
        check=s3.resource_check(s3.public_access_block_problems),
    ),
    PolicySpec(
        name="aws-s3-bucket-public-access-block-attached",
        description=(
            "Checks that every S3 bucket of the configured tiers has a public access block with all four flags."
        ),
        severity=Severity.CRITICAL,
        controls=(_security_hub("S3.8"), _aws_config("s3-bucket-level-public-access-prohibited")),
        remediation_steps="Declare aws.s3.BucketPublicAccessBlock for the bucket with all four flags True.",
        config={"tiers": tiers_schema(ALL_TIERS, "must block public access")},
        check=s3.require_child("public_access_block", s3.public_access_block_problems, "a public access block"),
    ),
    PolicySpec(
        name="aws-s3-bucket-policy-tls-only",
        description="Checks that every S3 bucket policy denies requests made without TLS.",
        severity=Severity.MEDIUM,
        controls=(_security_hub("S3.5"), _aws_config("s3-bucket-ssl-requests-only")),
        remediation_steps=(
            'Add a statement {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": [<bucket arn>, '
            '<bucket arn>/*], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}.'
        ),
        resource_types=types.BUCKET_POLICY | types.BUCKET,
        check=s3.resource_check(s3.tls_policy_problems, "policy"),
    ),
    PolicySpec(
        name="aws-s3-bucket-policy-tls-only-attached",
        description=(
            "Checks that every S3 bucket of the configured tiers has a bucket policy that denies requests made without "
            "TLS."
        ),
        severity=Severity.MEDIUM,
        controls=(_security_hub("S3.5"), _aws_config("s3-bucket-ssl-requests-only")),
        remediation_steps="Declare aws.s3.BucketPolicy for the bucket with the aws:SecureTransport deny statement.",
        config={"tiers": tiers_schema(ALL_TIERS, "must deny non-TLS requests")},
        check=s3.require_child("policy", s3.tls_policy_problems, "a TLS-only bucket policy"),
    ),
    # --- DynamoDB ---------------------------------------------------------------------------------
    PolicySpec(
        name="aws-dynamodb-table-pitr-enabled",
        description=(
            "Checks that PITR is on for every DynamoDB table, inline replica and TableReplica, with a long enough "
            "recovery period."
        ),
        severity=Severity.HIGH,
        controls=(_security_hub("DynamoDB.2"), _aws_config("dynamodb-pitr-enabled")),
        remediation_steps=(
            'Set point_in_time_recovery={"enabled": True, "recovery_period_in_days": N} on the table, N at least its '
            "tier's minimum (remediated at deploy at the `remediate` level, only when the pack runs there), and "
            "point_in_time_recovery=True on "
            "each replica and TableReplica (never remediated: the provider defaults them to false)."
        ),
        resource_types=types.TABLE | types.TABLE_REPLICA,
        config=dynamodb.PITR_SCHEMA,
        check=dynamodb.pitr_problems,
        fix=dynamodb.fix_pitr,
    ),
    PolicySpec(
        name="aws-dynamodb-table-deletion-protection",
        description="Checks that deletion protection is on for every DynamoDB table, inline replica and TableReplica.",
        severity=Severity.HIGH,
        controls=(_security_hub("DynamoDB.6"), _aws_config("dynamodb-table-deletion-protection-enabled")),
        remediation_steps="Set deletion_protection_enabled=True on the table, each replica and each TableReplica.",
        resource_types=types.TABLE | types.TABLE_REPLICA,
        # Mandatory, never remediated: deletion_protection_enabled is documented "Defaults to `false`".
        check=dynamodb.deletion_protection_problems,
    ),
    PolicySpec(
        name="aws-dynamodb-globaltable-not-legacy",
        description="Checks that no legacy (2017) aws.dynamodb.GlobalTable is declared.",
        severity=Severity.MEDIUM,
        controls=(),
        remediation_steps="Replace aws.dynamodb.GlobalTable with aws.dynamodb.Table(replicas=[...]).",
        resource_types=types.LEGACY_GLOBAL_TABLE,
        check=dynamodb.check_no_legacy_global_table,
    ),
    # --- KMS --------------------------------------------------------------------------------------
    PolicySpec(
        name="aws-kms-key-rotation-enabled",
        description="Checks that every symmetric KMS key has automatic rotation enabled.",
        severity=Severity.MEDIUM,
        controls=(_security_hub("KMS.4"), _aws_config("cmk-backing-key-rotation-enabled")),
        remediation_steps="Set enable_key_rotation=True on the aws.kms.Key.",
        resource_types=types.KMS_KEY,
        check=kms.check_key_rotation,
    ),
    # --- Route 53 failover ------------------------------------------------------------------------
    PolicySpec(
        name="aws-route53-record-primary-health-check",
        description="Checks that every PRIMARY failover record has a health check.",
        severity=Severity.HIGH,
        controls=(),
        remediation_steps=(
            "Set health_check_id on the PRIMARY record to a Route 53 health check (e.g. on a recovery-region alarm)."
        ),
        resource_types=types.ROUTE53_RECORD,
        check=failover.check_primary_health_check,
    ),
    PolicySpec(
        name="aws-route53-record-secondary-exists",
        description=(
            "Checks that every PRIMARY failover record has a SECONDARY record with the same zone, name and type."
        ),
        severity=Severity.HIGH,
        controls=(),
        remediation_steps=(
            "Declare the SECONDARY aws.route53.Record (failover_routing_policies type SECONDARY) for the same name."
        ),
        check=failover.check_secondary_exists,
    ),
    PolicySpec(
        name="aws-cloudwatch-alarm-route53-us-east-1",
        description=(
            "Checks that CloudWatch alarms on AWS/Route53 health-check metrics live in us-east-1, the only region with "
            "those metrics."
        ),
        severity=Severity.MEDIUM,
        controls=(),
        remediation_steps='Create the alarm with a us-east-1 provider (or region="us-east-1").',
        resource_types=types.METRIC_ALARM,
        config={
            "region": {
                "type": "string",
                "default": "us-east-1",
                "description": "The region that holds Route 53 health-check metrics.",
            }
        },
        check=failover.check_route53_alarm_region,
    ),
    PolicySpec(
        name="aws-route53-healthcheck-site-objectives-achievable",
        description=(
            "Checks that a failover site's declared regional RTO covers its RTO budget: detection, actions, database "
            "promotion, switch and TTL (DNS path; autoDnsFailover's own path when the site has it), or detection, "
            "actions, database promotion and config refresh (application path)."
        ),
        severity=Severity.HIGH,
        controls=(),
        remediation_steps=(
            "Declare the site's rtoMinutes at the budget the message shows, or shorten the probe interval, failure "
            "threshold or TTL; measure the name-server delay with the switch-latency drill and declare it."
        ),
        resource_types=types.ROUTE53_HEALTH_CHECK,
        # Labels: documented (an AWS page gives the figure), estimate (measure with a drill); docs/runbooks/failover.md.
        config={
            name: {"type": "integer", "minimum": 0, "default": default, "description": description}
            for name, default, description in (
                ("scheduleGapSeconds", 10, "Estimate: gap between orchestrator invocations' rounds."),
                ("orchestratorActionSeconds", 10, "Estimate: begin, settings and switch actions."),
                ("switchCheckSeconds", 10, "Documented: switch check interval 10 s x failure threshold 1."),
                ("nameServerDelaySeconds", 30, "Estimate: checkers' verdict to Route 53's name-server answers."),
                ("metricPeriodSeconds", 60, "Documented: standard-resolution period of the switch metric."),
                ("route53AlarmCheckSeconds", 60, "Estimate: Route 53 reading the switch metric's data stream."),
                ("routingControlSeconds", 5, "Estimate: an ARC routing control change reaching its check."),
            )
        },
        check=failover.check_site_objectives_achievable,
    ),
    # --- Declared objectives ----------------------------------------------------------------------
    PolicySpec(
        name="aws-s3-bucket-objectives-declared",
        description="Checks that every S3 bucket carries the dr:tier tag and its four RPO/RTO objective tags.",
        severity=Severity.MEDIUM,
        controls=(),
        remediation_steps=(
            "Create the bucket through a DR tier component, which writes dr:tier and the dr:rpo-*/dr:rto-* tags."
        ),
        resource_types=types.BUCKET,
        check=objectives.check_objectives_declared,
    ),
    PolicySpec(
        name="aws-dynamodb-table-objectives-declared",
        description="Checks that every DynamoDB table carries the dr:tier tag and its four RPO/RTO objective tags.",
        severity=Severity.MEDIUM,
        controls=(),
        remediation_steps="Create the table through the DR GlobalTable component, which writes the objective tags.",
        resource_types=types.TABLE,
        check=objectives.check_objectives_declared,
    ),
    PolicySpec(
        name="aws-s3-bucket-objectives-achievable",
        description=(
            "Checks that each bucket's configured mechanisms can achieve the RPO/RTO objectives its tags declare."
        ),
        severity=Severity.HIGH,
        controls=(),
        remediation_steps=(
            "Either add the mechanism the message names (versioning, object lock, cross-region replication with RTC) "
            "or declare an objective the bucket can meet."
        ),
        config={
            "replicationTimeControlMinutes": {
                "type": "integer",
                "default": 15,
                "description": "The replication SLA of S3 RTC, in minutes.",
            }
        },
        check=objectives.check_bucket_objectives_achievable,
    ),
    PolicySpec(
        name="aws-dynamodb-table-objectives-achievable",
        description=(
            "Checks that each table's PITR, replicas and backups can achieve the RPO/RTO objectives its tags declare."
        ),
        severity=Severity.HIGH,
        controls=(),
        remediation_steps=(
            "Enable PITR, add a replica in the recovery region, or declare an objective the table can meet."
        ),
        config={
            "backupIntervalMinutes": {
                "type": "integer",
                "minimum": 1,
                "default": 1440,
                "description": "Assumed interval between scheduled backups (AWS Backup), in minutes.",
            },
            "restoreFromBackupMinutes": {
                "type": "integer",
                "minimum": 1,
                "default": 240,
                "description": "Assumed time to restore a table from a backup and repoint clients, in minutes.",
            },
        },
        check=objectives.check_table_objectives_achievable,
    ),
    # --- IAM ----------------------------------------------------------------------------------------
    PolicySpec(
        name="aws-iam-role-dr-least-privilege",
        description=(
            "Checks that IAM roles tagged dr:role grant no wildcard actions, no object-lock bypass, and no "
            "bucket-destroying actions to runtime roles."
        ),
        severity=Severity.HIGH,
        controls=(_security_hub("IAM.1"), _security_hub("IAM.21")),
        remediation_steps=(
            'List the exact actions the role needs; never grant "*" or "<service>:*", never '
            "s3:BypassGovernanceRetention, and keep s3:PutBucketVersioning / s3:DeleteBucket away from runtime roles."
        ),
        config={
            "forbiddenActions": {
                "type": "array",
                "items": {"type": "string"},
                "default": ["s3:BypassGovernanceRetention"],
                "description": "Actions no DR role may be granted (wildcard patterns that cover them count).",
            },
            "runtimeForbiddenActions": {
                "type": "array",
                "items": {"type": "string"},
                "default": ["s3:PutBucketVersioning", "s3:DeleteBucket"],
                "description": "Further actions forbidden to roles tagged dr:role=runtime.",
            },
            "forbiddenManagedPolicyArns": {
                "type": "array",
                "items": {"type": "string"},
                "default": [
                    "arn:aws:iam::aws:policy/AdministratorAccess",
                    "arn:aws:iam::aws:policy/PowerUserAccess",
                    "arn:aws:iam::aws:policy/IAMFullAccess",
                    "arn:aws:iam::aws:policy/AmazonS3FullAccess",
                    "arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess",
                ],
                "description": "AWS managed policies too broad to attach to a DR role.",
            },
        },
        check=iam.check_dr_role_least_privilege,
    ),
)

# --- PITR wherever AWS has it: RDS, Aurora, DocumentDB, Neptune ------------------------------------------
# Each Security Hub control a database policy names, with its title as AWS publishes it and where it was checked
# (issue 23 item 13; tests/policies/test_real_world.py matches every control to its policy's check).
_SH = "https://docs.aws.amazon.com/securityhub/latest/userguide/"
VERIFIED_CONTROL_TITLES: Final = {
    "RDS.7": ("RDS clusters should have deletion protection enabled", f"{_SH}rds-controls.html"),
    "RDS.8": ("RDS DB instances should have deletion protection enabled", f"{_SH}rds-controls.html"),
    "RDS.11": ("RDS instances should have automatic backups enabled", f"{_SH}rds-controls.html"),
    "RDS.16": ("RDS DB clusters should be configured to copy tags to snapshots", f"{_SH}rds-controls.html"),
    "RDS.17": ("RDS DB instances should be configured to copy tags to snapshots", f"{_SH}rds-controls.html"),
    # The AWS page's entry, as mirrored by the Foundational Security Best Practices mapping of steampipe-mod-aws-
    # compliance (foundational_security_docdb_2); AWS's own page was not in the searchable store.
    "DocumentDB.2": (
        "Amazon DocumentDB clusters should have an adequate backup retention period",
        f"{_SH}documentdb-controls.html#documentdb-2",
    ),
    # Linked with this title from AWS's runbook AWSSupportRemediator-EnableDocumentDbClusterDeletionProtection.
    "DocumentDB.5": (
        "Amazon DocumentDB clusters should have deletion protection enabled",
        f"{_SH}documentdb-controls.html#documentdb-5",
    ),
    # Neptune: AWS's page (neptune-controls.html) was only partly searchable; titles as mirrored by the FSBP mappings
    # (steampipe foundational_security_neptune_4, compliance.tf neptune_db_cluster_automated_backup_enabled).
    "Neptune.4": ("Neptune DB clusters should have deletion protection enabled", f"{_SH}neptune-controls.html"),
    "Neptune.5": ("Neptune DB clusters should have automated backups enabled", f"{_SH}neptune-controls.html"),
    "Neptune.8": (
        "Neptune DB clusters should be configured to copy tags to snapshots",
        f"{_SH}neptune-controls.html",
    ),
}
# Controls: Security Hub controls reference, https://docs.aws.amazon.com/securityhub/latest/userguide/rds-controls.html
# (RDS.7 cluster and RDS.8 instance deletion protection, RDS.11 instance automatic backups, RDS.16 cluster and
# RDS.17 instance copy tags to snapshots), .../documentdb-controls.html (DocumentDB.2 backup retention,
# DocumentDB.5 deletion protection), .../neptune-controls.html (Neptune.4 deletion protection, Neptune.5 automated
# backups, Neptune.8 copy tags to snapshots). None is remediated: every one of these arguments has a provider
# default (retention 0 or 1, deletion protection and copy tags false, skip_final_snapshot false), so an explicit
# value could not be told from an absent one at deploy.
_DATABASES: Final = (
    # (policy stem, resource types, noun, {check: controls})
    (
        "aws-rds-instance",
        types.RDS_INSTANCE,
        "RDS DB instance (not in a cluster)",
        {
            "backup-retention": (_security_hub("RDS.11"), _aws_config("db-instance-backup-enabled")),
            "deletion-protection": (_security_hub("RDS.8"), _aws_config("rds-instance-deletion-protection-enabled")),
            "final-snapshot": (),
            "copy-tags-to-snapshot": (_security_hub("RDS.17"),),
        },
    ),
    (
        "aws-rds-cluster",
        types.RDS_CLUSTER,
        "Aurora or Multi-AZ RDS DB cluster",
        {
            "backup-retention": (),
            "deletion-protection": (_security_hub("RDS.7"), _aws_config("rds-cluster-deletion-protection-enabled")),
            "final-snapshot": (),
            "copy-tags-to-snapshot": (_security_hub("RDS.16"),),
        },
    ),
    (
        "aws-docdb-cluster",
        types.DOCDB_CLUSTER,
        "DocumentDB cluster",
        {
            "backup-retention": (_security_hub("DocumentDB.2"),),
            "deletion-protection": (_security_hub("DocumentDB.5"),),
            "final-snapshot": (),
        },
    ),
    (
        "aws-neptune-cluster",
        types.NEPTUNE_CLUSTER,
        "Neptune cluster",
        {
            "backup-retention": (_security_hub("Neptune.5"),),
            "deletion-protection": (_security_hub("Neptune.4"),),
            "final-snapshot": (),
            "copy-tags-to-snapshot": (_security_hub("Neptune.8"),),
        },
    ),
)
_DATABASE_CHECKS: Final = {
    "backup-retention": (
        "keeps automated backups (point-in-time recovery) for at least its tier's number of days",
        Severity.HIGH,
        "Set backup_retention_period to at least the tier's minimum (tier1MinDays/tier2MinDays/tier3MinDays).",
        databases.backup_retention_problems,
        databases.RETENTION_SCHEMA,
    ),
    "deletion-protection": (
        "has deletion protection enabled",
        Severity.HIGH,
        "Set deletion_protection=True.",
        databases.deletion_protection_problems,
        {},
    ),
    "final-snapshot": (
        "takes a final snapshot when deleted",
        Severity.MEDIUM,
        "Leave skip_final_snapshot=False and set final_snapshot_identifier to a unique name.",
        databases.final_snapshot_problems,
        {},
    ),
    "copy-tags-to-snapshot": (
        "copies its tags (dr:tier, objectives) to snapshots",
        Severity.LOW,
        "Set copy_tags_to_snapshot=True.",
        databases.copy_tags_problems,
        {},
    ),
}

CATALOG = CATALOG + tuple(
    PolicySpec(
        name=f"{stem}-{check}",
        description=f"Checks that every {noun} {_DATABASE_CHECKS[check][0]}.",
        severity=_DATABASE_CHECKS[check][1],
        controls=controls,
        remediation_steps=_DATABASE_CHECKS[check][2],
        resource_types=resource_types,
        config=_DATABASE_CHECKS[check][4],
        check=_DATABASE_CHECKS[check][3],
    )
    for stem, resource_types, noun, checks in _DATABASES
    for check, controls in checks.items()
)

# --- AWS Backup: isolated copies (components/isolation.py, components/account_vault.py) -------------------------
CATALOG = (
    *CATALOG,
    PolicySpec(
        name="aws-backup-plan-isolated-copy",
        description=(
            "Checks that every table and bucket of the configured tiers is copied by AWS Backup to an isolated vault "
            "(a logically air-gapped vault of the stack, or a vault in another account)."
        ),
        severity=Severity.HIGH,
        # Backup Audit Manager's controls for the same goal (AWS Backup Developer Guide, "Creating frameworks using
        # the AWS Backup API"), which the stack's framework runs (components/backup_estate.py::isolation_controls).
        controls=(
            Control("Backup Audit Manager", "BACKUP_RESOURCES_PROTECTED_BY_CROSS_ACCOUNT"),
            Control("Backup Audit Manager", "RESOURCES_IN_LOGICALLY_AIR_GAPPED_VAULT"),
        ),
        remediation_steps=(
            "Configure backup.airGappedVault or backup.vaultAccount and keep backup.isolatedCopies on for the tier, "
            "or give the plan a copy action to such a vault."
        ),
        config={"tiers": tiers_schema(["1"], "need a recovery point outside the account (account compromise)")},
        check=backup.check_isolated_copies,
    ),
    PolicySpec(
        name="aws-backup-vault-isolated-compliance-lock",
        description=(
            "Checks that every isolated vault is compliance-locked: air-gapped vaults with at least the minimum "
            "retention, vaults tagged dr:isolated with a COMPLIANCE VaultLockConfiguration."
        ),
        severity=Severity.HIGH,
        controls=(_aws_config("backup-recovery-point-manual-deletion-disabled"),),
        remediation_steps=(
            "Give the vault an aws.backup.VaultLockConfiguration with changeable_for_days (COMPLIANCE) and a "
            "minimum retention of at least minRetentionDays; air-gapped vaults: min_retention_days >= 7."
        ),
        config={
            "minRetentionDays": {
                "type": "integer",
                "minimum": 1,
                "default": 7,
                "description": "Shortest retention an isolated vault may allow, in days.",
            }
        },
        check=backup.check_isolated_vault_locks,
    ),
)

SPECS: Final = {spec.name: spec for spec in CATALOG}


def build_policies() -> list[Policy]:
    """Fresh pulumi-policy objects for every spec, in catalog order."""
    return [spec.build() for spec in CATALOG]


POLICIES: Final[list[Policy]] = build_policies()
