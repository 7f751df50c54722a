"""The one place that decides what each DR tier gets.

Objectives are held per failure mode because the mechanisms differ (seed 000's summary table):
- logical loss (accidental delete, overwrite, corruption): versioning + object lock give RPO 0;
- regional loss: cross-region replication with RTC gives RPO 15 min for 99.99% of objects
  (delete markers are outside that SLA).

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
        default_transitions=Transitions(standard_ia_days=30, glacier_days=90, deep_archive_days=180),
        default_noncurrent_expiration_days=365,
        delete_auto_restore=True,
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
        current_standard_ia_days=30,
    ),
}


def profile(tier: int) -> TierProfile:
    return TIERS[tier]
