"""Benchmark the policy pack through the Analyzer protocol against a no-op baseline with as many policies.

A synthetic DR stack (tags per docs/contract.md) of about 1,000 and 10,000 resources: tier-1 buckets with
their children (versioning, object lock, SSE-KMS, public access block, TLS-only policy, cross-region
replication, a replica with its lifecycle, the replication role), tier-2 buckets with a noncurrent
lifecycle, and DynamoDB tables with replicas. Children link to their bucket through
propertyDependencies["bucket"]; bucket ids are unknown, as at a first preview.

Each run sends Analyze for every resource, then AnalyzeStack once, to the pack and to the baseline
(benchmarks/noop_pack, sized from the pack's GetAnalyzerInfo: the SDK deserializes properties once per
policy). Both packs get identical requests, interleaved run by run. Medians are printed with the goals:
pack/baseline at 10k <= 2x and t(10k)/t(1k) <= 12 (linear).

    uv run python benchmarks/policy_pack.py [--sizes 1000 10000] [--runs 3] [--profile pack.prof]
"""

from __future__ import annotations

import argparse
import pstats
import statistics
import sys
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi.runtime.proto import analyzer_pb2

from preview.analyzer_client import (
    LEVEL_NAMES,
    AnalyzerClient,
    StackIdentity,
    running_policy_pack,
    to_struct,
)
from preview.policy_config import resolve_policy_config

REPO_ROOT = Path(__file__).resolve().parent.parent
NOOP_PACK = Path(__file__).resolve().parent / "noop_pack"
PROFILE_BOOTSTRAP = Path(__file__).resolve().parent / "profile_pack.py"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
PROJECT, STACK = "dr-bench", "bench"
PRIMARY, RECOVERY = "us-east-1", "us-west-2"
ACCOUNT = "123456789012"
ROOT_URN = f"urn:pulumi:{STACK}::{PROJECT}::pulumi:pulumi:Stack::{PROJECT}-{STACK}"

OBJECTIVES = {
    "1": {"rpo-logical": "0", "rto-logical": "60", "rpo-regional": "15", "rto-regional": "60"},
    "2": {"rpo-logical": "0", "rto-logical": "240", "rpo-regional": "none", "rto-regional": "none"},
}


def dr_tags(tier: str, component: str, **extra: str) -> dict[str, str]:
    tags = {f"dr:{key}-minutes": value for key, value in OBJECTIVES[tier].items()}
    return {"dr:tier": tier, "dr:component": component, **tags, **extra}


@dataclass
class SyntheticStack:
    """Resources as AnalyzeStack takes them; Analyze requests are derived from the same messages."""

    resources: list[analyzer_pb2.AnalyzerResource]

    def __init__(self) -> None:
        self.resources = []
        self.providers: dict[str, analyzer_pb2.AnalyzerProviderResource] = {}
        self._types_by_urn: dict[str, str] = {}
        self._add_root()

    def _add_root(self) -> None:
        self.resources.append(
            analyzer_pb2.AnalyzerResource(type="pulumi:pulumi:Stack", name=f"{PROJECT}-{STACK}", urn=ROOT_URN)
        )
        self._types_by_urn[ROOT_URN] = "pulumi:pulumi:Stack"
        for region in (PRIMARY, RECOVERY):
            urn = self.add("pulumi:providers:aws", region, {"region": region})
            self.providers[region] = analyzer_pb2.AnalyzerProviderResource(
                type="pulumi:providers:aws", urn=urn, name=region, properties=to_struct({"region": region})
            )

    def _urn(self, type_: str, name: str, parent: str) -> str:
        # As the engine: the parent's full qualified type prefixes the type, except the root stack's.
        qualified = type_ if parent == ROOT_URN else f"{parent.split('::')[2]}${type_}"
        return f"urn:pulumi:{STACK}::{PROJECT}::{qualified}::{name}"

    def add(
        self,
        type_: str,
        name: str,
        properties: Mapping[str, Any],
        parent: str = ROOT_URN,
        links: Mapping[str, list[str]] | None = None,
        region: str | None = None,
    ) -> str:
        urn = self._urn(type_, name, parent)
        links = dict(links or {})
        dependencies = sorted({dependency for urns in links.values() for dependency in urns})
        self.resources.append(
            analyzer_pb2.AnalyzerResource(
                type=type_,
                name=name,
                urn=urn,
                properties=to_struct({**properties, **({"region": region} if region else {})}),
                options=analyzer_pb2.AnalyzerResourceOptions(parent=parent),
                provider=self.providers.get(region) if region else None,
                parent=parent,
                dependencies=dependencies,
                propertyDependencies={
                    key: analyzer_pb2.AnalyzerPropertyDependencies(urns=urns) for key, urns in links.items()
                },
            )
        )
        return urn

    def analyze_requests(self) -> list[analyzer_pb2.AnalyzeRequest]:
        return [
            analyzer_pb2.AnalyzeRequest(
                type=item.type,
                name=item.name,
                urn=item.urn,
                properties=item.properties,
                options=item.options,
                provider=item.provider if item.HasField("provider") else None,
            )
            for item in self.resources
        ]


