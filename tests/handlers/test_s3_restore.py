"""Point-in-time bucket restore (``handlers.s3.restore``) against moto.

Emulated: moto stores object versions, delete markers and object lock for real; it does not model MFA
delete (GetBucketVersioning is answered by an event hook where a test needs it) and never replicates
(a stored replication configuration is enough for the restore to choose the copy path).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from hashlib import md5
from typing import Any

import boto3
import pytest

from handlers import aws
from handlers.s3.restore import (
    RESTORE_MAX_ATTEMPTS,
    RESTORED_FROM_METADATA,
    Action,
    CopySettings,
    KeyHistory,
    RestoreOptions,
    Version,
    content_identities,
    copy_version,
    delete_objects,
    iter_key_histories,
    plan_make_current,
    restore_bucket,
    version_at,
)
from tests.handlers.s3_scenario import (
    MECHANICS,
    CallRecorder,
    FaultInjector,
    all_entries,
    current_contents,
    current_md5s,
    data_versions,
    delete_marker_ids,
    moto_delete,
    moto_put,
    point_in_time,
    replicate,
    report_mfa_delete_enabled,
    restore_archived_versions_in_moto,
    versioned_bucket,
)

BUCKET = "restore-tests"
UNUSUAL_KEYS = ("with space/a b.txt", "unicode/café ünïcødé.txt", "music/🎵 track+1&2=3.mp3")


# --------------------------------------------------------------------------------------------------
# Planning (pure)
# --------------------------------------------------------------------------------------------------
T = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _v(version_id: str, minutes: int, *, marker: bool = False, latest: bool = False) -> Version:
    return Version("k", version_id, T + timedelta(minutes=minutes), latest, marker, 10, "STANDARD", "e")


def _history(*entries: Version) -> KeyHistory:
    return KeyHistory("k", entries)


def test_stacked_markers_above_the_version_at_t_are_all_removed() -> None:
    history = _history(
        _v("m3", 3, marker=True, latest=True), _v("m2", 2, marker=True), _v("m1", 1, marker=True), _v("a", -1)
    )
    plan = plan_make_current(history, version_at(history, T), undelete_allowed=True, delete_unwanted=False)
    assert (plan.action, plan.markers) == (Action.UNDELETE, ("m3", "m2", "m1"))
    copy = plan_make_current(history, version_at(history, T), undelete_allowed=False, delete_unwanted=False)
    assert (copy.action, copy.version) == (Action.COPY, history.entries[-1])


def test_a_data_version_above_forces_a_copy_even_where_undelete_is_allowed() -> None:
    history = _history(_v("m2", 3, marker=True, latest=True), _v("b", 2), _v("m1", 1, marker=True), _v("a", -1))
    plan = plan_make_current(history, version_at(history, T), undelete_allowed=True, delete_unwanted=False)
    assert plan.action is Action.COPY and plan.version is not None and plan.version.version_id == "a"


def test_keys_absent_at_t_are_left_or_plainly_deleted() -> None:
    created_after = _history(_v("b", 2, latest=True))
    deleted_before = _history(_v("b", 2, latest=True), _v("m", -1, marker=True), _v("a", -2))
    for history in (created_after, deleted_before):
        wanted = version_at(history, T)
        assert plan_make_current(history, wanted, undelete_allowed=True, delete_unwanted=False).action is Action.SKIP
        assert plan_make_current(history, wanted, undelete_allowed=True, delete_unwanted=True).action is Action.DELETE
    still_deleted = _history(_v("m", 2, marker=True, latest=True), _v("b", 1))
    plan = plan_make_current(still_deleted, None, undelete_allowed=True, delete_unwanted=True)
    assert plan.action is Action.SKIP


def test_the_current_version_needs_no_request() -> None:
    history = _history(_v("a", -1, latest=True), _v("old", -5))
    assert plan_make_current(history, version_at(history, T), undelete_allowed=True, delete_unwanted=True).action is (
        Action.SKIP
    )


class _FlakyDeletes:
    """A client whose DeleteObjects reports per-key errors (inside a 200 response) on the first call."""

    def __init__(self) -> None:
        self.calls: list[list[dict[str, str]]] = []

    def delete_objects(self, Bucket: str, Delete: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(Delete["Objects"])
        if len(self.calls) > 1:
            return {}
        return {
            "Errors": [
                {"Key": "a", "VersionId": "m1", "Code": "InternalError"},
                {"Key": "b", "VersionId": "m2", "Code": "AccessDenied"},
            ]
        }


def test_per_key_delete_errors_are_retried_only_when_retryable() -> None:
    client = _FlakyDeletes()
    objects = [{"Key": k, "VersionId": v} for k, v in (("a", "m1"), ("b", "m2"), ("c", "m3"))]

    errors = delete_objects(client, BUCKET, objects)

    assert client.calls == [objects, [{"Key": "a", "VersionId": "m1"}]]
    assert [(e["Key"], e["Code"]) for e in errors] == [("b", "AccessDenied")]


# --------------------------------------------------------------------------------------------------
# Listing
# --------------------------------------------------------------------------------------------------
def test_a_key_whose_versions_span_pages_is_yielded_once_newest_first(mock_aws: None) -> None:
    s3 = boto3.client("s3")
    versioned_bucket(s3, BUCKET)
    for body in (b"1", b"2", b"3", b"4"):
        s3.put_object(Bucket=BUCKET, Key="b", Body=body)
    s3.delete_object(Bucket=BUCKET, Key="b")
    s3.put_object(Bucket=BUCKET, Key="a", Body=b"a")
    s3.put_object(Bucket=BUCKET, Key="c", Body=b"c")

    histories = list(iter_key_histories(s3, BUCKET, page_size=2))

    assert [h.key for h in histories] == ["a", "b", "c"]
    b = histories[1]
    assert len(b.entries) == 5 and b.entries[0].is_delete_marker and b.current is b.entries[0]
    bodies = [s3.get_object(Bucket=BUCKET, Key="b", VersionId=v.version_id)["Body"].read() for v in b.entries[1:]]
    assert bodies == [b"4", b"3", b"2", b"1"]


# --------------------------------------------------------------------------------------------------
# Restores
# --------------------------------------------------------------------------------------------------
def _put(s3: Any, key: str, body: bytes, **extra: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body, **extra)


def mixed_history(s3: Any, bucket: str = BUCKET, bulk: int = 0) -> tuple[datetime, dict[str, bytes]]:
    """Every case at once; returns T and the contents expected after restoring to T.

    ``bulk`` plain keys (half overwritten, a quarter deleted) are seeded through moto's backend.
    """
    expected: dict[str, bytes] = {}

    def before() -> None:
        names = (*UNUSUAL_KEYS, "overwritten", "stacked", "deleted-then-rewritten", "untouched", "gone-before-t")
        expected.update({name: f"old {name}".encode() for name in names})
        expected.update({f"bulk/{i:04d}": f"old {i}".encode() for i in range(bulk)})
        for key, body in expected.items():
            if not key.startswith("bulk/"):
                s3.put_object(Bucket=bucket, Key=key, Body=body)
        moto_put(bucket, {k: v for k, v in expected.items() if k.startswith("bulk/")})
        s3.delete_object(Bucket=bucket, Key="gone-before-t")
        del expected["gone-before-t"]

    def after() -> None:
        s3.put_object(Bucket=bucket, Key=UNUSUAL_KEYS[0], Body=b"new")
        s3.delete_object(Bucket=bucket, Key=UNUSUAL_KEYS[1])
        s3.put_object(Bucket=bucket, Key=UNUSUAL_KEYS[2], Body=b"new")
        s3.delete_object(Bucket=bucket, Key=UNUSUAL_KEYS[2])
        s3.put_object(Bucket=bucket, Key="overwritten", Body=b"new")
        for _ in range(3):
            s3.delete_object(Bucket=bucket, Key="stacked")
        s3.delete_object(Bucket=bucket, Key="deleted-then-rewritten")
        s3.put_object(Bucket=bucket, Key="deleted-then-rewritten", Body=b"new")
        s3.delete_object(Bucket=bucket, Key="deleted-then-rewritten")
        s3.put_object(Bucket=bucket, Key="created-after-t", Body=b"new")
        s3.put_object(Bucket=bucket, Key="gone-before-t", Body=b"new")
        moto_put(bucket, {f"bulk/{i:04d}": b"new" for i in range(0, bulk, 2)})
        moto_delete(bucket, [f"bulk/{i:04d}" for i in range(1, bulk, 4)])

    return point_in_time(before, after), expected


@pytest.mark.slow
def test_restore_over_a_thousand_versions_brings_back_every_key(mock_aws: None) -> None:
    s3 = aws.client("s3", max_pool_connections=8)
    versioned_bucket(s3, BUCKET)
    at, expected = mixed_history(s3, bulk=620)
    markers = delete_marker_ids(s3, BUCKET)
    recorder = CallRecorder().attach(s3)

    summary = restore_bucket(s3, RestoreOptions(**MECHANICS, bucket=BUCKET, at=at, workers=8))
    calls = list(recorder.calls)

    created_after = {"created-after-t": b"new", "gone-before-t": b"new"}  # left, without the flag
    # Verified by MD5 ETags of the known bodies (plain single-part uploads) to keep the test fast.
    assert current_md5s(s3, BUCKET) == {k: md5(v).hexdigest() for k, v in (expected | created_after).items()}
    assert summary["failed"] == 0 and summary["keys_scanned"] == len(expected) + 2
    assert summary["versions_scanned"] > 1000  # more than one ListObjectVersions page
    # Only delete markers are named in deletes, never a data version.
    assert {o["VersionId"] for o in recorder.versioned_deletes()} <= markers
    listings = [c for c in calls if c.operation == "ListObjectVersions"]
    assert len(listings) == 2
    # "stacked" (3 markers), one unusual key, and a quarter of the bulk keys: in one batch.
    assert summary["undeleted"] == 2 + len(range(1, 620, 4))
    assert len([c for c in calls if c.operation == "DeleteObjects"]) == 1
    # Every request is counted: the recorder sees calls, the counter sees HTTP sends (no retries here).
    assert summary["requests"] == len(calls)


def test_delete_created_after_only_adds_delete_markers(mock_aws: None) -> None:
    s3 = boto3.client("s3")
    versioned_bucket(s3, BUCKET)
    at, expected = mixed_history(s3)
    kept = data_versions(s3, BUCKET)
    recorder = CallRecorder().attach(s3)

    summary = restore_bucket(s3, RestoreOptions(**MECHANICS, bucket=BUCKET, at=at, delete_created_after=True))

    assert current_contents(s3, BUCKET) == expected
    assert summary["deleted"] == 2 and kept <= data_versions(s3, BUCKET)
    plain = [c for c in recorder.calls if c.operation == "DeleteObjects"]
    assert any(all("VersionId" not in o for o in c.params["Delete"]["Objects"]) for c in plain)


def test_dry_run_changes_nothing_and_reports_the_plan(mock_aws: None) -> None:
    s3 = boto3.client("s3")
    versioned_bucket(s3, BUCKET)
    at, _ = mixed_history(s3)
    before = all_entries(s3, BUCKET)
    recorder = CallRecorder().attach(s3)

    summary = restore_bucket(
        s3, RestoreOptions(**MECHANICS, bucket=BUCKET, at=at, dry_run=True, delete_created_after=True)
    )

    assert all_entries(s3, BUCKET) == before and recorder.writes() == []
    assert (summary["undeleted"], summary["copied"], summary["deleted"]) == (2, 4, 2)


def test_second_run_issues_no_writes(mock_aws: None) -> None:
    s3 = boto3.client("s3")
    versioned_bucket(s3, BUCKET)
    at, expected = mixed_history(s3)
    first = restore_bucket(s3, RestoreOptions(**MECHANICS, bucket=BUCKET, at=at, delete_created_after=True))
    recorder = CallRecorder().attach(s3)

    second = restore_bucket(s3, RestoreOptions(**MECHANICS, bucket=BUCKET, at=at, delete_created_after=True))

    assert first["copied"] == 4 and first["undeleted"] == 2
    assert recorder.writes() == []
    assert (second["copied"], second["undeleted"], second["deleted"]) == (0, 0, 0)
    assert second["skipped"] == second["keys_scanned"]
    assert current_contents(s3, BUCKET) == expected


def test_copy_keeps_metadata_tags_and_storage_class(mock_aws: None) -> None:
    s3 = boto3.client("s3")
    versioned_bucket(s3, BUCKET)
    attributes = {"ContentType": "audio/mpeg", "Metadata": {"artist": "x"}, "StorageClass": "STANDARD_IA"}
    at = point_in_time(
        lambda: _put(s3, "song.mp3", b"old", Tagging="genre=jazz&tier=1", **attributes),
        lambda: _put(s3, "song.mp3", b"new", ContentType="text/plain"),
    )

    summary = restore_bucket(s3, RestoreOptions(**MECHANICS, bucket=BUCKET, at=at))

    head = s3.head_object(Bucket=BUCKET, Key="song.mp3")
    assert summary["copied"] == 1 and s3.get_object(Bucket=BUCKET, Key="song.mp3")["Body"].read() == b"old"
    assert (head["ContentType"], head["Metadata"], head.get("StorageClass")) == (
        "audio/mpeg",
        {"artist": "x"},
        "STANDARD_IA",
    )
    tags = s3.get_object_tagging(Bucket=BUCKET, Key="song.mp3")["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("genre", "jazz"), ("tier", "1")]


def test_copy_asks_for_the_source_checksum_algorithm(mock_aws: None) -> None:
    """moto's listing omits ChecksumAlgorithm (S3 includes it), so the version is built by hand."""
    s3 = boto3.client("s3")
    versioned_bucket(s3, BUCKET)
    put = s3.put_object(Bucket=BUCKET, Key="k", Body=b"old", ChecksumAlgorithm="SHA256")
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"new")
    version = Version("k", put["VersionId"], T, False, False, 3, "STANDARD", "", checksum_algorithm="SHA256")

    copy_version(s3, BUCKET, version, BUCKET, "k")

    head = s3.head_object(Bucket=BUCKET, Key="k", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == put["ChecksumSHA256"]


def test_multipart_copy_above_the_threshold_supplies_metadata_and_tags(mock_aws: None) -> None:
    s3 = boto3.client("s3")
    versioned_bucket(s3, BUCKET)
    body = bytes(range(256)) * (6 * 4096)  # 6 MiB: two parts of at least 5 MiB and the rest
    at = point_in_time(
        lambda: _put(s3, "big.bin", body, ContentType="application/x-big", Metadata={"m": "1"}, Tagging="t=v"),
        lambda: _put(s3, "big.bin", b"small"),
    )
    recorder = CallRecorder().attach(s3)
    settings = CopySettings(multipart_threshold=1024 * 1024, part_size=5 * 1024 * 1024)

    summary = restore_bucket(s3, RestoreOptions(**MECHANICS, bucket=BUCKET, at=at, copy=settings))

    assert summary["copied"] == 1 and summary["bytes_copied"] == len(body)
    assert [c.operation for c in recorder.calls].count("UploadPartCopy") == 2
    head = s3.head_object(Bucket=BUCKET, Key="big.bin")
    source_version = version_at(next(iter_key_histories(s3, BUCKET)), at)
    assert source_version is not None
    assert (head["ContentLength"], head["ContentType"], head["Metadata"]) == (
        len(body),
        "application/x-big",
        {"m": "1", RESTORED_FROM_METADATA: source_version.version_id},  # how a re-run recognises the copy
    )
    assert s3.get_object(Bucket=BUCKET, Key="big.bin")["Body"].read() == body
    assert s3.get_object_tagging(Bucket=BUCKET, Key="big.bin")["TagSet"] == [{"Key": "t", "Value": "v"}]

    again = restore_bucket(s3, RestoreOptions(**MECHANICS, bucket=BUCKET, at=at, copy=settings))
    assert (again["copied"], again["skipped"]) == (0, 1)  # a second run writes nothing


def test_compliance_locked_versions_survive_and_keys_come_back(mock_aws: None) -> None:
    s3 = boto3.client("s3")
    versioned_bucket(s3, BUCKET, object_lock=True)
    s3.put_object_lock_configuration(
        Bucket=BUCKET,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}},
        },
    )
    at, expected = mixed_history(s3)
    kept = data_versions(s3, BUCKET)
    recorder = CallRecorder().attach(s3)
    aws.send_md5_on_copies(s3)  # what handlers.aws.client() does for every S3 client

    summary = restore_bucket(s3, RestoreOptions(**MECHANICS, bucket=BUCKET, at=at, delete_created_after=True))

    assert summary["failed"] == 0 and current_contents(s3, BUCKET) == expected
    assert kept <= data_versions(s3, BUCKET)
    assert not any("BypassGovernanceRetention" in c.params for c in recorder.calls)
    restored = s3.head_object(Bucket=BUCKET, Key="overwritten")
    assert restored["ObjectLockMode"] == "COMPLIANCE"  # the copy takes the bucket's default retention


