"""DynamoDB global tables (``tables[i]``) and the stack's AWS Backup settings (``backup``).

Types, ranges and unknown keys come from the models; the rules that need the tier, the stack's regions, the vault
locks or several keys at once are plain functions below, run only on an entry that parsed (as ``buckets.py`` does).

What AWS imposes, and why each rule exists:
- a hash/range key or GSI key must be a declared attribute, of type S, N or B;
- current global tables need on-demand capacity, or provisioned capacity with autoscaling, on every replica;
- multi-Region strong consistency (MRSC): exactly three regions of one region set, or two plus a witness; created
  empty; the mode cannot change later; no TTL, no transactions, no ReplicationLatency metric. A regional RPO of 0 is
  only honest on MRSC: MREC replicates in about a second with no guarantee;
- PITR keeps 1 to 35 days; AWS Backup jobs run at most hourly; a cold recovery point stays 90 days; every
  retention must fit the min/max of every vault lock it lands in, or the jobs fail at run time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from stackmodel.config.buckets import LOGICAL_NAME, ObjectiveEntry, ObjectivesEntry
from stackmodel.config.errors import MAX_DAYS, Problems, Unit, described, dr_error, key_position
from stackmodel.config.fields import Region
from stackmodel.config.isolation import (
    NO_ISOLATION,
    AirGappedVault,
    AirGappedVaultEntry,
    IsolatedCopiesEntry,
    Isolation,
    RestoreTesting,
    RestoreTestingEntry,
    S3Backup,
    S3BackupEntry,
    VaultAccount,
    VaultAccountEntry,
)
from stackmodel.config.schedules import SHAPE_PATTERN as SCHEDULE_SHAPE_PATTERN
from stackmodel.config.schedules import schedule_problem
from stackmodel.regions import region_partitions
from stackmodel.tiers import (
    BACKUP_RPO_SCHEDULES,
    COLD_STORAGE_MINIMUM_DAYS,
    DEFAULT_VAULT_LOCK,
    MIN_BACKUP_RPO_MINUTES,
    MREC_REGIONAL_RPO_FLOOR_MINUTES,
    PITR_PERIOD_RANGE,
    S3_CONTINUOUS_MAX_DAYS,
    TABLE_TIERS,
    FailureMode,
    LockMode,
    Objective,
    TableBackupProfile,
    TableTierProfile,
    VaultLockProfile,
)

# Regions that can hold an MRSC table (replicas and witness from one set): the DynamoDB API reference,
# CreateGlobalTableWitnessGroupMemberAction ("within the same Region set").
MRSC_REGION_SETS: dict[str, frozenset[str]] = {
    "US": frozenset({"us-east-1", "us-east-2", "us-west-2"}),
    "EU": frozenset({"eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1"}),
    "AP": frozenset({"ap-northeast-1", "ap-northeast-2", "ap-northeast-3"}),
}
MRSC_REGION_COUNT = 3
# Each table's runtime functions and roles are named <namePrefix>-<table>-<purpose> (components/tables.py); Lambda
# function names and IAM role names take at most 64 characters (CreateFunction, CreateRole).
MAX_FUNCTION_NAME = 64
LONGEST_FUNCTION_SUFFIX = "-rpo-age"
# The Operation dimension values of ThrottledRequests and SystemErrors (DynamoDB "Metrics and dimensions").
OPERATIONS = (
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "BatchWriteItem",
    "TransactGetItems",
    "TransactWriteItems",
    "ExecuteStatement",
    "BatchExecuteStatement",
    "ExecuteTransaction",
)
TRANSACTION_OPERATIONS = ("TransactGetItems", "TransactWriteItems", "ExecuteTransaction")
DEFAULT_OPERATIONS = ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query")
MAX_ALARM_METRICS = 10  # a metric-math alarm sums at most 10 metrics
# Without a replica a region is recovered from AWS Backup copies: a restore, never faster than this.
RESTORE_FROM_COPY_MINUTES = 240
ATTRIBUTE_NAME = re.compile(
    described(r"^[A-Za-z0-9_.-]{1,255}$", "must be 1 to 255 letters, digits, '_', '-' or '.' (a DynamoDB name)")
)
BACKUP_VAULT_ARN = re.compile(
    described(
        r"^arn:aws[a-z-]*:backup:[a-z0-9-]+:\d{12}:backup-vault:[A-Za-z0-9_.-]{2,50}$",
        "must be a backup vault ARN (arn:<partition>:backup:<region>:<account>:backup-vault:<name>)",
    )
)


def _attribute_type(value: Any) -> Any:
    if value not in ("S", "N", "B"):
        raise dr_error("must be S, N or B (DynamoDB key attributes are strings, numbers or binary)")
    return value


def _tier(value: Any) -> Any:
    if not isinstance(value, int) or isinstance(value, bool) or value not in TABLE_TIERS:
        raise dr_error("must be 1, 2 or 3")
    return value


def _schedule(value: str) -> str:
    problem = schedule_problem(value)
    if problem is not None:
        raise dr_error(
            f"must be an EventBridge schedule: rate(<n> minute|minutes|hour|hours|day|days) or cron(<minutes> <hours> "
            f"<day-of-month> <month> <day-of-week> <year>) with '?' in one day field ({problem})"
        )
    return value


def _operation(value: Any) -> Any:
    if value not in OPERATIONS:
        raise dr_error(f"must be a DynamoDB operation CloudWatch reports ({', '.join(OPERATIONS)})")
    return value


AttributeName = Annotated[StrictStr, Field(pattern=ATTRIBUTE_NAME.pattern)]
Units = Annotated[StrictInt, Field(gt=0, le=40000)]
Days = Annotated[StrictInt, Field(gt=0, le=MAX_DAYS)]


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class AttributeEntry(_Entry):
    name: AttributeName
    type: Annotated[StrictStr, BeforeValidator(_attribute_type), Field(json_schema_extra={"enum": ["S", "N", "B"]})]


class CapacityEntry(_Entry):
    read_units: Units = Field(alias="readUnits")
    write_units: Units = Field(alias="writeUnits")


class AutoscalingEntry(_Entry):
    min_read_units: Units = Field(alias="minReadUnits")
    max_read_units: Units = Field(alias="maxReadUnits")
    min_write_units: Units = Field(alias="minWriteUnits")
    max_write_units: Units = Field(alias="maxWriteUnits")
    target_utilization: Annotated[StrictInt, Field(ge=20, le=90)] = Field(default=70, alias="targetUtilization")


# DynamoDB IndexName: 3 to 255 characters of a-z, A-Z, 0-9, '_', '-', '.' (CreateTable, GlobalSecondaryIndex).
INDEX_NAME = described(
    r"^[A-Za-z0-9_.-]{3,255}$", "must be 3 to 255 letters, digits, '_', '-' or '.' (a DynamoDB index name)"
)


class IndexEntry(_Entry):
    name: Annotated[StrictStr, Field(pattern=INDEX_NAME)]
    hash_key: AttributeName = Field(alias="hashKey")
    range_key: AttributeName | None = Field(default=None, alias="rangeKey")
    projection_type: Literal["ALL", "KEYS_ONLY", "INCLUDE"] = Field(default="ALL", alias="projectionType")
    non_key_attributes: list[AttributeName] | None = Field(default=None, alias="nonKeyAttributes")


class TableBackupEntry(_Entry):
    """Overrides of the tier's AWS Backup rule."""

    rpo_minutes: Annotated[StrictInt, Field(json_schema_extra={"enum": sorted(BACKUP_RPO_SCHEDULES)})] | None = Field(
        default=None, alias="rpoMinutes"
    )
    cold_storage_after_days: Days | None = Field(default=None, alias="coldStorageAfterDays")
    delete_after_days: Days | None = Field(default=None, alias="deleteAfterDays")


