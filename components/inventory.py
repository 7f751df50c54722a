"""Restore planning at scale: S3 Inventory, the change journal, and the Glue and Athena resources over them.

Which buckets get them is decided by the tier (``stackmodel.tiers``: ``TierProfile.versioned_inventory``); the
``TieredBucket`` asks for them here:

- ``bucket_inventory``: a daily S3 Inventory of every version (``IncludedObjectVersions=All``: only then does the
  report carry version id, is-latest and delete marker), Parquet, into the reports bucket of the source's Region
  (S3 requires the destination in the source bucket's Region: S3 User Guide, "Configuring Amazon S3 Inventory").
- ``journal_roles``: the roles Firehose and EventBridge use for the bucket's change journal; created with the
  bucket, so the reports bucket's key policy (written later) can name them.

``RecoveryCatalog`` (one per Region with sources, after its reports bucket): the Glue database, per source bucket
an inventory table and a journal table (partition projection by date), the journal itself (S3 -> EventBridge
``Object Created``/``Object Deleted`` -> Firehose -> Parquet beside the inventory), and an Athena workgroup with
encrypted results and a bytes-scanned limit, with the deletion-spike query saved in it. drctl runs the same SQL
(handlers/s3/sql/) there with ``--engine athena``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pulumi
import pulumi_aws as aws

from components import arns
from components.iam import assume_role_policy, role_policy
from components.keys import KeyUser
from components.keys import statement_id as _sid
from handlers.runtime_names import (
    INVENTORY_CONFIG_ID,
    INVENTORY_OPTIONAL_FIELDS,
    INVENTORY_PREFIX,
    JOURNAL_PREFIX,
    RECOVERY_DATABASE,
    inventory_root,
    inventory_table,
    journal_root,
    journal_table,
    recovery_workgroup,
)

SQL_DIR = Path(__file__).resolve().parent.parent / "handlers" / "s3" / "sql"
# Athena stops (and bills no further) a query that would scan more than this; a plan of 100M versions reads about
# 1.5 GB (benchmarks/restore_inventory.py), so 100 GB leaves room for years of reports and journal days.
BYTES_SCANNED_CUTOFF = 100 * 1024**3
ATHENA_RESULTS_PREFIX = "dr-athena-results"
JOURNAL_ERRORS_PREFIX = "dr-journal-errors"
# Firehose buffering: the shortest interval (60 s) keeps the journal's delivery gap small; with record format
# conversion the buffer size must be at least 64 MiB (Firehose Developer Guide, "Record format conversion").
JOURNAL_BUFFER_SECONDS = 60
JOURNAL_BUFFER_MB = 64
JOURNAL_EVENTS = ("Object Created", "Object Deleted")
# Glue types of handlers/s3/inventory_files.py's schemas (Athena's table for a Parquet inventory).
INVENTORY_COLUMNS = (
    ("bucket", "string"),
    ("key", "string"),
    ("version_id", "string"),
    ("is_latest", "boolean"),
    ("is_delete_marker", "boolean"),
    ("size", "bigint"),
    ("last_modified_date", "timestamp"),
    ("e_tag", "string"),
    ("storage_class", "string"),
    ("object_lock_retain_until_date", "timestamp"),
    ("object_lock_mode", "string"),
    ("object_lock_legal_hold_status", "string"),
    ("checksum_algorithm", "string"),
)
JOURNAL_COLUMNS = (
    ("event_time", "timestamp"),
    ("detail_type", "string"),
    ("bucket", "string"),
    ("key", "string"),
    ("version_id", "string"),
    ("sequencer", "string"),
    ("size", "bigint"),
    ("etag", "string"),
    ("deletion_type", "string"),
    ("reason", "string"),
    ("requester", "string"),
    ("source_ip_address", "string"),
    ("request_id", "string"),
)
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
# An inventory's hive/dt=.../symlink.txt lists the report's data files (S3 User Guide, "Querying Amazon S3
# Inventory with Amazon Athena").
SYMLINK_INPUT = "org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat"
IGNORE_KEY_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"


def bucket_inventory(
    name: str,
    source: aws.s3.Bucket,
    region: str,
    reports_bucket: str,
    account: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> aws.s3.Inventory:
    """A daily inventory of every version of ``source`` into ``reports_bucket`` (same Region). No encryption is set:
    the reports bucket's default (SSE-KMS under its key, which grants S3 GenerateDataKey for this source) applies."""
    return aws.s3.Inventory(
        name,
        bucket=source.id,
        name=INVENTORY_CONFIG_ID,
        included_object_versions="All",
        schedule={"frequency": "Daily"},
        optional_fields=list(INVENTORY_OPTIONAL_FIELDS),
        destination={
            "bucket": {
                "bucket_arn": arns.bucket_arn(reports_bucket, region),
                "format": "Parquet",
                "prefix": INVENTORY_PREFIX,
                "account_id": account,
            }
        },
        enabled=True,
        region=region,
        opts=opts,
    )


