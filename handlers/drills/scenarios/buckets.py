"""Logical loss in tier-1 buckets: an accidental delete, and a ransomware-like overwrite of a prefix.

Both seed realistic objects under a drill prefix of every tier-1 primary, write canaries continuously before and
across the fault, damage the prefix, restore it to the instant before the fault with the same ``restore_bucket``
``drctl restore-bucket`` uses, and validate every seeded object and canary. S3 timestamps are whole seconds, so
the restore point is the end of the second before the fault: canaries written earlier in the fault's own second
cannot be told apart from the damage, which is what the measured RPO shows (``RPO_RESOLUTION_SECONDS``).
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from handlers.drills.canaries import CanaryWriter, canary_payload
from handlers.drills.model import (
    Basis,
    BucketTarget,
    ScenarioResult,
    Status,
    judge,
    minutes_to_seconds,
    not_run,
)
from handlers.drills.objectives import measure_rpo
from handlers.drills.runner import DrillContext, Scenario
from handlers.s3.lock import lock_key
from handlers.s3.restore import RestoreOptions, read_bucket_protection, restore_bucket

MAX_KEYS_PER_DELETE = 1000
RESTORE_WORKERS = 16
LOCAL_EMULATED = [
    "S3 API: moto on 127.0.0.1 (about 150-200 requests/s, no network latency), so the RTO is a lower bound",
    "fault detection: the drill knows the fault time; in production an alarm or an operator adds to the RTO",
    "replication: moto stores the configuration and never copies (the restore still takes tier 1's copy-only path)",
]
DEPLOYED_NOTES = ["RTO starts at the fault and assumes instant detection (the drill knows the fault time)"]


def seed_objects(s3: Any, bucket: str, prefix: str, count: int, rng: random.Random) -> dict[str, str]:
    """Objects shaped like a catalogue (masters, releases, artwork; 1-16 KiB); returns key -> SHA-256."""
    kinds = [("masters", "flac"), ("releases", "mp3"), ("artwork", "jpg")]
    seeded: dict[str, str] = {}
    for index in range(count):
        folder, extension = kinds[index % len(kinds)]
        key = f"{prefix}data/{folder}/artist-{index % 17:02d}/track-{index:04d}.{extension}"
        body = rng.randbytes(rng.randint(1024, 16 * 1024))
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        seeded[key] = hashlib.sha256(body).hexdigest()
    return seeded


def canary_key(prefix: str, sequence: int) -> str:
    return f"{prefix}canaries/{sequence:06d}.json"


def _keys_under(s3: Any, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    return keys


def _read(s3: Any, bucket: str, key: str) -> bytes | None:
    try:
        body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return body


def delete_prefix(s3: Any, bucket: str, keys: list[str]) -> None:
    """The accident: delete every current object (each gets a delete marker; versions stay)."""
    for start in range(0, len(keys), MAX_KEYS_PER_DELETE):
        batch = [{"Key": key} for key in keys[start : start + MAX_KEYS_PER_DELETE]]
        s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})


def corrupt_prefix(s3: Any, bucket: str, keys: list[str], rng: random.Random) -> None:
    """Ransomware-like: overwrite every object with unreadable bytes of the same kind of size."""
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"ENCRYPTED:" + rng.randbytes(512))


SECOND_MARGIN = 0.01  # seconds past the boundary, so the fault's own second is surely a later one


def restore_point_before(fault_at: float) -> datetime:
    """The last instant S3's whole-second timestamps can place before the fault."""
    return datetime.fromtimestamp(math.floor(fault_at) - 0.001, UTC)


def past_the_next_second(clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep) -> float:
    """Sleep into the next whole second and return the time: every write acknowledged before the call carries a
    LastModified of an earlier second, so ``restore_point_before`` of the returned time recovers all of them."""
    now = clock()
    boundary = math.floor(now) + 1
    while now < boundary + SECOND_MARGIN:
        sleep(boundary + SECOND_MARGIN - now)
        now = clock()
    return now


