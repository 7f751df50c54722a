"""Replication that behaves like AWS's, over the emulated Regions (emulator/regions.py).

API::

    replicator = Replicator(emulator, s3_lag=Lag.seconds(), dynamodb_lag=Lag.seconds(median=0.5), seed=7,
                            s3_rtc_lag=Lag.rtc())                # optional: rules with S3 RTC enabled
    replicator.add_global_table("orders", ["us-east-1", "us-west-2"])              # MREC
    replicator.add_global_table("ledger", ["us-east-1", "us-east-2"], mode="MRSC", witness="us-west-2")
    replicator.start()                    # captures writes in the proxies from now on; stop() ends it
    replicator.pause("orders"); replicator.resume("orders")     # FIS pause (a bucket or table name; None = all)
    replicator.wait_until_idle(timeout=10)                      # nothing queued or in flight (held work excepted)
    replicator.pending()                  # {"queued": n, "held": n}: held = waiting for a lost Region or a pause
    replicator.deliveries()               # list[Delivery]: what reached which Region, when, and its lag
    replicator.drop_unreplicated("us-east-1")   # the explicit permanent-loss option (default: delivered late)
    replicator.counters, replicator.last_error  # e.g. version deletes not replicated; the last delivery error
    replicator.summary()                  # per service: outcomes, held, measured lag median/p95/max (reports)

Writes are captured where AWS sees them: in the Region proxies, after moto acknowledged them (an interceptor),
so whatever client wrote them (the application, drctl, a function) they replicate. The replicator's own reads and
writes go through the Region proxies like any client's, marked as emulator traffic so they are not captured
again (a replica is never replicated again, as in AWS).

**S3 cross-Region replication** reads each bucket's own rules as stored (``Emulator.bucket_replication``: the
accepted PutBucketReplication, since moto's GetBucketReplication drops filters and delete-marker settings; cached 1
s): a new version (PutObject, CopyObject, CompleteMultipartUpload) matching an enabled rule's filter (prefix, tags,
``And``, as the object was written; the highest ``Priority`` per destination) is copied to the destination bucket
after a lag drawn from ``s3_lag`` (``s3_rtc_lag`` instead, when given, for rules with S3 RTC enabled) (body, content
type, user metadata, tags, the rule's storage class), in write order per key. A delete marker
(DeleteObject/DeleteObjects without a version id) replicates only when the rule's ``DeleteMarkerReplication`` is
``Enabled`` (or the rule is in the legacy V1 schema, which replicates them); a delete naming a version never
replicates (S3 User Guide, "What does Amazon S3 replicate?": a delete that specifies the version ID to delete is not
replicated; the GUIDE's "Batch undelete" says the same). Two-way replication is two buckets with rules pointing at
each other: each bucket's application writes replicate and replicas do not bounce back. Tag changes
(PutObjectTagging) on a replicated source version follow it to its replicas; on a replica they go back to the source
only when the replica's bucket has a rule to it with replica modification sync
(``SourceSelectionCriteria.ReplicaModifications``) enabled.

**DynamoDB MREC** (``add_global_table(..., mode="MREC")``; moto keeps one independent table per Region and no
replica links, so the replica set is registered here): an item written in one Region's table reaches every
other replica after a lag drawn from ``dynamodb_lag``. Concurrent writes to one key resolve last-writer-wins
by write time, the time the emulator captured the acknowledged write (DynamoDB Developer Guide, "How global
tables work", conflict resolution for MREC: last writer wins): an older write arriving later is recorded as
``superseded`` and not applied.

**DynamoDB MRSC** (``mode="MRSC"``, three replicas or two plus a ``witness``): the proxy applies a write to
every available replica **before** acknowledging it, and refuses it (503 ``ServiceUnavailable``, the
emulator's choice of error) while fewer than a majority of the Region set (replicas + witness) is available,
and answers ``ReplicatedWriteConflictException`` to a write on an item that a write from another Region is
modifying at that moment.
A lost replica catches up on restore.

**Region loss**: work out of a lost Region (the source is read through its proxy) or into one is **held**, not
failed, and delivered late on ``restore_region`` with a fresh lag, in write order (S3 User Guide, "Getting
replication status information": a transient failure such as an unavailable Region leaves an object
``PENDING``, not ``FAILED``; DynamoDB, "How global tables work", availability: writes made in an isolated Region
that were not yet replicated are propagated when it recovers). ``drop_unreplicated(region)`` is the explicit
option where they are lost for ever (recorded as ``lost`` deliveries).

Each applied delivery also publishes the ``ReplicationLatency`` datapoint AWS would (S3: destination Region,
rules with metrics or RTC enabled; MREC: source Region, per receiving Region), so RPO-age readers and alarms
see data; the pending-operations and pending-bytes gauges are not published.

Limits (named so reports can list what is emulated): replica version ids differ from the source's (moto assigns
them; the source version id is in ``Delivery.source_version_id``); replicas carry no ``ReplicationStatus``;
object lock retention of the source is not copied (the destination's default retention applies); of the metadata
changes only tags replicate (not ACLs, retention or legal holds); S3 RTC metrics are not emulated; DynamoDB
transactions replicate item by item (as AWS).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import heapq
import itertools
import json
import math
import random
import threading
import time
import urllib.parse
import zlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from xml.etree import ElementTree

from emulator.regions import Emulator, Forward, ProxiedRequest, ProxiedResponse

RTC_BOUND_SECONDS = 15 * 60  # S3 RTC: 99.99 % of objects within 15 minutes (S3 User Guide, "S3 RTC")
CONFIG_CACHE_SECONDS = 1.0
# Delivery threads per destination Region; one key always goes to the same thread, so its writes stay in order.
DELIVERY_SHARDS = 4
MAX_ATTEMPTS = 20  # failures that are not a lost Region or a pause (those hold work without limit)
_S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
_DYNAMODB_PREFIX = "DynamoDB_20120810."


@dataclass(frozen=True)
class Lag:
    """A replication-lag distribution in seconds: log-normal around ``median`` (``spread`` = sigma), clamped.

    ``Lag.fixed(s)`` for exact tests, ``Lag.seconds()`` (default: seconds, as CRR and MREC usually are),
    ``Lag.rtc()`` (S3 RTC-like: mostly seconds, bounded by 15 minutes), ``.scaled(f)`` for scaled profiles.
    """

    median: float = 2.0
    spread: float = 0.5
    minimum: float = 0.0
    maximum: float | None = None

    def __post_init__(self) -> None:
        if self.median < 0 or self.spread < 0 or self.minimum < 0:
            raise ValueError("Lag: median, spread and minimum must be >= 0")
        if self.maximum is not None and self.maximum < self.minimum:
            raise ValueError("Lag: maximum must be >= minimum")

    @classmethod
    def fixed(cls, seconds: float) -> Lag:
        return cls(median=seconds, spread=0.0, minimum=seconds, maximum=seconds)

    @classmethod
    def seconds(cls, median: float = 2.0, spread: float = 0.5) -> Lag:
        return cls(median=median, spread=spread, maximum=median * 10)

    @classmethod
    def rtc(cls, median: float = 15.0) -> Lag:
        return cls(median=median, spread=1.0, maximum=RTC_BOUND_SECONDS)

    def scaled(self, factor: float) -> Lag:
        return Lag(
            median=self.median * factor,
            spread=self.spread,
            minimum=self.minimum * factor,
            maximum=None if self.maximum is None else self.maximum * factor,
        )

    def draw(self, rng: random.Random) -> float:
        value = self.median if self.spread == 0 else self.median * math.exp(rng.gauss(0.0, self.spread))
        value = max(value, self.minimum)
        return value if self.maximum is None else min(value, self.maximum)


@dataclass(frozen=True)
class GlobalTable:
    name: str
    regions: tuple[str, ...]
    mode: Literal["MREC", "MRSC"] = "MREC"
    witness: str | None = None

    @property
    def members(self) -> tuple[str, ...]:
        return self.regions + ((self.witness,) if self.witness else ())


@dataclass(frozen=True)
class Delivery:
    """One replicated change: where from, where to, when written and delivered, and what happened."""

    service: Literal["s3", "dynamodb"]
    source_region: str
    destination_region: str
    source: str  # bucket or table
    destination: str
    key: str  # object key, or the item key as JSON
    change: Literal["version", "delete-marker", "tags", "put", "delete"]
    written_at: float
    delivered_at: float
    outcome: Literal["applied", "superseded", "skipped", "lost", "failed"]
    source_version_id: str | None = None
    held: bool = False  # waited for a lost Region or a pause

    @property
    def lag_seconds(self) -> float:
        return self.delivered_at - self.written_at


@dataclass(order=True)
class _Task:
    due: float
    sequence: int
    service: str = field(compare=False)
    source_region: str = field(compare=False)
    destination_region: str = field(compare=False)
    source: str = field(compare=False)
    destination: str = field(compare=False)
    key: str = field(compare=False)
    change: str = field(compare=False)
    written_at: float = field(compare=False)
    payload: dict[str, Any] = field(compare=False, default_factory=dict)
    held: bool = field(compare=False, default=False)
    attempts: int = field(compare=False, default=0)


class Replicator:
    """S3 CRR, DynamoDB MREC and MRSC over an :class:`~emulator.regions.Emulator` (module docstring)."""

    def __init__(
        self,
        emulator: Emulator,
        *,
        s3_lag: Lag | None = None,
        s3_rtc_lag: Lag | None = None,
        dynamodb_lag: Lag | None = None,
        seed: int | None = None,
    ) -> None:
        self.emulator = emulator
        # Defaults: S3 CRR replicates most objects in seconds (RTC bounds 99.99 % by 15 minutes: ``Lag.rtc()``);
        # MREC: newly written items usually reach every replica table within a second (DynamoDB Developer
        # Guide, "Best practices for global table design", key facts about MREC).
        self.s3_lag = s3_lag or Lag.seconds()
        self.s3_rtc_lag = s3_rtc_lag  # rules with S3 RTC (ReplicationTime enabled), when given; else s3_lag
        self.dynamodb_lag = dynamodb_lag or Lag.seconds(median=0.5)
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._queues: dict[tuple[str, int], list[_Task]] = defaultdict(list)  # by (destination Region, shard)
        self._held: list[_Task] = []
        self._in_flight = 0
        self._sequence = itertools.count()
        self._last_due: dict[tuple[str, str, str], float] = {}
        self._deliveries: list[Delivery] = []
        self._paused: set[str | None] = set()
        self._tables: dict[str, GlobalTable] = {}
        self._key_schemas: dict[tuple[str, str], list[str]] = {}
        self._item_times: dict[tuple[str, str, str], float] = {}
        self._key_locks: dict[tuple[str, str], threading.Lock] = {}
        self._key_holders: dict[tuple[str, str], str] = {}  # item -> Region of the application write holding it
        self._config_cache: dict[str, tuple[float, list[dict[str, Any]]]] = {}
        # source version <-> replica versions (moto gives a replica its own version id)
        self._replicas: dict[tuple[str, str, str], list[tuple[str, str]]] = defaultdict(list)
        self._origins: dict[tuple[str, str, str], tuple[str, str]] = {}
        self._threads: list[threading.Thread] = []
        self._running = False
        self.counters: dict[str, int] = defaultdict(int)
        self.last_error: str | None = None

    # configuration -------------------------------------------------------------------------------------------

    def add_global_table(
        self,
        name: str,
        regions: Sequence[str],
        *,
        mode: Literal["MREC", "MRSC"] = "MREC",
        witness: str | None = None,
    ) -> GlobalTable:
        regions = tuple(dict.fromkeys(regions))
        if len(regions) < 2 and not (mode == "MRSC" and witness):
            raise ValueError(f"add_global_table({name!r}): regions needs at least two Regions")
        if mode not in ("MREC", "MRSC"):
            raise ValueError(f"add_global_table({name!r}): mode must be MREC or MRSC, not {mode!r}")
        if mode == "MRSC" and len(regions) + (1 if witness else 0) != 3:
            # DynamoDB: an MRSC global table is three replicas, or two replicas and a witness.
            raise ValueError(f"add_global_table({name!r}): MRSC needs three replicas, or two and a witness")
        if mode == "MREC" and witness:
            raise ValueError(f"add_global_table({name!r}): a witness exists only for MRSC")
        for region in regions + ((witness,) if witness else ()):
            self.emulator.endpoint(region)
        table = GlobalTable(name, regions, mode, witness)
        with self._lock:
            self._tables[name] = table
        return table

    # lifecycle -----------------------------------------------------------------------------------------------

    def start(self) -> Replicator:
        with self._lock:
            if self._running:
                return self
            self._running = True
        for region in self.emulator.regions:  # botocore client creation costs ~0.3 s: not on the first write
            for service in ("s3", "dynamodb"):
                self._proxied_client(service, region)
                self._upstream_client(service, region)
            self._upstream_client("cloudwatch", region)
        self.emulator.add_interceptor(self._intercept)
        self.emulator.on_region_change(self._region_changed)
        for region in self.emulator.regions:
            for shard in range(DELIVERY_SHARDS):
                thread = threading.Thread(
                    target=self._deliver_loop, args=((region, shard),), name=f"replicate-{region}-{shard}"
                )
                thread.daemon = True
                thread.start()
                self._threads.append(thread)
        return self

    def stop(self) -> None:
        self.emulator.remove_interceptor(self._intercept)
        self.emulator.remove_region_listener(self._region_changed)
        with self._wake:
            self._running = False
            self._wake.notify_all()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()

    def __enter__(self) -> Replicator:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # controls ------------------------------------------------------------------------------------------------

    def pause(self, name: str | None = None) -> None:
        """Pause replication from or to ``name`` (a bucket or table), or everything (FIS's replication pause)."""
        with self._lock:
            self._paused.add(name)

    def resume(self, name: str | None = None) -> None:
        with self._wake:
            self._paused.discard(name)
            self._release_held()

    def drop_unreplicated(self, region: str) -> list[Delivery]:
        """Lose for ever every change written in ``region`` that has not left it yet (explicit option)."""
        now = time.time()
        with self._wake:
            doomed = [task for task in self._held if task.source_region == region]
            self._held = [task for task in self._held if task.source_region != region]
            for destination, queue in self._queues.items():
                doomed += [task for task in queue if task.source_region == region]
                self._queues[destination] = [task for task in queue if task.source_region != region]
                heapq.heapify(self._queues[destination])
            lost = [self._record(task, now, "lost") for task in doomed]
            self._wake.notify_all()
        return lost

    def pending(self) -> dict[str, int]:
        with self._lock:
            return {
                "queued": sum(len(queue) for queue in self._queues.values()) + self._in_flight,
                "held": len(self._held),
            }

    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    def summary(self) -> dict[str, Any]:
        """For a report: per service, deliveries by outcome, how many waited for a lost Region or a pause, and
        the measured lag (median, p95, max seconds) of those applied."""
        result: dict[str, Any] = {"pending": self.pending(), "counters": dict(self.counters)}
        for service in ("s3", "dynamodb"):
            ours = [d for d in self.deliveries() if d.service == service]
            lags = sorted(d.lag_seconds for d in ours if d.outcome == "applied")
            outcomes: dict[str, int] = defaultdict(int)
            for delivery in ours:
                outcomes[delivery.outcome] += 1
            result[service] = {
                "outcomes": dict(outcomes),
                "held": sum(1 for d in ours if d.held),
                "lagSeconds": {
                    "median": round(lags[len(lags) // 2], 3),
                    "p95": round(lags[int(0.95 * (len(lags) - 1))], 3),
                    "max": round(lags[-1], 3),
                }
                if lags
                else None,
            }
        return result

    def wait_until_idle(self, timeout: float) -> bool:
        """Wait until nothing is queued or being delivered (held work excepted); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._wake:
            while self.pending()["queued"]:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._wake.wait(min(remaining, 0.05))
        return True

    # capture (runs inside the proxies) -----------------------------------------------------------------------

    def _intercept(self, request: ProxiedRequest, forward: Forward) -> ProxiedResponse:
        if request.from_emulator:
            return forward()
        if request.service == "s3" and request.bucket:
            response = forward()
            if 200 <= response.status < 300:
                try:
                    self._capture_s3(request, response)
                except Exception:  # never turn an acknowledged write into an error; count it instead
                    self.counters["capture-errors"] += 1
            return response
        target = request.target or ""
        if target.startswith(_DYNAMODB_PREFIX) and request.signing_region:
            operation = target[len(_DYNAMODB_PREFIX) :]
            if operation in ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"):
                return self._write_dynamodb(request, operation, forward)
        return forward()

    # S3 --------------------------------------------------------------------------------------------------------

    def _capture_s3(self, request: ProxiedRequest, response: ProxiedResponse) -> None:
        query = request.query
        bucket, key, region = request.bucket or "", request.key, request.resource_region
        if key is None:
            if request.method == "POST" and "delete" in query:
                self._capture_delete_objects(request, response)
            return
        version_id = response.header("x-amz-version-id")
        if (
            request.method == "PUT"
            and not (set(query) & {"partNumber", "uploadId", "tagging", "acl", "retention", "legal-hold"})
        ) or (request.method == "POST" and "uploadId" in query):
            if version_id:
                tagging = request.headers.get("x-amz-tagging")
                tags = (
                    [{"Key": k, "Value": v} for k, v in urllib.parse.parse_qsl(tagging, keep_blank_values=True)]
                    if tagging is not None
                    else None  # copies and multipart uploads: read back if a rule filters on tags
                )
                self._enqueue_s3(region, bucket, key, "version", version_id, tags=tags)
        elif request.method == "PUT" and "tagging" in query:
            named = query.get("versionId", [])
            tagged = (named[0] if named else None) or version_id or self._current_version(bucket, key, region)
            if tagged:
                self._enqueue_tags(region, bucket, key, tagged)
        elif request.method == "DELETE" and "uploadId" not in query:
            if "versionId" in query:
                self.counters["s3-version-deletes-not-replicated"] += 1
            elif response.header("x-amz-delete-marker") == "true" and version_id:
                self._enqueue_s3(region, bucket, key, "delete-marker", version_id)

    def _current_version(self, bucket: str, key: str, region: str) -> str | None:
        try:
            head = self._upstream_client("s3", region).head_object(Bucket=bucket, Key=key)
        except Exception:
            return None
        return head.get("VersionId")

    def _enqueue_tags(self, region: str, bucket: str, key: str, version_id: str) -> None:
        """A tag change: on a source version it follows its replica; on a replica it goes back to the source
        only when the replica's bucket has a rule to it with replica modification sync enabled."""
        with self._lock:
            replicas = list(self._replicas.get((bucket, key, version_id), ()))
            origin = self._origins.get((bucket, key, version_id))
        targets = list(replicas)
        if origin is not None:
            synced = any(
                str(rule.get("Destination", {}).get("Bucket", "")).split(":::")[-1] == origin[0]
                and rule.get("Status") == "Enabled"
                and rule.get("SourceSelectionCriteria", {}).get("ReplicaModifications", {}).get("Status") == "Enabled"
                for rule in self._rules(bucket, region)
            )
            if synced:
                targets.append(origin)
            else:
                self.counters["s3-replica-modifications-not-synced"] += 1
        written_at = time.time()
        for destination, destination_version in targets:
            destination_region = self.emulator.bucket_region(destination)
            if destination_region is None:
                continue
            self._schedule(
                _Task(
                    due=0.0,
                    sequence=0,
                    service="s3",
                    source_region=region,
                    destination_region=destination_region,
                    source=bucket,
                    destination=destination,
                    key=key,
                    change="tags",
                    written_at=written_at,
                    payload={"version_id": version_id, "destination_version_id": destination_version},
                ),
                self.s3_lag,
            )

    def _capture_delete_objects(self, request: ProxiedRequest, response: ProxiedResponse) -> None:
        try:
            asked = ElementTree.fromstring(request.body)
            answered = ElementTree.fromstring(response.body)
        except ElementTree.ParseError:
            return
        named_version = {
            _text(entry, "Key") for entry in asked.iter() if _local(entry.tag) == "Object" and _text(entry, "VersionId")
        }
        for entry in answered.iter():
            if _local(entry.tag) != "Deleted":
                continue
            key = _text(entry, "Key") or ""
            if key in named_version:
                self.counters["s3-version-deletes-not-replicated"] += 1
                continue
            if _text(entry, "DeleteMarker") == "true" and _text(entry, "DeleteMarkerVersionId"):
                self._enqueue_s3(
                    request.resource_region,
                    request.bucket or "",
                    key,
                    "delete-marker",
                    _text(entry, "DeleteMarkerVersionId"),
                )

    def _rules(self, bucket: str, region: str) -> list[dict[str, Any]]:
        now = time.monotonic()
        with self._lock:
            cached = self._config_cache.get(bucket)
        if cached and now - cached[0] < CONFIG_CACHE_SECONDS:
            return cached[1]
        configuration = self.emulator.bucket_replication(bucket)
        rules = list(configuration["Rules"]) if configuration else []
        with self._lock:
            self._config_cache[bucket] = (now, rules)
        return rules

    def _enqueue_s3(
        self,
        region: str,
        bucket: str,
        key: str,
        change: str,
        version_id: str | None,
        *,
        tags: list[dict[str, str]] | None = None,
    ) -> None:
        written_at = time.time()
        if tags is None and change == "version" and any(_rule_tags(rule) for rule in self._rules(bucket, region)):
            tags = self._upstream_client("s3", region).get_object_tagging(Bucket=bucket, Key=key, VersionId=version_id)[
                "TagSet"
            ]
        for rule, destination in self._destinations(bucket, region, key, tags or []):
            if change == "delete-marker" and not _replicates_delete_markers(rule):
                self.counters["s3-delete-markers-not-replicated"] += 1
                continue
            destination_region = self.emulator.bucket_region(destination)
            if destination_region is None:
                self.counters["s3-destination-missing"] += 1
                continue
            self._schedule(
                _Task(
                    due=0.0,
                    sequence=0,
                    service="s3",
                    source_region=region,
                    destination_region=destination_region,
                    source=bucket,
                    destination=destination,
                    key=key,
                    change=change,
                    written_at=written_at,
                    payload={"version_id": version_id, "rule": rule},
                ),
                self._s3_lag_for(rule),
            )

    def _s3_lag_for(self, rule: Mapping[str, Any]) -> Lag:
        rtc = (rule.get("Destination") or {}).get("ReplicationTime") or {}
        return self.s3_rtc_lag if self.s3_rtc_lag is not None and rtc.get("Status") == "Enabled" else self.s3_lag

    def _destinations(
        self, bucket: str, region: str, key: str, tags: list[dict[str, str]]
    ) -> list[tuple[dict[str, Any], str]]:
        """(rule, destination bucket) per destination: the highest-priority enabled rule whose filter (prefix and
        tags, as the object was written) matches."""
        chosen: dict[str, dict[str, Any]] = {}
        for rule in self._rules(bucket, region):
            if rule.get("Status") != "Enabled" or not key.startswith(_rule_prefix(rule)):
                continue
            if not _tags_match(rule, tags):
                continue
            destination = str(rule.get("Destination", {}).get("Bucket", "")).split(":::")[-1]
            if not destination:
                continue
            current = chosen.get(destination)
            if current is None or rule.get("Priority", 0) > current.get("Priority", 0):
                chosen[destination] = rule
        return [(rule, destination) for destination, rule in chosen.items()]

    def _deliver_s3(self, task: _Task) -> str:
        rule = task.payload.get("rule", {})
        source = self._proxied_client("s3", task.source_region)
        destination = self._proxied_client("s3", task.destination_region)
        if task.change == "delete-marker":
            destination.delete_object(Bucket=task.destination, Key=task.key)
            return "applied"
        if task.change == "tags":
            tags = source.get_object_tagging(Bucket=task.source, Key=task.key, VersionId=task.payload["version_id"])
            destination.put_object_tagging(
                Bucket=task.destination,
                Key=task.key,
                VersionId=task.payload["destination_version_id"],
                Tagging={"TagSet": tags["TagSet"]},
            )
            return "applied"
        try:
            got = source.get_object(Bucket=task.source, Key=task.key, VersionId=task.payload["version_id"])
        except source.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "NoSuchVersion", "404"):
                return "skipped"  # the version was deleted (by id) before it replicated
            raise
        body = got["Body"].read()
        tags = source.get_object_tagging(Bucket=task.source, Key=task.key, VersionId=task.payload["version_id"])[
            "TagSet"
        ]
        put: dict[str, Any] = {
            "Bucket": task.destination,
            "Key": task.key,
            "Body": body,
            "Metadata": got.get("Metadata", {}),
            "ContentMD5": base64.b64encode(hashlib.md5(body).digest()).decode(),
        }
        if got.get("ContentType"):
            put["ContentType"] = got["ContentType"]
        storage_class = rule.get("Destination", {}).get("StorageClass")
        if storage_class:
            put["StorageClass"] = storage_class
        if tags:
            put["Tagging"] = urllib.parse.urlencode({tag["Key"]: tag["Value"] for tag in tags})
        written = destination.put_object(**put)
        if written.get("VersionId"):
            replica = (task.destination, str(written["VersionId"]))
            with self._lock:
                self._replicas[(task.source, task.key, task.payload["version_id"])].append(replica)
                self._origins[(task.destination, task.key, replica[1])] = (task.source, task.payload["version_id"])
        return "applied"

    # DynamoDB ----------------------------------------------------------------------------------------------------

    def _write_dynamodb(self, request: ProxiedRequest, operation: str, forward: Forward) -> ProxiedResponse:
        try:
            body = json.loads(request.body or b"{}")
        except json.JSONDecodeError:
            return forward()
        region = request.signing_region or request.endpoint_region
        try:
            writes = self._item_writes(operation, body, region)
        except Exception:  # e.g. the table does not exist there: moto answers the request itself
            self.counters["capture-errors"] += 1
            return forward()
        if not writes:
            return forward()
        tables = {self._tables[table] for table, _, _ in writes}
        for table in tables:
            if table.mode == "MRSC" and not self._has_majority(table):
                available = [member for member in table.members if self.emulator.is_available(member)]
                return _json_error(
                    503,
                    "ServiceUnavailable",
                    f"MRSC table {table.name}: no majority of its Region set is available "
                    f"({len(available)} of {len(table.members)}: {', '.join(available) or 'none'})",
                )
        slots = sorted({(table, key_id) for table, key_id, _ in writes})
        held: list[tuple[str, str]] = []
        try:
            for slot in slots:
                if not self._acquire_key(slot, region):
                    return _json_error(
                        400,
                        "ReplicatedWriteConflictException",
                        "The request was rejected because one or more items in the request are being modified by "
                        "a request in another Region.",
                    )
                held.append(slot)
            response = forward()
            if response.status != 200:
                return response
            unprocessed = _unprocessed(operation, response)
            written_at = time.time()
            for table_name, key_id, put_item in writes:
                if (table_name, key_id) in unprocessed:
                    continue
                key = json.loads(key_id)
                item = put_item if put_item is not None else self._read_item(table_name, region, key)
                self._captured(self._tables[table_name], region, key_id, item, written_at)
            return response
        finally:
            for slot in reversed(held):
                self._release_key(slot)

    def _acquire_key(self, slot: tuple[str, str], region: str) -> bool:
        """Take an item's write lock. MRSC: False when a write from another Region holds it (DynamoDB answers
        ReplicatedWriteConflictException, botocore's model: "being modified by a request in another Region");
        writes from the same Region, and MREC writes, wait their turn."""
        lock = self._key_lock(*slot)
        strict = self._tables[slot[0]].mode == "MRSC"
        while not lock.acquire(timeout=0.01):
            with self._lock:
                holder = self._key_holders.get(slot)
            if strict and holder is not None and holder != region:
                return False
        with self._lock:
            self._key_holders[slot] = region
        return True

    def _release_key(self, slot: tuple[str, str]) -> None:
        with self._lock:
            self._key_holders.pop(slot, None)
        self._key_lock(*slot).release()

    def _item_writes(
        self, operation: str, body: Mapping[str, Any], region: str
    ) -> list[tuple[str, str, dict[str, Any] | None]]:
        """(table, key as JSON, full item when the request carries it) for each write to a global table.

        A ``None`` item means "read it back after the write" (updates) or, for deletes, is resolved by the read.
        """
        entries: list[tuple[str, dict[str, Any], dict[str, Any] | None, bool]] = []  # table, key|item, item, is_put
        if operation == "PutItem":
            entries.append((body.get("TableName", ""), body.get("Item", {}), body.get("Item", {}), True))
        elif operation in ("UpdateItem", "DeleteItem"):
            entries.append((body.get("TableName", ""), body.get("Key", {}), None, False))
        elif operation == "BatchWriteItem":
            for table, requests in body.get("RequestItems", {}).items():
                for entry in requests:
                    if "PutRequest" in entry:
                        item = entry["PutRequest"].get("Item", {})
                        entries.append((table, item, item, True))
                    elif "DeleteRequest" in entry:
                        entries.append((table, entry["DeleteRequest"].get("Key", {}), None, False))
        elif operation == "TransactWriteItems":
            for entry in body.get("TransactItems", []):
                for kind in ("Put", "Update", "Delete"):
                    if kind in entry:
                        part = entry[kind]
                        if kind == "Put":
                            entries.append(
                                (part.get("TableName", ""), part.get("Item", {}), part.get("Item", {}), True)
                            )
                        else:
                            entries.append((part.get("TableName", ""), part.get("Key", {}), None, False))
        writes = []
        with self._lock:
            tables = dict(self._tables)
        for table, attributes, item, _ in entries:
            if table not in tables or region not in tables[table].regions:
                continue
            key_names = self._key_schema(table, region)
            key = {name: attributes[name] for name in key_names if name in attributes}
            writes.append((table, _key_id(key), item))
        return writes

    def _key_schema(self, table: str, region: str) -> list[str]:
        with self._lock:
            known = self._key_schemas.get((table, region))
        if known is not None:
            return known
        described = self._upstream_client("dynamodb", region).describe_table(TableName=table)["Table"]
        names = [element["AttributeName"] for element in described["KeySchema"]]
        with self._lock:
            self._key_schemas[(table, region)] = names
        return names

    def _read_item(self, table: str, region: str, key: Mapping[str, Any]) -> dict[str, Any] | None:
        item = self._upstream_client("dynamodb", region).get_item(TableName=table, Key=key, ConsistentRead=True)
        return item.get("Item")

    def _key_lock(self, table: str, key_id: str) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault((table, key_id), threading.Lock())

    def _has_majority(self, table: GlobalTable) -> bool:
        available = sum(1 for member in table.members if self.emulator.is_available(member))
        return 2 * available > len(table.members)

    def _captured(
        self, table: GlobalTable, region: str, key_id: str, item: dict[str, Any] | None, written_at: float
    ) -> None:
        """A write acknowledged in ``region`` (key lock held): MRSC applies it everywhere now, MREC queues it."""
        with self._lock:
            self._item_times[(table.name, region, key_id)] = written_at
        change = "put" if item is not None else "delete"
        for destination in table.regions:
            if destination == region:
                continue
            task = _Task(
                due=0.0,
                sequence=0,
                service="dynamodb",
                source_region=region,
                destination_region=destination,
                source=table.name,
                destination=table.name,
                key=key_id,
                change=change,
                written_at=written_at,
                payload={"item": item},
            )
            if table.mode == "MRSC" and self.emulator.is_available(destination):
                outcome = self._apply_item(task, direct=True)
                with self._lock:
                    self._record(task, time.time(), outcome)
            else:
                self._schedule(task, self.dynamodb_lag if table.mode == "MREC" else Lag.fixed(0.0))

    def _deliver_dynamodb(self, task: _Task) -> str:
        with self._key_lock(task.source, task.key):
            return self._apply_item(task, direct=False)

    def _apply_item(self, task: _Task, *, direct: bool) -> str:
        """Last writer wins: apply only when newer than what the destination holds (key lock held)."""
        slot = (task.source, task.destination_region, task.key)
        with self._lock:
            current = self._item_times.get(slot, float("-inf"))
        if task.written_at <= current:
            return "superseded"
        dynamodb = (
            self._upstream_client("dynamodb", task.destination_region)
            if direct
            else self._proxied_client("dynamodb", task.destination_region)
        )
        item = task.payload["item"]
        # Straight to moto (MRSC) skips the proxy's one-write-at-a-time: take the Region's write lock here.
        serial = self.emulator._write_lock(task.destination_region) if direct else contextlib.nullcontext()
        with serial:
            if item is None:
                dynamodb.delete_item(TableName=task.destination, Key=json.loads(task.key))
            else:
                dynamodb.put_item(TableName=task.destination, Item=item)
        with self._lock:
            self._item_times[slot] = task.written_at
        return "applied"

    # scheduling and delivery ---------------------------------------------------------------------------------

    def _schedule(self, task: _Task, lag: Lag) -> None:
        with self._wake:
            task.sequence = next(self._sequence)
            ordering = (task.destination_region, task.destination, task.key)
            task.due = max(task.written_at + lag.draw(self._rng), self._last_due.get(ordering, 0.0) + 1e-6)
            self._last_due[ordering] = task.due
            if self._blocked(task):
                task.held = True
                self._held.append(task)
            else:
                heapq.heappush(self._queues[_shard(task)], task)
            self._wake.notify_all()

    def _blocked(self, task: _Task) -> bool:
        paused = None in self._paused or task.source in self._paused or task.destination in self._paused
        return (
            paused
            or not self.emulator.is_available(task.source_region)
            or not self.emulator.is_available(task.destination_region)
        )

    def _release_held(self) -> None:
        """Requeue held work whose Regions are back and which is not paused, in write order (lock held)."""
        now = time.time()
        still_held = []
        for task in sorted(self._held, key=lambda held: held.sequence):
            if self._blocked(task):
                still_held.append(task)
                continue
            lag = self._s3_lag_for(task.payload.get("rule", {})) if task.service == "s3" else self.dynamodb_lag
            ordering = (task.destination_region, task.destination, task.key)
            task.due = max(now + lag.draw(self._rng), self._last_due.get(ordering, 0.0) + 1e-6)
            self._last_due[ordering] = task.due
            heapq.heappush(self._queues[_shard(task)], task)
        self._held = still_held
        self._wake.notify_all()

    def _region_changed(self, region: str, lost: bool) -> None:
        with self._wake:
            if lost:
                for destination, queue in self._queues.items():
                    moving = [task for task in queue if region in (task.source_region, task.destination_region)]
                    if moving:
                        for task in moving:
                            task.held = True
                        self._held += moving
                        self._queues[destination] = [task for task in queue if task not in moving]
                        heapq.heapify(self._queues[destination])
            else:
                self._release_held()

    def _deliver_loop(self, slot: tuple[str, int]) -> None:
        while True:
            with self._wake:
                while self._running:
                    queue = self._queues[slot]
                    if queue and queue[0].due <= time.time():
                        task = heapq.heappop(queue)
                        if self._blocked(task):
                            task.held = True
                            self._held.append(task)
                            continue
                        self._in_flight += 1
                        break
                    wait = (queue[0].due - time.time()) if queue else 0.5
                    self._wake.wait(max(0.001, min(wait, 0.5)))
                else:
                    return
            try:
                outcome = self._deliver_s3(task) if task.service == "s3" else self._deliver_dynamodb(task)
            except Exception as error:  # a Region lost mid-delivery (held), a transient error (retried)
                with self._wake:
                    self._in_flight -= 1
                    self.counters["delivery-retries"] += 1
                    self.last_error = f"{task.service} {task.change} {task.destination}/{task.key}: {error!r}"
                    if self._blocked(task):
                        task.held = True
                        self._held.append(task)
                    elif task.attempts + 1 >= MAX_ATTEMPTS:
                        self._record(task, time.time(), "failed")  # S3's FAILED: not retried again
                    else:
                        task.attempts += 1
                        task.due = time.time() + 0.2
                        heapq.heappush(self._queues[slot], task)
                    self._wake.notify_all()
                continue
            with self._wake:
                self._in_flight -= 1
                delivery = self._record(task, time.time(), outcome)
                self._wake.notify_all()
            if outcome == "applied":
                self._publish_latency(task, delivery)

    def _publish_latency(self, task: _Task, delivery: Delivery) -> None:
        """The ReplicationLatency datapoint AWS would publish for this delivery, where AWS publishes it.

        S3: ``AWS/S3`` ``ReplicationLatency`` (seconds; SourceBucket, DestinationBucket, RuleId) in the
        destination's Region, only for rules with replication metrics or RTC enabled (S3 User Guide, "Using S3
        Replication metrics"). MREC: ``AWS/DynamoDB`` ``ReplicationLatency`` (milliseconds; TableName,
        ReceivingRegion) in the source Region; MRSC tables publish none (DynamoDB metrics and dimensions).
        """
        if task.service == "s3":
            if task.change == "tags":
                return
            destination = task.payload.get("rule", {}).get("Destination", {})
            enabled = "Enabled" in (
                destination.get("Metrics", {}).get("Status"),
                destination.get("ReplicationTime", {}).get("Status"),
            )
            if not enabled:
                return
            region, namespace, unit, value = task.destination_region, "AWS/S3", "Seconds", delivery.lag_seconds
            dimensions = [
                {"Name": "SourceBucket", "Value": task.source},
                {"Name": "DestinationBucket", "Value": task.destination},
                {"Name": "RuleId", "Value": str(task.payload["rule"].get("ID", ""))},
            ]
        else:
            table = self._tables.get(task.source)
            if table is None or table.mode != "MREC":
                return
            region, namespace, unit = task.source_region, "AWS/DynamoDB", "Milliseconds"
            value = 1000 * delivery.lag_seconds
            dimensions = [
                {"Name": "TableName", "Value": task.source},
                {"Name": "ReceivingRegion", "Value": task.destination_region},
            ]
        if not self.emulator.is_available(region):
            return
        try:
            self._upstream_client("cloudwatch", region).put_metric_data(
                Namespace=namespace,
                MetricData=[
                    {
                        "MetricName": "ReplicationLatency",
                        "Dimensions": dimensions,
                        "Timestamp": datetime.fromtimestamp(delivery.delivered_at, UTC),
                        "Value": value,
                        "Unit": unit,
                    }
                ],
            )
        except Exception:
            self.counters["metric-errors"] += 1

    def _record(self, task: _Task, at: float, outcome: str) -> Delivery:
        delivery = Delivery(
            service=task.service,  # type: ignore[arg-type]
            source_region=task.source_region,
            destination_region=task.destination_region,
            source=task.source,
            destination=task.destination,
            key=task.key,
            change=task.change,  # type: ignore[arg-type]
            written_at=task.written_at,
            delivered_at=at,
            outcome=outcome,  # type: ignore[arg-type]
            source_version_id=task.payload.get("version_id"),
            held=task.held,
        )
        self._deliveries.append(delivery)
        return delivery

    # clients ------------------------------------------------------------------------------------------------------

    def _proxied_client(self, service: str, region: str) -> Any:
        """Through the Region's proxy (fails when it is lost), marked as the emulator's own traffic."""
        return self._client(service, region, proxied=True)

    def _upstream_client(self, service: str, region: str) -> Any:
        """Straight to moto: the replicator's bookkeeping inside a proxy request (the Region was just checked)."""
        return self._client(service, region, proxied=False)

    def _client(self, service: str, region: str, *, proxied: bool) -> Any:
        return self.emulator.client(
            service, region, emulator_traffic=True, upstream=not proxied, max_attempts=1 if proxied else 2
        )


def _shard(task: _Task) -> tuple[str, int]:
    return task.destination_region, zlib.crc32(f"{task.destination}/{task.key}".encode()) % DELIVERY_SHARDS


def _key_id(key: Mapping[str, Any]) -> str:
    return json.dumps(key, sort_keys=True, separators=(",", ":"))


def _unprocessed(operation: str, response: ProxiedResponse) -> set[tuple[str, str]]:
    if operation != "BatchWriteItem":
        return set()
    try:
        left = json.loads(response.body or b"{}").get("UnprocessedItems", {})
    except json.JSONDecodeError:
        return set()
    missed = set()
    for table, requests in left.items():
        for entry in requests:
            attributes = entry.get("PutRequest", {}).get("Item") or entry.get("DeleteRequest", {}).get("Key") or {}
            missed.add((table, _key_id(attributes)))
    return missed


def _json_error(status: int, code: str, message: str) -> ProxiedResponse:
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message}).encode()
    return ProxiedResponse(
        status, [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(body)))], body
    )


