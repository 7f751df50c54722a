"""Delete auto-restore Lambda (``handlers.s3.auto_restore``) with synthetic events.

Emulated: moto never emits ``s3:ObjectRemoved:DeleteMarkerCreated``, so the tests build the event from
``events/s3_delete_marker_created.json``; moto has no MFA delete, so GetBucketVersioning is answered by
a hook where a test needs it; a stored replication configuration stands in for replication.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest

from handlers.s3 import auto_restore
from tests.components.harness import REPO
from tests.handlers.s3_scenario import CallRecorder, replicate, report_mfa_delete_enabled, versioned_bucket

BUCKET = "audio-primary"
KEY = "tracks/2026/my song été.mp3"


@dataclass
class World:
    s3: Any
    sns: Any
    sqs: Any
    queue_url: str
    recorder: CallRecorder

    def alerts(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(json.loads(m["Body"])["Message"]) for m in messages]

    def versions(self) -> list[tuple[str, bool]]:
        listing = self.s3.list_object_versions(Bucket=BUCKET, Prefix=KEY)
        entries = [(v["VersionId"], False, v["LastModified"]) for v in listing.get("Versions", [])]
        entries += [(m["VersionId"], True, m["LastModified"]) for m in listing.get("DeleteMarkers", [])]
        return sorted((vid, marker) for vid, marker, _ in entries)


@pytest.fixture
def world(mock_aws: None, monkeypatch: pytest.MonkeyPatch) -> World:
    s3, sns, sqs = boto3.client("s3"), boto3.client("sns"), boto3.client("sqs")
    versioned_bucket(s3, BUCKET)
    topic = sns.create_topic(Name="dr-alerts")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="dr-alerts")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    monkeypatch.setenv("PROTECTED_PREFIXES", json.dumps(["masters/", "tracks/"]))
    monkeypatch.setenv("ALERT_TOPIC_ARN", topic)
    # The handler's clients, with a recorder, instead of the module's cached ones.
    monkeypatch.setattr(auto_restore, "_clients", lambda: (s3, sns))
    return World(s3, sns, sqs, queue_url, CallRecorder().attach(s3))


def delete_event(load_event: Callable[[str], dict[str, Any]], marker_version_id: str, key: str = KEY) -> dict[str, Any]:
    event = copy.deepcopy(load_event("s3_delete_marker_created"))
    s3_part = event["Records"][0]["s3"]
    s3_part["bucket"]["name"] = BUCKET
    s3_part["object"]["key"] = quote_plus(key, safe="/")  # S3 events carry URL-encoded keys
    s3_part["object"]["versionId"] = marker_version_id
    return event


def put_then_delete(s3: Any, key: str = KEY) -> tuple[str, str]:
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"take 1")
    wanted = s3.put_object(Bucket=BUCKET, Key=key, Body=b"take 2")["VersionId"]
    marker = s3.delete_object(Bucket=BUCKET, Key=key)["VersionId"]
    return wanted, marker


def test_sample_event_key_is_decoded(load_event: Callable[[str], dict[str, Any]]) -> None:
    from aws_lambda_powertools.utilities.data_classes import S3Event

    record = next(S3Event(load_event("s3_delete_marker_created")).records)
    assert auto_restore.DeletedKey.from_record(record).key == "tracks/2026/my song été.mp3"


def test_plain_bucket_removes_the_marker_and_alerts(world: World, load_event: Any, lambda_context: Any) -> None:
    wanted, marker = put_then_delete(world.s3)

    result = auto_restore.lambda_handler(delete_event(load_event, marker), lambda_context)

    assert result["outcomes"][0]["result"] == "undeleted"
    head = world.s3.head_object(Bucket=BUCKET, Key=KEY)
    assert head["VersionId"] == wanted  # the same version, not a copy
    assert [d["VersionId"] for d in world.recorder.versioned_deletes()] == [marker]
    alerts = world.alerts()
    assert [(a["key"], a["result"], a["restored_version_id"]) for a in alerts] == [(KEY, "undeleted", wanted)]


def test_replayed_event_writes_nothing_and_does_not_alert_twice(
    world: World, load_event: Any, lambda_context: Any
) -> None:
    _, marker = put_then_delete(world.s3)
    event = delete_event(load_event, marker)
    auto_restore.lambda_handler(event, lambda_context)
    world.alerts()
    before = world.versions()
    world.recorder.calls.clear()

    again = auto_restore.lambda_handler(event, lambda_context)

    assert again["outcomes"][0]["result"] == "already-live"
    assert world.recorder.writes() == [] and world.versions() == before and world.alerts() == []


def test_mfa_delete_bucket_copies_the_previous_version_back(world: World, load_event: Any, lambda_context: Any) -> None:
    """GetBucketVersioning answered as an MFA-delete bucket's (moto has no MFA delete)."""
    report_mfa_delete_enabled(world.s3)
    wanted, marker = put_then_delete(world.s3)

    result = auto_restore.lambda_handler(delete_event(load_event, marker), lambda_context)

    outcome = result["outcomes"][0]
    assert outcome["result"] == "copied" and "MFA" in outcome["reason"]
    assert world.recorder.versioned_deletes() == []
    head = world.s3.head_object(Bucket=BUCKET, Key=KEY)
    assert head["VersionId"] == outcome["new_version_id"] != wanted
    assert world.s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read() == b"take 2"
    assert marker in {vid for vid, is_marker in world.versions() if is_marker}  # marker kept


