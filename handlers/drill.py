"""Recovery drills: damage a bucket on purpose, restore it to a point in time, and measure what was achieved.

A drill writes canary objects, marks the recovery point T, then overwrites half and deletes a quarter of them
(what an accident or a bad release does). It restores to T with the same ``restore_bucket`` that ``drctl`` and
the restore Lambda use, then reads every canary back:

- measured RTO: wall time from the start of the restore until every canary reads back as it was at T;
- measured RPO: age of the newest canary write that was lost (0 when every canary came back).

``drctl drill-bucket`` runs it against a real bucket (use a drill prefix); ``make demo`` runs it on the embedded
emulator with a tier-1-shaped bucket (versioning, object lock, a replication configuration so that the restore
takes the copy-only path that tier-1 primaries need).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console

from handlers import aws
from handlers.cli import EXIT_AWS, EXIT_FAILED, EXIT_OK, EXIT_USAGE, app, emit, fail
from handlers.s3_restore import RestoreOptions, read_bucket_protection, restore_bucket

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


def measured_rpo_seconds(recovery_point: datetime, written_at: Mapping[str, float], keys_wrong: Iterable[str]) -> float:
    """Data lost, as time: the recovery point minus the earliest write that did not come back (0 when all did)."""
    lost_writes = [written_at[key] for key in keys_wrong]
    return recovery_point.timestamp() - min(lost_writes) if lost_writes else 0.0


def within_objectives(
    rto_seconds: float, rpo_seconds: float, declared_rto_minutes: int | None, declared_rpo_minutes: int | None
) -> bool:
    """Whether a drill's measured RTO and RPO meet the declared ones (an undeclared objective is not checked)."""
    rto_ok = declared_rto_minutes is None or rto_seconds <= declared_rto_minutes * 60
    rpo_ok = declared_rpo_minutes is None or rpo_seconds <= declared_rpo_minutes * 60
    return rto_ok and rpo_ok


def canary_keys(prefix: str, count: int) -> list[str]:
    return [f"{prefix}canary-{index:05d}.bin" for index in range(count)]


def run_bucket_drill(
    s3: Any,
    bucket: str,
    *,
    prefix: str = "dr-drill/",
    canaries: int = 200,
    workers: int = 16,
    declared_rto_minutes: int | None = None,
    declared_rpo_minutes: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> DrillResult:
    # Checked before any canary is damaged: without versioning the damage could not be undone.
    if not read_bucket_protection(s3, bucket).keeps_every_version:
        raise ValueError(f"bucket {bucket} does not have versioning Enabled: a drill there could not be restored")
    keys = canary_keys(prefix, canaries)
    written_at: dict[str, float] = {}
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=canary_body(key, 1))
        written_at[key] = time.time()
    sleep(TIMESTAMP_RESOLUTION_SECONDS)
    recovery_point = datetime.now(UTC)
    sleep(TIMESTAMP_RESOLUTION_SECONDS)

    overwritten, deleted = keys[: canaries // 2], keys[canaries // 2 : canaries // 2 + canaries // 4]
    for key in overwritten:
        s3.put_object(Bucket=bucket, Key=key, Body=canary_body(key, 2))
    for key in deleted:
        s3.delete_object(Bucket=bucket, Key=key)

    started = time.monotonic()
    summary = restore_bucket(s3, RestoreOptions(bucket=bucket, at=recovery_point, prefix=prefix, workers=workers))
    keys_wrong = [key for key in keys if _read(s3, bucket, key) != canary_body(key, 1)]
    rto_seconds = time.monotonic() - started
    rpo_seconds = measured_rpo_seconds(recovery_point, written_at, keys_wrong)
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


@app.command("drill-bucket")
def drill_bucket_command(
    bucket: Annotated[str, typer.Argument(help="Bucket to drill; canaries go under --prefix only.")],
    prefix: Annotated[str, typer.Option(help="Key prefix for the drill's canary objects.")] = "dr-drill/",
    canaries: Annotated[int, typer.Option(min=4, help="Number of canary objects.")] = 200,
    workers: Annotated[int, typer.Option(min=1, max=256, help="Restore concurrency.")] = 16,
    rto_minutes: Annotated[int | None, typer.Option(help="Declared logical RTO to check against.")] = None,
    rpo_minutes: Annotated[int | None, typer.Option(help="Declared logical RPO to check against.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Damage canaries under PREFIX, restore to the point before, and report the measured RTO and RPO."""
    try:
        result = run_bucket_drill(
            aws.client("s3", max_pool_connections=workers),
            bucket,
            prefix=prefix,
            canaries=canaries,
            workers=workers,
            declared_rto_minutes=rto_minutes,
            declared_rpo_minutes=rpo_minutes,
        )
    except ValueError as error:
        fail(str(error), EXIT_USAGE, as_json=as_json)
    except (ClientError, BotoCoreError) as error:
        fail(f"AWS refused or could not be reached: {error}", EXIT_AWS, as_json=as_json)
    emit(result.as_dict(), as_json)
    raise typer.Exit(EXIT_OK if result.passed else EXIT_FAILED)


def run_demo_drill(console: Console) -> bool:
    """The drill on a tier-1-shaped bucket on an in-process moto server (127.0.0.1), for `make demo`."""
    import logging
    import os

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the emulator's per-request access log

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    saved = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ.update(
        AWS_ENDPOINT_URL=f"http://{host}:{port}", AWS_ACCESS_KEY_ID="drill", AWS_SECRET_ACCESS_KEY="drill"
    )
    try:
        s3 = aws.client("s3", "us-east-1", max_pool_connections=16)
        bucket = "distronation-prod-audio-us-east-1"
        s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_object_lock_configuration(
            Bucket=bucket,
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 30}},
            },
        )
        # A replication configuration, as on every tier-1 primary: the restore must copy, never remove markers.
        s3.put_bucket_replication(
            Bucket=bucket, ReplicationConfiguration=replication_to("arn:aws:s3:::distronation-prod-audio-us-west-2")
        )
        result = run_bucket_drill(s3, bucket, declared_rto_minutes=30, declared_rpo_minutes=0)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.stop()
    restore = result.restore
    console.print(
        f"tier-1 bucket [bold]{result.bucket}[/] (object lock COMPLIANCE, replication configured): "
        f"{result.canaries} canaries, {result.overwritten} overwritten and {result.deleted} deleted after T"
    )
    console.print(
        f"restore path: {restore.get('copy_reason') or 'delete-marker removal'}; copied {restore['copied']}, "
        f"undeleted {restore['undeleted']}, skipped {restore['skipped']}, failed {restore['failed']}, "
        f"{restore['requests']} S3 requests"
    )
    verdict = "[green]PASS[/]" if result.passed else "[red]FAIL[/]"
    console.print(
        f"measured RTO {result.rto_seconds:.2f} s (declared 30 min), measured RPO {result.rpo_seconds:.0f} s "
        f"(declared 0), keys wrong {len(result.keys_wrong)}: {verdict}"
    )
    console.print("[dim]emulated: moto on 127.0.0.1 (replication is stored but never copies objects)[/]")
    return result.passed
