"""Property: on any history, the SQL planner (DuckDB over an inventory report and a journal) decides every key as
``handlers.s3.restore.plan_key`` decides it from a listing of the same history.

Histories are generated (no emulator): puts and deletes hours apart, a report taken at some point (what existed
then, with is-latest as of then), and a journal of every event since the report's time minus the 48 h margin (with
growing sequencers), so that versions only in the report, in both, and only in the journal all occur.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers.s3.inventory import ROWS_PER_RANGE, DuckDBEngine, InventoryPlanner, plan_from_row, plan_signature
from handlers.s3.inventory_files import InventoryReport, inventory_schema, journal_schema, write_parquet
from handlers.s3.plan import KeyHistory, RestoreOptions, Version
from handlers.s3.restore import BucketProtection, plan_key
from tests.properties import examples

pytestmark = pytest.mark.property  # again at full examples in `make test-slow`

BUCKET = "property-bucket"
START = datetime(2026, 3, 1, tzinfo=UTC)
# Keys past ASCII and past the BMP: key ranges are cut in UTF-8 byte order (S3's), which code points keep and UTF-16
# would not.
KEY_ENDINGS = ("é", "z", "日本", "E", "\U0001f600", "\uffef")
STEP = timedelta(hours=10)  # farther apart than the margin in places: some versions predate the journal

operation = st.one_of(
    st.tuples(st.just("put"), st.integers(min_value=1, max_value=3), st.sampled_from(["a", "b", "c-2"])),
    st.tuples(st.just("delete"), st.just(0), st.just("")),
)
history_strategy = st.lists(
    st.lists(operation, min_size=1, max_size=5), min_size=1, max_size=6
)  # keys -> their operations


def _build(operations: list[list[tuple[str, int, str]]]) -> tuple[dict[str, list[Version]], datetime]:
    """Versions per key, oldest first, at distinct times (one global clock, STEP apart)."""
    clock = START
    histories: dict[str, list[Version]] = {}
    for index, ops in enumerate(operations):
        key = f"k/{index} {KEY_ENDINGS[index % len(KEY_ENDINGS)]}"
        versions = []
        for number, (kind, size, etag) in enumerate(ops):
            clock += STEP
            versions.append(
                Version(
                    key=key,
                    version_id=f"v{index}-{number}",
                    last_modified=clock,
                    is_latest=False,
                    is_delete_marker=kind == "delete",
                    size=0 if kind == "delete" else size,
                    etag="" if kind == "delete" else etag,
                )
            )
        histories[key] = versions
    return histories, clock


def _listing_plans(histories: dict[str, list[Version]], options: RestoreOptions, protection: BucketProtection) -> dict:
    plans = {}
    for key, versions in histories.items():
        newest_first = list(reversed(versions))
        newest_first[0] = Version(**{**newest_first[0].__dict__, "is_latest": True})
        plans[key] = plan_signature(plan_key(KeyHistory(key, tuple(newest_first)), options, protection))
    return plans


def _files(histories: dict[str, list[Version]], report_at: datetime, folder: Path) -> tuple[str, str]:
    inventory_rows: list[dict[str, Any]] = []
    journal_rows: list[dict[str, Any]] = []
    sequence = 0
    since = report_at - timedelta(hours=48)
    for versions in histories.values():
        reported = [v for v in versions if v.last_modified <= report_at]
        for version in reported:
            inventory_rows.append(
                {
                    "bucket": BUCKET,
                    "key": version.key,
                    "version_id": version.version_id,
                    "is_latest": version is reported[-1],
                    "is_delete_marker": version.is_delete_marker,
                    "size": None if version.is_delete_marker else version.size,
                    "last_modified_date": version.last_modified.replace(tzinfo=None),
                    "e_tag": None if version.is_delete_marker else version.etag,
                    "storage_class": None if version.is_delete_marker else "STANDARD",
                }
            )
        for version in versions:
            sequence += 1
            if version.last_modified >= since:
                journal_rows.append(
                    {
                        "event_time": version.last_modified.replace(tzinfo=None),
                        "detail_type": "Object Deleted" if version.is_delete_marker else "Object Created",
                        "bucket": BUCKET,
                        "key": version.key,
                        "version_id": version.version_id,
                        # Sequencers grow with every write; trailing zeros vary their length, not their value once
                        # right-padded (S3's rule for comparing them).
                        "sequencer": f"{0x617F0829932900 + sequence:X}{'0' * (sequence % 3)}",
                        "size": None if version.is_delete_marker else version.size,
                        "etag": None if version.is_delete_marker else version.etag,
                        "deletion_type": "Delete Marker Created" if version.is_delete_marker else None,
                    }
                )
    inventory, journal = str(folder / "inventory.parquet"), str(folder / "journal.parquet")
    write_parquet(inventory_rows, inventory_schema(), inventory)
    write_parquet(journal_rows, journal_schema(), journal)
    return inventory, journal


def _plans_of_both(
    folder: Path,
    operations: list[list[tuple[str, int, str]]],
    *,
    report_step: int,
    restore_step: int,
    in_place: bool,
    replicated: bool,
    delete_unwanted: bool,
    kms: bool,
    rows_per_range: int = ROWS_PER_RANGE,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The SQL planner's and the listing planner's plan signatures, per key, for one generated history."""
    histories, last = _build(operations)
    report_at = min(START + report_step * STEP + timedelta(minutes=30), last)
    at = START + restore_step * STEP + timedelta(minutes=30)  # never within seconds of a write
    options = RestoreOptions(
        bucket=BUCKET,
        at=at,
        target_bucket=None if in_place else "elsewhere",
        delete_created_after=delete_unwanted,
    )
    protection = BucketProtection(
        versioning="Enabled", mfa_delete=False, replicated=replicated, kms_default_encryption=kms
    )
    inventory, journal = _files(histories, report_at, folder)
    report = InventoryReport("reports", BUCKET, "manifest.json", report_at.replace(tzinfo=None), (inventory,))
    engine = DuckDBEngine([inventory], [journal], rows_per_range=rows_per_range)
    planner = InventoryPlanner(engine, report, now=last + timedelta(days=1))

    rows = list(planner.engine.plan_rows(planner.parameters(options, protection)))

    assert not [row["key"] for row in rows if row["relist"]], "distinct times and a full journal: nothing to list"
    assert len(rows) == len({row["key"] for row in rows}), "a key planned in two ranges"
    sql = {row["key"]: plan_signature(plan_from_row(row, "STANDARD")) for row in rows}
    return sql, _listing_plans(histories, options, protection)


