"""``FailoverSite``: a region failover that never depends on the failing region (docs/runbooks/failover.md).

DNS moves through Route 53's data plane only, on the orchestrator's decision: the PRIMARY record's health check is
the *switch* alone, a Route 53 health check on a CloudWatch alarm in the recovery region over a standard-resolution
metric the orchestrator publishes every run (or, with ``switch: arc``, a Route 53 ARC routing control). The
orchestrator runs in the recovery region, confirms the failure with its own probes, checks the standby, then moves
DNS and the application's settings together. Route 53 health-check metrics exist only in us-east-1, so the
``AWS/Route53`` alarms there are advisory and never in the recovery path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pulumi
import pulumi_aws as aws

from components import arns, tags
from components.local import provider_args
from components.recovery_function import (
    HANDLERS_DIR,
    METRICS_NAMESPACE,
    RecoveryFunction,
    RecoveryFunctionArgs,
    Schedule,
    publish_metrics_statement,
)
from stackmodel.config.sites import Endpoint, SiteSpec
from stackmodel.config.stack import StackSettings
from stackmodel.regions import partition
from stackmodel.site import (
    SWITCH_METRIC,
    LinkedBucket,
    LinkedTable,
    active_bucket_parameter,
    active_region_parameter,
    cloudwatch_switch,
    describe_site,
    linked_stores,
    site_lock_table_name,
    site_parameter,
    site_switch_alarm_name,
)
from stackmodel.tiers import FailureMode, Objective

# The provider appends a generated suffix to form the health check's CallerReference, which Route 53 caps at 64
# characters (CreateHealthCheck); 38 leaves room for it.
REFERENCE_NAME_MAX = 38
ROUTE53_REGION = "us-east-1"  # Route 53 health-check metrics are published here only
SWITCH_PERIOD_SECONDS = 60  # standard resolution: Route 53 alarm-based checks accept nothing finer
ORCHESTRATOR_SCHEDULE = "rate(1 minute)"  # EventBridge's finest
ORCHESTRATOR_TIMEOUT_SECONDS = 90  # probes for about 55 s, then acts
ARC_CONTROL_PLANE_REGION = "us-west-2"  # Route 53 ARC's recovery-control-config API lives only here
ARC_CLUSTER_HOURLY_USD = 2.5  # per cluster-hour, https://aws.amazon.com/route53/pricing/ (ARC)
TIMING_METRICS = ("DetectionSeconds", "DecisionSeconds", "SwitchSeconds", "DnsConfirmedSeconds")
# Tags the pack's objectives check reads to redo the RTO budget (policies/dr_guardrails/failover.py).
SITE_TAG = "dr:site"
BUDGET_TAGS = {
    "probe_interval_seconds": "dr:site-probe-interval-seconds",
    "failure_threshold": "dr:site-failure-threshold",
    "ttl_seconds": "dr:site-ttl-seconds",
    "config_refresh_seconds": "dr:site-config-refresh-seconds",
    "promotion_seconds": "dr:site-promotion-seconds",
    "switch": "dr:site-switch",
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

    def __init__(self, name: str, args: FailoverSiteArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        spec = args.spec
        for region in (args.recovery_region, ROUTE53_REGION):
            if region not in args.alert_topic_arns:
                raise ValueError(f"{name}: alert_topic_arns needs a topic in {region} (alarms notify their own region)")
        if spec.switch == "arc" and args.arc_provider is None:
            raise ValueError(f"{name}: switch 'arc' needs arc_provider, pinned to {ARC_CONTROL_PLANE_REGION}")
        if {b.logical for b in args.buckets} != set(spec.buckets):
            raise ValueError(f"{name}: buckets must be exactly the site's linked buckets {sorted(spec.buckets)}")
        if {t.logical for t in args.tables} != set(spec.tables):
            raise ValueError(f"{name}: tables must be exactly the site's linked tables {sorted(spec.tables)}")
        super().__init__(self.TYPE, name, None, opts)
        self._name, self._args = name, args
        self._qualified = f"{args.name_prefix}-{spec.name}"
        self._account = aws.get_caller_identity_output(
            opts=pulumi.InvokeOutputOptions(parent=self, provider=args.recovery_provider)
        ).account_id
        regional = Objective(rpo_minutes=spec.rpo_minutes, rto_minutes=spec.rto_minutes)
        self._tags = {
            **tags.objective_tags(
                name, 1, {FailureMode.LOGICAL: Objective(None, None), FailureMode.REGIONAL: regional}
            ),
            SITE_TAG: f"{args.app}/{spec.name}",
        }
        self._switch_dimensions = cloudwatch_switch(args.app, args.name_prefix, spec.name, args.recovery_region)[
            "dimensions"
        ]

        endpoint_checks = {
            "primary": self._endpoint_check("primary", spec.primary),
            "secondary": self._endpoint_check("secondary", spec.secondary),
        }
        switch = self._arc_switch() if spec.switch == "arc" else self._cloudwatch_switch()
        primary_check: pulumi.Input[str] = switch["primary_check"]
        if spec.auto_dns_failover:
            # Stateless sites only: DNS may move on the endpoint check before the orchestrator moves the settings.
            calculated = aws.route53.HealthCheck(
                f"{name}-primary-calculated",
                type="CALCULATED",
                child_healthchecks=[endpoint_checks["primary"].id, switch["primary_check"]],
                child_health_threshold=2,
                reference_name=f"{spec.name}-calc"[:REFERENCE_NAME_MAX],
                tags={**self._tags, "Name": f"{self._qualified}-primary-calculated"},
                opts=self._child(args.route53_provider),
            )
            primary_check = calculated.id
        self._records(primary_check, switch.get("secondary_check"))
        lock = self._lock_table()
        descriptor = self._descriptor(switch, lock)
        parameter = aws.ssm.Parameter(
            f"{name}-descriptor",
            name=site_parameter(args.app, spec.name),
            type="String",
            insecure_value=pulumi.Output.json_dumps(descriptor),  # not a secret: shown in diffs and exports
            description=f"FailoverSite {spec.name}: regions, switch, settings, lock and linked stores (drctl reads it)",
            region=args.recovery_region,
            tags=self._tags,
            opts=self._child(args.recovery_provider),
        )
        orchestrator = self._orchestrator(switch, lock, parameter)
        self._advisory_alarms(endpoint_checks, switch)
        dashboard = self._dashboard(endpoint_checks, switch)

        self.descriptor_parameter = parameter.name
        self.descriptor = pulumi.Output.from_input(descriptor)
        self.rto_budget = pulumi.Output.from_input({**spec.budget.as_dict(), "declaredRtoMinutes": spec.rto_minutes})
        self.orchestrator_function_name = orchestrator.function_name
        self.switch_health_check_id = pulumi.Output.from_input(switch["primary_check"])
        self.lock_table_name = lock.name
        self.dashboard_name = dashboard.dashboard_name
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

    # --- pieces -----------------------------------------------------------------------------------------------

    def _child(self, provider: aws.Provider, **extra: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=provider, **extra)

    def _endpoint_check(self, role: str, endpoint: Endpoint) -> aws.route53.HealthCheck:
        """Feeds the advisory alarms (and, with autoDnsFailover, the calculated check); never the switch."""
        spec = self._args.spec
        return aws.route53.HealthCheck(
            f"{self._name}-{role}",
            type=endpoint.protocol,
            ip_address=endpoint.host if endpoint.is_ip else None,
            fqdn=None if endpoint.is_ip else endpoint.host,
            port=endpoint.port,
            resource_path=endpoint.path,
            request_interval=spec.probe_interval_seconds,
            failure_threshold=spec.failure_threshold,
            reference_name=f"{spec.name}-{role}"[:REFERENCE_NAME_MAX],
            tags={**self._tags, "Name": f"{self._qualified}-{role}"},
            opts=self._child(self._args.route53_provider),
        )

    def _cloudwatch_switch(self) -> dict[str, Any]:
        args, spec = self._args, self._args.spec
        recovery = args.recovery_region
        topic = args.alert_topic_arns[recovery]
        alarm = aws.cloudwatch.MetricAlarm(
            f"{self._name}-switch",
            name=site_switch_alarm_name(self._args.name_prefix, self._args.spec.name),
            alarm_description=(
                f"Failover switch of site {spec.name}: ALARM sends {spec.record_name} to the secondary. Published by "
                "the orchestrator every run; only it (or drctl failover/failback) changes the value."
            ),
            namespace=METRICS_NAMESPACE,
            metric_name=SWITCH_METRIC,
            dimensions=self._switch_dimensions,
            statistic="Maximum",  # Route 53 accepts no extended statistics
            period=SWITCH_PERIOD_SECONDS,
            evaluation_periods=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            threshold=1,
            treat_missing_data="missing",  # INSUFFICIENT_DATA; the health check then keeps its last status
            alarm_actions=[topic],
            ok_actions=[topic],
            region=recovery,
            tags=self._tags,
            opts=self._child(args.recovery_provider),
        )
        # A silent orchestrator must be noticed (DNS holds its last state meanwhile).
        aws.cloudwatch.MetricAlarm(
            f"{self._name}-switch-silent",
            name=f"{self._qualified}-failover-switch-silent",
            alarm_description=f"The orchestrator of site {spec.name} published no switch value for two periods",
            namespace=METRICS_NAMESPACE,
            metric_name=SWITCH_METRIC,
            dimensions=self._switch_dimensions,
            statistic="SampleCount",
            period=SWITCH_PERIOD_SECONDS,
            evaluation_periods=2,
            comparison_operator="LessThanThreshold",
            threshold=1,
            treat_missing_data="breaching",
            alarm_actions=[topic],
            ok_actions=[topic],
            region=recovery,
            tags=self._tags,
            opts=self._child(args.recovery_provider),
        )
        check = aws.route53.HealthCheck(
            f"{self._name}-switch",
            type="CLOUDWATCH_METRIC",
            cloudwatch_alarm_name=alarm.name,
            cloudwatch_alarm_region=recovery,
            # A new check with no data counts as healthy; LastKnownStatus keeps DNS where the orchestrator put it.
            insufficient_data_health_status="LastKnownStatus",
            reference_name=f"{spec.name}-switch"[:REFERENCE_NAME_MAX],
            tags={**self._tags, **self._budget_tags(), "Name": f"{self._qualified}-switch"},
            opts=self._child(args.route53_provider),
        )
        return {
            "kind": "cloudwatch",
            "primary_check": check.id,
            "alarm_name": alarm.name,
            "descriptor": {
                **cloudwatch_switch(self._args.app, self._args.name_prefix, self._args.spec.name, recovery),
                "alarmName": alarm.name,  # the same name, as the alarm's output: the descriptor waits for the alarm
            },
        }

    def _arc_switch(self) -> dict[str, Any]:
        """Two routing controls (primary cell, secondary cell) and a rule that keeps at least one on. About
        $2.50 per cluster-hour (~$1,800 a month); the cluster gives five regional data-plane endpoints."""
        args, spec = self._args, self._args.spec
        assert args.arc_provider is not None
        arc = self._child(args.arc_provider)
        cluster = aws.route53recoverycontrol.Cluster(f"{self._name}-arc", name=f"{self._qualified}"[:64], opts=arc)
        panel = aws.route53recoverycontrol.ControlPanel(
            f"{self._name}-arc", name=f"{self._qualified}"[:64], cluster_arn=cluster.arn, opts=arc
        )
        controls = {
            role: aws.route53recoverycontrol.RoutingControl(
                f"{self._name}-arc-{role}",
                name=f"{self._qualified}-{role}"[:64],
                cluster_arn=cluster.arn,
                control_panel_arn=panel.arn,
                opts=arc,
            )
            for role in ("primary", "secondary")
        }
        aws.route53recoverycontrol.SafetyRule(
            f"{self._name}-arc-at-least-one",
            name=f"{self._qualified}-at-least-one"[:64],
            control_panel_arn=panel.arn,
            asserted_controls=[controls["primary"].arn, controls["secondary"].arn],
            rule_config={"type": "ATLEAST", "threshold": 1, "inverted": False},
            wait_period_ms=5000,
            opts=arc,
        )
        checks = {
            role: aws.route53.HealthCheck(
                f"{self._name}-arc-{role}",
                type="RECOVERY_CONTROL",
                routing_control_arn=control.arn,
                reference_name=f"{spec.name}-arc-{role}"[:REFERENCE_NAME_MAX],
                tags={
                    **self._tags,
                    **(self._budget_tags() if role == "primary" else {}),
                    "Name": f"{self._qualified}-arc-{role}",
                },
                opts=self._child(args.route53_provider),
            )
            for role, control in controls.items()
        }
        endpoints = cluster.cluster_endpoints.apply(
            lambda items: [{"endpoint": e.endpoint, "region": e.region} for e in items or []]
        )
        return {
            "kind": "arc",
            "primary_check": checks["primary"].id,
            "secondary_check": checks["secondary"].id,
            "routing_control_arn": controls["primary"].arn,
            "descriptor": {
                "kind": "arc",
                "routingControlArn": controls["primary"].arn,
                "secondaryRoutingControlArn": controls["secondary"].arn,
                "clusterEndpoints": endpoints,
            },
        }

    def _budget_tags(self) -> dict[str, str]:
        """The budget's inputs, on the switch health check, so the pack can redo the arithmetic."""
        spec = self._args.spec
        inputs = {
            "probe_interval_seconds": spec.probe_interval_seconds,
            "failure_threshold": spec.failure_threshold,
            "ttl_seconds": spec.ttl_seconds,
            "config_refresh_seconds": spec.config_refresh_seconds,
            "promotion_seconds": spec.budget.promotion,
            "switch": spec.switch,
        }
        return {BUDGET_TAGS[key]: str(value) for key, value in inputs.items()}

    def _records(self, primary_check: pulumi.Input[str], secondary_check: pulumi.Input[str] | None) -> None:
        spec = self._args.spec
        for role, endpoint, check in (
            ("PRIMARY", spec.primary, primary_check),
            ("SECONDARY", spec.secondary, secondary_check),
        ):
            aws.route53.Record(
                f"{self._name}-{role.lower()}",
                zone_id=spec.hosted_zone_id,
                name=spec.record_name,
                type=spec.record_type,
                ttl=spec.ttl_seconds,
                records=[endpoint.host],
                set_identifier=f"{spec.name}-{role.lower()}",
                failover_routing_policies=[{"type": role}],
                health_check_id=check,
                opts=self._child(self._args.route53_provider),
            )

    def _lock_table(self) -> aws.dynamodb.Table:
        """Single-flight lock and the orchestrator's state (failure counts, phase). Rebuilt by the next run if
        lost, but with deletion protection like any table so an accident never unlocks a failover midway."""
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
            opts=self._child(args.recovery_provider),
        )

    def _descriptor(self, switch: Mapping[str, Any], lock: aws.dynamodb.Table) -> dict[str, Any]:
        args = self._args
        return describe_site(
            args.spec,
            app=args.app,
            primary_region=args.primary_region,
            recovery_region=args.recovery_region,
            buckets=args.buckets,
            tables=args.tables,
            switch=switch["descriptor"],
            lock_table=lock.name,
            topic_arn=args.alert_topic_arns[args.recovery_region],
        )

    def _statements(self, switch: Mapping[str, Any], lock: aws.dynamodb.Table) -> list[dict[str, Any]]:
        """Exactly what the orchestrator touches (handlers/failover/orchestrator.py)."""
        args, spec = self._args, self._args.spec
        account, recovery, primary = self._account, args.recovery_region, args.primary_region
        part = partition(recovery)

        def parameter_arn(region: str, name: str) -> pulumi.Output[str]:
            return pulumi.Output.concat("arn:", part, ":ssm:", region, ":", account, ":parameter", name)

        settings = [active_region_parameter(args.app)] + [active_bucket_parameter(args.app, b) for b in spec.buckets]
        statements: list[dict[str, Any]] = [
            publish_metrics_statement(),
            {
                "Sid": "ReadDescriptor",
                "Effect": "Allow",
                "Action": ["ssm:GetParameter"],
                "Resource": [parameter_arn(recovery, site_parameter(args.app, spec.name))],
            },
            {
                "Sid": "WriteSettings",
                "Effect": "Allow",
                "Action": ["ssm:GetParameter", "ssm:PutParameter"],
                "Resource": [parameter_arn(recovery, name) for name in settings]
                + [parameter_arn(primary, active_region_parameter(args.app))],  # best effort in the failed region
            },
            {
                "Sid": "Lock",
                "Effect": "Allow",
                "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
                "Resource": [  # from the name, so the policy is known at preview
                    pulumi.Output.concat(
                        "arn:",
                        part,
                        ":dynamodb:",
                        recovery,
                        ":",
                        account,
                        ":table/",
                        site_lock_table_name(args.name_prefix, spec.name),
                    )
                ],
            },
            {
                "Sid": "Summary",
                "Effect": "Allow",
                "Action": ["sns:Publish"],
                "Resource": [args.alert_topic_arns[recovery]],
            },
        ]
        if self._args.tables:
            statements.append(
                {
                    "Sid": "StandbyTables",
                    "Effect": "Allow",
                    "Action": ["dynamodb:DescribeTable"],
                    "Resource": [
                        pulumi.Output.concat(
                            "arn:", part, ":dynamodb:", recovery, ":", account, ":table/", t.table_name
                        )
                        for t in self._args.tables
                    ],
                }
            )
        if self._args.buckets:
            statements.append(
                {
                    "Sid": "StandbyBuckets",
                    "Effect": "Allow",
                    "Action": ["s3:ListBucket"],  # HeadBucket needs it; no object is read
                    "Resource": [arns.bucket_arn(b.replica_name, b.replica_region) for b in self._args.buckets],
                }
            )
        database = spec.database
        if database is not None:
            cluster_arn = pulumi.Output.concat(
                "arn:", part, ":rds:", recovery, ":", account, ":cluster:", database.identifier
            )
            if database.engine == "aurora-global":
                global_arn = pulumi.Output.concat(
                    "arn:", part, ":rds::", account, ":global-cluster:", database.global_cluster_identifier or ""
                )
                statements.append(
                    {
                        "Sid": "PromoteAurora",
                        "Effect": "Allow",
                        # https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonrds.html
                        "Action": ["rds:DescribeGlobalClusters", "rds:DescribeDBClusters", "rds:FailoverGlobalCluster"],
                        "Resource": [global_arn, cluster_arn],
                    }
                )
            else:
                instance_arn = pulumi.Output.concat(
                    "arn:", part, ":rds:", recovery, ":", account, ":db:", database.identifier
                )
                statements.append(
                    {
                        "Sid": "PromoteReplica",
                        "Effect": "Allow",
                        "Action": ["rds:DescribeDBInstances", "rds:PromoteReadReplica"],
                        "Resource": [instance_arn],
                    }
                )
            statements.append(
                {
                    "Sid": "ReadReplicaLag",
                    "Effect": "Allow",
                    "Action": ["cloudwatch:GetMetricStatistics"],
                    "Resource": "*",  # CloudWatch reads take no resource ARN
                }
            )
        if switch["kind"] == "arc":
            statements.append(
                {
                    "Sid": "RoutingControl",
                    "Effect": "Allow",
                    "Action": [
                        "route53-recovery-cluster:GetRoutingControlState",
                        "route53-recovery-cluster:UpdateRoutingControlState",
                    ],
                    "Resource": [switch["routing_control_arn"]],
                }
            )
        return statements

    def _orchestrator(
        self, switch: Mapping[str, Any], lock: aws.dynamodb.Table, parameter: aws.ssm.Parameter
    ) -> RecoveryFunction:
        args, spec = self._args, self._args.spec
        return RecoveryFunction(
            f"{self._name}-orchestrator",
            RecoveryFunctionArgs(
                purpose="failover",
                function_name=f"{self._qualified}-failover"[:64],
                handler="handlers.failover.orchestrator.lambda_handler",
                region=args.recovery_region,
                provider=args.recovery_provider,
                account_id=self._account,
                description=f"failover orchestrator for site {spec.name}",
                statements=self._statements(switch, lock),
                environment={"SITE_PARAMETER": parameter.name},
                tags=self._tags,
                layers=[arns.powertools_layer_arn(args.recovery_region)],
                schedule=Schedule(ORCHESTRATOR_SCHEDULE, f"failover orchestrator for site {spec.name}"),
                timeout_seconds=ORCHESTRATOR_TIMEOUT_SECONDS,
                handlers_dir=args.handlers_dir,
                # It writes the settings: were it to run first, PutParameter would create them and the stack's
                # own create would then fail with ParameterAlreadyExists.
                waits_for=args.settings,
            ),
            pulumi.ResourceOptions(parent=self, depends_on=[parameter]),
        )

    def _advisory_alarms(
        self, endpoint_checks: Mapping[str, aws.route53.HealthCheck], switch: Mapping[str, Any]
    ) -> None:
        """AWS/Route53 HealthCheckStatus lives in us-east-1 only: useful signals, never in the recovery path."""
        args = self._args
        topic = args.alert_topic_arns[ROUTE53_REGION]
        watched: dict[str, pulumi.Input[str]] = {role: check.id for role, check in endpoint_checks.items()}
        watched["switch"] = switch["primary_check"]
        for role, check_id in watched.items():
            aws.cloudwatch.MetricAlarm(
                f"{self._name}-{role}-status",
                name=f"{self._qualified}-{role}-health-check",
                alarm_description=f"Advisory: Route 53 reports the {role} health check of site {args.spec.name} "
                "unhealthy (the orchestrator decides failover from its own probes)",
                namespace="AWS/Route53",
                metric_name="HealthCheckStatus",
                dimensions={"HealthCheckId": check_id},
                statistic="Minimum",
                period=60,
                evaluation_periods=1,
                comparison_operator="LessThanThreshold",
                threshold=1,
                treat_missing_data="breaching",
                alarm_actions=[topic],
                ok_actions=[topic],
                region=ROUTE53_REGION,
                tags=self._tags,
                opts=self._child(args.route53_provider),
            )

    def _dashboard(
        self, endpoint_checks: Mapping[str, aws.route53.HealthCheck], switch: Mapping[str, Any]
    ) -> aws.cloudwatch.Dashboard:
        """Each widget names the region its metrics live in (CloudWatch dashboards are cross-region)."""
        args = self._args
        recovery = args.recovery_region
        site = self._switch_dimensions["Site"]
        health = [
            ["AWS/Route53", "HealthCheckStatus", "HealthCheckId", check.id, {"label": role}]
            for role, check in endpoint_checks.items()
        ]
        if switch["kind"] == "cloudwatch":
            health.append(
                ["AWS/Route53", "HealthCheckStatus", "HealthCheckId", switch["primary_check"], {"label": "switch"}]
            )
        widgets: list[dict[str, Any]] = [
            _widget("Endpoint and switch health (Route 53, us-east-1)", ROUTE53_REGION, health, "Minimum"),
            _widget(
                "Failover switch (1 = failed over)",
                recovery,
                [[METRICS_NAMESPACE, SWITCH_METRIC, "Site", site]],
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
        body = pulumi.Output.json_dumps({"widgets": _layout(widgets)})
        return aws.cloudwatch.Dashboard(
            f"{self._name}-dashboard",
            dashboard_name=f"{self._qualified}-failover"[:255],
            dashboard_body=body,
            region=recovery,
            opts=self._child(args.recovery_provider),
        )


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
