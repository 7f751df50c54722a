"""Restore a DynamoDB table to a point in time or from a backup, re-apply what the restore drops, validate
it against a readable reference and optionally cut the application over to it.

A restore always creates a *new* table and drops: streams, TTL, PITR, deletion protection, autoscaling,
tags, the resource policy and alarms. They are read from the source table and re-applied. A restored
table is not a replica of the source's global table; that is reported, not repaired.

Validation never trusts ``ItemCount`` (refreshed about every 6 h) and cannot read a backup, so it counts
with a paginated ``Scan(Select="COUNT")`` and compares sampled items with a reference: canary records a
drill wrote (including ones that must be *absent* at the restore point) or a JSON-lines export of the
source at the same time.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
import os
import random
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from handlers import app_setting
from handlers.aws import client

DEFAULT_WAIT_DELAY_SECONDS = 20
DEFAULT_WAIT_MAX_ATTEMPTS = 180  # one hour: large restores take a while
DEFAULT_SAMPLE_SIZE = 200
# The new table serves no traffic yet, so a parallel count may use its read capacity freely.
DEFAULT_SCAN_SEGMENTS = 4
MAX_REPORTED_MISMATCHES = 50
BATCH_GET_LIMIT = 100  # BatchGetItem's maximum keys per request
# Alarms that application autoscaling creates and owns; it recreates them for the new policies.
AUTOSCALING_ALARM_PREFIX = "TargetTracking-"
# put_metric_alarm accepts these fields of a described alarm unchanged.
ALARM_FIELDS = (
    "AlarmDescription",
    "ActionsEnabled",
    "OKActions",
    "AlarmActions",
    "InsufficientDataActions",
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Period",
    "Unit",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "EvaluateLowSampleCountPercentile",
    "ThresholdMetricId",
)
_deserializer = TypeDeserializer()


class RestoreError(Exception):
    """A restore that must not proceed (bad input or an unrelated table in the way)."""


@dataclass(frozen=True)
class TableClients:
    dynamodb: Any
    autoscaling: Any
    cloudwatch: Any
    ssm: Any
    lambda_: Any = None  # event source mappings on the old stream, reported after a cutover
    backup: Any = None  # AWS Backup: restores from advanced-backup recovery points

    @classmethod
    def for_region(cls, region: str | None) -> TableClients:
        return cls(
            dynamodb=client("dynamodb", region),
            autoscaling=client("application-autoscaling", region),
            cloudwatch=client("cloudwatch", region),
            ssm=client("ssm", region),
            lambda_=client("lambda", region),
            backup=client("backup", region),
        )


@dataclass(frozen=True)
class ExpectedItem:
    """One reference record: ``item`` is the typed item expected at the restore point, None = absent."""

    key: dict[str, Any]
    item: dict[str, Any] | None


@dataclass(frozen=True)
class Reference:
    expected: list[ExpectedItem]
    # Set when the reference is a complete export: the restored count must then equal it.
    expected_count: int | None = None
    source: str = "inline"


@dataclass(frozen=True)
class WaitPolicy:
    delay_seconds: int = DEFAULT_WAIT_DELAY_SECONDS
    max_attempts: int = DEFAULT_WAIT_MAX_ATTEMPTS


@dataclass(frozen=True)
class Cutover:
    app: str
    logical: str | None = None  # defaults to the source's ``dr:component`` tag, else the source name
    force: bool = False  # cut over even when validation did not pass
    # MREC sources: add the source's replica regions to the new table before cutting over (False: report the
    # regional objective as unmet instead).
    replicas: bool = True
    # MRSC sources: a restored table can never become MRSC, so cutting over loses the regional RPO of 0.
    accept_regional_degradation: bool = False


@dataclass(frozen=True)
class RecoveryPoint:
    """An AWS Backup recovery point (``arn:aws:backup:…:recovery-point:…``), restored through StartRestoreJob."""

    arn: str
    vault: str | None = None  # found through the source table's recovery points when not given
    role_arn: str | None = None  # the role AWS Backup assumes for the restore (stack output backupRoleArn)


@dataclass
class SourceSettings:
    """What a restore drops, read from the source table."""

    table_arn: str
    stream: dict[str, Any] | None = None
    ttl_attribute: str | None = None
    pitr_enabled: bool = False
    pitr_recovery_period_days: int | None = None
    deletion_protection: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    resource_policy: str | None = None
    scalable_targets: list[dict[str, Any]] = field(default_factory=list)
    scaling_policies: list[dict[str, Any]] = field(default_factory=list)
    alarms: list[dict[str, Any]] = field(default_factory=list)
    global_table_replicas: list[str] = field(default_factory=list)
    strong_consistency: bool = False  # MRSC: DescribeTable's MultiRegionConsistency is STRONG
    stream_arn: str | None = None


def default_target_name(
    source: str, to: datetime | None, backup_arn: str | None, recovery_point_arn: str | None = None
) -> str:
    """Deterministic, so that a re-run finds the table the first run created."""
    if recovery_point_arn:
        suffix = "rp-" + recovery_point_arn.rsplit(":", 1)[-1].rsplit("/", 1)[-1][:36]
    elif backup_arn:
        suffix = "bk-" + backup_arn.rsplit("/", 1)[-1]
    elif to is not None:
        suffix = "pitr-" + _utc_second(to).strftime("%Y%m%dT%H%M%SZ")
    else:
        raise RestoreError("give a point in time or a backup ARN")
    return f"{source}-{suffix}"[:255]


# ---------------------------------------------------------------- reading the source


def _describe_table(dynamodb: Any, name: str) -> dict[str, Any] | None:
    try:
        return dict(dynamodb.describe_table(TableName=name)["Table"])
    except ClientError as error:
        if error.response["Error"]["Code"] == "ResourceNotFoundException":
            return None
        raise


def _resource_policy(dynamodb: Any, arn: str) -> str | None:
    try:
        return str(dynamodb.get_resource_policy(ResourceArn=arn)["Policy"])
    except ClientError as error:
        if error.response["Error"]["Code"] in ("PolicyNotFoundException", "ResourceNotFoundException"):
            return None
        raise


def _autoscaling_resource_ids(table: dict[str, Any]) -> list[str]:
    base = f"table/{table['TableName']}"
    indexes = [f"{base}/index/{gsi['IndexName']}" for gsi in table.get("GlobalSecondaryIndexes", [])]
    return [base, *indexes]


def _retarget_resource_id(resource_id: str, source: str, target: str) -> str:
    """``table/<source>[/index/<gsi>]`` -> ``table/<target>[/index/<gsi>]``."""
    return f"table/{target}" + resource_id.removeprefix(f"table/{source}")


def _retarget_dimensions(dimensions: list[dict[str, str]], source: str, target: str) -> list[dict[str, str]]:
    return [
        {**dimension, "Value": target}
        if dimension["Name"] == "TableName" and dimension["Value"] == source
        else dimension
        for dimension in dimensions
    ]


def table_alarms(cloudwatch: Any, table_name: str) -> list[dict[str, Any]]:
    alarms = []
    for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"]):
        for alarm in page.get("MetricAlarms", []):
            if alarm["AlarmName"].startswith(AUTOSCALING_ALARM_PREFIX):
                continue
            dimensions = list(alarm.get("Dimensions", []))
            for query in alarm.get("Metrics", []):
                dimensions += query.get("MetricStat", {}).get("Metric", {}).get("Dimensions", [])
            if {"Name": "TableName", "Value": table_name} in dimensions:
                alarms.append(alarm)
    return alarms


def read_source_settings(clients: TableClients, table: dict[str, Any]) -> SourceSettings:
    name, arn = table["TableName"], table["TableArn"]
    ddb = clients.dynamodb
    settings = SourceSettings(table_arn=arn)
    stream = table.get("StreamSpecification") or {}
    if stream.get("StreamEnabled"):
        settings.stream = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    if ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
        settings.ttl_attribute = ttl["AttributeName"]
    pitr = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    pitr_description = pitr.get("PointInTimeRecoveryDescription", {})
    settings.pitr_enabled = pitr_description.get("PointInTimeRecoveryStatus") == "ENABLED"
    settings.pitr_recovery_period_days = pitr_description.get("RecoveryPeriodInDays")
    settings.deletion_protection = bool(table.get("DeletionProtectionEnabled"))
    for page in ddb.get_paginator("list_tags_of_resource").paginate(ResourceArn=arn):
        settings.tags.update({tag["Key"]: tag["Value"] for tag in page.get("Tags", [])})
    settings.resource_policy = _resource_policy(ddb, arn)
    resource_ids = _autoscaling_resource_ids(table)
    scalable = clients.autoscaling.describe_scalable_targets(ServiceNamespace="dynamodb", ResourceIds=resource_ids)
    settings.scalable_targets = scalable.get("ScalableTargets", [])
    for resource_id in resource_ids:
        policies = clients.autoscaling.describe_scaling_policies(ServiceNamespace="dynamodb", ResourceId=resource_id)
        # Exact match: moto filters ResourceId as a substring ("table/a" matches "table/a-restored").
        settings.scaling_policies += [
            policy for policy in policies.get("ScalingPolicies", []) if policy["ResourceId"] == resource_id
        ]
    settings.alarms = table_alarms(clients.cloudwatch, name)
    settings.global_table_replicas = [replica["RegionName"] for replica in table.get("Replicas", [])]
    settings.strong_consistency = table.get("MultiRegionConsistency") == "STRONG"
    settings.stream_arn = table.get("LatestStreamArn")
    return settings


# ---------------------------------------------------------------- re-applying on the target


def wait_until_active(dynamodb: Any, table: str, wait: WaitPolicy) -> dict[str, Any]:
    dynamodb.get_waiter("table_exists").wait(
        TableName=table, WaiterConfig={"Delay": wait.delay_seconds, "MaxAttempts": wait.max_attempts}
    )
    return dict(dynamodb.describe_table(TableName=table)["Table"])


def _alarm_request(alarm: dict[str, Any], source: str, target: str) -> dict[str, Any]:
    request = {key: alarm[key] for key in ALARM_FIELDS if key in alarm}
    # The copy needs its own name: reusing the source's would overwrite the source's alarm.
    name = alarm["AlarmName"]
    request["AlarmName"] = name.replace(source, target, 1) if source in name else f"{name}-{target}"
    if alarm.get("Dimensions"):
        request["Dimensions"] = _retarget_dimensions(alarm["Dimensions"], source, target)
    if alarm.get("Metrics"):
        request["Metrics"] = copy.deepcopy(alarm["Metrics"])
        for query in request["Metrics"]:
            metric = query.get("MetricStat", {}).get("Metric")
            if metric and metric.get("Dimensions"):
                metric["Dimensions"] = _retarget_dimensions(metric["Dimensions"], source, target)
    return request


def apply_settings(
    clients: TableClients, target: dict[str, Any], settings: SourceSettings, source: str, wait: WaitPolicy
) -> dict[str, Any]:
    """Make the target carry the source's settings; changes only what differs, so re-runs are cheap."""
    ddb, name, arn = clients.dynamodb, target["TableName"], target["TableArn"]
    applied: dict[str, Any] = {}
    skipped: list[str] = []

    if settings.stream and not (target.get("StreamSpecification") or {}).get("StreamEnabled"):
        ddb.update_table(TableName=name, StreamSpecification=settings.stream)
        target = wait_until_active(ddb, name, wait)  # one table update at a time
        applied["stream"] = settings.stream["StreamViewType"]
    if settings.stream:
        # A new table has a new stream: consumers must be re-pointed to this ARN.
        applied["stream_arn"] = target.get("LatestStreamArn")

    if settings.ttl_attribute:
        ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
            ddb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": settings.ttl_attribute},
            )
            applied["ttl"] = settings.ttl_attribute

    if settings.pitr_enabled:
        current = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
        description = current.get("PointInTimeRecoveryDescription", {})
        wanted_period = settings.pitr_recovery_period_days
        if description.get("PointInTimeRecoveryStatus") != "ENABLED" or (
            wanted_period and description.get("RecoveryPeriodInDays") != wanted_period
        ):
            specification: dict[str, Any] = {"PointInTimeRecoveryEnabled": True}
            if wanted_period:
                specification["RecoveryPeriodInDays"] = wanted_period
            ddb.update_continuous_backups(TableName=name, PointInTimeRecoverySpecification=specification)
            applied["pitr_recovery_period_days"] = wanted_period

    if settings.deletion_protection and not target.get("DeletionProtectionEnabled"):
        ddb.update_table(TableName=name, DeletionProtectionEnabled=True)
        target = wait_until_active(ddb, name, wait)
        applied["deletion_protection"] = True

    current_tags: dict[str, str] = {}
    for page in ddb.get_paginator("list_tags_of_resource").paginate(ResourceArn=arn):
        current_tags.update({tag["Key"]: tag["Value"] for tag in page.get("Tags", [])})
    missing_tags = [
        {"Key": key, "Value": value} for key, value in settings.tags.items() if current_tags.get(key) != value
    ]
    if missing_tags:
        ddb.tag_resource(ResourceArn=arn, Tags=missing_tags)
        applied["tags"] = sorted(tag["Key"] for tag in missing_tags)

    if settings.resource_policy:
        # The policy names the source table's ARN as its resource; point it at the new table.
        policy = settings.resource_policy.replace(settings.table_arn, arn)
        current_policy = _resource_policy(ddb, arn)
        if current_policy != policy:
            ddb.put_resource_policy(ResourceArn=arn, Policy=policy)
            applied["resource_policy"] = True

    on_demand = target.get("BillingModeSummary", {}).get("BillingMode") == "PAY_PER_REQUEST"
    if settings.scalable_targets and on_demand:
        skipped.append("autoscaling: the restored table is on-demand")
    elif settings.scalable_targets:
        # Register and put are upserts, so re-running them is idempotent.
        for scalable in settings.scalable_targets:
            clients.autoscaling.register_scalable_target(
                ServiceNamespace="dynamodb",
                ResourceId=_retarget_resource_id(scalable["ResourceId"], source, name),
                ScalableDimension=scalable["ScalableDimension"],
                MinCapacity=scalable["MinCapacity"],
                MaxCapacity=scalable["MaxCapacity"],
            )
        copied_policies = []
        for policy_description in settings.scaling_policies:
            if policy_description["PolicyType"] != "TargetTrackingScaling":
                # Step scaling is driven by alarms that name the source policy's ARN; rewire by hand.
                skipped.append(f"scaling policy {policy_description['PolicyName']}: step scaling")
                continue
            clients.autoscaling.put_scaling_policy(
                PolicyName=policy_description["PolicyName"],
                ServiceNamespace="dynamodb",
                ResourceId=_retarget_resource_id(policy_description["ResourceId"], source, name),
                ScalableDimension=policy_description["ScalableDimension"],
                PolicyType="TargetTrackingScaling",
                TargetTrackingScalingPolicyConfiguration=policy_description["TargetTrackingScalingPolicyConfiguration"],
            )
            copied_policies.append(policy_description["PolicyName"])
        applied["scalable_targets"] = len(settings.scalable_targets)
        applied["scaling_policies"] = copied_policies

    alarm_names = []
    for alarm in settings.alarms:
        request = _alarm_request(alarm, source, name)
        clients.cloudwatch.put_metric_alarm(**request)  # an upsert by name
        alarm_names.append(request["AlarmName"])
    if alarm_names:
        applied["alarms"] = alarm_names

    if settings.global_table_replicas:
        skipped.append(
            "global table replicas "
            + ",".join(settings.global_table_replicas)
            + ": a restored table is a single-region table"
        )
    return {"applied": applied, "skipped": skipped}


