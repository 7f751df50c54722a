"""A compliant tier-1 bucket from this repository's own component, then one deliberate defect per DR rule.

Each defect below names the policy that must report it; tests/preview/test_real_pack.py asserts exactly that set.
"""

import json
import sys
from pathlib import Path

import pulumi
import pulumi_aws as aws

sys.path.insert(0, str(Path(__file__).resolve().parents[4]))  # the repository root, for components/

from components.buckets import Tier1Bucket, TieredBucketArgs
from stackmodel.config import parse

settings = parse(
    {
        "primaryRegion": "us-east-1",
        "recoveryRegion": "us-west-2",
        "namePrefix": "defects",
        "alertEmail": "dr@example.com",
        "buckets": [{"name": "media", "tier": 1, "mfaDeleteAttested": "2026-11-01"}],
    }
)
primary = aws.Provider("primary", region="us-east-1")
recovery = aws.Provider("recovery", region="us-west-2")
media = Tier1Bucket(
    "media",
    TieredBucketArgs(
        spec=settings.buckets[0],
        primary_region="us-east-1",
        primary_provider=primary,
        recovery_region="us-west-2",
        recovery_provider=recovery,
        alert_topic_arns={region: f"arn:aws:sns:{region}:123456789012:alerts" for region in ("us-east-1", "us-west-2")},
    ),
)
on_primary = pulumi.ResourceOptions(provider=primary)
TIER2 = {
    "dr:tier": "2",
    "dr:rpo-logical-minutes": "0",
    "dr:rto-logical-minutes": "240",
    "dr:rpo-regional-minutes": "none",
    "dr:rto-regional-minutes": "none",
}

# aws-s3-bucket-mfa-delete-without-lifecycle: a lifecycle on the MFA-delete primary (AWS rejects it at deploy).
aws.s3.BucketLifecycleConfiguration(
    "media-primary-lifecycle",
    bucket="defects-media-us-east-1",
    rules=[{"id": "expire", "status": "Enabled", "filter": {}, "expiration": {"days": 30}}],
    opts=pulumi.ResourceOptions(provider=primary, depends_on=[media]),
)

# aws-kms-key-rotation-enabled
aws.kms.Key("unrotated", enable_key_rotation=False, tags=TIER2, opts=on_primary)

# aws-dynamodb-globaltable-not-legacy
aws.dynamodb.GlobalTable("legacy", name="legacy", replicas=[{"region_name": "us-east-1"}], opts=on_primary)

# aws-iam-role-dr-least-privilege: a runtime role that could switch versioning off and delete buckets.
runtime = aws.iam.Role(
    "too-broad",
    assume_role_policy=json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
    ),
    tags={**TIER2, "dr:role": "runtime"},
    opts=on_primary,
)
aws.iam.RolePolicy(
    "too-broad-policy",
    role=runtime.id,
    policy=json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["s3:PutBucketVersioning"], "Resource": "*"}],
        }
    ),
    opts=on_primary,
)

# aws-route53-record-primary-health-check and aws-route53-record-secondary-exists
aws.route53.Record(
    "api-primary",
    zone_id="Z123",
    name="api.example.com",
    type="CNAME",
    ttl=60,
    records=["api.us-east-1.example.com"],
    set_identifier="primary",
    failover_routing_policies=[{"type": "PRIMARY"}],
    opts=on_primary,
)
