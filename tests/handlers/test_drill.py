"""Recovery drills measure what a restore achieves: every canary back, RTO and RPO against the declaration."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from handlers import cli
from handlers.drills import bucket as drill

LOCK_BUCKET = "drill-reports"  # the stack's reports bucket: where the drill's restore takes its lock


@pytest.fixture(autouse=True)
def lock_bucket(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    boto3.client("s3").create_bucket(Bucket=LOCK_BUCKET)
    monkeypatch.setenv("DR_BATCH_REPORT_BUCKET", LOCK_BUCKET)
    return LOCK_BUCKET


def _versioned_bucket(name: str, *, replicated: bool) -> Any:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    if replicated:
        s3.put_bucket_replication(Bucket=name, ReplicationConfiguration=drill.replication_to("arn:aws:s3:::replica"))
    return s3


@pytest.mark.parametrize("replicated", [False, True], ids=["marker-removal-path", "copy-only-path"])
def test_drill_restores_every_canary_and_meets_a_zero_rpo(moto_endpoint: str, replicated: bool) -> None:
    s3 = _versioned_bucket("drilled", replicated=replicated)
    result = drill.run_bucket_drill(
        s3, "drilled", canaries=40, declared_rto_minutes=30, declared_rpo_minutes=0, lock_bucket=LOCK_BUCKET
    )
    assert result.keys_wrong == []
    assert result.rpo_seconds == 0
    assert result.passed
    assert (result.overwritten, result.deleted) == (20, 10)
    if replicated:
        assert result.restore["undeleted"] == 0, "a replicated bucket must never have markers removed"
        assert result.restore["copied"] == 30
    else:
        assert result.restore["undeleted"] == 10


def test_drill_fails_when_the_restore_does_not_bring_data_back(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3 = _versioned_bucket("broken", replicated=False)
    monkeypatch.setattr(drill, "restore_bucket", lambda *_args, **_kwargs: {"requests": 0})
    result = drill.run_bucket_drill(s3, "broken", canaries=8, declared_rpo_minutes=0, lock_bucket=LOCK_BUCKET)
    assert len(result.keys_wrong) == 6  # four overwritten, two deleted
    # The newest canaries (6 and 7) were never damaged, so by the shared rule the RPO is 0: the loss is a hole in
    # older data, which fails the drill through keys_wrong instead.
    assert result.rpo_seconds == 0
    assert not result.passed


def test_drill_command_reports_json_and_exit_code(moto_endpoint: str) -> None:
    _versioned_bucket("cli-drill", replicated=True)
    result = CliRunner().invoke(
        cli.load_commands(), ["drill-bucket", "cli-drill", "--canaries", "8", "--rpo-minutes", "0", "--json"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["passed"] is True
    assert document["keys_wrong"] == []
    assert document["restore"]["requests"] > 0


def test_drill_command_on_a_missing_bucket_exits_with_aws_code(moto_endpoint: str) -> None:
    result = CliRunner().invoke(cli.load_commands(), ["drill-bucket", "no-such-bucket", "--canaries", "4"])
    assert result.exit_code == cli.EXIT_AWS and "NoSuchBucket" in result.stderr


def test_drill_command_errors_under_json_are_one_json_object_on_stdout(moto_endpoint: str) -> None:
    result = CliRunner().invoke(cli.load_commands(), ["drill-bucket", "no-such-bucket", "--canaries", "4", "--json"])
    assert result.exit_code == cli.EXIT_AWS
    error = json.loads(result.stdout)  # a script parsing --json output gets an object on every outcome
    assert error["exit_code"] == cli.EXIT_AWS and "NoSuchBucket" in error["error"]


def test_drill_on_an_unversioned_bucket_is_refused_before_any_canary_is_written(moto_endpoint: str) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="unversioned")

    result = CliRunner().invoke(cli.load_commands(), ["drill-bucket", "unversioned", "--canaries", "4", "--json"])

    assert result.exit_code == cli.EXIT_USAGE
    assert "versioning" in json.loads(result.stdout)["error"]
    assert "Contents" not in s3.list_objects_v2(Bucket="unversioned")  # nothing damaged that could not come back


def test_drill_without_a_lock_bucket_is_refused_before_any_canary_is_written(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DR_BATCH_REPORT_BUCKET")
    s3 = _versioned_bucket("unlocked", replicated=False)
    result = CliRunner().invoke(cli.load_commands(), ["drill-bucket", "unlocked", "--canaries", "4", "--json"])
    assert result.exit_code == 2 and "lock bucket" in json.loads(result.stdout)["error"]
    assert s3.list_object_versions(Bucket="unlocked").get("Versions") is None


@pytest.mark.parametrize("prefix", ["", "masters/", "dr-drill"])
def test_a_drill_outside_the_drill_prefix_is_refused_before_any_write(moto_endpoint: str, prefix: str) -> None:
    # Its restore is confirmed and covers the whole prefix: elsewhere it would roll back the application's writes.
    s3 = _versioned_bucket("guarded", replicated=True)
    with pytest.raises(ValueError, match="must start with 'dr-drill/'"):
        drill.run_bucket_drill(s3, "guarded", prefix=prefix, canaries=8, lock_bucket=LOCK_BUCKET)
    assert s3.list_object_versions(Bucket="guarded").get("Versions", []) == []
