"""The emulated Route 53 against its documented rules (emulator/route53.py), over a moto server on 127.0.0.1.

Each rule has a test that fails when the rule is removed: a checker's failure threshold, the probing interval,
the 18 % share, inversion, calculated checks, alarm checks reading the metric (not the alarm state) with
``InsufficientDataHealthStatus`` and their own copy of the alarm, routing-control checks, and the failover answer
(SECONDARY unhealthy: PRIMARY). Real clock with short intervals (``time_scale``); tolerances allow 2 shared cores.
"""

from __future__ import annotations

import http.server
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from emulator.route53 import Checker, CheckState, Route53Emulator, RoutingControls

ZONE = "example.test"
REGION = "us-west-2"


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def client(moto_url: str, service: str, region: str = "us-east-1") -> Any:
    session: Any = boto3.session.Session()  # Any: the stubs only type literal service names
    return session.client(
        service,
        region_name=region,
        endpoint_url=moto_url,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


@pytest.fixture
def moto(moto_url: str) -> str:
    request = urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=10):
        pass
    return moto_url


class Endpoint:
    """An HTTP endpoint on 127.0.0.1 whose status the test sets; counts the requests it got."""

    def __init__(self) -> None:
        self.status = 200
        self.requests = 0
        self.hosts: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests += 1
                outer.hosts.append(self.headers.get("Host", ""))
                self.send_response(outer.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args: Any) -> None:
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    served = Endpoint()
    try:
        yield served
    finally:
        served.close()


def network_for(**hosts: int) -> Any:
    def network(host: str, _port: int) -> tuple[str, int]:
        key = host.replace(".", "_").replace("-", "_")
        if key not in hosts:
            raise LookupError(host)
        return "127.0.0.1", hosts[key]

    return network


def emulator(moto: str, network: Any, **options: Any) -> Route53Emulator:
    return Route53Emulator(
        client(moto, "route53"),
        network=network,
        cloudwatch=lambda region: client(moto, "cloudwatch", region),
        seed=7,
        **options,
    )


def endpoint_check(**overrides: Any) -> dict[str, Any]:
    return {
        "Type": "HTTPS",
        "FullyQualifiedDomainName": "switch.example.test",
        "ResourcePath": "/",
        "Port": 443,
        "RequestInterval": 10,
        "FailureThreshold": 3,
        "EnableSNI": True,
        **overrides,
    }


