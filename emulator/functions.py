"""Runtime functions run with their real limits: each invocation in its own process, killed at its timeout.

API::

    from emulator.functions import invoke, Invocation, FunctionRunner

    result = invoke("handlers.failover.orchestrator:lambda_handler", event, timeout_seconds=90, env={...})
    result.outcome            # "ok" | "error" | "timeout"
    result.payload            # the JSON-able return value; Lambda's error shape ({"errorMessage", "errorType",
                              # "stackTrace"}) for errors, {"errorMessage": "Task timed out after N seconds"}
    result.duration_seconds   # wall time of the invoke phase (the part the timeout counts)
    result.cold_start, result.init_seconds

    runner = FunctionRunner()              # a pool of its own (the module-level ``invoke`` shares one)
    runner.prewarm(handler, env=..., count=2)   # start execution environments before they are needed
    runner.close()                         # ends every worker process it started

How it runs, like Lambda's execution environments:

- A worker is a separate ``python -m emulator.functions`` process that imports the handler's module once
  (the init phase, not counted in the timeout) and then serves invocations one at a time: a warm environment,
  so module-level caches (clients, the switch endpoint's last value) persist between invocations as they do in
  a warm Lambda container. Concurrent invocations of one function get one worker each.
- Each invocation sends the event (JSON, as Lambda's invoke API) and a deadline = now + ``timeout_seconds``;
  the worker calls ``handler(event, context)`` with a ``LambdaContext`` whose ``get_remaining_time_in_millis()``
  counts down to that deadline on the real clock. The return value must be JSON-serialisable (Lambda answers
  ``Runtime.MarshalError`` otherwise).
- At the deadline the parent kills the worker (SIGKILL; nothing of the step survives it, as in Lambda, which
  resets the execution environment after a timeout), reports ``timeout``, and starts a replacement in the
  background so the next invocation finds a warm worker. A worker that dies reports ``error``
  (``Runtime.ExitError``) and is replaced the same way.
- The worker's environment is this process's plus ``env``, with the Lambda variables a handler may read
  (``AWS_LAMBDA_FUNCTION_NAME``, ``AWS_LAMBDA_FUNCTION_TIMEOUT``, ``AWS_LAMBDA_FUNCTION_MEMORY_SIZE``)
  unless ``env`` sets them. Its stdout goes to this process's stderr (the protocol owns the real stdout).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MEMORY_MB = 128
INIT_TIMEOUT_SECONDS = 30.0  # Lambda's init phase limit is 10 s; imports on 2 busy shared cores can take longer

Outcome = Literal["ok", "error", "timeout"]


@dataclass(frozen=True)
class Invocation:
    outcome: Outcome
    payload: Any
    duration_seconds: float
    cold_start: bool = False
    init_seconds: float = 0.0
    request_id: str = ""


class LambdaContext:
    """The context object a Python Lambda handler receives (the attributes handlers and Powertools read)."""

    def __init__(
        self, *, deadline: float, function_name: str, memory_limit_in_mb: int, request_id: str, region: str
    ) -> None:
        self._deadline = deadline
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:123456789012:function:{function_name}"
        self.memory_limit_in_mb = memory_limit_in_mb
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"local/{os.getpid()}"
        self.identity = None
        self.client_context = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


# framing: 4-byte big-endian length + JSON -----------------------------------------------------------------------


def _write_frame(stream: IO[bytes], message: Mapping[str, Any]) -> None:
    data = json.dumps(message).encode()
    stream.write(struct.pack(">I", len(data)) + data)
    stream.flush()


def _read_exact(stream: IO[bytes], size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise EOFError("the function's process closed its pipe")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _read_frame(stream: IO[bytes]) -> dict[str, Any]:
    (size,) = struct.unpack(">I", _read_exact(stream, 4))
    message: dict[str, Any] = json.loads(_read_exact(stream, size))
    return message


# the worker process ----------------------------------------------------------------------------------------------


def _error_payload(error: BaseException, error_type: str | None = None) -> dict[str, Any]:
    return {
        "errorMessage": str(error),
        "errorType": error_type or type(error).__name__,
        "stackTrace": traceback.format_tb(error.__traceback__),
    }


def _worker_main(handler: str) -> None:  # pragma: no cover - runs in the child process (tested through invoke)
    protocol_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # the handler's prints go to stderr, never into the protocol
    sys.stdout = os.fdopen(1, "w", buffering=1)
    protocol_in = sys.stdin.buffer
    started = time.perf_counter()
    try:
        module_name, _, function_name = handler.partition(":")
        function = getattr(importlib.import_module(module_name), function_name)
    except Exception as error:
        _write_frame(protocol_out, {"ready": False, "error": _error_payload(error, "Runtime.ImportModuleError")})
        return
    _write_frame(protocol_out, {"ready": True, "init_seconds": time.perf_counter() - started})
    region = os.environ.get("AWS_REGION", "us-east-1")
    while True:
        try:
            request = _read_frame(protocol_in)
        except EOFError:
            return
        context = LambdaContext(
            deadline=request["deadline"],
            function_name=os.environ.get("AWS_LAMBDA_FUNCTION_NAME", function_name),
            memory_limit_in_mb=int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", DEFAULT_MEMORY_MB)),
            request_id=request["request_id"],
            region=region,
        )
        try:
            result = function(request["event"], context)
        except Exception as error:
            _write_frame(protocol_out, {"outcome": "error", "payload": _error_payload(error)})
            continue
        try:
            _write_frame(protocol_out, {"outcome": "ok", "payload": result})
        except (TypeError, ValueError) as error:
            _write_frame(protocol_out, {"outcome": "error", "payload": _error_payload(error, "Runtime.MarshalError")})


# the parent side -------------------------------------------------------------------------------------------------


class _Worker:
    def __init__(self, handler: str, env: Mapping[str, str]) -> None:
        self.handler = handler
        self.process = subprocess.Popen(
            [sys.executable, "-m", "emulator.functions", "--worker", handler],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=PROJECT_ROOT,
            env=dict(env),
            start_new_session=True,  # a kill takes the whole step, children included
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self._in: IO[bytes] = self.process.stdin
        self._out: IO[bytes] = self.process.stdout
        self.init_seconds = 0.0
        self.init_error: dict[str, Any] | None = None
        self.ready = threading.Event()
        self.served = 0

    def wait_ready(self, timeout: float) -> bool:
        if self.ready.is_set():
            return self.init_error is None
        started = time.perf_counter()
        if not self._wait_readable(timeout):
            self.kill()
            self.init_error = {
                "errorMessage": f"init did not finish within {timeout} s",
                "errorType": "Runtime.InitTimeout",
            }
        else:
            try:
                message = _read_frame(self._out)
            except EOFError:
                message = {
                    "ready": False,
                    "error": {"errorMessage": "the worker exited during init", "errorType": "Runtime.ExitError"},
                }
            if not message.get("ready"):
                self.init_error = message.get("error")
                self.kill()
            self.init_seconds = float(message.get("init_seconds", time.perf_counter() - started))
        self.ready.set()
        return self.init_error is None

    def _wait_readable(self, timeout: float) -> bool:
        readable, _, _ = select.select([self._out], [], [], max(0.0, timeout))
        return bool(readable)

    def call(self, event: Any, timeout_seconds: float, request_id: str) -> tuple[Outcome, Any, float]:
        started = time.time()
        deadline = started + timeout_seconds
        try:
            _write_frame(self._in, {"event": event, "deadline": deadline, "request_id": request_id})
            if not self._wait_readable(deadline - time.time()):
                self.kill()
                return (
                    "timeout",
                    {"errorMessage": f"Task timed out after {timeout_seconds:.2f} seconds"},
                    time.time() - started,
                )
            message = _read_frame(self._out)
        except (EOFError, OSError, ValueError):  # the process died, or was killed (runner closed) mid-call
            self.kill()
            return (
                "error",
                {
                    "errorMessage": f"the function's process exited (code {self.process.poll()})",
                    "errorType": "Runtime.ExitError",
                },
                time.time() - started,
            )
        self.served += 1
        return message["outcome"], message.get("payload"), time.time() - started

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        self.process.wait(timeout=10)
        for stream in (self._in, self._out):
            with contextlib.suppress(OSError):
                stream.close()


@dataclass
class _Pool:
    idle: list[_Worker] = field(default_factory=list)
    busy: int = 0


class FunctionRunner:
    """Warm workers per (handler, environment); see the module docstring."""

    def __init__(self, *, replace_after_timeout: bool = True) -> None:
        self._pools: dict[tuple[str, tuple[tuple[str, str], ...]], _Pool] = {}
        self._lock = threading.Lock()
        self._replace = replace_after_timeout
        self._closed = False
        self._workers: list[_Worker] = []

    @staticmethod
    def _environment(handler: str, env: Mapping[str, str] | None, timeout_seconds: float) -> dict[str, str]:
        merged = {**os.environ, **(env or {})}
        merged.setdefault("AWS_LAMBDA_FUNCTION_NAME", handler.partition(":")[0].rsplit(".", 1)[-1])
        merged.setdefault("AWS_LAMBDA_FUNCTION_TIMEOUT", str(int(timeout_seconds)))
        merged.setdefault("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", str(DEFAULT_MEMORY_MB))
        merged["PYTHONUNBUFFERED"] = "1"
        return merged

    def _key(self, handler: str, env: Mapping[str, str] | None) -> tuple[str, tuple[tuple[str, str], ...]]:
        return handler, tuple(sorted((env or {}).items()))

    def prewarm(
        self, handler: str, *, env: Mapping[str, str] | None = None, count: int = 1, timeout_seconds: float = 3
    ) -> None:
        """Start ``count`` workers for ``handler`` now (each imports the module once) and wait until ready."""
        _check_handler(handler)
        key = self._key(handler, env)
        workers = [self._spawn(handler, env, timeout_seconds) for _ in range(count)]
        for worker in workers:
            if worker.wait_ready(INIT_TIMEOUT_SECONDS):
                with self._lock:
                    if not self._closed:
                        self._pools.setdefault(key, _Pool()).idle.append(worker)
                        continue
            worker.kill()

    def _spawn(self, handler: str, env: Mapping[str, str] | None, timeout_seconds: float) -> _Worker:
        with self._lock:
            if self._closed:
                raise RuntimeError("FunctionRunner is closed")
            worker = _Worker(handler, self._environment(handler, env, timeout_seconds))
            self._workers.append(worker)
            self._workers = [known for known in self._workers if known.alive]
            return worker

    def invoke(
        self,
        handler: str,
        event: Any,
        *,
        timeout_seconds: float,
        env: Mapping[str, str] | None = None,
    ) -> Invocation:
        _check_handler(handler)
        if timeout_seconds <= 0:
            raise ValueError(f"timeout_seconds: must be > 0, got {timeout_seconds}")
        try:
            json.dumps(event)
        except (TypeError, ValueError) as error:
            raise ValueError(f"event: not JSON-serialisable ({error})") from None
        key = self._key(handler, env)
        with self._lock:
            if self._closed:
                raise RuntimeError("FunctionRunner is closed")
            pool = self._pools.setdefault(key, _Pool())
            worker = None
            while pool.idle and worker is None:
                candidate = pool.idle.pop()
                worker = candidate if candidate.alive else None
            pool.busy += 1
        cold = worker is None
        request_id = str(uuid.uuid4())
        try:
            if worker is None:
                worker = self._spawn(handler, env, timeout_seconds)
                if not worker.wait_ready(INIT_TIMEOUT_SECONDS):
                    return Invocation("error", worker.init_error, 0.0, True, worker.init_seconds, request_id)
            outcome, payload, duration = worker.call(event, timeout_seconds, request_id)
        finally:
            with self._lock:
                pool.busy -= 1
        if worker.alive and not self._closed:
            with self._lock:
                pool.idle.append(worker)
        elif self._replace and not self._closed:
            threading.Thread(
                target=self.prewarm,
                args=(handler,),
                kwargs={"env": env, "timeout_seconds": timeout_seconds},
                daemon=True,
            ).start()
        return Invocation(
            outcome, payload, round(duration, 6), cold, round(worker.init_seconds, 6) if cold else 0.0, request_id
        )

    def close(self) -> None:
        """Kill every worker this runner started, idle or busy (a busy invocation then reports an error)."""
        with self._lock:
            self._closed = True
            workers = list(self._workers)
            self._pools.clear()
        for worker in workers:
            worker.kill()


def _check_handler(handler: str) -> None:
    module_name, separator, function_name = handler.partition(":")
    if not separator or not module_name or not function_name.isidentifier():
        raise ValueError(f'handler: expected "package.module:function", got {handler!r}')


_DEFAULT_RUNNER: FunctionRunner | None = None
_DEFAULT_LOCK = threading.Lock()


def default_runner() -> FunctionRunner:
    global _DEFAULT_RUNNER
    with _DEFAULT_LOCK:
        if _DEFAULT_RUNNER is None:
            _DEFAULT_RUNNER = FunctionRunner()
            import atexit

            atexit.register(_DEFAULT_RUNNER.close)
        return _DEFAULT_RUNNER


def invoke(handler: str, event: Any, *, timeout_seconds: float, env: Mapping[str, str] | None = None) -> Invocation:
    """Invoke ``handler`` ("package.module:function") in a worker process, killed at ``timeout_seconds``."""
    return default_runner().invoke(handler, event, timeout_seconds=timeout_seconds, env=env)


if __name__ == "__main__":  # pragma: no cover - the worker's entry point
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        _worker_main(sys.argv[2])
    else:
        sys.exit("usage: python -m emulator.functions --worker package.module:function")