class ExportEntry(_Entry):
    """A scheduled ``ExportTableToPointInTime`` into one of the stack's buckets (``drctl export-table`` by hand)."""

    bucket: Annotated[StrictStr, Field(min_length=1, pattern=LOGICAL_NAME)]
    schedule: Annotated[
        StrictStr, AfterValidator(_schedule), Field(json_schema_extra={"pattern": SCHEDULE_SHAPE_PATTERN})
    ] = "rate(7 days)"


class TableEntry(_Entry):
    """One ``tables[i]`` entry as written in the stack file."""

    name: Annotated[StrictStr, Field(min_length=1, pattern=LOGICAL_NAME)]
    tier: Annotated[int, BeforeValidator(_tier), Field(json_schema_extra={"enum": sorted(TABLE_TIERS)})]
    hash_key: AttributeName = Field(alias="hashKey")
    range_key: AttributeName | None = Field(default=None, alias="rangeKey")
    attributes: Annotated[list[AttributeEntry], Field(min_length=1)]
    billing_mode: Literal["PAY_PER_REQUEST", "PROVISIONED"] = Field(default="PAY_PER_REQUEST", alias="billingMode")
    capacity: CapacityEntry | None = None
    autoscaling: AutoscalingEntry | None = None
    global_secondary_indexes: list[IndexEntry] = Field(default_factory=list, alias="globalSecondaryIndexes")
    replica_regions: list[Region] = Field(
        default_factory=list, alias="replicaRegions", json_schema_extra={"uniqueItems": True}
    )
    consistency_mode: Literal["EVENTUAL", "STRONG"] = Field(default="EVENTUAL", alias="consistencyMode")
    witness_region: Region | None = Field(default=None, alias="witnessRegion")
    ttl_attribute: AttributeName | None = Field(default=None, alias="ttlAttribute")
    uses_transactions: StrictBool = Field(default=False, alias="usesTransactions")
    stream_consumers: list[Annotated[StrictStr, Field(min_length=1)]] = Field(
        default_factory=list, alias="streamConsumers"
    )
    operations: (
        Annotated[
            list[
                Annotated[StrictStr, BeforeValidator(_operation), Field(json_schema_extra={"enum": list(OPERATIONS)})]
            ],
            Field(json_schema_extra={"uniqueItems": True, "minItems": 1, "maxItems": MAX_ALARM_METRICS}),
        ]
        | None
    ) = None
    pitr_recovery_period_days: (
        Annotated[
            StrictInt, Field(json_schema_extra={"minimum": PITR_PERIOD_RANGE[0], "maximum": PITR_PERIOD_RANGE[1]})
        ]
        | None
    ) = Field(default=None, alias="pitrRecoveryPeriodDays")
    objectives: ObjectivesEntry | None = None
    backup: TableBackupEntry | None = None
    export: ExportEntry | None = None


