"""Bucket entries (``buckets[i]``): their shape as pydantic models, then the rules that need the tier.

Types, ranges and unknown keys come from the models; a rule that depends on the entry's tier, on the stack's
name prefix and regions, or on several keys at once is a plain function below, run only on an entry that parsed.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations, pairwise
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from stackmodel.config.errors import (
    MAX_DAYS,
    MAX_MINUTES,
    SECRET_NOT_SHOWN,
    Problems,
    Unit,
    described,
    dr_error,
    key_position,
)
from stackmodel.config.formats import ISO_DATE_PATTERN
from stackmodel.tiers import (
    INSTANTLY_READABLE_CLASSES,
    MINIMUM_STORAGE_DAYS,
    TIERS,
    FailureMode,
    LockMode,
    Objective,
    TierProfile,
    Transitions,
)

# A tier-3 bucket every stack gets for S3 Batch Operations restores; no configured bucket may take its name.
BATCH_REPORTS_NAME = "dr-batch-reports"
# The reports bucket's twin in the recovery Region (StackSettings.recovery_reports): tier-1 replicas' inventories.
RECOVERY_REPORTS_NAME = "dr-recovery-reports"
LOGICAL_NAME = described(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$", "must be lowercase letters, digits and inner hyphens")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# The auto-restore Lambda once read "*" as the whole bucket; prefixes are literal, so a glob is a mistake.
GLOB_CHARACTERS = ("*", "?", "[")
TRANSITION_CLASSES = {"standardIaDays": "STANDARD_IA", "glacierDays": "GLACIER", "deepArchiveDays": "DEEP_ARCHIVE"}

Days = Annotated[StrictInt, Field(gt=0, le=MAX_DAYS)]
Minutes = Annotated[StrictInt, Field(ge=0, le=MAX_MINUTES)]


def _tier(value: Any) -> Any:
    if not isinstance(value, int) or isinstance(value, bool):
        raise dr_error("must be 1, 2 or 3")  # Literal alone would take True and 2.0
    return value


def _attestation(value: Any) -> dt.date:
    if isinstance(value, dt.date):
        attested = value
    else:
        try:
            if not (isinstance(value, str) and ISO_DATE.fullmatch(value)):
                raise ValueError(value)
            attested = dt.date.fromisoformat(value)
        except ValueError:
            raise dr_error("must be the ISO date (YYYY-MM-DD) the root user enabled MFA delete") from None
    return attested


def _prefix(value: Any) -> Any:
    if isinstance(value, str) and any(c in value for c in GLOB_CHARACTERS):
        raise dr_error("is a literal key prefix, not a pattern: remove '*', '?' and '[' ('' protects the whole bucket)")
    return value


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class TransitionsEntry(_Entry):
    """Days after a version becomes noncurrent before each storage-class transition; null turns one off."""

    KEEP_KEY_ORDER: ClassVar[bool] = True  # the order objects move through the classes

    standard_ia_days: (
        Annotated[Days, Field(json_schema_extra={"minimum": MINIMUM_STORAGE_DAYS["STANDARD_IA"]})] | None
    ) = Field(default=None, alias="standardIaDays")
    glacier_days: Days | None = Field(default=None, alias="glacierDays")
    deep_archive_days: Days | None = Field(default=None, alias="deepArchiveDays")


class ObjectiveEntry(_Entry):
    rpo_minutes: Minutes | None = Field(default=None, alias="rpoMinutes")
    rto_minutes: Minutes | None = Field(default=None, alias="rtoMinutes")


class ObjectivesEntry(_Entry):
    UNKNOWN_KEY_NOUN: ClassVar[str] = "failure mode"

    logical: ObjectiveEntry | None = None
    regional: ObjectiveEntry | None = None


class BucketEntry(_Entry):
    """One ``buckets[i]`` entry as written in the stack file."""

    name: Annotated[
        StrictStr, Field(min_length=1, pattern=LOGICAL_NAME, json_schema_extra={"not": {"const": BATCH_REPORTS_NAME}})
    ]
    tier: Annotated[Literal[1, 2, 3], BeforeValidator(_tier)]
    lock_days: Days | None = Field(default=None, alias="lockDays")
    lock_mode: LockMode | None = Field(default=None, alias="lockMode")
    transitions: TransitionsEntry | None = None
    noncurrent_expiration_days: Days | None = Field(default=None, alias="noncurrentExpirationDays")
    replica_storage_class: Literal["STANDARD", "STANDARD_IA"] | None = Field(default=None, alias="replicaStorageClass")
    auto_restore: StrictBool | None = Field(default=None, alias="autoRestore")
    protected_prefixes: list[Annotated[StrictStr, BeforeValidator(_prefix)]] | None = Field(
        default=None, alias="protectedPrefixes", json_schema_extra={"uniqueItems": True}
    )
    objectives: ObjectivesEntry | None = None
    mfa_delete_attested: (
        Annotated[dt.date, BeforeValidator(_attestation), Field(json_schema_extra={"pattern": ISO_DATE_PATTERN})] | None
    ) = Field(default=None, alias="mfaDeleteAttested")


@dataclass(frozen=True)
class BucketSpec:
    name: str
    tier: int
    qualified_name: str  # <namePrefix>-<name>: the stem of every physical name the component derives
    primary_bucket_name: str
    replica_bucket_name: str | None
    lock_mode: LockMode | None
    lock_days: int | None
    noncurrent_expiration_days: int
    transitions: Transitions
    replica_storage_class: str
    protected_prefixes: tuple[str, ...]  # literal key prefixes; "" is the whole bucket; () means auto-restore off
    objectives: Mapping[FailureMode, Objective]
    mfa_delete_attested: dt.date | None

    @property
    def profile(self) -> TierProfile:
        return TIERS[self.tier]


@dataclass(frozen=True)
class Naming:
    """What a bucket's physical names are built from; None where that top-level key did not parse."""

    prefix: str | None
    primary_region: str | None
    recovery_region: str | None
    secret: bool  # namePrefix or a region is secret, so a physical name is not shown either


