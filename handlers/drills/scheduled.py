"""The scheduled drill against the deployed stack: steps of a Step Functions workflow (``components/drills.py``) that
an EventBridge schedule starts, each one invocation of this Lambda (``lambda_handler``, event ``{"step": ...}``):

- ``preflight``: the stores to drill and any active FIS experiment of this stack (``fis.running_drill_experiments``
  in each template Region); one active makes the workflow end as ``DrillSkipped``, logged here with what is active;
- ``drill`` (``{"bucket": <primary>}``): one bucket, with the function's whole timeout to itself; its scenario
  figures are published, not the stack's verdict;
- ``verdict`` (``{"results": [...]}``): ``DrillPassed{Stack}`` = every store passed (a store whose invocation failed
  or timed out arrives as ``passed: false``).

``run_scheduled`` drills every bucket in one call (tests, and a manual run that fits one timeout).

Each bucket gets the logical-loss scenarios and, when the stack declares FIS templates, the regional RPO
measurement under a replication pause. Objectives come from each bucket's tags
(``dr:rpo-<mode>-minutes`` / ``dr:rto-<mode>-minutes``, docs/contract.md), never from the stack's config, so the
drill judges what is deployed. It writes the JSON report to its log and publishes the figures, plus the drill's
verdict ``DrillPassed{Stack}``, to CloudWatch ``DR/Recovery`` in ``DRILL_METRICS_REGION``; no chart.

Environment: ``DRILL_STACK``, ``DRILL_BUCKETS`` (JSON list of primary bucket names), ``DRILL_FIS_TEMPLATES``
(JSON object, ``s3:<logical>`` -> template id), ``DRILL_FIS_REGIONS`` (JSON list: where those templates live),
``DRILL_METRICS_REGION`` and ``DR_BATCH_REPORT_BUCKET`` (the stack's
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
from handlers.drills.fis import FisTiming, running_drill_experiments
from handlers.drills.model import BucketTarget, Objective, StackTargets
from handlers.drills.report import publish, publish_verdict
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
    verdict: bool = True,
) -> DrillReport:
    """Drill, publish, and return the report (plain function; ``lambda_handler`` only reads the environment).
    ``verdict`` off: a part of a run (one store), whose stack verdict the workflow's ``verdict`` step publishes."""
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
    publish(client("cloudwatch", metrics_region), report, verdict=verdict)
    return report


def preflight(
    client: ClientFactory,
    *,
    stack: str,
    buckets: Sequence[str],
    fis_templates: Mapping[str, str],
    regions: Sequence[str],
) -> dict[str, Any]:
    """The stores to drill, and whether to skip: an experiment of this stack still active in a template Region (a
    manual drill, or one a ``pulumi up`` is waiting for) would overlap the run's own pauses."""
    templates = set(fis_templates.values())
    active = {region: running_drill_experiments(client("fis", region), templates) for region in regions}
    active = {region: found for region, found in active.items() if found}
    if active:
        logger.warning(
            "drill skipped: FIS experiments of this stack are active", extra={"stack": stack, "active": active}
        )
    return {"stack": stack, "stores": list(buckets), "skip": bool(active), "active": active}


def verdict(
    client: ClientFactory, *, stack: str, results: Sequence[Mapping[str, Any]], metrics_region: str
) -> dict[str, Any]:
    """``DrillPassed{Stack}`` from every store's result; no store at all is no pass."""
    failed = [str(result.get("bucket")) for result in results if result.get("passed") is not True]
    passed = bool(results) and not failed
    publish_verdict(client("cloudwatch", metrics_region), stack, passed)
    logger.info("drill verdict", extra={"stack": stack, "passed": passed, "failed_stores": failed})
    return {"stack": stack, "passed": passed, "stores": len(results), "failed_stores": failed}


def _client(service: str, region: str) -> Any:
    return aws.client(service, region, max_pool_connections=32)


STEPS = ("preflight", "drill", "verdict")


def lambda_handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    step = event.get("step")
    if step not in STEPS:
        raise ValueError(f"event key 'step' must be one of {', '.join(STEPS)} (the drill workflow's), got {step!r}")
    stack, metrics_region = os.environ["DRILL_STACK"], os.environ["DRILL_METRICS_REGION"]
    buckets = json.loads(os.environ["DRILL_BUCKETS"])
    fis_templates = json.loads(os.environ.get("DRILL_FIS_TEMPLATES") or "{}")
    if step == "preflight":
        regions = json.loads(os.environ.get("DRILL_FIS_REGIONS") or "[]")
        return preflight(_client, stack=stack, buckets=buckets, fis_templates=fis_templates, regions=regions)
    if step == "verdict":
        results = event.get("results")
        if not isinstance(results, list):
            raise ValueError("event key 'results' must be the list of the stores' results")
        return verdict(_client, stack=stack, results=results, metrics_region=metrics_region)
    bucket = event.get("bucket")
    if not isinstance(bucket, str) or bucket not in buckets:
        raise ValueError(f"event key 'bucket' must be one of the drilled buckets {buckets}, got {bucket!r}")
    report = run_scheduled(
        _client,
        stack=stack,
        buckets=[bucket],
        fis_templates=fis_templates,
        metrics_region=metrics_region,
        lock_bucket=os.environ.get("DR_BATCH_REPORT_BUCKET") or None,
        verdict=False,
    )
    document = report.as_dict()
    logger.info("drill report", extra={"drill_report": document})  # the JSON report, in the function's log
    return {"bucket": bucket, "passed": report.passed, "drill_id": report.drill_id}
