"""Failback's S3 reconcile (handlers/failover/reconcile.py) on a moto server: newer-wins with conflicts reported,
delete markers both ways, idempotent re-runs, multipart copies, the Batch Operations hand-off, lock renewal, the
dry run, and two passes that lose no write of an application that keeps writing to the replica during pass 1.

moto never replicates, so "replicated" objects are written to both buckets by the test; S3 keeps version ids across
replication, which moto cannot show, so the tests never rely on equal version ids between buckets.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

from handlers.failover.reconcile import ReconcileOptions, newest_entry, reconcile_bucket, table_resolution
from handlers.s3.plan import BatchOptions, CopySettings
from handlers.s3.restore import RESTORED_FROM_METADATA

PRIMARY, REPLICA = "app-data-us-east-1", "app-data-us-west-2"
BUCKET = {"logical": "data", "primary": PRIMARY, "replica": REPLICA}


@pytest.fixture
def s3(moto_endpoint: str) -> Iterator[tuple[Any, Any]]:
    primary, recovery = boto3.client("s3", "us-east-1"), boto3.client("s3", "us-west-2")
    primary.create_bucket(Bucket=PRIMARY)
    recovery.create_bucket(Bucket=REPLICA, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    for client, name in ((primary, PRIMARY), (recovery, REPLICA)):
        client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    yield primary, recovery


def tick() -> datetime:
    """LastModified has one-second resolution: leave a full second between writes whose order matters."""
    time.sleep(1.05)
    return datetime.now(UTC)


def body(client: Any, bucket: str, key: str) -> bytes | None:
    try:
        return bytes(client.get_object(Bucket=bucket, Key=key)["Body"].read())
    except client.exceptions.NoSuchKey:
        return None


def both(primary: Any, recovery: Any, key: str, data: bytes) -> None:
    """A write made before the failover and replicated."""
    primary.put_object(Bucket=PRIMARY, Key=key, Body=data)
    recovery.put_object(Bucket=REPLICA, Key=key, Body=data)


def test_replica_writes_are_copied_back_and_a_rerun_changes_nothing(s3: tuple[Any, Any]) -> None:
    primary, recovery = s3
    both(primary, recovery, "old.txt", b"before")
    both(primary, recovery, "changed.txt", b"before")
    failed_over_at = tick()
    tick()
    recovery.put_object(Bucket=REPLICA, Key="new.txt", Body=b"written in us-west-2")
    recovery.put_object(Bucket=REPLICA, Key="changed.txt", Body=b"after")

    first = reconcile_bucket(primary, recovery, BUCKET, failed_over_at)

    assert (first.copied, first.deleted, first.conflicts, first.failed) == (2, 0, [], [])
    assert body(primary, PRIMARY, "new.txt") == b"written in us-west-2"
    assert body(primary, PRIMARY, "changed.txt") == b"after"
    assert body(primary, PRIMARY, "old.txt") == b"before"
    head = primary.head_object(Bucket=PRIMARY, Key="new.txt")
    assert head["Metadata"][RESTORED_FROM_METADATA] == recovery.head_object(Bucket=REPLICA, Key="new.txt")["VersionId"]
    versions_before = len(primary.list_object_versions(Bucket=PRIMARY)["Versions"])

    again = reconcile_bucket(primary, recovery, BUCKET, failed_over_at)

    assert (again.copied, again.deleted, again.conflicts) == (0, 0, [])
    assert len(primary.list_object_versions(Bucket=PRIMARY)["Versions"]) == versions_before


def test_a_key_changed_on_both_sides_keeps_the_newer_write_and_is_reported(s3: tuple[Any, Any]) -> None:
    primary, recovery = s3
    both(primary, recovery, "primary-newer.txt", b"v0")
    both(primary, recovery, "replica-newer.txt", b"v0")
    failed_over_at = tick()
    tick()
    recovery.put_object(Bucket=REPLICA, Key="primary-newer.txt", Body=b"replica write")
    primary.put_object(Bucket=PRIMARY, Key="replica-newer.txt", Body=b"late primary write")  # delivered late
    tick()
    primary.put_object(Bucket=PRIMARY, Key="primary-newer.txt", Body=b"newer primary write")
    recovery.put_object(Bucket=REPLICA, Key="replica-newer.txt", Body=b"newer replica write")

    result = reconcile_bucket(primary, recovery, BUCKET, failed_over_at)

    assert body(primary, PRIMARY, "primary-newer.txt") == b"newer primary write"  # never overwritten
    assert body(primary, PRIMARY, "replica-newer.txt") == b"newer replica write"
    kept = {c["key"]: c["kept"] for c in result.conflicts}
    assert kept == {"primary-newer.txt": "primary", "replica-newer.txt": "replica"}


def test_a_replica_delete_marker_never_hides_a_newer_primary_version(s3: tuple[Any, Any]) -> None:
    primary, recovery = s3
    both(primary, recovery, "resurrected.txt", b"v0")
    both(primary, recovery, "deleted.txt", b"v0")
    failed_over_at = tick()
    tick()
    recovery.delete_object(Bucket=REPLICA, Key="resurrected.txt")
    recovery.delete_object(Bucket=REPLICA, Key="deleted.txt")
    tick()
    primary.put_object(Bucket=PRIMARY, Key="resurrected.txt", Body=b"newer on the primary")

    result = reconcile_bucket(primary, recovery, BUCKET, failed_over_at)

    assert body(primary, PRIMARY, "resurrected.txt") == b"newer on the primary"
    assert body(primary, PRIMARY, "deleted.txt") is None  # the replica's delete is the newer write
    assert result.deleted == 1
    assert [(c["key"], c["kept"], c["replica"]["kind"]) for c in result.conflicts] == [
        ("resurrected.txt", "primary", "delete-marker")
    ]
    again = reconcile_bucket(primary, recovery, BUCKET, failed_over_at)
    assert (again.deleted, again.copied) == (0, 0)


def test_a_replica_write_newer_than_a_primary_delete_is_copied_back(s3: tuple[Any, Any]) -> None:
    primary, recovery = s3
    both(primary, recovery, "k.txt", b"v0")
    failed_over_at = tick()
    tick()
    primary.delete_object(Bucket=PRIMARY, Key="k.txt")  # a late-delivered delete from before the outage
    tick()
    recovery.put_object(Bucket=REPLICA, Key="k.txt", Body=b"rewritten during the failover")

    result = reconcile_bucket(primary, recovery, BUCKET, failed_over_at)

    assert body(primary, PRIMARY, "k.txt") == b"rewritten during the failover"
    assert [(c["key"], c["kept"]) for c in result.conflicts] == [("k.txt", "replica")]


def test_changes_before_the_failover_are_left_alone(s3: tuple[Any, Any]) -> None:
    primary, recovery = s3
    recovery.put_object(Bucket=REPLICA, Key="replica-only-before.txt", Body=b"x")
    both(primary, recovery, "same.txt", b"x")
    failed_over_at = tick()

    result = reconcile_bucket(primary, recovery, BUCKET, failed_over_at)

    assert (result.copied, result.deleted, result.unchanged) == (0, 0, 2)
    assert body(primary, PRIMARY, "replica-only-before.txt") is None


def test_the_dry_run_counts_and_writes_nothing(s3: tuple[Any, Any]) -> None:
    primary, recovery = s3
    both(primary, recovery, "gone.txt", b"x")
    failed_over_at = tick()
    tick()
    for i in range(3):
        recovery.put_object(Bucket=REPLICA, Key=f"new-{i}.txt", Body=b"x")
    recovery.delete_object(Bucket=REPLICA, Key="gone.txt")

    result = reconcile_bucket(primary, recovery, BUCKET, failed_over_at, options=ReconcileOptions(dry_run=True))

    assert (result.dry_run, result.copied, result.deleted) == (True, 3, 1)
    assert [o["Key"] for o in primary.list_objects_v2(Bucket=PRIMARY)["Contents"]] == ["gone.txt"]


def test_objects_above_the_multipart_threshold_are_copied_in_parts_with_their_metadata(s3: tuple[Any, Any]) -> None:
    """5 GB is CopyObject's limit; the threshold is lowered so moto can hold the object (same code path)."""
    primary, recovery = s3
    failed_over_at = tick()
    tick()
    data = bytes(range(256)) * 40_000  # 10 MB: two 5 MiB parts and a tail
    recovery.put_object(Bucket=REPLICA, Key="big.bin", Body=data, Metadata={"owner": "media"})
    settings = CopySettings(multipart_threshold=5 * 1024**2, part_size=5 * 1024**2)

    result = reconcile_bucket(
        primary, recovery, BUCKET, failed_over_at, options=ReconcileOptions(copy_settings=settings)
    )

    assert result.copied == 1
    assert body(primary, PRIMARY, "big.bin") == data
    head = primary.head_object(Bucket=PRIMARY, Key="big.bin")
    assert "-" in head["ETag"]  # a multipart upload
    assert head["Metadata"]["owner"] == "media"
    assert (
        reconcile_bucket(
            primary, recovery, BUCKET, failed_over_at, options=ReconcileOptions(copy_settings=settings)
        ).copied
        == 0
    )


