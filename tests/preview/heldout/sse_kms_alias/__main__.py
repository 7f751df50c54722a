import json

import pulumi
import pulumi_aws as aws

key_arn = aws.kms.get_alias(name="alias/site-data").target_key_arn
bucket_name = "site-data-archive"

archive = aws.s3.Bucket(
    "archive",
    bucket=bucket_name,
    object_lock_enabled=True,
    versioning={"enabled": True},
    server_side_encryption_configuration={
        "rule": {"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": key_arn}}
    },
    object_lock_configuration={
        "object_lock_enabled": "Enabled",
        "rule": {"default_retention": {"mode": "GOVERNANCE", "days": 7}},
    },
    policy=json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [f"arn:aws:s3:::{bucket_name}", f"arn:aws:s3:::{bucket_name}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    ),
    tags={
        "dr:tier": "2",
        "dr:rpo-logical-minutes": "0",
        "dr:rto-logical-minutes": "240",
        "dr:rpo-regional-minutes": "none",
        "dr:rto-regional-minutes": "none",
    },
)
aws.s3.BucketPublicAccessBlock(
    "archive",
    bucket=archive.id,
    block_public_acls=True,
    block_public_policy=True,
    ignore_public_acls=True,
    restrict_public_buckets=True,
)

pulumi.export("bucket", archive.bucket)
