"""``drctl failover`` as an operator runs it: a real process, real signals, and one AWS error injected at each
action in turn (a botocore ``before-send`` hook in the child answers that call with HTTP 500 on every retry).
After each interruption the site lock is gone (or the output says truthfully that it may not be), the state and
the settings agree, and running the same command again finishes the failover."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from handlers.failover import orchestrator
from handlers.failover.state import FAILED_OVER, FAILING_OVER
from tests.handlers.failover.conftest import PRIMARY_HOST, RECOVERY, SITE
from tests.handlers.failover.phase_world import PhaseWorld, atomic_moto, atomic_moto_server, invariants, make_world

__all__ = ["atomic_moto", "atomic_moto_server"]  # fixtures
pytestmark = pytest.mark.slow  # about 4 minutes: every drctl run is a new process on a shared machine

# Runs in the child before drctl: INJECT="Operation:nth:error" answers the nth call of Operation (and its retries)
# with a 500; "Operation:nth:sleep:seconds" delays it. Retry back-off is shortened so five attempts take no time.
CHILD = r"""
import os, sys, time
import botocore.session
import botocore.retries.standard
from botocore.awsrequest import AWSResponse

botocore.retries.standard.ExponentialBackoff.delay_amount = lambda self, context: 0.01
spec = os.environ.get("INJECT", "")
calls = {}
if spec:
    operation, nth, kind, *rest = spec.split(":")
    nth = int(nth)
    original = botocore.session.Session.create_client

    class Raw:
        def __init__(self, body):
            self.body = body

        def stream(self, **_):
            yield self.body

    XML = (
        b"<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code>"
        b"<Message>injected 500</Message></Error></ErrorResponse>"
    )
    JSON = b'{"__type": "InternalServerError", "message": "injected 500"}'

    def create_client(self, *args, **kwargs):
        client = original(self, *args, **kwargs)

        def count(model, **_):
            if model.name == operation:
                calls[operation] = calls.get(operation, 0) + 1

        def send(request, event_name, **_):
            if not event_name.endswith("." + operation) or calls.get(operation) != nth:
                return None
            if kind == "sleep":
                time.sleep(float(rest[0]))
                return None
            body = JSON if client.meta.service_model.protocol == "json" else XML
            return AWSResponse(request.url, 500, {"x-amzn-ErrorType": "InternalServerError"}, Raw(body))

        client.meta.events.register("before-parameter-build", count)
        client.meta.events.register("before-send", send)
        return client

    botocore.session.Session.create_client = create_client

