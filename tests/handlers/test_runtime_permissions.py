"""Every AWS call a Tier1Bucket runtime Lambda makes is granted by the role the component gives it.

Each Lambda runs on in-process moto with the environment its ``Function`` declares in the prod stack (Pulumi
mock runtime). Every API call it makes is recorded and mapped to the IAM action(s) that authorise it, on the
resource it touches (object, bucket, alarm, topic, metric namespace), and a statement of the role's inline policy
must allow each; KMS use must be granted to the role's ARN by the policy of the bucket's own key (key policies
grant by role ARN, never through an alias). moto enforces no IAM, so this is where a missing
grant shows up before a deploy does. An operation missing from the map fails the test: a handler cannot start
calling something new without its permission being checked. Tier-1 buckets are SSE-KMS, so object reads that
decrypt (copies, HeadObject with checksums) also need the bucket key.
"""

from __future__ import annotations

import copy
import fnmatch
import importlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient

from handlers import aws, rpo_age
from handlers.drills.bucket import replication_to
from handlers.s3 import auto_restore
from tests.components.harness import ACCOUNT_ID, Registration, Run, prod_run

BUCKET_REGIONS: dict[str, str] = {}  # filled by the ``uploads`` fixture: which Region a bucket (and its key) is in
BUCKET_LEVEL_ACTIONS: dict[str, str] = {
    "ListObjectsV2": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
    "GetBucketVersioning": "s3:GetBucketVersioning",
    "GetBucketReplication": "s3:GetReplicationConfiguration",
    "GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "GetBucketLocation": "s3:GetBucketLocation",
    "GetBucketTagging": "s3:GetBucketTagging",
}


@dataclass(frozen=True)
class Need:
    """One IAM action on one resource, with the request context a statement's condition may test."""

    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()


KEY_OF = "key-of:"  # a Need on "key-of:<bucket>" is judged by that bucket key's policy, not the role's


def bucket_key(bucket: str, *actions: str) -> set[Need]:
    """Tier-1 buckets are SSE-KMS with their own key; its key policy grants each role by ARN."""
    return {Need(action, f"{KEY_OF}{bucket}") for action in actions}


def needs(service: str, operation: str, params: dict[str, Any]) -> set[Need]:
    """What IAM must allow for one recorded call."""
    if service == "s3" and operation in BUCKET_LEVEL_ACTIONS:
        return {Need(BUCKET_LEVEL_ACTIONS[operation], f"arn:aws:s3:::{params['Bucket']}")}
    if service == "s3" and operation in {"HeadObject", "GetObjectTagging"}:
        versioned = "Version" if params.get("VersionId") else ""
        action = {"HeadObject": f"s3:GetObject{versioned}", "GetObjectTagging": f"s3:GetObject{versioned}Tagging"}
        read = {Need(action[operation], f"arn:aws:s3:::{params['Bucket']}/{params['Key']}")}
        checksums = params.get("ChecksumMode") == "ENABLED"  # decrypts the object's checksum
        return read | (bucket_key(params["Bucket"], "kms:Decrypt") if checksums else set())
    if (service, operation) == ("s3", "CopyObject"):
        source = params["CopySource"]
        read = "s3:GetObjectVersion" if source.get("VersionId") else "s3:GetObject"
        return {
            Need(read, f"arn:aws:s3:::{source['Bucket']}/{source['Key']}"),
            Need("s3:PutObject", f"arn:aws:s3:::{params['Bucket']}/{params['Key']}"),
            *bucket_key(source["Bucket"], "kms:Decrypt"),
            *bucket_key(params["Bucket"], "kms:GenerateDataKey"),
        }
    if (service, operation) == ("cloudwatch", "PutMetricData"):
        return {Need("cloudwatch:PutMetricData", "*", (("cloudwatch:namespace", params["Namespace"]),))}
    if (service, operation) == ("cloudwatch", "GetMetricStatistics"):
        return {Need("cloudwatch:GetMetricStatistics", "*")}
    if (service, operation) == ("cloudwatch", "PutMetricAlarm"):
        alarm = f"arn:aws:cloudwatch:us-east-1:{ACCOUNT_ID}:alarm:{params['AlarmName']}"
        return {Need("cloudwatch:PutMetricAlarm", alarm)}
    if (service, operation) == ("sns", "Publish"):
        return {Need("sns:Publish", params["TopicArn"])}
    pytest.fail(f"{service}:{operation} is not mapped to an IAM action: add it to this test")


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def condition_holds(condition: dict[str, Any], context: tuple[tuple[str, str], ...]) -> bool:
    values = dict(context)
    for operator, tests in condition.items():
        if operator not in {"StringEquals", "ForAnyValue:StringEquals"}:
            return False  # an operator this test does not model never counts as granting
        for key, allowed in tests.items():
            if values.get(key) not in _listed(allowed):
                return False
    return True


