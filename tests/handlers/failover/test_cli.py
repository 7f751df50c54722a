"""``drctl failover``/``failback``/``status`` against a moto server, real HTTP endpoints and a DNS server."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from typer.testing import CliRunner

from handlers.cli import load_commands
from handlers.failover.state import FAILED_OVER, SiteStore
from tests.handlers.failover.conftest import (
    APP,
    RECOVERY,
    SECONDARY_HOST,
    SITE,
    Endpoint,
    _Zone,
    create_aws,
    descriptor,
)

runner = CliRunner()


@pytest.fixture
def deployed(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Endpoint]]:
    from dnslib.server import DNSLogger, DNSServer

    primary, secondary = Endpoint("failing"), Endpoint("healthy")
    zone = _Zone()
    zone.target = SECONDARY_HOST  # Route 53 has already acted on the switch when the CLI looks
    dns = DNSServer(zone, port=0, address="127.0.0.1", logger=DNSLogger(log="-request,-reply,-recv,-send"))
    dns.start_thread()
    monkeypatch.setenv("DR_DNS_RESOLVER", f"127.0.0.1:{dns.server.server_address[1]}")
    topic = create_aws()
    boto3.client("ssm", RECOVERY).put_parameter(
        Name=f"/dr/{APP}/site/{SITE}",
        Value=json.dumps(descriptor(primary.url, secondary.url, topic)),
        Type="String",
    )
    try:
        yield {"primary": primary, "secondary": secondary}
    finally:
        dns.stop()
        primary.close()
        secondary.close()


def drctl(*args: str) -> tuple[int, dict]:
    result = runner.invoke(load_commands(), [*args, "--json"])
    return result.exit_code, json.loads(result.stdout.strip().splitlines()[-1])


def test_dry_run_then_failover_then_status(deployed: dict[str, Endpoint]) -> None:
    code, plan = drctl("failover", "--site", SITE, "--region", RECOVERY, "--dry-run")
    assert code == 0 and plan["outcome"] == "dry-run"
    assert SiteStore(boto3.client("dynamodb", RECOVERY), "distronation-prod-api-failover-lock").read().phase != (
        FAILED_OVER
    )
    code, done = drctl("failover", "--site", SITE, "--region", RECOVERY)
    assert code == 0 and done["outcome"] == "failed-over" and done["dns_confirmed"] is True
    code, status = drctl("status", "--site", SITE, "--region", RECOVERY)
    assert code == 0
    assert status["phase"] == FAILED_OVER and status["activeRegion"] == RECOVERY


def test_failover_with_an_unready_standby_exits_1(deployed: dict[str, Endpoint]) -> None:
    deployed["secondary"].mode = "failing"
    code, result = drctl("failover", "--site", SITE, "--region", RECOVERY)
    assert code == 1 and result["outcome"] == "standby-not-ready"


def test_failback_before_a_failover_exits_1(deployed: dict[str, Endpoint]) -> None:
    code, result = drctl("failback", "--site", SITE, "--region", RECOVERY)
    assert code == 1 and result["outcome"] == "not-failed-over"


def test_the_wrong_region_is_a_usage_error(deployed: dict[str, Endpoint]) -> None:
    code, result = drctl("status", "--site", SITE, "--region", "us-east-1")
    assert code == 2 and "recovery region" in result["error"]


def test_an_unknown_site_is_a_usage_error(deployed: dict[str, Endpoint]) -> None:
    code, result = drctl("status", "--site", "nope", "--region", RECOVERY)
    assert code == 2 and "nope" in result["error"]
