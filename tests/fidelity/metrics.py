"""Where AWS publishes each metric the project alarms on, and with which dimension sets.

One row per (namespace, metric). An alarm on a metric in another Region, or on a dimension set AWS does not emit,
never receives a datapoint: with ``notBreaching`` it stays OK forever, with ``breaching`` it stays in ALARM.

Region rules:
- ``source``: the Region of the replication source bucket (dimension ``SourceBucket``, or ``Resource`` for the
  project's own per-bucket metrics);
- ``destination``: the Region of that source's replication destination bucket;
- ``table``: a Region where the declared table named by ``TableName`` (or ``Resource``) lives, as its primary or a
  replica; the one its ``Region`` dimension names, when it has one;
- ``table-source``: a Region of the table other than ``ReceivingRegion`` (itself a Region of the table);
- ``vault``: the Region of the declared backup vault named by ``BackupVaultName``;
- ``rpo-age-backup``: where the table's RPO-age function publishes backup ages: the first of its ``BACKUP_REGIONS``
  (its own Region when unset), as ``handlers.rpo_age.run_table_rpo_age`` does;
- ``us-east-1``: only there (Route 53 health checks);
- ``bucket-request-metrics``: the Region of the declared bucket named by ``BucketName``, and only when the stack
  declares a request-metrics configuration (``aws.s3.BucketMetric``) on it whose id is ``FilterId``: S3 publishes
  request metrics for configured filters only;
- ``site-orchestrator``: the stack's recovery Region, when ``Site`` names a configured site (``<app>/<name>``):
  the FailoverSite orchestrator runs and publishes there (components/site.py, handlers/failover/actions.py);
- ``drill-metrics``: the ``DRILL_METRICS_REGION`` of the scheduled drill function whose ``DRILL_STACK`` is the
  ``Stack`` dimension (handlers/drills/report.py publishes with the client of that Region);
- ``own``: wherever the resource the alarm watches lives (the alarm's own Region); account-level metrics too.

A row whose Region depends on what is measured gives a ``ByDimension`` rule: one rule per value of a dimension
(``ResourceType`` of the project's ``RecoveryPointAgeSeconds``); a value with no rule cannot be placed, which fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

S3_REPLICATION_METRICS = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/repl-metrics.html"
S3_REPLICATION_DIMENSIONS = frozenset({"SourceBucket", "DestinationBucket", "RuleId"})
# DynamoDB Developer Guide, "DynamoDB Metrics and dimensions": each metric's "Dimensions" line.
DYNAMODB_METRICS = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/metrics-dimensions.html"
# "Monitoring global tables" (version 2019.11.21): ReplicationLatency "is emitted for every source- and
# destination-Region pair", by the source Region, with the destination as ReceivingRegion.
DYNAMODB_GLOBAL_TABLES = (
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/V2globaltables_monitoring.html"
)
# AWS Backup Developer Guide, "AWS Backup metrics with Amazon CloudWatch": job metrics per resource type and vault,
# in the Region that runs the job (the vault's).
BACKUP_METRICS = "https://docs.aws.amazon.com/aws-backup/latest/devguide/cloudwatch.html"
# S3 User Guide, "Metrics and dimensions" (request metrics: "Amazon S3 CloudWatch request metrics", dimensions
# BucketName and FilterId, reported for the bucket's configured metrics filters).
S3_REQUEST_METRICS = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/metrics-dimensions.html"
# Route 53 Developer Guide, "Monitoring health checks using CloudWatch": health-check metrics "are available only
# in the US East (N. Virginia) Region", dimension HealthCheckId.
ROUTE53_HEALTH_CHECKS = "https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/monitoring-health-checks.html"
REGION_RULES = frozenset(
    {
        "source",
        "destination",
        "table",
        "table-source",
        "vault",
        "rpo-age-backup",
        "us-east-1",
        "bucket-request-metrics",
        "site-orchestrator",
        "drill-metrics",
        "own",
    }
)


@dataclass(frozen=True)
class ByDimension:
    """A Region rule per value of one dimension: where a metric is published depends on what it measures."""

    dimension: str
    rules: Mapping[str, str]


@dataclass(frozen=True)
class MetricRow:
    namespace: str
    metric: str
    region_rule: str | ByDimension  # one of REGION_RULES, or one per value of a dimension
    dimension_sets: tuple[frozenset[str], ...]
    source: str  # the AWS page (or the project document) that says so

    def rule_for(self, dimensions: Mapping[str, str]) -> str | None:
        if isinstance(self.region_rule, str):
            return self.region_rule
        return self.region_rule.rules.get(dimensions.get(self.region_rule.dimension, ""))

    def rules(self) -> set[str]:
        return {self.region_rule} if isinstance(self.region_rule, str) else set(self.region_rule.rules.values())


METRICS: tuple[MetricRow, ...] = (
    # S3 User Guide, "Using S3 Replication metrics": table column "Which Region is this metric published in?".
    MetricRow("AWS/S3", "ReplicationLatency", "destination", (S3_REPLICATION_DIMENSIONS,), S3_REPLICATION_METRICS),
    MetricRow("AWS/S3", "BytesPendingReplication", "destination", (S3_REPLICATION_DIMENSIONS,), S3_REPLICATION_METRICS),
    MetricRow(
        "AWS/S3", "OperationsPendingReplication", "destination", (S3_REPLICATION_DIMENSIONS,), S3_REPLICATION_METRICS
    ),
    MetricRow("AWS/S3", "OperationsFailedReplication", "source", (S3_REPLICATION_DIMENSIONS,), S3_REPLICATION_METRICS),
    # DynamoDB: a global table's replicas each publish their own table metrics under the same TableName.
    MetricRow(
        "AWS/DynamoDB",
        "ReplicationLatency",
        "table-source",
        (frozenset({"TableName", "ReceivingRegion"}),),
        f"{DYNAMODB_GLOBAL_TABLES}; {DYNAMODB_METRICS}",
    ),
    MetricRow("AWS/DynamoDB", "ThrottledRequests", "table", (frozenset({"TableName", "Operation"}),), DYNAMODB_METRICS),
    MetricRow("AWS/DynamoDB", "SystemErrors", "table", (frozenset({"TableName", "Operation"}),), DYNAMODB_METRICS),
    # "the aggregate of HTTP 400 errors ... for the current Region and the current AWS account": no dimension.
    MetricRow("AWS/DynamoDB", "UserErrors", "own", (frozenset(),), DYNAMODB_METRICS),
    MetricRow(
        "AWS/Backup",
        "NumberOfBackupJobsFailed",
        "vault",
        (frozenset({"ResourceType", "BackupVaultName"}),),
        BACKUP_METRICS,
    ),
    MetricRow(
        "AWS/S3",
        "DeleteRequests",
        "bucket-request-metrics",
        (frozenset({"BucketName", "FilterId"}),),
        S3_REQUEST_METRICS,
    ),
    MetricRow("AWS/Route53", "HealthCheckStatus", "us-east-1", (frozenset({"HealthCheckId"}),), ROUTE53_HEALTH_CHECKS),
    # The FailoverSite switch: the orchestrator publishes it every round in the recovery Region, dimension
    # Site=<app>/<name> (handlers/failover/actions.py switch_dimensions; docs/contract.md "Runtime names"); the
    # drill record's switch under Site=<app>/<name>/drill, published by drctl drill --scenario switch-latency.
    MetricRow(
        "DR/Recovery",
        "FailoverSwitch",
        "site-orchestrator",
        (frozenset({"Site"}),),
        "docs/contract.md (Runtime names); handlers/failover/actions.py",
    ),
    # A drill's verdict: Stack alone for the whole drill, Stack/Scenario/Target per scenario
    # (handlers/drills/report.py publish).
    MetricRow(
        "DR/Recovery",
        "DrillPassed",
        "drill-metrics",
        (frozenset({"Stack"}), frozenset({"Stack", "Scenario", "Target"})),
        "docs/contract.md (Runtime names); handlers/drills/report.py",
    ),
    # The project's own metric (handlers/rpo_age.py, docs/contract.md "Runtime names"), placed by what it measures:
    # a bucket's age is read from ReplicationLatency and published beside it, in the destination Region; a table's
    # PITR age in each Region of the table (its Region dimension); its AWS Backup age where the function publishes.
    MetricRow(
        "DR/Recovery",
        "RecoveryPointAgeSeconds",
        ByDimension(
            "ResourceType",
            {"S3Bucket": "destination", "DynamoDBTable": "table", "DynamoDBTableBackup": "rpo-age-backup"},
        ),
        (frozenset({"ResourceType", "Resource", "Region"}),),
        "docs/contract.md (Runtime names); handlers/rpo_age.py",
    ),
)


def row(namespace: str, metric: str) -> MetricRow | None:
    return next((r for r in METRICS if (r.namespace, r.metric) == (namespace, metric)), None)
