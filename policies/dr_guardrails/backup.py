"""AWS Backup policies: the isolated copy of every tier-1 store, and the lock of every isolated vault.

An isolated copy is a copy action whose destination is out of the protected account's reach:
- a logically air-gapped vault the stack declares (AWS stores its recovery points in AWS-owned accounts and locks
  it in compliance mode), recognised by its name in the destination ARN; or
- a vault in another account: the destination ARN's account differs from the account of the stack's own vaults,
  read from the plan's other copy destinations that name a vault the stack declares.

Stores: DynamoDB tables reach their plan through the ``dr:backup-plan`` tag (the plan's ``name``); a bucket is
covered when it, or the replica its replication configuration writes to, is in a selection's ``resources`` and the
selection's plan copies to an isolated vault.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from pulumi_policy import PolicyResource

from . import types
from .framework import Config
from .index import StackIndex
from .props import MISSING, UNKNOWN, cannot_verify, elements, lookup, number, region_of
from .tiers import in_scope

BACKUP_PLAN_TAG: Final = "dr:backup-plan"
ISOLATED_TAG: Final = "dr:isolated"
# CreateLogicallyAirGappedBackupVault: MinRetentionDays at least 7.
AIR_GAPPED_MIN_RETENTION_DAYS: Final = 7
ARN_PARTS: Final = 6


def _vault_arn_parts(arn: Any) -> tuple[str, str, str] | None:
    """(region, account, vault name) of a backup vault ARN, or None when it is not one (or not known)."""
    if not isinstance(arn, str):
        return None
    parts = arn.split(":", ARN_PARTS)
    if len(parts) != ARN_PARTS + 1 or parts[2] != "backup" or parts[5] != "backup-vault":
        return None
    return parts[3], parts[4], parts[6]


def _isolated_destinations(plan: PolicyResource, index: StackIndex) -> Any:
    """True when a copy action of the plan lands in an isolated vault, False when none does, UNKNOWN when the
    destinations or the stack's own account cannot be read."""
    air_gapped = {_name_region(v) for v in _of(index, types.BACKUP_AIR_GAPPED_VAULT)}
    own_vaults = {_name_region(v) for v in _of(index, types.BACKUP_VAULT)}
    rules = elements(plan.props, "rules")
    if rules is UNKNOWN:
        return UNKNOWN
    destinations: list[Any] = []
    for position in range(len(rules)):
        copies = elements(rules, position, "copyActions")
        if copies is UNKNOWN:
            return UNKNOWN
        if copies is MISSING:
            continue
        destinations += [lookup(copies, c, "destinationVaultArn") for c in range(len(copies))]
    parsed = [_vault_arn_parts(d) for d in destinations]
    unknown = any(p is None and d is UNKNOWN for p, d in zip(parsed, destinations, strict=True))
    own_accounts = {p[1] for p in parsed if p is not None and (p[2], p[0]) in own_vaults}
    for part in parsed:
        if part is None:
            continue
        region, account, name = part
        if (name, region) in air_gapped:
            return True
        if own_accounts and account not in own_accounts:
            return True
    if unknown or (parsed and not own_accounts and any(p is not None for p in parsed)):
        return UNKNOWN
    return False


def _name_region(vault: PolicyResource) -> tuple[Any, Any]:
    return lookup(vault.props, "name"), region_of(vault.props, vault.provider)


def _of(index: StackIndex, tokens: frozenset[str]) -> list[PolicyResource]:
    return [resource for token in tokens for resource in index.by_type.get(token, [])]


