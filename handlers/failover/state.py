"""The site's state and single-flight lock, in the recovery region's lock table (DynamoDB conditional writes).

Two items: ``state`` (phase, consecutive failures, when the primary turned healthy again) and ``lock`` (who holds
it until when). Conditional writes make concurrent runs agree: only one acquires the lock, and a failure count is
raised only from the value a run read, so two runs never count one round twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

PRIMARY, FAILED_OVER = "primary", "failed-over"
LOCK_SECONDS = 300  # longer than a run (90 s) and a failback step; expired locks are taken over


@dataclass(frozen=True)
class State:
    phase: str = PRIMARY
    failures: int = 0  # consecutive failed rounds of the primary
    first_failure_at: float | None = None
    failed_over_at: float | None = None
    primary_healthy_since: float | None = None  # while failed over: since when every probe of the primary passed
    version: int = 0  # optimistic concurrency


def _conditional_failed(error: ClientError) -> bool:
    return error.response["Error"]["Code"] == "ConditionalCheckFailedException"


class SiteStore:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self.dynamodb, self.table = dynamodb, table

    def read(self) -> State:
        item = self.dynamodb.get_item(TableName=self.table, Key={"pk": {"S": "state"}}, ConsistentRead=True).get("Item")
        if not item:
            return State()

        def number(key: str) -> float | None:
            return float(item[key]["N"]) if key in item else None

        return State(
            phase=item["phase"]["S"],
            failures=int(number("failures") or 0),
            first_failure_at=number("first_failure_at"),
            failed_over_at=number("failed_over_at"),
            primary_healthy_since=number("primary_healthy_since"),
            version=int(number("version") or 0),
        )

    def write(self, previous: State, new: State) -> bool:
        """Replace the state only if nobody changed it since ``previous`` was read."""
        item: dict[str, Any] = {
            "pk": {"S": "state"},
            "phase": {"S": new.phase},
            "failures": {"N": str(new.failures)},
            "version": {"N": str(previous.version + 1)},
        }
        for key in ("first_failure_at", "failed_over_at", "primary_healthy_since"):
            value = getattr(new, key)
            if value is not None:
                item[key] = {"N": repr(float(value))}
        condition = "attribute_not_exists(pk)" if previous.version == 0 else "version = :version"
        values = {} if previous.version == 0 else {":version": {"N": str(previous.version)}}
        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item=item,
                ConditionExpression=condition,
                **({"ExpressionAttributeValues": values} if values else {}),
            )
        except ClientError as error:
            if _conditional_failed(error):
                return False
            raise
        return True

    def acquire(self, owner: str, now: datetime) -> bool:
        until = now.timestamp() + LOCK_SECONDS
        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item={"pk": {"S": "lock"}, "owner": {"S": owner}, "until": {"N": repr(until)}},
                ConditionExpression="attribute_not_exists(pk) OR #until < :now OR #owner = :owner",
                ExpressionAttributeNames={"#until": "until", "#owner": "owner"},
                ExpressionAttributeValues={":now": {"N": repr(now.timestamp())}, ":owner": {"S": owner}},
            )
        except ClientError as error:
            if _conditional_failed(error):
                return False
            raise
        return True

    def release(self, owner: str) -> None:
        try:
            self.dynamodb.delete_item(
                TableName=self.table,
                Key={"pk": {"S": "lock"}},
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": {"S": owner}},
            )
        except ClientError as error:
            if not _conditional_failed(error):
                raise
