"""Route 53 failover and its health-check alarms."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from pulumi_policy import PolicyResource, ResourceValidationArgs

from . import types
from .framework import Config
from .index import StackIndex
from .props import MISSING, UNKNOWN, cannot_verify, describe, elements, is_absent, lookup, region_of

ROUTE53_NAMESPACE = "AWS/Route53"


def failover_roles(props: Any) -> list[Any] | Any:
    """The record's failover types ("PRIMARY"/"SECONDARY"), or UNKNOWN."""
    policies = elements(props, "failoverRoutingPolicies")
    if policies is UNKNOWN:
        return UNKNOWN
    roles = [lookup(policy, "type") for policy in policies]
    return UNKNOWN if UNKNOWN in roles else roles


def check_primary_health_check(args: ResourceValidationArgs, _config: Config) -> Iterator[str]:
    roles = failover_roles(args.props)
    if roles is UNKNOWN:
        yield cannot_verify("failoverRoutingPolicies[].type")
        return
    if "PRIMARY" not in roles:
        return
    # An unknown id is another resource's output (the health check being created), so it is declared.
    health_check = lookup(args.props, "healthCheckId")
    if is_absent(health_check) or health_check == "":
        yield (
            "a PRIMARY failover record needs healthCheckId; without a health check Route 53 never fails over "
            f"(declared: {describe(health_check)})"
        )


def _record_key(record: PolicyResource) -> Any:
    """(zone, name, type) identifying a failover pair; UNKNOWN if any part cannot be known at preview."""
    parts: list[Any] = []
    for prop in ("zoneId", "name", "type"):
        value = lookup(record.props, prop)
        if isinstance(value, str):
            parts.append(value.lower().rstrip("."))
            continue
        linked = tuple(sorted(dep.urn for dep in record.property_dependencies.get(prop, [])))
        if not linked:
            return UNKNOWN
        parts.append(linked)
    return tuple(parts)


def check_secondary_exists(index: StackIndex, _config: Config) -> Iterator[tuple[str, str]]:
    primaries: list[tuple[PolicyResource, Any]] = []
    secondaries: dict[Any, list[PolicyResource]] = defaultdict(list)
    for token in types.ROUTE53_RECORD:
        for record in index.by_type.get(token, []):
            roles = failover_roles(record.props)
            if roles is UNKNOWN:
                yield record.urn, cannot_verify(f"{record.name}.failoverRoutingPolicies[].type")
                continue
            key = _record_key(record) if roles else None
            if "PRIMARY" in roles:
                primaries.append((record, key))
            if "SECONDARY" in roles and key is not UNKNOWN:
                secondaries[key].append(record)
    for record, key in primaries:
        if key is UNKNOWN:
            yield record.urn, cannot_verify(f"{record.name}.zoneId/name/type (needed to find its SECONDARY)")
        elif not secondaries.get(key):
            yield (
                record.urn,
                (
                    f"PRIMARY failover record '{record.name}' has no SECONDARY record with the same zone, name and "
                    "type; declare one pointing at the recovery region"
                ),
            )


def check_route53_alarm_region(args: ResourceValidationArgs, config: Config) -> Iterator[str]:
    namespace = lookup(args.props, "namespace")
    if namespace is UNKNOWN:
        yield cannot_verify("namespace")
        return
    if namespace != ROUTE53_NAMESPACE:
        return
    wanted = config["region"]
    region = region_of(args.props, args.provider)
    if region is UNKNOWN:
        yield cannot_verify("region (from the resource or its provider)")
    elif region is MISSING:
        yield (
            f"alarm on {ROUTE53_NAMESPACE} metrics pins no region (neither `region` nor its provider sets one), so it "
            f"lands wherever AWS_REGION points; create it with a {wanted} provider"
        )
    elif region != wanted:
        yield (
            f"alarm on {ROUTE53_NAMESPACE} metrics is in {describe(region)}; Route 53 health-check metrics exist only "
            f"in {wanted}, so the alarm would never fire. Create it with a {wanted} provider."
        )


# --- a FailoverSite's RTO budget ---------------------------------------------------------------------------------
# The same arithmetic as stackmodel/failover_budget.py (the pack cannot import the program); its constants are this
# policy's config defaults, and tests/policies/test_site_objectives.py proves the two tables equal.
SITE_SWITCH_TAG = "dr:site-switch"
SITE_INPUT_TAGS = {
    "probeInterval": "dr:site-probe-interval-seconds",
    "failureThreshold": "dr:site-failure-threshold",
    "ttl": "dr:site-ttl-seconds",
    "configRefresh": "dr:site-config-refresh-seconds",
    "promotion": "dr:site-promotion-seconds",
}
SITE_AUTO_DNS_TAG = "dr:site-auto-dns-failover"  # "true" | "false"; absent: false
SITE_NAME_SERVER_DELAY_TAG = "dr:site-name-server-delay-seconds"  # a drill's measure; absent: the config estimate
SITE_RTO_TAG = "dr:rto-regional-minutes"
SWITCHES = ("endpoint", "cloudwatch", "arc")
SECONDS_PER_MINUTE = 60


