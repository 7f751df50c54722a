"""What a point-in-time restore works with: versions, per-key plans, options and the summary.

Both the restore (``handlers.s3.restore``) and Batch Operations (``handlers.s3.batch``) import these; neither
imports the other's types from the other, so there is no import cycle between them.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError

ARCHIVED_STORAGE_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})
MULTIPART_COPY_THRESHOLD = 5 * 1024**3  # CopyObject's limit; above it only UploadPartCopy works
MULTIPART_PART_SIZE = 512 * 1024**2
DEFAULT_WORKERS = 16
# Blast-radius guard: without confirmation a restore refuses to overwrite or put delete markers on more than this
# share of the live keys (``--max-change-share``/``--yes``; the restore Lambda's ``"confirm": true``).
DEFAULT_MAX_CHANGE_SHARE = 0.25
# Memory stays bounded however many keys fail: a sample of failed keys, a few per error class, a capped number of
# classes (the rest count under OTHER_ERRORS).
FAILURE_SAMPLE = 50
CLASS_SAMPLE = 5
MAX_ERROR_CLASSES = 20
OTHER_ERRORS = "other"
NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


@dataclass(frozen=True)
class Version:
    key: str
    version_id: str
    last_modified: datetime
    is_latest: bool
    is_delete_marker: bool
    size: int = 0
    storage_class: str = "STANDARD"
    etag: str = ""  # a hint only: never proof of identical content (SSE-KMS, multipart)
    checksum_algorithm: str | None = None

    @classmethod
    def from_listing(cls, entry: dict[str, Any], is_delete_marker: bool) -> Version:
        return cls(
            key=entry["Key"],
            version_id=entry["VersionId"],
            last_modified=entry["LastModified"],
            is_latest=entry["IsLatest"],
            is_delete_marker=is_delete_marker,
            size=entry.get("Size", 0),
            storage_class=entry.get("StorageClass", "STANDARD"),
            etag=entry.get("ETag", ""),
            checksum_algorithm=next(iter(entry.get("ChecksumAlgorithm", [])), None),
        )

    @property
    def archived(self) -> bool:
        return self.storage_class in ARCHIVED_STORAGE_CLASSES


@dataclass(frozen=True)
class KeyHistory:
    """Every version and delete marker of one key, newest first."""

    key: str
    entries: tuple[Version, ...]

    @property
    def current(self) -> Version:
        return next((entry for entry in self.entries if entry.is_latest), self.entries[0])

    def newer_than(self, version: Version) -> tuple[Version, ...]:
        return self.entries[: self.entries.index(version)]

    def newest_data_version(self) -> Version | None:
        return next((entry for entry in self.entries if not entry.is_delete_marker), None)


class Action(StrEnum):
    SKIP = "skip"
    UNDELETE = "undelete"  # remove the delete markers above ``version``
    COPY = "copy"  # copy ``version`` over the destination key
    DELETE = "delete"  # plain delete (adds a marker) of a key that did not exist at T


@dataclass(frozen=True)
class KeyPlan:
    key: str
    action: Action
    version: Version | None = None
    markers: tuple[str, ...] = ()
    # A current version that may already be a copy of ``version`` (e.g. from an earlier run); the
    # executor compares checksums before copying, so a second run writes nothing.
    maybe_same_as: Version | None = None


@dataclass(frozen=True)
class CopySettings:
    multipart_threshold: int = MULTIPART_COPY_THRESHOLD
    part_size: int = MULTIPART_PART_SIZE


def head_or_none(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """The current object's HEAD, or None when the key is absent (or its current version is a marker)."""
    try:
        return dict(s3.head_object(Bucket=bucket, Key=key))
    except ClientError as error:
        if error.response["Error"]["Code"] in NOT_FOUND_CODES:
            return None
        raise


@dataclass(frozen=True)
class FailFast:
    """When failures are systemic (a denied role, a broken endpoint, a full KMS quota), stop dispatching: every
    further request would fail the same way. Trips when the first ``first_writes`` work items all failed, or
    when at least ``window_share`` of the last ``window`` items failed."""

    first_writes: int = 50
    window: int = 200
    window_share: float = 0.9


