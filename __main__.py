"""Disaster recovery as code: settings, then providers, then components, then exports."""

import pulumi

from components.alerting import AlertTopic, AlertTopicArgs
from components.backup_estate import build_tables_with_backup
from components.bucket_estate import build_buckets
from components.drills import stack_drills
from components.keys import merge_bucket_key_users
from components.providers import regional_providers
from components.site import failover_sites, site_bucket_key_users
from components.stack_config import load as load_settings

# Settings: parsed and validated once; any problem stops the program before a resource is registered.
settings = load_settings(pulumi.get_project())

# Providers: one per Region, never the ambient Region (default providers are disabled in every stack).
providers = regional_providers(settings)

# Components. An alert topic in each Region that holds alarms: an alarm can only notify a topic in its own Region.
alerts = AlertTopic("dr-alerts", AlertTopicArgs(f"{settings.name_prefix}-dr-alerts", settings.alert_email, providers))


# Tables with AWS Backup (isolated vaults, S3, restore tests, audit), drills and failover sites precede the buckets'
# key policies, which name their roles (a site's orchestrator copies writes back from the replica on failback).
tables, backup = build_tables_with_backup(settings, providers, alerts.topic_arns)
drills = stack_drills(settings, pulumi.get_stack(), providers, alerts.topic_arns)  # FIS and scheduled drills
sites = failover_sites(settings, providers, alerts.topic_arns)  # Route 53 via us-east-1, orchestrators in recovery
key_users = merge_bucket_key_users(
    tables.bucket_key_users, drills.bucket_key_users if drills else {}, site_bucket_key_users(sites)
)
key_users = merge_bucket_key_users(key_users, backup.bucket_key_users)  # AWS Backup for S3 reads the buckets
# data, reports (Backup Audit Manager's report grants), then catalogs
estate = build_buckets(settings, providers, alerts.topic_arns, key_users, backup.bucket_policy_grants)
buckets, batch_reports = estate.buckets, estate.batch_reports

# Exports: what drctl and drills need to find each data store.
pulumi.export("primaryRegion", settings.primary_region)
pulumi.export("recoveryRegion", settings.recovery_region)
pulumi.export("alertTopicArns", alerts.topic_arns)  # Region -> topic (alarms notify their own Region's)
pulumi.export("batchReportsBucket", batch_reports.primary_bucket_name)  # drctl --batch-report-bucket
# drctl --inventory-bucket (per Region) and --athena-workgroup
pulumi.export("inventoryBuckets", settings.inventory_reports)
pulumi.export("athenaWorkgroups", {region: catalog.workgroup_name for region, catalog in estate.catalogs.items()})
pulumi.export("buckets", {name: bucket.stack_export() for name, bucket in buckets.items()})
# tables.<name>.{name, regions, …}, backupVaults, backupRoleArn; backupStatus (drctl backup status), bucketBackup
for key, value in {**tables.exports, **backup.exports}.items():
    pulumi.export(key, value)
pulumi.export("sites", {name: site.exports() for name, site in sites.items()})
pulumi.export(
    "drills",
    {
        "fisTemplates": drills.fis_templates if drills else {},
        "workflowArn": drills.drill_workflow_arn if drills else None,
    },
)
