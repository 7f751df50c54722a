"""Offline `pulumi preview --policy-pack`: run the program under the mock runtime, then drive the pack as the
engine would (ConfigureStack, GetAnalyzerInfo, Configure, Remediate + Analyze per resource, AnalyzeStack)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi.runtime.proto import analyzer_pb2

from preview.analyzer_client import (
    LEVEL_NAMES,
    AnalyzerClient,
    StackIdentity,
    from_struct,
    pack_version,
    running_policy_pack,
    to_struct,
)
from preview.policy_config import ConfigEntry, load_policy_config_file, resolve_policy_config
from preview.program import Registration, record_program
from preview.project import PulumiProject, load_project, load_stack_config
from preview.report import AppliedRemediation, NotVerifiable, PreviewReport, Violation, is_not_verifiable

ROOT_STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass(frozen=True)
class PreviewOptions:
    program_dir: Path
    stack: str
    policy_pack: Path
    policy_config: Path | None = None


def stack_tags(project: PulumiProject) -> dict[str, str]:
    """The tags the Pulumi service derives for every stack; the pack reads them through ConfigureStack."""
    tags = {"pulumi:project": project.name, "pulumi:runtime": "python"}
    if project.description:
        tags["pulumi:description"] = project.description
    return tags


def _resource_options(registration: Registration) -> analyzer_pb2.AnalyzerResourceOptions:
    options = registration.options
    timeouts = options.custom_timeouts
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=options.protect,
        ignoreChanges=options.ignore_changes,
        deleteBeforeReplace=bool(options.delete_before_replace),
        deleteBeforeReplaceDefined=options.delete_before_replace is not None,
        additionalSecretOutputs=options.additional_secret_outputs,
        aliases=options.aliases,
        customTimeouts=analyzer_pb2.AnalyzerResourceOptions.CustomTimeouts(
            create=timeouts.get("create", 0.0), update=timeouts.get("update", 0.0), delete=timeouts.get("delete", 0.0)
        ),
        parent=registration.parent,
    )


def _provider_resource(
    registration: Registration, providers: Mapping[str, Registration]
) -> analyzer_pb2.AnalyzerProviderResource | None:
    provider = providers.get(registration.provider_urn)
    if provider is None:
        return None
    return analyzer_pb2.AnalyzerProviderResource(
        type=provider.type, urn=provider.urn, name=provider.name, properties=to_struct(provider.properties)
    )


def _resource_fields(
    registration: Registration, properties: Mapping[str, Any], providers: Mapping[str, Registration]
) -> dict[str, Any]:
    """What Analyze and AnalyzeStack both receive about one resource."""
    return {
        "type": registration.type,
        "name": registration.name,
        "urn": registration.urn,
        "properties": to_struct(properties),
        "options": _resource_options(registration),
        "provider": _provider_resource(registration, providers),
    }


def analyze_request(
    registration: Registration, properties: Mapping[str, Any], providers: Mapping[str, Registration]
) -> analyzer_pb2.AnalyzeRequest:
    return analyzer_pb2.AnalyzeRequest(**_resource_fields(registration, properties, providers))


def stack_resource(
    registration: Registration, properties: Mapping[str, Any], providers: Mapping[str, Registration]
) -> analyzer_pb2.AnalyzerResource:
    return analyzer_pb2.AnalyzerResource(
        **_resource_fields(registration, properties, providers),
        parent=registration.parent,
        dependencies=registration.dependencies,
        propertyDependencies={
            key: analyzer_pb2.AnalyzerPropertyDependencies(urns=urns)
            for key, urns in registration.property_dependencies.items()
        },
    )


def _detail(message: str, description: str) -> str:
    """The policy's own text: the SDK prefixes every violation message with the policy description."""
    prefix = description + "\n"
    if description and message.startswith(prefix):
        return message[len(prefix) :]
    return message


