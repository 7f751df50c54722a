"""Compliant against the fixture pack, except the absent acl, which the pack's remediation fills in."""

import pulumi
import pulumi_aws as aws

config = pulumi.Config()
tier = config.require("tier")
retention_days = config.require_int("retentionDays")
alarm_email = config.require_secret("alarmEmail")

region = aws.Provider("primary", region=pulumi.Config("aws").require("region"))
bucket = aws.s3.Bucket(
    "audio",
    object_lock_enabled=True,
    tags={"dr:tier": tier, "dr:retention-days": str(retention_days)},
    opts=pulumi.ResourceOptions(provider=region, protect=True),
)
aws.s3.BucketVersioning(
    "audio-versioning",
    bucket=bucket.id,
    versioning_configuration={"status": "Enabled"},
    opts=pulumi.ResourceOptions(provider=region, parent=bucket, ignore_changes=["versioningConfiguration"]),
)
aws.sns.Topic("alerts", opts=pulumi.ResourceOptions(provider=region))
pulumi.export("alarm_email", alarm_email)
pulumi.export("bucket", bucket.id)
