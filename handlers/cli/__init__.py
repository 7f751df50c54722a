"""``drctl``: the operator CLI over the same plain functions the Lambdas use.

Every command's Typer function lives in this package, one module per service (``s3``, ``dynamodb``, ``drills``),
over plain functions that import without typer or rich. Each module registers its commands on ``app``; ``main``
imports them all.

The contract every command keeps (docs/contract.md, "drctl"):

- ``--json`` prints exactly one JSON object on stdout, whatever happens (success, a failed check, a usage error,
  an AWS error, an interrupt), and its ``exit_code`` is the process's; progress and logs go to stderr.
- Exit codes by cause: 0 done; 1 work failed or a check did not pass; 2 decided locally (bad option, malformed
  ARN, bad time); 3 AWS refused or could not be reached; 130 SIGINT; 143 SIGTERM.
- No user text is ever read as console markup, and text the terminal cannot encode is backslash-escaped.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Annotated, Any, NoReturn

import typer
from botocore.exceptions import NoRegionError
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from handlers import interrupts
from handlers.cli.validation import region_value

# Exit codes shared by every command.
EXIT_OK = 0
EXIT_FAILED = 1  # the operation ran but some work failed or a check did not pass
EXIT_USAGE = 2  # decided locally: bad arguments or input (typer also uses 2 for usage errors)
EXIT_AWS = 3  # AWS refused or could not be reached
EXIT_SIGINT = 128 + signal.SIGINT  # 130
EXIT_SIGTERM = 128 + signal.SIGTERM  # 143
EXIT_CODES = {
    EXIT_OK: "done",
    EXIT_FAILED: "work failed or a check did not pass",
    EXIT_USAGE: "bad input, decided locally (option, ARN, time)",
    EXIT_AWS: "AWS refused or could not be reached",
    EXIT_SIGINT: "interrupted (SIGINT)",
    EXIT_SIGTERM: "terminated (SIGTERM)",
}

# In the order ``drctl --help`` lists their commands.
COMMAND_MODULES: tuple[str, ...] = (
    "handlers.cli.dynamodb",
    "handlers.cli.s3",
    "handlers.cli.drills",
    "handlers.cli.failover",
    "handlers.cli.backup",
)


class _CurrentStderr:
    """A stream that always writes to the current ``sys.stderr`` (tests swap it per invocation)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _prepare_streams() -> None:
    """Text a terminal cannot encode (lone surrogates from odd file names) is backslash-escaped, never a crash;
    the runtime's Powertools loggers (stdout, for Lambda) write to stderr so stdout holds only the result."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    route_runtime_logs_to_stderr()


def _keep_help_whole() -> None:
    """Piped `--help` falls back to 80 columns, where typer cuts option names (`--delete-create…`); use a
    width that fits them unless the caller chose one (COLUMNS or TERMINAL_WIDTH)."""
    import typer.rich_utils

    if typer.rich_utils.MAX_WIDTH is None and not os.environ.get("COLUMNS") and not sys.stdout.isatty():
        typer.rich_utils.MAX_WIDTH = 140


def route_runtime_logs_to_stderr() -> None:
    """Point every stream handler that writes to stdout (Powertools' default) at stderr."""
    stdouts = {id(sys.stdout), id(sys.__stdout__)}
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in list(logging.Logger.manager.loggerDict))]
    for logger in loggers:
        for handler in logger.handlers:
            if not isinstance(handler, logging.StreamHandler) or isinstance(handler, logging.FileHandler):
                continue
            if id(handler.stream) in stdouts:
                handler.setStream(_CurrentStderr())  # type: ignore[arg-type]


def _json_requested(args: Sequence[str]) -> bool:
    return "--json" in args


