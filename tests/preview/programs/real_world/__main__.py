"""Programs written the way public Pulumi Python programs are, not the way this repository's components are.

The stack's `scenario` picks one:
- resource-reference: resource objects passed as inputs (role=role, bucket=bucket), as the SDK allows;
- unanswered-invokes: a data source offline-preview cannot answer, whose result a resource then needs;
- answered-invokes: common data sources, a user-answered invoke and a StackReference;
- explicit-false: PITR explicitly off (the pack must not flip it) beside PITR left absent (remediated);
- inline-bucket: a compliant pulumi-aws v7 bucket declared with inline arguments;
- databases: an RDS instance and an Aurora cluster, one protected, one not;
- blocks: an input that never resolves (offline-preview must stop it and name the resource);
- failing-invokes: a program that fails on an unanswered invoke's value (json.loads of a secret), beside a
  StackReference without answers;
- run-error: a config check that ends with pulumi.RunError.
"""

import asyncio
import json

import pulumi
import pulumi_aws as aws

scenario = pulumi.Config().require("scenario")
provider = aws.Provider("primary", region="us-east-1")
opts = pulumi.ResourceOptions(provider=provider)
TIER_TAGS = {
    "dr:tier": "2",
    "dr:rpo-logical-minutes": "0",
    "dr:rto-logical-minutes": "240",
    "dr:rpo-regional-minutes": "none",
    "dr:rto-regional-minutes": "none",
}

if scenario == "resource-reference":
    role = aws.iam.Role(
        "app-role",
        assume_role_policy=json.dumps({"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}),
        opts=opts,
    )
    aws.iam.RolePolicyAttachment(
        "app-readonly", role=role, policy_arn="arn:aws:iam::aws:policy/ReadOnlyAccess", opts=opts
    )
    bucket = aws.s3.Bucket("site", opts=opts)
    aws.s3.BucketPolicy("site-policy", bucket=bucket, policy=bucket.arn.apply(lambda arn: "{}"), opts=opts)
    pulumi.export("role", role.name)

elif scenario == "unanswered-invokes":
    function = aws.lambda_.get_function(function_name="orders-handler")
    aws.lambda_.Permission(
        "invoke-from-s3", action="lambda:InvokeFunction", function=function.arn, principal="s3.amazonaws.com", opts=opts
    )

elif scenario == "answered-invokes":
    zones = aws.get_availability_zones(state="available")
    zone = aws.route53.get_zone(name="example.com")
    ami = aws.ec2.get_ami(most_recent=True, owners=["amazon"])
    function = aws.lambda_.get_function(function_name="orders-handler")
    network = pulumi.StackReference("acme/network/prod")
    other = pulumi.StackReference("acme/other/prod")
    aws.route53.Record(
        "www", zone_id=zone.zone_id, name="www.example.com", type="A", ttl=60, records=["192.0.2.1"], opts=opts
    )
    aws.ec2.Instance(
        "web", ami=ami.id, instance_type="t3.micro", availability_zone=zones.names[0],
        subnet_id=network.get_output("subnetId"), opts=opts,
    )  # fmt: skip
    pulumi.export("function", function.arn)
    pulumi.export("other", other.get_output("anything"))

elif scenario == "explicit-false":
    for name, pitr in (("ledger", {"enabled": False}), ("sessions", None)):
        aws.dynamodb.Table(
            name,
            attributes=[{"name": "pk", "type": "S"}],
            hash_key="pk",
            billing_mode="PAY_PER_REQUEST",
            point_in_time_recovery=pitr,
            deletion_protection_enabled=True,
            tags={**TIER_TAGS, "dr:rpo-logical-minutes": "none", "dr:rto-logical-minutes": "none"},
            opts=opts,
        )

elif scenario == "inline-bucket":
    key = aws.kms.Key("media-key", enable_key_rotation=True, opts=opts)
    media = aws.s3.Bucket(
        "media",
        object_lock_enabled=True,
        versioning={"enabled": True},
        server_side_encryption_configuration={
            "rule": {
                "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": key.arn}
            }
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
                        "Resource": ["arn:aws:s3:::media", "arn:aws:s3:::media/*"],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ],
            }
        ),
        tags=TIER_TAGS,
        opts=opts,
    )
    aws.s3.BucketPublicAccessBlock(
        "media-pab", bucket=media.id, block_public_acls=True, block_public_policy=True, ignore_public_acls=True,
        restrict_public_buckets=True, opts=opts,
    )  # fmt: skip

elif scenario == "databases":
    aws.rds.Instance(
        "orders-db",
        engine="postgres",
        instance_class="db.t4g.micro",
        allocated_storage=20,
        username="app",
        manage_master_user_password=True,
        backup_retention_period=35,
        deletion_protection=True,
        final_snapshot_identifier="orders-db-final",
        copy_tags_to_snapshot=True,
        tags={"dr:tier": "1"},
        opts=opts,
    )
    cluster = aws.rds.Cluster(
        "ledger",
        engine="aurora-postgresql",
        master_username="app",
        manage_master_user_password=True,
        backup_retention_period=7,
        skip_final_snapshot=True,
        tags={"dr:tier": "2"},
        opts=opts,
    )
    aws.rds.ClusterInstance(
        "ledger-1", cluster_identifier=cluster.id, instance_class="db.r6g.large", engine="aurora-postgresql", opts=opts
    )

elif scenario == "blocks":
    never = asyncio.get_event_loop().create_future()
    aws.s3.Bucket("stuck", bucket=pulumi.Output.from_input(never), opts=opts)

elif scenario == "failing-invokes":
    network = pulumi.StackReference("acme/network/prod")
    settings = json.loads(aws.secretsmanager.get_secret_version(secret_id="db-settings").secret_string)
    aws.rds.Instance("db", engine=settings["engine"], instance_class="db.t4g.micro", opts=opts)

elif scenario == "run-error":
    raise pulumi.RunError("invalid stack config (1 problem(s)):\n  - buckets[0].tier: must be 1, 2 or 3, got 4")
