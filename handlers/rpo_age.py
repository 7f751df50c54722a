"""The RPO-age metric: seconds since the newest recovery point, for tables and buckets, against the declared RPO.

Published to CloudWatch ``DR/Recovery`` (``handlers.metrics``) as ``RecoveryPointAgeSeconds``:

- a table: its PITR ``LatestRestorableDateTime``, else its newest available backup;
- a replicated bucket: ``ReplicationLatency`` as S3 reports it (needs replication metrics or RTC on the rule).
  S3 publishes that metric in the **destination** bucket's Region ("Using S3 Replication metrics", column "Which
  Region is this metric published in?"), so the age is read and published there, beside the replica: the
  regional-RPO signal survives the loss of the source Region. When S3 has published nothing the age is unknown
  and nothing is published, which the alarm treats as breaching.

The declared RPO is read from the resource's tags. The alarms are stack resources (components/buckets.py); this
module upserts one only when asked (``RpoAlarm.ensure``, ``drctl backup --ensure-alarms``), for resources the
stack does not deploy. The scheduled Lambda (``lambda_handler``) never does: it has no ``PutMetricAlarm``. It
covers the buckets in ``RPO_BUCKETS`` and the tables in ``RPO_TABLES`` (both comma-separated) in
``BACKUP_REGIONS``; the table backup run (``handlers.dynamodb.backups``) reports each table's age right after it
backs the table up.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from handlers.aws import cached_client
from handlers.metrics import NAMESPACE, publish_metrics
from handlers.runtime_names import (
    RPO_AGE_METRIC,
    RPO_ALARM_PERIOD_SECONDS,
    TABLE_BACKUP_RESOURCE_TYPE,
    TABLE_PITR_RESOURCE_TYPE,
    rpo_alarm_name,
    rpo_dimensions,
)

RPO_TAG_TABLE = "dr:rpo-logical-minutes"  # a table's backups protect against logical loss
RPO_TAG_BUCKET = "dr:rpo-regional-minutes"  # a bucket's replica protects against regional loss
# AWS documents LatestRestorableDateTime as typically ~5 minutes behind now, so a PITR table's alarm
# threshold is never below that, even for a declared RPO of 0.
PITR_LAG_ALLOWANCE_SECONDS = 300
DEFAULT_ALARM_PERIOD_SECONDS = RPO_ALARM_PERIOD_SECONDS
REPLICATION_LATENCY_LOOKBACK = timedelta(minutes=30)

ClientFactory = Callable[[str, str], Any]


@dataclass(frozen=True)
class RpoAlarm:
    """Whether to upsert the RPO alarms (off unless asked: the stack owns its alarms), where they notify (a
    topic in the alarm's own Region), and their period (run the schedule at least twice per period: missing
    data breaches the alarm)."""

    topic_arn: str | None = None
    period_seconds: int = DEFAULT_ALARM_PERIOD_SECONDS
    ensure: bool = False


def declared_rpo_seconds(tags: Mapping[str, str], tag: str) -> int | None:
    value = tags.get(tag)
    if value is None or value == "none":
        return None
    return int(value) * 60


def table_recovery_point_age(
    dynamodb: Any, table: str, backup_times: Iterable[datetime], now: datetime
) -> tuple[float | None, str]:
    """``backup_times``: creation times of the table's available backups (the fallback without PITR)."""
    pitr = dynamodb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    description = pitr.get("PointInTimeRecoveryDescription", {})
    latest = description.get("LatestRestorableDateTime")
    if description.get("PointInTimeRecoveryStatus") == "ENABLED" and latest is not None:
        return max(0.0, (now - latest.astimezone(UTC)).total_seconds()), "pitr"
    available = list(backup_times)
    if available:
        return max(0.0, (now - max(available)).total_seconds()), "backup"
    return None, "none"


