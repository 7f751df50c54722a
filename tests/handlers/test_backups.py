"""Backup orchestrator on moto: one backup per (reason, hour) in every region, labels, pruning, the run
summary, the RPO-age metric and its alarm.

Emulation, stated where it matters:
- moto has no global tables, so the "replica" in the second region is a separate table of the same name;
- moto accepts ``TagResource`` on a backup ARN but drops the tags (``ListTagsOfResource`` on it is
  ResourceNotFound), so the tests check the request we send and that the backup *name* carries the reason and
  hour (the authoritative label); where a test needs tags that stay, ``BackupTagStore`` keeps them;
- backups cannot be created in the past, so pruning is driven by running the orchestrator with a later
  ``now``; the ordering rules are also checked on synthetic records;
- S3 publishes ``ReplicationLatency`` only with real replication, so the bucket test writes that datapoint
  itself, as S3 would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

import handlers.cli.dynamodb  # noqa: F401  (registers the commands on the app)
from handlers import rpo_age
from handlers.aws import cached_client
from handlers.cli import app
from handlers.drills.bucket import replication_to
from handlers.dynamodb import backups
from handlers.dynamodb.backups import (
    BackupPlan,
    BackupRecord,
    backup_name,
    reason_from_name,
    run_backups,
    select_for_pruning,
)
from handlers.metrics import NAMESPACE
from handlers.rpo_age import RPO_AGE_METRIC

REGIONS = ["us-east-1", "us-west-2"]
# An EventBridge schedule's event as delivered; it carries no reason, so the run is "scheduled".
SCHEDULED_EVENT = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-11-22T01:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/dr-hourly-backups"],
    "detail": {},
}
TABLE = "orders"


def factory(service: str, region: str) -> Any:
    return boto3.client(service, region_name=region)


def make_table(region: str, name: str = TABLE, *, rpo_minutes: str | None = "60", pitr: bool = False) -> None:
    ddb = boto3.client("dynamodb", region_name=region)
    tags = [{"Key": "dr:rpo-logical-minutes", "Value": rpo_minutes}] if rpo_minutes is not None else []
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        Tags=tags,
    )
    if pitr:
        ddb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )


def names_in(region: str, table: str = TABLE) -> set[str]:
    summaries = boto3.client("dynamodb", region_name=region).list_backups(TableName=table)["BackupSummaries"]
    return {summary["BackupName"] for summary in summaries}


def plan(**overrides: Any) -> BackupPlan:
    values: dict[str, Any] = {"tables": [TABLE], "regions": REGIONS, "reason": "nightly", "retention_days": 7}
    values.update(overrides)
    return BackupPlan(**values)


def test_backup_names_carry_reason_and_hour_and_parse_back() -> None:
    at = datetime(2026, 11, 22, 13, 59, tzinfo=UTC)
    name = backup_name("pre release/1.4 2", at)
    assert name == "drctl--pre-release-1.4-2--20261122T13Z"
    assert reason_from_name(name) == "pre-release-1.4-2"
    assert reason_from_name("someone-elses-backup") is None


def test_one_backup_per_reason_and_hour_in_every_region(mock_aws: None) -> None:
    for region in REGIONS:
        make_table(region)
    sent_tags: list[dict[str, Any]] = []

    def tracking_factory(service: str, region: str) -> Any:
        created = factory(service, region)
        created.meta.events.register(
            "provide-client-params.dynamodb.TagResource", lambda params, **_: sent_tags.append(params)
        )
        return created

    # The top of the hour, so the retry five minutes later always falls in the same hour.
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    first = run_backups(plan(), tracking_factory, now=now)
    retry = run_backups(plan(), tracking_factory, now=now + timedelta(minutes=5))

    expected = backup_name("nightly", now)
    assert (first["created"], retry["created"]) == (2, 0)
    assert [(t["region"], t["backup_name"]) for t in first["tables"]] == [(r, expected) for r in REGIONS]
    assert all(names_in(region) == {expected} for region in REGIONS)
    assert retry["tables"][0]["backup_arn"] == first["tables"][0]["backup_arn"]
    # Tags go on each new backup; moto cannot show them to the retry, which therefore sends them again.
    assert [params["ResourceArn"] for params in sent_tags] == [t["backup_arn"] for t in first["tables"]] * 2
    assert {tag["Key"]: tag["Value"] for tag in sent_tags[0]["Tags"]}["dr:backup-reason"] == "nightly"
    assert first["tag_errors"] == retry["tag_errors"] == []


class _Response:
    def __init__(self, status_code: int) -> None:
        self.status_code = status_code
        self.headers: dict[str, str] = {}


@dataclass
class BackupTagStore:
    """Keeps backup tags as DynamoDB does (moto drops them) through botocore ``before-call`` hooks, and refuses
    ``TagResource`` on the backups of the tables in ``refuse``. Requests about tables still go to moto."""

    tags: dict[str, dict[str, str]] = field(default_factory=dict)
    tag_calls: list[str] = field(default_factory=list)  # the backup ARN of every TagResource
    refuse: set[str] = field(default_factory=set)

    def attach(self, client: Any) -> Any:
        client.meta.events.register("before-call.dynamodb.TagResource", self._tag)
        client.meta.events.register("before-call.dynamodb.ListTagsOfResource", self._list)
        return client

    def _tag(self, params: dict[str, Any], **_: Any) -> tuple[_Response, dict[str, Any]] | None:
        request = json.loads(params["body"])
        arn = request["ResourceArn"]
        if "/backup/" not in arn:
            return None
        self.tag_calls.append(arn)
        if any(f":table/{table}/backup/" in arn for table in self.refuse):
            error = {"Code": "AccessDeniedException", "Message": "not authorized to perform dynamodb:TagResource"}
            return _Response(400), {"Error": error, "ResponseMetadata": {}}
        self.tags.setdefault(arn, {}).update({tag["Key"]: tag["Value"] for tag in request["Tags"]})
        return _Response(200), {"ResponseMetadata": {}}

    def _list(self, params: dict[str, Any], **_: Any) -> tuple[_Response, dict[str, Any]] | None:
        arn = json.loads(params["body"])["ResourceArn"]
        if "/backup/" not in arn:
            return None
        tags = [{"Key": key, "Value": value} for key, value in self.tags.get(arn, {}).items()]
        return _Response(200), {"Tags": tags, "ResponseMetadata": {}}


def test_a_tagging_failure_is_reported_and_a_retry_tags_only_the_untagged_backup(mock_aws: None) -> None:
    """moto drops backup tags, so ``BackupTagStore`` keeps them, and refuses the first run's tag call for one
    table as IAM or throttling would."""
    for table in ("orders", "invoices"):
        make_table("us-east-1", table)
    store = BackupTagStore(refuse={"orders"})

    def tag_keeping_factory(service: str, region: str) -> Any:
        return store.attach(factory(service, region))

    both = plan(tables=["orders", "invoices"], regions=["us-east-1"])
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)  # the retry falls in the same hour

    first = run_backups(both, tag_keeping_factory, now=now)
    store.refuse.clear()
    retry = run_backups(both, tag_keeping_factory, now=now + timedelta(minutes=5))

    orders, invoices = first["tables"]
    assert first["created"] == 2 and first["errors"] == []  # neither table failed over a tag
    assert (orders["tagged"], invoices["tagged"]) == (False, True)
    [tag_error] = first["tag_errors"]
    assert (tag_error["table"], tag_error["backup_arn"]) == ("orders", orders["backup_arn"])
    assert "AccessDeniedException" in tag_error["error"]
    # The retry finds both backups, re-tags the one without tags and leaves the tagged one alone.
    assert retry["created"] == 0 and retry["tag_errors"] == []
    assert store.tag_calls == [orders["backup_arn"], invoices["backup_arn"], orders["backup_arn"]]
    details = boto3.client("dynamodb").describe_backup(BackupArn=orders["backup_arn"])["BackupDescription"]
    taken_at = details["BackupDetails"]["BackupCreationDateTime"].astimezone(UTC)
    assert store.tags[orders["backup_arn"]] == {"dr:backup-reason": "nightly", "dr:backup-time": taken_at.isoformat()}


def _record(name: str, age_days: float, now: datetime, reason: str | None = "nightly") -> BackupRecord:
    return BackupRecord(f"arn:{name}", name, now - timedelta(days=age_days), "AVAILABLE", reason)


def test_pruning_rules_on_synthetic_records() -> None:
    now = datetime(2026, 11, 22, tzinfo=UTC)
    records = [
        _record("old-nightly", 40, now),
        _record("recent-nightly", 3, now),
        _record("old-release", 100, now, reason="release-1.0"),
        _record("last-release", 60, now, reason="release-1.1"),
        _record("not-ours", 400, now, reason=None),
    ]
    pruned = select_for_pruning(records, now, retention_days=7, release_retention_days=30)
    # old-release is past 30 days; last-release is too, but it is the newest release.
    assert {r.name for r in pruned} == {"old-nightly", "old-release"}

    only_old = [_record("a", 50, now), _record("b", 40, now)]
    assert [r.name for r in select_for_pruning(only_old, now, 7, 30)] == ["a"]  # the newest survives


def test_a_later_run_prunes_expired_backups_but_keeps_releases_and_foreign_ones(mock_aws: None) -> None:
    make_table("us-east-1")
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_backup(TableName=TABLE, BackupName="taken-by-hand")
    now = datetime.now(UTC)
    single_region = {"regions": ["us-east-1"]}
    nightly = run_backups(plan(**single_region), factory, now=now)["tables"][0]["backup_name"]
    release = run_backups(plan(reason="release-1.4.2", **single_region), factory, now=now)
    release_name = release["tables"][0]["backup_name"]

    later = run_backups(plan(**single_region), factory, now=now + timedelta(days=10))

    [table] = later["tables"]
    assert [p["name"] for p in table["pruned"]] == [nightly]
    assert names_in("us-east-1") == {"taken-by-hand", release_name, table["backup_name"]}
    assert later["pruned"] == 1 and table["kept"] == 3


def test_summary_is_returned_and_written_to_s3(mock_aws: None) -> None:
    make_table("us-east-1")
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="dr-summaries")

    summary = run_backups(plan(regions=["us-east-1"], summary_bucket="dr-summaries", summary_prefix="runs/"), factory)

    assert summary["summary_key"].startswith("runs/") and summary["summary_key"].endswith("-nightly.json")
    stored = json.loads(s3.get_object(Bucket="dr-summaries", Key=summary["summary_key"])["Body"].read())
    assert stored["tables"][0]["backup_name"] == summary["tables"][0]["backup_name"]
    assert stored["plan"]["retention_days"] == 7 and stored["errors"] == []


def _metric_maximum(cloudwatch: Any, dimensions: dict[str, str], now: datetime) -> float:
    points = cloudwatch.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName=RPO_AGE_METRIC,
        Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
        StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(hours=1),
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    return float(max(point["Maximum"] for point in points))


def test_rpo_age_metric_and_alarm_per_table(mock_aws: None) -> None:
    make_table("us-east-1", "backed-up", rpo_minutes="60")
    make_table("us-east-1", "pitr-zero", rpo_minutes="0", pitr=True)
    make_table("us-east-1", "accepts-loss", rpo_minutes="none")
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    taken_at = datetime.now(UTC)
    run_backups(plan(tables=["backed-up"], regions=["us-east-1"]), factory, now=taken_at)

    # Two hours later, with a different reason so that no new backup resets the age.
    later = taken_at + timedelta(hours=2)
    tables = ["backed-up", "pitr-zero", "accepts-loss"]
    without_alarms = run_backups(plan(tables=tables, regions=["us-east-1"], reason="audit"), factory, now=later)
    assert [t["alarm"] for t in without_alarms["tables"]] == [None, None, None], "alarms only when asked"
    assert cloudwatch.describe_alarms()["MetricAlarms"] == []
    summary = run_backups(
        plan(tables=tables, regions=["us-east-1"], reason="audit", ensure_alarms=True), factory, now=later
    )
    by_table = {t["table"]: t for t in summary["tables"]}

    backed_up = by_table["backed-up"]
    # The new "audit" backup is the newest recovery point now; it was taken at real time, ~2 h before `later`.
    assert backed_up["recovery_point"] == "backup"
    assert backed_up["rpo_age_seconds"] == pytest.approx(7200, abs=60)
    assert (backed_up["alarm_threshold_seconds"], backed_up["rpo_met"]) == (3600, False)
    dims = {"ResourceType": "DynamoDBTable", "Resource": "backed-up", "Region": "us-east-1"}
    assert _metric_maximum(cloudwatch, dims, later) == pytest.approx(7200, abs=60)
    [alarm] = cloudwatch.describe_alarms(AlarmNames=[backed_up["alarm"]])["MetricAlarms"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Threshold"]) == (NAMESPACE, RPO_AGE_METRIC, 3600)
    assert alarm["TreatMissingData"] == "breaching" and alarm["Dimensions"] == [
        {"Name": k, "Value": v} for k, v in dims.items()
    ]

    pitr = by_table["pitr-zero"]
    assert pitr["recovery_point"] == "pitr"
    assert pitr["alarm_threshold_seconds"] == rpo_age.PITR_LAG_ALLOWANCE_SECONDS  # RPO 0 + AWS's PITR lag
    assert by_table["accepts-loss"]["alarm"] is None and by_table["accepts-loss"]["rpo_seconds"] is None


def create_bucket(region: str, name: str) -> None:
    s3 = boto3.client("s3", region_name=region)
    location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=name, **location)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})


def publish_replication_latency(region: str, source: str, destination: str, rule_id: str, at: datetime) -> None:
    """What S3 publishes for a rule with replication metrics, in the destination's Region; moto never does."""
    boto3.client("cloudwatch", region_name=region).put_metric_data(
        Namespace="AWS/S3",
        MetricData=[
            {
                "MetricName": "ReplicationLatency",
                "Dimensions": [
                    {"Name": "SourceBucket", "Value": source},
                    {"Name": "DestinationBucket", "Value": destination},
                    {"Name": "RuleId", "Value": rule_id},
                ],
                "Timestamp": at,
                "Value": 42.0,
                "Unit": "Seconds",
            }
        ],
    )