def test_replicated_bucket_copies_and_stacked_delete_events_restore_once(
    world: World, load_event: Any, lambda_context: Any
) -> None:
    replicate(world.s3, BUCKET, "audio-replica")
    put_then_delete(world.s3)
    second_marker = world.s3.delete_object(Bucket=BUCKET, Key=KEY)["VersionId"]
    first_marker = next(vid for vid, is_marker in world.versions() if is_marker and vid != second_marker)
    world.recorder.calls.clear()

    first = auto_restore.lambda_handler(delete_event(load_event, first_marker), lambda_context)
    second = auto_restore.lambda_handler(delete_event(load_event, second_marker), lambda_context)

    assert [first["outcomes"][0]["result"], second["outcomes"][0]["result"]] == ["copied", "already-live"]
    assert [c.operation for c in world.recorder.writes()] == ["CopyObject"]
    assert world.recorder.versioned_deletes() == []
    assert world.s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read() == b"take 2"


def test_marker_removal_can_be_forbidden_by_environment(
    world: World, load_event: Any, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALLOW_MARKER_REMOVAL", "false")
    _, marker = put_then_delete(world.s3)

    result = auto_restore.lambda_handler(delete_event(load_event, marker), lambda_context)

    assert result["outcomes"][0]["result"] == "copied" and world.recorder.versioned_deletes() == []


def test_key_rewritten_before_the_event_is_left_alone(world: World, load_event: Any, lambda_context: Any) -> None:
    _, marker = put_then_delete(world.s3)
    world.s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"take 3")
    world.recorder.calls.clear()

    result = auto_restore.lambda_handler(delete_event(load_event, marker), lambda_context)

    assert result["outcomes"][0]["result"] == "already-live" and world.recorder.writes() == []
    assert world.s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read() == b"take 3"


def test_unprotected_prefix_and_other_events_are_ignored(world: World, load_event: Any, lambda_context: Any) -> None:
    _, marker = put_then_delete(world.s3, "scratch/tmp.bin")
    event = delete_event(load_event, marker, key="scratch/tmp.bin")
    other = copy.deepcopy(event["Records"][0])
    other["eventName"] = "ObjectCreated:Put"
    event["Records"].append(other)
    world.recorder.calls.clear()

    result = auto_restore.lambda_handler(event, lambda_context)

    assert [o["result"] for o in result["outcomes"]] == ["not-protected"]
    assert world.recorder.calls == [] and world.alerts() == []


def test_handler_builds_its_clients_from_the_environment(
    moto_endpoint: str, load_event: Any, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against the moto server: the module's own clients follow AWS_ENDPOINT_URL; no topic set."""
    auto_restore._clients.cache_clear()
    monkeypatch.setenv("PROTECTED_PREFIXES", json.dumps([""]))  # the whole bucket
    monkeypatch.delenv("ALERT_TOPIC_ARN", raising=False)
    s3 = boto3.client("s3")
    versioned_bucket(s3, BUCKET)
    wanted, marker = put_then_delete(s3)
    try:
        result = auto_restore.lambda_handler(delete_event(load_event, marker), lambda_context)
    finally:
        auto_restore._clients.cache_clear()

    assert result["outcomes"][0]["result"] == "undeleted"
    assert s3.head_object(Bucket=BUCKET, Key=KEY)["VersionId"] == wanted


def test_protected_prefixes_are_a_json_list_of_literal_prefixes() -> None:
    prefixes = auto_restore.parse_prefixes(json.dumps(["mixes/a,b/", "masters/"]))
    assert prefixes == ("mixes/a,b/", "masters/")  # S3 keys may contain commas: one prefix, not two
    assert auto_restore.is_protected("mixes/a,b/take.wav", prefixes)
    assert not auto_restore.is_protected("mixes/a", prefixes)
    assert not auto_restore.is_protected("anything", auto_restore.parse_prefixes('["*"]'))  # no globs any more
    assert auto_restore.is_protected("any/key", auto_restore.parse_prefixes('[""]'))  # "" is the whole bucket
    assert auto_restore.parse_prefixes("[]") == ()


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (None, "is not set"),
        ("masters/,tracks/", "is not valid JSON"),  # the old comma-joined encoding
        ("*", "is not valid JSON"),
        ('"masters/"', "must be a JSON list of strings"),
        ('["masters/", 3]', "must be a JSON list of strings"),
    ],
)
def test_malformed_protected_prefixes_name_the_variable(value: str | None, problem: str) -> None:
    with pytest.raises(ValueError, match=f"PROTECTED_PREFIXES {problem}"):
        auto_restore.parse_prefixes(value)


def test_comma_in_a_protected_prefix_restores_the_key(
    world: World, load_event: Any, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "mixes/a,b/take.wav"
    monkeypatch.setenv("PROTECTED_PREFIXES", json.dumps(["mixes/a,b/"]))
    wanted, marker = put_then_delete(world.s3, key)

    result = auto_restore.lambda_handler(delete_event(load_event, marker, key), lambda_context)

    assert result["outcomes"][0]["result"] == "undeleted"
    assert world.s3.head_object(Bucket=BUCKET, Key=key)["VersionId"] == wanted


@pytest.mark.parametrize(("value", "starts"), [('["masters/"]', True), ("masters/,tracks/", False)])
def test_malformed_prefixes_fail_the_cold_start(value: str, starts: bool) -> None:
    """In the Lambda runtime the module checks the variable on import, before any event is handled."""
    environment = {"AWS_LAMBDA_FUNCTION_NAME": "auto-restore", "PROTECTED_PREFIXES": value, "AWS_REGION": "us-east-1"}
    code = f"import os; os.environ.update({environment!r}); import handlers.s3.auto_restore"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert (result.returncode == 0) is starts, result.stderr
    if not starts:
        assert "PROTECTED_PREFIXES is not valid JSON" in result.stderr
