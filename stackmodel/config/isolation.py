"""Isolated copies, AWS Backup for S3, restore testing and audit (``backup.*`` keys beyond the vault lock).

What AWS imposes, and why each rule exists (docs/contract.md, "Isolated copies"):
- a logically air-gapped vault needs a minimum retention of at least 7 days and a maximum; a copy whose lifecycle
  falls outside them fails at run time, so every copy retention that lands there is checked here;
- a vault holds only the resource types AWS lists for it ("Feature availability by resource"): a store whose type
  no configured isolated vault can hold is a config error, not a silent gap;
- a vault in another account is reached by a copy to a standard vault, which needs AWS Organizations (both
  accounts in one organisation, cross-account backup enabled by the management account) and a vault access policy
  granting ``backup:CopyIntoBackupVault``: its account, the role that deploys it, and the organisation are given;
- a restore-testing selection takes ``*`` with conditions or at most 30 ARNs, and a validation window of 0-168 h;
- AWS Backup for S3, air-gapped vaults (and copies into them) and restore testing are not offered in every Region
  (``stackmodel/regions.py``): a Region without the feature, or where it is not confirmed, is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from stackmodel.config.errors import MAX_DAYS, described
from stackmodel.regions import (
    AIR_GAPPED_COPY_IN_UNAVAILABLE,
    AIR_GAPPED_VAULT_UNAVAILABLE,
    RESTORE_TESTING_REGIONS,
    S3_BACKUP_REGIONS,
    partition,
)
from stackmodel.tiers import (
    AIR_GAPPED_MIN_RETENTION_DAYS,
    ISOLATION,
    RESTORE_VALIDATION_WINDOW_HOURS,
    S3_CONTINUOUS_MAX_DAYS,
)

ACCOUNT_ID = described(r"^\d{12}$", "must be a 12-digit AWS account id")
ROLE_ARN = described(
    r"^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$",
    "must be an IAM role ARN (arn:<partition>:iam::<account>:role/<name>)",
)
ORGANIZATION_ID = described(r"^o-[a-z0-9]{10,32}$", "must be an AWS Organizations id (o-…)")
RESTORE_SCHEDULE = described(
    r"^(rate\(\d+ (hour|hours|day|days)\)|cron\(.+\))$",
    "must be a rate(<n> hours|days) or cron(...) expression",
)

# AWS Backup resource types (the ResourceType values of its API) this project puts in AWS Backup.
S3 = "S3"
DYNAMODB = "DynamoDB"
# What a logically air-gapped vault can hold. AWS Backup Developer Guide, "Primary backups to logically air-gapped
# vaults" (lag-vault-primary-backup.html), "Resources supporting full AWS Backup management": "Amazon EFS, Amazon S3,
# Amazon DynamoDB with AWS Backup advanced features etc., that support full AWS Backup management, can back up
# directly to your logically air-gapped vault"; the page defers the full list to "Feature availability by resource",
# column "Logically air-gapped vault". Tables therefore need advanced DynamoDB backup (which the stack's cross-Region
# copies need already: backup.manageRegionSettings turns it on). Cross-Region copies into the vault are refused only
# for Aurora, DocumentDB and Neptune ("Logically air-gapped vault", Considerations and limitations).
AIR_GAPPED_VAULT_TYPES = frozenset({S3, DYNAMODB})
AirGappedType = Literal["S3", "DynamoDB"]
assert set(get_args(AirGappedType)) == AIR_GAPPED_VAULT_TYPES
# A standard vault in another account holds cross-account copies of both (advanced DynamoDB backup is what enables
# cross-account copies of tables; S3 backups support cross-account copies).
ACCOUNT_VAULT_TYPES = frozenset({S3, DYNAMODB})
Days = Annotated[StrictInt, Field(gt=0, le=MAX_DAYS)]
# Where each AWS Backup feature is offered: stackmodel/regions.py (AWS Backup, "Feature availability").
FEATURE_PAGE = "AWS Backup 'Feature availability', stackmodel/regions.py"


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class IsolatedCopiesEntry(_Entry):
    """Per tier: copy its recovery points to an isolated vault (tier 1 on by default)."""

    tier1: StrictBool = ISOLATION[1].isolated_copy_default
    tier2: StrictBool = ISOLATION[2].isolated_copy_default


class AirGappedVaultEntry(_Entry):
    """A logically air-gapped vault in the recovery Region (AWS-owned, compliance-locked, shared through RAM)."""

    min_retention_days: Annotated[StrictInt, Field(ge=AIR_GAPPED_MIN_RETENTION_DAYS, le=MAX_DAYS)] = Field(
        default=AIR_GAPPED_MIN_RETENTION_DAYS, alias="minRetentionDays"
    )
    max_retention_days: Days = Field(alias="maxRetentionDays")
    recovery_account_id: Annotated[StrictStr, Field(pattern=ACCOUNT_ID)] | None = Field(
        default=None, alias="recoveryAccountId"
    )
    # The AWS Backup types copied here (every type it can hold by default); the others go to backup.vaultAccount.
    resource_types: tuple[AirGappedType, ...] = Field(default=("DynamoDB", "S3"), alias="resourceTypes", min_length=1)


class VaultAccountEntry(_Entry):
    """A standard vault in another account of the same organisation, built by ``stacks/isolated-vault``."""

    UNKNOWN_KEY_NOUN: ClassVar[str] = "vaultAccount setting"

    account_id: Annotated[StrictStr, Field(pattern=ACCOUNT_ID)] = Field(alias="accountId")
    role_arn: Annotated[StrictStr, Field(pattern=ROLE_ARN)] = Field(alias="roleArn")
    organization_id: Annotated[StrictStr, Field(pattern=ORGANIZATION_ID)] = Field(alias="organizationId")
    min_retention_days: Days = Field(default=7, alias="minRetentionDays")
    max_retention_days: Days = Field(default=400, alias="maxRetentionDays")
    changeable_for_days: Annotated[StrictInt, Field(ge=3, le=36500)] = Field(default=3, alias="changeableForDays")


class S3BackupEntry(_Entry):
    """AWS Backup for the tier-1 buckets: continuous backups plus a daily snapshot copied to the isolated vault."""

    # The cost trap: AWS Backup stores every unexpired version. The replica has a lifecycle, the MFA-delete primary
    # none, so only the replica is backed up unless a stack opts into the primary's unbounded growth.
    target: Literal["replica", "primary"] = "replica"
    continuous_retention_days: Annotated[StrictInt, Field(ge=1, le=S3_CONTINUOUS_MAX_DAYS)] = Field(
        default=S3_CONTINUOUS_MAX_DAYS, alias="continuousRetentionDays"
    )
    snapshot_retention_days: Days = Field(default=35, alias="snapshotRetentionDays")


class RestoreTestingEntry(_Entry):
    """A restore-testing plan: restores a recent recovery point of every tier-1 store into a throw-away resource."""

    schedule: Annotated[StrictStr, Field(pattern=RESTORE_SCHEDULE)] = "cron(0 5 ? * SUN *)"
    validation_window_hours: Annotated[
        StrictInt, Field(ge=RESTORE_VALIDATION_WINDOW_HOURS[0], le=RESTORE_VALIDATION_WINDOW_HOURS[1])
    ] = Field(default=24, alias="validationWindowHours")
    # How recent a recovery point a test picks, in days (RecoveryPointSelection.SelectionWindowDays, 1-365).
    selection_window_days: Annotated[StrictInt, Field(ge=1, le=365)] = Field(default=7, alias="selectionWindowDays")


@dataclass(frozen=True)
class AirGappedVault:
    min_retention_days: int
    max_retention_days: int
    recovery_account_id: str | None
    resource_types: frozenset[str] = AIR_GAPPED_VAULT_TYPES  # the types copied here


@dataclass(frozen=True)
class VaultAccount:
    account_id: str
    role_arn: str
    organization_id: str
    min_retention_days: int
    max_retention_days: int
    changeable_for_days: int


@dataclass(frozen=True)
class S3Backup:
    target: str  # "replica" or "primary"
    continuous_retention_days: int
    snapshot_retention_days: int


@dataclass(frozen=True)
class RestoreTesting:
    schedule: str
    validation_window_hours: int
    selection_window_days: int


@dataclass(frozen=True)
class Isolation:
    """The stack's isolated copies: which tiers, and the vaults that hold them."""

    tiers: frozenset[int]
    air_gapped: AirGappedVault | None
    vault_account: VaultAccount | None

    @property
    def configured(self) -> bool:
        return self.air_gapped is not None or self.vault_account is not None

    def kind_for(self, resource_type: str) -> str | None:
        """The isolated vault a resource type is copied to: the air-gapped vault when it takes the type (AWS locks
        it; ``backup.airGappedVault.resourceTypes``), else the other account's vault; None when no configured vault
        takes it."""
        if self.air_gapped is not None and resource_type in self.air_gapped.resource_types:
            return "air-gapped"
        if self.vault_account is not None and resource_type in ACCOUNT_VAULT_TYPES:
            return "account"
        return None

    def retention_bounds(self, kind: str) -> tuple[int, int]:
        vault = self.air_gapped if kind == "air-gapped" else self.vault_account
        assert vault is not None
        return vault.min_retention_days, vault.max_retention_days


