"""Sequenced canaries written continuously, at a bounded rate, before and across a drill's fault.

Each canary carries its sequence number and its write time, so the RPO is read from the data that came back
(``handlers.drills.objectives.measure_rpo``). The rate is bounded because the local emulator serves about
150-200 requests/s in all (GUIDE §3), shared with the seeding, the fault and the recovery.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from handlers.drills.objectives import CanaryWrite

DEFAULT_RATE_PER_SECOND = 20.0
# How long a drill waits for its first canaries before the fault (the emulator's slowest start is seconds).
DEFAULT_WAIT_SECONDS = 60.0
# How long ``stop`` waits for a write in flight: a hung PutObject must not hold a drill's cleanup forever (the
# thread is a daemon, so it never holds the process either).
STOP_JOIN_SECONDS = 30.0


def canary_payload(drill_id: str, sequence: int, written_at: float) -> bytes:
    """The body of a canary object: what must read back identically after recovery."""
    return json.dumps({"drill": drill_id, "sequence": sequence, "written_at": written_at}, sort_keys=True).encode()


class CanaryWriter:
    """Calls ``write(sequence, written_at)`` about ``rate_per_second`` times a second in a background thread.

    A write that raises is recorded in ``errors`` and not counted as a canary (it was never acknowledged).
    """

    def __init__(
        self,
        write: Callable[[int, float], None],
        *,
        rate_per_second: float = DEFAULT_RATE_PER_SECOND,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        self._write = write
        self._interval = 1.0 / rate_per_second
        self._clock = clock
        self._stop = threading.Event()
        self._acknowledged = threading.Condition()  # guards ``_written``; notified after each acknowledged canary
        self._writing = threading.Lock()  # held around each write: ``paused`` waits for the one in flight
        self._thread: threading.Thread | None = None
        self._written: list[CanaryWrite] = []
        self.errors: list[str] = []

    def __enter__(self) -> CanaryWriter:
        self.start()
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.stop()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="drill-canaries", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        sequence = 0
        while not self._stop.is_set():
            with self._writing:
                if self._stop.is_set():
                    break
                written_at = self._clock()
                try:
                    self._write(sequence, written_at)
                except Exception as error:  # recorded; the drill reports it and the canary does not count
                    self.errors.append(f"canary {sequence}: {error}")
                else:
                    with self._acknowledged:
                        self._written.append(CanaryWrite(sequence, written_at, self._clock()))
                        self._acknowledged.notify_all()
            sequence += 1
            self._stop.wait(max(0.0, self._interval - (self._clock() - written_at)))

    def wait_for(self, count: int, timeout: float = DEFAULT_WAIT_SECONDS) -> None:
        """Block until at least ``count`` canaries were acknowledged (a fault needs some before it)."""
        with self._acknowledged:
            if not self._acknowledged.wait_for(lambda: len(self._written) >= count, timeout):
                raise TimeoutError(
                    f"only {len(self._written)} of {count} canaries written in {timeout} s: {self.errors}"
                )

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Inside the block no canary write is in flight and none starts: a fault placed here separates every
        acknowledged canary from the fault, whatever the scheduling (the writes resume after the block)."""
        with self._writing:
            yield

    def stop(self) -> list[CanaryWrite]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=STOP_JOIN_SECONDS)
        return self.written

    @property
    def written(self) -> list[CanaryWrite]:
        with self._acknowledged:
            return list(self._written)