def _rule_prefix(rule: Mapping[str, Any]) -> str:
    if "Filter" not in rule:
        return str(rule.get("Prefix", ""))
    rule_filter = rule["Filter"] or {}
    if "And" in rule_filter:
        return str(rule_filter["And"].get("Prefix", ""))
    return str(rule_filter.get("Prefix", ""))


def _rule_tags(rule: Mapping[str, Any]) -> list[dict[str, str]]:
    rule_filter = rule.get("Filter") or {}
    if "Tag" in rule_filter:
        return [rule_filter["Tag"]]
    return list(rule_filter.get("And", {}).get("Tags", []))


def _tags_match(rule: Mapping[str, Any], tags: Iterable[Mapping[str, str]]) -> bool:
    have = {(tag["Key"], tag["Value"]) for tag in tags}
    return all((tag["Key"], tag["Value"]) in have for tag in _rule_tags(rule))


def _replicates_delete_markers(rule: Mapping[str, Any]) -> bool:
    """V2 rules (with ``Filter``) replicate delete markers only when enabled; legacy V1 rules always do, and
    tag-filtered rules never (S3 User Guide, "Replicating delete markers between buckets")."""
    if "Filter" not in rule:
        return True
    if _rule_tags(rule):
        return False
    return bool(rule.get("DeleteMarkerReplication", {}).get("Status") == "Enabled")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _text(element: ElementTree.Element, name: str) -> str | None:
    for child in element:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return None


__all__ = ["RTC_BOUND_SECONDS", "Delivery", "GlobalTable", "Lag", "Replicator"]