class VaultLockEntry(_Entry):
    mode: LockMode = LockMode.GOVERNANCE
    min_retention_days: Days = Field(default=DEFAULT_VAULT_LOCK.min_retention_days, alias="minRetentionDays")
    max_retention_days: Days = Field(default=DEFAULT_VAULT_LOCK.max_retention_days, alias="maxRetentionDays")
    changeable_for_days: Annotated[StrictInt, Field(ge=3, le=36500)] = Field(
        default=DEFAULT_VAULT_LOCK.changeable_for_days, alias="changeableForDays"
    )


class BackupSettingsEntry(_Entry):
    """The stack's AWS Backup settings (``backup``)."""

    UNKNOWN_KEY_NOUN: ClassVar[str] = "backup setting"

    manage_region_settings: StrictBool = Field(default=False, alias="manageRegionSettings")
    vault_lock: VaultLockEntry = Field(default_factory=VaultLockEntry, alias="vaultLock")
    include_rds: StrictBool = Field(default=False, alias="includeRds")
    cross_account_vault_arn: Annotated[StrictStr, Field(pattern=BACKUP_VAULT_ARN.pattern)] | None = Field(
        default=None, alias="crossAccountVaultArn"
    )
    # Isolated copies (stackmodel/config/isolation.py): per tier, and the vaults outside the account's reach.
    isolated_copies: IsolatedCopiesEntry = Field(default_factory=IsolatedCopiesEntry, alias="isolatedCopies")
    air_gapped_vault: AirGappedVaultEntry | None = Field(default=None, alias="airGappedVault")
    vault_account: VaultAccountEntry | None = Field(default=None, alias="vaultAccount")
    s3: S3BackupEntry = Field(default_factory=S3BackupEntry)
    restore_testing: RestoreTestingEntry | None = Field(default=None, alias="restoreTesting")
    # A Backup Audit Manager framework and its report plan; needs AWS Config recording (docs/costs.md).
    audit: StrictBool = False


DEFAULT_S3_BACKUP = S3Backup("replica", S3_CONTINUOUS_MAX_DAYS, 35)


