"""``stackmodel/failover_budget.py`` as plain arithmetic: every path, term and label (fast: the mutation target
``make mutation-failover`` runs these for each mutant; tests/components/test_site_config.py proves the config uses
them)."""

from __future__ import annotations

import pytest

from stackmodel.failover_budget import CONSTANTS, PACK_CONSTANTS, BudgetInputs, budget, constant

PROD = BudgetInputs(probe_interval_seconds=10, failure_threshold=3, ttl_seconds=30, config_refresh_seconds=30)


def term(inputs: BudgetInputs, name: str) -> tuple[int, str]:
    found = next(t for t in budget(inputs).terms if t.name == name)
    return found.seconds, found.label


def test_prod_is_120_seconds_on_the_dns_path_and_80_on_the_application_path() -> None:
    model = budget(PROD)
    assert (model.detection, model.actions, model.promotion, model.switch, model.ttl) == (40, 10, 0, 40, 30)
    assert (model.switched_dns_path, model.dns_path, model.app_path, model.rto_seconds) == (120, 120, 80, 120)
    assert model.rto_minutes == 2 and model.auto_dns is None
    assert model.as_dict() == {
        "detectionSeconds": 40,
        "actionsSeconds": 10,
        "promotionSeconds": 0,
        "switchSeconds": 40,
        "ttlSeconds": 30,
        "configRefreshSeconds": 30,
        "dnsPathSeconds": 120,
        "appPathSeconds": 80,
        "rtoSeconds": 120,
        "rtoMinutes": 2,
    }
    assert model.explain() == (
        "DNS path 120 s = detection 40 s + actions 10 s + database promotion 0 s + switch 40 s + TTL 30 s; "
        "application path 80 s = detection 40 s + actions 10 s + database promotion 0 s + config refresh 30 s; "
        "budget = 120 s = 2 min"
    )


def test_one_second_more_is_a_minute_more() -> None:
    model = budget(BudgetInputs(10, 3, 31, 30))
    assert model.rto_seconds == 121 and model.rto_minutes == 3


def test_every_term_is_labelled_and_sums_to_the_dns_path() -> None:
    model = budget(PROD)
    labels = {t.name: t.label for t in model.terms}
    assert labels == {
        "failureThreshold x probeIntervalSeconds": "configured",
        "scheduleGapSeconds": "estimate",
        "orchestratorActionSeconds": "estimate",
        "promotionSeconds": "configured",
        "switchCheckSeconds": "documented",
        "nameServerDelaySeconds": "estimate",
        "ttlSeconds": "configured",
        "configRefreshSeconds": "configured",
    }
    assert sum(t.seconds for t in model.terms if t.name != "configRefreshSeconds") == model.dns_path
    assert all(t.source for t in model.terms)


def test_documented_constants_cite_a_page_and_estimates_say_how_to_measure() -> None:
    for name, item in CONSTANTS.items():
        if item.label == "documented":
            assert "https://docs.aws.amazon.com/" in item.source, name
        else:
            assert item.label == "estimate" and ("drill" in item.source or "measure" in item.source), name
    assert "alarmEvaluationSeconds" not in CONSTANTS  # Route 53 never reads the alarm's state
    assert PACK_CONSTANTS == (
        "scheduleGapSeconds",
        "orchestratorActionSeconds",
        "switchCheckSeconds",
        "nameServerDelaySeconds",
        "metricPeriodSeconds",
        "route53AlarmCheckSeconds",
        "routingControlSeconds",
    )
    assert constant("switchCheckSeconds") == 10 and constant("nameServerDelaySeconds") == 30


@pytest.mark.parametrize(
    ("switch", "seconds", "names"),
    [
        ("endpoint", 40, ("switchCheckSeconds", "nameServerDelaySeconds")),
        ("cloudwatch", 150, ("metricPeriodSeconds", "route53AlarmCheckSeconds", "nameServerDelaySeconds")),
        ("arc", 35, ("routingControlSeconds", "nameServerDelaySeconds")),
    ],
)
def test_each_switch_has_its_own_terms(switch: str, seconds: int, names: tuple[str, ...]) -> None:
    model = budget(BudgetInputs(10, 3, 30, 30, switch=switch))  # type: ignore[arg-type]
    assert model.switch == seconds
    switch_terms = [t.name for t in model.terms][4:-2]
    assert tuple(switch_terms) == names


