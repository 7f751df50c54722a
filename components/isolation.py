"""Recovery points outside the account's reach, S3 in AWS Backup, and the account's AWS Backup opt-in.

- ``BackupAccountSettings``: ``aws.backup.RegionSettings`` writing ``true`` only for the types the stack protects,
  and never ``false``. The Terraform provider behind pulumi-aws reads the *whole* opt-in map back from
  ``DescribeRegionSettings`` after every create and update (internal/service/backup/region_settings.go:
  ``d.Set("resource_type_opt_in_preference", output.ResourceTypeOptInPreference)``), so a partial map differs from
  the state on every preview: a perpetual diff. Its create and update send only the keys given
  (``UpdateRegionSettings`` changes those keys and leaves the rest), and its delete is a no-op
  (``schema.NoopContext``). So the resource ignores changes to both maps (no perpetual diff, never a rewrite of
  another owner's keys) and its name carries the set of types the stack owns: a new type creates a new resource,
  which sends the new ``true``; the old one is forgotten, which changes nothing in AWS.
- ``AirGappedVault``: a logically air-gapped vault in the recovery Region (AWS-owned storage, compliance-locked by
  AWS, min >= 7 days and a max), shared through AWS RAM with a recovery account when one is configured: the only
  isolated option for an account outside AWS Organizations.
- ``BucketBackup``: AWS Backup for the tier-1 buckets (the replica by default: the cost trap, docs/costs.md):
  continuous backups (point-in-time restore up to 35 days) and a daily snapshot in the same vault, the snapshot
  copied to the isolated vault (copies lose point-in-time restore: the isolated RPO is the snapshot's day).
- The vault in another account is not built here: ``stacks/isolated-vault`` deploys it through a provider that
  assumes ``backup.vaultAccount.roleArn``; the copies here only target its ARN (``account_vault_arn``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import pulumi
import pulumi_aws as aws

from components import arns, iam, tags
from components.backup_events import failed_job_notifications
from components.keys import GRANT_FOR_AWS_RESOURCE, KeyUser, data_key, key_policy, via_services
from handlers.runtime_names import BACKUP_PLAN_TAG
from stackmodel.config import BucketSpec, StackSettings
from stackmodel.config.isolation import (
    DYNAMODB,
    S3,
    account_vault_arn,
    isolated_vault_name,
)
from stackmodel.config.isolation import (
    AirGappedVault as AirGappedVaultSettings,
)
from stackmodel.tiers import S3_SNAPSHOT_RPO_MINUTES, LockMode, VaultLockProfile

SERVICE_PRINCIPAL = "backup.amazonaws.com"
# AWS Backup's resource types as RegionSettings names them (DescribeRegionSettings keys).
RDS_TYPES = ("RDS", "Aurora")
# The snapshot rule: daily (S3_SNAPSHOT_RPO_MINUTES), started within an hour (AWS Backup's minimum start window).
SNAPSHOT_SCHEDULE = "cron(0 3 * * ? *)"
# The S3 actions of AWSBackupServiceRolePolicyForS3Restore (v2) that recreate a bucket's objects, for every role that
# restores from AWS Backup (BucketBackup's, and restore testing's in components/backup_estate.py). Object deletion
# (the managed policy's s3:DeleteObject) is added only where restores go back into the stack's own buckets.
S3_RESTORE_BUCKET_ACTIONS = (
    "s3:CreateBucket",
    "s3:ListBucketVersions",
    "s3:ListBucket",
    "s3:GetBucketVersioning",
    "s3:GetBucketLocation",
    "s3:PutBucketVersioning",
    "s3:PutBucketOwnershipControls",
    "s3:GetBucketOwnershipControls",
)
S3_RESTORE_OBJECT_ACTIONS = (
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:PutObjectVersionAcl",
    "s3:GetObjectVersionAcl",
    "s3:GetObjectTagging",
    "s3:PutObjectTagging",
    "s3:GetObjectAcl",
    "s3:PutObjectAcl",
    "s3:ListMultipartUploadParts",
    "s3:PutObject",
)
START_WINDOW_MINUTES = 60
COMPLETION_WINDOW_MINUTES = 480
assert S3_SNAPSHOT_RPO_MINUTES == 1440  # SNAPSHOT_SCHEDULE runs once a day


def owned_types(settings: StackSettings) -> dict[str, tuple[str, ...]]:
    """Region -> the AWS Backup resource types this stack protects there (and so may opt the account into)."""
    owned: dict[str, set[str]] = {}
    if any(table.backup is not None for table in settings.tables):
        for region in (settings.primary_region, settings.recovery_region):
            owned.setdefault(region, set()).add(DYNAMODB)
            if settings.backup.include_rds:
                owned[region].update(RDS_TYPES)
    if bucket_backup_specs(settings):
        owned.setdefault(s3_backup_region(settings), set()).add(S3)
    return {region: tuple(sorted(types)) for region, types in owned.items()}


def bucket_backup_specs(settings: StackSettings) -> tuple[BucketSpec, ...]:
    """Tier-1 buckets in AWS Backup: only when tier 1's isolated copies are on and a vault can hold S3."""
    isolation = settings.backup.isolation
    if 1 not in isolation.tiers or isolation.kind_for(S3) is None:
        return ()
    return tuple(spec for spec in settings.buckets if spec.tier == 1)


