"""The one place that decides what each DR tier gets.

Objectives are held per failure mode because the mechanisms differ (seed 000's summary table):
- logical loss (accidental delete, overwrite, corruption): versioning + object lock give RPO 0;
- regional loss: cross-region replication with RTC gives RPO 15 min for 99.99% of objects
  (delete markers are outside that SLA);
- account compromise: only a copy outside the account survives (``ISOLATION`` at the end of this module).

``defaults`` are what a resource gets when it declares nothing; ``floors`` are the tightest objectives the
tier's mechanisms can deliver. A resource may tighten its tier's defaults down to the floor; ``None`` means
the tier does not cover that failure mode, so no objective can be declared for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# Every tier's minimum backup retention: pruning of on-demand table backups never deletes a younger one and a
# shorter retention is refused (``drctl backup``, the backup Lambda). The value lives in handlers/runtime_names.py
# because the Lambda code ships only ``handlers/``; this is the name the program uses.
from handlers.runtime_names import MIN_BACKUP_RETENTION_DAYS as MIN_BACKUP_RETENTION_DAYS


class FailureMode(StrEnum):
    LOGICAL = "logical"
    REGIONAL = "regional"


class LockMode(StrEnum):
    COMPLIANCE = "COMPLIANCE"
    GOVERNANCE = "GOVERNANCE"


@dataclass(frozen=True)
class Objective:
    """Recovery objective for one failure mode, in minutes; ``None`` means loss is accepted."""

    rpo_minutes: int | None
    rto_minutes: int | None


@dataclass(frozen=True)
class Transitions:
    """Days after an object becomes noncurrent before each storage-class transition."""

    standard_ia_days: int | None
    glacier_days: int | None
    deep_archive_days: int | None


# S3's minimum storage durations (days) per class: a transition or expiry earlier than this is billed anyway,
# and S3 rejects STANDARD_IA transitions before 30 days.
MINIMUM_STORAGE_DAYS = {"STANDARD_IA": 30, "GLACIER": 90, "DEEP_ARCHIVE": 180}

# Storage classes that stay instantly readable, so a failover can read the replica's current versions.
INSTANTLY_READABLE_CLASSES = ("STANDARD", "STANDARD_IA")


@dataclass(frozen=True)
class TierProfile:
    tier: int
    summary: str
    defaults: dict[FailureMode, Objective]
    floors: dict[FailureMode, Objective]
    object_lock_mode: LockMode | None
    default_lock_days: int | None
    mfa_delete: bool
    cross_region_replica: bool
    default_transitions: Transitions
    default_noncurrent_expiration_days: int
    # Tier 3's basic lifecycle also moves current versions to STANDARD_IA after this many days.
    current_standard_ia_days: int | None = None
    abort_incomplete_multipart_days: int = 7
    default_replica_storage_class: str = "STANDARD"
    # A Lambda copies the previous version back when a delete marker lands under a protected prefix.
    delete_auto_restore: bool = False
    # The bucket policy refuses an upload that asks for any encryption type but SSE-KMS (the replication role
    # can only use the bucket's key, so anything else would fail to replicate).
    kms_only_uploads: bool = False
    # A daily S3 Inventory of every version and a change journal of object events: restores of any size are planned
    # from them with SQL (handlers/s3/sql/restore_plan.sql), on the primary and on a replica.
    versioned_inventory: bool = False
    # Lifecycle moves current versions larger than 128 KiB to INTELLIGENT_TIERING after this many days (seed 003).
    # Never on an MFA-delete primary, which carries no lifecycle; smaller objects are never auto-tiered and would
    # only pay the transition (S3 User Guide, "How S3 Intelligent-Tiering works").
    current_intelligent_tiering_days: int | None = None

    def objective(self, mode: FailureMode) -> Objective:
        return self.defaults[mode]


NOT_COVERED = Objective(rpo_minutes=None, rto_minutes=None)

TIERS: dict[int, TierProfile] = {
    1: TierProfile(
        tier=1,
        summary="no logical loss, at most 15 minutes of regional loss",
        defaults={
            FailureMode.LOGICAL: Objective(rpo_minutes=0, rto_minutes=60),
            FailureMode.REGIONAL: Objective(rpo_minutes=15, rto_minutes=60),
        },
        floors={
            FailureMode.LOGICAL: Objective(rpo_minutes=0, rto_minutes=15),
            # RTC's SLA: 99.99% of objects within 15 minutes.
            FailureMode.REGIONAL: Objective(rpo_minutes=15, rto_minutes=15),
        },
        object_lock_mode=LockMode.COMPLIANCE,
        default_lock_days=30,
        mfa_delete=True,
        cross_region_replica=True,
        kms_only_uploads=True,
        default_transitions=Transitions(standard_ia_days=30, glacier_days=90, deep_archive_days=180),
        default_noncurrent_expiration_days=365,
        delete_auto_restore=True,
        versioned_inventory=True,
        current_intelligent_tiering_days=0,  # the replica only: the primary has MFA delete and no lifecycle
    ),
    2: TierProfile(
        tier=2,
        summary="limited loss: every version kept for the retention window, no regional copy",
        defaults={
            FailureMode.LOGICAL: Objective(rpo_minutes=0, rto_minutes=240),
            FailureMode.REGIONAL: NOT_COVERED,
        },
        floors={
            FailureMode.LOGICAL: Objective(rpo_minutes=0, rto_minutes=60),
            FailureMode.REGIONAL: NOT_COVERED,
        },
        object_lock_mode=LockMode.GOVERNANCE,
        default_lock_days=7,
        mfa_delete=False,
        cross_region_replica=False,
        default_transitions=Transitions(standard_ia_days=30, glacier_days=60, deep_archive_days=None),
        default_noncurrent_expiration_days=180,
        versioned_inventory=True,
        current_intelligent_tiering_days=0,
    ),
    3: TierProfile(
        tier=3,
        summary="loss acceptable: basic lifecycle only",
        defaults={FailureMode.LOGICAL: NOT_COVERED, FailureMode.REGIONAL: NOT_COVERED},
        floors={FailureMode.LOGICAL: NOT_COVERED, FailureMode.REGIONAL: NOT_COVERED},
        object_lock_mode=None,
        default_lock_days=None,
        mfa_delete=False,
        cross_region_replica=False,
        default_transitions=Transitions(standard_ia_days=None, glacier_days=None, deep_archive_days=None),
        default_noncurrent_expiration_days=30,
        current_intelligent_tiering_days=0,
    ),
}


def profile(tier: int) -> TierProfile:
    return TIERS[tier]


# ---------------------------------------------------------------------------------------------------------------
# DynamoDB tables. Their mechanisms differ from buckets' (docs/contract.md, "Tables"):
# - logical loss: PITR restores to any second of its window, into a new table (RPO 0; RTO = restore + cutover);
# - regional loss: replicas. MREC usually replicates in about a second with no guarantee, so its floor is 1 min;
#   a regional RPO of 0 needs MRSC (multi-Region strong consistency), checked in stackmodel/config/tables.py;
#   without replicas, AWS Backup's copies to the recovery region bound the RPO by the backup schedule.

# AWS Backup jobs cannot run less than 60 minutes apart; PITR covers anything tighter.
MIN_BACKUP_RPO_MINUTES = 60
# A backup RPO becomes a cron schedule: every N hours with N dividing a day, or daily.
BACKUP_RPO_SCHEDULES = {60 * hours: hours for hours in (1, 2, 3, 4, 6, 8, 12, 24)}
# AWS Backup: a recovery point moved to cold storage stays there at least 90 days before deletion.
COLD_STORAGE_MINIMUM_DAYS = 90
PITR_PERIOD_RANGE = (1, 35)  # DynamoDB's RecoveryPeriodInDays bounds
MREC_REGIONAL_RPO_FLOOR_MINUTES = 1


@dataclass(frozen=True)
class TableBackupProfile:
    """A tier's AWS Backup rule: schedule from the RPO, lifecycle in days (None = never cold)."""

    rpo_minutes: int
    cold_storage_after_days: int | None
    delete_after_days: int


