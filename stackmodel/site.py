"""The site as plain data: derived names, linked stores and the site descriptor (``/dr/<app>/site/<name>``).

The component writes the descriptor (components/site.py) and a local drill builds the same from config
(handlers/cli/drill_stack.py), so both import it from here, where no pulumi is imported. ``lock_table`` and a
table's name may be a Pulumi output in the program (typed ``Any`` here).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from handlers.runtime_names import RECOVERY_METRICS_NAMESPACE as METRICS_NAMESPACE
from stackmodel.config.sites import SiteSpec
from stackmodel.config.stack import StackSettings

SWITCH_METRIC = "FailoverSwitch"  # 1 = failed over (PRIMARY unhealthy), 0 = primary active


def active_region_parameter(app: str) -> str:
    return f"/dr/{app}/active-region"


def active_bucket_parameter(app: str, logical: str) -> str:
    return f"/dr/{app}/active-bucket/{logical}"


def site_parameter(app: str, site: str) -> str:
    return f"/dr/{app}/site/{site}"


@dataclass(frozen=True)
class LinkedBucket:
    """A tier-1 bucket the site depends on: the application reads ``active-bucket/<logical>``."""

    logical: str
    primary_name: str
    primary_region: str
    replica_name: str
    replica_region: str


@dataclass(frozen=True)
class LinkedTable:
    """A global table the site depends on (the stack's TableSpec, as plain data): replicas checked before failover."""

    logical: str
    table_name: Any
    regions: tuple[str, ...]


def linked_stores(settings: StackSettings, site: SiteSpec) -> tuple[list[LinkedBucket], list[LinkedTable]]:
    """The site's linked buckets and tables, resolved from the stack's typed config."""
    buckets = {spec.name: spec for spec in settings.buckets}
    tables = {spec.name: spec for spec in settings.tables}
    return (
        [
            LinkedBucket(
                logical=name,
                primary_name=buckets[name].primary_bucket_name,
                primary_region=settings.primary_region,
                replica_name=buckets[name].replica_bucket_name or "",
                replica_region=settings.recovery_region,
            )
            for name in site.buckets
        ],
        [LinkedTable(name, tables[name].table_name, tables[name].regions) for name in site.tables],
    )


def site_switch_alarm_name(name_prefix: str, site: str) -> str:
    return f"{name_prefix}-{site}-failover-switch"


def site_lock_table_name(name_prefix: str, site: str) -> str:
    return f"{name_prefix}-{site}-failover-lock"


def cloudwatch_switch(app: str, name_prefix: str, site: str, recovery_region: str) -> dict[str, Any]:
    """How the orchestrator flips the CloudWatch switch: the metric it publishes and the alarm Route 53 reads."""
    return {
        "kind": "cloudwatch",
        "namespace": METRICS_NAMESPACE,
        "metricName": SWITCH_METRIC,
        "dimensions": {"Site": f"{app}/{site}"},
        "alarmName": site_switch_alarm_name(name_prefix, site),
        "region": recovery_region,
    }


def describe_site(
    spec: SiteSpec,
    *,
    app: str,
    primary_region: str,
    recovery_region: str,
    buckets: Sequence[LinkedBucket],
    tables: Sequence[LinkedTable],
    switch: Mapping[str, Any],
    lock_table: Any,
    topic_arn: Any | None,
) -> dict[str, Any]:
    """The site descriptor (``/dr/<app>/site/<name>``) that the orchestrator and drctl read
    (handlers/failover/site.py): the component writes it, and a local drill builds the same from config."""
    return {
        "name": spec.name,
        "app": app,
        "primaryRegion": primary_region,
        "recoveryRegion": recovery_region,
        "hostedZoneId": spec.hosted_zone_id,
        "recordName": spec.record_name,
        "recordType": spec.record_type,
        "ttlSeconds": spec.ttl_seconds,
        "primary": {"host": spec.primary.host, "url": spec.primary.url},
        "secondary": {"host": spec.secondary.host, "url": spec.secondary.url},
        "probeIntervalSeconds": spec.probe_interval_seconds,
        "failureThreshold": spec.failure_threshold,
        "healthyMinutesBeforeFailback": spec.healthy_minutes_before_failback,
        "rpoMinutes": spec.rpo_minutes,
        "rtoMinutes": spec.rto_minutes,
        "autoDnsFailover": spec.auto_dns_failover,
        "switch": switch,
        "parameters": {
            "activeRegion": active_region_parameter(app),
            "activeBuckets": {b.logical: active_bucket_parameter(app, b.logical) for b in buckets},
        },
        "lockTable": lock_table,
        "topicArn": topic_arn,
        "metricsNamespace": METRICS_NAMESPACE,
        "buckets": [
            {
                "logical": b.logical,
                "primary": b.primary_name,
                "primaryRegion": b.primary_region,
                "replica": b.replica_name,
                "replicaRegion": b.replica_region,
            }
            for b in buckets
        ],
        "tables": [{"logical": t.logical, "name": t.table_name, "regions": list(t.regions)} for t in tables],
        "database": None
        if spec.database is None
        else {
            "engine": spec.database.engine,
            "identifier": spec.database.identifier,
            "globalClusterIdentifier": spec.database.global_cluster_identifier,
        },
        "budget": spec.budget.as_dict(),
    }
