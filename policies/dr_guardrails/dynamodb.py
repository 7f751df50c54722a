"""DynamoDB policies: PITR, deletion protection, and no legacy global tables."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from pulumi_policy import ResourceValidationArgs

from . import types
from .framework import Config
from .props import (
    UNKNOWN,
    cannot_verify,
    describe,
    elements,
    expect,
    is_absent,
    label,
    lookup,
    number,
    shallow_copy,
)

AWS_DEFAULT_PITR_DAYS: Final = 35  # pulumi-aws: recoveryPeriodInDays defaults to 35


def pitr_problems(args: ResourceValidationArgs, config: Config) -> Iterator[str]:
    props = args.props
    if args.resource_type in types.TABLE_REPLICA:
        yield from expect(props, ("pointInTimeRecovery",), True)
        return
    yield from expect(props, ("pointInTimeRecovery", "enabled"), True)
    period = lookup(props, "pointInTimeRecovery", "recoveryPeriodInDays")
    minimum = config["minRecoveryPeriodDays"]
    if period is UNKNOWN:
        yield cannot_verify("pointInTimeRecovery.recoveryPeriodInDays")
    elif _period_days(period) < minimum:
        yield f"pointInTimeRecovery.recoveryPeriodInDays must be at least {minimum} (declared: {describe(period)})"
    yield from _each_inline_replica(props, "pointInTimeRecovery")


def deletion_protection_problems(args: ResourceValidationArgs, _config: Config) -> Iterator[str]:
    yield from expect(args.props, ("deletionProtectionEnabled",), True)
    if args.resource_type in types.TABLE:
        yield from _each_inline_replica(args.props, "deletionProtectionEnabled")


def _each_inline_replica(props: Any, flag: str) -> Iterator[str]:
    replicas = elements(props, "replicas")
    if replicas is UNKNOWN:
        yield cannot_verify("replicas")
        return
    for position in range(len(replicas)):
        yield from expect(replicas, (position, flag), True, prefix="replicas")


def _period_days(period: Any) -> float:
    value = number(period)
    if value is not None:
        return value
    return AWS_DEFAULT_PITR_DAYS if is_absent(period) else -1


def fix_pitr(args: ResourceValidationArgs, config: Config) -> dict[str, Any] | None:
    """Turn PITR on (table, inline replicas, TableReplica) and raise a too-short recovery period."""
    props = args.props
    fixed = shallow_copy(props)
    if args.resource_type in types.TABLE_REPLICA:
        return _set_flag(fixed, props, "pointInTimeRecovery")
    changed = False
    pitr = lookup(props, "pointInTimeRecovery")
    period = lookup(pitr, "recoveryPeriodInDays")
    too_short = number(period) is not None and _period_days(period) < config["minRecoveryPeriodDays"]
    if lookup(pitr, "enabled") is not True or too_short:
        new_pitr = shallow_copy(pitr)
        new_pitr["enabled"] = True
        if too_short:
            new_pitr["recoveryPeriodInDays"] = config["minRecoveryPeriodDays"]
        fixed["pointInTimeRecovery"] = new_pitr
        changed = True
    changed = _fix_inline_replicas(fixed, props, "pointInTimeRecovery") or changed
    return fixed if changed else None


def fix_deletion_protection(args: ResourceValidationArgs, _config: Config) -> dict[str, Any] | None:
    props = args.props
    fixed = shallow_copy(props)
    changed = _set_flag(fixed, props, "deletionProtectionEnabled") is not None
    if args.resource_type in types.TABLE:
        changed = _fix_inline_replicas(fixed, props, "deletionProtectionEnabled") or changed
    return fixed if changed else None


def _set_flag(fixed: dict[str, Any], props: Any, flag: str) -> dict[str, Any] | None:
    if lookup(props, flag) is True:
        return None
    fixed[flag] = True
    return fixed


def _fix_inline_replicas(fixed: dict[str, Any], props: Any, flag: str) -> bool:
    replicas = elements(props, "replicas")
    # An unknown list, or an unknown element, cannot be rewritten without losing what it resolves to.
    if replicas is UNKNOWN or UNKNOWN in replicas or all(lookup(replica, flag) is True for replica in replicas):
        return False
    fixed["replicas"] = [
        replica if lookup(replica, flag) is True else {**shallow_copy(replica), flag: True} for replica in replicas
    ]
    return True


def check_no_legacy_global_table(args: ResourceValidationArgs, _config: Config) -> Iterator[str]:
    yield (
        f"'{args.name}' uses aws.dynamodb.GlobalTable (the 2017 API); declare aws.dynamodb.Table with "
        f"`replicas=[...]` instead ({label('replicas')} with pointInTimeRecovery and deletionProtectionEnabled)"
    )
