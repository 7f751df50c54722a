"""Issue 2, item 4: invalid config fails before any resource is registered, with one message listing every problem.

Every malformed case starts from the valid prod config (deep-copied) and changes ONE thing. Each case runs the
real ``__main__.py`` under the mock runtime, expects ``ConfigError``, checks the problem lines by key path and
checks that the monitor recorded zero registrations.

``harness.run_program_capturing`` drains pending RPCs before it closes the loop, so a registration queued
before the error would still be recorded.

Prod bucket indexes: 0 audio (tier 1), 1 uploads (tier 1), 2 profile-pictures (tier 2), 3 reporting (tier 2),
4 backup (tier 3).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from stackmodel.config import ConfigError, parse
from stackmodel.tiers import FailureMode, Objective
from tests.components.harness import Registration, run_program, run_program_capturing, stack_config

PROD = stack_config("prod")
BUCKET_KEYS_ALLOWED = (
    "autoRestore, lockDays, lockMode, mfaDeleteAttested, name, noncurrentExpirationDays, objectives, "
    "protectedPrefixes, replicaStorageClass, tier, transitions"
)
# Padded to 36 characters: "distronation-prod-" (18) + 36 + "-us-east-1" (10) = 64, one over S3's limit.
LONG_NAME = "u" * 36
FUTURE = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=30)).isoformat()


# ---------------------------------------------------------------------------------------------------------------
# Running the real program and keeping the monitor when it raises.


@dataclass
class Outcome:
    error: Exception | None
    registrations: list[Registration]


def run_recording(config: dict[str, Any]) -> Outcome:
    run, error = run_program_capturing(config)
    return Outcome(error, run.registrations)


# ---------------------------------------------------------------------------------------------------------------
# One change to the prod config.

Path = tuple[str | int, ...]


def set_(path: Path, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(config: dict[str, Any]) -> None:
        *parents, last = path
        node: Any = config
        for key in parents:
            node = node[key]
        node[last] = copy.deepcopy(value)

    return apply


def delete(path: Path) -> Callable[[dict[str, Any]], None]:
    def apply(config: dict[str, Any]) -> None:
        *parents, last = path
        node: Any = config
        for key in parents:
            node = node[key]
        del node[last]

    return apply


def mutated(*changes: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    config = copy.deepcopy(PROD)
    for change in changes:
        change(config)
    return config


@dataclass(frozen=True)
class Case:
    id: str
    change: Callable[[dict[str, Any]], None]
    problems: tuple[str, ...]
    # True: ``problems`` is the full list, in order. False: each line must be present (other rules may also fire).
    exact: bool = True


def long_name_lines(index: int, replica: bool) -> tuple[str, ...]:
    lines = [
        f"buckets[{index}].name: bucket name 'distronation-prod-{LONG_NAME}-us-east-1' "
        "must be 3 to 63 characters long, got 64"
    ]
    if replica:
        lines.append(
            f"buckets[{index}].name: replica bucket name 'distronation-prod-{LONG_NAME}-us-west-2' "
            "must be 3 to 63 characters long, got 64"
        )
    return tuple(lines)


def xn_prefix_lines() -> tuple[str, ...]:
    lines = []
    for index, entry in enumerate(PROD["buckets"]):
        lines.append(
            f"buckets[{index}].name: bucket name 'xn--prod-{entry['name']}-us-east-1' must not start with 'xn--'"
        )
        if entry["tier"] == 1:
            lines.append(
                f"buckets[{index}].name: replica bucket name 'xn--prod-{entry['name']}-us-west-2' "
                "must not start with 'xn--'"
            )
    # The stack's own Batch Operations reports bucket is named from the prefix too.
    lines.append(
        "namePrefix (for dr-batch-reports).name: bucket name 'xn--prod-dr-batch-reports-us-east-1' "
        "must not start with 'xn--'"
    )
    return tuple(lines)


MALFORMED = [
    # --- missing keys
    Case("missing-primaryRegion", delete(("primaryRegion",)), ("primaryRegion: is required",)),
    Case("missing-alertEmail", delete(("alertEmail",)), ("alertEmail: is required",)),
    Case("missing-namePrefix", delete(("namePrefix",)), ("namePrefix: is required",)),
    Case("missing-bucket-tier", delete(("buckets", 4, "tier")), ("buckets[4].tier: is required",)),
    Case("missing-bucket-name", delete(("buckets", 2, "name")), ("buckets[2].name: is required",)),
    # --- wrong types
    Case("tier-as-string", set_(("buckets", 0, "tier"), "1"), ("buckets[0].tier: must be 1, 2 or 3, got '1'",)),
    Case("tier-as-bool", set_(("buckets", 1, "tier"), True), ("buckets[1].tier: must be 1, 2 or 3, got True",)),
    Case("tier-as-float", set_(("buckets", 3, "tier"), 2.0), ("buckets[3].tier: must be 1, 2 or 3, got 2.0",)),
    Case(
        "buckets-not-a-list",
        set_(("buckets",), {"audio": {"tier": 1}}),
        ("buckets: must be a list of bucket entries, got dict",),
    ),
    Case("bucket-entry-not-a-mapping", set_(("buckets", 1), "uploads"), ("buckets[1]: must be a mapping, got str",)),
    Case(
        "lockDays-as-string",
        set_(("buckets", 0, "lockDays"), "30"),
        ("buckets[0].lockDays: must be an integer, got '30'",),
    ),
    Case(
        "noncurrentExpirationDays-as-string",
        set_(("buckets", 2, "noncurrentExpirationDays"), "180"),
        ("buckets[2].noncurrentExpirationDays: must be an integer, got '180'",),
    ),
    Case(
        "primaryRegion-as-number",
        set_(("primaryRegion",), 5),
        ("primaryRegion: must be an AWS region botocore knows, got '5'",),
    ),
    Case(
        "empty-bucket-name", set_(("buckets", 0, "name"), ""), ("buckets[0].name: must be a non-empty string, got ''",)
    ),
    Case(
        "transitions-not-a-mapping",
        set_(("buckets", 3, "transitions"), [30, 90]),
        ("buckets[3].transitions: must be a mapping, got list",),
    ),
    Case(
        "protectedPrefixes-not-a-list",
        set_(("buckets", 0, "protectedPrefixes"), "masters/"),
        ("buckets[0].protectedPrefixes: must be a list of key prefixes, got 'masters/'",),
    ),
    Case(
        "objectives-not-a-mapping",
        set_(("buckets", 1, "objectives"), "tight"),
        ("buckets[1].objectives: must be a mapping, got str",),
    ),
    # --- unknown tier
    Case("unknown-tier-4", set_(("buckets", 2, "tier"), 4), ("buckets[2].tier: must be 1, 2 or 3, got 4",)),
    Case("unknown-tier-0", set_(("buckets", 4, "tier"), 0), ("buckets[4].tier: must be 1, 2 or 3, got 0",)),
    # --- regions
    Case(
        "recovery-equals-primary",
        set_(("recoveryRegion",), "us-east-1"),
        ("recoveryRegion: must differ from primaryRegion, both are 'us-east-1'",),
    ),
    Case(
        "unknown-recoveryRegion",
        set_(("recoveryRegion",), "us-west-9"),
        ("recoveryRegion: must be an AWS region botocore knows, got 'us-west-9'",),
    ),
    Case(
        "uppercase-primaryRegion",
        set_(("primaryRegion",), "US-EAST-1"),
        ("primaryRegion: must be an AWS region botocore knows, got 'US-EAST-1'",),
    ),
    # --- names
    Case(
        "duplicate-bucket-name",
        set_(("buckets", 3, "name"), "profile-pictures"),
        ("buckets[3].name: duplicate bucket name 'profile-pictures' (also buckets[2])",),
    ),
    Case(
        "reserved-bucket-name",
        set_(("buckets", 4, "name"), "dr-batch-reports"),
        ("buckets[4].name: 'dr-batch-reports' is reserved for the stack's Batch Operations reports",),
    ),
    Case(
        "namePrefix-too-long-for-the-batch-reports-bucket",
        set_(("namePrefix",), "p" * 37),
        (
            # "profile-pictures" is as long as "dr-batch-reports": both names outgrow S3's 63 characters.
            f"buckets[2].name: bucket name '{'p' * 37}-profile-pictures-us-east-1' "
            "must be 3 to 63 characters long, got 64",
            f"namePrefix (for dr-batch-reports).name: bucket name '{'p' * 37}-dr-batch-reports-us-east-1' "
            "must be 3 to 63 characters long, got 64",
        ),
    ),
    Case(
        "uppercase-bucket-name",
        set_(("buckets", 0, "name"), "Audio"),
        ("buckets[0].name: must be lowercase letters, digits and inner hyphens, got 'Audio'",),
    ),
    Case(
        "underscore-bucket-name",
        set_(("buckets", 2, "name"), "profile_pictures"),
        ("buckets[2].name: must be lowercase letters, digits and inner hyphens, got 'profile_pictures'",),
    ),
    Case(
        "dotted-bucket-name",
        set_(("buckets", 3, "name"), "reporting.v2"),
        ("buckets[3].name: must be lowercase letters, digits and inner hyphens, got 'reporting.v2'",),
    ),
    Case("bucket-name-too-long-tier1", set_(("buckets", 1, "name"), LONG_NAME), long_name_lines(1, replica=True)),
    Case("bucket-name-too-long-tier2", set_(("buckets", 2, "name"), LONG_NAME), long_name_lines(2, replica=False)),
    Case(
        "uppercase-namePrefix",
        set_(("namePrefix",), "Distronation-prod"),
        ("namePrefix: must be lowercase letters, digits and inner hyphens, got 'Distronation-prod'",),
    ),
    Case("namePrefix-reserved-xn--", set_(("namePrefix",), "xn--prod"), xn_prefix_lines()),
    # --- retention
    Case(
        "lockDays-zero",
        set_(("buckets", 0, "lockDays"), 0),
        ("buckets[0].lockDays: must be a positive number of days, got 0",),
    ),
    Case(
        "lockDays-negative",
        set_(("buckets", 2, "lockDays"), -7),
        ("buckets[2].lockDays: must be a positive number of days, got -7",),
    ),
    Case(
        "lockDays-over-100-years",
        set_(("buckets", 0, "lockDays"), 36501),
        ("buckets[0].lockDays: must be at most 36500, got 36501",),
    ),
    Case(
        "noncurrentExpirationDays-zero",
        set_(("buckets", 4, "noncurrentExpirationDays"), 0),
        ("buckets[4].noncurrentExpirationDays: must be a positive number of days, got 0",),
    ),
    Case(
        "lockMode-unknown",
        set_(("buckets", 0, "lockMode"), "STRICT"),
        ("buckets[0].lockMode: must be COMPLIANCE or GOVERNANCE, got 'STRICT'",),
    ),
    Case(
        "lockDays-on-tier3", set_(("buckets", 4, "lockDays"), 30), ("buckets[4].lockDays: tier 3 has no object lock",)
    ),
    Case(
        "lockMode-on-tier3",
        set_(("buckets", 4, "lockMode"), "GOVERNANCE"),
        ("buckets[4].lockMode: tier 3 has no object lock",),
    ),
    # --- objectives the tier cannot provide
    Case(
        "tier1-regional-rpo-0",
        set_(("buckets", 0, "objectives", "regional"), {"rpoMinutes": 0}),
        (
            "buckets[0].objectives.regional.rpoMinutes: tier 1 cannot provide a regional RPO of 0 min; "
            "its mechanisms deliver 15 min at best",
        ),
    ),
    Case(
        "tier1-logical-rto-below-floor",
        set_(("buckets", 1, "objectives"), {"logical": {"rtoMinutes": 10}}),
        (
            "buckets[1].objectives.logical.rtoMinutes: tier 1 cannot provide a logical RTO of 10 min; "
            "its mechanisms deliver 15 min at best",
        ),
    ),
    Case(
        "tier2-any-regional-objective",
        set_(("buckets", 2, "objectives"), {"regional": {"rpoMinutes": 60}}),
        (
            "buckets[2].objectives.regional.rpoMinutes: tier 2 does not protect against regional loss, so it "
            "cannot provide a regional RPO of 60 min; use a lower tier number",
        ),
    ),
    Case(
        "tier3-logical-objective",
        set_(("buckets", 4, "objectives"), {"logical": {"rtoMinutes": 1440}}),
        (
            "buckets[4].objectives.logical.rtoMinutes: tier 3 does not protect against logical loss, so it "
            "cannot provide a logical RTO of 1440 min; use a lower tier number",
        ),
    ),
    Case(
        "tier1-loosened-logical-rto",
        set_(("buckets", 1, "objectives"), {"logical": {"rtoMinutes": 120}}),
        ("buckets[1].objectives.logical.rtoMinutes: may only tighten tier 1's logical RTO of 60 min, got 120",),
    ),
    Case(
        "tier1-loosened-regional-rpo",
        set_(("buckets", 0, "objectives", "regional"), {"rpoMinutes": 30}),
        ("buckets[0].objectives.regional.rpoMinutes: may only tighten tier 1's regional RPO of 15 min, got 30",),
    ),
    Case(
        "negative-rpo",
        set_(("buckets", 3, "objectives"), {"logical": {"rpoMinutes": -1}}),
        ("buckets[3].objectives.logical.rpoMinutes: must be a non-negative integer number of minutes, got -1",),
    ),
    Case(
        "unknown-failure-mode",
        set_(("buckets", 0, "objectives", "zonal"), {"rpoMinutes": 0}),
        ("buckets[0].objectives.zonal: unknown failure mode (allowed: logical, regional)",),
    ),
    Case(
        "unknown-objective-key",
        set_(("buckets", 0, "objectives", "logical", "rpo"), 0),
        ("buckets[0].objectives.logical.rpo: unknown key (allowed: rpoMinutes, rtoMinutes)",),
    ),
    # --- lifecycle rules S3 enforces
    Case(
        "standardIaDays-under-30",
        set_(("buckets", 1, "transitions"), {"standardIaDays": 20}),
        ("buckets[1].transitions.standardIaDays: S3 needs at least 30 days before STANDARD_IA, got 20",),
    ),
    Case(
        "glacier-10-days-after-standard-ia",
        set_(("buckets", 3, "transitions", "glacierDays"), 40),
        (
            "buckets[3].transitions.glacierDays: must be at least 60: objects stay 30 days in STANDARD_IA after "
            "standardIaDays (30), got 40",
        ),
    ),
    Case(
        "deep-archive-too-soon-after-glacier",
        set_(("buckets", 0, "transitions"), {"deepArchiveDays": 120}),
        (
            "buckets[0].transitions.deepArchiveDays: must be at least 180: objects stay 90 days in GLACIER after "
            "glacierDays (90), got 120",
        ),
    ),
    Case(
        "expiration-before-deep-archive-minimum",
        set_(("buckets", 0, "noncurrentExpirationDays"), 300),
        (
            "buckets[0].noncurrentExpirationDays: must be at least 360 so versions meet the DEEP_ARCHIVE minimum "
            "storage duration, got 300",
        ),
    ),
    Case(
        "expiration-before-lock-ends-tier1",
        set_(("buckets", 1, "lockDays"), 400),
        (
            "buckets[1].noncurrentExpirationDays: expires noncurrent versions after 365 days, before the "
            "object-lock retention of 400 days ends",
        ),
    ),
    Case(
        "expiration-before-lock-ends-tier2",
        set_(("buckets", 2, "lockDays"), 200),
        (
            "buckets[2].noncurrentExpirationDays: expires noncurrent versions after 180 days, before the "
            "object-lock retention of 200 days ends",
        ),
    ),
    Case(
        "unknown-transition-key",
        set_(("buckets", 3, "transitions", "onezoneIaDays"), 30),
        ("buckets[3].transitions.onezoneIaDays: unknown key (allowed: standardIaDays, glacierDays, deepArchiveDays)",),
    ),
    # --- unknown keys, alerting
    Case(
        "unknown-bucket-key",
        set_(("buckets", 0, "retentionDays"), 30),
        (f"buckets[0].retentionDays: unknown key (allowed: {BUCKET_KEYS_ALLOWED})",),
    ),
    Case(
        "alertEmail-without-at",
        set_(("alertEmail",), "dr-alerts.distronation.example"),
        ("alertEmail: must be an email address, got 'dr-alerts.distronation.example'",),
    ),
    Case(
        "alertEmail-without-domain-dot",
        set_(("alertEmail",), "dr-alerts@localhost"),
        ("alertEmail: must be an email address, got 'dr-alerts@localhost'",),
    ),
    # --- MFA delete attestation
    Case(
        "mfaDeleteAttested-on-tier2",
        set_(("buckets", 2, "mfaDeleteAttested"), "2026-11-20"),
        ("buckets[2].mfaDeleteAttested: tier 2 does not use MFA delete",),
    ),
    Case(
        "mfaDeleteAttested-in-future",
        set_(("buckets", 0, "mfaDeleteAttested"), FUTURE),
        (f"buckets[0].mfaDeleteAttested: is in the future: {FUTURE}",),
    ),
    Case(
        "mfaDeleteAttested-impossible-date",
        set_(("buckets", 1, "mfaDeleteAttested"), "2026-02-30"),
        (
            "buckets[1].mfaDeleteAttested: must be the ISO date (YYYY-MM-DD) the root user enabled MFA delete, "
            "got '2026-02-30'",
        ),
    ),
    Case(
        "mfaDeleteAttested-day-first",
        set_(("buckets", 0, "mfaDeleteAttested"), "20/11/2026"),
        (
            "buckets[0].mfaDeleteAttested: must be the ISO date (YYYY-MM-DD) the root user enabled MFA delete, "
            "got '20/11/2026'",
        ),
    ),
    # --- replica storage class
    Case(
        "replica-GLACIER-on-tier1",
        set_(("buckets", 0, "replicaStorageClass"), "GLACIER"),
        (
            "buckets[0].replicaStorageClass: must be one of STANDARD, STANDARD_IA so failover can read the "
            "replica, got 'GLACIER'",
        ),
    ),
    Case(
        "replicaStorageClass-on-tier2",
        set_(("buckets", 3, "replicaStorageClass"), "STANDARD"),
        ("buckets[3].replicaStorageClass: tier 2 has no replica",),
    ),
    # --- protected prefixes
    Case(
        "duplicate-protectedPrefixes",
        set_(("buckets", 0, "protectedPrefixes"), ["masters/", "masters/"]),
        ("buckets[0].protectedPrefixes: contains duplicates",),
    ),
    Case(
        "nested-protectedPrefixes",
        set_(("buckets", 0, "protectedPrefixes"), ["masters/", "releases/", "masters/2024/"]),
        (
            "buckets[0].protectedPrefixes: 'masters/' and 'masters/2024/' overlap; S3 rejects overlapping "
            "DeleteMarkerCreated notification rules",
        ),
    ),
    Case(
        "whole-bucket-with-another-protectedPrefix",
        set_(("buckets", 1, "protectedPrefixes"), ["", "incoming/"]),
        (
            "buckets[1].protectedPrefixes: '' (the whole bucket) and 'incoming/' overlap; S3 rejects overlapping "
            "DeleteMarkerCreated notification rules",
        ),
    ),
]


def message_lines(error: ConfigError) -> list[str]:
    """The problem lines as printed in the message (not ``error.problems``), so the message itself is tested."""
    header, *lines = str(error).splitlines()
    assert header == f"invalid stack config ({len(lines)} problem(s)):"
    assert all(line.startswith("  - ") for line in lines)
    return [line.removeprefix("  - ") for line in lines]


def test_at_least_18_distinct_malformed_configs() -> None:
    assert len({case.id for case in MALFORMED}) == len(MALFORMED) >= 18
    configs = [json.dumps(mutated(case.change), sort_keys=True) for case in MALFORMED]
    assert len(set(configs)) == len(configs), "two cases produce the same config"
    assert all(config != json.dumps(PROD, sort_keys=True) for config in configs)


@pytest.mark.parametrize("case", MALFORMED, ids=[case.id for case in MALFORMED])
def test_malformed_config_fails_before_any_resource(case: Case) -> None:
    outcome = run_recording(mutated(case.change))

    assert isinstance(outcome.error, ConfigError), f"the program accepted a malformed config: {outcome.error!r}"
    lines = message_lines(outcome.error)
    if case.exact:
        assert lines == list(case.problems)
    else:
        for problem in case.problems:
            assert problem in lines
    assert outcome.error.problems == lines
    assert outcome.registrations == []


def test_several_problems_are_reported_in_one_message() -> None:
    config = mutated(
        set_(("recoveryRegion",), "us-east-1"),
        set_(("alertEmail",), "not-an-email"),
        set_(("buckets", 0, "lockDays"), 0),
        set_(("buckets", 1, "transitions"), {"standardIaDays": 20}),
        set_(("buckets", 2, "tier"), 4),
        set_(("buckets", 3, "name"), "Reporting"),
        set_(("buckets", 4, "lockDays"), 30),
    )
    outcome = run_recording(config)

    assert isinstance(outcome.error, ConfigError)
    expected = [
        "recoveryRegion: must differ from primaryRegion, both are 'us-east-1'",
        "alertEmail: must be an email address, got 'not-an-email'",
        "buckets[0].lockDays: must be a positive number of days, got 0",
        "buckets[1].transitions.standardIaDays: S3 needs at least 30 days before STANDARD_IA, got 20",
        "buckets[2].tier: must be 1, 2 or 3, got 4",
        "buckets[3].name: must be lowercase letters, digits and inner hyphens, got 'Reporting'",
        "buckets[4].lockDays: tier 3 has no object lock",
    ]
    assert message_lines(outcome.error) == expected
    assert str(outcome.error).count("\n  - ") == 7
    assert outcome.registrations == []


def test_harness_run_program_raises_config_error() -> None:
    """The harness's raising entry point stops on the same error."""
    with pytest.raises(ConfigError, match=r"buckets\[2\]\.tier: must be 1, 2 or 3, got 4"):
        run_program(mutated(set_(("buckets", 2, "tier"), 4)))


