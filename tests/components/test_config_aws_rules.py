"""Issue 23 items 3-6: config AWS would refuse at deploy or in a failover, or the runbook forbids, is rejected by key
path with a message that says what is allowed. Each case changes one thing in the prod config.

``SINGLE_KEY`` cases are decided by one value alone, so the stack-file JSON Schema rejects them too
(tests/components/test_schema_rules.py); the others need a second key (the primary region, the site's links).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from stackmodel.config import ConfigError, parse
from stackmodel.config.drills import DRILL_SCHEDULE_PATTERN, _schedule
from stackmodel.config.schedules import SHAPE_PATTERN, rate_seconds, schedule_problem
from tests.components.harness import stack_config

PROD = stack_config("prod")
EXPORT_SCHEDULE = (
    "must be an EventBridge schedule: rate(<n> minute|minutes|hour|hours|day|days) or cron(<minutes> <hours> "
    "<day-of-month> <month> <day-of-week> <year>) with '?' in one day field"
)
PUBLIC_HOST = (
    "must be a public IP address or a DNS name: Route 53 health checkers cannot reach private, loopback, "
    "link-local, multicast or other non-routable addresses"
)
RDS_IDENTIFIER = "must be an RDS identifier: a letter, then letters, digits or single hyphens, not ending with a hyphen"


@dataclass(frozen=True)
class Rejected:
    id: str
    change: Callable[[dict[str, Any]], None]
    problems: tuple[str, ...]
    single_key: bool = True

    def config(self) -> dict[str, Any]:
        config = copy.deepcopy(PROD)
        self.change(config)
        return config


def site(**changes: Any) -> Callable[[dict[str, Any]], None]:
    return lambda config: config["sites"][0].update(copy.deepcopy(changes))


def endpoint(which: str, **changes: Any) -> Callable[[dict[str, Any]], None]:
    return lambda config: config["sites"][0][which].update(changes)


def table(index: int, **changes: Any) -> Callable[[dict[str, Any]], None]:
    return lambda config: config["tables"][index].update(copy.deepcopy(changes))


def export_schedule(expression: str) -> Callable[[dict[str, Any]], None]:
    return lambda config: config["tables"][0]["export"].update(schedule=expression)


def gsi_name(name: str) -> Callable[[dict[str, Any]], None]:
    return lambda config: config["tables"][0]["globalSecondaryIndexes"][0].update(name=name)


def vault_lock_mode(mode: str) -> Callable[[dict[str, Any]], None]:
    return lambda config: config.setdefault("backup", {}).setdefault("vaultLock", {}).update(mode=mode)


def partition_line(region: str, partition: str) -> str:
    return (
        f"tables[0].replicaRegions[1]: '{region}' is in partition '{partition}', the table's primary region "
        "'us-east-1' in 'aws': a global table replicates within one partition"
    )


REJECTED = [
    # --- item 3: values AWS refuses at deploy
    Rejected(
        "gsi-name-with-a-space",
        gsi_name("by email"),
        (
            "tables[0].globalSecondaryIndexes[0].name: must be 3 to 255 letters, digits, '_', '-' or '.' (a DynamoDB "
            "index name), got 'by email'",
        ),
    ),
    Rejected(
        "replica-in-aws-cn",
        table(0, replicaRegions=["us-west-2", "cn-north-1"]),
        (partition_line("cn-north-1", "aws-cn"),),
        single_key=False,
    ),
    Rejected(
        "replica-in-aws-us-gov",
        table(0, replicaRegions=["us-west-2", "us-gov-west-1"]),
        (partition_line("us-gov-west-1", "aws-us-gov"),),
        single_key=False,
    ),
    *(
        Rejected(
            f"export-{name}",
            export_schedule(expression),
            (f"tables[0].export.schedule: {EXPORT_SCHEDULE} ({why}), got '{expression}'",),
        )
        for name, expression, why in (
            ("rate-0-days", "rate(0 days)", "'rate(0 days)': the rate's value must be a positive number"),
            (
                "rate-1-days",
                "rate(1 days)",
                "'rate(1 days)': EventBridge wants the singular unit for 1 and the plural otherwise",
            ),
            (
                "cron-5-fields",
                "cron(0 3 * * *)",
                "'cron(0 3 * * *)' has 5 fields; cron takes 6: minutes hours day-of-month month day-of-week year",
            ),
            (
                "cron-star-in-both-day-fields",
                "cron(0 3 * * * *)",
                "'cron(0 3 * * * *)': exactly one of day-of-month and day-of-week must be '?' (the other a value or "
                "'*')",
            ),
        )
    ),
    Rejected(
        "private-ipv4-endpoint",
        endpoint("primary", host="10.0.0.1"),
        (f"sites[0].primary.host: {PUBLIC_HOST}, got '10.0.0.1'",),
    ),
    Rejected(
        "loopback-ipv6-endpoint",
        endpoint("secondary", host="::1"),
        (f"sites[0].secondary.host: {PUBLIC_HOST}, got '::1'",),
    ),
    Rejected(
        "health-check-path-over-255",
        endpoint("primary", path="/" + "p" * 255),
        (f"sites[0].primary.path: must be at most 255 characters, got '/{'p' * 255}'",),
    ),
    # --- item 4: values that fail only during a real failover
    *(
        Rejected(
            f"rds-identifier-{name}",
            site(database={"engine": "rds-replica", "identifier": identifier}, rtoMinutes=15),
            (f"sites[0].database.identifier: {message}, got '{identifier}'",),
        )
        for name, identifier, message in (
            ("trailing-hyphen", "api-db-", RDS_IDENTIFIER),
            ("double-hyphen", "api--db", RDS_IDENTIFIER),
            ("64-long", "a" * 64, "must be at most 63 characters"),
        )
    ),
    Rejected(
        "global-cluster-identifier-with-a-space",
        site(database={"engine": "aurora-global", "identifier": "api-db", "globalClusterIdentifier": "api global"}),
        (f"sites[0].database.globalClusterIdentifier: {RDS_IDENTIFIER}, got 'api global'",),
    ),
    # --- item 5: what the runbook forbids
    Rejected(
        "auto-dns-failover-on-a-stateful-site",
        site(autoDnsFailover=True),
        (
            "sites[0].autoDnsFailover: is for stateless sites only (no buckets, tables or database): DNS may move "
            "before the orchestrator has moved the linked stores (docs/runbooks/failover.md)",
        ),
        single_key=False,
    ),
    Rejected(
        "duplicate-bucket-link",
        site(buckets=["audio", "audio"]),
        ("sites[0].buckets: must name each store once; repeated: audio, got ['audio', 'audio']",),
    ),
    Rejected(
        "duplicate-table-link",
        site(tables=["users", "users", "orders"]),
        ("sites[0].tables: must name each store once; repeated: users, got ['users', 'users', 'orders']",),
    ),
    # --- item 6: messages that say what is allowed (no pydantic codes)
    Rejected(
        "probe-interval-15",
        site(probeIntervalSeconds=15),
        ("sites[0].probeIntervalSeconds: must be one of 10 or 30, got 15",),
    ),
    Rejected(
        "switch-unknown",
        site(switch="dns"),
        ("sites[0].switch: must be one of 'endpoint', 'cloudwatch' or 'arc', got 'dns'",),
    ),
    Rejected(
        "site-name-41-long", site(name="a" * 41), (f"sites[0].name: must be at most 40 characters, got '{'a' * 41}'",)
    ),
    Rejected(
        "vault-lock-mode-unknown",
        vault_lock_mode("STRICT"),
        ("backup.vaultLock.mode: must be one of 'COMPLIANCE' or 'GOVERNANCE', got 'STRICT'",),
    ),
    Rejected(
        "replica-regions-a-string",
        table(0, replicaRegions="us-west-2"),
        ("tables[0].replicaRegions: must be a list, got str",),
    ),
]


def problems(config: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(config)
    return caught.value.problems


@pytest.mark.parametrize("case", REJECTED, ids=[case.id for case in REJECTED])
def test_rejected_by_key_path_with_what_is_allowed(case: Rejected) -> None:
    found = problems(case.config())
    assert found == list(case.problems)
    assert not any("(literal_error)" in line or "is not valid (" in line for line in found)


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 day)",
        "rate(2 days)",
        "rate(90 minutes)",
        "cron(0 3 ? * SUN *)",
        "cron(15 2 1 * ? *)",
        "cron(0/15 * ? * MON-FRI *)",
        "cron(0 0 L * ? 2030)",
        "cron(0 8 ? * 2#1 *)",
    ],
)
def test_valid_export_schedules_are_accepted(expression: str) -> None:
    assert schedule_problem(expression) is None
    config = copy.deepcopy(PROD)
    export_schedule(expression)(config)
    parse(config)


def test_the_schedule_patterns_agree_with_the_one_validator() -> None:
    """The JSON Schema's patterns (editors) say what the validator says, for every rate from 0 to 12,000."""
    import re

    shape, drill = re.compile(SHAPE_PATTERN), re.compile(DRILL_SCHEDULE_PATTERN)
    for count in range(0, 12001):
        for unit in ("minute", "minutes", "hour", "hours", "day", "days"):
            expression = f"rate({count} {unit})"
            valid = schedule_problem(expression) is None
            assert bool(shape.match(expression)) is valid, expression
            try:
                _schedule(expression)
                drill_ok = True
            except Exception:  # PydanticCustomError: the drill's own range
                drill_ok = False
            assert bool(drill.match(expression)) is drill_ok, expression
            if drill_ok:
                assert 3600 <= rate_seconds(expression) <= 7 * 86400


