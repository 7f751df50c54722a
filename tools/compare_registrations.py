"""Compare what a stack registers at a git revision with what the working tree registers.

    uv run --frozen python tools/compare_registrations.py [REV] [--stack prod]

Each side runs the stack's ``__main__.py`` with its own ``Pulumi.<stack>.yaml`` under Pulumi's mock runtime
(tests/components/harness.py), once as a first preview and once as an update, in a fresh interpreter from this
checkout's venv. Resources are matched by (type, name) and their inputs, provider, protect, retain_on_delete and
ignore_changes compared. Only the properties in ``IGNORED_INPUTS`` are left out (their differences are listed as
informational), as are parents, dependencies and aliases: moving a resource under a new component changes its
URN, not what is deployed. Exit status 1 when any other difference exists, 0 otherwise.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
HARNESS = REPO / "tests" / "components" / "harness.py"
LAMBDA_FUNCTION = "aws:lambda/function:Function"
# Issue 9 lets exactly these change: the handler path and the code archive move with handlers/, and the
# protected prefixes become a JSON list. Paths are into the registered inputs.
IGNORED_INPUTS: dict[str, tuple[tuple[str, ...], ...]] = {
    LAMBDA_FUNCTION: (("handler",), ("code",), ("environment", "variables", "PROTECTED_PREFIXES")),
}
MODES = {"preview": True, "update": False}


@dataclass(frozen=True)
class Resource:
    """One registration, with URNs replaced by the (type, name) they stand for, so two runs compare."""

    type: str
    name: str
    custom: bool
    inputs: dict[str, Any]
    parent: str
    provider: str
    protect: bool
    retain_on_delete: bool
    ignore_changes: list[str]
    dependencies: list[str]
    aliases: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str]:
        return self.type, self.name

    @property
    def label(self) -> str:
        return f"{self.type} {self.name}"


@dataclass
class Comparison:
    differences: list[str] = field(default_factory=list)
    informational: list[str] = field(default_factory=list)


def _urn_label(urn: str) -> str:
    """``urn:pulumi:stack::project::parent$type::name`` -> ``type name``; a provider reference drops its ``::id``."""
    if not urn:
        return ""
    parts = urn.split("::")
    return f"{parts[2].rsplit('$', 1)[-1]} {parts[3]}"


def _from_registration(registration: Any) -> Resource:
    return Resource(
        type=registration.type,
        name=registration.name,
        custom=registration.custom,
        inputs=registration.inputs,
        parent=_urn_label(registration.parent),
        provider=_urn_label(registration.provider),
        protect=registration.protect,
        retain_on_delete=registration.retain_on_delete,
        ignore_changes=list(registration.ignore_changes),
        dependencies=sorted(_urn_label(urn) for urn in registration.dependencies),
        aliases=list(registration.aliases),
    )


def _load_harness() -> Any:
    # Loaded by path under its own name: the tree being recorded has a ``tests`` package of its own.
    spec = importlib.util.spec_from_file_location("_registration_harness", HARNESS)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def record_in_process(tree: Path, stack: str, preview: bool) -> list[Resource]:
    """Run ``tree``'s program in this interpreter; ``components`` and ``handlers`` are imported from ``tree``."""
    sys.path.insert(0, str(tree))
    harness = _load_harness()
    run = harness.run_program(harness.stack_config(stack, tree), preview=preview, repo=tree)
    return [_from_registration(r) for r in run.registrations]