def test_past_the_threshold_the_rest_goes_to_one_batch_operations_job(s3: tuple[Any, Any]) -> None:
    """S3 Control's CreateJob through botocore's Stubber (emulated: moto does not run Batch Operations jobs)."""
    primary, recovery = s3
    primary.create_bucket(Bucket="reports")
    failed_over_at = tick()
    tick()
    for i in range(5):
        recovery.put_object(Bucket=REPLICA, Key=f"k{i}", Body=b"x")
    s3control = boto3.client("s3control", "us-east-1")
    stubber = Stubber(s3control)
    stubber.add_response(
        "create_job",
        {"JobId": "job-1"},
        {
            "AccountId": "123456789012",
            "ConfirmationRequired": False,
            "Operation": ANY,
            "Manifest": ANY,
            "Report": ANY,
            "ClientRequestToken": ANY,
            "Priority": 10,
            "RoleArn": "arn:aws:iam::123456789012:role/failback-batch",
            "Description": ANY,
        },
    )
    batch = BatchOptions(2, "arn:aws:iam::123456789012:role/failback-batch", "reports", "123456789012")

    with stubber:
        result = reconcile_bucket(
            primary, recovery, BUCKET, failed_over_at, options=ReconcileOptions(batch=batch, s3control=s3control)
        )

    stubber.assert_no_pending_responses()
    assert (result.copied, result.batched, result.batch_job) == (2, 3, "job-1")
    manifests = primary.list_objects_v2(Bucket="reports")["Contents"]
    manifest = primary.get_object(Bucket="reports", Key=manifests[0]["Key"])["Body"].read().decode()
    batched = sorted(line.split(",")[1] for line in manifest.splitlines())
    copied = sorted(o["Key"] for o in primary.list_objects_v2(Bucket=PRIMARY).get("Contents", []))
    # keys are decided several at a time, so which two are copied varies; every key goes exactly one way
    assert len(batched) == 3 and len(copied) == 2 and sorted(batched + copied) == [f"k{i}" for i in range(5)]


