"""``sites[i]`` and ``app``: every problem at once, by key path; the RTO budget's arithmetic in the message."""

from __future__ import annotations

import copy
import dataclasses
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
    return problems_with_secrets(config, frozenset())


def in_eu_central_2(config: dict[str, Any]) -> None:
    """Prod recovering in Zurich, where Lambda has no function URLs: without its tables (they live in US Regions),
    its buckets backed up from the primary (AWS Backup for S3 is not confirmed in Zurich, stackmodel/regions.py)."""
    config["recoveryRegion"] = "eu-central-2"
    config.pop("tables")
    config["sites"][0].pop("tables")
    config["backup"]["s3"] = {**config["backup"]["s3"], "target": "primary"}


def problems_with_secrets(config: dict[str, Any], secret_keys: frozenset[str]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(config, secret_keys=secret_keys)
    return caught.value.problems


def test_the_prod_site_parses_with_its_budget() -> None:
    [site] = parse(stack_config("prod")).sites
    assert site.record_type == "CNAME" and site.buckets == ("audio", "uploads")
    assert site.switch == "endpoint" and site.ttl_seconds == 30
    assert site.budget.as_dict() == budget(BudgetInputs(10, 3, 30, 30)).as_dict()
    assert (site.budget.detection, site.budget.actions, site.budget.switch, site.budget.ttl) == (40, 10, 40, 30)
    assert site.budget.rto_seconds == 120 and site.budget.app_path == 80  # the goal: <= 120 s, both paths


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
    assert any(line.startswith("sites[0].autoDnsFailover: applies to the endpoint and CloudWatch") for line in found)
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
    path = "application path 680 s = detection 40 s + actions 10 s + database promotion 600 s + config refresh 30 s"
    assert path in line
    assert "declare at least 12" in line


def test_a_declared_promotion_replaces_the_engines_estimate_on_both_paths() -> None:
    database = {"engine": "aurora-global", "identifier": "db-usw2", "globalClusterIdentifier": "distronation"}
    [site] = parse(prod(database={**database, "promotionSeconds": 45}, rtoMinutes=3)).sites
    assert site.budget.promotion == 45  # not the 120 s estimate
    assert site.budget.switched_dns_path == 165 and site.budget.app_path == 125
    [line] = problems(prod(database={**database, "promotionSeconds": 45}, rtoMinutes=2))
    assert "database promotion 45 s + switch 40 s" in line


def test_the_minutes_to_seconds_boundary() -> None:
    """120 s fits 2 min; 121 s does not (a x61 would let it pass, a x59 would refuse prod)."""
    assert parse(prod(rtoMinutes=2)).sites[0].budget.rto_seconds == 120
    [line] = problems(prod(rtoMinutes=2, ttlSeconds=31))
    assert "budget = 121 s = 3 min" in line and "declare at least 3" in line


def test_a_measured_name_server_delay_replaces_the_estimate() -> None:
    [site] = parse(prod(measuredNameServerDelaySeconds=12)).sites
    assert site.budget.switch == 22 and site.budget.rto_seconds == 102
    term = next(t for t in site.budget.terms if t.name == "nameServerDelaySeconds")
    assert term.label == "measured"


def test_every_budget_term_is_labelled() -> None:
    [site] = parse(stack_config("prod")).sites
    labels = {t.name: t.label for t in site.budget.terms}
    assert labels["switchCheckSeconds"] == "documented" and labels["nameServerDelaySeconds"] == "estimate"
    assert labels["ttlSeconds"] == "configured" and labels["scheduleGapSeconds"] == "estimate"
    assert set(labels.values()) <= {"documented", "configured", "estimate", "measured"}
    assert sum(t.seconds for t in site.budget.terms if t.name != "configRefreshSeconds") == 120


def test_the_alarm_switch_and_the_arc_switch_have_their_own_budgets() -> None:
    [alarm] = parse(prod(switch="cloudwatch", rtoMinutes=4)).sites
    assert alarm.budget.switch == 60 + 60 + 30  # metric period + Route 53's read (estimate) + name servers
    [arc] = parse(prod(switch="arc", rtoMinutes=2)).sites
    assert arc.budget.switch == 35 and arc.budget.rto_seconds == 115


def test_auto_dns_failover_has_its_own_dns_path() -> None:
    [site] = parse(prod(autoDnsFailover=True, ttlSeconds=60, rtoMinutes=2, buckets=[], tables=[])).sites
    assert site.budget.auto_dns == 30 + 30 + 60 and site.budget.switched_dns_path == 150
    assert site.budget.dns_path == 120


def test_a_recovery_region_without_function_urls_needs_another_switch() -> None:
    config = prod()
    in_eu_central_2(config)
    found = problems(config)
    assert any(
        line.startswith("sites[0].switch: 'endpoint' needs a Lambda function URL, which eu-central-2") for line in found
    )
    config["sites"][0]["switch"] = "cloudwatch"
    config["sites"][0]["rtoMinutes"] = 4
    assert parse(config).sites[0].switch == "cloudwatch"


RESERVE_ADVICE = (
    "Lambda keeps at least {keep} unreserved and would refuse the deploy. Lower the reservations, or raise the quota "
    "(Service Quotas, Lambda 'Concurrent executions') and declare it as lambdaConcurrencyQuotas.us-west-2"
)


def with_second_site(config: dict[str, Any], **site: Any) -> dict[str, Any]:
    second = {**copy.deepcopy(config["sites"][0]), "name": "web", "recordName": "web.distronation.example", **site}
    config["sites"].append(second)
    return config


def test_reserved_concurrency_must_leave_the_account_minimum_unreserved() -> None:
    [line] = problems(prod(switchReservedConcurrency=899))
    assert line == (
        "sites: the stack reserves 901 concurrent executions in us-west-2 (sites[0].orchestratorReservedConcurrency "
        "2 + sites[0].switchReservedConcurrency 899), leaving 99 of the account's quota of 1000 there "
        "(lambdaConcurrencyQuotas.us-west-2 not declared: the default) unreserved; " + RESERVE_ADVICE.format(keep=100)
    )
    assert parse(prod(switchReservedConcurrency=898)).sites[0].switch_reserved_concurrency == 898


def test_reserved_concurrency_is_summed_over_every_site_of_the_region() -> None:
    """Each site alone leaves more than 100 of 1,000 unreserved; together they do not."""
    assert parse(prod(switchReservedConcurrency=448)).sites[0].switch_reserved_concurrency == 448
    config = with_second_site(prod(switchReservedConcurrency=448), switchReservedConcurrency=449)
    [line] = problems(config)
    assert line == (
        "sites: the stack reserves 901 concurrent executions in us-west-2 (sites[0].orchestratorReservedConcurrency "
        "2 + sites[0].switchReservedConcurrency 448 + sites[1].orchestratorReservedConcurrency 2 + "
        "sites[1].switchReservedConcurrency 449), leaving 99 of the account's quota of 1000 there "
        "(lambdaConcurrencyQuotas.us-west-2 not declared: the default) unreserved; " + RESERVE_ADVICE.format(keep=100)
    )
    config["sites"][1]["switchReservedConcurrency"] = 448
    assert len(parse(config).sites) == 2  # exactly 100 left


def test_a_declared_quota_replaces_the_default_in_its_region_only() -> None:
    config = prod()
    config["lambdaConcurrencyQuotas"] = {"us-west-2": 61, "us-east-1": 5000}  # prod reserves 2 + 10 in us-west-2
    [line] = problems(config)
    assert line == (
        "sites: the stack reserves 12 concurrent executions in us-west-2 (sites[0].orchestratorReservedConcurrency 2 "
        "+ sites[0].switchReservedConcurrency 10), leaving 49 of the account's quota of 61 there "
        "(lambdaConcurrencyQuotas.us-west-2) unreserved; " + RESERVE_ADVICE.format(keep=50)
    )
    config["lambdaConcurrencyQuotas"]["us-west-2"] = 62  # below 1,000 an account keeps 50
    assert parse(config).sites[0].orchestrator_reserved_concurrency == 2
    config = prod(switchReservedConcurrency=899)  # 901 reserved
    config["lambdaConcurrencyQuotas"] = {"us-west-2": 1000}  # from 1,000 an account keeps 100
    assert "leaving 99 of the account's quota of 1000 there (lambdaConcurrencyQuotas.us-west-2)" in problems(config)[0]
    config["lambdaConcurrencyQuotas"] = {"us-west-2": 1001}
    assert parse(config).sites[0].switch_reserved_concurrency == 899
    config["lambdaConcurrencyQuotas"] = {"us-east-1": 5000}  # another Region's quota does not count
    [line] = problems(config)
    assert "(lambdaConcurrencyQuotas.us-west-2 not declared: the default)" in line


def test_a_quota_must_be_a_positive_integer_per_known_region() -> None:
    config = prod()
    config["lambdaConcurrencyQuotas"] = {"us-west-2": 0, "mars-1": 500}
    found = problems(config)
    assert "lambdaConcurrencyQuotas.us-west-2: must be at least 1, got 0" in found
    assert "lambdaConcurrencyQuotas.mars-1.[key]: must be an AWS region botocore knows" in found
    assert not any(line.startswith("sites:") for line in found)  # no sum against a quota that failed


def test_a_switch_function_that_is_not_deployed_reserves_nothing() -> None:
    """Without function URLs in the recovery Region there is no switch endpoint (components/site_switch.py)."""
    config = prod(switch="cloudwatch", rtoMinutes=4, switchReservedConcurrency=990)
    in_eu_central_2(config)
    assert parse(config).sites[0].switch_reserved_concurrency == 990
    config["sites"][0]["orchestratorReservedConcurrency"] = 100
    config["lambdaConcurrencyQuotas"] = {"eu-central-2": 149}
    [line] = problems(config)
    assert line.startswith(
        "sites: the stack reserves 100 concurrent executions in eu-central-2 "
        "(sites[0].orchestratorReservedConcurrency 100), leaving 49 of the account's quota of 149 there"
    )


def test_secret_reservations_are_named_without_their_values() -> None:
    [line] = problems_with_secrets(prod(switchReservedConcurrency=899), frozenset({"sites"}))
    assert line.startswith(
        "sites: sites[0].orchestratorReservedConcurrency, sites[0].switchReservedConcurrency (values not shown) leave "
        "less than 100 of the account's quota of 1000 there (lambdaConcurrencyQuotas.us-west-2 not declared: the "
        "default) unreserved; "
    )
    assert "899" not in line and "901" not in line


def test_the_old_per_site_quota_key_is_refused() -> None:
    [line] = problems(prod(lambdaConcurrencyQuota=2000))
    assert line.startswith("sites[0].lambdaConcurrencyQuota: unknown site key")


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


def test_a_descriptor_that_could_outgrow_an_advanced_parameter_is_refused() -> None:
    """8 KB (Advanced tier): 2,500 + 406-byte buckets + 389-byte tables, measured with the longest names."""
    config = prod()
    names = [f"extra{i}" for i in range(14)]
    config["sites"][0]["tables"] = [*config["sites"][0]["tables"], *names]
    config["tables"] = [*config["tables"], *({**config["tables"][0], "name": name} for name in names)]
    found = problems(config)
    assert any(
        line.startswith("sites[0].buckets: with 2 buckets and 17 tables the site's descriptor can reach")
        for line in found
    ), found


def test_database_promotion_defaults_are_labelled_estimates() -> None:
    aurora = {"engine": "aurora-global", "identifier": "db-usw2", "globalClusterIdentifier": "distronation"}
    [site] = parse(prod(database=aurora, rtoMinutes=5)).sites
    assert site.budget.promotion == 120  # the Aurora estimate, not the RDS one
    assert next(t for t in site.budget.terms if t.name == "promotionSeconds").label == "estimate"
    [rds] = parse(prod(database={"engine": "rds-replica", "identifier": "db-usw2"}, rtoMinutes=15)).sites
    assert rds.budget.promotion == 600
    [declared] = parse(prod(database={**aurora, "promotionSeconds": 45}, rtoMinutes=3)).sites
    assert next(t for t in declared.budget.terms if t.name == "promotionSeconds").label == "configured"
    [none] = parse(stack_config("prod")).sites
    assert next(t for t in none.budget.terms if t.name == "promotionSeconds").label == "configured"


def test_the_budget_as_the_descriptor_and_drctl_read_it() -> None:
    [site] = parse(stack_config("prod")).sites
    assert site.budget.as_dict() == {
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
    assert "autoDnsFailover" not in site.budget.explain()
    [auto] = parse(prod(autoDnsFailover=True, ttlSeconds=60, rtoMinutes=2, buckets=[], tables=[])).sites
    assert auto.budget.as_dict()["autoDnsPathSeconds"] == 120 and auto.budget.as_dict()["dnsPathSeconds"] == 120
    assert "autoDnsFailover path 120 s (DNS takes 120 s)" in auto.budget.explain()


# --- what the mutation run found unguarded (issue 23 item 12: sites.py in the mutation scope) -------------------


def test_every_key_reaches_the_spec() -> None:
    """Each entry key lands in its own spec field (IPv6 endpoints, a trailing-dot record name, a declared database)."""
    [site] = parse(
        prod(
            primary={"host": "2600:1f18::1"},
            secondary={"host": "2600:1f14::1", "port": 8443, "path": "/ready", "protocol": "HTTP"},
            recordName="api.distronation.example.",
            database={
                "engine": "aurora-global",
                "identifier": "db-usw2",
                "globalClusterIdentifier": "distronation",
                "promotionSeconds": 45,
            },
            probeIntervalSeconds=30,
            failureThreshold=2,
            ttlSeconds=20,
            configRefreshSeconds=15,
            rtoMinutes=5,
            rpoMinutes=5,
            healthyMinutesBeforeFailback=45,
            switch="cloudwatch",
            orchestratorReservedConcurrency=3,
            switchReservedConcurrency=7,
            measuredNameServerDelaySeconds=12,
        )
    ).sites
    fields = dataclasses.asdict(site)
    del fields["budget"]
    assert fields == {
        "name": "api",
        "hosted_zone_id": "Z0123456789DISTRONATION",
        "record_name": "api.distronation.example",  # the trailing dot goes
        "primary": {"host": "2600:1f18::1", "port": 443, "path": "/health", "protocol": "HTTPS"},
        "secondary": {"host": "2600:1f14::1", "port": 8443, "path": "/ready", "protocol": "HTTP"},
        "probe_interval_seconds": 30,
        "failure_threshold": 2,
        "ttl_seconds": 20,
        "config_refresh_seconds": 15,
        "rto_minutes": 5,
        "rpo_minutes": 5,
        "switch": "cloudwatch",
        "auto_dns_failover": False,
        "healthy_minutes_before_failback": 45,
        "buckets": ("audio", "uploads"),
        "tables": ("users", "orders", "transactions"),
        "database": {
            "engine": "aurora-global",
            "identifier": "db-usw2",
            "global_cluster_identifier": "distronation",
            "promotion_seconds": 45,
        },
        "orchestrator_reserved_concurrency": 3,
        "switch_reserved_concurrency": 7,
        "measured_name_server_delay_seconds": 12,
    }
    assert site.record_type == "AAAA" and site.secondary.url == "http://[2600:1f14::1]:8443/ready"
    assert site.budget.promotion == 45 and site.budget.switch == 60 + 60 + 12  # the declared promotion and delay


def test_endpoints_of_one_address_family_pair_up() -> None:
    [ipv4] = parse(prod(primary={"host": "52.94.76.9"}, secondary={"host": "52.94.76.10"})).sites
    assert ipv4.record_type == "A"
    [ipv6] = parse(prod(primary={"host": "2600:1f18::1"}, secondary={"host": "2600:1f14::1"})).sites
    assert ipv6.record_type == "AAAA"
    mixed = "must be the same kind as primary.host (both IPv4, both IPv6 or both DNS names)"
    for primary, secondary in (("52.94.76.9", "2600:1f14::1"), ("2600:1f18::1", "52.94.76.10")):
        [line] = problems(prod(primary={"host": primary}, secondary={"host": secondary}))
        assert line.startswith(f"sites[0].secondary.host: {mixed}"), line


def test_the_same_host_on_another_port_is_another_endpoint() -> None:
    [site] = parse(prod(secondary={"host": "api-use1.distronation.example", "port": 8443})).sites
    assert (site.primary.host, site.primary.port, site.secondary.port) == ("api-use1.distronation.example", 443, 8443)


def test_every_repeated_link_is_named() -> None:
    assert problems(prod(buckets=["audio", "uploads", "audio", "uploads"])) == [
        "sites[0].buckets: must name each store once; repeated: audio, uploads, got "
        "['audio', 'uploads', 'audio', 'uploads']"
    ]


@pytest.mark.parametrize(
    "stores",
    [
        {"buckets": ["audio"], "tables": []},
        {"buckets": [], "tables": ["users"]},
        {"buckets": [], "tables": [], "database": {"engine": "rds-replica", "identifier": "db-usw2"}},
    ],
    ids=["a-bucket", "a-table", "a-database"],
)
def test_any_one_linked_store_makes_a_site_stateful(stores: dict[str, Any]) -> None:
    found = problems(prod(autoDnsFailover=True, rtoMinutes=15, **stores))
    assert found == [
        "sites[0].autoDnsFailover: is for stateless sites only (no buckets, tables or database): DNS may move "
        "before the orchestrator has moved the linked stores (docs/runbooks/failover.md)"
    ]
    [stateless] = parse(prod(autoDnsFailover=True, rtoMinutes=15, buckets=[], tables=[])).sites
    assert stateless.auto_dns_failover is True


def test_a_sites_problems_are_listed_in_its_key_order() -> None:
    """Each cross-key rule reports under its own key: a second ``api`` site's duplicate name comes first, then the
    rules in the order of the keys they name (the lines are exact: they are what an operator reads)."""
    config = prod()
    config["sites"].append(
        {
            **copy.deepcopy(API),
            "secondary": {"host": "52.94.76.10"},
            "switch": "arc",
            "autoDnsFailover": True,
            "database": {"engine": "aurora-global", "identifier": "db-usw2"},
            "rtoMinutes": 1,
            "buckets": ["audio", "nope"],
        }
    )
    assert problems(config) == [
        "sites[1].name: duplicate site name 'api' (also sites[0])",
        "sites[1].secondary.host: must be the same kind as primary.host (both IPv4, both IPv6 or both DNS names): "
        "the PRIMARY and SECONDARY failover records share one record type",
        "sites[1].rtoMinutes: 1 min is below what this site can achieve: DNS path 235 s = detection 40 s + actions "
        "10 s + database promotion 120 s + switch 35 s + TTL 30 s; autoDnsFailover path 90 s (DNS takes 90 s); "
        "application path 200 s = detection 40 s + actions 10 s + database promotion 120 s + config refresh 30 s; "
        "budget = 200 s = 4 min; declare at least 4, or shorten the probe interval, threshold or TTL",
        "sites[1].autoDnsFailover: applies to the endpoint and CloudWatch switches only; with switch 'arc' the "
        "routing control is the only switch",
        "sites[1].autoDnsFailover: is for stateless sites only (no buckets, tables or database): DNS may move before "
        "the orchestrator has moved the linked stores (docs/runbooks/failover.md)",
        "sites[1].buckets[1]: 'nope' is not a bucket of this stack",
        "sites[1].database.globalClusterIdentifier: is required for engine 'aurora-global' (FailoverGlobalCluster "
        "names the global cluster)",
    ]


def test_the_other_cross_key_rules_in_key_order() -> None:
    config = prod()
    in_eu_central_2(config)
    config["sites"].append(
        {
            **copy.deepcopy(config["sites"][0]),
            "secondary": copy.deepcopy(API["primary"]),
            "database": {"engine": "rds-replica", "identifier": "db-usw2", "globalClusterIdentifier": "g"},
            "rtoMinutes": 15,
            "buckets": [f"b{i}" for i in range(14)],
        }
    )
    no_url = (
        "'endpoint' needs a Lambda function URL, which eu-central-2 (the recovery Region) does not offer (Lambda "
        "Developer Guide, 'Creating and managing Lambda function URLs'); use switch 'cloudwatch' (its budget is "
        "longer and estimated) or 'arc'"
    )
    assert problems(config) == [
        f"sites[0].switch: {no_url}",
        "sites[1].name: duplicate site name 'api' (also sites[0])",
        "sites[1].secondary: must differ from primary: a failover to the same endpoint recovers nothing",
        f"sites[1].switch: {no_url}",
        "sites[1].buckets: with 14 buckets and 0 tables the site's descriptor can reach 8428 bytes, over the 8192 an "
        "Advanced SSM parameter holds: link fewer stores, or split the application into two sites",
        *(f"sites[1].buckets[{i}]: 'b{i}' is not a bucket of this stack" for i in range(14)),
        "sites[1].database.globalClusterIdentifier: applies to engine 'aurora-global' only",
    ]


def test_a_descriptor_of_exactly_8_kb_fits() -> None:
    """2,500 + 3 x record name + 2 x both hosts + 400 x 14 tables: 8,192 bytes fit; one byte more does not."""

    def descriptor_lines(record: str, primary: str, secondary: str) -> list[str]:
        site = {"recordName": record, "primary": {"host": primary}, "secondary": {"host": secondary}}
        found = problems(prod(**site, buckets=[], tables=[f"t{i}" for i in range(14)]))
        return [line for line in found if line.startswith("sites[0].buckets: with")]

    assert descriptor_lines("api.distronation.example", "ab.cd", "ef.gh") == []  # 2500 + 72 + 20 + 5600 = 8192
    assert descriptor_lines("apix.distronation.example", "ab.cd", "e.fg") == [  # 2500 + 75 + 18 + 5600 = 8193
        "sites[0].buckets: with 0 buckets and 14 tables the site's descriptor can reach 8193 bytes, over the 8192 an "
        "Advanced SSM parameter holds: link fewer stores, or split the application into two sites"
    ]
