"""The outcome of an offline preview: findings, the --json document and the terminal report."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.tree import Tree

# Prefix the project's pack uses for checks it can only run after deploy (see docs/offline-preview.md).
CANNOT_VERIFY_PREFIX = "cannot verify until deploy"
# What the Python SDK reports when a policy read an unknown value; it downgrades these to advisory.
SDK_UNKNOWN_VALUE_NOTE = re.compile(r"^can't run (policy|remediation) '[^']*' from policy pack '[^']*' during preview")

EXIT_PASS = 0
EXIT_MANDATORY_VIOLATION = 1
EXIT_ERROR = 2


@dataclass(frozen=True)
class Violation:
    policy: str
    enforcement: str
    urn: str
    type: str
    name: str
    message: str


@dataclass(frozen=True)
class NotVerifiable:
    policy: str
    urn: str
    type: str
    name: str
    message: str
    enforcement: str


@dataclass(frozen=True)
class AppliedRemediation:
    """A remediation the pack proposed: a finding that still needs a code change."""

    policy: str
    urn: str
    type: str
    name: str
    changed_properties: list[str]
    settings: list[str] = field(default_factory=list)
    """What to write in the program, Python argument first: ``point_in_time_recovery.enabled=True (engine: ...)``."""
    applied: bool = True
    """False when it would override a value the program set explicitly; offline-preview then does not apply it."""
    overrides: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PolicyInfo:
    severity: str
    control: str


_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


def python_path(path: tuple[str | int, ...] | list[str | int], engine: bool = False) -> str:
    """``("pointInTimeRecovery", "enabled")`` -> ``point_in_time_recovery.enabled`` (the Python argument),
    or the engine's spelling with ``engine=True``; list positions as ``[0]``."""
    text = ""
    for key in path:
        if isinstance(key, int):
            text += f"[{key}]"
            continue
        name = key if engine else _CAMEL.sub(r"_\1", key).lower()
        text += f".{name}" if text else name
    return text


def is_not_verifiable(message: str) -> bool:
    """A note that a policy could not decide at preview: never a pass, never a violation."""
    return message.startswith(CANNOT_VERIFY_PREFIX) or SDK_UNKNOWN_VALUE_NOTE.match(message) is not None


@dataclass
class PreviewReport:
    project: str
    stack: str
    pack_name: str
    pack_version: str
    pack_path: str
    resources: int
    policy_levels: dict[str, str] = field(default_factory=dict)
    violations: list[Violation] = field(default_factory=list)
    not_verifiable: list[NotVerifiable] = field(default_factory=list)
    remediations: list[AppliedRemediation] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    program_output: str = ""
    interpreter: str = ""
    policy_info: dict[str, PolicyInfo] = field(default_factory=dict)

    @property
    def mandatory_violations(self) -> list[Violation]:
        return [violation for violation in self.violations if violation.enforcement == "mandatory"]

    def exit_code(self, fail_on_unverifiable: bool = False, fail_on_remediation: bool = False) -> int:
        if (
            self.mandatory_violations
            or (fail_on_unverifiable and self.not_verifiable)
            or (fail_on_remediation and self.remediations)
        ):
            return EXIT_MANDATORY_VIOLATION
        return EXIT_PASS

    def _info(self, policy: str) -> dict[str, str]:
        info = self.policy_info.get(policy)
        return {"severity": info.severity if info else "", "control": info.control if info else ""}

    @property
    def category(self) -> str:
        """The verdict in one word group: "violations" (a mandatory one), "not verifiable" (nothing mandatory
        failed, but something could not be checked offline) or "pass"."""
        if self.mandatory_violations:
            return "violations"
        return "not verifiable" if self.not_verifiable else "pass"

    def to_json(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "resources": self.resources,
            "violations": [
                {
                    "policy": item.policy,
                    "enforcement": item.enforcement,
                    "urn": item.urn,
                    "type": item.type,
                    "name": item.name,
                    "message": item.message,
                    **self._info(item.policy),
                }
                for item in self.violations
            ],
            "not_verifiable": [
                {"policy": item.policy, "urn": item.urn, "type": item.type, "name": item.name, "message": item.message}
                for item in self.not_verifiable
            ],
            "remediations": [
                {
                    "policy": item.policy,
                    "urn": item.urn,
                    "name": item.name,
                    "changed_properties": item.changed_properties,
                    "set": item.settings,
                    "applied_offline": item.applied,
                    "overrides_explicit": item.overrides,
                    "needs_code_change": True,
                }
                for item in self.remediations
            ],
            "policy_pack": {"name": self.pack_name, "version": self.pack_version, "levels": self.policy_levels},
            "project": self.project,
            "stack": self.stack,
            "warnings": self.warnings,
            "interpreter": self.interpreter,
        }


