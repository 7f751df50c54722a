"""ARNs built from names that are known at preview.

A new resource's ``arn`` output is unknown during ``pulumi preview``, so any IAM or bucket policy built from it
is unknown too, and the policy pack could only say "cannot verify until deploy". Names here are set by the
program and the account ID comes from an invoke (which runs at preview), so these ARNs are known and every
policy document that uses them can be checked before deploy.
"""

from __future__ import annotations

import pulumi

from stackmodel.powertools import powertools_layer_arn as powertools_layer_arn
from stackmodel.regions import partition


def bucket_arn(name: str, region: str) -> str:
    return f"arn:{partition(region)}:s3:::{name}"


def sns_topic_arn(name: str, region: str, account: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.concat("arn:", partition(region), ":sns:", region, ":", account, ":", name)


def log_group_arn(name: str, region: str, account: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.concat("arn:", partition(region), ":logs:", region, ":", account, ":log-group:", name)


def key_alias(bucket_name: str) -> str:
    """A name for people and the console; no permission depends on it (alias changes take minutes to apply)."""
    return f"alias/dr/{bucket_name}"


# IAM role names are at most 64 characters (IAM API Reference, CreateRole, RoleName).
ROLE_NAME_MAX = 64


def role_arn(name: str, region: str, account: pulumi.Input[str]) -> pulumi.Output[str]:
    """A role's ARN from its explicit name. IAM is global; ``region`` only picks the partition.

    Key policies grant by this ARN (components/buckets.py), so no grant waits on alias propagation and every
    document stays known at preview."""
    if len(name) > ROLE_NAME_MAX:
        raise ValueError(f"IAM role name {name!r} is longer than {ROLE_NAME_MAX} characters")
    return pulumi.Output.concat("arn:", partition(region), ":iam::", account, ":role/", name)


def function_arn(name: str, region: str, account: pulumi.Input[str]) -> pulumi.Output[str]:
    """An unqualified Lambda function ARN (Service Authorization Reference, AWS Lambda: ``function``)."""
    return pulumi.Output.concat("arn:", partition(region), ":lambda:", region, ":", account, ":function:", name)


def state_machine_arn(name: str, region: str, account: pulumi.Input[str]) -> pulumi.Output[str]:
    """Service Authorization Reference, AWS Step Functions: ``stateMachine``."""
    return pulumi.Output.concat("arn:", partition(region), ":states:", region, ":", account, ":stateMachine:", name)
