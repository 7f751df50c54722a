"""The SQL planner (``handlers/s3/sql/restore_plan.sql`` in DuckDB) against the listing planner on moto buckets.

Emulated: S3 Inventory and EventBridge do not exist on moto, so each test writes the report from a listing
(``inventory_files.listing_rows``, the S3 Inventory Parquet schema) and the journal from the events its own writes
would have sent (``tests/handlers/inventory_scenario.py``). Everything else (the bucket, the reports bucket, the
downloads, the relisting of ambiguous keys, the restore) runs against the moto server.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from handlers.s3.inventory import duckdb_planner, plan_signature, plans_differ
from handlers.s3.inventory_files import journal_keys, latest_report
from handlers.s3.plan import Action, KeyPlan, RestoreOptions
from handlers.s3.restore import ListingPlanner, read_bucket_protection, restore_bucket, restore_client
from tests.handlers.inventory_scenario import JournalRecorder, snapshot_inventory
from tests.handlers.s3_scenario import (
    LOCK_BUCKET,
    MECHANICS,
    current_contents,
    point_in_time,
    replicate,
    versioned_bucket,
)

BUCKET = "inventory-restore"
REPORTS = LOCK_BUCKET  # the stack's reports bucket holds the lock, the inventory and the journal


@pytest.fixture
def s3(moto_endpoint: str) -> Any:
    client = boto3.client("s3")
    versioned_bucket(client, BUCKET)
    return client


def _plans(planner: Any, s3: Any, options: RestoreOptions) -> dict[str, KeyPlan]:
    protection = read_bucket_protection(s3, options.bucket)
    return {planned.plan.key: planned.plan for planned in planner.planned_keys(s3, options, protection)}


def _history(s3: Any, journal: JournalRecorder, *, inventory_before_t: bool) -> tuple[datetime, dict[str, bytes]]:
    """Overwrites, deletes, a re-create, repeated markers, keys created after T, a permanently deleted version,
    and a version created between the report and T (journal only) when ``inventory_before_t``."""
    expected = {f"k/{name}": f"old {name}".encode() for name in ("a", "b b", "c", "d", "e", "f", "é+&,", "h")}
    old_versions: dict[str, str] = {}

    def before() -> None:
        for key, body in expected.items():
            old_versions[key] = journal.put(key, body)
        journal.put("k/h", b"second")  # two versions before T: the newer one is wanted
        expected["k/h"] = b"second"
        if inventory_before_t:
            time.sleep(1.05)
            snapshot_inventory(s3, BUCKET, REPORTS, datetime.now(UTC) - timedelta(hours=1))
            journal.put("k/f", b"after the report")  # known from the journal only, before T
            expected["k/f"] = b"after the report"
            journal.put("k/only-journal", b"j")
            expected["k/only-journal"] = b"j"

    def after() -> None:
        if inventory_before_t:
            # Out of the 2 s around T where a journal-only version's event time cannot place it for certain.
            time.sleep(2.1)
        journal.put("k/a", b"new")
        journal.put("k/b b", b"new")
        journal.put("k/b b", b"newer")
        journal.delete("k/c")
        journal.delete("k/d")
        journal.put("k/d", b"re-created")
        journal.delete("k/e")
        journal.delete("k/e")
        journal.put("k/created-after", b"x")
        journal.delete("k/é+&,")
        journal.delete("k/a", old_versions["k/a"])  # a permanent delete of the version wanted: nothing to restore
        expected.pop("k/a")

    return point_in_time(before, after), expected


SCENARIOS = {
    "marker removal": {},
    "delete created after": {"delete_created_after": True},
    "prefix": {"prefix": "k/b"},
    "into another bucket": {"target_bucket": "inventory-target"},
}


# (report before T, journal): a report before T always needs the journal (it would miss every change since).
SOURCES = {"report-after-changes": (False, True), "report-before-t": (True, True), "report-only": (False, False)}


@pytest.mark.parametrize("source", list(SOURCES))
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_both_planners_agree(s3: Any, scenario: str, source: str) -> None:
    inventory_before_t, with_journal = SOURCES[source]
    journal = JournalRecorder(s3, BUCKET)
    at, _ = _history(s3, journal, inventory_before_t=inventory_before_t)
    if not inventory_before_t:
        snapshot_inventory(s3, BUCKET, REPORTS, datetime.now(UTC))
    if with_journal:
        journal.write_journal(REPORTS)
    options = RestoreOptions(**MECHANICS, bucket=BUCKET, at=at, **SCENARIOS[scenario])
    if options.target_bucket:
        versioned_bucket(s3, options.target_bucket)

    with duckdb_planner(s3, s3, REPORTS, BUCKET, settle=timedelta(0)) as planner:
        assert planner is not None
        inventory = _plans(planner, s3, options)
        relisted = planner.relisted
    listing = _plans(ListingPlanner(), s3, options)

    assert plans_differ(inventory, listing)["differences"] == 0, plans_differ(inventory, listing)
    assert any(plan.action is not Action.SKIP for plan in listing.values())
    # With every version sequenced by the journal, only the versions known from the journal alone whose event time
    # lies within 2 s of T are listed (here k/f and k/only-journal, written in T's second); without the journal,
    # moto's 1-second LastModified makes same-second writes ties, which are listed key by key.
    journal_only_near_t = [key for key in ("k/f", "k/only-journal") if key.startswith(options.prefix)]
    if not with_journal:
        assert relisted > 0
    else:
        assert relisted == (len(journal_only_near_t) if inventory_before_t else 0)


def test_replicated_bucket_plans_copies_in_both(s3: Any) -> None:
    replicate(s3, BUCKET, "inventory-replica")
    journal = JournalRecorder(s3, BUCKET)
    at, _ = _history(s3, journal, inventory_before_t=False)
    snapshot_inventory(s3, BUCKET, REPORTS, datetime.now(UTC))
    journal.write_journal(REPORTS)
    options = RestoreOptions(**MECHANICS, bucket=BUCKET, at=at)

    with duckdb_planner(s3, s3, REPORTS, BUCKET, settle=timedelta(0)) as planner:
        assert planner is not None
        inventory = _plans(planner, s3, options)
    listing = _plans(ListingPlanner(), s3, options)

    assert plans_differ(inventory, listing)["differences"] == 0
    assert inventory["k/c"].action is Action.COPY  # no marker removal where deletes would not replicate


def test_restore_from_the_inventory_plan_gives_the_bucket_at_t(s3: Any) -> None:
    journal = JournalRecorder(s3, BUCKET)
    at, expected = _history(s3, journal, inventory_before_t=True)
    journal.write_journal(REPORTS)
    options = RestoreOptions(**MECHANICS, bucket=BUCKET, at=at, delete_created_after=True)

    with duckdb_planner(s3, s3, REPORTS, BUCKET, settle=timedelta(0)) as planner:
        summary = restore_bucket(restore_client(4), options, planner=planner)
    assert summary["planner"] == "inventory" and summary["engine"] == "duckdb" and summary["failed"] == 0
    assert current_contents(s3, BUCKET) == expected

    # The next report includes the restore's own writes: a second run from it finds every key as at T. (The recorded
    # journal misses the restore's writes, which EventBridge would carry, so this run plans from the report alone.)
    for key in journal_keys(s3, REPORTS, BUCKET, datetime(2000, 1, 1)):
        s3.delete_object(Bucket=REPORTS, Key=key)
    time.sleep(1.05)
    snapshot_inventory(s3, BUCKET, REPORTS, datetime.now(UTC) + timedelta(minutes=1))
    with duckdb_planner(s3, s3, REPORTS, BUCKET, settle=timedelta(0)) as planner:
        again = restore_bucket(restore_client(4), options, planner=planner)
    assert again["copied"] == 0 and again["undeleted"] == 0 and again["deleted"] == 0 and again["failed"] == 0


def test_settle_window_lists_keys_changed_lately(s3: Any) -> None:
    journal = JournalRecorder(s3, BUCKET)
    at, _ = _history(s3, journal, inventory_before_t=False)
    snapshot_inventory(s3, BUCKET, REPORTS, datetime.now(UTC))
    journal.write_journal(REPORTS)
    options = RestoreOptions(**MECHANICS, bucket=BUCKET, at=at)

    with duckdb_planner(s3, s3, REPORTS, BUCKET, settle=timedelta(minutes=5)) as planner:
        assert planner is not None
        plans = _plans(planner, s3, options)
        # Every event is minutes old at most: each key the journal names is planned from its own listing.
        assert planner.relisted == len(plans)
    assert plans_differ(plans, _plans(ListingPlanner(), s3, options))["differences"] == 0


def test_no_report_yet_gives_no_planner(s3: Any) -> None:
    versioned_bucket(s3, "fresh")
    with duckdb_planner(s3, s3, REPORTS, "fresh") as planner:
        assert planner is None
    assert latest_report(s3, REPORTS, "fresh") is None


def test_newest_report_wins_and_a_report_without_manifest_is_ignored(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="x", Body=b"1")
    older = snapshot_inventory(s3, BUCKET, REPORTS, datetime(2026, 1, 1, tzinfo=UTC))
    newer = snapshot_inventory(s3, BUCKET, REPORTS, datetime(2026, 1, 2, tzinfo=UTC))
    # A report S3 is still writing: its data may be there, its manifest (written last) is not.
    s3.put_object(Bucket=REPORTS, Key=f"{newer.manifest_key.rsplit('/', 2)[0]}/2026-01-03T00-00Z/x", Body=b"")

    found = latest_report(s3, REPORTS, BUCKET)

    assert found is not None and found.manifest_key == newer.manifest_key != older.manifest_key
    assert found.created == datetime(2026, 1, 2)


def test_plan_signature_tells_apart_what_the_executor_would_do_differently() -> None:
    plan = KeyPlan("k", Action.UNDELETE, None, ("m2", "m1"))
    assert plan_signature(plan) == plan_signature(KeyPlan("k", Action.UNDELETE, None, ("m1", "m2")))
    assert plan_signature(plan) != plan_signature(KeyPlan("k", Action.UNDELETE, None, ("m1",)))
    assert plan_signature(None) is None
