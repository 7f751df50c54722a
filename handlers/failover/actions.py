"""What a transition touches, one bounded step at a time: the switch, the application's settings, the standby's
readiness and its database, DNS verification, the report.

Each function takes its clients and does one short piece of work; none waits (the orchestrator polls the next
round) and none calls Route 53's control plane. Every write here is idempotent: a round repeated after a lost
response or a crash writes the same values again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from handlers.app_setting import read_setting, write_setting
from handlers.failover.dns import Answer, Resolver, answers_with
from handlers.failover.probe import Probe
from handlers.failover.site import Site

SWITCH_METRIC = "FailoverSwitch"  # stackmodel/site.py: 1 = failed over, 0 = primary active
ArcClientFactory = Callable[[str, str], Any]  # (endpoint URL, region) -> route53-recovery-cluster client


@dataclass
class Clients:
    """The recovery region's clients, plus the primary region's (best effort while failing over, needed to fail
    back: the reconcile writes there and Aurora's old primary is asked whether it is the writer)."""

    cloudwatch: Any
    ssm: Any
    dynamodb: Any
    sns: Any
    s3: Any
    rds: Any | None = None
    ssm_primary: Any | None = None
    arc: ArcClientFactory | None = None
    resolver: Resolver | None = None  # asks the zone's name servers (handlers/failover/dns.py)
    s3_primary: Any | None = None
    dynamodb_primary: Any | None = None
    rds_primary: Any | None = None
    sleep: Callable[[float], None] = field(default=lambda seconds: None)


# --- the switch --------------------------------------------------------------------------------------------------


def switch_dimensions(site: Site) -> list[dict[str, str]]:
    """``Site=<app>/<name>``: the switch metric's and the timing metrics' one dimension (stackmodel/site.py)."""
    return [{"Name": "Site", "Value": f"{site.app}/{site.name}"}]


def uses_switch_metric(site: Site) -> bool:
    """The alarm path (the ``cloudwatch`` switch, and the ``endpoint`` switch's fail-static alarm child)."""
    return site.switch_kind != "arc"


def publish_switch(clients: Clients, site: Site, failed_over: bool, now: datetime) -> None:
    """The metric behind the switch alarm, from the state's ``switch`` as read this round; published every round.

    A round that read the state just before the switch moved publishes the old value once more. The alarm (and
    Route 53's copy of it) takes the period's **Maximum**, so a stale 0 beside a 1 in one period never hands DNS
    back, and a stale 1 after failback delays the return by one period at most: never the wrong way for longer."""
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


def routing_control_arns(site: Site) -> tuple[str, str]:
    """(primary cell's control, secondary cell's control) of the ``arc`` switch."""
    switch = site.switch
    primary = switch.get("primaryRoutingControlArn") or switch.get("routingControlArn")
    secondary = switch.get("secondaryRoutingControlArn")
    if not primary or not secondary:
        raise ValueError(
            "switch 'arc' needs primaryRoutingControlArn and secondaryRoutingControlArn in the site descriptor: "
            "failing over turns the secondary On in the same call that turns the primary Off"
        )
    return str(primary), str(secondary)


def set_routing_controls(clients: Clients, site: Site, failed_over: bool) -> str:
    """ONE ``UpdateRoutingControlStates`` call with both entries: failing over sets the primary Off and the
    secondary On, failing back the reverse. One call, so the "at least one On" safety rule never sees both Off;
    tried on each cluster endpoint until one answers (ARC's data plane: five regional endpoints)."""
    if clients.arc is None:
        raise ValueError("switch 'arc' needs a route53-recovery-cluster client factory")
    primary, secondary = routing_control_arns(site)
    entries = [
        {"RoutingControlArn": primary, "RoutingControlState": "Off" if failed_over else "On"},
        {"RoutingControlArn": secondary, "RoutingControlState": "On" if failed_over else "Off"},
    ]
    errors: list[str] = []
    for endpoint in site.switch.get("clusterEndpoints", []):
        try:
            client = clients.arc(endpoint["endpoint"], endpoint["region"])
            client.update_routing_control_states(UpdateRoutingControlStateEntries=entries)
            return str(endpoint["region"])
        except (ClientError, BotoCoreError) as error:
            errors.append(f"{endpoint['region']}: {error}")
    raise RuntimeError("no ARC cluster endpoint accepted the change: " + "; ".join(errors or ["none configured"]))


# --- settings ------------------------------------------------------------------------------------------------------


def epoch_parameter(site: Site) -> str:
    """``/dr/<app>/active-epoch``, beside ``active-region``: the fencing token an application compares."""
    return site.active_region_parameter.rsplit("/", 1)[0] + "/active-epoch"


def move_settings(clients: Clients, site: Site, to_recovery: bool, epoch: int) -> dict[str, Any]:
    """``active-bucket/<logical>``, ``active-epoch`` and ``active-region`` in the recovery region (authoritative;
    ``active-region`` last, so an application that sees the new region also sees the new buckets), then the
    primary region's copy of ``active-region`` and ``active-epoch`` best effort (it may be gone)."""
    region = site.recovery_region if to_recovery else site.primary_region
    written: dict[str, Any] = {"activeRegion": region, "epoch": epoch, "activeBuckets": {}}
    for bucket in site.buckets:
        target = bucket["replica"] if to_recovery else bucket["primary"]
        write_setting(clients.ssm, site.active_bucket_parameters[bucket["logical"]], target)
        written["activeBuckets"][bucket["logical"]] = target
    write_setting(clients.ssm, epoch_parameter(site), str(epoch))
    write_setting(clients.ssm, site.active_region_parameter, region)
    written["primaryRegionCopy"] = "written"
    if clients.ssm_primary is None:
        written["primaryRegionCopy"] = "no client"
        return written
    try:
        write_setting(clients.ssm_primary, epoch_parameter(site), str(epoch))
        write_setting(clients.ssm_primary, site.active_region_parameter, region)
    except (ClientError, BotoCoreError) as error:  # the failed region may not answer; the recovery copy rules
        written["primaryRegionCopy"] = f"not written: {error}"
    return written


def settings_agree(clients: Clients, site: Site, to_recovery: bool) -> bool:
    """Whether the recovery region's settings name the side ``to_recovery`` says (status and tests read it)."""
    region = site.recovery_region if to_recovery else site.primary_region
    if read_setting(clients.ssm, site.active_region_parameter) != region:
        return False
    return all(
        read_setting(clients.ssm, site.active_bucket_parameters[b["logical"]])
        == (b["replica"] if to_recovery else b["primary"])
        for b in site.buckets
    )


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
    """(problems, observed lag in seconds) for the linked database. The lag is never a problem here: it is the
    RPO estimate an unplanned failover records, and the gate a manual one applies (``lag_gate``)."""
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
    problems = [] if status == "available" else [f"database {identifier} is {status}, not available"]
    return problems, lag


def lag_gate(site: Site, lag: float | None) -> str | None:
    """A manual failover's refusal (None: go): the lag is unknown or over the RPO, so data would be lost.
    ``--accept-data-loss`` overrides it; an unplanned failover never applies it (the primary is already gone)."""
    if site.database is None:
        return None
    if lag is None:
        return f"database {site.database['identifier']}: replication lag unknown (no datapoint in 5 minutes)"
    if lag > site.rpo_minutes * 60:
        identifier = site.database["identifier"]
        return f"database {identifier}: replication lag {lag:.0f} s exceeds the RPO ({site.rpo_minutes} min)"
    return None


def standby_problems(clients: Clients, site: Site, probe: Probe, now: datetime) -> tuple[list[str], float | None]:
    """Everything that must be true before traffic moves (empty means ready), and the database's lag."""
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


# --- database: one step per round ------------------------------------------------------------------------------


def database_writable(clients: Clients, site: Site) -> bool:
    """The recovery region's database takes writes (the failover is done for it)."""
    database, rds = site.database, clients.rds
    if database is None or rds is None:
        return True
    if database["engine"] == "aurora-global":
        target = rds.describe_db_clusters(DBClusterIdentifier=database["identifier"])["DBClusters"][0]["DBClusterArn"]
        found = rds.describe_global_clusters(GlobalClusterIdentifier=database["globalClusterIdentifier"])
        members = found["GlobalClusters"][0]["GlobalClusterMembers"]
        return any(m["DBClusterArn"] == target and m.get("IsWriter") for m in members)
    instance = rds.describe_db_instances(DBInstanceIdentifier=database["identifier"])["DBInstances"][0]
    return instance["DBInstanceStatus"] == "available" and not instance.get("ReadReplicaSourceDBInstanceIdentifier")


def start_promotion(clients: Clients, site: Site) -> str:
    """Ask for the promotion (returns at once; ``database_writable`` is polled in later rounds)."""
    database, rds = site.database, clients.rds
    if database is None or rds is None:
        return "none"
    if database["engine"] == "aurora-global":
        target = rds.describe_db_clusters(DBClusterIdentifier=database["identifier"])["DBClusters"][0]["DBClusterArn"]
        # Sent to the recovery region's endpoint: the primary region may be gone (AllowDataLoss: unplanned).
        rds.failover_global_cluster(
            GlobalClusterIdentifier=database["globalClusterIdentifier"],
            TargetDbClusterIdentifier=target,
            AllowDataLoss=True,
        )
        return "FailoverGlobalCluster"
    rds.promote_read_replica(DBInstanceIdentifier=database["identifier"])
    return "PromoteReadReplica"


# --- DNS: one resolve per round ------------------------------------------------------------------------------------


def resolve(clients: Clients, name: str, record_type: str) -> list[Answer] | None:
    """The zone's name servers' answer for ``name`` (None: no resolver, or none answered)."""
    if clients.resolver is None:
        return None
    try:
        return clients.resolver(name, record_type)
    except OSError:
        return None


def dns_moved(clients: Clients, site: Site, to_recovery: bool) -> tuple[bool | None, list[str]]:
    """(whether ``<record>`` answers with the side named, the answer values); None when unknown."""
    answers = resolve(clients, site.record_name, site.record_type)
    if answers is None:
        return None, []
    target = site.secondary_host if to_recovery else site.primary_host
    return answers_with(answers, target), [a.value for a in answers]


# --- the report --------------------------------------------------------------------------------------------------


def notify(clients: Clients, site: Site, subject: str, message: str) -> None:
    if site.topic_arn:
        clients.sns.publish(TopicArn=site.topic_arn, Subject=subject[:100], Message=message)


def publish_timings(clients: Clients, site: Site, timings: dict[str, float], now: datetime) -> None:
    if not timings:
        return
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