@dataclass(frozen=True)
class TableTierProfile:
    tier: int
    summary: str
    defaults: dict[FailureMode, Objective]
    floors: dict[FailureMode, Objective]
    pitr_recovery_period_days: int  # the default, and the floor a table may only lengthen
    backup: TableBackupProfile | None  # None: no AWS Backup plan (PITR only)
    replicas_required: bool


TABLE_TIERS: dict[int, TableTierProfile] = {
    1: TableTierProfile(
        tier=1,
        summary="PITR to any second for 35 days, hourly AWS Backup copied to the recovery region, replicas",
        defaults={
            FailureMode.LOGICAL: Objective(rpo_minutes=0, rto_minutes=120),
            FailureMode.REGIONAL: Objective(rpo_minutes=15, rto_minutes=60),
        },
        floors={
            FailureMode.LOGICAL: Objective(rpo_minutes=0, rto_minutes=60),
            FailureMode.REGIONAL: Objective(rpo_minutes=0, rto_minutes=5),  # 0 only on MRSC
        },
        pitr_recovery_period_days=35,
        backup=TableBackupProfile(rpo_minutes=60, cold_storage_after_days=7, delete_after_days=120),
        replicas_required=True,
    ),
    2: TableTierProfile(
        tier=2,
        summary="PITR for 14 days, daily AWS Backup copied to the recovery region, no replica required",
        defaults={
            FailureMode.LOGICAL: Objective(rpo_minutes=0, rto_minutes=240),
            FailureMode.REGIONAL: Objective(rpo_minutes=1440, rto_minutes=480),
        },
        floors={
            FailureMode.LOGICAL: Objective(rpo_minutes=0, rto_minutes=120),
            FailureMode.REGIONAL: Objective(rpo_minutes=0, rto_minutes=5),
        },
        pitr_recovery_period_days=14,
        backup=TableBackupProfile(rpo_minutes=1440, cold_storage_after_days=None, delete_after_days=35),
        replicas_required=False,
    ),
    3: TableTierProfile(
        tier=3,
        summary="PITR for 7 days only",
        defaults={
            FailureMode.LOGICAL: Objective(rpo_minutes=0, rto_minutes=480),
            FailureMode.REGIONAL: NOT_COVERED,
        },
        floors={
            FailureMode.LOGICAL: Objective(rpo_minutes=0, rto_minutes=240),
            FailureMode.REGIONAL: NOT_COVERED,
        },
        pitr_recovery_period_days=7,
        backup=None,
        replicas_required=False,
    ),
}


