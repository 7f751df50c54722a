"""Plan a point-in-time restore from S3 Inventory and the change journal with SQL: DuckDB here, Athena on AWS.

One query (``sql/restore_plan.sql``) runs unchanged in both engines; only its two FROM relations are templated.
It yields one row per key with the same decision ``handlers.s3.restore.plan_key`` makes from a listing. Keys the
tables cannot order for certain (``relist``: equal LastModified without sequencers, a journal-only version within
``UNCERTAIN_SECONDS`` of T, or events inside the journal's settle window) are planned from a listing of that key,
by ``plan_key`` itself. The plan then runs through the restore's one executor (``restore_bucket(planner=...)``):
copies go to S3 Batch Operations as a CSV manifest above the threshold (``handlers.s3.batch``), delete markers are
removed by batched ``DeleteObjects`` (Batch Operations has no delete operation), MFA-delete and replicated buckets
restore by copy, and objects over 5 GB by multipart copy in drctl.

The journal replays from the report's ``creationTimestamp`` minus ``JOURNAL_MARGIN``: an inventory is not a
point-in-time snapshot (it is assembled over the hours before that time), so every change in the margin is applied
again, de-duplicated by version id.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from handlers.s3.inventory_files import (
    InventoryReport,
    download,
    journal_keys,
    latest_report,
    temporary_folder,
)
from handlers.s3.plan import Action, KeyHistory, KeyPlan, RestoreOptions, Version
from handlers.s3.restore import (
    BucketProtection,
    PlannedKey,
    iter_key_histories,
    plan_key,
)

SQL_DIR = Path(__file__).with_name("sql")
JOURNAL_MARGIN = timedelta(hours=48)  # S3 assembles a report over hours before creationTimestamp; 48 h is ample
UNCERTAIN_SECONDS = 2  # a journal-only version's event time may differ from its LastModified by about a second
# Events arrive "typically within seconds and sometimes a minute or more" (S3 User Guide, event notifications), and
# Firehose buffers up to its interval (the stack sets 60 s): keys changed this close to the journal's end are listed.
DEFAULT_SETTLE = timedelta(minutes=5)
DUCKDB_MEMORY_LIMIT = "600MB"
# Rows (inventory + journal) DuckDB plans in one key range: the query's window and per-key aggregation hold every row
# of the range (about 170 B a version and 400 B a key), so a range has to fit DUCKDB_MEMORY_LIMIT. Measured with
# benchmarks/restore_inventory.py at 10M versions (11.6M rows, 2 threads, 600 MB): one range spilled 4.5 GB to disk
# and took 88 CPU s; 4 ranges 55 CPU s; 8 ranges 39 CPU s; 16 ranges (this value) 27 CPU s at 489 MB peak RSS;
# 32 ranges 29 CPU s at 386 MB.
ROWS_PER_RANGE = 750_000
KEY_SAMPLE_PER_RANGE = 1_000  # sampled keys per range to place the boundaries
# Rows fetched from DuckDB's stream at a time (Python tuples and dicts; the CPU time is the same). drctl's planning
# path at 10M versions peaked at 819 MB RSS fetching 50,000; at 480 to 829 MB in four runs fetching 5,000:
# the rest is DuckDB's memory limit and what its allocator keeps, which varies from run to run.
FETCH_ROWS = 5_000


@cache
def query_text(name: str) -> str:
    return (SQL_DIR / f"{name}.sql").read_text()


def render(sql: str, **relations: str) -> str:
    """Template only the FROM relations (``{inventory}``, ``{journal}``); everything else is bound as parameters."""
    for name, relation in relations.items():
        sql = sql.replace("{" + name + "}", relation)
    return sql


def _naive(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _timestamp_literal(value: datetime) -> str:
    return _naive(value).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


@dataclass(frozen=True)
class PlanParameters:
    bucket: str
    prefix: str
    at: datetime
    journal_since: datetime
    settle_from: datetime
    in_place: bool
    undelete_allowed: bool
    delete_unwanted: bool
    etags_are_md5: bool
    key_from: str = ""  # one range of keys [key_from, key_to); '' leaves that end open
    key_to: str = ""

    def values(self) -> list[Any]:
        """In the order of the ``?`` in ``restore_plan.sql``'s ``params``."""
        uncertain = timedelta(seconds=UNCERTAIN_SECONDS)
        return [
            self.bucket,
            self.prefix,
            self.key_from,
            self.key_to,
            _timestamp_literal(self.at),
            _timestamp_literal(self.journal_since),
            _timestamp_literal(self.at - uncertain),
            _timestamp_literal(self.at + uncertain),
            _timestamp_literal(self.settle_from),
            self.in_place,
            self.undelete_allowed,
            self.delete_unwanted,
            self.etags_are_md5,
        ]


