"""The stack's AWS Backup beyond the tables' plans: the account opt-in, isolated vaults, S3 in AWS Backup, restore
testing with its validation function, and the Backup Audit Manager framework. One call from ``__main__`` before and
one after the tables (``prepare_backup`` / ``finish_backup``), and the ``backupStatus`` export ``drctl`` reads.

Restore testing (``RestoreTesting``): one plan per Region that holds tier-1 recovery points (the tables' primary
vault, the buckets' S3 vault), one selection per resource type (AWS: each selection takes one type, ``*`` with
conditions or at most 30 ARNs; validation window 0-168 h). Restores land in throw-away resources that AWS Backup
deletes after the validation window; a Lambda (handlers/backup/restore_validation.py) checks each one and reports
the verdict with ``PutRestoreValidationResult``. An S3 restore test copies the whole bucket each run: weekly by
default (docs/costs.md).

Audit (``BackupAudit``): a framework whose controls are only those named in pulumi-aws's ``backup.Framework``
example (aws/backup/framework.py in the installed package), each scoped to one tag key and value (``dr:tier`` =
``1``), 7 of the 50 controls AWS allows per account and Region; and a report plan that writes to the reports bucket.
AWS Config must record the AWS Backup resource types (a prerequisite the stack documents, docs/costs.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pulumi
import pulumi_aws as aws

from components import arns, iam, tags
from components.backup import TableBackup
from components.isolation import (
    SERVICE_PRINCIPAL,
    BackupAccountSettings,
    BucketBackup,
    BucketBackupArgs,
    IsolatedVaults,
    backed_up_bucket_name,
    bucket_backup_specs,
    isolated_vaults,
    owned_types,
    s3_backup_region,
)
from components.keys import BucketKeyUsers
from components.recovery_function import EventTrigger, RecoveryFunction, RecoveryFunctionArgs
from components.table_estate import Tables, build_tables
from stackmodel.config import StackSettings
from stackmodel.config.isolation import DYNAMODB, S3
from stackmodel.tiers import ISOLATION, S3_SNAPSHOT_RPO_MINUTES, TABLE_TIERS, FailureMode

VALIDATION_HANDLER = "handlers.backup.restore_validation.lambda_handler"
# The controls named in pulumi-aws's backup.Framework example; no other name is cited here.
FRAMEWORK_CONTROLS = (
    "BACKUP_RECOVERY_POINT_MINIMUM_RETENTION_CHECK",
    "BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK",
    "BACKUP_RECOVERY_POINT_ENCRYPTED",
    "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN",
    "BACKUP_RECOVERY_POINT_MANUAL_DELETION_DISABLED",
    "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_VAULT_LOCK",
    "BACKUP_LAST_RECOVERY_POINT_CREATED",
)
MAX_CONTROLS_PER_REGION = 50
AUDIT_REPORT_PREFIX = "dr-audit"


@dataclass
class BackupEstate:
    settings: BackupAccountSettings | None = None
    isolated: IsolatedVaults | None = None
    buckets: BucketBackup | None = None
    bucket_key_users: dict[str, BucketKeyUsers] = field(default_factory=dict)
    exports: dict[str, Any] = field(default_factory=dict)


def prepare_backup(settings: StackSettings, providers: Mapping[str, aws.Provider]) -> BackupEstate:
    """What the tables' plans need first: the account opt-in and the isolated vaults."""
    estate = BackupEstate()
    owned = owned_types(settings)
    if settings.backup.manage_region_settings and owned:
        estate.settings = BackupAccountSettings("backup-region-settings", owned, providers)
    estate.isolated = isolated_vaults(settings, providers)
    return estate


