"""What a failover touches: the switch, the application's settings, the standby's readiness and its database.

Each function takes its clients; none calls Route 53's control plane.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from handlers.app_setting import write_setting
from handlers.failover.dns import Resolver
from handlers.failover.probe import Probe
from handlers.failover.site import Site

SWITCH_METRIC = "FailoverSwitch"  # components/site.py: 1 = failed over, 0 = primary active
DATABASE_WAIT_SECONDS = 600
ArcClientFactory = Callable[[str, str], Any]  # (endpoint URL, region) -> route53-recovery-cluster client


@dataclass
class Clients:
    """Clients in the recovery region (``ssm_primary`` is the failed region's, used best effort)."""

    cloudwatch: Any
    ssm: Any
    dynamodb: Any
    sns: Any
    s3: Any
    rds: Any | None = None
    ssm_primary: Any | None = None
    arc: ArcClientFactory | None = None
    resolver: Resolver | None = None
    sleep: Callable[[float], None] = field(default=lambda seconds: None)


# --- the switch --------------------------------------------------------------------------------------------------


def switch_dimensions(site: Site) -> list[dict[str, str]]:
    """``Site=<app>/<name>``: the switch metric's and the timing metrics' one dimension (components/site.py)."""
    return [{"Name": "Site", "Value": f"{site.app}/{site.name}"}]


def publish_switch(clients: Clients, site: Site, failed_over: bool, now: datetime) -> None:
    """The metric behind the switch alarm; published every round, so the alarm never lacks data."""
    clients.cloudwatch.put_metric_data(
        Namespace=site.switch.get("namespace", site.metrics_namespace),
        MetricData=[
            {
                "MetricName": site.switch.get("metricName", SWITCH_METRIC),
                "Dimensions": switch_dimensions(site),
                "Value": 1.0 if failed_over else 0.0,
                "Unit": "None",
                "Timestamp": now,
                "StorageResolution": 60,  # standard: Route 53 alarm-based checks accept nothing finer
            }
        ],
    )


def set_routing_control(clients: Clients, site: Site, primary_on: bool) -> str:
    """Turn the primary cell's routing control on or off through the first cluster endpoint that answers
    (ARC's data plane: five regional endpoints, try each; AWS's guidance)."""
    if clients.arc is None:
        raise ValueError("switch 'arc' needs a route53-recovery-cluster client factory")
    errors: list[str] = []
    for endpoint in site.switch.get("clusterEndpoints", []):
        try:
            client = clients.arc(endpoint["endpoint"], endpoint["region"])
            client.update_routing_control_state(
                RoutingControlArn=site.switch["routingControlArn"], RoutingControlState="On" if primary_on else "Off"
            )
            return str(endpoint["region"])
        except (ClientError, BotoCoreError) as error:
            errors.append(f"{endpoint['region']}: {error}")
    raise RuntimeError("no ARC cluster endpoint accepted the change: " + "; ".join(errors or ["none configured"]))


def flip_switch(clients: Clients, site: Site, failed_over: bool, now: datetime) -> str:
    if site.switch_kind == "arc":
        return "routing-control via " + set_routing_control(clients, site, primary_on=not failed_over)
    publish_switch(clients, site, failed_over, now)
    return "switch-metric"


# --- settings ------------------------------------------------------------------------------------------------------


def move_settings(clients: Clients, site: Site, to_recovery: bool) -> dict[str, Any]:
    """``active-region`` in both regions (the failed one best effort) and ``active-bucket/<logical>``."""
    region = site.recovery_region if to_recovery else site.primary_region
    written: dict[str, Any] = {"activeRegion": region, "activeBuckets": {}, "primaryRegionSetting": "written"}
    write_setting(clients.ssm, site.active_region_parameter, region)
    if clients.ssm_primary is not None:
        try:
            write_setting(clients.ssm_primary, site.active_region_parameter, region)
        except (ClientError, BotoCoreError) as error:  # the failed region may not answer; the recovery copy rules
            written["primaryRegionSetting"] = f"not written: {error}"
    else:
        written["primaryRegionSetting"] = "no client"
    for bucket in site.buckets:
        target = bucket["replica"] if to_recovery else bucket["primary"]
        write_setting(clients.ssm, site.active_bucket_parameters[bucket["logical"]], target)
        written["activeBuckets"][bucket["logical"]] = target
    return written


# --- standby -------------------------------------------------------------------------------------------------------


def _lag_seconds(clients: Clients, metric: str, dimension: str, identifier: str, now: datetime) -> float | None:
    points = clients.cloudwatch.get_metric_statistics(
        Namespace="AWS/RDS",
        MetricName=metric,
        Dimensions=[{"Name": dimension, "Value": identifier}],
        StartTime=now - timedelta(minutes=5),
        EndTime=now,
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    if not points:
        return None
    newest = max(points, key=lambda point: point["Timestamp"])["Maximum"]
    # AuroraGlobalDBReplicationLag is in milliseconds, ReplicaLag in seconds (RDS/Aurora CloudWatch metrics pages).
    return float(newest) / 1000 if metric == "AuroraGlobalDBReplicationLag" else float(newest)


def database_readiness(clients: Clients, site: Site, now: datetime) -> tuple[list[str], float | None]:
    """(problems, observed lag in seconds) for the linked database."""
    database = site.database
    if database is None:
        return [], None
    if clients.rds is None:
        return ["no RDS client for the linked database"], None
    identifier = database["identifier"]
    try:
        if database["engine"] == "aurora-global":
            status = clients.rds.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0]["Status"]
            lag = _lag_seconds(clients, "AuroraGlobalDBReplicationLag", "DBClusterIdentifier", identifier, now)
        else:
            status = clients.rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0][
                "DBInstanceStatus"
            ]
            lag = _lag_seconds(clients, "ReplicaLag", "DBInstanceIdentifier", identifier, now)
    except (ClientError, BotoCoreError, IndexError) as error:
        return [f"database {identifier}: {error}"], None
    problems = []
    if status != "available":
        problems.append(f"database {identifier} is {status}, not available")
    if lag is None:
        problems.append(f"database {identifier}: no replication-lag datapoint in the last 5 minutes")
    elif lag > site.rpo_minutes * 60:
        problems.append(f"database {identifier}: replication lag {lag:.0f} s exceeds the RPO {site.rpo_minutes} min")
    return problems, lag


