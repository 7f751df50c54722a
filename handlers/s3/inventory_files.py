"""S3 Inventory reports and the change journal as files: their schemas, where they live, finding the newest report,
and a small writer.

The layout and schema follow S3 Inventory (User Guide, "Cataloging and analyzing your data with S3 Inventory":
"Inventory manifest" and "Inventory list", Parquet format, IncludedObjectVersions=All) and the journal follows
S3's EventBridge events ("EventBridge event message structure": ``detail.object.key``, ``version-id``,
``sequencer``, ``size``, ``etag``; ``detail.deletion-type`` on ``Object Deleted``), flattened by the rule's input
transformer (components/inventory.py) into the columns of ``JOURNAL_SCHEMA``.

S3 produces no inventory on the local emulator, so tests and the benchmark write reports with
``write_inventory_report`` (a listing of the bucket, or synthetic rows) and journal files with ``write_journal``.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from handlers.runtime_names import INVENTORY_CONFIG_ID, INVENTORY_PREFIX, inventory_root, journal_root

if TYPE_CHECKING:
    import pyarrow as pa

# pyarrow is imported on first use: drctl and the benchmark have it, the Lambda runtime (which imports every module
# of handlers/ outside the CLI, tests/handlers/test_lambda_packaging.py) does not.


@cache
def inventory_schema() -> pa.Schema:
    """The Parquet inventory's columns the planner reads, in S3's names and types (Athena's table for a Parquet
    inventory: last_modified_date is a timestamp, size a bigint). Timestamps are UTC without a zone."""
    import pyarrow as pa

    return pa.schema(
        [
            ("bucket", pa.string()),
            ("key", pa.string()),
            ("version_id", pa.string()),
            ("is_latest", pa.bool_()),
            ("is_delete_marker", pa.bool_()),
            ("size", pa.int64()),
            ("last_modified_date", pa.timestamp("ms")),
            ("e_tag", pa.string()),
            ("storage_class", pa.string()),
            ("object_lock_retain_until_date", pa.timestamp("ms")),
            ("object_lock_mode", pa.string()),
            ("object_lock_legal_hold_status", pa.string()),
            ("checksum_algorithm", pa.string()),
        ]
    )


@cache
def journal_schema() -> pa.Schema:
    """The journal's columns: S3's EventBridge events as the rule's input transformer flattens them."""
    import pyarrow as pa

    return pa.schema(
        [
            ("event_time", pa.timestamp("ms")),
            ("detail_type", pa.string()),
            ("bucket", pa.string()),
            ("key", pa.string()),
            ("version_id", pa.string()),
            ("sequencer", pa.string()),
            ("size", pa.int64()),
            ("etag", pa.string()),
            ("deletion_type", pa.string()),
            ("reason", pa.string()),
            ("requester", pa.string()),
            ("source_ip_address", pa.string()),
            ("request_id", pa.string()),
        ]
    )


REPORT_FOLDER_FORMAT = "%Y-%m-%dT%H-%MZ"
ROW_GROUP = 1_000_000


@dataclass(frozen=True)
class InventoryReport:
    """One delivered report: its manifest's ``creationTimestamp`` and data files (keys in the reports bucket)."""

    reports_bucket: str
    source_bucket: str
    manifest_key: str
    created: datetime  # naive UTC, as the Parquet timestamps
    files: tuple[str, ...]


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def latest_report(s3: Any, reports_bucket: str, source_bucket: str) -> InventoryReport | None:
    """The newest report S3 Inventory delivered for ``source_bucket``, or None before the first (up to 48 h)."""
    root = inventory_root(source_bucket)
    folders: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=reports_bucket, Prefix=root, Delimiter="/"):
        folders += [entry["Prefix"] for entry in page.get("CommonPrefixes", [])]
    dated = sorted(folder for folder in folders if _is_report_folder(folder[len(root) :].rstrip("/")))
    for folder in reversed(dated):
        try:
            body = s3.get_object(Bucket=reports_bucket, Key=f"{folder}manifest.json")["Body"].read()
        except s3.exceptions.NoSuchKey:
            continue  # a report still being written: S3 writes the manifest last
        manifest = json.loads(body)
        if manifest.get("fileFormat") != "Parquet":
            raise ValueError(f"s3://{reports_bucket}/{folder}manifest.json: fileFormat must be Parquet")
        created = datetime.fromtimestamp(int(manifest["creationTimestamp"]) / 1000, UTC).replace(tzinfo=None)
        return InventoryReport(
            reports_bucket,
            source_bucket,
            f"{folder}manifest.json",
            created,
            tuple(entry["key"] for entry in manifest["files"]),
        )
    return None


def _is_report_folder(name: str) -> bool:
    try:
        datetime.strptime(name, REPORT_FOLDER_FORMAT)
    except ValueError:
        return False
    return True


def journal_keys(s3: Any, reports_bucket: str, source_bucket: str, since: datetime) -> list[str]:
    """The journal's Parquet files for ``source_bucket`` in the day partitions from ``since`` on."""
    root = journal_root(source_bucket)
    first = f"{root}dt={since:%Y-%m-%d}"
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=reports_bucket, Prefix=root):
        keys += [
            entry["Key"]
            for entry in page.get("Contents", [])
            if entry["Key"] >= first and entry["Key"].endswith(".parquet")
        ]
    return keys


