"""``drctl``: the operator CLI over the same plain functions the Lambdas use.

Every command's Typer function lives in this package, one module per service (``s3``, ``dynamodb``, ``drills``),
over plain functions that import without typer or rich. Each module registers its commands on ``app``; ``main``
imports them all. With ``--json`` a
command prints exactly one JSON object on stdout; progress and logs go to stderr.
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

app = typer.Typer(
    name="drctl",
    help="Disaster-recovery operations: point-in-time restores, backups, audits and drills.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
stderr = Console(stderr=True)

# Exit codes shared by every command.
EXIT_OK = 0
EXIT_FAILED = 1  # the operation ran but some work failed or a check did not pass
EXIT_USAGE = 2  # bad arguments or input (typer also uses 2 for usage errors)
EXIT_AWS = 3  # AWS refused or could not be reached

# In the order ``drctl --help`` lists their commands.
COMMAND_MODULES: tuple[str, ...] = (
    "handlers.cli.dynamodb",
    "handlers.cli.s3",
    "handlers.cli.drills",
    "handlers.cli.failover",
)


def emit(result: dict[str, Any], as_json: bool) -> None:
    """Print a command's result: one JSON object on stdout, or a readable summary."""
    if as_json:
        sys.stdout.write(json.dumps(result, default=str, sort_keys=True) + "\n")
    else:
        for key, value in result.items():
            stderr.print(f"[bold]{key}[/bold]: {value}")


def fail(message: str, code: int = EXIT_USAGE, *, as_json: bool = False) -> NoReturn:
    """Stop with ``code``. Under ``--json`` stdout still holds one object, so a script can parse every outcome."""
    stderr.print(f"[red]error:[/red] {message}")
    if as_json:
        emit({"error": message, "exit_code": code}, as_json=True)
    raise typer.Exit(code)


def load_commands() -> typer.Typer:
    """The app with every command registered (Typer runs a lone command as the root, so load them all)."""
    for module in COMMAND_MODULES:
        importlib.import_module(module)
    return app


def main() -> None:
    load_commands()()


JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


RegionOption = Annotated[str | None, typer.Option(envvar="AWS_REGION", help="Region of the table or primary bucket.")]


def aws_failure(error: Exception, as_json: bool) -> None:
    fail(f"AWS request failed: {error}", EXIT_AWS, as_json=as_json)