def allows(statements: list[dict[str, Any]], need: Need) -> bool:
    return any(
        statement["Effect"] == "Allow"
        and need.action in _listed(statement["Action"])
        and any(fnmatch.fnmatchcase(need.resource, pattern) for pattern in _listed(statement["Resource"]))
        and condition_holds(statement.get("Condition", {}), need.context)
        for statement in statements
    )


@pytest.fixture(scope="module")
def prod() -> Run:
    return prod_run(preview=True)


@dataclass(frozen=True)
class Grants:
    """What a runtime Lambda may do: its role's ARN and inline statements, and every bucket key's policy."""

    role_arn: str
    statements: list[dict[str, Any]]
    key_policies: dict[str, list[dict[str, Any]]]  # bucket name -> its key's policy statements

    def allows(self, need: Need) -> bool:
        if need.resource.startswith(KEY_OF):
            return any(
                statement["Effect"] == "Allow"
                and statement["Principal"] == {"AWS": self.role_arn}
                and need.action in _listed(statement["Action"])
                for statement in self.key_policies.get(need.resource.removeprefix(KEY_OF), [])
            )
        return allows(self.statements, need)


def key_policies(run: Run) -> dict[str, list[dict[str, Any]]]:
    """Bucket name -> the statements of its default-encryption key's policy, linked the way the engine links them."""
    by_urn = run.by_urn()
    key_policy = {
        urn: json.loads(r.inputs["policy"])["Statement"]
        for r in run.of_type("aws:kms/keyPolicy:KeyPolicy")
        for urn in r.property_dependencies["keyId"]
    }
    sse = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    return {
        str(by_urn[bucket].inputs["bucket"]): key_policy[key]
        for r in run.of_type(sse)
        for bucket in r.property_dependencies["bucket"]
        for key in r.property_dependencies["rules"]
    }


def runtime_function(run: Run, name: str) -> tuple[dict[str, str], Grants, Callable[..., Any]]:
    """(environment, grants, entry point) of the runtime Lambda ``name`` (e.g. ``uploads-rpo-age``).

    The entry point is imported from the ``handler`` path the stack deploys, so a moved module fails here.
    """
    [function] = [r for r in run.of_type("aws:lambda/function:Function") if r.name == name]
    [role] = [r for r in run.of_type("aws:iam/role:Role") if r.urn in function.property_dependencies["role"]]
    [policy] = [r for r in run.of_type("aws:iam/rolePolicy:RolePolicy") if role.urn in r.property_dependencies["role"]]
    module, _, attribute = str(function.inputs["handler"]).rpartition(".")
    entry_point = getattr(importlib.import_module(module), attribute)
    environment = {**function.inputs["environment"]["variables"], "AWS_REGION": function.inputs["region"]}
    role_arn = f"arn:aws:iam::{ACCOUNT_ID}:role/{role.inputs['name']}"
    grants = Grants(role_arn, json.loads(policy.inputs["policy"])["Statement"], key_policies(run))
    return environment, grants, entry_point


def bucket_name(run: Run, name: str) -> str:
    registration: Registration
    [registration] = [r for r in run.of_type("aws:s3/bucket:Bucket") if r.name == name]
    return str(registration.inputs["bucket"])


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str, dict[str, Any]]]]:
    """Every API call any client makes, as (service, operation, params)."""
    recorded: list[tuple[str, str, dict[str, Any]]] = []
    original = BaseClient._make_api_call

    def recording(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        recorded.append((self.meta.service_model.service_name, operation_name, dict(api_params)))
        return original(self, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    aws.cached_client.cache_clear()
    auto_restore._clients.cache_clear()
    yield recorded
    aws.cached_client.cache_clear()
    auto_restore._clients.cache_clear()


@pytest.fixture
def uploads(prod: Run, mock_aws: None) -> tuple[str, str]:
    """The prod ``uploads`` primary and replica on moto: versioned, SSE-KMS, tagged, replicated, one object each."""
    primary, replica = bucket_name(prod, "uploads-primary"), bucket_name(prod, "uploads-replica")
    BUCKET_REGIONS.update({primary: "us-east-1", replica: "us-west-2"})
    for name, region in ((primary, "us-east-1"), (replica, "us-west-2")):
        s3 = boto3.client("s3", region_name=region)
        location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=name, **location)
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        key_id = boto3.client("kms", region_name=region).create_key()["KeyMetadata"]["KeyId"]
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_id}}]
            },
        )
        s3.put_object(Bucket=name, Key="avatars/1.png", Body=b"png", ChecksumAlgorithm="SHA256")
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.put_bucket_tagging(Bucket=primary, Tagging={"TagSet": [{"Key": rpo_age.RPO_TAG_BUCKET, "Value": "15"}]})
    s3.put_bucket_replication(Bucket=primary, ReplicationConfiguration=replication_to(f"arn:aws:s3:::{replica}"))
    s3.put_object(Bucket=primary, Key="avatars/new.png", Body=b"not replicated yet")  # a HEAD for its status
    boto3.client("sns", region_name="us-east-1").create_topic(Name="distronation-prod-dr-alerts")
    return primary, replica