NO_ISOLATION = Isolation(frozenset({1}), None, None)


def isolated_vault_name(prefix: str, region: str) -> str:
    """The isolated vault's name, the same in the air-gapped case and in the other account (stacks/isolated-vault)."""
    return f"{prefix}-isolated-{region}"


def account_vault_arn(prefix: str, region: str, account_id: str) -> str:
    return f"arn:{partition(region)}:backup:{region}:{account_id}:backup-vault:{isolated_vault_name(prefix, region)}"


@dataclass(frozen=True)
class IsolatedStore:
    """A store that needs an isolated copy, as the checks below see it."""

    path: str  # where its config lives, e.g. "tables[1]"
    resource_type: str  # S3 or DynamoDB
    copy_retention_days: int  # what its copies keep


def isolation_problems(
    isolation: Isolation,
    s3: S3Backup,
    restore_testing: RestoreTesting | None,
    stores: list[IsolatedStore],
    regions: tuple[str, str] | None,
) -> list[tuple[str, str]]:
    """(path, message) for every store an isolated copy cannot serve. Without any isolated vault nothing is copied
    and the pack's ``aws-backup-tier1-isolated-copy`` reports the stores; here only what a configured vault refuses."""
    found: list[tuple[str, str]] = []
    if not isolation.configured:
        return found
    for store in stores:
        kind = isolation.kind_for(store.resource_type)
        if kind is None:
            found.append(
                (
                    store.path,
                    f"needs an isolated copy of {store.resource_type}, which no configured isolated vault takes "
                    "(backup.airGappedVault.resourceTypes: "
                    f"{', '.join(sorted(isolation.air_gapped.resource_types)) if isolation.air_gapped else 'none'}): "
                    "add it there, add backup.vaultAccount, or switch the tier off in backup.isolatedCopies",
                )
            )
            continue
        low, high = isolation.retention_bounds(kind)
        if not low <= store.copy_retention_days <= high:
            key = "airGappedVault" if kind == "air-gapped" else "vaultAccount"
            found.append(
                (
                    store.path,
                    f"its isolated copies keep {store.copy_retention_days} days, outside backup.{key}'s retention "
                    f"({low}-{high} days): AWS Backup would fail every copy",
                )
            )
    buckets = [store for store in stores if store.resource_type == S3]
    if regions is not None:
        found += region_problems(isolation, s3, restore_testing, stores, regions)
    if restore_testing is not None and len(buckets) > 30:
        found.append(
            (
                "backup.restoreTesting",
                f"a restore-testing selection names at most 30 buckets, the stack has {len(buckets)} tier-1 buckets",
            )
        )
    return found