@dataclass(frozen=True)
class BackupSettings:
    manage_region_settings: bool  # aws.backup.RegionSettings: only ever writes true, for the types the stack owns
    vault_lock: VaultLockProfile
    include_rds: bool
    cross_account_vault_arn: str | None
    isolation: Isolation = NO_ISOLATION
    s3: S3Backup = DEFAULT_S3_BACKUP
    restore_testing: RestoreTesting | None = None
    audit: bool = False


DEFAULT_BACKUP_SETTINGS = BackupSettings(False, DEFAULT_VAULT_LOCK, False, None)


@dataclass(frozen=True)
class Capacity:
    read_units: int
    write_units: int


@dataclass(frozen=True)
class Autoscaling:
    min_read_units: int
    max_read_units: int
    min_write_units: int
    max_write_units: int
    target_utilization: int


@dataclass(frozen=True)
class Index:
    name: str
    hash_key: str
    range_key: str | None
    projection_type: str
    non_key_attributes: tuple[str, ...]


@dataclass(frozen=True)
class ExportSpec:
    bucket: str  # the logical bucket name (buckets[i].name)
    schedule: str


@dataclass(frozen=True)
class TableSpec:
    name: str  # logical name: the app's setting /dr/<app>/active-table/<name>
    tier: int
    table_name: str  # physical: <namePrefix>-<name>
    hash_key: str
    range_key: str | None
    attributes: tuple[tuple[str, str], ...]
    billing_mode: str
    capacity: Capacity | None
    autoscaling: Autoscaling | None
    indexes: tuple[Index, ...]
    primary_region: str
    replica_regions: tuple[str, ...]
    consistency_mode: str  # EVENTUAL (MREC) or STRONG (MRSC)
    witness_region: str | None
    ttl_attribute: str | None
    uses_transactions: bool
    stream_consumers: tuple[str, ...]
    operations: tuple[str, ...]
    pitr_recovery_period_days: int
    objectives: Mapping[FailureMode, Objective]
    backup: TableBackupProfile | None
    export: ExportSpec | None = None

    @property
    def profile(self) -> TableTierProfile:
        return TABLE_TIERS[self.tier]

    @property
    def regions(self) -> tuple[str, ...]:
        return (self.primary_region, *self.replica_regions)

    @property
    def strong(self) -> bool:
        return self.consistency_mode == "STRONG"

    @property
    def stream_enabled(self) -> bool:
        """MREC global tables require NEW_AND_OLD_IMAGES; an MRSC table streams only for a consumer."""
        return (bool(self.replica_regions) and not self.strong) or bool(self.stream_consumers)


@dataclass(frozen=True)
class TableContext:
    """What a table's rules need from the rest of the config; None where that part did not parse."""

    prefix: str | None
    primary_region: str | None
    recovery_region: str | None
    bucket_names: frozenset[str] | None
    backup: BackupSettings | None


class _Reporter:
    def __init__(self, unit: Unit, problems: Problems) -> None:
        self.unit = unit
        self.problems = problems
        self.count = 0

    def add(self, keys: tuple[str | int, ...], message: str) -> None:
        self.problems.add(self.unit, key_position(TableEntry, keys[0]), self.unit.at(*keys), message)
        self.count += 1


def backup_settings(entry: BackupSettingsEntry, unit: Unit, problems: Problems) -> BackupSettings | None:
    lock = entry.vault_lock
    if lock.min_retention_days > lock.max_retention_days:
        problems.add(
            unit,
            key_position(BackupSettingsEntry, "vaultLock"),
            unit.at("vaultLock", "minRetentionDays"),
            f"must not exceed maxRetentionDays ({lock.max_retention_days}), got {unit.show(lock.min_retention_days)}",
        )
        return None
    bounded = [("airGappedVault", entry.air_gapped_vault), ("vaultAccount", entry.vault_account)]
    for key, vault in bounded:
        if vault is not None and vault.min_retention_days > vault.max_retention_days:
            problems.add(
                unit,
                key_position(BackupSettingsEntry, key),
                unit.at(key, "minRetentionDays"),
                f"must not exceed maxRetentionDays ({vault.max_retention_days}), "
                f"got {unit.show(vault.min_retention_days)}",
            )
            return None
    lag, account = entry.air_gapped_vault, entry.vault_account
    testing = entry.restore_testing
    return BackupSettings(
        manage_region_settings=entry.manage_region_settings,
        vault_lock=VaultLockProfile(
            lock.mode, lock.min_retention_days, lock.max_retention_days, lock.changeable_for_days
        ),
        include_rds=entry.include_rds,
        cross_account_vault_arn=entry.cross_account_vault_arn,
        isolation=Isolation(
            tiers=frozenset(
                tier for tier, on in ((1, entry.isolated_copies.tier1), (2, entry.isolated_copies.tier2)) if on
            ),
            air_gapped=AirGappedVault(
                lag.min_retention_days, lag.max_retention_days, lag.recovery_account_id, frozenset(lag.resource_types)
            )
            if lag
            else None,
            vault_account=VaultAccount(
                account.account_id,
                account.role_arn,
                account.organization_id,
                account.min_retention_days,
                account.max_retention_days,
                account.changeable_for_days,
            )
            if account
            else None,
        ),
        s3=S3Backup(entry.s3.target, entry.s3.continuous_retention_days, entry.s3.snapshot_retention_days),
        restore_testing=RestoreTesting(testing.schedule, testing.validation_window_hours, testing.selection_window_days)
        if testing
        else None,
        audit=entry.audit,
    )


