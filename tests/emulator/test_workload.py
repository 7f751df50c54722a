"""The workload (emulator/workload.py): canaries through DNS and settings, recorded, and the RTO/RPO inputs.

Runs over the two-Region emulator with replication (0.3 s lag) and one small HTTP endpoint per Region; the
resolver is a stand-in callable (the rehearsal's caching resolver has its own tests).
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from emulator.regions import Emulator
from emulator.replication import Lag, Replicator
from emulator.workload import Workload, summarize

EAST, WEST = "us-east-1", "us-west-2"
APP, RECORD = "shop", "www.shop.example.test"
PRIMARY_HOST, SECONDARY_HOST = "east.shop.example.test", "west.shop.example.test"
PRIMARY_BUCKET, REPLICA_BUCKET, TABLE = "wl-primary", "wl-replica", "wl-orders"
LAG = 0.3
SLACK = 3.0


class Answers:
    """A stand-in resolver: answers the current target with its TTL and records what was asked."""

    def __init__(self) -> None:
        self.target = PRIMARY_HOST
        self.asked: list[str] = []

    def resolve(self, name: str) -> tuple[str, float]:
        self.asked.append(name)
        return self.target, 1.0


@pytest.fixture(scope="module")
def stack() -> Iterator[dict[str, Any]]:
    with Emulator([EAST, WEST]) as emulator:
        replicator = Replicator(emulator, s3_lag=Lag.fixed(LAG), dynamodb_lag=Lag.fixed(LAG)).start()
        for bucket, region in ((PRIMARY_BUCKET, EAST), (REPLICA_BUCKET, WEST)):
            s3 = emulator.client("s3", region)
            config = {} if region == EAST else {"CreateBucketConfiguration": {"LocationConstraint": region}}
            s3.create_bucket(Bucket=bucket, **config)
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        emulator.client("s3", EAST).put_bucket_replication(
            Bucket=PRIMARY_BUCKET,
            ReplicationConfiguration={
                "Role": "arn:aws:iam::123456789012:role/replication",
                "Rules": [
                    {
                        "ID": "all",
                        "Priority": 1,
                        "Status": "Enabled",
                        "Filter": {"Prefix": ""},
                        "DeleteMarkerReplication": {"Status": "Enabled"},
                        "Destination": {"Bucket": f"arn:aws:s3:::{REPLICA_BUCKET}"},
                    }
                ],
            },
        )
        for region in (EAST, WEST):
            emulator.client("dynamodb", region).create_table(
                TableName=TABLE,
                KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        replicator.add_global_table(TABLE, [EAST, WEST])
        servers: list[http.server.ThreadingHTTPServer] = []
        hosts: dict[str, tuple[str, int]] = {}
        seen: list[str] = []
        for host, region in ((PRIMARY_HOST, EAST), (SECONDARY_HOST, WEST)):
            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _endpoint(emulator, region, seen))
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()
            servers.append(server)
            hosts[host] = ("127.0.0.1", server.server_address[1])
        try:
            yield {"emulator": emulator, "replicator": replicator, "hosts": hosts, "seen": seen}
        finally:
            for server in servers:
                server.shutdown()
            replicator.stop()


def _endpoint(emulator: Emulator, region: str, seen: list[str]) -> type[http.server.BaseHTTPRequestHandler]:
    class Endpoint(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Host", ""))
            status = 200 if emulator.is_available(region) else 503
            self.send_response(status)
            self.send_header("x-dr-region", region)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            return

    return Endpoint


def _settings(emulator: Emulator, region: str, active: str) -> None:
    ssm = emulator.client("ssm", region)
    bucket = PRIMARY_BUCKET if active == EAST else REPLICA_BUCKET
    for name, value in ((f"/dr/{APP}/active-region", active), (f"/dr/{APP}/active-bucket/data", bucket)):
        ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)


def _descriptor() -> dict[str, Any]:
    return {
        "app": APP,
        "name": "web",
        "recordName": RECORD,
        "primaryRegion": EAST,
        "recoveryRegion": WEST,
        "primary": {"host": PRIMARY_HOST},
        "secondary": {"host": SECONDARY_HOST},
        "parameters": {
            "activeRegion": f"/dr/{APP}/active-region",
            "activeBuckets": {"data": f"/dr/{APP}/active-bucket/data"},
        },
        "buckets": [
            {
                "logical": "data",
                "primary": PRIMARY_BUCKET,
                "primaryRegion": EAST,
                "replica": REPLICA_BUCKET,
                "replicaRegion": WEST,
            }
        ],
        "tables": [{"logical": "orders", "name": TABLE, "regions": [EAST, WEST]}],
    }


def _workload(stack: dict[str, Any], answers: Answers, *, refresh: float, prefix: str) -> Workload:
    emulator: Emulator = stack["emulator"]
    for region in (EAST, WEST):
        _settings(emulator, region, EAST)
    return Workload(
        _descriptor(),
        resolve=answers.resolve,
        connect=stack["hosts"].__getitem__,
        clients=lambda service, region: emulator.client(service, region, max_attempts=1),
        config_refresh_seconds=refresh,
        interval_seconds=0.1,
        prefix=prefix,
    )


def test_a_canary_goes_through_dns_to_the_stores_the_settings_name(stack: dict[str, Any]) -> None:
    answers = Answers()
    workload = _workload(stack, answers, refresh=30, prefix="one/")
    records = workload.write_once()
    assert answers.asked == [RECORD] and stack["seen"][-1] == RECORD  # resolved, then Host: the site's name
    assert {(r.store, r.served_by, r.region, r.location) for r in records} == {
        ("s3", EAST, EAST, PRIMARY_BUCKET),
        ("table", EAST, EAST, TABLE),
    }
    assert all(r.acknowledged and r.acknowledged_at >= r.written_at for r in records)  # type: ignore[operator]
    body = stack["emulator"].client("s3", EAST).get_object(Bucket=PRIMARY_BUCKET, Key="one/00000000.json")
    assert b'"sequence": 0' in body["Body"].read()


def test_settings_are_read_at_most_every_refresh_interval(stack: dict[str, Any]) -> None:
    answers = Answers()
    workload = _workload(stack, answers, refresh=1.0, prefix="refresh/")
    assert workload.write_once()[0].region == EAST
    _settings(stack["emulator"], EAST, WEST)  # the primary's copy now names the recovery Region
    assert workload.write_once()[0].region == EAST  # still the cached settings
    time.sleep(1.1)
    assert workload.write_once()[0].region == WEST
    _settings(stack["emulator"], EAST, EAST)


def test_region_loss_measures_rto_and_rpo_and_late_delivery_closes_the_gap(stack: dict[str, Any]) -> None:
    emulator: Emulator = stack["emulator"]
    answers = Answers()
    workload = _workload(stack, answers, refresh=0.2, prefix="loss/")
    with workload:
        time.sleep(1.0)
        stack["replicator"].pause()  # the last canaries before the fault surely still in flight, however slow
        time.sleep(0.5)
        emulator.lose_region(EAST)
        fault_at = time.time()
        stack["replicator"].resume()  # what was written in us-east-1 stays held: the Region is lost
        time.sleep(0.5)
        _settings(emulator, WEST, WEST)  # the orchestrator's "settings" step, then DNS
        answers.target = SECONDARY_HOST
        switched_at = time.time()
        time.sleep(1.0)
    records = workload.records()
    assert any(not r.acknowledged for r in records)  # the primary's endpoint failed during the outage
    rto = workload.rto(fault_at, WEST)
    assert rto is not None and switched_at - fault_at <= rto < switched_at - fault_at + SLACK
    rpo = workload.rpo(fault_at, WEST, store="s3")
    assert rpo.pre_fault > 0 and rpo.lost_newest and rpo.rpo_seconds > 0  # in flight when the Region went
    assert rpo.rpo_seconds < LAG + SLACK
    emulator.restore_region(EAST)
    assert stack["replicator"].wait_until_idle(LAG + SLACK)
    assert workload.rpo(fault_at, WEST, store="s3").rpo_seconds == 0  # delivered late: nothing lost for ever
    assert workload.missing_after(WEST) == []  # every acknowledged canary, of both stores, is readable there
    summary = summarize(records)
    assert summary["acknowledgedByRoute"][f"{WEST}->{WEST}"] > 0 and summary["failed"] > 0
    _settings(emulator, WEST, EAST)


def test_descriptor_keys_are_checked(stack: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="descriptor: missing 'recordName'"):
        Workload(
            {k: v for k, v in _descriptor().items() if k != "recordName"},
            resolve=Answers().resolve,
            connect=stack["hosts"].__getitem__,
            clients=stack["emulator"].client,
            config_refresh_seconds=1,
        )


def test_the_interval_can_change_while_writing_and_must_stay_positive(stack: dict[str, Any]) -> None:
    workload = Workload(
        _descriptor(),
        resolve=Answers().resolve,
        connect=stack["hosts"].__getitem__,
        clients=stack["emulator"].client,
        config_refresh_seconds=1,
        interval_seconds=0.05,
    )
    with pytest.raises(ValueError, match="interval_seconds must be > 0"):
        workload.set_interval(0)
    with workload:
        time.sleep(0.5)
        workload.set_interval(10)
        time.sleep(0.2)  # the canary already scheduled may still go
        written = workload.records()
        time.sleep(0.6)
        assert len(workload.records()) == len(written) and len({r.sequence for r in written}) >= 4