def replication_destinations(s3: Any, bucket: str) -> list[tuple[str, str]] | None:
    """(destination bucket, rule id) of each enabled rule; None when the bucket is not replicated."""
    try:
        rules = s3.get_bucket_replication(Bucket=bucket)["ReplicationConfiguration"]["Rules"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "ReplicationConfigurationNotFoundError":
            return None
        raise
    return [
        (rule["Destination"]["Bucket"].split(":::")[-1], rule.get("ID", ""))
        for rule in rules
        if rule.get("Status") == "Enabled"
    ]


def bucket_recovery_point_age(
    cloudwatch: Any, bucket: str, destinations: Iterable[tuple[str, str]], now: datetime
) -> tuple[float | None, str]:
    """Replication lag S3 reported over the last minutes, the worst rule wins; None when unknown.

    ``cloudwatch`` must be in the destinations' Region: S3 publishes ``ReplicationLatency`` nowhere else."""
    worst: float | None = None
    for destination, rule_id in destinations:
        datapoints = cloudwatch.get_metric_statistics(
            Namespace="AWS/S3",
            MetricName="ReplicationLatency",
            Dimensions=[
                {"Name": "SourceBucket", "Value": bucket},
                {"Name": "DestinationBucket", "Value": destination},
                {"Name": "RuleId", "Value": rule_id},
            ],
            StartTime=now - REPLICATION_LATENCY_LOOKBACK,
            EndTime=now,
            Period=60,
            Statistics=["Maximum"],
        )["Datapoints"]
        if datapoints:
            newest = max(datapoints, key=lambda point: point["Timestamp"])
            worst = max(worst or 0.0, float(newest["Maximum"]))
    return worst, ("replication-latency" if worst is not None else "no-replication-metrics")


def ensure_rpo_alarm(
    cloudwatch: Any,
    dimensions: Mapping[str, str],
    threshold_seconds: int,
    period_seconds: int,
    topic_arn: str | None,
) -> str:
    """An upsert by name. Missing data breaches: a silent orchestrator is itself an RPO risk."""
    name = rpo_alarm_name(dict(dimensions))
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        AlarmDescription=f"Newest recovery point older than the declared RPO ({threshold_seconds} s)",
        Namespace=NAMESPACE,
        MetricName=RPO_AGE_METRIC,
        Dimensions=[{"Name": key, "Value": value} for key, value in dimensions.items()],
        Statistic="Maximum",
        Period=period_seconds,
        EvaluationPeriods=1,
        Threshold=float(threshold_seconds),
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="breaching",
        AlarmActions=[topic_arn] if topic_arn else [],
    )
    return name


def report_rpo(
    cloudwatch: Any,
    alarm: RpoAlarm,
    dimensions: dict[str, str],
    age: float | None,
    rpo_seconds: int | None,
    now: datetime,
    minimum_threshold: int = 0,
) -> dict[str, Any]:
    """Publish the age (when known) and judge it against the declared RPO; upsert the alarm only when asked."""
    if age is not None:
        publish_metrics(cloudwatch, {RPO_AGE_METRIC: age}, dimensions, unit="Seconds", timestamp=now)
    result: dict[str, Any] = {"rpo_age_seconds": age, "rpo_seconds": rpo_seconds, "alarm": None}
    if rpo_seconds is not None:
        threshold = max(rpo_seconds, minimum_threshold)
        if alarm.ensure:
            result["alarm"] = ensure_rpo_alarm(cloudwatch, dimensions, threshold, alarm.period_seconds, alarm.topic_arn)
        result["alarm_threshold_seconds"] = threshold
        result["rpo_met"] = age is not None and age <= threshold
    return result


