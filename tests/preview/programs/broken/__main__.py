"""Fails the way real programs do: an exception at top level (stack `test`), one raised inside an Output.apply
(stack `apply`), or two resources with one name (stack `duplicate`), which the engine rejects."""

import pulumi
import pulumi_aws as aws

failure = pulumi.Config().require("failure")
region = aws.Provider("primary", region="us-east-1")
bucket = aws.s3.Bucket("logs", tags={"dr:tier": "3"}, opts=pulumi.ResourceOptions(provider=region))


def tier_of(name: str) -> str:
    raise KeyError(f"tier table has no entry for bucket {name!r}")


if failure == "module":
    raise RuntimeError("tier 7 is not a DR tier (expected 1, 2 or 3)")
if failure == "duplicate":
    aws.s3.Bucket("logs", opts=pulumi.ResourceOptions(provider=region))
# Tags are inputs, so they are known at preview and the callback runs (an apply on an unknown id would not).
pulumi.export("tier", bucket.tags.apply(lambda _: tier_of("logs")))