# --------------------------------------------------------------------------------------------------
# Engines: where the SQL runs
# --------------------------------------------------------------------------------------------------
PLAN_COLUMNS = (
    "key",
    "action",
    "wanted_version",
    "wanted_size",
    "wanted_class",
    "wanted_etag",
    "wanted_modified",
    "wanted_checksum",
    "wanted_journal_only",
    "markers",
    "maybe_same",
    "current_version",
    "current_size",
    "current_class",
    "current_etag",
    "current_modified",
    "current_marker",
    "versions",
    "first_modified",
    "relist",
)


class Engine(Protocol):
    name: str

    def plan_rows(self, parameters: PlanParameters) -> Iterator[dict[str, Any]]: ...

    def query(self, sql_name: str, values: Sequence[Any]) -> list[dict[str, Any]]: ...


EMPTY_JOURNAL = (
    "(SELECT CAST(NULL AS TIMESTAMP) AS event_time, CAST(NULL AS VARCHAR) AS detail_type, "
    "CAST(NULL AS VARCHAR) AS bucket, CAST(NULL AS VARCHAR) AS key, CAST(NULL AS VARCHAR) AS version_id, "
    "CAST(NULL AS VARCHAR) AS sequencer, CAST(NULL AS BIGINT) AS size, CAST(NULL AS VARCHAR) AS etag, "
    "CAST(NULL AS VARCHAR) AS deletion_type, CAST(NULL AS VARCHAR) AS reason, CAST(NULL AS VARCHAR) AS requester, "
    "CAST(NULL AS VARCHAR) AS source_ip_address, CAST(NULL AS VARCHAR) AS request_id WHERE 1 = 0)"
)


EMPTY_INVENTORY = (
    "(SELECT CAST(NULL AS VARCHAR) AS bucket, CAST(NULL AS VARCHAR) AS key, CAST(NULL AS VARCHAR) AS version_id, "
    "CAST(NULL AS BOOLEAN) AS is_latest, CAST(NULL AS BOOLEAN) AS is_delete_marker, CAST(NULL AS BIGINT) AS size, "
    "CAST(NULL AS TIMESTAMP) AS last_modified_date, CAST(NULL AS VARCHAR) AS e_tag, "
    "CAST(NULL AS VARCHAR) AS storage_class, CAST(NULL AS VARCHAR) AS checksum_algorithm WHERE 1 = 0)"
)


def _parquet_relation(paths: Sequence[str]) -> str:
    quoted = ", ".join("'" + path.replace("'", "''") + "'" for path in paths)
    return f"read_parquet([{quoted}])"


