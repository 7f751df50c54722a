"""The function runner (emulator/functions.py) on a real clock: own process, remaining time, kill at the timeout.

The handlers below run inside the worker processes (``tests.emulator.test_functions:<name>``). Tolerances allow
for 2 shared cores: a 1 s timeout must end between 0.9 s and 1 s + SLACK.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.functions import FunctionRunner

HERE = "tests.emulator.test_functions"
SLACK = 2.5
_calls = 0


# handlers (run in the worker) -------------------------------------------------------------------------------------


def report(event: Any, context: Any) -> dict[str, Any]:
    global _calls
    _calls += 1
    time.sleep(event.get("sleep", 0))
    return {
        "event": event,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "pid": os.getpid(),
        "calls": _calls,
        "function_name": context.function_name,
        "setting": os.environ.get("DR_TEST_SETTING"),
    }


def countdown(event: Any, context: Any) -> list[int]:
    first = context.get_remaining_time_in_millis()
    time.sleep(event["seconds"])
    return [first, context.get_remaining_time_in_millis()]


def outlive(event: Any, context: Any) -> str:
    time.sleep(event["seconds"])
    Path(event["marker"]).write_text("the step finished")  # never written when the process is killed first
    return "done"


def fail(event: Any, context: Any) -> None:
    raise ValueError(f"bad input: {event['key']}")


def unserialisable(event: Any, context: Any) -> Any:
    return {1, 2}


def exit_process(event: Any, context: Any) -> None:
    os._exit(3)


def print_and_return(event: Any, context: Any) -> str:
    print("a print must not corrupt the protocol")
    return "fine"


# tests ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def runner() -> Iterator[FunctionRunner]:
    started = FunctionRunner()
    yield started
    started.close()


def test_invocation_returns_the_payload_in_another_process(runner: FunctionRunner) -> None:
    result = runner.invoke(f"{HERE}:report", {"a": 1}, timeout_seconds=5, env={"DR_TEST_SETTING": "x"})
    assert result.outcome == "ok" and result.cold_start
    assert result.payload["event"] == {"a": 1} and result.payload["setting"] == "x"
    assert result.payload["pid"] != os.getpid()
    assert 3000 < result.payload["remaining_ms"] <= 5000


def test_warm_worker_is_reused_like_a_warm_container(runner: FunctionRunner) -> None:
    first = runner.invoke(f"{HERE}:report", {}, timeout_seconds=5)
    second = runner.invoke(f"{HERE}:report", {}, timeout_seconds=5)
    assert not second.cold_start and second.payload["pid"] == first.payload["pid"]
    assert second.payload["calls"] == first.payload["calls"] + 1  # module state persists


def test_remaining_time_counts_down_on_the_real_clock(runner: FunctionRunner) -> None:
    result = runner.invoke(f"{HERE}:countdown", {"seconds": 0.5}, timeout_seconds=3)
    first, after = result.payload
    assert result.outcome == "ok"
    assert 2000 < first <= 3000 and 400 <= first - after < 400 + SLACK * 1000


@pytest.mark.slow
def test_a_step_that_outlives_the_timeout_is_killed(runner: FunctionRunner, tmp_path: Path) -> None:
    marker = tmp_path / "finished"
    runner.prewarm(f"{HERE}:outlive")
    started = time.monotonic()
    result = runner.invoke(f"{HERE}:outlive", {"seconds": 3, "marker": str(marker)}, timeout_seconds=1)
    elapsed = time.monotonic() - started
    assert result.outcome == "timeout"
    assert result.payload == {"errorMessage": "Task timed out after 1.00 seconds"}
    assert 0.9 <= result.duration_seconds <= 1 + SLACK and elapsed <= 1 + SLACK
    time.sleep(3)
    assert not marker.exists()  # killed: the rest of the step never ran


def test_after_a_timeout_the_next_invocation_gets_a_fresh_environment(runner: FunctionRunner) -> None:
    first = runner.invoke(f"{HERE}:report", {}, timeout_seconds=5)
    assert runner.invoke(f"{HERE}:report", {"sleep": 3}, timeout_seconds=0.5).outcome == "timeout"
    again = runner.invoke(f"{HERE}:report", {}, timeout_seconds=5)
    assert again.outcome == "ok" and again.payload["pid"] != first.payload["pid"]
    assert again.payload["calls"] == 1  # Lambda resets the environment after a timeout: module state is gone


def test_errors_use_lambdas_shape(runner: FunctionRunner) -> None:
    result = runner.invoke(f"{HERE}:fail", {"key": "k"}, timeout_seconds=5)
    assert result.outcome == "error"
    assert result.payload["errorType"] == "ValueError" and result.payload["errorMessage"] == "bad input: k"
    marshal = runner.invoke(f"{HERE}:unserialisable", {}, timeout_seconds=5)
    assert marshal.outcome == "error" and marshal.payload["errorType"] == "Runtime.MarshalError"
    missing = runner.invoke("tests.emulator.no_such_module:handler", {}, timeout_seconds=5)
    assert missing.outcome == "error" and missing.payload["errorType"] == "Runtime.ImportModuleError"


def test_prints_go_to_stderr_not_into_the_protocol(runner: FunctionRunner) -> None:
    result = runner.invoke(f"{HERE}:print_and_return", {}, timeout_seconds=5)
    assert (result.outcome, result.payload) == ("ok", "fine")


def test_concurrent_invocations_get_a_worker_each(runner: FunctionRunner) -> None:
    from concurrent.futures import ThreadPoolExecutor

    runner.prewarm(f"{HERE}:countdown", count=2)
    with ThreadPoolExecutor(2) as pool:
        started = time.monotonic()
        results = list(
            pool.map(lambda _: runner.invoke(f"{HERE}:countdown", {"seconds": 1}, timeout_seconds=5), [0, 1])
        )
        elapsed = time.monotonic() - started
    assert [r.outcome for r in results] == ["ok", "ok"]
    assert elapsed < 2 + SLACK / 2  # in parallel, not one after the other


def test_bad_arguments_are_named(runner: FunctionRunner) -> None:
    with pytest.raises(ValueError, match="handler: expected"):
        runner.invoke("no-colon", {}, timeout_seconds=1)
    with pytest.raises(ValueError, match="timeout_seconds"):
        runner.invoke(f"{HERE}:report", {}, timeout_seconds=0)
    with pytest.raises(ValueError, match="event: not JSON"):
        runner.invoke(f"{HERE}:report", {"x": object()}, timeout_seconds=1)


def test_a_process_that_dies_is_an_error_and_is_replaced(runner: FunctionRunner) -> None:
    died = runner.invoke(f"{HERE}:exit_process", {}, timeout_seconds=5)
    assert died.outcome == "error" and died.payload["errorType"] == "Runtime.ExitError"
    assert runner.invoke(f"{HERE}:report", {}, timeout_seconds=5).outcome == "ok"


def test_close_ends_busy_workers_too(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    runner = FunctionRunner()
    runner.prewarm(f"{HERE}:outlive")
    marker = tmp_path / "finished"
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(
            runner.invoke, f"{HERE}:outlive", {"seconds": 3, "marker": str(marker)}, timeout_seconds=10
        )
        time.sleep(0.5)
        runner.close()
        result = pending.result(timeout=5)
    assert result.outcome == "error"
    time.sleep(3)
    assert not marker.exists()
