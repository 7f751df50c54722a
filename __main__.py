"""Disaster recovery as code: settings, then providers, then components, then exports."""

import pulumi

from components import config as dr_settings
from components.alerting import AlertTopic, AlertTopicArgs
from components.buckets import BUCKET_COMPONENTS, TieredBucket, TieredBucketArgs
from components.keys import KeyUser
from components.table_estate import build_tables, regional_providers

# Settings: parsed and validated once; any problem stops the program before a resource is registered.
settings = dr_settings.load(pulumi.get_project())

# Providers: one per region, never the ambient region (default providers are disabled in every stack).
providers = regional_providers(settings)  # "primary", "recovery", then one per further region a table uses
primary, recovery = providers[settings.primary_region], providers[settings.recovery_region]

# Components. An alert topic in each Region that holds alarms: an alarm can only notify a topic in its own Region.
alerts = AlertTopic(
    "dr-alerts",
    AlertTopicArgs(
        topic_name=f"{settings.name_prefix}-dr-alerts",
        email=settings.alert_email,
        providers=providers,
    ),
)


def tiered_bucket(
    spec: dr_settings.BucketSpec, reports: str | None = None, users: tuple[KeyUser, ...] = ()
) -> TieredBucket:
    args = TieredBucketArgs(
        spec=spec,
        primary_region=settings.primary_region,
        primary_provider=primary,
        recovery_region=settings.recovery_region,
        recovery_provider=recovery,
        alert_topic_arns=alerts.topic_arns,
        batch_reports_bucket=reports,
        key_users=users,
    )
    return BUCKET_COMPONENTS[spec.tier](spec.name, args)


# DynamoDB global tables and their AWS Backup; before the buckets, whose key policies name the tables' export roles.
tables = build_tables(settings, providers, alerts.topic_arns)
buckets = {
    spec.name: tiered_bucket(
        spec, settings.batch_reports.primary_bucket_name, tables.bucket_key_users.get(spec.name, ())
    )
    for spec in settings.buckets
}
# S3 Batch Operations manifests and reports for big restores; last: its key policy names each Batch restore role.
batch_reports = tiered_bucket(
    settings.batch_reports, users=tuple(filter(None, (b.batch_reports_key_user for b in buckets.values())))
)

# Exports: what drctl and drills need to find each data store.
pulumi.export("primaryRegion", settings.primary_region)
pulumi.export("recoveryRegion", settings.recovery_region)
pulumi.export("alertTopicArns", alerts.topic_arns)  # Region -> topic (alarms notify their own Region's)
pulumi.export("batchReportsBucket", batch_reports.primary_bucket_name)  # drctl --batch-report-bucket
pulumi.export("buckets", {name: bucket.stack_export() for name, bucket in buckets.items()})
for key, value in tables.exports.items():  # tables.<name>.{name, regions, …}, backupVaults, backupRoleArn
    pulumi.export(key, value)
