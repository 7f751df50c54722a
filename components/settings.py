"""Stack config parsed once into frozen dataclasses, with every problem reported by key path.

``parse`` never stops at the first problem: it collects all of them and raises one ``ConfigError``
whose message lists each as ``<key path>: <problem>``, before any resource is registered.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from itertools import combinations, pairwise
from typing import Any

import boto3

from components.tiers import (
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
CONFIG_KEYS = frozenset({"primaryRegion", "recoveryRegion", "namePrefix", "alertEmail", "buckets"})
STRUCTURED_KEYS = frozenset({"buckets"})
BUCKET_KEYS = frozenset(
    {
        "name",
        "tier",
        "lockDays",
        "lockMode",
        "noncurrentExpirationDays",
        "transitions",
        "replicaStorageClass",
        "protectedPrefixes",
        "objectives",
        "mfaDeleteAttested",
    }
)
TRANSITION_KEYS = {
    "standardIaDays": "STANDARD_IA",
    "glacierDays": "GLACIER",
    "deepArchiveDays": "DEEP_ARCHIVE",
}
OBJECTIVE_KEYS = frozenset({"rpoMinutes", "rtoMinutes"})
MAX_RETENTION_DAYS = 36500  # S3 object lock allows at most 100 years
LOGICAL_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ConfigError(ValueError):
    """Invalid stack config; ``problems`` holds one ``path: message`` line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        listing = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid stack config ({len(problems)} problem(s)):\n{listing}")


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
    protected_prefixes: tuple[str, ...]
    objectives: Mapping[FailureMode, Objective]
    mfa_delete_attested: dt.date | None

    @property
    def profile(self) -> TierProfile:
        return TIERS[self.tier]


@dataclass(frozen=True)
class StackSettings:
    primary_region: str
    recovery_region: str
    name_prefix: str
    alert_email: str
    batch_reports: BucketSpec  # the stack's own bucket for S3 Batch Operations manifests and reports
    buckets: tuple[BucketSpec, ...] = field(default_factory=tuple)


@cache
def region_partitions() -> dict[str, str]:
    """Region name -> partition, from botocore's bundled endpoint data (offline, no API call)."""
    session = boto3.session.Session()
    return {
        region: partition
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("s3", partition_name=partition)
    }


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


def read_raw(config: Mapping[str, str], project: str) -> dict[str, Any]:
    """The project's keys from the engine's config map (``project:key`` -> text).

    Structured values arrive as JSON text; scalars stay strings, so a name prefix such as ``2024`` is not
    turned into a number. Unknown project keys are kept, so ``parse`` reports a misspelled key instead of
    silently ignoring it.
    """
    raw: dict[str, Any] = {}
    for namespaced, text in config.items():
        namespace, _, key = namespaced.partition(":")
        if namespace != project:
            continue
        if key in STRUCTURED_KEYS:
            try:
                raw[key] = json.loads(text)
            except json.JSONDecodeError:
                raw[key] = text  # parse() reports the wrong type
        else:
            raw[key] = text
    return raw


def load(project: str) -> StackSettings:
    """Parse the running program's config: what the language host passed, plus anything set in-process."""
    from pulumi.runtime import config as runtime_config

    return parse(read_raw({**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}, project))


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(f"{path}: {message}")


def _reject_unknown_keys(
    raw: Mapping[str, Any], allowed: Sequence[str], path: str, problems: _Problems, *, noun: str = "key"
) -> None:
    """One problem per key outside ``allowed``, listing what is allowed in the order given."""
    for key in sorted(set(raw) - set(allowed)):
        problems.add(f"{path}.{key}" if path else key, f"unknown {noun} (allowed: {', '.join(allowed)})")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _positive_int(value: Any, path: str, problems: _Problems, *, maximum: int | None = None) -> int | None:
    if not _is_int(value):
        problems.add(path, f"must be an integer, got {value!r}")
        return None
    if value <= 0:
        problems.add(path, f"must be a positive number of days, got {value}")
        return None
    if maximum is not None and value > maximum:
        problems.add(path, f"must be at most {maximum}, got {value}")
        return None
    return int(value)


