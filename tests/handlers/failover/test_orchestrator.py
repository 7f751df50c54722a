"""The orchestrator's decision paths, against moto (CloudWatch, SSM, DynamoDB, SNS, S3), real HTTP endpoints and a
DNS server on 127.0.0.1. Route 53 itself is never called: moto would report every health check healthy anyway."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from handlers.app_setting import read_setting
from handlers.failover import orchestrator
from handlers.failover.orchestrator import run_once
from handlers.failover.state import FAILED_OVER, PRIMARY, SiteStore
from tests.handlers.failover.conftest import APP, PRIMARY_HOST, RECOVERY, SECONDARY_HOST, SITE, World

NOW = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)


def rounds(world: World, count: int, start: datetime = NOW) -> list[orchestrator.Decision]:
    return [
        run_once(world.site, world.clients, world.probe, start + timedelta(seconds=10 * i), clock=world.clock)
        for i in range(count)
    ]


def switch_values(world: World) -> list[float]:
    points = boto3.client("cloudwatch", RECOVERY).get_metric_statistics(
        Namespace="DR/Recovery",
        MetricName="FailoverSwitch",
        Dimensions=[{"Name": "Site", "Value": f"{APP}/{SITE}"}],
        StartTime=NOW - timedelta(hours=1),
        EndTime=NOW + timedelta(hours=1),
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    return sorted(p["Maximum"] for p in points)


def settings(world: World) -> dict[str, Any]:
    ssm = boto3.client("ssm", RECOVERY)
    return {
        "region": read_setting(ssm, f"/dr/{APP}/active-region"),
        "primaryCopy": read_setting(boto3.client("ssm", "us-east-1"), f"/dr/{APP}/active-region"),
        "audio": read_setting(ssm, f"/dr/{APP}/active-bucket/audio"),
    }


def test_a_healthy_primary_keeps_the_switch_at_zero(world: World) -> None:
    decisions = rounds(world, 2)
    assert [d.outcome for d in decisions] == ["healthy", "healthy"]
    assert switch_values(world) == [0.0]  # published every round, so the switch alarm never lacks data
    assert settings(world)["region"] is None


def test_a_confirmed_failure_fails_over_and_moves_dns_and_settings_together(world: World) -> None:
    world.primary.mode = "failing"
    decisions = rounds(world, 3)
    assert [d.outcome for d in decisions] == ["suspect", "suspect", "failed-over"]
    final = decisions[-1]
    assert final.dns_confirmed is True and final.actions["dns"] == [SECONDARY_HOST]
    assert switch_values(world) == [1.0]
    assert settings(world) == {
        "region": RECOVERY,
        "primaryCopy": RECOVERY,
        "audio": "distronation-prod-audio-us-west-2",
    }
    assert set(final.timings) == {"DetectionSeconds", "DecisionSeconds", "SwitchSeconds", "DnsConfirmedSeconds"}
    assert final.timings["DetectionSeconds"] == 30  # three rounds, ten seconds apart
    assert SiteStore(world.clients.dynamodb, world.site.lock_table).read().phase == FAILED_OVER


def test_a_slow_primary_counts_as_failing(world: World) -> None:
    world.primary.mode = "slow"  # answers after 1.5 s, the probe gives it 0.5 s
    assert [d.outcome for d in rounds(world, 3)][-1] == "failed-over"


def test_a_single_blip_leads_to_nothing(world: World) -> None:
    world.primary.mode = "failing"
    first = rounds(world, 2)
    world.primary.mode = "healthy"
    after = rounds(world, 1, NOW + timedelta(seconds=20))
    world.primary.mode = "failing"
    again = rounds(world, 2, NOW + timedelta(seconds=30))  # the count restarted: two more failures are not three
    assert [d.outcome for d in first + after + again] == ["suspect", "suspect", "healthy", "suspect", "suspect"]
    assert again[-1].failures == 2
    assert switch_values(world) == [0.0]
    assert settings(world)["region"] is None


def test_an_unhealthy_standby_alerts_and_does_not_fail_over(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world.primary.mode = "failing"
    world.secondary.mode = "failing"
    sent: list[dict[str, Any]] = []
    publish = world.clients.sns.publish
    monkeypatch.setattr(world.clients.sns, "publish", lambda **kw: sent.append(kw) or publish(**kw))
    final = rounds(world, 3)[-1]
    assert final.outcome == "standby-not-ready"
    assert any("secondary endpoint" in reason for reason in final.reasons)
    assert len(sent) == 1 and "not ready" in sent[0]["Subject"]
    assert switch_values(world) == [0.0]
    assert settings(world)["region"] is None


def test_a_standby_table_that_is_not_active_blocks_the_failover(world: World) -> None:
    boto3.client("dynamodb", RECOVERY).delete_table(TableName="distronation-prod-sessions")
    world.primary.mode = "failing"
    final = rounds(world, 3)[-1]
    assert final.outcome == "standby-not-ready"
    assert any("distronation-prod-sessions" in reason for reason in final.reasons)


def test_two_concurrent_runs_lead_to_one_failover(world: World) -> None:
    world.primary.mode = "failing"
    rounds(world, 2)
    results: list[orchestrator.Decision] = []
    barrier = threading.Barrier(2)

    def run(owner: str) -> None:
        barrier.wait()
        results.append(
            run_once(
                world.site, world.clients, world.probe, NOW + timedelta(seconds=20), owner=owner, clock=world.clock
            )
        )

    threads = [threading.Thread(target=run, args=(f"run-{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outcomes = sorted(d.outcome for d in results)
    assert outcomes.count("failed-over") == 1
    assert set(outcomes) - {"failed-over"} <= {"contended", "locked", "already-failed-over"}


def test_a_repeat_after_success_is_a_no_op(world: World) -> None:
    world.primary.mode = "failing"
    rounds(world, 3)
    boto3.client("ssm", RECOVERY).put_parameter(
        Name=f"/dr/{APP}/active-bucket/audio", Value="operator-choice", Type="String", Overwrite=True
    )
    repeat = rounds(world, 2, NOW + timedelta(minutes=1))
    assert [d.outcome for d in repeat] == ["already-failed-over", "already-failed-over"]
    assert settings(world)["audio"] == "operator-choice"  # nothing was written again


def test_a_silent_orchestrator_does_not_hand_dns_back(world: World) -> None:
    """After a failover every run publishes 1 again, even when the primary looks healthy; and when no run
    publishes at all, the switch alarm goes to INSUFFICIENT_DATA, which the health check reads as LastKnownStatus
    (asserted on the component: tests/components/test_site.py)."""
    world.primary.mode = "failing"
    rounds(world, 3)
    world.primary.mode = "healthy"
    later = rounds(world, 3, NOW + timedelta(minutes=2))
    assert {d.outcome for d in later} == {"already-failed-over"}
    assert set(switch_values(world)) == {1.0}  # every minute since the failover says "failed over"
    assert SiteStore(world.clients.dynamodb, world.site.lock_table).read().primary_healthy_since is not None


def test_the_lock_is_single_flight(world: World) -> None:
    store = SiteStore(world.clients.dynamodb, world.site.lock_table)
    assert store.acquire("first", NOW)
    assert not store.acquire("second", NOW)
    assert store.acquire("second", NOW + timedelta(minutes=10))  # an expired lock is taken over
    store.release("first")  # not the holder: nothing happens
    assert not store.acquire("third", NOW + timedelta(minutes=10))


def test_a_dry_run_changes_nothing(world: World) -> None:
    decision = orchestrator.failover(world.site, world.clients, world.probe, NOW, reason="drill", dry_run=True)
    assert decision.outcome == "dry-run"
    assert decision.actions["activeBuckets"] == {"audio": "distronation-prod-audio-us-west-2"}
    assert switch_values(world) == []
    assert SiteStore(world.clients.dynamodb, world.site.lock_table).read().phase == PRIMARY


def test_dns_not_yet_moved_is_reported_not_hidden(world: World) -> None:
    world.clients.sleep = lambda seconds: setattr(world.clock, "now", world.clock.now + seconds)  # DNS never moves
    world.primary.mode = "failing"
    final = rounds(world, 3)[-1]
    assert final.outcome == "failed-over"
    assert final.dns_confirmed is False and final.actions["dns"] == [PRIMARY_HOST]