# ---------------------------------------------------------------- validation


def _key_of(item: dict[str, Any], key_names: Iterable[str]) -> dict[str, Any]:
    return {name: item[name] for name in key_names}


def canonical_key(key: dict[str, Any]) -> str:
    return json.dumps(key, sort_keys=True)


def plain_item(item: dict[str, Any]) -> dict[str, Any]:
    """Typed -> Python values, so that ``{"N": "1.0"}`` equals ``{"N": "1"}`` and set order is ignored."""
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def key_attribute_names(dynamodb: Any, source: str, backup_arn: str | None) -> list[str]:
    """The key schema, from the source table or, when it was deleted, from the backup's description."""
    table = _describe_table(dynamodb, source)
    if table is not None:
        schema = table["KeySchema"]
    elif backup_arn:
        description = dynamodb.describe_backup(BackupArn=backup_arn)["BackupDescription"]
        schema = description["SourceTableDetails"]["KeySchema"]
    else:
        raise RestoreError(f"source table {source} not found")
    return [element["AttributeName"] for element in schema]


def load_reference(
    path: Path, key_names: list[str], sample_size: int = DEFAULT_SAMPLE_SIZE, seed: int = 0
) -> Reference:
    """Read a reference file.

    - ``*.jsonl`` / ``*.jsonl.gz``: a DynamoDB export in DYNAMODB_JSON format (``{"Item": {...}}`` per line)
      or bare typed items. A complete export, so the count must match too. Streamed with reservoir sampling,
      so an export of any size keeps only ``sample_size`` items in memory.
    - ``*.json``: ``{"expected": [{"key": {...}, "item": {...} | null}, ...], "count": N?}``, e.g. canary
      records from a drill; ``item: null`` means the key must be absent at the restore point.
    """
    if ".jsonl" in path.suffixes:
        rng = random.Random(seed)  # a fixed seed makes a re-run check the same sample
        sample: list[ExpectedItem] = []
        total = 0
        with (gzip.open if path.suffix == ".gz" else open)(path, "rt", encoding="utf-8") as lines:
            for line in lines:
                if not line.strip():
                    continue
                record = json.loads(line)
                item = record.get("Item", record)
                total += 1
                slot = len(sample) if len(sample) < sample_size else rng.randrange(total)
                if slot < sample_size:
                    entry = ExpectedItem(key=_key_of(item, key_names), item=item)
                    sample[slot : slot + 1] = [entry]
        return Reference(expected=sample, expected_count=total, source=str(path))
    document = json.loads(path.read_text(encoding="utf-8"))
    expected = [ExpectedItem(key=entry["key"], item=entry.get("item")) for entry in document["expected"]]
    return Reference(expected=expected, expected_count=document.get("count"), source=str(path))