def _string(raw: Mapping[str, Any], key: str, path: str, problems: _Problems) -> str | None:
    if key not in raw:
        problems.add(path, "is required")
        return None
    value = raw[key]
    if not isinstance(value, str) or not value:
        problems.add(path, f"must be a non-empty string, got {value!r}")
        return None
    return value


def _region(raw: Mapping[str, Any], key: str, problems: _Problems) -> str | None:
    region = _string(raw, key, key, problems)
    if region is not None and region not in region_partitions():
        problems.add(key, f"unknown AWS region {region!r}")
        return None
    return region


def parse(raw: Mapping[str, Any]) -> StackSettings:
    """Validate the whole config; raise one ``ConfigError`` listing every problem."""
    problems = _Problems()
    _reject_unknown_keys(raw, sorted(CONFIG_KEYS), "", problems, noun="config key")
    primary = _region(raw, "primaryRegion", problems)
    recovery = _region(raw, "recoveryRegion", problems)
    if primary and recovery and primary == recovery:
        problems.add("recoveryRegion", f"must differ from primaryRegion, both are {primary!r}")
    elif primary and recovery and region_partitions()[primary] != region_partitions()[recovery]:
        problems.add(
            "recoveryRegion",
            f"{recovery!r} is in partition {region_partitions()[recovery]!r} but primaryRegion {primary!r} is in "
            f"{region_partitions()[primary]!r}; S3 cannot replicate across partitions",
        )
    prefix = _string(raw, "namePrefix", "namePrefix", problems)
    if prefix is not None and not LOGICAL_NAME.fullmatch(prefix):
        problems.add("namePrefix", f"must be lowercase letters, digits and inner hyphens, got {prefix!r}")
        prefix = None
    email = _string(raw, "alertEmail", "alertEmail", problems)
    if email is not None and not EMAIL.fullmatch(email):
        problems.add("alertEmail", f"must be an email address, got {email!r}")

    buckets: list[BucketSpec] = []
    raw_buckets = raw.get("buckets", [])
    if not isinstance(raw_buckets, list):
        problems.add("buckets", f"must be a list of bucket entries, got {type(raw_buckets).__name__}")
        raw_buckets = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(raw_buckets):
        path = f"buckets[{index}]"
        spec = _bucket(entry, path, prefix, primary, recovery, problems)
        if spec is None:
            continue
        if spec.name in seen:
            problems.add(f"{path}.name", f"duplicate bucket name {spec.name!r} (also buckets[{seen[spec.name]}])")
            continue
        if spec.name == BATCH_REPORTS_NAME:
            problems.add(f"{path}.name", f"{BATCH_REPORTS_NAME!r} is reserved for the stack's Batch Operations reports")
            continue
        seen[spec.name] = index
        buckets.append(spec)

    batch_reports = _bucket(
        {"name": BATCH_REPORTS_NAME, "tier": 3},
        f"namePrefix (for {BATCH_REPORTS_NAME})",
        prefix,
        primary,
        recovery,
        problems,
    )

    if problems.items:
        raise ConfigError(problems.items)
    assert primary and recovery and prefix and email and batch_reports  # every None above added a problem
    return StackSettings(primary, recovery, prefix, email, batch_reports, tuple(buckets))


