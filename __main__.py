"""Disaster recovery as code: settings, then providers, then components, then exports."""

import pulumi

from components.alerting import AlertTopic, AlertTopicArgs
from components.buckets import BUCKET_COMPONENTS, TieredBucket, TieredBucketArgs
from components.drills import stack_drills
from components.keys import NO_KEY_USERS, BucketKeyUsers, merge_bucket_key_users
from components.providers import regional_providers
from components.site import failover_sites, site_bucket_key_users
from components.stack_config import load as load_settings
from components.table_estate import build_tables
from stackmodel.config import BucketSpec

# Settings: parsed and validated once; any problem stops the program before a resource is registered.
settings = load_settings(pulumi.get_project())

# Providers: one per Region, never the ambient Region (default providers are disabled in every stack).
providers = regional_providers(settings)
primary, recovery = providers[settings.primary_region], providers[settings.recovery_region]

# Components. An alert topic in each Region that holds alarms: an alarm can only notify a topic in its own Region.
alerts = AlertTopic("dr-alerts", AlertTopicArgs(f"{settings.name_prefix}-dr-alerts", settings.alert_email, providers))


def tiered_bucket(spec: BucketSpec, reports: str | None = None, users: BucketKeyUsers = NO_KEY_USERS) -> TieredBucket:
    args = TieredBucketArgs(
        spec=spec,
        primary_region=settings.primary_region,
        primary_provider=primary,
        recovery_region=settings.recovery_region,
        recovery_provider=recovery,
        alert_topic_arns=alerts.topic_arns,
        batch_reports_bucket=reports,
        key_users=users.primary,
        replica_key_users=users.replica,
    )
    return BUCKET_COMPONENTS[spec.tier](spec.name, args)


# Tables (and their AWS Backup), drills and failover sites come before the buckets, whose key policies name their
# roles (a site's orchestrator copies writes back from the replica on failback).
tables = build_tables(settings, providers, alerts.topic_arns)
drills = stack_drills(settings, pulumi.get_stack(), providers, alerts.topic_arns)  # FIS and scheduled drills
sites = failover_sites(settings, providers, alerts.topic_arns)  # Route 53 via us-east-1, orchestrators in recovery
key_users = merge_bucket_key_users(
    tables.bucket_key_users, drills.bucket_key_users if drills else {}, site_bucket_key_users(sites)
)
buckets = {
    spec.name: tiered_bucket(spec, settings.batch_reports.primary_bucket_name, key_users.get(spec.name, NO_KEY_USERS))
    for spec in settings.buckets
}
# S3 Batch Operations manifests and reports for big restores; last: its key policy names each Batch restore role.
batch_restore_users = BucketKeyUsers(tuple(filter(None, (b.batch_reports_key_user for b in buckets.values()))))
reports = settings.batch_reports
batch_reports = tiered_bucket(
    reports, users=merge_bucket_key_users(key_users, {reports.name: batch_restore_users})[reports.name]
)

# Exports: what drctl and drills need to find each data store.
pulumi.export("primaryRegion", settings.primary_region)
pulumi.export("recoveryRegion", settings.recovery_region)
pulumi.export("alertTopicArns", alerts.topic_arns)  # Region -> topic (alarms notify their own Region's)
pulumi.export("batchReportsBucket", batch_reports.primary_bucket_name)  # drctl --batch-report-bucket
pulumi.export("buckets", {name: bucket.stack_export() for name, bucket in buckets.items()})
for key, value in tables.exports.items():  # tables.<name>.{name, regions, …}, backupVaults, backupRoleArn
    pulumi.export(key, value)
pulumi.export("sites", {name: site.exports() for name, site in sites.items()})
pulumi.export("drills", {"fisTemplates": drills.fis_templates if drills else {}})
