"""Disaster recovery as code: settings, then providers, then components, then exports."""

import pulumi
import pulumi_aws as aws

from components import config as dr_settings
from components.alerting import AlertTopic, AlertTopicArgs
from components.buckets import BUCKET_COMPONENTS, TieredBucket, TieredBucketArgs
from components.site import ARC_CONTROL_PLANE_REGION, ROUTE53_REGION, FailoverSite, FailoverSiteArgs, LinkedBucket

# Settings: parsed and validated once; any problem stops the program before a resource is registered.
settings = dr_settings.load(pulumi.get_project())

# Providers: one per region, never the ambient region (default providers are disabled in every stack).
primary = aws.Provider("primary", region=settings.primary_region)
recovery = aws.Provider("recovery", region=settings.recovery_region)

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

# Failover sites: Route 53 resources through a us-east-1 provider (even when neither stack region is), the
# orchestrator and its switch in the recovery region, ARC (when chosen) through its own pinned provider.
if settings.sites:
    assert settings.app is not None  # config requires app when sites exist
    regional = {settings.primary_region: primary, settings.recovery_region: recovery}
    route53 = regional.get(ROUTE53_REGION) or aws.Provider("route53", region=ROUTE53_REGION)
    # Alarms notify a topic in their own region; until AlertTopic holds one per region (issue 10), one per region.
    topics: dict[str, pulumi.Input[str]] = {settings.primary_region: alerts.topic_arn}
    for region, provider in ((settings.recovery_region, recovery), (ROUTE53_REGION, route53)):
        if region not in topics:
            topics[region] = AlertTopic(
                f"dr-alerts-{region}",
                AlertTopicArgs(
                    topic_name=f"{settings.name_prefix}-dr-alerts-{region}",
                    email=settings.alert_email,
                    region=region,
                    provider=provider,
                ),
            ).topic_arn
    arc = (
        aws.Provider("arc", region=ARC_CONTROL_PLANE_REGION)
        if any(site.switch == "arc" for site in settings.sites)
        else None
    )
    by_name = {spec.name: spec for spec in settings.buckets}
    sites = {
        site.name: FailoverSite(
            f"site-{site.name}",
            FailoverSiteArgs(
                spec=site,
                app=settings.app,
                name_prefix=settings.name_prefix,
                primary_region=settings.primary_region,
                recovery_region=settings.recovery_region,
                primary_provider=primary,
                recovery_provider=recovery,
                route53_provider=route53,
                alert_topic_arns=topics,
                arc_provider=arc,
                buckets=[
                    LinkedBucket(
                        logical=name,
                        primary_name=by_name[name].primary_bucket_name,
                        primary_region=settings.primary_region,
                        replica_name=by_name[name].replica_bucket_name or "",
                        replica_region=settings.recovery_region,
                    )
                    for name in site.buckets
                ],
                # Linked tables arrive with issue 13's GlobalTable: LinkedTable(logical, table name, regions).
                tables=[],
            ),
        )
        for site in settings.sites
    }
    pulumi.export(
        "sites",
        {
            name: {
                "descriptorParameter": site.descriptor_parameter,
                "descriptor": site.descriptor,
                "rtoBudget": site.rto_budget,
                "orchestrator": site.orchestrator_function_name,
                "dashboard": site.dashboard_name,
            }
            for name, site in sites.items()
        },
    )
