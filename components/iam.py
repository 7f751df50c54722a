"""IAM documents and role policies shared by the components."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws


def assume_role_policy(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


def role_policy(
    name: str, role: aws.iam.Role, statements: Sequence[Mapping[str, Any]], opts: pulumi.ResourceOptions
) -> aws.iam.RolePolicy:
    """The role's inline policy, named ``<name>-policy``."""
    return aws.iam.RolePolicy(
        f"{name}-policy",
        role=role.id,
        policy=pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)}),
        opts=opts,
    )
