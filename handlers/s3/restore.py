"""Point-in-time restore of an S3 bucket (or prefix), shared by ``drctl restore-bucket``, the restore
Lambda and the delete auto-restore Lambda.

The plan comes from ONE streamed ``list_object_versions`` pass. For each key we find the version that
was current at T and make it current again with the cheapest safe request:

- only delete markers above it, and the bucket allows versioned deletes -> remove the markers, batched
  up to 1,000 per ``DeleteObjects`` (no data copied, version ids preserved);
- otherwise -> server-side copy of that version over the key (keeps metadata, tags, storage class);
- absent at T -> leave it, or (``delete_created_after``) a plain delete, which only adds a marker;
- already as at T -> no write: decided by version identity (current version id == the version at T),
  or, for a copy an earlier run made, by content fingerprints from HeadObject: S3 checksums, a copy's
  recorded source version (multipart copies), or an ETag only where S3 defines it as the content's MD5
  (single-part, and neither SSE-KMS nor SSE-C, read from each object's own HEAD). Listing ETags and sizes
  only pick which keys to check; an ETag never decides on its own under SSE-KMS or after a multipart copy.

Data versions are never deleted and governance retention is never bypassed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from handlers import aws
from handlers.interrupts import StopFlag
from handlers.runtime_names import LOCK_PREFIX
from handlers.s3.batch import BatchCopier
from handlers.s3.lock import RestoreLock
from handlers.s3.plan import (
    DEFAULT_WORKERS,
    SUMMARY_COUNTERS,
    Action,
    CopySettings,
    KeyHistory,
    KeyPlan,
    RestoreOptions,
    RestoreSummary,
    Version,
    head_or_none,
)
from handlers.times import parse_time

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "dr-restore"))
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "DisasterRecovery"))

MAX_OBJECTS_PER_DELETE = 1000  # DeleteObjects limit
LISTING_PAGE_SIZE = 1000  # ListObjectVersions maximum
# Provenance on copies a checksum cannot match to their source: into another bucket/prefix, and multipart copies.
RESTORED_FROM_METADATA = "dr-restored-from-version"
# DeleteObjects reports per-key errors inside a 200 response, so botocore cannot retry them for us.
RETRYABLE_KEY_ERRORS = frozenset({"InternalError", "SlowDown", "ServiceUnavailable", "RequestTimeout"})
PER_KEY_ATTEMPTS = 4
# More attempts than the failover default: a restore is throughput-bound, not latency-bound, and a
# throttled key should be retried rather than reported as failed.
RESTORE_MAX_ATTEMPTS = 8
DEFAULT_COPY_SETTINGS = CopySettings()


# --------------------------------------------------------------------------------------------------
# Listing: one streamed pass, grouped per key, newest first
# --------------------------------------------------------------------------------------------------


def _newest_first(entries: list[Version]) -> tuple[Version, ...]:
    # botocore splits the listing into Versions and DeleteMarkers, each still in S3's newest-first
    # order, so we merge them by time. On a timestamp tie the latest entry wins, then the delete
    # marker (a delete right after a put is the common case); sorting is stable, so ties inside
    # either list keep S3's order.
    return tuple(sorted(entries, key=lambda e: (e.last_modified, e.is_latest, e.is_delete_marker), reverse=True))


def iter_key_histories(
    s3: Any, bucket: str, prefix: str = "", page_size: int = LISTING_PAGE_SIZE
) -> Iterator[KeyHistory]:
    """Stream ``KeyHistory`` objects from one paginated ``list_object_versions`` pass.

    S3 lists keys in order, so a key is complete once a later key appears; only the last key of a page
    is held back, because its older versions may continue on the next page.
    """
    pending_key: str | None = None
    pending: list[Version] = []
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": page_size}):
        by_key: dict[str, list[Version]] = {}
        for entry in page.get("Versions", []):
            by_key.setdefault(entry["Key"], []).append(Version.from_listing(entry, is_delete_marker=False))
        for entry in page.get("DeleteMarkers", []):
            by_key.setdefault(entry["Key"], []).append(Version.from_listing(entry, is_delete_marker=True))
        # Python orders str by code point, which matches S3's UTF-8 binary key order.
        for key in sorted(by_key):
            if key != pending_key:
                if pending_key is not None:
                    yield KeyHistory(pending_key, _newest_first(pending))
                pending_key, pending = key, []
            pending.extend(by_key[key])
    if pending_key is not None:
        yield KeyHistory(pending_key, _newest_first(pending))


def version_at(history: KeyHistory, at: datetime) -> Version | None:
    """The entry (data version or delete marker) that was current at ``at``; None if the key was absent."""
    return next((entry for entry in history.entries if entry.last_modified <= at), None)


# --------------------------------------------------------------------------------------------------
# Planning: one decision per key
# --------------------------------------------------------------------------------------------------


def plan_make_current(
    history: KeyHistory,
    wanted: Version | None,
    *,
    undelete_allowed: bool,
    delete_unwanted: bool,
    etags_are_md5: bool = False,
) -> KeyPlan:
    """How to make ``wanted`` (a data version, a delete marker, or None = absent) the key's current state."""
    current = history.current
    if wanted is None or wanted.is_delete_marker:
        if current.is_delete_marker:
            return KeyPlan(history.key, Action.SKIP)
        return KeyPlan(history.key, Action.DELETE if delete_unwanted else Action.SKIP)
    if current.version_id == wanted.version_id:
        return KeyPlan(history.key, Action.SKIP)
    newer = history.newer_than(wanted)
    if undelete_allowed and all(entry.is_delete_marker for entry in newer):
        return KeyPlan(history.key, Action.UNDELETE, wanted, tuple(entry.version_id for entry in newer))
    # Different ETags prove different content only when both are MD5s: not under SSE-KMS (``etags_are_md5``
    # is False there) and not for multipart objects. Otherwise the executor decides by checksum.
    etags_prove_difference = (
        etags_are_md5 and current.etag != wanted.etag and "-" not in current.etag and "-" not in wanted.etag
    )
    looks_same = (
        not current.is_delete_marker
        and current.size == wanted.size
        and current.storage_class == wanted.storage_class
        and not etags_prove_difference
    )
    return KeyPlan(history.key, Action.COPY, wanted, maybe_same_as=current if looks_same else None)


