"""``same_object`` is the only safeguard against skipping a needed copy on SSE-KMS and multipart objects (their
ETags are not MD5s), so these cases pin each of its comparisons: same size but different content, different
metadata, different Content-Type. They kill the mutants that survived mutation testing (``make mutation``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from handlers.s3.plan import Version
from handlers.s3.restore import RESTORED_FROM_METADATA, content_identities, same_object

BUCKET = "same-object"
PART = 5 * 1024 * 1024  # S3's minimum part size


@pytest.fixture
def s3(moto_endpoint: str) -> Any:
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return client


def _version(key: str, version_id: str, size: int) -> Version:
    return Version(key, version_id, datetime.now(UTC), False, False, size=size)


def put_kms(s3: Any, key: str, body: bytes, **extra: Any) -> Version:
    response = s3.put_object(
        Bucket=BUCKET, Key=key, Body=body, ServerSideEncryption="aws:kms", ChecksumAlgorithm="SHA256", **extra
    )
    return _version(key, response["VersionId"], len(body))


def put_multipart(s3: Any, key: str, fill: bytes, **extra: Any) -> Version:
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key, **extra)
    parts = []
    for number in (1, 2):
        part = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload["UploadId"], PartNumber=number, Body=fill * PART)
        parts.append({"PartNumber": number, "ETag": part["ETag"]})
    done = s3.complete_multipart_upload(
        Bucket=BUCKET, Key=key, UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
    )
    return _version(key, done["VersionId"], 2 * PART)


def test_kms_same_size_different_content_is_not_the_same(s3: Any) -> None:
    wanted = put_kms(s3, "k", b"A" * 64)
    current = put_kms(s3, "k", b"B" * 64)
    assert "MD5" not in content_identities(s3.head_object(Bucket=BUCKET, Key="k", ChecksumMode="ENABLED"))
    assert same_object(s3, BUCKET, current, wanted) is False


def test_kms_same_content_and_metadata_is_the_same(s3: Any) -> None:
    wanted = put_kms(s3, "k", b"A" * 64, Metadata={"owner": "x"}, ContentType="audio/mpeg")
    current = put_kms(s3, "k", b"A" * 64, Metadata={"owner": "x"}, ContentType="audio/mpeg")
    assert same_object(s3, BUCKET, current, wanted) is True


def test_kms_different_metadata_is_not_the_same(s3: Any) -> None:
    wanted = put_kms(s3, "k", b"A" * 64, Metadata={"owner": "x"})
    current = put_kms(s3, "k", b"A" * 64, Metadata={"owner": "y"})
    assert same_object(s3, BUCKET, current, wanted) is False


def test_kms_different_content_type_is_not_the_same(s3: Any) -> None:
    wanted = put_kms(s3, "k", b"A" * 64, ContentType="audio/mpeg")
    current = put_kms(s3, "k", b"A" * 64, ContentType="text/plain")
    assert same_object(s3, BUCKET, current, wanted) is False


def test_multipart_same_size_different_content_is_not_the_same(s3: Any) -> None:
    wanted = put_multipart(s3, "m", b"a")
    current = put_multipart(s3, "m", b"b")
    head = s3.head_object(Bucket=BUCKET, Key="m")
    assert "-" in head["ETag"] and content_identities(head) == {}  # nothing proves equal content
    assert same_object(s3, BUCKET, current, wanted) is False


def test_multipart_recorded_copy_is_the_same_unless_metadata_or_type_differ(s3: Any) -> None:
    wanted = put_multipart(s3, "m", b"a", ContentType="video/mp4", Metadata={"owner": "x"})
    probe = put_multipart(s3, "m", b"a", ContentType="video/mp4", Metadata={"owner": "x"})
    # Different content, but recorded as a copy of ``wanted``: the provenance decides.
    copy = put_multipart(
        s3, "m", b"a", ContentType="video/mp4", Metadata={"owner": "x", RESTORED_FROM_METADATA: wanted.version_id}
    )
    assert same_object(s3, BUCKET, copy, wanted) is True
    assert same_object(s3, BUCKET, probe, wanted) is False  # no provenance, no checksum: not proven
    wrong_type = put_multipart(
        s3, "m", b"a", ContentType="text/plain", Metadata={"owner": "x", RESTORED_FROM_METADATA: wanted.version_id}
    )
    assert same_object(s3, BUCKET, wrong_type, wanted) is False
    wrong_metadata = put_multipart(
        s3, "m", b"a", ContentType="video/mp4", Metadata={"owner": "z", RESTORED_FROM_METADATA: wanted.version_id}
    )
    assert same_object(s3, BUCKET, wrong_metadata, wanted) is False


def test_content_identities_take_an_etag_only_where_it_is_an_md5() -> None:
    plain = {"ETag": '"abc"'}
    assert content_identities(plain) == {"MD5": '"abc"'}
    assert content_identities({"ETag": '"abc-2"'}) == {}
    assert content_identities({"ETag": '"abc"', "ServerSideEncryption": "aws:kms"}) == {}
    assert content_identities({"ETag": '"abc"', "ServerSideEncryption": "aws:kms:dsse"}) == {}
    assert content_identities({"ETag": '"abc"', "SSECustomerAlgorithm": "AES256"}) == {}
    assert content_identities({"ETag": '"abc"', "ServerSideEncryption": "AES256"}) == {"MD5": '"abc"'}
    assert content_identities({"ETag": "", "ChecksumSHA256": "s"}) == {"ChecksumSHA256": "s"}
    assert content_identities({"ChecksumCRC32": "c", "ChecksumSHA1": ""}) == {"ChecksumCRC32": "c"}
