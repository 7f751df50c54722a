"""Replication audit on moto.

moto stores a replication configuration but never replicates, so every test writes the replica side
itself. moto also never returns ``ReplicationStatus`` on HeadObject; the tests inject it (and, for the
RTC window, ``LastModified``) into the parsed HeadObject response with a botocore ``after-call`` hook,
which is exactly where S3's real answer would arrive.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from typer.testing import CliRunner

import handlers.cli.s3  # noqa: F401  (registers the commands on the app)
from handlers.aws import cached_client
from handlers.cli import app
from handlers.drills.bucket import replication_to
from handlers.metrics import NAMESPACE
from handlers.s3 import audit
from handlers.s3.audit import AuditTarget, ListedObject, audit_replication, merge_listings

PRIMARY, REPLICA = "audio-primary", "audio-replica"


def _listed(*keys: str) -> Iterator[ListedObject]:
    return iter([ListedObject(key, 1, '"e"', ()) for key in keys])


def test_merge_pairs_keys_from_two_sorted_streams() -> None:
    pairs = merge_listings(_listed("a", "c", "d", "é"), _listed("b", "c", "é", "z"))
    assert [(p and p.key, r and r.key) for p, r in pairs] == [
        ("a", None),
        (None, "b"),
        ("c", "c"),
        ("d", None),
        ("é", "é"),
        (None, "z"),
    ]


def make_buckets(s3: Any, *, replicated: bool = False) -> None:
    for bucket in (PRIMARY, REPLICA):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    if replicated:
        s3.put_bucket_replication(
            Bucket=PRIMARY,
            ReplicationConfiguration=replication_to(f"arn:aws:s3:::{REPLICA}", rule_id="all"),
        )


def put(s3: Any, bucket: str, key: str, body: bytes, checksum: bool = True) -> None:
    if checksum:
        s3.put_object(Bucket=bucket, Key=key, Body=body, ChecksumAlgorithm="SHA256")
        return
    # Recent SDKs add a CRC32 checksum to every upload by default; an older writer added none.
    legacy = boto3.client("s3", region_name="us-east-1", config=Config(request_checksum_calculation="when_required"))
    legacy.put_object(Bucket=bucket, Key=key, Body=body)


def replicate(s3: Any, key: str, body: bytes, checksum: bool = True) -> None:
    """What S3 replication would have done (moto never does)."""
    put(s3, PRIMARY, key, body, checksum)
    put(s3, REPLICA, key, body, checksum)


def encrypt_replica_with_kms(s3: Any) -> None:
    """As on tier 1: the replica uses its own region's KMS key, so its ETags are not MD5s."""
    s3.put_bucket_encryption(
        Bucket=REPLICA,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
        },
    )


