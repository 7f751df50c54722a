"""The bucket policy's upload rules (components/buckets.py ``bucket_policy_statements``): only the bucket's own key.

moto does not evaluate a bucket policy's conditions (it refuses whatever a Deny names; shown below), so the
statements are judged here by a small evaluator of the condition operators they use, against sample request
contexts; and the requests that a drill and its restore actually send on moto (without the policy installed) are
judged the same way, from their real parameters.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from handlers.drills import bucket as drill
from tests.components.harness import Run
from tests.fidelity.stack_runs import update_run

KEY_HEADER = "s3:x-amz-server-side-encryption-aws-kms-key-id"
SSE_HEADER = "s3:x-amz-server-side-encryption"


@pytest.fixture(scope="module")
def prod() -> Run:
    return update_run("prod")  # realistic key ARNs, as after a deploy


def bucket_policy(run: Run, name: str) -> tuple[list[dict[str, Any]], str]:
    """(statements, the bucket key's ARN) of the prod bucket policy ``name``."""
    [policy] = [r for r in run.of_type("aws:s3/bucketPolicy:BucketPolicy") if r.name == name]
    statements = policy.inputs["policy"]["Statement"]
    [deny_other] = [s for s in statements if s["Sid"] == "DenyOtherKmsKeys"]
    return statements, deny_other["Condition"]["StringNotEquals"][KEY_HEADER]


def condition_holds(condition: dict[str, Any], context: dict[str, str]) -> bool:
    """IAM semantics for the operators the statements use (IAM User Guide, "IAM JSON policy elements: Condition
    operators"); an operator this evaluator does not know fails the test instead of guessing."""
    for operator, tests in condition.items():
        for key, expected in tests.items():
            values = expected if isinstance(expected, list) else [expected]
            present = key in context
            if operator in ("StringNotEqualsIfExists", "StringNotEquals"):  # negated: true when the key is absent
                holds = not present or context[key] not in values
            elif operator == "StringEquals":
                holds = present and context[key] in values
            elif operator == "Null":
                holds = (not present) == (values == ["true"])
            elif operator == "Bool":
                holds = present and context[key] in values
            else:
                pytest.fail(f"operator {operator} is not modelled")
            if not holds:
                return False
    return True


def denied_by(statements: list[dict[str, Any]], action: str, context: dict[str, str]) -> list[str]:
    return [
        s["Sid"]
        for s in statements
        if s["Effect"] == "Deny"
        and any(
            fnmatch.fnmatchcase(action, a) for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        )
        and condition_holds(s.get("Condition", {}), context)
    ]


def secure(**headers: str) -> dict[str, str]:
    return {"aws:SecureTransport": "true", **headers}


def test_each_statement_against_sample_requests(prod: Run) -> None:
    statements, key_arn = bucket_policy(prod, "uploads-primary-tls-only")
    assert key_arn.startswith("arn:aws:kms:us-east-1:123456789012:key/")
    other_key = key_arn.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"
    cases: list[tuple[dict[str, str], list[str]]] = [
        (secure(), []),  # no header: the bucket default (its own key) applies
        (secure(**{SSE_HEADER: "aws:kms", KEY_HEADER: key_arn}), []),  # the key named by ARN
        (secure(**{SSE_HEADER: "aws:kms", KEY_HEADER: other_key}), ["DenyOtherKmsKeys"]),
        (secure(**{SSE_HEADER: "aws:kms", KEY_HEADER: key_arn.rsplit("/", 1)[1]}), ["DenyOtherKmsKeys"]),  # bare id
        (secure(**{SSE_HEADER: "aws:kms"}), ["DenyKmsWithoutKeyId"]),  # would use aws/s3
        (secure(**{SSE_HEADER: "aws:kms:dsse"}), ["DenyKmsWithoutKeyId", "DenyOtherEncryptionTypes"]),
        (secure(**{SSE_HEADER: "AES256"}), ["DenyOtherEncryptionTypes"]),  # tier 1 only
        ({"aws:SecureTransport": "false"}, ["DenyInsecureTransport"]),
    ]
    for context, expected in cases:
        assert denied_by(statements, "s3:PutObject", context) == expected, context
    # Replication writes are s3:ReplicateObject: no upload rule touches them, whatever the headers.
    for context, _ in cases[:-1]:
        assert denied_by(statements, "s3:ReplicateObject", context) == []


def test_tier2_buckets_accept_other_encryption_types_but_not_other_keys(prod: Run) -> None:
    statements, _ = bucket_policy(prod, "reporting-primary-tls-only")
    assert denied_by(statements, "s3:PutObject", secure(**{SSE_HEADER: "AES256"})) == []
    assert denied_by(statements, "s3:PutObject", secure(**{SSE_HEADER: "aws:kms"})) == ["DenyKmsWithoutKeyId"]


def test_moto_does_not_evaluate_the_conditions(prod: Run, mock_aws: None) -> None:
    """moto 5.2.5 refuses every request a Deny statement names, whatever its Condition: the compliant upload
    (no encryption header) is refused there too. So the policy cannot be installed on moto for the restore and
    drill below; their real requests are judged by the evaluator instead."""
    statements, _ = bucket_policy(prod, "uploads-primary-tls-only")
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="uploads")
    document = json.dumps({"Version": "2012-10-17", "Statement": statements}).replace(
        "distronation-prod-uploads-us-east-1", "uploads"
    )
    s3.put_bucket_policy(Bucket="uploads", Policy=document)
    assert denied_by(statements, "s3:PutObject", secure()) == [], "AWS accepts this upload"
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket="uploads", Key="k", Body=b"x")
    assert refused.value.response["Error"]["Code"] in {"403", "AccessDenied"}


