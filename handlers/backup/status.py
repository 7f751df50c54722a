"""``drctl backup status``: per store, the newest recovery point in each vault against its RPO, the last copy job,
and the last restore test. Read from the stack's ``backupStatus`` output (components/backup_estate.py).

- A vault of this account (the source and recovery Regions' vaults, the air-gapped vault) is listed with
  ``ListRecoveryPointsByBackupVault`` in its own Region.
- A vault in another account cannot be listed from here; its newest recovery point is the destination of the
  newest COMPLETED copy job into it (``ListCopyJobs`` in the source Region), which is what this account can see.
- A copy job in CREATED with a status message is retrying a system error (handlers/backup/jobs.py), not failed.

An objective is unmet when a vault has no recovery point or an older one than its RPO, when the last copy job
failed, or when the last restore test failed or its validation did. Exit code 1 in that case.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from handlers.backup.jobs import job_verdict

BackupClientFor = Callable[[str], Any]  # Region -> backup client


@dataclass(frozen=True)
class VaultStatus:
    role: str  # source, recovery or isolated
    vault: str
    region: str
    newest: str | None  # ISO time of the newest recovery point
    age_minutes: float | None
    rpo_minutes: int | None
    met: bool
    seen_through: str  # "vault listing" or "copy jobs" (another account's vault)


@dataclass(frozen=True)
class StoreStatus:
    name: str
    kind: str
    resource_arn: str
    vaults: list[VaultStatus] = field(default_factory=list)
    last_copy_job: dict[str, Any] | None = None
    last_restore_test: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def met(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "met": self.met}


def _newest(items: Sequence[Mapping[str, Any]], key: str) -> Mapping[str, Any] | None:
    dated = [item for item in items if item.get(key) is not None]
    return max(dated, key=lambda item: item[key]) if dated else None


def _vault_status(
    client_for: BackupClientFor, store: Mapping[str, Any], vault: Mapping[str, Any], now: datetime
) -> VaultStatus:
    region, name, rpo = vault["region"], vault["name"], vault.get("rpoMinutes")
    if vault.get("account") == "other":
        jobs = client_for(store["region"]).list_copy_jobs(
            ByResourceArn=store["resourceArn"], ByDestinationVaultArn=vault["arn"], ByState="COMPLETED"
        )["CopyJobs"]
        newest = _newest(jobs, "CompletionDate")
        when = newest["CompletionDate"] if newest else None
        seen = "copy jobs"
    else:
        points = client_for(region).list_recovery_points_by_backup_vault(
            BackupVaultName=name, ByResourceArn=store["resourceArn"]
        )["RecoveryPoints"]
        newest = _newest([p for p in points if p.get("Status") in (None, "COMPLETED")], "CreationDate")
        when = newest["CreationDate"] if newest else None
        seen = "vault listing"
    age = (now - when).total_seconds() / 60 if when is not None else None
    met = age is not None and (rpo is None or age <= rpo)
    return VaultStatus(vault["role"], name, region, when.isoformat() if when else None, age, rpo, met, seen)


def store_status(client_for: BackupClientFor, store: Mapping[str, Any], now: datetime) -> StoreStatus:
    status = StoreStatus(store["name"], store["kind"], store["resourceArn"])
    for vault in store["vaults"]:
        checked = _vault_status(client_for, store, vault, now)
        status.vaults.append(checked)
        if not checked.met:
            status.problems.append(
                f"{checked.role} vault {checked.vault}: "
                + (
                    "no recovery point"
                    if checked.age_minutes is None
                    else f"newest recovery point {checked.age_minutes:.0f} min old, RPO {checked.rpo_minutes} min"
                )
            )
    source = client_for(store["region"])
    copies = source.list_copy_jobs(ByResourceArn=store["resourceArn"])["CopyJobs"]
    last_copy = _newest(copies, "CreationDate")
    if last_copy is not None:
        verdict = job_verdict(last_copy)
        status_copy = {
            "state": last_copy.get("State"),
            "verdict": verdict,
            "destination": last_copy.get("DestinationBackupVaultArn"),
            "created": last_copy["CreationDate"].isoformat(),
            "message": last_copy.get("StatusMessage"),
        }
        object.__setattr__(status, "last_copy_job", status_copy)
        if verdict == "failed":
            status.problems.append(f"last copy job {last_copy.get('State')}: {last_copy.get('StatusMessage')}")
    if store.get("restoreTested"):
        restores = client_for(store["restoreTestRegion"]).list_restore_jobs_by_protected_resource(
            ResourceArn=store["resourceArn"]
        )["RestoreJobs"]
        tests = [job for job in restores if (job.get("CreatedBy") or {}).get("RestoreTestingPlanArn")]
        last_test = _newest(tests, "CreationDate")
        if last_test is None:
            status.problems.append("no restore test has run")
        else:
            duration = (
                (last_test["CompletionDate"] - last_test["CreationDate"]).total_seconds() / 60
                if last_test.get("CompletionDate")
                else None
            )
            object.__setattr__(
                status,
                "last_restore_test",
                {
                    "status": last_test.get("Status"),
                    "validation": last_test.get("ValidationStatus"),
                    "created": last_test["CreationDate"].isoformat(),
                    "durationMinutes": duration,
                },
            )
            if last_test.get("Status") in ("FAILED", "ABORTED") or last_test.get("ValidationStatus") in (
                "FAILED",
                "TIMED_OUT",
            ):
                status.problems.append(
                    f"last restore test {last_test.get('Status')}, validation {last_test.get('ValidationStatus')}"
                )
    return status


def backup_status(client_for: BackupClientFor, document: Mapping[str, Any], now: datetime) -> list[StoreStatus]:
    """Every store of the stack's ``backupStatus`` output."""
    stores = document.get("stores")
    if not isinstance(stores, list):
        raise ValueError("the stack output backupStatus has no stores list (deploy the stack with this version)")
    return [store_status(client_for, store, now) for store in stores]