def inject_replication_status(s3: Any, statuses: dict[str, tuple[str, datetime]]) -> None:
    """Add ReplicationStatus/LastModified to HeadObject answers for the given keys on the primary."""

    def before_head(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["audit_key"] = (params.get("Bucket"), params.get("Key"))  # the response lacks both

    def after(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        bucket, key = context.get("audit_key", (None, None))
        if bucket == PRIMARY and key in statuses:
            parsed["ReplicationStatus"], parsed["LastModified"] = statuses[key]

    s3.meta.events.register("before-parameter-build.s3.HeadObject", before_head)
    s3.meta.events.register("after-call.s3.HeadObject", after)


def test_audit_reports_every_kind_of_divergence(mock_aws: None) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    make_buckets(s3)
    replicate(s3, "same.txt", b"same bytes")
    replicate(s3, "ünïcode key with spaces.txt", b"unicode")
    replicate(s3, "no-checksum.txt", b"plain", checksum=False)
    put(s3, PRIMARY, "missing.txt", b"never replicated")
    put(s3, REPLICA, "extra.txt", b"only on the replica")
    put(s3, PRIMARY, "corrupt.bin", b"AAAA")
    put(s3, REPLICA, "corrupt.bin", b"AAAB")  # same size: only the checksum can tell
    put(s3, PRIMARY, "stale.txt", b"version 2, longer")
    put(s3, REPLICA, "stale.txt", b"version 1")
    put(s3, PRIMARY, "slow.txt", b"pending too long")
    put(s3, PRIMARY, "fresh.txt", b"pending within the window")
    now = datetime.now(UTC)
    inject_replication_status(
        s3,
        {
            "stale.txt": ("FAILED", now - timedelta(hours=1)),
            "slow.txt": ("PENDING", now - timedelta(minutes=30)),
            "fresh.txt": ("PENDING", now - timedelta(minutes=1)),
        },
    )

    report = audit_replication(s3, s3, AuditTarget(PRIMARY, REPLICA, page_size=2), now=now)

    assert report["findings"] == {
        "missing": ["missing.txt"],
        "extra": ["extra.txt"],
        "content_mismatch": ["corrupt.bin"],
        "replication_failed": ["stale.txt"],
        "replication_pending_overdue": ["slow.txt"],
        "replication_pending": ["fresh.txt"],
        "changed_during_audit": [],
    }
    assert report["counts"]["compared"] == 5 and report["counts"]["in_sync"] == 3
    assert report["mismatches"] == 5 and report["ok"] is False
    # SHA-256 decided the checksummed pairs; the one without checksums fell back to ETags (both SSE-S3).
    assert report["verified_by"] == {"checksum_sha256": 3, "size": 1, "etag": 1}
    assert report["etags_compared"] is True


def test_a_key_deleted_between_listing_and_head_does_not_abort_the_audit(mock_aws: None) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    make_buckets(s3)
    replicate(s3, "stays.txt", b"stays")
    replicate(s3, "goes.txt", b"goes")
    writer = boto3.client("s3", region_name="us-east-1")  # another client: its deletes skip the hook below

    def delete_first(params: dict[str, Any], **_: Any) -> None:
        # The listing is done; an application deletes the key on both sides before the audit's HEAD.
        if params.get("Key") == "goes.txt":
            for bucket in (PRIMARY, REPLICA):
                writer.delete_object(Bucket=bucket, Key="goes.txt")

    s3.meta.events.register("before-parameter-build.s3.HeadObject", delete_first)

    report = audit_replication(s3, s3, AuditTarget(PRIMARY, REPLICA))

    assert report["findings"]["changed_during_audit"] == ["goes.txt"]
    assert report["counts"]["in_sync"] == 1 and report["counts"]["changed_during_audit"] == 1
    assert report["ok"] is True  # a deletion is not a replication mismatch


def test_other_head_errors_still_fail_the_audit(mock_aws: None) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    make_buckets(s3)
    replicate(s3, "a.txt", b"a")

    def deny(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no s3:GetObject"}}, "HeadObject")

    s3.meta.events.register("before-call.s3.HeadObject", deny)

    with pytest.raises(ClientError, match="AccessDenied"):
        audit_replication(s3, s3, AuditTarget(PRIMARY, REPLICA))


def test_etags_are_not_compared_under_sse_kms(mock_aws: None) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    make_buckets(s3)
    encrypt_replica_with_kms(s3)
    put(s3, PRIMARY, "doc.txt", b"same", checksum=False)
    put(s3, REPLICA, "doc.txt", b"same", checksum=False)

    report = audit_replication(s3, s3, AuditTarget(PRIMARY, REPLICA))

    assert report["etags_compared"] is False
    assert report["encryption"] == {"primary": "AES256", "replica": "aws:kms"}
    assert report["verified_by"] == {"size_only": 1} and report["ok"] is True


def test_a_clean_replica_passes_and_the_prefix_limits_the_audit(mock_aws: None) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    make_buckets(s3)
    replicate(s3, "audio/a.wav", b"a")
    replicate(s3, "audio/b.wav", b"b")
    put(s3, PRIMARY, "tmp/unreplicated", b"outside the prefix")

    report = audit_replication(s3, s3, AuditTarget(PRIMARY, REPLICA, prefix="audio/"))

    assert report["ok"] is True and report["counts"]["compared"] == 2 and report["mismatches"] == 0


# ---------------------------------------------------------------- drctl and the Lambda on a moto server


@pytest.mark.slow
def test_drctl_audit_replication_finds_the_replica_and_exits_1_on_mismatch(moto_endpoint: str) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    make_buckets(s3, replicated=True)
    replicate(s3, "a.txt", b"a")
    put(s3, PRIMARY, "lost.txt", b"lost")

    result = CliRunner().invoke(app, ["audit-replication", "--bucket", PRIMARY, "--json"])

    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["replica_bucket"] == REPLICA and report["findings"]["missing"] == ["lost.txt"]
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    metrics = cloudwatch.list_metrics(Namespace=NAMESPACE, MetricName="AuditMissing")["Metrics"]
    assert {"Name": "Bucket", "Value": PRIMARY} in metrics[0]["Dimensions"]

    put(s3, REPLICA, "lost.txt", b"lost")
    clean = CliRunner().invoke(app, ["audit-replication", "--bucket", PRIMARY, "--json"])
    assert clean.exit_code == 0 and json.loads(clean.stdout)["ok"] is True


@pytest.mark.slow
def test_drctl_audit_replication_without_replication_config_is_a_usage_error(moto_endpoint: str) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    make_buckets(s3)
    result = CliRunner().invoke(app, ["audit-replication", "--bucket", PRIMARY, "--json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["exit_code"] == 2  # --json: the error is the one object on stdout


@pytest.mark.slow
def test_scheduled_audit_lambda(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, lambda_context: Any) -> None:
    cached_client.cache_clear()  # clients from another test may point at a mock that is gone
    s3 = boto3.client("s3", region_name="us-east-1")
    make_buckets(s3, replicated=True)
    replicate(s3, "a.txt", b"a")
    put(s3, REPLICA, "orphan.txt", b"orphan")
    monkeypatch.setenv("AUDIT_BUCKETS", PRIMARY)

    result = audit.lambda_handler({}, lambda_context)

    assert result["ok"] is False and result["mismatches"] == 1
    assert result["reports"][0]["findings"]["extra"] == ["orphan.txt"]


def test_a_size_only_pair_still_reports_failed_replication(mock_aws: None) -> None:
    """Under SSE-KMS without checksums only sizes compare, and equal sizes prove nothing: a FAILED
    replication of a same-size overwrite must still be reported (the replication status is the evidence)."""
    s3 = boto3.client("s3", region_name="us-east-1")
    make_buckets(s3)
    encrypt_replica_with_kms(s3)
    put(s3, PRIMARY, "rewritten.txt", b"new!", checksum=False)
    put(s3, REPLICA, "rewritten.txt", b"old.", checksum=False)
    now = datetime.now(UTC)
    inject_replication_status(s3, {"rewritten.txt": ("FAILED", now - timedelta(hours=1))})

    report = audit_replication(s3, s3, AuditTarget(PRIMARY, REPLICA), now=now)

    assert {kind: keys for kind, keys in report["findings"].items() if keys} == {
        "replication_failed": ["rewritten.txt"]
    }
    assert report["verified_by"] == {"size_only": 1} and report["ok"] is False
