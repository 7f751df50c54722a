"""``SiteSwitch``: what the orchestrator flips to move a site's DNS, and the drill record's own switch.

- ``endpoint`` (default): a switch function in the recovery Region behind a Lambda function URL
  (handlers/failover/switch_endpoint.py answers ``200 failed-over`` / ``404 primary`` from the lock table), checked
  by an inverted fast HTTPS Route 53 check, beside the alarm switch the calculated check keeps as its fail-static
  child (components/site_checks.py builds the checks from ``stackmodel.site.route53_plan``).
- ``cloudwatch``: the alarm alone (a CloudWatch alarm in the recovery Region on the metric the orchestrator
  publishes every round).
- ``arc``: a Route 53 ARC cluster, control panel, two routing controls and an "at least one On" rule.

The alarm and its silent-orchestrator companion exist for every kind but ``arc``. The drill record always flips on
its own endpoint/alarm pair, whatever the kind (it measures the name-server delay every kind shares), so the switch
function exists wherever the recovery Region offers function URLs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pulumi
import pulumi_aws as aws

from components import arns
from components.recovery_function import HANDLERS_DIR, RecoveryFunction, RecoveryFunctionArgs
from stackmodel.config.sites import SiteSpec, has_function_urls
from stackmodel.regions import partition
from stackmodel.site import (
    SWITCH_FUNCTION_MEMORY_MB,
    SWITCH_FUNCTION_TIMEOUT_SECONDS,
    cloudwatch_switch,
    drill_record_name,
    endpoint_switch,
    site_lock_table_name,
    switch_alarm,
    switch_function_name,
)

ARC_CONTROL_PLANE_REGION = "us-west-2"  # Route 53 ARC's recovery-control-config API lives only here
SWITCH_SILENT_PERIODS = 2


@dataclass(frozen=True)
class SiteSwitchArgs:
    site_name: str  # the FailoverSite's resource name: children keep the names they had under it
    spec: SiteSpec
    app: str
    name_prefix: str
    recovery_region: str
    recovery_provider: aws.Provider
    account_id: pulumi.Input[str]
    alert_topic_arn: pulumi.Input[str]  # in the recovery Region (alarms notify their own Region)
    tags: Mapping[str, str]
    arc_provider: aws.Provider | None = None  # pinned to us-west-2; required with switch "arc"
    handlers_dir: Path = HANDLERS_DIR
    moved_from: pulumi.Resource | None = None  # the FailoverSite that registered these children before


class SiteSwitch(pulumi.ComponentResource):
    TYPE: ClassVar[str] = "dr:site:SiteSwitch"

    descriptor: dict[str, Any]  # the site's switch, as the descriptor's "switch" (outputs inside)
    drill_descriptor: dict[str, Any] | None
    function_name: pulumi.Output[str] | None

    def __init__(self, name: str, args: SiteSwitchArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        spec = args.spec
        if spec.switch == "arc" and args.arc_provider is None:
            raise ValueError(f"{name}: switch 'arc' needs arc_provider, pinned to {ARC_CONTROL_PLANE_REGION}")
        if spec.switch == "endpoint" and not has_function_urls(args.recovery_region):
            raise ValueError(f"{name}: {args.recovery_region} has no Lambda function URLs; use switch 'cloudwatch'")
        super().__init__(self.TYPE, name, None, opts)
        self._args = args
        self._moved_aliases: list[pulumi.Input[str | pulumi.Alias]] | None = (
            [pulumi.Alias(parent=args.moved_from)] if args.moved_from is not None else None
        )
        site, recovery = args.site_name, args.recovery_region
        self.function_name = None

        url: dict[str, Any] | None = None
        if has_function_urls(recovery):
            url = self._switch_function()
        if spec.switch == "arc":
            self.descriptor = self._arc()
        else:
            main = cloudwatch_switch(args.app, args.name_prefix, spec.name, recovery)
            self._alarm(
                f"{site}-switch",
                main,
                f"Failover switch of site {spec.name}: ALARM sends {spec.record_name} to the secondary. Published by "
                "the orchestrator every run; only it (or drctl failover/failback) changes the value.",
            )
            self._silent_alarm(main)
            if spec.switch == "endpoint":
                assert url is not None  # checked above
                main = endpoint_switch(args.app, args.name_prefix, spec.name, recovery, **url)
            self.descriptor = main
        drill = cloudwatch_switch(args.app, args.name_prefix, spec.name, recovery, drill=True)
        # New with the drill record: no earlier URN, so no alias.
        self._alarm(
            f"{site}-drill-switch",
            drill,
            f"Drill switch of site {spec.name}: ALARM sends {drill_record_name(spec.record_name)} (never the site's "
            "record) to the secondary; only drctl drill --scenario switch-latency changes the value. Route 53 reads "
            "the metric, not this alarm's state.",
            new=True,
        )
        if url is not None:
            drill = endpoint_switch(args.app, args.name_prefix, spec.name, recovery, drill=True, **url)
        self.drill_descriptor = drill
        self.register_outputs({"descriptor": self.descriptor, "drill_descriptor": self.drill_descriptor})

    def _child(self, provider: aws.Provider, *, new: bool = False, **extra: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(
            parent=self, provider=provider, aliases=None if new else self._moved_aliases, **extra
        )

    def _alarm(self, resource_name: str, switch: Mapping[str, Any], description: str, *, new: bool = False) -> None:
        """The switch alarm from the plan's ``PutMetricAlarm`` shape (stackmodel.site.switch_alarm): the same
        definition the rehearsal provisions."""
        args = self._args
        config = switch_alarm("switch-alarm", switch).config
        aws.cloudwatch.MetricAlarm(
            resource_name,
            name=switch["alarmName"],
            alarm_description=description,
            namespace=config["Namespace"],
            metric_name=config["MetricName"],
            dimensions={d["Name"]: d["Value"] for d in config["Dimensions"]},
            statistic=config["Statistic"],
            period=config["Period"],
            evaluation_periods=config["EvaluationPeriods"],
            comparison_operator=config["ComparisonOperator"],
            threshold=config["Threshold"],
            treat_missing_data=config["TreatMissingData"],
            alarm_actions=[args.alert_topic_arn],
            ok_actions=[args.alert_topic_arn],
            region=args.recovery_region,
            tags=dict(args.tags),
            opts=self._child(args.recovery_provider, new=new),
        )

    def _silent_alarm(self, switch: Mapping[str, Any]) -> None:
        """A silent orchestrator must be noticed (DNS holds its last state meanwhile)."""
        args = self._args
        aws.cloudwatch.MetricAlarm(
            f"{args.site_name}-switch-silent",
            name=f"{args.name_prefix}-{args.spec.name}-failover-switch-silent",
            alarm_description=f"The orchestrator of site {args.spec.name} published no switch value for two periods",
            namespace=switch["namespace"],
            metric_name=switch["metricName"],
            dimensions=dict(switch["dimensions"]),
            statistic="SampleCount",
            period=60,
            evaluation_periods=SWITCH_SILENT_PERIODS,
            comparison_operator="LessThanThreshold",
            threshold=1,
            treat_missing_data="breaching",
            alarm_actions=[args.alert_topic_arn],
            ok_actions=[args.alert_topic_arn],
            region=args.recovery_region,
            tags=dict(args.tags),
            opts=self._child(args.recovery_provider),
        )

    def _switch_function(self) -> dict[str, Any]:
        """The switch endpoint: reads ``state.switch`` (or the drill item) from the lock table, changes nothing."""
        args, spec = self._args, self._args.spec
        recovery = args.recovery_region
        table_arn = pulumi.Output.concat(
            "arn:",
            partition(recovery),
            ":dynamodb:",
            recovery,
            ":",
            args.account_id,
            ":table/",
            site_lock_table_name(args.name_prefix, spec.name),
        )
        function = RecoveryFunction(
            f"{args.site_name}-switch-function",
            RecoveryFunctionArgs(
                purpose="failover-switch",
                function_name=switch_function_name(args.name_prefix, spec.name),
                handler="handlers.failover.switch_endpoint.lambda_handler",
                region=recovery,
                provider=args.recovery_provider,
                account_id=args.account_id,
                description=f"failover switch endpoint for site {spec.name}",
                statements=[
                    {
                        "Sid": "ReadSwitch",
                        "Effect": "Allow",
                        "Action": ["dynamodb:GetItem"],  # never a write: the endpoint only answers
                        "Resource": [table_arn],
                    }
                ],
                environment={"LOCK_TABLE": site_lock_table_name(args.name_prefix, spec.name)},
                tags=args.tags,
                layers=[arns.powertools_layer_arn(recovery)],
                timeout_seconds=SWITCH_FUNCTION_TIMEOUT_SECONDS,
                memory_mb=SWITCH_FUNCTION_MEMORY_MB,
                handlers_dir=args.handlers_dir,
                # Route 53's checkers send several requests a second from many locations: kept apart from the
                # account's other functions, so a burst elsewhere never throttles the switch.
                reserved_concurrency=spec.switch_reserved_concurrency,
            ),
            pulumi.ResourceOptions(parent=self),
        )
        self.function_name = function.function_name
        new = self._child(args.recovery_provider, new=True)
        # Auth NONE: Route 53's checkers cannot sign requests. The answer reveals only the switch state. Some
        # organisations forbid public function URLs by SCP (lambda:FunctionUrlAuthType); there, use switch
        # "cloudwatch" or "arc" (docs/runbooks/failover.md).
        function_url = aws.lambda_.FunctionUrl(
            f"{args.site_name}-switch-url",
            function_name=function.function_name,
            authorization_type="NONE",
            region=recovery,
            opts=new,
        )
        # Since October 2025 a new function URL needs both permissions (Lambda Developer Guide, "Control access to
        # Lambda function URLs"): InvokeFunctionUrl for auth NONE, and InvokeFunction only through the URL.
        aws.lambda_.Permission(
            f"{args.site_name}-switch-url",
            action="lambda:InvokeFunctionUrl",
            function=function.function_name,
            principal="*",
            function_url_auth_type="NONE",
            region=recovery,
            opts=new,
        )
        aws.lambda_.Permission(
            f"{args.site_name}-switch-invoke",
            action="lambda:InvokeFunction",
            function=function.function_name,
            principal="*",
            invoked_via_function_url=True,
            region=recovery,
            opts=new,
        )
        # https://<url-id>.lambda-url.<region>.on.aws/ -> the host the check connects to (and sends as SNI)
        host = function_url.function_url.apply(lambda value: (value or "").split("://", 1)[-1].split("/", 1)[0])
        return {"url": function_url.function_url, "host": host}

    def _arc(self) -> dict[str, Any]:
        """Two routing controls (primary cell, secondary cell) and a rule that keeps at least one On. About
        $2.50 per cluster-hour (~$1,800 a month); the cluster gives five regional data-plane endpoints. Failing over
        is one UpdateRoutingControlStates call (primary Off, secondary On): a single-control update that left
        both Off is rejected by the rule. After the first deploy set both On (docs/runbooks/failover.md)."""
        args, site = self._args, self._args.site_name
        assert args.arc_provider is not None
        arc = self._child(args.arc_provider)
        qualified = f"{args.name_prefix}-{args.spec.name}"
        cluster = aws.route53recoverycontrol.Cluster(f"{site}-arc", name=qualified[:64], opts=arc)
        panel = aws.route53recoverycontrol.ControlPanel(
            f"{site}-arc", name=qualified[:64], cluster_arn=cluster.arn, opts=arc
        )
        controls = {
            role: aws.route53recoverycontrol.RoutingControl(
                f"{site}-arc-{role}",
                name=f"{qualified}-{role}"[:64],
                cluster_arn=cluster.arn,
                control_panel_arn=panel.arn,
                opts=arc,
            )
            for role in ("primary", "secondary")
        }
        aws.route53recoverycontrol.SafetyRule(
            f"{site}-arc-at-least-one",
            name=f"{qualified}-at-least-one"[:64],
            control_panel_arn=panel.arn,
            asserted_controls=[controls["primary"].arn, controls["secondary"].arn],
            rule_config={"type": "ATLEAST", "threshold": 1, "inverted": False},
            wait_period_ms=5000,
            opts=arc,
        )
        endpoints = cluster.cluster_endpoints.apply(
            lambda items: [{"endpoint": e.endpoint, "region": e.region} for e in items or []]
        )
        return {
            "kind": "arc",
            "routingControlArn": controls["primary"].arn,
            "secondaryRoutingControlArn": controls["secondary"].arn,
            "clusterEndpoints": endpoints,
        }