def _bucket(
    entry: Any,
    path: str,
    prefix: str | None,
    primary: str | None,
    recovery: str | None,
    problems: _Problems,
) -> BucketSpec | None:
    if not isinstance(entry, Mapping):
        problems.add(path, f"must be a mapping, got {type(entry).__name__}")
        return None
    count_before = len(problems.items)
    _reject_unknown_keys(entry, sorted(BUCKET_KEYS), path, problems)

    name = _string(entry, "name", f"{path}.name", problems)
    if name is not None and not LOGICAL_NAME.fullmatch(name):
        problems.add(f"{path}.name", f"must be lowercase letters, digits and inner hyphens, got {name!r}")
        name = None
    tier = entry.get("tier")
    if "tier" not in entry:
        problems.add(f"{path}.tier", "is required")
        return None
    if not _is_int(tier) or tier not in TIERS:
        problems.add(f"{path}.tier", f"must be 1, 2 or 3, got {tier!r}")
        return None
    profile = TIERS[tier]

    primary_name = replica_name = None
    if name and prefix and primary:
        primary_name = f"{prefix}-{name}-{primary}"
        for problem in s3_bucket_name_problems(primary_name):
            problems.add(f"{path}.name", f"bucket name {primary_name!r} {problem}")
        if profile.cross_region_replica and recovery:
            replica_name = f"{prefix}-{name}-{recovery}"
            for problem in s3_bucket_name_problems(replica_name):
                problems.add(f"{path}.name", f"replica bucket name {replica_name!r} {problem}")

    lock_mode, lock_days = _object_lock(entry, path, profile, problems)
    transitions = _transitions(entry, path, profile, problems)
    expiration = profile.default_noncurrent_expiration_days
    if "noncurrentExpirationDays" in entry:
        expiration = (
            _positive_int(entry["noncurrentExpirationDays"], f"{path}.noncurrentExpirationDays", problems) or expiration
        )
    _check_lifecycle(path, transitions, expiration, lock_days, problems)
    replica_class = _replica_storage_class(entry, path, profile, problems)
    prefixes = _protected_prefixes(entry, path, problems)
    objectives = _objectives(entry, path, profile, problems)
    attested = _attestation(entry, path, profile, problems)

    if len(problems.items) > count_before or name is None or primary_name is None:
        return None
    return BucketSpec(
        name=name,
        tier=tier,
        qualified_name=f"{prefix}-{name}",
        primary_bucket_name=primary_name,
        replica_bucket_name=replica_name,
        lock_mode=lock_mode,
        lock_days=lock_days,
        noncurrent_expiration_days=expiration,
        transitions=transitions,
        replica_storage_class=replica_class,
        protected_prefixes=prefixes,
        objectives=objectives,
        mfa_delete_attested=attested,
    )


def _object_lock(
    entry: Mapping[str, Any], path: str, profile: TierProfile, problems: _Problems
) -> tuple[LockMode | None, int | None]:
    if profile.object_lock_mode is None:
        for key in ("lockDays", "lockMode"):
            if key in entry:
                problems.add(f"{path}.{key}", f"tier {profile.tier} has no object lock")
        return None, None
    days = profile.default_lock_days
    if "lockDays" in entry:
        days = _positive_int(entry["lockDays"], f"{path}.lockDays", problems, maximum=MAX_RETENTION_DAYS)
        if days is not None and profile.default_lock_days is not None and days < profile.default_lock_days:
            problems.add(
                f"{path}.lockDays",
                f"may only tighten tier {profile.tier}'s object-lock retention of {profile.default_lock_days} "
                f"days, got {days}",
            )
    mode: LockMode | None = profile.object_lock_mode
    if "lockMode" in entry:
        try:
            mode = LockMode(entry["lockMode"])
        except ValueError:
            problems.add(f"{path}.lockMode", f"must be COMPLIANCE or GOVERNANCE, got {entry['lockMode']!r}")
        else:
            # GOVERNANCE can be bypassed by a privileged principal; COMPLIANCE cannot.
            if profile.object_lock_mode is LockMode.COMPLIANCE and mode is LockMode.GOVERNANCE:
                problems.add(
                    f"{path}.lockMode",
                    f"may only tighten tier {profile.tier}'s COMPLIANCE mode; GOVERNANCE can be bypassed",
                )
    return mode, days