# ---------------------------------------------------------------------------------------------------------------
# Positive controls: the valid config passes, and the recording sees resources when the program proceeds.


def test_prod_config_parses() -> None:
    settings = parse(PROD)

    assert (settings.primary_region, settings.recovery_region) == ("us-east-1", "us-west-2")
    assert settings.name_prefix == "distronation-prod"
    assert settings.alert_email == "dr-alerts@distronation.example"
    assert [(b.name, b.tier) for b in settings.buckets] == [
        ("audio", 1),
        ("uploads", 1),
        ("profile-pictures", 2),
        ("reporting", 2),
        ("backup", 3),
    ]
    audio = settings.buckets[0]
    assert audio.primary_bucket_name == "distronation-prod-audio-us-east-1"
    assert audio.replica_bucket_name == "distronation-prod-audio-us-west-2"
    assert audio.objectives[FailureMode.LOGICAL] == Objective(rpo_minutes=0, rto_minutes=30)
    assert audio.mfa_delete_attested == dt.date(2026, 11, 20)


def test_prod_config_registers_resources_through_the_same_recording() -> None:
    """Guards the zero-registration assertions: the same recording does see resources for a valid config."""
    outcome = run_recording(PROD)

    assert outcome.error is None
    assert any(r.type == "aws:s3/bucket:Bucket" for r in outcome.registrations)


