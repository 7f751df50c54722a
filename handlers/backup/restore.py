"""Restore a bucket from an AWS Backup recovery point and track the restore job.

When to use it (README, "Restoring from AWS Backup"): the bucket's own versions are gone or untrusted (a
compromised account, a deleted bucket, corrupted versions), so the in-place version restore
(``drctl restore-bucket BUCKET --to T``) has nothing good to copy back. The recovery point is a continuous backup
(point-in-time restore within its window, ``--to``) or a snapshot (its own time only; copies in the isolated vault
are snapshots: copies lose point-in-time restore).

The restore goes back into the recovery point's bucket (each restored object becomes a new version there, so no
existing version is lost), or into a new bucket ``--target-bucket`` that the restore job creates.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

RESTORE_DONE = frozenset({"COMPLETED", "FAILED", "ABORTED"})  # botocore RestoreJobStatus, terminal
# AWS Backup's restore metadata key for a point-in-time restore of a continuous recovery point. Offered only when
# GetRecoveryPointRestoreMetadata lists it: a snapshot has no point in time to choose.
RESTORE_TIME_KEY = "RestoreTime"


class RestoreRefused(ValueError):
    """The recovery point cannot give what was asked (a time on a snapshot, say)."""


@dataclass(frozen=True)
class RestoreProgress:
    job_id: str
    status: str
    percent_done: str | None
    created_resource_arn: str | None
    status_message: str | None
    elapsed_seconds: float


def restore_metadata(
    backup: Any, recovery_point_arn: str, vault_name: str, target_bucket: str | None, to: datetime | None
) -> dict[str, str]:
    """The metadata AWS Backup offers for this recovery point: back into its bucket, or into a new bucket
    ``target_bucket`` that the restore creates (the backup role creates only ``<namePrefix>-restore-…``)."""
    offered: dict[str, str] = dict(
        backup.get_recovery_point_restore_metadata(BackupVaultName=vault_name, RecoveryPointArn=recovery_point_arn)[
            "RestoreMetadata"
        ]
    )
    metadata = dict(offered)
    if target_bucket is not None:
        metadata["DestinationBucketName"] = target_bucket
        metadata["NewBucket"] = "true"
    else:
        metadata["NewBucket"] = "false"
    if to is not None:
        if RESTORE_TIME_KEY not in offered:
            raise RestoreRefused(
                f"{recovery_point_arn} is a snapshot: it restores to its own time only (drop --to), "
                "or pick the continuous recovery point in the source vault"
            )
        metadata[RESTORE_TIME_KEY] = to.isoformat()
    return metadata


def vault_name_of(backup: Any, recovery_point_arn: str) -> str:
    """The vault that holds the recovery point (DescribeRecoveryPoint needs it; the ARN does not say)."""
    for page in backup.get_paginator("list_backup_vaults").paginate():
        for vault in page["BackupVaultList"]:
            points = backup.list_recovery_points_by_backup_vault(
                BackupVaultName=vault["BackupVaultName"], MaxResults=1000
            )["RecoveryPoints"]
            if any(point["RecoveryPointArn"] == recovery_point_arn for point in points):
                return str(vault["BackupVaultName"])
    raise RestoreRefused(f"no vault in this account and Region holds {recovery_point_arn}")


def start_bucket_restore(
    backup: Any, recovery_point_arn: str, role_arn: str, metadata: Mapping[str, str], token: str | None = None
) -> str:
    """Start the restore job; the idempotency token makes a retried call return the same job."""
    response = backup.start_restore_job(
        RecoveryPointArn=recovery_point_arn,
        Metadata=dict(metadata),
        IamRoleArn=role_arn,
        IdempotencyToken=token or str(uuid.uuid4()),
        ResourceType="S3",
    )
    return str(response["RestoreJobId"])


def track_restore(
    backup: Any,
    job_id: str,
    *,
    poll_seconds: float = 30.0,
    timeout_seconds: float = 6 * 3600,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[RestoreProgress]:
    """Each state of the restore job until it ends (or ``timeout_seconds`` pass: the job keeps running in AWS)."""
    started = clock()
    while True:
        job = backup.describe_restore_job(RestoreJobId=job_id)
        progress = RestoreProgress(
            job_id,
            str(job["Status"]),
            job.get("PercentDone"),
            job.get("CreatedResourceArn"),
            job.get("StatusMessage"),
            clock() - started,
        )
        yield progress
        if progress.status in RESTORE_DONE or progress.elapsed_seconds >= timeout_seconds:
            return
        sleep(poll_seconds)