def region_problems(
    isolation: Isolation,
    s3: S3Backup,
    restore_testing: RestoreTesting | None,
    stores: list[IsolatedStore],
    regions: tuple[str, str],
) -> list[tuple[str, str]]:
    """The AWS Backup features the config uses that its Regions lack (stackmodel/regions.py)."""
    primary, recovery = regions
    s3_region = primary if s3.target == "primary" else recovery
    types = {store.resource_type for store in stores}
    found: list[tuple[str, str]] = []
    if S3 in types and s3_region not in S3_BACKUP_REGIONS:
        found.append(("backup.s3.target", f"AWS Backup for S3 is not confirmed in {s3_region} ({FEATURE_PAGE})"))
    into_lag = {t for t in types if isolation.kind_for(t) == "air-gapped"}
    if into_lag and recovery in AIR_GAPPED_VAULT_UNAVAILABLE:
        found.append(
            ("backup.airGappedVault", f"no logically air-gapped vault is offered in {recovery} ({FEATURE_PAGE})")
        )
    # Tables are backed up in the primary Region; buckets where backup.s3.target puts them.
    elif into_lag and recovery in AIR_GAPPED_COPY_IN_UNAVAILABLE:
        sources = {DYNAMODB: primary, S3: s3_region}
        crossing = sorted(t for t in into_lag if sources.get(t, primary) != recovery)
        if crossing:
            found.append(
                (
                    "backup.airGappedVault",
                    f"copies of {', '.join(crossing)} would enter the air-gapped vault in {recovery} from another "
                    f"Region, which AWS does not offer there ({FEATURE_PAGE})",
                )
            )
    if restore_testing is not None:
        tested = {primary} if DYNAMODB in types else set()
        tested |= {s3_region} if S3 in types else set()
        for region in sorted(tested - RESTORE_TESTING_REGIONS):
            found.append(("backup.restoreTesting", f"restore testing is not confirmed in {region} ({FEATURE_PAGE})"))
    return found