def download(s3: Any, bucket: str, keys: Iterable[str], folder: Path) -> list[str]:
    """Copy ``keys`` to ``folder`` (DuckDB reads local files: its S3 extension is not bundled with the wheel)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, key in enumerate(keys):
        path = folder / f"{index:06d}.parquet"
        s3.download_file(bucket, key, str(path))
        paths.append(str(path))
    return paths


# --------------------------------------------------------------------------------------------------
# Writers: the emulator has no S3 Inventory and no EventBridge delivery, so tests and benchmarks write the files
# --------------------------------------------------------------------------------------------------
def listing_rows(s3: Any, bucket: str, prefix: str = "") -> Iterator[dict[str, Any]]:
    """Inventory rows (``INVENTORY_SCHEMA``) from a ``ListObjectVersions`` pass: what S3 Inventory would report."""
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for name, marker in (("Versions", False), ("DeleteMarkers", True)):
            for entry in page.get(name, []):
                yield {
                    "bucket": bucket,
                    "key": entry["Key"],
                    "version_id": entry["VersionId"],
                    "is_latest": entry["IsLatest"],
                    "is_delete_marker": marker,
                    "size": None if marker else entry.get("Size", 0),
                    "last_modified_date": _naive_utc(entry["LastModified"]),
                    "e_tag": None if marker else entry.get("ETag", "").strip('"'),
                    "storage_class": None if marker else entry.get("StorageClass", "STANDARD"),
                    "checksum_algorithm": next(iter(entry.get("ChecksumAlgorithm", [])), None),
                }


def write_parquet(rows: Iterable[dict[str, Any]] | pa.Table, schema: pa.Schema, sink: Any) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if isinstance(rows, pa.Table):
        pq.write_table(rows.cast(schema), sink, row_group_size=ROW_GROUP, compression="snappy")
        return
    with pq.ParquetWriter(sink, schema, compression="snappy") as writer:
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= 100_000:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                batch = []
        writer.write_table(pa.Table.from_pylist(batch, schema=schema))


def write_inventory_report(
    s3: Any,
    reports_bucket: str,
    source_bucket: str,
    rows: Iterable[dict[str, Any]] | pa.Table,
    created: datetime,
) -> InventoryReport:
    """Write one report as S3 Inventory lays it out: ``data/<id>.parquet``, then ``<date>/manifest.json`` (last,
    as S3 does, so a reader never sees a manifest without its files) and ``hive/dt=<date>/symlink.txt``."""
    created = _naive_utc(created)
    root = inventory_root(source_bucket)
    folder = created.strftime(REPORT_FOLDER_FORMAT)
    buffer = io.BytesIO()
    write_parquet(rows, inventory_schema(), buffer)
    data = buffer.getvalue()
    data_key = f"{root}data/{hashlib.sha256(data).hexdigest()[:32]}.parquet"
    s3.put_object(Bucket=reports_bucket, Key=data_key, Body=data)
    manifest = {
        "sourceBucket": source_bucket,
        "destinationBucket": f"arn:aws:s3:::{reports_bucket}",
        "version": "2016-11-30",
        "creationTimestamp": str(int(created.replace(tzinfo=UTC).timestamp() * 1000)),
        "fileFormat": "Parquet",
        "fileSchema": "message s3.inventory { " + " ".join(f"{f.name};" for f in inventory_schema()) + " }",
        "files": [{"key": data_key, "size": len(data), "MD5checksum": hashlib.md5(data).hexdigest()}],
    }
    s3.put_object(Bucket=reports_bucket, Key=f"{root}{folder}/manifest.json", Body=json.dumps(manifest).encode())
    hive = f"{root}hive/dt={created:%Y-%m-%d-%H-%M}/symlink.txt"
    s3.put_object(Bucket=reports_bucket, Key=hive, Body=f"s3://{reports_bucket}/{data_key}\n".encode())
    return InventoryReport(reports_bucket, source_bucket, f"{root}{folder}/manifest.json", created, (data_key,))


def write_journal(s3: Any, reports_bucket: str, source_bucket: str, events: list[dict[str, Any]]) -> list[str]:
    """Write journal rows (``JOURNAL_SCHEMA``) as Firehose would: one Parquet object per day partition."""
    by_day: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        row = {**event, "event_time": _naive_utc(event["event_time"])}
        by_day.setdefault(f"{row['event_time']:%Y-%m-%d}", []).append(row)
    keys = []
    for day, rows in sorted(by_day.items()):
        buffer = io.BytesIO()
        write_parquet(rows, journal_schema(), buffer)
        data = buffer.getvalue()
        key = f"{journal_root(source_bucket)}dt={day}/{hashlib.sha256(data).hexdigest()[:32]}.parquet"
        s3.put_object(Bucket=reports_bucket, Key=key, Body=data)
        keys.append(key)
    return keys


def temporary_folder() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="dr-inventory-")


__all__ = [
    "INVENTORY_CONFIG_ID",
    "INVENTORY_PREFIX",
    "InventoryReport",
    "download",
    "inventory_schema",
    "journal_keys",
    "journal_schema",
    "latest_report",
    "listing_rows",
    "write_inventory_report",
    "write_journal",
]
