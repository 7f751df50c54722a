"""Regions and their partitions, from botocore's bundled partition data (offline, no API call).

Config validates regions against this table and ``components.arns`` takes every ARN's partition from it, so an
ISO or EU sovereign region gets its own ``arn:<partition>:`` prefix instead of a guessed one.
"""

from __future__ import annotations

from functools import cache

import botocore.loaders


@cache
def region_partitions() -> dict[str, str]:
    """Region name -> partition name (``aws``, ``aws-cn``, ``aws-us-gov``, ``aws-iso``, ...)."""
    data = botocore.loaders.Loader().load_data("partitions")
    return {
        region: partition["outputs"]["name"]
        for partition in data["partitions"]
        for region in partition["regions"]
        if not region.endswith("-global")  # pseudo-regions for global endpoints, never a place to deploy
    }


def partition(region: str) -> str:
    try:
        return region_partitions()[region]
    except KeyError:
        raise ValueError(f"unknown AWS region {region!r}") from None


# ---------------------------------------------------------------------------------------------------------------
# AWS Backup by Region: AWS Backup Developer Guide, "AWS Backup feature availability"
# (https://docs.aws.amazon.com/aws-backup/latest/devguide/backup-feature-availability.html). The stored copy read
# here keeps the text and footnotes but not the tables' column layout, so a feature is encoded per Region only where
# the text names the Regions or where a row checks every column.

# "Feature availability by AWS Region": the Regions AWS Backup lists (a botocore Region not listed has no entry).
AWS_BACKUP_REGIONS = frozenset(
    {
        *("us-east-1", "us-east-2", "us-west-1", "us-west-2", "af-south-1", "ap-east-1", "ap-east-2"),
        *("ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ap-south-2", "ap-southeast-1"),
        *("ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5", "ap-southeast-6", "ap-southeast-7"),
        *("ca-central-1", "ca-west-1", "eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2"),
        *("eu-west-1", "eu-west-2", "eu-west-3", "il-central-1", "me-central-1", "me-south-1", "mx-central-1"),
        *("sa-east-1", "cn-north-1", "cn-northwest-1", "us-gov-east-1", "us-gov-west-1", "eusc-de-east-1"),
    }
)
# The logically air-gapped vault's page ("Compare and contrast with a standard backup vault", Regions): "Not
# currently available in Asia Pacific (Malaysia), Canada West (Calgary), China (Beijing), China (Ningxia), AWS
# GovCloud (US-East), or AWS GovCloud (US-West)".
AIR_GAPPED_VAULT_UNAVAILABLE = frozenset(
    {"ap-southeast-5", "ca-west-1", "cn-north-1", "cn-northwest-1", "us-gov-east-1", "us-gov-west-1"}
)
# Footnote 1 of "Feature availability by AWS Region": "Cross-Region and cross-account copy to a logically air-gapped
# vault is not currently available in" those and Mexico (Central), Asia Pacific (Thailand), (Taipei), (New Zealand).
AIR_GAPPED_COPY_IN_UNAVAILABLE = AIR_GAPPED_VAULT_UNAVAILABLE | {
    "mx-central-1",
    "ap-southeast-7",
    "ap-east-2",
    "ap-southeast-6",
}
# Restore testing: every commercial row of "Feature availability by AWS Region" checks every feature except seven,
# and the document history (2026-07-14, "Restore testing Regional expansion") adds restore testing in exactly those
# seven: Taipei, New Zealand, Malaysia, Thailand, Calgary, Tel Aviv, Mexico (Central). The China, GovCloud and
# European Sovereign Cloud rows lack features the stored copy does not attribute: not confirmed, so refused.
RESTORE_TESTING_REGIONS = frozenset(r for r in AWS_BACKUP_REGIONS if partition(r) == "aws")
# AWS Backup for S3: "Supported services by AWS Region" has an Amazon S3 column (S3 is not among the types offered
# wherever AWS Backup is). The Regions whose row checks every service are certain; for the others the stored copy
# does not say which service a row lacks, so they are not confirmed and refused (add a Region here after reading
# its row on the page).
S3_BACKUP_REGIONS = frozenset({"us-east-1", "us-east-2", "us-west-2", "ap-northeast-1", "eu-central-1", "eu-west-1"})
