"""DynamoDB global tables per DR tier (``GlobalTable``), and the account-level DynamoDB alarms per region.

One ``aws.dynamodb.Table`` with ``replicas=[...]`` (global tables version 2019.11.21); never the legacy
``aws.dynamodb.GlobalTable``. What each tier gets comes from ``stackmodel.tiers.TABLE_TIERS`` through the validated
``TableSpec``; nothing here decides it. Every protection is on the table and on every replica:

- PITR: the tier's recovery period on the table; pulumi-aws exposes a replica's PITR as a bool only, so replicas get
  PITR with DynamoDB's default period (README "Tables");
- deletion protection on the table and every replica, and ``protect=True`` on the table and its keys. Removing a
  replica region therefore needs its deletion protection turned off first, in its own ``pulumi up``;
- streams: NEW_AND_OLD_IMAGES on MREC tables (global tables replicate through them); on MRSC only for a consumer;
- SSE with a customer-managed key per region (rotation on), the replica's through its ``kms_key_arn``;
- tags carrying the declared objectives (docs/contract.md), propagated to replicas, plus ``dr:backup-plan``, the
  tag the AWS Backup selection matches (components/backup.py).

Alarms sit in the Region where AWS publishes each metric and notify that Region's topic (a CloudWatch alarm can
only notify an SNS topic in its own Region): README "Alarms and where AWS publishes their metrics".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pulumi
import pulumi_aws as aws

from components import arns, tags
from components.keys import KeyUser, data_key, key_policy, statement_id, via_services
from components.recovery_function import (
    HANDLERS_DIR,
    METRICS_NAMESPACE,
    RecoveryFunction,
    RecoveryFunctionArgs,
    Schedule,
    publish_metrics_statement,
)
from handlers.app_setting import active_table_parameter
from handlers.runtime_names import BACKUP_PLAN_TAG, RPO_AGE_METRIC
from handlers.runtime_names import TABLE_BACKUP_RESOURCE_TYPE as BACKUP_RESOURCE_TYPE
from handlers.runtime_names import TABLE_PITR_RESOURCE_TYPE as PITR_RESOURCE_TYPE
from stackmodel.config.buckets import BucketSpec
from stackmodel.config.tables import TableSpec
from stackmodel.tiers import FailureMode

STREAM_VIEW = "NEW_AND_OLD_IMAGES"
ALARM_PERIOD_SECONDS = 60
# ReplicationLatency: breach when a whole window of minutes is above the regional RPO.
REPLICATION_LATENCY_EVALUATION_PERIODS = 5
# A throttle or system error is worth a page after a few minutes, not on one blip.
ERROR_EVALUATION_PERIODS = 5
# DynamoDB documents LatestRestorableDateTime as typically about 5 minutes behind now (handlers/rpo_age.py).
PITR_LAG_ALLOWANCE_SECONDS = 300
# A backup job may start up to an hour after its scheduled time and run for a while (components/backup.py).
BACKUP_JOB_ALLOWANCE_SECONDS = 3 * 3600
RPO_AGE_SCHEDULE = "rate(15 minutes)"


@dataclass(frozen=True)
class GlobalTableArgs:
    spec: TableSpec
    app: str
    providers: Mapping[str, aws.Provider]  # one per region the table lives in
    alert_topic_arns: Mapping[str, pulumi.Input[str]]  # region -> SNS topic ARN in that region
    backup_plan: str | None = None  # the AWS Backup plan whose selection matches this table's tag
    export_bucket: BucketSpec | None = None  # where the scheduled export writes (spec.export)
    # Region -> roles of other components that use this table's key there (the AWS Backup role), granted in the
    # key's policy by role ARN (components/keys.py).
    key_users: Mapping[str, Sequence[KeyUser]] = field(default_factory=dict)
    handlers_dir: Path = HANDLERS_DIR


@dataclass
class _Alarm:
    name: str
    region: str


class GlobalTable(pulumi.ComponentResource):
    """One DynamoDB table with its replicas, keys, active-table settings, alarms and recovery functions."""

    TYPE: ClassVar[str] = "dr:database:GlobalTable"

    table_name: pulumi.Output[str]
    table_arn: pulumi.Output[str]
    stream_arn: pulumi.Output[str | None]
    active_table_parameter: pulumi.Output[str]
    key_arns: dict[str, pulumi.Output[str]]
    # The scheduled export's role as a user of the export bucket's key: that bucket's TieredBucketArgs.key_users.
    export_key_user: KeyUser | None

    def __init__(self, name: str, args: GlobalTableArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(self.TYPE, name, None, opts)
        self._name = name
        self._args = args
        spec = args.spec
        missing = [r for r in spec.regions if r not in args.providers or r not in args.alert_topic_arns]
        if missing:
            raise ValueError(f"{name}: no provider or alert topic for region(s) {', '.join(missing)}")
        self._tags = tags.objective_tags(spec.name, spec.tier, spec.objectives)
        if args.backup_plan:
            self._tags[BACKUP_PLAN_TAG] = args.backup_plan
        primary = spec.primary_region
        self._account = aws.get_caller_identity_output(
            opts=pulumi.InvokeOutputOptions(parent=self, provider=args.providers[primary])
        ).account_id

        self.key_arns = {region: self._key(region) for region in spec.regions}
        table = self._table()
        if spec.autoscaling is not None:
            for region in spec.regions:
                self._autoscaling(region, table)
        parameter = active_table_parameter(args.app, spec.name)
        for region in spec.regions:
            aws.ssm.Parameter(
                f"{name}-active-table-{region}",
                name=parameter,
                type="String",
                value=spec.table_name,
                description=f"Active physical table for {spec.name}; drctl restore-table --cutover writes it",
                region=region,
                tags=self._tags,
                # A cutover writes the parameter; the next `pulumi up` must not put the old table back.
                opts=self._child(region, ignore_changes=["value"]),
            )
        self.alarms: list[_Alarm] = []
        self._replication_latency_alarms()
        self._error_alarms()
        self._rpo_age(table)
        self.export_key_user = None
        if spec.export is not None:
            if args.export_bucket is None:
                raise ValueError(f"{name}: spec.export needs export_bucket")
            self.export_key_user = self._scheduled_export(args.export_bucket)

        self.table_name = pulumi.Output.from_input(spec.table_name)
        self.table_arn = table.arn
        self.stream_arn = table.stream_arn if spec.stream_enabled else pulumi.Output.from_input(None)
        self.active_table_parameter = pulumi.Output.from_input(parameter)
        self.register_outputs(
            {
                "table_name": self.table_name,
                "table_arn": self.table_arn,
                "stream_arn": self.stream_arn,
                "active_table_parameter": self.active_table_parameter,
            }
        )

    def _child(self, region: str, **extra: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=self._args.providers[region], **extra)

    def _key(self, region: str) -> pulumi.Output[str]:
        spec = self._args.spec
        key = data_key(
            f"{self._name}-key-{region}",
            f"SSE-KMS key for DynamoDB table {spec.table_name} in {region}",
            region,
            self._tags,
            self._child(region, protect=True),  # losing the key loses the table's data in that region
        )
        key_policy(
            f"{self._name}-key-policy-{region}",
            key,
            region,
            self._account,
            self._args.key_users.get(region, ()),
            self._child(region),
        )
        aws.kms.Alias(
            f"{self._name}-key-alias-{region}",
            name=arns.key_alias(spec.table_name),
            target_key_id=key.key_id,
            region=region,
            opts=self._child(region),
        )
        return key.arn

    def _table(self) -> aws.dynamodb.Table:
        spec = self._args.spec
        primary = spec.primary_region
        provisioned = spec.billing_mode == "PROVISIONED"
        replicas = [
            aws.dynamodb.TableReplicaArgs(
                region_name=region,
                consistency_mode=spec.consistency_mode,
                # pulumi-aws takes the replica's PITR as a bool: the period is the table's only.
                point_in_time_recovery=True,
                deletion_protection_enabled=True,
                kms_key_arn=self.key_arns[region],
                propagate_tags=True,
            )
            for region in spec.replica_regions
        ]
        indexes = [
            aws.dynamodb.TableGlobalSecondaryIndexArgs(
                name=index.name,
                key_schemas=[
                    aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(attribute_name=attribute, key_type=kind)
                    for attribute, kind in ((index.hash_key, "HASH"), (index.range_key, "RANGE"))
                    if attribute is not None
                ],
                projection_type=index.projection_type,
                non_key_attributes=list(index.non_key_attributes) or None,
                read_capacity=spec.capacity.read_units if provisioned and spec.capacity else None,
                write_capacity=spec.capacity.write_units if provisioned and spec.capacity else None,
            )
            for index in spec.indexes
        ]
        extra: dict[str, Any] = {"protect": True}
        if spec.autoscaling is not None:
            # Autoscaling owns the capacity; an update must not reset it.
            extra["ignore_changes"] = ["readCapacity", "writeCapacity", "globalSecondaryIndexes"]
        return aws.dynamodb.Table(
            self._name,
            name=spec.table_name,
            billing_mode=spec.billing_mode,
            read_capacity=spec.capacity.read_units if provisioned and spec.capacity else None,
            write_capacity=spec.capacity.write_units if provisioned and spec.capacity else None,
            hash_key=spec.hash_key,
            range_key=spec.range_key,
            attributes=[aws.dynamodb.TableAttributeArgs(name=n, type=t) for n, t in spec.attributes],
            global_secondary_indexes=indexes or None,
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(
                enabled=True, recovery_period_in_days=spec.pitr_recovery_period_days
            ),
            deletion_protection_enabled=True,
            stream_enabled=spec.stream_enabled,
            stream_view_type=STREAM_VIEW if spec.stream_enabled else None,
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(
                enabled=True, kms_key_arn=self.key_arns[primary]
            ),
            ttl=(
                aws.dynamodb.TableTtlArgs(attribute_name=spec.ttl_attribute, enabled=True)
                if spec.ttl_attribute
                else None
            ),
            replicas=replicas or None,
            global_table_witness=(
                aws.dynamodb.TableGlobalTableWitnessArgs(region_name=spec.witness_region)
                if spec.witness_region
                else None
            ),
            region=primary,
            tags=self._tags,
            opts=self._child(primary, **extra),
        )

    def _autoscaling(self, region: str, table: aws.dynamodb.Table) -> None:
        """Target tracking on read and write capacity, in each replica's region (global tables need it)."""
        spec = self._args.spec
        scaling = spec.autoscaling
        assert scaling is not None
        for dimension, metric, low, high in (
            ("read", "DynamoDBReadCapacityUtilization", scaling.min_read_units, scaling.max_read_units),
            ("write", "DynamoDBWriteCapacityUtilization", scaling.min_write_units, scaling.max_write_units),
        ):
            target = aws.appautoscaling.Target(
                f"{self._name}-{dimension}-scaling-{region}",
                service_namespace="dynamodb",
                resource_id=f"table/{spec.table_name}",
                scalable_dimension=f"dynamodb:table:{dimension.capitalize()}CapacityUnits",
                min_capacity=low,
                max_capacity=high,
                region=region,
                tags=self._tags,
                opts=self._child(region, depends_on=[table]),
            )
            aws.appautoscaling.Policy(
                f"{self._name}-{dimension}-scaling-{region}",
                policy_type="TargetTrackingScaling",
                service_namespace=target.service_namespace,
                resource_id=target.resource_id,
                scalable_dimension=target.scalable_dimension,
                target_tracking_scaling_policy_configuration=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                    target_value=scaling.target_utilization,
                    predefined_metric_specification=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
                        predefined_metric_type=metric
                    ),
                ),
                region=region,
                opts=self._child(region),
            )

    def _alarm(self, suffix: str, region: str, **kwargs: Any) -> None:
        topic = self._args.alert_topic_arns[region]
        name = f"{self._name}-{suffix}"
        aws.cloudwatch.MetricAlarm(
            name,
            alarm_actions=[topic],
            ok_actions=[topic],
            region=region,
            tags=self._tags,
            opts=self._child(region),
            **kwargs,
        )
        self.alarms.append(_Alarm(name, region))

    def _replication_latency_alarms(self) -> None:
        """DynamoDB publishes ReplicationLatency in the source Region, one series per receiving Region
        (dimensions TableName, ReceivingRegion); MRSC tables publish none."""
        spec = self._args.spec
        if spec.strong or not spec.replica_regions:
            return
        rpo = spec.objectives[FailureMode.REGIONAL].rpo_minutes
        if rpo is None:
            return
        for source in spec.regions:
            for receiving in spec.regions:
                if receiving == source:
                    continue
                self._alarm(
                    f"replication-latency-{source}-to-{receiving}",
                    source,
                    namespace="AWS/DynamoDB",
                    metric_name="ReplicationLatency",
                    dimensions={"TableName": spec.table_name, "ReceivingRegion": receiving},
                    statistic="Maximum",
                    period=ALARM_PERIOD_SECONDS,
                    evaluation_periods=REPLICATION_LATENCY_EVALUATION_PERIODS,
                    threshold=rpo * 60 * 1000,  # milliseconds
                    comparison_operator="GreaterThanThreshold",
                    # No writes, no datapoints: silence is not lag. The RPO-age alarm covers a stalled pipeline.
                    treat_missing_data="notBreaching",
                    alarm_description=(
                        f"Replication of {spec.table_name} from {source} to {receiving} is slower than its "
                        f"regional RPO of {rpo} min"
                    ),
                )

    def _error_alarms(self) -> None:
        """ThrottledRequests and SystemErrors carry TableName and Operation: one metric-math sum over the
        operations the application uses, per region the table serves in."""
        spec = self._args.spec
        for region in spec.regions:
            for metric, suffix in (("ThrottledRequests", "throttled"), ("SystemErrors", "system-errors")):
                queries = [
                    aws.cloudwatch.MetricAlarmMetricQueryArgs(
                        id=f"m{position}",
                        metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                            namespace="AWS/DynamoDB",
                            metric_name=metric,
                            dimensions={"TableName": spec.table_name, "Operation": operation},
                            period=ALARM_PERIOD_SECONDS,
                            stat="Sum",
                        ),
                        return_data=False,
                    )
                    for position, operation in enumerate(spec.operations)
                ]
                queries.append(
                    aws.cloudwatch.MetricAlarmMetricQueryArgs(
                        id="total",
                        expression=f"SUM([{', '.join(f'm{p}' for p in range(len(spec.operations)))}])",
                        label=f"{metric} over {', '.join(spec.operations)}",
                        return_data=True,
                    )
                )
                self._alarm(
                    f"{suffix}-{region}",
                    region,
                    metric_queries=queries,
                    evaluation_periods=ERROR_EVALUATION_PERIODS,
                    datapoints_to_alarm=3,
                    threshold=0,
                    comparison_operator="GreaterThanThreshold",
                    treat_missing_data="notBreaching",
                    alarm_description=f"{metric} on {spec.table_name} in {region} ({', '.join(spec.operations)})",
                )

    def _recovery_function(
        self,
        purpose: str,
        handler: str,
        statements: Sequence[Mapping[str, Any]],
        environment: Mapping[str, pulumi.Input[str]],
        schedule: str,
    ) -> RecoveryFunction:
        spec = self._args.spec
        region = spec.primary_region
        return RecoveryFunction(
            f"{self._name}-{purpose}",
            RecoveryFunctionArgs(
                purpose=purpose,
                function_name=f"{spec.table_name}-{purpose}",
                handler=handler,
                region=region,
                provider=self._args.providers[region],
                account_id=self._account,
                description=f"{purpose} for table {spec.table_name}",
                statements=statements,
                environment=environment,
                tags=self._tags,
                layers=[arns.powertools_layer_arn(region)],
                schedule=Schedule(schedule, f"{purpose} of {spec.table_name}"),
                handlers_dir=self._args.handlers_dir,
            ),
            pulumi.ResourceOptions(parent=self),
        )

    def _table_arn(self, region: str) -> pulumi.Output[str]:
        return pulumi.Output.concat(
            "arn:",
            arns.partition(region),
            ":dynamodb:",
            region,
            ":",
            self._account,
            ":table/",
            self._args.spec.table_name,
        )

    def _rpo_age(self, table: aws.dynamodb.Table) -> None:
        """The RPO-age function (handlers/rpo_age.py, table rows) publishes in each region the table lives in; the
        alarms on what it publishes are stack resources in those regions."""
        spec = self._args.spec
        regions = spec.regions
        statements: list[Mapping[str, Any]] = [
            {
                "Sid": "ReadRecoveryPoints",
                "Effect": "Allow",
                "Action": ["dynamodb:DescribeContinuousBackups", "dynamodb:DescribeTable"],
                "Resource": [self._table_arn(region) for region in regions],
            },
            publish_metrics_statement(),
        ]
        if spec.backup is not None:
            statements.append(
                {
                    "Sid": "ReadBackupRecoveryPoints",
                    "Effect": "Allow",
                    "Action": ["backup:ListRecoveryPointsByResource"],
                    # The Service Authorization Reference lists no resource type for this action: only "*" works.
                    "Resource": "*",
                }
            )
        self._recovery_function(
            "rpo-age",
            "handlers.rpo_age.tables_lambda_handler",
            statements,
            {
                "RPO_TABLES": spec.table_name,
                "BACKUP_REGIONS": ",".join(regions),
                "RPO_BACKUP_PLAN_TABLES": spec.table_name if spec.backup is not None else "",
            },
            RPO_AGE_SCHEDULE,
        )
        logical_rpo = spec.objectives[FailureMode.LOGICAL].rpo_minutes
        for region in regions:
            if logical_rpo is None:
                break
            self._rpo_age_alarm(
                f"rpo-age-pitr-{region}",
                region,
                PITR_RESOURCE_TYPE,
                max(logical_rpo * 60, PITR_LAG_ALLOWANCE_SECONDS),
                f"PITR's latest restorable time of {spec.table_name} in {region} is older than its logical RPO",
            )
        if spec.backup is not None:
            self._rpo_age_alarm(
                f"rpo-age-backup-{spec.primary_region}",
                spec.primary_region,
                BACKUP_RESOURCE_TYPE,
                spec.backup.rpo_minutes * 60 + BACKUP_JOB_ALLOWANCE_SECONDS,
                f"The newest completed AWS Backup recovery point of {spec.table_name} is older than its backup RPO",
            )

    def _rpo_age_alarm(self, suffix: str, region: str, resource_type: str, threshold: int, description: str) -> None:
        self._alarm(
            suffix,
            region,
            namespace=METRICS_NAMESPACE,
            metric_name=RPO_AGE_METRIC,
            dimensions={"ResourceType": resource_type, "Resource": self._args.spec.table_name, "Region": region},
            statistic="Maximum",
            period=3600,
            evaluation_periods=1,
            threshold=threshold,
            comparison_operator="GreaterThanThreshold",
            # A silent function is itself an RPO risk.
            treat_missing_data="breaching",
            alarm_description=description,
        )

    def _scheduled_export(self, bucket: BucketSpec) -> KeyUser:
        """ExportTableToPointInTime on a schedule (handlers/dynamodb/export.py), SSE-KMS with the bucket's key.

        The bucket's key policy grants this role (the returned ``KeyUser``), so the bucket is built after the
        tables (``__main__.py``)."""
        spec = self._args.spec
        region = spec.primary_region
        bucket_arn = arns.bucket_arn(bucket.primary_bucket_name, region)
        prefix = f"dynamodb-exports/{spec.table_name}"
        function = self._recovery_function(
            "export",
            "handlers.dynamodb.export.lambda_handler",
            [
                {
                    "Sid": "Export",
                    "Effect": "Allow",
                    "Action": ["dynamodb:ExportTableToPointInTime", "dynamodb:DescribeContinuousBackups"],
                    "Resource": self._table_arn(region),
                },
                {
                    "Sid": "WriteExport",
                    "Effect": "Allow",
                    "Action": ["s3:PutObject", "s3:AbortMultipartUpload", "s3:PutObjectAcl"],
                    "Resource": f"{bucket_arn}/{prefix}/*",
                },
                {
                    "Sid": "ReadBucketKey",
                    "Effect": "Allow",
                    "Action": ["s3:GetEncryptionConfiguration"],
                    "Resource": bucket_arn,
                },
            ],
            {"EXPORT_TABLE": spec.table_name, "EXPORT_BUCKET": bucket.primary_bucket_name, "EXPORT_PREFIX": prefix},
            spec.export.schedule if spec.export else "rate(7 days)",
        )
        # The bucket's key encrypts the export, used through S3 only; the role can write nothing but its prefix.
        return KeyUser(
            statement_id(f"export {spec.name}"),
            function.role_arn,
            function.role,
            ("kms:GenerateDataKey", "kms:Encrypt"),
            via_services(region, "s3"),
        )