def test_the_lock_is_renewed_every_page_and_a_lost_lock_stops_the_walk(s3: tuple[Any, Any]) -> None:
    primary, recovery = s3
    failed_over_at = tick()
    tick()
    for i in range(25):  # three listing pages of 10
        recovery.put_object(Bucket=REPLICA, Key=f"k{i:05d}", Body=b"")
    renewals: list[int] = []

    def renew() -> bool:
        renewals.append(1)
        return len(renewals) < 2  # renewed before the second page, lost before the third

    result = reconcile_bucket(
        primary, recovery, BUCKET, failed_over_at, options=ReconcileOptions(dry_run=True, renew=renew, page_size=10)
    )

    assert result.lost_lock and not result.complete
    assert len(renewals) == 2
    assert result.copied == 20  # the first two pages only


def test_two_passes_lose_no_write_of_an_application_that_keeps_writing(s3: tuple[Any, Any]) -> None:
    """A real writer thread keeps writing to the replica during pass 1 (as the application does until its traffic
    has left); pass 2 from pass 1's watermark, after the writer stopped, copies every acknowledged write back."""
    primary, recovery = s3
    failed_over_at = tick()
    tick()
    for i in range(40):
        recovery.put_object(Bucket=REPLICA, Key=f"before/{i:04d}", Body=b"x")
    acknowledged: list[str] = []
    stop = threading.Event()

    def application() -> None:
        writer = boto3.client("s3", "us-west-2")
        i = 0
        while not stop.is_set():
            key = f"during/{i:04d}"
            writer.put_object(Bucket=REPLICA, Key=key, Body=str(i).encode())
            acknowledged.append(key)
            i += 1
            stop.wait(0.02)  # an application's pace, not a flood: pass 1 must be able to finish

    thread = threading.Thread(target=application)
    thread.start()
    try:
        first = reconcile_bucket(primary, recovery, BUCKET, failed_over_at, options=ReconcileOptions(page_size=10))
    finally:
        stop.set()  # the settings and the switch move back; the application stops writing to the replica
        thread.join()
    time.sleep(1.05)
    second = reconcile_bucket(primary, recovery, BUCKET, datetime.fromisoformat(first.watermark))

    on_primary = {
        o["Key"]
        for page in primary.get_paginator("list_objects_v2").paginate(Bucket=PRIMARY)
        for o in page.get("Contents", [])
    }
    assert acknowledged, "the writer wrote during pass 1"
    assert set(acknowledged) <= on_primary
    assert {f"before/{i:04d}" for i in range(40)} <= on_primary
    assert first.complete and second.complete
    assert first.copied + second.copied == 40 + len(acknowledged)
    assert second.copied > 0, "pass 2 found writes that pass 1 could not see"


