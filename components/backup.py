"""AWS Backup for the tables: the managed engine for scheduled backups (seed 002), without a Lambda of ours.

- ``aws.backup.RegionSettings`` opts the account into AWS Backup for the types the stack protects, behind
  ``backup.manageRegionSettings``, and only ever writes ``true``: the setting applies to the whole account and
  Region, and Aurora, Neptune and DocumentDB need the opt-in even when a plan names them, so a ``false`` for a
  type the stack does not own would switch off every other plan's backups (``region_opt_in``);
- a vault per region, each with its own KMS key (rotation on) and a vault lock. pulumi-aws derives the lock's mode
  from ``changeable_for_days``: omitted is GOVERNANCE, set is COMPLIANCE, which becomes immutable after that many
  days (so a test stack in COMPLIANCE leaves vaults nobody can delete before their retention ends);
- one plan per distinct backup rule in the primary region: its schedule follows the backup RPO, its lifecycle moves
  recovery points to cold storage and deletes them (config checked ``delete_after >= cold_storage_after + 90`` and
  that the retention fits both vault locks), with a copy to the recovery region's vault, a copy to the isolated
  vault for the tiers whose isolated copies are on (components/isolation.py), and an optional cross-account copy;
- a selection on the tag ``dr:backup-plan=<plan>`` that ``GlobalTable`` writes, as ``conditions`` (documented AND
  semantics) over DynamoDB table ARNs (and RDS ARNs behind ``backup.includeRds``), so buckets carrying a tier tag
  never land in this plan;
- a least-privilege role that AWS Backup assumes to back up, copy and restore, compared line by line with
  ``AWSBackupServiceRolePolicyForBackup`` in tests/components/test_backup_role.py: the copy statements are scoped to
  the vaults it copies between;
- an EventBridge rule on AWS Backup's job state-change events that sends every failed, expired or aborted backup
  and copy job to the alert topic (components/backup_events.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pulumi
import pulumi_aws as aws

from components import arns, iam, tags
from components.backup_events import failed_job_notifications
from components.keys import GRANT_FOR_AWS_RESOURCE, KeyUser, data_key, key_policy, via_services
from handlers.runtime_names import BACKUP_PLAN_TAG as BACKUP_SELECTION_TAG
from stackmodel.config.tables import BackupSettings
from stackmodel.tiers import BACKUP_RPO_SCHEDULES, LockMode, TableBackupProfile

SERVICE_PRINCIPAL = "backup.amazonaws.com"
# The services that use the stack's table and vault keys on the backup role's behalf during a job.
KEY_SERVICES = ("dynamodb", "backup")
# AWS Backup starts a job within this window after the scheduled time (60 minutes is AWS's minimum) and cancels
# it when not done by the completion window.
START_WINDOW_MINUTES = 60
COMPLETION_WINDOW_MINUTES = 180


def schedule_expression(rpo_minutes: int) -> str:
    """AWS Backup cron (UTC): every N hours for a backup RPO of N hours; config allows only divisors of a day."""
    hours = BACKUP_RPO_SCHEDULES[rpo_minutes]
    return "cron(0 0 * * ? *)" if hours == 24 else f"cron(0 0/{hours} * * ? *)" if hours > 1 else "cron(0 * * * ? *)"


def plan_name(prefix: str, rule: TableBackupProfile) -> str:
    cold = f"-cold{rule.cold_storage_after_days}d" if rule.cold_storage_after_days is not None else ""
    return f"{prefix}-tables-{rule.rpo_minutes}m{cold}-keep{rule.delete_after_days}d"


@dataclass(frozen=True)
class TableBackupArgs:
    name_prefix: str
    primary_region: str
    recovery_region: str
    providers: Mapping[str, aws.Provider]
    alert_topic_arns: Mapping[str, pulumi.Input[str]]
    settings: BackupSettings
    rules: tuple[TableBackupProfile, ...]  # one plan each; tables pick theirs through plan_name()
    # The isolated vault (components/isolation.py) and the rules whose tables' tier copies there.
    isolated_vault_arn: pulumi.Input[str] | None = None
    isolated_rules: frozenset[TableBackupProfile] = frozenset()
    # The account's AWS Backup opt-in (BackupAccountSettings): plans wait for it.
    waits_for: Sequence[pulumi.Resource] = field(default_factory=tuple)


class TableBackup(pulumi.ComponentResource):
    TYPE: ClassVar[str] = "dr:backup:TableBackup"

    vault_names: dict[str, str]
    vault_arns: dict[str, pulumi.Output[str]]
    role_arn: pulumi.Output[str]
    account_id: pulumi.Output[str]
    plan_names: dict[TableBackupProfile, str]

    def __init__(self, name: str, args: TableBackupArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(self.TYPE, name, None, opts)
        self._name = name
        self._args = args
        self._tags = {tags.COMPONENT: name}
        primary, recovery = args.primary_region, args.recovery_region
        self._account = aws.get_caller_identity_output(
            opts=pulumi.InvokeOutputOptions(parent=self, provider=args.providers[primary])
        ).account_id
        self.account_id = self._account

        self.vault_names = {}
        self.vault_arns = {}
        vault_keys = {region: self._vault(region) for region in (primary, recovery)}
        role = self._role()
        self.role_arn = role.arn
        self._role_resource = role
        # The vault keys grant the backup role by ARN in their own policies (components/keys.py).
        for region, key in vault_keys.items():
            key_policy(
                f"{self._name}-vault-key-policy-{region}",
                key,
                region,
                self._account,
                self.key_users(region),
                self._child(region),
            )
        self.plan_names = {}
        for rule in dict.fromkeys(args.rules):
            self.plan_names[rule] = self._plan(rule, role, list(args.waits_for))
        # Backup jobs and the copy jobs out of the primary vault both run in the primary Region.
        failed_job_notifications(name, [primary], args.providers, args.alert_topic_arns, self, self._tags)

        self.register_outputs(
            {"vault_names": self.vault_names, "vault_arns": self.vault_arns, "role_arn": self.role_arn}
        )

    def _child(self, region: str, **extra: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=self._args.providers[region], **extra)

    def role_name(self) -> str:
        """Explicit, so the role's ARN is known at preview and key policies can name it."""
        return f"{self._args.name_prefix}-table-backup"

    def key_users(self, region: str) -> tuple[KeyUser, ...]:
        """The backup role as a user of a table or vault key in ``region``: AWS Backup and DynamoDB use the key on
        its behalf during a job (kms:ViaService), and create grants for themselves (kms:GrantIsForAWSResource, a
        condition key of kms:CreateGrant only, hence a statement of its own)."""
        role_arn = arns.role_arn(self.role_name(), region, self._account)
        return (
            KeyUser(
                "BackupRoleUsesKey",
                role_arn,
                self._role_resource,
                ("kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"),
                via_services(region, *KEY_SERVICES),
            ),
            KeyUser(
                "BackupRoleGrantsToAwsServices",
                role_arn,
                self._role_resource,
                ("kms:CreateGrant",),
                GRANT_FOR_AWS_RESOURCE,
            ),
        )

    def _vault(self, region: str) -> aws.kms.Key:
        lock = self._args.settings.vault_lock
        vault_name = f"{self._args.name_prefix}-dr-{region}"
        key = data_key(
            f"{self._name}-vault-key-{region}",
            f"AWS Backup vault {vault_name}",
            region,
            self._tags,
            self._child(region, protect=True),
        )
        vault = aws.backup.Vault(
            f"{self._name}-vault-{region}",
            name=vault_name,
            kms_key_arn=key.arn,
            region=region,
            tags=self._tags,
            opts=self._child(region, protect=True),
        )
        aws.backup.VaultLockConfiguration(
            f"{self._name}-vault-lock-{region}",
            backup_vault_name=vault.name,
            min_retention_days=lock.min_retention_days,
            max_retention_days=lock.max_retention_days,
            # pulumi-aws: with changeable_for_days the lock is COMPLIANCE, without it GOVERNANCE.
            changeable_for_days=lock.changeable_for_days if lock.mode is LockMode.COMPLIANCE else None,
            region=region,
            opts=self._child(region),
        )
        self.vault_names[region] = vault_name
        self.vault_arns[region] = pulumi.Output.concat(
            "arn:", arns.partition(region), ":backup:", region, ":", self._account, ":backup-vault:", vault_name
        )
        return key

    def _table_arns(self, suffix: str = "") -> list[pulumi.Output[str]]:
        prefix = self._args.name_prefix
        return [
            pulumi.Output.concat(
                "arn:",
                arns.partition(region),
                ":dynamodb:",
                region,
                ":",
                self._account,
                ":table/",
                prefix,
                "-*",
                suffix,
            )
            for region in (self._args.primary_region, self._args.recovery_region)
        ]

    def copy_vault_arns(self) -> list[pulumi.Input[str]]:
        """Every vault a copy starts from or lands in: both Regions' vaults, the isolated vault and the optional
        cross-account vault."""
        found: list[pulumi.Input[str]] = list(self.vault_arns.values())
        if self._args.isolated_vault_arn is not None and self._args.isolated_rules:
            found.append(self._args.isolated_vault_arn)
        if self._args.settings.cross_account_vault_arn:
            found.append(self._args.settings.cross_account_vault_arn)
        return found

    def _recovery_point_arns(self) -> list[pulumi.Input[str]]:
        primary = self._args.primary_region
        partition = arns.partition(primary)
        found: list[pulumi.Input[str]] = [f"arn:{partition}:backup:{primary}:*:recovery-point:*"]
        if self._args.settings.include_rds:
            # RDS recovery points are snapshots AWS Backup names awsbackup:job-…; the template's id has no ':'.
            found += [f"arn:{partition}:rds:{primary}:*:{kind}:*" for kind in ("snapshot", "cluster-snapshot")]
        return found

    def _role(self) -> aws.iam.Role:
        primary = self._args.primary_region
        role = aws.iam.Role(
            f"{self._name}-role",
            name=self.role_name(),
            assume_role_policy=iam.assume_role_policy(SERVICE_PRINCIPAL),
            description="AWS Backup: back up, copy and restore the stack's DynamoDB tables",
            tags={**self._tags, tags.IAM_ROLE: "backup"},
            opts=self._child(primary),  # IAM is global; the explicit provider still names the account
        )
        statements: list[dict[str, Any]] = [
            # Explicit statements instead of AWSBackupServiceRolePolicyForBackup/-Restores, scoped to this stack's
            # tables (<namePrefix>-*). Actions: Service Authorization Reference, "Amazon DynamoDB" and
            # "AWS Backup"; advanced DynamoDB backup starts jobs through dynamodb:StartAwsBackupJob.
            {
                "Sid": "BackUpTables",
                "Effect": "Allow",
                "Action": [
                    "dynamodb:DescribeTable",
                    "dynamodb:ListTagsOfResource",
                    "dynamodb:StartAwsBackupJob",
                    "dynamodb:CreateBackup",
                ],
                "Resource": self._table_arns(),
            },
            {
                "Sid": "ManageTableBackups",
                "Effect": "Allow",
                "Action": ["dynamodb:DescribeBackup", "dynamodb:DeleteBackup"],
                "Resource": self._table_arns("/backup/*"),
            },
            {
                # A restore creates a new table (the restore job names it) and writes its items.
                "Sid": "RestoreTables",
                "Effect": "Allow",
                "Action": [
                    "dynamodb:RestoreTableFromAwsBackup",
                    "dynamodb:RestoreTableFromBackup",
                    "dynamodb:DescribeTable",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",
                    "dynamodb:BatchWriteItem",
                    "dynamodb:GetItem",
                    "dynamodb:Scan",
                    "dynamodb:Query",
                ],
                "Resource": self._table_arns(),
            },
            # Copies (AWSBackupServiceRolePolicyForBackup: BackupVaultPermissions, BackupVaultCopyPermissions),
            # scoped to the vaults this role copies between: without them every copy job fails.
            {
                "Sid": "CopyIntoVaults",
                "Effect": "Allow",
                "Action": ["backup:CopyIntoBackupVault", "backup:DescribeBackupVault"],
                "Resource": self.copy_vault_arns(),
            },
            {
                # The resource of CopyFromBackupVault is the recovery point being copied (Service Authorization
                # Reference, AWS Backup: arn:${Partition}:${Vendor}:${Region}:*:${ResourceType}:${RecoveryPointId});
                # advanced DynamoDB backups are AWS Backup recovery points in the primary vault's Region.
                "Sid": "CopyFromVaults",
                "Effect": "Allow",
                "Action": ["backup:CopyFromBackupVault"],
                "Resource": self._recovery_point_arns(),
            },
            {
                # Tag-based selection lists resources by tag; tag:GetResources has no resource ARN.
                "Sid": "SelectByTag",
                "Effect": "Allow",
                "Action": ["tag:GetResources"],
                "Resource": "*",
            },
            # Key use (tables' and vaults' customer-managed keys) is granted in each key's policy, by this role's
            # ARN (key_users), never here on key ARNs.
        ]
        if self._args.settings.include_rds:
            statements.append(
                {
                    "Sid": "BackUpDatabases",
                    "Effect": "Allow",
                    "Action": [
                        "rds:DescribeDBInstances",
                        "rds:DescribeDBClusters",
                        "rds:CreateDBSnapshot",
                        "rds:CreateDBClusterSnapshot",
                        "rds:DescribeDBSnapshots",
                        "rds:DescribeDBClusterSnapshots",
                        "rds:CopyDBSnapshot",
                        "rds:CopyDBClusterSnapshot",
                        "rds:AddTagsToResource",
                        "rds:ListTagsForResource",
                    ],
                    "Resource": "*",  # snapshot names are chosen by AWS Backup
                }
            )
        iam.role_policy(f"{self._name}-role", role, statements, self._child(primary))
        return role

    def _plan(self, rule: TableBackupProfile, role: aws.iam.Role, after: list[pulumi.Resource]) -> str:
        args = self._args
        primary, recovery = args.primary_region, args.recovery_region
        name = plan_name(args.name_prefix, rule)
        cold = rule.cold_storage_after_days
        lifecycle = aws.backup.PlanRuleLifecycleArgs(cold_storage_after=cold, delete_after=rule.delete_after_days)
        copy_lifecycle = aws.backup.PlanRuleCopyActionLifecycleArgs(
            cold_storage_after=cold, delete_after=rule.delete_after_days
        )
        destinations: list[pulumi.Input[str]] = [self.vault_arns[recovery]]
        if args.isolated_vault_arn is not None and rule in args.isolated_rules:
            destinations.append(args.isolated_vault_arn)
        if args.settings.cross_account_vault_arn:
            destinations.append(args.settings.cross_account_vault_arn)
        copies = [
            aws.backup.PlanRuleCopyActionArgs(destination_vault_arn=destination, lifecycle=copy_lifecycle)
            for destination in destinations
        ]
        plan = aws.backup.Plan(
            f"{self._name}-{name}",
            name=name,
            rules=[
                aws.backup.PlanRuleArgs(
                    rule_name=f"every-{rule.rpo_minutes}-minutes",
                    target_vault_name=self.vault_names[primary],
                    schedule=schedule_expression(rule.rpo_minutes),
                    start_window=START_WINDOW_MINUTES,
                    completion_window=COMPLETION_WINDOW_MINUTES,
                    lifecycle=lifecycle,
                    copy_actions=copies,
                    recovery_point_tags={BACKUP_SELECTION_TAG: name},
                )
            ],
            region=primary,
            tags=self._tags,
            opts=self._child(primary, depends_on=after),
        )
        resources = self._table_arns()[:1]  # the primary region's tables; replicas are the same data
        if args.settings.include_rds:
            partition = arns.partition(primary)
            resources += [
                pulumi.Output.concat("arn:", partition, ":rds:", primary, ":", self._account, ":db:*"),
                pulumi.Output.concat("arn:", partition, ":rds:", primary, ":", self._account, ":cluster:*"),
            ]
        aws.backup.Selection(
            f"{self._name}-{name}-selection",
            name=f"{name}-by-tag"[:50],
            plan_id=plan.id,
            iam_role_arn=role.arn,
            resources=resources,
            # Conditions AND together (AWS Backup API reference, BackupSelection: "Conditions"), unlike ListOfTags.
            conditions=[
                aws.backup.SelectionConditionArgs(
                    string_equals=[
                        aws.backup.SelectionConditionStringEqualArgs(
                            key=f"aws:ResourceTag/{BACKUP_SELECTION_TAG}", value=name
                        )
                    ]
                )
            ],
            region=primary,
            opts=self._child(primary),
        )
        return name