def _assert_copy_only_restore(s3: Any, at: datetime, expected: dict[str, bytes], **options: Any) -> dict[str, Any]:
    markers = delete_marker_ids(s3, BUCKET)
    recorder = CallRecorder().attach(s3)
    summary = restore_bucket(s3, RestoreOptions(**MECHANICS, bucket=BUCKET, at=at, **options))
    assert recorder.versioned_deletes() == []
    assert markers <= delete_marker_ids(s3, BUCKET)
    assert current_contents(s3, BUCKET, "") == expected | {"created-after-t": b"new", "gone-before-t": b"new"}
    assert summary["undeleted"] == 0 and summary["copied"] == 6 and summary["failed"] == 0
    return summary


def test_mfa_delete_bucket_is_restored_by_copy(mock_aws: None) -> None:
    """moto has no MFA delete: GetBucketVersioning is answered as an MFA-delete bucket's would be."""
    s3 = boto3.client("s3")
    versioned_bucket(s3, BUCKET)
    at, expected = mixed_history(s3)
    report_mfa_delete_enabled(s3)

    summary = _assert_copy_only_restore(s3, at, expected)

    assert "MFA delete" in summary["copy_reason"]


def test_mfa_code_allows_marker_removal_on_an_mfa_delete_bucket(mock_aws: None) -> None:
    """moto has no MFA delete: GetBucketVersioning is answered by a hook; moto ignores the MFA header."""
    s3 = boto3.client("s3")
    versioned_bucket(s3, BUCKET)
    at, _ = mixed_history(s3)
    report_mfa_delete_enabled(s3)
    recorder = CallRecorder().attach(s3)

    summary = restore_bucket(
        s3, RestoreOptions(**MECHANICS, bucket=BUCKET, at=at, mfa="arn:aws:iam::123456789012:mfa/root 123456")
    )

    assert summary["undeleted"] == 2 and current_contents(s3, BUCKET)["stacked"] == b"old stacked"
    deletes = [c for c in recorder.calls if c.operation == "DeleteObjects"]
    assert deletes and all(c.params["MFA"].endswith(" 123456") for c in deletes)


