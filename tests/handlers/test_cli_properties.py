"""Property: any text, in any argument of any ``drctl`` command, gives a clean outcome (issue 12, item 2).

Hypothesis feeds arbitrary text (markup brackets, control characters, lone surrogates, ARN- and URL-shaped
strings) to one argument at a time, the others valid, in process through ``CliRunner`` against the moto server:
no traceback, an exit code in {0, 1, 2, 3}, 2 whenever the text is not a valid value for that argument (by the
rules below, written independently of the CLI's validators), and under ``--json`` exactly one JSON object whose
``exit_code`` is the process's. ``max_examples`` is bounded so the whole file runs in well under a minute.
"""

from __future__ import annotations

import enum
import json
import math
import re
import typing
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from handlers.cli import load_commands
from tests.properties import examples

pytestmark = pytest.mark.property  # again at full examples in `make test-slow`

COMMAND = typer.main.get_command(load_commands())
# Valid values for required arguments, so that only the argument under test varies.
REQUIRED = {
    "bucket": "prop-bucket",
    "buckets": "prop-bucket",
    "to": "2026-01-01T00:00:00Z",
    "since": "2026-01-01T00:00:00Z",
    "table": "orders",
    "site": "api",
    # A stack with no stack file here: `drctl drill` stops at reading it (exit 2), before any drill runs.
    "stack": "prop-no-such-stack",
}
REQUIRED_BY_COMMAND = {("backup-before-release", "release"): "1.0"}
SKIPPED = {"json_output", "as_json", "help"}
ODD_TEXT = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=30),  # includes control characters and lone surrogates
    st.sampled_from(["[", "[/", "]", "[/red]", "[bold]x[/bold]", "\x00", "\udcff", "s3://x", "arn:aws:s3:::b", ""]),
    st.sampled_from(["-1", "0", "1", "300", "0.5", "2026-11-20T09:00:00", "2026-01-01T00:00:00Z", "latest"]),
    st.from_regex(r"[a-z0-9][a-z0-9-]{2,20}", fullmatch=True),
)