def _transitions(entry: Mapping[str, Any], path: str, profile: TierProfile, problems: _Problems) -> Transitions:
    defaults = profile.default_transitions
    raw = entry.get("transitions")
    if raw is None:
        return defaults
    if not isinstance(raw, Mapping):
        problems.add(f"{path}.transitions", f"must be a mapping, got {type(raw).__name__}")
        return defaults
    _reject_unknown_keys(raw, list(TRANSITION_KEYS), f"{path}.transitions", problems)
    values: dict[str, int | None] = {
        "standardIaDays": defaults.standard_ia_days,
        "glacierDays": defaults.glacier_days,
        "deepArchiveDays": defaults.deep_archive_days,
    }
    for key in TRANSITION_KEYS:
        if key in raw:
            values[key] = None if raw[key] is None else _positive_int(raw[key], f"{path}.transitions.{key}", problems)
    return Transitions(values["standardIaDays"], values["glacierDays"], values["deepArchiveDays"])


def _check_lifecycle(
    path: str, transitions: Transitions, expiration: int, lock_days: int | None, problems: _Problems
) -> None:
    """S3's lifecycle rules for noncurrent versions, checked here so AWS never rejects them at deploy."""
    days = (transitions.standard_ia_days, transitions.glacier_days, transitions.deep_archive_days)
    steps = [
        (key, storage_class, day)
        for (key, storage_class), day in zip(TRANSITION_KEYS.items(), days, strict=True)
        if day is not None
    ]
    at = f"{path}.transitions"
    if transitions.standard_ia_days is not None and transitions.standard_ia_days < MINIMUM_STORAGE_DAYS["STANDARD_IA"]:
        problems.add(
            f"{at}.standardIaDays", f"S3 needs at least 30 days before STANDARD_IA, got {transitions.standard_ia_days}"
        )
    # Each class has a minimum storage duration: the next transition must wait it out.
    for (previous_key, previous_class, previous_day), (key, _, day) in pairwise(steps):
        earliest = previous_day + MINIMUM_STORAGE_DAYS[previous_class]
        if day < earliest:
            problems.add(
                f"{at}.{key}",
                f"must be at least {earliest}: objects stay {MINIMUM_STORAGE_DAYS[previous_class]} days in "
                f"{previous_class} after {previous_key} ({previous_day}), got {day}",
            )
    if steps:
        _, last_class, last_day = steps[-1]
        earliest = last_day + MINIMUM_STORAGE_DAYS[last_class]
        if expiration < earliest:
            problems.add(
                f"{path}.noncurrentExpirationDays",
                f"must be at least {earliest} so versions meet the {last_class} minimum storage duration, "
                f"got {expiration}",
            )
    if lock_days is not None and expiration < lock_days:
        problems.add(
            f"{path}.noncurrentExpirationDays",
            f"expires noncurrent versions after {expiration} days, before the object-lock retention of "
            f"{lock_days} days ends",
        )


def _replica_storage_class(entry: Mapping[str, Any], path: str, profile: TierProfile, problems: _Problems) -> str:
    if "replicaStorageClass" not in entry:
        return profile.default_replica_storage_class
    value = entry["replicaStorageClass"]
    if not profile.cross_region_replica:
        problems.add(f"{path}.replicaStorageClass", f"tier {profile.tier} has no replica")
    elif value not in INSTANTLY_READABLE_CLASSES:
        problems.add(
            f"{path}.replicaStorageClass",
            f"must be one of {', '.join(INSTANTLY_READABLE_CLASSES)} so failover can read the replica, got {value!r}",
        )
    return str(value)


def _shown_prefix(prefix: str) -> str:
    return "'' (the whole bucket)" if prefix == "" else repr(prefix)


