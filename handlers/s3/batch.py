"""S3 Batch Operations for restores too large for one machine.

Above ``threshold_keys`` copies, an in-place restore writes its copies into a CSV manifest (bucket,
URL-encoded key, version id), one per storage class because a copy job sets a single storage class, and
creates one ``S3PutObjectCopy`` job per manifest. Everything else in the restore stays local: marker
removal is already batched, archived versions need a restore first, and Batch Operations copies objects
up to 5 GB only.

The job's client request token is derived from the manifest's content and the job's parameters, so a
repeated restore with the same plan gets the same job back instead of a second one.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import quote

from handlers.runtime_names import batch_report_prefix
from handlers.s3.plan import BatchOptions, KeyPlan, RestoreOptions, RestoreSummary, head_or_none

BATCH_COPY_LIMIT = 5 * 1024**3  # Batch Operations' PutObjectCopy handles objects up to 5 GB
MANIFEST_FORMAT = "S3BatchOperations_CSV_20180820"
REPORT_FORMAT = "Report_CSV_20180820"
SPOOL_BYTES = 8 * 1024**2  # manifests larger than this spill from memory to a temporary file


def manifest_line(bucket: str, key: str, version_id: str) -> str:
    # Batch Operations requires URL-encoded keys in CSV manifests.
    return f"{bucket},{quote(key, safe='/')},{version_id}\n"


def client_request_token(manifest: bytes, parameters: dict[str, Any]) -> str:
    """Deterministic idempotency token (at most 64 characters) for one job."""
    digest = hashlib.sha256(manifest)
    digest.update(json.dumps(parameters, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:64]


def create_copy_job(
    s3: Any,
    s3control: Any,
    batch: BatchOptions,
    *,
    source_bucket: str,
    dest_bucket: str,
    storage_class: str,
    manifest: bytes,
    description: str,
) -> str:
    """Upload ``manifest`` and create its copy job; returns the job id."""
    operation = {
        "S3PutObjectCopy": {
            "TargetResource": f"arn:aws:s3:::{dest_bucket}",
            "StorageClass": storage_class,
            "MetadataDirective": "COPY",
        }
    }
    token = client_request_token(manifest, {"operation": operation, "source": source_bucket, "role": batch.role_arn})
    prefix = batch_report_prefix(source_bucket)
    manifest_key = f"{prefix}/manifests/{token}.csv"
    stored = head_or_none(s3, batch.report_bucket, manifest_key) or s3.put_object(
        Bucket=batch.report_bucket, Key=manifest_key, Body=manifest, ContentType="text/csv"
    )
    location = {"ObjectArn": f"arn:aws:s3:::{batch.report_bucket}/{manifest_key}", "ETag": stored["ETag"]}
    if stored.get("VersionId"):
        location["ObjectVersionId"] = stored["VersionId"]
    job = s3control.create_job(
        AccountId=batch.account_id,
        ConfirmationRequired=False,
        Operation=operation,
        Manifest={
            "Spec": {"Format": MANIFEST_FORMAT, "Fields": ["Bucket", "Key", "VersionId"]},
            "Location": location,
        },
        Report={
            "Bucket": f"arn:aws:s3:::{batch.report_bucket}",
            "Prefix": f"{prefix}/reports",
            "Format": REPORT_FORMAT,
            "Enabled": True,
            "ReportScope": "AllTasks",
        },
        ClientRequestToken=token,
        Priority=batch.priority,
        RoleArn=batch.role_arn,
        Description=description[:256],
    )
    return str(job["JobId"])


@dataclass
class BatchCopier:
    """Collects a restore's copies; below the threshold hands them back for local execution."""

    s3: Any
    s3control: Any
    options: RestoreOptions
    held: list[KeyPlan] = field(default_factory=list)
    manifests: dict[str, IO[bytes]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    jobs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def batch(self) -> BatchOptions:
        assert self.options.batch is not None
        return self.options.batch

    def accepts(self, plan: KeyPlan) -> bool:
        # In place only: a copy elsewhere carries per-version provenance metadata, which one job can't set.
        # A key that may already be as at T stays local, where its checksum is compared before any write, so a
        # rerun after a job sends no second job.
        version = plan.version
        return (
            self.options.in_place
            and plan.maybe_same_as is None
            and version is not None
            and not version.archived
            and version.size <= min(BATCH_COPY_LIMIT, self.options.copy.multipart_threshold)
        )

    def add(self, plan: KeyPlan) -> None:
        if self.manifests or len(self.held) >= self.batch.threshold_keys:
            for held in self.held:
                self._write(held)
            self.held = []
            self._write(plan)
        else:
            self.held.append(plan)

    def _write(self, plan: KeyPlan) -> None:
        assert plan.version is not None
        storage_class = plan.version.storage_class
        if storage_class not in self.manifests:
            # Closed in finish(), after the upload; a with-block cannot span the restore.
            self.manifests[storage_class] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
            self.counts[storage_class] = 0
        line = manifest_line(self.options.bucket, plan.key, plan.version.version_id)
        self.manifests[storage_class].write(line.encode())
        self.counts[storage_class] += 1

    def finish(self, summary: RestoreSummary) -> list[KeyPlan]:
        """Create the jobs (if the threshold was crossed); return the copies to run locally."""
        local, self.held = self.held, []
        for storage_class, manifest in sorted(self.manifests.items()):
            manifest.seek(0)
            job_id = create_copy_job(
                self.s3,
                self.s3control,
                self.batch,
                source_bucket=self.options.bucket,
                dest_bucket=self.options.destination_bucket,
                storage_class=storage_class,
                manifest=manifest.read(),
                description=f"dr point-in-time restore of {self.options.bucket} to {self.options.at.isoformat()}",
            )
            manifest.close()
            self.jobs.append({"job_id": job_id, "storage_class": storage_class, "keys": self.counts[storage_class]})
            summary.add("batched", self.counts[storage_class])
        self.manifests = {}
        return local


TERMINAL_JOB_STATES = frozenset({"Complete", "Failed", "Cancelled"})


def track_jobs(
    s3control: Any, account_id: str, jobs: list[dict[str, Any]], *, timeout_seconds: float, poll_seconds: float = 10
) -> list[dict[str, Any]]:
    """Follow Batch Operations jobs until each ends or ``timeout_seconds`` pass; returns each job with its status
    and task counts (``DescribeJob``'s ``ProgressSummary``)."""
    import time

    deadline = time.monotonic() + timeout_seconds
    tracked = [dict(job) for job in jobs]
    while True:
        for job in tracked:
            if job.get("status") in TERMINAL_JOB_STATES:
                continue
            described = s3control.describe_job(AccountId=account_id, JobId=job["job_id"])["Job"]
            job["status"] = described["Status"]
            progress = described.get("ProgressSummary", {})
            job["tasks_succeeded"] = progress.get("NumberOfTasksSucceeded", 0)
            job["tasks_failed"] = progress.get("NumberOfTasksFailed", 0)
        if all(job.get("status") in TERMINAL_JOB_STATES for job in tracked) or time.monotonic() >= deadline:
            return tracked
        time.sleep(poll_seconds)
