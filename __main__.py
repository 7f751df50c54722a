"""Disaster recovery as code: settings, then providers, then components, then exports."""

import pulumi
import pulumi_aws as aws

from components import config as dr_settings
from components.alerting import AlertTopic, AlertTopicArgs
from components.buckets import BUCKET_COMPONENTS, TieredBucket, TieredBucketArgs
from components.drills import stack_drills
from components.local import provider_args

# Settings: parsed and validated once; any problem stops the program before a resource is registered.
settings = dr_settings.load(pulumi.get_project())

# Providers: one per region, never the ambient region (default providers are disabled in every stack).
# A local stack (localEndpoint) points every provider at the emulator instead (components/local.py).
primary = aws.Provider("primary", region=settings.primary_region, **provider_args(settings.local_endpoint))
recovery = aws.Provider("recovery", region=settings.recovery_region, **provider_args(settings.local_endpoint))
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
drills = stack_drills(settings, pulumi.get_stack(), (primary, recovery), {settings.primary_region: alerts.topic_arn})

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
pulumi.export("drills", {"fisTemplates": drills.fis_templates if drills else {}})