TIGHTENED = [
    pytest.param(
        0,
        {"logical": {"rpoMinutes": 0, "rtoMinutes": 15}, "regional": {"rpoMinutes": 15, "rtoMinutes": 20}},
        {
            FailureMode.LOGICAL: Objective(rpo_minutes=0, rto_minutes=15),
            FailureMode.REGIONAL: Objective(rpo_minutes=15, rto_minutes=20),
        },
        id="tier1-both-modes-to-the-floor",
    ),
    pytest.param(
        1,
        {"regional": {"rtoMinutes": 45}},
        {
            FailureMode.LOGICAL: Objective(rpo_minutes=0, rto_minutes=60),
            FailureMode.REGIONAL: Objective(rpo_minutes=15, rto_minutes=45),
        },
        id="tier1-regional-rto-only-keeps-other-defaults",
    ),
    pytest.param(
        2,
        {"logical": {"rtoMinutes": 60}},
        {
            FailureMode.LOGICAL: Objective(rpo_minutes=0, rto_minutes=60),
            FailureMode.REGIONAL: Objective(rpo_minutes=None, rto_minutes=None),
        },
        id="tier2-logical-rto-to-the-floor",
    ),
    pytest.param(
        3,
        {"logical": {"rpoMinutes": 0, "rtoMinutes": 240}},
        {
            FailureMode.LOGICAL: Objective(rpo_minutes=0, rto_minutes=240),
            FailureMode.REGIONAL: Objective(rpo_minutes=None, rto_minutes=None),
        },
        id="tier2-restating-the-defaults",
    ),
]