def count_items(dynamodb: Any, table: str, segments: int = 1) -> int:
    """Exact count by a paginated ``Scan(Select="COUNT")``, split into parallel segments."""

    def count_segment(segment: int) -> int:
        parallel = {"Segment": segment, "TotalSegments": segments} if segments > 1 else {}
        pages = dynamodb.get_paginator("scan").paginate(TableName=table, Select="COUNT", **parallel)
        return sum(page["Count"] for page in pages)

    with ThreadPoolExecutor(max_workers=segments) as pool:
        return sum(pool.map(count_segment, range(segments)))


def batch_get(
    dynamodb: Any, table: str, keys: list[dict[str, Any]], sleep: Callable[[float], None] = time.sleep
) -> dict[str, dict[str, Any]]:
    """Items by canonical key; unprocessed keys are retried with backoff."""
    found: dict[str, dict[str, Any]] = {}
    key_names = list(keys[0]) if keys else []
    for start in range(0, len(keys), BATCH_GET_LIMIT):
        request: dict[str, Any] = {table: {"Keys": keys[start : start + BATCH_GET_LIMIT], "ConsistentRead": True}}
        attempt = 0
        while request:
            response = dynamodb.batch_get_item(RequestItems=request)
            for item in response["Responses"].get(table, []):
                found[canonical_key(_key_of(item, key_names))] = item
            request = response.get("UnprocessedKeys") or {}
            if request:
                attempt += 1
                sleep(min(0.05 * 2**attempt, 5.0))
    return found


