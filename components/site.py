"""``FailoverSite``: a region failover that never depends on the failing region (docs/runbooks/failover.md).

DNS moves through Route 53's data plane only, on the orchestrator's decision. The PRIMARY record's check is the
*switch*: by default a calculated check (HealthThreshold 2) over an inverted fast HTTPS check of a switch endpoint
in the recovery Region and an alarm-based check on the metric the orchestrator publishes every round; or the alarm
alone, or a Route 53 ARC routing control. The orchestrator runs bounded rounds in the recovery region, confirms
the failure with two vantage points (its own probe and Route 53's, through ``probe.<record>``), checks the standby,
then moves the database, the application's settings and DNS in that order. ``drill.<record>`` has its own switch
so a drill measures the switch without moving production. Route 53 health-check metrics exist only in us-east-1,
so the ``AWS/Route53`` alarms there are advisory and never in the recovery path.

The pieces are child components, each in its own module with typed args: ``SiteSwitch`` (site_switch.py),
``SiteChecks`` (checks and records from ``stackmodel.site.route53_plan``, site_checks.py), ``SiteDescriptor``,
``SiteOrchestrator`` and ``SiteDashboard``. Resources that existed before the split keep their names and carry an
alias to this component, so ``pulumi up`` moves them instead of replacing them (``make compare-registrations``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pulumi
import pulumi_aws as aws

from components import tags
from components.keys import BucketKeyUsers, merge_bucket_key_users
from components.local import provider_args
from components.recovery_function import HANDLERS_DIR
from components.site_checks import ROUTE53_REGION, SiteChecks, SiteChecksArgs
from components.site_dashboard import SiteDashboard, SiteDashboardArgs
from components.site_descriptor import SiteDescriptor, SiteDescriptorArgs
from components.site_orchestrator import SiteOrchestrator, SiteOrchestratorArgs
from components.site_switch import ARC_CONTROL_PLANE_REGION, SiteSwitch, SiteSwitchArgs
from stackmodel.config.sites import SiteSpec
from stackmodel.config.stack import StackSettings
from stackmodel.site import (
    LinkedBucket,
    LinkedTable,
    active_bucket_parameter,
    active_epoch_parameter,
    active_region_parameter,
    describe_site,
    linked_stores,
    route53_plan,
    site_lock_table_name,
    site_parameter,
)
from stackmodel.tiers import FailureMode, Objective

# Tags the pack's objectives check reads to redo the RTO budget (policies/dr_guardrails/failover.py).
SITE_TAG = "dr:site"
BUDGET_TAGS = {
    "probe_interval_seconds": "dr:site-probe-interval-seconds",
    "failure_threshold": "dr:site-failure-threshold",
    "ttl_seconds": "dr:site-ttl-seconds",
    "config_refresh_seconds": "dr:site-config-refresh-seconds",
    "promotion_seconds": "dr:site-promotion-seconds",
    "switch": "dr:site-switch",
    "auto_dns_failover": "dr:site-auto-dns-failover",
    "name_server_delay_seconds": "dr:site-name-server-delay-seconds",
}


@dataclass(frozen=True)
class FailoverSiteArgs:
    spec: SiteSpec
    app: str
    name_prefix: str
    primary_region: str
    recovery_region: str
    primary_provider: aws.Provider
    recovery_provider: aws.Provider
    route53_provider: aws.Provider  # us-east-1, even when neither stack region is
    alert_topic_arns: Mapping[str, pulumi.Input[str]]  # region -> topic; needs the recovery region and us-east-1
    arc_provider: aws.Provider | None = None  # pinned to us-west-2; required with switch "arc"
    buckets: Sequence[LinkedBucket] = field(default_factory=tuple)
    tables: Sequence[LinkedTable] = field(default_factory=tuple)
    handlers_dir: Path = HANDLERS_DIR
    # The declared active-region/active-bucket parameters (ApplicationSettings): the orchestrator waits for them
    settings: Sequence[pulumi.Resource] = field(default_factory=tuple)


class FailoverSite(pulumi.ComponentResource):
    TYPE: ClassVar[str] = "dr:site:FailoverSite"

    descriptor_parameter: pulumi.Output[str]
    descriptor: pulumi.Output[Any]
    rto_budget: pulumi.Output[Any]
    orchestrator_function_name: pulumi.Output[str]
    switch_health_check_id: pulumi.Output[str]
    lock_table_name: pulumi.Output[str]
    dashboard_name: pulumi.Output[str]
    bucket_key_users: dict[str, BucketKeyUsers]  # linked bucket -> the orchestrator's grants on its keys

    def __init__(self, name: str, args: FailoverSiteArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        spec = args.spec
        for region in (args.recovery_region, ROUTE53_REGION):
            if region not in args.alert_topic_arns:
                raise ValueError(f"{name}: alert_topic_arns needs a topic in {region} (alarms notify their own region)")
        if {b.logical for b in args.buckets} != set(spec.buckets):
            raise ValueError(f"{name}: buckets must be exactly the site's linked buckets {sorted(spec.buckets)}")
        if {t.logical for t in args.tables} != set(spec.tables):
            raise ValueError(f"{name}: tables must be exactly the site's linked tables {sorted(spec.tables)}")
        super().__init__(self.TYPE, name, None, opts)
        self._name, self._args = name, args
        qualified = f"{args.name_prefix}-{spec.name}"
        account = aws.get_caller_identity_output(
            opts=pulumi.InvokeOutputOptions(parent=self, provider=args.recovery_provider)
        ).account_id
        regional = Objective(rpo_minutes=spec.rpo_minutes, rto_minutes=spec.rto_minutes)
        self._tags = {
            **tags.objective_tags(
                name, 1, {FailureMode.LOGICAL: Objective(None, None), FailureMode.REGIONAL: regional}
            ),
            SITE_TAG: f"{args.app}/{spec.name}",
        }
        recovery_topic = args.alert_topic_arns[args.recovery_region]

        switch = SiteSwitch(
            f"{name}-switch",
            SiteSwitchArgs(
                site_name=name,
                spec=spec,
                app=args.app,
                name_prefix=args.name_prefix,
                recovery_region=args.recovery_region,
                recovery_provider=args.recovery_provider,
                account_id=account,
                alert_topic_arn=recovery_topic,
                tags=self._tags,
                arc_provider=args.arc_provider,
                handlers_dir=args.handlers_dir,
                moved_from=self,
            ),
            pulumi.ResourceOptions(parent=self),
        )
        lock = self._lock_table()
        descriptor = describe_site(
            spec,
            app=args.app,
            primary_region=args.primary_region,
            recovery_region=args.recovery_region,
            buckets=args.buckets,
            tables=args.tables,
            switch=switch.descriptor,
            lock_table=lock.name,
            topic_arn=recovery_topic,
            drill_switch=switch.drill_descriptor,
        )
        checks = SiteChecks(
            f"{name}-checks",
            SiteChecksArgs(
                site_name=name,
                site=spec.name,
                qualified=qualified,
                plan=route53_plan(descriptor),
                hosted_zone_id=spec.hosted_zone_id,
                route53_provider=args.route53_provider,
                advisory_topic_arn=args.alert_topic_arns[ROUTE53_REGION],
                tags=self._tags,
                budget_tags=self._budget_tags(),
                moved_from=self,
            ),
            pulumi.ResourceOptions(parent=self),
        )
        published = SiteDescriptor(
            f"{name}-descriptor",
            SiteDescriptorArgs(
                site_name=name,
                site=spec.name,
                parameter_name=site_parameter(args.app, spec.name),
                descriptor=descriptor,
                recovery_region=args.recovery_region,
                recovery_provider=args.recovery_provider,
                tags=self._tags,
                waits_for=[switch],
                moved_from=self,
            ),
            pulumi.ResourceOptions(parent=self),
        )
        orchestrator = SiteOrchestrator(
            f"{name}-orchestrator",
            SiteOrchestratorArgs(
                site_name=name,
                spec=spec,
                app=args.app,
                name_prefix=args.name_prefix,
                primary_region=args.primary_region,
                recovery_region=args.recovery_region,
                recovery_provider=args.recovery_provider,
                account_id=account,
                alert_topic_arn=recovery_topic,
                switch=switch.descriptor,
                descriptor_parameter=published.parameter_name,
                tags=self._tags,
                buckets=args.buckets,
                tables=args.tables,
                handlers_dir=args.handlers_dir,
                waits_for=[*args.settings, published.parameter],
                moved_from=self,
            ),
            pulumi.ResourceOptions(parent=self),
        )
        health = {
            label: checks.check_ids[logical] for label, logical in DASHBOARD_CHECKS if logical in checks.check_ids
        }
        dashboard = SiteDashboard(
            f"{name}-dashboard",
            SiteDashboardArgs(
                site_name=name,
                dashboard_name=f"{qualified}-failover",
                site_dimension=f"{args.app}/{spec.name}",
                primary_region=args.primary_region,
                recovery_region=args.recovery_region,
                recovery_provider=args.recovery_provider,
                health_checks={**health, "switch": checks.primary_check_id},
                buckets=args.buckets,
                tables=args.tables,
                moved_from=self,
            ),
            pulumi.ResourceOptions(parent=self),
        )

        self.descriptor_parameter = published.parameter_name
        self.descriptor = pulumi.Output.from_input(descriptor)
        self.rto_budget = pulumi.Output.from_input({**spec.budget.as_dict(), "declaredRtoMinutes": spec.rto_minutes})
        self.orchestrator_function_name = orchestrator.function_name
        self.switch_health_check_id = checks.primary_check_id
        self.lock_table_name = lock.name
        self.dashboard_name = dashboard.dashboard_name
        self.bucket_key_users = orchestrator.bucket_key_users
        self.register_outputs(
            {
                "descriptor_parameter": self.descriptor_parameter,
                "descriptor": self.descriptor,
                "rto_budget": self.rto_budget,
                "orchestrator_function_name": self.orchestrator_function_name,
                "switch_health_check_id": self.switch_health_check_id,
                "lock_table_name": self.lock_table_name,
                "dashboard_name": self.dashboard_name,
            }
        )

    def exports(self) -> dict[str, Any]:
        """What the stack exports per site (drctl finds the site through the descriptor parameter)."""
        return {
            "descriptorParameter": self.descriptor_parameter,
            "descriptor": self.descriptor,
            "rtoBudget": self.rto_budget,
            "orchestrator": self.orchestrator_function_name,
            "dashboard": self.dashboard_name,
        }

    def _budget_tags(self) -> dict[str, str]:
        """The budget's inputs, on the PRIMARY record's check, so the pack can redo the arithmetic."""
        spec = self._args.spec
        delay = spec.measured_name_server_delay_seconds
        inputs: dict[str, Any] = {
            "probe_interval_seconds": spec.probe_interval_seconds,
            "failure_threshold": spec.failure_threshold,
            "ttl_seconds": spec.ttl_seconds,
            "config_refresh_seconds": spec.config_refresh_seconds,
            "promotion_seconds": spec.budget.promotion,
            "switch": spec.switch,
            "auto_dns_failover": str(spec.auto_dns_failover).lower(),
        }
        if delay is not None:  # absent: the pack uses its configured estimate
            inputs["name_server_delay_seconds"] = delay
        return {BUDGET_TAGS[key]: str(value) for key, value in inputs.items()}

    def _lock_table(self) -> aws.dynamodb.Table:
        """Single-flight lock and the orchestrator's state (phase, actions done, votes; the switch endpoint reads
        it). Deletion protection like any table, so an accident never unlocks a failover midway."""
        args = self._args
        lock_tags = {
            **tags.objective_tags(
                self._name, 3, {FailureMode.LOGICAL: Objective(None, None), FailureMode.REGIONAL: Objective(None, None)}
            ),
            SITE_TAG: self._tags[SITE_TAG],
        }
        return aws.dynamodb.Table(
            f"{self._name}-lock",
            name=site_lock_table_name(args.name_prefix, args.spec.name),
            billing_mode="PAY_PER_REQUEST",
            hash_key="pk",
            attributes=[{"name": "pk", "type": "S"}],
            point_in_time_recovery={"enabled": True, "recovery_period_in_days": 35},
            deletion_protection_enabled=True,
            server_side_encryption={"enabled": True},
            region=args.recovery_region,
            tags=lock_tags,
            opts=pulumi.ResourceOptions(parent=self, provider=args.recovery_provider),
        )


# Dashboard health widget: label -> logical check (stackmodel.site.route53_plan), as drawn before the split.
DASHBOARD_CHECKS = (("primary", "probe-primary"), ("secondary", "secondary"))


@dataclass(frozen=True)
class ApplicationSettingsArgs:
    app: str
    primary_region: str
    recovery_region: str
    primary_provider: aws.Provider
    recovery_provider: aws.Provider
    buckets: Mapping[str, str]  # logical -> primary bucket name, for every bucket some site links
    tags: Mapping[str, str] = field(default_factory=dict)


class ApplicationSettings(pulumi.ComponentResource):
    """The settings the orchestrators (and ``drctl failover``/``failback``) write at run time, declared once per
    stack with their initial values, so they exist before the application reads them, ``pulumi destroy`` removes
    them, and the orchestrator's role names parameters the stack declares. ``ignore_changes=["value"]``, as for
    ``active-table``: the next ``pulumi up`` must not move the application back. Each is declared where the
    runtime writes it (docs/contract.md, "Runtime names"): ``active-region`` in both Regions (the failed one best
    effort), ``active-bucket/<logical>`` in the recovery Region. Shared by every site of the app, hence not per
    site: two sites declaring the same parameter would collide."""

    TYPE: ClassVar[str] = "dr:site:ApplicationSettings"

    def __init__(self, name: str, args: ApplicationSettingsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(self.TYPE, name, None, opts)
        providers = {args.primary_region: args.primary_provider, args.recovery_region: args.recovery_provider}
        wanted: list[tuple[str, str, str, str]] = [  # (resource name, parameter, Region, initial value)
            (f"{name}-active-region-{region}", active_region_parameter(args.app), region, args.primary_region)
            for region in (args.primary_region, args.recovery_region)
        ]
        # The fencing token beside it (+1 per transition): an application refuses orders of an older epoch.
        wanted += [
            (f"{name}-active-epoch-{region}", active_epoch_parameter(args.app), region, "0")
            for region in (args.primary_region, args.recovery_region)
        ]
        wanted += [
            (
                f"{name}-active-bucket-{logical}",
                active_bucket_parameter(args.app, logical),
                args.recovery_region,
                primary_name,
            )
            for logical, primary_name in sorted(args.buckets.items())
        ]
        self.parameters = [
            aws.ssm.Parameter(
                resource_name,
                name=parameter,
                type="String",  # handlers/app_setting.py writes Type String, Overwrite
                value=initial,
                description="Application setting; the FailoverSite orchestrator and drctl failover/failback write it",
                region=region,
                tags=dict(args.tags),
                opts=pulumi.ResourceOptions(parent=self, provider=providers[region], ignore_changes=["value"]),
            )
            for resource_name, parameter, region, initial in wanted
        ]
        self.register_outputs({"parameters": [p.name for p in self.parameters]})


def failover_sites(
    settings: StackSettings,
    providers: Mapping[str, aws.Provider],
    topics: Mapping[str, pulumi.Input[str]],
) -> dict[str, FailoverSite]:
    """Every configured site. ``providers`` (Region -> provider) holds the stack Regions and us-east-1, where
    Route 53 lives (components/table_estate.py: regional_providers); ``topics`` (AlertTopic.topic_arns) an alert
    topic in each of them. ARC gets its own provider pinned to us-west-2."""
    if not settings.sites:
        return {}
    assert settings.app is not None  # config requires app when sites exist
    primary, recovery = providers[settings.primary_region], providers[settings.recovery_region]
    route53 = providers[ROUTE53_REGION]
    arc = None
    if any(site.switch == "arc" for site in settings.sites):
        arc = aws.Provider("arc", region=ARC_CONTROL_PLANE_REGION, **provider_args(settings.local_endpoint))
    buckets = {spec.name: spec for spec in settings.buckets}
    application = ApplicationSettings(
        "site-settings",
        ApplicationSettingsArgs(
            app=settings.app,
            primary_region=settings.primary_region,
            recovery_region=settings.recovery_region,
            primary_provider=primary,
            recovery_provider=recovery,
            buckets={name: buckets[name].primary_bucket_name for site in settings.sites for name in site.buckets},
            tags={tags.COMPONENT: "site-settings"},
        ),
    )
    sites = {}
    for site in settings.sites:
        linked_buckets, linked_tables = linked_stores(settings, site)
        sites[site.name] = FailoverSite(
            f"site-{site.name}",
            FailoverSiteArgs(
                spec=site,
                app=settings.app,
                name_prefix=settings.name_prefix,
                primary_region=settings.primary_region,
                recovery_region=settings.recovery_region,
                primary_provider=primary,
                recovery_provider=recovery,
                route53_provider=route53,
                alert_topic_arns=topics,
                arc_provider=arc,
                buckets=linked_buckets,
                tables=linked_tables,
                settings=application.parameters,
            ),
        )
    return sites


def site_bucket_key_users(sites: Mapping[str, FailoverSite]) -> dict[str, BucketKeyUsers]:
    """Bucket name -> every site orchestrator's grants on its keys (the buckets' TieredBucketArgs key users)."""
    return merge_bucket_key_users(*(site.bucket_key_users for site in sites.values()))