@pytest.mark.parametrize(("index", "objectives", "expected"), TIGHTENED)
def test_tightening_objectives_within_the_floor_is_accepted(
    index: int, objectives: dict[str, Any], expected: dict[FailureMode, Objective]
) -> None:
    config = mutated(set_(("buckets", index, "objectives"), objectives))

    settings = parse(config)

    assert dict(settings.buckets[index].objectives) == expected


# ---------------------------------------------------------------------------------------------------------------
# Configs an earlier settings.py accepted (found while writing these tests, now rejected).

FORMERLY_ACCEPTED = [
    pytest.param(
        set_(("buckets", 0, "mfaDeleteAttested"), 20261120),
        "buckets[0].mfaDeleteAttested",
        id="mfaDeleteAttested-integer-accepted",
    ),
    pytest.param(
        set_(("buckets", 0, "mfaDeleteAttested"), "2026-W47-5"),
        "buckets[0].mfaDeleteAttested",
        id="mfaDeleteAttested-iso-week-date-accepted",
    ),
    pytest.param(
        set_(("recoveryRegion",), "cn-north-1"),
        "recoveryRegion",
        id="recoveryRegion-in-another-partition-accepted",
    ),
    pytest.param(
        lambda config: config.update(bucket=config.pop("buckets")),
        "bucket",
        id="misspelled-buckets-key-gives-an-empty-estate",
    ),
]


@pytest.mark.parametrize(("change", "key_path"), FORMERLY_ACCEPTED)
def test_formerly_accepted_config_is_rejected(change: Callable[[dict[str, Any]], None], key_path: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(mutated(change))
    assert any(problem.startswith(f"{key_path}") for problem in caught.value.problems)


def test_numeric_name_prefix_stays_a_string() -> None:
    """Scalars are never JSON-decoded, so a prefix such as 2024 is not turned into a number."""
    outcome = run_recording(mutated(set_(("namePrefix",), "2024")))
    assert outcome.error is None
