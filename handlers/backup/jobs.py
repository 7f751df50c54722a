"""What an AWS Backup job's state means for the operator.

A copy job that hits a system error is retried by AWS Backup for up to 2 hours while it stays ``CREATED`` with a
status message ("Copy job retries" in the AWS Backup guide): that is *retrying*, not failed, and no alert fires for
it (components/backup_events.py matches only terminal failures). States: botocore's ``CopyJobState`` and
``BackupJobState`` enums (tests/handlers/test_backup_status.py checks these names against the model).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FAILED_STATES = frozenset({"FAILED", "EXPIRED", "ABORTED"})
IN_PROGRESS_STATES = frozenset({"CREATED", "PENDING", "RUNNING", "ABORTING"})
DONE_STATES = frozenset({"COMPLETED"})
PARTIAL_STATES = frozenset({"PARTIAL"})


def job_verdict(job: Mapping[str, Any]) -> str:
    """``completed``, ``retrying``, ``running``, ``partial`` or ``failed`` for a backup or copy job description."""
    state = str(job.get("State") or job.get("Status") or "")
    if state in DONE_STATES:
        return "completed"
    if state in FAILED_STATES:
        return "failed"
    if state in PARTIAL_STATES:
        return "partial"
    if state == "CREATED" and job.get("StatusMessage"):
        return "retrying"
    if state in IN_PROGRESS_STATES:
        return "running"
    raise ValueError(f"unknown AWS Backup job state {state!r}")
