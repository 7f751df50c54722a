"""Validates each restore a restore-testing plan makes, and reports the verdict to AWS Backup.

EventBridge invokes ``lambda_handler`` with every "Restore Job State Change" event of a COMPLETED restore
(components/restore_testing.py). Jobs a restore-testing plan did not create are left alone. The check depends on
what was restored:

- a DynamoDB table: ``Scan(Select="COUNT")`` (``ItemCount`` refreshes only about every 6 h) must find an item,
  and the canary item, when ``CANARY_KEY`` names one (``{"pk": "dr-canary"}`` as JSON), must be there;
- an S3 bucket: the canary object ``CANARY_OBJECT`` (default ``dr-drill/canary``) must exist, else any object.

``PutRestoreValidationResult`` records SUCCESSFUL or FAILED with the reason; the restore-testing plan then deletes
the throw-away resource after its validation window.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from handlers.aws import cached_client

logger = Logger(service="dr-restore-validation")
DEFAULT_CANARY_OBJECT = "dr-drill/canary"


@dataclass(frozen=True)
class Verdict:
    restore_job_id: str
    status: str  # SUCCESSFUL or FAILED (botocore RestoreValidationStatus)
    message: str


def _resource_name(arn: str) -> str:
    if ":table/" in arn:
        return arn.split(":table/", 1)[1].split("/", 1)[0]
    return arn.rsplit(":", 1)[-1]


def check_table(dynamodb: Any, table: str, canary_key: Mapping[str, Any] | None) -> tuple[bool, str]:
    count = dynamodb.scan(TableName=table, Select="COUNT", Limit=1000)["Count"]
    if count == 0:
        return False, f"restored table {table} holds no items"
    if canary_key is not None:
        item = dynamodb.get_item(TableName=table, Key=canary_key, ConsistentRead=True).get("Item")
        if item is None:
            return False, f"restored table {table} lacks the canary item {json.dumps(canary_key)}"
    return True, f"restored table {table} holds items" + (" and the canary" if canary_key else "")


def check_bucket(s3: Any, bucket: str, canary_object: str) -> tuple[bool, str]:
    try:
        s3.head_object(Bucket=bucket, Key=canary_object)
        return True, f"restored bucket {bucket} holds the canary {canary_object}"
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("404", "NoSuchKey", "NotFound"):
            raise
    listed = s3.list_objects_v2(Bucket=bucket, MaxKeys=1).get("KeyCount", 0)
    if listed:
        return False, f"restored bucket {bucket} lacks the canary {canary_object} (it holds other objects)"
    return False, f"restored bucket {bucket} is empty"


def validate_restore(
    backup: Any, dynamodb: Any, s3: Any, restore_job_id: str, canary_key: Mapping[str, Any] | None, canary_object: str
) -> Verdict | None:
    """The verdict on one restore job, reported to AWS Backup; None when no restore-testing plan made it."""
    job = backup.describe_restore_job(RestoreJobId=restore_job_id)
    if not (job.get("CreatedBy") or {}).get("RestoreTestingPlanArn"):
        return None
    if job.get("Status") != "COMPLETED":
        verdict = Verdict(restore_job_id, "FAILED", f"restore ended {job.get('Status')}: {job.get('StatusMessage')}")
    else:
        created = str(job.get("CreatedResourceArn") or "")
        resource_type = job.get("ResourceType")
        if resource_type == "DynamoDB":
            ok, message = check_table(dynamodb, _resource_name(created), canary_key)
        elif resource_type == "S3":
            ok, message = check_bucket(s3, _resource_name(created), canary_object)
        else:
            ok, message = False, f"no validation for resource type {resource_type!r}"
        verdict = Verdict(restore_job_id, "SUCCESSFUL" if ok else "FAILED", message)
    backup.put_restore_validation_result(
        RestoreJobId=restore_job_id, ValidationStatus=verdict.status, ValidationStatusMessage=verdict.message[:1000]
    )
    logger.info("restore validated", extra={"restore_job_id": restore_job_id, "verdict": verdict.status})
    return verdict


def lambda_handler(event: Mapping[str, Any], _context: Any) -> dict[str, Any]:
    detail = event.get("detail") or {}
    job_id = detail.get("restoreJobId")
    if not job_id:
        raise ValueError("event has no detail.restoreJobId (expected a Restore Job State Change event)")
    canary = os.environ.get("CANARY_KEY")
    verdict = validate_restore(
        cached_client("backup"),
        cached_client("dynamodb"),
        cached_client("s3"),
        job_id,
        json.loads(canary) if canary else None,
        os.environ.get("CANARY_OBJECT", DEFAULT_CANARY_OBJECT),
    )
    return {"restoreJobId": job_id, "verdict": verdict.status if verdict else "not a restore test"}