def _protected_prefixes(entry: Mapping[str, Any], path: str, problems: _Problems) -> tuple[str, ...]:
    raw = entry.get("protectedPrefixes", [""])
    if not isinstance(raw, list) or not all(isinstance(p, str) for p in raw):
        problems.add(f"{path}.protectedPrefixes", f"must be a list of key prefixes, got {raw!r}")
        return ()
    if len(set(raw)) != len(raw):
        problems.add(f"{path}.protectedPrefixes", "contains duplicates")
    # Each prefix becomes a DeleteMarkerCreated notification rule, and S3 rejects overlapping rules at deploy
    # ("Configurations overlap"). Duplicates are reported above, so each distinct pair is checked once.
    for first, second in combinations(dict.fromkeys(raw), 2):
        if first.startswith(second) or second.startswith(first):
            problems.add(
                f"{path}.protectedPrefixes",
                f"{_shown_prefix(first)} and {_shown_prefix(second)} overlap; S3 rejects overlapping "
                "DeleteMarkerCreated notification rules",
            )
    return tuple(raw)


def _objectives(
    entry: Mapping[str, Any], path: str, profile: TierProfile, problems: _Problems
) -> dict[FailureMode, Objective]:
    """The tier's defaults, tightened by the entry; anything the mechanisms cannot deliver is an error."""
    result = dict(profile.defaults)
    raw = entry.get("objectives")
    if raw is None:
        return result
    if not isinstance(raw, Mapping):
        problems.add(f"{path}.objectives", f"must be a mapping, got {type(raw).__name__}")
        return result
    modes = {m.value for m in FailureMode}
    _reject_unknown_keys(raw, sorted(modes), f"{path}.objectives", problems, noun="failure mode")
    for mode in FailureMode:
        declared = raw.get(mode.value)
        if declared is None:
            continue
        at = f"{path}.objectives.{mode.value}"
        if not isinstance(declared, Mapping):
            problems.add(at, f"must be a mapping with rpoMinutes/rtoMinutes, got {declared!r}")
            continue
        _reject_unknown_keys(declared, sorted(OBJECTIVE_KEYS), at, problems)
        values = {}
        for key, floor, default in (
            ("rpoMinutes", profile.floors[mode].rpo_minutes, profile.defaults[mode].rpo_minutes),
            ("rtoMinutes", profile.floors[mode].rto_minutes, profile.defaults[mode].rto_minutes),
        ):
            values[key] = default
            if key not in declared:
                continue
            value = declared[key]
            what = "RPO" if key == "rpoMinutes" else "RTO"
            if not _is_int(value) or value < 0:
                problems.add(f"{at}.{key}", f"must be a non-negative integer number of minutes, got {value!r}")
            elif floor is None:
                problems.add(
                    f"{at}.{key}",
                    f"tier {profile.tier} does not protect against {mode.value} loss, so it cannot provide a "
                    f"{mode.value} {what} of {value} min; use a lower tier number",
                )
            elif value < floor:
                problems.add(
                    f"{at}.{key}",
                    f"tier {profile.tier} cannot provide a {mode.value} {what} of {value} min; its mechanisms "
                    f"deliver {floor} min at best",
                )
            elif default is not None and value > default:
                problems.add(
                    f"{at}.{key}",
                    f"may only tighten tier {profile.tier}'s {mode.value} {what} of {default} min, got {value}",
                )
            else:
                values[key] = value
        result[mode] = Objective(rpo_minutes=values["rpoMinutes"], rto_minutes=values["rtoMinutes"])
    return result


def _attestation(entry: Mapping[str, Any], path: str, profile: TierProfile, problems: _Problems) -> dt.date | None:
    if "mfaDeleteAttested" not in entry:
        return None
    at = f"{path}.mfaDeleteAttested"
    if not profile.mfa_delete:
        problems.add(at, f"tier {profile.tier} does not use MFA delete")
        return None
    value = entry["mfaDeleteAttested"]
    if isinstance(value, dt.date):
        return value
    try:
        if not (isinstance(value, str) and ISO_DATE.fullmatch(value)):
            raise ValueError(value)
        attested = dt.date.fromisoformat(value)
    except ValueError:
        problems.add(at, f"must be the ISO date (YYYY-MM-DD) the root user enabled MFA delete, got {value!r}")
        return None
    if attested > dt.datetime.now(dt.UTC).date():
        problems.add(at, f"is in the future: {attested.isoformat()}")
        return None
    return attested