def test_newest_entry_reads_only_the_key_itself(s3: tuple[Any, Any]) -> None:
    primary, _ = s3
    primary.put_object(Bucket=PRIMARY, Key="a/b", Body=b"x")
    assert newest_entry(primary, PRIMARY, "a") is None
    primary.put_object(Bucket=PRIMARY, Key="a", Body=b"x")
    primary.delete_object(Bucket=PRIMARY, Key="a")
    entry = newest_entry(primary, PRIMARY, "a")
    assert entry is not None and entry.is_delete_marker


def test_tables_state_last_writer_wins_instead_of_a_scan() -> None:
    assert table_resolution({"logical": "sessions", "name": "app-sessions"})["resolution"] == "last-writer-wins"


def test_a_pass_out_of_time_resumes_after_its_cursor_and_copies_each_key_once(s3: tuple[Any, Any]) -> None:
    """A round's time runs out mid-bucket: the next round resumes after the cursor with the same pass start."""
    primary, recovery = s3
    failed_over_at = tick()
    tick()
    for i in range(30):
        recovery.put_object(Bucket=REPLICA, Key=f"k{i:03d}", Body=b"x")
    started = datetime.now(UTC)
    calls: list[int] = []

    def out_of_time_at_the_second_check() -> bool:
        calls.append(1)
        return len(calls) < 2

    first = reconcile_bucket(
        primary,
        recovery,
        BUCKET,
        failed_over_at,
        options=ReconcileOptions(renew=out_of_time_at_the_second_check, renew_every_keys=10, pass_started=started),
    )
    assert first.lost_lock and first.cursor is not None
    second = reconcile_bucket(
        primary,
        recovery,
        BUCKET,
        failed_over_at,
        options=ReconcileOptions(start_after=first.cursor, pass_started=started),
    )
    assert second.complete
    assert first.copied + second.copied == 30
    assert first.watermark == second.watermark  # one pass, one watermark
    assert len(primary.list_object_versions(Bucket=PRIMARY)["Versions"]) == 30


