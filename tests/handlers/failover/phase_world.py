"""A site for the phase machine's tests: AWS on a moto server (127.0.0.1), real HTTP endpoints, and an
authoritative DNS server on 127.0.0.1 that stands in for Route 53's data plane:

- ``<record>`` answers the secondary while the lock table's ``state.switch`` is ``failed-over`` (what the switch
  endpoint serves and the inverted check reads), the primary otherwise; ``frozen`` keeps the old answer;
- ``probe.<record>`` answers the primary while the primary endpoint is healthy (Route 53's check of it), the
  secondary otherwise; ``checkers`` overrides that verdict (a partition between the vantage points).

``invariants`` is the agreement the race tests check after every round.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from dnslib import CNAME, QTYPE, RR
from dnslib.server import BaseResolver, DNSLogger, DNSServer
from moto.server import DomainDispatcherApplication, MotoRequestHandler, ThreadedMotoServer, create_backend_app
from werkzeug.serving import make_server

from handlers.app_setting import read_setting
from handlers.failover import actions
from handlers.failover.actions import Clients
from handlers.failover.dns import site_resolver
from handlers.failover.probe import ProbeResult, http_probe
from handlers.failover.site import Site
from handlers.failover.state import FAILED_OVER, FAILING_BACK, FAILING_OVER, PRIMARY, SiteStore, State
from tests.handlers.failover.conftest import (
    APP,
    PRIMARY_HOST,
    RECORD,
    RECOVERY,
    SECONDARY_HOST,
    SITE,
    Endpoint,
    create_aws,
    descriptor,
)
from tests.handlers.failover.conftest import PRIMARY as PRIMARY_REGION

LOCK_TABLE = "distronation-prod-api-failover-lock"
FAST = {
    "probeIntervalSeconds": 1,
    "ttlSeconds": 1,
    "budget": {"switchSeconds": 2, "configRefreshSeconds": 1, "ttlSeconds": 1},
    "healthyMinutesBeforeFailback": 1,
}


class Route53Zone(BaseResolver):  # type: ignore[misc]
    def __init__(self, primary: Endpoint) -> None:
        self.primary = primary
        self.frozen: str | None = None
        self.checkers: bool | None = None  # None: follow the primary endpoint

    def switch(self) -> str:
        item = (
            boto3.client("dynamodb", RECOVERY)
            .get_item(TableName=LOCK_TABLE, Key={"pk": {"S": "state"}}, ConsistentRead=True)
            .get("Item")
            or {}
        )
        return str(item.get("switch", {}).get("S", "primary"))

    def resolve(self, request: Any, handler: Any) -> Any:
        reply = request.reply()
        name = str(request.q.qname).rstrip(".")
        if name == RECORD:
            target = self.frozen or (SECONDARY_HOST if self.switch() == FAILED_OVER else PRIMARY_HOST)
            reply.add_answer(RR(RECORD, QTYPE.CNAME, rdata=CNAME(target), ttl=1))
        elif name == f"probe.{RECORD}":
            healthy = self.primary.mode == "healthy" if self.checkers is None else self.checkers
            reply.add_answer(RR(name, QTYPE.CNAME, rdata=CNAME(PRIMARY_HOST if healthy else SECONDARY_HOST), ttl=1))
        return reply


@dataclass
class PhaseWorld:
    primary: Endpoint
    secondary: Endpoint
    zone: Route53Zone
    dns: DNSServer
    document: dict[str, Any]
    topic_arn: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def nameservers(self) -> str:
        return f"127.0.0.1:{self.dns.server.server_address[1]}"

    @property
    def site(self) -> Site:
        return Site.from_descriptor(self.document)

    def clients(self) -> Clients:
        return Clients(
            cloudwatch=boto3.client("cloudwatch", RECOVERY),
            ssm=boto3.client("ssm", RECOVERY),
            dynamodb=boto3.client("dynamodb", RECOVERY),
            sns=boto3.client("sns", RECOVERY),
            s3=boto3.client("s3", RECOVERY),
            rds=boto3.client("rds", RECOVERY),
            ssm_primary=boto3.client("ssm", PRIMARY_REGION),
            resolver=site_resolver(RECORD, self.nameservers),
            s3_primary=boto3.client("s3", PRIMARY_REGION),
            dynamodb_primary=boto3.client("dynamodb", PRIMARY_REGION),
        )

    def store(self) -> SiteStore:
        return SiteStore(boto3.client("dynamodb", RECOVERY), LOCK_TABLE)

    @staticmethod
    def probe(url: str) -> ProbeResult:
        return http_probe(url, timeout=1.0)

    def close(self) -> None:
        self.dns.stop()
        self.primary.close()
        self.secondary.close()


def make_world(**overrides: Any) -> PhaseWorld:
    """Needs AWS pointed at an emulator (``moto_endpoint`` or ``mock_aws``) before it is called."""
    primary, secondary = Endpoint("healthy"), Endpoint("healthy")
    zone = Route53Zone(primary)
    dns = DNSServer(zone, port=0, address="127.0.0.1", logger=DNSLogger(log="-request,-reply,-recv,-send,-data"))
    dns.start_thread()
    topic = create_aws()
    document = descriptor(primary.url, secondary.url, topic, **(FAST | overrides))
    boto3.client("ssm", RECOVERY).put_parameter(
        Name=f"/dr/{APP}/site/{SITE}", Value=json.dumps(document), Type="String", Overwrite=True
    )
    return PhaseWorld(primary, secondary, zone, dns, document, topic)


def switch_metric(world: PhaseWorld) -> float | None:
    """The newest switch metric value (moto keeps raw datapoints; the newest by timestamp)."""
    from datetime import UTC, datetime, timedelta

    data = boto3.client("cloudwatch", RECOVERY).get_metric_data(
        MetricDataQueries=[
            {
                "Id": "switch",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "DR/Recovery",
                        "MetricName": "FailoverSwitch",
                        "Dimensions": [{"Name": "Site", "Value": f"{APP}/{SITE}"}],
                    },
                    "Period": 1,
                    "Stat": "Maximum",
                },
            }
        ],
        StartTime=datetime.now(UTC) - timedelta(hours=1),
        EndTime=datetime.now(UTC) + timedelta(minutes=5),
    )["MetricDataResults"][0]
    if not data["Values"]:
        return None
    newest = max(zip(data["Timestamps"], data["Values"], strict=True))
    return float(newest[1])


def settings(world: PhaseWorld) -> dict[str, Any]:
    ssm = boto3.client("ssm", RECOVERY)
    return {
        "region": read_setting(ssm, f"/dr/{APP}/active-region"),
        "audio": read_setting(ssm, f"/dr/{APP}/active-bucket/audio"),
        "epoch": read_setting(ssm, f"/dr/{APP}/active-epoch"),
    }


def invariants(world: PhaseWorld, state: State | None = None) -> list[str]:
    """What must hold between DNS/switch, settings and phase at any moment (empty: all agree).

    - the switch never moves before the settings in either direction (settings move before DNS);
    - a settled phase has the switch, DNS and the settings on its side;
    - the switch moves only within a transition or a settled phase of its own side."""
    state = state or world.store().read()
    site = world.site
    found = settings(world)
    on_recovery = found["region"] == RECOVERY
    problems: list[str] = []
    if state.phase == FAILING_OVER and state.switch == FAILED_OVER and "settings" not in state.done:
        problems.append("switch failed over before the settings moved")
    if state.phase == FAILING_BACK and state.switch == PRIMARY and "settings" not in state.done:
        problems.append("switch back before the settings moved back")
    if state.phase == FAILED_OVER:
        if state.switch != FAILED_OVER or not on_recovery or found["audio"] != "distronation-prod-audio-us-west-2":
            problems.append(f"failed-over but switch={state.switch} settings={found}")
        if set(state.done) != set(("begin", "database", "settings", "switch", "dns", "report", "finish")):
            problems.append(f"failed-over with actions pending: done={sorted(state.done)}")
    if state.phase == PRIMARY and (state.switch != PRIMARY or on_recovery):
        problems.append(f"primary but switch={state.switch} settings={found}")
    if state.switch == FAILED_OVER and state.phase == PRIMARY:
        problems.append("switch failed over in phase primary")
    answers = actions.resolve(world.clients(), site.record_name, site.record_type) or []
    dns_secondary = any(a.value.rstrip(".") == SECONDARY_HOST for a in answers)
    if world.zone.frozen is None and dns_secondary != (state.switch == FAILED_OVER):
        problems.append(f"DNS answers {answers} with switch={state.switch}")
    return problems


class AtomicMotoServer(ThreadedMotoServer):
    """A ThreadedMotoServer that serves one request at a time. moto checks a write's condition and then writes
    without a lock, so two concurrent conditional writes can both succeed, which DynamoDB never allows
    (conditional writes and transactions are atomic: DynamoDB Developer Guide, "Condition expressions" and
    "TransactWriteItems"). Serialising requests restores that; the clients still interleave between requests."""

    def _server_entry(self) -> None:
        app = DomainDispatcherApplication(create_backend_app)
        one_at_a_time = threading.Lock()

        def serialized(environ: Any, start_response: Any) -> list[bytes]:
            with one_at_a_time:
                return list(app(environ, start_response))

        self._server = make_server(self._ip_address, self._port, serialized, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()


@pytest.fixture(scope="module")
def atomic_moto_server() -> Iterator[str]:
    server = AtomicMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def atomic_moto(atomic_moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """``moto_endpoint``'s environment on the serialising server, emptied first."""
    from tests.handlers.conftest import FAKE_ENV

    reset(atomic_moto_server)
    for name, value in FAKE_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", atomic_moto_server)
    return atomic_moto_server


def reset(endpoint: str) -> None:
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST", data=b"")
    urllib.request.urlopen(request, timeout=10).close()
