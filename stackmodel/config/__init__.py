"""Stack config as pydantic v2 models, one module per store kind.

``stack`` holds the top-level keys and merges every problem into one ``ConfigError``; ``buckets`` the bucket
entries and their tier rules; ``tables`` and ``sites`` are the places later store kinds fill; ``schema`` writes
the JSON Schema editors use for whole stack files.
"""

from stackmodel.config.buckets import BATCH_REPORTS_NAME, BucketSpec, s3_bucket_name_problems
from stackmodel.config.errors import ConfigError
from stackmodel.config.stack import StackConfig, StackSettings, parse, read_config
from stackmodel.regions import region_partitions

__all__ = [
    "BATCH_REPORTS_NAME",
    "BucketSpec",
    "ConfigError",
    "StackConfig",
    "StackSettings",
    "parse",
    "read_config",
    "region_partitions",
    "s3_bucket_name_problems",
]
