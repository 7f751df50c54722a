"""The scheduled drill (a Lambda on an EventBridge schedule, ``components/drills.py``) against the deployed stack.

It runs the logical-loss scenarios on every bucket it was deployed with and, when the stack declares FIS templates,
the regional RPO measurement under a replication pause. Objectives come from each bucket's tags
(``dr:rpo-<mode>-minutes`` / ``dr:rto-<mode>-minutes``, docs/contract.md), never from the stack's config, so the
drill judges what is deployed. It writes the JSON report to its log and publishes the figures, plus the drill's
verdict ``DrillPassed{Stack}``, to CloudWatch ``DR/Recovery`` in ``DRILL_METRICS_REGION``; no chart.

Environment: ``DRILL_STACK``, ``DRILL_BUCKETS`` (JSON list of primary bucket names), ``DRILL_FIS_TEMPLATES``
(JSON object, ``s3:<logical>`` -> template id), ``DRILL_METRICS_REGION`` and ``DR_BATCH_REPORT_BUCKET`` (the stack's
reports bucket: every restore the drill runs takes its single-flight lock there, ``dr-locks/<bucket>.json``; without
it the bucket scenarios fail before damaging anything).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from handlers import aws
from handlers.drills.fis import FisTiming
from handlers.drills.model import BucketTarget, Objective, StackTargets
from handlers.drills.report import publish
from handlers.drills.runner import DrillContext, DrillReport, run_drill
from handlers.drills.scenarios import regional, select, tables

logger = Logger()
ClientFactory = Callable[[str, str], Any]
TIER_TAG = "dr:tier"
COMPONENT_TAG = "dr:component"
NOT_COVERED = "none"
MODES = ("logical", "regional")


def objective_tag(kind: str, mode: str) -> str:
    """``dr:<rpo|rto>-<mode>-minutes``: the same keys ``components/tags.py`` writes (a test checks it)."""
    return f"dr:{kind}-{mode}-minutes"


def _minutes(tags: Mapping[str, str], key: str) -> float | None:
    value = tags.get(key)
    if value is None or value == NOT_COVERED:
        return None
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"tag {key}={value!r} is neither minutes nor {NOT_COVERED!r}") from None


def objectives_from_tags(tags: Mapping[str, str]) -> dict[str, Objective]:
    return {
        mode: Objective(_minutes(tags, objective_tag("rpo", mode)), _minutes(tags, objective_tag("rto", mode)))
        for mode in MODES
    }


def bucket_region(s3: Any, bucket: str) -> str:
    # GetBucketLocation answers None for us-east-1 (S3 API Reference, GetBucketLocation).
    return str(s3.get_bucket_location(Bucket=bucket).get("LocationConstraint") or "us-east-1")


def bucket_target(client: ClientFactory, bucket: str, home_region: str) -> BucketTarget:
    """A deployed bucket as the drill's target: objectives and tier from its tags, its replica from its
    replication configuration."""
    s3 = client("s3", home_region)
    region = bucket_region(s3, bucket)
    s3 = client("s3", region)
    try:
        tags = {tag["Key"]: tag["Value"] for tag in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchTagSet":
            raise
        tags = {}
    if TIER_TAG not in tags:
        raise ValueError(f"bucket {bucket} has no {TIER_TAG} tag: its objectives are unknown, so it cannot be judged")
    objectives = objectives_from_tags(tags)
    replica = replica_region = None
    try:
        rules = s3.get_bucket_replication(Bucket=bucket)["ReplicationConfiguration"]["Rules"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "ReplicationConfigurationNotFoundError":
            raise
        rules = []
    if rules:
        replica = str(rules[0]["Destination"]["Bucket"]).split(":::", 1)[-1]
        replica_region = bucket_region(s3, replica)
    return BucketTarget(
        name=tags.get(COMPONENT_TAG, bucket),
        tier=int(tags[TIER_TAG]),
        primary=bucket,
        primary_region=region,
        replica=replica,
        replica_region=replica_region,
        logical=objectives["logical"],
        regional=objectives["regional"],
    )


def scheduled_targets(
    client: ClientFactory, stack: str, buckets: Sequence[str], metrics_region: str, lock_bucket: str | None = None
) -> StackTargets:
    targets = tuple(bucket_target(client, bucket, metrics_region) for bucket in buckets)
    primary = next((t.primary_region for t in targets), metrics_region)
    # The function is deployed with buckets only (components/drills.py): no table or site is drilled on schedule.
    return StackTargets(stack, primary, metrics_region, targets, tables=(), sites=(), lock_bucket=lock_bucket)


def run_scheduled(
    client: ClientFactory,
    *,
    stack: str,
    buckets: Sequence[str],
    fis_templates: Mapping[str, str],
    metrics_region: str,
    lock_bucket: str | None = None,
    timing: FisTiming | None = None,
) -> DrillReport:
    """Drill, publish, and return the report (plain function; ``lambda_handler`` only reads the environment)."""
    targets = scheduled_targets(client, stack, buckets, metrics_region, lock_bucket)
    skipped = {tables.NAME} if not targets.tables else set()
    if not fis_templates:
        skipped.add(regional.FIS_NAME)
    scenarios = [scenario for scenario in select(scheduled_only=True) if scenario.name not in skipped]
    context = DrillContext(
        targets, local=False, client=client, fis_templates=fis_templates, fis_timing=timing or FisTiming()
    )
    context.progress = lambda message: logger.info(message)
    report = run_drill(context, scenarios)
    publish(client("cloudwatch", metrics_region), report)
    return report


def _client(service: str, region: str) -> Any:
    return aws.client(service, region, max_pool_connections=32)


def lambda_handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    report = run_scheduled(
        _client,
        stack=os.environ["DRILL_STACK"],
        buckets=json.loads(os.environ["DRILL_BUCKETS"]),
        fis_templates=json.loads(os.environ.get("DRILL_FIS_TEMPLATES") or "{}"),
        metrics_region=os.environ["DRILL_METRICS_REGION"],
        lock_bucket=os.environ.get("DR_BATCH_REPORT_BUCKET") or None,
    )
    document = report.as_dict()
    logger.info("drill report", extra={"drill_report": document})  # the JSON report, in the function's log
    return document
