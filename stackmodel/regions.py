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
