"""Where AWS publishes each metric the project alarms on, and with which dimension sets.

One row per (namespace, metric). An alarm on a metric in another Region, or on a dimension set AWS does not emit,
never receives a datapoint: with ``notBreaching`` it stays OK forever, with ``breaching`` it stays in ALARM.

Region rules:
- ``source``: the Region of the replication source bucket (dimension ``SourceBucket``, or ``Resource`` for the
  project's own per-bucket metrics);
- ``destination``: the Region of that source's replication destination bucket;
- ``us-east-1``: only there (Route 53 health checks);
- ``own``: wherever the resource the alarm watches lives (the alarm's own Region).

Issues 13-15 add their rows (DynamoDB, AWS Backup, Route 53) here.
"""

from __future__ import annotations

from dataclasses import dataclass

S3_REPLICATION_METRICS = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/repl-metrics.html"
S3_REPLICATION_DIMENSIONS = frozenset({"SourceBucket", "DestinationBucket", "RuleId"})


@dataclass(frozen=True)
class MetricRow:
    namespace: str
    metric: str
    region_rule: str  # "source" | "destination" | "us-east-1" | "own"
    dimension_sets: tuple[frozenset[str], ...]
    source: str  # the AWS page (or the project document) that says so


METRICS: tuple[MetricRow, ...] = (
    # S3 User Guide, "Using S3 Replication metrics": table column "Which Region is this metric published in?".
    MetricRow("AWS/S3", "ReplicationLatency", "destination", (S3_REPLICATION_DIMENSIONS,), S3_REPLICATION_METRICS),
    MetricRow("AWS/S3", "BytesPendingReplication", "destination", (S3_REPLICATION_DIMENSIONS,), S3_REPLICATION_METRICS),
    MetricRow(
        "AWS/S3", "OperationsPendingReplication", "destination", (S3_REPLICATION_DIMENSIONS,), S3_REPLICATION_METRICS
    ),
    MetricRow("AWS/S3", "OperationsFailedReplication", "source", (S3_REPLICATION_DIMENSIONS,), S3_REPLICATION_METRICS),
    # The project's own metric (handlers/rpo_age.py, docs/contract.md "Runtime names"): a bucket's age is read from
    # ReplicationLatency and published beside it, in the destination Region.
    MetricRow(
        "DR/Recovery",
        "RecoveryPointAgeSeconds",
        "destination",
        (frozenset({"ResourceType", "Resource", "Region"}),),
        "docs/contract.md (Runtime names); handlers/rpo_age.py",
    ),
)


def row(namespace: str, metric: str) -> MetricRow | None:
    return next((r for r in METRICS if (r.namespace, r.metric) == (namespace, metric)), None)