def test_replicated_bucket_is_restored_by_copy(mock_aws: None) -> None:
    """moto stores the replication configuration but never replicates; the restore only reads it."""
    s3 = boto3.client("s3")
    versioned_bucket(s3, BUCKET)
    replicate(s3, BUCKET, "restore-tests-replica")
    at, expected = mixed_history(s3)

    summary = _assert_copy_only_restore(s3, at, expected)

    assert "replication" in summary["copy_reason"]


def test_archived_version_is_restored_first_and_copied_by_a_later_run(mock_aws: None) -> None:
    """moto's RestoreObject ignores VersionId, so a hook answers it by restoring the named version in
    moto's backend (immediately, where S3 would take hours)."""
    s3 = boto3.client("s3")
    versioned_bucket(s3, BUCKET)
    at = point_in_time(lambda: _put(s3, "cold", b"old", StorageClass="GLACIER"), lambda: _put(s3, "cold", b"new"))
    restores = restore_archived_versions_in_moto(s3)

    first = restore_bucket(s3, RestoreOptions(**MECHANICS, bucket=BUCKET, at=at, archive_tier="Bulk"))

    assert (first["archived_pending"], first["copied"]) == (1, 0)
    assert restores[0]["RestoreRequest"] == {"Days": 7, "GlacierJobParameters": {"Tier": "Bulk"}}
    assert s3.get_object(Bucket=BUCKET, Key="cold")["Body"].read() == b"new"
    second = restore_bucket(s3, RestoreOptions(**MECHANICS, bucket=BUCKET, at=at))
    assert (second["archived_pending"], second["copied"], len(restores)) == (0, 1, 1)
    # The copy is archived again (its storage class is kept), so compare checksums instead of reading it.
    current = s3.head_object(Bucket=BUCKET, Key="cold", ChecksumMode="ENABLED")
    old = s3.head_object(Bucket=BUCKET, Key="cold", VersionId=restores[0]["VersionId"], ChecksumMode="ENABLED")
    assert current["StorageClass"] == "GLACIER" and current["ChecksumCRC32"] == old["ChecksumCRC32"]
    assert current["VersionId"] != old["VersionId"]