def test_bucket_rpo_age_is_read_and_published_in_the_replicas_region(mock_aws: None) -> None:
    """Primary in us-east-1, replica in us-west-2: the latency datapoint exists only in us-west-2, as on AWS."""
    create_bucket("us-east-1", "audio-primary")
    create_bucket("us-west-2", "audio-replica")
    create_bucket("us-east-1", "scratch")
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.put_bucket_tagging(
        Bucket="audio-primary", Tagging={"TagSet": [{"Key": "dr:rpo-regional-minutes", "Value": "15"}]}
    )
    s3.put_bucket_replication(
        Bucket="audio-primary",
        ReplicationConfiguration=replication_to("arn:aws:s3:::audio-replica", rule_id="all"),
    )
    now = datetime.now(UTC)
    publish_replication_latency("us-west-2", "audio-primary", "audio-replica", "all", now - timedelta(minutes=2))
    source_region = boto3.client("cloudwatch", region_name="us-east-1")
    replica_region = boto3.client("cloudwatch", region_name="us-west-2")
    # moto lists its own bucket-size metrics; ReplicationLatency exists only beside the replica.
    assert source_region.list_metrics(Namespace="AWS/S3", MetricName="ReplicationLatency")["Metrics"] == []
    make_table("us-east-1")

    summary = run_backups(plan(regions=["us-east-1"], buckets=["audio-primary", "scratch"]), factory, now=now)

    replicated, scratch = summary["buckets"]
    assert (replicated["recovery_point"], replicated["rpo_age_seconds"]) == ("replication-latency", 42.0)
    assert (replicated["region"], replicated["metric_region"]) == ("us-east-1", "us-west-2")
    assert (replicated["alarm_threshold_seconds"], replicated["rpo_met"], replicated["alarm"]) == (900, True, None)
    dims = {"ResourceType": "S3Bucket", "Resource": "audio-primary", "Region": "us-east-1"}
    assert _metric_maximum(replica_region, dims, now) == 42.0
    in_source_region = source_region.list_metrics(
        Namespace=NAMESPACE, Dimensions=[{"Name": "ResourceType", "Value": "S3Bucket"}]
    )
    assert in_source_region["Metrics"] == [], "a bucket's age is published beside its replica only"
    assert scratch == {
        "bucket": "scratch",
        "region": "us-east-1",
        "recovery_point": "not-replicated",
        "rpo_age_seconds": None,
    }