from handlers.cli import main
sys.argv = ["drctl", *sys.argv[1:]]
main()
"""


@pytest.fixture
def world(atomic_moto: str) -> Iterator[PhaseWorld]:
    made = make_world()
    try:
        yield made
    finally:
        made.close()


def drctl(world: PhaseWorld, *args: str, inject: str = "") -> subprocess.Popen[str]:
    env = {**os.environ, "DR_DNS_NAMESERVERS": world.nameservers, "INJECT": inject, "AWS_REGION": RECOVERY}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, *args, "--site", SITE, "--region", RECOVERY, "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def result_of(process: subprocess.Popen[str], timeout: float = 90) -> tuple[int, dict[str, Any], str]:
    out, err = process.communicate(timeout=timeout)
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1, f"stdout must hold one JSON object: {out!r}\nstderr: {err[-2000:]}"
    return process.returncode, json.loads(lines[0]), err


def wait_for(world: PhaseWorld, action: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while action not in world.store().read().done:
        assert time.monotonic() < deadline, f"{action} never done: {world.store().read()}"
        time.sleep(0.1)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_after_the_round_releases_the_lock_and_a_rerun_finishes(
    world: PhaseWorld, signum: int, code: int
) -> None:
    world.zone.frozen = PRIMARY_HOST  # DNS has not moved yet: the run polls it
    process = drctl(world, "failover")
    wait_for(world, "switch")
    time.sleep(0.3)
    process.send_signal(signum)
    exit_code, result, _ = result_of(process)
    assert exit_code == code and result["exit_code"] == code
    assert result["interrupted"] is True and result["lockReleased"] is True
    assert result["state"]["phase"] == FAILING_OVER and "dns" in result["state"]["pending"]
    state = world.store().read()
    assert state.lock_owner is None and invariants(world, state) == []
    world.zone.frozen = None
    exit_code, result, _ = result_of(drctl(world, "failover"))
    assert (exit_code, result["outcome"]) == (0, orchestrator.FAILED_OVER_NOW)
    assert invariants(world) == [] and world.store().read().epoch == 1  # continued, not begun again


def test_a_second_ctrl_c_during_the_release_still_leaves_no_lock(world: PhaseWorld) -> None:
    world.zone.frozen = PRIMARY_HOST
    process = drctl(world, "failover", inject="DeleteItem:1:sleep:2")
    wait_for(world, "switch")
    process.send_signal(signal.SIGINT)
    time.sleep(0.8)  # the release (DeleteItem) is now held for 2 s
    process.send_signal(signal.SIGINT)
    exit_code, result, err = result_of(process)
    assert exit_code == 130 and result["lockReleased"] is True
    assert "releasing the site lock first" in err
    assert world.store().read().lock_owner is None


def test_a_second_ctrl_c_during_an_action_says_truthfully_the_lock_may_remain(world: PhaseWorld) -> None:
    process = drctl(world, "failover", inject="PutParameter:1:sleep:6")
    wait_for(world, "database")
    time.sleep(1.0)  # the settings action is in its first PutParameter
    process.send_signal(signal.SIGINT)
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    exit_code, result, _ = result_of(process)
    assert exit_code == 130 and result["abandoned"] is True
    state = world.store().read()
    assert state.lock_owner == result["lock"]["owner"]  # it said the lock may be held: it is, by that owner
    assert "settings" not in state.done and invariants(world, state) == []
    exit_code, result, _ = result_of(drctl(world, "failover", "--break-lock"))
    assert exit_code == 0 and result["outcome"] == orchestrator.FAILED_OVER_NOW
    assert result["lockBroken"]["owner"] == state.lock_owner and invariants(world) == []


# The call that fails each action, counted within its run. Each run first does the action the previous run failed
# (its fenced record is that run's first TransactWriteItems), then fails at the next.
ACTION_ERRORS = {
    "begin": "TransactWriteItems:1",
    "database": "TransactWriteItems:2",  # after begin's record
    "settings": "PutParameter:2",  # after active-bucket/audio, before active-region: the settings half moved
    "switch": "TransactWriteItems:2",  # after the settings' record
    "dns": "TransactWriteItems:2",
    "report": "Publish:1",  # the SNS summary
    "finish": "TransactWriteItems:2",
}


def test_an_aws_error_at_each_action_in_turn_leaves_an_agreeing_state_and_the_next_run_continues(
    world: PhaseWorld,
) -> None:
    """One run per action: each fails with a 500 at that action (exit 3, one JSON object, lock released), the
    state and settings agree, and the next run starts at exactly that action (nothing done twice, one epoch)."""
    done_so_far: dict[str, str] = {}
    for action, operation in ACTION_ERRORS.items():
        exit_code, result, err = result_of(drctl(world, "failover", inject=f"{operation}:error"))
        assert exit_code == 3, (action, err[-2000:])
        assert result["lockReleased"] is True and "injected 500" in json.dumps(result), action
        state = world.store().read()
        assert action not in state.done and state.lock_owner is None, action
        assert state.phase != FAILED_OVER and invariants(world, state) == [], action
        assert all(state.done[a] == at for a, at in done_so_far.items()), f"{action}: an action was redone"
        expected = list(orchestrator.FAILOVER_ACTIONS)
        assert list(state.done) == expected[: expected.index(action)]  # stopped exactly at this action
        if action != "begin":
            assert result["state"]["pending"][0] == action
        done_so_far = dict(state.done)
    exit_code, result, err = result_of(drctl(world, "failover"))
    assert (exit_code, result["outcome"]) == (0, orchestrator.FAILED_OVER_NOW), err[-2000:]
    final = world.store().read()
    assert invariants(world, final) == [] and final.epoch == 1
    exit_code, result, _ = result_of(drctl(world, "failover"))
    assert (exit_code, result["outcome"]) == (0, orchestrator.ALREADY_FAILED_OVER)
