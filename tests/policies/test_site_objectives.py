"""``aws-route53-healthcheck-site-objectives-achievable``: the pack redoes a site's RTO budget from its tags."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi.runtime import rpc
from pulumi_policy import ResourceValidationArgs
from pulumi_policy.proxy import unknown_checking_proxy

from policies.dr_guardrails.catalog import SPECS
from policies.dr_guardrails.failover import check_site_objectives_achievable, site_budget_seconds
from stackmodel.failover_budget import CONSTANTS, PACK_CONSTANTS, BudgetInputs, budget

NAME = "aws-route53-healthcheck-site-objectives-achievable"
SPEC = SPECS[NAME]
PROD_TAGS = {  # as components/site.py tags prod's api site (TTL 30, refresh 30, RTO 2 min)
    "dr:rto-regional-minutes": "2",
    "dr:site-switch": "endpoint",
    "dr:site-probe-interval-seconds": "10",
    "dr:site-failure-threshold": "3",
    "dr:site-ttl-seconds": "30",
    "dr:site-config-refresh-seconds": "30",
    "dr:site-promotion-seconds": "0",
    "dr:site-auto-dns-failover": "false",
}


def violations(tags: dict[str, Any]) -> list[str]:
    props = {"type": "CALCULATED", "tags": tags}
    args = ResourceValidationArgs.__new__(ResourceValidationArgs)
    args.resource_type, args.props, args.urn, args.name = "aws:route53/healthCheck:HealthCheck", None, "urn", "switch"
    args.props = unknown_checking_proxy(props)
    return list(check_site_objectives_achievable(args, SPEC.resolved_config({})))


def program_budget(tags: dict[str, str]) -> int:
    """The program's budget (stackmodel/failover_budget.py) for the same tags."""
    inputs = BudgetInputs(
        probe_interval_seconds=int(tags["dr:site-probe-interval-seconds"]),
        failure_threshold=int(tags["dr:site-failure-threshold"]),
        ttl_seconds=int(tags["dr:site-ttl-seconds"]),
        config_refresh_seconds=int(tags["dr:site-config-refresh-seconds"]),
        switch=tags["dr:site-switch"],  # type: ignore[arg-type]
        database="rds-replica" if tags["dr:site-promotion-seconds"] != "0" else None,
        promotion_seconds=int(tags["dr:site-promotion-seconds"]) or None,
        auto_dns_failover=tags.get("dr:site-auto-dns-failover") == "true",
        measured_name_server_delay_seconds=int(tags["dr:site-name-server-delay-seconds"])
        if "dr:site-name-server-delay-seconds" in tags
        else None,
    )
    return budget(inputs).rto_seconds


def test_the_pack_and_the_program_share_one_table_of_constants() -> None:
    defaults = {name: schema["default"] for name, schema in SPEC.config.items()}
    program = {name: CONSTANTS[name].seconds for name in PACK_CONSTANTS}
    assert defaults == program and len(defaults) == 7
    assert "alarmEvaluationSeconds" not in defaults  # Route 53 never reads the alarm's state


def test_the_prod_site_passes_at_exactly_two_minutes() -> None:
    assert program_budget(PROD_TAGS) == 120
    assert violations(PROD_TAGS) == []


def test_one_second_over_the_declared_minutes_fails() -> None:
    """The minutes-to-seconds boundary: 121 s against 2 min (a x61 would pass it; a x59 would fail prod)."""
    tags = {**PROD_TAGS, "dr:site-ttl-seconds": "31"}
    assert program_budget(tags) == 121
    [message] = violations(tags)
    assert "budget = 121 s" in message and "declare at least 3" in message


@pytest.mark.parametrize(("switch", "declared"), [("endpoint", "1"), ("cloudwatch", "3"), ("arc", "1")])
def test_a_declared_rto_below_the_budget_fails_with_the_arithmetic(switch: str, declared: str) -> None:
    tags = {**PROD_TAGS, "dr:site-switch": switch, "dr:rto-regional-minutes": declared}
    [message] = violations(tags)
    assert f"budget = {program_budget(tags)} s" in message
    assert f"declare at least {-(-program_budget(tags) // 60)}" in message
    assert "DNS path" in message and "application path" in message


def test_a_declared_promotion_counts_on_both_paths() -> None:
    tags = {**PROD_TAGS, "dr:site-promotion-seconds": "45"}
    [message] = violations(tags)  # 120 + 45 > 120
    assert "database promotion 45 s + switch" in message and "database promotion 45 s + config refresh" in message
    assert f"budget = {program_budget(tags)} s" in message and program_budget(tags) == 165