def record(tree: Path, stack: str, preview: bool) -> list[Resource]:
    """Record ``tree`` in a fresh interpreter (this checkout's venv), so two trees never share imported modules."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "registrations.json"
        command = [sys.executable, __file__, "--record", str(tree), "--stack", stack, "--out", str(out)]
        if not preview:
            command.append("--update")
        result = subprocess.run(command, cwd=tree, capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            raise RuntimeError(f"recording {tree} failed:\n{result.stderr}")
        return [Resource(**entry) for entry in json.loads(out.read_text())]


def _without(inputs: dict[str, Any], path: tuple[str, ...]) -> tuple[dict[str, Any], bool]:
    """A copy of ``inputs`` with ``path`` removed, and whether it was there."""
    head, *rest = path
    if head not in inputs:
        return inputs, False
    copy = dict(inputs)
    if not rest:
        del copy[head]
        return copy, True
    if not isinstance(copy[head], dict):
        return inputs, False
    copy[head], found = _without(copy[head], tuple(rest))
    return copy, found


def _lookup(inputs: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = inputs
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return "<absent>"
        value = value[part]
    return value


def _changes(before: Any, after: Any, path: str = "") -> Iterator[str]:
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(before.keys() | after.keys()):
            where = f"{path}.{key}" if path else key
            if key not in after:
                yield f"{where}: removed (was {json.dumps(before[key])})"
            elif key not in before:
                yield f"{where}: added {json.dumps(after[key])}"
            else:
                yield from _changes(before[key], after[key], where)
    elif isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for index, (old, new) in enumerate(zip(before, after, strict=True)):
            yield from _changes(old, new, f"{path}[{index}]")
    elif before != after:
        yield f"{path or '<inputs>'}: {json.dumps(before)} -> {json.dumps(after)}"


def _index(resources: list[Resource], side: str) -> dict[tuple[str, str], Resource]:
    index: dict[tuple[str, str], Resource] = {}
    for resource in resources:
        if resource.key in index:
            raise ValueError(f"{side}: {resource.label} is registered twice; (type, name) cannot match the runs")
        index[resource.key] = resource
    return index


def compare(before: list[Resource], after: list[Resource]) -> Comparison:
    """Every difference between two runs; added or removed components and moved parents are informational."""
    result = Comparison()
    old, new = _index(before, "before"), _index(after, "after")
    for key in sorted(old.keys() - new.keys()):
        resource = old[key]
        (result.differences if resource.custom else result.informational).append(
            f"removed {'resource' if resource.custom else 'component'} {resource.label}"
        )
    for key in sorted(new.keys() - old.keys()):
        resource = new[key]
        (result.differences if resource.custom else result.informational).append(
            f"added {'resource' if resource.custom else 'component'} {resource.label}"
        )
    for key in sorted(old.keys() & new.keys()):
        was, now = old[key], new[key]
        was_inputs, now_inputs = was.inputs, now.inputs
        for path in IGNORED_INPUTS.get(was.type, ()):
            if _lookup(was_inputs, path) != _lookup(now_inputs, path):
                result.informational.append(f"ignored {now.label}: {'.'.join(path)} changed")
            was_inputs, _ = _without(was_inputs, path)
            now_inputs, _ = _without(now_inputs, path)
        result.differences += [f"changed input {now.label}: {change}" for change in _changes(was_inputs, now_inputs)]
        for option in ("provider", "protect", "retain_on_delete", "ignore_changes"):
            if getattr(was, option) != getattr(now, option):
                result.differences.append(
                    f"changed option {now.label}: {option}: {getattr(was, option)!r} -> {getattr(now, option)!r}"
                )
        if was.parent != now.parent:
            result.informational.append(f"parent {now.label}: {was.parent or '<stack>'} -> {now.parent or '<stack>'}")
        for added in sorted(set(now.dependencies) - set(was.dependencies)):
            result.informational.append(f"dependency {now.label}: now depends on {added}")
        for removed in sorted(set(was.dependencies) - set(now.dependencies)):
            result.informational.append(f"dependency {now.label}: no longer depends on {removed}")
    return result


def _extract(rev: str, into: Path) -> None:
    archive = subprocess.run(["git", "archive", "--format=tar", rev], cwd=REPO, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("rev", nargs="?", default="HEAD", help="git revision to compare the working tree with")
    parser.add_argument("--stack", default="prod")
    parser.add_argument("--record", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--update", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.record:
        resources = record_in_process(args.record.resolve(), args.stack, preview=not args.update)
        args.out.write_text(json.dumps([vars(r) for r in resources]))
        return 0

    commit = subprocess.run(
        ["git", "rev-parse", "--short", f"{args.rev}^{{commit}}"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()
    print(f"Stack {args.stack}: {args.rev} ({commit}) -> working tree {REPO}")
    ignored = [f"{type_token} {'.'.join(path)}" for type_token, paths in IGNORED_INPUTS.items() for path in paths]
    print(f"Ignored by name: {', '.join(ignored)}")
    failed = False
    with tempfile.TemporaryDirectory(prefix="dr-compare-") as scratch:
        base = Path(scratch)
        _extract(commit, base)
        for mode, preview in MODES.items():
            before, after = record(base, args.stack, preview), record(REPO, args.stack, preview)
            result = compare(before, after)
            print(f"\n== {mode}: {len(before)} registrations before, {len(after)} after")
            print(f"-- differences ({len(result.differences)})")
            for line in result.differences or ["none"]:
                print(f"  {line}")
            print(f"-- informational ({len(result.informational)})")
            for line in result.informational or ["none"]:
                print(f"  {line}")
            failed |= bool(result.differences)
    print("\nFAIL: registrations differ" if failed else "\nOK: same resources with the same inputs")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