@dataclass(frozen=True)
class RestoreOptions:
    bucket: str
    at: datetime
    prefix: str = ""
    target_bucket: str | None = None
    target_prefix: str | None = None
    delete_created_after: bool = False
    dry_run: bool = False
    workers: int = DEFAULT_WORKERS
    mfa: str | None = None
    archive_tier: str = "Standard"
    archive_days: int = 7
    copy: CopySettings = CopySettings()
    batch: BatchOptions | None = None
    # Skip the blast-radius pass (``--yes``; the restore Lambda's ``"confirm": true``).
    confirmed: bool = False
    max_change_share: float = DEFAULT_MAX_CHANGE_SHARE
    # Where the single-flight lock lives (``dr-locks/<bucket>.json``); a restore that writes needs one.
    lock_bucket: str | None = None
    lock_owner: str = ""
    break_lock: bool = False
    fail_fast: FailFast = FailFast()

    @property
    def destination_bucket(self) -> str:
        return self.target_bucket or self.bucket

    @property
    def in_place(self) -> bool:
        return self.destination_bucket == self.bucket and self.target_prefix in (None, self.prefix)

    def destination_key(self, key: str) -> str:
        if self.target_prefix is None:
            return key
        return self.target_prefix + key[len(self.prefix) :]


SUMMARY_COUNTERS = ("undeleted", "copied", "deleted", "skipped", "archived_pending", "failed", "batched")


class FailureTally:
    """Failures by error class with a bounded sample of keys, and the fail-fast decision. Thread-safe through the
    summary's lock (every call is made holding it)."""

    def __init__(self, policy: FailFast) -> None:
        self.policy = policy
        self.classes: dict[str, dict[str, Any]] = {}
        self.outcomes = 0
        self.failures = 0
        self.window: deque[bool] = deque(maxlen=policy.window)
        self.tripped: str | None = None  # the dominant class, once systemic

    def failed(self, key: str, code: str, *, aws: bool) -> None:
        name = code if code in self.classes or len(self.classes) < MAX_ERROR_CLASSES else OTHER_ERRORS
        entry = self.classes.setdefault(name, {"count": 0, "aws": aws, "sample": []})
        entry["count"] += 1
        if len(entry["sample"]) < CLASS_SAMPLE:
            entry["sample"].append(key)
        self._outcome(False)

    def succeeded(self, n: int = 1) -> None:
        for _ in range(min(n, self.policy.window)):
            self._outcome(True)
        self.outcomes += max(n - self.policy.window, 0)

    def _outcome(self, ok: bool) -> None:
        self.outcomes += 1
        self.failures += not ok
        self.window.append(ok)
        if self.tripped is not None or not self.classes:
            return
        all_first_failed = self.outcomes >= self.policy.first_writes and self.failures == self.outcomes
        window_full = len(self.window) == self.window.maxlen
        share = self.window.count(False) / len(self.window)
        if all_first_failed or (window_full and share >= self.policy.window_share):
            self.tripped = max(self.classes, key=lambda name: self.classes[name]["count"])

    @property
    def aws_refused(self) -> bool:
        return self.tripped is not None and bool(self.classes[self.tripped]["aws"])


@dataclass
class RestoreSummary:
    keys_scanned: int = 0
    versions_scanned: int = 0
    undeleted: int = 0
    copied: int = 0
    deleted: int = 0
    skipped: int = 0
    archived_pending: int = 0
    failed: int = 0
    batched: int = 0
    bytes_copied: int = 0
    failures: dict[str, str] = field(default_factory=dict)  # a sample: at most FAILURE_SAMPLE keys
    fail_fast: FailFast = field(default_factory=FailFast, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _tally: FailureTally | None = field(default=None, repr=False)

    @property
    def tally(self) -> FailureTally:
        if self._tally is None:
            self._tally = FailureTally(self.fail_fast)
        return self._tally

    def add(self, counter: str, n: int = 1, *, bytes_copied: int = 0) -> None:
        with self._lock:
            setattr(self, counter, getattr(self, counter) + n)
            self.bytes_copied += bytes_copied

    def fail(self, key: str, reason: str, *, aws: bool = True) -> None:
        """One key failed with error class ``reason`` (``aws``: AWS refused or could not be reached)."""
        with self._lock:
            self.failed += 1
            if len(self.failures) < FAILURE_SAMPLE:
                self.failures[key] = reason
            self.tally.failed(key, reason, aws=aws)

    def succeeded(self, n: int = 1) -> None:
        with self._lock:
            self.tally.succeeded(n)

    @property
    def systemic_failure(self) -> str | None:
        return self.tally.tripped

    def as_dict(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}
        values.pop("fail_fast")
        values["failures"] = dict(self.failures)
        values["error_classes"] = {
            name: {"count": entry["count"], "aws": entry["aws"], "sample": list(entry["sample"])}
            for name, entry in self.tally.classes.items()
        }
        return values


@dataclass(frozen=True)
class BatchOptions:
    threshold_keys: int
    role_arn: str
    report_bucket: str
    account_id: str
    priority: int = 10
