"""One recovery-runtime Lambda (code from ``handlers/``) with its log group, least-privilege role and trigger.

Any component that needs the runtime builds it here: ``TieredBucket`` (auto-restore, audit, RPO age),
``GlobalTable`` (RPO age, scheduled export), ``FailoverSite`` (the orchestrator, in the recovery region: hence
``region`` and ``provider`` are inputs, not the stack's primary) and the scheduled drill.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pulumi
import pulumi_aws as aws

from components import arns, iam, tags
from handlers.runtime_names import RECOVERY_METRICS_NAMESPACE

HANDLERS_DIR = Path(__file__).resolve().parent.parent / "handlers"
LAMBDA_RUNTIME = "python3.12"
METRICS_NAMESPACE = RECOVERY_METRICS_NAMESPACE  # docs/contract.md: runtime names
LOG_RETENTION_DAYS = 90


def publish_metrics_statement() -> dict[str, Any]:
    """Let a runtime function publish to the recovery metrics namespace, and nowhere else."""
    return {
        "Sid": "PublishRecoveryMetrics",
        "Effect": "Allow",
        "Action": ["cloudwatch:PutMetricData"],
        "Resource": "*",  # PutMetricData has no resource ARN; the namespace condition scopes it
        "Condition": {"StringEquals": {"cloudwatch:namespace": METRICS_NAMESPACE}},
    }


@dataclass(frozen=True)
class Schedule:
    """An EventBridge rule that invokes the function."""

    expression: str  # e.g. "rate(1 hour)"
    description: str


@dataclass(frozen=True)
class EventTrigger:
    """Lets ``principal`` invoke the function for events from ``source_arn``. The caller wires the events (an S3
    notification, say) and makes them depend on the ``RecoveryFunction``, which waits for this permission."""

    principal: str  # e.g. "s3.amazonaws.com"
    source_arn: pulumi.Input[str]
    source_account: pulumi.Input[str] | None = None


@dataclass(frozen=True)
class RecoveryFunctionArgs:
    purpose: str  # what it does, e.g. "auto-restore"; also the Powertools service name "dr-<purpose>"
    function_name: str
    handler: str  # a ``handlers.…lambda_handler`` path inside ``handlers_dir``
    region: str
    provider: aws.Provider
    account_id: pulumi.Input[str]
    description: str  # the role's, e.g. "auto-restore for <bucket>"
    statements: Sequence[Mapping[str, Any]]  # everything the handler calls; writing its own logs is added here
    environment: Mapping[str, pulumi.Input[str]]
    tags: Mapping[str, str]
    layers: Sequence[str]
    log_retention_days: int = LOG_RETENTION_DAYS
    schedule: Schedule | None = None
    trigger: EventTrigger | None = None
    timeout_seconds: int = 300
    memory_mb: int = 512
    # Concurrency kept for this function whatever else runs in the account (a regional event's functions);
    # stackmodel/config/sites.py checks it leaves the account's minimum unreserved.
    reserved_concurrency: int | None = None
    handlers_dir: Path = HANDLERS_DIR
    # What the function needs to exist before its first run besides its role policy and log group (a component's
    # own depends_on does not reach its children).
    waits_for: Sequence[pulumi.Resource] = ()
    # The component these children were registered under before this one existed (see __init__).
    moved_from: pulumi.Resource | None = None
    # No schedule or trigger, but an asynchronous invocation (an operator's --invocation-type Event) must not be
    # retried either: a workflow invokes it synchronously and decides itself what to retry.
    no_async_retries: bool = False


class RecoveryFunction(pulumi.ComponentResource):
    """A Lambda that depends on its log group (so Lambda never creates one without retention) and on its role
    policy (so a first invocation never runs without its permissions). Children are named ``<name>``,
    ``<name>-logs`` and ``<name>-policy``."""

    TYPE: ClassVar[str] = "dr:runtime:RecoveryFunction"

    function_arn: pulumi.Output[str]
    function_name: pulumi.Output[str]
    role_arn: pulumi.Output[str]  # built from the name: known at preview
    role_name: pulumi.Output[str]
    role: aws.iam.Role  # for a key policy that names the role: it must wait for the role to exist
    log_group_name: pulumi.Output[str]

    def __init__(self, name: str, args: RecoveryFunctionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if args.schedule and args.trigger:
            raise ValueError(f"{name}: give a schedule or an event trigger, not both")
        super().__init__(self.TYPE, name, None, opts)
        region, provider = args.region, args.provider
        # Runtime functions used to be direct children of their TieredBucket. The alias names that old parent,
        # so `pulumi up` on an existing stack moves each child instead of replacing it.
        aliases = [pulumi.Alias(parent=args.moved_from)] if args.moved_from else None

        def child(**extra: Any) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, provider=provider, aliases=aliases, **extra)

        resource_tags = dict(args.tags)
        log_group_name = f"/aws/lambda/{args.function_name}"
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=log_group_name,
            retention_in_days=args.log_retention_days,
            region=region,
            tags=resource_tags,
            opts=child(),
        )
        # An explicit name (the function's), so the role's ARN is known at preview and key policies can name it.
        role_arn = arns.role_arn(args.function_name, region, args.account_id)
        role = aws.iam.Role(
            name,
            name=args.function_name,
            assume_role_policy=iam.assume_role_policy("lambda.amazonaws.com"),
            description=args.description,
            tags={**resource_tags, tags.IAM_ROLE: "runtime"},
            opts=child(),
        )
        write_logs = {
            "Sid": "WriteLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": arns.log_group_arn(f"{log_group_name}:*", region, args.account_id),
        }
        policy = iam.role_policy(name, role, [*args.statements, write_logs], child())
        function = aws.lambda_.Function(
            name,
            name=args.function_name,
            runtime=LAMBDA_RUNTIME,
            handler=args.handler,
            code=pulumi.AssetArchive({"handlers": pulumi.FileArchive(str(args.handlers_dir))}),
            layers=list(args.layers),
            role=role.arn,
            timeout=args.timeout_seconds,
            memory_size=args.memory_mb,
            reserved_concurrent_executions=args.reserved_concurrency,
            environment={
                "variables": {
                    **args.environment,
                    "POWERTOOLS_SERVICE_NAME": f"dr-{args.purpose}",
                    "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                }
            },
            region=region,
            tags=resource_tags,
            opts=child(depends_on=[log_group, policy, *args.waits_for]),
        )

        if args.schedule or args.trigger or args.no_async_retries:
            # EventBridge and S3 invoke asynchronously, and Lambda retries a failed or timed-out invocation twice by
            # default: a retry would repeat a restore, an export or a failover action that may have half-run. The
            # next event or schedule tick is the retry, starting from the state the last run left.
            aws.lambda_.FunctionEventInvokeConfig(
                name,
                function_name=function.name,
                maximum_retry_attempts=0,
                region=region,
                opts=child(),
            )
        if args.schedule:
            rule = aws.cloudwatch.EventRule(
                name,
                schedule_expression=args.schedule.expression,
                description=args.schedule.description,
                region=region,
                tags=resource_tags,
                opts=child(),
            )
            aws.lambda_.Permission(
                name,
                action="lambda:InvokeFunction",
                function=function.name,
                principal="events.amazonaws.com",
                source_arn=rule.arn,
                region=region,
                opts=child(),
            )
            aws.cloudwatch.EventTarget(name, rule=rule.name, arn=function.arn, region=region, opts=child())
        elif args.trigger:
            aws.lambda_.Permission(
                name,
                action="lambda:InvokeFunction",
                function=function.name,
                principal=args.trigger.principal,
                source_arn=args.trigger.source_arn,
                source_account=args.trigger.source_account,
                region=region,
                opts=child(),
            )

        self.role = role
        self.function_arn = function.arn
        self.function_name = function.name
        self.role_arn = role_arn
        self.role_name = role.name
        self.log_group_name = log_group.name
        self.register_outputs(
            {
                "function_arn": self.function_arn,
                "function_name": self.function_name,
                "role_arn": self.role_arn,
                "role_name": self.role_name,
                "log_group_name": self.log_group_name,
            }
        )
