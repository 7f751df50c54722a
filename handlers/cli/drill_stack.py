"""What ``drctl drill`` drills, from the stack's typed config, and the local emulator it can run on.

CLI only (it imports ``components.config`` and moto, which the Lambda package never carries):

- ``stack_settings``: the stack file read as the Pulumi CLI does (``preview.project``) and validated by
  ``components.config``, the same models and tier rules the components use.
- ``targets_from_settings``: tier-1 buckets with their objectives; tables and sites when this build's config
  models have them (``None`` otherwise, which the scenarios report as not run).
- ``apply_outputs``: deployed names from ``pulumi stack output --json`` (or a file of it).
- ``local_stack``: a moto server on 127.0.0.1 with what the drill needs provisioned from the targets, and two
  HTTP endpoints on 127.0.0.1 (healthy, failing) for the regional scenario.
"""

from __future__ import annotations

import dataclasses
import http.server
import json
import logging
import os
import subprocess
import threading
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from components.config import StackSettings, parse, read_config
from components.tiers import FailureMode
from handlers import aws
from handlers.drills.bucket import replication_to
from handlers.drills.model import BucketTarget, Objective, SiteTarget, StackTargets, TableTarget
from handlers.drills.runner import LocalEndpoints
from preview.project import load_project, load_stack_config

LOCAL_ENV_KEYS = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ACCOUNT_ID_ENDPOINT_MODE")
DEFAULT_SITE_RTO_BUDGET_SECONDS = 3 * 30 + 60  # three failed 30 s health checks, then a 60 s TTL (GUIDE §3)


def stack_settings(project_dir: Path, stack: str) -> StackSettings:
    project = load_project(project_dir)
    config = load_stack_config(project, stack)
    project_config = read_config(config.values, project.name, frozenset(config.secret_keys))
    return parse(project_config.raw, secret_keys=project_config.secret_keys, problems=project_config.problems)


def _objective(objectives: Mapping[Any, Any], mode: FailureMode) -> Objective:
    declared = objectives.get(mode)
    if declared is None:
        return Objective(None, None)
    return Objective(declared.rpo_minutes, declared.rto_minutes)


def _table_target(spec: Any, settings: StackSettings) -> TableTarget:
    """GlobalTable's spec (issue 13) as the drill's target; the attribute names are the agreed export's."""
    objectives = getattr(spec, "objectives", {}) or {}
    return TableTarget(
        name=spec.name,
        table_name=getattr(spec, "table_name", None) or f"{settings.name_prefix}-{spec.name}",
        region=getattr(spec, "primary_region", None) or settings.primary_region,
        partition_key=getattr(spec, "partition_key", None) or getattr(spec, "hash_key", None) or "pk",
        sort_key=getattr(spec, "sort_key", None) or getattr(spec, "range_key", None),
        logical=_objective(objectives, FailureMode.LOGICAL),
        regional=_objective(objectives, FailureMode.REGIONAL),
        replica_regions=tuple(getattr(spec, "regions", ()) or ()),
    )


def _site_target(spec: Any) -> SiteTarget:
    """FailoverSite's spec (issue 14) as the drill's target."""
    objectives = getattr(spec, "objectives", {}) or {}
    descriptor = spec.descriptor() if callable(getattr(spec, "descriptor", None)) else dataclasses.asdict(spec)
    return SiteTarget(
        name=spec.name,
        descriptor=descriptor,
        regional=_objective(objectives, FailureMode.REGIONAL),
        rto_budget_seconds=float(getattr(spec, "rto_budget_seconds", DEFAULT_SITE_RTO_BUDGET_SECONDS)),
    )


def targets_from_settings(stack: str, settings: StackSettings) -> StackTargets:
    buckets = tuple(
        BucketTarget(
            name=spec.name,
            tier=spec.tier,
            primary=spec.primary_bucket_name,
            primary_region=settings.primary_region,
            replica=spec.replica_bucket_name,
            replica_region=settings.recovery_region if spec.replica_bucket_name else None,
            logical=_objective(spec.objectives, FailureMode.LOGICAL),
            regional=_objective(spec.objectives, FailureMode.REGIONAL),
            lock_mode=spec.lock_mode.value if spec.lock_mode else None,
            lock_days=spec.lock_days,
        )
        for spec in settings.buckets
    )
    # Builds without GlobalTable/FailoverSite have no such settings: None, reported as "not run" by the scenarios.
    tables = getattr(settings, "tables", None)
    sites = getattr(settings, "sites", None)
    return StackTargets(
        stack=stack,
        primary_region=settings.primary_region,
        recovery_region=settings.recovery_region,
        buckets=buckets,
        tables=None if tables is None else tuple(_table_target(spec, settings) for spec in tables),
        sites=None if sites is None else tuple(_site_target(spec) for spec in sites),
    )


