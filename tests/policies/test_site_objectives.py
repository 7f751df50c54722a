"""``aws-route53-healthcheck-site-objectives-achievable``: the pack redoes a site's RTO budget from its tags."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_policy import ResourceValidationArgs
from pulumi_policy.proxy import unknown_checking_proxy

from policies.dr_guardrails.catalog import SPECS
from policies.dr_guardrails.failover import check_site_objectives_achievable
from stackmodel.failover_budget import CONSTANTS, BudgetInputs, budget

NAME = "aws-route53-healthcheck-site-objectives-achievable"
SPEC = SPECS[NAME]
PROD_TAGS = {
    "dr:rto-regional-minutes": "5",
    "dr:site-switch": "cloudwatch",
    "dr:site-probe-interval-seconds": "10",
    "dr:site-failure-threshold": "3",
    "dr:site-ttl-seconds": "60",
    "dr:site-config-refresh-seconds": "60",
    "dr:site-promotion-seconds": "0",
}


def violations(tags: dict[str, Any]) -> list[str]:
    props = {"type": "CLOUDWATCH_METRIC", "tags": tags}
    args = ResourceValidationArgs.__new__(ResourceValidationArgs)
    args.resource_type, args.props, args.urn, args.name = "aws:route53/healthCheck:HealthCheck", None, "urn", "switch"
    args.props = unknown_checking_proxy(props)
    return list(check_site_objectives_achievable(args, SPEC.resolved_config({})))


def test_the_pack_and_the_program_share_one_table_of_constants() -> None:
    defaults = {name: schema["default"] for name, schema in SPEC.config.items()}
    program = {name: value for name, (value, _) in CONSTANTS.items() if name in defaults}
    assert defaults == program and len(defaults) == 6


def test_the_prod_site_passes() -> None:
    assert violations(PROD_TAGS) == []


@pytest.mark.parametrize(("switch", "declared"), [("cloudwatch", "3"), ("arc", "1")])
def test_a_declared_rto_below_the_budget_fails_with_the_arithmetic(switch: str, declared: str) -> None:
    [message] = violations({**PROD_TAGS, "dr:site-switch": switch, "dr:rto-regional-minutes": declared})
    inputs = BudgetInputs(10, 3, 60, 60, switch=switch)  # type: ignore[arg-type]
    assert f"budget = {budget(inputs).rto_seconds} s" in message
    assert f"declare at least {budget(inputs).rto_minutes}" in message
    assert "DNS path" in message and "application path" in message


def test_a_database_promotion_counts_in_the_application_path() -> None:
    [message] = violations({**PROD_TAGS, "dr:site-promotion-seconds": "600"})
    assert "database promotion 600 s" in message


def test_untagged_health_checks_are_not_sites() -> None:
    assert violations({"Name": "something-else"}) == []


def test_an_unknown_tag_is_reported_not_passed() -> None:
    from pulumi.runtime import rpc

    [message] = violations({**PROD_TAGS, "dr:site-ttl-seconds": rpc.UNKNOWN})
    assert "cannot verify" in message and "dr:site-ttl-seconds" in message
