"""Every AWS call a Tier1Bucket runtime Lambda makes is granted by the role the component gives it.

Each Lambda runs on in-process moto with the environment its ``Function`` declares in the prod stack (Pulumi
mock runtime). Every API call it makes is recorded and mapped to the IAM action(s) that authorise it, and each
action must appear in the role's inline policy. moto enforces no IAM, so this is where a missing grant shows
up before a deploy does. An operation missing from the map fails the test: a handler cannot start calling
something new without its permission being checked. Tier-1 buckets are SSE-KMS, so object reads that decrypt
(copies, HeadObject with checksums) also need the bucket key.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient

from handlers import audit as audit_handler
from handlers import auto_restore, aws, backups
from handlers.drill import replication_to
from tests.components.harness import Registration, Run, run_program, stack_config

BUCKET_KEY_ACTIONS = {"kms:Decrypt", "kms:GenerateDataKey"}
STATIC_ACTIONS: dict[tuple[str, str], set[str]] = {
    ("s3", "ListObjectsV2"): {"s3:ListBucket"},
    ("s3", "ListObjectVersions"): {"s3:ListBucketVersions"},
    ("s3", "GetBucketVersioning"): {"s3:GetBucketVersioning"},
    ("s3", "GetBucketReplication"): {"s3:GetReplicationConfiguration"},
    ("s3", "GetBucketEncryption"): {"s3:GetEncryptionConfiguration"},
    ("s3", "GetBucketLocation"): {"s3:GetBucketLocation"},
    ("s3", "GetBucketTagging"): {"s3:GetBucketTagging"},
    ("cloudwatch", "PutMetricData"): {"cloudwatch:PutMetricData"},
    ("cloudwatch", "GetMetricStatistics"): {"cloudwatch:GetMetricStatistics"},
    ("cloudwatch", "PutMetricAlarm"): {"cloudwatch:PutMetricAlarm"},
    ("sns", "Publish"): {"sns:Publish"},
}


def required_actions(service: str, operation: str, params: dict[str, Any]) -> set[str]:
    if (service, operation) in STATIC_ACTIONS:
        return STATIC_ACTIONS[(service, operation)]
    if (service, operation) == ("s3", "HeadObject"):
        read = {"s3:GetObjectVersion" if params.get("VersionId") else "s3:GetObject"}
        return read | ({"kms:Decrypt"} if params.get("ChecksumMode") == "ENABLED" else set())
    if (service, operation) == ("s3", "GetObjectTagging"):
        return {"s3:GetObjectVersionTagging" if params.get("VersionId") else "s3:GetObjectTagging"}
    if (service, operation) == ("s3", "CopyObject"):
        source = params["CopySource"]
        read = "s3:GetObjectVersion" if isinstance(source, dict) and source.get("VersionId") else "s3:GetObject"
        return {"s3:PutObject", read} | BUCKET_KEY_ACTIONS
    pytest.fail(f"{service}:{operation} is not mapped to an IAM action: add it to this test")


@pytest.fixture(scope="module")
def prod() -> Run:
    return run_program(stack_config("prod"), preview=True)


def runtime_function(run: Run, name: str) -> tuple[dict[str, str], set[str]]:
    """(environment, granted actions) of the runtime Lambda ``name`` (e.g. ``uploads-rpo-age``)."""
    [function] = [r for r in run.of_type("aws:lambda/function:Function") if r.name == name]
    [role] = [r for r in run.of_type("aws:iam/role:Role") if r.urn in function.property_dependencies["role"]]
    [policy] = [r for r in run.of_type("aws:iam/rolePolicy:RolePolicy") if role.urn in r.property_dependencies["role"]]
    statements = json.loads(policy.inputs["policy"])["Statement"]
    granted = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    return dict(function.inputs["environment"]["variables"]), granted


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
    s3.put_bucket_tagging(Bucket=primary, Tagging={"TagSet": [{"Key": backups.RPO_TAG_BUCKET, "Value": "15"}]})
    s3.put_bucket_replication(Bucket=primary, ReplicationConfiguration=replication_to(f"arn:aws:s3:::{replica}"))
    s3.put_object(Bucket=primary, Key="avatars/new.png", Body=b"not replicated yet")  # a HEAD for its status
    boto3.client("sns", region_name="us-east-1").create_topic(Name="distronation-prod-dr-alerts")
    return primary, replica


def assert_granted(calls: list[tuple[str, str, dict[str, Any]]], granted: set[str]) -> set[str]:
    needed = {action for call in calls for action in required_actions(*call)}
    assert needed, "the handler made no AWS call: the scenario did not exercise it"
    assert needed <= granted, f"the role lacks {sorted(needed - granted)}"
    return needed


def run_with_environment(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], handler: Callable[[], Any]
) -> Any:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    return handler()


def test_replication_audit_role_grants_every_call(
    prod: Run, uploads: tuple[str, str], calls: list[Any], monkeypatch: pytest.MonkeyPatch, lambda_context: Any
) -> None:
    environment, granted = runtime_function(prod, "uploads-replication-audit")
    result = run_with_environment(monkeypatch, environment, lambda: audit_handler.lambda_handler({}, lambda_context))
    assert result["reports"][0]["counts"]["compared"] == 1
    needed = assert_granted(calls, granted)
    assert {"s3:GetEncryptionConfiguration", "kms:Decrypt"} <= needed  # what the role used to lack


def test_rpo_age_role_grants_every_call(
    prod: Run, uploads: tuple[str, str], calls: list[Any], monkeypatch: pytest.MonkeyPatch, lambda_context: Any
) -> None:
    environment, granted = runtime_function(prod, "uploads-rpo-age")
    result = run_with_environment(monkeypatch, environment, lambda: backups.lambda_handler({}, lambda_context))
    assert not result["errors"], result["errors"]
    needed = assert_granted(calls, granted)
    assert {"s3:GetBucketLocation", "cloudwatch:PutMetricAlarm"} <= needed


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
    environment, granted = runtime_function(prod, "uploads-auto-restore")

    result = run_with_environment(monkeypatch, environment, lambda: auto_restore.lambda_handler(event, lambda_context))

    assert result["outcomes"][0]["result"] == "copied"
    needed = assert_granted(calls, granted)
    assert {"s3:PutObject", "s3:GetObjectVersion", "sns:Publish"} <= needed