def s3_bucket_name_problems(name: str) -> list[str]:
    """S3's general-purpose bucket naming rules."""
    problems = []
    if not 3 <= len(name) <= 63:
        problems.append(f"must be 3 to 63 characters long, got {len(name)}")
    if not re.fullmatch(r"[a-z0-9.-]+", name):
        problems.append("may contain only lowercase letters, digits, dots and hyphens")
    if name and not (name[0].isalnum() and name[-1].isalnum()):
        problems.append("must begin and end with a letter or digit")
    if ".." in name:
        problems.append("must not contain two adjacent dots")
    try:
        ipaddress.IPv4Address(name)
        problems.append("must not be formatted as an IP address")
    except ValueError:
        pass
    for prefix in ("xn--", "sthree-", "amzn-s3-demo-"):
        if name.startswith(prefix):
            problems.append(f"must not start with {prefix!r}")
    for suffix in ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"):
        if name.endswith(suffix):
            problems.append(f"must not end with {suffix!r}")
    return problems


class _Reporter:
    def __init__(self, unit: Unit, problems: Problems) -> None:
        self.unit = unit
        self.problems = problems
        self.count = 0

    def add(self, keys: tuple[str, ...], message: str) -> None:
        self.problems.add(self.unit, key_position(BucketEntry, keys[0]), self.unit.at(*keys), message)
        self.count += 1


def bucket_spec(entry: BucketEntry, naming: Naming, unit: Unit, problems: Problems) -> BucketSpec | None:
    """The tier's rules over one parsed entry; a spec when it passes and its names could be built."""
    report = _Reporter(unit, problems)
    profile = TIERS[entry.tier]
    show = unit.show

    primary_name = replica_name = None
    if naming.prefix and naming.primary_region:
        hidden = Unit(unit.path, unit.secret or naming.secret, unit.order)
        primary_name = f"{naming.prefix}-{entry.name}-{naming.primary_region}"
        for problem in s3_bucket_name_problems(primary_name):
            report.add(("name",), f"bucket name {hidden.show(primary_name)} {problem}")
        if profile.cross_region_replica and naming.recovery_region:
            replica_name = f"{naming.prefix}-{entry.name}-{naming.recovery_region}"
            for problem in s3_bucket_name_problems(replica_name):
                report.add(("name",), f"replica bucket name {hidden.show(replica_name)} {problem}")

    lock_mode, lock_days = _object_lock(entry, profile, report)
    transitions = _transitions(entry, profile)
    expiration = entry.noncurrent_expiration_days or profile.default_noncurrent_expiration_days
    _check_lifecycle(transitions, expiration, lock_days, report, show)
    replica_class = _replica_storage_class(entry, profile, report)
    prefixes = _protected_prefixes(entry, profile, report)
    objectives = _objectives(entry, profile, report, show)
    attested = entry.mfa_delete_attested
    if attested is not None and not profile.mfa_delete:
        report.add(("mfaDeleteAttested",), f"tier {profile.tier} does not use MFA delete")
    elif attested is not None and attested > dt.datetime.now(dt.UTC).date():
        report.add(("mfaDeleteAttested",), f"is in the future: {SECRET_NOT_SHOWN if unit.secret else attested}")

    if report.count or primary_name is None:
        return None
    return BucketSpec(
        name=entry.name,
        tier=entry.tier,
        qualified_name=f"{naming.prefix}-{entry.name}",
        primary_bucket_name=primary_name,
        replica_bucket_name=replica_name,
        lock_mode=lock_mode,
        lock_days=lock_days,
        noncurrent_expiration_days=expiration,
        transitions=transitions,
        replica_storage_class=replica_class,
        protected_prefixes=prefixes,
        objectives=objectives,
        mfa_delete_attested=entry.mfa_delete_attested,
    )


