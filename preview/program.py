"""Run a Pulumi program in a subprocess under the mock runtime and return its registrations.

A subprocess keeps the SDK's global runtime state out of offline-preview and runs the program with its own
interpreter; see program_runner.py for what runs inside it.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from preview.errors import ProgramError
from preview.project import PulumiProject, StackConfig

RUNNER_SCRIPT = Path(__file__).with_name("program_runner.py")
PROGRAM_TIMEOUT_SECONDS = 300


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
        )


@dataclass(frozen=True)
class ProgramRecording:
    registrations: list[Registration]
    unanswered_invokes: list[str]
    output: str


def record_program(project: PulumiProject, stack: str, config: StackConfig) -> ProgramRecording:
    """Run the program; raise ProgramError (with the program's own error text) if it fails in any way."""
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
        command = [
            project.python,
            str(RUNNER_SCRIPT),
            str(project.main_path),
            project.name,
            stack,
            str(result_path),
        ]
        try:
            completed = subprocess.run(
                command,
                env=env,
                cwd=project.main_path.parent,
                capture_output=True,
                text=True,
                timeout=PROGRAM_TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ProgramError(f"the program did not finish within {PROGRAM_TIMEOUT_SECONDS} s") from exc
        output = completed.stdout + completed.stderr
        if not result_path.exists():
            raise ProgramError(
                f"the program runner exited with code {completed.returncode} before recording anything",
                output,
            )
        result = json.loads(result_path.read_text(encoding="utf-8"))
    error = result["error"]
    if error is not None:
        raise ProgramError(f"{error['type']}: {error['message']}", error["traceback"] or output)
    return ProgramRecording(
        registrations=[Registration.from_json(item) for item in result["resources"]],
        unanswered_invokes=result["unanswered_invokes"],
        output=output,
    )