def test_a_measured_name_server_delay_replaces_the_estimate() -> None:
    inputs = BudgetInputs(10, 3, 30, 30, measured_name_server_delay_seconds=12)
    assert budget(inputs).switch == 22 and budget(inputs).rto_seconds == 102
    assert term(inputs, "nameServerDelaySeconds") == (12, "measured")
    assert term(PROD, "nameServerDelaySeconds") == (30, "estimate")
    zero = BudgetInputs(10, 3, 30, 30, measured_name_server_delay_seconds=0)
    assert term(zero, "nameServerDelaySeconds") == (0, "measured")


def test_database_promotion_on_both_paths() -> None:
    aurora = BudgetInputs(10, 3, 30, 30, database="aurora-global")
    rds = BudgetInputs(10, 3, 30, 30, database="rds-replica")
    declared = BudgetInputs(10, 3, 30, 30, database="aurora-global", promotion_seconds=45)
    assert term(aurora, "promotionSeconds") == (120, "estimate")
    assert term(rds, "promotionSeconds") == (600, "estimate")
    assert term(declared, "promotionSeconds") == (45, "configured")
    assert term(PROD, "promotionSeconds") == (0, "configured")
    model = budget(declared)
    assert (model.switched_dns_path, model.app_path, model.rto_seconds) == (165, 125, 165)
    assert "database promotion 45 s + switch 40 s" in model.explain()
    assert "database promotion 45 s + config refresh 30 s" in model.explain()


def test_the_application_path_can_set_the_budget() -> None:
    model = budget(BudgetInputs(10, 3, 30, 300))
    assert model.app_path == 350 and model.rto_seconds == 350 and model.dns_path == 120


def test_auto_dns_failover_has_its_own_path_and_dns_takes_the_shorter() -> None:
    model = budget(BudgetInputs(10, 3, 60, 30, auto_dns_failover=True))
    assert model.auto_dns == 30 + 30 + 60 and model.switched_dns_path == 150 and model.dns_path == 120
    assert model.as_dict()["autoDnsPathSeconds"] == 120 and model.as_dict()["dnsPathSeconds"] == 120
    assert "; autoDnsFailover path 120 s (DNS takes 120 s); application path" in model.explain()


def test_constants_can_be_overridden_as_the_pack_configures_them() -> None:
    model = budget(PROD, {"nameServerDelaySeconds": 5, "scheduleGapSeconds": 0})
    assert model.detection == 30 and model.switch == 15 and model.rto_seconds == 85
    assert term(PROD, "scheduleGapSeconds") == (10, "estimate")


def test_configured_and_measured_terms_name_the_key_they_come_from() -> None:
    """The source column a reader checks (docs/runbooks/failover.md): each term names its config key."""
    declared = BudgetInputs(
        10, 3, 30, 30, database="aurora-global", promotion_seconds=45, measured_name_server_delay_seconds=12
    )
    sources = {t.name: t.source for t in budget(declared).terms}
    assert sources["failureThreshold x probeIntervalSeconds"] == "the site's probeIntervalSeconds x failureThreshold"
    assert sources["promotionSeconds"] == "aurora-global promotion (database.promotionSeconds)"
    assert sources["nameServerDelaySeconds"] == (
        "the site's measuredNameServerDelaySeconds (p95 of `drctl drill --scenario switch-latency`)"
    )
    assert sources["ttlSeconds"] == "the site's ttlSeconds (counts in full in the worst case)"
    assert sources["configRefreshSeconds"] == "the site's configRefreshSeconds"
    assert {t.name: t.source for t in budget(PROD).terms}["promotionSeconds"] == "no database"
    assert term(PROD, "configRefreshSeconds") == (30, "configured")


def test_the_auto_dns_explanation_keeps_the_switched_path() -> None:
    text = budget(BudgetInputs(10, 3, 60, 30, auto_dns_failover=True)).explain()
    assert text.startswith("DNS path 150 s = detection 40 s + actions 10 s + database promotion 0 s + switch 40 s")
