"""ARNs built from names that are known at preview.

A new resource's ``arn`` output is unknown during ``pulumi preview``, so any IAM or bucket policy built from it
is unknown too, and the policy pack could only say "cannot verify until deploy". Names here are set by the
program and the account ID comes from an invoke (which runs at preview), so these ARNs are known and every
policy document that uses them can be checked before deploy.
"""

from __future__ import annotations

import pulumi


def partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def bucket_arn(name: str, region: str) -> str:
    return f"arn:{partition(region)}:s3:::{name}"


def kms_keys_in(region: str, account: pulumi.Input[str]) -> pulumi.Output[str]:
    """Every key in the account and region; statements narrow it with a ``kms:ResourceAliases`` condition."""
    return pulumi.Output.concat("arn:", partition(region), ":kms:", region, ":", account, ":key/*")


def sns_topic_arn(name: str, region: str, account: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.concat("arn:", partition(region), ":sns:", region, ":", account, ":", name)


def log_group_arn(name: str, region: str, account: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.concat("arn:", partition(region), ":logs:", region, ":", account, ":log-group:", name)


def key_alias(bucket_name: str) -> str:
    return f"alias/dr/{bucket_name}"


def key_statement(
    sid: str, actions: list[str], bucket_name: str, region: str, account: pulumi.Input[str]
) -> dict[str, object]:
    """Allow ``actions`` on exactly the bucket's key, named through its alias so the ARN is known at preview."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": actions,
        "Resource": kms_keys_in(region, account),
        "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": key_alias(bucket_name)}},
    }