def s3_backup_region(settings: StackSettings) -> str:
    return settings.recovery_region if settings.backup.s3.target == "replica" else settings.primary_region


def backed_up_bucket_name(spec: BucketSpec, target: str) -> str:
    if target == "replica":
        assert spec.replica_bucket_name is not None  # tier 1 always has a replica
        return spec.replica_bucket_name
    return spec.primary_bucket_name


class BackupAccountSettings(pulumi.ComponentResource):
    TYPE: ClassVar[str] = "dr:backup:BackupAccountSettings"

    resources: list[pulumi.Resource]

    def __init__(
        self,
        name: str,
        owned: Mapping[str, Sequence[str]],
        providers: Mapping[str, aws.Provider],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(self.TYPE, name, None, opts)
        self.resources = []
        for region, types in owned.items():
            # The owned set in the name: adding a type creates a new resource (which sends it); see the docstring.
            key = hashlib.sha256(",".join(types).encode()).hexdigest()[:8]
            self.resources.append(
                aws.backup.RegionSettings(
                    f"{name}-{region}-{key}",
                    resource_type_opt_in_preference={kind: True for kind in types},
                    # Advanced DynamoDB backup: cross-Region and cross-account copies, cold storage.
                    resource_type_management_preference={DYNAMODB: True} if DYNAMODB in types else None,
                    region=region,
                    opts=pulumi.ResourceOptions(
                        parent=self,
                        provider=providers[region],
                        ignore_changes=["resourceTypeOptInPreference", "resourceTypeManagementPreference"],
                        retain_on_delete=True,
                    ),
                )
            )
        self.register_outputs({})


class AirGappedVault(pulumi.ComponentResource):
    TYPE: ClassVar[str] = "dr:backup:AirGappedVault"

    vault_name: str
    vault_arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        prefix: str,
        region: str,
        vault: AirGappedVaultSettings,
        provider: aws.Provider,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(self.TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        self.vault_name = isolated_vault_name(prefix, region)
        resource_tags = {tags.COMPONENT: name, tags.ISOLATED: "air-gapped"}
        created = aws.backup.LogicallyAirGappedVault(
            name,
            name=self.vault_name,
            min_retention_days=vault.min_retention_days,
            max_retention_days=vault.max_retention_days,
            region=region,
            tags=resource_tags,
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(protect=True)),
        )
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self, provider=provider))
        # From the name, so copy actions and role policies that name it are known at preview.
        self.vault_arn = pulumi.Output.concat(
            "arn:",
            arns.partition(region),
            ":backup:",
            region,
            ":",
            account.account_id,
            ":backup-vault:",
            self.vault_name,
        )
        if vault.recovery_account_id is not None:
            # AWS RAM: the recovery account restores from the vault even when this account is lost
            # (cross-organisation shares need RAM's "sharing outside your organization" allowed).
            share = aws.ram.ResourceShare(
                f"{name}-share",
                name=f"{self.vault_name}-recovery",
                allow_external_principals=True,
                region=region,
                tags=resource_tags,
                opts=child,
            )
            aws.ram.ResourceAssociation(
                f"{name}-share-vault",
                resource_arn=created.arn,
                resource_share_arn=share.arn,
                region=region,
                opts=child,
            )
            aws.ram.PrincipalAssociation(
                f"{name}-share-account",
                principal=vault.recovery_account_id,
                resource_share_arn=share.arn,
                region=region,
                opts=child,
            )
        self.register_outputs({"vault_name": self.vault_name, "vault_arn": self.vault_arn})