def test_restore_into_another_bucket_and_prefix_is_idempotent(mock_aws: None) -> None:
    s3 = boto3.client("s3")
    versioned_bucket(s3, BUCKET)
    versioned_bucket(s3, "restore-target")
    at, expected = mixed_history(s3)
    options = RestoreOptions(**MECHANICS, bucket=BUCKET, at=at, target_bucket="restore-target", target_prefix="copy/")
    source_before = all_entries(s3, BUCKET)

    first = restore_bucket(s3, options)
    recorder = CallRecorder().attach(s3)
    second = restore_bucket(s3, options)

    assert current_contents(s3, "restore-target") == {f"copy/{k}": v for k, v in expected.items()}
    assert all_entries(s3, BUCKET) == source_before
    assert first["copied"] == len(expected) and second["copied"] == 0 and recorder.writes() == []


@pytest.mark.slow
def test_restore_completes_under_injected_throttling_and_5xx(mock_aws: None) -> None:
    """15% of requests fail with 503 SlowDown / 500 InternalError / 503 ServiceUnavailable, injected through
    botocore's ``before-send`` hook; standard retries and per-key retries finish the job."""
    s3 = aws.client("s3", max_pool_connections=16, max_attempts=RESTORE_MAX_ATTEMPTS)
    versioned_bucket(s3, BUCKET)
    at, expected = mixed_history(s3, bulk=300)
    faults = FaultInjector(rate=0.15).attach(s3)
    options = RestoreOptions(**MECHANICS, bucket=BUCKET, at=at, workers=16, delete_created_after=True)

    summary = restore_bucket(s3, options)
    first_sent, first_injected = faults.sent, faults.injected  # the first run alone, not the rerun
    rerun = restore_bucket(s3, options)

    assert first_sent == summary["requests"]  # every send the hook saw is one of the restore's own requests
    assert first_injected >= 0.10 * first_sent and first_injected >= 20
    assert summary["failed"] == 0
    assert (rerun["copied"], rerun["undeleted"], rerun["deleted"], rerun["failed"]) == (0, 0, 0, 0)
    faults.rate = 0.0
    assert current_contents(s3, BUCKET) == expected  # every key verified


