"""Expected findings against the fixture pack:
- suspended: fixture-versioning-enabled (mandatory) and fixture-versioning-naive (mandatory) on its versioning;
- unversioned: fixture-bucket-has-versioning (mandatory, stack policy) and fixture-bucket-tagged (advisory).
"""

import pulumi
import pulumi_aws as aws

region = aws.Provider("primary", region="us-east-1")
suspended = aws.s3.Bucket("suspended", tags={"dr:tier": "2"}, opts=pulumi.ResourceOptions(provider=region))
aws.s3.BucketVersioning(
    "suspended-versioning",
    bucket=suspended.id,
    versioning_configuration={"status": "Suspended"},
    opts=pulumi.ResourceOptions(provider=region, parent=suspended),
)
aws.s3.Bucket("unversioned", opts=pulumi.ResourceOptions(provider=region))