def resource_tags(dynamodb: Any, arn: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for page in dynamodb.get_paginator("list_tags_of_resource").paginate(ResourceArn=arn):
        tags.update({tag["Key"]: tag["Value"] for tag in page.get("Tags", [])})
    return tags


def table_rpo(
    dynamodb: Any,
    cloudwatch: Any,
    alarm: RpoAlarm,
    table: str,
    region: str,
    now: datetime,
    backup_times: Iterable[datetime] = (),
    table_arn: str | None = None,
) -> dict[str, Any]:
    """One table's RPO age and alarm; ``recovery_point`` says what the age was measured from."""
    arn = table_arn or dynamodb.describe_table(TableName=table)["Table"]["TableArn"]
    age, kind = table_recovery_point_age(dynamodb, table, backup_times, now)
    rpo_seconds = declared_rpo_seconds(resource_tags(dynamodb, arn), RPO_TAG_TABLE)
    rpo = report_rpo(
        cloudwatch,
        alarm,
        rpo_dimensions("DynamoDBTable", table, region),
        age,
        rpo_seconds,
        now,
        minimum_threshold=PITR_LAG_ALLOWANCE_SECONDS if kind == "pitr" else 0,
    )
    return {"recovery_point": kind, **rpo}


def bucket_region(s3: Any, bucket: str) -> str:
    # GetBucketLocation answers None for us-east-1.
    return s3.get_bucket_location(Bucket=bucket).get("LocationConstraint") or "us-east-1"


def bucket_rpo(clients: ClientFactory, alarm: RpoAlarm, home_region: str, bucket: str, now: datetime) -> dict[str, Any]:
    """One bucket's RPO age, read and published in its replicas' Region (``metric_region``); the bucket's own
    Region is looked up from ``home_region`` and names the ``Region`` dimension."""
    region = bucket_region(clients("s3", home_region), bucket)
    s3 = clients("s3", region)
    destinations = replication_destinations(s3, bucket)
    if destinations is None:
        return {"bucket": bucket, "region": region, "recovery_point": "not-replicated", "rpo_age_seconds": None}
    try:
        tag_set = s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchTagSet":
            raise
        tag_set = []
    rpo_seconds = declared_rpo_seconds({t["Key"]: t["Value"] for t in tag_set}, RPO_TAG_BUCKET)
    by_region: dict[str, list[tuple[str, str]]] = {}
    for destination, rule_id in destinations:
        by_region.setdefault(bucket_region(s3, destination), []).append((destination, rule_id))
    if not by_region:  # every rule disabled: nothing replicates, so the age is unknown where it is read
        by_region[region] = []
    # One result per destination Region (one in this project's stacks); the worst is the bucket's age.
    results = []
    for metric_region, region_destinations in by_region.items():
        cloudwatch = clients("cloudwatch", metric_region)
        age, kind = bucket_recovery_point_age(cloudwatch, bucket, region_destinations, now)
        rpo = report_rpo(cloudwatch, alarm, rpo_dimensions("S3Bucket", bucket, region), age, rpo_seconds, now)
        results.append(
            {"bucket": bucket, "region": region, "metric_region": metric_region, "recovery_point": kind, **rpo}
        )
    return max(
        results, key=lambda result: result["rpo_age_seconds"] if result["rpo_age_seconds"] is not None else float("inf")
    )


def run_rpo_age(
    buckets: Iterable[str],
    tables: Iterable[str],
    regions: list[str],
    alarm: RpoAlarm,
    clients: ClientFactory,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The RPO age of every bucket and of every table in every region; one failure is reported, not fatal."""
    now = now or datetime.now(UTC)
    errors: list[dict[str, str]] = []
    table_results: list[dict[str, Any]] = []
    for region in regions:
        dynamodb, cloudwatch = clients("dynamodb", region), clients("cloudwatch", region)
        for table in tables:
            try:
                table_results.append(
                    {"table": table, "region": region, **table_rpo(dynamodb, cloudwatch, alarm, table, region, now)}
                )
            except ClientError as error:
                errors.append({"table": table, "region": region, "error": str(error)})
    bucket_results: list[dict[str, Any]] = []
    for bucket in buckets:
        try:
            bucket_results.append(bucket_rpo(clients, alarm, regions[0], bucket, now))
        except ClientError as error:
            errors.append({"bucket": bucket, "error": str(error)})
    return {"run_at": now.isoformat(), "tables": table_results, "buckets": bucket_results, "errors": errors}


# ---------------------------------------------------------------- scheduled Lambda


def split_names(value: str | None) -> list[str]:
    """A comma-separated environment value (table, bucket and region names never contain commas)."""
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def alarm_from_environment(environ: Mapping[str, str]) -> RpoAlarm:
    return RpoAlarm(
        topic_arn=environ.get("ALERT_TOPIC_ARN") or None,
        period_seconds=int(environ.get("ALARM_PERIOD_SECONDS", str(DEFAULT_ALARM_PERIOD_SECONDS))),
    )


logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "dr-rpo-age"))
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", NAMESPACE))


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    summary = run_rpo_age(
        split_names(os.environ.get("RPO_BUCKETS")),
        split_names(os.environ.get("RPO_TABLES")),
        split_names(os.environ.get("BACKUP_REGIONS")) or split_names(os.environ.get("AWS_REGION")),
        alarm_from_environment(os.environ),
        cached_client,
    )
    metrics.add_metric(name="RpoAgeErrors", unit=MetricUnit.Count, value=len(summary["errors"]))
    logger.info("rpo age run", extra={"rpo_age_errors": summary["errors"]})
    return summary


# ---------------------------------------------------------------- table rows (GlobalTable's scheduled function)

PITR_RESOURCE_TYPE = TABLE_PITR_RESOURCE_TYPE
BACKUP_RESOURCE_TYPE = TABLE_BACKUP_RESOURCE_TYPE


def newest_recovery_point_age(backup: Any, resource_arn: str, now: datetime) -> float | None:
    """Seconds since the newest COMPLETED AWS Backup recovery point of ``resource_arn``; None when there is none."""
    newest: datetime | None = None
    for page in backup.get_paginator("list_recovery_points_by_resource").paginate(ResourceArn=resource_arn):
        for point in page.get("RecoveryPoints", []):
            if point.get("Status") != "COMPLETED":
                continue
            created = point["CreationDate"].astimezone(UTC)
            newest = created if newest is None or created > newest else newest
    return None if newest is None else max(0.0, (now - newest).total_seconds())


def run_table_rpo_age(
    tables: Iterable[str],
    regions: list[str],
    backup_tables: Iterable[str],
    clients: ClientFactory,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Publish each table's RPO age in each region it lives in: PITR's latest restorable time there, and, in the
    first (primary) region, the newest completed AWS Backup recovery point. The alarms are stack resources in the
    same regions (components/tables.py), so nothing here creates one. Missing data breaches them."""
    now = now or datetime.now(UTC)
    results: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    table_list = list(tables)
    for region in regions:
        dynamodb, cloudwatch = clients("dynamodb", region), clients("cloudwatch", region)
        for table in table_list:
            try:
                age, kind = table_recovery_point_age(dynamodb, table, (), now)
                if age is not None:
                    dimensions = rpo_dimensions(PITR_RESOURCE_TYPE, table, region)
                    publish_metrics(cloudwatch, {RPO_AGE_METRIC: age}, dimensions, unit="Seconds", timestamp=now)
                results.append({"table": table, "region": region, "recovery_point": kind, "rpo_age_seconds": age})
            except ClientError as error:
                errors.append({"table": table, "region": region, "error": str(error)})
    if regions:
        home = regions[0]
        dynamodb, cloudwatch, backup = clients("dynamodb", home), clients("cloudwatch", home), clients("backup", home)
        for table in backup_tables:
            try:
                arn = dynamodb.describe_table(TableName=table)["Table"]["TableArn"]
                age = newest_recovery_point_age(backup, arn, now)
                if age is not None:
                    dimensions = rpo_dimensions(BACKUP_RESOURCE_TYPE, table, home)
                    publish_metrics(cloudwatch, {RPO_AGE_METRIC: age}, dimensions, unit="Seconds", timestamp=now)
                results.append({"table": table, "region": home, "recovery_point": "aws-backup", "rpo_age_seconds": age})
            except ClientError as error:
                errors.append({"table": table, "region": home, "error": str(error)})
    return {"run_at": now.isoformat(), "tables": results, "errors": errors}


@metrics.log_metrics
@logger.inject_lambda_context
def tables_lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    summary = run_table_rpo_age(
        split_names(os.environ.get("RPO_TABLES")),
        split_names(os.environ.get("BACKUP_REGIONS")) or split_names(os.environ.get("AWS_REGION")),
        split_names(os.environ.get("RPO_BACKUP_PLAN_TABLES")),
        cached_client,
    )
    metrics.add_metric(name="RpoAgeErrors", unit=MetricUnit.Count, value=len(summary["errors"]))
    logger.info("table rpo age run", extra={"rpo_age_errors": summary["errors"]})
    return summary
