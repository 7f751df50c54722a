"""Disaster recovery as code: settings, then providers, then components, then exports."""

import pulumi

from components.alerting import AlertTopic, AlertTopicArgs
from components.buckets import BUCKET_COMPONENTS, TieredBucket, TieredBucketArgs
from components.drills import stack_drills
from components.inventory import RecoveryCatalog, RecoveryCatalogArgs
from components.keys import NO_KEY_USERS, BucketKeyUsers, KeyUser, merge_bucket_key_users
from components.providers import regional_providers
from components.site import failover_sites
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


def tiered_bucket(
    spec: BucketSpec,
    reports: str | None = None,
    users: BucketKeyUsers = NO_KEY_USERS,
    *,
    region: str = settings.primary_region,
    inventory_sources: tuple[str, ...] = (),
) -> TieredBucket:
    args = TieredBucketArgs(
        spec=spec,
        primary_region=region,
        primary_provider=providers[region],
        recovery_region=settings.recovery_region,
        recovery_provider=recovery,
        alert_topic_arns=alerts.topic_arns,
        batch_reports_bucket=reports,
        key_users=users.primary,
        replica_key_users=users.replica,
        inventory_reports=settings.inventory_reports,
        inventory_sources=inventory_sources,
    )
    return BUCKET_COMPONENTS[spec.tier](spec.name, args)


# Tables (and their AWS Backup) and drills come before the buckets, whose key policies name their roles.
tables = build_tables(settings, providers, alerts.topic_arns)
drills = stack_drills(settings, pulumi.get_stack(), providers, alerts.topic_arns)  # FIS and scheduled drills
key_users = merge_bucket_key_users(tables.bucket_key_users, drills.bucket_key_users if drills else {})
buckets = {
    spec.name: tiered_bucket(spec, settings.batch_reports.primary_bucket_name, key_users.get(spec.name, NO_KEY_USERS))
    for spec in settings.buckets
}
# S3 Batch Operations manifests and reports for big restores, inventories and change journals; last: its key policy
# names each Batch restore role and journal role. Its twin in the recovery Region receives the replicas' inventories.
journals = [roles for bucket in buckets.values() for roles in bucket.journal_roles]
batch_restore_users = tuple(filter(None, (b.batch_reports_key_user for b in buckets.values())))
reports, twin = settings.batch_reports, settings.recovery_reports


def journal_users(region: str) -> tuple[KeyUser, ...]:
    return tuple(roles.key_user for roles in journals if roles.region == region)


def sources_in(region: str) -> tuple[str, ...]:
    return tuple(f"arn:aws:s3:::{roles.source_bucket}" for roles in journals if roles.region == region)


batch_reports = tiered_bucket(
    reports,
    users=merge_bucket_key_users(
        key_users, {reports.name: BucketKeyUsers(batch_restore_users + journal_users(settings.primary_region))}
    )[reports.name],
    inventory_sources=sources_in(settings.primary_region),
)
recovery_reports = tiered_bucket(
    twin,
    users=BucketKeyUsers(journal_users(settings.recovery_region)),
    region=settings.recovery_region,
    inventory_sources=sources_in(settings.recovery_region),
)
# Glue tables, journal streams and an Athena workgroup beside each Region's reports bucket.
catalogs = {
    region: RecoveryCatalog(
        f"dr-catalog-{region}",
        RecoveryCatalogArgs(
            region=region,
            provider=providers[region],
            reports_bucket=bucket.primary_name,
            reports_key_arn=bucket.primary_key_arn,
            sources=[roles for roles in journals if roles.region == region],
            tags=bucket.objective_tags,
        ),
    )
    for region, bucket in ((settings.primary_region, batch_reports), (settings.recovery_region, recovery_reports))
    if any(roles.region == region for roles in journals)
}

# Exports: what drctl and drills need to find each data store.
pulumi.export("primaryRegion", settings.primary_region)
pulumi.export("recoveryRegion", settings.recovery_region)
pulumi.export("alertTopicArns", alerts.topic_arns)  # Region -> topic (alarms notify their own Region's)
pulumi.export("batchReportsBucket", batch_reports.primary_bucket_name)  # drctl --batch-report-bucket
# drctl --inventory-bucket (per Region) and --athena-workgroup
pulumi.export("inventoryBuckets", settings.inventory_reports)
pulumi.export("athenaWorkgroups", {region: catalog.workgroup_name for region, catalog in catalogs.items()})
pulumi.export("buckets", {name: bucket.stack_export() for name, bucket in buckets.items()})
for key, value in tables.exports.items():  # tables.<name>.{name, regions, …}, backupVaults, backupRoleArn
    pulumi.export(key, value)
# Failover sites: Route 53 through us-east-1, the orchestrator and its switch in the recovery region.
sites = failover_sites(settings, providers, alerts.topic_arns)
pulumi.export("sites", {name: site.exports() for name, site in sites.items()})
pulumi.export("drills", {"fisTemplates": drills.fis_templates if drills else {}})