@pytest.mark.slow
def test_copy_only_restore_completes_under_injected_throttling_and_5xx(mock_aws: None) -> None:
    """The copy path (replication configured) under 20% injected 503 SlowDown / 500 InternalError / 503
    ServiceUnavailable through botocore's ``before-send`` hook: copies, plain deletes and the second run's
    checksum HEADs are all retried, and the second run still recognises every copy."""
    s3 = aws.client("s3", max_pool_connections=16, max_attempts=RESTORE_MAX_ATTEMPTS)
    versioned_bucket(s3, BUCKET)
    replicate(s3, BUCKET, "restore-tests-replica")
    at, expected = mixed_history(s3, bulk=200)
    markers = delete_marker_ids(s3, BUCKET)
    faults = FaultInjector(rate=0.2).attach(s3)
    first_recorder = CallRecorder().attach(s3)
    options = RestoreOptions(**MECHANICS, bucket=BUCKET, at=at, workers=16, delete_created_after=True)

    summary = restore_bucket(s3, options)
    first_sent, first_injected = faults.sent, faults.injected  # the first run alone, not the rerun
    rerun_recorder = CallRecorder().attach(s3)
    rerun = restore_bucket(s3, options)

    # Every send the hook saw is one of the restore's own requests (the counter counts retries too).
    assert first_sent == summary["requests"]
    assert first_injected >= 0.10 * first_sent and first_injected >= 20
    assert "replication" in summary["copy_reason"] and first_recorder.versioned_deletes() == []
    assert markers <= delete_marker_ids(s3, BUCKET)  # no delete marker removed: the copy path
    # The six named keys brought back, the 100 overwritten and the 50 deleted bulk keys: all by copy.
    assert (summary["undeleted"], summary["failed"]) == (0, 0) and summary["copied"] == 6 + 100 + 50
    assert rerun_recorder.writes() == []
    assert (rerun["copied"], rerun["undeleted"], rerun["deleted"], rerun["failed"]) == (0, 0, 0, 0)
    faults.rate = 0.0
    assert current_contents(s3, BUCKET) == expected  # every key verified against its content at T