def read_outputs(stack: str, outputs_file: Path | None, project_dir: Path) -> dict[str, Any]:
    """``pulumi stack output --json`` for the stack, or the same document from a file."""
    if outputs_file is not None:
        document: dict[str, Any] = json.loads(outputs_file.read_text())
        return document
    completed = subprocess.run(
        ["pulumi", "stack", "output", "--json", "--show-secrets=false", "--stack", stack],
        cwd=project_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise ValueError(f"pulumi stack output --json --stack {stack} failed: {completed.stderr.strip()}")
    outputs: dict[str, Any] = json.loads(completed.stdout)
    return outputs


def apply_outputs(targets: StackTargets, outputs: Mapping[str, Any]) -> StackTargets:
    """The deployed physical names (config derives the same names, but the outputs are what exists)."""
    exported = outputs.get("buckets") or {}
    missing = [bucket.name for bucket in targets.buckets if bucket.name not in exported]
    if missing:
        raise ValueError(f"stack outputs have no buckets.{missing[0]}: deploy the stack, or pass --outputs FILE")
    buckets = tuple(
        dataclasses.replace(
            bucket,
            primary=exported[bucket.name]["primary"],
            replica=exported[bucket.name].get("replica"),
            replica_region=exported[bucket.name].get("replicaRegion"),
        )
        for bucket in targets.buckets
    )
    tables = targets.tables
    if tables is not None:
        table_outputs = outputs.get("tables") or {}
        tables = tuple(
            dataclasses.replace(
                table,
                table_name=table_outputs.get(table.name, {}).get("name", table.table_name),
                region=table_outputs.get(table.name, {}).get("primaryRegion", table.region),
            )
            for table in tables
        )
    return dataclasses.replace(targets, buckets=buckets, tables=tables)


def fis_templates(outputs: Mapping[str, Any]) -> dict[str, str]:
    drills = outputs.get("drills") or {}
    return dict(drills.get("fisTemplates") or {})


# ------------------------------------------------------------------------------------------------------------
# The local emulator
# ------------------------------------------------------------------------------------------------------------


def provision(targets: StackTargets) -> None:
    """What the drill drills, shaped as the components build it: tier-1 primaries with versioning, object lock
    and their default retention, a versioned replica, and the replication configuration (stored, never copied)."""
    for bucket in targets.tier1_buckets():
        s3 = aws.client("s3", bucket.primary_region)
        s3.create_bucket(Bucket=bucket.primary, ObjectLockEnabledForBucket=bucket.lock_mode is not None)
        s3.put_bucket_versioning(Bucket=bucket.primary, VersioningConfiguration={"Status": "Enabled"})
        if bucket.lock_mode and bucket.lock_days:
            s3.put_object_lock_configuration(
                Bucket=bucket.primary,
                ObjectLockConfiguration={
                    "ObjectLockEnabled": "Enabled",
                    "Rule": {"DefaultRetention": {"Mode": bucket.lock_mode, "Days": bucket.lock_days}},
                },
            )
        if bucket.replica and bucket.replica_region:
            replica = aws.client("s3", bucket.replica_region)
            replica.create_bucket(
                Bucket=bucket.replica, CreateBucketConfiguration={"LocationConstraint": bucket.replica_region}
            )
            replica.put_bucket_versioning(Bucket=bucket.replica, VersioningConfiguration={"Status": "Enabled"})
            s3.put_bucket_replication(
                Bucket=bucket.primary, ReplicationConfiguration=replication_to(f"arn:aws:s3:::{bucket.replica}")
            )
    for table in targets.tables or ():
        ddb = aws.client("dynamodb", table.region)
        keys = [(table.partition_key, "HASH")] + ([(table.sort_key, "RANGE")] if table.sort_key else [])
        ddb.create_table(
            TableName=table.table_name,
            KeySchema=[{"AttributeName": name, "KeyType": kind} for name, kind in keys],
            AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name, _ in keys],
            BillingMode="PAY_PER_REQUEST",
        )
        ddb.update_continuous_backups(
            TableName=table.table_name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )


class _Endpoint(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"ok\n" if self.status == 200 else b"region lost\n")

    def log_message(self, *_args: Any) -> None:  # quiet: the drill reports what matters
        return


@contextmanager
def http_endpoints() -> Iterator[LocalEndpoints]:
    """One healthy (200) and one failing (503) HTTP endpoint on 127.0.0.1."""
    servers = []
    for status in (200, 503):
        handler = type(f"Endpoint{status}", (_Endpoint,), {"status": status})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    try:
        yield LocalEndpoints(
            healthy_url=f"http://127.0.0.1:{servers[0].server_address[1]}/health",
            failing_url=f"http://127.0.0.1:{servers[1].server_address[1]}/health",
        )
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


@contextmanager
def local_stack(targets: StackTargets) -> Iterator[LocalEndpoints]:
    """A moto server on 127.0.0.1 (boto3 pointed at it through the environment) with the targets provisioned,
    and the two HTTP endpoints; everything is stopped and the environment restored afterwards."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the emulator's per-request access log
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    saved = {key: os.environ.get(key) for key in LOCAL_ENV_KEYS}
    os.environ.update(
        AWS_ENDPOINT_URL=f"http://{host}:{port}",
        AWS_ACCESS_KEY_ID="drill",
        AWS_SECRET_ACCESS_KEY="drill",
        AWS_ACCOUNT_ID_ENDPOINT_MODE="disabled",
    )
    try:
        # Backends are per process: start from nothing, even after an earlier drill in this process.
        request = urllib.request.Request(f"http://{host}:{port}/moto-api/reset", method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=10):
            pass
        provision(targets)
        with http_endpoints() as endpoints:
            yield endpoints
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.stop()