@dataclass(frozen=True)
class DynamoDbAccountAlarmsArgs:
    regions: Sequence[str]
    providers: Mapping[str, aws.Provider]
    alert_topic_arns: Mapping[str, pulumi.Input[str]]
    threshold: int = 10  # UserErrors per minute: HTTP 400s across the account and region
    tags: Mapping[str, str] = field(default_factory=dict)


class DynamoDbAccountAlarms(pulumi.ComponentResource):
    """``UserErrors`` exists only per account and Region (no table dimension): one alarm in each table region."""

    TYPE: ClassVar[str] = "dr:database:DynamoDbAccountAlarms"

    def __init__(self, name: str, args: DynamoDbAccountAlarmsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(self.TYPE, name, None, opts)
        for region in args.regions:
            topic = args.alert_topic_arns[region]
            aws.cloudwatch.MetricAlarm(
                f"{name}-user-errors-{region}",
                namespace="AWS/DynamoDB",
                metric_name="UserErrors",
                statistic="Sum",
                period=ALARM_PERIOD_SECONDS,
                evaluation_periods=ERROR_EVALUATION_PERIODS,
                datapoints_to_alarm=3,
                threshold=args.threshold,
                comparison_operator="GreaterThanThreshold",
                treat_missing_data="notBreaching",
                alarm_description=f"DynamoDB requests rejected with HTTP 400 in {region} (whole account)",
                alarm_actions=[topic],
                ok_actions=[topic],
                region=region,
                tags={tags.COMPONENT: name, **args.tags},
                opts=pulumi.ResourceOptions(parent=self, provider=args.providers[region]),
            )
        self.register_outputs({})
