"""Drill infrastructure behind the ``drills`` config switch: AWS FIS replication pauses and the scheduled drill.

- ``faultInjection``: per tier-1 bucket an ``aws.fis.ExperimentTemplate`` running ``aws:s3:bucket-pause-replication``
  on the primary (target resource type ``aws:s3:bucket``, target key ``Buckets``; parameters ``duration`` and
  ``region``, the destination buckets' Region), and per table ``aws:dynamodb:global-table-pause-replication``
  (``aws:dynamodb:global-table``, key ``Tables``; parameter ``duration``). AWS FIS User Guide, "AWS FIS Actions
  reference", sections "Amazon S3 actions" and "Amazon DynamoDB actions". Each template lives in its source's
  Region with a stop-condition alarm on a metric published in that Region, and one FIS role holds exactly the
  permissions those two actions document.
- ``scheduled``: the drill runner (``handlers.drills.scheduled``) as a ``RecoveryFunction`` in the recovery Region,
  invoked once per store by a Step Functions workflow that an EventBridge schedule starts (``workflow_definition``),
  and an alarm there on the ``DrillPassed`` series its verdict step publishes (``DR/Recovery``, dimension ``Stack``).

The S3 pause works by rewriting the bucket's replication configuration, so ``pulumi up`` must not run while an
experiment runs (docs/runbooks/drill-production.md); every template carries a tag that says so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pulumi
import pulumi_aws as aws

from components import arns, iam, tags
from components.buckets import REPLICATION_RULE_ID
from components.keys import BucketKeyUsers, KeyUser
from components.recovery_function import RecoveryFunction, RecoveryFunctionArgs, publish_metrics_statement
from handlers.runtime_names import (
    LOCK_PREFIX,
    drill_lag_alarm_name,
    drill_table_stop_alarm_name,
    drill_workflow_name,
)
from stackmodel.config import StackSettings
from stackmodel.config.drills import MAX_STOP_CONDITIONS, drilled, regional_rpo, schedule_seconds
from stackmodel.regions import partition
from stackmodel.tiers import FailureMode

S3_PAUSE_ACTION = "aws:s3:bucket-pause-replication"
S3_TARGET_TYPE = "aws:s3:bucket"
S3_TARGET_KEY = "Buckets"
TABLE_PAUSE_ACTION = "aws:dynamodb:global-table-pause-replication"
TABLE_TARGET_TYPE = "aws:dynamodb:global-table"
TABLE_TARGET_KEY = "Tables"
# AWS tag values allow letters, digits, spaces and + - = . _ : / @ only.
NO_PULUMI_UP_TAG = "dr:drill-warning"
NO_PULUMI_UP = (
    "Do not run pulumi up while an experiment runs: the S3 pause rewrites the replication configuration. "
    "See docs/runbooks/drill-production.md"
)
DRILL_PASSED_METRIC = "DrillPassed"  # handlers/drills/report.py publishes it with exactly these dimensions
DRILL_SUMMARY_DIMENSION = "Stack"
DRILL_FUNCTION_HANDLER = "handlers.drills.scheduled.lambda_handler"
DRILL_PREFIX = "dr-drill/"  # handlers/drills/runner.py: every drill object lives under it
DAY_SECONDS = 86400


@dataclass(frozen=True)
class FisBucket:
    """A tier-1 bucket whose replication a drill may pause: the primary (source) and its replica."""

    logical: str
    bucket_name: str
    region: str  # the source's Region: the template and its stop alarm live here
    replica_bucket_name: str
    replica_region: str
    regional_rpo_minutes: int | None


@dataclass(frozen=True)
class FisTable:
    """A global table replica whose replication a drill may pause (``fis_tables`` builds these from the tables)."""

    logical: str
    table_name: str
    region: str  # the replica paused: the template and its stop alarms live here
    receiving_regions: tuple[str, ...]  # the other replicas; ReplicationLatency has one series per pair
    regional_rpo_minutes: int | None
    multi_region_strong: bool = False  # MRSC tables need dynamodb:InjectError and publish no ReplicationLatency


@dataclass(frozen=True)
class ScheduledDrill:
    expression: str  # EventBridge rate(...) expression
    interval_seconds: int


@dataclass(frozen=True)
class DrillsArgs:
    stack: str
    name_prefix: str
    providers: Mapping[str, aws.Provider]  # one per Region used, keyed by Region
    recovery_region: str  # where the scheduled drill runs and publishes
    alert_topic_arns: Mapping[str, pulumi.Input[str]]  # Region -> topic ARN; an alarm notifies its own Region's
    fault_injection: bool
    pause_minutes: int
    buckets: Sequence[FisBucket] = ()
    tables: Sequence[FisTable] = ()
    schedule: ScheduledDrill | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    # The stack's reports bucket: every restore a drill runs takes its single-flight lock there (handlers/s3/lock.py).
    lock_bucket: str | None = None
    lock_bucket_region: str | None = None
    lock_bucket_name: str | None = None  # its logical name (BucketSpec.name), keying bucket_key_users


def alarm_window(interval_seconds: int) -> tuple[int, int]:
    """(period, evaluation periods) covering one schedule interval; CloudWatch allows at most 7 days in all, and
    at most 1 day when the period is under an hour (PutMetricAlarm, "Period")."""
    period = DAY_SECONDS if interval_seconds >= DAY_SECONDS else 3600
    return period, max(1, -(-interval_seconds // period))


def table_arn(table: FisTable, account: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.concat(
        "arn:", partition(table.region), ":dynamodb:", table.region, ":", account, ":table/", table.table_name
    )


def fis_role_statements(
    buckets: Sequence[FisBucket], tables: Sequence[FisTable], account: pulumi.Input[str]
) -> list[dict[str, Any]]:
    """Exactly the permissions the two actions document (FIS actions reference; FIS User Guide, "Example: Use
    condition keys for aws:s3:bucket-pause-replication"), on exactly the drilled resources."""
    statements: list[dict[str, Any]] = []
    if buckets:
        sources = sorted({arns.bucket_arn(b.bucket_name, b.region) for b in buckets})
        statements += [
            {
                "Sid": "PauseReplication",
                "Effect": "Allow",
                "Action": ["s3:PauseReplication"],
                "Resource": sources,
                "Condition": {"StringEquals": {"s3:DestinationRegion": sorted({b.replica_region for b in buckets})}},
            },
            {
                # The IAM definition gives s3:GetReplicationConfiguration no s3:IsReplicationPauseRequest key, so a
                # condition on it would be a key the action never carries: reading stays unconditional.
                "Sid": "ReadReplicationConfiguration",
                "Effect": "Allow",
                "Action": ["s3:GetReplicationConfiguration"],
                "Resource": sources,
            },
            {
                # Only the pause may rewrite the configuration (the key is s3:PutReplicationConfiguration's).
                "Sid": "ReplicationConfigurationForPauseOnly",
                "Effect": "Allow",
                "Action": ["s3:PutReplicationConfiguration"],
                "Resource": sources,
                "Condition": {"BoolIfExists": {"s3:IsReplicationPauseRequest": "true"}},
            },
            {"Sid": "FindBuckets", "Effect": "Allow", "Action": ["s3:ListAllMyBuckets"], "Resource": "*"},
        ]
    if tables:
        table_arns = [table_arn(t, account) for t in tables]
        statements.append(
            {
                "Sid": "PauseTableReplication",
                "Effect": "Allow",
                # The action adds (and removes) deny statements in the table's and its stream's resource policies.
                "Action": [
                    "dynamodb:PutResourcePolicy",
                    "dynamodb:DeleteResourcePolicy",
                    "dynamodb:GetResourcePolicy",
                    "dynamodb:DescribeTable",
                ],
                "Resource": [*table_arns, *(pulumi.Output.concat(a, "/stream/*") for a in table_arns)],
            }
        )
        if any(t.multi_region_strong for t in tables):
            # Only for MRSC targets (FIS actions reference); AWS's own examples grant it on "*".
            statements.append(
                {"Sid": "PauseMrscReplication", "Effect": "Allow", "Action": ["dynamodb:InjectError"], "Resource": "*"}
            )
    if statements:
        statements.append({"Sid": "ResolveTargets", "Effect": "Allow", "Action": ["tag:GetResources"], "Resource": "*"})
    return statements


class DrillInfrastructure(pulumi.ComponentResource):
    """FIS templates (with stop alarms and the FIS role) and the scheduled drill, each only when switched on."""

    TYPE: ClassVar[str] = "dr:drills:DrillInfrastructure"

    fis_templates: dict[str, pulumi.Output[str]]  # "s3:<logical>" / "dynamodb:<logical>" -> template id
    fis_role_arn: pulumi.Output[str] | None
    drill_function_name: pulumi.Output[str] | None
    drill_workflow_arn: pulumi.Output[str] | None

    def __init__(self, name: str, args: DrillsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        self._check(args)  # before anything is registered: nothing half-created
        super().__init__(self.TYPE, name, None, opts)
        self._name, self._args = name, args
        self._tags = {**args.tags, tags.COMPONENT: name}
        self._account = aws.get_caller_identity_output(
            opts=pulumi.InvokeOutputOptions(parent=self, provider=args.providers[args.recovery_region])
        ).account_id
        self.fis_templates = {}
        self.bucket_key_users: dict[str, BucketKeyUsers] = {}  # logical bucket -> roles that use its keys
        self.fis_role_arn = None
        self.drill_function_name = None
        self.drill_workflow_arn = None
        if args.fault_injection and (args.buckets or args.tables):
            role = aws.iam.Role(
                f"{name}-fis",
                name=f"{args.name_prefix}-dr-drill-fis",  # DR roles are named, so their ARNs are known at preview
                assume_role_policy=iam.assume_role_policy("fis.amazonaws.com"),
                description=f"AWS FIS replication pauses for the {args.stack} drills",
                tags={**self._tags, tags.IAM_ROLE: "runtime"},
                opts=self._child(args.providers[args.recovery_region]),
            )
            policy = iam.role_policy(
                f"{name}-fis",
                role,
                fis_role_statements(args.buckets, args.tables, self._account),
                self._child(args.providers[args.recovery_region]),
            )
            self.fis_role_arn = role.arn
            for bucket in args.buckets:
                self.fis_templates[f"s3:{bucket.logical}"] = self._bucket_template(bucket, role, policy)
            for table in args.tables:
                self.fis_templates[f"dynamodb:{table.logical}"] = self._table_template(table, role, policy)
        if args.schedule is not None:
            self._scheduled_drill(args.schedule)
        self.register_outputs(
            {
                "fis_templates": self.fis_templates,
                "fis_role_arn": self.fis_role_arn,
                "drill_function_name": self.drill_function_name,
                "drill_workflow_arn": self.drill_workflow_arn,
            }
        )

    @staticmethod
    def _check(args: DrillsArgs) -> None:
        """Bad input stops before anything is registered, naming what is wrong."""
        regions = {args.recovery_region, *(b.region for b in args.buckets), *(t.region for t in args.tables)}
        if args.fault_injection:  # each bucket's lag guard lives in its replica's Region
            regions |= {b.replica_region for b in args.buckets}
        missing = sorted(regions - set(args.providers))
        if missing:
            raise ValueError(f"DrillsArgs.providers has no provider for {', '.join(missing)}")
        targets: list[FisBucket | FisTable] = [*args.buckets, *args.tables]
        for target in targets:
            rpo = target.regional_rpo_minutes
            if args.fault_injection and rpo is not None and args.pause_minutes >= max(rpo, 1):
                raise ValueError(
                    f"drills.pauseMinutes ({args.pause_minutes}) must be shorter than the regional RPO of "
                    f"{target.logical} ({rpo} min): the pause alone would break the objective it measures"
                )
        for table in args.tables:
            if not table.receiving_regions or len(table.receiving_regions) > MAX_STOP_CONDITIONS:
                raise ValueError(
                    f"table {table.logical}: receiving_regions must name 1 to {MAX_STOP_CONDITIONS} other Regions"
                )

    def _topics(self, region: str) -> list[pulumi.Input[str]]:
        """The alert topic in the alarm's own Region (an alarm can only notify there); none yet on a stack that
        has no topic in that Region, which is said at preview rather than pointing the alarm elsewhere."""
        topic = self._args.alert_topic_arns.get(region)
        if topic is None:
            pulumi.log.warn(f"{self._name}: no alert topic in {region}; its drill alarms notify nobody", self)
            return []
        return [topic]

    def _child(self, provider: aws.Provider, **extra: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=provider, **extra)

    def _template_tags(self, purpose: str) -> dict[str, str]:
        return {**self._tags, "dr:drill": purpose, NO_PULUMI_UP_TAG: NO_PULUMI_UP}

    def _bucket_template(self, bucket: FisBucket, role: aws.iam.Role, policy: aws.iam.RolePolicy) -> Any:
        n = f"{self._name}-{bucket.logical}-pause-replication"
        provider = self._args.providers[bucket.region]
        # Where S3 publishes each replication metric (S3 User Guide, "Using S3 Replication metrics", column "Which
        # Region is this metric published in?", https://docs.aws.amazon.com/AmazonS3/latest/userguide/repl-metrics.html):
        # - OperationsFailedReplication: the source Region. It bounds harm, not the pause: paused objects are
        #   pending, not failed. It is this template's stop condition, beside the template in the source Region.
        # - ReplicationLatency (Maximum: seconds the destination is behind the source): the destination Region. It
        #   is the time bound, the one comparable to the regional RPO: the lag guard below alarms at the RPO.
        # - OperationsPendingReplication / BytesPendingReplication: the destination Region. A count and a size
        #   bound on the backlog, with no time in them, so neither can say when a pause passes the RPO.
        # No AWS page documents a stop condition naming an alarm in another Region than the experiment, so the lag
        # guard is not one: the drill reads it while it holds the pause and stops the experiment when it is in
        # ALARM (handlers/drills/fis.py). The pause itself is bounded by its FIS duration (drills.pauseMinutes,
        # below every regional RPO).
        replica_provider = self._args.providers[bucket.replica_region]
        rpo_seconds = (bucket.regional_rpo_minutes or 15) * 60
        aws.cloudwatch.MetricAlarm(
            f"{n}-lag",
            name=drill_lag_alarm_name(bucket.bucket_name),
            namespace="AWS/S3",
            metric_name="ReplicationLatency",
            dimensions={
                "SourceBucket": bucket.bucket_name,
                "DestinationBucket": bucket.replica_bucket_name,
                "RuleId": REPLICATION_RULE_ID,
            },
            statistic="Maximum",
            period=60,
            evaluation_periods=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            threshold=rpo_seconds,
            # Published every minute while replication metrics are on (RTC turns them on); a missing minute is no
            # evidence of lag. The bucket's own replication-latency alarm pages people; this one only guards a drill.
            treat_missing_data="notBreaching",
            alarm_description=f"The drill stops its FIS pause of {bucket.bucket_name} when the replica is the "
            "regional RPO behind",
            region=bucket.replica_region,
            tags=self._tags,
            opts=self._child(replica_provider),
        )
        stop = aws.cloudwatch.MetricAlarm(
            f"{n}-stop",
            name=f"dr-drill-stop-{bucket.bucket_name}",
            namespace="AWS/S3",
            metric_name="OperationsFailedReplication",
            dimensions={
                "SourceBucket": bucket.bucket_name,
                "DestinationBucket": bucket.replica_bucket_name,
                "RuleId": REPLICATION_RULE_ID,
            },
            statistic="Sum",
            period=60,
            evaluation_periods=1,
            comparison_operator="GreaterThanThreshold",
            threshold=0,
            treat_missing_data="notBreaching",
            alarm_description=f"Stops the FIS replication pause of {bucket.bucket_name} when objects fail to replicate",
            alarm_actions=self._topics(bucket.region),
            region=bucket.region,
            tags=self._tags,
            opts=self._child(provider),
        )
        template = aws.fis.ExperimentTemplate(
            n,
            description=f"Pause replication of {bucket.bucket_name} to {bucket.replica_region} for a DR drill",
            role_arn=role.arn,
            actions=[
                {
                    "name": "pause-replication",
                    "action_id": S3_PAUSE_ACTION,
                    "target": {"key": S3_TARGET_KEY, "value": "source"},
                    "parameters": [
                        {"key": "duration", "value": f"PT{self._args.pause_minutes}M"},
                        {"key": "region", "value": bucket.replica_region},
                        {"key": "destinationBuckets", "value": bucket.replica_bucket_name},
                    ],
                }
            ],
            targets=[
                {
                    "name": "source",
                    "resource_type": S3_TARGET_TYPE,
                    "resource_arns": [arns.bucket_arn(bucket.bucket_name, bucket.region)],
                    "selection_mode": "ALL",
                }
            ],
            stop_conditions=[{"source": "aws:cloudwatch:alarm", "value": stop.arn}],
            region=bucket.region,
            tags=self._template_tags(f"s3:{bucket.logical}"),
            opts=self._child(provider, depends_on=[policy]),
        )
        return template.id

    def _table_template(self, table: FisTable, role: aws.iam.Role, policy: aws.iam.RolePolicy) -> Any:
        n = f"{self._name}-{table.logical}-{table.region}-pause-replication"
        provider = self._args.providers[table.region]
        rpo_minutes = table.regional_rpo_minutes or 15
        threshold_ms = rpo_minutes * 60_000
        # Missing data, decided: DynamoDB emits ReplicationLatency as items replicate, so while the pause holds (and
        # whenever the table is quiet) the series is empty. "notBreaching" would leave the stop condition blind for
        # the whole pause; "breaching" over a window of the RPO (at most a day of 1-minute periods, PutMetricAlarm)
        # stops a pause that outlives the RPO whatever its FIS duration says, and lag above the RPO as well
        # (CloudWatch User Guide, "Configuring how CloudWatch alarms treat missing data"). The price: on a quiet
        # table the alarm sits in ALARM, so it notifies nobody (components/tables.py's ReplicationLatency alarms,
        # notBreaching, page people) and the drill writes canaries, then waits for these alarms to leave ALARM
        # before it starts the experiment (handlers/drills/fis.py), since FIS stops on a stop condition in ALARM.
        window = min(rpo_minutes, 1440)
        stops = []
        for receiving in table.receiving_regions:
            # ReplicationLatency (milliseconds): one series per source and receiving Region pair, in the source
            # Region, dimensions TableName and ReceivingRegion (DynamoDB Developer Guide, "DynamoDB metrics and
            # dimensions"). Stop the pause before the lag passes the declared regional RPO.
            stops.append(
                aws.cloudwatch.MetricAlarm(
                    f"{n}-stop-{receiving}",
                    name=drill_table_stop_alarm_name(table.table_name, table.region, receiving),
                    namespace="AWS/DynamoDB",
                    metric_name="ReplicationLatency",
                    dimensions={"TableName": table.table_name, "ReceivingRegion": receiving},
                    statistic="Maximum",
                    period=60,
                    evaluation_periods=window,
                    datapoints_to_alarm=window,
                    comparison_operator="GreaterThanThreshold",
                    threshold=threshold_ms,
                    treat_missing_data="breaching",
                    alarm_description=f"Stops the FIS pause of {table.table_name} before the lag to {receiving} "
                    "passes the regional RPO (in ALARM whenever the table is quiet: it notifies nobody)",
                    region=table.region,
                    tags=self._tags,
                    opts=self._child(provider),
                )
            )
        template = aws.fis.ExperimentTemplate(
            n,
            description=f"Pause global table replication of {table.table_name} in {table.region} for a DR drill",
            role_arn=role.arn,
            actions=[
                {
                    "name": "pause-replication",
                    "action_id": TABLE_PAUSE_ACTION,
                    "target": {"key": TABLE_TARGET_KEY, "value": "table"},
                    "parameters": [{"key": "duration", "value": f"PT{self._args.pause_minutes}M"}],
                }
            ],
            targets=[
                {
                    "name": "table",
                    "resource_type": TABLE_TARGET_TYPE,
                    "resource_arns": [table_arn(table, self._account)],
                    "selection_mode": "ALL",
                }
            ],
            stop_conditions=[{"source": "aws:cloudwatch:alarm", "value": stop.arn} for stop in stops],
            region=table.region,
            tags=self._template_tags(f"dynamodb:{table.logical}"),
            opts=self._child(provider, depends_on=[policy]),
        )
        return template.id

    def _scheduled_drill(self, schedule: ScheduledDrill) -> None:
        args, region = self._args, self._args.recovery_region
        provider, account = args.providers[region], self._account
        statements: list[Any] = [publish_metrics_statement()]
        if args.lock_bucket and args.lock_bucket_region:
            statements.append(
                {
                    # Take, renew and release the restore lock (conditional writes on dr-locks/<bucket>.json).
                    "Sid": "RestoreLocks",
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                    "Resource": [f"{arns.bucket_arn(args.lock_bucket, args.lock_bucket_region)}/{LOCK_PREFIX}*"],
                }
            )
        for bucket in args.buckets:
            primary = arns.bucket_arn(bucket.bucket_name, bucket.region)
            replica = arns.bucket_arn(bucket.replica_bucket_name, bucket.replica_region)
            sid = "".join(part.capitalize() for part in bucket.logical.replace("_", "-").split("-"))
            statements += [
                {
                    "Sid": f"ReadTagsAndProtection{sid}",
                    "Effect": "Allow",
                    "Action": [
                        "s3:GetBucketTagging",  # objectives come from the dr:rpo-*/dr:rto-* tags
                        "s3:GetBucketLocation",
                        "s3:GetBucketVersioning",
                        "s3:GetBucketObjectLockConfiguration",
                        "s3:GetReplicationConfiguration",
                        "s3:GetEncryptionConfiguration",
                        "s3:ListBucket",
                        "s3:ListBucketVersions",
                    ],
                    "Resource": [primary],
                },
                {
                    # Drill objects only: seed, damage (deletes without a version id only add markers) and restore.
                    "Sid": f"DrillObjects{sid}",
                    "Effect": "Allow",
                    "Action": [
                        "s3:GetObject",
                        "s3:GetObjectVersion",
                        "s3:GetObjectTagging",
                        "s3:GetObjectVersionTagging",
                        "s3:PutObject",
                        "s3:PutObjectTagging",
                        "s3:DeleteObject",
                    ],
                    "Resource": [f"{primary}/{DRILL_PREFIX}*"],
                },
                {
                    # Every run locates the replica (handlers/drills/scheduled.py: bucket_target), paused or not.
                    "Sid": f"LocateReplica{sid}",
                    "Effect": "Allow",
                    "Action": ["s3:GetBucketLocation"],
                    "Resource": [replica],
                },
            ]
            if args.fault_injection:
                statements += [
                    {
                        "Sid": f"ReadReplicaCanaries{sid}",
                        "Effect": "Allow",
                        "Action": ["s3:ListBucket"],
                        "Resource": [replica],
                        "Condition": {"StringLike": {"s3:prefix": [f"{DRILL_PREFIX}*"]}},
                    },
                    {
                        "Sid": f"ReadReplicaCanaryObjects{sid}",
                        "Effect": "Allow",
                        "Action": ["s3:GetObject"],
                        "Resource": [f"{replica}/{DRILL_PREFIX}*"],
                    },
                    {
                        # The lag guard the drill reads while it holds a pause (_bucket_template).
                        "Sid": f"ReadLagGuard{sid}",
                        "Effect": "Allow",
                        "Action": ["cloudwatch:DescribeAlarms"],
                        "Resource": [
                            pulumi.Output.concat(
                                "arn:",
                                partition(bucket.replica_region),
                                ":cloudwatch:",
                                bucket.replica_region,
                                ":",
                                account,
                                ":alarm:",
                                drill_lag_alarm_name(bucket.bucket_name),
                            )
                        ],
                    },
                ]
        if args.fault_injection and args.buckets:
            template_regions = sorted({b.region for b in args.buckets})
            # Before anything, the workflow lists experiments (an active pause of this stack skips the run);
            # ListExperiments has no resource type (Service Authorization Reference, AWS FIS): "*" only.
            statements.append(
                {"Sid": "ListReplicationPauses", "Effect": "Allow", "Action": ["fis:ListExperiments"], "Resource": "*"}
            )

            def fis_arns(*kinds: str) -> list[pulumi.Output[str]]:
                # Template ids are unknown until created; "/*" keeps the policy known at preview, and only the
                # Regions holding this stack's templates are named (the fidelity suite checks that they do).
                return [
                    pulumi.Output.concat("arn:", partition(r), ":fis:", r, ":", account, ":", kind, "/*")
                    for r in template_regions
                    for kind in kinds
                ]

            # Service Authorization Reference (AWS FIS): StartExperiment takes the template and the experiment it
            # creates; GetExperiment and StopExperiment take the experiment only.
            statements += [
                {
                    "Sid": "RunReplicationPauses",
                    "Effect": "Allow",
                    "Action": ["fis:StartExperiment"],
                    "Resource": fis_arns("experiment-template", "experiment"),
                },
                {
                    "Sid": "WatchReplicationPauses",
                    "Effect": "Allow",
                    "Action": ["fis:GetExperiment", "fis:StopExperiment"],
                    "Resource": fis_arns("experiment"),
                },
            ]
        drilled = [b.bucket_name for b in args.buckets]
        templates = {
            f"s3:{b.logical}": self.fis_templates[f"s3:{b.logical}"]
            for b in args.buckets
            if f"s3:{b.logical}" in self.fis_templates
        }
        function = RecoveryFunction(
            f"{self._name}-scheduled",
            RecoveryFunctionArgs(
                purpose="drill",
                function_name=drill_workflow_name(args.name_prefix),  # the function and its workflow share it
                handler=DRILL_FUNCTION_HANDLER,
                region=region,
                provider=provider,
                account_id=account,
                description=f"scheduled DR drill of {args.stack}",
                statements=statements,
                environment={
                    "DRILL_STACK": args.stack,
                    "DRILL_BUCKETS": json.dumps(drilled),
                    "DRILL_FIS_TEMPLATES": pulumi.Output.json_dumps(templates),
                    "DRILL_FIS_REGIONS": json.dumps(sorted({b.region for b in args.buckets}) if templates else []),
                    "DRILL_METRICS_REGION": region,
                    **({"DR_BATCH_REPORT_BUCKET": args.lock_bucket} if args.lock_bucket else {}),
                },
                tags=self._tags,
                layers=[arns.powertools_layer_arn(region)],
                timeout_seconds=STORE_TIMEOUT_SECONDS,  # one store per invocation (the workflow's Map)
                # A timed-out drill is not retried: a retry would pause production replication again and find
                # the restore lock of the run that timed out (GUIDE: async invocations retry twice by default).
                no_async_retries=True,
            ),
            pulumi.ResourceOptions(parent=self),
        )
        # Key use is granted in each bucket key's own policy, by this role's ARN (components/keys.py).
        for bucket in args.buckets:
            sid = "".join(part.capitalize() for part in bucket.logical.replace("_", "-").split("-"))
            self.bucket_key_users[bucket.logical] = BucketKeyUsers(
                primary=(
                    KeyUser(
                        f"ScheduledDrill{sid}", function.role_arn, function.role, ("kms:Decrypt", "kms:GenerateDataKey")
                    ),
                ),
                replica=(
                    (KeyUser(f"ScheduledDrill{sid}", function.role_arn, function.role, ("kms:Decrypt",)),)
                    if args.fault_injection
                    else ()
                ),
            )
        if args.lock_bucket_name:  # the reports bucket's key encrypts the restore lock objects
            lock_user = KeyUser(
                "ScheduledDrillLocks", function.role_arn, function.role, ("kms:Decrypt", "kms:GenerateDataKey")
            )
            self.bucket_key_users[args.lock_bucket_name] = BucketKeyUsers((lock_user,))
        period, periods = alarm_window(schedule.interval_seconds)
        # Fires when no passing drill was published in the last interval: a failed drill (0) or none at all.
        aws.cloudwatch.MetricAlarm(
            f"{self._name}-drill-passed",
            name=f"dr-drill-passed-{args.stack}",
            namespace="DR/Recovery",
            metric_name=DRILL_PASSED_METRIC,
            dimensions={DRILL_SUMMARY_DIMENSION: args.stack},
            statistic="Maximum",
            period=period,
            evaluation_periods=periods,
            datapoints_to_alarm=periods,
            comparison_operator="LessThanThreshold",
            threshold=1,
            treat_missing_data="breaching",
            alarm_description=f"No passing DR drill of {args.stack} within {schedule.expression}",
            alarm_actions=(topics := self._topics(region)),
            ok_actions=topics,
            region=region,
            tags=self._tags,
            opts=self._child(provider),
        )
        self.drill_function_name = function.function_name
        self.drill_workflow_arn = self._workflow(schedule, function)

    def _service_role(
        self, purpose: str, service: str, description: str, statement: dict[str, Any]
    ) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        """A role named ``<workflow>-<purpose>`` that ``service`` assumes, with one statement."""
        args = self._args
        opts = self._child(args.providers[args.recovery_region])
        role = aws.iam.Role(
            f"{self._name}-{purpose}",
            name=f"{drill_workflow_name(args.name_prefix)}-{purpose}",
            assume_role_policy=iam.assume_role_policy(service),
            description=f"scheduled DR drill of {args.stack}, {description}",
            tags={**self._tags, tags.IAM_ROLE: "runtime"},
            opts=opts,
        )
        return role, iam.role_policy(f"{self._name}-{purpose}", role, [statement], opts)

    def _workflow(self, schedule: ScheduledDrill, function: RecoveryFunction) -> pulumi.Output[str]:
        """The schedule starts a Step Functions workflow that drills one store per Lambda invocation (each with the
        function's whole timeout), never retries one, and skips the run while a pause of this stack is active."""
        args, region = self._args, self._args.recovery_region
        provider = args.providers[region]
        name = drill_workflow_name(args.name_prefix)
        # ARNs from names (components/arns.py): the policies stay known at preview.
        function_arn = arns.function_arn(name, region, self._account)
        # The optimized Lambda integration (arn:aws:states:::lambda:invoke) calls lambda:InvokeFunction on the
        # FunctionName given, here the unqualified ARN (Step Functions Developer Guide, "Invoke an AWS Lambda
        # function with Step Functions"; Service Authorization Reference, AWS Lambda: resource "function").
        invoke = {
            "Sid": "InvokeDrill",
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunction"],
            "Resource": [function_arn],
        }
        role, policy = self._service_role("workflow", "states.amazonaws.com", "workflow: invokes its function", invoke)
        machine = aws.sfn.StateMachine(
            f"{self._name}-workflow",
            name=name,
            type="STANDARD",  # a run lasts longer than Express's 5 minutes; its history is the run's record
            role_arn=role.arn,
            definition=pulumi.Output.json_dumps(
                workflow_definition(args.stack, function_arn, STORE_TIMEOUT_SECONDS, region)
            ),
            region=region,
            tags=self._tags,
            opts=self._child(provider, depends_on=[policy, function]),
        )
        machine_arn = arns.state_machine_arn(name, region, self._account)
        start = {
            "Sid": "StartDrillWorkflow",
            "Effect": "Allow",
            "Action": ["states:StartExecution"],
            "Resource": [machine_arn],
        }
        starter, start_policy = self._service_role("schedule", "events.amazonaws.com", "starts its workflow", start)
        rule = aws.cloudwatch.EventRule(
            f"{self._name}-schedule",
            schedule_expression=schedule.expression,
            description=f"DR drill of {args.stack}",
            region=region,
            tags=self._tags,
            opts=self._child(provider),
        )
        aws.cloudwatch.EventTarget(
            f"{self._name}-schedule",
            rule=rule.name,
            arn=machine.arn,
            role_arn=starter.arn,
            input=json.dumps({"stack": args.stack}),
            region=region,
            opts=self._child(provider, depends_on=[start_policy]),
        )
        return machine.arn


STORE_TIMEOUT_SECONDS = 900  # Lambda's maximum: seeding, restores and a FIS pause of one store take minutes


def workflow_definition(
    stack: str, function_arn: pulumi.Input[str], store_timeout_seconds: int, region: str
) -> dict[str, Any]:
    """Amazon States Language (Step Functions Developer Guide): preflight, then each store in turn, then the verdict.

    - ``Preflight`` lists the stores and any active FIS experiment of this stack (handlers/drills/scheduled.py); one
      active (a manual drill, or a pause a ``pulumi up`` is waiting for) ends the run as ``DrillSkipped``.
    - ``DrillEachStore`` is a Map with ``MaxConcurrency`` 1 (one production pause at a time); its task has no
      ``Retry`` (Step Functions retries nothing unless told) and catches every error, so a store that fails or
      times out is recorded as failed and the next store still runs.
    - ``Verdict`` publishes ``DrillPassed{Stack}`` from every store's result, failed ones included."""

    def invoke(payload: dict[str, Any], timeout: int) -> dict[str, Any]:
        return {
            "Type": "Task",
            # The optimized integration's ARN carries the Region's partition (arn:aws-cn:states:::lambda:invoke, ...).
            "Resource": f"arn:{partition(region)}:states:::lambda:invoke",
            "Parameters": {"FunctionName": function_arn, "Payload": payload},
            "TimeoutSeconds": timeout,
        }

    return {
        "Comment": f"Scheduled DR drill of {stack}: one store per invocation",
        "StartAt": "Preflight",
        "States": {
            "Preflight": {
                **invoke({"step": "preflight"}, 120),
                "ResultSelector": {"skip.$": "$.Payload.skip", "stores.$": "$.Payload.stores"},
                "ResultPath": "$.preflight",
                "Next": "PauseActive",
            },
            "PauseActive": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.preflight.skip", "BooleanEquals": True, "Next": "Skipped"}],
                "Default": "DrillEachStore",
            },
            "Skipped": {
                "Type": "Fail",
                "Error": "DrillSkipped",
                "Cause": "a FIS experiment of this stack is active; the Preflight output names it",
            },
            "DrillEachStore": {
                "Type": "Map",
                "ItemsPath": "$.preflight.stores",
                "MaxConcurrency": 1,
                "ItemSelector": {"step": "drill", "bucket.$": "$$.Map.Item.Value"},
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "DrillStore",
                    "States": {
                        "DrillStore": {
                            **invoke({"step": "drill", "bucket.$": "$.bucket"}, store_timeout_seconds + 30),
                            "OutputPath": "$.Payload",
                            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "StoreFailed"}],
                            "End": True,
                        },
                        "StoreFailed": {
                            "Type": "Pass",
                            "Parameters": {"bucket.$": "$.bucket", "passed": False, "error.$": "$.error"},
                            "End": True,
                        },
                    },
                },
                "ResultPath": "$.results",
                "Next": "Verdict",
            },
            "Verdict": {**invoke({"step": "verdict", "results.$": "$.results"}, 120), "End": True},
        },
    }