def test_a_pass_checks_the_round_time_before_every_key(s3: tuple[Any, Any]) -> None:
    """Renewing costs a write, so it runs every few keys; the round's time is checked before each key once the
    first ``workers`` keys are under way, so a round saves its cursor before the function's timeout kills it."""
    primary, recovery = s3
    failed_over_at = tick()
    tick()
    for i in range(5):
        recovery.put_object(Bucket=REPLICA, Key=f"k{i}", Body=b"x")
    checks: list[int] = []

    def out_of_time() -> bool:
        checks.append(1)
        return len(checks) > 2  # time is up at the third check: before the fourth key

    result = reconcile_bucket(
        primary, recovery, BUCKET, failed_over_at, options=ReconcileOptions(out_of_time=out_of_time, workers=1)
    )
    assert (result.copied, result.cursor, result.complete) == (3, "k2", False)
    assert len(checks) == 3  # none before the first key


def test_a_round_whose_time_is_already_up_still_moves_the_cursor(s3: tuple[Any, Any]) -> None:
    """Listings that took the whole round must not stop every round at its first key for ever: each round starts
    ``workers`` keys before it looks at the time, then stops with its cursor past them."""
    primary, recovery = s3
    failed_over_at = tick()
    tick()
    for i in range(10):
        recovery.put_object(Bucket=REPLICA, Key=f"k{i}", Body=b"x")
    options = ReconcileOptions(out_of_time=lambda: True, workers=4)
    first = reconcile_bucket(primary, recovery, BUCKET, failed_over_at, options=options)
    assert (first.copied, first.cursor, first.complete) == (4, "k3", False)
    second = reconcile_bucket(
        primary, recovery, BUCKET, failed_over_at, options=replace(options, start_after=first.cursor or "")
    )
    assert (second.copied, second.cursor) == (4, "k7")


def test_the_cursor_never_passes_a_failed_key(s3: tuple[Any, Any]) -> None:
    """A key whose copy failed stays ahead of the cursor, so the round that resumes the pass retries it."""
    primary, recovery = s3
    failed_over_at = tick()
    tick()
    for i in range(4):
        recovery.put_object(Bucket=REPLICA, Key=f"k{i}", Body=b"x")

    def refuse_k1(params: dict[str, Any], **_: Any) -> None:
        if params.get("Key") == "k1":
            raise ClientError({"Error": {"Code": "SlowDown", "Message": "injected"}}, "CopyObject")

    primary.meta.events.register("provide-client-params.s3.CopyObject", refuse_k1)
    checks: list[int] = []

    def out_of_time() -> bool:
        checks.append(1)
        return len(checks) > 2

    first = reconcile_bucket(
        primary, recovery, BUCKET, failed_over_at, options=ReconcileOptions(out_of_time=out_of_time, workers=1)
    )
    assert first.lost_lock and first.cursor == "k0" and first.failed[0].startswith("k1: ")
    primary.meta.events.unregister("provide-client-params.s3.CopyObject", refuse_k1)
    second = reconcile_bucket(
        primary, recovery, BUCKET, failed_over_at, options=ReconcileOptions(start_after=first.cursor or "")
    )
    assert second.complete and sorted(o["Key"] for o in primary.list_objects_v2(Bucket=PRIMARY)["Contents"]) == [
        "k0",
        "k1",
        "k2",
        "k3",
    ]
