"""S3 buckets per DR tier. What each tier gets is read from ``stackmodel.tiers``; nothing here decides it.

Tier 1 (``Tier1Bucket``): a primary in the primary region and a replica in the recovery region, both with
object lock, versioning, SSE-KMS, a public access block, BucketOwnerEnforced and a TLS-only policy.
MFA delete sits on the primary, which therefore carries no lifecycle (AWS does not support lifecycle on an
MFA-delete bucket); the replica carries the lifecycle. Replication uses RTC and replicates delete markers.
Tiers 2 and 3 (``Tier2Bucket``, ``Tier3Bucket``) are single-region buckets with lighter protections.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, cast

import pulumi
import pulumi_aws as aws

from components import arns, tags
from components.alerting import topic_in
from components.iam import assume_role_policy, role_policy
from components.inventory import (
    JournalRoles,
    bucket_inventory,
    inventory_delivery_statement,
    inventory_key_statement,
    journal_roles,
)
from components.keys import KeyUser, data_key, key_policy
from components.keys import statement_id as _sid
from components.recovery_function import (
    HANDLERS_DIR,
    EventTrigger,
    RecoveryFunction,
    RecoveryFunctionArgs,
    Schedule,
    publish_metrics_statement,
)
from handlers.runtime_names import (
    BATCH_SERVICE_PRINCIPAL,
    RECOVERY_METRICS_NAMESPACE,
    RPO_AGE_METRIC,
    RPO_ALARM_PERIOD_SECONDS,
    batch_report_prefix,
    rpo_alarm_name,
    rpo_dimensions,
)
from stackmodel.config import BucketSpec
from stackmodel.tiers import FailureMode, TierProfile

RTC_THRESHOLD_MINUTES = 15
# S3 Intelligent-Tiering monitors and auto-tiers objects of at least 128 KiB only (S3 User Guide, "How S3
# Intelligent-Tiering works"); smaller ones would pay a transition and stay in the frequent tier.
INTELLIGENT_TIERING_MIN_BYTES = 128 * 1024
# A restore copy: read any version and its tags, write it back as the new current version (handlers/s3/restore.py).
COPY_VERSION_BACK_ACTIONS = [
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:GetObjectTagging",
    "s3:GetObjectVersionTagging",
    "s3:PutObject",
    "s3:PutObjectTagging",
]
REPLICATION_RULE_ID = "all-objects"
# S3 request metrics for the whole bucket (the CloudWatch FilterId dimension) and the anomaly band's width.
REQUEST_METRICS_FILTER_ID = "EntireBucket"
DELETE_ANOMALY_BAND_WIDTH = 3
AUDIT_SCHEDULE = "rate(1 hour)"
# Within the RPO-age alarm's one-hour period (handlers/rpo_age.py), so a healthy bucket never breaches it.
RPO_AGE_SCHEDULE = "rate(15 minutes)"
# What the bucket policy's encryption conditions read (S3 User Guide, "Requiring server-side encryption with AWS
# KMS keys (SSE-KMS)" and the S3 condition-key table in the Service Authorization Reference).
SSE_HEADER = "s3:x-amz-server-side-encryption"
SSE_KMS_KEY_HEADER = "s3:x-amz-server-side-encryption-aws-kms-key-id"
KMS_ENCRYPTION_TYPES = ["aws:kms", "aws:kms:dsse"]


@dataclass(frozen=True)
class TieredBucketArgs:
    spec: BucketSpec
    primary_region: str
    primary_provider: aws.Provider
    # Region -> that Region's alert topic (AlertTopic.topic_arns): an alarm notifies the topic in its own Region.
    alert_topic_arns: Mapping[str, pulumi.Input[str]]
    recovery_region: str | None = None
    recovery_provider: aws.Provider | None = None
    handlers_dir: Path = HANDLERS_DIR
    # The stack's bucket for S3 Batch Operations manifests and reports; with it, the bucket gets a Batch restore role.
    batch_reports_bucket: str | None = None
    # Roles of other components that use this bucket's primary key (the Batch restore roles, on the reports bucket).
    key_users: Sequence[KeyUser] = ()
    # Roles of other components that use the replica's key (the scheduled drill reads replica canaries).
    replica_key_users: Sequence[KeyUser] = ()
    # Region -> the reports bucket there, which receives the S3 Inventory and the change journal of this bucket's
    # copies in that Region (S3 delivers an inventory only within the source's Region). Tiers with a versioned
    # inventory get one per Region listed.
    inventory_reports: Mapping[str, str] = field(default_factory=dict)
    # For a reports bucket: the ARNs of the source buckets whose inventories it receives (its policy and key policy
    # grant S3 Inventory delivery for exactly these).
    inventory_sources: Sequence[str] = ()
    # Other components' grants in the primary copy's bucket policy (Backup Audit Manager delivering its reports into
    # the reports bucket, components/backup_estate.py), each written after the resource its principal needs.
    policy_grants: Sequence[BucketGrant] = ()


@dataclass(frozen=True)
class BucketGrant:
    """A statement another component adds to a bucket's one policy. ``waits_for``: the resource whose creation
    makes the statement's principal exist (S3 rejects a policy naming a principal that does not exist yet)."""

    statement: Mapping[str, Any]
    waits_for: pulumi.Resource


