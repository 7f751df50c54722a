"""Backup orchestrator: on-demand DynamoDB backups in every region, retention pruning, a metadata summary,
and each table's RPO age (``handlers.rpo_age``) right after its backup.

- **Idempotent:** a backup's name is deterministic per (reason, hour), ``drctl--<reason>--<YYYYMMDDTHH>Z``,
  and a run first looks for that name, so a retried run never takes a second backup.
- **Labels:** the name is the authoritative label (reason and hour). The backup is also tagged with
  ``dr:backup-reason``/``dr:backup-time`` through ``TagResource``. A run that finds its backup already taken
  re-applies the tags unless ``ListTagsOfResource`` shows them, so a tag call that failed once is retried by
  the next run in the same hour. A tagging failure is reported in the summary (``tag_errors``) and does not
  fail the run: the backup exists and its name carries the label. moto accepts ``TagResource`` on a backup
  ARN but drops the tags (``ListTagsOfResource`` there is ResourceNotFound), so on moto every re-run tags again.
- **Pruning** touches only on-demand (``USER``) backups this tool named (``drctl--…``), never AWS Backup recovery
  points or anyone else's backups; keeps the newest one and the newest release backup of each table, keeps
  release backups for ``release_retention_days`` and the rest for ``retention_days``, and never deletes a backup
  younger than the floor ``MIN_BACKUP_RETENTION_DAYS`` (a retention below it is refused: a typo in a retention
  flag must not be data loss). ``dry_run`` takes nothing, deletes nothing, and reports what it would prune.
- **RPO age** (``handlers.rpo_age``): a PITR table's ``LatestRestorableDateTime``, else its newest available
  backup; ``buckets`` in the plan get theirs from S3's ``ReplicationLatency`` in the replica's Region. Alarms are
  upserted only with ``ensure_alarms`` (never by the scheduled Lambda).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from handlers.aws import cached_client
from handlers.metrics import NAMESPACE
from handlers.rpo_age import (
    DEFAULT_ALARM_PERIOD_SECONDS,
    ClientFactory,
    RpoAlarm,
    bucket_rpo,
    resource_tags,
    split_names,
    table_rpo,
)
from handlers.runtime_names import MIN_BACKUP_RETENTION_DAYS

NAME_PREFIX = "drctl"
RELEASE_REASON_PREFIX = "release-"
BACKUP_TAG_REASON = "dr:backup-reason"
BACKUP_TAG_TIME = "dr:backup-time"


@dataclass(frozen=True)
class BackupPlan:
    tables: list[str]
    regions: list[str]
    reason: str
    retention_days: int
    release_retention_days: int = 90
    buckets: list[str] = field(default_factory=list)
    summary_bucket: str | None = None
    summary_prefix: str = "dr/backups/"
    alarm_topic_arn: str | None = None
    # Run the schedule at least twice per period: missing data breaches the alarm.
    alarm_period_seconds: int = DEFAULT_ALARM_PERIOD_SECONDS
    # Upsert the RPO alarms (``drctl backup --ensure-alarms``); the stack's own alarms are stack resources.
    ensure_alarms: bool = False
    dry_run: bool = False

    def __post_init__(self) -> None:
        for name in ("retention_days", "release_retention_days"):
            days = getattr(self, name)
            if days < MIN_BACKUP_RETENTION_DAYS:
                raise ValueError(
                    f"{name} {days} is below the retention floor of {MIN_BACKUP_RETENTION_DAYS} days "
                    "(stackmodel/tiers.py MIN_BACKUP_RETENTION_DAYS)"
                )

    @property
    def alarm(self) -> RpoAlarm:
        return RpoAlarm(self.alarm_topic_arn, self.alarm_period_seconds, ensure=self.ensure_alarms)


@dataclass(frozen=True)
class BackupRecord:
    arn: str
    name: str
    created: datetime
    status: str
    reason: str | None  # None: not a backup this tool named, never pruned
    backup_type: str = "USER"  # USER (on-demand), SYSTEM, or AWS_BACKUP (a recovery point: never pruned)

    @property
    def is_release(self) -> bool:
        return bool(self.reason and self.reason.startswith(RELEASE_REASON_PREFIX))


# ---------------------------------------------------------------- names


def slug(reason: str) -> str:
    """Backup names allow [A-Za-z0-9_.-]; '--' is the field separator, so it is collapsed."""
    cleaned = re.sub(r"-{2,}", "-", re.sub(r"[^A-Za-z0-9_.-]+", "-", reason)).strip("-")
    if not cleaned:
        raise ValueError(f"reason {reason!r} has no usable characters")
    return cleaned


def backup_name(reason: str, at: datetime) -> str:
    return f"{NAME_PREFIX}--{slug(reason)}--{at.astimezone(UTC):%Y%m%dT%H}Z"[:255]


def reason_from_name(name: str) -> str | None:
    parts = name.split("--")
    if len(parts) == 3 and parts[0] == NAME_PREFIX:
        return parts[1]
    return None


# ---------------------------------------------------------------- backups


def list_table_backups(dynamodb: Any, table: str) -> list[BackupRecord]:
    records = []
    request: dict[str, Any] = {"TableName": table, "BackupType": "ALL"}
    while True:
        page = dynamodb.list_backups(**request)
        for summary in page.get("BackupSummaries", []):
            records.append(
                BackupRecord(
                    arn=summary["BackupArn"],
                    name=summary["BackupName"],
                    created=summary["BackupCreationDateTime"].astimezone(UTC),
                    status=summary["BackupStatus"],
                    reason=reason_from_name(summary["BackupName"]),
                    backup_type=summary.get("BackupType", "USER"),
                )
            )
        if not page.get("LastEvaluatedBackupArn"):
            return records
        request["ExclusiveStartBackupArn"] = page["LastEvaluatedBackupArn"]


def ensure_backup(
    dynamodb: Any, table: str, reason: str, now: datetime, existing: list[BackupRecord]
) -> tuple[BackupRecord, bool]:
    """The backup for (table, reason, this hour): found if a previous attempt took it, else created."""
    name = backup_name(reason, now)
    for record in existing:
        if record.name == name and record.status in ("CREATING", "AVAILABLE"):
            return record, False
    details = dynamodb.create_backup(TableName=table, BackupName=name)["BackupDetails"]
    record = BackupRecord(
        arn=details["BackupArn"],
        name=name,
        created=details["BackupCreationDateTime"].astimezone(UTC),
        status=details["BackupStatus"],
        reason=slug(reason),
    )
    return record, True


def backup_tags(record: BackupRecord) -> dict[str, str]:
    return {BACKUP_TAG_REASON: record.reason or "", BACKUP_TAG_TIME: record.created.isoformat()}


def _tags_if_readable(dynamodb: Any, arn: str) -> dict[str, str] | None:
    try:
        return resource_tags(dynamodb, arn)
    except ClientError:
        return None  # unknown (moto: ResourceNotFound for a backup ARN), so the caller tags again


def ensure_backup_tags(dynamodb: Any, record: BackupRecord, created: bool) -> str | None:
    """Tag the backup unless it already carries its labels; returns the error, None once tagged.

    A backup found by a re-run is checked too, so a tag call that failed on the first run is retried. Errors
    are returned, never raised: the name already carries reason and hour (see the module docstring).
    """
    wanted = backup_tags(record)
    if not created:
        present = _tags_if_readable(dynamodb, record.arn)
        if present is not None and wanted.items() <= present.items():
            return None
    try:
        dynamodb.tag_resource(ResourceArn=record.arn, Tags=[{"Key": k, "Value": v} for k, v in wanted.items()])
    except ClientError as error:
        return str(error)
    return None


def select_for_pruning(
    backups: list[BackupRecord], now: datetime, retention_days: int, release_retention_days: int
) -> list[BackupRecord]:
    """Backups to delete. Only AVAILABLE on-demand backups named ``drctl--…``; none younger than the floor."""
    ours = sorted(
        (b for b in backups if b.reason is not None and b.backup_type == "USER" and b.status == "AVAILABLE"),
        key=lambda b: b.created,
    )
    if not ours:
        return []
    protected = {ours[-1].arn}  # never prune the newest: it is the recovery point
    releases = [b for b in ours if b.is_release]
    if releases:
        protected.add(releases[-1].arn)  # the last release must stay restorable
    expired = []
    for backup in ours:
        keep_days = max(release_retention_days if backup.is_release else retention_days, MIN_BACKUP_RETENTION_DAYS)
        if backup.arn not in protected and now - backup.created > timedelta(days=keep_days):
            expired.append(backup)
    return expired


# ---------------------------------------------------------------- the run


def _backup_table(
    dynamodb: Any, cloudwatch: Any, plan: BackupPlan, table: str, region: str, now: datetime
) -> dict[str, Any]:
    table_arn = dynamodb.describe_table(TableName=table)["Table"]["TableArn"]
    existing = list_table_backups(dynamodb, table)
    if plan.dry_run:
        return _dry_run_table(plan, table, region, now, existing)
    record, created = ensure_backup(dynamodb, table, plan.reason, now, existing)
    tag_error = ensure_backup_tags(dynamodb, record, created)
    backups = [b for b in existing if b.arn != record.arn] + [record]
    pruned = select_for_pruning(backups, now, plan.retention_days, plan.release_retention_days)
    for backup in pruned:
        dynamodb.delete_backup(BackupArn=backup.arn)
    remaining = [b for b in backups if b not in pruned]
    available = [b.created for b in remaining if b.status == "AVAILABLE"]
    rpo = table_rpo(dynamodb, cloudwatch, plan.alarm, table, region, now, available, table_arn=table_arn)
    return {
        "table": table,
        "region": region,
        "backup_arn": record.arn,
        "backup_name": record.name,
        "backup_status": record.status,
        "created": created,
        "tagged": tag_error is None,
        "tag_error": tag_error,
        "pruned": [{"arn": b.arn, "name": b.name, "created": b.created.isoformat()} for b in pruned],
        "kept": len(remaining),
        **rpo,
    }


def _dry_run_table(
    plan: BackupPlan, table: str, region: str, now: datetime, existing: list[BackupRecord]
) -> dict[str, Any]:
    """What a run would do: the backup it would take (unless this hour's exists) and the backups it would prune,
    counting that new backup as the newest. Nothing is created, tagged, deleted or published."""
    name = backup_name(plan.reason, now)
    found = next((b for b in existing if b.name == name and b.status in ("CREATING", "AVAILABLE")), None)
    record = found or BackupRecord(arn=f"(new) {name}", name=name, created=now, status="AVAILABLE", reason=plan.reason)
    backups = [b for b in existing if b.arn != record.arn] + [record]
    pruned = select_for_pruning(backups, now, plan.retention_days, plan.release_retention_days)
    return {
        "table": table,
        "region": region,
        "backup_arn": None if found is None else found.arn,
        "backup_name": name,
        "backup_status": "would-create" if found is None else found.status,
        "created": False,
        "tagged": False,
        "tag_error": None,
        "pruned": [],
        "would_prune": [{"arn": b.arn, "name": b.name, "created": b.created.isoformat()} for b in pruned],
        "kept": len(backups) - len(pruned),
    }


def run_backups(plan: BackupPlan, clients: ClientFactory, now: datetime | None = None) -> dict[str, Any]:
    """Back up every table in every region; one table's failure is reported, not fatal to the others."""
    now = now or datetime.now(UTC)
    tables: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    for region in plan.regions:
        dynamodb, cloudwatch = clients("dynamodb", region), clients("cloudwatch", region)
        for table in plan.tables:
            try:
                tables.append(_backup_table(dynamodb, cloudwatch, plan, table, region, now))
            except ClientError as error:
                errors.append({"table": table, "region": region, "error": str(error)})
    buckets: list[dict[str, Any]] = []
    for bucket in [] if plan.dry_run else plan.buckets:
        try:
            buckets.append(bucket_rpo(clients, plan.alarm, plan.regions[0], bucket, now))
        except ClientError as error:
            errors.append({"bucket": bucket, "error": str(error)})
    summary: dict[str, Any] = {
        "run_at": now.isoformat(),
        "plan": asdict(plan),
        "tables": tables,
        "buckets": buckets,
        "created": sum(1 for t in tables if t["created"]),
        "pruned": sum(len(t["pruned"]) for t in tables),
        "dry_run": plan.dry_run,
        "would_prune": sum(len(t.get("would_prune", [])) for t in tables),
        "errors": errors,
        # Not in ``errors``: the backup exists and its name carries the label, so the run has not failed.
        "tag_errors": [
            {"table": t["table"], "region": t["region"], "backup_arn": t["backup_arn"], "error": t["tag_error"]}
            for t in tables
            if t["tag_error"]
        ],
        "summary_key": None,
        "endpoint": os.environ.get("AWS_ENDPOINT_URL"),  # set when running against an emulator
    }
    if plan.summary_bucket and not plan.dry_run:
        key = f"{plan.summary_prefix}{now:%Y/%m/%d/%H%M%S}Z-{slug(plan.reason)}.json"
        summary["summary_key"] = key
        clients("s3", plan.regions[0]).put_object(
            Bucket=plan.summary_bucket,
            Key=key,
            Body=json.dumps(summary, default=str, sort_keys=True).encode(),
            ContentType="application/json",
        )
    return summary


def release_reason(release: str) -> str:
    return f"{RELEASE_REASON_PREFIX}{release}"


# ---------------------------------------------------------------- scheduled Lambda


def plan_from_environment(environ: Mapping[str, str], event: Mapping[str, Any]) -> BackupPlan:
    """Names come from the environment; a scheduled event may override the reason (e.g. pre-release)."""
    release = event.get("release")
    return BackupPlan(
        tables=split_names(environ.get("BACKUP_TABLES")),
        regions=split_names(environ.get("BACKUP_REGIONS")) or split_names(environ.get("AWS_REGION")),
        reason=release_reason(release) if release else str(event.get("reason", "scheduled")),
        retention_days=int(environ.get("RETENTION_DAYS", "35")),
        release_retention_days=int(environ.get("RELEASE_RETENTION_DAYS", "90")),
        buckets=split_names(environ.get("RPO_BUCKETS")),
        summary_bucket=environ.get("SUMMARY_BUCKET") or None,
        summary_prefix=environ.get("SUMMARY_PREFIX", "dr/backups/"),
        alarm_topic_arn=environ.get("ALERT_TOPIC_ARN") or None,
        alarm_period_seconds=int(environ.get("ALARM_PERIOD_SECONDS", str(DEFAULT_ALARM_PERIOD_SECONDS))),
    )


logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "dr-backups"))
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", NAMESPACE))


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    summary = run_backups(plan_from_environment(os.environ, event or {}), cached_client)
    metrics.add_metric(name="BackupsCreated", unit=MetricUnit.Count, value=summary["created"])
    metrics.add_metric(name="BackupsPruned", unit=MetricUnit.Count, value=summary["pruned"])
    metrics.add_metric(name="BackupErrors", unit=MetricUnit.Count, value=len(summary["errors"]))
    metrics.add_metric(name="BackupTagErrors", unit=MetricUnit.Count, value=len(summary["tag_errors"]))
    if summary["tag_errors"]:
        logger.warning("backups left untagged", extra={"tag_errors": summary["tag_errors"]})
    logger.info("backup run", extra={"backups_created": summary["created"], "backup_errors": summary["errors"]})
    return summary