def table_spec(entry: TableEntry, context: TableContext, unit: Unit, problems: Problems) -> TableSpec | None:
    """The tier's and AWS's rules over one parsed entry; a spec when every rule passes."""
    report = _Reporter(unit, problems)
    profile = TABLE_TIERS[entry.tier]
    show = unit.show

    _check_keys(entry, report)
    capacity, autoscaling = _capacity(entry, report)
    regions = _check_regions(entry, context, profile, report)
    _check_strong_consistency(entry, context, report)
    operations = _operations(entry, report)
    pitr_days = _pitr_days(entry, profile, report, show)
    backup = _backup(entry, profile, context, report, show)
    objectives = _objectives(entry, profile, backup, report, show)
    export = _export(entry, context, report)

    if context.prefix is not None:
        longest = f"{context.prefix}-{entry.name}{LONGEST_FUNCTION_SUFFIX}"
        if len(longest) > MAX_FUNCTION_NAME:
            report.add(
                ("name",),
                f"makes the function and role name {show(longest)} longer than the {MAX_FUNCTION_NAME} characters "
                "Lambda and IAM allow; shorten the table name or namePrefix",
            )
    if report.count or context.prefix is None or context.primary_region is None:
        return None
    return TableSpec(
        name=entry.name,
        tier=entry.tier,
        table_name=f"{context.prefix}-{entry.name}",
        hash_key=entry.hash_key,
        range_key=entry.range_key,
        attributes=tuple((a.name, a.type) for a in entry.attributes),
        billing_mode=entry.billing_mode,
        capacity=capacity,
        autoscaling=autoscaling,
        indexes=tuple(
            Index(i.name, i.hash_key, i.range_key, i.projection_type, tuple(i.non_key_attributes or ()))
            for i in entry.global_secondary_indexes
        ),
        primary_region=context.primary_region,
        replica_regions=regions,
        consistency_mode=entry.consistency_mode,
        witness_region=entry.witness_region,
        ttl_attribute=entry.ttl_attribute,
        uses_transactions=entry.uses_transactions,
        stream_consumers=tuple(entry.stream_consumers),
        operations=operations,
        pitr_recovery_period_days=pitr_days,
        objectives=objectives,
        backup=backup,
        export=export,
    )


def _check_keys(entry: TableEntry, report: _Reporter) -> None:
    show = report.unit.show
    declared = [a.name for a in entry.attributes]
    seen: set[str] = set()
    for position, name in enumerate(declared):
        if name in seen:
            report.add(("attributes", position, "name"), f"duplicate attribute {show(name)}")
        seen.add(name)
    for key in ("hashKey", "rangeKey"):
        value = entry.hash_key if key == "hashKey" else entry.range_key
        if value is not None and value not in seen:
            report.add((key,), f"{show(value)} is not declared in attributes")
    used = {entry.hash_key, entry.range_key}
    for position, index in enumerate(entry.global_secondary_indexes):
        for key, value in (("hashKey", index.hash_key), ("rangeKey", index.range_key)):
            if value is not None and value not in seen:
                report.add(
                    ("globalSecondaryIndexes", position, key),
                    f"{show(value)} is not declared in attributes",
                )
            used.add(value)
        if (index.projection_type == "INCLUDE") != bool(index.non_key_attributes):
            report.add(
                ("globalSecondaryIndexes", position, "nonKeyAttributes"),
                "is required with projectionType INCLUDE and only allowed with it",
            )
    # DynamoDB rejects attribute definitions no key or index uses.
    for position, name in enumerate(declared):
        if name not in used:
            report.add(
                ("attributes", position, "name"),
                f"{show(name)} is neither a table nor an index key; DynamoDB declares key attributes only",
            )
    names = [index.name for index in entry.global_secondary_indexes]
    if len(set(names)) != len(names):
        report.add(("globalSecondaryIndexes",), "index names must be unique")


