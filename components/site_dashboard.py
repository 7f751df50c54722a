"""``SiteDashboard``: one CloudWatch dashboard per site in the recovery Region; each widget names the Region its
metrics live in (dashboards are cross-Region)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pulumi
import pulumi_aws as aws

from components.recovery_function import METRICS_NAMESPACE
from stackmodel.site import SWITCH_METRIC, LinkedBucket, LinkedTable

ROUTE53_REGION = "us-east-1"
TIMING_METRICS = ("DetectionSeconds", "SwitchSeconds", "DnsConfirmedSeconds", "TransitionSeconds")


@dataclass(frozen=True)
class SiteDashboardArgs:
    site_name: str  # the FailoverSite's resource name: the dashboard keeps the name it had under it
    dashboard_name: str
    site_dimension: str  # <app>/<site>, the switch and timing metrics' Site
    primary_region: str
    recovery_region: str
    recovery_provider: aws.Provider
    health_checks: Mapping[str, pulumi.Input[str]]  # label -> Route 53 health check id
    buckets: Sequence[LinkedBucket] = field(default_factory=tuple)
    tables: Sequence[LinkedTable] = field(default_factory=tuple)
    moved_from: pulumi.Resource | None = None


class SiteDashboard(pulumi.ComponentResource):
    TYPE: ClassVar[str] = "dr:site:SiteDashboard"

    dashboard_name: pulumi.Output[str]

    def __init__(self, name: str, args: SiteDashboardArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(self.TYPE, name, None, opts)
        recovery, site = args.recovery_region, args.site_dimension
        health = [
            ["AWS/Route53", "HealthCheckStatus", "HealthCheckId", check, {"label": label}]
            for label, check in args.health_checks.items()
        ]
        widgets: list[dict[str, Any]] = [
            _widget("Endpoint and switch health (Route 53, us-east-1)", ROUTE53_REGION, health, "Minimum"),
            _widget(
                "Failover switch (1 = failed over)",
                recovery,
                [
                    [METRICS_NAMESPACE, SWITCH_METRIC, "Site", site],
                    [METRICS_NAMESPACE, SWITCH_METRIC, "Site", f"{site}/drill"],
                ],
                "Maximum",
            ),
            _widget(
                "Failover timings (s)",
                recovery,
                [[METRICS_NAMESPACE, metric, "Site", site] for metric in TIMING_METRICS],
                "Maximum",
            ),
        ]
        for bucket in args.buckets:
            # S3 publishes ReplicationLatency in the destination bucket's region.
            widgets.append(
                _widget(
                    f"Replication latency {bucket.logical} (s)",
                    bucket.replica_region,
                    [
                        [
                            "AWS/S3",
                            "ReplicationLatency",
                            "SourceBucket",
                            bucket.primary_name,
                            "DestinationBucket",
                            bucket.replica_name,
                            "RuleId",
                            "all-objects",
                        ]
                    ],
                    "Maximum",
                )
            )
            widgets.append(
                _widget(
                    f"Newest recovery point age {bucket.logical} (s)",
                    bucket.replica_region,  # published beside the replica (handlers/rpo_age.py)
                    [
                        [
                            METRICS_NAMESPACE,
                            "RecoveryPointAgeSeconds",
                            "ResourceType",
                            "S3Bucket",
                            "Resource",
                            bucket.primary_name,
                            "Region",
                            bucket.primary_region,
                        ]
                    ],
                    "Maximum",
                )
            )
        for table in args.tables:
            if table.strong:
                continue  # an MRSC table publishes no ReplicationLatency (its writes are synchronous)
            # DynamoDB publishes ReplicationLatency in the source region, per receiving region.
            widgets.append(
                _widget(
                    f"Replication latency {table.logical} (ms)",
                    args.primary_region,
                    [
                        ["AWS/DynamoDB", "ReplicationLatency", "TableName", table.table_name, "ReceivingRegion", region]
                        for region in table.regions
                        if region != args.primary_region
                    ],
                    "Maximum",
                )
            )
        aliases = [pulumi.Alias(parent=args.moved_from)] if args.moved_from is not None else None
        dashboard = aws.cloudwatch.Dashboard(
            f"{args.site_name}-dashboard",
            dashboard_name=args.dashboard_name[:255],
            dashboard_body=pulumi.Output.json_dumps({"widgets": _layout(widgets)}),
            region=recovery,
            opts=pulumi.ResourceOptions(parent=self, provider=args.recovery_provider, aliases=aliases),
        )
        self.dashboard_name = dashboard.dashboard_name
        self.register_outputs({"dashboard_name": self.dashboard_name})


def _widget(title: str, region: str, metrics: list[list[Any]], stat: str) -> dict[str, Any]:
    return {
        "type": "metric",
        "properties": {
            "title": title,
            "region": region,
            "metrics": metrics,
            "stat": stat,
            "period": 60,
            "view": "timeSeries",
        },
    }


def _layout(widgets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**w, "x": (i % 2) * 12, "y": (i // 2) * 6, "width": 12, "height": 6} for i, w in enumerate(widgets)]
