"""DynamoDB policies: PITR, deletion protection, and no legacy global tables."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from pulumi_policy import ResourceValidationArgs

from . import types
from .framework import Config
from .props import (
    UNKNOWN,
    Tags,
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
from .tiers import TIER_TAG, tier_minimum, tier_minimum_schema

# The tiers' PITR periods (stackmodel/tiers.py TABLE_TIERS; tests/policies/test_config.py proves them equal).
PITR_SCHEMA: Final = tier_minimum_schema({"1": 35, "2": 14, "3": 7}, "PITR recovery period in days", maximum=35)

AWS_DEFAULT_PITR_DAYS: Final = 35  # pulumi-aws: recoveryPeriodInDays defaults to 35


def pitr_problems(args: ResourceValidationArgs, config: Config) -> Iterator[str]:
    props = args.props
    if args.resource_type in types.TABLE_REPLICA:
        yield from expect(props, ("pointInTimeRecovery",), True)
        return
    yield from expect(props, ("pointInTimeRecovery", "enabled"), True)
    period = lookup(props, "pointInTimeRecovery", "recoveryPeriodInDays")
    minimum, scope = tier_minimum(Tags(props), config)
    if period is UNKNOWN:
        yield cannot_verify("pointInTimeRecovery.recoveryPeriodInDays")
    elif minimum is UNKNOWN:
        if _period_days(period) < config["tier1MinDays"]:
            yield cannot_verify(f"tags.{TIER_TAG} (it decides the minimum PITR recovery period)")
    elif _period_days(period) < minimum:
        yield (
            f"pointInTimeRecovery.recoveryPeriodInDays must be at least {minimum} for {scope} "
            f"(declared: {describe(period)})"
        )
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
    """Turn on the table's own PITR block, and raise a too-short recovery period to its tier's minimum.

    Only properties without a provider default are remediated, because under the engine Remediate runs after
    the provider's Check has filled schema defaults: the `point_in_time_recovery` block has none and its
    `enabled` is required ("Whether to enable point-in-time recovery ... If the `point_in_time_recovery` block
    is not provided, this defaults to `false`": the block stays absent), pulumi-aws
    https://www.pulumi.com/registry/packages/aws/api-docs/dynamodb/table/#tablepointintimerecovery. Inline
    replicas' and TableReplica's `point_in_time_recovery` default to `false` in the schema, so an explicit
    `False` is indistinguishable there: those are reported, never remediated.
    """
    if args.resource_type not in types.TABLE:
        return None
    props = args.props
    pitr = lookup(props, "pointInTimeRecovery")
    if pitr is UNKNOWN:
        return None
    period = lookup(pitr, "recoveryPeriodInDays")
    minimum, _scope = tier_minimum(Tags(props), config)
    if minimum is UNKNOWN:  # the tier decides the period: never raise it blind
        minimum = 0
    too_short = number(period) is not None and _period_days(period) < minimum
    if lookup(pitr, "enabled") is True and not too_short:
        return None
    fixed = shallow_copy(props)
    new_pitr = shallow_copy(pitr)
    new_pitr["enabled"] = True
    if too_short:
        new_pitr["recoveryPeriodInDays"] = minimum
    fixed["pointInTimeRecovery"] = new_pitr
    return fixed


def check_no_legacy_global_table(args: ResourceValidationArgs, _config: Config) -> Iterator[str]:
    yield (
        f"'{args.name}' uses aws.dynamodb.GlobalTable (the 2017 API); declare aws.dynamodb.Table with "
        f"`replicas=[...]` instead ({label('replicas')} with pointInTimeRecovery and deletionProtectionEnabled)"
    )