def check_isolated_copies(index: StackIndex, config: Config) -> Iterator[tuple[str, str]]:
    tiers = config["tiers"]
    plans = {name: p for p in _of(index, types.BACKUP_PLAN) if isinstance(name := lookup(p.props, "name"), str)}
    verdicts: dict[str, Any] = {}

    def isolated(plan: PolicyResource) -> Any:
        if plan.urn not in verdicts:
            verdicts[plan.urn] = _isolated_destinations(plan, index)
        return verdicts[plan.urn]

    for table in index.tables:
        tags = index.tags(table)
        scope = in_scope(tags, tiers)
        if scope is UNKNOWN:
            yield table.urn, cannot_verify("tags.dr:tier")
            continue
        if not scope:
            continue
        plan_name = tags.get(BACKUP_PLAN_TAG)
        if plan_name is UNKNOWN:
            yield table.urn, cannot_verify(f"tags.{BACKUP_PLAN_TAG}")
            continue
        plan = plans.get(plan_name) if isinstance(plan_name, str) else None
        if plan is None:
            yield (
                table.urn,
                (
                    f"the table is in tier {tags.get('dr:tier')} but no AWS Backup plan copies it out of the account "
                    f"(tag {BACKUP_PLAN_TAG}={plan_name if plan_name is not MISSING else 'missing'})"
                ),
            )
            continue
        verdict = isolated(plan)
        if verdict is UNKNOWN:
            yield table.urn, cannot_verify(f"the copy destinations of plan {plan_name}")
        elif not verdict:
            yield table.urn, f"plan {plan_name} copies the table to no isolated vault (air-gapped or another account)"

    selected: dict[str, list[PolicyResource]] = {}  # bucket ARN -> plans whose selection names it
    for selection in _of(index, types.BACKUP_SELECTION):
        plan = index.linked(selection, "planId", types.BACKUP_PLAN, "plan")
        resources = elements(selection.props, "resources")
        if plan is None or resources is UNKNOWN or resources is MISSING:
            continue
        for position in range(len(resources)):
            arn = lookup(resources, position)
            if isinstance(arn, str) and ":s3:::" in arn:
                selected.setdefault(arn.split(":s3:::", 1)[1], []).append(plan)

    for bucket in index.buckets:
        if index.is_replication_destination(bucket):
            continue  # judged with its source
        tags = index.tags(bucket)
        scope = in_scope(tags, tiers)
        if scope is UNKNOWN:
            yield bucket.urn, cannot_verify("tags.dr:tier")
            continue
        if not scope or tags.get("dr:tier") is MISSING:
            continue
        names = [lookup(bucket.props, "bucket")]
        for replication in index.children(bucket, "replication"):
            names += [lookup(b.props, "bucket") for b in index.replication_destination_buckets(replication)]
        if any(name is UNKNOWN for name in names):
            yield bucket.urn, cannot_verify("bucket names")
            continue
        candidate_plans = [plan for name in names for plan in selected.get(str(name), [])]
        verdicts_here = [isolated(plan) for plan in candidate_plans]
        if any(v is True for v in verdicts_here):
            continue
        if any(v is UNKNOWN for v in verdicts_here):
            yield bucket.urn, cannot_verify("the copy destinations of the bucket's backup plan")
        else:
            yield (
                bucket.urn,
                (
                    f"the bucket is in tier {tags.get('dr:tier')} but neither it nor its replica is in an AWS Backup "
                    "plan that copies to an isolated vault"
                ),
            )


def check_isolated_vault_locks(index: StackIndex, config: Config) -> Iterator[tuple[str, str]]:
    minimum = config["minRetentionDays"]
    for vault in _of(index, types.BACKUP_AIR_GAPPED_VAULT):
        low, high = (number(lookup(vault.props, key)) for key in ("minRetentionDays", "maxRetentionDays"))
        if low is None or high is None:
            yield vault.urn, cannot_verify("minRetentionDays/maxRetentionDays")
        elif low < max(minimum, AIR_GAPPED_MIN_RETENTION_DAYS) or high < low:
            yield (
                vault.urn,
                (
                    f"an air-gapped vault needs minRetentionDays >= {max(minimum, AIR_GAPPED_MIN_RETENTION_DAYS)} and "
                    f"maxRetentionDays >= minRetentionDays (declared {low:g}-{high:g})"
                ),
            )
    locks: dict[str, list[PolicyResource]] = {}
    for lock in _of(index, types.BACKUP_VAULT_LOCK):
        for vault in index.dependencies_of_type(lock, "backupVaultName", types.BACKUP_VAULT):
            locks.setdefault(vault.urn, []).append(lock)
    for vault in _of(index, types.BACKUP_VAULT):
        isolated = index.tags(vault).get(ISOLATED_TAG)
        if isolated is UNKNOWN:
            yield vault.urn, cannot_verify(f"tags.{ISOLATED_TAG}")
            continue
        if isolated is MISSING:
            continue
        found = locks.get(vault.urn, [])
        if not found:
            yield vault.urn, "an isolated vault needs a COMPLIANCE vault lock (aws.backup.VaultLockConfiguration)"
            continue
        for lock in found:
            changeable = lookup(lock.props, "changeableForDays")
            low = number(lookup(lock.props, "minRetentionDays"))
            if changeable is UNKNOWN:
                yield lock.urn, cannot_verify("changeableForDays")
            elif changeable is MISSING or changeable is None:
                yield lock.urn, "the isolated vault's lock is GOVERNANCE: set changeable_for_days (COMPLIANCE)"
            elif low is not None and low < minimum:
                yield (
                    lock.urn,
                    f"the isolated vault's lock keeps recovery points at least {low:g} days, under {minimum}",
                )