def finish_backup(
    settings: StackSettings,
    providers: Mapping[str, aws.Provider],
    topics: Mapping[str, pulumi.Input[str]],
    estate: BackupEstate,
    tables: TableBackup | None,
) -> BackupEstate:
    """S3 in AWS Backup, restore testing and audit, once the tables' plans exist."""
    specs = bucket_backup_specs(settings)
    target = settings.backup.s3.target
    waits = estate.settings.resources if estate.settings else []
    if specs:
        region = s3_backup_region(settings)
        estate.buckets = BucketBackup(
            "bucket-backup",
            BucketBackupArgs(
                name_prefix=settings.name_prefix,
                region=region,
                provider=providers[region],
                bucket_names=tuple(backed_up_bucket_name(spec, target) for spec in specs),
                continuous_retention_days=settings.backup.s3.continuous_retention_days,
                snapshot_retention_days=settings.backup.s3.snapshot_retention_days,
                isolated_vault_arn=estate.isolated.for_type(S3) if estate.isolated else None,
                vault_lock=settings.backup.vault_lock,
                alert_topic_arns=topics,
                providers=providers,
                waits_for=waits,
            ),
        )
        users = estate.buckets.key_users()
        estate.bucket_key_users = {
            spec.name: BucketKeyUsers(replica=users) if target == "replica" else BucketKeyUsers(primary=users)
            for spec in specs
        }
    if settings.backup.restore_testing is not None:
        RestoreTesting("restore-testing", settings, providers, tables, estate.buckets)
    if settings.backup.audit:
        BackupAudit("backup-audit", settings, providers[settings.primary_region])
    estate.exports = {"backupStatus": backup_status_export(settings, estate, tables)}
    if estate.buckets is not None:  # drctl restore-bucket --from-backup --vault … --backup-role-arn …
        estate.exports["bucketBackup"] = {
            "region": s3_backup_region(settings),
            "vault": estate.buckets.vault_name,
            "roleArn": estate.buckets.role_arn,
        }
    return estate


def backup_status_export(settings: StackSettings, estate: BackupEstate, tables: TableBackup | None) -> dict[str, Any]:
    """What ``drctl backup status`` reads: every store in AWS Backup, its vaults and their RPOs."""
    stores: list[dict[str, Any]] = []
    isolated = estate.isolated
    tested = settings.backup.restore_testing is not None
    primary, recovery = settings.primary_region, settings.recovery_region
    if tables is not None:
        for spec in settings.tables:
            if spec.backup is None:
                continue
            rpo = spec.backup.rpo_minutes
            vaults: list[dict[str, Any]] = [
                {"role": "source", "region": primary, "name": tables.vault_names[primary], "rpoMinutes": rpo},
                {"role": "recovery", "region": recovery, "name": tables.vault_names[recovery], "rpoMinutes": rpo},
            ]
            if isolated and spec.tier in settings.backup.isolation.tiers and isolated.for_type(DYNAMODB):
                vaults.append(
                    _isolated_vault(settings, isolated, DYNAMODB, ISOLATION[spec.tier].account_compromise.rpo_minutes)
                )
            stores.append(
                {
                    "name": spec.name,
                    "kind": "table",
                    "region": primary,
                    "resourceArn": pulumi.Output.concat(
                        "arn:",
                        arns.partition(primary),
                        ":dynamodb:",
                        primary,
                        ":",
                        tables.account_id,
                        ":table/",
                        spec.table_name,
                    ),
                    "vaults": vaults,
                    "restoreTested": tested and spec.tier == 1,
                    "restoreTestRegion": primary,
                    # A restore test's duration is judged against the logical RTO (a restore into a new table),
                    # the age of the point it restored against the backup RPO.
                    "restoreRtoMinutes": spec.objectives[FailureMode.LOGICAL].rto_minutes,
                    "restoreRpoMinutes": rpo,
                }
            )
    if estate.buckets is not None:
        region = s3_backup_region(settings)
        for bucket in bucket_backup_specs(settings):
            vaults = [
                {
                    "role": "source",
                    "region": region,
                    "name": estate.buckets.vault_name,
                    "rpoMinutes": S3_SNAPSHOT_RPO_MINUTES,
                }
            ]
            if isolated and isolated.for_type(S3):
                vaults.append(_isolated_vault(settings, isolated, S3, ISOLATION[1].account_compromise.rpo_minutes))
            stores.append(
                {
                    "name": bucket.name,
                    "kind": "bucket",
                    "region": region,
                    "resourceArn": arns.bucket_arn(backed_up_bucket_name(bucket, settings.backup.s3.target), region),
                    "vaults": vaults,
                    "restoreTested": tested,
                    "restoreTestRegion": region,
                    "restoreRtoMinutes": bucket.objectives[FailureMode.LOGICAL].rto_minutes,
                    "restoreRpoMinutes": S3_SNAPSHOT_RPO_MINUTES,  # restore tests pick the daily snapshots
                }
            )
    return {"stores": stores}


