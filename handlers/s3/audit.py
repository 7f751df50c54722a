"""Replication and integrity audit: compare a bucket with its replica.

Both listings are streamed page by page and merged by key (S3 lists in UTF-8 binary order, which is the
code-point order Python compares strings in), so memory holds two pages, one chunk of pairs whose
HeadObject calls run concurrently, and the capped report.

Per key present on both sides:
- sizes must match;
- when both sides list a common checksum algorithm, the checksums are compared (SHA-256 preferred),
  which costs one ``HeadObject`` per side;
- otherwise ETags are compared, but only when neither bucket encrypts with SSE-KMS by default: under
  SSE-KMS (tier-1 buckets, with a replica key in the other region) an ETag is not an MD5 of the content, so
  two copies of the same bytes differ. ETags are a same-encryption consistency signal, not a content hash;
- otherwise the key counts as ``size_only``, and the report says so.

``ListObjectsV2`` does not return replication status, so only keys that are missing on the replica or
differ are looked up with ``HeadObject`` on the primary: FAILED, or PENDING for longer than the RTC window
(15 min), is a finding; PENDING within the window is reported but is not a mismatch. At large scale,
S3 Inventory's replication-status field is the cheaper source.

A live bucket changes while it is audited: a key deleted between the listing and its HeadObject is
counted as ``changed_during_audit`` (reported, not a mismatch; the next audit sees its new state)
instead of aborting the whole audit.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from handlers.aws import cached_client
from handlers.metrics import NAMESPACE, publish_metrics

DEFAULT_RTC_WINDOW = timedelta(minutes=15)  # S3 RTC replicates 99.99% of objects within 15 minutes
MAX_REPORTED_PER_FINDING = 100
DEFAULT_WORKERS = 16
CHUNK_SIZE = 1000  # merged pairs in flight at once: bounds memory on any bucket size
CHECKSUM_PREFERENCE = ("SHA256", "SHA1", "CRC64NVME", "CRC32C", "CRC32")
KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")
# Counted findings; each is also a CloudWatch metric ``Audit<Name>`` on the bucket.
FINDINGS = ("missing", "extra", "content_mismatch", "replication_failed", "replication_pending_overdue")
# Reported with their keys, but not mismatches.
NOTICES = ("replication_pending", "changed_during_audit")
NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


@dataclass(frozen=True)
class ListedObject:
    key: str
    size: int
    etag: str
    checksum_algorithms: tuple[str, ...]


@dataclass(frozen=True)
class AuditTarget:
    bucket: str
    replica_bucket: str
    prefix: str = ""
    rtc_window: timedelta = DEFAULT_RTC_WINDOW
    page_size: int = 1000  # ListObjectsV2's maximum; smaller only to exercise paging in tests
    verify_checksums: bool = True  # one HeadObject per side per key; off = size and ETag only
    workers: int = DEFAULT_WORKERS

    def __post_init__(self) -> None:
        if self.bucket == self.replica_bucket:
            raise ValueError(
                f"the replica bucket {self.replica_bucket!r} is the primary itself: the audit would compare the "
                "bucket with itself; pass the replica with --replica-bucket"
            )


def iter_objects(s3: Any, bucket: str, prefix: str, page_size: int = 1000) -> Iterator[ListedObject]:
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": page_size}
    )
    for page in pages:
        for entry in page.get("Contents", []):
            yield ListedObject(
                key=entry["Key"],
                size=entry["Size"],
                etag=entry["ETag"],
                checksum_algorithms=tuple(entry.get("ChecksumAlgorithm", ())),
            )


def merge_listings(
    primary: Iterator[ListedObject], replica: Iterator[ListedObject]
) -> Iterator[tuple[ListedObject | None, ListedObject | None]]:
    """Pairs by key from two key-ordered streams; None on the side that lacks the key."""
    left, right = next(primary, None), next(replica, None)
    while left is not None or right is not None:
        if right is None or (left is not None and left.key < right.key):
            yield left, None
            left = next(primary, None)
        elif left is None or right.key < left.key:
            yield None, right
            right = next(replica, None)
        else:
            yield left, right
            left, right = next(primary, None), next(replica, None)


def default_encryption(s3: Any, bucket: str) -> str:
    try:
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "ServerSideEncryptionConfigurationNotFoundError":
            return "AES256"  # S3 applies SSE-S3 to every new object by default
        raise
    return str(rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"])


def resolve_replica(s3: Any, bucket: str) -> str:
    """The destination of the bucket's first enabled replication rule."""
    try:
        rules = s3.get_bucket_replication(Bucket=bucket)["ReplicationConfiguration"]["Rules"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "ReplicationConfigurationNotFoundError":
            raise ValueError(f"{bucket} has no replication configuration; pass the replica bucket") from None
        raise
    for rule in rules:
        if rule.get("Status") == "Enabled":
            return str(rule["Destination"]["Bucket"].split(":::")[-1])
    raise ValueError(f"{bucket} has no enabled replication rule; pass the replica bucket")


def _checksum(s3: Any, bucket: str, key: str, algorithm: str) -> str | None:
    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    value = head.get(f"Checksum{algorithm}")
    return str(value) if value else None


def compare_content(
    s3_primary: Any,
    s3_replica: Any,
    target: AuditTarget,
    primary: ListedObject,
    replica: ListedObject,
    etags_comparable: bool,
) -> tuple[bool, str]:
    """(same, how it was decided)."""
    if primary.size != replica.size:
        return False, "size"
    common = [a for a in CHECKSUM_PREFERENCE if a in primary.checksum_algorithms and a in replica.checksum_algorithms]
    if common and target.verify_checksums:
        algorithm = common[0]
        left = _checksum(s3_primary, target.bucket, primary.key, algorithm)
        right = _checksum(s3_replica, target.replica_bucket, replica.key, algorithm)
        if left and right:
            return left == right, f"checksum_{algorithm.lower()}"
    if etags_comparable:
        return primary.etag == replica.etag, "etag"
    return True, "size_only"


def replication_state(s3: Any, bucket: str, key: str, now: datetime, window: timedelta) -> str | None:
    """The finding the primary's replication status explains, or None when it reports nothing unusual."""
    head = s3.head_object(Bucket=bucket, Key=key)
    status = head.get("ReplicationStatus")
    if status == "FAILED":
        return "replication_failed"
    if status == "PENDING":
        overdue = now - head["LastModified"].astimezone(UTC) > window
        return "replication_pending_overdue" if overdue else "replication_pending"
    return None


def classify(
    s3_primary: Any,
    s3_replica: Any,
    target: AuditTarget,
    etags_comparable: bool,
    now: datetime,
    primary: ListedObject | None,
    replica: ListedObject | None,
) -> tuple[str, str | None]:
    """(finding or 'in_sync', how the content was compared)."""
    if primary is None:
        return "extra", None
    method = None
    if replica is not None:
        same, method = compare_content(s3_primary, s3_replica, target, primary, replica, etags_comparable)
        if same and method != "size_only":
            return "in_sync", method
        if same:
            # Equal sizes prove nothing about content: only the primary's replication status can speak.
            return replication_state(
                s3_primary, target.bucket, primary.key, now, target.rtc_window
            ) or "in_sync", method
    # Missing or different: the primary's replication status says whether that is expected yet.
    state = replication_state(s3_primary, target.bucket, primary.key, now, target.rtc_window)
    return state or ("missing" if replica is None else "content_mismatch"), method


def audit_replication(
    s3_primary: Any, s3_replica: Any, target: AuditTarget, now: datetime | None = None
) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    primary_encryption = default_encryption(s3_primary, target.bucket)
    replica_encryption = default_encryption(s3_replica, target.replica_bucket)
    etags_comparable = primary_encryption not in KMS_ALGORITHMS and replica_encryption not in KMS_ALGORITHMS
    counts = dict.fromkeys(("compared", "in_sync", *NOTICES, *FINDINGS), 0)
    verified_by: dict[str, int] = {}
    findings: dict[str, list[str]] = {name: [] for name in (*FINDINGS, *NOTICES)}

    pairs = merge_listings(
        iter_objects(s3_primary, target.bucket, target.prefix, target.page_size),
        iter_objects(s3_replica, target.replica_bucket, target.prefix, target.page_size),
    )

    def check(pair: tuple[ListedObject | None, ListedObject | None]) -> tuple[str, str | None]:
        try:
            return classify(s3_primary, s3_replica, target, etags_comparable, now, *pair)
        except ClientError as error:
            if error.response["Error"]["Code"] in NOT_FOUND_CODES:
                return "changed_during_audit", None  # deleted after it was listed
            raise

    # HeadObject calls dominate; run them concurrently, one bounded chunk of the merged stream at a time.
    with ThreadPoolExecutor(max_workers=target.workers) as pool:
        while chunk := list(islice(pairs, CHUNK_SIZE)):
            for (primary, replica), (finding, method) in zip(chunk, pool.map(check, chunk), strict=True):
                if primary is not None and replica is not None:
                    counts["compared"] += 1
                if method:
                    verified_by[method] = verified_by.get(method, 0) + 1
                counts[finding] += 1
                listed = primary or replica
                if finding != "in_sync" and listed and len(findings[finding]) < MAX_REPORTED_PER_FINDING:
                    findings[finding].append(listed.key)
    mismatches = sum(counts[name] for name in FINDINGS)
    return {
        "bucket": target.bucket,
        "replica_bucket": target.replica_bucket,
        "prefix": target.prefix,
        "rtc_window_seconds": int(target.rtc_window.total_seconds()),
        "encryption": {"primary": primary_encryption, "replica": replica_encryption},
        "etags_compared": etags_comparable,
        "checksums_compared": target.verify_checksums,
        "counts": counts,
        "verified_by": verified_by,
        "findings": findings,
        "mismatches": mismatches,
        "ok": mismatches == 0,
        # An audit of nothing proves nothing: a typo in the prefix must not read as "in sync".
        "warning": None
        if counts["compared"] or counts["missing"] or counts["extra"]
        else f"nothing matched: no key under s3://{target.bucket}/{target.prefix} or its replica",
        "endpoint": os.environ.get("AWS_ENDPOINT_URL"),  # set when running against an emulator
    }


def publish_audit_metrics(cloudwatch: Any, report: dict[str, Any]) -> None:
    values = {f"Audit{name.title().replace('_', '')}": report["counts"][name] for name in FINDINGS}
    values["AuditObjectsCompared"] = report["counts"]["compared"]
    publish_metrics(cloudwatch, values, {"Bucket": report["bucket"], "ReplicaBucket": report["replica_bucket"]})


# ---------------------------------------------------------------- scheduled Lambda

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "dr-replication-audit"))
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", NAMESPACE))


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Audits every bucket in ``AUDIT_BUCKETS``; replicas come from each bucket's replication rules."""
    region = os.environ.get("AWS_REGION")
    replica_region = os.environ.get("REPLICA_REGION") or region
    window = timedelta(minutes=float(os.environ.get("RTC_WINDOW_MINUTES", "15")))
    s3_primary = cached_client("s3", region, max_pool_connections=DEFAULT_WORKERS)
    s3_replica = cached_client("s3", replica_region, max_pool_connections=DEFAULT_WORKERS)
    reports = []
    for bucket in [b.strip() for b in os.environ.get("AUDIT_BUCKETS", "").split(",") if b.strip()]:
        target = AuditTarget(
            bucket=bucket,
            replica_bucket=resolve_replica(s3_primary, bucket),
            prefix=os.environ.get("AUDIT_PREFIX", ""),
            rtc_window=window,
        )
        report = audit_replication(s3_primary, s3_replica, target)
        publish_audit_metrics(cached_client("cloudwatch", region), report)
        logger.info("replication audit", extra={"bucket": bucket, "counts": report["counts"]})
        reports.append(report)
    total = sum(report["mismatches"] for report in reports)
    metrics.add_metric(name="ReplicationAuditMismatches", unit=MetricUnit.Count, value=total)
    return {"reports": reports, "mismatches": total, "ok": total == 0}
