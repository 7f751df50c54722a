"""``SiteChecks``: a site's Route 53 health checks and failover records, built from ``stackmodel.site.route53_plan``
(the rehearsal provisions the same plan on moto), and the advisory ``AWS/Route53`` alarms in us-east-1.

Each logical check keeps the resource name and reference name it had under ``FailoverSite`` (a changed reference
name replaces the check: a new check has no last status and reads healthy, which while failed over sends DNS back;
the switch checks are ``protect=True`` for the same reason).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import pulumi
import pulumi_aws as aws

from stackmodel.site import CheckSpec, Route53Plan

# The provider appends a generated suffix to form the health check's CallerReference, which Route 53 caps at 64
# characters (CreateHealthCheck); 38 leaves room for it.
REFERENCE_NAME_MAX = 38
ROUTE53_REGION = "us-east-1"  # Route 53 health-check metrics are published here only
# logical check -> (resource name suffix, reference name suffix); the first five as FailoverSite named them.
CHECK_NAMES: dict[str, tuple[str, str]] = {
    "switch-alarm": ("switch", "switch"),
    "probe-primary": ("primary", "primary"),
    "secondary": ("secondary", "secondary"),
    "primary-calculated": ("primary-calculated", "calc"),
    "arc-primary": ("arc-primary", "arc-primary"),
    "arc-secondary": ("arc-secondary", "arc-secondary"),
    "switch-endpoint": ("switch-endpoint", "sw-endpoint"),
    "switch": ("switch-calculated", "sw-calc"),
    "drill-switch-endpoint": ("drill-switch-endpoint", "drill-endpoint"),
    "drill-switch-alarm": ("drill-switch", "drill-alarm"),
    "drill-switch": ("drill-switch-calculated", "drill-calc"),
}
# Checks that existed under FailoverSite (aliased to it); the rest are new.
EARLIER_CHECKS = frozenset(
    {"switch-alarm", "probe-primary", "secondary", "primary-calculated", "arc-primary", "arc-secondary"}
)
# Which check each advisory alarm watches (HealthCheckStatus, us-east-1): role -> logical check.
ADVISORY = {"primary": "probe-primary", "secondary": "secondary"}


@dataclass(frozen=True)
class SiteChecksArgs:
    site_name: str  # the FailoverSite's resource name: children keep the names they had under it
    site: str  # the site's config name
    qualified: str  # <namePrefix>-<site>, for Name tags and alarm names
    plan: Route53Plan
    hosted_zone_id: str
    route53_provider: aws.Provider  # us-east-1
    advisory_topic_arn: pulumi.Input[str]  # in us-east-1
    tags: Mapping[str, str]
    budget_tags: Mapping[str, str]  # on the PRIMARY record's check: the pack redoes the budget from them
    moved_from: pulumi.Resource | None = None


class SiteChecks(pulumi.ComponentResource):
    TYPE: ClassVar[str] = "dr:site:SiteChecks"

    check_ids: dict[str, pulumi.Output[str]]
    primary_check_id: pulumi.Output[str]

    def __init__(self, name: str, args: SiteChecksArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(self.TYPE, name, None, opts)
        self._args = args
        primary_record = next(r for r in args.plan.records if r.set_identifier == f"{args.site}-primary")
        self._primary_logical = primary_record.check_logical
        self.check_ids = {}
        for check in args.plan.checks:  # children come before their calculated parent in the plan
            self.check_ids[check.logical] = self._check(check).id
        self._records()
        self._advisory_alarms()
        assert self._primary_logical is not None
        self.primary_check_id = self.check_ids[self._primary_logical]
        self.register_outputs({"primary_check_id": self.primary_check_id})

    def _opts(self, logical_or_new: str | None, **extra: Any) -> pulumi.ResourceOptions:
        earlier = logical_or_new is not None and (logical_or_new in EARLIER_CHECKS or logical_or_new == "earlier")
        aliases = [pulumi.Alias(parent=self._args.moved_from)] if earlier and self._args.moved_from else None
        return pulumi.ResourceOptions(parent=self, provider=self._args.route53_provider, aliases=aliases, **extra)

    def _check(self, check: CheckSpec) -> aws.route53.HealthCheck:
        args = self._args
        config = check.config
        suffix, reference = CHECK_NAMES[check.logical]
        alarm = config.get("AlarmIdentifier") or {}
        tags = {**args.tags, "Name": f"{args.qualified}-{suffix}"}
        if check.logical == self._primary_logical:
            tags |= args.budget_tags
        return aws.route53.HealthCheck(
            f"{args.site_name}-{suffix}",
            type=config["Type"],
            ip_address=config.get("IPAddress"),
            fqdn=config.get("FullyQualifiedDomainName"),
            port=config.get("Port"),
            resource_path=config.get("ResourcePath"),
            request_interval=config.get("RequestInterval"),
            failure_threshold=config.get("FailureThreshold"),
            invert_healthcheck=config.get("Inverted"),
            enable_sni=config.get("EnableSNI"),
            child_healthchecks=[self.check_ids[child] for child in config["ChildHealthChecks"]]
            if "ChildHealthChecks" in config
            else None,
            child_health_threshold=config.get("HealthThreshold"),
            cloudwatch_alarm_name=alarm.get("Name"),
            cloudwatch_alarm_region=alarm.get("Region"),
            insufficient_data_health_status=config.get("InsufficientDataHealthStatus"),
            routing_control_arn=config.get("RoutingControlArn"),
            reference_name=f"{args.site}-{reference}"[:REFERENCE_NAME_MAX],
            tags=tags,
            opts=self._opts(check.logical, protect=check.protect),
        )

    def _records(self) -> None:
        args = self._args
        for record in args.plan.records:
            # <site>-primary / <site>-secondary as before; drill.<record> and probe.<record> are new.
            suffix = record.set_identifier.removeprefix(f"{args.site}-")
            earlier = suffix in ("primary", "secondary")
            aws.route53.Record(
                f"{args.site_name}-{suffix}",
                zone_id=args.hosted_zone_id,
                name=record.name,
                type=record.type,
                ttl=record.ttl,
                records=[record.value],
                set_identifier=record.set_identifier,
                failover_routing_policies=[{"type": record.failover}],
                health_check_id=self.check_ids[record.check_logical] if record.check_logical else None,
                opts=self._opts("earlier" if earlier else None),
            )

    def _advisory_alarms(self) -> None:
        """AWS/Route53 HealthCheckStatus lives in us-east-1 only: useful signals, never in the recovery path."""
        args = self._args
        watched = {role: logical for role, logical in ADVISORY.items() if logical in self.check_ids}
        assert self._primary_logical is not None
        watched["switch"] = self._primary_logical
        for role, logical in watched.items():
            aws.cloudwatch.MetricAlarm(
                f"{args.site_name}-{role}-status",
                name=f"{args.qualified}-{role}-health-check",
                alarm_description=f"Advisory: Route 53 reports the {role} health check of site {args.site} "
                "unhealthy (the orchestrator decides failover from its own probes)",
                namespace="AWS/Route53",
                metric_name="HealthCheckStatus",
                dimensions={"HealthCheckId": self.check_ids[logical]},
                statistic="Minimum",
                period=60,
                evaluation_periods=1,
                comparison_operator="LessThanThreshold",
                threshold=1,
                treat_missing_data="breaching",
                alarm_actions=[args.advisory_topic_arn],
                ok_actions=[args.advisory_topic_arn],
                region=ROUTE53_REGION,
                tags=dict(args.tags),
                opts=self._opts("earlier"),
            )
