"""A FailoverSite's runtime world: real HTTP endpoints and a DNS server on 127.0.0.1, AWS on moto.

moto reports every Route 53 health check healthy, so endpoint health comes from the orchestrator's own probes
against these servers; DNS verification asks the DNS server here, whose answer the test flips.
"""

from __future__ import annotations

import http.server
import json
import socketserver
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import boto3
import pytest
from dnslib import CNAME, QTYPE, RR
from dnslib.server import BaseResolver, DNSLogger, DNSServer

from handlers.failover.actions import Clients
from handlers.failover.dns import stub_resolver
from handlers.failover.probe import ProbeResult, http_probe
from handlers.failover.site import Site

PRIMARY, RECOVERY = "us-east-1", "us-west-2"
APP, SITE = "distronation", "api"
RECORD = "api.distronation.example"
PRIMARY_HOST, SECONDARY_HOST = "api-use1.distronation.example", "api-usw2.distronation.example"


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        mode = self.server.mode  # type: ignore[attr-defined]
        if mode == "slow":
            time.sleep(1.5)
        self.send_response(200 if mode in ("healthy", "slow") else 503)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_: Any) -> None:
        pass


class Endpoint:
    """A real HTTP server on 127.0.0.1 whose health the test sets: healthy, failing or slow."""

    def __init__(self, mode: str) -> None:
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.mode = mode  # type: ignore[attr-defined]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/health"

    @property
    def mode(self) -> str:
        return str(self.server.mode)  # type: ignore[attr-defined]

    @mode.setter
    def mode(self, value: str) -> None:
        self.server.mode = value  # type: ignore[attr-defined]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Zone(BaseResolver):  # type: ignore[misc]
    def __init__(self) -> None:
        self.target = PRIMARY_HOST

    def resolve(self, request: Any, handler: Any) -> Any:
        reply = request.reply()
        if str(request.q.qname).rstrip(".") == RECORD:
            reply.add_answer(RR(RECORD, QTYPE.CNAME, rdata=CNAME(self.target), ttl=60))
        return reply


class FakeClock:
    """Monotonic seconds that advance only when the orchestrator sleeps, so waits never really wait."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class World:
    primary: Endpoint
    secondary: Endpoint
    zone: _Zone
    dns_port: int
    site: Site
    clients: Clients
    topic_arn: str
    clock: FakeClock

    def probe(self, url: str) -> ProbeResult:
        return http_probe(url, timeout=0.5)


def descriptor(primary_url: str, secondary_url: str, topic_arn: str, **extra: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "name": SITE,
        "app": APP,
        "primaryRegion": PRIMARY,
        "recoveryRegion": RECOVERY,
        "hostedZoneId": "Z0123456789",
        "recordName": RECORD,
        "recordType": "CNAME",
        "ttlSeconds": 60,
        "primary": {"host": PRIMARY_HOST, "url": primary_url},
        "secondary": {"host": SECONDARY_HOST, "url": secondary_url},
        "probeIntervalSeconds": 10,
        "failureThreshold": 3,
        "healthyMinutesBeforeFailback": 30,
        "rpoMinutes": 15,
        "rtoMinutes": 5,
        "switch": {
            "kind": "cloudwatch",
            "namespace": "DR/Recovery",
            "metricName": "FailoverSwitch",
            "dimensions": {"Site": f"{APP}/{SITE}"},
            "alarmName": "distronation-prod-api-failover-switch",
            "region": RECOVERY,
        },
        "parameters": {
            "activeRegion": f"/dr/{APP}/active-region",
            "activeBuckets": {"audio": f"/dr/{APP}/active-bucket/audio"},
        },
        "lockTable": "distronation-prod-api-failover-lock",
        "topicArn": topic_arn,
        "metricsNamespace": "DR/Recovery",
        "buckets": [
            {
                "logical": "audio",
                "primary": "distronation-prod-audio-us-east-1",
                "primaryRegion": PRIMARY,
                "replica": "distronation-prod-audio-us-west-2",
                "replicaRegion": RECOVERY,
            }
        ],
        "tables": [{"logical": "sessions", "name": "distronation-prod-sessions", "regions": [PRIMARY, RECOVERY]}],
        "database": None,
        "budget": {"switchSeconds": 120},
    }
    document.update(extra)
    return document


def create_aws(topic_name: str = "dr-alerts") -> str:
    """The recovery region's lock table, replica bucket, table replica and topic, and the primary's bucket and
    table; returns the topic ARN."""
    dynamodb = boto3.client("dynamodb", RECOVERY)
    dynamodb.create_table(
        TableName="distronation-prod-api-failover-lock",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for region in (PRIMARY, RECOVERY):
        boto3.client("dynamodb", region).create_table(
            TableName="distronation-prod-sessions",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        s3 = boto3.client("s3", region)
        bucket = f"distronation-prod-audio-{region}"
        if region == PRIMARY:
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return str(boto3.client("sns", RECOVERY).create_topic(Name=topic_name)["TopicArn"])


def recovery_clients(dns_port: int | None = None) -> Clients:
    return Clients(
        cloudwatch=boto3.client("cloudwatch", RECOVERY),
        ssm=boto3.client("ssm", RECOVERY),
        dynamodb=boto3.client("dynamodb", RECOVERY),
        sns=boto3.client("sns", RECOVERY),
        s3=boto3.client("s3", RECOVERY),
        rds=boto3.client("rds", RECOVERY),
        ssm_primary=boto3.client("ssm", PRIMARY),
        resolver=stub_resolver("127.0.0.1", dns_port) if dns_port else None,
    )


@pytest.fixture
def world(mock_aws: None) -> Iterator[World]:
    primary, secondary = Endpoint("healthy"), Endpoint("healthy")
    zone = _Zone()
    dns = DNSServer(
        zone, port=0, address="127.0.0.1", logger=DNSLogger(log="-request,-reply,-truncated,-data,-error,-recv,-send")
    )
    dns.start_thread()
    port = dns.server.server_address[1]
    topic = create_aws()
    site = Site.from_descriptor(descriptor(primary.url, secondary.url, topic))
    boto3.client("ssm", RECOVERY).put_parameter(
        Name=f"/dr/{APP}/site/{SITE}", Value=json.dumps(descriptor(primary.url, secondary.url, topic)), Type="String"
    )
    clients = recovery_clients(port)
    clock = FakeClock()
    clients.sleep = partial(_route53_follows_the_switch, zone, clock)
    try:
        yield World(primary, secondary, zone, port, site, clients, topic, clock)
    finally:
        dns.stop()
        primary.close()
        secondary.close()


def _route53_follows_the_switch(zone: _Zone, clock: FakeClock, seconds: float) -> None:
    """Stands in for Route 53's data plane while the orchestrator waits: once the switch metric says "failed over"
    (read back from moto), the DNS server answers with the secondary. Time passes on the fake clock."""
    clock.now += seconds
    points = boto3.client("cloudwatch", RECOVERY).get_metric_statistics(
        Namespace="DR/Recovery",
        MetricName="FailoverSwitch",
        Dimensions=[{"Name": "Site", "Value": f"{APP}/{SITE}"}],
        StartTime=datetime.now(UTC) - timedelta(hours=1),
        EndTime=datetime.now(UTC) + timedelta(hours=1),
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    if points and max(p["Maximum"] for p in points) >= 1:
        zone.target = SECONDARY_HOST