def drill_bucket(context: DrillContext, scenario: str, bucket: BucketTarget) -> ScenarioResult:
    s3 = context.client("s3", bucket.primary_region)
    target = f"s3://{bucket.primary}"
    result = ScenarioResult(
        scenario=scenario,
        target=target,
        status=Status.failed,
        rto_seconds_target=minutes_to_seconds(bucket.logical.rto_minutes),
        rpo_seconds_target=minutes_to_seconds(bucket.logical.rpo_minutes),
        rto_basis=Basis.lower_bound if context.local else Basis.measured,
        rpo_basis=Basis.measured,
        emulated=list(LOCAL_EMULATED) if context.local else [],
        notes=[] if context.local else list(DEPLOYED_NOTES),
    )
    if not read_bucket_protection(s3, bucket.primary).keeps_every_version:
        result.notes.append(f"{bucket.primary} does not keep every version: nothing was written or damaged")
        return result
    lock_bucket = context.targets.lock_bucket
    if not lock_bucket:  # checked before any damage: the restore would refuse to write without its lock
        result.notes.append(
            "no lock bucket (the stack's reports bucket; DR_BATCH_REPORT_BUCKET in the scheduled drill): a restore "
            "that writes refuses without one, so nothing was written or damaged"
        )
        return result
    prefix = f"{context.drill_prefix}{scenario}/"
    rng = random.Random(f"{context.drill_id}/{scenario}/{bucket.name}")
    context.progress(f"{scenario} {bucket.primary}: seeding {context.seed_objects} objects under {prefix}")
    seeded = seed_objects(s3, bucket.primary, prefix, context.seed_objects, rng)

    payloads: dict[int, bytes] = {}

    def write(sequence: int, written_at: float) -> None:
        payloads[sequence] = canary_payload(context.drill_id, sequence, written_at)
        s3.put_object(Bucket=bucket.primary, Key=canary_key(prefix, sequence), Body=payloads[sequence])

    writer = CanaryWriter(write, rate_per_second=context.canary_rate)
    writer.start()
    try:
        time.sleep(context.pre_fault_seconds)
        writer.wait_for(3)
        # The restore point is a whole second before the fault (S3's LastModified resolution). A canary acknowledged
        # in the fault's own second could not be recovered by any point-in-time restore, and how many fall there
        # depends on scheduling: so no canary is written from here until the fault sits in a later second.
        with writer.paused():
            fault_at = past_the_next_second()
            damaged = _keys_under(s3, bucket.primary, prefix)
        context.progress(f"{scenario} {bucket.primary}: fault on {len(damaged)} objects, canaries still writing")
        if scenario == ACCIDENTAL_DELETE_NAME:
            delete_prefix(s3, bucket.primary, damaged)
        else:
            corrupt_prefix(s3, bucket.primary, damaged, rng)
        time.sleep(context.post_fault_seconds)
    finally:
        canaries = writer.stop()

    at = restore_point_before(fault_at)
    context.progress(f"{scenario} {bucket.primary}: restoring {prefix} to {at.isoformat()}")
    # Confirmed (``--yes``): the drill damaged this prefix itself, so the blast-radius pass would only cost requests.
    # The single-flight lock is taken in the stack's reports bucket like any restore's.
    options = RestoreOptions(
        bucket=bucket.primary,
        at=at,
        prefix=prefix,
        workers=RESTORE_WORKERS,
        confirmed=True,
        lock_bucket=lock_bucket,
        lock_owner=f"drill {context.drill_id}",
    )
    summary = restore_bucket(s3, options)
    wrong = [key for key, digest in seeded.items() if _digest(_read(s3, bucket.primary, key)) != digest]
    present = {
        canary.sequence: _read(s3, bucket.primary, canary_key(prefix, canary.sequence)) == payloads[canary.sequence]
        for canary in canaries
    }
    recovered_at = time.time()

    rpo = measure_rpo(fault_at, canaries, lambda canary: present[canary.sequence])
    result.rto_seconds_measured = round(recovered_at - fault_at, 3)
    result.rpo_seconds_measured = rpo.rpo_seconds
    result.rpo = rpo.as_dict()
    if rpo.lower_bound:
        result.rpo_basis = Basis.lower_bound
    result.checks = {
        "objects_seeded": len(seeded),
        "objects_wrong": wrong[:20],
        "objects_wrong_count": len(wrong),
        "objects_damaged": len(damaged),
        "canary_write_errors": writer.errors[:5],
        "restore_point": at.isoformat(),
        "restore": {k: summary.get(k) for k in ("copied", "undeleted", "skipped", "failed", "requests", "copy_reason")},
        "lock": f"s3://{lock_bucket}/{lock_key(bucket.primary)}",
    }
    correct = not wrong and not rpo.holes and rpo.pre_fault_recovered > 0 and not summary.get("failed")
    return judge(result, correct)


def _digest(body: bytes | None) -> str | None:
    return None if body is None else hashlib.sha256(body).hexdigest()


def _run_on_tier1(scenario: str) -> Any:
    def run(context: DrillContext) -> list[ScenarioResult]:
        buckets = context.targets.tier1_buckets()
        if not buckets:
            return [not_run(scenario, "-", "the stack declares no tier-1 bucket")]
        return [drill_bucket(context, scenario, bucket) for bucket in buckets]

    return run


ACCIDENTAL_DELETE_NAME = "bucket-accidental-delete"
PREFIX_CORRUPTION_NAME = "bucket-prefix-corruption"
ACCIDENTAL_DELETE = Scenario(
    name=ACCIDENTAL_DELETE_NAME,
    summary="delete every object under a prefix of each tier-1 primary, restore to the instant before",
    failure_mode="logical",
    run=_run_on_tier1(ACCIDENTAL_DELETE_NAME),
    scheduled=True,
)
PREFIX_CORRUPTION = Scenario(
    name=PREFIX_CORRUPTION_NAME,
    summary="overwrite every object under a prefix with unreadable bytes (ransomware-like), point-in-time restore",
    failure_mode="logical",
    run=_run_on_tier1(PREFIX_CORRUPTION_NAME),
    scheduled=True,
)
