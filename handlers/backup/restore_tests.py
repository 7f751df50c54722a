"""Rows for the drill report from AWS Backup restore testing on a deployed stack (``drctl drill --stack``).

For every store the stack restore-tests (``backupStatus`` output, ``restoreTested``), the newest restore job a
restore-testing plan made: its duration (creation to completion) is the **measured RTO on AWS** of a restore from
backup, the age of the recovery point it restored (restore creation minus recovery-point creation) the RPO that
restore would have given. The row passes when the restore completed, its validation (the validation function's
verdict) is SUCCESSFUL, and both figures are within the store's objectives. A store with no restore test yet is
``not_run``: never a pass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from handlers.drills.model import ScenarioResult, Status

SCENARIO = "aws-restore-test"


def _newest_test(backup: Any, resource_arn: str) -> Mapping[str, Any] | None:
    jobs = backup.list_restore_jobs_by_protected_resource(ResourceArn=resource_arn)["RestoreJobs"]
    tests = [job for job in jobs if (job.get("CreatedBy") or {}).get("RestoreTestingPlanArn")]
    return max(tests, key=lambda job: job["CreationDate"]) if tests else None


def restore_test_rows(
    client_for: Callable[[str], Any], document: Mapping[str, Any], _now: datetime
) -> list[ScenarioResult]:
    rows = []
    for store in document.get("stores", []):
        if not store.get("restoreTested"):
            continue
        rto_target = store.get("restoreRtoMinutes")
        rpo_target = store.get("restoreRpoMinutes")
        result = ScenarioResult(
            scenario=SCENARIO,
            target=f"{store['kind']} {store['name']}",
            status=Status.not_run,
            rto_seconds_target=rto_target * 60 if rto_target is not None else None,
            rpo_seconds_target=rpo_target * 60 if rpo_target is not None else None,
            notes=["measured on AWS by AWS Backup restore testing (restore job duration, recovery point age)"],
        )
        job = _newest_test(client_for(store["restoreTestRegion"]), store["resourceArn"])
        if job is None:
            result.notes.append("no restore test has run yet")
            rows.append(result)
            continue
        created, completed = job["CreationDate"], job.get("CompletionDate")
        point = job.get("RecoveryPointCreationDate")
        result.rto_seconds_measured = (completed - created).total_seconds() if completed else None
        result.rpo_seconds_measured = (created - point).total_seconds() if point else None
        result.checks = {
            "restore_job_id": job.get("RestoreJobId"),
            "status": job.get("Status"),
            "validation": job.get("ValidationStatus"),
            "validation_message": job.get("ValidationStatusMessage"),
        }
        within = all(
            measured is not None and (target is None or measured <= target)
            for measured, target in (
                (result.rto_seconds_measured, result.rto_seconds_target),
                (result.rpo_seconds_measured, result.rpo_seconds_target),
            )
        )
        ok = job.get("Status") == "COMPLETED" and job.get("ValidationStatus") == "SUCCESSFUL" and within
        result.status = Status.passed if ok else Status.failed
        if not ok:
            result.notes.append(
                f"restore {job.get('Status')}, validation {job.get('ValidationStatus')}"
                + ("" if within else ", outside the objectives")
            )
        rows.append(result)
    return rows