def _capacity(entry: TableEntry, report: _Reporter) -> tuple[Capacity | None, Autoscaling | None]:
    if entry.billing_mode == "PAY_PER_REQUEST":
        for key, value in (("capacity", entry.capacity), ("autoscaling", entry.autoscaling)):
            if value is not None:
                report.add((key,), "only applies to billingMode PROVISIONED")
        return None, None
    if entry.capacity is None:
        report.add(("capacity",), "is required with billingMode PROVISIONED (readUnits, writeUnits)")
    if entry.autoscaling is None and entry.replica_regions:
        report.add(
            ("autoscaling",),
            "is required for a PROVISIONED table with replicas: global tables need on-demand capacity or "
            "autoscaling on every replica",
        )
    scaling = entry.autoscaling
    if scaling is not None:
        for low, high, key in (
            (scaling.min_read_units, scaling.max_read_units, "minReadUnits"),
            (scaling.min_write_units, scaling.max_write_units, "minWriteUnits"),
        ):
            if low > high:
                report.add(("autoscaling", key), f"must not exceed its maximum ({high}), got {low}")
    capacity = Capacity(entry.capacity.read_units, entry.capacity.write_units) if entry.capacity else None
    autoscaling = (
        Autoscaling(
            scaling.min_read_units,
            scaling.max_read_units,
            scaling.min_write_units,
            scaling.max_write_units,
            scaling.target_utilization,
        )
        if scaling
        else None
    )
    return capacity, autoscaling


def _mrsc_set(regions: list[str]) -> str | None:
    return next((name for name, members in MRSC_REGION_SETS.items() if set(regions) <= members), None)


def _check_regions(
    entry: TableEntry, context: TableContext, profile: TableTierProfile, report: _Reporter
) -> tuple[str, ...]:
    show = report.unit.show
    primary = context.primary_region
    seen: set[str] = set()
    home = region_partitions().get(primary) if primary else None
    for position, region in enumerate(entry.replica_regions):
        if home is not None and region_partitions()[region] != home:
            report.add(
                ("replicaRegions", position),
                f"{show(region)} is in partition {region_partitions()[region]!r}, the table's primary region "
                f"{show(primary)} in {home!r}: a global table replicates within one partition",
            )
        elif region == primary:
            report.add(("replicaRegions", position), f"{show(region)} is the primary region; replicas go elsewhere")
        elif region in seen:
            report.add(("replicaRegions", position), f"duplicate region {show(region)}")
        seen.add(region)
    if profile.replicas_required and not entry.replica_regions:
        report.add(("replicaRegions",), f"tier {profile.tier} needs at least one replica region")
    if context.recovery_region and entry.replica_regions and context.recovery_region not in entry.replica_regions:
        report.add(
            ("replicaRegions",),
            f"must include the stack's recoveryRegion {show(context.recovery_region)}, where failover goes",
        )
    if entry.witness_region is not None and home is not None and region_partitions()[entry.witness_region] != home:
        report.add(("witnessRegion",), f"must be in the primary region's partition {home!r}")
    if entry.witness_region is not None and entry.witness_region in {primary, *entry.replica_regions}:
        report.add(("witnessRegion",), "must differ from the table's primary and replica regions")
    return tuple(entry.replica_regions)