@dataclass(frozen=True)
class IsolatedVaults:
    """Where each resource type's isolated copies go (None: not copied)."""

    arns: Mapping[str, pulumi.Input[str]]  # AWS Backup resource type -> vault ARN
    region: str
    names: Mapping[str, str]  # "air-gapped"/"account" -> vault name
    account_vault_arn: str | None

    def for_type(self, resource_type: str) -> pulumi.Input[str] | None:
        return self.arns.get(resource_type)


def isolated_vaults(settings: StackSettings, providers: Mapping[str, aws.Provider]) -> IsolatedVaults | None:
    """The stack's isolated vaults: the air-gapped one built here, the other account's by its derived ARN."""
    isolation = settings.backup.isolation
    if not isolation.configured:
        return None
    region = settings.recovery_region
    names: dict[str, str] = {}
    lag_arn: pulumi.Input[str] | None = None
    account_arn: str | None = None
    if isolation.air_gapped is not None:
        vault = AirGappedVault("isolated-vault", settings.name_prefix, region, isolation.air_gapped, providers[region])
        lag_arn = vault.vault_arn
        names["air-gapped"] = vault.vault_name
    if isolation.vault_account is not None:
        account_arn = account_vault_arn(settings.name_prefix, region, isolation.vault_account.account_id)
        names["account"] = isolated_vault_name(settings.name_prefix, region)
    by_type: dict[str, pulumi.Input[str]] = {}
    for resource_type in (S3, DYNAMODB):
        kind = isolation.kind_for(resource_type)
        if kind == "air-gapped" and lag_arn is not None:
            by_type[resource_type] = lag_arn
        elif kind == "account" and account_arn is not None:
            by_type[resource_type] = account_arn
    return IsolatedVaults(by_type, region, names, account_arn)


@dataclass(frozen=True)
class BucketBackupArgs:
    name_prefix: str
    region: str  # where the backed-up buckets live (the replica's Region by default)
    provider: aws.Provider
    bucket_names: tuple[str, ...]
    continuous_retention_days: int
    snapshot_retention_days: int
    isolated_vault_arn: pulumi.Input[str] | None
    vault_lock: VaultLockProfile
    alert_topic_arns: Mapping[str, pulumi.Input[str]]
    providers: Mapping[str, aws.Provider]
    waits_for: Sequence[pulumi.Resource] = ()


