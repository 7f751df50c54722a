"""Failback (S3 reconcile-then-copy-back, DynamoDB conflict report, healthy-time gate) on moto; Aurora global
failover/switchover and ARC routing controls through botocore's Stubber (emulated: moto models neither), with
request shapes validated against the service models; RDS read-replica promotion on moto."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from handlers.app_setting import read_setting
from handlers.failover import actions
from handlers.failover.failback import FailbackClients, failback
from handlers.failover.orchestrator import run_once
from handlers.failover.site import Site
from handlers.failover.state import FAILED_OVER, PRIMARY, SiteStore
from tests.handlers.failover.conftest import APP, RECOVERY, World, descriptor
from tests.handlers.failover.conftest import PRIMARY as PRIMARY_REGION

NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


def fail_over(world: World) -> None:
    world.primary.mode = "failing"
    for i in range(3):
        run_once(world.site, world.clients, world.probe, NOW + timedelta(seconds=10 * i), clock=world.clock)
    assert SiteStore(world.clients.dynamodb, world.site.lock_table).read().phase == FAILED_OVER


def failback_clients(world: World) -> FailbackClients:
    return FailbackClients(
        recovery=world.clients,
        s3_primary=boto3.client("s3", PRIMARY_REGION),
        dynamodb_primary=boto3.client("dynamodb", PRIMARY_REGION),
    )


def healthy_rounds(world: World, start: datetime, count: int) -> None:
    world.primary.mode = "healthy"
    for i in range(count):
        run_once(world.site, world.clients, world.probe, start + timedelta(minutes=i), clock=world.clock)


def test_failback_waits_for_the_healthy_time(world: World) -> None:
    fail_over(world)
    healthy_rounds(world, NOW + timedelta(minutes=1), 2)  # healthy since +1 min
    early = failback(world.site, failback_clients(world), world.probe, NOW + timedelta(minutes=20))
    assert early.outcome == "waiting-for-primary-health"
    assert "of the 1800 s required" in early.reasons[0]
    assert SiteStore(world.clients.dynamodb, world.site.lock_table).read().phase == FAILED_OVER


def test_an_unhealthy_probe_resets_the_healthy_time(world: World) -> None:
    fail_over(world)
    healthy_rounds(world, NOW + timedelta(minutes=1), 1)
    world.primary.mode = "failing"
    run_once(world.site, world.clients, world.probe, NOW + timedelta(minutes=5), clock=world.clock)
    assert SiteStore(world.clients.dynamodb, world.site.lock_table).read().primary_healthy_since is None


def test_failback_copies_back_replica_writes_then_flips(world: World) -> None:
    primary_s3, replica_s3 = boto3.client("s3", PRIMARY_REGION), boto3.client("s3", RECOVERY)
    primary_s3.put_object(Bucket="distronation-prod-audio-us-east-1", Key="old.txt", Body=b"before")
    primary_s3.put_object(Bucket="distronation-prod-audio-us-east-1", Key="gone.txt", Body=b"before")
    fail_over(world)
    # While failed over, the application writes to the replica (moto never replicates, as S3 would not back).
    replica_s3.put_object(Bucket="distronation-prod-audio-us-west-2", Key="new.txt", Body=b"written in us-west-2")
    replica_s3.put_object(Bucket="distronation-prod-audio-us-west-2", Key="gone.txt", Body=b"x")
    replica_s3.delete_object(Bucket="distronation-prod-audio-us-west-2", Key="gone.txt")
    boto3.client("dynamodb", RECOVERY).put_item(
        TableName="distronation-prod-sessions", Item={"id": {"S": "s1"}, "v": {"S": "west"}}
    )
    boto3.client("dynamodb", PRIMARY_REGION).put_item(
        TableName="distronation-prod-sessions", Item={"id": {"S": "s1"}, "v": {"S": "east"}}
    )
    healthy_rounds(world, NOW + timedelta(minutes=1), 1)
    # The replica's objects carry real timestamps; the failover happened at NOW, two hours ago.
    result = failback(world.site, failback_clients(world), world.probe, NOW + timedelta(minutes=40))
    assert result.outcome == "failed-back", result.reasons
    assert result.buckets["audio"] == {"copied": 1, "deleted": 1, "failed": []}
    assert primary_s3.get_object(Bucket="distronation-prod-audio-us-east-1", Key="new.txt")["Body"].read() == (
        b"written in us-west-2"
    )
    with pytest.raises(primary_s3.exceptions.NoSuchKey):
        primary_s3.get_object(Bucket="distronation-prod-audio-us-east-1", Key="gone.txt")
    assert result.tables["sessions"]["differingItems"] == 1
    ssm = boto3.client("ssm", RECOVERY)
    assert read_setting(ssm, f"/dr/{APP}/active-region") == PRIMARY_REGION
    assert read_setting(ssm, f"/dr/{APP}/active-bucket/audio") == "distronation-prod-audio-us-east-1"
    assert SiteStore(world.clients.dynamodb, world.site.lock_table).read().phase == PRIMARY


def test_failback_stops_when_reconciliation_fails(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    fail_over(world)
    boto3.client("s3", RECOVERY).put_object(Bucket="distronation-prod-audio-us-west-2", Key="new.txt", Body=b"x")
    healthy_rounds(world, NOW + timedelta(minutes=1), 1)
    clients = failback_clients(world)

    def denied(**_: Any) -> Any:  # the primary refuses writes (moto enforces no bucket policy on copies)
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, "CopyObject")

    monkeypatch.setattr(clients.s3_primary, "copy_object", denied)
    result = failback(world.site, clients, world.probe, NOW + timedelta(minutes=40))
    assert result.outcome == "reconciliation-incomplete"
    assert SiteStore(world.clients.dynamodb, world.site.lock_table).read().phase == FAILED_OVER
    assert read_setting(boto3.client("ssm", RECOVERY), f"/dr/{APP}/active-region") == RECOVERY


# --- emulated with Stubber: Aurora global database and ARC ----------------------------------------------------------

GLOBAL = "distronation-global"
SECONDARY_ARN = "arn:aws:rds:us-west-2:123456789012:cluster:distronation-usw2"
OLD_PRIMARY_ARN = "arn:aws:rds:us-east-1:123456789012:cluster:distronation-use1"


def aurora_site(world: World) -> Site:
    document = descriptor(
        world.primary.url,
        world.secondary.url,
        world.topic_arn,
        database={"engine": "aurora-global", "identifier": "distronation-usw2", "globalClusterIdentifier": GLOBAL},
    )
    return Site.from_descriptor(document)


def test_aurora_promotion_is_a_global_failover_to_the_recovery_cluster(world: World) -> None:
    """Emulated (Stubber): FailoverGlobalCluster with AllowDataLoss, sent to the recovery region's endpoint."""
    rds = boto3.client("rds", RECOVERY)
    assert rds.meta.region_name == RECOVERY
    with Stubber(rds) as stub:
        stub.add_response(
            "describe_db_clusters",
            {"DBClusters": [{"DBClusterIdentifier": "distronation-usw2", "DBClusterArn": SECONDARY_ARN}]},
            {"DBClusterIdentifier": "distronation-usw2"},
        )
        stub.add_response(
            "failover_global_cluster",
            {"GlobalCluster": {"GlobalClusterIdentifier": GLOBAL}},
            {"GlobalClusterIdentifier": GLOBAL, "TargetDbClusterIdentifier": SECONDARY_ARN, "AllowDataLoss": True},
        )
        for writer in (False, True):
            stub.add_response(
                "describe_global_clusters",
                {"GlobalClusters": [{"GlobalClusterMembers": [{"DBClusterArn": SECONDARY_ARN, "IsWriter": writer}]}]},
                {"GlobalClusterIdentifier": GLOBAL},
            )
        world.clients.rds = rds
        done = actions.promote_database(world.clients, aurora_site(world), world.clock)
        stub.assert_no_pending_responses()
    assert done["action"] == "FailoverGlobalCluster" and done["writable"] is True


