"""``sites[i]`` and ``app``: every problem at once, by key path; the RTO budget's arithmetic in the message."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from stackmodel.config import ConfigError, parse
from stackmodel.failover_budget import BudgetInputs, budget
from tests.components.harness import stack_config


def prod(**site: Any) -> dict[str, Any]:
    config = copy.deepcopy(stack_config("prod"))
    config["sites"][0].update(site)
    return config


def problems(config: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(config)
    return caught.value.problems


def test_the_prod_site_parses_with_its_budget() -> None:
    [site] = parse(stack_config("prod")).sites
    assert site.record_type == "CNAME" and site.buckets == ("audio", "uploads")
    assert site.budget.as_dict() | {} == budget(BudgetInputs(10, 3, 60, 60)).as_dict()
    assert (site.budget.detection, site.budget.switch, site.budget.ttl) == (40, 120, 60)


def test_every_problem_is_reported_by_key_path() -> None:
    config = prod(
        primary={"host": "1.2.3.4", "port": 0},
        probeIntervalSeconds=15,
        colour="blue",
    )
    config["sites"].append({**copy.deepcopy(config["sites"][0]), "name": "api"})
    del config["app"]
    found = problems(config)
    assert "app: is required when sites or tables are declared" in found
    assert "sites[0].primary.port: must be at least 1, got 0" in found
    assert any(line.startswith("sites[0].probeIntervalSeconds:") for line in found)
    assert any(line.startswith("sites[0].colour: unknown site key") for line in found)
    assert any(line.startswith("sites[1].") for line in found)


def test_cross_key_rules_of_one_site() -> None:
    found = problems(
        prod(
            secondary={"host": "52.94.76.10"},
            switch="arc",
            autoDnsFailover=True,
            database={"engine": "aurora-global", "identifier": "db-usw2"},
        )
    )
    assert any(line.startswith("sites[0].secondary.host: must be the same kind") for line in found)
    assert any(line.startswith("sites[0].autoDnsFailover: applies to the CloudWatch switch only") for line in found)
    assert (
        "sites[0].database.globalClusterIdentifier: is required for engine 'aurora-global' (FailoverGlobalCluster "
        "names the global cluster)"
    ) in found


def test_links_must_name_tier_1_buckets_and_declared_tables() -> None:
    found = problems(prod(buckets=["audio", "reporting", "nope"], tables=["sessions"]))
    assert found == [
        "sites[0].buckets[1]: 'reporting' is not a tier-1 bucket; a site fails over only to a bucket with a replica",
        "sites[0].buckets[2]: 'nope' is not a bucket of this stack",
        "sites[0].tables[0]: 'sessions' is not a table of this stack",
    ]


def test_a_declared_rto_below_the_budget_shows_the_arithmetic() -> None:
    [line] = problems(prod(rtoMinutes=3, database={"engine": "rds-replica", "identifier": "db-usw2"}))
    assert line.startswith("sites[0].rtoMinutes: 3 min is below what this site can achieve")
    path = "application path 710 s = detection 40 s + actions 10 s + database promotion 600 s + config refresh 60 s"
    assert path in line
    assert "declare at least 12" in line


def test_the_arc_switch_shortens_the_dns_path() -> None:
    [site] = parse(prod(switch="arc", rtoMinutes=2)).sites
    assert site.budget.switch == 5 and site.budget.rto_seconds == 110


API = stack_config("prod")["sites"][0]
MALFORMED_SITES = [
    pytest.param(
        {"secondary": copy.deepcopy(API["primary"])},
        ["sites[0].secondary: must differ from primary: a failover to the same endpoint recovers nothing"],
        id="secondary-equals-primary",
    ),
    pytest.param(
        {
            "database": {"engine": "rds-replica", "identifier": "db-usw2", "globalClusterIdentifier": "distronation"},
            "rtoMinutes": 15,  # the RDS promotion's budget
        },
        ["sites[0].database.globalClusterIdentifier: applies to engine 'aurora-global' only"],
        id="rds-replica-with-globalClusterIdentifier",
    ),
    pytest.param(
        {"primary": {**API["primary"], "host": "API-use1.distronation.example"}},
        ["sites[0].primary.host: must be an IP address or a lowercase DNS name, got 'API-use1.distronation.example'"],
        id="uppercase-host",
    ),
    pytest.param(
        {"secondary": {**API["secondary"], "host": "https://api-usw2.distronation.example"}},
        [
            (
                "sites[0].secondary.host: must be an IP address or a lowercase DNS name, got "
                "'https://api-usw2.distronation.example'"
            )
        ],
        id="host-with-a-scheme",
    ),
    pytest.param(
        {"recordName": "api"},
        ["sites[0].recordName: must be a lowercase fully qualified DNS name, got 'api'"],
        id="record-name-not-fully-qualified",
    ),
    pytest.param(
        {"hostedZoneId": "z0123456789distronation"},
        [
            (
                "sites[0].hostedZoneId: must be a Route 53 hosted zone ID (Z, then uppercase letters and digits), got "
                "'z0123456789distronation'"
            )
        ],
        id="lowercase-hosted-zone-id",
    ),
]


@pytest.mark.parametrize(("site", "expected"), MALFORMED_SITES)
def test_a_malformed_site_is_rejected_by_key_path(site: dict[str, Any], expected: list[str]) -> None:
    assert problems(prod(**site)) == expected


def test_site_names_are_unique() -> None:
    config = prod()
    config["sites"].append({**copy.deepcopy(API), "recordName": "www.distronation.example"})
    assert problems(config) == ["sites[1].name: duplicate site name 'api' (also sites[0])"]
