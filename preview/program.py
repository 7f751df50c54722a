"""Run a Pulumi program in a subprocess under the mock runtime and return its registrations.

A subprocess keeps the SDK's global runtime state out of offline-preview and runs the program with its own
interpreter; see program_runner.py for what runs inside it.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from preview.errors import InterpreterError, ProgramError
from preview.program_runner import TESTED_PULUMI_VERSION
from preview.project import PulumiProject, StackConfig

RUNNER_SCRIPT = Path(__file__).with_name("program_runner.py")
# A hang is named after this long. This repository's own prod program takes about 20 s on two idle cores, so 30 s
# stopped it on a busy machine; a program that blocks is still named (with the notice after NOTICE_AFTER_SECONDS).
PROGRAM_TIMEOUT_SECONDS = 120.0
NOTICE_AFTER_SECONDS = 10.0


@dataclass(frozen=True)
class ResourceOptions:
    protect: bool = False
    ignore_changes: list[str] = field(default_factory=list)
    delete_before_replace: bool | None = None
    additional_secret_outputs: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    custom_timeouts: dict[str, float] = field(default_factory=dict)


@dataclass
class Registration:
    """One resource as the engine would receive it: inputs are the serialized request object, unknowns kept."""

    type: str
    name: str
    urn: str
    custom: bool
    read: bool
    parent: str
    provider: str
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    properties: dict[str, Any]
    options: ResourceOptions
    remote: bool = False
    """A multi-language component (its provider plugin would create its children; offline it is not expanded)."""
    package_version: str = ""
    from_unanswered_invokes: list[dict[str, Any]] = field(default_factory=list)
    """Input paths made unknown because they came from unanswered invokes: ``{"path": [...], "invokes": [n]}``."""

    @property
    def provider_urn(self) -> str:
        # A provider reference is "<urn>::<id>".
        return self.provider.rsplit("::", 1)[0] if self.provider else ""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Registration:
        return cls(
            type=data["type"],
            name=data["name"],
            urn=data["urn"],
            custom=data["custom"],
            read=data["read"],
            parent=data["parent"],
            provider=data["provider"],
            dependencies=data["dependencies"],
            property_dependencies=data["property_dependencies"],
            properties=data["properties"],
            options=ResourceOptions(**data["options"]),
            remote=bool(data.get("remote")),
            package_version=str(data.get("package_version") or ""),
            from_unanswered_invokes=list(data.get("from_unanswered_invokes") or []),
        )


@dataclass(frozen=True)
class ProgramRecording:
    registrations: list[Registration]
    unanswered_invokes: list[dict[str, Any]]
    output: str
    interpreter: str = ""
    pulumi_version: str = ""
    stack_references_without_answers: list[str] = field(default_factory=list)
    builtin_answers: list[dict[str, Any]] = field(default_factory=list)
    ignored_answer_keys: list[dict[str, Any]] = field(default_factory=list)
    result_fields: dict[str, list[str]] = field(default_factory=dict)


def describe_invoke(call: Mapping[str, Any]) -> str:
    """``token(arg=value, ...)`` with the arguments the program passed (engine names)."""
    arguments = ", ".join(f"{key}={json.dumps(value)}" for key, value in sorted(call.get("args", {}).items()))
    return f"{call['token']}({arguments})"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def ignored_keys_text(entries: list[dict[str, Any]]) -> str:
    """Answered invokes whose result keys the SDK dropped (not among the result type's engine names)."""
    parts = []
    for entry in entries:
        fields = set(entry.get("fields") or [])
        keys = ", ".join(
            f"{key} (did you mean {_camel(key)}?)" if _camel(key) in fields and _camel(key) != key else key
            for key in entry["ignored"]
        )
        parts.append(f"{describe_invoke(entry)}: {keys}")
    return "; ".join(parts)


def used_result_fields(
    registrations: list[dict[str, Any]] | list[Registration], calls: list[dict[str, Any]]
) -> dict[str, set[str]]:
    """Per invoke token, the result fields whose unknown values reached a resource input."""
    used: dict[str, set[str]] = {}
    for item in registrations:
        entries = item.get("from_unanswered_invokes") if isinstance(item, dict) else item.from_unanswered_invokes
        for entry in entries or []:
            for number in entry.get("invokes", []):
                if number < len(calls):
                    used.setdefault(calls[number]["token"], set()).update(entry.get("fields", []))
    return used


def answers_hint(
    calls: list[dict[str, Any]],
    stack_references: list[str] | None = None,
    result_fields: Mapping[str, list[str]] | None = None,
    ignored: list[dict[str, Any]] | None = None,
    used_fields: Mapping[str, set[str]] | None = None,
) -> str:
    """How to answer what offline-preview could not: the invokes and StackReferences it left unknown, with an
    example answers file in the engine's camelCase names; empty when there is nothing to answer."""
    stack_references, ignored = stack_references or [], ignored or []
    if not calls and not stack_references and not ignored:
        return ""
    lines = []
    if calls:
        lines.append(f"offline-preview left {len(calls)} invoke(s) unanswered (their values are unknown offline):")
        lines += [f"  - {describe_invoke(call)}" for call in calls]
    if stack_references:
        lines.append(
            f"{len(stack_references)} StackReference(s) have no answers (their outputs are unknown offline): "
            + ", ".join(stack_references)
        )
    if ignored:
        lines.append(
            "answer keys the SDK ignored (results use the engine's camelCase names): " + ignored_keys_text(ignored)
        )
    example: dict[str, Any] = {}
    for call in calls[:2]:
        arguments = call.get("args", {})
        # The outputs the program used first, then others; never the arguments echoed back or the id.
        used = set((used_fields or {}).get(call["token"], set()))
        used |= {_camel(key) for entry in ignored if entry["token"] == call["token"] for key in entry["ignored"]}
        fields = sorted(
            (result_fields or {}).get(call["token"]) or ["someOutput"],
            key=lambda name: (name not in used, name in arguments or name == "id", name),
        )
        example[call["token"]] = [{"args": arguments, "result": {name: "<value>" for name in fields[:3]}}]
    if stack_references:
        example["stackReferences"] = {stack_references[0]: {"<outputName>": "<value>"}}
    lines.append(
        "Answer them with --invoke-answers FILE (YAML or JSON; each invoke token maps to a list of "
        "{args: <subset of the call's arguments>, result: <object>}; every key is the engine's camelCase name, "
        "as in the SDK's @pulumi.getter(name=...), not the Python attribute), for example: " + json.dumps(example)
    )
    return "\n".join(lines)


def _status(path: Path) -> dict[str, Any]:
    try:
        status = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return status if isinstance(status, dict) else {}


def _waiting_text(status: Mapping[str, Any]) -> str:
    waiting = status.get("waiting_for") or ["nothing the runner could name (it may still be importing modules)"]
    text = "; ".join(str(item) for item in waiting)
    if status.get("last_registered"):
        text += f" (last registration: {status['last_registered']}, {status.get('registered', 0)} so far)"
    return text


def _run_with_watchdog(
    command: list[str], env: dict[str, str], cwd: Path, status_path: Path, timeout: float, notify: Callable[[str], None]
) -> tuple[int, str]:
    """Run the runner; after NOTICE_AFTER_SECONDS say what the program waits for; stop it after ``timeout``."""
    notice_after = float(os.environ.get("OFFLINE_PREVIEW_NOTICE_AFTER_SECONDS") or NOTICE_AFTER_SECONDS)
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=stdout, stderr=stderr, text=True)
        started = time.monotonic()
        noticed = False
        while process.poll() is None:
            elapsed = time.monotonic() - started
            if elapsed >= timeout:
                process.kill()
                process.wait()
                raise ProgramError(
                    f"the program did not finish within {timeout:g} s (--program-timeout); it was waiting for: "
                    f"{_waiting_text(_status(status_path))}"
                )
            if not noticed and elapsed >= notice_after:
                noticed = True
                notify(
                    f"the program is still running after {elapsed:.0f} s; waiting for: "
                    f"{_waiting_text(_status(status_path))}"
                )
            time.sleep(0.1)
        stdout.seek(0)
        stderr.seek(0)
        return process.returncode, stdout.read() + stderr.read()