def standby_problems(clients: Clients, site: Site, probe: Probe, now: datetime) -> tuple[list[str], float | None]:
    """Everything that must be true before traffic moves; empty means ready."""
    problems: list[str] = []
    secondary = probe(site.secondary_url)
    if not secondary.healthy:
        problems.append(f"secondary endpoint {site.secondary_url} is unhealthy ({secondary.detail})")
    for table in site.tables:
        try:
            status = clients.dynamodb.describe_table(TableName=table["name"])["Table"]["TableStatus"]
        except (ClientError, BotoCoreError) as error:
            status = f"unreadable ({error})"
        if status != "ACTIVE":
            problems.append(f"table {table['name']} in {site.recovery_region} is {status}, not ACTIVE")
    for bucket in site.buckets:
        try:
            clients.s3.head_bucket(Bucket=bucket["replica"])
        except (ClientError, BotoCoreError) as error:
            problems.append(f"replica bucket {bucket['replica']} is not readable ({error})")
    database, lag = database_readiness(clients, site, now)
    return problems + database, lag


# --- database promotion --------------------------------------------------------------------------------------------


def promote_database(clients: Clients, site: Site, clock: Callable[[], float]) -> dict[str, Any]:
    """Make the standby database writable; returns what was done and how long it took."""
    database = site.database
    if database is None or clients.rds is None:
        return {}
    started = clock()
    rds = clients.rds
    identifier = database["identifier"]
    if database["engine"] == "aurora-global":
        cluster = rds.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0]
        target = cluster["DBClusterArn"]
        # Sent to the recovery region's endpoint: the primary region may be gone (AllowDataLoss: unplanned).
        rds.failover_global_cluster(
            GlobalClusterIdentifier=database["globalClusterIdentifier"],
            TargetDbClusterIdentifier=target,
            AllowDataLoss=True,
        )

        def writable() -> bool:
            found = rds.describe_global_clusters(GlobalClusterIdentifier=database["globalClusterIdentifier"])
            members = found["GlobalClusters"][0]["GlobalClusterMembers"]
            return any(m["DBClusterArn"] == target and m.get("IsWriter") for m in members)

        action = "FailoverGlobalCluster"
    else:
        rds.promote_read_replica(DBInstanceIdentifier=identifier)

        def writable() -> bool:
            instance = rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
            return instance["DBInstanceStatus"] == "available" and not instance.get(
                "ReadReplicaSourceDBInstanceIdentifier"
            )

        action = "PromoteReadReplica"
    while not writable():
        if clock() - started > DATABASE_WAIT_SECONDS:
            return {"action": action, "writable": False, "seconds": clock() - started}
        clients.sleep(5)
    return {"action": action, "writable": True, "seconds": clock() - started}


def notify(clients: Clients, site: Site, subject: str, message: str) -> None:
    if site.topic_arn:
        clients.sns.publish(TopicArn=site.topic_arn, Subject=subject[:100], Message=message)


def publish_timings(clients: Clients, site: Site, timings: dict[str, float], now: datetime) -> None:
    clients.cloudwatch.put_metric_data(
        Namespace=site.metrics_namespace,
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": switch_dimensions(site),
                "Value": float(value),
                "Unit": "Seconds",
                "Timestamp": now,
            }
            for name, value in timings.items()
        ],
    )