def drills_args(
    settings: StackSettings,
    stack: str,
    providers: Mapping[str, aws.Provider],
    alert_topic_arns: Mapping[str, pulumi.Input[str]],
    tables: Sequence[FisTable] = (),
) -> DrillsArgs | None:
    """The component's args from the stack's typed settings; None when the ``drills`` switches are all off."""
    config = settings.drills
    if not (config.fault_injection or config.scheduled):
        return None
    buckets = [
        FisBucket(
            logical=spec.name,
            bucket_name=spec.primary_bucket_name,
            region=settings.primary_region,
            replica_bucket_name=spec.replica_bucket_name,
            replica_region=settings.recovery_region,
            regional_rpo_minutes=spec.objectives[FailureMode.REGIONAL].rpo_minutes
            if FailureMode.REGIONAL in spec.objectives
            else None,
        )
        for spec in settings.buckets
        if spec.tier == 1 and spec.replica_bucket_name
    ]
    return DrillsArgs(
        stack=stack,
        name_prefix=settings.name_prefix,
        providers=providers,
        recovery_region=settings.recovery_region,
        alert_topic_arns=alert_topic_arns,
        fault_injection=config.fault_injection,
        pause_minutes=config.pause_minutes,
        buckets=buckets,
        tables=tables,
        schedule=ScheduledDrill(config.schedule, schedule_seconds(config.schedule)) if config.scheduled else None,
        lock_bucket=settings.batch_reports.primary_bucket_name,
        lock_bucket_region=settings.primary_region,
        lock_bucket_name=settings.batch_reports.name,
    )


