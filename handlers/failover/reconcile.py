"""Failback's data step: copy back what the application wrote to the replica while it was active, losing no write.

Replication runs one way (primary → replica), so writes made to the replica during a failover exist only there.
Failback reconciles in **two passes** (docs/runbooks/failover.md, "Failback"): pass 1 from the failover time while
the application still writes to the replica, then the settings and the switch move back, then (after config
refresh + switch + TTL) pass 2 from pass 1's ``watermark`` catches what was written in between.

Per key, the replica's current entry R is compared with the primary's current entry P:

- R and P are the same version (replicated, or a copy of R this reconcile made): nothing to do.
- R changed since ``since`` and is newer than P (``LastModified``, then ETag on a tie): R wins. A version is copied
  back (recording its source version, so a re-run recognises the copy), a delete marker becomes a plain delete on
  the primary (a new marker, which replication carries on).
- P is newer than R, or equal with another ETag: the primary is kept, never overwritten.
- Every key changed on **both** sides since ``since`` is reported as a conflict with the side kept.

The walk merges the two buckets' **current** listings (``ListObjectsV2``, both in key order), so it reads the
current objects of each bucket once, not every noncurrent version; only keys current on one side only cost one
``ListObjectVersions`` (``Prefix=key, MaxKeys=1``) to find the other side's newest entry. Copies above the
multipart threshold (5 GB, CopyObject's limit) use the restore's managed multipart copy; past
``batch.threshold_keys`` copies the rest goes to one S3 Batch Operations job (the restore's builder; its copy is
also limited to 5 GB an object, so larger ones stay here). The site lock is renewed every 50 keys and before every
page after the first; a lost lock stops the walk. Keys are compared and copied ``workers`` at a time (each key
costs two to five S3 requests, so a sequential walk spends its round waiting on the network), and the cursor
only moves past a key once every key before it is done. Every action is idempotent: an async delivery can
repeat even with retries at 0.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from handlers.s3.batch import BATCH_COPY_LIMIT, create_copy_job, manifest_line
from handlers.s3.plan import BatchOptions, CopySettings, Version
from handlers.s3.restore import DEFAULT_COPY_SETTINGS, RESTORED_FROM_METADATA, copy_version

# LastModified has one-second resolution: a write in the second the pass started may be listed or not, so the next
# pass starts one second earlier (overlap is harmless: every action is idempotent).
WATERMARK_OVERLAP = timedelta(seconds=1)
LIVE = "version"
MARKER = "delete-marker"


@dataclass(frozen=True)
class Entry:
    """A key's current entry on one side: a version or a delete marker."""

    key: str
    version_id: str
    last_modified: datetime
    etag: str = ""
    size: int = 0
    storage_class: str = "STANDARD"
    is_delete_marker: bool = False

    def as_version(self) -> Version:
        return Version(
            self.key,
            self.version_id,
            self.last_modified,
            is_latest=True,
            is_delete_marker=self.is_delete_marker,
            size=self.size,
            storage_class=self.storage_class,
            etag=self.etag,
        )

    def describe(self) -> dict[str, str]:
        return {
            "versionId": self.version_id,
            "lastModified": self.last_modified.isoformat(),
            "kind": MARKER if self.is_delete_marker else LIVE,
        }


@dataclass
class ReconcileOptions:
    dry_run: bool = False
    batch: BatchOptions | None = None  # past ``batch.threshold_keys`` copies, the rest goes to one Batch job
    s3control: Any | None = None  # the primary account's S3 Control client, needed with ``batch``
    copy_settings: CopySettings = DEFAULT_COPY_SETTINGS
    renew: Callable[[], bool] | None = None  # renews the site lock; False means it was lost: stop
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    page_size: int = 1000  # keys per listing page
    # Keys in flight at once: within boto3's default pool of 10 connections per client (handlers/aws.py), and few
    # enough that the keys still in flight when the round's time is up finish within its margin.
    workers: int = 8
    renew_every_keys: int = 50  # the lock is renewed this often, and every page
    # Checked before every key once ``workers`` keys are under way: the round must save its cursor. A pass always
    # starts that many, so it moves forward even when its listings took the round's time (a few requests past
    # the budget, which the round's margin covers; without them a slow listing would stop every round at its
    # first key, for ever).
    out_of_time: Callable[[], bool] = lambda: False
    start_after: str = ""  # resume after this key: a pass that ran out of time continues where it stopped
    pass_started: datetime | None = None  # when the pass's first round started (its watermark), if resumed


