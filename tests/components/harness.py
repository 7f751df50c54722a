"""Run the Pulumi program in-process under the mock runtime and record every registration.

The recording monitor sees what the engine would: type, name, serialized inputs (unknowns included), parent,
dependencies, property dependencies, provider and resource options. With ``preview=True`` new resources
get no id and only their inputs back, so computed outputs (a new bucket's id and ARN) stay unknown, as in a
real first ``pulumi preview``.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import json
import runpy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks
from pulumi.runtime.stack import wait_for_rpcs

REPO = Path(__file__).resolve().parents[2]
PROJECT = "dr-as-code"
UNKNOWN = rpc.UNKNOWN
ACCOUNT_ID = "123456789012"


@dataclass
class Registration:
    type: str
    name: str
    urn: str
    inputs: dict[str, Any]
    parent: str
    provider: str
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    protect: bool
    retain_on_delete: bool
    ignore_changes: list[str]
    custom: bool
    aliases: list[dict[str, Any]] = field(default_factory=list)

    def has_unknowns(self, key: str) -> bool:
        return UNKNOWN in json.dumps(self.inputs.get(key))


def provider_outputs(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Inputs as the provider returns them: a policy given as a structured document comes back as JSON text
    (pulumi-aws serializes ``aws:iam/documents:PolicyDocument`` inputs; the output property is a string)."""
    outputs = dict(inputs)
    if isinstance(outputs.get("policy"), Mapping):
        try:
            outputs["policy"] = json.dumps(outputs["policy"])
        except TypeError:  # an unknown leaf at preview: the whole text is unknown until deploy
            del outputs["policy"]
    return outputs


class PreviewMocks(Mocks):
    def __init__(self, preview: bool) -> None:
        self.preview = preview

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        if self.preview:
            return "", provider_outputs(args.inputs)
        outputs = provider_outputs(args.inputs)
        outputs.setdefault("arn", f"arn:aws:mock:::{args.name}")
        return f"{args.name}-id", outputs

    def call(self, args: MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]]]:
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT_ID, "arn": f"arn:aws:iam::{ACCOUNT_ID}:root", "userId": ACCOUNT_ID}, []
        return {}, []


class RecordingMonitor(MockMonitor):
    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registration] = []

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.registrations.append(
                Registration(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    inputs=json_format.MessageToDict(request.object),
                    parent=request.parent,
                    provider=request.provider,
                    dependencies=list(request.dependencies),
                    property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
                    protect=request.protect,
                    retain_on_delete=request.retainOnDelete,
                    ignore_changes=list(request.ignoreChanges),
                    custom=request.custom,
                    aliases=[json_format.MessageToDict(alias) for alias in request.aliases],
                )
            )
        return response


@dataclass
class Run:
    registrations: list[Registration]
    outputs: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)  # the project keys the program ran with

    def of_type(self, type_token: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == type_token]

    def by_urn(self) -> dict[str, Registration]:
        return {r.urn: r for r in self.registrations}

    def children_of(self, parent_urn: str) -> list[Registration]:
        return [r for r in self.registrations if r.parent == parent_urn]

    def descendants_of(self, ancestor_urn: str) -> list[Registration]:
        """Children, their children and so on, in registration order."""
        parents = {r.urn: r.parent for r in self.registrations}

        def under(urn: str) -> bool:
            while urn := parents.get(urn, ""):
                if urn == ancestor_urn:
                    return True
            return False

        return [r for r in self.registrations if under(r.urn)]


def stack_config(stack: str, repo: Path = REPO) -> dict[str, Any]:
    import yaml

    document = yaml.safe_load((repo / f"Pulumi.{stack}.yaml").read_text())
    return {key.split(":", 1)[1]: value for key, value in document["config"].items() if key.startswith(f"{PROJECT}:")}


def run_capturing(
    program: Callable[[], Mapping[str, Any] | None],
    config: Mapping[str, Any],
    *,
    preview: bool = True,
    mocks: Mocks | None = None,
) -> tuple[Run, Exception | None]:
    """Run ``program`` with ``config`` (project keys without the namespace) and record what it registers.

    Returns the registrations, the values of the outputs ``program`` returns (resolved after every registration,
    in ``Run.outputs``; an output still unknown at preview is left out) and the program's exception, if any.
    Pending registrations are drained even when the program raises, so "nothing was registered" is a real
    observation.
    """
    mocks = mocks or PreviewMocks(preview)
    monitor = RecordingMonitor(mocks)
    run = Run(monitor.registrations, config=dict(config))
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack="test", preview=preview, monitor=monitor)
    pulumi.runtime.set_all_config(
        {f"{PROJECT}:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}, []
    )
    error: Exception | None = None
    try:
        try:
            outputs = program()
            for key, value in (outputs or {}).items():
                pulumi.Output.from_input(value).apply(lambda resolved, key=key: run.outputs.update({key: resolved}))
        except Exception as exc:  # returned to the caller, never swallowed
            error = exc
        loop.run_until_complete(wait_for_rpcs())
    finally:
        loop.close()
        asyncio.set_event_loop(None)
    return run, error


def run_program_capturing(
    config: Mapping[str, Any], *, preview: bool = True, repo: Path = REPO, mocks: Mocks | None = None
) -> tuple[Run, Exception | None]:
    """Run ``repo``'s ``__main__.py`` with ``config``; see ``run_capturing``."""

    def program() -> None:
        runpy.run_path(str(repo / "__main__.py"), run_name="__main__")

    return run_capturing(program, config, preview=preview, mocks=mocks)


def run_program(
    config: Mapping[str, Any], *, preview: bool = True, repo: Path = REPO, mocks: Mocks | None = None
) -> Run:
    """Run ``repo``'s ``__main__.py`` and record what it registers; the program's exception propagates."""
    run, error = run_program_capturing(config, preview=preview, repo=repo, mocks=mocks)
    if error is not None:
        raise error
    return run


@functools.cache
def _prod_run(preview: bool) -> Run:
    return run_program(stack_config("prod"), preview=preview)


def prod_run(*, preview: bool) -> Run:
    """The prod stack's registrations, run once per test process and mode (about 3 s each; a dozen modules read
    them); each caller gets its own copy. Tests that observe the run itself (its warnings) call ``run_program``."""
    return copy.deepcopy(_prod_run(preview))
