"""Offline `pulumi preview --policy-pack`: run the program under the mock runtime, then drive the pack as the
engine would (ConfigureStack, GetAnalyzerInfo, Configure, Remediate + Analyze per resource, AnalyzeStack)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
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
from preview.program import (
    PROGRAM_TIMEOUT_SECONDS,
    ProgramRecording,
    Registration,
    answers_hint,
    describe_invoke,
    record_program,
    used_result_fields,
)
from preview.project import PulumiProject, load_invoke_answers, load_project, load_stack_config
from preview.report import (
    CANNOT_VERIFY_PREFIX,
    AppliedRemediation,
    NotVerifiable,
    PolicyInfo,
    PreviewReport,
    Violation,
    is_not_verifiable,
    python_path,
)

ROOT_STACK_TYPE = "pulumi:pulumi:Stack"
STACK_REFERENCE_TYPE = "pulumi:pulumi:StackReference"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
# offline-preview's own not-verifiable entries (what it could not see), beside the pack's.
REMOTE_COMPONENT_CHECK = "offline-preview-remote-component"
UNANSWERED_VALUE_CHECK = "offline-preview-unanswered-value"
# What well-known multi-language components create, from their providers' documentation; shown so a reader
# knows what went unchecked. Anything else: "whatever its provider plugin creates".
KNOWN_COMPONENT_CHILDREN = {
    "awsx:ec2:Vpc": "a VPC, subnets, route tables, an internet gateway, NAT gateways and Elastic IPs",
    "awsx:ec2:DefaultVpc": "nothing new (it reads the default VPC)",
    "awsx:ecr:Repository": "an ECR repository and its lifecycle policy",
    "awsx:ecr:Image": "a container image pushed to ECR",
    "awsx:ecs:FargateService": "an ECS service, task definition, IAM roles, log group and security group",
    "awsx:ecs:EC2Service": "an ECS service, task definition, IAM roles and log group",
    "awsx:lb:ApplicationLoadBalancer": "a load balancer, target group, listeners and security group",
    "awsx:lb:NetworkLoadBalancer": "a load balancer, target group and listeners",
    "awsx:cloudtrail:Trail": "a CloudTrail trail, an S3 bucket and its policy, and a log group",
    "aws-apigateway:index:RestAPI": (
        "an API Gateway RestApi, Deployment and Stage, Lambda permissions, and, for routes with a local_path, "
        "an S3 bucket with the uploaded files and an IAM role"
    ),
}
_ABSENT = object()
_SEVERITY_NAMES = {1: "low", 2: "medium", 3: "high", 4: "critical"}
_CONTROL_SUFFIX = re.compile(r"control: ([^\]]+)\]$")


@dataclass(frozen=True)
class PreviewOptions:
    program_dir: Path
    stack: str
    policy_pack: Path
    policy_config: Path | None = None
    invoke_answers: Path | None = None
    program_timeout: float = PROGRAM_TIMEOUT_SECONDS
    install: bool = False
    notify: Callable[[str], None] = lambda message: None


def policy_infos(info: analyzer_pb2.AnalyzerInfo) -> dict[str, PolicyInfo]:
    """Severity and AWS control per policy, for the report (the control from the description's
    ``[... control: X]`` suffix this project's pack writes, else the compliance framework)."""
    infos = {}
    for policy in info.policies:
        match = _CONTROL_SUFFIX.search(policy.description)
        framework = policy.framework
        control = match.group(1) if match else " ".join(part for part in (framework.name, framework.reference) if part)
        infos[policy.name] = PolicyInfo(_SEVERITY_NAMES.get(int(policy.severity), ""), control)
    return infos


def changed_paths(
    before: Any, after: Any, path: tuple[str | int, ...] = ()
) -> list[tuple[tuple[str | int, ...], Any, Any]]:
    """Leaf paths where a remediation changed a value: (path, value before or _ABSENT, value after or _ABSENT)."""
    if isinstance(before, dict) and isinstance(after, dict):
        found = []
        for key in sorted(set(before) | set(after)):
            found += changed_paths(before.get(key, _ABSENT), after.get(key, _ABSENT), (*path, key))
        return found
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        found = []
        for position, (old, new) in enumerate(zip(before, after, strict=True)):
            found += changed_paths(old, new, (*path, position))
        return found
    return [] if before == after else [(path, before, after)]


def _python_value(value: Any) -> str:
    return repr(value)


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


def _merge_key(message: str) -> tuple[str, str] | None:
    """(child name, child's own message) of an ``-attached`` stack finding: ``bucket 'b' needs X: child: problem``,
    or, when only unknowns stand in the way, ``cannot verify until deploy: child.property``."""
    match = _ATTACHED_MESSAGE.match(message)
    if match:
        return match.group("child"), match.group("problem")
    match = _ATTACHED_UNKNOWN.match(message)
    if match:
        return match.group("child"), f"{CANNOT_VERIFY_PREFIX}: {match.group('property')}"
    return None


_ATTACHED_MESSAGE = re.compile(r"^bucket '(?P<bucket>[^']*)' needs [^:]*: (?P<child>[^:' ]+): (?P<problem>.+)$", re.S)
_ATTACHED_UNKNOWN = re.compile(rf"^{CANNOT_VERIFY_PREFIX}: (?P<child>[^.:' ]+)\.(?P<property>[^,]+)$")


def merge_attached_duplicates(findings: list[Any]) -> list[Any]:
    """One finding per problem: a ``<policy>-attached`` stack finding that repeats a problem ``<policy>`` already
    reported on the bucket's child resource is folded into that finding, which then names both policies.
    (The engine would print both; they are one defect with one fix.)"""
    by_problem = {(item.policy, item.name, item.message): position for position, item in enumerate(findings)}
    merged, folded = list(findings), set()
    for position, item in enumerate(findings):
        key = _merge_key(item.message) if item.policy.endswith("-attached") else None
        if key is None:
            continue
        target = by_problem.get((item.policy.removesuffix("-attached"), key[0], key[1]))
        if target is None or getattr(findings[target], "enforcement", "") != getattr(item, "enforcement", ""):
            continue
        base = merged[target]
        merged[target] = replace(base, message=f"{base.message} (also `{item.policy}` on bucket '{item.name}')")
        folded.add(position)
    return [item for position, item in enumerate(merged) if position not in folded]


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


def _remediation(
    policy: str, registration: Registration, properties: dict[str, Any], remediated: dict[str, Any]
) -> AppliedRemediation:
    """A remediation as a finding that still needs a code change; explicit values it would override are named."""
    settings, overrides = [], []
    for path, before, after in changed_paths(properties, remediated):
        engine = python_path(path, engine=True)
        target = f"remove {python_path(path)}" if after is _ABSENT else f"{python_path(path)}={_python_value(after)}"
        settings.append(f"{target} (engine: {engine})")
        if before is not _ABSENT and before is not None:
            overrides.append(
                f"explicit `{python_path(path)}={_python_value(before)}` would be overridden at deploy "
                f"(engine: {engine})"
            )
    changed = sorted({str(path[0]) for path, _, _ in changed_paths(properties, remediated) if path})
    return AppliedRemediation(
        policy, registration.urn, registration.type, registration.name, changed, settings, not overrides, overrides
    )


def _contains_unknown(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_contains_unknown(item) for item in value.values())
    if isinstance(value, list):
        return any(_contains_unknown(item) for item in value)
    return value == UNKNOWN


def blind_spots(recording: ProgramRecording) -> list[NotVerifiable]:
    """What offline-preview itself could not see, as not-verifiable entries: multi-language components it could
    not expand, and inputs that are unknown only because an invoke or a StackReference had no answer."""
    notes: list[NotVerifiable] = []
    registrations = recording.registrations
    references = {
        item.urn: str(item.properties.get("name") or item.name)
        for item in registrations
        if item.type == STACK_REFERENCE_TYPE and item.properties.get("outputs") == UNKNOWN
    }
    for item in registrations:
        if item.remote:
            package = item.type.split(":", 1)[0]
            version = f" {item.package_version}" if item.package_version else ""
            creates = KNOWN_COMPONENT_CHILDREN.get(item.type, "whatever its provider plugin creates")
            sdk = "pulumi_" + package.replace("-", "_")
            notes.append(
                NotVerifiable(
                    REMOTE_COMPONENT_CHECK,
                    item.urn,
                    item.type,
                    item.name,
                    f"multi-language component {item.type} '{item.name}' from package {package}{version} "
                    f"(Python SDK {sdk}) runs in its provider plugin, which offline-preview does not have"
                    f": resources created inside it were not checked offline (it may create {creates}), "
                    "and its outputs are unknown",
                    "offline-preview",
                )
            )
        for entry in item.from_unanswered_invokes:
            calls = [
                describe_invoke(recording.unanswered_invokes[number])
                for number in entry["invokes"]
                if number < len(recording.unanswered_invokes)
            ]
            path = entry["path"]
            notes.append(
                NotVerifiable(
                    UNANSWERED_VALUE_CHECK,
                    item.urn,
                    item.type,
                    item.name,
                    f"not verifiable: {python_path(path)} (engine: {python_path(path, engine=True)}) came from the "
                    f"unanswered invoke {' and '.join(calls)}; answer it with --invoke-answers FILE",
                    "offline-preview",
                )
            )
        for key, urns in sorted(item.property_dependencies.items()):
            names = [references[urn] for urn in urns if urn in references]
            if names and _contains_unknown(item.properties.get(key)):
                notes.append(
                    NotVerifiable(
                        UNANSWERED_VALUE_CHECK,
                        item.urn,
                        item.type,
                        item.name,
                        f"not verifiable: {python_path([key])} (engine: {key}) came from the unanswered "
                        f"StackReference {', '.join(names)}; add {'its' if len(names) == 1 else 'their'} outputs under "
                        "`stackReferences` in --invoke-answers FILE",
                        "offline-preview",
                    )
                )
    return notes


def analyze_registrations(client: AnalyzerClient, registrations: list[Registration], findings: Findings) -> None:
    """The engine's order: Remediate then Analyze per resource (registration order), AnalyzeStack once.

    A remediation that only fills properties the program left absent is applied, as the engine would at deploy,
    and reported as a finding that still needs a code change. One that would override a value the program set
    explicitly is not applied (Analyze then reports the violation) and the override is named: under the engine
    Remediate runs after the provider's Check, so it cannot tell an explicit value from a default."""
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
                    finding = _remediation(remediation.policyName, registration, properties, remediated)
                    findings.remediations.append(finding)
                    if finding.applied:
                        properties = remediated
                        request.properties.Clear()
                        request.properties.update(properties)
            findings.add_diagnostics(client.analyze(request).diagnostics, registration.urn)
        final_properties[registration.urn] = properties
    stack = [stack_resource(item, final_properties[item.urn], providers) for item in registrations]
    findings.add_diagnostics(client.analyze_stack(stack).diagnostics, None)


def run_offline_preview(options: PreviewOptions) -> PreviewReport:
    """Everything but printing; raises PreviewError subclasses for exit code 2."""
    project = load_project(options.program_dir, options.install, options.notify)
    config = load_stack_config(project, options.stack)
    file_config: dict[str, ConfigEntry] = (
        load_policy_config_file(options.policy_config) if options.policy_config else {}
    )
    answers = load_invoke_answers(options.invoke_answers) if options.invoke_answers else {}
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
        program_run = pool.submit(
            record_program, project, options.stack, config, answers, options.program_timeout, options.notify
        )
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
    if recording.builtin_answers:
        warnings.append(
            "invokes answered with offline-preview's built-in fake values, not your account's (account "
            "123456789012, zones <region>a/b/c, ...; answer them with --invoke-answers FILE for real values): "
            + ", ".join(describe_invoke(call) for call in recording.builtin_answers)
        )
    hint = answers_hint(
        recording.unanswered_invokes,
        recording.stack_references_without_answers,
        recording.result_fields,
        recording.ignored_answer_keys,
        used_result_fields(recording.registrations, recording.unanswered_invokes),
    )
    if hint:
        warnings.append(hint)
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
        violations=merge_attached_duplicates(findings.violations),
        not_verifiable=blind_spots(recording) + merge_attached_duplicates(findings.not_verifiable),
        remediations=findings.remediations,
        warnings=warnings,
        program_output=recording.output,
        interpreter=recording.interpreter,
        policy_info=policy_infos(info),
    )
