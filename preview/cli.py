"""`offline-preview`: check a Pulumi Python program against a CrossGuard pack without the Pulumi CLI.

Exit codes: 0 no mandatory violation, 1 a mandatory violation, 2 a program, config or pack error.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from preview.errors import InterpreterError, InvokeAnswersError, PolicyPackError, PreviewError, ProgramError
from preview.offline_preview import PreviewOptions, run_offline_preview
from preview.program import PROGRAM_TIMEOUT_SECONDS
from preview.report import EXIT_ERROR, error_json, print_report

app = typer.Typer(add_completion=False, help=__doc__)

_ERROR_KINDS: dict[type, str] = {
    ProgramError: "program error",
    PolicyPackError: "policy pack error",
    InterpreterError: "environment error",
    InvokeAnswersError: "invoke answers error",
}


_RUNNER_DIR = f'"{Path(__file__).resolve().parent}/'


def program_frames(details: str) -> str:
    """A traceback without the SDK's and the runner's frames (``--verbose`` shows it whole)."""
    lines = details.splitlines()
    if not lines or not lines[0].startswith("Traceback"):
        return details
    kept, skipping = [], False
    for line in lines[1:]:
        if line.startswith("  File "):
            skipping = any(part in line for part in ("site-packages", _RUNNER_DIR, "<frozen", "/lib/python3."))
        if not skipping and line.startswith("  "):
            kept.append(line)
    # Only the program's own frames; the exception line itself is the error message printed below it. No
    # frame of the program's own: no traceback at all (a lone "Traceback" header reads like a crash).
    return "\n".join([lines[0], *kept]) if kept else ""


HELP_WIDTH = 120


def keep_help_whole() -> None:
    """Piped `--help` (CI logs, `| less`): rich falls back to 80 columns and typer cuts option names
    (`--delete-create…`); give it a width that fits every option unless the caller chose one (COLUMNS or
    TERMINAL_WIDTH)."""
    import typer.rich_utils

    if typer.rich_utils.MAX_WIDTH is None and not os.environ.get("COLUMNS") and not sys.stdout.isatty():
        typer.rich_utils.MAX_WIDTH = HELP_WIDTH


def _write_json(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


@app.command()
def offline_preview(
    program: Annotated[Path, typer.Option(help="Pulumi Python program directory (holds Pulumi.yaml).")],
    stack: Annotated[str, typer.Option(help="Stack name; its config is read from Pulumi.<stack>.yaml.")],
    policy_pack: Annotated[Path, typer.Option(help="CrossGuard pack directory.")] = Path("policies"),
    policy_config: Annotated[
        Path | None, typer.Option(help="Policy config JSON, as for `pulumi preview --policy-pack-config`.")
    ] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Also write the findings as JSON here.")] = None,
    fail_on_unverifiable: Annotated[
        bool, typer.Option(help="Exit 1 when a check could not be verified at preview.")
    ] = False,
    fail_on_remediation: Annotated[
        bool,
        typer.Option(
            help="Exit 1 when the pack proposes a remediation (for pull requests where it does not run at deploy)."
        ),
    ] = False,
    invoke_answers: Annotated[
        Path | None,
        typer.Option(help="YAML/JSON answers for invokes (token -> [{args, result}]) and stackReferences outputs."),
    ] = None,
    program_timeout: Annotated[
        float, typer.Option(min=1, help="Stop the program after this many seconds, naming what it waits for.")
    ] = PROGRAM_TIMEOUT_SECONDS,
    install: Annotated[
        bool,
        typer.Option(
            help="Create the program's missing virtualenv with its toolchain (pip, uv or poetry) from its "
            "requirements, as `pulumi install` does. Opt-in: it runs code from a package registry."
        ),
    ] = False,
    verbose: Annotated[bool, typer.Option(help="Show the program's full traceback on a program error.")] = False,
) -> None:
    """Run PROGRAM under Pulumi's mock runtime with preview semantics and drive the policy pack through
    the Analyzer protocol, as `pulumi preview --policy-pack` would."""
    console, errors = Console(), Console(stderr=True)
    for output in (console, errors):
        if not output.is_terminal:
            # CI logs: wrap late rather than at rich's default 80 columns.
            output.width = max(output.width, 160)
    options = PreviewOptions(
        program,
        stack,
        policy_pack,
        policy_config,
        invoke_answers,
        program_timeout,
        install,
        notify=lambda message: errors.print(f"[yellow]offline-preview:[/] {escape(message)}"),
    )
    try:
        report = run_offline_preview(options)
    except PreviewError as exc:
        kind = _ERROR_KINDS.get(type(exc), "config error")
        details = getattr(exc, "details", "")
        shown = (details if verbose else program_frames(details)).rstrip() if details else ""
        if shown:
            errors.print(escape(shown), style="dim", soft_wrap=True)
        interpreter = getattr(exc, "interpreter", "")
        if interpreter:
            errors.print(f"program interpreter: {escape(interpreter)}", soft_wrap=True)
        # soft_wrap: a command in the message (create the venv, answer an invoke) stays whole on one line.
        errors.print(f"[bold red]{kind}:[/] {escape(str(exc))}", soft_wrap=True)
        errors.print("[bold red]No policy was checked[/] (exit code 2).")
        if json_path is not None:
            _write_json(json_path, error_json(f"{kind}: {exc}", interpreter, kind))
        raise typer.Exit(EXIT_ERROR) from exc
    except Exception as exc:
        errors.print(escape(traceback.format_exc()), style="dim")
        errors.print(f"[bold red]offline-preview internal error:[/] {escape(f'{type(exc).__name__}: {exc}')}")
        errors.print("[bold red]No policy was checked[/] (exit code 2).")
        if json_path is not None:
            _write_json(json_path, error_json(f"internal error: {type(exc).__name__}: {exc}", "", "internal error"))
        raise typer.Exit(EXIT_ERROR) from exc
    if report.program_output.strip():
        # What the program printed or logged, as `pulumi preview` shows it under the stack's diagnostics.
        errors.print(escape(report.program_output.rstrip()), style="dim")
    print_report(report, console)
    if json_path is not None:
        _write_json(json_path, report.to_json())
    raise typer.Exit(report.exit_code(fail_on_unverifiable, fail_on_remediation))


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point, returning the exit code; usage errors exit 2 like config errors."""
    keep_help_whole()
    try:
        typer.main.get_command(app).main(args=argv, prog_name="offline-preview", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR if exc.code else 0
    return 0