@dataclass(frozen=True)
class VaultLockProfile:
    """A backup vault lock: GOVERNANCE by default; COMPLIANCE becomes immutable after ``changeable_for_days``."""

    mode: LockMode
    min_retention_days: int
    max_retention_days: int
    changeable_for_days: int  # AWS's minimum is 3; only sent for COMPLIANCE (pulumi-aws derives the mode from it)


DEFAULT_VAULT_LOCK = VaultLockProfile(
    LockMode.GOVERNANCE, min_retention_days=7, max_retention_days=400, changeable_for_days=3
)


# ---------------------------------------------------------------------------------------------------------------
# Account compromise (ransomware, a stolen admin credential): every recovery point inside the account can be
# deleted or re-encrypted by whoever holds it, so only a copy *outside* the account counts. Its objective is held
# apart from ``FailureMode`` because a different mechanism delivers it (isolated copies, not versioning or
# replicas) and only stores of a tier whose isolated copies are on carry it; the RPO is the interval between copies
# that reach the isolated vault (a daily S3 snapshot: 24 h; copies of continuous backups lose point-in-time restore),
# the RTO a restore from that vault into a clean account (docs/runbooks/recover-from-account-compromise.md).
ACCOUNT_COMPROMISE = "account-compromise"

# A logically air-gapped vault: AWS requires a minimum retention of at least 7 days (CreateLogicallyAirGappedBackupVault
# MinRetentionDays) and a maximum; a copy whose lifecycle falls outside [min, max] fails.
AIR_GAPPED_MIN_RETENTION_DAYS = 7
# AWS Backup for S3: continuous backups keep at most 35 days of point-in-time restore.
S3_CONTINUOUS_MAX_DAYS = 35
# The periodic S3 snapshot copied to the isolated vault: daily, so the isolated copy's RPO is 24 h.
S3_SNAPSHOT_RPO_MINUTES = 1440
# A restore-testing selection takes '*' with conditions or at most 30 ARNs; its validation window is 0-168 h
# (CreateRestoreTestingSelection, ValidationWindowHours).
MAX_RESTORE_TEST_ARNS = 30
RESTORE_VALIDATION_WINDOW_HOURS = (0, 168)


@dataclass(frozen=True)
class IsolationProfile:
    """What a tier gets against account compromise: whether its recovery points are copied to an isolated vault by
    default, and the objective those copies give (``None`` fields: not covered, even when switched on)."""

    tier: int
    isolated_copy_default: bool
    account_compromise: Objective


ISOLATION: dict[int, IsolationProfile] = {
    # Daily S3 snapshots (tables copy each hourly backup) restored into a clean account: a day of data at worst,
    # half a day to stand the account up (bootstrap, keys, vault share) and restore.
    1: IsolationProfile(1, True, Objective(rpo_minutes=1440, rto_minutes=720)),
    # Opt-in: the daily table backup copied out; restoring without a rehearsed runbook takes longer.
    2: IsolationProfile(2, False, Objective(rpo_minutes=1440, rto_minutes=1440)),
    3: IsolationProfile(3, False, NOT_COVERED),
}