def wait_for(predicate: Any, timeout: float) -> float:
    """Seconds until ``predicate()`` holds; fails after ``timeout``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"not within {timeout} s")


# --- rules as plain data ---------------------------------------------------------------------------------------


def test_checker_changes_its_view_only_after_failure_threshold_consecutive_results() -> None:
    checker = Checker("us-east-1", next_due=0)
    checker.observe(True, threshold=3)
    for _ in range(2):
        checker.observe(False, threshold=3)
    assert checker.verdict is True  # two failures are not three
    checker.observe(True, threshold=3)  # a success in between restarts the count
    checker.observe(False, threshold=3)
    checker.observe(False, threshold=3)
    assert checker.verdict is True
    checker.observe(False, threshold=3)
    assert checker.verdict is False
    for _ in range(2):
        checker.observe(True, threshold=3)
    assert checker.verdict is False  # recovery needs the threshold too
    checker.observe(True, threshold=3)
    assert checker.verdict is True


@pytest.mark.parametrize(("healthy_checkers", "expected"), [(0, False), (1, False), (2, True), (8, True)])
def test_a_check_is_healthy_while_more_than_18_percent_of_checkers_say_so(
    moto: str, healthy_checkers: int, expected: bool
) -> None:
    r53 = emulator(moto, network_for())
    state = CheckState("c", endpoint_check())
    state.checkers = [Checker(f"r{i}", 0, verdict=i < healthy_checkers) for i in range(8)]
    r53._checks = {"c": state}
    # 1 of 8 is 12.5 % (unhealthy), 2 of 8 is 25 % (healthy)
    assert r53.status("c") is expected


@pytest.mark.parametrize("inverted", [False, True])
def test_a_new_check_without_results_is_healthy(moto: str, inverted: bool) -> None:
    r53 = emulator(moto, network_for())
    state = CheckState("c", endpoint_check(Inverted=inverted))
    state.checkers = [Checker(f"r{i}", 0) for i in range(3)]
    r53._checks = {"c": state}
    assert r53.status("c") is True


# --- on a real clock, against moto --------------------------------------------------------------------------


def test_checkers_probe_at_the_interval_and_mark_unhealthy_after_the_threshold(moto: str, endpoint: Endpoint) -> None:
    scale = 20.0  # RequestInterval 10 s -> 0.5 s
    r53 = emulator(
        moto, network_for(switch_example_test=endpoint.port), time_scale=scale, checker_regions=["a", "b", "c"]
    )
    check_id = r53.create_health_check(endpoint_check(FailureThreshold=3))
    with r53:
        wait_for(lambda: r53.probes >= 3, timeout=5)
        assert r53.status(check_id) is True
        # interval: three checkers at 0.5 s each make about 6 probes a second
        before, began = r53.probes, time.monotonic()
        time.sleep(2.0)
        rate = (r53.probes - before) / (time.monotonic() - began)
        assert 3 * 2 * 0.6 <= rate <= 3 * 2 * 1.3, rate
        endpoint.status = 503
        took = wait_for(lambda: not r53.status(check_id), timeout=10)
    # 3 consecutive failures at 0.5 s: at least 2 intervals after the change, about 3; slack for 2 shared cores
    assert 0.9 <= took <= 3.5, took
    assert set(endpoint.hosts) == {"switch.example.test"}  # the check's FQDN as Host (SNI on AWS)


def test_inverted_check_is_unhealthy_while_the_endpoint_answers_200(moto: str, endpoint: Endpoint) -> None:
    r53 = emulator(
        moto, network_for(switch_example_test=endpoint.port), time_scale=20.0, checker_regions=["a", "b", "c"]
    )
    inverted = r53.create_health_check(endpoint_check(Inverted=True, FailureThreshold=1))
    plain = r53.create_health_check(endpoint_check(FailureThreshold=1))
    with r53:
        wait_for(lambda: not r53.status(inverted), timeout=5)
        assert r53.status(plain) is True
        endpoint.status = 404
        wait_for(lambda: r53.status(inverted), timeout=5)
        assert r53.status(plain) is False


def test_unreachable_endpoint_is_unhealthy_and_healthy_when_inverted(moto: str) -> None:
    r53 = emulator(moto, network_for(), time_scale=20.0, checker_regions=["a", "b", "c"])
    plain = r53.create_health_check(endpoint_check(FailureThreshold=1))
    inverted = r53.create_health_check(endpoint_check(FailureThreshold=1, Inverted=True))
    with r53:
        wait_for(lambda: not r53.status(plain), timeout=5)
        assert r53.status(inverted) is True


def test_calculated_check_counts_healthy_children_against_health_threshold(moto: str) -> None:
    r53 = emulator(moto, network_for())
    controls = RoutingControls({"arn:a": True, "arn:b": True}, at_least_one_on=False)
    r53.routing_controls = controls
    a = r53.create_health_check({"Type": "RECOVERY_CONTROL", "RoutingControlArn": "arn:a"})
    b = r53.create_health_check({"Type": "RECOVERY_CONTROL", "RoutingControlArn": "arn:b"})
    both = r53.create_health_check({"Type": "CALCULATED", "ChildHealthChecks": [a, b], "HealthThreshold": 2})
    one = r53.create_health_check({"Type": "CALCULATED", "ChildHealthChecks": [a, b], "HealthThreshold": 1})
    r53.load()
    assert (r53.status(both), r53.status(one)) == (True, True)
    controls.update({"arn:a": False})
    assert (r53.status(both), r53.status(one)) == (False, True)
    controls.update({"arn:b": False})
    assert (r53.status(both), r53.status(one)) == (False, False)


def test_routing_controls_refuse_an_update_that_leaves_every_control_off() -> None:
    controls = RoutingControls({"arn:primary": True, "arn:secondary": False})
    with pytest.raises(ValueError, match="at least one"):
        controls.update({"arn:primary": False})
    controls.update({"arn:primary": False, "arn:secondary": True})  # one call, both entries: allowed
    assert (controls.state("arn:primary"), controls.state("arn:secondary")) == (False, True)


def put_switch_alarm(cloudwatch: Any, threshold: float = 1.0) -> None:
    cloudwatch.put_metric_alarm(
        AlarmName="switch",
        Namespace="DR/Recovery",
        MetricName="FailoverSwitch",
        Dimensions=[{"Name": "Site", "Value": "app/api"}],
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=threshold,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="breaching",  # never read by Route 53: a test below shows it
    )


def put_switch(cloudwatch: Any, value: float) -> None:
    cloudwatch.put_metric_data(
        Namespace="DR/Recovery",
        MetricData=[
            {"MetricName": "FailoverSwitch", "Dimensions": [{"Name": "Site", "Value": "app/api"}], "Value": value}
        ],
    )


def alarm_check(insufficient: str) -> dict[str, Any]:
    return {
        "Type": "CLOUDWATCH_METRIC",
        "AlarmIdentifier": {"Region": REGION, "Name": "switch"},
        "InsufficientDataHealthStatus": insufficient,
    }


def test_alarm_check_reads_the_metric_not_the_alarm_state(moto: str) -> None:
    cloudwatch = client(moto, "cloudwatch", REGION)
    put_switch_alarm(cloudwatch)
    r53 = emulator(moto, network_for(), time_scale=60.0)  # Period 60 s x 1 -> a 1 s window
    last_known = r53.create_health_check(alarm_check("LastKnownStatus"))
    healthy = r53.create_health_check(alarm_check("Healthy"))
    unhealthy = r53.create_health_check(alarm_check("Unhealthy"))
    r53.load()
    r53.evaluate_alarms_now()
    # no data yet: each check's InsufficientDataHealthStatus; a new LastKnownStatus check is healthy
    # (TreatMissingData=breaching would put the alarm in ALARM: Route 53 never reads it)
    assert [r53.status(c) for c in (last_known, healthy, unhealthy)] == [True, True, False]
    cloudwatch.set_alarm_state(AlarmName="switch", StateValue="ALARM", StateReason="test")
    r53.evaluate_alarms_now()
    assert r53.status(last_known) is True  # the alarm's state is not read
    put_switch(cloudwatch, 1.0)
    r53.evaluate_alarms_now()
    assert [r53.status(c) for c in (last_known, healthy, unhealthy)] == [False, False, False]
    # The datapoint leaves the (scaled, 1 s) evaluation window: insufficient data again. Polled for up to 5 windows,
    # since busy CI cores can delay the evaluation past the first one; never sooner than one window.
    time.sleep(1.3)
    deadline = time.monotonic() + 5.0
    while True:
        r53.evaluate_alarms_now()
        if r53.status(healthy) or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    assert [r53.status(c) for c in (last_known, healthy, unhealthy)] == [False, True, False]


def test_alarm_check_keeps_its_copy_of_the_alarm_until_update_health_check(moto: str) -> None:
    cloudwatch = client(moto, "cloudwatch", REGION)
    put_switch_alarm(cloudwatch, threshold=1.0)
    r53 = emulator(moto, network_for(), time_scale=60.0)
    check = r53.create_health_check(alarm_check("LastKnownStatus"))
    r53.load()
    put_switch_alarm(cloudwatch, threshold=5.0)  # the alarm changes (a deploy): the check still uses 1.0
    put_switch(cloudwatch, 1.0)
    r53.evaluate_alarms_now()
    assert r53.status(check) is False
    r53.update_health_check(check, InsufficientDataHealthStatus="LastKnownStatus")  # the documented re-apply
    r53.load()
    r53.evaluate_alarms_now()
    assert r53.status(check) is True  # 1.0 < 5.0


def failover_zone(moto: str, r53: Route53Emulator, primary_check: str | None, secondary_check: str | None) -> None:
    route53 = client(moto, "route53")
    zone_id = route53.create_hosted_zone(Name=ZONE, CallerReference="z")["HostedZone"]["Id"]
    changes = []
    for role, value, check in (("PRIMARY", "10.0.0.1", primary_check), ("SECONDARY", "10.0.0.2", secondary_check)):
        record: dict[str, Any] = {
            "Name": f"api.{ZONE}",
            "Type": "A",
            "SetIdentifier": role.lower(),
            "Failover": role,
            "TTL": 30,
            "ResourceRecords": [{"Value": value}],
        }
        if check:
            record["HealthCheckId"] = check
        changes.append({"Action": "CREATE", "ResourceRecordSet": record})
    route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})
    r53.load()


@pytest.mark.parametrize(
    ("primary", "secondary", "answer"),
    [(True, True, "10.0.0.1"), (False, True, "10.0.0.2"), (False, False, "10.0.0.1"), (True, False, "10.0.0.1")],
)
def test_failover_answer_follows_the_checks_and_falls_back_to_primary(
    moto: str, primary: bool, secondary: bool, answer: str
) -> None:
    r53 = emulator(moto, network_for())
    r53.routing_controls = RoutingControls({"arn:p": primary, "arn:s": secondary}, at_least_one_on=False)
    p = r53.create_health_check({"Type": "RECOVERY_CONTROL", "RoutingControlArn": "arn:p"})
    s = r53.create_health_check({"Type": "RECOVERY_CONTROL", "RoutingControlArn": "arn:s"})
    failover_zone(moto, r53, p, s)
    zone, records = r53.answer(f"api.{ZONE}", "A")
    assert zone is not None and [r.values for r in records] == [(answer,)]


def test_a_secondary_without_check_is_always_healthy(moto: str) -> None:
    r53 = emulator(moto, network_for())
    r53.routing_controls = RoutingControls({"arn:p": False}, at_least_one_on=False)
    p = r53.create_health_check({"Type": "RECOVERY_CONTROL", "RoutingControlArn": "arn:p"})
    failover_zone(moto, r53, p, None)
    assert r53.answer(f"api.{ZONE}", "A")[1][0].values == ("10.0.0.2",)


def test_replacing_a_check_starts_it_healthy(moto: str, endpoint: Endpoint) -> None:
    """A new check has no last status: healthy (why the runbook forbids replacing the switch check while failed
    over)."""
    endpoint.status = 503
    r53 = emulator(
        moto, network_for(switch_example_test=endpoint.port), time_scale=20.0, checker_regions=["a", "b", "c"]
    )
    old = r53.create_health_check(endpoint_check(FailureThreshold=1))
    with r53:
        wait_for(lambda: not r53.status(old), timeout=5)
        client(moto, "route53").delete_health_check(HealthCheckId=old)
        new = r53.create_health_check(endpoint_check(FailureThreshold=1))
        r53.load()
        assert r53.status(new) is True
        wait_for(lambda: not r53.status(new), timeout=5)