def record_program(
    project: PulumiProject,
    stack: str,
    config: StackConfig,
    invoke_answers: Mapping[str, Any] | None = None,
    timeout: float = PROGRAM_TIMEOUT_SECONDS,
    notify: Callable[[str], None] = lambda message: None,
) -> ProgramRecording:
    """Run the program; raise ProgramError (with the program's own error text) if it fails in any way, and
    InterpreterError when its interpreter cannot run the runner."""
    env = {
        **os.environ,
        "PULUMI_CONFIG": config.to_env_json(),
        "PULUMI_CONFIG_SECRET_KEYS": json.dumps(config.secret_keys),
        "PULUMI_PROJECT": project.name,
        "PULUMI_STACK": stack,
        "PULUMI_DRY_RUN": "true",
        "PYTHONUNBUFFERED": "1",
    }
    with tempfile.TemporaryDirectory(prefix="offline-preview-") as scratch:
        result_path = Path(scratch) / "registrations.json"
        answers_path = Path(scratch) / "invoke-answers.json"
        answers_path.write_text(json.dumps(dict(invoke_answers or {})), encoding="utf-8")
        command = [
            project.python,
            str(RUNNER_SCRIPT),
            str(project.main_path),
            project.name,
            stack,
            str(result_path),
            str(answers_path),
        ]
        returncode, output = _run_with_watchdog(
            command, env, project.main_path.parent, Path(str(result_path) + ".status"), timeout, notify
        )
        if not result_path.exists():
            raise ProgramError(
                f"the program runner ({project.python}) exited with code {returncode} before recording anything",
                output,
            )
        result = json.loads(result_path.read_text(encoding="utf-8"))
    interpreter = f"{result.get('interpreter', project.python)} (pulumi {result.get('pulumi_version', '?')})"
    if result.get("environment_error"):
        missing = ", ".join(result["environment_error"]["missing"])
        raise InterpreterError(
            f"the program's interpreter {result.get('interpreter', project.python)} has pulumi "
            f"{result.get('pulumi_version', '?')}; offline-preview needs an SDK with {missing} (tested with "
            f"pulumi {TESTED_PULUMI_VERSION}; see docs/offline-preview.md). Upgrade pulumi in the program's "
            "environment; this is not an error of the program."
        )
    error = result["error"]
    unanswered = result.get("unanswered_invokes") or []
    references = list(result.get("stack_references_without_answers") or [])
    ignored = list(result.get("ignored_answer_keys") or [])
    result_fields = dict(result.get("result_fields") or {})
    if error is not None:
        message = f"{error['type']}: {error['message']}" if error["type"] != "RunError" else error["message"]
        used = used_result_fields(result.get("resources") or [], unanswered)
        hint = answers_hint(unanswered, references, result_fields, ignored, used)
        if hint:
            message += "\nThis may be why: " + hint
        raise ProgramError(message, error["traceback"] or output, interpreter=interpreter)
    return ProgramRecording(
        registrations=[Registration.from_json(item) for item in result["resources"]],
        unanswered_invokes=unanswered,
        output=output,
        interpreter=interpreter,
        pulumi_version=str(result.get("pulumi_version", "")),
        stack_references_without_answers=references,
        builtin_answers=list(result.get("builtin_answers") or []),
        ignored_answer_keys=ignored,
        result_fields=result_fields,
    )