def _whole(value: Any) -> int | None:
    """A tag holding whole non-negative digits (ASCII only: ``int`` rejects some Unicode digits)."""
    return int(value) if isinstance(value, str) and value.isascii() and value.isdigit() else None


def site_budget_seconds(
    inputs: dict[str, int], switch: str, config: Config, *, auto_dns: bool = False, name_servers: int | None = None
) -> tuple[int, str]:
    """(budget in seconds, the arithmetic) for a site's inputs; the larger of the DNS and application paths."""
    delay = config["nameServerDelaySeconds"] if name_servers is None else name_servers
    checkers = inputs["failureThreshold"] * inputs["probeInterval"]
    detection = checkers + config["scheduleGapSeconds"]
    if switch == "arc":
        switch_seconds = config["routingControlSeconds"] + delay
    elif switch == "cloudwatch":
        switch_seconds = config["metricPeriodSeconds"] + config["route53AlarmCheckSeconds"] + delay
    else:
        switch_seconds = config["switchCheckSeconds"] + delay
    actions = config["orchestratorActionSeconds"]
    switched = detection + actions + inputs["promotion"] + switch_seconds + inputs["ttl"]
    dns = min(switched, checkers + delay + inputs["ttl"]) if auto_dns else switched
    app = detection + actions + inputs["promotion"] + inputs["configRefresh"]
    text = (
        f"DNS path {switched} s = detection {detection} s + actions {actions} s + database promotion "
        f"{inputs['promotion']} s + switch {switch_seconds} s + TTL {inputs['ttl']} s"
    )
    if auto_dns:
        text += f"; autoDnsFailover path {checkers + delay + inputs['ttl']} s (DNS takes {dns} s)"
    text += (
        f"; application path {app} s = detection {detection} s + actions {actions} s + database promotion "
        f"{inputs['promotion']} s + config refresh {inputs['configRefresh']} s"
    )
    return max(dns, app), text


def check_site_objectives_achievable(args: ResourceValidationArgs, config: Config) -> Iterator[str]:
    """On a FailoverSite's PRIMARY record's check (the one tagged ``dr:site-switch``)."""
    from .props import Tags  # local: keeps this module's imports as they were

    tags = Tags(args.props)
    switch = tags.get(SITE_SWITCH_TAG)
    if switch is MISSING:
        return
    if switch is UNKNOWN:
        yield cannot_verify(f"tags.{SITE_SWITCH_TAG}")
        return
    if switch not in SWITCHES:
        yield f"tag `{SITE_SWITCH_TAG}` must be one of {', '.join(SWITCHES)} (declared: {describe(switch)})"
        return
    inputs: dict[str, int] = {}
    for name, key in SITE_INPUT_TAGS.items():
        value = tags.get(key)
        if value is UNKNOWN:
            yield cannot_verify(f"tags.{key}")
            return
        number = _whole(value)
        if number is None:
            yield f"tag `{key}` must be whole seconds (declared: {describe(value)})"
            return
        inputs[name] = number
    auto_dns = tags.get(SITE_AUTO_DNS_TAG)
    delay = tags.get(SITE_NAME_SERVER_DELAY_TAG)
    for key, value in ((SITE_AUTO_DNS_TAG, auto_dns), (SITE_NAME_SERVER_DELAY_TAG, delay)):
        if value is UNKNOWN:
            yield cannot_verify(f"tags.{key}")
            return
    if auto_dns not in (MISSING, "true", "false"):
        yield f"tag `{SITE_AUTO_DNS_TAG}` must be true or false (declared: {describe(auto_dns)})"
        return
    measured = None if delay is MISSING else _whole(delay)
    if delay is not MISSING and measured is None:
        yield f"tag `{SITE_NAME_SERVER_DELAY_TAG}` must be whole seconds (declared: {describe(delay)})"
        return
    declared = tags.get(SITE_RTO_TAG)
    if declared is UNKNOWN:
        yield cannot_verify(f"tags.{SITE_RTO_TAG}")
        return
    minutes = _whole(declared)
    if minutes is None:
        yield f"tag `{SITE_RTO_TAG}` must be whole minutes on a site's switch (declared: {describe(declared)})"
        return
    budget, arithmetic = site_budget_seconds(
        inputs, str(switch), config, auto_dns=auto_dns == "true", name_servers=measured
    )
    if minutes * SECONDS_PER_MINUTE < budget:
        yield (
            f"site declares {SITE_RTO_TAG}={declared}, below what its failover can achieve: {arithmetic}; "
            f"budget = {budget} s; declare at least {-(-budget // SECONDS_PER_MINUTE)}"
        )