def plan_copy_elsewhere(history: KeyHistory, wanted: Version | None, *, delete_unwanted: bool) -> KeyPlan:
    """Plan for a restore into another bucket/prefix: the destination's state is checked when executing."""
    if wanted is None or wanted.is_delete_marker:
        return KeyPlan(history.key, Action.DELETE if delete_unwanted else Action.SKIP)
    return KeyPlan(history.key, Action.COPY, wanted)


def plan_key(history: KeyHistory, options: RestoreOptions, protection: BucketProtection) -> KeyPlan:
    """The one decision per key for ``options`` on a bucket with ``protection`` (every planner ends here or
    reproduces it: handlers/s3/sql/restore_plan.sql)."""
    wanted = version_at(history, options.at)
    if options.in_place:
        return plan_make_current(
            history,
            wanted,
            undelete_allowed=options.in_place and protection.undelete_allowed(options.mfa),
            delete_unwanted=options.delete_created_after,
            etags_are_md5=protection.etags_are_md5,
        )
    return plan_copy_elsewhere(history, wanted, delete_unwanted=options.delete_created_after)


# --------------------------------------------------------------------------------------------------
# What the bucket allows
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BucketProtection:
    versioning: str
    mfa_delete: bool
    replicated: bool
    kms_default_encryption: bool = False

    @property
    def etags_are_md5(self) -> bool:
        return not self.kms_default_encryption

    @property
    def keeps_every_version(self) -> bool:
        """Only with versioning Enabled does every overwrite and delete keep the previous version; when it is
        Suspended they replace the ``null`` version for good."""
        return self.versioning == "Enabled"

    def undelete_allowed(self, mfa: str | None = None) -> bool:
        # S3 never replicates a delete that names a version, so removing markers on a replicated
        # bucket leaves the replica deleted; on an MFA-delete bucket it needs the root user's code.
        return not self.replicated and (not self.mfa_delete or mfa is not None)

    def copy_reason(self, mfa: str | None = None) -> str | None:
        if self.replicated:
            return "replication configured: versioned deletes do not replicate"
        if self.mfa_delete and mfa is None:
            return "MFA delete enabled: removing a delete marker needs the root user's MFA code"
        return None


def read_bucket_protection(s3: Any, bucket: str) -> BucketProtection:
    versioning = s3.get_bucket_versioning(Bucket=bucket)
    try:
        s3.get_bucket_replication(Bucket=bucket)
        replicated = True
    except ClientError as error:
        if error.response["Error"]["Code"] != "ReplicationConfigurationNotFoundError":
            raise
        replicated = False
    try:
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "ServerSideEncryptionConfigurationNotFoundError":
            raise
        rules = []
    kms = any(
        rule.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm") in KMS_ENCRYPTION for rule in rules
    )
    return BucketProtection(
        versioning=versioning.get("Status", "Disabled"),
        mfa_delete=versioning.get("MFADelete") == "Enabled",
        replicated=replicated,
        kms_default_encryption=kms,
    )


# --------------------------------------------------------------------------------------------------
# Requests: the one place that copies, undeletes and deletes
# --------------------------------------------------------------------------------------------------


def _copy_source(bucket: str, version: Version) -> dict[str, str]:
    return {"Bucket": bucket, "Key": version.key, "VersionId": version.version_id}


def _explicit_attributes(head: dict[str, Any], extra_metadata: dict[str, str]) -> dict[str, Any]:
    """The attributes a REPLACE copy or a multipart upload must restate, taken from the source's HEAD."""
    names = ("ContentType", "CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage")
    attributes = {name: head[name] for name in names if head.get(name)}
    if head.get("Expires"):
        attributes["Expires"] = head["Expires"]
    attributes["Metadata"] = {**head.get("Metadata", {}), **extra_metadata}
    return attributes


