"""ARNs built from names that are known at preview.

A new resource's ``arn`` output is unknown during ``pulumi preview``, so any IAM or bucket policy built from it
is unknown too, and the policy pack could only say "cannot verify until deploy". Names here are set by the
program and the account ID comes from an invoke (which runs at preview), so these ARNs are known and every
policy document that uses them can be checked before deploy.
"""

from __future__ import annotations

import pulumi

from components.regions import partition

# Powertools for AWS Lambda (Python) publishes its layer per partition, from a different account in China and in
# each GovCloud region: https://docs.aws.amazon.com/powertools/python/latest/getting-started/install/#lambda-layer
# ("Lambda Layer", "AWS China regions", "AWS GovCloud regions"). ``"*"`` is every region of the partition.
POWERTOOLS_LAYER_NAME = "AWSLambdaPowertoolsPythonV3-python312-x86_64"
POWERTOOLS_LAYER_VERSION = 27
POWERTOOLS_LAYER_ACCOUNTS: dict[str, dict[str, str]] = {
    "aws": {"*": "017000801446"},
    "aws-cn": {"cn-north-1": "498634801083"},
    "aws-us-gov": {"us-gov-east-1": "165087284144", "us-gov-west-1": "165093116878"},
}


def powertools_layer_problem(region: str) -> str | None:
    """Why no Powertools layer can be named in ``region``, or None when one is published there."""
    accounts = POWERTOOLS_LAYER_ACCOUNTS.get(partition(region))
    if accounts is None:
        return f"Powertools publishes no Lambda layer in partition {partition(region)!r}"
    if "*" not in accounts and region not in accounts:
        return f"Powertools publishes its layer in partition {partition(region)!r} only in {', '.join(accounts)}"
    return None


def powertools_layer_arn(region: str) -> str:
    """The published Powertools layer in ``region``; config rejects regions without one before this runs."""
    problem = powertools_layer_problem(region)
    if problem is not None:
        raise ValueError(f"{region}: {problem}")
    accounts = POWERTOOLS_LAYER_ACCOUNTS[partition(region)]
    account = accounts.get(region, accounts.get("*"))
    return f"arn:{partition(region)}:lambda:{region}:{account}:layer:{POWERTOOLS_LAYER_NAME}:{POWERTOOLS_LAYER_VERSION}"


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