def _object_lock(entry: BucketEntry, profile: TierProfile, report: _Reporter) -> tuple[LockMode | None, int | None]:
    if profile.object_lock_mode is None:
        for key, value in (("lockDays", entry.lock_days), ("lockMode", entry.lock_mode)):
            if value is not None:
                report.add((key,), f"tier {profile.tier} has no object lock")
        return None, None
    days = entry.lock_days if entry.lock_days is not None else profile.default_lock_days
    floor = profile.default_lock_days
    if entry.lock_days is not None and floor is not None and entry.lock_days < floor:
        report.add(
            ("lockDays",),
            f"may only tighten tier {profile.tier}'s object-lock retention of {floor} days, "
            f"got {report.unit.show(entry.lock_days)}",
        )
    mode = entry.lock_mode or profile.object_lock_mode
    # GOVERNANCE can be bypassed by a privileged principal; COMPLIANCE cannot.
    if profile.object_lock_mode is LockMode.COMPLIANCE and mode is LockMode.GOVERNANCE:
        report.add(("lockMode",), f"may only tighten tier {profile.tier}'s COMPLIANCE mode; GOVERNANCE can be bypassed")
    return mode, days


def _transitions(entry: BucketEntry, profile: TierProfile) -> Transitions:
    defaults = profile.default_transitions
    if entry.transitions is None:
        return defaults
    given = entry.transitions.model_fields_set
    return Transitions(
        entry.transitions.standard_ia_days if "standard_ia_days" in given else defaults.standard_ia_days,
        entry.transitions.glacier_days if "glacier_days" in given else defaults.glacier_days,
        entry.transitions.deep_archive_days if "deep_archive_days" in given else defaults.deep_archive_days,
    )


def _check_lifecycle(
    transitions: Transitions, expiration: int, lock_days: int | None, report: _Reporter, show: Any
) -> None:
    """S3's lifecycle rules for noncurrent versions, checked here so AWS never rejects them at deploy."""
    days = (transitions.standard_ia_days, transitions.glacier_days, transitions.deep_archive_days)
    steps = [
        (key, storage_class, day)
        for (key, storage_class), day in zip(TRANSITION_CLASSES.items(), days, strict=True)
        if day is not None
    ]
    if transitions.standard_ia_days is not None and transitions.standard_ia_days < MINIMUM_STORAGE_DAYS["STANDARD_IA"]:
        report.add(
            ("transitions", "standardIaDays"),
            f"S3 needs at least 30 days before STANDARD_IA, got {show(transitions.standard_ia_days)}",
        )
    # Each class has a minimum storage duration: the next transition must wait it out.
    for (previous_key, previous_class, previous_day), (key, _, day) in pairwise(steps):
        earliest = previous_day + MINIMUM_STORAGE_DAYS[previous_class]
        if day < earliest:
            report.add(
                ("transitions", key),
                f"must be at least {show(earliest)}: objects stay {MINIMUM_STORAGE_DAYS[previous_class]} days in "
                f"{previous_class} after {previous_key} ({show(previous_day)}), got {show(day)}",
            )
    if steps:
        _, last_class, last_day = steps[-1]
        earliest = last_day + MINIMUM_STORAGE_DAYS[last_class]
        if expiration < earliest:
            report.add(
                ("noncurrentExpirationDays",),
                f"must be at least {show(earliest)} so versions meet the {last_class} minimum storage duration, "
                f"got {show(expiration)}",
            )
    if lock_days is not None and expiration < lock_days:
        report.add(
            ("noncurrentExpirationDays",),
            f"expires noncurrent versions after {show(expiration)} days, before the object-lock retention of "
            f"{show(lock_days)} days ends",
        )