def _tls_only_policy(bucket_name: str) -> str:
    arn = f"arn:aws:s3:::{bucket_name}"
    return (
        '{"Version": "2012-10-17", "Statement": [{"Sid": "DenyInsecureTransport", "Effect": "Deny", '
        f'"Principal": "*", "Action": "s3:*", "Resource": ["{arn}", "{arn}/*"], '
        '"Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}'
    )


def _protected_bucket(
    stack: SyntheticStack, component: str, name: str, tier: str, role: str, region: str, lock_mode: str
) -> tuple[str, str]:
    """A bucket with versioning, object lock, SSE-KMS, public access block and a TLS-only policy."""
    bucket_name = f"bench-{name}-{region}"
    tags = dr_tags(tier, name, **{"dr:bucket-role": role})
    if role == "primary" and tier == "1":
        tags["dr:mfa-delete-attested"] = "2026-11-20"
    key = stack.add(
        "aws:kms/key:Key",
        f"{name}-{role}-key",
        {"enableKeyRotation": True, "deletionWindowInDays": 30, "tags": dr_tags(tier, name)},
        component,
        region=region,
    )
    bucket = stack.add(
        "aws:s3/bucket:Bucket",
        f"{name}-{role}",
        {"bucket": bucket_name, "objectLockEnabled": True, "tags": tags},
        component,
        region=region,
    )
    linked = {"bucket": [bucket]}
    child = f"{name}-{role}"
    stack.add(
        "aws:s3/bucketVersioning:BucketVersioning",
        f"{child}-versioning",
        {"bucket": UNKNOWN, "versioningConfiguration": {"status": "Enabled"}},
        component,
        linked,
        region,
    )
    stack.add(
        "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
        f"{child}-object-lock",
        {
            "bucket": UNKNOWN,
            "objectLockEnabled": "Enabled",
            "rule": {"defaultRetention": {"mode": lock_mode, "days": 30}},
        },
        component,
        linked,
        region,
    )
    stack.add(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        f"{child}-sse",
        {
            "bucket": UNKNOWN,
            "rules": [
                {
                    "applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": UNKNOWN},
                    "bucketKeyEnabled": True,
                }
            ],
        },
        component,
        {"bucket": [bucket], "rules": [key]},
        region,
    )
    stack.add(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        f"{child}-public-access-block",
        {
            "bucket": UNKNOWN,
            "blockPublicAcls": True,
            "blockPublicPolicy": True,
            "ignorePublicAcls": True,
            "restrictPublicBuckets": True,
        },
        component,
        linked,
        region,
    )
    stack.add(
        "aws:s3/bucketPolicy:BucketPolicy",
        f"{child}-tls-only",
        {"bucket": UNKNOWN, "policy": _tls_only_policy(bucket_name)},
        component,
        linked,
        region,
    )
    return bucket, key


def _noncurrent_lifecycle(
    stack: SyntheticStack, component: str, name: str, bucket: str, region: str, expire_days: int
) -> None:
    stack.add(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        f"{name}-lifecycle",
        {
            "bucket": UNKNOWN,
            "rules": [
                {
                    "id": "noncurrent-versions",
                    "status": "Enabled",
                    "filter": {},
                    "noncurrentVersionTransitions": [
                        {"noncurrentDays": 30, "storageClass": "STANDARD_IA"},
                        {"noncurrentDays": 90, "storageClass": "GLACIER"},
                    ],
                    "noncurrentVersionExpiration": {"noncurrentDays": expire_days},
                    "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7},
                }
            ],
        },
        component,
        {"bucket": [bucket]},
        region,
    )