@pytest.fixture
def s3_writes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every PutObject / CopyObject / CreateMultipartUpload any client sends, with its parameters."""
    recorded: list[tuple[str, dict[str, Any]]] = []
    original = BaseClient._make_api_call

    def recording(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation in {"PutObject", "CopyObject", "CreateMultipartUpload"}:
            recorded.append((operation, dict(params)))
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    yield recorded


def request_context(params: dict[str, Any]) -> dict[str, str]:
    """The condition keys S3 sets from a write's parameters (their request headers)."""
    context = {"aws:SecureTransport": "true"}  # boto3 uses HTTPS against AWS
    if "ServerSideEncryption" in params:
        context[SSE_HEADER] = params["ServerSideEncryption"]
    if "SSEKMSKeyId" in params:
        context[KEY_HEADER] = params["SSEKMSKeyId"]
    return context


def test_a_drill_canary_and_its_restore_copies_pass_the_upload_rules(
    prod: Run, mock_aws: None, s3_writes: list[tuple[str, dict[str, Any]]]
) -> None:
    """run_bucket_drill writes canaries (PutObject) and restores them with restore_bucket (CopyObject)."""
    statements, _ = bucket_policy(prod, "uploads-primary-tls-only")
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="drilled")
    s3.put_bucket_versioning(Bucket="drilled", VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_replication(Bucket="drilled", ReplicationConfiguration=drill.replication_to("arn:aws:s3:::r"))
    s3.create_bucket(Bucket="reports")  # the stack's reports bucket: the restore's lock (dr-locks/drilled.json)

    result = drill.run_bucket_drill(s3, "drilled", canaries=6, declared_rpo_minutes=0, lock_bucket="reports")

    assert result.passed and result.keys_wrong == []
    drilled = [(operation, params) for operation, params in s3_writes if params.get("Bucket") == "drilled"]
    operations = {operation for operation, _ in drilled}
    assert {"PutObject", "CopyObject"} <= operations, "the drill wrote canaries and the restore copied versions"
    assert any(params.get("Bucket") == "reports" for _, params in s3_writes), "the restore took its lock"
    for operation, params in drilled:
        assert denied_by(statements, "s3:PutObject", request_context(params)) == [], (operation, params)