def validate_restore(
    dynamodb: Any,
    table: str,
    reference: Reference | None,
    sample_size: int,
    scan_segments: int = 1,
    seed: int = 0,
) -> dict[str, Any]:
    count = count_items(dynamodb, table, scan_segments)
    if reference is None:
        return {"count": count, "reference": None, "sampled": 0, "mismatch_count": 0, "ok": None}
    rng = random.Random(seed)  # a fixed seed makes a re-run check the same sample
    sample = rng.sample(reference.expected, min(sample_size, len(reference.expected)))
    actual = batch_get(dynamodb, table, [entry.key for entry in sample]) if sample else {}
    mismatches: list[dict[str, Any]] = []
    if reference.expected_count is not None and reference.expected_count != count:
        mismatches.append({"problem": "count", "expected": reference.expected_count, "actual": count})
    for entry in sample:
        got = actual.get(canonical_key(entry.key))
        if entry.item is None and got is not None:
            mismatches.append({"problem": "unexpected", "key": plain_item(entry.key)})
        elif entry.item is not None and got is None:
            mismatches.append({"problem": "missing", "key": plain_item(entry.key)})
        elif entry.item is not None and got is not None:
            expected_plain, got_plain = plain_item(entry.item), plain_item(got)
            if expected_plain != got_plain:
                differing = sorted(
                    name
                    for name in expected_plain.keys() | got_plain.keys()
                    if expected_plain.get(name) != got_plain.get(name)
                )
                mismatches.append({"problem": "different", "key": plain_item(entry.key), "attributes": differing})
    return {
        "count": count,
        "reference": reference.source,
        "sampled": len(sample),
        "mismatch_count": len(mismatches),
        "mismatches": mismatches[:MAX_REPORTED_MISMATCHES],
        "ok": not mismatches,
    }


