"""The orchestrator's phase machine on a real clock (intervals of 1 s), against a moto server that serialises
requests (DynamoDB's conditional writes are atomic; moto's are not), real HTTP endpoints and an authoritative DNS
server on 127.0.0.1 that follows the switch (tests/handlers/failover/phase_world.py)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

import stackmodel.config.sites
import stackmodel.site
from emulator.functions import FunctionRunner
from handlers.failover import actions, orchestrator
from handlers.failover.orchestrator import run_once, run_rounds
from handlers.failover.site import Site
from handlers.failover.state import FAILED_OVER, FAILING_OVER, PRIMARY, SiteStore
from tests.handlers.failover.conftest import APP, RECOVERY, SITE
from tests.handlers.failover.phase_world import (
    PhaseWorld,
    atomic_moto,
    atomic_moto_server,
    invariants,
    make_world,
    settings,
    switch_metric,
)

__all__ = ["atomic_moto", "atomic_moto_server"]  # fixtures
ALL_FAILOVER = set(orchestrator.FAILOVER_ACTIONS)


@pytest.fixture
def world(atomic_moto: str) -> Iterator[PhaseWorld]:
    made = make_world()
    try:
        yield made
    finally:
        made.close()


def rounds(world: PhaseWorld, owner: str = "test", seconds: float = 30, **kwargs: Any) -> list[orchestrator.Decision]:
    kwargs.setdefault("until", lambda d: d.outcome in orchestrator.SETTLED)
    return run_rounds(world.site, world.clients(), world.probe, owner=owner, seconds=seconds, **kwargs)


def test_the_round_constants_are_the_stack_models(world: PhaseWorld) -> None:
    """The function's timeout (stackmodel/site.py) leaves a whole round after the last one may start."""
    assert orchestrator.RUN_SECONDS == stackmodel.site.RUN_SECONDS
    assert orchestrator.ROUND_BUDGET_SECONDS == stackmodel.site.ROUND_BUDGET_SECONDS
    assert stackmodel.site.ORCHESTRATOR_TIMEOUT_SECONDS >= orchestrator.RUN_SECONDS + orchestrator.ROUND_BUDGET_SECONDS
    # invocations start every SCHEDULE_SECONDS: at most two run at once, what the default reserved concurrency allows
    concurrent = -(-stackmodel.site.ORCHESTRATOR_TIMEOUT_SECONDS // stackmodel.site.SCHEDULE_SECONDS)
    assert concurrent <= stackmodel.config.sites.DEFAULT_ORCHESTRATOR_RESERVED_CONCURRENCY == 2
    assert orchestrator.LEASE_SECONDS < 120  # shorter than the prod RTO budget


def test_a_healthy_primary_keeps_the_switch_at_zero_and_records_both_votes(world: PhaseWorld) -> None:
    decision = run_once(world.site, world.clients(), world.probe, datetime.now(UTC), owner="t")
    assert decision.outcome == orchestrator.HEALTHY
    state = world.store().read()
    assert state.votes[orchestrator.VOTE_PROBE]["healthy"] is True
    assert state.votes[orchestrator.VOTE_ROUTE53]["healthy"] is True
    assert switch_metric(world) == 0.0 and settings(world)["region"] is None


def test_a_whole_failover_on_a_real_clock_one_action_per_round(world: PhaseWorld) -> None:
    world.primary.mode = "failing"
    started = time.monotonic()
    decisions = rounds(world)
    outcomes = [d.outcome for d in decisions]
    assert outcomes == ["suspect", "suspect", "started"] + ["advanced"] * 5 + ["failed-over"]
    # One action per round, in the design's order.
    assert [d.done[-1] for d in decisions[2:]] == list(orchestrator.FAILOVER_ACTIONS)
    # Detection takes threshold x interval on the real clock; the actions follow at once.
    assert 1.8 <= time.monotonic() - started < 15
    final = decisions[-1]
    assert final.dns_confirmed is True
    assert {"DetectionSeconds", "SwitchSeconds", "DnsConfirmedSeconds", "TransitionSeconds"} <= set(final.timings)
    assert 2 <= final.timings["DetectionSeconds"] < 8
    assert invariants(world) == []
    state = world.store().read()
    assert (state.phase, state.switch, state.epoch, state.lock_owner) == (FAILED_OVER, "failed-over", 1, None)
    assert settings(world) == {"region": RECOVERY, "audio": "distronation-prod-audio-us-west-2", "epoch": "1"}
    assert switch_metric(world) == 1.0
    again = run_once(world.site, world.clients(), world.probe, datetime.now(UTC), owner="later")
    assert again.outcome == orchestrator.ALREADY_FAILED_OVER and set(again.done) == ALL_FAILOVER


def test_already_failed_over_is_never_said_while_an_action_is_pending(world: PhaseWorld) -> None:
    """Issue 18's convergence bug: a run stopped after the switch, and every later run said "already failed over"."""
    world.primary.mode = "failing"
    rounds(world, until=lambda d: "switch" in d.done)
    state = world.store().read()
    assert state.phase == FAILING_OVER and {"dns", "report", "finish"}.isdisjoint(state.done)
    later = run_once(world.site, world.clients(), world.probe, datetime.now(UTC), owner="next-invocation")
    assert later.outcome == orchestrator.ADVANCED and later.done[-1] == "dns"
    assert rounds(world, owner="next-invocation")[-1].outcome == orchestrator.FAILED_OVER_NOW
    assert invariants(world) == []


@pytest.mark.slow
def test_a_run_that_died_holding_the_lock_is_taken_over_after_its_lease(
    world: PhaseWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(orchestrator, "LEASE_SECONDS", 2.0)
    world.primary.mode = "failing"
    site, clients = world.site, world.clients()
    for _ in range(6):  # to "settings" done, then the run dies without releasing
        decision = run_once(site, clients, world.probe, datetime.now(UTC), owner="dead")
        if "settings" in decision.done:
            break
        time.sleep(0 if decision.outcome in orchestrator.CONTINUE_AT_ONCE else 1)
    assert world.store().read().lock_owner == "dead"
    blocked = run_once(site, clients, world.probe, datetime.now(UTC), owner="next")
    assert blocked.outcome == orchestrator.LOCKED
    time.sleep(2.2)
    decisions = rounds(world, owner="next")
    assert decisions[0].done[-1] == "switch"  # the first pending action, nothing redone
    assert decisions[-1].outcome == orchestrator.FAILED_OVER_NOW and invariants(world) == []


def test_a_round_slower_than_its_budget_stops_the_run_before_a_round_could_outlive_it(world: PhaseWorld) -> None:
    """The run may take ``seconds + round_budget``; once a round took 3 s of a 1 s budget (a slow AWS, a loaded
    emulator), no round starts later than 3 s before that end. Rounds that fit the budget change nothing."""
    clock = [0.0]
    starts: list[float] = []

    def slow_first() -> orchestrator.Decision:
        starts.append(clock[0])
        clock[0] += 3.0
        return orchestrator.Decision(orchestrator.HEALTHY, world.site.name)

    def now() -> datetime:
        starts.append(clock[0])
        return datetime.now(UTC)

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    def run(**first: Any) -> list[orchestrator.Decision]:
        clock[0], starts[:] = 0.0, []
        return run_rounds(
            world.site,
            world.clients(),
            world.probe,
            owner="t",
            seconds=5.0,
            round_budget=1.0,
            clock=lambda: clock[0],
            now=now,
            sleep=sleep,
            **first,
        )

    decisions = run(first=slow_first)
    assert decisions[0].round_seconds == 3.0 and all(d.round_seconds == 0.0 for d in decisions[1:])
    # the next round was due at 1 s, so it starts at once; one at 4 s (the 1 s probe interval) could end at 7 s
    assert starts == [0.0, 3.0]
    run()
    assert starts == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


@pytest.mark.slow
def test_one_partitioned_vantage_point_never_fails_the_site_over(world: PhaseWorld) -> None:
    """The recovery region cannot reach the primary, but Route 53's checkers can (probe.<record> answers the
    primary): a partition between two regions, not a regional failure."""
    world.primary.mode = "failing"
    world.zone.checkers = True
    decisions = run_rounds(world.site, world.clients(), world.probe, owner="t", seconds=4.5)
    assert {d.outcome for d in decisions} == {orchestrator.SUSPECT}
    assert world.store().read().failures >= 3 and world.store().read().phase == PRIMARY  # counted, held
    # The other way round: the checkers say unhealthy, the recovery region's probe passes.
    world.primary.mode, world.zone.checkers = "healthy", False
    decisions = run_rounds(world.site, world.clients(), world.probe, owner="t", seconds=3.5)
    assert {d.outcome for d in decisions} == {orchestrator.HEALTHY}
    assert settings(world)["region"] is None and switch_metric(world) == 0.0


@pytest.mark.slow
def test_dns_that_never_moves_is_recorded_unconfirmed_and_alerted(world: PhaseWorld) -> None:
    world.zone.frozen = "api-use1.distronation.example"
    world.primary.mode = "failing"
    decisions = rounds(world)
    waits = [d for d in decisions if d.outcome == orchestrator.WAITING]
    assert waits and all(d.pending[0] == "dns" for d in waits)  # polled once per round, never waited inside
    final = decisions[-1]
    assert final.outcome == orchestrator.FAILED_OVER_NOW and final.dns_confirmed is False
    assert world.store().read().notes["dns"].startswith("unconfirmed")


# --- the database lag gate ---------------------------------------------------------------------------------------


def database_world(world: PhaseWorld, lag_seconds: float | None) -> Site:
    """A standalone instance in the recovery region (moto: available, writable) and its ReplicaLag metric."""
    boto3.client("rds", RECOVERY).create_db_instance(
        DBInstanceIdentifier="distronation-usw2",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="admin",
        MasterUserPassword="password123",
        AllocatedStorage=20,
    )
    if lag_seconds is not None:
        boto3.client("cloudwatch", RECOVERY).put_metric_data(
            Namespace="AWS/RDS",
            MetricData=[
                {
                    "MetricName": "ReplicaLag",
                    "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "distronation-usw2"}],
                    "Value": lag_seconds,
                    "Timestamp": datetime.now(UTC) - timedelta(seconds=30),
                }
            ],
        )
    world.document = {**world.document, "database": {"engine": "rds-replica", "identifier": "distronation-usw2"}}
    return world.site


@pytest.mark.parametrize("lag", [1200.0, None], ids=["lag-over-rpo", "lag-unknown"])
def test_a_manual_failover_over_the_rpo_needs_accept_data_loss(world: PhaseWorld, lag: float | None) -> None:
    site = database_world(world, lag)
    refused = orchestrator.failover(site, world.clients(), world.probe, datetime.now(UTC), reason="drill")
    assert refused.outcome == orchestrator.DATA_LOSS_NOT_ACCEPTED
    assert "accept-data-loss" in refused.reasons[-1]
    assert world.store().read().phase == PRIMARY and settings(world)["region"] is None
    accepted = orchestrator.failover(
        site, world.clients(), world.probe, datetime.now(UTC), reason="drill", accept_data_loss=True
    )
    assert accepted.outcome == orchestrator.FAILED_OVER_NOW
    assert world.store().read().last_lag_seconds == lag


def test_a_manual_failover_within_the_rpo_goes_ahead(world: PhaseWorld) -> None:
    site = database_world(world, 30.0)
    done = orchestrator.failover(site, world.clients(), world.probe, datetime.now(UTC), reason="planned")
    assert done.outcome == orchestrator.FAILED_OVER_NOW and world.store().read().manual is True


def test_the_lag_gate_never_blocks_an_unplanned_failover_and_records_the_rpo_estimate(world: PhaseWorld) -> None:
    world.document = {**world.document}
    site = database_world(world, 1200.0)
    world.primary.mode = "failing"
    decisions = run_rounds(
        site, world.clients(), world.probe, owner="t", seconds=30, until=lambda d: d.outcome in orchestrator.SETTLED
    )
    assert decisions[-1].outcome == orchestrator.FAILED_OVER_NOW
    state = world.store().read()
    assert state.last_lag_seconds == 1200.0 and state.manual is False
    assert "1200" in state.notes["database"]


# --- two overlapping runs ------------------------------------------------------------------------------------------


def test_overlapping_runs_during_a_failover_make_one_transition_and_always_agree(world: PhaseWorld) -> None:
    """Three runs (an invocation running past the next tick, a retry, an operator) round after round at once,
    each with its own clients, on real threads. After every round of any of them, the state item says what the
    settings and the switch did (read atomically from one item); once they stop, DNS, switch metric, settings and
    phase agree."""
    world.primary.mode = "failing"
    site = world.site
    seen: list[str] = []
    problems: list[str] = []
    barrier = threading.Barrier(3)

    def run(owner: str) -> None:
        clients = world.clients()
        store = SiteStore(clients.dynamodb, site.lock_table)
        barrier.wait()
        for _ in range(40):
            decision = run_once(site, clients, world.probe, datetime.now(UTC), owner=owner)
            seen.append(decision.outcome)
            state = store.read()
            if state.switch == "failed-over" and "settings" not in state.done:
                problems.append(f"{owner}: switch before settings {state.done}")
            if state.phase == FAILED_OVER and set(state.done) != ALL_FAILOVER:
                problems.append(f"{owner}: failed-over with {sorted(state.done)}")
            if decision.outcome in orchestrator.SETTLED:
                return
            time.sleep(0.05 if decision.outcome in orchestrator.CONTINUE_AT_ONCE else 0.3)

    threads = [threading.Thread(target=run, args=(f"run-{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert problems == []
    assert seen.count(orchestrator.STARTED) == 1 and seen.count(orchestrator.FAILED_OVER_NOW) == 1
    assert orchestrator.LOCKED in seen or orchestrator.CONTENDED in seen  # they did overlap
    state = world.store().read()
    assert state.epoch == 1 and state.phase == FAILED_OVER and state.lock_owner is None
    assert invariants(world) == [] and switch_metric(world) == 1.0


# --- the Lambda under its real timeout ------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_lambda_fails_over_across_invocations_within_its_configured_timeout(world: PhaseWorld) -> None:
    """Each invocation runs in its own process killed at the configured timeout (emulator/functions.py), with
    every time constant divided by 10 (the rehearsal's scaled profile): timeout 9 s, rounds for 5.5 s, a new
    invocation every 6 s. DNS moves only after 8 s, so the dns action is polled across invocations and the
    second invocation continues where the first stopped (on a busy machine the first may stop
    earlier). No invocation is cut, and each releases the lock."""
    scale = 10
    timeout = stackmodel.site.ORCHESTRATOR_TIMEOUT_SECONDS / scale
    world.primary.mode = "failing"
    world.zone.frozen = "api-use1.distronation.example"
    env = {
        "SITE_PARAMETER": f"/dr/{APP}/site/{SITE}",
        "DR_DNS_NAMESERVERS": world.nameservers,
        "DR_TIME_SCALE": str(scale),
        "AWS_REGION": RECOVERY,
    }
    world.document = {**world.document, "budget": {**world.document["budget"], "switchSeconds": 30}}
    boto3.client("ssm", RECOVERY).put_parameter(
        Name=f"/dr/{APP}/site/{SITE}", Value=json.dumps(world.document), Type="String", Overwrite=True
    )
    threading.Timer(8.0, lambda: setattr(world.zone, "frozen", None)).start()
    runner = FunctionRunner()
    results, snapshots = [], []
    try:
        runner.prewarm("handlers.failover.orchestrator:lambda_handler", env=env, count=1)
        for _ in range(4):
            tick = time.monotonic()
            result = runner.invoke(
                "handlers.failover.orchestrator:lambda_handler", {}, timeout_seconds=timeout, env=env
            )
            results.append(result)
            snapshots.append(dict(world.store().read().done))
            assert result.outcome == "ok", result.payload
            assert result.duration_seconds < timeout
            assert world.store().read().lock_owner is None  # released on the way out
            if orchestrator.FAILED_OVER_NOW in result.payload["outcomes"]:
                break
            time.sleep(max(0.0, tick + stackmodel.site.SCHEDULE_SECONDS / scale - time.monotonic()))
    finally:
        runner.close()
    assert len(results) >= 2, [r.payload["outcomes"] for r in results]
    first, last = results[0].payload, results[-1].payload
    assert "started" in first["outcomes"] and first["decision"]["phase"] == FAILING_OVER  # cut by time, not killed
    final_done = world.store().read().done
    assert all(final_done[action] == at for action, at in snapshots[0].items())  # nothing done twice
    assert orchestrator.FAILED_OVER_NOW in last["outcomes"] and "started" not in last["outcomes"]
    assert last["outcome"] == orchestrator.ALREADY_FAILED_OVER  # it keeps watching until its run ends
    assert invariants(world) == []


# --- ARC: one call, both controls (emulated with Stubber: moto has no route53-recovery-cluster) ---------------------

PRIMARY_CONTROL = "arn:aws:route53-recovery-control::123456789012:controlpanel/abc/routingcontrol/primary"
SECONDARY_CONTROL = "arn:aws:route53-recovery-control::123456789012:controlpanel/abc/routingcontrol/secondary"


@pytest.mark.parametrize(("failed_over", "primary", "secondary"), [(True, "Off", "On"), (False, "On", "Off")])
def test_arc_switch_sets_both_controls_in_one_call(
    world: PhaseWorld, failed_over: bool, primary: str, secondary: str
) -> None:
    endpoints = [
        {"endpoint": "https://aaaa.route53-recovery-cluster.us-east-1.amazonaws.com/v1", "region": "us-east-1"},
        {"endpoint": "https://bbbb.route53-recovery-cluster.us-west-2.amazonaws.com/v1", "region": "us-west-2"},
    ]
    site = Site.from_descriptor(
        {
            **world.document,
            "switch": {
                "kind": "arc",
                "routingControlArn": PRIMARY_CONTROL,
                "secondaryRoutingControlArn": SECONDARY_CONTROL,
                "clusterEndpoints": endpoints,
            },
        }
    )
    stubs: list[Stubber] = []

    def factory(endpoint: str, region: str) -> Any:
        client = boto3.client("route53-recovery-cluster", region_name=region, endpoint_url=endpoint)
        stub = Stubber(client)
        if region == "us-east-1":  # the failed region's cluster endpoint does not answer
            stub.add_client_error("update_routing_control_states", "EndpointTemporarilyUnavailableException")
        else:
            expected = {
                "UpdateRoutingControlStateEntries": [
                    {"RoutingControlArn": PRIMARY_CONTROL, "RoutingControlState": primary},
                    {"RoutingControlArn": SECONDARY_CONTROL, "RoutingControlState": secondary},
                ]
            }
            stub.add_response("update_routing_control_states", {}, expected)
        stub.activate()
        stubs.append(stub)
        return client

    clients = world.clients()
    clients.arc = factory
    assert actions.set_routing_controls(clients, site, failed_over=failed_over) == "us-west-2"
    for stub in stubs:
        stub.assert_no_pending_responses()


def test_an_arc_switch_without_the_secondary_control_is_refused(world: PhaseWorld) -> None:
    site = Site.from_descriptor({**world.document, "switch": {"kind": "arc", "routingControlArn": PRIMARY_CONTROL}})
    with pytest.raises(ValueError, match="secondaryRoutingControlArn"):
        actions.routing_control_arns(site)


# --- DNS reads from the zone's name servers (handlers/failover/dns.py, stdlib only) --------------------------------


class Delegation:
    """A recursive resolver's view (NS and A of the zone's name servers) and what the authoritative server saw."""

    def __init__(self, authoritative_port: int) -> None:
        self.port = authoritative_port  # where the A record of the name server points in a real delegation

    def resolve(self, request: Any, handler: Any) -> Any:
        from dnslib import NS, QTYPE, RR, A

        reply = request.reply()
        name = str(request.q.qname).rstrip(".")
        if request.q.qtype == QTYPE.NS and name == "distronation.example":
            reply.add_answer(RR(name, QTYPE.NS, rdata=NS("ns-1.awsdns.example"), ttl=60))
        elif request.q.qtype == QTYPE.A and name == "ns-1.awsdns.example":
            reply.add_answer(RR(name, QTYPE.A, rdata=A("127.0.0.1"), ttl=60))
        return reply


def test_dns_reads_ask_the_authoritative_servers_without_recursion(world: PhaseWorld) -> None:
    from dnslib.server import BaseResolver, DNSLogger, DNSServer

    from handlers.failover import dns

    assert dns.parse_servers("127.0.0.1:5353, 10.0.0.2,[::1]:53") == [
        ("127.0.0.1", 5353),
        ("10.0.0.2", 53),
        ("::1", 53),
    ]
    seen: list[int] = []

    class Recording(BaseResolver):  # type: ignore[misc]
        def resolve(self, request: Any, handler: Any) -> Any:
            seen.append(request.header.rd)
            return world.zone.resolve(request, handler)

    authoritative = DNSServer(Recording(), port=0, address="127.0.0.1", logger=DNSLogger(log="-request,-reply"))
    authoritative.start_thread()
    recursive = DNSServer(
        Delegation(authoritative.server.server_address[1]),
        port=0,
        address="127.0.0.1",
        logger=DNSLogger(log="-request,-reply"),
    )
    recursive.start_thread()
    try:
        found = dns.zone_nameservers("api.distronation.example", ("127.0.0.1", recursive.server.server_address[1]))
        assert found == [("127.0.0.1", 53)]  # the delegation, walked up from the record's name
        resolver = dns.site_resolver("api.distronation.example", f"127.0.0.1:{authoritative.server.server_address[1]}")
        answers = resolver("probe.api.distronation.example", "CNAME")
        assert [a.value for a in answers] == ["api-use1.distronation.example"] and seen == [0]  # RD clear
        with pytest.raises(OSError, match="no name server answered"):
            dns.authoritative_resolver(lambda: [("127.0.0.1", 9)])("api.distronation.example", "CNAME")
    finally:
        authoritative.stop()
        recursive.stop()


@pytest.mark.slow
def test_an_unready_standby_is_alerted_once_and_nothing_moves(
    world: PhaseWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.primary.mode = "failing"
    world.secondary.mode = "failing"
    clients = world.clients()
    sent: list[dict[str, Any]] = []
    publish = clients.sns.publish
    monkeypatch.setattr(clients.sns, "publish", lambda **kw: sent.append(kw) or publish(**kw))
    decisions = run_rounds(world.site, clients, world.probe, owner="t", seconds=4.5)
    assert [d.outcome for d in decisions][:2] == [orchestrator.SUSPECT, orchestrator.SUSPECT]
    assert {d.outcome for d in decisions[2:]} == {orchestrator.STANDBY_NOT_READY} and len(decisions) >= 4
    assert any("secondary endpoint" in reason for reason in decisions[-1].reasons)
    assert len(sent) == 1 and "not ready" in sent[0]["Subject"]
    assert world.store().read().phase == PRIMARY and settings(world)["region"] is None