def tier1_bucket(stack: SyntheticStack, index: int) -> None:
    name = f"t1-{index}"
    component = stack.add("dr:storage:Tier1Bucket", name, {})
    primary, _ = _protected_bucket(stack, component, name, "1", "primary", PRIMARY, "COMPLIANCE")
    replica, replica_key = _protected_bucket(stack, component, name, "1", "replica", RECOVERY, "COMPLIANCE")
    _noncurrent_lifecycle(stack, component, f"{name}-replica", replica, RECOVERY, 400)
    role = stack.add(
        "aws:iam/role:Role",
        f"{name}-replication",
        {
            "assumeRolePolicy": '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
            '"Principal": {"Service": "s3.amazonaws.com"}, "Action": "sts:AssumeRole"}]}',
            "tags": dr_tags("1", name, **{"dr:role": "replication"}),
        },
        component,
    )
    source, destination = f"arn:aws:s3:::bench-{name}-{PRIMARY}", f"arn:aws:s3:::bench-{name}-{RECOVERY}"
    stack.add(
        "aws:iam/rolePolicy:RolePolicy",
        f"{name}-replication-policy",
        {
            "role": UNKNOWN,
            "policy": '{"Version": "2012-10-17", "Statement": ['
            '{"Effect": "Allow", "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"], '
            f'"Resource": "{source}"}}, '
            '{"Effect": "Allow", "Action": ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", '
            '"s3:GetObjectVersionTagging", "s3:GetObjectRetention", "s3:GetObjectLegalHold"], '
            f'"Resource": "{source}/*"}}, '
            '{"Effect": "Allow", "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"], '
            f'"Resource": "{destination}/*"}}]}}',
        },
        component,
        {"role": [role]},
    )
    stack.add(
        "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
        f"{name}-replication",
        {
            "bucket": UNKNOWN,
            "role": UNKNOWN,
            "rules": [
                {
                    "id": "all-objects",
                    "status": "Enabled",
                    "priority": 1,
                    "filter": {},
                    "deleteMarkerReplication": {"status": "Enabled"},
                    "sourceSelectionCriteria": {"sseKmsEncryptedObjects": {"status": "Enabled"}},
                    "destination": {
                        "bucket": destination,
                        "storageClass": "STANDARD_IA",
                        "encryptionConfiguration": {"replicaKmsKeyId": UNKNOWN},
                        "replicationTime": {"status": "Enabled", "time": {"minutes": 15}},
                        "metrics": {"status": "Enabled", "eventThreshold": {"minutes": 15}},
                    },
                }
            ],
        },
        component,
        {"bucket": [primary], "role": [role], "rules": [replica_key]},
        PRIMARY,
    )


def tier2_bucket(stack: SyntheticStack, index: int) -> None:
    name = f"t2-{index}"
    component = stack.add("dr:storage:Tier2Bucket", name, {})
    bucket, _ = _protected_bucket(stack, component, name, "2", "primary", PRIMARY, "GOVERNANCE")
    _noncurrent_lifecycle(stack, component, name, bucket, PRIMARY, 180)


def global_table(stack: SyntheticStack, index: int) -> None:
    name = f"table-{index}"
    replica = {"regionName": RECOVERY, "pointInTimeRecovery": True, "deletionProtectionEnabled": True}
    stack.add(
        "aws:dynamodb/table:Table",
        name,
        {
            "name": f"bench-{name}",
            "billingMode": "PAY_PER_REQUEST",
            "hashKey": "pk",
            "attributes": [{"name": "pk", "type": "S"}],
            "pointInTimeRecovery": {"enabled": True, "recoveryPeriodInDays": 35},
            "deletionProtectionEnabled": True,
            "streamEnabled": True,
            "streamViewType": "NEW_AND_OLD_IMAGES",
            "replicas": [replica],
            "tags": dr_tags("2", name),
        },
        region=PRIMARY,
    )


def synthetic_stack(size: int) -> SyntheticStack:
    """About `size` resources: per round one tier-1 bucket (24), two tier-2 buckets (18) and four tables."""
    stack = SyntheticStack()
    index = 0
    while len(stack.resources) < size:
        tier1_bucket(stack, index)
        for offset in range(2):
            tier2_bucket(stack, 2 * index + offset)
        for offset in range(4):
            global_table(stack, 4 * index + offset)
        index += 1
    return stack


@dataclass(frozen=True)
class Timing:
    analyze: float
    analyze_stack: float
    diagnostics: Counter[str]

    @property
    def total(self) -> float:
        return self.analyze + self.analyze_stack