@dataclass(frozen=True)
class _RegionalBucket:
    bucket: aws.s3.Bucket
    key: aws.kms.Key
    versioning: aws.s3.BucketVersioning
    name: str
    arn: str
    region: str
    role: str  # "primary" or "replica"
    provider: aws.Provider


class TieredBucket(pulumi.ComponentResource):
    """One DR bucket (and its replica, for tiers that have one), built from its tier's profile."""

    TYPE: ClassVar[str] = "dr:storage:TieredBucket"

    primary_bucket_name: pulumi.Output[str]
    primary_bucket_arn: pulumi.Output[str]
    primary_region: pulumi.Output[str]
    replica_bucket_name: pulumi.Output[str | None]
    replica_bucket_arn: pulumi.Output[str | None]
    replica_region: pulumi.Output[str | None]
    batch_restore_role_arn: pulumi.Output[str | None]
    # The Batch restore role as a user of the reports bucket's key (TieredBucketArgs.key_users of that bucket).
    batch_reports_key_user: KeyUser | None
    # The change journal's roles of each copy with a versioned inventory (RecoveryCatalog builds the streams; the
    # reports bucket of the copy's Region grants their delivery role its key).
    journal_roles: list[JournalRoles]

    def __init__(self, name: str, args: TieredBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(self.TYPE, name, None, opts)
        self._name = name
        self._args = args
        spec, profile = args.spec, args.spec.profile
        self._tags = tags.objective_tags(spec.name, spec.tier, spec.objectives)
        # Tier 1 and 2 hold data the business cannot lose: pulumi refuses to delete them. Tier 3 accepts
        # loss but is still kept on `pulumi destroy`, so removing it from config never wipes it silently.
        self._data_opts = {"protect": True} if profile.object_lock_mode else {"retain_on_delete": True}
        self._account = aws.get_caller_identity_output(
            opts=pulumi.InvokeOutputOptions(parent=self, provider=args.primary_provider)
        ).account_id
        # Who may use each bucket key, filled as the roles are created; the key policies are written last.
        self._notified: set[str] = set()  # copies whose S3 notification configuration exists already
        self._key_users: dict[str, list[KeyUser]] = {
            "primary": list(args.key_users),
            "replica": list(args.replica_key_users),
        }

        primary = self._regional_bucket(
            "primary", spec.primary_bucket_name, args.primary_region, args.primary_provider, profile
        )
        replica = None
        if profile.cross_region_replica:
            if not (args.recovery_region and args.recovery_provider and spec.replica_bucket_name):
                raise ValueError(f"{name}: tier {spec.tier} needs recovery_region and recovery_provider")
            replica = self._regional_bucket(
                "replica", spec.replica_bucket_name, args.recovery_region, args.recovery_provider, profile
            )
            # AWS rejects lifecycle on an MFA-delete bucket, so only the replica carries it.
            self._lifecycle(replica, profile)
            self._replication(primary, replica)
            self._auto_restore(primary)
            self._delete_volume_alarm(primary)
            self._scheduled_audit(primary, replica)
            self._scheduled_rpo_age(primary, replica)
        else:
            self._lifecycle(primary, profile)
        batch_role = self._batch_restore_role(primary, args.batch_reports_bucket) if args.batch_reports_bucket else None
        self.journal_roles = []
        if profile.versioned_inventory:
            for regional in (primary, replica):
                if regional is not None and regional.region in args.inventory_reports:
                    self._versioned_inventory(regional, args.inventory_reports[regional.region])
        for regional in (primary, replica):
            if regional is not None:
                self._key_policy(regional)

        self.primary_name = primary.name  # known at preview: derived from config
        self.primary_key_arn = primary.key.arn
        self.objective_tags = dict(self._tags)
        self.primary_bucket_name = pulumi.Output.from_input(primary.name)
        self.primary_bucket_arn = pulumi.Output.from_input(primary.arn)
        self.primary_region = pulumi.Output.from_input(primary.region)
        self.replica_bucket_name = pulumi.Output.from_input(replica.name if replica else None)
        self.replica_bucket_arn = pulumi.Output.from_input(replica.arn if replica else None)
        self.replica_region = pulumi.Output.from_input(replica.region if replica else None)
        self.batch_reports_key_user = (
            KeyUser(
                sid=_sid(f"batch restore {spec.name}"),
                role_arn=self._role_arn("batch-restore"),
                role=batch_role,
                actions=("kms:Decrypt", "kms:GenerateDataKey"),
            )
            if batch_role
            else None
        )
        self.batch_restore_role_arn = (
            pulumi.Output.from_input(self._role_arn("batch-restore")) if batch_role else pulumi.Output.from_input(None)
        )
        self.register_outputs(
            {
                "primary_bucket_name": self.primary_bucket_name,
                "primary_bucket_arn": self.primary_bucket_arn,
                "primary_region": self.primary_region,
                "replica_bucket_name": self.replica_bucket_name,
                "replica_bucket_arn": self.replica_bucket_arn,
                "replica_region": self.replica_region,
                "batch_restore_role_arn": self.batch_restore_role_arn,
            }
        )

    def stack_export(self) -> dict[str, Any]:
        """What drctl and drills read from ``pulumi stack output buckets``."""
        return {
            "tier": self._args.spec.tier,
            "primary": self.primary_bucket_name,
            "primaryArn": self.primary_bucket_arn,
            "replica": self.replica_bucket_name,
            "replicaArn": self.replica_bucket_arn,
            "replicaRegion": self.replica_region,
            "batchRestoreRoleArn": self.batch_restore_role_arn,  # drctl --batch-role-arn
        }

    def _child(self, provider: aws.Provider, **extra: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=provider, **extra)

    def _role_name(self, purpose: str) -> str:
        """Roles get explicit names, so their ARNs are known at preview and key policies can name them."""
        return f"{self._args.spec.qualified_name}-{purpose}"

    def _role_arn(self, purpose: str) -> pulumi.Output[str]:
        return arns.role_arn(self._role_name(purpose), self._args.primary_region, self._account)

    def _grant_key(
        self, target: _RegionalBucket, sid: str, role_arn: pulumi.Input[str], role: pulumi.Resource, *actions: str
    ) -> None:
        self._key_users[target.role].append(KeyUser(_sid(sid), role_arn, role, tuple(actions)))

    def _key_policy(self, target: _RegionalBucket) -> None:
        """The key's policy (components/keys.py), written after every role it names exists."""
        inventory_sources = list(self._args.inventory_sources) if target.role == "primary" else []
        key_policy(
            f"{self._name}-{target.role}-key-policy",
            target.key,
            target.region,
            self._account,
            self._key_users[target.role],
            self._child(target.provider),
            service_statements=[inventory_key_statement(inventory_sources, self._account)] if inventory_sources else (),
        )

    def _regional_bucket(
        self, role: str, bucket_name: str, region: str, provider: aws.Provider, profile: TierProfile
    ) -> _RegionalBucket:
        n = f"{self._name}-{role}"
        spec = self._args.spec
        bucket_tags = {**self._tags, tags.BUCKET_ROLE: role}
        if role == "primary" and profile.mfa_delete:
            bucket_tags |= tags.attestation_tags(spec.mfa_delete_attested)

        key = data_key(
            f"{n}-key", f"SSE-KMS key for {bucket_name}", region, self._tags, self._child(provider, **self._data_opts)
        )
        # A name for people and the console; no permission depends on it (key policies grant by role ARN).
        aws.kms.Alias(
            f"{n}-key-alias",
            name=arns.key_alias(bucket_name),
            target_key_id=key.key_id,
            region=region,
            opts=self._child(provider),
        )
        bucket = aws.s3.Bucket(
            n,
            bucket=bucket_name,
            object_lock_enabled=profile.object_lock_mode is not None,
            region=region,
            tags=bucket_tags,
            opts=self._child(provider, **self._data_opts),
        )
        versioning_opts: dict[str, Any] = {}
        if role == "primary" and profile.mfa_delete:
            # The root user turns MFA delete on (docs/runbooks/mfa-delete.md). Ignoring the versioning block
            # means no later `pulumi up` reverts it or sends an update AWS would refuse without an MFA code
            # ("Mfa Authentication must be used", pulumi-aws#4092).
            versioning_opts = {"protect": True, "ignore_changes": ["versioningConfiguration"]}
        versioning = aws.s3.BucketVersioning(
            f"{n}-versioning",
            bucket=bucket.id,
            versioning_configuration={"status": "Enabled"},
            region=region,
            opts=self._child(provider, **versioning_opts),
        )
        if profile.object_lock_mode is not None:
            aws.s3.BucketObjectLockConfiguration(
                f"{n}-object-lock",
                bucket=bucket.id,
                object_lock_enabled="Enabled",
                rule={"default_retention": {"mode": spec.lock_mode, "days": spec.lock_days}},
                region=region,
                opts=self._child(provider, depends_on=[versioning]),
            )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{n}-sse",
            bucket=bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {
                        "sse_algorithm": "aws:kms",
                        "kms_master_key_id": key.arn,
                    },
                    "bucket_key_enabled": True,
                }
            ],
            region=region,
            opts=self._child(provider),
        )
        public_access_block = aws.s3.BucketPublicAccessBlock(
            f"{n}-public-access-block",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            region=region,
            opts=self._child(provider),
        )
        aws.s3.BucketOwnershipControls(
            f"{n}-ownership",
            bucket=bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            region=region,
            opts=self._child(provider),
        )
        arn = arns.bucket_arn(bucket_name, region)
        grants = self._args.policy_grants if role == "primary" else ()
        aws.s3.BucketPolicy(
            f"{n}-tls-only",
            bucket=bucket.id,
            # A structured document in AWS's own JSON names: at a first preview only the key ARN is unknown.
            policy=cast(
                Any,
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        *bucket_policy_statements(arn, key.arn, profile),
                        *(
                            [inventory_delivery_statement(arn, self._args.inventory_sources, self._account)]
                            if role == "primary" and self._args.inventory_sources
                            else []
                        ),
                        *(dict(grant.statement) for grant in grants),
                    ],
                },
            ),
            region=region,
            # S3 rejects a bucket policy while the public access block is being changed.
            opts=self._child(provider, depends_on=[public_access_block, *(grant.waits_for for grant in grants)]),
        )
        return _RegionalBucket(bucket, key, versioning, bucket_name, arn, region, role, provider)

    def _lifecycle(self, target: _RegionalBucket, profile: TierProfile) -> None:
        spec = self._args.spec
        transitions = [
            aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionTransitionArgs(
                noncurrent_days=days, storage_class=storage_class
            )
            for days, storage_class in (
                (spec.transitions.standard_ia_days, "STANDARD_IA"),
                (spec.transitions.glacier_days, "GLACIER"),
                (spec.transitions.deep_archive_days, "DEEP_ARCHIVE"),
            )
            if days is not None
        ]
        rule = aws.s3.BucketLifecycleConfigurationRuleArgs(
            id="noncurrent-versions",
            status="Enabled",
            filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(),
            noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                noncurrent_days=spec.noncurrent_expiration_days
            ),
            noncurrent_version_transitions=transitions or None,
            abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                days_after_initiation=profile.abort_incomplete_multipart_days
            ),
            # Only instantly readable classes for current versions: a failover or restore reads them at once.
            transitions=(
                [
                    aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(
                        days=profile.current_standard_ia_days, storage_class="STANDARD_IA"
                    )
                ]
                if profile.current_standard_ia_days is not None
                else None
            ),
        )
        rules = [rule]
        if profile.current_intelligent_tiering_days is not None:
            rules.append(
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="current-intelligent-tiering",
                    status="Enabled",
                    # Objects under 128 KiB are never auto-tiered by Intelligent-Tiering: they stay STANDARD.
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(
                        object_size_greater_than=INTELLIGENT_TIERING_MIN_BYTES
                    ),
                    transitions=[
                        aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(
                            days=profile.current_intelligent_tiering_days, storage_class="INTELLIGENT_TIERING"
                        )
                    ],
                )
            )
        aws.s3.BucketLifecycleConfiguration(
            f"{self._name}-{target.role}-lifecycle",
            bucket=target.bucket.id,
            rules=rules,
            region=target.region,
            opts=self._child(target.provider, depends_on=[target.versioning]),
        )

    def _batch_restore_role(self, primary: _RegionalBucket, reports_bucket: str) -> aws.iam.Role:
        """The role S3 Batch Operations assumes for a restore too large for one machine (handlers/s3/batch.py):
        copy versions of this bucket over its keys, read the job's manifest and write its completion report."""
        n = f"{self._name}-batch-restore"
        provider, region = self._args.primary_provider, primary.region
        role = aws.iam.Role(
            n,
            name=self._role_name("batch-restore"),
            # The trust policy AWS documents for Batch Operations; it states no source-account condition.
            assume_role_policy=assume_role_policy(BATCH_SERVICE_PRINCIPAL),
            description=f"S3 Batch Operations restores of {primary.name}",
            tags={**self._tags, tags.IAM_ROLE: "runtime"},
            opts=self._child(provider),
        )
        reports = arns.bucket_arn(reports_bucket, region)
        role_policy(
            n,
            role,
            [
                {"Sid": "ListSource", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": primary.arn},
                {
                    "Sid": "CopyVersionsBack",
                    "Effect": "Allow",
                    "Action": COPY_VERSION_BACK_ACTIONS,
                    "Resource": f"{primary.arn}/*",
                },
                {
                    "Sid": "ReadManifestWriteReport",
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
                    "Resource": f"{reports}/{batch_report_prefix(primary.name)}/*",
                },
                {"Sid": "LocateReports", "Effect": "Allow", "Action": ["s3:GetBucketLocation"], "Resource": reports},
            ],
            self._child(provider),
        )
        # The reports bucket's key grants this role through TieredBucketArgs.key_users (see __main__.py).
        self._grant_key(
            primary, "batch restore", self._role_arn("batch-restore"), role, "kms:Decrypt", "kms:GenerateDataKey"
        )
        return role

    def _versioned_inventory(self, target: _RegionalBucket, reports_bucket: str) -> None:
        """A daily inventory of every version into the reports bucket of the copy's Region, S3's object events to
        EventBridge, and the journal's roles (components/inventory.py)."""
        n = f"{self._name}-{target.role}"
        bucket_inventory(
            f"{n}-inventory", target.bucket, target.region, reports_bucket, self._account, self._child(target.provider)
        )
        if target.role not in self._notified:
            aws.s3.BucketNotification(
                f"{n}-events",
                bucket=target.bucket.id,
                eventbridge=True,
                region=target.region,
                opts=self._child(target.provider),
            )
        short = "p" if target.role == "primary" else "r"
        self.journal_roles.append(
            journal_roles(
                f"{n}-journal",
                target.name,
                target.region,
                reports_bucket,
                (self._role_name(f"journal-{short}"), self._role_name(f"journal-events-{short}")),
                self._account,
                {**self._tags, tags.IAM_ROLE: "runtime"},
                self._child(target.provider),
            )
        )

    def _replication(self, primary: _RegionalBucket, replica: _RegionalBucket) -> None:
        spec = self._args.spec
        provider = self._args.primary_provider
        role_name = f"{self._name}-replication"
        role = aws.iam.Role(
            role_name,
            name=self._role_name("replication"),
            assume_role_policy=assume_role_policy("s3.amazonaws.com"),
            description=f"S3 replication {primary.name} -> {replica.name}",
            tags={**self._tags, tags.IAM_ROLE: "replication"},
            opts=self._child(provider),
        )
        policy = role_policy(
            role_name,
            role,
            [
                {
                    "Sid": "ReadSourceConfiguration",
                    "Effect": "Allow",
                    "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
                    "Resource": primary.arn,
                },
                {
                    "Sid": "ReadSourceVersions",
                    "Effect": "Allow",
                    "Action": [
                        "s3:GetObjectVersionForReplication",
                        "s3:GetObjectVersionAcl",
                        "s3:GetObjectVersionTagging",
                        # Object-lock sources: replication copies retention and legal holds.
                        "s3:GetObjectRetention",
                        "s3:GetObjectLegalHold",
                    ],
                    "Resource": f"{primary.arn}/*",
                },
                {
                    "Sid": "WriteReplica",
                    "Effect": "Allow",
                    "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
                    "Resource": f"{replica.arn}/*",
                },
            ],
            self._child(provider),
        )
        role_arn = self._role_arn("replication")
        self._grant_key(primary, "replication decrypt source", role_arn, role, "kms:Decrypt")
        self._grant_key(replica, "replication encrypt replica", role_arn, role, "kms:Encrypt", "kms:GenerateDataKey")
        aws.s3.BucketReplicationConfig(
            f"{self._name}-replication",
            bucket=primary.bucket.id,
            role=role.arn,
            rules=[
                {
                    "id": REPLICATION_RULE_ID,
                    "status": "Enabled",
                    "priority": 1,
                    "filter": {},
                    "delete_marker_replication": {"status": "Enabled"},
                    "source_selection_criteria": {"sse_kms_encrypted_objects": {"status": "Enabled"}},
                    "destination": {
                        "bucket": replica.arn,
                        "storage_class": spec.replica_storage_class,
                        "encryption_configuration": {"replica_kms_key_id": replica.key.arn},
                        "replication_time": {"status": "Enabled", "time": {"minutes": RTC_THRESHOLD_MINUTES}},
                        "metrics": {
                            "status": "Enabled",
                            "event_threshold": {"minutes": RTC_THRESHOLD_MINUTES},
                        },
                    },
                }
            ],
            region=primary.region,
            # S3 requires versioning on both buckets before replication is configured, and the role's policy
            # in place before the first object replicates (else it fails and stays FAILED).
            opts=self._child(provider, depends_on=[primary.versioning, replica.versioning, policy]),
        )
        dimensions = {
            "SourceBucket": primary.name,
            "DestinationBucket": replica.name,
            "RuleId": REPLICATION_RULE_ID,
        }
        # Each alarm lives where S3 publishes its metric (S3 User Guide, "Using S3 Replication metrics", column
        # "Which Region is this metric published in?"): latency in the destination Region, failures in the source.
        for alarm, metric, statistic, threshold, description, where in (
            (
                "replication-latency",
                "ReplicationLatency",
                "Maximum",
                RTC_THRESHOLD_MINUTES * 60,
                f"Replication to {replica.name} is slower than the {RTC_THRESHOLD_MINUTES}-minute RTC threshold",
                replica,
            ),
            (
                "replication-failed",
                "OperationsFailedReplication",
                "Sum",
                0,
                f"Objects failed to replicate to {replica.name}",
                primary,
            ),
        ):
            topic = topic_in(self._args.alert_topic_arns, where.region, f"{self._name}-{alarm}")
            aws.cloudwatch.MetricAlarm(
                f"{self._name}-{alarm}",
                namespace="AWS/S3",
                metric_name=metric,
                dimensions=dimensions,
                statistic=statistic,
                period=300,
                evaluation_periods=1,
                comparison_operator="GreaterThanThreshold",
                threshold=threshold,
                treat_missing_data="notBreaching",
                alarm_description=description,
                alarm_actions=[topic],
                ok_actions=[topic],
                region=where.region,
                tags=self._tags,
                opts=self._child(where.provider),
            )

    def _delete_volume_alarm(self, primary: _RegionalBucket) -> None:
        """Unusual deletion volume on a tier-1 primary: S3 request metrics for the whole bucket, and an anomaly-
        detection alarm on ``DeleteRequests`` in the bucket's Region (request metrics are published there, with the
        dimensions BucketName and FilterId; S3 User Guide, "Metrics and dimensions"). An EventBridge rule sees
        events one at a time and cannot count, hence CloudWatch."""
        aws.s3.BucketMetric(
            f"{self._name}-request-metrics",
            bucket=primary.bucket.id,
            name=REQUEST_METRICS_FILTER_ID,
            region=primary.region,
            opts=self._child(primary.provider),
        )
        aws.cloudwatch.MetricAlarm(
            f"{self._name}-delete-volume",
            comparison_operator="GreaterThanUpperThreshold",
            evaluation_periods=2,
            threshold_metric_id="band",
            metric_queries=[
                {
                    "id": "deletes",
                    "return_data": True,
                    "metric": {
                        "namespace": "AWS/S3",
                        "metric_name": "DeleteRequests",
                        "dimensions": {"BucketName": primary.name, "FilterId": REQUEST_METRICS_FILTER_ID},
                        "period": 300,
                        "stat": "Sum",
                    },
                },
                # ANOMALY_DETECTION_BAND(metric, standard deviations): CloudWatch User Guide, "Using anomaly detection".
                {"id": "band", "expression": f"ANOMALY_DETECTION_BAND(deletes, {DELETE_ANOMALY_BAND_WIDTH})"},
            ],
            treat_missing_data="notBreaching",  # no deletes at all is normal
            alarm_description=f"Unusual volume of DeleteRequests on {primary.name} (possible mass delete)",
            alarm_actions=[self._args.alert_topic_arns[primary.region]],
            ok_actions=[self._args.alert_topic_arns[primary.region]],
            region=primary.region,
            tags=self._tags,
            opts=self._child(primary.provider),
        )

    def _recovery_function(
        self,
        purpose: str,
        function_suffix: str,
        handler: str,
        statements: list[Any],
        environment: dict[str, pulumi.Input[str]],
        *,
        schedule_expression: str | None = None,
        trigger: EventTrigger | None = None,
        where: _RegionalBucket | None = None,
    ) -> RecoveryFunction:
        """A runtime Lambda for this bucket (components/recovery_function.py), in ``where``'s Region (default: the
        primary's)."""
        spec = self._args.spec
        region = where.region if where else self._args.primary_region
        provider = where.provider if where else self._args.primary_provider
        schedule = (
            Schedule(schedule_expression, f"{purpose} of {spec.primary_bucket_name}") if schedule_expression else None
        )
        return RecoveryFunction(
            f"{self._name}-{purpose}",
            RecoveryFunctionArgs(
                purpose=purpose,
                function_name=f"{spec.qualified_name}-{function_suffix}",
                handler=handler,
                region=region,
                provider=provider,
                account_id=self._account,
                description=f"{purpose} for {spec.primary_bucket_name}",
                statements=statements,
                environment=environment,
                tags=self._tags,
                layers=[arns.powertools_layer_arn(region)],
                schedule=schedule,
                trigger=trigger,
                handlers_dir=self._args.handlers_dir,
                moved_from=self,
            ),
            pulumi.ResourceOptions(parent=self),
        )

    def _auto_restore(self, primary: _RegionalBucket) -> None:
        """The delete auto-restore Lambda on the primary's protected prefixes."""
        spec = self._args.spec
        if not spec.protected_prefixes:
            return
        provider, region = self._args.primary_provider, primary.region
        topic = topic_in(self._args.alert_topic_arns, region, f"{self._name}-auto-restore")
        # Copy-back only: the primary has MFA delete, so no version deletes are granted at all.
        function = self._recovery_function(
            "auto-restore",
            "undelete",
            "handlers.s3.auto_restore.lambda_handler",
            [
                {
                    "Sid": "InspectBucket",
                    "Effect": "Allow",
                    "Action": [
                        "s3:ListBucket",
                        "s3:ListBucketVersions",
                        "s3:GetBucketVersioning",
                        "s3:GetReplicationConfiguration",
                        "s3:GetEncryptionConfiguration",  # SSE-KMS ETags are not MD5s (handlers/s3/restore.py)
                    ],
                    "Resource": primary.arn,
                },
                {
                    "Sid": "CopyPreviousVersionBack",
                    "Effect": "Allow",
                    # A failed copy above 5 GB aborts its multipart upload.
                    "Action": [*COPY_VERSION_BACK_ACTIONS, "s3:AbortMultipartUpload"],
                    "Resource": f"{primary.arn}/*",
                },
                {"Sid": "Alert", "Effect": "Allow", "Action": "sns:Publish", "Resource": topic},
            ],
            {
                # A JSON list of literal prefixes (S3 keys may contain commas); "" is the whole bucket.
                "PROTECTED_PREFIXES": json.dumps(list(spec.protected_prefixes)),
                # The role grants no version deletes, so the Lambda always copies the version back.
                "ALLOW_MARKER_REMOVAL": "false",
                "ALERT_TOPIC_ARN": topic,
            },
            trigger=EventTrigger(principal="s3.amazonaws.com", source_arn=primary.arn, source_account=self._account),
        )
        self._grant_key(primary, "auto restore", function.role_arn, function.role, "kms:Decrypt", "kms:GenerateDataKey")
        self._notified.add(primary.role)
        aws.s3.BucketNotification(
            f"{self._name}-auto-restore-notification",
            bucket=primary.bucket.id,
            lambda_functions=[
                {
                    "lambda_function_arn": function.function_arn,
                    "events": ["s3:ObjectRemoved:DeleteMarkerCreated"],
                    "filter_prefix": prefix or None,
                }
                for prefix in spec.protected_prefixes
            ],
            # One notification configuration per bucket: the change journal's EventBridge delivery lives here too.
            eventbridge=self._args.spec.profile.versioned_inventory,
            region=region,
            # S3 checks that it may invoke the function when the notification is saved: depending on the
            # component waits for all its children, the invoke permission among them.
            opts=self._child(provider, depends_on=[function]),
        )

    def _scheduled_audit(self, primary: _RegionalBucket, replica: _RegionalBucket) -> None:
        """The replication and integrity audit (handlers/s3/audit.py), hourly, publishing DR/Recovery metrics."""
        function = self._recovery_function(
            "replication-audit",
            "audit",
            "handlers.s3.audit.lambda_handler",
            [
                {
                    "Sid": "ReadPrimary",
                    "Effect": "Allow",
                    "Action": ["s3:ListBucket", "s3:GetReplicationConfiguration", "s3:GetEncryptionConfiguration"],
                    "Resource": primary.arn,
                },
                # Default encryption decides whether ETags can be compared at all.
                {
                    "Sid": "ReadReplica",
                    "Effect": "Allow",
                    "Action": ["s3:ListBucket", "s3:GetEncryptionConfiguration"],
                    "Resource": replica.arn,
                },
                # HeadObject (checksums, replication status) needs s3:GetObject; it reads no object data.
                {
                    "Sid": "HeadObjects",
                    "Effect": "Allow",
                    "Action": ["s3:GetObject"],
                    "Resource": [f"{primary.arn}/*", f"{replica.arn}/*"],
                },
                publish_metrics_statement(),
            ],
            {
                "AUDIT_BUCKETS": primary.name,
                "REPLICA_REGION": replica.region,
                "RTC_WINDOW_MINUTES": str(RTC_THRESHOLD_MINUTES),
            },
            schedule_expression=AUDIT_SCHEDULE,
        )
        # HeadObject with ChecksumMode=ENABLED on an SSE-KMS object needs kms:Decrypt.
        for regional in (primary, replica):
            self._grant_key(regional, "audit checksums", function.role_arn, function.role, "kms:Decrypt")

    def _scheduled_rpo_age(self, primary: _RegionalBucket, replica: _RegionalBucket) -> None:
        """The RPO-age metric (handlers/rpo_age.py) for the primary, and its alarm at the declared regional RPO.

        Both live in the replica's Region: S3 publishes ``ReplicationLatency`` there, and a signal about losing the
        primary's Region must not live in it."""
        self._recovery_function(
            "rpo-age",
            "rpo-age",
            "handlers.rpo_age.lambda_handler",
            [
                {
                    "Sid": "ReadDeclaredObjectives",
                    "Effect": "Allow",
                    "Action": ["s3:GetBucketLocation", "s3:GetReplicationConfiguration", "s3:GetBucketTagging"],
                    "Resource": primary.arn,
                },
                # Where the replica is: that Region has the latency metric.
                {
                    "Sid": "LocateReplica",
                    "Effect": "Allow",
                    "Action": ["s3:GetBucketLocation"],
                    "Resource": replica.arn,
                },
                {
                    "Sid": "ReadReplicationLatency",
                    "Effect": "Allow",
                    "Action": ["cloudwatch:GetMetricStatistics"],
                    "Resource": "*",  # metric reads have no resource ARN
                },
                publish_metrics_statement(),
            ],
            {"RPO_BUCKETS": primary.name, "BACKUP_REGIONS": replica.region},
            schedule_expression=RPO_AGE_SCHEDULE,
            where=replica,
        )
        rpo_minutes = self._args.spec.objectives[FailureMode.REGIONAL].rpo_minutes
        if rpo_minutes is None:
            return
        dimensions = rpo_dimensions("S3Bucket", primary.name, primary.region)
        topic = topic_in(self._args.alert_topic_arns, replica.region, f"{self._name}-rpo-age")
        aws.cloudwatch.MetricAlarm(
            f"{self._name}-rpo-age",
            name=rpo_alarm_name(dimensions),
            namespace=RECOVERY_METRICS_NAMESPACE,
            metric_name=RPO_AGE_METRIC,
            dimensions=dimensions,
            statistic="Maximum",
            period=RPO_ALARM_PERIOD_SECONDS,
            evaluation_periods=1,
            comparison_operator="GreaterThanThreshold",
            threshold=rpo_minutes * 60,
            # A silent function is itself an RPO risk, and so is a lost primary Region.
            treat_missing_data="breaching",
            alarm_description=f"Newest replica of {primary.name} is older than its regional RPO ({rpo_minutes} min)",
            alarm_actions=[topic],
            ok_actions=[topic],
            region=replica.region,
            tags=self._tags,
            opts=self._child(replica.provider),
        )


def bucket_policy_statements(bucket_arn: str, key_arn: pulumi.Input[str], profile: TierProfile) -> list[dict[str, Any]]:
    """The bucket's one policy (S3 allows one per bucket): TLS only, and uploads under the bucket's own key.

    The upload rules deny exactly ``s3:PutObject`` (never ``s3:*``, which would also stop replication writes):
    an object under another key, or under the AWS-managed ``aws/s3`` key, would fail to replicate, because the
    replication role may only use the bucket's key. A request without encryption headers still gets the bucket
    default (each rule first requires its header to be present). Clients that name a key must name it by ARN."""
    objects = f"{bucket_arn}/*"
    statements: list[dict[str, Any]] = [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, objects],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Sid": "DenyOtherKmsKeys",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": objects,
            # Present and different. Not "StringNotEqualsIfExists": an ...IfExists condition is true when the key is
            # absent (IAM User Guide, "Condition operators", ...IfExists), so that Deny would refuse every upload
            # that relies on the bucket default.
            "Condition": {"StringNotEquals": {SSE_KMS_KEY_HEADER: key_arn}, "Null": {SSE_KMS_KEY_HEADER: "false"}},
        },
        {
            # aws:kms with no key id means the AWS-managed aws/s3 key.
            "Sid": "DenyKmsWithoutKeyId",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": objects,
            "Condition": {"StringEquals": {SSE_HEADER: KMS_ENCRYPTION_TYPES}, "Null": {SSE_KMS_KEY_HEADER: "true"}},
        },
    ]
    if profile.kms_only_uploads:
        statements.append(
            {
                "Sid": "DenyOtherEncryptionTypes",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": objects,
                "Condition": {"StringNotEquals": {SSE_HEADER: "aws:kms"}, "Null": {SSE_HEADER: "false"}},
            }
        )
    return statements


class Tier1Bucket(TieredBucket):
    TYPE = "dr:storage:Tier1Bucket"


class Tier2Bucket(TieredBucket):
    TYPE = "dr:storage:Tier2Bucket"


class Tier3Bucket(TieredBucket):
    TYPE = "dr:storage:Tier3Bucket"


BUCKET_COMPONENTS: dict[int, type[TieredBucket]] = {1: Tier1Bucket, 2: Tier2Bucket, 3: Tier3Bucket}