# Random on every run (0.15 to 1 s an example here, with the load): 50 examples under `make test-slow`.
@settings(max_examples=examples(50), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    operations=history_strategy,
    report_step=st.integers(min_value=0, max_value=30),
    restore_step=st.integers(min_value=-1, max_value=30),
    in_place=st.booleans(),
    replicated=st.booleans(),
    delete_unwanted=st.booleans(),
    kms=st.booleans(),
    rows_per_range=st.sampled_from([ROWS_PER_RANGE, 1, 3]),  # one range, a key a range, a few keys a range
)
def test_sql_and_listing_planners_agree(
    tmp_path: Path,
    operations: list[list[tuple[str, int, str]]],
    report_step: int,
    restore_step: int,
    in_place: bool,
    replicated: bool,
    delete_unwanted: bool,
    kms: bool,
    rows_per_range: int,
) -> None:
    folder = tmp_path / f"{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    sql, listing = _plans_of_both(
        folder,
        operations,
        report_step=report_step,
        restore_step=restore_step,
        in_place=in_place,
        replicated=replicated,
        delete_unwanted=delete_unwanted,
        kms=kms,
        rows_per_range=rows_per_range,
    )
    assert sql == listing


@pytest.mark.parametrize("in_place", [False, True])
def test_maybe_same_hint_only_for_an_in_place_copy(tmp_path: Path, in_place: bool) -> None:
    """The example a random run found: two equal puts, T between them. Copying the first version elsewhere is
    checked at the destination when executing, so neither planner names the current version as maybe the same;
    in place, both do (equal size, class and ETag)."""
    sql, listing = _plans_of_both(
        tmp_path,
        [[("put", 1, "a"), ("put", 1, "a")]],
        report_step=0,
        restore_step=1,
        in_place=in_place,
        replicated=False,
        delete_unwanted=False,
        kms=False,
    )
    assert sql == listing
    assert sql["k/0 é"] == ("copy", "v0-0", (), "v0-1" if in_place else None)


def test_key_ranges_cover_every_key_once_in_utf8_order(tmp_path: Path) -> None:
    """A key a range: contiguous ranges, open at both ends, cut at sampled keys in UTF-8 byte order (S3's, and
    DuckDB's VARCHAR order), and the plan still equals the listing's."""
    operations = [[("put", 1, "a"), ("put", 2, "b")] for _ in KEY_ENDINGS]
    histories, last = _build(operations)
    inventory, journal = _files(histories, last, tmp_path)
    engine = DuckDBEngine([inventory], [journal], rows_per_range=1)
    report = InventoryReport("reports", BUCKET, "manifest.json", last.replace(tzinfo=None), (inventory,))
    planner = InventoryPlanner(engine, report, now=last + timedelta(days=1))
    options = RestoreOptions(bucket=BUCKET, at=START + timedelta(hours=15))
    protection = BucketProtection(versioning="Enabled", mfa_delete=False, replicated=False)

    ranges = engine.ranges(planner.parameters(options, protection))

    edges = [ranges[0].key_from, *(part.key_to for part in ranges)]
    assert edges[0] == "" and edges[-1] == ""
    assert all(low.key_to == high.key_from for low, high in itertools.pairwise(ranges))
    cuts = edges[1:-1]
    assert len(cuts) == len(histories) - 1
    assert cuts == sorted(cuts, key=lambda key: key.encode())
    # Counted and sampled under the prefix only: one key there, one range (no empty ones cut elsewhere).
    assert len(engine.ranges(replace(planner.parameters(options, protection), prefix="k/1 "))) == 1
    (tmp_path / "plans").mkdir()
    sql, listing = _plans_of_both(
        tmp_path / "plans",
        operations,
        report_step=len(KEY_ENDINGS) * 2,
        restore_step=0,
        in_place=True,
        replicated=False,
        delete_unwanted=False,
        kms=False,
        rows_per_range=1,
    )
    assert sql == listing
