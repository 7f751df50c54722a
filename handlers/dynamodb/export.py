"""Export a table to S3 at a point in time (``ExportTableToPointInTime``): cold copies for offline forensics.

The export reads PITR's continuous backups, so it refuses a table without PITR and a time outside PITR's window
(``EarliestRestorableDateTime`` .. ``LatestRestorableDateTime``). It writes with SSE-KMS under the bucket's own key,
which the bucket's default encryption names: the DR buckets deny anything else. Query an export with Athena
(docs/runbooks/restore-table.md, "Query an export").
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from handlers.aws import client

DEFAULT_PREFIX = "dynamodb-exports"
EXPORT_FORMAT = "DYNAMODB_JSON"


class ExportError(Exception):
    """An export that must not start (no PITR, a time outside the window, a bucket without a KMS key)."""


def bucket_kms_key(s3: Any, bucket: str) -> str:
    """The KMS key of the bucket's default encryption; exports must use it (SSE-KMS only)."""
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    for rule in rules:
        default = rule.get("ApplyServerSideEncryptionByDefault", {})
        if default.get("SSEAlgorithm") == "aws:kms" and default.get("KMSMasterKeyID"):
            return str(default["KMSMasterKeyID"])
    raise ExportError(f"bucket {bucket} has no SSE-KMS default encryption with a customer-managed key")


def pitr_window(dynamodb: Any, table: str) -> tuple[datetime, datetime]:
    description = dynamodb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    pitr = description.get("PointInTimeRecoveryDescription", {})
    if pitr.get("PointInTimeRecoveryStatus") != "ENABLED":
        raise ExportError(f"table {table} has no point-in-time recovery; an export needs PITR")
    return pitr["EarliestRestorableDateTime"].astimezone(UTC), pitr["LatestRestorableDateTime"].astimezone(UTC)


def export_table(
    dynamodb: Any,
    s3: Any,
    table: str,
    bucket: str,
    *,
    to: datetime | None = None,
    prefix: str = DEFAULT_PREFIX,
) -> dict[str, Any]:
    """Start one export of ``table`` at ``to`` (default: PITR's latest restorable time); idempotent per time."""
    earliest, latest = pitr_window(dynamodb, table)
    point = (to or latest).astimezone(UTC)
    if not earliest <= point <= latest:
        raise ExportError(
            f"{point.isoformat()} is outside {table}'s PITR window ({earliest.isoformat()} to {latest.isoformat()})"
        )
    table_arn = dynamodb.describe_table(TableName=table)["Table"]["TableArn"]
    key = bucket_kms_key(s3, bucket)
    stamp = point.strftime("%Y%m%dT%H%M%SZ")
    # Same table, time and bucket: the same token, so a retried request never starts a second export.
    token = hashlib.sha256(f"{table_arn}|{stamp}|{bucket}|{prefix}".encode()).hexdigest()[:64]
    description = dynamodb.export_table_to_point_in_time(
        TableArn=table_arn,
        ExportTime=point,
        S3Bucket=bucket,
        S3Prefix=f"{prefix}/{stamp}",
        S3SseAlgorithm="KMS",
        S3SseKmsKeyId=key,
        ExportFormat=EXPORT_FORMAT,
        ClientToken=token,
    )["ExportDescription"]
    return {
        "table": table,
        "export_arn": description["ExportArn"],
        "status": description.get("ExportStatus"),
        "export_time": point.isoformat(),
        "bucket": bucket,
        "prefix": f"{prefix}/{stamp}",
        "kms_key": key,
        "endpoint": os.environ.get("AWS_ENDPOINT_URL"),  # set when running against an emulator
    }


logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "dr-export"))


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The scheduled export (GlobalTable's ``export``): the latest restorable time of ``EXPORT_TABLE``."""
    result = export_table(
        client("dynamodb"),
        client("s3"),
        os.environ["EXPORT_TABLE"],
        os.environ["EXPORT_BUCKET"],
        prefix=os.environ.get("EXPORT_PREFIX", DEFAULT_PREFIX),
    )
    logger.info("export started", extra=result)
    return result
