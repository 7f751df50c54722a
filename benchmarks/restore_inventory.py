"""Point-in-time restore planning at scale: the SQL planner (S3 Inventory + change journal, DuckDB) against the
listing planner and a known ground truth.

History model (as benchmarks/restore_bucket.py, extended): every key is written one to three times days before T;
after T a key is left alone (2/8), overwritten (2/8), deleted (1/8), deleted and re-created (1/8), deleted twice
(1/8), or created for the first time (1/8): about 2.75 versions per key. Every fifth key has multipart ETags and
one size across its versions (the planners must flag "maybe the same" there), every eleventh is STANDARD_IA. The
inventory report is taken 10 h after T, when about half the post-T changes have happened; the journal holds every
event since the report's creationTimestamp minus 48 h (all post-T changes), so half of them exist in the journal
only. The ground truth plan follows from the model directly (in place, marker removal allowed, delete keys created
after T), not from either planner.

Runs, each in its own process so that its peak RSS (``wait4``) is its own:

- ``duckdb``: ``handlers/s3/sql/restore_plan.sql`` in DuckDB (2 threads, 600 MB memory limit, spilling to disk
  beyond), streaming the plan to Parquet;
- ``listing`` (at ``--listing-versions``, default 1M): ``ListingPlanner`` (the function behind
  ``drctl restore-bucket``) against a synthetic ListObjectVersions endpoint (a separate process on 127.0.0.1 that
  serves the same history, 1,000 versions a page), so its time is botocore's parsing plus the endpoint's XML.

- ``drctl`` (at ``--drctl-versions``, default 10M): drctl's inventory planning path, ``InventoryPlanner`` over the
  same DuckDB query, every row fetched from the query's stream into a ``KeyPlan`` and counted by the blast-radius
  pass; its peak RSS is what ``drctl restore-bucket --plan-from inventory`` needs to plan (downloads and the
  executor, whose work in flight is bounded, aside).

Every run prints its wall time, its CPU seconds (user + system, from ``wait4``) and the load average: the machine's
two cores are shared, so the wall time alone says as much about the neighbours as about the planner.

Also printed: Athena's bytes scanned for 100M versions, from the Parquet column chunks the query reads
(scaled from the largest size run), and its price at $5 per TB scanned.

    uv run python benchmarks/restore_inventory.py                     # 1M and 10M, listing at 1M
    uv run python benchmarks/restore_inventory.py --versions 1000000 --runs 3

Goal (issue 21): 10M versions planned in <= 60 s with <= 1 GB RSS on 2 cores, plans equal to the ground truth
(and to the listing planner's where both run).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse
from xml.sax.saxutils import escape

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from handlers.s3.inventory import (  # noqa: E402
    DuckDBEngine,
    InventoryPlanner,
    PlanParameters,
    plan_signature,
    query_text,
    render,
)
from handlers.s3.inventory_files import InventoryReport, inventory_schema, journal_schema, write_parquet  # noqa: E402
from handlers.s3.plan import RestoreOptions  # noqa: E402
from handlers.s3.restore import BlastRadius, BucketProtection, ListingPlanner  # noqa: E402

BUCKET = "bench-inventory"
T = datetime(2026, 6, 1, 12, 0, 0)
T_MS = int(T.replace(tzinfo=UTC).timestamp() * 1000)
REPORT_AT = T + timedelta(hours=10)
HOUR_MS, DAY_MS = 3_600_000, 86_400_000
VERSIONS_PER_KEY = 2.75
ATHENA_USD_PER_TB = 5.0  # Athena SQL pricing, per TB scanned (us-east-1), 10 MB minimum per query
# Categories of post-T history, by key index.
UNTOUCHED, OVERWRITE, DELETE, RECREATE, CREATED_AFTER, DELETE_TWICE = range(6)
CATEGORY_OF = np.array([UNTOUCHED, UNTOUCHED, OVERWRITE, OVERWRITE, DELETE, RECREATE, CREATED_AFTER, DELETE_TWICE])
AFTER_COUNT = np.array([0, 1, 1, 2, 1, 2])  # post-T entries per category
# The columns restore_plan.sql reads (for Athena's bytes scanned: Parquet is read by column chunk).
INVENTORY_COLUMNS = (
    "bucket",
    "key",
    "version_id",
    "is_delete_marker",
    "size",
    "last_modified_date",
    "e_tag",
    "storage_class",
    "checksum_algorithm",
)
JOURNAL_COLUMNS = ("event_time", "detail_type", "bucket", "key", "version_id", "sequencer", "size", "etag")


# --------------------------------------------------------------------------------------------------
# The history model, vectorised
# --------------------------------------------------------------------------------------------------
def _strings(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(pa.scalar(prefix), digits, "")


def history(versions: int) -> dict[str, Any]:
    """Every entry of the modelled bucket as columns, in key order and newest first within a key."""
    keys = max(int(versions / VERSIONS_PER_KEY), 8)
    index = np.arange(keys, dtype=np.int64)
    category = CATEGORY_OF[(index * 2654435761 % 2**32) % 8]
    before = np.where(category == CREATED_AFTER, 0, 1 + index % 3)
    after = AFTER_COUNT[category]
    per_key = before + after
    key_of = np.repeat(index, per_key)
    starts = np.repeat(np.cumsum(per_key) - per_key, per_key)
    ordinal = np.arange(key_of.size, dtype=np.int64) - starts  # oldest first within a key
    n_before = before[key_of]
    cat = category[key_of]
    is_after = ordinal >= n_before
    after_ordinal = ordinal - n_before
    marker = is_after & ((cat == DELETE) | (cat == DELETE_TWICE) | ((cat == RECREATE) & (after_ordinal == 0)))
    modified = np.where(
        is_after,
        T_MS + (1 + key_of % 20) * HOUR_MS + after_ordinal * 60_000,
        T_MS - (n_before - ordinal) * 3 * DAY_MS - (key_of % 1000) * 1000,
    )
    same_size = key_of % 5 == 0
    size = np.where(marker, 0, np.where(same_size, 4096, 100 + ordinal))
    # Newest first within a key, as a listing returns them.
    order = np.lexsort((-ordinal, key_of))
    columns = {
        "key_index": key_of[order],
        "ordinal": ordinal[order],
        "is_after": is_after[order],
        "marker": marker[order],
        "modified": modified[order],
        "size": size[order],
        "latest": np.r_[True, key_of[order][1:] != key_of[order][:-1]],
        "category": category,
        "before": before,
        "after": after,
        "keys": keys,
    }
    return columns


def key_names(indices: np.ndarray) -> pa.Array:
    return _strings("data/", indices, 10)


def version_ids(key_index: np.ndarray, ordinal: np.ndarray) -> pa.Array:
    return _strings("v", key_index * 100 + ordinal, 31)  # 32 characters, as S3's


def inventory_and_journal(model: dict[str, Any]) -> tuple[pa.Table, pa.Table]:
    report_ms = int(REPORT_AT.replace(tzinfo=UTC).timestamp() * 1000)
    in_report = model["modified"] <= report_ms
    # S3 Inventory's is_latest is as of the report: the newest entry of each key written by then.
    key_index = model["key_index"]
    ordinal = model["ordinal"]
    keys = key_names(key_index)
    ids = version_ids(key_index, ordinal)
    multipart = key_index % 5 == 0
    etag = pc.binary_join_element_wise(
        _strings("", key_index * 100 + ordinal, 32), pa.array(np.where(multipart, "-3", "")), ""
    )
    storage = pa.array(np.where(key_index % 11 == 0, "STANDARD_IA", "STANDARD"))
    marker = model["marker"]
    modified = pa.array(model["modified"].astype("datetime64[ms]"))
    kept = pa.array(in_report)
    reported_latest = np.zeros(key_index.size, dtype=bool)
    reported_index = np.flatnonzero(in_report)
    first_of_key = np.r_[True, key_index[reported_index][1:] != key_index[reported_index][:-1]]
    reported_latest[reported_index[first_of_key]] = True
    inventory = pa.table(
        {
            "bucket": pa.array(np.full(key_index.size, BUCKET)),
            "key": keys,
            "version_id": ids,
            "is_latest": pa.array(reported_latest),
            "is_delete_marker": pa.array(marker),
            "size": _sizes(model),
            "last_modified_date": modified,
            "e_tag": pc.if_else(pa.array(marker), pa.scalar(None, pa.string()), etag),
            "storage_class": pc.if_else(pa.array(marker), pa.scalar(None, pa.string()), storage),
            "object_lock_retain_until_date": pa.nulls(key_index.size, pa.timestamp("ms")),
            "object_lock_mode": pa.nulls(key_index.size, pa.string()),
            "object_lock_legal_hold_status": pa.nulls(key_index.size, pa.string()),
            "checksum_algorithm": pa.nulls(key_index.size, pa.string()),
        }
    ).filter(kept)
    events = pa.array(model["is_after"])  # every post-T entry is an event since report time - 48 h
    journal = pa.table(
        {
            "event_time": modified,
            "detail_type": pa.array(np.where(marker, "Object Deleted", "Object Created")),
            "bucket": pa.array(np.full(key_index.size, BUCKET)),
            "key": keys,
            "version_id": ids,
            "sequencer": _strings("", model["modified"] * 16 + ordinal, 20),
            "size": _sizes(model),
            "etag": pc.if_else(pa.array(marker), pa.scalar(None, pa.string()), etag),
            "deletion_type": pc.if_else(pa.array(marker), "Delete Marker Created", pa.scalar(None, pa.string())),
            "reason": pa.array(np.where(marker, "DeleteObject", "PutObject")),
            "requester": pa.nulls(key_index.size, pa.string()),
            "source_ip_address": pa.nulls(key_index.size, pa.string()),
            "request_id": pa.nulls(key_index.size, pa.string()),
        }
    ).filter(events)
    return inventory.cast(inventory_schema()), journal.cast(journal_schema())


def _sizes(model: dict[str, Any]) -> pa.Array:
    return pa.array(model["size"], pa.int64(), mask=model["marker"])


def ground_truth(model: dict[str, Any]) -> dict[str, int]:
    """Expected counts by action; the per-key truth is checked in SQL against ``expected_plan``."""
    category = model["category"]
    return {
        "skip": int(np.sum(category == UNTOUCHED)),
        "copy": int(np.sum((category == OVERWRITE) | (category == RECREATE))),
        "undelete": int(np.sum((category == DELETE) | (category == DELETE_TWICE))),
        "delete": int(np.sum(category == CREATED_AFTER)),
    }


def expected_plan(model: dict[str, Any]) -> pa.Table:
    """One row per key: action, the version made current, the markers removed, the maybe-same current version."""
    keys = model["keys"]
    index = np.arange(keys, dtype=np.int64)
    category, before = model["category"], model["before"]
    wanted = version_ids(index, np.maximum(before - 1, 0))
    current_ordinal = before + model["after"] - 1
    current = version_ids(index, current_ordinal)
    action = np.select(
        [category == UNTOUCHED, (category == OVERWRITE) | (category == RECREATE), category == CREATED_AFTER],
        ["skip", "copy", "delete"],
        "undelete",
    )
    null = pa.scalar(None, pa.string())
    wanted_version = pc.if_else(pa.array(np.isin(action, ["copy", "undelete"])), wanted, null)
    maybe_same = pc.if_else(pa.array((action == "copy") & (index % 5 == 0)), current, null)
    # Markers removed: DELETE has one (ordinal before), DELETE_TWICE two (before, before + 1).
    first_marker = version_ids(index, before)
    second_marker = version_ids(index, before + 1)
    one = pa.array(category == DELETE)
    two = pa.array(category == DELETE_TWICE)
    markers = pc.if_else(
        one,
        first_marker,
        pc.if_else(two, pc.binary_join_element_wise(first_marker, second_marker, " "), null),
    )
    return pa.table(
        {
            "key": key_names(index),
            "action": pa.array(action),
            "version": wanted_version,
            "markers": markers,
            "maybe_same": maybe_same,
        }
    )


# --------------------------------------------------------------------------------------------------
# Plan with DuckDB (a worker process: its own peak RSS)
# --------------------------------------------------------------------------------------------------
def parameters() -> PlanParameters:
    return PlanParameters(
        bucket=BUCKET,
        prefix="",
        at=T,
        journal_since=REPORT_AT - timedelta(hours=48),
        settle_from=REPORT_AT + timedelta(days=30),  # the journal has long settled
        in_place=True,
        undelete_allowed=True,
        delete_unwanted=True,
        etags_are_md5=True,
    )


PLAN_OUTPUT_COLUMNS = ("key", "action", "wanted_version", "markers", "maybe_same", "current_version", "relist")


def duckdb_worker(inventory: str, journal: str, output: str, threads: int, memory_limit: str, spill: str) -> None:
    """The plan inside DuckDB from the Parquet files to a Parquet plan (one file per key range, in the folder
    ``output``), so the figures are the engine's: streaming 3.6M rows through Python objects is the drctl run's."""
    started = time.perf_counter()
    engine = DuckDBEngine([inventory], [journal], memory_limit=memory_limit, threads=threads, temp_directory=spill)
    connection = engine.connect()
    sql = render(query_text("restore_plan"), **engine.relations())
    columns = ", ".join(PLAN_OUTPUT_COLUMNS)
    folder = Path(output)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.parquet"):
        stale.unlink()
    rows = 0
    ranges = engine.ranges(parameters())
    for index, part in enumerate(ranges):  # as DuckDBEngine.plan_rows runs them
        quoted = str(folder / f"range-{index:03d}.parquet").replace("'", "''")
        connection.execute(f"COPY (SELECT {columns} FROM ({sql})) TO '{quoted}' (FORMAT parquet)", part.values())
        written = connection.fetchone()
        rows += int(written[0]) if written else 0
    print(json.dumps({"seconds": time.perf_counter() - started, "rows": rows, "ranges": len(ranges)}))


class NoListing:
    """The S3 client the drctl-path worker hands the planner: the benchmark's history has distinct times and a full
    journal, so no key is listed again and no storage class read; a request would be a planner bug here."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"the inventory planner sent S3 {name} on a history that needs no listing")