class BucketBackup(pulumi.ComponentResource):
    """AWS Backup for S3: one vault, one plan (continuous backup in this plan only), one role."""

    TYPE: ClassVar[str] = "dr:backup:BucketBackup"

    vault_name: str
    vault_arn: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    plan_name: str

    def __init__(self, name: str, args: BucketBackupArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(self.TYPE, name, None, opts)
        self._args = args
        region = args.region
        resource_tags = {tags.COMPONENT: name, tags.TIER: "1"}
        self._child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        self._account = aws.get_caller_identity_output(
            opts=pulumi.InvokeOutputOptions(parent=self, provider=args.provider)
        ).account_id
        self.vault_name = f"{args.name_prefix}-dr-s3-{region}"
        key = data_key(
            f"{name}-vault-key",
            f"AWS Backup vault {self.vault_name}",
            region,
            resource_tags,
            pulumi.ResourceOptions.merge(self._child, pulumi.ResourceOptions(protect=True)),
        )
        vault = aws.backup.Vault(
            f"{name}-vault",
            name=self.vault_name,
            kms_key_arn=key.arn,
            region=region,
            tags=resource_tags,
            opts=pulumi.ResourceOptions.merge(self._child, pulumi.ResourceOptions(protect=True)),
        )
        aws.backup.VaultLockConfiguration(
            f"{name}-vault-lock",
            backup_vault_name=vault.name,
            min_retention_days=args.vault_lock.min_retention_days,
            max_retention_days=args.vault_lock.max_retention_days,
            # pulumi-aws: with changeable_for_days the lock is COMPLIANCE, without it GOVERNANCE.
            changeable_for_days=args.vault_lock.changeable_for_days
            if args.vault_lock.mode is LockMode.COMPLIANCE
            else None,
            region=region,
            opts=self._child,
        )
        self.vault_arn = pulumi.Output.concat(
            "arn:", arns.partition(region), ":backup:", region, ":", self._account, ":backup-vault:", self.vault_name
        )
        role = self._role(name, resource_tags)
        self._role_resource = role
        self.role_arn = role.arn
        key_policy(f"{name}-vault-key-policy", key, region, self._account, self.key_users(), self._child)
        self.plan_name = f"{args.name_prefix}-buckets-continuous-daily"
        copies = (
            [
                aws.backup.PlanRuleCopyActionArgs(
                    destination_vault_arn=args.isolated_vault_arn,
                    lifecycle=aws.backup.PlanRuleCopyActionLifecycleArgs(delete_after=args.snapshot_retention_days),
                )
            ]
            if args.isolated_vault_arn is not None
            else []
        )
        plan = aws.backup.Plan(
            f"{name}-plan",
            name=self.plan_name,
            rules=[
                # Continuous backup: point-in-time restore for up to 35 days. AWS allows it in one plan per bucket.
                aws.backup.PlanRuleArgs(
                    rule_name="continuous",
                    target_vault_name=self.vault_name,
                    schedule="cron(0 * * * ? *)",
                    enable_continuous_backup=True,
                    start_window=START_WINDOW_MINUTES,
                    completion_window=COMPLETION_WINDOW_MINUTES,
                    lifecycle=aws.backup.PlanRuleLifecycleArgs(delete_after=args.continuous_retention_days),
                    recovery_point_tags={BACKUP_PLAN_TAG: self.plan_name},
                ),
                # The daily snapshot, in the same vault, copied out: copies of continuous backups lose PITR.
                aws.backup.PlanRuleArgs(
                    rule_name="daily-snapshot",
                    target_vault_name=self.vault_name,
                    schedule=SNAPSHOT_SCHEDULE,
                    start_window=START_WINDOW_MINUTES,
                    completion_window=COMPLETION_WINDOW_MINUTES,
                    lifecycle=aws.backup.PlanRuleLifecycleArgs(delete_after=args.snapshot_retention_days),
                    copy_actions=copies,
                    recovery_point_tags={BACKUP_PLAN_TAG: self.plan_name},
                ),
            ],
            region=region,
            tags=resource_tags,
            opts=pulumi.ResourceOptions.merge(self._child, pulumi.ResourceOptions(depends_on=[vault, *args.waits_for])),
        )
        aws.backup.Selection(
            f"{name}-selection",
            name=f"{args.name_prefix}-tier1-buckets"[:50],
            plan_id=plan.id,
            iam_role_arn=role.arn,
            resources=[arns.bucket_arn(bucket, region) for bucket in args.bucket_names],
            region=region,
            opts=self._child,
        )
        failed_job_notifications(name, [region], args.providers, args.alert_topic_arns, self, resource_tags)
        self.register_outputs({"vault_name": self.vault_name, "vault_arn": self.vault_arn, "role_arn": self.role_arn})

    def role_name(self) -> str:
        return f"{self._args.name_prefix}-bucket-backup"

    def key_users(self) -> tuple[KeyUser, ...]:
        """The role as a user of the bucket keys and the vault key: S3 reads objects for a backup and writes them in
        a restore (kms:ViaService s3), AWS Backup encrypts the recovery points (backup)."""
        role_arn = arns.role_arn(self.role_name(), self._args.region, self._account)
        return (
            KeyUser(
                "BucketBackupRoleUsesKey",
                role_arn,
                self._role_resource,
                ("kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"),
                via_services(self._args.region, "s3", "backup"),
            ),
            KeyUser(
                "BucketBackupRoleGrantsToAwsServices",
                role_arn,
                self._role_resource,
                ("kms:CreateGrant",),
                GRANT_FOR_AWS_RESOURCE,
            ),
        )

    def _role(self, name: str, resource_tags: Mapping[str, str]) -> aws.iam.Role:
        args = self._args
        region, partition = args.region, arns.partition(args.region)
        role = aws.iam.Role(
            f"{name}-role",
            name=self.role_name(),
            assume_role_policy=iam.assume_role_policy(SERVICE_PRINCIPAL),
            description="AWS Backup: back up, copy and restore the stack's tier-1 buckets",
            tags={**resource_tags, tags.IAM_ROLE: "backup"},
            opts=self._child,
        )
        buckets = [arns.bucket_arn(bucket, region) for bucket in args.bucket_names]
        objects = [f"{bucket}/*" for bucket in buckets]
        copy_vaults: list[pulumi.Input[str]] = [self.vault_arn]
        if args.isolated_vault_arn is not None:
            copy_vaults.append(args.isolated_vault_arn)
        statements: list[dict[str, Any]] = [
            # AWSBackupServiceRolePolicyForS3Backup (v5), scoped to these buckets (tests/fidelity backup-role check).
            {
                "Sid": "S3BucketPermissions",
                "Effect": "Allow",
                "Action": [
                    "s3:GetBucketTagging",
                    "s3:GetInventoryConfiguration",
                    "s3:ListBucketVersions",
                    "s3:ListBucket",
                    "s3:GetBucketVersioning",
                    "s3:GetBucketLocation",
                    "s3:GetBucketAcl",
                    "s3:PutInventoryConfiguration",
                    "s3:GetBucketNotification",
                    "s3:PutBucketNotification",
                    "s3:ListTagsForResource",
                ],
                "Resource": buckets,
            },
            {
                "Sid": "S3ObjectPermissions",
                "Effect": "Allow",
                "Action": [
                    "s3:GetObjectAcl",
                    "s3:GetObject",
                    "s3:GetObjectVersionTagging",
                    "s3:GetObjectVersionAcl",
                    "s3:GetObjectTagging",
                    "s3:GetObjectVersion",
                ],
                "Resource": objects,
            },
            {"Sid": "S3ListBuckets", "Effect": "Allow", "Action": ["s3:ListAllMyBuckets"], "Resource": "*"},
            {
                # AWS Backup for S3 keeps continuous backups through EventBridge rules it manages.
                "Sid": "ManagedEventRules",
                "Effect": "Allow",
                "Action": [
                    "events:DeleteRule",
                    "events:PutTargets",
                    "events:DescribeRule",
                    "events:EnableRule",
                    "events:PutRule",
                    "events:RemoveTargets",
                    "events:ListTargetsByRule",
                    "events:DisableRule",
                ],
                "Resource": pulumi.Output.concat(
                    "arn:", partition, ":events:", region, ":", self._account, ":rule/AwsBackupManagedRule*"
                ),
            },
            {
                # Neither has a resource ARN (Service Authorization Reference).
                "Sid": "ListRulesAndReadMetrics",
                "Effect": "Allow",
                "Action": ["events:ListRules", "cloudwatch:GetMetricData"],
                "Resource": "*",
            },
            {
                "Sid": "TagRecoveryPoints",
                "Effect": "Allow",
                "Action": ["backup:TagResource"],
                "Resource": f"arn:{partition}:backup:{region}:*:recovery-point:*",
            },
            # AWSBackupServiceRolePolicyForS3Restore (v2): restores go back into these buckets (in place, or a
            # restore job's new bucket under the stack's prefix).
            {
                "Sid": "S3RestoreBuckets",
                "Effect": "Allow",
                "Action": list(S3_RESTORE_BUCKET_ACTIONS),
                "Resource": [*buckets, f"arn:{partition}:s3:::{args.name_prefix}-restore-*"],
            },
            {
                "Sid": "S3RestoreObjects",
                "Effect": "Allow",
                "Action": [*S3_RESTORE_OBJECT_ACTIONS, "s3:DeleteObject"],
                "Resource": [*objects, f"arn:{partition}:s3:::{args.name_prefix}-restore-*/*"],
            },
            # Copies of the daily snapshot to the isolated vault (AWSBackupServiceRolePolicyForBackup).
            {
                "Sid": "CopyIntoVaults",
                "Effect": "Allow",
                "Action": ["backup:CopyIntoBackupVault", "backup:DescribeBackupVault"],
                "Resource": copy_vaults,
            },
            {
                "Sid": "CopyFromVaults",
                "Effect": "Allow",
                "Action": ["backup:CopyFromBackupVault"],
                "Resource": f"arn:{partition}:backup:{region}:*:recovery-point:*",
            },
            # kms:Decrypt on the bucket keys and the vault key is granted in each key's policy (key_users).
        ]
        iam.role_policy(f"{name}-role", role, statements, self._child)
        return role
