"""The Powertools for AWS Lambda layer each Region publishes (config rejects a Region without one)."""

from __future__ import annotations

from stackmodel.regions import partition

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