def test_sse_kms_bucket_restored_by_copy_needs_no_write_on_a_second_run(mock_aws: None) -> None:
    """Under SSE-KMS an ETag is not an MD5, so only a checksum can show that the current version already
    holds the content at T. boto3 sends a CRC32 with every PutObject by default and moto keeps it on the
    copies. (moto does not apply the bucket's default SSE-KMS to CopyObject: the copies report AES256,
    where S3 would encrypt them with the bucket key; the sources are aws:kms, so the ETag still cannot decide.)"""
    s3 = boto3.client("s3")
    versioned_bucket(s3, BUCKET)
    key_id = boto3.client("kms").create_key()["KeyMetadata"]["KeyId"]
    s3.put_bucket_encryption(
        Bucket=BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_id}}]
        },
    )
    replicate(s3, BUCKET, "restore-tests-replica")
    at, expected = mixed_history(s3)
    history = next(h for h in iter_key_histories(s3, BUCKET) if h.key == "overwritten")
    source = version_at(history, at)
    assert source is not None
    source_head = s3.head_object(Bucket=BUCKET, Key="overwritten", VersionId=source.version_id, ChecksumMode="ENABLED")
    # The premise: the version at T is SSE-KMS, so its only content fingerprint is the checksum.
    assert source_head["ServerSideEncryption"] == "aws:kms"
    assert content_identities(source_head).keys() == {"ChecksumCRC32"}

    _assert_copy_only_restore(s3, at, expected)
    recorder = CallRecorder().attach(s3)
    again = restore_bucket(s3, RestoreOptions(**MECHANICS, bucket=BUCKET, at=at))

    assert (again["copied"], again["failed"]) == (0, 0) and recorder.writes() == []
    checked = {c.params["VersionId"] for c in recorder.calls if c.operation == "HeadObject"}
    assert source.version_id in checked  # the copy was compared with its source, not skipped unseen
    assert current_contents(s3, BUCKET) == expected | {"created-after-t": b"new", "gone-before-t": b"new"}


