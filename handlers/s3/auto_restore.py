"""Delete auto-restore: reverses ``s3:ObjectRemoved:DeleteMarkerCreated`` on protected prefixes.

For each deleted key it makes the newest data version current again, with the restore module's per-key
planning and requests (``handlers.s3.restore``), so copy and undelete logic live in one place:

- on an MFA-delete bucket removing the marker is a versioned delete that needs the root user's MFA code,
  and on a replicated bucket the replica would keep its marker, so the newest version is copied back;
- elsewhere the delete markers are removed (no data copied, version id kept), unless
  ``ALLOW_MARKER_REMOVAL=false`` (a role without ``s3:DeleteObjectVersion``).

Idempotent: a key whose current version is live (restored earlier, or rewritten since) is left alone.
Every restore is logged and sent to ``ALERT_TOPIC_ARN``.

Environment: ``PROTECTED_PREFIXES`` (a JSON list of literal key prefixes, since S3 keys may contain commas;
``""`` protects the whole bucket), ``ALERT_TOPIC_ARN``, ``ALLOW_MARKER_REMOVAL`` (default true). A missing or
malformed ``PROTECTED_PREFIXES`` fails the cold start, naming the variable.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from botocore.exceptions import BotoCoreError, ClientError

from handlers import aws
from handlers.s3.restore import (
    Action,
    BucketProtection,
    KeyHistory,
    copy_version,
    iter_key_histories,
    plan_make_current,
    read_bucket_protection,
    remove_delete_markers,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "dr-auto-restore"))
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "DisasterRecovery"))

DELETE_MARKER_CREATED = "ObjectRemoved:DeleteMarkerCreated"


@dataclass(frozen=True)
class DeletedKey:
    bucket: str
    key: str
    marker_version_id: str | None
    event_time: str

    @classmethod
    def from_record(cls, record: S3EventRecord) -> DeletedKey:
        return cls(
            bucket=record.s3.bucket.name,
            key=unquote_plus(record.s3.get_object.key),  # event keys are URL-encoded, spaces as "+"
            marker_version_id=record.s3.get_object.version_id,
            event_time=record.event_time,
        )


@dataclass(frozen=True)
class Outcome:
    bucket: str
    key: str
    result: str  # undeleted | copied | already-live | nothing-to-restore | not-protected
    restored_version_id: str | None = None
    new_version_id: str | None = None
    reason: str | None = None


PROTECTED_PREFIXES = "PROTECTED_PREFIXES"


def parse_prefixes(value: str | None) -> tuple[str, ...]:
    """``PROTECTED_PREFIXES``: a JSON list of literal key prefixes (no globs); ``""`` is the whole bucket."""
    if value is None:
        raise ValueError(f'{PROTECTED_PREFIXES} is not set: give a JSON list of key prefixes ([""] = whole bucket)')
    try:
        prefixes = json.loads(value)
    except json.JSONDecodeError as error:
        raise ValueError(f"{PROTECTED_PREFIXES} is not valid JSON ({error.msg}): {value!r}") from None
    if not isinstance(prefixes, list) or not all(isinstance(prefix, str) for prefix in prefixes):
        raise ValueError(f"{PROTECTED_PREFIXES} must be a JSON list of strings, got {value!r}")
    return tuple(prefixes)


def is_protected(key: str, prefixes: tuple[str, ...]) -> bool:
    return any(key.startswith(prefix) for prefix in prefixes)  # "" prefixes every key


def key_history(s3: Any, bucket: str, key: str) -> KeyHistory | None:
    # Keys are listed in order and ``key`` sorts first among keys it prefixes, so one page is enough.
    return next((h for h in iter_key_histories(s3, bucket, prefix=key) if h.key == key), None)


def reverse_delete(
    s3: Any, deleted: DeletedKey, protection: BucketProtection, *, allow_marker_removal: bool = True
) -> Outcome:
    """Make the newest data version of ``deleted.key`` current again (at most one write request)."""
    history = key_history(s3, deleted.bucket, deleted.key)
    if history is not None and not history.current.is_delete_marker:
        return Outcome(deleted.bucket, deleted.key, "already-live")
    wanted = history.newest_data_version() if history is not None else None
    if history is None or wanted is None:
        return Outcome(deleted.bucket, deleted.key, "nothing-to-restore")
    plan = plan_make_current(
        history,
        wanted,
        undelete_allowed=allow_marker_removal and protection.undelete_allowed(),
        delete_unwanted=False,
    )
    if plan.action is Action.UNDELETE:
        _, failed = remove_delete_markers(s3, deleted.bucket, [plan])
        if failed:
            raise RuntimeError(f"could not remove delete markers of {deleted.key}: {failed[deleted.key]}")
        return Outcome(deleted.bucket, deleted.key, "undeleted", wanted.version_id, wanted.version_id)
    new_version = copy_version(s3, deleted.bucket, wanted, deleted.bucket, deleted.key)
    reason = protection.copy_reason() or "marker removal not allowed for this function"
    return Outcome(deleted.bucket, deleted.key, "copied", wanted.version_id, new_version, reason)


def alert(sns: Any, topic_arn: str | None, outcome: Outcome) -> None:
    if not topic_arn:
        logger.warning("ALERT_TOPIC_ARN is not set; no alert sent", extra={"outcome": asdict(outcome)})
        return
    try:
        sns.publish(
            TopicArn=topic_arn,
            Subject=f"DR auto-restore: s3://{outcome.bucket} key {outcome.result}"[:100],
            Message=json.dumps(asdict(outcome), sort_keys=True),
        )
    except (ClientError, BotoCoreError):
        # Not raised: a retried invocation finds the key live and would not alert again anyway.
        logger.exception("auto-restore alert failed", extra={"outcome": asdict(outcome)})
        metrics.add_metric(name="AutoRestoreAlertFailures", unit=MetricUnit.Count, value=1)


if "AWS_LAMBDA_FUNCTION_NAME" in os.environ:  # in the Lambda runtime: a bad value fails the cold start
    parse_prefixes(os.environ.get(PROTECTED_PREFIXES))


@cache
def _clients() -> tuple[Any, Any]:
    return aws.client("s3"), aws.client("sns")  # created once per warm container


@logger.inject_lambda_context
@metrics.log_metrics
@event_source(data_class=S3Event)
def lambda_handler(event: S3Event, context: LambdaContext) -> dict[str, Any]:
    s3, sns = _clients()
    prefixes = parse_prefixes(os.environ.get(PROTECTED_PREFIXES))
    allow_marker_removal = os.environ.get("ALLOW_MARKER_REMOVAL", "true").lower() != "false"
    topic_arn = os.environ.get("ALERT_TOPIC_ARN")
    protections: dict[str, BucketProtection] = {}
    outcomes = []
    for record in event.records:
        if not record.event_name.endswith(DELETE_MARKER_CREATED):
            continue
        deleted = DeletedKey.from_record(record)
        if not is_protected(deleted.key, prefixes):
            outcomes.append(Outcome(deleted.bucket, deleted.key, "not-protected"))
            continue
        if deleted.bucket not in protections:
            protections[deleted.bucket] = read_bucket_protection(s3, deleted.bucket)
        outcome = reverse_delete(s3, deleted, protections[deleted.bucket], allow_marker_removal=allow_marker_removal)
        logger.info("auto-restore", extra={"outcome": asdict(outcome), "event_time": deleted.event_time})
        if outcome.result in {"undeleted", "copied"}:
            metrics.add_metric(name="AutoRestoredKeys", unit=MetricUnit.Count, value=1)
            alert(sns, topic_arn, outcome)
        outcomes.append(outcome)
    metrics.add_metric(name="DeleteEventsHandled", unit=MetricUnit.Count, value=len(outcomes))
    return {"outcomes": [asdict(outcome) for outcome in outcomes]}
