"""Restores through S3 Batch Operations (``handlers.s3.batch``).

Emulated: moto has no S3 Control ``CreateJob``, so that single call is stubbed with botocore's
``Stubber`` on the s3control client; the manifest is written to moto for real and checked there.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import boto3
import pytest
from botocore.stub import ANY, Stubber

from handlers.s3.batch import BatchOptions, client_request_token, manifest_line
from handlers.s3.restore import CopySettings, RestoreOptions, restore_bucket
from tests.handlers.s3_scenario import MECHANICS, CallRecorder, current_contents, point_in_time, versioned_bucket

BUCKET = "batch-restore"
REPORTS = "batch-reports"
ROLE = "arn:aws:iam::123456789012:role/dr-batch-restore"
KEYS = [f"tracks/{i} é+&.mp3" for i in range(5)]


def test_manifest_line_url_encodes_the_key() -> None:
    line = manifest_line("b", "a dir/é+&,x.txt", "v1")
    bucket, key, version = line.rstrip("\n").split(",")
    assert (bucket, unquote(key), version) == ("b", "a dir/é+&,x.txt", "v1")


def test_request_token_is_deterministic_and_bounded() -> None:
    token = client_request_token(b"b,k,v\n", {"role": ROLE})
    assert token == client_request_token(b"b,k,v\n", {"role": ROLE}) and len(token) <= 64
    assert token != client_request_token(b"b,k,v2\n", {"role": ROLE})


def _history(s3: Any) -> Any:
    def before() -> None:
        for key in KEYS:
            s3.put_object(Bucket=BUCKET, Key=key, Body=b"old")
        s3.put_object(Bucket=BUCKET, Key="big.bin", Body=b"o" * 2048)
        s3.put_object(Bucket=BUCKET, Key="deleted", Body=b"old")

    def after() -> None:
        for key in KEYS:
            s3.put_object(Bucket=BUCKET, Key=key, Body=b"new")
        s3.put_object(Bucket=BUCKET, Key="big.bin", Body=b"new")
        s3.delete_object(Bucket=BUCKET, Key="deleted")

    return point_in_time(before, after)


def _options(at: Any, threshold: int) -> RestoreOptions:
    batch = BatchOptions(threshold_keys=threshold, role_arn=ROLE, report_bucket=REPORTS, account_id="123456789012")
    # big.bin counts as "too large for Batch Operations" with a 1 KiB threshold.
    return RestoreOptions(**MECHANICS, bucket=BUCKET, at=at, batch=batch, copy=CopySettings(multipart_threshold=1024))


@pytest.fixture
def s3(mock_aws: None) -> Any:
    client = boto3.client("s3")
    versioned_bucket(client, BUCKET)
    versioned_bucket(client, REPORTS)
    return client


def test_above_threshold_copies_go_to_one_batch_job(s3: Any) -> None:
    at = _history(s3)
    s3control = boto3.client("s3control")
    recorder = CallRecorder().attach(s3)
    expected_job = {
        "AccountId": "123456789012",
        "ConfirmationRequired": False,
        "Operation": {
            "S3PutObjectCopy": {
                "TargetResource": f"arn:aws:s3:::{BUCKET}",
                "StorageClass": "STANDARD",
                "MetadataDirective": "COPY",
            }
        },
        "Manifest": ANY,
        "Report": {
            "Bucket": f"arn:aws:s3:::{REPORTS}",
            "Prefix": f"dr-restore/{BUCKET}/reports",  # the prefix its Batch role is scoped to
            "Format": "Report_CSV_20180820",
            "Enabled": True,
            "ReportScope": "AllTasks",
        },
        "ClientRequestToken": ANY,
        "Priority": 10,
        "RoleArn": ROLE,
        "Description": ANY,
    }
    jobs: list[dict[str, Any]] = []
    s3control.meta.events.register(
        "provide-client-params.s3-control.CreateJob", lambda params, **_: jobs.append(params)
    )
    with Stubber(s3control) as stub:
        stub.add_response("create_job", {"JobId": "job-1"}, expected_job)
        stub.add_response("create_job", {"JobId": "job-1"}, expected_job)

        done: list[int] = []
        first = restore_bucket(s3, _options(at, threshold=3), s3control=s3control, on_key_done=done.append)
        second = restore_bucket(s3, _options(at, threshold=3), s3control=s3control)
        stub.assert_no_pending_responses()

    assert first["batch_jobs"] == [{"job_id": "job-1", "storage_class": "STANDARD", "keys": 5}]
    assert (first["batched"], first["copied"], first["undeleted"]) == (5, 1, 1)  # big.bin and the undelete stay local
    assert sum(done) == first["keys_scanned"]  # keys handed to the job count as done: the progress bar completes
    contents = current_contents(s3, BUCKET)
    assert contents["big.bin"] == b"o" * 2048 and contents["deleted"] == b"old"
    assert all(contents[key] == b"new" for key in KEYS)  # the job, not this process, copies them

    location = jobs[0]["Manifest"]["Location"]
    manifest_key = location["ObjectArn"].split(f"arn:aws:s3:::{REPORTS}/", 1)[1]
    manifest = s3.get_object(Bucket=REPORTS, Key=manifest_key)
    assert location["ETag"] == manifest["ETag"] and location["ObjectVersionId"] == manifest["VersionId"]
    rows = [line.split(",") for line in manifest["Body"].read().decode().splitlines()]
    versions = {
        v["Key"]: v["VersionId"] for v in s3.list_object_versions(Bucket=BUCKET)["Versions"] if not v["IsLatest"]
    }
    assert sorted((b, unquote(k), v) for b, k, v in rows) == sorted((BUCKET, k, versions[k]) for k in KEYS)
    # Same plan, same token: S3 returns the existing job instead of creating a second one.
    assert jobs[0]["ClientRequestToken"] == jobs[1]["ClientRequestToken"]
    assert second["batch_jobs"][0]["job_id"] == "job-1"
    assert not [c for c in recorder.calls if c.operation == "CopyObject" and c.params["Key"] in KEYS]


def test_below_threshold_everything_is_copied_locally(s3: Any) -> None:
    at = _history(s3)
    s3control = boto3.client("s3control")
    with Stubber(s3control) as stub:  # no responses queued: any CreateJob would fail the test
        summary = restore_bucket(s3, _options(at, threshold=10), s3control=s3control)
        stub.assert_no_pending_responses()

    assert (summary["batched"], summary["copied"], summary["batch_jobs"]) == (0, 6, [])
    assert all(current_contents(s3, BUCKET)[key] == b"old" for key in KEYS)