class Findings:
    """Sorts diagnostics into violations and not-verifiable notes, attributing each to a resource."""

    def __init__(self, resources_by_urn: Mapping[str, Registration], root_urn: str) -> None:
        self.resources_by_urn = resources_by_urn
        self.root_urn = root_urn
        self.violations: list[Violation] = []
        self.not_verifiable: list[NotVerifiable] = []
        self.remediations: list[AppliedRemediation] = []

    def add(self, policy: str, level: int, urn: str, message: str, description: str) -> None:
        # The engine reports remediate-level findings that still fail Analyze as mandatory.
        enforcement = "mandatory" if level == analyzer_pb2.REMEDIATE else LEVEL_NAMES[level]
        urn = urn or self.root_urn
        resource = self.resources_by_urn.get(urn)
        type_ = resource.type if resource else ROOT_STACK_TYPE
        name = resource.name if resource else urn.rsplit("::", 1)[-1]
        detail = _detail(message, description)
        if is_not_verifiable(detail):
            self.not_verifiable.append(NotVerifiable(policy, urn, type_, name, detail, enforcement))
        else:
            self.violations.append(Violation(policy, enforcement, urn, type_, name, detail or description))

    def add_diagnostics(self, diagnostics: Iterable[analyzer_pb2.AnalyzeDiagnostic], urn: str | None) -> None:
        """Analyze findings belong to the analyzed resource (as in the engine); AnalyzeStack's carry their own."""
        for diagnostic in diagnostics:
            self.add(
                diagnostic.policyName,
                diagnostic.enforcementLevel,
                urn if urn is not None else diagnostic.urn,
                diagnostic.message,
                diagnostic.description,
            )


def analyze_registrations(client: AnalyzerClient, registrations: list[Registration], findings: Findings) -> None:
    """The engine's order: Remediate then Analyze per resource (registration order), AnalyzeStack once."""
    providers = {item.urn: item for item in registrations if item.type.startswith("pulumi:providers:")}
    final_properties: dict[str, dict[str, Any]] = {}
    for registration in registrations:
        properties = registration.properties
        if not registration.read:
            request = analyze_request(registration, properties, providers)
            for remediation in client.remediate(request).remediations:
                if remediation.diagnostic:
                    findings.add(
                        remediation.policyName,
                        analyzer_pb2.ADVISORY,
                        registration.urn,
                        remediation.diagnostic,
                        remediation.description,
                    )
                elif remediation.HasField("properties"):
                    remediated = from_struct(remediation.properties)
                    changed = sorted(
                        key for key in set(properties) | set(remediated) if properties.get(key) != remediated.get(key)
                    )
                    findings.remediations.append(
                        AppliedRemediation(
                            remediation.policyName, registration.urn, registration.type, registration.name, changed
                        )
                    )
                    properties = remediated
                    request.properties.Clear()
                    request.properties.update(properties)
            findings.add_diagnostics(client.analyze(request).diagnostics, registration.urn)
        final_properties[registration.urn] = properties
    stack = [stack_resource(item, final_properties[item.urn], providers) for item in registrations]
    findings.add_diagnostics(client.analyze_stack(stack).diagnostics, None)


def run_offline_preview(options: PreviewOptions) -> PreviewReport:
    """Everything but printing; raises PreviewError subclasses for exit code 2."""
    project = load_project(options.program_dir)
    config = load_stack_config(project, options.stack)
    file_config: dict[str, ConfigEntry] = (
        load_policy_config_file(options.policy_config) if options.policy_config else {}
    )
    identity = StackIdentity(
        project=project.name,
        stack=options.stack,
        config=config.values,
        secret_keys=config.secret_keys,
        tags=stack_tags(project),
    )
    pack_dir = options.policy_pack.resolve()
    # The program runs while the pack starts: both are Python processes with slow imports.
    with ThreadPoolExecutor(max_workers=1) as pool:
        program_run = pool.submit(record_program, project, options.stack, config)
        with running_policy_pack(pack_dir, identity) as client:
            client.handshake(pack_dir)
            client.configure_stack(identity)
            info = client.analyzer_info()
            resolved = resolve_policy_config(info, file_config)
            # Every policy gets its level explicitly: one left out would silently run as advisory.
            client.configure(resolved.policies)
            recording = program_run.result()
            registrations = recording.registrations
            root_urn = next((item.urn for item in registrations if item.type == ROOT_STACK_TYPE), "")
            findings = Findings({item.urn: item for item in registrations}, root_urn)
            analyze_registrations(client, registrations, findings)

    warnings = list(resolved.warnings)
    if recording.unanswered_invokes:
        warnings.append("invokes answered with empty results offline: " + ", ".join(recording.unanswered_invokes))
    if config.secret_keys:
        warnings.append("secret config replaced by placeholders: " + ", ".join(config.secret_keys))
    return PreviewReport(
        project=project.name,
        stack=options.stack,
        pack_name=info.name,
        pack_version=pack_version(pack_dir, info),
        pack_path=str(options.policy_pack),
        resources=len(registrations),
        policy_levels={name: policy.enforcement_level for name, policy in sorted(resolved.policies.items())},
        violations=findings.violations,
        not_verifiable=findings.not_verifiable,
        remediations=findings.remediations,
        warnings=warnings,
        program_output=recording.output,
    )