def run_once(client: AnalyzerClient, stack: SyntheticStack, requests: list[analyzer_pb2.AnalyzeRequest]) -> Timing:
    diagnostics: Counter[str] = Counter()
    started = time.perf_counter()
    for request in requests:
        for diagnostic in client.analyze(request).diagnostics:
            diagnostics[LEVEL_NAMES[diagnostic.enforcementLevel]] += 1
    analyzed = time.perf_counter()
    for diagnostic in client.analyze_stack(stack.resources).diagnostics:
        diagnostics[LEVEL_NAMES[diagnostic.enforcementLevel]] += 1
    return Timing(analyzed - started, time.perf_counter() - analyzed, diagnostics)


def policy_counts(info: analyzer_pb2.AnalyzerInfo) -> tuple[int, int]:
    resource = sum(1 for policy in info.policies if policy.policy_type == analyzer_pb2.POLICY_TYPE_RESOURCE)
    stack = sum(1 for policy in info.policies if policy.policy_type == analyzer_pb2.POLICY_TYPE_STACK)
    return resource, stack


def configured(client: AnalyzerClient) -> analyzer_pb2.AnalyzerInfo:
    """Configure every policy as offline-preview does, so each runs at its real level with its defaults."""
    info = client.analyzer_info()
    client.configure(resolve_policy_config(info).policies)
    return info


def print_profile(path: Path, limit: int = 30) -> None:
    print(f"\nProfile of the pack's request threads ({path}), top {limit} by cumulative time:")
    pstats.Stats(str(path)).sort_stats("cumulative").print_stats(limit)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pack", type=Path, default=REPO_ROOT / "policies")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--runs", type=int, default=3, help="runs per size and pack; medians are reported")
    parser.add_argument("--profile", type=Path, help="also profile one run of the pack at the largest size")
    args = parser.parse_args(argv)

    identity = StackIdentity(project=PROJECT, stack=STACK, tags={"pulumi:project": PROJECT})
    stacks = {size: synthetic_stack(size) for size in args.sizes}
    requests = {size: stack.analyze_requests() for size, stack in stacks.items()}
    medians: dict[tuple[str, int], float] = {}
    with running_policy_pack(args.pack, identity) as pack:
        info = configured(pack)
        resource_policies, stack_policies = policy_counts(info)
        baseline_env = {"NOOP_RESOURCE_POLICIES": str(resource_policies), "NOOP_STACK_POLICIES": str(stack_policies)}
        with running_policy_pack(NOOP_PACK, identity, extra_env=baseline_env) as baseline:
            configured(baseline)
            print(
                f"pack {info.name}: {resource_policies} resource + {stack_policies} stack policies; "
                f"baseline {NOOP_PACK.name} with the same counts; {args.runs} runs per size, medians\n"
            )
            print(f"{'resources':>9} {'pack s':>8} {'(analyze':>9} {'+ stack)':>8} {'baseline s':>10} {'ratio':>6}")
            for size, stack in stacks.items():
                timings: dict[str, list[Timing]] = {"pack": [], "baseline": []}
                for _ in range(args.runs):
                    timings["pack"].append(run_once(pack, stack, requests[size]))
                    timings["baseline"].append(run_once(baseline, stack, requests[size]))
                for label, runs in timings.items():
                    medians[(label, size)] = statistics.median(run.total for run in runs)
                pack_analyze = statistics.median(run.analyze for run in timings["pack"])
                pack_stack = statistics.median(run.analyze_stack for run in timings["pack"])
                print(
                    f"{len(stack.resources):>9} {medians[('pack', size)]:>8.2f} {pack_analyze:>9.2f} "
                    f"{pack_stack:>8.2f} {medians[('baseline', size)]:>10.2f} "
                    f"{medians[('pack', size)] / medians[('baseline', size)]:>5.2f}x"
                )
                findings = dict(timings["pack"][-1].diagnostics)
                print(f"{'':>9} pack findings on the synthetic stack: {findings or 'none'}")

    smallest, largest = min(args.sizes), max(args.sizes)
    ratio = medians[("pack", largest)] / medians[("baseline", largest)]
    print(f"\npack/baseline at {largest}: {ratio:.2f}x (goal <= 2)")
    if largest != smallest:
        for label in ("pack", "baseline"):
            growth = medians[(label, largest)] / medians[(label, smallest)]
            print(f"{label} t({largest})/t({smallest}): {growth:.1f} (goal <= {largest / smallest * 1.2:.0f}, linear)")

    if args.profile:
        profile_path = args.profile.resolve()
        profiler = [str(PROFILE_BOOTSTRAP), str(profile_path)]
        with running_policy_pack(args.pack, identity, python_options=profiler) as pack:
            configured(pack)
            run_once(pack, stacks[largest], requests[largest])
        print_profile(profile_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