def drctl_worker(inventory: str, journal: str, threads: int, memory_limit: str, spill: str) -> None:
    """drctl's inventory planning path in one process: ``InventoryPlanner.planned_keys`` over DuckDB (rows fetched
    from the query's stream into ``KeyPlan``s) into the blast-radius count, the pass drctl makes before a restore
    and again while it executes (memory must stay flat whatever the bucket's size)."""
    started = time.perf_counter()
    engine = DuckDBEngine([inventory], [journal], memory_limit=memory_limit, threads=threads, temp_directory=spill)
    report = InventoryReport("reports", BUCKET, "manifest.json", REPORT_AT, (inventory,))
    planner = InventoryPlanner(engine, report, settle=timedelta(0), now=REPORT_AT + timedelta(days=30))
    options = RestoreOptions(bucket=BUCKET, at=T.replace(tzinfo=UTC), delete_created_after=True)
    protection = BucketProtection(versioning="Enabled", mfa_delete=False, replicated=False)
    radius = BlastRadius()
    for planned in planner.planned_keys(NoListing(), options, protection):
        radius.add(planned)
    print(json.dumps({"seconds": time.perf_counter() - started, "rows": radius.counts["keys"], **radius.counts}))


def run_worker(arguments: list[str]) -> dict[str, Any]:
    """Run this script as a worker; returns its JSON line plus its wall time and peak RSS (``wait4``)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, __file__, *arguments], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    stdout = process.stdout.read() if process.stdout else ""
    stderr = process.stderr.read() if process.stderr else ""
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"worker {arguments[0]} failed: {stderr[-2000:]}")
    result = json.loads(stdout.strip().splitlines()[-1])
    # CPU seconds beside wall time: on shared cores the wall time says as much about the neighbours as the planner.
    result.update(wall_seconds=wall, cpu_seconds=usage.ru_utime + usage.ru_stime, peak_rss_mb=usage.ru_maxrss / 1024)
    return result


def compare_with_truth(plan_path: str, truth_path: str) -> dict[str, int]:
    import duckdb

    connection = duckdb.connect(config={"memory_limit": "1GB", "threads": 2})
    row = connection.execute(
        f"""
        WITH plan AS (
            SELECT key, action,
                   CASE WHEN action IN ('copy', 'undelete') THEN wanted_version END AS version,
                   CASE WHEN action = 'undelete' THEN array_to_string(list_sort(markers), ' ') END AS markers,
                   CASE WHEN action = 'copy' AND maybe_same = 1 THEN current_version END AS maybe_same
            FROM read_parquet('{plan_path}/*.parquet')
        ),
        truth AS (SELECT * FROM read_parquet('{truth_path}'))
        SELECT
            count(*) FILTER (WHERE p.key IS NULL OR t.key IS NULL) AS missing,
            count(*) FILTER (WHERE p.action IS DISTINCT FROM t.action OR p.version IS DISTINCT FROM t.version
                             OR p.markers IS DISTINCT FROM t.markers OR p.maybe_same IS DISTINCT FROM t.maybe_same)
                AS different,
            count(*) AS keys
        FROM plan AS p FULL OUTER JOIN truth AS t ON p.key = t.key
        """
    ).fetchone()
    assert row is not None
    relisted = connection.execute(
        f"SELECT count(*) FROM read_parquet('{plan_path}/*.parquet') WHERE relist = 1"
    ).fetchone()
    return {"missing": row[0], "different": row[1], "keys": row[2], "relisted": relisted[0] if relisted else -1}


# --------------------------------------------------------------------------------------------------
# The synthetic ListObjectVersions endpoint (a worker process)
# --------------------------------------------------------------------------------------------------
def endpoint_worker(versions: int, port_file: str) -> None:
    model = history(versions)
    inventory_like = {
        "key": key_names(model["key_index"]).to_pylist(),
        "version": version_ids(model["key_index"], model["ordinal"]).to_pylist(),
    }
    marker, modified, size, latest = model["marker"], model["modified"], model["size"], model["latest"]
    key_index = model["key_index"]
    position = {version: i for i, version in enumerate(inventory_like["version"])}
    total = len(inventory_like["key"])

    def entry(i: int) -> str:
        stamp = datetime.fromtimestamp(int(modified[i]) / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        common = (
            f"<Key>{escape(inventory_like['key'][i])}</Key><VersionId>{inventory_like['version'][i]}</VersionId>"
            f"<IsLatest>{'true' if latest[i] else 'false'}</IsLatest><LastModified>{stamp}</LastModified>"
            "<Owner><ID>x</ID></Owner>"
        )
        if marker[i]:
            return f"<DeleteMarker>{common}</DeleteMarker>"
        multipart = "-3" if key_index[i] % 5 == 0 else ""
        etag = f"{int(key_index[i]) * 100 + int(model['ordinal'][i]):032d}{multipart}"
        storage = "STANDARD_IA" if key_index[i] % 11 == 0 else "STANDARD"
        return (
            f"<Version>{common}<ETag>&quot;{etag}&quot;</ETag><Size>{int(size[i])}</Size>"
            f"<StorageClass>{storage}</StorageClass></Version>"
        )

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:
            pass

        def do_GET(self) -> None:
            query = parse_qs(urlparse(self.path).query, keep_blank_values=True)
            start = 0
            if query.get("version-id-marker"):
                start = position[query["version-id-marker"][0]] + 1
            page = int(query.get("max-keys", ["1000"])[0])
            end = min(start + page, total)
            truncated = end < total
            body = [
                '<?xml version="1.0" encoding="UTF-8"?>',
                '<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
                f"<Name>{BUCKET}</Name><Prefix></Prefix><MaxKeys>{page}</MaxKeys>",
                f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>",
            ]
            if truncated:
                last = end - 1
                body.append(
                    f"<NextKeyMarker>{escape(inventory_like['key'][last])}</NextKeyMarker>"
                    f"<NextVersionIdMarker>{inventory_like['version'][last]}</NextVersionIdMarker>"
                )
            body += [entry(i) for i in range(start, end)]
            body.append("</ListVersionsResult>")
            payload = "".join(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Path(port_file).write_text(str(server.server_address[1]))
    server.serve_forever()


def listing_worker(endpoint: str, output: str) -> None:
    from handlers import aws

    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=endpoint,
    )
    s3 = aws.client("s3", timestamp_parser=aws.parse_iso_timestamp)
    options = RestoreOptions(bucket=BUCKET, at=T.replace(tzinfo=UTC), delete_created_after=True)
    protection = BucketProtection(versioning="Enabled", mfa_delete=False, replicated=False)
    started = time.perf_counter()
    rows = []
    versions = 0
    for planned in ListingPlanner().planned_keys(s3, options, protection):
        versions += planned.versions
        signature = plan_signature(planned.plan)
        assert signature is not None
        rows.append(
            {
                "key": planned.plan.key,
                "action": signature[0],
                "version": signature[1] if signature[0] in ("copy", "undelete") else None,
                "markers": " ".join(signature[2]) if signature[0] == "undelete" else None,
                "maybe_same": signature[3],
            }
        )
    seconds = time.perf_counter() - started
    pq.write_table(pa.Table.from_pylist(rows), output)
    print(json.dumps({"seconds": seconds, "rows": len(rows), "versions": versions}))


def compare_tables(first: str, second: str) -> dict[str, int]:
    import duckdb

    row = (
        duckdb.connect()
        .execute(
            f"""
        SELECT count(*) FILTER (WHERE a.key IS NULL OR b.key IS NULL),
               count(*) FILTER (WHERE a.action IS DISTINCT FROM b.action OR a.version IS DISTINCT FROM b.version
                                OR a.markers IS DISTINCT FROM b.markers OR a.maybe_same IS DISTINCT FROM b.maybe_same),
               count(*)
        FROM read_parquet('{first}') AS a FULL OUTER JOIN read_parquet('{second}') AS b ON a.key = b.key
        """
        )
        .fetchone()
    )
    assert row is not None
    return {"missing": row[0], "different": row[1], "keys": row[2]}


def free_port_wait(port_file: Path, timeout: float = 300) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_file.exists() and port_file.read_text():
            return int(port_file.read_text())
        time.sleep(0.2)
    raise RuntimeError("synthetic endpoint did not start")


# --------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------
def column_bytes(path: str, columns: tuple[str, ...]) -> int:
    """Compressed bytes of the column chunks a query reading ``columns`` scans (Athena bills what it reads)."""
    metadata = pq.ParquetFile(path).metadata
    total = 0
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        for index in range(row_group.num_columns):
            chunk = row_group.column(index)
            if chunk.path_in_schema in columns:
                total += chunk.total_compressed_size
    return total


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} on {os.cpu_count()} CPUs"


def generate_worker(versions: int, folder: str) -> None:
    """Write the report, the journal and the ground truth (a worker: the parent stays small, so the planners'
    peak RSS read from ``wait4`` is theirs alone)."""
    started = time.perf_counter()
    model = history(versions)
    inventory, journal = inventory_and_journal(model)
    paths = {name: str(Path(folder) / f"{name}-{versions}.parquet") for name in ("inventory", "journal", "truth")}
    paths["plan"] = str(Path(folder) / f"plan-{versions}")  # a folder: one Parquet file per key range
    write_parquet(inventory, inventory_schema(), paths["inventory"])
    write_parquet(journal, journal_schema(), paths["journal"])
    pq.write_table(expected_plan(model), paths["truth"])
    print(
        json.dumps(
            {
                "paths": paths,
                "counts": ground_truth(model),
                "entries": int(model["key_index"].size),
                "seconds": time.perf_counter() - started,
            }
        )
    )


def bench_size(versions: int, runs: int, folder: Path, threads: int, memory_limit: str) -> dict[str, Any]:
    generated = run_worker(["--worker-generate", str(versions), str(folder)])
    paths, counts, entries = generated["paths"], generated["counts"], generated["entries"]
    print(
        f"\n{entries:,} versions ({counts}), {pq.ParquetFile(paths['inventory']).metadata.num_rows:,} in the report, "
        f"{pq.ParquetFile(paths['journal']).metadata.num_rows:,} journal events; generated in "
        f"{generated['seconds']:.1f}s",
        file=sys.stderr,
    )
    timings = []
    for run in range(runs):
        print(f"  duckdb run {run + 1}: {load()}", file=sys.stderr)
        result = run_worker(
            [
                "--worker-duckdb",
                paths["inventory"],
                paths["journal"],
                paths["plan"],
                str(threads),
                memory_limit,
                str(folder / "spill"),
            ]
        )
        timings.append(result)
        print(
            f"  duckdb run {run + 1}: {result['wall_seconds']:.2f}s wall (query {result['seconds']:.2f}s, "
            f"{result['ranges']} key ranges), "
            f"{result['cpu_seconds']:.1f} CPU s, peak RSS {result['peak_rss_mb']:.0f} MB, {result['rows']:,} keys "
            f"planned; after: {load()}",
            file=sys.stderr,
        )
    equality = compare_with_truth(paths["plan"], paths["truth"])
    print(f"  duckdb plan vs ground truth: {equality}", file=sys.stderr)
    scanned = column_bytes(paths["inventory"], INVENTORY_COLUMNS) + column_bytes(paths["journal"], JOURNAL_COLUMNS)
    files = {name: os.path.getsize(paths[name]) for name in ("inventory", "journal")}
    return {
        "versions": entries,
        "counts": counts,
        "runs": timings,
        "median_wall_seconds": statistics.median(r["wall_seconds"] for r in timings),
        "median_cpu_seconds": statistics.median(r["cpu_seconds"] for r in timings),
        "max_peak_rss_mb": max(r["peak_rss_mb"] for r in timings),
        "equality": equality,
        "bytes_scanned": scanned,
        "file_bytes": files,
        "paths": paths,
    }


def bench_drctl(size: dict[str, Any], threads: int, memory_limit: str, folder: Path) -> dict[str, Any]:
    paths = size["paths"]
    print(f"  drctl planning path at {size['versions']:,} versions: {load()}", file=sys.stderr)
    result = run_worker(
        ["--worker-drctl", paths["inventory"], paths["journal"], str(threads), memory_limit, str(folder / "spill")]
    )
    expected = size["counts"]
    result["counts_match"] = (
        result["keys"] == sum(expected.values())
        and result["would_undelete"] == expected["undelete"]
        and result["would_delete"] == expected["delete"]
    )
    print(
        f"  drctl path: {result['wall_seconds']:.2f}s wall, {result['cpu_seconds']:.1f} CPU s, peak RSS "
        f"{result['peak_rss_mb']:.0f} MB, {result['keys']:,} keys through the planner (counts as the truth: "
        f"{result['counts_match']}); after: {load()}",
        file=sys.stderr,
    )
    return result


def bench_listing(versions: int, folder: Path, duckdb_plan: str, truth: str) -> dict[str, Any]:
    port_file = folder / "endpoint.port"
    port_file.unlink(missing_ok=True)
    endpoint = subprocess.Popen(
        [sys.executable, __file__, "--worker-endpoint", str(versions), str(port_file)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{free_port_wait(port_file)}"
        output = str(folder / f"listing-{versions}.parquet")
        print(f"  listing planner at {versions:,} versions against {url}: {load()}", file=sys.stderr)
        result = run_worker(["--worker-listing", url, output])
        truth_vs_listing = compare_tables(output, truth)
    finally:
        endpoint.terminate()
        endpoint.wait(timeout=30)
    result["equality_with_truth"] = truth_vs_listing
    print(
        f"  listing: {result['wall_seconds']:.2f}s wall (planning {result['seconds']:.2f}s, "
        f"{result['versions'] / result['seconds']:,.0f} versions/s), peak RSS {result['peak_rss_mb']:.0f} MB; "
        f"vs ground truth {truth_vs_listing}",
        file=sys.stderr,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--versions", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--listing-versions", type=int, default=1_000_000, help="0: skip the listing planner")
    parser.add_argument(
        "--drctl-versions",
        type=int,
        default=10_000_000,
        help="where to measure drctl's planning path (rows streamed into KeyPlans); 0: skip",
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-limit", default="600MB")
    parser.add_argument("--json", dest="json_path")
    options = parser.parse_args()
    print(f"start: {load()}", file=sys.stderr)
    results: dict[str, Any] = {"threads": options.threads, "memory_limit": options.memory_limit, "sizes": {}}
    with tempfile.TemporaryDirectory(prefix="bench-inventory-") as tmp:
        folder = Path(tmp)
        for versions in options.versions:
            results["sizes"][versions] = bench_size(
                versions, options.runs, folder, options.threads, options.memory_limit
            )
            size = results["sizes"][versions]
            if versions == options.drctl_versions:
                size["drctl"] = bench_drctl(size, options.threads, options.memory_limit, folder)
            if versions == options.listing_versions:
                listing = bench_listing(versions, folder, size["paths"]["plan"], size["paths"]["truth"])
                size["listing"] = listing
    report(results)
    if options.json_path:
        Path(options.json_path).write_text(json.dumps(results, indent=2, default=str))


def report(results: dict[str, Any]) -> None:
    print(f"\nDuckDB {results['threads']} threads, memory limit {results['memory_limit']}; {load()}")
    print(
        f"{'versions':>12} {'median s':>9} {'CPU s':>7} {'peak RSS MB':>12} {'keys wrong':>11} {'relisted':>9} "
        f"{'scanned MB':>11}"
    )
    largest = None
    for versions, size in results["sizes"].items():
        equality = size["equality"]
        wrong = equality["missing"] + equality["different"]
        print(
            f"{size['versions']:>12,} {size['median_wall_seconds']:9.2f} {size['median_cpu_seconds']:7.1f} "
            f"{size['max_peak_rss_mb']:12.0f} "
            f"{wrong:>11} {equality['relisted']:>9} {size['bytes_scanned'] / 1e6:11.1f}"
        )
        largest = (versions, size)
        if "drctl" in size:
            drctl = size["drctl"]
            print(
                f"{'':>12} drctl planning path: {drctl['wall_seconds']:.2f}s, {drctl['cpu_seconds']:.1f} CPU s, "
                f"peak RSS {drctl['peak_rss_mb']:.0f} MB, counts as the truth: {drctl['counts_match']}"
            )
        if "listing" in size:
            listing = size["listing"]
            listing_wrong = listing["equality_with_truth"]["missing"] + listing["equality_with_truth"]["different"]
            ratio = size["median_wall_seconds"] / listing["wall_seconds"]
            print(
                f"{'':>12} listing planner: {listing['wall_seconds']:.2f}s, peak RSS {listing['peak_rss_mb']:.0f} MB, "
                f"{listing_wrong} keys wrong; duckdb / listing time {ratio:.3f}x"
            )
    if largest is not None:
        versions, size = largest
        goal_met = (
            size["median_wall_seconds"] <= 60
            and size["max_peak_rss_mb"] <= 1024
            and size["equality"]["missing"] + size["equality"]["different"] == 0
        )
        per_version = size["bytes_scanned"] / size["versions"]
        scanned_100m = per_version * 100_000_000
        print(
            f"goal (10M versions <= 60 s, <= 1 GB, plans equal) at {size['versions']:,}: "
            f"{'met' if goal_met and int(versions) >= 10_000_000 else 'NOT met' if not goal_met else 'n/a'}"
        )
        print(
            f"Athena at 100M versions: ~{scanned_100m / 1e9:.2f} GB scanned ({per_version:.1f} B/version from the "
            f"columns read), ~${scanned_100m / 1e12 * ATHENA_USD_PER_TB:.3f} per plan at ${ATHENA_USD_PER_TB}/TB"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker-duckdb":
        inv, jrn, out, threads, memory, spill = sys.argv[2:8]
        duckdb_worker(inv, jrn, out, int(threads), memory, spill)
    elif len(sys.argv) > 1 and sys.argv[1] == "--worker-drctl":
        inv, jrn, threads, memory, spill = sys.argv[2:7]
        drctl_worker(inv, jrn, int(threads), memory, spill)
    elif len(sys.argv) > 1 and sys.argv[1] == "--worker-generate":
        generate_worker(int(sys.argv[2]), sys.argv[3])
    elif len(sys.argv) > 1 and sys.argv[1] == "--worker-endpoint":
        endpoint_worker(int(sys.argv[2]), sys.argv[3])
    elif len(sys.argv) > 1 and sys.argv[1] == "--worker-listing":
        listing_worker(sys.argv[2], sys.argv[3])
    else:
        main()
