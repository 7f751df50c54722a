"""Builders for policy tests: resources and stacks with runtime-like (unknown-checking) props."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dr_guardrails import SPECS  # importable because conftest.py puts policies/ on sys.path
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.proxy import (
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    unknown_checking_proxy,
)

UNKNOWN_STR = UNKNOWN_STRING_VALUE
UNKNOWN_BOOL = UNKNOWN_BOOLEAN_VALUE
UNKNOWN_NUM = UNKNOWN_NUMBER_VALUE
UNKNOWN_LIST = UNKNOWN_ARRAY_VALUE
UNKNOWN_OBJ = UNKNOWN_OBJECT_VALUE
CANNOT_VERIFY = "cannot verify until deploy"

BUCKET = "aws:s3/bucket:Bucket"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
OBJECT_LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
TABLE = "aws:dynamodb/table:Table"
TABLE_REPLICA = "aws:dynamodb/tableReplica:TableReplica"
GLOBAL_TABLE = "aws:dynamodb/globalTable:GlobalTable"
KMS_KEY = "aws:kms/key:Key"
RECORD = "aws:route53/record:Record"
HEALTH_CHECK = "aws:route53/healthCheck:HealthCheck"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
IAM_POLICY = "aws:iam/policy:Policy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"

_OPTIONS = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def urn(resource_type: str, name: str) -> str:
    return f"urn:pulumi:prod::dr::{resource_type}::{name}"


def provider(region: str | None) -> PolicyProviderResource | None:
    if region is None:
        return None
    props = unknown_checking_proxy({"region": region})
    return PolicyProviderResource(
        "pulumi:providers:aws", props, f"urn:pulumi:prod::dr::pulumi:providers:aws::{region}", region
    )


def resource_args(
    resource_type: str,
    props: Mapping[str, Any],
    *,
    name: str = "subject",
    config: Mapping[str, Any] | None = None,
    region: str | None = "us-east-1",
) -> ResourceValidationArgs:
    return ResourceValidationArgs(
        resource_type,
        unknown_checking_proxy(copy.deepcopy(dict(props))),
        urn(resource_type, name),
        name,
        _OPTIONS,
        provider(region),
        dict(config) if config is not None else None,
    )


def run_resource(policy: str, resource_type: str, props: Mapping[str, Any], **kwargs: Any) -> list[str]:
    """Messages a resource policy reports (validated through the real SDK policy object)."""
    messages: list[str] = []
    built = SPECS[policy].build()
    built.validate(resource_args(resource_type, props, **kwargs), lambda message, _urn=None: messages.append(message))  # type: ignore[attr-defined]
    return messages


def remediate(policy: str, resource_type: str, props: Mapping[str, Any], **kwargs: Any) -> Mapping[str, Any] | None:
    built = SPECS[policy].build()
    return built.remediate(resource_args(resource_type, props, **kwargs))  # type: ignore[attr-defined,return-value]


@dataclass
class Node:
    resource_type: str
    name: str
    props: dict[str, Any]
    region: str | None
    links: dict[str, list[str]] = field(default_factory=dict)


class Stack:
    """A mutable stack description; :meth:`resources` builds fresh runtime-like PolicyResources."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}

    def add(
        self,
        resource_type: str,
        name: str,
        props: Mapping[str, Any],
        *,
        region: str | None = "us-east-1",
        links: Mapping[str, Iterable[str]] | None = None,
    ) -> Stack:
        self.nodes[name] = Node(
            resource_type, name, copy.deepcopy(dict(props)), region, {k: list(v) for k, v in (links or {}).items()}
        )
        return self

    def props(self, name: str) -> dict[str, Any]:
        return self.nodes[name].props

    def remove(self, name: str) -> Stack:
        del self.nodes[name]
        return self

    def copy(self) -> Stack:
        twin = Stack()
        twin.nodes = copy.deepcopy(self.nodes)
        return twin

    def resources(self) -> list[PolicyResource]:
        built = {
            name: PolicyResource(
                node.resource_type,
                unknown_checking_proxy(copy.deepcopy(node.props)),
                urn(node.resource_type, name),
                name,
                _OPTIONS,
                provider(node.region),
                None,
                [],
                {},
            )
            for name, node in self.nodes.items()
        }
        for name, node in self.nodes.items():
            for prop, targets in node.links.items():
                deps = [built[target] for target in targets if target in built]
                built[name].property_dependencies[prop] = deps
                built[name].dependencies.extend(deps)
        return list(built.values())


def run_stack(
    policy: str, stack: Stack | list[PolicyResource], config: Mapping[str, Any] | None = None
) -> list[tuple[str | None, str]]:
    resources = stack.resources() if isinstance(stack, Stack) else stack
    found: list[tuple[str | None, str]] = []
    built = SPECS[policy].build()
    args = StackValidationArgs(resources, dict(config) if config is not None else None)
    built.validate(args, lambda message, resource_urn=None: found.append((resource_urn, message)))  # type: ignore[attr-defined]
    return found


def messages(found: Iterable[tuple[str | None, str]]) -> list[str]:
    return [message for _, message in found]


DELETE = object()
"""Marker for :func:`changed`: remove the property instead of setting it."""


def changed(props: Mapping[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    """A deep copy of ``props`` with exactly one property set (or removed with :data:`DELETE`)."""
    result = copy.deepcopy(dict(props))
    node: Any = result
    for key in path[:-1]:
        node = node[key]
    if value is DELETE:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value
    return result


def deprecated_v2(token: str) -> str:
    """``aws:s3/bucketVersioning:BucketVersioning`` -> ``aws:s3/bucketVersioningV2:BucketVersioningV2``."""
    module, name = token.rsplit(":", 1)
    return f"{module}V2:{name}V2"
