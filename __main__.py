"""Disaster recovery as code: settings, then providers, then components, then exports."""

import pulumi
import pulumi_aws as aws

from components import config as dr_settings
from components.alerting import AlertTopic, AlertTopicArgs
from components.backup import TableBackup, TableBackupArgs, plan_name
from components.buckets import BUCKET_COMPONENTS, TieredBucket, TieredBucketArgs
from components.tables import DynamoDbAccountAlarms, DynamoDbAccountAlarmsArgs, GlobalTable, GlobalTableArgs

# Settings: parsed and validated once; any problem stops the program before a resource is registered.
settings = dr_settings.load(pulumi.get_project())

# Providers: one per region, never the ambient region (default providers are disabled in every stack).
primary = aws.Provider("primary", region=settings.primary_region)
recovery = aws.Provider("recovery", region=settings.recovery_region)
providers = {settings.primary_region: primary, settings.recovery_region: recovery}
for table_region in settings.table_regions:  # one explicit provider per further region a table uses
    if table_region not in providers:
        providers[table_region] = aws.Provider(f"region-{table_region}", region=table_region)

# Components.
alerts = AlertTopic(
    "dr-alerts",
    AlertTopicArgs(
        topic_name=f"{settings.name_prefix}-dr-alerts",
        email=settings.alert_email,
        region=settings.primary_region,
        provider=primary,
    ),
)

# Alarms notify a topic in their own region: region -> topic ARN for every region that holds alarms.
alert_topic_arns: dict[str, pulumi.Input[str]] = {settings.primary_region: alerts.topic_arn}
for alarm_region in dict.fromkeys((settings.recovery_region, *settings.table_regions)):
    if alarm_region not in alert_topic_arns and (settings.tables or alarm_region == settings.recovery_region):
        alert_topic_arns[alarm_region] = AlertTopic(
            f"dr-alerts-{alarm_region}",
            AlertTopicArgs(
                topic_name=f"{settings.name_prefix}-dr-alerts",
                email=settings.alert_email,
                region=alarm_region,
                provider=providers[alarm_region],
            ),
        ).topic_arn


def tiered_bucket(spec: dr_settings.BucketSpec, batch_reports_bucket: str | None = None) -> TieredBucket:
    args = TieredBucketArgs(
        spec=spec,
        primary_region=settings.primary_region,
        primary_provider=primary,
        recovery_region=settings.recovery_region,
        recovery_provider=recovery,
        alert_topic_arn=alerts.topic_arn,
        batch_reports_bucket=batch_reports_bucket,
    )
    return BUCKET_COMPONENTS[spec.tier](spec.name, args)


# S3 Batch Operations manifests and reports for restores too large for one machine.
batch_reports = tiered_bucket(settings.batch_reports)
buckets = {spec.name: tiered_bucket(spec, settings.batch_reports.primary_bucket_name) for spec in settings.buckets}

# DynamoDB global tables, their AWS Backup plans and the account-level DynamoDB alarms.
backup_rules = tuple(dict.fromkeys(t.backup for t in settings.tables if t.backup is not None))
table_backup = (
    TableBackup(
        "table-backup",
        TableBackupArgs(
            name_prefix=settings.name_prefix,
            primary_region=settings.primary_region,
            recovery_region=settings.recovery_region,
            providers=providers,
            alert_topic_arns=alert_topic_arns,
            settings=settings.backup,
            rules=backup_rules,
        ),
    )
    if backup_rules
    else None
)
bucket_specs = {spec.name: spec for spec in settings.buckets}
tables = {
    spec.name: GlobalTable(
        spec.name,
        GlobalTableArgs(
            spec=spec,
            app=settings.app or "",
            providers=providers,
            alert_topic_arns=alert_topic_arns,
            backup_plan=plan_name(settings.name_prefix, spec.backup) if spec.backup else None,
            export_bucket=bucket_specs[spec.export.bucket] if spec.export else None,
        ),
        pulumi.ResourceOptions(depends_on=[table_backup] if table_backup else None),
    )
    for spec in settings.tables
}
if settings.tables:
    DynamoDbAccountAlarms(
        "dynamodb-account",
        DynamoDbAccountAlarmsArgs(
            regions=settings.table_regions, providers=providers, alert_topic_arns=alert_topic_arns
        ),
    )

# Exports: what drctl and drills need to find each data store.
pulumi.export("primaryRegion", settings.primary_region)
pulumi.export("recoveryRegion", settings.recovery_region)
pulumi.export("alertTopicArn", alerts.topic_arn)
pulumi.export("batchReportsBucket", batch_reports.primary_bucket_name)  # drctl --batch-report-bucket
pulumi.export(
    "buckets",
    {
        spec.name: {
            "tier": spec.tier,
            "primary": buckets[spec.name].primary_bucket_name,
            "primaryArn": buckets[spec.name].primary_bucket_arn,
            "replica": buckets[spec.name].replica_bucket_name,
            "replicaArn": buckets[spec.name].replica_bucket_arn,
            "replicaRegion": buckets[spec.name].replica_region,
            "batchRestoreRoleArn": buckets[spec.name].batch_restore_role_arn,  # drctl --batch-role-arn
        }
        for spec in settings.buckets
    },
)
pulumi.export(
    "tables",
    {
        spec.name: {
            "name": spec.table_name,
            "regions": list(spec.regions),
            "primaryRegion": spec.primary_region,
            "consistencyMode": spec.consistency_mode,
            "streamArn": tables[spec.name].stream_arn,
            "activeTableParameter": tables[spec.name].active_table_parameter,
        }
        for spec in settings.tables
    },
)
if table_backup is not None:
    pulumi.export("backupVaults", table_backup.vault_names)  # drctl restore-table --vault
    pulumi.export("backupRoleArn", table_backup.role_arn)  # drctl restore-table --recovery-point