def copy_version(
    s3: Any,
    source_bucket: str,
    version: Version,
    dest_bucket: str,
    dest_key: str,
    *,
    extra_metadata: dict[str, str] | None = None,
    settings: CopySettings = DEFAULT_COPY_SETTINGS,
    source_head: dict[str, Any] | None = None,
) -> str:
    """Server-side copy of ``version`` to ``dest_bucket/dest_key``; returns the new version id.

    Keeps metadata, content type, tags and storage class. ``StorageClass`` is always passed because
    CopyObject otherwise writes STANDARD; the source's checksum algorithm too, so that a later run can
    compare the copy with its source by checksum. Retention and legal holds are never copied: the new
    version takes the bucket's default retention.

    Above the multipart threshold the copy also records its source version (``RESTORED_FROM_METADATA``):
    a multipart copy has a new ETag and no full-object checksum to compare, so this is how a later run
    recognises it and writes nothing.

    ``source_head`` is the version's HEAD when the caller already made it (a request saved per key).
    """
    source = _copy_source(source_bucket, version)
    if version.size > settings.multipart_threshold:
        extra_metadata = {**(extra_metadata or {}), RESTORED_FROM_METADATA: version.version_id}
    checksum = {"ChecksumAlgorithm": version.checksum_algorithm} if version.checksum_algorithm else {}
    if version.size <= settings.multipart_threshold and not extra_metadata:
        response = s3.copy_object(
            Bucket=dest_bucket, Key=dest_key, CopySource=source, StorageClass=version.storage_class, **checksum
        )
        return str(response.get("VersionId", ""))
    head = source_head or s3.head_object(Bucket=source_bucket, Key=version.key, VersionId=version.version_id)
    attributes = _explicit_attributes(head, extra_metadata or {})
    if version.size <= settings.multipart_threshold:
        response = s3.copy_object(
            Bucket=dest_bucket,
            Key=dest_key,
            CopySource=source,
            StorageClass=version.storage_class,
            MetadataDirective="REPLACE",
            **checksum,
            **attributes,
        )
        return str(response.get("VersionId", ""))
    return _multipart_copy(s3, source, version, dest_bucket, dest_key, attributes, settings.part_size)


