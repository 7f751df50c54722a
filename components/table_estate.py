"""The stack's tables in one call from ``__main__``: the AWS Backup plans, each
``GlobalTable`` and the account-level DynamoDB alarms, and what the stack exports about them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.backup import TableBackup, TableBackupArgs, plan_name
from components.isolation import IsolatedVaults
from components.keys import BucketKeyUsers, merge_bucket_key_users
from components.tables import DynamoDbAccountAlarms, DynamoDbAccountAlarmsArgs, GlobalTable, GlobalTableArgs
from stackmodel.config import StackSettings
from stackmodel.config.isolation import DYNAMODB


@dataclass
class Tables:
    tables: dict[str, GlobalTable] = field(default_factory=dict)
    backup: TableBackup | None = None
    exports: dict[str, Any] = field(default_factory=dict)
    # Bucket name -> the tables' export roles that use that bucket's key (its TieredBucketArgs.key_users).
    bucket_key_users: dict[str, BucketKeyUsers] = field(default_factory=dict)


def build_tables(
    settings: StackSettings,
    providers: Mapping[str, aws.Provider],
    topics: Mapping[str, pulumi.Input[str]],
    isolated: IsolatedVaults | None = None,
    waits_for: Sequence[pulumi.Resource] = (),
) -> Tables:
    """``topics``: Region -> alert topic ARN, for every Region a table lives in (an alarm notifies its own Region's).
    ``isolated``: where the tables of a tier with isolated copies copy to; ``waits_for``: the account's opt-in."""
    if not settings.tables:
        return Tables()
    rules = tuple(dict.fromkeys(t.backup for t in settings.tables if t.backup is not None))
    isolated_tiers = settings.backup.isolation.tiers
    isolated_rules = frozenset(t.backup for t in settings.tables if t.backup is not None and t.tier in isolated_tiers)
    isolated_arn = isolated.for_type(DYNAMODB) if isolated is not None else None
    backup = (
        TableBackup(
            "table-backup",
            TableBackupArgs(
                settings.name_prefix,
                settings.primary_region,
                settings.recovery_region,
                providers,
                topics,
                settings.backup,
                rules,
                isolated_vault_arn=isolated_arn,
                isolated_rules=isolated_rules if isolated_arn is not None else frozenset(),
                waits_for=tuple(waits_for),
            ),
        )
        if rules
        else None
    )
    buckets = {spec.name: spec for spec in settings.buckets}
    tables = {
        spec.name: GlobalTable(
            spec.name,
            GlobalTableArgs(
                spec=spec,
                app=settings.app or "",
                providers=providers,
                alert_topic_arns=topics,
                backup_plan=plan_name(settings.name_prefix, spec.backup) if spec.backup else None,
                export_bucket=buckets[spec.export.bucket] if spec.export else None,
                key_users={region: backup.key_users(region) for region in spec.regions} if backup else {},
            ),
            # The plan's selection exists before a table carries its tag.
            pulumi.ResourceOptions(depends_on=[backup] if backup else None),
        )
        for spec in settings.tables
    }
    DynamoDbAccountAlarms("dynamodb-account", DynamoDbAccountAlarmsArgs(settings.table_regions, providers, topics))
    exports: dict[str, Any] = {
        "tables": {
            spec.name: {
                "name": spec.table_name,
                "regions": list(spec.regions),
                "primaryRegion": spec.primary_region,
                "consistencyMode": spec.consistency_mode,
                "streamArn": tables[spec.name].stream_arn,
                "activeTableParameter": tables[spec.name].active_table_parameter,
            }
            for spec in settings.tables
        }
    }
    if backup is not None:
        exports["backupVaults"] = backup.vault_names  # drctl restore-table --vault
        exports["backupRoleArn"] = backup.role_arn  # drctl restore-table --backup-role-arn
    bucket_key_users: dict[str, BucketKeyUsers] = {}
    for spec in settings.tables:
        user = tables[spec.name].export_key_user
        if spec.export is not None and user is not None:
            bucket_key_users = merge_bucket_key_users(bucket_key_users, {spec.export.bucket: BucketKeyUsers((user,))})
    return Tables(tables, backup, exports, bucket_key_users)