class DrctlGroup(TyperGroup):
    """Typer's group, with the one-JSON-object rule applied before Typer parses: a usage error (unknown option,
    a value out of range, a missing argument) under ``--json`` still prints ``{"error", "exit_code": 2}``."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        as_json = _json_requested(argv)
        _prepare_streams()
        _keep_help_whole()
        with interrupts.guarded() as guard:
            try:
                result = super().main(
                    args=argv,
                    prog_name=prog_name or "drctl",
                    complete_var=complete_var,
                    standalone_mode=False,
                    **extra,
                )
                code = result if isinstance(result, int) else EXIT_OK
            except typer.TyperException as error:  # Typer's usage errors (its bundled click's ClickException)
                code = error.exit_code
                if as_json:
                    emit({"error": error.format_message()}, as_json=True, code=code)
                show = getattr(error, "show", None)
                if show is not None:
                    show()
                else:
                    stderr.print(f"[red]error:[/red] {escape(error.format_message())}")
            except typer.Abort:
                code = EXIT_SIGINT
                if as_json and not guard.emitted:
                    emit({"error": "aborted", "interrupted": True}, as_json=True, code=code)
            except interrupts.Interrupted as stop:
                code = _report_interruption(stop, as_json, emitted=guard.emitted)
            if code in (EXIT_SIGINT, EXIT_SIGTERM) and as_json and not guard.emitted:
                # typer turns a KeyboardInterrupt raised elsewhere into a bare Exit(130): still one object.
                emit({"error": "interrupted", "interrupted": True}, as_json=True, code=code)
        if standalone_mode:
            sys.exit(code)
        return code


def _report_interruption(stop: interrupts.Interrupted, as_json: bool, *, emitted: bool) -> int:
    """The one report of a command stopped by a signal: what was cleaned up, and exit 130 or 143."""
    cleanup = getattr(stop, "cleanup", None)
    message = f"interrupted by {stop.name}" + ("; the drill cleaned up after itself" if cleanup else "")
    stderr.print(f"[red]error:[/red] {escape(message)}")
    if cleanup and cleanup.get("errors"):
        warn(f"cleanup incomplete: {cleanup['errors']}")
    if as_json and not emitted:
        details = {"cleanup": cleanup} if cleanup is not None else {}
        emit({"error": message, "interrupted": True, "signal": stop.name, **details}, as_json=True, code=stop.code)
    return stop.code


app = typer.Typer(
    name="drctl",
    cls=DrctlGroup,
    help="Disaster-recovery operations: point-in-time restores, backups, audits and drills.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
stderr = Console(stderr=True, highlight=False)


def emit(result: dict[str, Any], as_json: bool, code: int = EXIT_OK) -> None:
    """Print a command's result: one JSON object on stdout (with its ``exit_code``), or a readable summary."""
    if as_json:
        sys.stdout.write(json.dumps({**result, "exit_code": code}, default=str, sort_keys=True) + "\n")
        sys.stdout.flush()
        interrupts.mark_emitted()
    else:
        for key, value in result.items():
            stderr.print(f"[bold]{escape(str(key))}[/bold]: {escape(str(value))}")


def finish(result: dict[str, Any], code: int, *, as_json: bool) -> NoReturn:
    """Emit ``result`` and stop with ``code``."""
    emit(result, as_json, code)
    raise typer.Exit(code)


def fail(message: str, code: int = EXIT_USAGE, *, as_json: bool = False, **details: Any) -> NoReturn:
    """Stop with ``code``. Under ``--json`` stdout still holds one object, so a script can parse every outcome."""
    stderr.print(f"[red]error:[/red] {escape(message)}")
    if as_json:
        emit({"error": message, **details}, as_json=True, code=code)
    raise typer.Exit(code)


def warn(message: str) -> None:
    stderr.print(f"[yellow]warning:[/yellow] {escape(message)}")


def load_commands() -> typer.Typer:
    """The app with every command registered (Typer runs a lone command as the root, so load them all)."""
    for module in COMMAND_MODULES:
        importlib.import_module(module)
    return app


def main() -> None:
    load_commands()()


JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


RegionOption = Annotated[
    str | None,
    typer.Option(envvar="AWS_REGION", callback=region_value, help="Region of the table or primary bucket."),
]


def aws_failure(error: Exception, as_json: bool, **details: Any) -> NoReturn:
    """Exit 3 for AWS refusing or unreachable; a missing Region is decided locally (exit 2)."""
    if isinstance(error, NoRegionError):
        no_region(as_json)
    detail = "; ".join([str(error), *getattr(error, "__notes__", [])])
    fail(f"AWS refused or could not be reached: {detail}", EXIT_AWS, as_json=as_json, **details)


def no_region(as_json: bool) -> NoReturn:
    fail("no Region: pass --region or set AWS_REGION", EXIT_USAGE, as_json=as_json)


# --------------------------------------------------------------------------------------------------
# SIGINT / SIGTERM: a clean stop
# --------------------------------------------------------------------------------------------------
class Interruption:
    """What the first SIGINT/SIGTERM set: ``stop`` for the work to poll, ``code`` 130 or 143 (None: not stopped)."""

    def __init__(self) -> None:
        self.stop = interrupts.StopFlag()  # the restore admits each write through it
        self.code: int | None = None


@contextmanager
def interruptible(as_json: bool, what: str) -> Iterator[Interruption]:
    """Within the block, the first SIGINT/SIGTERM asks the work to stop (``stop`` is set) and the command reports
    what was done; a second one exits at once with one JSON object saying the run was abandoned."""
    interruption = Interruption()
    if threading.current_thread() is not threading.main_thread():
        yield interruption  # signal handlers can only be installed from the main thread
        return

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        code = 128 + signum
        if interruption.code is not None:
            message = f"{what} abandoned on a second signal; in-flight requests were not awaited"
            guard = interrupts.current()
            if as_json and not (guard is not None and guard.emitted):
                sys.stdout.write(
                    json.dumps({"abandoned": True, "error": message, "exit_code": code}, sort_keys=True) + "\n"
                )
                sys.stdout.flush()
            sys.stderr.write(f"error: {message}\n")
            sys.stderr.flush()
            os._exit(code)
        interruption.code = code
        interruption.stop.set()
        sys.stderr.write(
            f"\n{signal.Signals(signum).name}: stopping {what}: no new requests; waiting for the ones in flight "
            "(signal again to abandon)\n"
        )

    previous: dict[int, Callable[..., Any] | int | None] = {}
    for signum in (int(signal.SIGINT), int(signal.SIGTERM)):
        previous[signum] = signal.signal(signum, on_signal)
    try:
        yield interruption
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
