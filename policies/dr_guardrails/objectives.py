"""Declared recovery objectives (tags) and whether the configured mechanisms can achieve them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pulumi_policy import PolicyResource, ResourceValidationArgs

from .framework import Config
from .index import StackIndex
from .inline import object_lock_enabled
from .props import MISSING, UNKNOWN, Tags, cannot_verify, elements, lookup
from .s3 import child_findings, object_lock_retention_problems, replication_report, versioning_problems
from .tiers import OBJECTIVE_TAGS, TIER_TAG, VALID_TIERS, Invalid, objective

LOGICAL_RPO, LOGICAL_RTO, REGIONAL_RPO, REGIONAL_RTO = OBJECTIVE_TAGS


def check_objectives_declared(args: ResourceValidationArgs, _config: Config) -> Iterator[str]:
    """One finding for everything missing (an untagged resource gets one line, not five)."""
    tags = Tags(args.props)
    tier = tags.get(TIER_TAG)
    missing, invalid = [], []
    if tier is UNKNOWN:
        yield cannot_verify(f"tags.{TIER_TAG}")
    elif tier is MISSING:
        missing.append(TIER_TAG)
    elif tier not in VALID_TIERS:
        invalid.append(f"tag `{TIER_TAG}` must be one of {list(VALID_TIERS)} (declared: {tier!r})")
    for key in OBJECTIVE_TAGS:
        value = objective(tags, key)
        if value is UNKNOWN:
            yield cannot_verify(f"tags.{key}")
        elif value is MISSING:
            missing.append(key)
        elif isinstance(value, Invalid):
            invalid.append(f'tag `{key}` must be whole minutes or "none" (declared: {value.raw!r})')
    if missing:
        listed = ", ".join(f"`{key}`" for key in missing)
        yield (
            f'missing tag(s) {listed}: declare the DR tier (1, 2 or 3) and each objective in minutes, or "none" '
            "when the tier accepts loss"
        )
    yield from invalid


def _declared(index: StackIndex, resource: PolicyResource) -> dict[str, int]:
    """The finite objectives a resource declares (missing or invalid ones are the other policy's job)."""
    tags = index.tags(resource)
    values = {key: objective(tags, key) for key in OBJECTIVE_TAGS}
    return {key: value for key, value in values.items() if isinstance(value, int) and not isinstance(value, bool)}


ANY_DEFAULT_RETENTION = {"allowedModes": ["COMPLIANCE", "GOVERNANCE"], "minRetentionDays": 1}


def _object_lock_verdict(index: StackIndex, bucket: PolicyResource) -> Any:
    """True/False/UNKNOWN: object lock is on at creation and a default retention is configured."""
    flag = object_lock_enabled(bucket.props)
    if flag is not True:
        return UNKNOWN if flag is UNKNOWN else False
    return child_findings(index, bucket, "object_lock", object_lock_retention_problems, ANY_DEFAULT_RETENTION).verdict


def _state(verdict: Any, yes: str, no: str) -> str:
    return "unknown until deploy" if verdict is UNKNOWN else yes if verdict else no


def check_bucket_objectives_achievable(index: StackIndex, config: Config) -> Iterator[tuple[str, str]]:
    rtc_minutes = config["replicationTimeControlMinutes"]
    for bucket in index.buckets:
        declared = _declared(index, bucket)
        if not declared:
            continue
        versioned = child_findings(index, bucket, "versioning", versioning_problems, config).verdict
        locked = _object_lock_verdict(index, bucket)
        mechanisms = f"versioning {_state(versioned, 'Enabled', 'absent')}, object lock {_state(locked, 'on', 'off')}"
        if LOGICAL_RPO in declared:
            rpo = declared[LOGICAL_RPO]
            needed = (versioned, locked) if rpo == 0 else (versioned,)
            if False not in needed and UNKNOWN in needed:
                yield bucket.urn, cannot_verify(f"{bucket.name}: versioning/object lock ({mechanisms})")
            elif rpo == 0 and False in needed:
                yield (
                    bucket.urn,
                    (
                        f"bucket '{bucket.name}' declares {LOGICAL_RPO}=0; configured: {mechanisms}; "
                        "needs versioning Enabled and object lock with a default retention"
                    ),
                )
            elif False in needed:
                yield (
                    bucket.urn,
                    (
                        f"bucket '{bucket.name}' declares {LOGICAL_RPO}={rpo}; configured: {mechanisms}; "
                        "without versioning an overwrite or delete loses data immediately; needs versioning Enabled"
                    ),
                )
        regional = {key: declared[key] for key in (REGIONAL_RPO, REGIONAL_RTO) if key in declared}
        if not regional or index.is_replication_destination(bucket):
            continue  # a replica is itself the regional copy
        regional_rpo = regional.get(REGIONAL_RPO)
        if regional_rpo is not None and regional_rpo < rtc_minutes:
            yield (
                bucket.urn,
                f"bucket '{bucket.name}' declares {REGIONAL_RPO}={regional_rpo}; S3 replication with RTC replicates "
                f"99.99% of objects within {rtc_minutes} minutes and nothing faster exists; "
                f"declare at least {rtc_minutes}",
            )
            continue
        report = replication_report(index, bucket)
        if report.unknown and not report.cross_region:
            yield bucket.urn, cannot_verify(", ".join(report.unknown))
            continue
        configured = (
            "cross-region replication with RTC"
            if report.rtc
            else "cross-region replication without RTC"
            if report.cross_region
            else "no cross-region replication"
        )
        needs_rtc = regional_rpo is not None and regional_rpo <= rtc_minutes
        if not report.cross_region or (needs_rtc and not report.rtc):
            wanted = "a cross-region BucketReplicationConfig" + (
                f" with Replication Time Control ({rtc_minutes} min)" if needs_rtc else ""
            )
            declared_text = ", ".join(f"{key}={value}" for key, value in regional.items())
            yield (
                bucket.urn,
                (f"bucket '{bucket.name}' declares {declared_text}; configured: {configured}; needs {wanted}"),
            )


def check_table_objectives_achievable(index: StackIndex, config: Config) -> Iterator[tuple[str, str]]:
    backup_interval = config["backupIntervalMinutes"]
    restore_minutes = config["restoreFromBackupMinutes"]
    for table in index.tables:
        declared = _declared(index, table)
        if not declared:
            continue
        pitr = lookup(table.props, "pointInTimeRecovery", "enabled")
        replicas = elements(table.props, "replicas")
        has_replica: Any = bool(index.table_replicas(table)) or (replicas if replicas is UNKNOWN else bool(replicas))
        configured = (
            f"PITR {'unknown' if pitr is UNKNOWN else 'on' if pitr is True else 'off'}, "
            f"replicas {'unknown' if has_replica is UNKNOWN else 'yes' if has_replica else 'none'}, "
            f"backups every {backup_interval} min restoring in about {restore_minutes} min"
        )
        rules = (
            (
                LOGICAL_RPO,
                backup_interval,
                pitr,
                "point-in-time recovery (pointInTimeRecovery.enabled)",
                "the backup interval",
            ),
            (REGIONAL_RPO, backup_interval, has_replica, "a replica in another region", "the backup interval"),
            (
                REGIONAL_RTO,
                restore_minutes,
                has_replica,
                "a replica in another region to fail over to",
                "a restore from backup",
            ),
        )
        if declared.get(REGIONAL_RPO) == 0:
            yield from _strong_consistency_findings(table, replicas, len(index.table_replicas(table)))
        for key, limit, mechanism, wanted, bound in rules:
            if key not in declared or declared[key] >= limit or mechanism is True:
                continue
            if mechanism is UNKNOWN:
                yield table.urn, cannot_verify(f"{table.name}: {wanted}")
                continue
            yield (
                table.urn,
                (
                    f"table '{table.name}' declares {key}={declared[key]}, shorter than {bound} ({limit} min); "
                    f"configured: {configured}; needs {wanted}"
                ),
            )


def _strong_consistency_findings(
    table: PolicyResource, replicas: Any, separate_replicas: int
) -> Iterator[tuple[str, str]]:
    """A regional RPO of 0 is only met by multi-Region strong consistency (MRSC): every replica STRONG, and three
    regions (two replicas) or two plus a witness. MREC replicates in about a second with no guarantee."""
    witness = lookup(table.props, "globalTableWitness", "regionName")
    if replicas is UNKNOWN or UNKNOWN in replicas or witness is UNKNOWN:
        yield table.urn, cannot_verify(f"{table.name}: replicas[].consistencyMode and globalTableWitness")
        return
    modes = [lookup(replica, "consistencyMode") for replica in replicas]
    if UNKNOWN in modes:
        yield table.urn, cannot_verify(f"{table.name}: replicas[].consistencyMode")
        return
    has_witness = isinstance(witness, str) and bool(witness)
    problems = []
    if separate_replicas:
        # aws.dynamodb.TableReplica has no consistency mode: its replicas are always MREC.
        problems.append(f"{separate_replicas} aws.dynamodb.TableReplica resource(s) replicate eventually")
    if not replicas or any(mode != "STRONG" for mode in modes):
        shown = [mode if isinstance(mode, str) else "EVENTUAL" for mode in modes]  # EVENTUAL is the default
        problems.append(f"every replica needs consistencyMode STRONG (declared: {shown})")
    if not (len(replicas) >= 2 or (len(replicas) == 1 and has_witness)):
        problems.append(
            f"MRSC needs two replicas, or one replica plus globalTableWitness (declared: {len(replicas)} "
            f"replica(s), witness {'yes' if has_witness else 'none'})"
        )
    if problems:
        yield (
            table.urn,
            f"table '{table.name}' declares {REGIONAL_RPO}=0, which only multi-Region strong consistency achieves: "
            + "; ".join(problems),
        )
