"""Replication rules of emulator/replication.py, each against AWS's documented behaviour, on a real clock.

Lags are short (0.4 s) and assertions carry tolerances for 2 shared cores: "not yet" is checked well before the
lag ends, "arrived" is waited for with a generous deadline, and the measured lag is bounded on both sides.
"""

from __future__ import annotations

import random
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from emulator.regions import Emulator
from emulator.replication import RTC_BOUND_SECONDS, Lag, Replicator

EAST, EAST2, WEST = "us-east-1", "us-east-2", "us-west-2"
LAG = 0.4
SLACK = 3.0  # seconds of scheduling jitter allowed on 2 busy shared cores
SLOW_LAG = 2.0


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator([EAST, EAST2, WEST]) as started:
        yield started


@pytest.fixture
def slow_replicator(emulator: Emulator) -> Iterator[Replicator]:
    """A lag long enough that a write is surely still in flight when the test acts right after it."""
    started = Replicator(emulator, s3_lag=Lag.fixed(SLOW_LAG), dynamodb_lag=Lag.fixed(SLOW_LAG)).start()
    yield started
    started.stop()
    for region in emulator.regions:
        emulator.restore_region(region)


@pytest.fixture
def replicator(emulator: Emulator) -> Iterator[Replicator]:
    started = Replicator(emulator, s3_lag=Lag.fixed(LAG), dynamodb_lag=Lag.fixed(LAG), seed=1).start()
    yield started
    started.stop()
    failed = [d for d in started.deliveries() if d.outcome == "failed"]
    assert not failed, f"deliveries failed (an emulator bug, not a rule): {started.last_error}"
    for region in emulator.regions:
        emulator.restore_region(region)


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _eventually(check: Callable[[], bool], timeout: float = LAG + SLACK) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def _buckets(
    emulator: Emulator,
    *,
    delete_markers: bool,
    prefix: str = "",
    two_way: bool = False,
    replica_modifications: bool = False,
    metrics: bool = False,
    rtc: bool = False,
) -> tuple[str, str]:
    source, replica = _name("src"), _name("dst")
    for bucket, region in ((source, EAST), (replica, WEST)):
        s3 = emulator.client("s3", region)
        if region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    pairs = [(source, replica, EAST)] + ([(replica, source, WEST)] if two_way else [])
    for from_bucket, to_bucket, region in pairs:
        rule: dict[str, Any] = {
            "ID": "to-replica",
            "Priority": 1,
            "Status": "Enabled",
            "Filter": {"Prefix": prefix},
            "DeleteMarkerReplication": {"Status": "Enabled" if delete_markers else "Disabled"},
            "Destination": {"Bucket": f"arn:aws:s3:::{to_bucket}"},
        }
        if replica_modifications:
            rule["SourceSelectionCriteria"] = {"ReplicaModifications": {"Status": "Enabled"}}
        if metrics:
            rule["Destination"]["Metrics"] = {"Status": "Enabled", "EventThreshold": {"Minutes": 15}}
        if rtc:
            rule["Destination"]["ReplicationTime"] = {"Status": "Enabled", "Time": {"Minutes": 15}}
        emulator.client("s3", region).put_bucket_replication(
            Bucket=from_bucket,
            ReplicationConfiguration={"Role": "arn:aws:iam::123456789012:role/replication", "Rules": [rule]},
        )
    return source, replica