def _isolated_vault(settings: StackSettings, isolated: IsolatedVaults, kind: str, rpo: int | None) -> dict[str, Any]:
    lag = settings.backup.isolation.kind_for(kind) == "air-gapped"
    return {
        "role": "isolated",
        "region": isolated.region,
        "name": isolated.names["air-gapped" if lag else "account"],
        "arn": isolated.for_type(kind),
        "account": "this" if lag else "other",
        "rpoMinutes": rpo,
    }


class RestoreTesting(pulumi.ComponentResource):
    TYPE: ClassVar[str] = "dr:backup:RestoreTesting"

    def __init__(
        self,
        name: str,
        settings: StackSettings,
        providers: Mapping[str, aws.Provider],
        tables: TableBackup | None,
        buckets: BucketBackup | None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(self.TYPE, name, None, opts)
        testing = settings.backup.restore_testing
        assert testing is not None
        prefix = settings.name_prefix
        resource_tags = {tags.COMPONENT: name}
        # Region -> (resource type, vault ARN, selection arguments)
        selections: dict[str, list[tuple[str, pulumi.Input[str], dict[str, Any]]]] = {}
        tier1_tables = [spec for spec in settings.tables if spec.tier == 1 and spec.backup is not None]
        if tables is not None and tier1_tables:
            primary = settings.primary_region
            selections.setdefault(primary, []).append(
                (
                    DYNAMODB,
                    tables.vault_arns[primary],
                    {
                        "protected_resource_arns": ["*"],
                        "protected_resource_conditions": aws.backup.RestoreTestingSelectionProtectedResourceConditionsArgs(  # noqa: E501
                            string_equals=[
                                aws.backup.RestoreTestingSelectionProtectedResourceConditionsStringEqualArgs(
                                    key=f"aws:ResourceTag/{tags.TIER}", value="1"
                                )
                            ]
                        ),
                    },
                )
            )
        if buckets is not None:
            region = s3_backup_region(settings)
            names = [backed_up_bucket_name(spec, settings.backup.s3.target) for spec in bucket_backup_specs(settings)]
            selections.setdefault(region, []).append(
                (S3, buckets.vault_arn, {"protected_resource_arns": [arns.bucket_arn(n, region) for n in names]})
            )
        role = self._role(name, prefix, settings.primary_region, providers[settings.primary_region], resource_tags)
        for region, chosen in selections.items():
            child = pulumi.ResourceOptions(parent=self, provider=providers[region])
            plan_name = f"{prefix}_restore_tests_{region}".replace("-", "_")[:50]
            plan = aws.backup.RestoreTestingPlan(
                f"{name}-{region}",
                name=plan_name,
                schedule_expression=testing.schedule,
                start_window_hours=24,
                recovery_point_selection=aws.backup.RestoreTestingPlanRecoveryPointSelectionArgs(
                    algorithm="LATEST_WITHIN_WINDOW",
                    include_vaults=[vault for _, vault, _ in chosen],
                    recovery_point_types=["SNAPSHOT"],
                    selection_window_days=testing.selection_window_days,
                ),
                region=region,
                tags=resource_tags,
                opts=child,
            )
            for resource_type, _vault, selection in chosen:
                aws.backup.RestoreTestingSelection(
                    f"{name}-{region}-{resource_type.lower()}",
                    name=f"{prefix}_{resource_type}".replace("-", "_")[:50],
                    restore_testing_plan_name=plan.name,
                    protected_resource_type=resource_type,
                    iam_role_arn=role.arn,
                    validation_window_hours=testing.validation_window_hours,
                    region=region,
                    opts=child,
                    **selection,
                )
            self._validator(name, prefix, region, providers[region], resource_tags)
        self.register_outputs({})

    def _role(
        self, name: str, prefix: str, region: str, provider: aws.Provider, resource_tags: Mapping[str, str]
    ) -> aws.iam.Role:
        """Restore tests create throw-away tables and buckets whose names AWS Backup chooses: the restore actions
        of AWSBackupServiceRolePolicyForRestores / ...ForS3Restore on tables and buckets of this account."""
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        role = aws.iam.Role(
            f"{name}-role",
            name=f"{prefix}-restore-testing",
            assume_role_policy=iam.assume_role_policy(SERVICE_PRINCIPAL),
            description="AWS Backup restore testing: restore tier-1 recovery points into throw-away resources",
            tags={**resource_tags, tags.IAM_ROLE: "backup"},
            opts=child,
        )
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self, provider=provider))
        partition = arns.partition(region)
        statements: list[dict[str, Any]] = [
            {
                "Sid": "RestoreTables",
                "Effect": "Allow",
                "Action": [
                    "dynamodb:RestoreTableFromAwsBackup",
                    "dynamodb:DescribeTable",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",
                    "dynamodb:BatchWriteItem",
                    "dynamodb:GetItem",
                    "dynamodb:Scan",
                    "dynamodb:Query",
                    "dynamodb:DeleteTable",
                ],
                "Resource": pulumi.Output.concat("arn:", partition, ":dynamodb:*:", account.account_id, ":table/*"),
            },
            {
                "Sid": "RestoreBuckets",
                "Effect": "Allow",
                "Action": [
                    "s3:CreateBucket",
                    "s3:ListBucketVersions",
                    "s3:ListBucket",
                    "s3:GetBucketVersioning",
                    "s3:GetBucketLocation",
                    "s3:PutBucketVersioning",
                    "s3:PutBucketOwnershipControls",
                    "s3:GetBucketOwnershipControls",
                ],
                "Resource": f"arn:{partition}:s3:::*",
            },
            {
                "Sid": "RestoreObjects",
                "Effect": "Allow",
                "Action": [
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
                ],
                "Resource": f"arn:{partition}:s3:::*/*",
            },
        ]
        iam.role_policy(f"{name}-role", role, statements, child)
        return role

    def _validator(
        self, name: str, prefix: str, region: str, provider: aws.Provider, resource_tags: Mapping[str, str]
    ) -> None:
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self, provider=provider))
        rule = aws.cloudwatch.EventRule(
            f"{name}-{region}-completed",
            description="AWS Backup restore job completed: validate restore tests",
            event_pattern=json.dumps(
                {
                    "source": ["aws.backup"],
                    "detail-type": ["Restore Job State Change"],
                    "$or": [{"detail": {"status": ["COMPLETED"]}}, {"detail": {"state": ["COMPLETED"]}}],
                }
            ),
            region=region,
            tags=dict(resource_tags),
            opts=child,
        )
        partition = arns.partition(region)
        function = RecoveryFunction(
            f"{name}-{region}-validate",
            RecoveryFunctionArgs(
                purpose="restore-validation",
                function_name=f"{prefix}-restore-validation-{region}"[:64],
                handler=VALIDATION_HANDLER,
                region=region,
                provider=provider,
                account_id=account.account_id,
                description=f"restore-test validation in {region}",
                statements=[
                    {
                        # Neither action has a resource ARN (Service Authorization Reference, AWS Backup).
                        "Sid": "ReportVerdicts",
                        "Effect": "Allow",
                        "Action": ["backup:DescribeRestoreJob", "backup:PutRestoreValidationResult"],
                        "Resource": "*",
                    },
                    {
                        "Sid": "ReadRestoredTables",
                        "Effect": "Allow",
                        "Action": ["dynamodb:Scan", "dynamodb:GetItem"],
                        "Resource": pulumi.Output.concat(
                            "arn:", partition, ":dynamodb:", region, ":", account.account_id, ":table/*"
                        ),
                    },
                    {
                        "Sid": "ReadRestoredBuckets",
                        "Effect": "Allow",
                        "Action": ["s3:ListBucket", "s3:GetObject"],
                        "Resource": [f"arn:{partition}:s3:::*", f"arn:{partition}:s3:::*/*"],
                    },
                ],
                environment={"CANARY_OBJECT": "dr-drill/canary"},
                tags=resource_tags,
                layers=[arns.powertools_layer_arn(region)],
                trigger=EventTrigger(principal="events.amazonaws.com", source_arn=rule.arn),
                timeout_seconds=300,
            ),
            child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-{region}-completed",
            rule=rule.name,
            arn=function.function_arn,
            region=region,
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[function]),
        )