def test_aurora_failback_switches_over_to_the_rejoined_old_primary(world: World) -> None:
    """Emulated (Stubber): SwitchoverGlobalCluster only once the old primary is a secondary again."""
    from handlers.failover.failback import switch_back_database

    rds = boto3.client("rds", RECOVERY)
    members = [{"DBClusterArn": SECONDARY_ARN, "IsWriter": True}]
    with Stubber(rds) as stub:
        stub.add_response("describe_global_clusters", {"GlobalClusters": [{"GlobalClusterMembers": members}]})
        assert "has rejoined" in switch_back_database(aurora_site(world), None, rds)["problem"]
        rejoined = [*members, {"DBClusterArn": OLD_PRIMARY_ARN, "IsWriter": False}]
        stub.add_response("describe_global_clusters", {"GlobalClusters": [{"GlobalClusterMembers": rejoined}]})
        stub.add_response(
            "switchover_global_cluster",
            {"GlobalCluster": {"GlobalClusterIdentifier": GLOBAL}},
            {"GlobalClusterIdentifier": GLOBAL, "TargetDbClusterIdentifier": OLD_PRIMARY_ARN},
        )
        done = switch_back_database(aurora_site(world), None, rds)
        stub.assert_no_pending_responses()
    assert done == {"action": "SwitchoverGlobalCluster", "target": OLD_PRIMARY_ARN}