def test_a_measured_name_server_delay_replaces_the_estimate() -> None:
    assert violations({**PROD_TAGS, "dr:site-name-server-delay-seconds": "20"}) == []
    [message] = violations({**PROD_TAGS, "dr:site-name-server-delay-seconds": "31"})
    assert "budget = 121 s" in message


def test_auto_dns_failover_has_its_own_path() -> None:
    tags = {
        **PROD_TAGS,
        "dr:site-auto-dns-failover": "true",
        "dr:site-ttl-seconds": "60",
        "dr:rto-regional-minutes": "2",
    }
    # switched 150 s, auto 30 + 30 + 60 = 120 s: DNS takes 120 s, the application path 80 s.
    assert program_budget(tags) == 120
    assert violations(tags) == []
    [message] = violations({**tags, "dr:site-auto-dns-failover": "false"})
    assert "budget = 150 s" in message


def test_untagged_health_checks_are_not_sites() -> None:
    assert violations({"Name": "something-else"}) == []


@pytest.mark.parametrize(
    "key",
    [
        "dr:site-switch",
        "dr:site-ttl-seconds",
        "dr:site-auto-dns-failover",
        "dr:site-name-server-delay-seconds",
        "dr:rto-regional-minutes",
    ],
)
def test_an_unknown_tag_is_reported_not_passed(key: str) -> None:
    [message] = violations({**PROD_TAGS, key: rpc.UNKNOWN})
    assert "cannot verify" in message and key in message


def test_an_unrecognised_switch_is_reported_not_passed() -> None:
    [message] = violations({**PROD_TAGS, "dr:site-switch": "dns"})
    assert "must be one of endpoint, cloudwatch, arc" in message


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("dr:site-switch", "dns", 'tag `dr:site-switch` must be one of endpoint, cloudwatch, arc (declared: "dns")'),
        ("dr:site-ttl-seconds", "ten", 'tag `dr:site-ttl-seconds` must be whole seconds (declared: "ten")'),
        # A Unicode digit passes str.isdigit(); the pack takes ASCII digits only.
        ("dr:site-ttl-seconds", "\u0663", 'tag `dr:site-ttl-seconds` must be whole seconds (declared: "\\u0663")'),
        ("dr:site-auto-dns-failover", "yes", 'tag `dr:site-auto-dns-failover` must be true or false (declared: "yes")'),
        (
            "dr:site-name-server-delay-seconds",
            "-5",
            'tag `dr:site-name-server-delay-seconds` must be whole seconds (declared: "-5")',
        ),
        (
            "dr:rto-regional-minutes",
            "2.5",
            'tag `dr:rto-regional-minutes` must be whole minutes on a site\'s switch (declared: "2.5")',
        ),
    ],
)
def test_a_malformed_tag_is_reported_with_its_value(key: str, value: str, expected: str) -> None:
    assert violations({**PROD_TAGS, key: value}) == [expected]


def test_a_promotion_on_the_application_path_adds_to_it() -> None:
    tags = {**PROD_TAGS, "dr:site-config-refresh-seconds": "300", "dr:site-promotion-seconds": "45"}
    [message] = violations(tags)  # application 40 + 10 + 45 + 300; DNS 40 + 10 + 45 + 40 + 30
    assert "budget = 395 s" in message and program_budget(tags) == 395


def test_the_application_path_can_set_the_budget() -> None:
    tags = {**PROD_TAGS, "dr:site-config-refresh-seconds": "300"}  # 40 + 10 + 0 + 300 > the DNS path's 120
    [message] = violations(tags)
    assert "application path 350 s" in message and "budget = 350 s" in message
    assert program_budget(tags) == 350


def test_auto_dns_failover_message_shows_both_dns_paths() -> None:
    tags = {
        **PROD_TAGS,
        "dr:site-auto-dns-failover": "true",
        "dr:site-ttl-seconds": "60",
        "dr:rto-regional-minutes": "1",
    }
    [message] = violations(tags)
    assert message.startswith(
        "site declares dr:rto-regional-minutes=1, below what its failover can achieve: DNS path 150 s"
    )
    assert "autoDnsFailover path 120 s (DNS takes 120 s)" in message and "budget = 120 s" in message


def test_the_budget_function_defaults_to_no_auto_dns_path() -> None:
    inputs = {"probeInterval": 10, "failureThreshold": 3, "ttl": 60, "configRefresh": 30, "promotion": 0}
    seconds, text = site_budget_seconds(inputs, "endpoint", SPEC.resolved_config({}))
    assert seconds == 150 and "autoDnsFailover" not in text
