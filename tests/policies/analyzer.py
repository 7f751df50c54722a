"""Drive the pack through the SDK's real Analyzer servicer (Configure, Remediate, Analyze, AnalyzeStack)
without serving gRPC, so enforcement levels and remediation behave exactly as under the engine."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dr_guardrails import PACK_NAME, build_policies
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import proto
from pulumi_policy import EnforcementLevel
from pulumi_policy.policy import _PolicyAnalyzerServicer

from tests.policies.support import Stack, urn

_LEVELS = {
    "advisory": proto.ADVISORY,
    "mandatory": proto.MANDATORY,
    "remediate": proto.REMEDIATE,
    "disabled": proto.DISABLED,
}
LEVEL_NAMES = {value: key for key, value in _LEVELS.items()}


def _struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(dict(props))
    return message


def servicer(config: Mapping[str, Mapping[str, Any]] | None = None) -> _PolicyAnalyzerServicer:
    """A configured servicer. ``config`` maps policy -> {"enforcementLevel": ..., **properties}."""
    analyzer = _PolicyAnalyzerServicer(PACK_NAME, "0.1.0", build_policies(), EnforcementLevel.ADVISORY)
    request = proto.ConfigureAnalyzerRequest()
    for name, entry in (config or {}).items():
        settings = dict(entry)
        level = settings.pop("enforcementLevel", None)
        policy_config = proto.PolicyConfig(properties=_struct(settings))
        if level is not None:
            policy_config.enforcementLevel = _LEVELS[level]
        request.policyConfig[name].CopyFrom(policy_config)
    analyzer.Configure(request, None)
    return analyzer


def analyze_request(resource_type: str, props: Mapping[str, Any], name: str = "subject") -> Any:
    return proto.AnalyzeRequest(type=resource_type, properties=_struct(props), urn=urn(resource_type, name), name=name)


def remediate(
    analyzer: _PolicyAnalyzerServicer, resource_type: str, props: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """The props after the Remediate pass, and the names of the policies that changed them."""
    response = analyzer.Remediate(analyze_request(resource_type, props), None)
    current = dict(props)
    applied = []
    for remediation in response.remediations:
        applied.append(remediation.policyName)
        if remediation.HasField("properties"):
            current = json_format.MessageToDict(remediation.properties)
    return current, applied


def analyze(
    analyzer: _PolicyAnalyzerServicer, resource_type: str, props: Mapping[str, Any]
) -> list[tuple[str, str, str]]:
    """(policy, enforcement level, message) for each diagnostic."""
    response = analyzer.Analyze(analyze_request(resource_type, props), None)
    return [(d.policyName, LEVEL_NAMES[d.enforcementLevel], d.message) for d in response.diagnostics]


def analyze_stack(analyzer: _PolicyAnalyzerServicer, stack: Stack) -> list[tuple[str, str, str, str]]:
    """(policy, enforcement level, urn, message) for each diagnostic of AnalyzeStack."""
    request = proto.AnalyzeStackRequest()
    for name, node in stack.nodes.items():
        resource = proto.AnalyzerResource(
            type=node.resource_type, properties=_struct(node.props), urn=urn(node.resource_type, name), name=name
        )
        if node.region is not None:
            resource.provider.CopyFrom(
                proto.AnalyzerProviderResource(
                    type="pulumi:providers:aws",
                    properties=_struct({"region": node.region}),
                    urn=f"urn:provider:{node.region}",
                    name=node.region,
                )
            )
        for prop, targets in node.links.items():
            resource.propertyDependencies[prop].urns.extend(
                urn(stack.nodes[t].resource_type, t) for t in targets if t in stack.nodes
            )
        request.resources.append(resource)
    response = analyzer.AnalyzeStack(request, None)
    return [(d.policyName, LEVEL_NAMES[d.enforcementLevel], d.urn, d.message) for d in response.diagnostics]


def default_levels() -> dict[str, dict[str, Any]]:
    """What the Pulumi CLI sends when no config file overrides anything: each policy's own level."""
    return {policy.name: {"enforcementLevel": policy.enforcement_level.value} for policy in build_policies()}  # type: ignore[union-attr]
