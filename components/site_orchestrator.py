"""``SiteOrchestrator``: the failover orchestrator of one site, a ``RecoveryFunction`` in the recovery Region that
runs bounded rounds (docs/design/failover-and-rehearsal.md §1) every minute, with the role that lets it do exactly
what its actions need (handlers/failover/actions.py) and its own reserved concurrency."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pulumi
import pulumi_aws as aws

from components import arns
from components.keys import BucketKeyUsers, KeyUser, statement_id
from components.recovery_function import (
    HANDLERS_DIR,
    RecoveryFunction,
    RecoveryFunctionArgs,
    Schedule,
    publish_metrics_statement,
)
from stackmodel.config.sites import SiteSpec
from stackmodel.regions import partition
from stackmodel.site import (
    ORCHESTRATOR_SCHEDULE,
    ORCHESTRATOR_TIMEOUT_SECONDS,
    LinkedBucket,
    LinkedTable,
    active_bucket_parameter,
    active_epoch_parameter,
    active_region_parameter,
    site_lock_table_name,
    site_parameter,
)


@dataclass(frozen=True)
class SiteOrchestratorArgs:
    site_name: str  # the FailoverSite's resource name: the function keeps the name it had under it
    spec: SiteSpec
    app: str
    name_prefix: str
    primary_region: str
    recovery_region: str
    recovery_provider: aws.Provider
    account_id: pulumi.Input[str]
    alert_topic_arn: pulumi.Input[str]  # in the recovery Region
    switch: Mapping[str, Any]  # the descriptor's "switch" (kind and, for arc, both routing control ARNs)
    descriptor_parameter: pulumi.Input[str]
    tags: Mapping[str, str]
    buckets: Sequence[LinkedBucket] = field(default_factory=tuple)
    tables: Sequence[LinkedTable] = field(default_factory=tuple)
    handlers_dir: Path = HANDLERS_DIR
    # The declared active-region/active-bucket parameters (ApplicationSettings) and the descriptor: the first run
    # must find them (PutParameter on a missing setting would create it, and the stack's own create would fail).
    waits_for: Sequence[pulumi.Resource] = field(default_factory=tuple)
    moved_from: pulumi.Resource | None = None


class SiteOrchestrator(pulumi.ComponentResource):
    TYPE: ClassVar[str] = "dr:site:SiteOrchestrator"

    function_name: pulumi.Output[str]
    # Linked bucket (logical) -> the orchestrator's role as a user of its keys: the failback reconcile reads the
    # replica and writes the primary (handlers/failover/reconcile.py). Built before the buckets (__main__.py).
    bucket_key_users: dict[str, BucketKeyUsers]

    def __init__(self, name: str, args: SiteOrchestratorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(self.TYPE, name, None, opts)
        spec = args.spec
        aliases = [pulumi.Alias(parent=args.moved_from)] if args.moved_from is not None else None
        function = RecoveryFunction(
            f"{args.site_name}-orchestrator",
            RecoveryFunctionArgs(
                purpose="failover",
                function_name=f"{args.name_prefix}-{spec.name}-failover"[:64],
                handler="handlers.failover.orchestrator.lambda_handler",
                region=args.recovery_region,
                provider=args.recovery_provider,
                account_id=args.account_id,
                description=f"failover orchestrator for site {spec.name}",
                statements=self._statements(args),
                environment={"SITE_PARAMETER": args.descriptor_parameter},
                tags=args.tags,
                layers=[arns.powertools_layer_arn(args.recovery_region)],
                schedule=Schedule(ORCHESTRATOR_SCHEDULE, f"failover orchestrator for site {spec.name}"),
                # RUN_SECONDS of rounds + the worst-case round + margin (stackmodel/site.py): no round is cut.
                timeout_seconds=ORCHESTRATOR_TIMEOUT_SECONDS,
                handlers_dir=args.handlers_dir,
                waits_for=args.waits_for,
                reserved_concurrency=spec.orchestrator_reserved_concurrency,
            ),
            pulumi.ResourceOptions(parent=self, aliases=aliases),
        )
        self.function_name = function.function_name
        self.bucket_key_users = self._bucket_key_users(args, function)
        self.register_outputs({"function_name": self.function_name})

    @staticmethod
    def _bucket_key_users(args: SiteOrchestratorArgs, function: RecoveryFunction) -> dict[str, BucketKeyUsers]:
        """Key grants by the role's ARN in each linked bucket's key policies (components/keys.py), never ``key/*``:
        the replica's key decrypts the copy source; the primary's key decrypts and encrypts the copy (a multipart
        copy needs kms:Decrypt on the destination key too: S3 API Reference, CreateMultipartUpload, Permissions)."""
        sid = f"FailoverOrchestrator{statement_id(args.spec.name)}"
        return {
            bucket.logical: BucketKeyUsers(
                primary=(KeyUser(sid, function.role_arn, function.role, ("kms:Decrypt", "kms:GenerateDataKey")),),
                replica=(KeyUser(sid, function.role_arn, function.role, ("kms:Decrypt",)),),
            )
            for bucket in args.buckets
        }

    @staticmethod
    def _statements(args: SiteOrchestratorArgs) -> list[dict[str, Any]]:
        """Exactly what the orchestrator touches (handlers/failover/actions.py, state.py)."""
        spec = args.spec
        account, recovery, primary = args.account_id, args.recovery_region, args.primary_region
        part = partition(recovery)

        def parameter_arn(region: str, name: str) -> pulumi.Output[str]:
            return pulumi.Output.concat("arn:", part, ":ssm:", region, ":", account, ":parameter", name)

        settings = [active_region_parameter(args.app), active_epoch_parameter(args.app)] + [
            active_bucket_parameter(args.app, b) for b in spec.buckets
        ]
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
                # best effort in the failed region
                + [
                    parameter_arn(primary, name)
                    for name in (active_region_parameter(args.app), active_epoch_parameter(args.app))
                ],
            },
            {
                "Sid": "Lock",
                "Effect": "Allow",
                # Fenced writes are TransactWriteItems: a ConditionCheck on the lock item + an Update of the state
                # (each authorised as its own action; https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html)
                "Action": [
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",
                    "dynamodb:ConditionCheckItem",
                ],
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
                "Resource": [args.alert_topic_arn],
            },
        ]
        if args.tables:
            statements.append(
                {
                    "Sid": "StandbyTables",
                    "Effect": "Allow",
                    "Action": ["dynamodb:DescribeTable"],
                    "Resource": [
                        pulumi.Output.concat(
                            "arn:", part, ":dynamodb:", recovery, ":", account, ":table/", t.table_name
                        )
                        for t in args.tables
                    ],
                }
            )
        if args.buckets:
            statements += failback_bucket_statements(args.buckets)
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
                        # SwitchoverGlobalCluster: an Aurora failback moves the writer back without data loss.
                        "Action": [
                            "rds:DescribeGlobalClusters",
                            "rds:DescribeDBClusters",
                            "rds:FailoverGlobalCluster",
                            "rds:SwitchoverGlobalCluster",
                        ],
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
        if args.switch["kind"] == "arc":
            statements.append(
                {
                    "Sid": "RoutingControl",
                    "Effect": "Allow",
                    # One UpdateRoutingControlStates call sets primary Off and secondary On (the reverse to fail
                    # back): the "at least one On" rule rejects a single update that would leave both Off.
                    "Action": [
                        "route53-recovery-cluster:GetRoutingControlState",
                        "route53-recovery-cluster:UpdateRoutingControlState",
                        "route53-recovery-cluster:UpdateRoutingControlStates",
                    ],
                    "Resource": [args.switch["routingControlArn"], args.switch["secondaryRoutingControlArn"]],
                }
            )
        return statements


def failback_bucket_statements(buckets: Sequence[LinkedBucket]) -> list[dict[str, Any]]:
    """The standby check (HeadBucket on the replica) and exactly what the failback reconcile calls on each linked
    pair (handlers/failover/reconcile.py and the restore's ``copy_version`` it uses), per the S3 API Reference's
    Permissions sections and the S3 User Guide, "Required permissions for Amazon S3 API operations":

    - both buckets: ListObjectsV2 (s3:ListBucket), ListObjectVersions (s3:ListBucketVersions);
    - replica objects, the copy source: HeadObject of the current object (s3:GetObject), HeadObject, CopyObject and
      UploadPartCopy of a version (s3:GetObjectVersion), the source's tags (CopyObject's default TaggingDirective
      COPY and the multipart copy's GetObjectTagging of a version: s3:GetObjectTagging, s3:GetObjectVersionTagging,
      as the restore's COPY_VERSION_BACK_ACTIONS);
    - primary objects: HeadObject (s3:GetObject), CopyObject, CreateMultipartUpload, UploadPartCopy and
      CompleteMultipartUpload (s3:PutObject), tags on the copy (s3:PutObjectTagging), AbortMultipartUpload after a
      failed part (s3:AbortMultipartUpload), DeleteObject without a version id, a new delete marker
      (s3:DeleteObject; never s3:DeleteObjectVersion).

    No S3 Batch Operations: the orchestrator copies in-function (docs/runbooks/failover.md, "Failback")."""
    replicas = [arns.bucket_arn(b.replica_name, b.replica_region) for b in buckets]
    primaries = [arns.bucket_arn(b.primary_name, b.primary_region) for b in buckets]
    return [
        {
            "Sid": "StandbyBuckets",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],  # HeadBucket, and the reconcile's listing of the replica
            "Resource": replicas,
        },
        {
            "Sid": "FailbackListReplicaVersions",
            "Effect": "Allow",
            "Action": ["s3:ListBucketVersions"],
            "Resource": replicas,
        },
        {
            "Sid": "FailbackListPrimaries",
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:ListBucketVersions"],
            "Resource": primaries,
        },
        {
            "Sid": "FailbackReadReplicaObjects",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging", "s3:GetObjectVersionTagging"],
            "Resource": [f"{arn}/*" for arn in replicas],
        },
        {
            "Sid": "FailbackWritePrimaryObjects",
            "Effect": "Allow",
            "Action": [
                "s3:GetObject",
                "s3:PutObject",
                "s3:PutObjectTagging",
                "s3:AbortMultipartUpload",
                "s3:DeleteObject",
            ],
            "Resource": [f"{arn}/*" for arn in primaries],
        },
    ]