def test_rds_read_replica_promotion_on_moto(world: World) -> None:
    primary_rds, rds = boto3.client("rds", PRIMARY_REGION), boto3.client("rds", RECOVERY)
    source = primary_rds.create_db_instance(
        DBInstanceIdentifier="distronation-use1",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="admin",
        MasterUserPassword="password123",
        AllocatedStorage=20,
    )["DBInstance"]["DBInstanceArn"]
    rds.create_db_instance_read_replica(
        DBInstanceIdentifier="distronation-usw2", SourceDBInstanceIdentifier=source, DBInstanceClass="db.t3.micro"
    )
    site = Site.from_descriptor(
        descriptor(
            world.primary.url,
            world.secondary.url,
            world.topic_arn,
            database={"engine": "rds-replica", "identifier": "distronation-usw2"},
        )
    )
    promoted: list[str] = []
    promote, describe = rds.promote_read_replica, rds.describe_db_instances

    def promote_on_moto(**kwargs: Any) -> Any:
        promoted.append(kwargs["DBInstanceIdentifier"])
        return promote(**kwargs)

    def describe_as_aws(**kwargs: Any) -> Any:
        # moto keeps ReadReplicaSourceDBInstanceIdentifier after a promotion; AWS clears it (the instance is
        # standalone). Emulated here, and only after moto accepted the promotion.
        found = describe(**kwargs)
        if promoted:
            for instance in found["DBInstances"]:
                instance.pop("ReadReplicaSourceDBInstanceIdentifier", None)
        return found

    rds.promote_read_replica, rds.describe_db_instances = promote_on_moto, describe_as_aws
    world.clients.rds = rds
    done = actions.promote_database(world.clients, site, world.clock)
    assert promoted == ["distronation-usw2"]
    assert done["action"] == "PromoteReadReplica" and done["writable"] is True


def test_arc_switch_tries_each_cluster_endpoint_until_one_answers(world: World) -> None:
    """Emulated (Stubber): UpdateRoutingControlState on ARC's regional data-plane endpoints."""
    arn = "arn:aws:route53-recovery-control::123456789012:controlpanel/abc/routingcontrol/def"
    endpoints = [
        {"endpoint": "https://aaaa.route53-recovery-cluster.us-east-1.amazonaws.com/v1", "region": "us-east-1"},
        {"endpoint": "https://bbbb.route53-recovery-cluster.us-west-2.amazonaws.com/v1", "region": "us-west-2"},
    ]
    site = Site.from_descriptor(
        descriptor(
            world.primary.url,
            world.secondary.url,
            world.topic_arn,
            switch={"kind": "arc", "routingControlArn": arn, "clusterEndpoints": endpoints},
        )
    )
    made: list[Any] = []

    def factory(endpoint: str, region: str) -> Any:
        client = boto3.client("route53-recovery-cluster", region_name=region, endpoint_url=endpoint)
        stub = Stubber(client)
        expected = {"RoutingControlArn": arn, "RoutingControlState": "Off"}
        if region == "us-east-1":  # the failed region's endpoint does not answer
            stub.add_client_error("update_routing_control_state", "EndpointTemporarilyUnavailableException")
        else:
            stub.add_response("update_routing_control_state", {}, expected)
        stub.activate()
        made.append(stub)
        return client

    world.clients.arc = factory
    assert actions.flip_switch(world.clients, site, failed_over=True, now=NOW) == "routing-control via us-west-2"
    for stub in made:
        stub.assert_no_pending_responses()


def test_failback_without_a_failover_time_copies_nothing(world: World) -> None:
    replica_s3 = boto3.client("s3", RECOVERY)
    fail_over(world)
    replica_s3.put_object(Bucket="distronation-prod-audio-us-west-2", Key="new.txt", Body=b"written in us-west-2")
    healthy_rounds(world, NOW + timedelta(minutes=1), 1)
    store = SiteStore(world.clients.dynamodb, world.site.lock_table)
    state = store.read()
    # A lost failover time would otherwise make every replica version since the epoch a change to copy back.
    assert store.write(state, dataclasses.replace(state, failed_over_at=None))
    result = failback(world.site, failback_clients(world), world.probe, NOW + timedelta(hours=1))
    assert result.outcome == "reconciliation-incomplete"
    assert "no failover time" in result.reasons[0]
    primary = boto3.client("s3", PRIMARY_REGION).list_objects_v2(Bucket="distronation-prod-audio-us-east-1")
    assert "new.txt" not in [o["Key"] for o in primary.get("Contents", [])]
    assert store.read().phase == FAILED_OVER
