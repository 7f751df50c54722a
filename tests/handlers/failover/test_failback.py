"""Failback's phase sequencing on a moto server (the data rules are tests/handlers/failover/test_reconcile.py's):
the phase is written first, settings move before the switch, the hold-down is polled, the second reconcile pass
catches writes made meanwhile, Aurora moves traffic only once the old primary is the writer, and a probe round
or a second prober's vote during the reconcile changes nothing (the split brain of issue 18)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from handlers.failover import orchestrator, reconcile
from handlers.failover.failback import hold_seconds, parse_iso
from handlers.failover.orchestrator import run_once
from handlers.failover.state import FAILED_OVER, FAILING_BACK, PRIMARY
from tests.handlers.failover.conftest import PRIMARY as PRIMARY_REGION
from tests.handlers.failover.conftest import RECOVERY
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
PRIMARY_BUCKET, REPLICA_BUCKET = "distronation-prod-audio-us-east-1", "distronation-prod-audio-us-west-2"


@pytest.fixture
def world(atomic_moto: str) -> Iterator[PhaseWorld]:
    made = make_world()
    try:
        yield made
    finally:
        made.close()


def failed_over(world: PhaseWorld) -> None:
    """Fail over, then let the primary be healthy for longer than healthyMinutesBeforeFailback."""
    decision = orchestrator.failover(world.site, world.clients(), world.probe, datetime.now(UTC), reason="test")
    assert decision.outcome == orchestrator.FAILED_OVER_NOW
    store = world.store()
    assert store.track(store.read(), primary_healthy_since=(datetime.now(UTC) - timedelta(minutes=5)).timestamp())


def step(world: PhaseWorld, owner: str = "failback") -> orchestrator.Decision:
    return run_once(world.site, world.clients(), world.probe, datetime.now(UTC), owner=owner)


def test_a_healthy_primary_starts_the_failback_from_the_round_and_every_step_follows_in_order(
    world: PhaseWorld,
) -> None:
    replica = boto3.client("s3", RECOVERY)
    failed_over(world)
    replica.put_object(Bucket=REPLICA_BUCKET, Key="during-failover.txt", Body=b"written in us-west-2")
    decisions: list[orchestrator.Decision] = []
    while not decisions or decisions[-1].outcome != orchestrator.FAILED_BACK:
        decisions.append(step(world))
        problems = invariants(world)
        assert problems == [], (decisions[-1], problems)
        state = world.store().read()
        if "switch" in state.done and "during-hold.txt" not in str(decisions):
            # The application still writes to the replica through cached DNS and old settings: pass 2's job.
            replica.put_object(Bucket=REPLICA_BUCKET, Key="during-hold.txt", Body=b"late write")
            decisions.append(orchestrator.Decision("wrote during-hold.txt", "api"))
        assert len(decisions) < 40, [d.outcome for d in decisions]
        time.sleep(0 if decisions[-1].outcome in orchestrator.CONTINUE_AT_ONCE else 0.5)
    assert decisions[0].outcome == orchestrator.STARTED  # the round began it: both vantage points say healthy
    state = world.store().read()
    held = parse_iso(state.done["hold"]) - parse_iso(state.done["switch"])
    assert held.total_seconds() >= hold_seconds(world.site)  # polled by rounds until config refresh + switch + TTL
    order = [a for a, _ in sorted(state.done.items(), key=lambda item: parse_iso(item[1]))]
    assert order == list(orchestrator.FAILBACK_ACTIONS)
    assert (state.phase, state.switch, state.epoch) == (PRIMARY, "primary", 2)
    assert settings(world) == {"region": PRIMARY_REGION, "audio": PRIMARY_BUCKET, "epoch": "2"}
    assert switch_metric(world) == 0.0
    primary = boto3.client("s3", PRIMARY_REGION)
    for key in ("during-failover.txt", "during-hold.txt"):
        assert primary.head_object(Bucket=PRIMARY_BUCKET, Key=key)["ContentLength"] > 0, key


def test_a_failed_reconcile_moves_neither_settings_nor_switch(
    world: PhaseWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    failed_over(world)
    boto3.client("s3", RECOVERY).put_object(Bucket=REPLICA_BUCKET, Key="new.txt", Body=b"x")
    clients = world.clients()
    real_client = clients.s3_primary

    class Refusing:  # the primary refuses writes (moto enforces no bucket policy on copies)
        def __getattr__(self, name: str) -> Any:
            if name in ("copy_object", "put_object", "delete_object", "create_multipart_upload"):

                def denied(**_: Any) -> Any:
                    raise ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, name)

                return denied
            return getattr(real_client, name)

    clients.s3_primary = Refusing()
    decisions = [run_once(world.site, clients, world.probe, datetime.now(UTC), owner="fb") for _ in range(4)]
    assert [d.outcome for d in decisions][:1] == [orchestrator.STARTED]
    assert {d.outcome for d in decisions[1:]} <= {orchestrator.WAITING, orchestrator.ACTION_FAILED}
    state = world.store().read()
    assert state.phase == FAILING_BACK and "reconcile-1" not in state.done and state.switch == "failed-over"
    assert settings(world)["region"] == RECOVERY and invariants(world) == []


@pytest.mark.slow
def test_a_probe_round_and_a_second_probers_vote_during_the_reconcile_change_nothing(
    world: PhaseWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 18's split brain, replayed: while the failback's reconcile runs, another round probes (the primary
    fails that probe) and a second prober writes its vote (a health write that bumps the version). Before, the
    failback's version-conditioned write then failed unnoticed and DNS and settings disagreed."""
    failed_over(world)
    boto3.client("s3", RECOVERY).put_object(Bucket=REPLICA_BUCKET, Key="new.txt", Body=b"x")
    during: list[str] = []
    real = reconcile.reconcile_bucket

    def interleaved(*args: Any, **kwargs: Any) -> Any:
        def other_round() -> None:
            world.primary.mode = "failing"
            during.append(step(world, owner="scheduled-round").outcome)
            store = world.store()
            state = store.read()
            during.append(f"vote written: {store.track(state, votes={'third-region': {'healthy': False, 'at': 1}})}")
            during.append(f"version {state.version} -> {store.read().version}")
            world.primary.mode = "healthy"

        thread = threading.Thread(target=other_round)
        thread.start()
        thread.join(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(reconcile, "reconcile_bucket", interleaved)
    decisions: list[orchestrator.Decision] = []
    while not decisions or decisions[-1].outcome not in (orchestrator.FAILED_BACK, orchestrator.LOST_LOCK):
        decisions.append(step(world))
        assert invariants(world) == [], decisions[-1]
        assert len(decisions) < 40
        time.sleep(0 if decisions[-1].outcome in orchestrator.CONTINUE_AT_ONCE else 0.5)
    assert during[0] == orchestrator.LOCKED and during[1] == "vote written: True"
    assert decisions[-1].outcome == orchestrator.FAILED_BACK
    state = world.store().read()
    assert (state.phase, state.switch) == (PRIMARY, "primary") and state.votes["third-region"]["healthy"] is False
    assert settings(world)["region"] == PRIMARY_REGION and switch_metric(world) == 0.0


@pytest.mark.slow
def test_rounds_on_threads_throughout_a_failback_always_agree(world: PhaseWorld) -> None:
    """A failback driven by one run while two others round continuously on their own threads (the scheduled
    invocations), the primary flapping under them: every state they read agrees, and so does the end."""
    failed_over(world)
    stop = threading.Event()
    problems: list[str] = []

    def prober(owner: str) -> None:
        clients = world.clients()
        store = world.store()
        while not stop.is_set():
            run_once(world.site, clients, world.probe, datetime.now(UTC), owner=owner, auto_failback=False)
            state = store.read()
            if state.phase == FAILING_BACK and state.switch == "primary" and "settings" not in state.done:
                problems.append(f"{owner}: switch back before settings {state.done}")
            if state.phase == PRIMARY and state.switch != "primary":
                problems.append(f"{owner}: primary with switch {state.switch}")
            time.sleep(0.2)

    def flap() -> None:
        while not stop.wait(0.7):
            world.primary.mode = "failing" if world.primary.mode == "healthy" else "healthy"

    threads = [threading.Thread(target=prober, args=(f"round-{i}",)) for i in range(2)]
    threads.append(threading.Thread(target=flap))
    for thread in threads:
        thread.start()
    try:
        decision = orchestrator.failback(world.site, world.clients(), world.probe, datetime.now(UTC), seconds=60)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    world.primary.mode = "healthy"
    assert problems == []
    assert decision.outcome in (orchestrator.FAILED_BACK, orchestrator.LOCKED, orchestrator.WAITING_FOR_HEALTH)
    if decision.outcome != orchestrator.FAILED_BACK:  # a prober held the lock or the primary flapped: finish it
        decision = orchestrator.failback(world.site, world.clients(), world.probe, datetime.now(UTC), seconds=60)
    state = world.store().read()
    assert decision.outcome == orchestrator.FAILED_BACK or state.phase == FAILED_OVER
    assert invariants(world, state) == []


# --- Aurora: traffic moves only once the old primary is the writer (Stubber: moto has no global clusters) ----------

GLOBAL = "distronation-global"
NEW_PRIMARY = "arn:aws:rds:us-west-2:123456789012:cluster:distronation-usw2"
OLD_PRIMARY = "arn:aws:rds:us-east-1:123456789012:cluster:distronation-use1"


def test_aurora_failback_moves_the_settings_only_once_the_old_primary_reports_it_is_the_writer(
    world: PhaseWorld,
) -> None:
    failed_over(world)
    world.document = {
        **world.document,
        "database": {"engine": "aurora-global", "identifier": "distronation-usw2", "globalClusterIdentifier": GLOBAL},
    }
    store = world.store()
    # The failover happened without the database; begin and reconcile-1 of the failback as the orchestrator would.
    clients = world.clients()
    rds = boto3.client("rds", RECOVERY)
    clients.rds = rds

    def members(old_is_writer: bool) -> dict[str, Any]:
        return {
            "GlobalClusters": [
                {
                    "GlobalClusterMembers": [
                        {"DBClusterArn": NEW_PRIMARY, "IsWriter": not old_is_writer},
                        {"DBClusterArn": OLD_PRIMARY, "IsWriter": old_is_writer},
                    ]
                }
            ]
        }

    with Stubber(rds) as stub:
        stub.add_response("describe_global_clusters", members(False), {"GlobalClusterIdentifier": GLOBAL})
        stub.add_response(
            "switchover_global_cluster",
            {"GlobalCluster": {"GlobalClusterIdentifier": GLOBAL}},
            {"GlobalClusterIdentifier": GLOBAL, "TargetDbClusterIdentifier": OLD_PRIMARY},
        )
        stub.add_response("describe_global_clusters", members(False), {"GlobalClusterIdentifier": GLOBAL})
        stub.add_response("describe_global_clusters", members(True), {"GlobalClusterIdentifier": GLOBAL})
        outcomes: list[str] = []
        while not (store.read().phase == FAILING_BACK and "database" in store.read().done):
            decision = run_once(world.site, clients, world.probe, datetime.now(UTC), owner="fb")
            outcomes.append(decision.outcome)
            assert settings(world)["region"] == RECOVERY  # nothing moved while the switchover runs
            assert len(outcomes) < 10, outcomes
        stub.assert_no_pending_responses()
    assert outcomes == ["started", "advanced", "waiting", "waiting", "advanced"]
    assert store.read().notes["database"] == "old primary is the writer"
    assert run_once(world.site, clients, world.probe, datetime.now(UTC), owner="fb").done[-1] == "settings"
    assert settings(world)["region"] == PRIMARY_REGION


def test_the_lock_is_renewed_during_the_reconcile_and_a_round_out_of_time_stops_it(
    world: PhaseWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reconcile renews the lease per page (reconcile.py) through the round's renewal, which answers False
    past the round's deadline: the walk stops, the action stays pending, and the next round resumes it."""
    failed_over(world)
    keys = reconcile.ReconcileOptions().workers + 2  # more than a round starts before it looks at the time
    for i in range(keys):
        boto3.client("s3", RECOVERY).put_object(Bucket=REPLICA_BUCKET, Key=f"new-{i:02d}.txt", Body=b"x")
    renewals: list[tuple[bool, float | None, float | None]] = []
    real = reconcile.reconcile_bucket

    def renewing(*args: Any, options: Any, **kwargs: Any) -> Any:
        before = world.store().read().lock_expires_at
        time.sleep(1.1)
        renewed = options.renew()
        renewals.append((renewed, before, world.store().read().lock_expires_at))
        return real(*args, options=options, **kwargs)

    monkeypatch.setattr(reconcile, "reconcile_bucket", renewing)
    assert step(world).outcome == orchestrator.STARTED
    store, clients = world.store(), world.clients()
    late = orchestrator.transition_round(
        world.site, clients, store, "failback", datetime.now(UTC), deadline=time.monotonic() - 1
    )
    # out of time with more to do: the next round continues at once (no poll pause)
    assert late.outcome == orchestrator.CONTINUING and "reconcile-1" not in store.read().done
    assert renewals[-1][0] is False and "stopped" in late.reasons[0]
    on_time = run_once(world.site, clients, world.probe, datetime.now(UTC), owner="failback")
    assert on_time.outcome == orchestrator.ADVANCED and on_time.done[-1] == "reconcile-1"
    # the pass reports every key it copied, over both rounds
    assert on_time.actions["reconcile-1"]["buckets"]["audio"]["copied"] == keys
    renewed, before, after = renewals[-1]
    assert renewed is True and (after or 0) > (before or 0)  # the lease was extended during the work