@dataclass
class ReconcileResult:
    logical: str
    since: str
    watermark: str  # the next pass starts here
    copied: int = 0
    deleted: int = 0
    unchanged: int = 0  # compared and left alone (same version, older replica change, or nothing since)
    deferred: int = 0  # replica writes after this pass started: the next pass (from ``watermark``) takes them
    batched: int = 0
    batch_job: str | None = None
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    lost_lock: bool = False
    dry_run: bool = False
    cursor: str | None = None  # the last key fully handled when the walk stopped early; resume after it

    @property
    def complete(self) -> bool:
        return not self.failed and not self.lost_lock

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _current_entries(s3: Any, bucket: str, page_size: int, start_after: str) -> Iterator[tuple[list[Entry], bool]]:
    """Pages of the bucket's current versions in key order after ``start_after``, and whether each page is the
    last."""
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": page_size}, **({"StartAfter": start_after} if start_after else {})
    )
    for page in pages:
        entries = [
            Entry(
                o["Key"],
                "",  # ListObjectsV2 has no version id; filled from a HEAD only where a decision needs it
                o["LastModified"],
                o.get("ETag", ""),
                o.get("Size", 0),
                o.get("StorageClass", "STANDARD"),
            )
            for o in page.get("Contents", [])
        ]
        yield entries, not page.get("IsTruncated")


def newest_entry(s3: Any, bucket: str, key: str) -> Entry | None:
    """The key's newest version or delete marker (one request), or None when the key never existed there."""
    page = s3.list_object_versions(Bucket=bucket, Prefix=key, MaxKeys=1)
    candidates = [(v, False) for v in page.get("Versions", [])] + [(m, True) for m in page.get("DeleteMarkers", [])]
    for entry, is_marker in candidates:
        if entry["Key"] == key and entry.get("IsLatest"):
            return Entry(
                key,
                entry["VersionId"],
                entry["LastModified"],
                entry.get("ETag", ""),
                entry.get("Size", 0),
                entry.get("StorageClass", "STANDARD"),
                is_marker,
            )
    return None


def _with_version(s3: Any, bucket: str, entry: Entry) -> tuple[Entry, dict[str, Any]]:
    """The current entry with its version id, and its HEAD (metadata and the attributes a copy restates), for the
    decisions a listing cannot make."""
    head = s3.head_object(Bucket=bucket, Key=entry.key)
    entry = Entry(
        entry.key,
        str(head.get("VersionId", "null")),
        head["LastModified"],
        str(head.get("ETag", entry.etag)),
        int(head.get("ContentLength", entry.size)),
        str(head.get("StorageClass", entry.storage_class)),
    )
    return entry, head


def _merged(primary: Iterator[Entry], replica: Iterator[Entry]) -> Iterator[tuple[str, Entry | None, Entry | None]]:
    """Both sides' current entries joined by key (both listings come in the same UTF-8 binary key order)."""
    p, r = next(primary, None), next(replica, None)
    while p is not None or r is not None:
        if r is None or (p is not None and p.key < r.key):
            assert p is not None
            yield p.key, p, None
            p = next(primary, None)
        elif p is None or r.key < p.key:
            yield r.key, None, r
            r = next(replica, None)
        else:
            yield p.key, p, r
            p, r = next(primary, None), next(replica, None)


def _newer(replica: Entry, primary: Entry) -> bool:
    """Whether the replica's entry wins: strictly newer, never on a tie (a tie with another ETag keeps the
    primary, which is never overwritten by an equal-time write)."""
    return replica.last_modified > primary.last_modified


def _conflict(key: str, primary: Entry, replica: Entry, kept: str) -> dict[str, Any]:
    return {"key": key, "primary": primary.describe(), "replica": replica.describe(), "kept": kept}


