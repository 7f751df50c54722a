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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pulumi
import pulumi_aws as aws

from components import arns, iam, tags
from components.backup import START_WINDOW_MINUTES as TABLE_START_WINDOW_MINUTES
from components.backup import TableBackup, plan_name
from components.buckets import BucketGrant
from components.isolation import (
    S3_RESTORE_BUCKET_ACTIONS,
    S3_RESTORE_OBJECT_ACTIONS,
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
from components.keys import BucketKeyUsers, KeyUser, merge_bucket_key_users, via_services
from components.recovery_function import EventTrigger, RecoveryFunction, RecoveryFunctionArgs
from components.table_estate import Tables, build_tables
from handlers.runtime_names import BACKUP_PLAN_TAG
from stackmodel.config import StackSettings
from stackmodel.config.isolation import DYNAMODB, S3
from stackmodel.tiers import ISOLATION, S3_SNAPSHOT_RPO_MINUTES, TABLE_TIERS, FailureMode

VALIDATION_HANDLER = "handlers.backup.restore_validation.lambda_handler"
# Backup Audit Manager control names, each with a CreateFramework sample in AWS Backup Developer Guide, "Creating
# frameworks using the AWS Backup API"; their parameters and scopes in "Controls and remediation".
FRAMEWORK_CONTROLS = (
    "BACKUP_RECOVERY_POINT_MINIMUM_RETENTION_CHECK",
    "BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK",
    "BACKUP_RECOVERY_POINT_ENCRYPTED",
    "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN",
    "BACKUP_RECOVERY_POINT_MANUAL_DELETION_DISABLED",
    "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_VAULT_LOCK",
    "BACKUP_LAST_RECOVERY_POINT_CREATED",
    "BACKUP_RESOURCES_PROTECTED_BY_CROSS_REGION",
    "BACKUP_RESOURCES_PROTECTED_BY_CROSS_ACCOUNT",
    "RESOURCES_IN_LOGICALLY_AIR_GAPPED_VAULT",
)
# "Resources in a logically air-gapped vault": recoveryPointAgeValue in hours is 24-2184 ("Controls and remediation").
LAG_CONTROL_MIN_HOURS = 24
# "Last recovery point was created": hours 1-744.
LAST_POINT_MAX_HOURS = 744
MAX_CONTROLS_PER_REGION = 50
AUDIT_REPORT_PREFIX = "dr-audit"
# Backup Audit Manager writes reports as its service-linked role, which AWS Backup creates with the account's first
# framework or report plan (AWS Backup Developer Guide, "Using roles for AWS Backup Audit Manager"). That role's policy
# (AWSServiceRolePolicyForBackupReports) grants no S3 or KMS action, so the reports bucket's policy and key policy
# grant them: s3:PutObject with bucket-owner-full-control ("Creating report plans using the AWS Backup console",
# sample bucket policy) and kms:GenerateDataKey and kms:Decrypt ("Creating report plans using the AWS Backup API").
REPORTS_ROLE_PATH = "aws-service-role/reports.backup.amazonaws.com/AWSServiceRoleForBackupReports"


@dataclass
class BackupEstate:
    settings: BackupAccountSettings | None = None
    isolated: IsolatedVaults | None = None
    buckets: BucketBackup | None = None
    bucket_key_users: dict[str, BucketKeyUsers] = field(default_factory=dict)
    # Bucket name -> statements for its bucket policy (Backup Audit Manager delivering into the reports bucket).
    bucket_policy_grants: dict[str, list[BucketGrant]] = field(default_factory=dict)
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
        audit = BackupAudit("backup-audit", settings, providers[settings.primary_region])
        reports = settings.batch_reports.name
        estate.bucket_policy_grants.setdefault(reports, []).append(audit.report_bucket_grant)
        estate.bucket_key_users = merge_bucket_key_users(
            estate.bucket_key_users, {reports: BucketKeyUsers(primary=(audit.report_key_user,))}
        )
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
                "Action": list(S3_RESTORE_BUCKET_ACTIONS),
                "Resource": f"arn:{partition}:s3:::*",
            },
            {
                "Sid": "RestoreObjects",
                "Effect": "Allow",
                "Action": list(S3_RESTORE_OBJECT_ACTIONS),
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


ControlFactory = Callable[..., aws.backup.FrameworkControlArgs]


def isolation_controls(settings: StackSettings, control: ControlFactory) -> list[aws.backup.FrameworkControlArgs]:
    """The controls that prove the goal of issue 20: every tier-1 store has a recovery point outside the account
    (and outside its Region) within its RPO. Scopes follow "Controls and remediation": the tables' controls take the
    tag their plan's selection matches (``dr:backup-plan``, one key and value), so each plan is judged by its own RPO;
    "Resources in a logically air-gapped vault" takes no tag scope, only resource types. The cross-Region and
    cross-account controls run without parameters, as AWS's CreateFramework samples do: the parameter that pins the
    Regions or accounts is not named on those pages (AWS Config's managed rules call it crossRegionList /
    crossAccountList; not confirmed for Backup Audit Manager)."""
    isolation = settings.backup.isolation
    rules = list(dict.fromkeys(t.backup for t in settings.tables if t.tier == 1 and t.backup is not None))
    found: list[aws.backup.FrameworkControlArgs] = []
    for rule in rules:
        plan = aws.backup.FrameworkControlScopeArgs(tags={BACKUP_PLAN_TAG: plan_name(settings.name_prefix, rule)})
        # The plan's own RPO (an hourly plan proves hours, not the buckets' day), plus the start window within which
        # AWS Backup starts each job: a point can be that much older without a missed backup.
        hours = min(-(-(rule.rpo_minutes + TABLE_START_WINDOW_MINUTES) // 60), LAST_POINT_MAX_HOURS)
        found.append(
            control(
                "BACKUP_LAST_RECOVERY_POINT_CREATED",
                plan,
                recoveryPointAgeUnit="hours",
                recoveryPointAgeValue=str(hours),
            )
        )
        # Every table plan copies to the recovery Region's vault (components/backup.py).
        found.append(control("BACKUP_RESOURCES_PROTECTED_BY_CROSS_REGION", plan))
        if 1 in isolation.tiers and isolation.kind_for(DYNAMODB) == "account":
            found.append(control("BACKUP_RESOURCES_PROTECTED_BY_CROSS_ACCOUNT", plan))
    if 1 not in isolation.tiers or not isolation.configured:
        return found
    stores = {DYNAMODB: bool(rules), S3: bool(bucket_backup_specs(settings))}
    by_kind: dict[str | None, list[str]] = {}
    for resource_type, present in stores.items():
        if present:
            by_kind.setdefault(isolation.kind_for(resource_type), []).append(resource_type)
    if S3 in by_kind.get("account", []):  # buckets carry no plan tag: the S3 type is the scope
        found.append(
            control(
                "BACKUP_RESOURCES_PROTECTED_BY_CROSS_ACCOUNT",
                aws.backup.FrameworkControlScopeArgs(compliance_resource_types=[S3]),
            )
        )
    if lag_types := by_kind.get("air-gapped"):
        hours = max(LAG_CONTROL_MIN_HOURS, -(-(ISOLATION[1].account_compromise.rpo_minutes or 0) // 60))
        found.append(
            control(
                "RESOURCES_IN_LOGICALLY_AIR_GAPPED_VAULT",
                aws.backup.FrameworkControlScopeArgs(compliance_resource_types=sorted(lag_types)),
                recoveryPointAgeUnit="hours",
                recoveryPointAgeValue=str(hours),
            )
        )
    return found


def report_delivery_grants(
    bucket_name: str, region: str, account: pulumi.Input[str], report_plan: pulumi.Resource
) -> tuple[BucketGrant, KeyUser]:
    """What the reports bucket's policy and key policy grant Backup Audit Manager (``REPORTS_ROLE_PATH``), written
    after the report plan, whose creation creates the service-linked role they name."""
    role = pulumi.Output.concat("arn:", arns.partition(region), ":iam::", account, ":role/", REPORTS_ROLE_PATH)
    bucket = BucketGrant(
        {
            "Sid": "AllowBackupAuditReports",
            "Effect": "Allow",
            "Principal": {"AWS": role},
            "Action": "s3:PutObject",
            # Under the report plan's prefix only (its reports land at <prefix>/Backup/<account>/<Region>/...).
            "Resource": f"{arns.bucket_arn(bucket_name, region)}/{AUDIT_REPORT_PREFIX}/*",
            "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}},
        },
        report_plan,
    )
    key = KeyUser(
        "BackupAuditReportsUseKey",
        role,
        report_plan,
        ("kms:GenerateDataKey", "kms:Decrypt"),
        via_services(region, "s3"),  # the key is used by S3 encrypting the reports, never directly
    )
    return bucket, key


class BackupAudit(pulumi.ComponentResource):
    TYPE: ClassVar[str] = "dr:backup:BackupAudit"

    # The reports bucket's grants to Backup Audit Manager (report_delivery_grants).
    report_bucket_grant: BucketGrant
    report_key_user: KeyUser

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

        def control(
            control_name: str, scope: aws.backup.FrameworkControlScopeArgs = scope, **parameters: str
        ) -> aws.backup.FrameworkControlArgs:
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
            # Every tier-1 store: a recovery point within the daily snapshot's interval (the buckets' source RPO).
            control(
                "BACKUP_LAST_RECOVERY_POINT_CREATED",
                recoveryPointAgeUnit="hours",
                recoveryPointAgeValue=str(S3_SNAPSHOT_RPO_MINUTES // 60),
            ),
            *isolation_controls(settings, control),
        ]
        assert len(controls) <= MAX_CONTROLS_PER_REGION
        assert {c.name for c in controls} <= set(FRAMEWORK_CONTROLS)  # type: ignore[attr-defined]
        aws.backup.Framework(
            name,
            name=f"{settings.name_prefix}_dr_tier1".replace("-", "_")[:256],
            description="DR tier 1: plans, retention, encryption, locks, recent points, copies outside",
            controls=controls,
            region=region,
            tags={tags.COMPONENT: name},
            opts=child,
        )
        report_plan = aws.backup.ReportPlan(
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
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self, provider=provider))
        self.report_bucket_grant, self.report_key_user = report_delivery_grants(
            settings.batch_reports.primary_bucket_name, region, account.account_id, report_plan
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
