"""The versioning status comes from another resource's computed output, unknown at a first preview.

Neither versioning policy may pass it: the guarded one says "cannot verify until deploy", the naive one trips
the SDK's unknown-value note, which the SDK itself downgrades to advisory.
"""

import pulumi
import pulumi_aws as aws

region = aws.Provider("primary", region="us-east-1")
settings = aws.ssm.Parameter(
    "versioning-setting", type="String", value="Enabled", opts=pulumi.ResourceOptions(provider=region)
)
bucket = aws.s3.Bucket("media", tags={"dr:tier": "2"}, opts=pulumi.ResourceOptions(provider=region))
aws.s3.BucketVersioning(
    "media-versioning",
    bucket=bucket.id,
    # `version` is computed by AWS, so the status is unknown until the parameter exists.
    versioning_configuration={"status": settings.version.apply(lambda _: "Enabled")},
    opts=pulumi.ResourceOptions(provider=region, parent=bucket),
)