class _Walk:
    """One pass over one bucket pair; holds the counters and the pending batch manifest."""

    def __init__(
        self, s3_primary: Any, s3_recovery: Any, bucket: dict[str, str], since: datetime, options: ReconcileOptions
    ) -> None:
        self.s3_primary, self.s3_recovery, self.bucket = s3_primary, s3_recovery, bucket
        self.since, self.options = since, options
        self.started = options.pass_started or options.clock()
        self.result = ReconcileResult(
            bucket["logical"],
            since.isoformat(),
            (self.started - WATERMARK_OVERLAP).isoformat(),
            dry_run=options.dry_run,
        )
        self.manifest: list[str] = []
        self._lock = threading.Lock()  # keys are decided on ``workers`` threads; the tallies are shared

    def _count(self, tally: str) -> None:
        with self._lock:
            setattr(self.result, tally, getattr(self.result, tally) + 1)

    def _report(self, conflict: dict[str, Any]) -> None:
        with self._lock:
            self.result.conflicts.append(conflict)

    def fail(self, key: str, error: Exception) -> None:
        with self._lock:
            self.result.failed.append(f"{key}: {error}")

    # --- decisions ---------------------------------------------------------------------------------------------

    def key(self, key: str, primary: Entry | None, replica: Entry | None) -> None:
        primary_bucket, replica_bucket = self.bucket["primary"], self.bucket["replica"]
        if replica is None:  # current on the primary only: was it deleted on the replica during the failover?
            marker = newest_entry(self.s3_recovery, replica_bucket, key)
            if marker is None or not marker.is_delete_marker or marker.last_modified < self.since:
                self._count("unchanged")  # never replicated, or deleted before the failover
                return
            assert primary is not None
            if _newer(marker, primary):
                self._delete(key, primary)
            else:
                self._count("unchanged")
                if primary.last_modified >= self.since:
                    self._report(_conflict(key, primary, marker, "primary"))
            return
        if replica.last_modified < self.since:
            self._count("unchanged")
            return
        if replica.last_modified > self.started + WATERMARK_OVERLAP:
            # Written while this pass runs (the application still writes to the replica during pass 1): the next
            # pass starts at ``watermark`` and takes it, so a pass never chases a live writer.
            self._count("deferred")
            return
        replica, replica_head = _with_version(self.s3_recovery, replica_bucket, replica)
        if primary is None:  # absent or deleted on the primary
            current = newest_entry(self.s3_primary, primary_bucket, key)
            if current is not None and current.last_modified >= replica.last_modified:
                self._count("unchanged")  # deleted on the primary after the replica's write: keep the delete
                if current.last_modified >= self.since:
                    self._report(_conflict(key, current, replica, "primary"))
                return
            if current is not None and current.last_modified >= self.since:
                self._report(_conflict(key, current, replica, "replica"))
            self._copy(replica, replica_head)
            return
        primary, primary_head = _with_version(self.s3_primary, primary_bucket, primary)
        restored_from = primary_head.get("Metadata", {}).get(RESTORED_FROM_METADATA)
        if primary.version_id == replica.version_id or restored_from == replica.version_id:
            self._count("unchanged")  # replicated, or copied back by an earlier pass
            return
        changed_on_both = primary.last_modified >= self.since
        if _newer(replica, primary):
            if changed_on_both:
                self._report(_conflict(key, primary, replica, "replica"))
            self._copy(replica, replica_head)
        else:
            self._count("unchanged")
            if changed_on_both or primary.etag != replica.etag:
                self._report(_conflict(key, primary, replica, "primary"))

    # --- actions (idempotent) ------------------------------------------------------------------------------------

    def _copy(self, replica: Entry, head: dict[str, Any]) -> None:
        batch = self.options.batch
        fits_batch = replica.size <= BATCH_COPY_LIMIT
        with self._lock:
            if batch is not None and fits_batch and self.result.copied >= batch.threshold_keys:
                self.manifest.append(manifest_line(self.bucket["replica"], replica.key, replica.version_id))
                self.result.batched += 1
                return
            self.result.copied += 1  # counted before the copy, so keys copied at once see it against the threshold
        try:
            if not self.options.dry_run:
                copy_version(
                    self.s3_primary,
                    self.bucket["replica"],
                    replica.as_version(),
                    self.bucket["primary"],
                    replica.key,
                    extra_metadata={RESTORED_FROM_METADATA: replica.version_id},
                    settings=self.options.copy_settings,
                    source_head=head,
                )
        except BaseException:
            with self._lock:
                self.result.copied -= 1
            raise

    def _delete(self, key: str, primary: Entry) -> None:
        if not self.options.dry_run:
            # A plain delete (no version id): a new marker, which replication carries on; repeating it adds
            # nothing, since the next pass finds the primary's marker newer than the replica's.
            self.s3_primary.delete_object(Bucket=self.bucket["primary"], Key=key)
        self._count("deleted")

    def submit_batch(self) -> None:
        batch = self.options.batch
        if not self.manifest or batch is None or self.options.dry_run:
            return
        if self.options.s3control is None:
            raise ValueError("reconcile with batch options needs an s3control client")
        self.result.batch_job = create_copy_job(
            self.s3_primary,
            self.options.s3control,
            batch,
            source_bucket=self.bucket["replica"],
            dest_bucket=self.bucket["primary"],
            storage_class="STANDARD",
            manifest="".join(self.manifest).encode(),
            description=f"DR failback reconcile of {self.bucket['logical']} since {self.since.isoformat()}",
        )