def _check_strong_consistency(entry: TableEntry, context: TableContext, report: _Reporter) -> None:
    """MRSC's limits; a witness only exists on MRSC."""
    show = report.unit.show
    if entry.consistency_mode != "STRONG":
        if entry.witness_region is not None:
            report.add(("witnessRegion",), "only applies to consistencyMode STRONG (MRSC)")
        return
    if entry.ttl_attribute is not None:
        report.add(("ttlAttribute",), "MRSC tables (consistencyMode STRONG) do not support TTL")
    if entry.uses_transactions:
        report.add(
            ("usesTransactions",),
            "MRSC tables (consistencyMode STRONG) do not support transactions; use EVENTUAL with a regional RPO "
            "of at least 1 minute",
        )
    replicas = list(entry.replica_regions)
    count = 1 + len(replicas) + (entry.witness_region is not None)
    if count != MRSC_REGION_COUNT:
        report.add(
            ("replicaRegions",),
            f"MRSC needs exactly three regions (primary + replicas, or primary + one replica + witnessRegion), "
            f"got {count}",
        )
    regions = [r for r in (context.primary_region, *replicas, entry.witness_region) if r is not None]
    if _mrsc_set(regions) is None:
        sets = "; ".join(f"{name}: {', '.join(sorted(members))}" for name, members in MRSC_REGION_SETS.items())
        report.add(
            ("replicaRegions",),
            f"MRSC regions must all come from one region set ({sets}), got {show(sorted(regions))}",
        )


def _operations(entry: TableEntry, report: _Reporter) -> tuple[str, ...]:
    operations = list(entry.operations) if entry.operations is not None else list(DEFAULT_OPERATIONS)
    if entry.operations is None and entry.uses_transactions:
        operations.append("TransactWriteItems")
    if not operations:
        report.add(("operations",), "must name at least one operation the application uses")
    if len(set(operations)) != len(operations):
        report.add(("operations",), "contains duplicates")
    if len(operations) > MAX_ALARM_METRICS:
        report.add(("operations",), f"at most {MAX_ALARM_METRICS}: one metric-math alarm sums them")
    if not entry.uses_transactions:
        for operation in operations:
            if operation in TRANSACTION_OPERATIONS:
                report.add(("operations",), f"{operation} needs usesTransactions: true")
    return tuple(operations)


def _pitr_days(entry: TableEntry, profile: TableTierProfile, report: _Reporter, show: Any) -> int:
    days = entry.pitr_recovery_period_days
    if days is None:
        return profile.pitr_recovery_period_days
    low, high = PITR_PERIOD_RANGE
    if not low <= days <= high:
        report.add(("pitrRecoveryPeriodDays",), f"PITR keeps {low} to {high} days, got {show(days)}")
    elif days < profile.pitr_recovery_period_days:
        report.add(
            ("pitrRecoveryPeriodDays",),
            f"may only lengthen tier {profile.tier}'s {profile.pitr_recovery_period_days} days, got {show(days)}",
        )
    return days


def _backup(
    entry: TableEntry, profile: TableTierProfile, context: TableContext, report: _Reporter, show: Any
) -> TableBackupProfile | None:
    tier_backup = profile.backup
    given = entry.backup
    if tier_backup is None:
        if given is not None:
            report.add(("backup",), f"tier {profile.tier} has no AWS Backup plan (PITR only)")
        return None
    if given is None:
        backup = tier_backup
    else:
        fields = given.model_fields_set
        backup = TableBackupProfile(
            rpo_minutes=given.rpo_minutes if "rpo_minutes" in fields and given.rpo_minutes else tier_backup.rpo_minutes,
            cold_storage_after_days=(
                given.cold_storage_after_days
                if "cold_storage_after_days" in fields
                else tier_backup.cold_storage_after_days
            ),
            delete_after_days=given.delete_after_days or tier_backup.delete_after_days,
        )
        if given.rpo_minutes is not None:
            if given.rpo_minutes < MIN_BACKUP_RPO_MINUTES:
                report.add(
                    ("backup", "rpoMinutes"),
                    f"AWS Backup jobs run at most every {MIN_BACKUP_RPO_MINUTES} minutes, got "
                    f"{show(given.rpo_minutes)}; PITR already restores to any second (declare a logical RPO instead)",
                )
            elif given.rpo_minutes not in BACKUP_RPO_SCHEDULES:
                allowed = ", ".join(str(m) for m in BACKUP_RPO_SCHEDULES)
                report.add(
                    ("backup", "rpoMinutes"),
                    f"must be a schedule AWS Backup can run evenly through the day ({allowed}), "
                    f"got {show(given.rpo_minutes)}",
                )
            elif given.rpo_minutes > tier_backup.rpo_minutes:
                report.add(
                    ("backup", "rpoMinutes"),
                    f"may only tighten tier {profile.tier}'s backup RPO of {tier_backup.rpo_minutes} min, "
                    f"got {show(given.rpo_minutes)}",
                )
    cold, delete = backup.cold_storage_after_days, backup.delete_after_days
    if cold is not None and delete < cold + COLD_STORAGE_MINIMUM_DAYS:
        report.add(
            ("backup", "deleteAfterDays"),
            f"must be at least coldStorageAfterDays + {COLD_STORAGE_MINIMUM_DAYS} = {cold + COLD_STORAGE_MINIMUM_DAYS}"
            f" (a cold recovery point stays {COLD_STORAGE_MINIMUM_DAYS} days), got {show(delete)}",
        )
    lock = context.backup.vault_lock if context.backup else None
    if lock is not None and not lock.min_retention_days <= delete <= lock.max_retention_days:
        report.add(
            ("backup", "deleteAfterDays"),
            f"{show(delete)} days is outside the vault lock's retention ({lock.min_retention_days} to "
            f"{lock.max_retention_days} days) in both regions; AWS Backup would fail every job",
        )
    return backup


