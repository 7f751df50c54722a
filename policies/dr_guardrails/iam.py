"""Least privilege on the IAM roles that DR components create (roles tagged ``dr:role``)."""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pulumi_policy import PolicyResource

from . import types
from .framework import Config
from .index import StackIndex
from .props import MISSING, UNKNOWN, InvalidDocument, as_list, cannot_verify, elements, lookup, policy_statements
from .tiers import ROLE_TAG

RUNTIME_ROLE = "runtime"
AWS_MANAGED_PREFIX = "arn:aws:iam::aws:policy/"


@dataclass(frozen=True)
class Grant:
    """One policy that reaches a role: its document, or why it cannot be read."""

    source: str
    document: Any = MISSING
    problem: str | None = None


def statement_problems(statements: list[dict[str, Any]], forbidden: list[str]) -> Iterator[str]:
    """Wildcards, NotAction grants, and actions matching a forbidden action (patterns included)."""
    for position, statement in enumerate(statements):
        if statement.get("Effect") != "Allow":
            continue
        where = f"Statement[{position}]"
        if "NotAction" in statement:
            yield f"{where} allows NotAction, which grants every action it does not list"
        for action in as_list(statement.get("Action")):
            text = str(action).lower()
            if text == "*":
                yield f'{where} allows Action "*"'
                continue
            if text.endswith(":*"):
                yield f'{where} allows the service-wide wildcard "{action}"'
                continue
            for name in forbidden:
                if fnmatch.fnmatchcase(name.lower(), text):
                    yield f'{where} allows "{action}", which grants {name}'


def _grants(
    index: StackIndex, role: PolicyResource, links: dict[str, list[PolicyResource]], config: Config
) -> Iterator[Grant]:
    policies = elements(role.props, "inlinePolicies")
    if policies is UNKNOWN:
        yield Grant("inlinePolicies", UNKNOWN)
    else:
        for position, policy in enumerate(policies):
            yield Grant(f"inlinePolicies[{position}]", lookup(policy, "policy"))
    managed = elements(role.props, "managedPolicyArns")
    if managed is UNKNOWN:
        yield Grant("managedPolicyArns", UNKNOWN)
    else:
        for arn in managed:
            yield _managed(f"managedPolicyArns {arn}", arn, index.named("policy", arn), config)
    for linked in links.get(role.urn, []):
        if linked.resource_type in types.IAM_ROLE_POLICY:
            yield Grant(f"RolePolicy '{linked.name}'", lookup(linked.props, "policy"))
        else:
            policy = index.linked(linked, "policyArn", types.IAM_POLICY, "policy")
            yield _managed(f"RolePolicyAttachment '{linked.name}'", lookup(linked.props, "policyArn"), policy, config)


def _managed(source: str, arn: Any, policy: PolicyResource | None, config: Config) -> Grant:
    if policy is not None:
        return Grant(f"{source} -> Policy '{policy.name}'", lookup(policy.props, "policy"))
    if arn is UNKNOWN:
        return Grant(f"{source} policyArn", UNKNOWN)
    if arn in config["forbiddenManagedPolicyArns"]:
        return Grant(source, problem=f"attaches {arn}, which is far broader than a DR role needs")
    if isinstance(arn, str) and not arn.startswith(AWS_MANAGED_PREFIX):
        return Grant(source, problem=f"attaches {arn}, a policy outside this stack that cannot be inspected")
    return Grant(source)


def _role_links(index: StackIndex) -> dict[str, list[PolicyResource]]:
    """Role URN -> the RolePolicy and RolePolicyAttachment resources whose `role` input names it."""
    by_role: dict[str, list[PolicyResource]] = defaultdict(list)
    for token in types.IAM_ROLE_POLICY | types.IAM_ROLE_POLICY_ATTACHMENT:
        for resource in index.by_type.get(token, []):
            role = index.linked(resource, "role", types.IAM_ROLE, "role")
            if role is not None:
                by_role[role.urn].append(resource)
    return by_role


def check_dr_role_least_privilege(index: StackIndex, config: Config) -> Iterator[tuple[str, str]]:
    links = _role_links(index)
    for token in types.IAM_ROLE:
        for role in index.by_type.get(token, []):
            kind = index.tags(role).get(ROLE_TAG)
            if kind is MISSING or kind is None:
                continue
            if kind is UNKNOWN:
                yield role.urn, cannot_verify(f"{role.name}.tags.{ROLE_TAG}")
                continue
            forbidden = list(config["forbiddenActions"])
            if kind == RUNTIME_ROLE:
                forbidden += config["runtimeForbiddenActions"]
            for grant in _grants(index, role, links, config):
                where = f"{kind} role '{role.name}', {grant.source}"
                for message in _grant_messages(grant, forbidden):
                    yield (
                        role.urn,
                        cannot_verify(f"policy document of {where}") if message is UNKNOWN else f"{where}: {message}",
                    )


def _grant_messages(grant: Grant, forbidden: list[str]) -> Iterator[Any]:
    """Problem texts, or UNKNOWN when the document is only known after deploy."""
    if grant.problem is not None:
        yield grant.problem
        return
    try:
        statements = policy_statements(grant.document)
    except InvalidDocument as error:
        yield str(error)
        return
    if statements is UNKNOWN:
        yield UNKNOWN
    elif statements is not MISSING:
        yield from statement_problems(statements, forbidden)