def _multipart_copy(
    s3: Any,
    source: dict[str, str],
    version: Version,
    dest_bucket: str,
    dest_key: str,
    attributes: dict[str, Any],
    part_size: int,
) -> str:
    part_size = max(part_size, -(-version.size // MAX_PARTS))  # S3 allows at most 10,000 parts
    # UploadPartCopy copies bytes only, so metadata and tags go on the new upload explicitly.
    tags = s3.get_object_tagging(Bucket=source["Bucket"], Key=version.key, VersionId=version.version_id)
    tagging = urlencode([(tag["Key"], tag["Value"]) for tag in tags.get("TagSet", [])])
    upload = s3.create_multipart_upload(
        Bucket=dest_bucket,
        Key=dest_key,
        StorageClass=version.storage_class,
        **({"Tagging": tagging} if tagging else {}),
        **attributes,
    )
    upload_id = upload["UploadId"]
    try:
        parts = []
        for number, start in enumerate(range(0, version.size, part_size), start=1):
            end = min(start + part_size, version.size) - 1
            part = s3.upload_part_copy(
                Bucket=dest_bucket,
                Key=dest_key,
                UploadId=upload_id,
                PartNumber=number,
                CopySource=source,
                CopySourceRange=f"bytes={start}-{end}",
            )
            parts.append({"PartNumber": number, "ETag": part["CopyPartResult"]["ETag"]})
        done = s3.complete_multipart_upload(
            Bucket=dest_bucket, Key=dest_key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    except BaseException:
        s3.abort_multipart_upload(Bucket=dest_bucket, Key=dest_key, UploadId=upload_id)
        raise
    return str(done.get("VersionId", ""))


def _object_id(entry: dict[str, str]) -> tuple[str, str | None]:
    return entry["Key"], entry.get("VersionId")


def delete_objects(
    s3: Any, bucket: str, objects: Sequence[dict[str, str]], *, mfa: str | None = None
) -> list[dict[str, str]]:
    """``DeleteObjects`` in chunks of 1,000; returns the per-key errors left after retrying retryable ones.

    Objects that name a ``VersionId`` must be delete markers: callers never pass a data version.
    """
    extra = {"MFA": mfa} if mfa else {}
    final_errors: list[dict[str, str]] = []
    for start in range(0, len(objects), MAX_OBJECTS_PER_DELETE):
        pending = list(objects[start : start + MAX_OBJECTS_PER_DELETE])
        for attempt in range(PER_KEY_ATTEMPTS):
            response = s3.delete_objects(Bucket=bucket, Delete={"Objects": pending, "Quiet": True}, **extra)
            errors = {_object_id(error): error for error in response.get("Errors", [])}
            retry = {ident for ident, error in errors.items() if error.get("Code") in RETRYABLE_KEY_ERRORS}
            if attempt == PER_KEY_ATTEMPTS - 1:
                retry = set()
            final_errors += [error for ident, error in errors.items() if ident not in retry]
            pending = [entry for entry in pending if _object_id(entry) in retry]
            if not pending:
                break
            time.sleep(0.05 * 2**attempt)
    return final_errors


def remove_delete_markers(
    s3: Any, bucket: str, plans: Sequence[KeyPlan], *, mfa: str | None = None
) -> tuple[list[str], dict[str, str]]:
    """Undelete keys by removing the markers above their version; returns (restored keys, key -> error)."""
    objects = [{"Key": plan.key, "VersionId": marker} for plan in plans for marker in plan.markers]
    failed = {error["Key"]: error.get("Code", "Error") for error in delete_objects(s3, bucket, objects, mfa=mfa)}
    return [plan.key for plan in plans if plan.key not in failed], failed


def delete_current(s3: Any, bucket: str, keys: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """Plain deletes (no version id): each adds a delete marker and no version is removed."""
    failed = {
        error["Key"]: error.get("Code", "Error") for error in delete_objects(s3, bucket, [{"Key": k} for k in keys])
    }
    return [key for key in keys if key not in failed], failed


class ArchiveState(StrEnum):
    AVAILABLE = "available"  # not archived, or a restored copy is readable
    IN_PROGRESS = "in-progress"
    ARCHIVED = "archived"


def archive_state(s3: Any, bucket: str, version: Version) -> ArchiveState:
    if not version.archived:
        return ArchiveState.AVAILABLE
    head = s3.head_object(Bucket=bucket, Key=version.key, VersionId=version.version_id)
    restore = head.get("Restore") or ""
    if 'ongoing-request="false"' in restore:
        return ArchiveState.AVAILABLE
    return ArchiveState.IN_PROGRESS if 'ongoing-request="true"' in restore else ArchiveState.ARCHIVED


def start_archive_restore(s3: Any, bucket: str, version: Version, *, days: int, tier: str) -> None:
    try:
        s3.restore_object(
            Bucket=bucket,
            Key=version.key,
            VersionId=version.version_id,
            RestoreRequest={"Days": days, "GlacierJobParameters": {"Tier": tier}},
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "RestoreAlreadyInProgress":
            raise


CHECKSUM_FIELDS = ("ChecksumCRC64NVME", "ChecksumCRC32C", "ChecksumCRC32", "ChecksumSHA256", "ChecksumSHA1")
KMS_ENCRYPTION = frozenset({"aws:kms", "aws:kms:dsse"})
MAX_PARTS = 10_000


def content_identities(head: dict[str, Any]) -> dict[str, str]:
    """Content fingerprints a HEAD proves: S3 checksums, and the ETag only where it is a plain MD5."""
    identities = {name: str(head[name]) for name in CHECKSUM_FIELDS if head.get(name)}
    etag = str(head.get("ETag", ""))
    is_md5 = (
        etag
        and "-" not in etag  # multipart ETags are not an MD5 of the content
        and head.get("ServerSideEncryption") not in KMS_ENCRYPTION
        and not head.get("SSECustomerAlgorithm")
    )
    if is_md5:
        identities["MD5"] = etag
    return identities


def same_object(s3: Any, bucket: str, current: Version, wanted: Version) -> bool:
    """Whether ``current`` holds ``wanted``'s content (by checksum, or as a recorded copy of it), metadata and
    content type."""
    heads = [
        s3.head_object(Bucket=bucket, Key=v.key, VersionId=v.version_id, ChecksumMode="ENABLED")
        for v in (current, wanted)
    ]
    first, second = (content_identities(head) for head in heads)
    common = first.keys() & second.keys()
    copied_from = heads[0].get("Metadata", {}).get(RESTORED_FROM_METADATA)
    same_content = copied_from == wanted.version_id or (
        bool(common) and all(first[name] == second[name] for name in common)
    )
    metadata = [{k: v for k, v in head.get("Metadata", {}).items() if k != RESTORED_FROM_METADATA} for head in heads]
    return same_content and metadata[0] == metadata[1] and heads[0].get("ContentType") == heads[1].get("ContentType")


def destination_has_version(s3: Any, bucket: str, key: str, version: Version) -> bool:
    """Whether a copy into another bucket/prefix already holds ``version`` (provenance metadata)."""
    head = head_or_none(s3, bucket, key)
    return head is not None and head.get("Metadata", {}).get(RESTORED_FROM_METADATA) == version.version_id


# --------------------------------------------------------------------------------------------------
# Counting every request
# --------------------------------------------------------------------------------------------------
class RequestCounter:
    """Counts every HTTP request a client sends (retries included) through botocore's ``before-send``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0
        self._clients: list[Any] = []

    def _on_send(self, **_: Any) -> None:
        with self._lock:
            self.count += 1

    def attach(self, client: Any) -> None:
        # Registered first so it runs before any handler that short-circuits the send.
        client.meta.events.register_first("before-send", self._on_send, unique_id=f"count-{id(self)}")
        self._clients.append(client)

    def detach(self) -> None:
        for client in self._clients:
            client.meta.events.unregister("before-send", unique_id=f"count-{id(self)}")
        self._clients.clear()


# --------------------------------------------------------------------------------------------------
# The restore
# --------------------------------------------------------------------------------------------------


def _error_code(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response["Error"].get("Code", "ClientError"))
    return type(error).__name__


class BlastRadiusRefused(ValueError):
    """The listing-only pass found the restore would change too much (or aim before the bucket's history)."""

    def __init__(self, message: str, assessment: dict[str, Any]) -> None:
        super().__init__(message)
        self.assessment = assessment


# Every request that changes an object; each is admitted through the stop flag (``_BucketRestore.admit_write``).
GATED_WRITES = frozenset(
    {
        "CopyObject",
        "DeleteObject",
        "DeleteObjects",
        "PutObject",
        "CreateMultipartUpload",
        "UploadPartCopy",
        "CompleteMultipartUpload",
        "RestoreObject",
    }
)


class DispatchRefused(Exception):
    """A write not sent because the restore was stopping (the key is counted as not done)."""


class _BucketRestore:
    """Executes plans as the listing streams in; one thread pool, bounded in-flight work.

    It stops dispatching as soon as ``halted`` is true (a signal, a systemic failure, a lost lock): queued work is
    cancelled, and every write request is admitted through the stop flag, so none is sent after the stop is set
    (a work item already running stops at its next write; its key counts as not done).
    """

    def __init__(
        self,
        s3: Any,
        options: RestoreOptions,
        protection: BucketProtection,
        summary: RestoreSummary,
        on_key_done: Callable[[int], None],
        batch: BatchCopier | None,
        stop: StopFlag | None = None,
        lock_lost: threading.Event | None = None,
    ) -> None:
        self.s3 = s3
        self.options = options
        self.protection = protection
        self.summary = summary
        self.on_key_done = on_key_done
        self.batch = batch
        self.stop = stop if stop is not None else StopFlag()
        self.lock_lost = lock_lost or threading.Event()
        self.undelete_allowed = options.in_place and protection.undelete_allowed(options.mfa)
        self.pool = ThreadPoolExecutor(max_workers=options.workers, thread_name_prefix="restore")
        # Bounded so a huge bucket streams through instead of queueing every key in memory, yet wide
        # enough (two listing pages) that the next page is fetched while this one's work runs.
        self.slots = threading.BoundedSemaphore(max(options.workers * 4, 2 * LISTING_PAGE_SIZE))
        self.markers: list[KeyPlan] = []
        self.marker_count = 0
        self.deletes: list[str] = []
        self.crash: BaseException | None = None  # the first unexpected error (a bug), re-raised by finish()
        self.not_done = 0  # keys planned but left undone by a stop
        self._not_done_lock = threading.Lock()

    @property
    def halt_reason(self) -> str | None:
        if self.stop.is_set():
            return "interrupted"
        if self.lock_lost.is_set():
            return "lock lost: another process broke this restore's lock"
        tripped = self.summary.systemic_failure
        if tripped is not None:
            return f"systemic failure: {tripped}"
        return None

    def admit_write(self, model: Any, params: dict[str, Any] | None = None, **_: Any) -> None:
        """botocore ``before-parameter-build`` (the API parameters): a write is sent only if admitted before any stop
        (``StopFlag.admit``); the lock's own requests (renew, release) always go."""
        params = params or {}
        lock_request = params.get("Bucket") == self.options.lock_bucket and str(params.get("Key", "")).startswith(
            LOCK_PREFIX
        )
        if model.name not in GATED_WRITES or lock_request:
            return
        if not self.stop.admit(lambda: self.halt_reason is not None):
            raise DispatchRefused(f"{model.name} s3://{params.get('Bucket')}/{params.get('Key')}")

    def plan(self, history: KeyHistory) -> KeyPlan:
        return plan_key(history, self.options, self.protection)

    def dispatch(self, plan: KeyPlan) -> None:
        if plan.action is Action.SKIP:
            self.summary.add("skipped")
            self.on_key_done(1)
        elif self.options.dry_run and self.options.in_place and plan.action is not Action.COPY:
            # Copies still go through ``_copy`` in a dry run: it reads archive state but writes nothing.
            self.summary.add("undeleted" if plan.action is Action.UNDELETE else "deleted")
            self.on_key_done(1)
        elif plan.action is Action.UNDELETE:
            self.markers.append(plan)
            self.marker_count += len(plan.markers)
            if self.marker_count >= MAX_OBJECTS_PER_DELETE:
                self._flush_markers()
        elif plan.action is Action.DELETE and self.options.in_place:
            self.deletes.append(plan.key)
            if len(self.deletes) >= MAX_OBJECTS_PER_DELETE:
                self._flush_deletes()
        elif plan.action is Action.COPY and self.batch is not None and self.batch.accepts(plan):
            self.batch.add(plan)
        else:
            self._submit(self._run_one, plan)

    def finish(self) -> None:
        if self.halt_reason is None:
            self._flush_markers()
            self._flush_deletes()
        else:
            self._left_undone(len(self.markers) + len(self.deletes))
            self.markers, self.marker_count, self.deletes = [], 0, []
        if self.batch is not None and self.halt_reason is None:
            batched_before = self.summary.batched
            for plan in self.batch.finish(self.summary):
                self._submit(self._run_one, plan)
            self.on_key_done(self.summary.batched - batched_before)  # handed to Batch Operations: done here
        elif self.batch is not None:
            self._left_undone(len(self.batch.held))
        self.pool.shutdown(wait=True, cancel_futures=self.halt_reason is not None)
        if self.crash is not None:
            raise self.crash

    def _left_undone(self, keys: int) -> None:
        with self._not_done_lock:
            self.not_done += keys

    # -- work items (run in the pool) ---------------------------------------------------------------
    def _submit(self, work: Callable[[Any], int], item: Any) -> None:
        keys = len(item) if isinstance(item, list) else 1
        self.slots.acquire()
        if self.halt_reason is not None:
            self.slots.release()
            self._left_undone(keys)
            return
        future = self.pool.submit(self._guarded, work, item)
        future.add_done_callback(lambda done: self._done(done, keys))

    def _done(self, future: Future[None], keys: int) -> None:
        self.slots.release()
        if future.cancelled():
            self._left_undone(keys)
            return
        error = future.exception()
        if error is not None and self.crash is None:
            self.crash = error

    def _guarded(self, work: Callable[[Any], int], item: Any) -> None:
        keys = [p.key for p in item] if isinstance(item, list) else [getattr(item, "key", str(item))]
        if self.halt_reason is not None:  # queued before the stop: never started
            self._left_undone(len(keys))
            return
        try:
            failed = work(item)
        except DispatchRefused:  # stopped before its write was sent: left for the re-run
            self._left_undone(len(keys))
            return
        except Exception as error:
            # AWS refusing (ClientError/BotoCoreError) or anything else per key: an unparseable response, say. Each
            # is counted by class, so a failure that hits every key stops the restore early like a refusal does.
            aws = isinstance(error, ClientError | BotoCoreError)
            code = _error_code(error) if aws else type(error).__name__
            first_of_class = code not in self.summary.tally.classes
            for key in keys:
                self.summary.fail(key, code, aws=aws)
            if first_of_class:  # one log line per error class, not one per key
                logger.warning("restore request failed", extra={"keys": keys[:5], "error": str(error)})
            self.on_key_done(len(keys))
        else:
            self.summary.succeeded(len(keys) - failed)

    def _flush_markers(self) -> None:
        if self.markers:
            self._submit(self._undelete, self.markers)
            self.markers, self.marker_count = [], 0

    def _flush_deletes(self) -> None:
        if self.deletes:
            self._submit(self._delete, [KeyPlan(key, Action.DELETE) for key in self.deletes])
            self.deletes = []

    def _undelete(self, plans: list[KeyPlan]) -> int:
        restored, failed = remove_delete_markers(self.s3, self.options.bucket, plans, mfa=self.options.mfa)
        self.summary.add("undeleted", len(restored))
        for key, code in failed.items():
            self.summary.fail(key, code)
        self.on_key_done(len(plans))
        return len(failed)

    def _delete(self, plans: list[KeyPlan]) -> int:
        deleted, failed = delete_current(self.s3, self.options.bucket, [plan.key for plan in plans])
        self.summary.add("deleted", len(deleted))
        for key, code in failed.items():
            self.summary.fail(key, code)
        self.on_key_done(len(plans))
        return len(failed)

    def _run_one(self, plan: KeyPlan) -> int:
        if plan.action is Action.DELETE:
            self._delete_elsewhere(plan)
        else:
            self._copy(plan)
        self.on_key_done(1)
        return 0

    def _delete_elsewhere(self, plan: KeyPlan) -> None:
        bucket, key = self.options.destination_bucket, self.options.destination_key(plan.key)
        if head_or_none(self.s3, bucket, key) is None:
            self.summary.add("skipped")
        elif self.options.dry_run:
            self.summary.add("deleted")
        else:
            self.s3.delete_object(Bucket=bucket, Key=key)
            self.summary.add("deleted")

    def _copy(self, plan: KeyPlan) -> None:
        assert plan.version is not None
        version, options = plan.version, self.options
        dest_bucket, dest_key = options.destination_bucket, options.destination_key(plan.key)
        extra_metadata = None
        if not options.in_place:
            if destination_has_version(self.s3, dest_bucket, dest_key, version):
                self.summary.add("skipped")
                return
            extra_metadata = {RESTORED_FROM_METADATA: version.version_id}
        if plan.maybe_same_as is not None and same_object(self.s3, options.bucket, plan.maybe_same_as, version):
            self.summary.add("skipped")
            return
        state = archive_state(self.s3, options.bucket, version)
        if state is not ArchiveState.AVAILABLE:
            if state is ArchiveState.ARCHIVED and not options.dry_run:
                start_archive_restore(
                    self.s3, options.bucket, version, days=options.archive_days, tier=options.archive_tier
                )
            self.summary.add("archived_pending")
            return
        if options.dry_run:
            self.summary.add("copied")
            return
        copy_version(
            self.s3,
            options.bucket,
            version,
            dest_bucket,
            dest_key,
            extra_metadata=extra_metadata,
            settings=options.copy,
        )
        self.summary.add("copied", bytes_copied=version.size)


@dataclass(frozen=True)
class PlannedKey:
    """One key's plan with what the blast-radius pass counts: the key's versions, whether it is live now, and when
    its oldest entry was written."""

    plan: KeyPlan
    versions: int
    live: bool
    first_modified: datetime


class BlastRadius:
    """Counts what a restore would change (only counts: memory does not grow with the bucket).

    ``would_overwrite`` counts copies over a live key that the plan cannot show to be the same already (a copy an
    earlier run made counts once its size and storage class match, so a re-run is not refused); ``would_delete``
    counts delete markers the restore would put on live keys."""

    def __init__(self) -> None:
        self.counts = dict.fromkeys(("keys", "live_keys", "would_overwrite", "would_delete", "would_undelete"), 0)
        self.oldest: datetime | None = None

    def add(self, planned: PlannedKey) -> None:
        counts, plan, live = self.counts, planned.plan, planned.live
        counts["keys"] += 1
        first = planned.first_modified
        self.oldest = first if self.oldest is None or first < self.oldest else self.oldest
        counts["live_keys"] += live
        if plan.action is Action.DELETE:
            counts["would_delete"] += 1
        elif plan.action is Action.COPY and live and plan.maybe_same_as is None:
            counts["would_overwrite"] += 1
        elif plan.action in (Action.COPY, Action.UNDELETE) and not live:
            counts["would_undelete"] += 1

    def result(self, options: RestoreOptions, requests: int) -> dict[str, Any]:
        counts = self.counts
        changes = counts["would_overwrite"] + counts["would_delete"]
        share = changes / counts["live_keys"] if counts["live_keys"] else (1.0 if changes else 0.0)
        return {
            **counts,
            "share": round(share, 4),
            "max_share": options.max_change_share,
            "oldest_version": self.oldest.isoformat() if self.oldest else None,
            "requests": requests,
        }


class Planner(Protocol):
    """Decides every key of a restore (``ListingPlanner``; ``handlers.s3.inventory.InventoryPlanner``)."""

    def planned_keys(self, s3: Any, options: RestoreOptions, protection: BucketProtection) -> Iterator[PlannedKey]: ...

    def describe(self) -> dict[str, Any]: ...


class ListingPlanner:
    """Plans from one streamed ``ListObjectVersions`` pass (the default; flat memory, ~11,000 versions/s here)."""

    name = "listing"

    def planned_keys(self, s3: Any, options: RestoreOptions, protection: BucketProtection) -> Iterator[PlannedKey]:
        for history in iter_key_histories(s3, options.bucket, options.prefix):
            yield PlannedKey(
                plan_key(history, options, protection),
                len(history.entries),
                not history.current.is_delete_marker,
                history.entries[-1].last_modified,
            )

    def describe(self) -> dict[str, Any]:
        return {"planner": self.name}


def assess_blast_radius(
    s3: Any, options: RestoreOptions, protection: BucketProtection, planner: Planner | None = None
) -> dict[str, Any]:
    """The planning-only pass: what the restore would change (no HEAD, no write); with the listing planner, from
    ``ListObjectVersions`` alone."""
    counter = RequestCounter()
    counter.attach(s3)
    radius = BlastRadius()
    try:
        for planned in (planner or ListingPlanner()).planned_keys(s3, options, protection):
            radius.add(planned)
    finally:
        counter.detach()
    return radius.result(options, counter.count)


def _check_blast_radius(assessment: dict[str, Any], options: RestoreOptions) -> None:
    oldest = assessment["oldest_version"]
    if oldest is not None and options.at < datetime.fromisoformat(oldest):
        raise BlastRadiusRefused(
            f"--to {options.at.isoformat()} is before the oldest version under s3://{options.bucket}/"
            f"{options.prefix} ({oldest}): nothing existed then, so the restore would only remove data; "
            "check --to, or pass --yes",
            assessment,
        )
    if assessment["keys"] and assessment["share"] > options.max_change_share:
        raise BlastRadiusRefused(
            f"the restore would overwrite {assessment['would_overwrite']} and put delete markers on "
            f"{assessment['would_delete']} of {assessment['live_keys']} live keys ({assessment['share']:.0%}, above "
            f"{options.max_change_share:.0%}): check --to and --prefix, then pass --yes (or raise --max-change-share)",
            assessment,
        )


def restore_bucket(
    s3: Any,
    options: RestoreOptions,
    *,
    s3control: Any | None = None,
    on_key_done: Callable[[int], None] = lambda _: None,
    on_key_listed: Callable[[int], None] = lambda _: None,
    stop: StopFlag | None = None,
    planner: Planner | None = None,
) -> dict[str, Any]:
    """Restore ``options.bucket`` (under ``options.prefix``) to its state at ``options.at``.

    ``s3`` should allow ``options.workers`` pooled connections. Returns the summary dict (the CLI's
    ``--json`` output). Every S3 request the restore sends, listing and retries included, is counted.
    ``on_key_listed`` gets the running count of keys listed (the listing streams, so the total grows),
    ``on_key_done`` the number of keys just finished. Setting ``stop`` (the CLI does on SIGINT/SIGTERM) stops
    dispatching; the summary then says what was done and what was not (``stopped``, ``not_done``).

    Unless ``options.confirmed`` or a dry run, a listing-only pass first refuses (``BlastRadiusRefused``) a restore
    that would change more than ``options.max_change_share`` of the live keys or aims before the bucket's oldest
    version. A restore that writes holds the bucket's lock (``handlers.s3.lock``) in ``options.lock_bucket``.
    ``planner`` decides each key (default: ``ListingPlanner``; ``handlers.s3.inventory.InventoryPlanner`` plans from
    S3 Inventory and the change journal); execution is the same whoever planned.
    """
    planner = planner or ListingPlanner()
    started = time.monotonic()
    counter = RequestCounter()
    counter.attach(s3)
    if s3control is not None:
        counter.attach(s3control)
    summary = RestoreSummary(fail_fast=options.fail_fast)
    assessment: dict[str, Any] | None = None
    lock: RestoreLock | None = None
    listing_complete = False
    try:
        protection = read_bucket_protection(s3, options.bucket)
        if protection.versioning == "Disabled":
            raise ValueError(f"bucket {options.bucket} has never been versioned: no point-in-time history")
        destination = (
            protection
            if options.destination_bucket == options.bucket
            else read_bucket_protection(s3, options.destination_bucket)
        )
        if not options.dry_run and not destination.keeps_every_version:
            raise ValueError(
                f"bucket {options.destination_bucket} has versioning {destination.versioning}: a restore only writes "
                "where every overwrite and delete keeps the previous version; enable versioning first"
            )
        if not options.dry_run and not options.lock_bucket:
            raise ValueError(
                "a restore that writes needs a lock bucket (--lock-bucket or DR_BATCH_REPORT_BUCKET: the stack's "
                "reports bucket) so that two restores of one bucket cannot run at once"
            )
        if not options.confirmed and not options.dry_run:
            assessment = assess_blast_radius(s3, options, protection, planner)
            _check_blast_radius(assessment, options)
        batch = _batch_copier(s3, s3control, options)
        if not options.dry_run and options.lock_bucket:
            lock = RestoreLock(
                s3, options.lock_bucket, options.destination_bucket, owner=options.lock_owner, prefix=options.prefix
            )
            lock.acquire(break_lock=options.break_lock)
        restore = _BucketRestore(
            s3, options, protection, summary, on_key_done, batch, stop, lock.lost if lock else None
        )
        s3.meta.events.register("before-parameter-build.s3", restore.admit_write, unique_id=f"admit-{id(restore)}")
        try:
            with lock if lock is not None else contextlib.nullcontext():
                try:
                    for planned in planner.planned_keys(s3, options, protection):
                        if restore.halt_reason is not None:
                            break
                        summary.keys_scanned += 1
                        summary.versions_scanned += planned.versions
                        on_key_listed(summary.keys_scanned)
                        restore.dispatch(planned.plan)
                    else:
                        listing_complete = True
                finally:
                    restore.finish()
        except Exception as error:
            # What was done before the error, so the operator always gets the counts (the CLI prints them).
            error.restore_summary = {  # type: ignore[attr-defined]
                **summary.as_dict(),
                "not_done": restore.not_done,
                "listing_complete": listing_complete,
                "systemic_failure": summary.systemic_failure,
            }
            raise
        finally:
            s3.meta.events.unregister("before-parameter-build.s3", unique_id=f"admit-{id(restore)}")
            if lock is not None:
                lock.release()
    finally:
        counter.detach()
    result = summary.as_dict()
    halted = restore.halt_reason
    result.update(
        bucket=options.bucket,
        to=options.at.isoformat(),
        prefix=options.prefix,
        destination=f"{options.destination_bucket}/{options.destination_key(options.prefix)}",
        dry_run=options.dry_run,
        undelete_allowed=restore.undelete_allowed,
        copy_reason=protection.copy_reason(options.mfa),
        requests=counter.count,
        seconds=round(time.monotonic() - started, 3),
        # The listing-only pass (None with --yes or a dry run); its requests are part of ``requests``.
        blast_radius=assessment,
        stopped=halted,
        listing_complete=listing_complete,
        not_done=restore.not_done,
        systemic_failure=summary.systemic_failure,
        lock_broken=None if lock is None or lock.broken is None else dataclasses.asdict(lock.broken),
        warning=None,
        **planner.describe(),
    )
    if summary.keys_scanned == 0 and listing_complete:
        result["warning"] = f"nothing matched: no key under s3://{options.bucket}/{options.prefix}"
    if batch is not None:
        result["batch_jobs"] = batch.jobs
    return result


def _batch_copier(s3: Any, s3control: Any | None, options: RestoreOptions) -> BatchCopier | None:
    if options.batch is None or options.dry_run:
        return None
    if s3control is None:
        raise ValueError("a Batch Operations restore needs an s3control client")
    return BatchCopier(s3, s3control, options)


def restore_client(workers: int = DEFAULT_WORKERS) -> Any:
    """The one S3 client a restore shares across its threads (pool sized to the workers)."""
    return aws.client(
        "s3",
        max_pool_connections=workers,
        max_attempts=RESTORE_MAX_ATTEMPTS,
        timestamp_parser=aws.parse_iso_timestamp,  # listings carry one timestamp per version
    )


# --------------------------------------------------------------------------------------------------
# Lambda entry for automated restores
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RestoreEvent:
    """``{"bucket", "to", "prefix"?, "target_bucket"?, "target_prefix"?, "delete_created_after"?,
    "dry_run"?, "workers"?, "confirm"?, "lock_bucket"?}``

    ``to`` follows the one time rule (``handlers.times``). Above the blast-radius share the restore is refused
    unless ``"confirm": true``. The lock bucket defaults to ``DR_BATCH_REPORT_BUCKET``."""

    options: RestoreOptions

    @classmethod
    def parse(cls, event: dict[str, Any]) -> RestoreEvent:
        return cls(
            RestoreOptions(
                bucket=event["bucket"],
                at=parse_time(str(event["to"]), "to"),
                prefix=event.get("prefix", ""),
                target_bucket=event.get("target_bucket"),
                target_prefix=event.get("target_prefix"),
                delete_created_after=bool(event.get("delete_created_after", False)),
                dry_run=bool(event.get("dry_run", False)),
                workers=int(event.get("workers", LAMBDA_WORKERS)),
                archive_tier=event.get("archive_tier", "Standard"),
                confirmed=event.get("confirm") is True,
                lock_bucket=event.get("lock_bucket") or os.environ.get("DR_BATCH_REPORT_BUCKET") or None,
                lock_owner=f"lambda {os.environ.get('AWS_LAMBDA_FUNCTION_NAME', 'restore')}",
            )
        )


LAMBDA_WORKERS = int(os.environ.get("DR_RESTORE_WORKERS", str(DEFAULT_WORKERS)))


@cache
def _lambda_client(workers: int) -> Any:
    return restore_client(workers)  # reused across warm invocations


class RestoreIncomplete(RuntimeError):
    """Some keys could not be restored; the summary's ``failures`` names them."""


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Automated point-in-time restore. Idempotent by construction: a repeated invocation finds every
    key already as it was at T and issues no writes."""
    request = RestoreEvent.parse(event)
    s3 = _lambda_client(request.options.workers)
    summary = restore_bucket(s3, request.options)
    for name in SUMMARY_COUNTERS:
        metrics.add_metric(name=f"Restore{name.title().replace('_', '')}", unit=MetricUnit.Count, value=summary[name])
    logger.info("restore finished", extra={"summary": summary})
    if summary["failed"]:
        # Fail the invocation so async retries and Step Functions see it; a retry only redoes what failed.
        raise RestoreIncomplete(f"{summary['failed']} key(s) failed: {summary['failures']}")
    return summary