def test_bucket_rpo_age_alarm_is_upserted_beside_the_replica_only_when_asked(mock_aws: None) -> None:
    create_bucket("us-east-1", "audio-primary")
    create_bucket("us-west-2", "audio-replica")
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.put_bucket_tagging(
        Bucket="audio-primary", Tagging={"TagSet": [{"Key": "dr:rpo-regional-minutes", "Value": "15"}]}
    )
    s3.put_bucket_replication(
        Bucket="audio-primary", ReplicationConfiguration=replication_to("arn:aws:s3:::audio-replica")
    )
    now = datetime.now(UTC)
    topic = "arn:aws:sns:us-west-2:123456789012:alerts"
    alarm = rpo_age.RpoAlarm(topic_arn=topic, ensure=True)

    result = rpo_age.bucket_rpo(factory, alarm, "us-east-1", "audio-primary", now)

    # No datapoint: the age is unknown, nothing is published, and the alarm (missing data breaches) says so.
    assert (result["recovery_point"], result["rpo_age_seconds"]) == ("no-replication-metrics", None)
    [created] = boto3.client("cloudwatch", region_name="us-west-2").describe_alarms()["MetricAlarms"]
    assert created["AlarmName"] == result["alarm"] == "dr-rpo-age-S3Bucket-audio-primary-us-east-1"
    assert (created["TreatMissingData"], created["AlarmActions"]) == ("breaching", [topic])
    assert boto3.client("cloudwatch", region_name="us-east-1").describe_alarms()["MetricAlarms"] == []