def inventory_delivery_statement(
    reports_arn: str, source_arns: Sequence[str], account: pulumi.Input[str]
) -> dict[str, Any]:
    """The reports bucket policy's grant to S3 Inventory, as the S3 User Guide documents it ("Grant permissions for
    S3 Inventory and S3 analytics"): s3:PutObject for the service, only from these source buckets and account."""
    return {
        "Sid": "AllowInventoryDelivery",
        "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"{reports_arn}/{INVENTORY_PREFIX}/*",
        "Condition": {"ArnLike": {"aws:SourceArn": list(source_arns)}, "StringEquals": {"aws:SourceAccount": account}},
    }


def inventory_key_statement(source_arns: Sequence[str], account: pulumi.Input[str]) -> dict[str, Any]:
    """The reports key's grant to S3 Inventory for an SSE-KMS destination ("Granting Amazon S3 permission to use
    your customer managed key for encryption"): kms:GenerateDataKey for the service, from these sources only."""
    return {
        "Sid": "AllowInventoryEncryption",
        "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"},
        "Action": ["kms:GenerateDataKey"],
        "Resource": "*",
        "Condition": {"ArnLike": {"aws:SourceArn": list(source_arns)}, "StringEquals": {"aws:SourceAccount": account}},
    }


@dataclass(frozen=True)
class JournalRoles:
    """The change journal's roles for one source bucket (created with the bucket)."""

    source_bucket: str
    region: str
    delivery_role_name: str  # Firehose writes the journal and reads its Glue schema
    delivery_role: aws.iam.Role
    delivery_role_arn: pulumi.Output[str]
    events_role_name: str  # EventBridge puts records into the delivery stream
    events_role: aws.iam.Role
    events_role_arn: pulumi.Output[str]

    @property
    def key_user(self) -> KeyUser:
        """Firehose as a user of the reports bucket's key (the journal objects are SSE-KMS)."""
        return KeyUser(
            sid=_sid(f"journal {self.source_bucket}"),
            role_arn=self.delivery_role_arn,
            role=self.delivery_role,
            actions=("kms:Decrypt", "kms:GenerateDataKey"),
        )


def stream_name(source_bucket: str) -> str:
    return f"dr-journal-{source_bucket}"[:64]


def journal_roles(
    name: str,
    source_bucket: str,
    region: str,
    reports_bucket: str,
    role_names: tuple[str, str],
    account: pulumi.Output[str],
    tags: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> JournalRoles:
    delivery_name, events_name = role_names
    reports = arns.bucket_arn(reports_bucket, region)
    partition = arns.partition(region)
    delivery = aws.iam.Role(
        f"{name}-delivery",
        name=delivery_name,
        assume_role_policy=assume_role_policy("firehose.amazonaws.com"),
        description=f"Firehose: the change journal of {source_bucket} into {reports_bucket}",
        tags=dict(tags),
        opts=opts,
    )
    glue = pulumi.Output.concat("arn:", partition, ":glue:", region, ":", account)
    role_policy(
        f"{name}-delivery",
        delivery,
        [
            {
                # The S3 actions Firehose documents for an S3 destination ("Grant Firehose access to an Amazon S3
                # destination"), on the journal's prefixes only.
                "Sid": "WriteJournal",
                "Effect": "Allow",
                "Action": ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
                "Resource": [
                    f"{reports}/{journal_root(source_bucket)}*",
                    f"{reports}/{JOURNAL_ERRORS_PREFIX}/{source_bucket}/*",
                ],
            },
            {
                "Sid": "LocateBucket",
                "Effect": "Allow",
                "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
                "Resource": reports,
            },
            {
                # Record format conversion reads the journal table's schema.
                "Sid": "ReadJournalSchema",
                "Effect": "Allow",
                "Action": ["glue:GetTable", "glue:GetTableVersion", "glue:GetTableVersions"],
                "Resource": [
                    pulumi.Output.concat(glue, ":catalog"),
                    pulumi.Output.concat(glue, ":database/", RECOVERY_DATABASE),
                    pulumi.Output.concat(glue, ":table/", RECOVERY_DATABASE, "/", journal_table(source_bucket)),
                ],
            },
        ],
        opts,
    )
    events = aws.iam.Role(
        f"{name}-events",
        name=events_name,
        assume_role_policy=assume_role_policy("events.amazonaws.com"),
        description=f"EventBridge: {source_bucket}'s object events into its journal stream",
        tags=dict(tags),
        opts=opts,
    )
    stream_arn = pulumi.Output.concat(
        "arn:", partition, ":firehose:", region, ":", account, ":deliverystream/", stream_name(source_bucket)
    )
    role_policy(
        f"{name}-events",
        events,
        [
            {
                "Sid": "PutJournalRecords",
                "Effect": "Allow",
                "Action": ["firehose:PutRecord", "firehose:PutRecordBatch"],
                "Resource": stream_arn,
            }
        ],
        opts,
    )
    return JournalRoles(
        source_bucket,
        region,
        delivery_name,
        delivery,
        arns.role_arn(delivery_name, region, account),
        events_name,
        events,
        arns.role_arn(events_name, region, account),
    )


@dataclass(frozen=True)
class RecoveryCatalogArgs:
    region: str
    provider: aws.Provider
    reports_bucket: str
    reports_key_arn: pulumi.Input[str]
    sources: Sequence[JournalRoles]  # the buckets of this Region with an inventory and a journal
    tags: Mapping[str, str]
    bytes_scanned_cutoff: int = BYTES_SCANNED_CUTOFF


def _columns(columns: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": name, "type": kind} for name, kind in columns]


def _date_projection(location: str, date_format: str, unit: str) -> dict[str, str]:
    """Partition projection on ``dt`` (Athena User Guide, "Partition projection with Amazon Athena"): no crawler and
    no partition to add, each day's (or report's) folder is found from the query's ``dt``."""
    return {
        "projection.enabled": "true",
        "projection.dt.type": "date",
        "projection.dt.format": date_format,
        "projection.dt.range": "2024-01-01-00-00,NOW" if unit == "HOURS" else "2024-01-01,NOW",
        "projection.dt.interval": "1",
        "projection.dt.interval.unit": unit,
        "storage.location.template": location + "dt=${dt}/",
    }


def _dated_parquet_table(
    resource_name: str,
    table_name: str,
    database: aws.glue.CatalogDatabase,
    location: str,
    parameters: Mapping[str, str],
    formats: tuple[str, str],
    columns: Sequence[tuple[str, str]],
    region: str,
    opts: pulumi.ResourceOptions,
) -> aws.glue.CatalogTable:
    """An external Parquet table partitioned by ``dt`` (``formats``: its input and output format classes)."""
    input_format, output_format = formats
    return aws.glue.CatalogTable(
        resource_name,
        name=table_name,
        database_name=database.name,
        table_type="EXTERNAL_TABLE",
        parameters=dict(parameters),
        partition_keys=[{"name": "dt", "type": "string"}],
        storage_descriptor=cast(
            Any,
            {
                "location": location,
                "input_format": input_format,
                "output_format": output_format,
                "ser_de_info": {"serialization_library": PARQUET_SERDE},
                "columns": _columns(columns),
            },
        ),
        region=region,
        opts=opts,
    )


class RecoveryCatalog(pulumi.ComponentResource):
    """The Glue database, tables and journal streams of one Region's sources, and its Athena workgroup."""

    workgroup_name: pulumi.Output[str]

    def __init__(self, name: str, args: RecoveryCatalogArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dr:storage:RecoveryCatalog", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        region, reports = args.region, args.reports_bucket
        database = aws.glue.CatalogDatabase(
            f"{name}-database",
            name=RECOVERY_DATABASE,
            description="S3 Inventory reports and change journals of the DR buckets (restore planning and audit)",
            region=region,
            opts=child,
        )
        workgroup = aws.athena.Workgroup(
            f"{name}-workgroup",
            name=recovery_workgroup(region),
            description="drctl restore-bucket --plan-from inventory --engine athena, and drctl audit-objects",
            configuration={
                "enforce_workgroup_configuration": True,
                "publish_cloudwatch_metrics_enabled": True,
                "bytes_scanned_cutoff_per_query": args.bytes_scanned_cutoff,
                "result_configuration": {
                    "output_location": f"s3://{reports}/{ATHENA_RESULTS_PREFIX}/",
                    "encryption_configuration": {"encryption_option": "SSE_KMS", "kms_key_arn": args.reports_key_arn},
                },
            },
            tags=dict(args.tags),
            region=region,
            opts=child,
        )
        for source in args.sources:
            self._source(name, source, database, workgroup, args, child)
        self.workgroup_name = workgroup.name
        self.register_outputs({"workgroup_name": self.workgroup_name})

    def _source(
        self,
        name: str,
        source: JournalRoles,
        database: aws.glue.CatalogDatabase,
        workgroup: aws.athena.Workgroup,
        args: RecoveryCatalogArgs,
        child: pulumi.ResourceOptions,
    ) -> None:
        region, reports, bucket = args.region, args.reports_bucket, source.source_bucket
        n = f"{name}-{bucket}"
        inventory_location = f"s3://{reports}/{inventory_root(bucket)}hive/"
        _dated_parquet_table(
            f"{n}-inventory",
            inventory_table(bucket),
            database,
            inventory_location,
            _date_projection(inventory_location, "yyyy-MM-dd-HH-mm", "HOURS"),
            (SYMLINK_INPUT, IGNORE_KEY_OUTPUT),
            INVENTORY_COLUMNS,
            region,
            child,
        )
        journal_location = f"s3://{reports}/{journal_root(bucket)}"
        table = _dated_parquet_table(
            f"{n}-journal",
            journal_table(bucket),
            database,
            journal_location,
            {**_date_projection(journal_location, "yyyy-MM-dd", "DAYS"), "classification": "parquet"},
            (PARQUET_INPUT, PARQUET_OUTPUT),
            JOURNAL_COLUMNS,
            region,
            child,
        )
        stream = aws.kinesis.FirehoseDeliveryStream(
            f"{n}-journal-stream",
            name=stream_name(bucket),
            destination="extended_s3",
            extended_s3_configuration={
                "role_arn": source.delivery_role_arn,
                "bucket_arn": arns.bucket_arn(reports, region),
                "prefix": f"{journal_root(bucket)}dt=!{{timestamp:yyyy-MM-dd}}/",
                "error_output_prefix": f"{JOURNAL_ERRORS_PREFIX}/{bucket}/!{{firehose:error-output-type}}/",
                "buffering_interval": JOURNAL_BUFFER_SECONDS,
                "buffering_size": JOURNAL_BUFFER_MB,
                "data_format_conversion_configuration": {
                    "input_format_configuration": {
                        # EventBridge's "time" is ISO 8601 in UTC ("2021-11-12T00:00:00Z").
                        "deserializer": {"hive_json_ser_de": {"timestamp_formats": ["yyyy-MM-dd'T'HH:mm:ss'Z'"]}}
                    },
                    "output_format_configuration": {"serializer": {"parquet_ser_de": {"compression": "SNAPPY"}}},
                    "schema_configuration": {
                        "database_name": database.name,
                        "table_name": table.name,
                        "role_arn": source.delivery_role_arn,
                        "region": region,
                    },
                },
            },
            server_side_encryption={"enabled": True, "key_type": "AWS_OWNED_CMK"},
            tags=dict(args.tags),
            region=region,
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[table, source.delivery_role])),
        )
        # One rule per event type: a target carries one input transformer, and the two types carry different fields.
        for detail_type, template in JOURNAL_TEMPLATES.items():
            short = detail_type.split()[-1].lower()
            rule = aws.cloudwatch.EventRule(
                f"{n}-journal-{short}",
                name=f"dr-journal-{short}-{bucket}"[:64],
                description=f"{detail_type} events of {bucket} into its change journal",
                event_pattern=json.dumps(
                    {"source": ["aws.s3"], "detail-type": [detail_type], "detail": {"bucket": {"name": [bucket]}}}
                ),
                tags=dict(args.tags),
                region=region,
                opts=child,
            )
            aws.cloudwatch.EventTarget(
                f"{n}-journal-{short}",
                rule=rule.name,
                arn=stream.arn,
                role_arn=source.events_role_arn,
                input_transformer={"input_paths": JOURNAL_INPUT_PATHS[detail_type], "input_template": template},
                region=region,
                opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[source.events_role])),
            )
        aws.athena.NamedQuery(
            f"{n}-deletion-spikes",
            name=f"deletion spikes: {bucket}",
            description="Objects deleted per 5-minute window and by whom (handlers/s3/sql/deletion_spikes.sql); "
            "compare with the DeleteRequests anomaly alarm",
            database=database.name,
            workgroup=workgroup.name,
            query=saved_query("deletion_spikes", bucket),
            region=region,
            opts=child,
        )


# EventBridge input transformers (EventBridge User Guide, "Amazon EventBridge input transformation"): one flat JSON
# record per event in JOURNAL_COLUMNS' names. S3's events: "EventBridge event message structure" in the S3 User
# Guide (Object Created: object.size, etag, version-id, sequencer; Object Deleted: object.version-id, sequencer and
# detail.deletion-type "Delete Marker Created" or "Permanently Deleted"). A rule's target carries one transformer,
# and the two event types carry different fields, so each has its own target, filtered by detail type.
_COMMON_PATHS = {
    "time": "$.time",
    "type": "$.detail-type",
    "bucket": "$.detail.bucket.name",
    "key": "$.detail.object.key",
    "version": "$.detail.object.version-id",
    "sequencer": "$.detail.object.sequencer",
    "reason": "$.detail.reason",
    "requester": "$.detail.requester",
    "ip": "$.detail.source-ip-address",
    "request": "$.detail.request-id",
}
JOURNAL_INPUT_PATHS = {
    "Object Created": {**_COMMON_PATHS, "size": "$.detail.object.size", "etag": "$.detail.object.etag"},
    "Object Deleted": {**_COMMON_PATHS, "deletion": "$.detail.deletion-type"},
}
_COMMON_TEMPLATE = (
    '"event_time": "<time>", "detail_type": "<type>", "bucket": "<bucket>", "key": "<key>", '
    '"version_id": "<version>", "sequencer": "<sequencer>", "reason": "<reason>", "requester": "<requester>", '
    '"source_ip_address": "<ip>", "request_id": "<request>"'
)
JOURNAL_TEMPLATES = {
    "Object Created": "{" + _COMMON_TEMPLATE + ', "size": <size>, "etag": "<etag>"}',
    "Object Deleted": "{" + _COMMON_TEMPLATE + ', "deletion_type": "<deletion>"}',
}


def saved_query(name: str, bucket: str) -> str:
    """A query file of handlers/s3/sql with its FROM relations pointing at ``bucket``'s Glue tables (the same
    templating as ``handlers.s3.inventory.render``; read here without loading the runtime's Parquet libraries)."""
    text = (SQL_DIR / f"{name}.sql").read_text()
    relations = {
        "{inventory}": f'"{RECOVERY_DATABASE}"."{inventory_table(bucket)}"',
        "{journal}": f'"{RECOVERY_DATABASE}"."{journal_table(bucket)}"',
    }
    for placeholder, relation in relations.items():
        text = text.replace(placeholder, relation)
    return text


__all__ = [
    "INVENTORY_PREFIX",
    "JOURNAL_PREFIX",
    "JournalRoles",
    "RecoveryCatalog",
    "RecoveryCatalogArgs",
    "bucket_inventory",
    "inventory_delivery_statement",
    "inventory_key_statement",
    "journal_roles",
]
