"""Turns a :class:`PolicySpec` (metadata + check function) into a pulumi-policy ``Policy``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyComplianceFramework,
    PolicyConfigSchema,
    ReportViolation,
    ResourceRemediation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from .config import Schema, resolve
from .index import StackIndex, index_for

Config = dict[str, Any]
ResourceCheck = Callable[[ResourceValidationArgs, Config], Iterable[str]]
StackCheck = Callable[[StackIndex, Config], Iterable[tuple[str, str]]]
Remediation = Callable[[ResourceValidationArgs, Config], Mapping[str, Any] | None]


@dataclass(frozen=True)
class Control:
    """An AWS control this policy mirrors, e.g. ``Control("Security Hub", "S3.14")``."""

    framework: str
    id: str

    def __str__(self) -> str:
        return f"{self.framework} {self.id}"


@dataclass(frozen=True)
class PolicySpec:
    name: str
    description: str
    severity: Severity
    controls: tuple[Control, ...]
    remediation_steps: str
    check: ResourceCheck | StackCheck
    resource_types: frozenset[str] = frozenset()
    """Types a resource policy looks at; empty for a stack policy."""
    config: Schema = field(default_factory=dict)
    fix: Remediation | None = None

    @property
    def is_stack_policy(self) -> bool:
        return not self.resource_types

    @property
    def enforcement_level(self) -> EnforcementLevel:
        # A safe fix only runs at `remediate`; everything else blocks by default.
        return EnforcementLevel.REMEDIATE if self.fix is not None else EnforcementLevel.MANDATORY

    @property
    def control_text(self) -> str:
        return ", ".join(str(control) for control in self.controls) or "none (DR-specific rule)"

    @property
    def full_description(self) -> str:
        """The SDK only carries a description into violations, so severity and controls ride along."""
        return f"{self.description} [severity: {self.severity.value}; control: {self.control_text}]"

    def resolved_config(self, raw: Mapping[str, Any] | None) -> Config:
        return resolve(self.config, raw)

    def build(self) -> Policy:
        common: dict[str, Any] = {
            "name": self.name,
            "description": self.full_description,
            "enforcement_level": self.enforcement_level,
            "config_schema": PolicyConfigSchema(properties={k: dict(v) for k, v in self.config.items()})
            if self.config
            else None,
            "severity": self.severity,
            "framework": _framework(self.controls),
            "tags": ["disaster-recovery", *[control.id for control in self.controls]],
            "remediation_steps": self.remediation_steps,
        }
        if self.is_stack_policy:
            return StackValidationPolicy(validate=self._validate_stack, **common)
        # The SDK's type says remediate returns an Awaitable, but its servicer accepts plain props too.
        remediate = cast(ResourceRemediation, self._remediate) if self.fix is not None else None
        return ResourceValidationPolicy(validate=self._validate_resource, remediate=remediate, **common)

    def _validate_resource(self, args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type not in self.resource_types:
            return
        check: ResourceCheck = self.check  # type: ignore[assignment]
        for message in check(args, self.resolved_config(args.get_config())):
            report(message, None)

    def _validate_stack(self, args: StackValidationArgs, report: ReportViolation) -> None:
        check: StackCheck = self.check  # type: ignore[assignment]
        index = index_for(args.resources)
        for urn, message in check(index, self.resolved_config(args.get_config())):
            report(message, urn)

    def _remediate(self, args: ResourceValidationArgs) -> Mapping[str, Any] | None:
        if args.resource_type not in self.resource_types or self.fix is None:
            return None
        return self.fix(args, self.resolved_config(args.get_config()))


def _framework(controls: tuple[Control, ...]) -> PolicyComplianceFramework | None:
    if not controls:
        return None
    first = controls[0]
    return PolicyComplianceFramework(name=f"AWS {first.framework}", reference=first.id)