# ---------------------------------------------------------------- AWS Backup recovery points


def arn_region(arn: str) -> str:
    return arn.split(":")[3]


def recovery_point_vault(backup: Any, recovery_point_arn: str, source_arn: str | None) -> str:
    """The vault holding ``recovery_point_arn``, from the source table's recovery points in this region."""
    if source_arn is not None:
        pages = backup.get_paginator("list_recovery_points_by_resource").paginate(ResourceArn=source_arn)
        for page in pages:
            for point in page.get("RecoveryPoints", []):
                if point["RecoveryPointArn"] == recovery_point_arn:
                    return str(point["BackupVaultName"])
    raise RestoreError(f"recovery point {recovery_point_arn} not found among the source's; pass --vault")


def start_recovery_point_restore(
    backup: Any,
    point: RecoveryPoint,
    target: str,
    source_arn: str | None,
    wait: WaitPolicy,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """``backup:StartRestoreJob`` into ``target`` and wait for the job (advanced-backup recovery points cannot go
    through RestoreTableFromBackup). The idempotency token makes a re-run join the same job."""
    if point.role_arn is None:
        raise RestoreError("a recovery-point restore needs the role AWS Backup assumes (--backup-role-arn)")
    vault = point.vault or recovery_point_vault(backup, point.arn, source_arn)
    metadata = backup.get_recovery_point_restore_metadata(BackupVaultName=vault, RecoveryPointArn=point.arn)
    restore_metadata = {**metadata.get("RestoreMetadata", {}), "targetTableName": target}
    token = hashlib.sha256(f"{point.arn}|{target}".encode()).hexdigest()
    job_id = backup.start_restore_job(
        RecoveryPointArn=point.arn,
        Metadata=restore_metadata,
        IamRoleArn=point.role_arn,
        ResourceType="DynamoDB",
        IdempotencyToken=token,
    )["RestoreJobId"]
    for _ in range(wait.max_attempts):
        job = backup.describe_restore_job(RestoreJobId=job_id)
        if job["Status"] == "COMPLETED":
            return {"restore_job_id": job_id, "vault": vault, "status": job["Status"]}
        if job["Status"] in ("ABORTED", "FAILED"):
            raise RestoreError(f"restore job {job_id} {job['Status']}: {job.get('StatusMessage', '')}")
        sleep(wait.delay_seconds)
    raise RestoreError(f"restore job {job_id} did not complete after {wait.max_attempts} checks")


# ---------------------------------------------------------------- the regional objective after a restore


def add_replicas(clients: TableClients, target: str, regions: list[str], source: str, wait: WaitPolicy) -> list[str]:
    """Re-add the source's replica regions to the restored (single-region) table, one at a time."""
    ddb = clients.dynamodb
    home = ddb.meta.region_name
    table = wait_until_active(ddb, target, wait)
    present = {replica["RegionName"] for replica in table.get("Replicas", [])}
    encrypted = (table.get("SSEDescription") or {}).get("SSEType") == "KMS"
    added = []
    for region in regions:
        if region == home or region in present:
            continue
        create: dict[str, Any] = {"RegionName": region}
        if encrypted:
            # The stack keeps a key per region under the source's alias (components/tables.py).
            create["KMSMasterKeyId"] = f"alias/dr/{source}"
        ddb.update_table(TableName=target, ReplicaUpdates=[{"Create": create}])
        wait_until_active(ddb, target, wait)
        added.append(region)
    return added


def regional_objective(
    clients: TableClients, settings: SourceSettings | None, target: str, source: str, cutover: Cutover, wait: WaitPolicy
) -> dict[str, Any]:
    """Whether the new table still meets the source's regional objective, adding replicas where it can."""
    if settings is None or not settings.global_table_replicas:
        return {"met": None, "reason": "the source had no replicas", "refuse": False}
    if settings.strong_consistency:
        reason = (
            "the source is MRSC (regional RPO 0); a restored table is single-region and can never become MRSC "
            "(MRSC needs an empty table): the runbook's way back is a new empty MRSC table, the validated items "
            "copied in, and a second cutover"
        )
        if not cutover.accept_regional_degradation:
            return {
                "met": False,
                "reason": reason + "; pass --accept-regional-degradation to cut over anyway",
                "refuse": True,
            }
        return {"met": False, "reason": reason, "refuse": False}
    if not cutover.replicas:
        return {
            "met": False,
            "reason": "--no-replicas: the new table has no replica, the regional objective is unmet",
            "refuse": False,
        }
    added = add_replicas(clients, target, settings.global_table_replicas, source, wait)
    return {
        "met": True,
        "replicas_added": added,
        "reason": "the source's replica regions were re-added",
        "refuse": False,
    }


def stream_consumer_changes(lambda_: Any, old_stream: str | None, new_stream: str | None) -> list[dict[str, Any]]:
    """Each Lambda event source mapping still reading the old table's stream, and what its owner must change.
    A mapping's source cannot be updated in place, and nothing is re-pointed automatically."""
    if lambda_ is None or old_stream is None:
        return []
    changes = []
    for page in lambda_.get_paginator("list_event_source_mappings").paginate(EventSourceArn=old_stream):
        for mapping in page.get("EventSourceMappings", []):
            changes.append(
                {
                    "uuid": mapping["UUID"],
                    "function": mapping.get("FunctionArn"),
                    "state": mapping.get("State"),
                    "old_stream_arn": old_stream,
                    "new_stream_arn": new_stream,
                    "change": (
                        "the owning stack must create a mapping from new_stream_arn to the function (starting "
                        "position TRIM_HORIZON) and then delete this one; EventSourceArn cannot be updated in place"
                    ),
                }
            )
    return changes


# ---------------------------------------------------------------- the restore


def _utc_second(value: datetime) -> datetime:
    """PITR works to the second; botocore sends a naive time as UTC and answers with a tzlocal one."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).replace(microsecond=0)


def _check_existing_target(
    existing: dict[str, Any], source_arn: str | None, backup_arn: str | None, to: datetime | None
) -> None:
    """A re-run may adopt the table the first run created, never an unrelated table or another restore point."""
    summary = existing.get("RestoreSummary") or {}
    name = existing["TableName"]
    same_backup = backup_arn is not None and summary.get("SourceBackupArn") == backup_arn
    # A backup restore also names its source table, so a PITR re-run must not adopt one.
    same_source = (
        backup_arn is None
        and source_arn is not None
        and summary.get("SourceTableArn") == source_arn
        and not summary.get("SourceBackupArn")
    )
    if not (same_backup or same_source):
        raise RestoreError(f"table {name} exists and was not restored from this source; pick another --target")
    # 'latest' has no time to compare; an explicit time must be the one the table was restored to, or a
    # re-run would validate and cut over to the wrong point.
    if to is None:
        return
    restored_to = summary.get("RestoreDateTime")
    if not isinstance(restored_to, datetime) or _utc_second(restored_to) != _utc_second(to):
        shown = _utc_second(restored_to).isoformat() if isinstance(restored_to, datetime) else "an unknown time"
        raise RestoreError(
            f"table {name} exists and was restored from {summary.get('SourceTableArn')} to {shown}, "
            f"not to the requested {_utc_second(to).isoformat()}; pick another --target"
        )


def restore_table(
    clients: TableClients,
    source: str,
    *,
    to: datetime | None = None,
    use_latest: bool = False,
    backup_arn: str | None = None,
    recovery_point: RecoveryPoint | None = None,
    target: str | None = None,
    reference: Reference | None = None,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    scan_segments: int = DEFAULT_SCAN_SEGMENTS,
    wait: WaitPolicy = WaitPolicy(),
    cutover: Cutover | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    if sum((to is not None, use_latest, backup_arn is not None, recovery_point is not None)) != 1:
        raise RestoreError("give exactly one of a point in time, 'latest', a backup ARN or a recovery point")
    ddb = clients.dynamodb
    if recovery_point is not None and arn_region(recovery_point.arn) != ddb.meta.region_name:
        raise RestoreError(
            f"recovery point {recovery_point.arn} is in {arn_region(recovery_point.arn)}; pass --region "
            f"{arn_region(recovery_point.arn)} (a copy in the recovery region restores there)"
        )
    started = clock()
    source_table = _describe_table(ddb, source)
    if source_table is None and backup_arn is None and recovery_point is None:
        raise RestoreError(f"source table {source} not found; restore a deleted table from a backup")
    stamp = datetime.now(UTC) if use_latest else to
    point_arn = recovery_point.arn if recovery_point else None
    target_name = target or default_target_name(source, stamp, backup_arn, point_arn)
    report: dict[str, Any] = {
        "source": source,
        "target": target_name,
        "mode": "recovery-point" if recovery_point else "backup" if backup_arn else "pitr",
        "restore_point": point_arn or backup_arn or ("latest" if use_latest else to.isoformat() if to else None),
        "endpoint": os.environ.get("AWS_ENDPOINT_URL"),  # set when running against an emulator
        "warnings": [],
    }

    existing = _describe_table(ddb, target_name)
    requested = clock()
    if existing is not None:
        _check_existing_target(
            existing, source_table["TableArn"] if source_table else None, backup_arn or point_arn, to
        )
        report["restored"] = False  # adopted: only re-apply and validate
    elif recovery_point is not None:
        report["restore_job"] = start_recovery_point_restore(
            clients.backup, recovery_point, target_name, source_table["TableArn"] if source_table else None, wait
        )
        report["restored"] = True
    elif backup_arn:
        ddb.restore_table_from_backup(TargetTableName=target_name, BackupArn=backup_arn)
        report["restored"] = True
    else:
        point: dict[str, Any] = {"UseLatestRestorableTime": True} if use_latest else {"RestoreDateTime": to}
        ddb.restore_table_to_point_in_time(SourceTableName=source, TargetTableName=target_name, **point)
        report["restored"] = True
    restored_table = wait_until_active(ddb, target_name, wait)
    active = clock()

    if source_table is None:
        report["reapplied"] = {"applied": {}, "skipped": ["all settings: the source table no longer exists"]}
        report["warnings"].append("source table gone: streams, TTL, PITR, tags, policies not re-applied")
        settings = None
    else:
        settings = read_source_settings(clients, source_table)
        report["reapplied"] = apply_settings(clients, restored_table, settings, source, wait)
    reapplied = clock()

    validation = validate_restore(ddb, target_name, reference, sample_size, scan_segments)
    report["validation"] = validation
    validated = clock()

    report["cutover"] = None
    if cutover is not None:
        regional = (
            regional_objective(clients, settings, target_name, source, cutover, wait)
            if validation["ok"] is True or cutover.force
            else None
        )
        if regional is not None:
            report["objectives"] = {"regional": {k: v for k, v in regional.items() if k != "refuse"}}
        if validation["ok"] is not True and not cutover.force:
            report["cutover"] = {"done": False, "reason": "validation did not pass (use --force to override)"}
        elif regional is not None and regional["refuse"]:
            report["cutover"] = {"done": False, "reason": regional["reason"]}
        else:
            logical = cutover.logical or (settings.tags.get("dr:component") if settings else None) or source
            parameter = app_setting.active_table_parameter(cutover.app, logical)
            previous = app_setting.write_setting(clients.ssm, parameter, target_name)
            new_stream = report["reapplied"]["applied"].get("stream_arn")
            report["cutover"] = {
                "done": True,
                "parameter": parameter,
                "previous": previous,
                "active": target_name,
                "stream_consumers": stream_consumer_changes(
                    clients.lambda_, settings.stream_arn if settings else None, new_stream
                ),
            }
    finished = clock()

    report["status"] = restored_table["TableStatus"]
    report["timings"] = {
        "restore_to_active_seconds": round(active - requested, 3),
        "reapply_seconds": round(reapplied - active, 3),
        "validate_seconds": round(validated - reapplied, 3),
        "cutover_seconds": round(finished - validated, 3),
        "total_seconds": round(finished - started, 3),
    }
    return report