def error_json(message: str, interpreter: str = "", category: str = "") -> dict[str, Any]:
    """The --json document when the program or config is broken: nothing was checked. ``category`` is the
    error's kind ("program error", "environment error", ...)."""
    document: dict[str, Any] = {
        "category": category or message.split(":", 1)[0],
        "resources": 0,
        "violations": [],
        "not_verifiable": [],
        "error": message,
    }
    if interpreter:
        document["interpreter"] = interpreter
    return document


_LEVEL_STYLE = {"mandatory": "bold red", "advisory": "yellow", "remediate": "cyan", "disabled": "dim"}


def _resource_label(type_: str, name: str) -> str:
    return escape(f"({type_}: {name})")


def _grouped(items: list[Any]) -> dict[str, dict[tuple[str, str], list[Any]]]:
    groups: dict[str, dict[tuple[str, str], list[Any]]] = defaultdict(lambda: defaultdict(list))
    for item in items:
        groups[item.policy][(item.type, item.name)].append(item)
    return groups


def print_report(report: PreviewReport, console: Console) -> None:
    """Print in the spirit of `pulumi preview --policy-pack`: by policy, then resource, with levels."""
    mandatory = len(report.mandatory_violations)
    console.print(
        f"[bold]Offline preview[/] of stack [bold]{escape(report.stack)}[/] (project {escape(report.project)}): "
        f"{report.resources} resources, policy pack {escape(report.pack_name)}@v{escape(report.pack_version)}"
        f" ({escape(report.pack_path)})"
    )
    if report.interpreter:
        console.print(f"program interpreter: {escape(report.interpreter)}")
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}", soft_wrap=True)

    icon = "❌" if mandatory else ("⚠️ " if report.violations or report.not_verifiable else "✅")
    policies = Tree(f"{icon} [bold]Policy violations[/] ({len(report.violations)})")
    for policy, resources in sorted(_grouped(report.violations).items()):
        level = resources[next(iter(resources))][0].enforcement
        info = report.policy_info.get(policy)
        details = "; ".join(
            part
            for part in (
                (f"severity {info.severity}" if info and info.severity else ""),
                (f"control {info.control}" if info and info.control else ""),
            )
            if part
        )
        branch = policies.add(
            f"[{_LEVEL_STYLE.get(level, '')}]{escape(f'[{level}]')}[/]  [bold]{escape(policy)}[/]"
            + (f" ({escape(details)})" if details else "")
        )
        for (type_, name), violations in sorted(resources.items()):
            leaf = branch.add(_resource_label(type_, name))
            for violation in violations:
                leaf.add(escape(violation.message))
    console.print(policies)

    if report.remediations:
        remediated = Tree(
            f"🔧 [bold]Remediations: the code still needs a change[/] ({len(report.remediations)}; the pack fixes "
            "these only at deploy, and only if it runs there at the `remediate` level)"
        )
        for remediation in report.remediations:
            leaf = remediated.add(
                f"[cyan]{escape(remediation.policy)}[/]  {_resource_label(remediation.type, remediation.name)}"
            )
            for setting in remediation.settings or remediation.changed_properties:
                leaf.add(escape(f"set {setting}"))
            for override in remediation.overrides:
                leaf.add(escape(f"{override}; not applied offline, so the violation is reported"))
        console.print(remediated)

    unverifiable = Tree(f"❔ [bold]Not verifiable at preview[/] ({len(report.not_verifiable)})")
    for policy, resources in sorted(_grouped(report.not_verifiable).items()):
        # The policy's configured level: the SDK reports its unknown-value notes as advisory whatever it is.
        level = report.policy_levels.get(policy)
        kind = f"{level} policy" if level else "offline-preview's own check: what it could not see"
        branch = unverifiable.add(f"[bold]{escape(policy)}[/] ({escape(kind)})")
        for (type_, name), notes in sorted(resources.items()):
            leaf = branch.add(_resource_label(type_, name))
            for note in notes:
                leaf.add(escape(note.message))
    console.print(unverifiable)

    advisory = len(report.violations) - mandatory
    # Exit 0 for "not verifiable" (unless --fail-on-unverifiable), but never worded as a plain pass.
    verdict = {
        "violations": "[bold red]FAIL[/]",
        "not verifiable": "[bold yellow]NOT VERIFIABLE OFFLINE[/] (no mandatory violation found)",
    }.get(report.category, "[bold green]PASS[/]")
    console.print(
        f"{verdict}: {mandatory} mandatory, {advisory} advisory violation(s), "
        f"{len(report.not_verifiable)} not verifiable at preview, "
        f"{len(report.remediations)} remediation(s) needing a code change"
    )
