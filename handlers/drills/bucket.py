"""Recovery drills: damage a bucket on purpose, restore it to a point in time, and measure what was achieved.

A drill writes canary objects, marks the recovery point T, then overwrites half and deletes a quarter of them
(what an accident or a bad release does). It restores to T with the same ``restore_bucket`` that ``drctl`` and
the restore Lambda use, then reads every canary back:

- measured RTO: wall time from the start of the restore until every canary reads back as it was at T;
- measured RPO: from the canaries, by the shared rule (``handlers.drills.objectives``): the fault time minus the
  write time of the newest canary that came back as it was before the damage (0 when the newest did).

``drctl drill-bucket`` runs it against a real bucket (use a drill prefix); ``make demo`` runs it on the embedded
emulator with a tier-1-shaped bucket (versioning, object lock, a replication configuration so that the restore
takes the copy-only path that tier-1 primaries need).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from handlers.drills.objectives import CanaryWrite, measure_rpo, within_objectives
from handlers.s3.restore import RestoreOptions, read_bucket_protection, restore_bucket

# S3 (and moto) report LastModified to the second, so T must sit clearly between the writes and the damage.
TIMESTAMP_RESOLUTION_SECONDS = 1.1


@dataclass
class DrillResult:
    bucket: str
    prefix: str
    canaries: int
    overwritten: int
    deleted: int
    recovery_point: str
    restore: dict[str, Any]
    rto_seconds: float
    rpo_seconds: float
    keys_wrong: list[str] = field(default_factory=list)
    declared_rto_minutes: int | None = None
    declared_rpo_minutes: int | None = None

    @property
    def passed(self) -> bool:
        return not self.keys_wrong and within_objectives(
            self.rto_seconds, self.rpo_seconds, self.declared_rto_minutes, self.declared_rpo_minutes
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


def replication_to(destination_arn: str, rule_id: str = "all-objects") -> dict[str, Any]:
    """A tier-1-shaped replication configuration for the emulator (which stores it and never copies); drills,
    tests and benchmarks share it."""
    return {
        "Role": "arn:aws:iam::123456789012:role/replication",
        "Rules": [
            {
                "ID": rule_id,
                "Status": "Enabled",
                "Priority": 1,
                "Filter": {},
                "DeleteMarkerReplication": {"Status": "Enabled"},
                "Destination": {"Bucket": destination_arn},
            }
        ],
    }


def canary_body(key: str, generation: int) -> bytes:
    return f"{key} generation {generation} {hashlib.sha256(key.encode()).hexdigest()}".encode()


def canary_keys(prefix: str, count: int) -> list[str]:
    return [f"{prefix}canary-{index:05d}.bin" for index in range(count)]


DRILL_PREFIX = "dr-drill/"  # every drill object lives under it (components/drills.py grants only this prefix)


def run_bucket_drill(
    s3: Any,
    bucket: str,
    *,
    prefix: str = DRILL_PREFIX,
    canaries: int = 200,
    workers: int = 16,
    declared_rto_minutes: int | None = None,
    declared_rpo_minutes: int | None = None,
    lock_bucket: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> DrillResult:
    # Checked before any canary is damaged: without versioning, or without a lock bucket for the restore (it
    # refuses to write without one), the damage could not be undone.
    if not read_bucket_protection(s3, bucket).keeps_every_version:
        raise ValueError(f"bucket {bucket} does not have versioning Enabled: a drill there could not be restored")
    if not lock_bucket:
        raise ValueError("a drill restores, and a restore that writes needs a lock bucket (--lock-bucket)")
    # The restore below is confirmed (no blast-radius pass) and covers the whole prefix, so the prefix must hold drill
    # objects only: anywhere else it would also roll back the application's own writes made during the drill.
    if not prefix.startswith(DRILL_PREFIX):
        raise ValueError(f"--prefix {prefix!r} must start with {DRILL_PREFIX!r}: a drill restores everything under it")
    keys = canary_keys(prefix, canaries)
    writes: list[CanaryWrite] = []
    for sequence, key in enumerate(keys):
        written_at = time.time()
        s3.put_object(Bucket=bucket, Key=key, Body=canary_body(key, 1))
        writes.append(CanaryWrite(sequence, written_at, time.time()))
    sleep(TIMESTAMP_RESOLUTION_SECONDS)
    recovery_point = datetime.now(UTC)
    sleep(TIMESTAMP_RESOLUTION_SECONDS)

    fault_at = time.time()
    overwritten, deleted = keys[: canaries // 2], keys[canaries // 2 : canaries // 2 + canaries // 4]
    for key in overwritten:
        s3.put_object(Bucket=bucket, Key=key, Body=canary_body(key, 2))
    for key in deleted:
        s3.delete_object(Bucket=bucket, Key=key)

    started = time.monotonic()
    # Confirmed: the drill damaged these canaries itself, so the blast-radius pass would only cost requests.
    options = RestoreOptions(
        bucket=bucket, at=recovery_point, prefix=prefix, workers=workers, confirmed=True, lock_bucket=lock_bucket
    )
    summary = restore_bucket(s3, options)
    keys_wrong = [key for key in keys if _read(s3, bucket, key) != canary_body(key, 1)]
    rto_seconds = time.monotonic() - started
    wrong = set(keys_wrong)
    rpo_seconds = measure_rpo(fault_at, writes, lambda canary: keys[canary.sequence] not in wrong).rpo_seconds
    return DrillResult(
        bucket=bucket,
        prefix=prefix,
        canaries=canaries,
        overwritten=len(overwritten),
        deleted=len(deleted),
        recovery_point=recovery_point.isoformat(),
        restore=summary,
        rto_seconds=round(rto_seconds, 3),
        rpo_seconds=round(rpo_seconds, 3),
        keys_wrong=keys_wrong,
        declared_rto_minutes=declared_rto_minutes,
        declared_rpo_minutes=declared_rpo_minutes,
    )


def _read(s3: Any, bucket: str, key: str) -> bytes | None:
    try:
        body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return body
