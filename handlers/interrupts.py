"""SIGINT and SIGTERM for every ``drctl`` command: one guard, one exit class, cleanup that always finishes.

``drctl`` installs :func:`guarded` around every command (``handlers/cli/__init__.py``):

- the first SIGINT or SIGTERM raises :class:`Interrupted` in the main thread (Python's default SIGTERM would kill
  the process with no cleanup and no JSON; typer turns a ``KeyboardInterrupt`` into a bare exit 130); the
  command unwinds through its ``finally``/``except BaseException`` cleanup and exits 130 or 143 with one JSON
  object under ``--json``;
- every later signal is held: the command is already stopping, and a second Ctrl-C must not break the cleanup
  half-way (a drill's canaries and backup in the application's own table). SIGKILL still abandons;
- :func:`shielded` marks cleanup that must finish: a first signal arriving inside it is held until the block ends,
  then raised;
- a command that polls a stop flag instead (``restore-bucket``) installs its own cooperative handlers inside the
  guard (``handlers.cli.interruptible``).

Plain functions (drills) call :func:`shielded`, which is a no-op where no guard is installed (a Lambda).
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """The command was stopped by a signal; ``code`` is 128 + the signal number (130 SIGINT, 143 SIGTERM)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.code = 128 + signum
        self.name = signal.Signals(signum).name
        super().__init__(f"interrupted by {self.name}")


@dataclass
class GuardState:
    first: int | None = None  # the first signal: it decides the exit code
    held: list[int] = field(default_factory=list)  # later signals, never raised
    shield_depth: int = 0
    pending: bool = False  # the first signal arrived inside a shield: raise it when the shield ends
    emitted: bool = False  # the command printed its result: a signal can no longer change the outcome

    @property
    def code(self) -> int | None:
        return None if self.first is None else 128 + self.first


_state: GuardState | None = None


def current() -> GuardState | None:
    return _state


def _say(text: str) -> None:
    sys.stderr.write(f"\n{text}\n")
    sys.stderr.flush()


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    state = _state
    if state is None:  # a handler outlived its guard: behave as the guard would have
        raise Interrupted(signum)
    name = signal.Signals(signum).name
    if state.first is not None or state.emitted:
        state.held.append(signum)
        _say(f"{name}: already stopping; cleanup finishes first (SIGKILL abandons it and may leave drill data)")
        return
    state.first = signum
    if state.shield_depth:
        state.pending = True
        _say(f"{name}: cleanup in progress; stopping as soon as it is done")
        return
    raise Interrupted(signum)


@contextmanager
def guarded() -> Iterator[GuardState]:
    """SIGINT/SIGTERM raise :class:`Interrupted` once, then are held (main thread only; elsewhere a no-op)."""
    global _state
    state, outer = GuardState(), _state
    _state = state
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in SIGNALS:
            previous[int(sig)] = signal.signal(sig, _on_signal)
    try:
        yield state
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        _state = outer


@contextmanager
def shielded() -> Iterator[None]:
    """Work that must finish once started (cleanup): a signal inside it is raised only when it ends."""
    state = _state
    if state is None:
        yield
        return
    state.shield_depth += 1
    try:
        yield
    finally:
        state.shield_depth -= 1
    if state.shield_depth == 0 and state.pending:
        state.pending = False
        raise Interrupted(state.first or int(signal.SIGINT))


def mark_emitted() -> None:
    if _state is not None:
        _state.emitted = True


class StopFlag(threading.Event):
    """A stop flag that orders work against itself: :meth:`admit` and :meth:`set` take one lock, so anything
    admitted was admitted before the flag was set, and nothing is admitted after (``restore-bucket`` admits each
    write request through it: no write is dispatched after the stop).

    ``admitted_when_set`` is how many were admitted when the flag was set (None until then).
    """

    def __init__(self) -> None:
        super().__init__()
        self._order = threading.RLock()  # reentrant: the signal handler may run while the main thread holds it
        self.admitted = 0
        self.admitted_when_set: int | None = None

    def set(self) -> None:
        with self._order:
            if self.admitted_when_set is None:
                self.admitted_when_set = self.admitted
            super().set()

    def admit(self, halted: Callable[[], bool] = lambda: False) -> bool:
        """Admit one unit of work unless the flag is set or ``halted()``; counted when admitted."""
        with self._order:
            if self.is_set() or halted():
                return False
            self.admitted += 1
            return True