def _replica_body(emulator: Emulator, bucket: str, key: str) -> bytes | None:
    try:
        return bytes(emulator.client("s3", WEST).get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError:
        return None


def _table(emulator: Emulator, regions: tuple[str, ...]) -> str:
    name = _name("table")
    for region in regions:
        emulator.client("dynamodb", region).create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    return name


def _item(emulator: Emulator, table: str, region: str, key: str) -> dict[str, Any] | None:
    got = emulator.client("dynamodb", region).get_item(TableName=table, Key={"pk": {"S": key}}, ConsistentRead=True)
    item: dict[str, Any] | None = got.get("Item")
    return item


def _mrec_latency_ms(emulator: Emulator, table: str) -> float | None:
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    points = emulator.client("cloudwatch", EAST).get_metric_statistics(
        Namespace="AWS/DynamoDB",
        MetricName="ReplicationLatency",
        Dimensions=[{"Name": "TableName", "Value": table}, {"Name": "ReceivingRegion", "Value": WEST}],
        StartTime=now - timedelta(minutes=5),
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    return max(float(point["Maximum"]) for point in points) if points else None


# lag -------------------------------------------------------------------------------------------------------------


def test_lag_distributions_are_bounded() -> None:
    rng = random.Random(3)
    seconds = [Lag.seconds(median=2.0).draw(rng) for _ in range(2000)]
    assert 1.7 < statistics.median(seconds) < 2.3 and max(seconds) <= 20.0
    rtc = [Lag.rtc().draw(rng) for _ in range(2000)]
    assert max(rtc) <= RTC_BOUND_SECONDS  # S3 RTC: within 15 minutes
    assert Lag.fixed(0.4).draw(rng) == 0.4 and Lag.seconds().scaled(0.1).median == pytest.approx(0.2)
    with pytest.raises(ValueError, match="maximum"):
        Lag(median=1, minimum=2, maximum=1)


def test_s3_new_version_arrives_after_the_lag(emulator: Emulator, replicator: Replicator) -> None:
    source, replica = _buckets(emulator, delete_markers=False)
    written = time.monotonic()
    emulator.client("s3", EAST).put_object(Bucket=source, Key="a.txt", Body=b"v1", Metadata={"m": "1"})
    early = _replica_body(emulator, replica, "a.txt")
    if time.monotonic() - written < LAG / 2:  # only meaningful when the machine did not stall
        assert early is None
    assert _eventually(lambda: _replica_body(emulator, replica, "a.txt") == b"v1")
    assert replicator.wait_until_idle(SLACK)  # the delivery is recorded once the copy returned
    delivery = next(d for d in replicator.deliveries() if d.source == source)
    assert delivery.outcome == "applied" and LAG <= delivery.lag_seconds < LAG + SLACK
    summary = replicator.summary()["s3"]
    assert summary["outcomes"] == {"applied": 1} and LAG <= summary["lagSeconds"]["max"] < LAG + SLACK
    head = emulator.client("s3", WEST).head_object(Bucket=replica, Key="a.txt")
    assert head["Metadata"] == {"m": "1"}


def test_s3_rule_prefix_filters_what_replicates(emulator: Emulator, replicator: Replicator) -> None:
    source, replica = _buckets(emulator, delete_markers=True, prefix="logs/")
    s3 = emulator.client("s3", EAST)
    s3.put_object(Bucket=source, Key="other/x", Body=b"no")
    s3.put_object(Bucket=source, Key="logs/x", Body=b"yes")
    assert _eventually(lambda: _replica_body(emulator, replica, "logs/x") == b"yes")
    assert replicator.wait_until_idle(SLACK)
    assert _replica_body(emulator, replica, "other/x") is None


# S3 delete rules ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("enabled", [True, False])
def test_s3_delete_markers_replicate_only_when_the_rule_enables_it(
    emulator: Emulator, replicator: Replicator, enabled: bool
) -> None:
    source, replica = _buckets(emulator, delete_markers=enabled)
    s3 = emulator.client("s3", EAST)
    s3.put_object(Bucket=source, Key="d.txt", Body=b"v1")
    assert _eventually(lambda: _replica_body(emulator, replica, "d.txt") == b"v1")
    s3.delete_object(Bucket=source, Key="d.txt")  # a delete marker
    assert replicator.wait_until_idle(LAG + SLACK)
    markers = emulator.client("s3", WEST).list_object_versions(Bucket=replica).get("DeleteMarkers", [])
    assert len(markers) == (1 if enabled else 0)
    assert (_replica_body(emulator, replica, "d.txt") is None) is enabled


def test_s3_deletes_naming_a_version_never_replicate(emulator: Emulator, replicator: Replicator) -> None:
    source, replica = _buckets(emulator, delete_markers=True)
    s3 = emulator.client("s3", EAST)
    version = s3.put_object(Bucket=source, Key="v.txt", Body=b"kept")["VersionId"]
    assert _eventually(lambda: _replica_body(emulator, replica, "v.txt") == b"kept")
    s3.delete_object(Bucket=source, Key="v.txt", VersionId=version)
    s3.delete_objects(Bucket=source, Delete={"Objects": [{"Key": "v.txt", "VersionId": version}]})
    assert replicator.wait_until_idle(LAG + SLACK)
    time.sleep(LAG)
    assert _replica_body(emulator, replica, "v.txt") == b"kept"
    assert replicator.counters["s3-version-deletes-not-replicated"] >= 1


def test_s3_two_way_rules_replicate_each_side_and_replicas_do_not_bounce(
    emulator: Emulator, replicator: Replicator
) -> None:
    source, replica = _buckets(emulator, delete_markers=True, two_way=True)
    emulator.client("s3", EAST).put_object(Bucket=source, Key="from-east", Body=b"e")
    emulator.client("s3", WEST).put_object(Bucket=replica, Key="from-west", Body=b"w")
    assert replicator.wait_until_idle(LAG + SLACK)
    assert _replica_body(emulator, replica, "from-east") == b"e"
    assert emulator.client("s3", EAST).get_object(Bucket=source, Key="from-west")["Body"].read() == b"w"
    time.sleep(LAG * 2)
    ours = [d for d in replicator.deliveries() if {d.source, d.destination} == {source, replica}]
    assert len(ours) == 2  # one per write: a replica is never replicated again
    versions = emulator.client("s3", EAST).list_object_versions(Bucket=source)["Versions"]
    assert len(versions) == 2


@pytest.mark.parametrize("sync", [True, False])
def test_s3_tag_changes_follow_replicas_and_come_back_only_with_replica_modification_sync(
    emulator: Emulator, replicator: Replicator, sync: bool
) -> None:
    source, replica = _buckets(emulator, delete_markers=True, two_way=True, replica_modifications=sync)
    east, west = emulator.client("s3", EAST), emulator.client("s3", WEST)
    east.put_object(Bucket=source, Key="t", Body=b"x")
    assert _eventually(lambda: _replica_body(emulator, replica, "t") == b"x")
    assert replicator.wait_until_idle(SLACK)
    east.put_object_tagging(Bucket=source, Key="t", Tagging={"TagSet": [{"Key": "from", "Value": "source"}]})
    assert _eventually(
        lambda: west.get_object_tagging(Bucket=replica, Key="t")["TagSet"] == [{"Key": "from", "Value": "source"}]
    )
    west.put_object_tagging(Bucket=replica, Key="t", Tagging={"TagSet": [{"Key": "from", "Value": "replica"}]})
    assert replicator.wait_until_idle(LAG + SLACK)
    time.sleep(LAG)
    expected = "replica" if sync else "source"
    assert east.get_object_tagging(Bucket=source, Key="t")["TagSet"] == [{"Key": "from", "Value": expected}]


def test_s3_tag_filters_are_matched_against_the_tags_written(emulator: Emulator, replicator: Replicator) -> None:
    source, replica = _buckets(emulator, delete_markers=False)
    emulator.client("s3", EAST).put_bucket_replication(
        Bucket=source,
        ReplicationConfiguration={
            "Role": "arn:aws:iam::123456789012:role/replication",
            "Rules": [
                {
                    "ID": "tagged",
                    "Priority": 1,
                    "Status": "Enabled",
                    "Filter": {"And": {"Prefix": "", "Tags": [{"Key": "replicate", "Value": "yes"}]}},
                    "DeleteMarkerReplication": {"Status": "Disabled"},
                    "Destination": {"Bucket": f"arn:aws:s3:::{replica}"},
                }
            ],
        },
    )
    time.sleep(1.1)  # the replicator caches a bucket's rules for 1 s
    s3 = emulator.client("s3", EAST)
    s3.put_object(Bucket=source, Key="untagged", Body=b"no")
    s3.put_object(Bucket=source, Key="tagged", Body=b"yes", Tagging="replicate=yes")
    assert _eventually(lambda: _replica_body(emulator, replica, "tagged") == b"yes")
    assert replicator.wait_until_idle(SLACK)
    assert _replica_body(emulator, replica, "untagged") is None
    tags = emulator.client("s3", WEST).get_object_tagging(Bucket=replica, Key="tagged")["TagSet"]
    assert tags == [{"Key": "replicate", "Value": "yes"}]


def test_s3_delete_objects_markers_follow_the_rule(emulator: Emulator, replicator: Replicator) -> None:
    source, replica = _buckets(emulator, delete_markers=True)
    s3 = emulator.client("s3", EAST)
    s3.put_object(Bucket=source, Key="batch", Body=b"v1")
    assert _eventually(lambda: _replica_body(emulator, replica, "batch") == b"v1")
    s3.delete_objects(Bucket=source, Delete={"Objects": [{"Key": "batch"}]})
    assert _eventually(lambda: _replica_body(emulator, replica, "batch") is None)


@pytest.mark.parametrize("metrics", [True, False])
def test_s3_replication_latency_is_published_where_aws_publishes_it(
    emulator: Emulator, replicator: Replicator, metrics: bool
) -> None:
    """Read back by the runtime's own reader (handlers/rpo_age.py), in the destination's Region."""
    from datetime import UTC, datetime

    from handlers.rpo_age import bucket_recovery_point_age

    source, replica = _buckets(emulator, delete_markers=False, metrics=metrics)
    emulator.client("s3", EAST).put_object(Bucket=source, Key="m", Body=b"m")
    assert _eventually(lambda: _replica_body(emulator, replica, "m") == b"m")
    assert replicator.wait_until_idle(SLACK)
    time.sleep(1.1)  # moto's GetMetricStatistics drops the end time's fraction: a datapoint this second is missed
    age, basis = bucket_recovery_point_age(
        emulator.client("cloudwatch", WEST), source, [(replica, "to-replica")], datetime.now(UTC)
    )
    if metrics:
        assert basis == "replication-latency" and age is not None and LAG <= age < LAG + SLACK
    else:
        assert (age, basis) == (None, "no-replication-metrics")  # S3 publishes nothing without metrics or RTC


def test_rules_with_rtc_draw_from_the_rtc_distribution(emulator: Emulator) -> None:
    with Replicator(emulator, s3_lag=Lag.fixed(0.3), s3_rtc_lag=Lag.fixed(1.5)) as replicator:
        plain, plain_replica = _buckets(emulator, delete_markers=False)
        timed, timed_replica = _buckets(emulator, delete_markers=False, rtc=True, metrics=True)
        for bucket in (plain, timed):
            emulator.client("s3", EAST).put_object(Bucket=bucket, Key="k", Body=b"k")
        assert replicator.wait_until_idle(1.5 + SLACK)
        lags = {d.source: d.lag_seconds for d in replicator.deliveries()}
    assert 0.3 <= lags[plain] < 0.3 + SLACK and 1.5 <= lags[timed] < 1.5 + SLACK
    assert _replica_body(emulator, plain_replica, "k") == _replica_body(emulator, timed_replica, "k") == b"k"


# DynamoDB MREC ---------------------------------------------------------------------------------------------------


def test_mrec_item_reaches_the_other_replica_after_the_lag(emulator: Emulator, replicator: Replicator) -> None:
    table = _table(emulator, (EAST, WEST))
    replicator.add_global_table(table, [EAST, WEST])
    written = time.monotonic()
    emulator.client("dynamodb", EAST).update_item(
        TableName=table,
        Key={"pk": {"S": "k"}},
        UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": {"N": "1"}},
    )
    early = _item(emulator, table, WEST, "k")
    if time.monotonic() - written < LAG / 2:  # only meaningful when the machine did not stall
        assert early is None
    assert _eventually(lambda: _item(emulator, table, WEST, "k") == {"pk": {"S": "k"}, "v": {"N": "1"}})
    assert replicator.wait_until_idle(SLACK)
    delivery = next(d for d in replicator.deliveries() if d.source == table)
    assert LAG <= delivery.lag_seconds < LAG + SLACK
    assert _eventually(lambda: _mrec_latency_ms(emulator, table) is not None)  # in the source Region
    assert LAG * 1000 <= (_mrec_latency_ms(emulator, table) or 0) < (LAG + SLACK) * 1000
    emulator.client("dynamodb", EAST).delete_item(TableName=table, Key={"pk": {"S": "k"}})
    assert _eventually(lambda: _item(emulator, table, WEST, "k") is None)


def test_mrec_concurrent_writes_resolve_last_writer_wins(emulator: Emulator, replicator: Replicator) -> None:
    table = _table(emulator, (EAST, WEST))
    replicator.add_global_table(table, [EAST, WEST])
    replicator.pause(table)  # both writes in flight at once, however slow the machine
    emulator.client("dynamodb", EAST).put_item(TableName=table, Item={"pk": {"S": "k"}, "v": {"S": "east"}})
    time.sleep(0.05)
    emulator.client("dynamodb", WEST).put_item(TableName=table, Item={"pk": {"S": "k"}, "v": {"S": "west"}})
    replicator.resume(table)
    assert replicator.wait_until_idle(LAG + SLACK)
    assert _item(emulator, table, EAST, "k") == {"pk": {"S": "k"}, "v": {"S": "west"}}
    assert _item(emulator, table, WEST, "k") == {"pk": {"S": "k"}, "v": {"S": "west"}}
    outcomes = {(d.source_region, d.outcome) for d in replicator.deliveries() if d.source == table}
    assert outcomes == {(EAST, "superseded"), (WEST, "applied")}


# region loss -----------------------------------------------------------------------------------------------------


def test_in_flight_writes_of_a_lost_region_are_unavailable_then_delivered_late(
    emulator: Emulator, slow_replicator: Replicator
) -> None:
    replicator = slow_replicator
    table = _table(emulator, (EAST, WEST))
    replicator.add_global_table(table, [EAST, WEST])
    source, replica = _buckets(emulator, delete_markers=False)
    emulator.client("dynamodb", EAST).put_item(TableName=table, Item={"pk": {"S": "k"}})
    emulator.client("s3", EAST).put_object(Bucket=source, Key="late", Body=b"late")
    emulator.lose_region(EAST)
    lost_at = time.time()
    time.sleep(SLOW_LAG + 0.5)  # past the lag: they would have arrived
    assert _item(emulator, table, WEST, "k") is None and _replica_body(emulator, replica, "late") is None
    assert replicator.pending()["held"] == 2
    emulator.restore_region(EAST)
    restored_at = time.time()
    assert _eventually(lambda: _item(emulator, table, WEST, "k") is not None, SLOW_LAG + SLACK)
    assert _eventually(lambda: _replica_body(emulator, replica, "late") == b"late", SLOW_LAG + SLACK)
    assert replicator.wait_until_idle(SLACK)
    late = [d for d in replicator.deliveries() if d.source in (table, source)]
    assert len(late) == 2 and all(d.held and d.delivered_at >= restored_at + SLOW_LAG for d in late)
    assert all(d.written_at < lost_at for d in late)


def test_permanent_loss_is_an_explicit_option(emulator: Emulator, slow_replicator: Replicator) -> None:
    replicator = slow_replicator
    table = _table(emulator, (EAST, WEST))
    replicator.add_global_table(table, [EAST, WEST])
    emulator.client("dynamodb", EAST).put_item(TableName=table, Item={"pk": {"S": "gone"}})
    emulator.lose_region(EAST)
    lost = replicator.drop_unreplicated(EAST)
    emulator.restore_region(EAST)
    time.sleep(SLOW_LAG + 0.5)
    assert [d.outcome for d in lost] == ["lost"] and _item(emulator, table, WEST, "gone") is None


def test_replication_into_a_lost_region_waits_for_it(emulator: Emulator, replicator: Replicator) -> None:
    table = _table(emulator, (EAST, WEST))
    replicator.add_global_table(table, [EAST, WEST])
    emulator.lose_region(WEST)
    emulator.client("dynamodb", EAST).put_item(TableName=table, Item={"pk": {"S": "k"}})
    time.sleep(LAG * 2)
    assert replicator.pending()["held"] == 1
    emulator.restore_region(WEST)
    assert _eventually(lambda: _item(emulator, table, WEST, "k") is not None)


# MRSC ------------------------------------------------------------------------------------------------------------


def test_mrsc_write_is_everywhere_before_it_is_acknowledged(emulator: Emulator, replicator: Replicator) -> None:
    table = _table(emulator, (EAST, EAST2, WEST))
    replicator.add_global_table(table, [EAST, EAST2, WEST], mode="MRSC")
    emulator.client("dynamodb", EAST).put_item(TableName=table, Item={"pk": {"S": "k"}, "v": {"N": "1"}})
    assert all(_item(emulator, table, region, "k") is not None for region in (EAST2, WEST))  # no wait


def test_mrsc_needs_a_majority_of_the_region_set(emulator: Emulator, replicator: Replicator) -> None:
    table = _table(emulator, (EAST, EAST2, WEST))
    replicator.add_global_table(table, [EAST, EAST2, WEST], mode="MRSC")
    emulator.lose_region(WEST)  # 2 of 3: still a majority
    emulator.client("dynamodb", EAST).put_item(TableName=table, Item={"pk": {"S": "two"}})
    assert _item(emulator, table, EAST2, "two") is not None
    emulator.lose_region(EAST2)  # 1 of 3: no majority
    with pytest.raises(ClientError) as refused:
        emulator.client("dynamodb", EAST, max_attempts=1).put_item(TableName=table, Item={"pk": {"S": "one"}})
    assert refused.value.response["Error"]["Code"] == "ServiceUnavailable"
    assert _item(emulator, table, EAST, "one") is None  # refused, not half-written
    emulator.restore_region(EAST2)
    emulator.restore_region(WEST)
    assert _eventually(lambda: _item(emulator, table, WEST, "two") is not None)  # the lost replica catches up


def test_mrsc_concurrent_writes_from_two_regions_conflict(emulator: Emulator, replicator: Replicator) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from emulator.regions import Forward, ProxiedRequest, ProxiedResponse

    table = _table(emulator, (EAST, EAST2, WEST))
    replicator.add_global_table(table, [EAST, EAST2, WEST], mode="MRSC")

    def slow_east_writes(request: ProxiedRequest, forward: Forward) -> ProxiedResponse:
        if request.signing_region == EAST and (request.target or "").endswith("PutItem"):
            time.sleep(1.5)  # inside the replicator's item lock: this write is "in progress" for 1.5 s
        return forward()

    emulator.add_interceptor(slow_east_writes)
    try:
        with ThreadPoolExecutor(1) as pool:
            east = pool.submit(
                emulator.client("dynamodb", EAST).put_item, TableName=table, Item={"pk": {"S": "k"}, "v": {"S": "e"}}
            )
            time.sleep(0.5)
            with pytest.raises(ClientError) as conflict:
                emulator.client("dynamodb", EAST2, max_attempts=1).put_item(
                    TableName=table, Item={"pk": {"S": "k"}, "v": {"S": "e2"}}
                )
            east.result(timeout=10)
    finally:
        emulator.remove_interceptor(slow_east_writes)
    assert conflict.value.response["Error"]["Code"] == "ReplicatedWriteConflictException"
    assert all(
        _item(emulator, table, region, "k") == {"pk": {"S": "k"}, "v": {"S": "e"}} for region in (EAST, EAST2, WEST)
    )


def test_mrsc_configuration_is_checked() -> None:
    with Emulator([EAST, EAST2]) as small:
        replicator = Replicator(small)
        with pytest.raises(ValueError, match="three replicas, or two and a witness"):
            replicator.add_global_table("t", [EAST, EAST2], mode="MRSC")


# pause -----------------------------------------------------------------------------------------------------------


def test_pause_holds_replication_and_resume_delivers(emulator: Emulator, replicator: Replicator) -> None:
    table = _table(emulator, (EAST, WEST))
    replicator.add_global_table(table, [EAST, WEST])
    replicator.pause(table)
    emulator.client("dynamodb", EAST).put_item(TableName=table, Item={"pk": {"S": "paused"}})
    time.sleep(LAG * 3)
    assert _item(emulator, table, WEST, "paused") is None
    replicator.resume(table)
    assert _eventually(lambda: _item(emulator, table, WEST, "paused") is not None)