def _bucket(text: str) -> bool:
    return bool(re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", text)) and ".." not in text


def _time(text: str, latest: bool = False) -> bool:
    if latest and text == "latest":
        return True
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return False
    return moment.tzinfo is not None and moment <= datetime.now(UTC)


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _number_in(low: float, high: float, *, low_open: bool = False) -> Callable[[str], bool]:
    def check(text: str) -> bool:
        try:
            value = float(text)
        except ValueError:
            return False
        return (value > low if low_open else value >= low) and value <= high

    return check


SCENARIO_NAMES = {
    "bucket-accidental-delete",
    "bucket-prefix-corruption",
    "table-item-corruption",
    "region-loss-failover",
    "regional-rpo-fis",
}
# An invalid value for these must exit 2 (other arguments accept any text, or are checked by AWS).
VALIDITY: dict[str, Callable[[str], bool]] = {
    "bucket": _bucket,
    "buckets": lambda text: all(_bucket(part.strip()) for part in text.split(",") if part.strip()),
    "target_bucket": _bucket,
    "replica_bucket": _bucket,
    "lock_bucket": _bucket,
    "batch_report_bucket": _bucket,
    "summary_bucket": _bucket,
    "backup": lambda text: bool(re.fullmatch(r"arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:\d{12}:table/.+/backup/.+", text)),
    "table": lambda text: bool(re.fullmatch(r"[A-Za-z0-9_.-]{3,255}", text)),
    "target": lambda text: bool(re.fullmatch(r"[A-Za-z0-9_.-]{3,255}", text)),
    "prefix": _utf8,
    "target_prefix": _utf8,
    "max_change_share": _number_in(0, 1, low_open=True),
    "rtc_window_minutes": _number_in(0, 10_080, low_open=True),
    "retention_days": _number_in(7, 36_500),
    "release_retention_days": _number_in(7, 36_500),
    "site": lambda text: bool(re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", text)),
    "recovery_point": lambda text: bool(
        re.fullmatch(r"arn:aws[a-z-]*:backup:[a-z0-9-]+:\d{12}:recovery-point:[A-Za-z0-9:/_.-]{1,1024}", text)
    ),
    "vault": lambda text: bool(re.fullmatch(r"[A-Za-z0-9_.-]{2,50}", text)),
    "stack": lambda text: bool(re.fullmatch(r"([A-Za-z0-9_.-]{1,100}/){0,2}[A-Za-z0-9_.-]{1,100}", text)),
    "scenario": lambda text: text in SCENARIO_NAMES,
    "out": lambda text: _utf8(text) and bool(text) and "\x00" not in text,
    "outputs": lambda text: False,  # a file that exists: none of the generated names does
    "project": lambda text: text in {".", ""},  # an existing directory: only the working directory is one
}


def cases() -> list[tuple[str, str]]:
    found = []
    for name, command in sorted(COMMAND.commands.items()):
        for param in command.params:
            if param.name in SKIPPED or getattr(param, "is_flag", False) or getattr(param, "count", False):
                continue
            found.append((name, str(param.name)))
    return found


def _valid_in_type(param: Any, text: str) -> bool:
    """Numbers and choices: the text converts and lies in the declared range."""
    annotation = param.type_descriptor.annotation
    kinds = [kind for kind in (typing.get_args(annotation) or (annotation,)) if kind is not type(None)]
    kind = kinds[0]
    try:
        if kind is int:
            value: float = int(text)
        elif kind is float:
            value = float(text)
            if not math.isfinite(value):
                return False
        elif isinstance(kind, type) and issubclass(kind, enum.Enum):
            return text in {member.value for member in kind}
        else:
            return True
    except ValueError:
        return False
    return (param.min is None or value >= param.min) and (param.max is None or value <= param.max)


def argv_for(command_name: str, param_name: str, text: str, as_json: bool) -> list[str]:
    command = COMMAND.commands[command_name]
    options: list[str] = []
    arguments: list[str] = []
    for param in command.params:
        if param.name in SKIPPED:
            continue
        value = text if param.name == param_name else None
        if value is None and param.required:
            value = REQUIRED_BY_COMMAND.get((command_name, str(param.name)), REQUIRED.get(str(param.name)))
            if value is None:
                pytest.fail(f"add a valid value for {command_name} {param.name} to REQUIRED")
        if value is None:
            continue
        if param.param_type_name == "argument":
            arguments.append(value)
        else:
            options.append(f"{param.opts[0]}={value}")
    return [command_name, *options, *(["--json"] if as_json else []), "--", *arguments]


def test_every_command_is_covered() -> None:
    assert {name for name, _ in cases()} == set(COMMAND.commands)
    assert len(cases()) >= 40


@pytest.mark.parametrize(("command_name", "param_name"), cases())
@settings(max_examples=examples(6), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=ODD_TEXT, as_json=st.booleans())
def test_any_text_in_any_argument_has_a_clean_outcome(
    moto_server: str, command_name: str, param_name: str, text: str, as_json: bool
) -> None:
    param = next(p for p in COMMAND.commands[command_name].params if p.name == param_name)
    result = CliRunner().invoke(load_commands(), argv_for(command_name, param_name, text, as_json))

    assert "Traceback" not in result.stderr, result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code in {0, 1, 2, 3}, (result.exit_code, result.stderr)
    allow_latest = command_name == "restore-table"
    valid = VALIDITY.get(param_name, lambda _text: True)(text) and _valid_in_type(param, text)
    if param_name == "to":
        valid = _time(text, latest=allow_latest)
    if not valid:
        assert result.exit_code == 2, (text, result.exit_code, result.stderr)
    if as_json:
        lines = [line for line in result.stdout.splitlines() if line.strip()]
        assert len(lines) == 1, result.stdout
        assert json.loads(lines[0])["exit_code"] == result.exit_code
