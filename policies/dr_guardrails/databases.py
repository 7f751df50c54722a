"""Point-in-time recovery wherever AWS has it beyond DynamoDB: RDS instances, Aurora (and Multi-AZ) clusters,
DocumentDB and Neptune clusters.

Each keeps automated backups (which give point-in-time restore) for a retention period; deletion protection,
a final snapshot and tags copied to snapshots keep a deleted database recoverable and attributable. pulumi-aws
v7 argument names (checked in the installed `pulumi_aws` package): `backup_retention_period`,
`deletion_protection`, `skip_final_snapshot`, `final_snapshot_identifier`, `copy_tags_to_snapshot` (RDS
instances and clusters, Neptune clusters; DocumentDB clusters have no `copy_tags_to_snapshot`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from pulumi_policy import ResourceValidationArgs

from . import types
from .framework import Config
from .props import UNKNOWN, Tags, argument, cannot_verify, describe, expect, is_absent, lookup, number
from .tiers import TIER_TAG, tier_minimum, tier_minimum_schema

# Provider defaults when `backup_retention_period` is not set (pulumi-aws docs: rds.Instance "Default is `0`";
# rds.Cluster, docdb.Cluster, neptune.Cluster "Default `1`").
DEFAULT_RETENTION_DAYS: Final = {
    **dict.fromkeys(types.RDS_INSTANCE, 0),
    **dict.fromkeys(types.RDS_CLUSTER | types.DOCDB_CLUSTER | types.NEPTUNE_CLUSTER, 1),
}
CLUSTER_ENGINES: Final = ("aurora", "docdb", "neptune")

RETENTION_SCHEMA: Final = tier_minimum_schema(
    {"1": 35, "2": 14, "3": 7}, "automated-backup retention (days of point-in-time recovery)", maximum=35
)


def is_cluster_member(args: ResourceValidationArgs) -> bool:
    """An RDS instance of an Aurora/DocumentDB/Neptune cluster: backups, deletion protection and snapshots are
    the cluster's settings there, so the instance is not judged on them."""
    if args.resource_type not in types.RDS_INSTANCE:
        return False
    cluster = lookup(args.props, "clusterIdentifier")
    engine = lookup(args.props, "engine")
    return (not is_absent(cluster)) or (isinstance(engine, str) and engine.startswith(CLUSTER_ENGINES))


def backup_retention_problems(args: ResourceValidationArgs, config: Config) -> Iterator[str]:
    if is_cluster_member(args):
        return
    where = "backupRetentionPeriod"
    value = lookup(args.props, where)
    if value is UNKNOWN:
        yield cannot_verify(where)
        return
    default = DEFAULT_RETENTION_DAYS[args.resource_type]
    days = number(value) if number(value) is not None else (default if is_absent(value) else -1)
    required, scope = tier_minimum(Tags(args.props), config)
    if required is UNKNOWN:
        if days < config["tier1MinDays"]:
            yield cannot_verify(f"tags.{TIER_TAG} (it decides the minimum backup retention)")
        return
    if days is None or days < required:
        declared = f"not set, so the provider default of {default}" if is_absent(value) else describe(value)
        yield (
            f"{argument(where)} must be at least {required} days for {scope} (declared: {declared}); "
            "point-in-time recovery reaches back only as far as automated backups are kept"
        )


def deletion_protection_problems(args: ResourceValidationArgs, _config: Config) -> Iterator[str]:
    if not is_cluster_member(args):
        yield from expect(args.props, ("deletionProtection",), True)


def final_snapshot_problems(args: ResourceValidationArgs, _config: Config) -> Iterator[str]:
    if is_cluster_member(args):
        return
    skip = lookup(args.props, "skipFinalSnapshot")
    if skip is UNKNOWN:
        yield cannot_verify("skipFinalSnapshot")
    elif not (skip is False or is_absent(skip)):
        yield (
            f"{argument('skipFinalSnapshot')} must be False (declared: {describe(skip)}): deleting the database "
            "would keep no final snapshot"
        )
    identifier = lookup(args.props, "finalSnapshotIdentifier")
    if is_absent(identifier) and (skip is False or is_absent(skip)):
        yield (
            f"{argument('finalSnapshotIdentifier')} must be set: with skip_final_snapshot=False the provider needs "
            "it to take the final snapshot, and a delete without it fails"
        )


def copy_tags_problems(args: ResourceValidationArgs, _config: Config) -> Iterator[str]:
    if not is_cluster_member(args):
        yield from expect(args.props, ("copyTagsToSnapshot",), True)