def _objectives(
    entry: TableEntry,
    profile: TableTierProfile,
    backup: TableBackupProfile | None,
    report: _Reporter,
    show: Any,
) -> dict[FailureMode, Objective]:
    """The tier's defaults, tightened by the entry, within what the table's mechanisms deliver."""
    result = dict(profile.defaults)
    replicated = bool(entry.replica_regions)
    strong = entry.consistency_mode == "STRONG"
    if not replicated and result[FailureMode.REGIONAL].rpo_minutes is not None and backup is not None:
        # Without a replica, the regional copy is the newest backup copied to the recovery region.
        result[FailureMode.REGIONAL] = Objective(
            max(result[FailureMode.REGIONAL].rpo_minutes or 0, backup.rpo_minutes),
            max(result[FailureMode.REGIONAL].rto_minutes or 0, RESTORE_FROM_COPY_MINUTES),
        )
    declared_all = entry.objectives
    for mode in FailureMode:
        declared: ObjectiveEntry | None = getattr(declared_all, mode.value) if declared_all else None
        values = {"rpo_minutes": result[mode].rpo_minutes, "rto_minutes": result[mode].rto_minutes}
        for key, attribute, what in (("rpoMinutes", "rpo_minutes", "RPO"), ("rtoMinutes", "rto_minutes", "RTO")):
            value = getattr(declared, attribute) if declared else None
            if value is None:
                continue
            path = ("objectives", mode.value, key)
            floor = getattr(profile.floors[mode], attribute)
            default = values[attribute]
            if mode is FailureMode.REGIONAL and floor is not None:
                if not replicated:
                    floor = default
                elif attribute == "rpo_minutes" and not strong:
                    floor = MREC_REGIONAL_RPO_FLOOR_MINUTES
            if floor is None:
                report.add(
                    path,
                    f"tier {profile.tier} does not protect tables against {mode.value} loss, so it cannot provide a "
                    f"{mode.value} {what} of {show(value)} min; use a lower tier number",
                )
            elif value < floor:
                reason = (
                    "a regional RPO of 0 needs consistencyMode STRONG (MRSC): three regions of one region set, or "
                    "two plus witnessRegion; MREC replicates in about a second with no guarantee"
                    if mode is FailureMode.REGIONAL and attribute == "rpo_minutes" and value == 0 and replicated
                    else f"its mechanisms deliver {floor} min at best"
                    + ("" if replicated or mode is FailureMode.LOGICAL else " without replicaRegions")
                )
                report.add(
                    path, f"tier {profile.tier} cannot provide a {mode.value} {what} of {show(value)} min; {reason}"
                )
            elif default is not None and value > default:
                report.add(
                    path,
                    f"may only tighten tier {profile.tier}'s {mode.value} {what} of {default} min, got {show(value)}",
                )
            else:
                values[attribute] = value
        result[mode] = Objective(values["rpo_minutes"], values["rto_minutes"])
    return result


def _export(entry: TableEntry, context: TableContext, report: _Reporter) -> ExportSpec | None:
    if entry.export is None:
        return None
    if context.bucket_names is not None and entry.export.bucket not in context.bucket_names:
        report.add(
            ("export", "bucket"),
            f"{report.unit.show(entry.export.bucket)} is not one of the stack's buckets",
        )
    return ExportSpec(entry.export.bucket, entry.export.schedule)