def _replica_storage_class(entry: BucketEntry, profile: TierProfile, report: _Reporter) -> str:
    if entry.replica_storage_class is None:
        return profile.default_replica_storage_class
    if not profile.cross_region_replica:
        report.add(("replicaStorageClass",), f"tier {profile.tier} has no replica")
    assert entry.replica_storage_class in INSTANTLY_READABLE_CLASSES  # the model's Literal
    return entry.replica_storage_class


def _shown_prefix(prefix: str, show: Any) -> str:
    return "'' (the whole bucket)" if prefix == "" else show(prefix)


def _protected_prefixes(entry: BucketEntry, profile: TierProfile, report: _Reporter) -> tuple[str, ...]:
    """Literal key prefixes for delete auto-restore; omitted means the whole bucket, ``autoRestore: false`` none."""
    show = report.unit.show
    if not profile.delete_auto_restore:
        for key, value in (("autoRestore", entry.auto_restore), ("protectedPrefixes", entry.protected_prefixes)):
            if value is not None:
                report.add((key,), f"tier {profile.tier} has no delete auto-restore")
        return ()
    if entry.auto_restore is False:
        if entry.protected_prefixes is not None:
            report.add(("protectedPrefixes",), "has no effect with autoRestore: false; remove one of them")
        return ()
    raw = entry.protected_prefixes if entry.protected_prefixes is not None else [""]
    if not raw:
        report.add(
            ("protectedPrefixes",),
            "is empty; omit it to protect the whole bucket, or set autoRestore: false to turn auto-restore off",
        )
    if len(set(raw)) != len(raw):
        report.add(("protectedPrefixes",), "contains duplicates")
    # Each prefix becomes a DeleteMarkerCreated notification rule, and S3 rejects overlapping rules at deploy
    # ("Configurations overlap"). Duplicates are reported above, so each distinct pair is checked once.
    for first, second in combinations(dict.fromkeys(raw), 2):
        if first.startswith(second) or second.startswith(first):
            report.add(
                ("protectedPrefixes",),
                f"{_shown_prefix(first, show)} and {_shown_prefix(second, show)} overlap; S3 rejects overlapping "
                "DeleteMarkerCreated notification rules",
            )
    return tuple(raw)


def _objectives(entry: BucketEntry, profile: TierProfile, report: _Reporter, show: Any) -> dict[FailureMode, Objective]:
    """The tier's defaults, tightened by the entry; anything the mechanisms cannot deliver is an error."""
    result = dict(profile.defaults)
    if entry.objectives is None:
        return result
    for mode in FailureMode:
        declared: ObjectiveEntry | None = getattr(entry.objectives, mode.value)
        if declared is None:
            continue
        values: dict[str, int | None] = {}
        for key, attribute, what in (("rpoMinutes", "rpo_minutes", "RPO"), ("rtoMinutes", "rto_minutes", "RTO")):
            floor = getattr(profile.floors[mode], attribute)
            default = getattr(profile.defaults[mode], attribute)
            value = getattr(declared, attribute)
            values[attribute] = default
            if value is None:
                continue
            path = ("objectives", mode.value, key)
            if floor is None:
                report.add(
                    path,
                    f"tier {profile.tier} does not protect against {mode.value} loss, so it cannot provide a "
                    f"{mode.value} {what} of {show(value)} min; use a lower tier number",
                )
            elif value < floor:
                report.add(
                    path,
                    f"tier {profile.tier} cannot provide a {mode.value} {what} of {show(value)} min; its mechanisms "
                    f"deliver {floor} min at best",
                )
            elif default is not None and value > default:
                report.add(
                    path,
                    f"may only tighten tier {profile.tier}'s {mode.value} {what} of {default} min, got {show(value)}",
                )
            else:
                values[attribute] = value
        result[mode] = Objective(rpo_minutes=values["rpo_minutes"], rto_minutes=values["rto_minutes"])
    return result