def _history_with_current_copy(current_etag: str, wanted_etag: str) -> tuple[KeyHistory, Version]:
    at = datetime(2026, 1, 1, tzinfo=UTC)

    def version(version_id: str, etag: str, minutes: int) -> Version:
        return Version(
            key="k",
            version_id=version_id,
            is_latest=version_id == "v3",
            is_delete_marker=False,
            last_modified=at + timedelta(minutes=minutes),
            etag=etag,
            size=10,
            storage_class="STANDARD",
            checksum_algorithm="CRC32",
        )

    wanted = version("v1", wanted_etag, -5)
    return KeyHistory("k", (version("v3", current_etag, 10), version("v2", '"other"', 5), wanted)), wanted


@pytest.mark.parametrize(
    ("current_etag", "etags_are_md5", "candidate"),
    [
        ('"aaaa"', True, False),  # two MD5s that differ: different content, copy without checking
        ('"aaaa"', False, True),  # SSE-KMS: ETags are not MD5s, the checksum must decide
        ('"aaaa-2"', True, True),  # multipart: not an MD5 either
        ('"bbbb"', True, True),  # same ETag
    ],
)
def test_etags_only_rule_out_a_copy_when_both_are_md5s(current_etag: str, etags_are_md5: bool, candidate: bool) -> None:
    history, wanted = _history_with_current_copy(current_etag, '"bbbb"')
    plan = plan_make_current(
        history, wanted, undelete_allowed=False, delete_unwanted=False, etags_are_md5=etags_are_md5
    )
    assert plan.action is Action.COPY
    assert (plan.maybe_same_as is not None) is candidate


@pytest.mark.parametrize("destination", ["same", "other"])
def test_writes_are_refused_where_versioning_would_not_keep_the_previous_version(
    mock_aws: None, destination: str
) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    versioned_bucket(s3, BUCKET)
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"before")
    target = BUCKET
    if destination == "same":
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"})
    else:
        target = "unversioned-target"
        s3.create_bucket(Bucket=target)
    options = RestoreOptions(
        **MECHANICS, bucket=BUCKET, at=datetime.now(UTC), target_bucket=target, delete_created_after=True
    )

    with pytest.raises(ValueError, match=f"bucket {target} has versioning"):
        restore_bucket(s3, options)
    # Planning alone is still allowed.
    assert restore_bucket(
        s3, RestoreOptions(**MECHANICS, bucket=BUCKET, at=options.at, target_bucket=target, dry_run=True)
    )
