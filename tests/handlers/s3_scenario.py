"""Helpers for the S3 restore tests: bucket histories around a time T, request recording, faults.

moto stores ``LastModified`` with 1-second resolution, so a history waits a little over a second on each
side of T.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.awsrequest import AWSResponse

from handlers.drills.bucket import replication_to

# Operations a restore may send without changing anything.
READ_OPERATIONS = frozenset(
    {
        "ListObjectVersions",
        "ListObjectsV2",
        "GetBucketVersioning",
        "GetBucketReplication",
        "GetBucketEncryption",
        "HeadObject",
        "GetObject",
        "GetObjectTagging",
    }
)


# The stack's reports bucket in tests: where restores take their single-flight lock (created with every bucket).
LOCK_BUCKET = "dr-reports-locks"
# Restore options for tests of the restore's mechanics: a lock bucket, and the blast-radius pass skipped (its own
# tests are in test_operator_safety.py).
MECHANICS = {"lock_bucket": LOCK_BUCKET, "confirmed": True}


def ensure_lock_bucket(s3: Any) -> str:
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=LOCK_BUCKET)
    return LOCK_BUCKET


def versioned_bucket(s3: Any, name: str, *, object_lock: bool = False) -> str:
    ensure_lock_bucket(s3)
    if object_lock:
        s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    else:
        s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def replicate(s3: Any, bucket: str, replica: str) -> None:
    """Stores a replication configuration (moto keeps it but never copies objects)."""
    versioned_bucket(s3, replica)
    s3.put_bucket_replication(
        Bucket=bucket,
        ReplicationConfiguration=replication_to(f"arn:aws:s3:::{replica}", rule_id="all"),
    )


def point_in_time(before: Callable[[], None], after: Callable[[], None]) -> datetime:
    """Run ``before``, pick T, run ``after``; returns T.

    moto truncates LastModified to the second, so T is the last instant of the second in which
    ``before`` ended, and ``after`` starts once the next second has begun (cheaper than sleeping 1.1 s
    on each side, and just as exact).
    """
    before()
    now = time.time()
    second = int(now)
    at = datetime.fromtimestamp(second + 0.999, UTC)
    time.sleep(second + 1.02 - now)
    after()
    return at


def moto_put(bucket: str, objects: dict[str, bytes]) -> None:
    """Seed many versions through moto's in-process backend (no HTTP): for bulk data only."""
    backend = _moto_backend()
    for key, body in objects.items():
        backend.put_object(bucket, key, body)


def moto_delete(bucket: str, keys: list[str]) -> None:
    backend = _moto_backend()
    for key in keys:
        backend.delete_object(bucket, key)


def _moto_backend() -> Any:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    return s3_backends[DEFAULT_ACCOUNT_ID]["aws"]


def current_contents(s3: Any, bucket: str, prefix: str = "") -> dict[str, bytes]:
    contents = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            contents[item["Key"]] = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return contents


def current_md5s(s3: Any, bucket: str) -> dict[str, str]:
    md5s = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        md5s |= {item["Key"]: item["ETag"].strip('"') for item in page.get("Contents", [])}
    return md5s


def data_versions(s3: Any, bucket: str) -> set[tuple[str, str]]:
    found = set()
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        found |= {(v["Key"], v["VersionId"]) for v in page.get("Versions", [])}
    return found


def all_entries(s3: Any, bucket: str) -> set[tuple[str, str]]:
    found = set()
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for name in ("Versions", "DeleteMarkers"):
            found |= {(v["Key"], v["VersionId"]) for v in page.get(name, [])}
    return found


def delete_marker_ids(s3: Any, bucket: str) -> set[str]:
    found = set()
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        found |= {m["VersionId"] for m in page.get("DeleteMarkers", [])}
    return found


@dataclass
class RecordedCall:
    operation: str
    params: dict[str, Any]


@dataclass
class CallRecorder:
    """Records every API call a client makes (operation name and parameters)."""

    calls: list[RecordedCall] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def attach(self, client: Any) -> CallRecorder:
        client.meta.events.register("provide-client-params.s3.*", self._record)
        return self

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        with self._lock:
            self.calls.append(RecordedCall(model.name, dict(params)))

    def writes(self) -> list[RecordedCall]:
        """Writes to data buckets (the single-flight lock's own writes in the lock bucket are not counted)."""
        return [
            call
            for call in self.calls
            if call.operation not in READ_OPERATIONS and call.params.get("Bucket") != LOCK_BUCKET
        ]

    def versioned_deletes(self) -> list[dict[str, Any]]:
        """Every delete that names a version (DeleteObject or an entry of DeleteObjects)."""
        named = []
        for call in self.calls:
            if call.operation == "DeleteObject" and call.params.get("VersionId"):
                named.append(call.params)
            if call.operation == "DeleteObjects":
                named += [o for o in call.params["Delete"]["Objects"] if o.get("VersionId")]
        return named


class _Body:
    def __init__(self, payload: bytes) -> None:
        self._payload = payload

    def stream(self, **_: Any) -> Any:
        yield self._payload


FAULTS = (
    (503, b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"),
    (500, b"<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>"),
    (503, b"<Error><Code>ServiceUnavailable</Code><Message>Service unavailable.</Message></Error>"),
)


@dataclass
class FaultInjector:
    """Fails a share of requests before they are sent, through botocore's ``before-send`` hook."""

    rate: float
    seed: int = 7
    sent: int = 0
    injected: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def attach(self, client: Any) -> FaultInjector:
        client.meta.events.register("before-send.s3", self._maybe_fail)
        return self

    def _maybe_fail(self, request: Any, **_: Any) -> AWSResponse | None:
        with self._lock:
            self.sent += 1
            if self._random.random() >= self.rate:
                return None
            self.injected += 1
            status, body = FAULTS[self.injected % len(FAULTS)]
        return AWSResponse(request.url, status, {"Content-Type": "application/xml"}, _Body(body))


def report_mfa_delete_enabled(client: Any) -> None:
    """moto does not model MFA delete: answer GetBucketVersioning as a bucket with MFA delete would."""

    def answer(**_: Any) -> tuple[Any, dict[str, Any]]:
        return _Ok(), {"Status": "Enabled", "MFADelete": "Enabled", "ResponseMetadata": {}}

    client.meta.events.register("before-call.s3.GetBucketVersioning", answer)


class _Ok:
    status_code = 200
    headers: dict[str, str] = {}


def restore_archived_versions_in_moto(client: Any) -> list[dict[str, Any]]:
    """moto's RestoreObject ignores VersionId (it restores the current version), so the call is answered
    here: the named version is restored in moto's backend, as S3 would after the retrieval. Returns the
    recorded requests."""
    requests: list[dict[str, Any]] = []

    def restore_named_version(params: dict[str, Any], **_: Any) -> None:
        requests.append(dict(params))
        key = _moto_backend().get_object(params["Bucket"], params["Key"], version_id=params["VersionId"])
        assert key is not None
        key.restore(params["RestoreRequest"]["Days"])

    def answer(**_: Any) -> tuple[Any, dict[str, Any]]:
        return _Ok(), {"ResponseMetadata": {"HTTPStatusCode": 202}}

    client.meta.events.register("provide-client-params.s3.RestoreObject", restore_named_version)
    client.meta.events.register("before-call.s3.RestoreObject", answer)
    return requests