@dataclass
class DuckDBEngine:
    """DuckDB over local Parquet files, in bounded memory (it spills to ``temp_directory`` past the limit)."""

    inventory_files: Sequence[str]
    journal_files: Sequence[str] = ()
    memory_limit: str = DUCKDB_MEMORY_LIMIT
    threads: int | None = None
    temp_directory: str | None = None
    rows_per_range: int = ROWS_PER_RANGE
    name: str = "duckdb"
    _connection: Any = field(default=None, repr=False)

    def connect(self) -> Any:
        import duckdb  # a default dependency group of drctl, never in the Lambda package

        if self._connection is None:
            config: dict[str, Any] = {"memory_limit": self.memory_limit, "preserve_insertion_order": False}
            if self.threads:
                config["threads"] = self.threads
            if self.temp_directory:
                config["temp_directory"] = self.temp_directory
            self._connection = duckdb.connect(config=config)
        return self._connection

    def relations(self) -> dict[str, str]:
        journal = _parquet_relation(self.journal_files) if self.journal_files else EMPTY_JOURNAL
        inventory = _parquet_relation(self.inventory_files) if self.inventory_files else EMPTY_INVENTORY
        return {"inventory": inventory, "journal": journal}

    def ranges(self, parameters: PlanParameters) -> list[PlanParameters]:
        """``parameters`` split into key ranges of about ``rows_per_range`` rows each (one range when small),
        bounded by keys sampled from the inventory under the prefix. The ranges cover every key, journal-only keys
        included: the first and last are open. (DuckDB's own SQL: this is how DuckDB runs the shared query.)"""
        connection = self.connect()
        relations = self.relations()
        under = "WHERE bucket = ? AND starts_with(key, ?)"
        scope = [parameters.bucket, parameters.prefix]
        counted = connection.execute(
            f"SELECT (SELECT count(*) FROM {relations['inventory']} {under}) "
            f"+ (SELECT count(*) FROM {relations['journal']} {under})",
            scope * 2,
        ).fetchone()
        count = int(counted[0]) if counted else 0
        wanted = -(-count // self.rows_per_range)
        if wanted <= 1:
            return [parameters]
        sampled = connection.execute(
            f"SELECT key FROM (SELECT key FROM {relations['inventory']} {under}) "
            f"USING SAMPLE reservoir({wanted * KEY_SAMPLE_PER_RANGE} ROWS) REPEATABLE (21)",
            scope,
        ).fetchall()
        # Python orders str by code point, as DuckDB orders VARCHAR (UTF-8 bytes): the boundaries keep the ranges'
        # order, and a key falls in exactly one range.
        keys = sorted({row[0] for row in sampled if row[0]})
        ranges = min(wanted, len(keys))  # never a range without a sampled key
        if ranges <= 1:  # a large journal over an (almost) empty report
            return [parameters]
        bounds = sorted({keys[len(keys) * index // ranges] for index in range(1, ranges)})
        edges = ["", *bounds, ""]
        return [replace(parameters, key_from=low, key_to=high) for low, high in itertools.pairwise(edges)]

    def plan_rows(self, parameters: PlanParameters) -> Iterator[dict[str, Any]]:
        """Every key's row, range by range, fetched from the query's stream (memory stays within the limit
        whatever the bucket's size)."""
        if not self.inventory_files:
            raise ValueError("the inventory report has no data files")
        sql = render(query_text("restore_plan"), **self.relations())
        for part in self.ranges(parameters):
            cursor = self.connect().cursor()
            cursor.execute(sql, part.values())
            names = [column[0] for column in cursor.description]
            while rows := cursor.fetchmany(FETCH_ROWS):
                for row in rows:
                    yield dict(zip(names, row, strict=True))

    def query(self, sql_name: str, values: Sequence[Any]) -> list[dict[str, Any]]:
        cursor = self.connect().cursor()
        cursor.execute(render(query_text(sql_name), **self.relations()), list(values))
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@dataclass
class AthenaEngine:
    """Athena (Trino) over the Glue tables the stack creates (components/inventory.py): the same SQL text, with
    ``?`` bound through ``ExecutionParameters`` (SQL literals) in the stack's workgroup."""

    athena: Any
    workgroup: str
    database: str
    inventory_table: str
    journal_table: str
    report_partition: str  # the report's dt value, ``YYYY-MM-DD-HH-MM``
    poll_seconds: float = 1.0
    timeout_seconds: float = 3600
    name: str = "athena"
    last_statistics: dict[str, Any] = field(default_factory=dict)

    def relations(self) -> dict[str, str]:
        inventory = f'(SELECT * FROM "{self.database}"."{self.inventory_table}" WHERE dt = \'{self.report_partition}\')'
        return {"inventory": inventory, "journal": f'"{self.database}"."{self.journal_table}"'}

    def _run(self, sql: str, values: Sequence[Any]) -> Iterator[dict[str, Any]]:
        started = self.athena.start_query_execution(
            QueryString=sql,
            WorkGroup=self.workgroup,
            QueryExecutionContext={"Database": self.database},
            ExecutionParameters=[_athena_literal(value) for value in values],
        )
        query_id = started["QueryExecutionId"]
        deadline = time.monotonic() + self.timeout_seconds
        while True:
            execution = self.athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
            state = execution["Status"]["State"]
            if state == "SUCCEEDED":
                self.last_statistics = dict(execution.get("Statistics", {}))
                break
            if state in ("FAILED", "CANCELLED"):
                reason = execution["Status"].get("StateChangeReason", state)
                raise RuntimeError(f"Athena query {query_id} {state}: {reason}")
            if time.monotonic() > deadline:
                self.athena.stop_query_execution(QueryExecutionId=query_id)
                raise TimeoutError(f"Athena query {query_id} still running after {self.timeout_seconds} s")
            time.sleep(self.poll_seconds)
        names: list[str] | None = None
        for page in self.athena.get_paginator("get_query_results").paginate(QueryExecutionId=query_id):
            rows = page["ResultSet"]["Rows"]
            if names is None:
                names = [column["Name"] for column in page["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]]
                rows = rows[1:]  # the first row of the first page repeats the column names
            for row in rows:
                yield dict(zip(names, (cell.get("VarCharValue") for cell in row["Data"]), strict=True))

    def plan_rows(self, parameters: PlanParameters) -> Iterator[dict[str, Any]]:
        sql = render(query_text("restore_plan"), **self.relations())
        for row in self._run(sql, parameters.values()):
            yield _typed_athena_row(row)

    def query(self, sql_name: str, values: Sequence[Any]) -> list[dict[str, Any]]:
        return list(self._run(render(query_text(sql_name), **self.relations()), values))


def _athena_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _typed_athena_row(row: dict[str, Any]) -> dict[str, Any]:
    """Athena returns every value as text: arrays as ``[a, b]``, timestamps as ``YYYY-MM-DD HH:MM:SS.fff``."""
    typed: dict[str, Any] = dict(row)
    for name in ("wanted_size", "current_size", "versions", "maybe_same", "current_marker", "relist"):
        typed[name] = None if row.get(name) in (None, "") else int(row[name])
    typed["wanted_journal_only"] = (
        None if row.get("wanted_journal_only") in (None, "") else int(row["wanted_journal_only"])
    )
    for name in ("wanted_modified", "current_modified", "first_modified"):
        typed[name] = None if not row.get(name) else datetime.fromisoformat(row[name])
    markers = row.get("markers")
    typed["markers"] = [m for m in markers.strip("[]").split(", ") if m] if markers else None
    return typed


# --------------------------------------------------------------------------------------------------
# The planner: SQL rows -> the same KeyPlans the listing planner makes
# --------------------------------------------------------------------------------------------------
def _version(key: str, row: dict[str, Any], prefix: str, *, is_latest: bool, storage_class: str | None) -> Version:
    return Version(
        key=key,
        version_id=row[f"{prefix}_version"],
        last_modified=row[f"{prefix}_modified"].replace(tzinfo=UTC),
        is_latest=is_latest,
        is_delete_marker=False,
        size=int(row[f"{prefix}_size"] or 0),
        storage_class=storage_class or "STANDARD",
        etag=row[f"{prefix}_etag"] or "",
        checksum_algorithm=row.get(f"{prefix}_checksum") if prefix == "wanted" else None,
    )


def plan_from_row(row: dict[str, Any], wanted_class: str | None = None) -> KeyPlan:
    """The ``KeyPlan`` for one row of ``restore_plan.sql`` (``wanted_class`` fills an unknown storage class)."""
    key, action = row["key"], Action(row["action"])
    if action in (Action.SKIP, Action.DELETE):
        return KeyPlan(key, action)
    wanted = _version(
        key,
        row,
        "wanted",
        is_latest=row["wanted_version"] == row["current_version"],
        storage_class=row["wanted_class"] or wanted_class,
    )
    if action is Action.UNDELETE:
        return KeyPlan(key, action, wanted, tuple(sorted(row["markers"] or ())))
    maybe_same = None
    if row["maybe_same"]:  # decided by the query alone (in-place copies over a data version that looks the same)
        maybe_same = _version(key, row, "current", is_latest=True, storage_class=row["current_class"])
    return KeyPlan(key, action, wanted, maybe_same_as=maybe_same)


def key_history(s3: Any, bucket: str, key: str) -> KeyHistory | None:
    """A bounded listing: one key's versions (the prefix listing can hold longer keys; they are skipped)."""
    for history in iter_key_histories(s3, bucket, key):
        if history.key == key:
            return history
        if history.key > key:
            break
    return None


def storage_class_of(s3: Any, bucket: str, key: str, version_id: str) -> str:
    head = s3.head_object(Bucket=bucket, Key=key, VersionId=version_id)
    return str(head.get("StorageClass") or "STANDARD")  # HeadObject omits STANDARD


@dataclass
class InventoryPlanner:
    """``restore_bucket(planner=...)``: plans from the newest inventory report and the journal since it."""

    engine: Engine
    report: InventoryReport
    journal_files: int = 0
    settle: timedelta = DEFAULT_SETTLE
    now: datetime | None = None
    name: str = "inventory"
    relisted: int = 0
    storage_classes_read: int = 0
    _relisted_keys: dict[str, PlannedKey | None] = field(default_factory=dict, repr=False)

    def parameters(self, options: RestoreOptions, protection: BucketProtection) -> PlanParameters:
        now = _naive(self.now or datetime.now(UTC))
        return PlanParameters(
            bucket=options.bucket,
            prefix=options.prefix,
            at=options.at,
            journal_since=self.report.created - JOURNAL_MARGIN,
            settle_from=now - self.settle,
            in_place=options.in_place,
            undelete_allowed=options.in_place and protection.undelete_allowed(options.mfa),
            delete_unwanted=options.delete_created_after,
            etags_are_md5=protection.etags_are_md5,
        )

    def planned_keys(self, s3: Any, options: RestoreOptions, protection: BucketProtection) -> Iterator[PlannedKey]:
        for row in self.engine.plan_rows(self.parameters(options, protection)):
            if row["relist"]:
                planned = self._relist(s3, options, protection, row["key"])
                if planned is not None:
                    yield planned
                continue
            wanted_class = None
            action = Action(row["action"])
            if action is Action.COPY and row["wanted_class"] is None:
                # A version known from the journal only: its event carries no storage class, and a copy must
                # keep it (CopyObject writes STANDARD unless told).
                wanted_class = storage_class_of(s3, options.bucket, row["key"], row["wanted_version"])
                self.storage_classes_read += 1
            yield PlannedKey(
                plan_from_row(row, wanted_class),
                int(row["versions"]),
                not row["current_marker"],
                row["first_modified"].replace(tzinfo=UTC),
            )

    def _relist(self, s3: Any, options: RestoreOptions, protection: BucketProtection, key: str) -> PlannedKey | None:
        if key not in self._relisted_keys:
            self.relisted += 1
            history = key_history(s3, options.bucket, key)
            self._relisted_keys[key] = (
                None
                if history is None  # every version removed since the report
                else PlannedKey(
                    plan_key(history, options, protection),
                    len(history.entries),
                    not history.current.is_delete_marker,
                    history.entries[-1].last_modified,
                )
            )
        return self._relisted_keys[key]

    def describe(self) -> dict[str, Any]:
        return {
            "planner": self.name,
            "engine": self.engine.name,
            "inventory_report": {
                "manifest": f"s3://{self.report.reports_bucket}/{self.report.manifest_key}",
                "created": self.report.created.replace(tzinfo=UTC).isoformat(),
                "journal_since": (self.report.created - JOURNAL_MARGIN).replace(tzinfo=UTC).isoformat(),
                "journal_files": self.journal_files,
            },
            "relisted_keys": self.relisted,
            "storage_classes_read": self.storage_classes_read,
        }


@contextlib.contextmanager
def duckdb_planner(
    s3: Any,
    reports_s3: Any,
    reports_bucket: str,
    bucket: str,
    *,
    settle: timedelta = DEFAULT_SETTLE,
    memory_limit: str = DUCKDB_MEMORY_LIMIT,
) -> Iterator[InventoryPlanner | None]:
    """The inventory planner over local copies of the newest report and the journal since it; None when no report
    has been delivered yet (the caller falls back to the listing planner and says so)."""
    report = latest_report(reports_s3, reports_bucket, bucket)
    if report is None:
        yield None
        return
    with temporary_folder() as folder:
        inventory = download(reports_s3, reports_bucket, report.files, Path(folder) / "inventory")
        journal = download(
            reports_s3,
            reports_bucket,
            journal_keys(reports_s3, reports_bucket, bucket, report.created - JOURNAL_MARGIN),
            Path(folder) / "journal",
        )
        engine = DuckDBEngine(inventory, journal, memory_limit=memory_limit, temp_directory=str(Path(folder) / "spill"))
        yield InventoryPlanner(engine, report, journal_files=len(journal), settle=settle)


def plans_differ(first: dict[str, KeyPlan], second: dict[str, KeyPlan], sample: int = 20) -> dict[str, Any]:
    """Where two planners' plans differ (``--check-against-listing``): keys, and a sample of each difference."""
    keys = first.keys() | second.keys()
    differences = []
    for key in sorted(keys):
        one, two = first.get(key), second.get(key)
        if plan_signature(one) != plan_signature(two):
            differences.append({"key": key, "inventory": plan_signature(one), "listing": plan_signature(two)})
    return {"keys_compared": len(keys), "differences": len(differences), "sample": differences[:sample]}


def plan_signature(plan: KeyPlan | None) -> tuple[Any, ...] | None:
    """What makes two plans the same: action, version, markers removed, and whether a content check precedes."""
    if plan is None:
        return None
    return (
        plan.action.value,
        plan.version.version_id if plan.version else None,
        tuple(sorted(plan.markers)),
        plan.maybe_same_as.version_id if plan.maybe_same_as else None,
    )


# --------------------------------------------------------------------------------------------------
# Audit from the same tables
# --------------------------------------------------------------------------------------------------
AUDIT_ACTIONS = ("create", "overwrite", "delete")


def audit_objects(
    engine: Engine, bucket: str, since: datetime, *, prefix: str = "", actions: Sequence[str] = AUDIT_ACTIONS
) -> list[dict[str, Any]]:
    """Who changed what under ``prefix`` since ``since`` (``sql/audit_objects.sql``), keeping ``actions``."""
    unknown = sorted(set(actions) - set(AUDIT_ACTIONS))
    if unknown:
        raise ValueError(f"--actions: unknown {', '.join(unknown)} (choose from {', '.join(AUDIT_ACTIONS)})")
    rows = engine.query("audit_objects", [bucket, prefix, _timestamp_literal(since)])
    return [row for row in rows if row["action"] in actions]


def deletion_spikes(engine: Engine, bucket: str, since: datetime, min_deletes: int) -> list[dict[str, Any]]:
    """5-minute windows with at least ``min_deletes`` deleted objects (``sql/deletion_spikes.sql``)."""
    return engine.query("deletion_spikes", [bucket, _timestamp_literal(since), min_deletes])


@contextlib.contextmanager
def duckdb_journal(reports_s3: Any, reports_bucket: str, bucket: str, since: datetime) -> Iterator[DuckDBEngine]:
    """DuckDB over local copies of the newest report (if any) and the journal's day partitions from ``since``."""
    report = latest_report(reports_s3, reports_bucket, bucket)
    with temporary_folder() as folder:
        inventory = download(reports_s3, reports_bucket, report.files if report else (), Path(folder) / "inventory")
        journal = download(
            reports_s3,
            reports_bucket,
            journal_keys(reports_s3, reports_bucket, bucket, since),
            Path(folder) / "journal",
        )
        yield DuckDBEngine(inventory, journal, temp_directory=str(Path(folder) / "spill"))


def compare_with_listing(
    s3: Any, options: RestoreOptions, protection: BucketProtection, planner: InventoryPlanner
) -> dict[str, Any]:
    """``--dry-run --check-against-listing``: both plans of every key, and where they differ (memory grows with the
    keys: a check for buckets a listing can still plan)."""
    from handlers.s3.restore import ListingPlanner

    inventory = {planned.plan.key: planned.plan for planned in planner.planned_keys(s3, options, protection)}
    listing = {planned.plan.key: planned.plan for planned in ListingPlanner().planned_keys(s3, options, protection)}
    return plans_differ(inventory, listing)


def versions_from_storage_metrics(cloudwatch: Any, bucket: str, now: datetime | None = None) -> int | None:
    """The bucket's object count from S3's daily storage metric ``NumberOfObjects`` (every version and delete marker
    counts; AWS/S3, dimensions BucketName and StorageType=AllStorageTypes, published once a day in the bucket's
    Region), or None when there is no datapoint."""
    end = now or datetime.now(UTC)
    response = cloudwatch.get_metric_statistics(
        Namespace="AWS/S3",
        MetricName="NumberOfObjects",
        Dimensions=[{"Name": "BucketName", "Value": bucket}, {"Name": "StorageType", "Value": "AllStorageTypes"}],
        StartTime=end - timedelta(days=3),
        EndTime=end,
        Period=86400,
        Statistics=["Average"],
    )
    points = sorted(response.get("Datapoints", []), key=lambda point: point["Timestamp"])
    return int(points[-1]["Average"]) if points else None


@contextlib.contextmanager
def athena_planner(
    s3: Any, athena: Any, reports_bucket: str, bucket: str, *, workgroup: str, database: str, settle: timedelta
) -> Iterator[InventoryPlanner | None]:
    """The inventory planner on Athena: the newest report's partition of the bucket's Glue tables."""
    from handlers.runtime_names import inventory_table, journal_table

    report = latest_report(s3, reports_bucket, bucket)
    if report is None:
        yield None
        return
    engine = AthenaEngine(
        athena,
        workgroup,
        database,
        inventory_table(bucket),
        journal_table(bucket),
        report_partition=f"{report.created:%Y-%m-%d-%H-%M}",
    )
    yield InventoryPlanner(engine, report, settle=settle)