def _flatten(pages: Iterator[tuple[list[Entry], bool]], on_page: Callable[[], bool]) -> Iterator[Entry]:
    """The entries of every page; ``on_page`` runs before each page after the first (the round has just written
    the lock when a pass starts or resumes) and stops the walk when it answers False."""
    for number, (entries, _last) in enumerate(pages):
        if number and not on_page():
            return
        yield from entries


def reconcile_bucket(
    s3_primary: Any,
    s3_recovery: Any,
    bucket: dict[str, str],
    since: datetime,
    *,
    options: ReconcileOptions | None = None,
) -> ReconcileResult:
    """One pass: every replica change since ``since`` that is newer than the primary's current entry is applied
    to the primary; conflicts are reported. ``result.watermark`` is where the next pass starts."""
    options = options or ReconcileOptions()
    walk = _Walk(s3_primary, s3_recovery, bucket, since, options)

    def renewed() -> bool:
        if options.renew is not None and not options.renew():
            walk.result.lost_lock = True
            return False
        return True

    start = options.start_after
    primary = _flatten(
        _current_entries(s3_primary, bucket["primary"], options.page_size, start), lambda: not walk.result.lost_lock
    )
    replica = _flatten(_current_entries(s3_recovery, bucket["replica"], options.page_size, start), renewed)
    last = start or None  # the cursor: every key up to it is done
    in_flight: deque[tuple[str, Future[None]]] = deque()

    def settle_oldest() -> None:
        nonlocal last
        key, future = in_flight.popleft()
        try:
            future.result()
        except (ClientError, BotoCoreError) as error:
            walk.fail(key, error)
        if not walk.result.failed:  # the cursor never passes a failed key: a resumed pass retries it
            last = key

    with ThreadPoolExecutor(max_workers=max(1, options.workers), thread_name_prefix="reconcile") as pool:
        for handled, (key, p, r) in enumerate(_merged(primary, replica)):
            if walk.result.lost_lock or (handled >= options.workers and options.out_of_time()):
                walk.result.lost_lock = True  # stopped: out of the round's time (or the lock is gone)
                break
            if handled and handled % options.renew_every_keys == 0 and not renewed():
                break
            in_flight.append((key, pool.submit(walk.key, key, p, r)))
            if len(in_flight) >= max(1, options.workers):
                settle_oldest()
        while in_flight:  # keys already started finish (each is a few requests), so the cursor passes them
            settle_oldest()
    walk.result.conflicts.sort(key=lambda conflict: str(conflict["key"]))
    walk.result.failed.sort()
    if walk.result.lost_lock:
        walk.result.cursor = last
    else:
        walk.submit_batch()
    return walk.result


def table_resolution(table: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB MREC resolves concurrent writes last-writer-wins and converges within seconds, so a conflict can
    only be seen while it happens, never by comparing the replicas at failback (AWS, "Global tables: how it works",
    conflict resolution). The failback says so instead of scanning for differences that no longer exist."""
    return {
        "table": table["name"],
        "resolution": "last-writer-wins",
        "note": "MREC replicas converged by last-writer-wins; concurrent writes to one item during the failover "
        "window kept the later write and were not recorded",
    }


__all__ = ["ReconcileOptions", "ReconcileResult", "newest_entry", "reconcile_bucket", "table_resolution"]