def test_one_validator_for_drill_and_export_schedules() -> None:
    from stackmodel.config import drills

    assert drills.schedule_seconds is not None and drills.rate_seconds is rate_seconds


@pytest.mark.parametrize(
    "host",
    [
        "1.2.3.4",
        "52.94.76.10",
        "0.1.2.3",
        "10.1.1.1",
        "100.64.0.1",
        "100.127.255.1",
        "100.128.0.1",
        "127.0.0.1",
        "169.254.169.254",
        "172.15.0.1",
        "172.16.0.1",
        "172.31.255.1",
        "172.32.0.1",
        "192.0.2.10",
        "192.168.1.1",
        "198.18.0.1",
        "198.51.100.7",
        "203.0.113.9",
        "224.0.0.1",
        "239.1.1.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fd00::1",
        "fc00::1",
        "ff02::1",
        "2001:db8::1",
        "::ffff:10.0.0.1",
        "2600:1f18::1",
        "api.distronation.example",
        "API.example.com",
        "https://x.example",
    ],
)
def test_the_schema_host_rule_says_what_the_validator_says(host: str) -> None:
    import jsonschema

    from stackmodel.config.sites import EndpointEntry

    schema = EndpointEntry.model_json_schema()["properties"]["host"]
    try:
        EndpointEntry(host=host)
        accepted = True
    except Exception:  # pydantic's ValidationError
        accepted = False
    assert jsonschema.Draft202012Validator(schema).is_valid(host) is accepted, host


def test_a_fis_problem_is_reported_under_the_table_s_own_index() -> None:
    """drill_problems used to enumerate the valid tables only, so an invalid entry before shifted the path."""
    config = copy.deepcopy(PROD)
    wide = copy.deepcopy(config["tables"][0])
    del wide["export"]
    wide.update(name="sessions", replicaRegions=["us-west-2", "us-east-2", "us-west-1", "ca-central-1",
                                                 "eu-west-1", "eu-west-2"])  # fmt: skip
    config["tables"].append(wide)
    config["tables"][0]["hashKey"] = "id"  # invalid: not an attribute
    found = problems(config)
    assert any(line.startswith("tables[0].hashKey:") for line in found)
    assert (
        "tables[3].replicaRegions: with drills.faultInjection the table's replication pause needs one stop alarm per "
        "receiving Region, and FIS allows at most 5; got 6"
    ) in found
