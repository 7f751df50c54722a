"""Single-flight restores: one lock object per destination bucket, ``dr-locks/<bucket>.json`` in the stack's
reports bucket.

Taken with an S3 conditional write (``If-None-Match: *``: only if no lock exists), renewed every minute with
``If-Match: <etag>`` (only if it is still ours), released or broken with a conditional delete. The body records
owner, bucket, prefix and start time, so a second restore can say who holds the lock and since when. A lock whose
renewal fails was broken by someone else: the holder stops dispatching.
https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-requests.html
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from handlers.runtime_names import LOCK_PREFIX

RENEW_SECONDS = 60.0
# 412: the condition failed; 409: a concurrent conditional write to the same key won the race.
CONFLICT_CODES = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict", "409"})
NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


def lock_key(bucket: str) -> str:
    return f"{LOCK_PREFIX}{bucket}.json"


def default_owner() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()} pid {os.getpid()}"


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


@dataclass(frozen=True)
class LockInfo:
    """Who holds a lock, as its body records."""

    owner: str
    bucket: str
    prefix: str
    started: str
    etag: str

    def age_seconds(self, now: datetime | None = None) -> float:
        try:
            started = datetime.fromisoformat(self.started)
        except ValueError:
            return float("nan")
        return ((now or datetime.now(UTC)) - started).total_seconds()

    def describe(self) -> str:
        return f"held by {self.owner} since {self.started} ({self.age_seconds():.0f} s), prefix {self.prefix!r}"


class LockHeld(RuntimeError):
    """Another restore holds the lock."""

    def __init__(self, lock_bucket: str, info: LockInfo) -> None:
        self.info = info
        super().__init__(
            f"another restore of {info.bucket} is running: s3://{lock_bucket}/{lock_key(info.bucket)} "
            f"{info.describe()}; wait for it, or pass --break-lock if it is dead"
        )


class RestoreLock:
    """The lock of one restore: ``acquire``, background renewal, ``release``."""

    def __init__(
        self,
        s3: Any,
        lock_bucket: str,
        bucket: str,
        *,
        owner: str = "",
        prefix: str = "",
        renew_seconds: float = RENEW_SECONDS,
    ) -> None:
        self.s3 = s3
        self.lock_bucket = lock_bucket
        self.bucket = bucket
        self.key = lock_key(bucket)
        self.owner = owner or default_owner()
        self.prefix = prefix
        self.renew_seconds = renew_seconds
        self.started = datetime.now(UTC).isoformat()
        self.etag: str | None = None
        self.broken: LockInfo | None = None  # the lock --break-lock removed
        self.lost = threading.Event()  # set when a renewal finds the lock is no longer ours
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def _body(self) -> bytes:
        body = {
            "owner": self.owner,
            "bucket": self.bucket,
            "prefix": self.prefix,
            "started": self.started,
            "renewed": datetime.now(UTC).isoformat(),  # also makes each renewal's ETag new
        }
        return json.dumps(body).encode()

    def read(self) -> LockInfo | None:
        try:
            response = self.s3.get_object(Bucket=self.lock_bucket, Key=self.key)
        except ClientError as error:
            if _code(error) in NOT_FOUND_CODES:
                return None
            raise
        try:
            body = json.loads(response["Body"].read())
        except ValueError:
            body = {}
        return LockInfo(
            owner=str(body.get("owner", "?")),
            bucket=str(body.get("bucket", self.bucket)),
            prefix=str(body.get("prefix", "")),
            started=str(body.get("started", "")),
            etag=str(response["ETag"]),
        )

    def _put_new(self) -> bool:
        try:
            response = self.s3.put_object(
                Bucket=self.lock_bucket,
                Key=self.key,
                Body=self._body(),
                ContentType="application/json",
                IfNoneMatch="*",
            )
        except ClientError as error:
            if _code(error) in CONFLICT_CODES:
                return False
            raise
        self.etag = str(response["ETag"])
        return True

    def acquire(self, *, break_lock: bool = False) -> None:
        """Take the lock, or raise ``LockHeld``. ``break_lock`` first deletes the lock it finds (only that one:
        the delete is conditional on its ETag), and records it in ``broken``."""
        if self._put_new():
            return
        held = self.read()
        if held is not None and self._is_ours(held):
            self.etag = held.etag  # our own write, whose response was lost and the retry refused
            return
        if held is not None and not break_lock:
            raise LockHeld(self.lock_bucket, held)
        if held is not None:
            self._delete(held.etag)
            self.broken = held
        if not self._put_new():
            held = self.read()
            raise LockHeld(self.lock_bucket, held or LockInfo("?", self.bucket, "", "", ""))

    def _is_ours(self, held: LockInfo) -> bool:
        return held.owner == self.owner and held.started == self.started

    def renew(self) -> bool:
        """Rewrite the lock only if it is still ours; False (and ``lost`` set) if it is not."""
        try:
            response = self.s3.put_object(
                Bucket=self.lock_bucket,
                Key=self.key,
                Body=self._body(),
                ContentType="application/json",
                IfMatch=self.etag,
            )
        except ClientError as error:
            if _code(error) in CONFLICT_CODES | NOT_FOUND_CODES:
                self.lost.set()
                return False
            raise
        self.etag = str(response["ETag"])
        return True

    def _delete(self, etag: str) -> None:
        try:
            self.s3.delete_object(Bucket=self.lock_bucket, Key=self.key, IfMatch=etag)
        except ClientError as error:
            if _code(error) not in CONFLICT_CODES | NOT_FOUND_CODES:
                raise

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.renew_seconds):
            try:
                if not self.renew():
                    return
            except ClientError:
                continue  # transient: the next minute retries; the lock is still ours until someone breaks it

    def __enter__(self) -> RestoreLock:
        self._renewer = threading.Thread(target=self._renew_loop, name="restore-lock", daemon=True)
        self._renewer.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.release()

    def release(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)
        if self.etag is not None and not self.lost.is_set():
            self._delete(self.etag)
        self.etag = None