def assert_granted(calls: list[tuple[str, str, dict[str, Any]]], grants: Grants) -> set[str]:
    """Every call's action is allowed on its own resource (and key, and namespace); returns the actions used."""
    required = {need for call in calls for need in needs(*call)}
    assert required, "the handler made no AWS call: the scenario did not exercise it"
    refused = sorted(
        f"{need.action} on {need.resource} {dict(need.context)}" for need in required if not grants.allows(need)
    )
    assert not refused, f"the role does not allow: {refused}"
    return {need.action for need in required}


def run_with_environment(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], handler: Callable[[], Any]
) -> Any:
    for name, value in environment.items():  # AWS_REGION: the function's own, as Lambda sets it
        monkeypatch.setenv(name, value)
    return handler()


def test_replication_audit_role_grants_every_call(
    prod: Run, uploads: tuple[str, str], calls: list[Any], monkeypatch: pytest.MonkeyPatch, lambda_context: Any
) -> None:
    environment, grants, entry_point = runtime_function(prod, "uploads-replication-audit")
    result = run_with_environment(monkeypatch, environment, lambda: entry_point({}, lambda_context))
    assert result["reports"][0]["counts"]["compared"] == 1
    needed = assert_granted(calls, grants)
    assert {"s3:GetEncryptionConfiguration", "kms:Decrypt"} <= needed  # what the role used to lack


def test_rpo_age_role_grants_every_call(
    prod: Run, uploads: tuple[str, str], calls: list[Any], monkeypatch: pytest.MonkeyPatch, lambda_context: Any
) -> None:
    primary, replica = uploads
    # What S3 publishes for the rule, in the destination Region only (moto never publishes it).
    boto3.client("cloudwatch", region_name="us-west-2").put_metric_data(
        Namespace="AWS/S3",
        MetricData=[
            {
                "MetricName": "ReplicationLatency",
                "Dimensions": [
                    {"Name": "SourceBucket", "Value": primary},
                    {"Name": "DestinationBucket", "Value": replica},
                    {"Name": "RuleId", "Value": "all-objects"},
                ],
                "Timestamp": datetime.now(UTC) - timedelta(minutes=2),
                "Value": 12.0,
                "Unit": "Seconds",
            }
        ],
    )
    calls.clear()
    environment, grants, entry_point = runtime_function(prod, "uploads-rpo-age")
    result = run_with_environment(monkeypatch, environment, lambda: entry_point({}, lambda_context))
    assert not result["errors"], result["errors"]
    [bucket] = result["buckets"]
    assert (bucket["metric_region"], bucket["rpo_age_seconds"]) == ("us-west-2", 12.0)
    needed = assert_granted(calls, grants)
    assert {"s3:GetBucketLocation", "cloudwatch:GetMetricStatistics", "cloudwatch:PutMetricData"} <= needed
    assert "cloudwatch:PutMetricAlarm" not in needed, "the RPO alarm is a stack resource"


def test_auto_restore_role_grants_every_call(
    prod: Run,
    uploads: tuple[str, str],
    calls: list[Any],
    monkeypatch: pytest.MonkeyPatch,
    lambda_context: Any,
    load_event: Callable[[str], dict[str, Any]],
) -> None:
    primary, _ = uploads
    s3 = boto3.client("s3", region_name="us-east-1")
    marker = s3.delete_object(Bucket=primary, Key="avatars/1.png")["VersionId"]
    event = copy.deepcopy(load_event("s3_delete_marker_created"))
    record = event["Records"][0]["s3"]
    record["bucket"].update(name=primary, arn=f"arn:aws:s3:::{primary}")
    record["object"].update(key="avatars/1.png", versionId=marker)
    calls.clear()  # only the Lambda's own calls
    environment, grants, entry_point = runtime_function(prod, "uploads-auto-restore")

    result = run_with_environment(monkeypatch, environment, lambda: entry_point(event, lambda_context))

    assert result["outcomes"][0]["result"] == "copied"
    needed = assert_granted(calls, grants)
    assert {"s3:PutObject", "s3:GetObjectVersion", "sns:Publish"} <= needed
