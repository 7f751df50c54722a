"""``drctl failover``/``failback``/``status`` in-process (Typer's runner) against a moto server, real HTTP endpoints
and the DNS server of tests/handlers/failover/phase_world.py."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from handlers import aws
from handlers.cli import load_commands
from handlers.cli.failover import PULUMI_UP_WARNING
from handlers.failover import orchestrator
from handlers.failover.orchestrator import run_once
from handlers.failover.state import FAILED_OVER, FAILING_OVER, PRIMARY
from tests.handlers.failover.conftest import RECOVERY, SITE
from tests.handlers.failover.phase_world import (
    PhaseWorld,
    atomic_moto,
    atomic_moto_server,
    invariants,
    make_world,
    settings,
)

__all__ = ["atomic_moto", "atomic_moto_server"]  # fixtures
runner = CliRunner()


@pytest.fixture
def world(atomic_moto: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[PhaseWorld]:
    aws.cached_client.cache_clear()  # clients of another test module's server must not be reused
    made = make_world()
    monkeypatch.setenv("DR_DNS_NAMESERVERS", made.nameservers)
    try:
        yield made
    finally:
        made.close()
        aws.cached_client.cache_clear()


def drctl(*args: str) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(load_commands(), [*args, "--site", SITE, "--region", RECOVERY, "--json"])
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, result.stdout + result.stderr
    return result.exit_code, json.loads(lines[0])


def test_dry_run_then_failover_then_status(world: PhaseWorld) -> None:
    code, plan = drctl("failover", "--dry-run")
    assert code == 0 and plan["outcome"] == orchestrator.DRY_RUN
    assert plan["actions"]["actions"] == list(orchestrator.FAILOVER_ACTIONS)
    assert world.store().read().phase == PRIMARY and settings(world)["region"] is None
    code, done = drctl("failover")
    assert code == 0 and done["outcome"] == orchestrator.FAILED_OVER_NOW and done["dns_confirmed"] is True
    assert done["lockReleased"] is True and done["state"]["pending"] == []
    code, status = drctl("status")
    assert code == 0
    assert status["phase"] == FAILED_OVER and status["switch"] == "failed-over" and status["activeRegion"] == RECOVERY
    assert list(status["actionsDone"]) == list(orchestrator.FAILOVER_ACTIONS) and status["actionsPending"] == []
    assert status["lock"] == {"owner": None, "expiresAt": None, "held": False}
    assert PULUMI_UP_WARNING in status["warnings"]
    code, again = drctl("failover")
    assert code == 0 and again["outcome"] == orchestrator.ALREADY_FAILED_OVER


def test_status_shows_the_lock_and_the_actions_pending_of_a_stopped_run_that_break_lock_finishes(
    world: PhaseWorld,
) -> None:
    world.primary.mode = "failing"
    site, clients = world.site, world.clients()
    while "settings" not in world.store().read().done:  # a run that dies after the settings, lock held
        decision = run_once(site, clients, world.probe, datetime.now(UTC), owner="dead-invocation")
        time.sleep(0 if decision.outcome in orchestrator.CONTINUE_AT_ONCE else 1)
    code, status = drctl("status")
    assert code == 0 and status["phase"] == FAILING_OVER
    assert status["lock"]["owner"] == "dead-invocation" and status["lock"]["held"] is True
    assert status["lock"]["expiresAt"] > time.time()
    assert list(status["actionsDone"]) == ["begin", "database", "settings"]
    assert status["actionsPending"] == ["switch", "dns", "report", "finish"]
    code, locked = drctl("failover")
    assert code == 1 and locked["outcome"] == orchestrator.LOCKED and locked["lockReleased"] is True
    assert world.store().read().lock_owner == "dead-invocation"  # releasing ours never frees another's
    code, done = drctl("failover", "--break-lock")
    assert code == 0 and done["outcome"] == orchestrator.FAILED_OVER_NOW
    assert done["lockBroken"]["owner"] == "dead-invocation"
    assert invariants(world) == [] and world.store().read().epoch == 1


def test_failover_with_an_unready_standby_exits_1(world: PhaseWorld) -> None:
    world.secondary.mode = "failing"
    code, result = drctl("failover")
    assert code == 1 and result["outcome"] == orchestrator.STANDBY_NOT_READY
    assert world.store().read().phase == PRIMARY


def test_a_failover_over_the_rpo_needs_accept_data_loss(world: PhaseWorld) -> None:
    from tests.handlers.failover.test_orchestrator import database_world

    site = database_world(world, 1200.0)
    boto3.client("ssm", RECOVERY).put_parameter(
        Name=f"/dr/{site.app}/site/{SITE}", Value=json.dumps(world.document), Type="String", Overwrite=True
    )
    code, refused = drctl("failover")
    assert code == 1 and refused["outcome"] == orchestrator.DATA_LOSS_NOT_ACCEPTED
    code, done = drctl("failover", "--accept-data-loss")
    assert code == 0 and done["outcome"] == orchestrator.FAILED_OVER_NOW
    assert world.store().read().last_lag_seconds == 1200.0


def test_failback_before_a_failover_exits_1(world: PhaseWorld) -> None:
    code, result = drctl("failback")
    assert code == 1 and result["outcome"] == orchestrator.NOT_FAILED_OVER


@pytest.mark.slow
def test_failback_waits_for_the_healthy_time_then_runs_every_step(world: PhaseWorld) -> None:
    code, _ = drctl("failover")
    assert code == 0
    code, early = drctl("failback")
    assert code == 1 and early["outcome"] == orchestrator.WAITING_FOR_HEALTH
    store = world.store()
    state = store.read()
    assert store.track(state, primary_healthy_since=(datetime.now(UTC) - timedelta(minutes=2)).timestamp())
    code, done = drctl("failback")
    assert code == 0 and done["outcome"] == orchestrator.FAILED_BACK
    assert done["state"]["done"] == list(orchestrator.FAILBACK_ACTIONS)
    state = world.store().read()
    assert (state.phase, state.switch, state.epoch) == (PRIMARY, "primary", 2)
    assert invariants(world) == [] and settings(world)["epoch"] == "2"
    code, status = drctl("status")
    assert status["warnings"] == []


def test_the_wrong_region_is_a_usage_error(world: PhaseWorld) -> None:
    result = runner.invoke(load_commands(), ["status", "--site", SITE, "--region", "us-east-1", "--json"])
    assert result.exit_code == 2 and "recovery region" in json.loads(result.stdout)["error"]


def test_an_unknown_site_is_a_usage_error(world: PhaseWorld) -> None:
    result = runner.invoke(load_commands(), ["status", "--site", "nope", "--region", RECOVERY, "--json"])
    assert result.exit_code == 2 and "nope" in json.loads(result.stdout)["error"]