# ---------------------------------------------------------------- drctl and the Lambda on a moto server


@pytest.mark.slow
def test_drctl_backup_before_release_in_both_regions_is_idempotent(moto_endpoint: str) -> None:
    for region in REGIONS:
        make_table(region)
    args = ["backup-before-release", "--release", "1.4.2", "--tables", TABLE, "--regions", ",".join(REGIONS)]

    first = CliRunner().invoke(app, [*args, "--json"])
    again = CliRunner().invoke(app, [*args, "--json"])

    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert summary["created"] == 2 and json.loads(again.stdout)["created"] == 0
    assert {t["backup_name"].split("--")[1] for t in summary["tables"]} == {"release-1.4.2"}
    assert summary["endpoint"] == moto_endpoint
    assert all(len(names_in(region)) == 1 for region in REGIONS)


@pytest.mark.slow
def test_drctl_backup_reports_a_missing_table_and_exits_1(moto_endpoint: str) -> None:
    make_table("us-east-1")
    result = CliRunner().invoke(
        app, ["backup", "--tables", f"{TABLE},ghost", "--regions", "us-east-1", "--reason", "pre-migration", "--json"]
    )
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert summary["created"] == 1 and [e["table"] for e in summary["errors"]] == ["ghost"]


@pytest.mark.slow
def test_scheduled_lambda_backs_up_the_configured_tables(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, lambda_context: Any
) -> None:
    cached_client.cache_clear()  # clients from another test may point at a mock that is gone
    make_table("us-east-1")
    monkeypatch.setenv("BACKUP_TABLES", TABLE)
    monkeypatch.setenv("BACKUP_REGIONS", "us-east-1")
    monkeypatch.setenv("RETENTION_DAYS", "7")

    summary = backups.lambda_handler(SCHEDULED_EVENT, lambda_context)

    assert summary["created"] == 1 and summary["errors"] == []
    assert names_in("us-east-1") == {summary["tables"][0]["backup_name"]}
    assert reason_from_name(summary["tables"][0]["backup_name"]) == "scheduled"