class BackupAudit(pulumi.ComponentResource):
    TYPE: ClassVar[str] = "dr:backup:BackupAudit"

    def __init__(
        self, name: str, settings: StackSettings, provider: aws.Provider, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(self.TYPE, name, None, opts)
        region = settings.primary_region
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        tier1 = TABLE_TIERS[1].backup
        assert tier1 is not None
        lock = settings.backup.vault_lock
        # One tag key and value per scope (AWS: "a single tag key and optional value").
        scope = aws.backup.FrameworkControlScopeArgs(tags={tags.TIER: "1"})

        def control(control_name: str, **parameters: str) -> aws.backup.FrameworkControlArgs:
            return aws.backup.FrameworkControlArgs(
                name=control_name,
                input_parameters=[
                    aws.backup.FrameworkControlInputParameterArgs(name=key, value=value)
                    for key, value in parameters.items()
                ],
                scope=scope,
            )

        controls = [
            control("BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN"),
            control(
                "BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK",
                requiredFrequencyUnit="hours",
                requiredFrequencyValue=str(tier1.rpo_minutes // 60),
                requiredRetentionDays=str(settings.backup.s3.snapshot_retention_days),
            ),
            control(
                "BACKUP_RECOVERY_POINT_MINIMUM_RETENTION_CHECK", requiredRetentionDays=str(lock.min_retention_days)
            ),
            control("BACKUP_RECOVERY_POINT_ENCRYPTED"),
            control("BACKUP_RECOVERY_POINT_MANUAL_DELETION_DISABLED"),
            control(
                "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_VAULT_LOCK",
                minRetentionDays=str(lock.min_retention_days),
                maxRetentionDays=str(lock.max_retention_days),
            ),
            control(
                "BACKUP_LAST_RECOVERY_POINT_CREATED",
                recoveryPointAgeUnit="hours",
                recoveryPointAgeValue=str(S3_SNAPSHOT_RPO_MINUTES // 60),
            ),
        ]
        assert len(controls) <= MAX_CONTROLS_PER_REGION
        assert {c.name for c in controls} <= set(FRAMEWORK_CONTROLS)  # type: ignore[attr-defined]
        aws.backup.Framework(
            name,
            name=f"{settings.name_prefix}_dr_tier1".replace("-", "_")[:256],
            description="DR tier 1: protected by a plan, frequency and retention, encryption, locks, recent points",
            controls=controls,
            region=region,
            tags={tags.COMPONENT: name},
            opts=child,
        )
        aws.backup.ReportPlan(
            f"{name}-report",
            name=f"{settings.name_prefix}_dr_backup_jobs".replace("-", "_")[:256],
            description="AWS Backup job report for the DR stack",
            report_delivery_channel=aws.backup.ReportPlanReportDeliveryChannelArgs(
                s3_bucket_name=settings.batch_reports.primary_bucket_name,
                s3_key_prefix=AUDIT_REPORT_PREFIX,
                formats=["CSV", "JSON"],
            ),
            report_setting=aws.backup.ReportPlanReportSettingArgs(report_template="BACKUP_JOB_REPORT"),
            region=region,
            tags={tags.COMPONENT: name},
            opts=child,
        )
        self.register_outputs({})


def build_tables_with_backup(
    settings: StackSettings, providers: Mapping[str, aws.Provider], topics: Mapping[str, pulumi.Input[str]]
) -> tuple[Tables, BackupEstate]:
    """The account opt-in and isolated vaults first, the tables and their plans, then S3, restore tests and audit."""
    estate = prepare_backup(settings, providers)
    opt_in = estate.settings.resources if estate.settings else []
    tables = build_tables(settings, providers, topics, estate.isolated, opt_in)
    return tables, finish_backup(settings, providers, topics, estate, tables.backup)
