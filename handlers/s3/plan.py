"""What a point-in-time restore works with: versions, per-key plans, options and the summary.

Both the restore (``handlers.s3.restore``) and Batch Operations (``handlers.s3.batch``) import these; neither
imports the other's types from the other, so there is no import cycle between them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError

ARCHIVED_STORAGE_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})
MULTIPART_COPY_THRESHOLD = 5 * 1024**3  # CopyObject's limit; above it only UploadPartCopy works
MULTIPART_PART_SIZE = 512 * 1024**2
DEFAULT_WORKERS = 16
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
    failures: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, counter: str, n: int = 1, *, bytes_copied: int = 0) -> None:
        with self._lock:
            setattr(self, counter, getattr(self, counter) + n)
            self.bytes_copied += bytes_copied

    def fail(self, key: str, reason: str) -> None:
        with self._lock:
            self.failed += 1
            self.failures[key] = reason

    def as_dict(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}
        values["failures"] = dict(list(self.failures.items())[:50])  # a sample keeps the JSON readable
        return values


@dataclass(frozen=True)
class BatchOptions:
    threshold_keys: int
    role_arn: str
    report_bucket: str
    account_id: str
    priority: int = 10