def fis_tables(settings: StackSettings) -> list[FisTable]:
    """Each global table's primary replica, whose replication a drill may pause towards the other replicas.

    A pause at least as long as the table's regional RPO breaks the objective it would measure, so such tables (MRSC
    with RPO 0, or an MREC RPO at or below ``drills.pauseMinutes``) get no template; their ``ReplicationLatency``
    alarms (components/tables.py) watch the objective instead, and the preview says so."""
    pause = settings.drills.pause_minutes
    tables = []
    for spec in settings.tables:
        if not drilled(spec, pause):
            if spec.replica_regions:
                pulumi.log.info(
                    f"drills: no FIS replication pause for table {spec.name}: its regional RPO "
                    f"({regional_rpo(spec)} min) is not above drills.pauseMinutes ({pause} min)"
                )
            continue
        tables.append(
            FisTable(
                logical=spec.name,
                table_name=spec.table_name,
                region=spec.primary_region,
                receiving_regions=spec.replica_regions,
                regional_rpo_minutes=regional_rpo(spec),
                multi_region_strong=spec.strong,
            )
        )
    return tables


def stack_drills(
    settings: StackSettings,
    stack: str,
    providers: Mapping[str, aws.Provider],
    alert_topic_arns: Mapping[str, pulumi.Input[str]],
) -> DrillInfrastructure | None:
    """``__main__``'s one call: the component for the stack's settings (providers: Region -> provider), or None."""
    args = drills_args(settings, stack, providers, alert_topic_arns, fis_tables(settings))
    return None if args is None else DrillInfrastructure("dr-drills", args)
