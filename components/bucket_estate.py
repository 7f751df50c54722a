"""Every bucket of the stack, in the order their key policies need: the data buckets, then the reports bucket of
each Region (its key policy names the Batch restore and journal roles the data buckets created; S3 Inventory
delivers only within the source's Region, so tier-1 replicas report to the recovery Region's twin), then the Glue
and Athena catalog beside each reports bucket (components/inventory.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import arns
from components.buckets import BUCKET_COMPONENTS, BucketGrant, TieredBucket, TieredBucketArgs
from components.inventory import JournalRoles, RecoveryCatalog, RecoveryCatalogArgs
from components.keys import NO_KEY_USERS, BucketKeyUsers, merge_bucket_key_users
from stackmodel.config import BucketSpec, StackSettings


@dataclass(frozen=True)
class BucketEstate:
    buckets: dict[str, TieredBucket]
    batch_reports: TieredBucket
    recovery_reports: TieredBucket
    catalogs: dict[str, RecoveryCatalog]  # Region -> its catalog (Regions with a versioned inventory)


def build_buckets(
    settings: StackSettings,
    providers: Mapping[str, aws.Provider],
    alert_topic_arns: Mapping[str, pulumi.Input[str]],
    key_users: Mapping[str, BucketKeyUsers],
    policy_grants: Mapping[str, Sequence[BucketGrant]] | None = None,
) -> BucketEstate:
    """``key_users`` and ``policy_grants``: bucket name -> other components' grants in its key and bucket policies
    (built before the buckets, so the policies can wait for their principals)."""
    grants = policy_grants or {}

    def tiered(
        spec: BucketSpec,
        users: BucketKeyUsers,
        *,
        reports: str | None = None,
        region: str = settings.primary_region,
        inventory_sources: tuple[str, ...] = (),
    ) -> TieredBucket:
        args = TieredBucketArgs(
            spec=spec,
            primary_region=region,
            primary_provider=providers[region],
            recovery_region=settings.recovery_region,
            recovery_provider=providers[settings.recovery_region],
            alert_topic_arns=alert_topic_arns,
            batch_reports_bucket=reports,
            key_users=users.primary,
            replica_key_users=users.replica,
            inventory_reports=settings.inventory_reports,
            inventory_sources=inventory_sources,
            policy_grants=tuple(grants.get(spec.name, ())),
        )
        return BUCKET_COMPONENTS[spec.tier](spec.name, args)

    buckets = {
        spec.name: tiered(
            spec, key_users.get(spec.name, NO_KEY_USERS), reports=settings.batch_reports.primary_bucket_name
        )
        for spec in settings.buckets
    }
    journals = [roles for bucket in buckets.values() for roles in bucket.journal_roles]

    def in_region(region: str) -> list[JournalRoles]:
        return [roles for roles in journals if roles.region == region]

    def sources(region: str) -> tuple[str, ...]:
        return tuple(arns.bucket_arn(roles.source_bucket, region) for roles in in_region(region))

    batch_users = tuple(filter(None, (bucket.batch_reports_key_user for bucket in buckets.values())))
    reports, twin = settings.batch_reports, settings.recovery_reports
    primary_users = BucketKeyUsers(batch_users + tuple(r.key_user for r in in_region(settings.primary_region)))
    batch_reports = tiered(
        reports,
        merge_bucket_key_users(key_users, {reports.name: primary_users})[reports.name],
        inventory_sources=sources(settings.primary_region),
    )
    recovery_reports = tiered(
        twin,
        BucketKeyUsers(tuple(r.key_user for r in in_region(settings.recovery_region))),
        region=settings.recovery_region,
        inventory_sources=sources(settings.recovery_region),
    )
    catalogs = {
        region: RecoveryCatalog(
            f"dr-catalog-{region}",
            RecoveryCatalogArgs(
                region=region,
                provider=providers[region],
                reports_bucket=bucket.primary_name,
                reports_key_arn=bucket.primary_key_arn,
                sources=in_region(region),
                tags=bucket.objective_tags,
            ),
        )
        for region, bucket in ((settings.primary_region, batch_reports), (settings.recovery_region, recovery_reports))
        if in_region(region)
    }
    return BucketEstate(buckets, batch_reports, recovery_reports, catalogs)
