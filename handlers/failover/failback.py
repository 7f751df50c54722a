"""Failback that loses no writes: reconcile every linked store, then hand DNS and the settings back.

- S3 (reconcile-then-copy-back; replication runs one way, so writes made on the replica during the failover would
  be lost): every key whose current version on the replica changed after the failover is copied back to the primary,
  and every key deleted on the replica then is deleted on the primary (a delete marker, which replication carries
  on). ``drctl audit-replication`` afterwards confirms the pair agrees.
- DynamoDB MREC converges by itself (last writer wins); the report lists the items whose replicas still differ,
  the candidates for a write made in both regions during the failover.
- Aurora: ``SwitchoverGlobalCluster`` back to the old primary once it has rejoined as a secondary.

Nothing flips until the primary has been healthy for ``healthyMinutesBeforeFailback`` *and* every reconciliation
step succeeded.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from handlers.failover import actions
from handlers.failover.actions import Clients
from handlers.failover.probe import Probe
from handlers.failover.site import Site
from handlers.failover.state import FAILED_OVER, PRIMARY, SiteStore, State

NOT_FAILED_OVER = "not-failed-over"
WAITING_FOR_HEALTH = "waiting-for-primary-health"
RECONCILIATION_INCOMPLETE = "reconciliation-incomplete"
LOCKED = "locked"
FAILED_BACK = "failed-back"


@dataclass
class FailbackClients:
    """The recovery region's clients plus the primary region's S3, DynamoDB and RDS (failback needs both)."""

    recovery: Clients
    s3_primary: Any
    dynamodb_primary: Any
    rds_primary: Any | None = None


@dataclass
class FailbackResult:
    outcome: str
    site: str
    reasons: list[str] = field(default_factory=list)
    buckets: dict[str, dict[str, Any]] = field(default_factory=dict)
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    database: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _current_versions(s3: Any, bucket: str) -> dict[str, dict[str, Any]]:
    """key -> its newest version or delete marker (with ``deleted``)."""
    latest: dict[str, dict[str, Any]] = {}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for version in page.get("Versions", []):
            if version["IsLatest"]:
                latest[version["Key"]] = {**version, "deleted": False}
        for marker in page.get("DeleteMarkers", []):
            if marker["IsLatest"]:
                latest[marker["Key"]] = {**marker, "deleted": True}
    return latest


def reconcile_bucket(s3_primary: Any, s3_recovery: Any, bucket: dict[str, str], since: datetime) -> dict[str, Any]:
    """Copy back what the application wrote to the replica while it was active."""
    replica = _current_versions(s3_recovery, bucket["replica"])
    report: dict[str, Any] = {"copied": 0, "deleted": 0, "failed": []}
    for key, version in sorted(replica.items()):
        if version["LastModified"] < since:
            continue
        try:
            if version["deleted"]:
                s3_primary.delete_object(Bucket=bucket["primary"], Key=key)
                report["deleted"] += 1
            else:
                s3_primary.copy_object(
                    Bucket=bucket["primary"],
                    Key=key,
                    CopySource={"Bucket": bucket["replica"], "Key": key, "VersionId": version["VersionId"]},
                )
                report["copied"] += 1
        except (ClientError, BotoCoreError) as error:
            report["failed"].append(f"{key}: {error}")
    return report


def _scan(dynamodb: Any, table: str) -> dict[str, dict[str, Any]]:
    keys = [k["AttributeName"] for k in dynamodb.describe_table(TableName=table)["Table"]["KeySchema"]]
    items: dict[str, dict[str, Any]] = {}
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for item in page["Items"]:
            items[repr(sorted((k, item[k]) for k in keys))] = item
    return items


def table_conflicts(dynamodb_primary: Any, dynamodb_recovery: Any, table: str) -> dict[str, Any]:
    """MREC converges by itself; items still different in the two regions were written in both (or are still
    replicating): the report names them so the owner can check the last writer won what it should."""
    primary, recovery = _scan(dynamodb_primary, table), _scan(dynamodb_recovery, table)
    differing = sorted(key for key in primary.keys() | recovery.keys() if primary.get(key) != recovery.get(key))
    return {"differingItems": len(differing), "keys": differing[:100]}


def switch_back_database(site: Site, rds_primary: Any | None, rds_recovery: Any | None) -> dict[str, Any]:
    """Aurora: switch over to the old primary once it is a healthy secondary again; RDS: a promoted replica has
    no way back (rebuild a replica from the new primary; docs/runbooks/failover.md)."""
    database = site.database
    if database is None:
        return {}
    if database["engine"] != "aurora-global":
        return {"action": "none", "note": "RDS promotion is one-way: re-create the replica in the primary region"}
    if rds_recovery is None:
        return {"action": "none", "problem": "no RDS client"}
    global_id = database["globalClusterIdentifier"]
    members = rds_recovery.describe_global_clusters(GlobalClusterIdentifier=global_id)["GlobalClusters"][0][
        "GlobalClusterMembers"
    ]
    old_primary = next(
        (m for m in members if f":{site.primary_region}:" in m["DBClusterArn"] and not m.get("IsWriter")), None
    )
    if old_primary is None:
        return {"action": "none", "problem": f"no secondary cluster in {site.primary_region} has rejoined yet"}
    rds_recovery.switchover_global_cluster(
        GlobalClusterIdentifier=global_id, TargetDbClusterIdentifier=old_primary["DBClusterArn"]
    )
    return {"action": "SwitchoverGlobalCluster", "target": old_primary["DBClusterArn"]}


def failback(
    site: Site,
    clients: FailbackClients,
    probe: Probe,
    now: datetime,
    *,
    owner: str | None = None,
    dry_run: bool = False,
    clock: Callable[[], float] | None = None,
) -> FailbackResult:
    recovery = clients.recovery
    store = SiteStore(recovery.dynamodb, site.lock_table)
    state = store.read()
    if state.phase != FAILED_OVER:
        return FailbackResult(NOT_FAILED_OVER, site.name, [f"site is in phase {state.phase!r}"])
    if not state.failed_over_at:
        # Without the failover time every replica change since the epoch would be copied over the primary.
        return FailbackResult(
            RECONCILIATION_INCOMPLETE, site.name, ["the site state has no failover time; reconcile by hand first"]
        )
    if not probe(site.primary_url).healthy:
        return FailbackResult(WAITING_FOR_HEALTH, site.name, ["the primary endpoint fails its probe now"])
    needed = site.healthy_minutes_before_failback * 60
    healthy_for = now.timestamp() - state.primary_healthy_since if state.primary_healthy_since else 0.0
    if healthy_for < needed:
        return FailbackResult(
            WAITING_FOR_HEALTH,
            site.name,
            [f"primary healthy for {healthy_for:.0f} s of the {needed} s required (healthyMinutesBeforeFailback)"],
        )
    owner = owner or f"drctl-failback-{uuid.uuid4()}"  # unique: two operators never share the lock
    if not store.acquire(owner, now):
        return FailbackResult(LOCKED, site.name, ["another run holds the failover lock"])
    try:
        result = FailbackResult(FAILED_BACK, site.name)
        since = datetime.fromtimestamp(state.failed_over_at, tz=now.tzinfo)
        for bucket in site.buckets:
            if dry_run:
                result.buckets[bucket["logical"]] = {"plan": f"copy back changes since {since.isoformat()}"}
                continue
            result.buckets[bucket["logical"]] = reconcile_bucket(clients.s3_primary, recovery.s3, bucket, since)
        for table in site.tables:
            result.tables[table["logical"]] = table_conflicts(
                clients.dynamodb_primary, recovery.dynamodb, table["name"]
            )
        failed = [f"{name}: {', '.join(r['failed'])}" for name, r in result.buckets.items() if r.get("failed")]
        if failed:
            result.outcome, result.reasons = RECONCILIATION_INCOMPLETE, failed
            return result
        if dry_run:
            result.outcome = "dry-run"
            return result
        result.database = switch_back_database(site, clients.rds_primary, recovery.rds)
        if result.database.get("problem"):
            result.outcome, result.reasons = RECONCILIATION_INCOMPLETE, [result.database["problem"]]
            return result
        actions.flip_switch(recovery, site, failed_over=False, now=now)
        actions.move_settings(recovery, site, to_recovery=False)
        store.write(state, State(phase=PRIMARY, version=state.version))
        actions.notify(recovery, site, f"DR {site.name}: failed back to {site.primary_region}", str(result.as_dict()))
        return result
    finally:
        store.release(owner)
