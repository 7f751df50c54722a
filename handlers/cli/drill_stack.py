"""What ``drctl drill`` drills, from the stack's typed config, and the local emulator it can run on.

CLI only (it imports ``stackmodel.config`` and moto, which the Lambda package never carries):

- ``stack_settings``: the stack file read as the Pulumi CLI does (``preview.project``) and validated by
  ``stackmodel.config``, the same models and tier rules the components use.
- ``targets_from_settings``: tier-1 buckets, tables (``TableSpec``) and sites (``SiteSpec`` and the descriptor
  the FailoverSite writes) with their objectives, and the reports bucket that holds the restores' locks.
- ``apply_outputs``: deployed names from ``pulumi stack output --json`` (or a file of it): ``buckets``,
  ``tables``, ``sites`` and ``batchReportsBucket``.
- ``local_stack``: a moto server on 127.0.0.1 with what the drill needs provisioned from the targets, and two
  HTTP endpoints on 127.0.0.1 (healthy, failing) for the regional scenario.
"""

from __future__ import annotations

import dataclasses
import functools
import http.server
import json
import logging
import os
import subprocess
import threading
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from handlers import aws
from handlers.drills.bucket import replication_to
from handlers.drills.model import BucketTarget, Objective, SiteTarget, StackTargets, TableTarget
from handlers.drills.runner import LocalEndpoints
from preview.project import load_project, load_stack_config
from stackmodel.config import StackSettings, parse, read_config
from stackmodel.config.sites import SiteSpec
from stackmodel.config.tables import TableSpec
from stackmodel.site import (
    cloudwatch_switch,
    describe_site,
    endpoint_switch,
    linked_stores,
    site_lock_table_name,
    switch_function_name,
)
from stackmodel.tiers import FailureMode

LOCAL_ENV_KEYS = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ACCOUNT_ID_ENDPOINT_MODE")
# components/tables.py: MREC global tables need both images; an MRSC table streams only for a consumer.
STREAM_VIEW_TYPE = "NEW_AND_OLD_IMAGES"


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


def _table_target(spec: TableSpec) -> TableTarget:
    """GlobalTable's spec (``stackmodel/config/tables.py``) as the drill's target: keys with their declared
    types, Regions, consistency mode, stream and PITR as the component builds them."""
    types = dict(spec.attributes)
    return TableTarget(
        name=spec.name,
        table_name=spec.table_name,
        region=spec.primary_region,
        partition_key=spec.hash_key,
        partition_key_type=types[spec.hash_key],
        sort_key=spec.range_key,
        sort_key_type=types[spec.range_key] if spec.range_key else "S",
        logical=_objective(spec.objectives, FailureMode.LOGICAL),
        regional=_objective(spec.objectives, FailureMode.REGIONAL),
        replica_regions=spec.replica_regions,
        stream_enabled=spec.stream_enabled,
        pitr_recovery_period_days=spec.pitr_recovery_period_days,
        consistency_mode=spec.consistency_mode,
    )


def local_function_url_host(name_prefix: str, site: str, region: str) -> str:
    """The switch function URL's host for a stack drilled from config alone (deployed, it is an output: a random
    id under ``lambda-url.<region>.on.aws``); the rehearsal serves it on 127.0.0.1."""
    return f"{switch_function_name(name_prefix, site)}.lambda-url.{region}.on.aws"


def local_switch(settings: StackSettings, spec: SiteSpec, *, drill: bool) -> dict[str, Any]:
    """The site's (or its drill record's) switch as the component describes it, every name derived from config."""
    assert settings.app is not None  # config requires app when sites exist
    app, prefix, recovery = settings.app, settings.name_prefix, settings.recovery_region
    if spec.switch == "endpoint":
        host = local_function_url_host(prefix, spec.name, recovery)
        return endpoint_switch(app, prefix, spec.name, recovery, url=f"https://{host}/", host=host, drill=drill)
    if spec.switch == "cloudwatch":
        return cloudwatch_switch(app, prefix, spec.name, recovery, drill=drill)
    # ARC: the control ARNs are deployed outputs; placeholders keep the plan's shape (a local drill does not run it).
    panel = f"arn:aws:route53-recovery-control::000000000000:controlpanel/{prefix}/routingcontrol/{spec.name}"
    suffix = "-drill" if drill else ""
    return {
        "kind": "arc",
        "routingControlArn": f"{panel}-primary{suffix}",
        "secondaryRoutingControlArn": f"{panel}-secondary{suffix}",
    }


def site_descriptor(spec: SiteSpec, settings: StackSettings, topic_arn: str | None) -> dict[str, Any]:
    """The descriptor ``FailoverSite`` writes for ``spec`` (components/site.py: ``describe_site``), from config alone:
    every name in it is derived from the config (the switch function URL's host locally), so a local drill needs no
    deployed stack."""
    assert settings.app is not None  # config requires app when sites exist
    buckets, tables = linked_stores(settings, spec)
    return describe_site(
        spec,
        app=settings.app,
        primary_region=settings.primary_region,
        recovery_region=settings.recovery_region,
        buckets=buckets,
        tables=tables,
        switch=local_switch(settings, spec, drill=False),
        drill_switch=local_switch(settings, spec, drill=True),
        lock_table=site_lock_table_name(settings.name_prefix, spec.name),
        topic_arn=topic_arn,
    )


def _site_target(spec: SiteSpec, settings: StackSettings) -> SiteTarget:
    """FailoverSite's spec (``stackmodel/config/sites.py``) as the drill's target: its descriptor, declared
    objectives and the RTO budget ``stackmodel/failover_budget.py`` computed for it."""
    return SiteTarget(
        name=spec.name,
        descriptor=site_descriptor(spec, settings, topic_arn=None),
        regional=Objective(spec.rpo_minutes, spec.rto_minutes),
        budget=spec.budget.as_dict(),
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
    return StackTargets(
        stack=stack,
        primary_region=settings.primary_region,
        recovery_region=settings.recovery_region,
        buckets=buckets,
        tables=tuple(_table_target(spec) for spec in settings.tables),
        sites=tuple(_site_target(spec, settings) for spec in settings.sites),
        lock_bucket=settings.batch_reports.primary_bucket_name,
    )


def read_outputs(stack: str, outputs_file: Path | None, project_dir: Path) -> dict[str, Any]:
    """``pulumi stack output --json`` for the stack, or the same document from a file."""
    if outputs_file is not None:
        return _outputs_object(json.loads(outputs_file.read_text()), str(outputs_file))
    try:
        completed = subprocess.run(
            ["pulumi", "stack", "output", "--json", "--show-secrets=false", "--stack", stack],
            cwd=project_dir,
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        raise ValueError(
            "the pulumi CLI is not installed: pass --outputs FILE (a saved `pulumi stack output --json`), or --local"
        ) from None
    if completed.returncode != 0:
        raise ValueError(f"pulumi stack output --json --stack {stack} failed: {completed.stderr.strip()}")
    return _outputs_object(json.loads(completed.stdout), "pulumi stack output --json")


def _outputs_object(document: Any, source: str) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise ValueError(f"{source} holds a JSON {type(document).__name__}, not the object of stack outputs")
    return document


def _exported(outputs: Mapping[str, Any], group: str, name: str) -> Mapping[str, Any]:
    section = outputs.get(group) or {}
    entry = section.get(name) if isinstance(section, Mapping) else None
    if not isinstance(entry, Mapping):
        raise ValueError(f"stack outputs have no {group}.{name}: deploy the stack, or pass --outputs FILE")
    return entry


def apply_outputs(targets: StackTargets, outputs: Mapping[str, Any]) -> StackTargets:
    """The deployed physical names (config derives the same names, but the outputs are what exists): buckets,
    ``tables.<logical>``, ``sites.<name>.descriptor`` and the reports bucket that holds the restores' locks."""
    buckets = []
    for bucket in targets.buckets:
        exported = _exported(outputs, "buckets", bucket.name)
        buckets.append(
            dataclasses.replace(
                bucket,
                primary=exported["primary"],
                replica=exported.get("replica"),
                replica_region=exported.get("replicaRegion"),
            )
        )
    tables = []
    for table in targets.tables or ():
        exported = _exported(outputs, "tables", table.name)
        regions = tuple(exported.get("regions") or (table.region, *table.replica_regions))
        primary = str(exported.get("primaryRegion") or table.region)
        tables.append(
            dataclasses.replace(
                table,
                table_name=str(exported.get("name") or table.table_name),
                region=primary,
                replica_regions=tuple(region for region in regions if region != primary),
                consistency_mode=str(exported.get("consistencyMode") or table.consistency_mode),
            )
        )
    sites = []
    for site in targets.sites or ():
        exported = _exported(outputs, "sites", site.name)
        sites.append(
            dataclasses.replace(
                site,
                descriptor=dict(exported.get("descriptor") or site.descriptor),
                budget=dict(exported.get("rtoBudget") or site.budget),
            )
        )
    lock_bucket = outputs.get("batchReportsBucket")
    if not lock_bucket:
        raise ValueError(
            "stack outputs have no batchReportsBucket: every restore a drill runs takes its lock there; deploy the "
            "stack, or pass --outputs FILE"
        )
    return dataclasses.replace(
        targets,
        buckets=tuple(buckets),
        tables=None if targets.tables is None else tuple(tables),
        sites=None if targets.sites is None else tuple(sites),
        lock_bucket=str(lock_bucket),
    )


def fis_templates(outputs: Mapping[str, Any]) -> dict[str, str]:
    drills = outputs.get("drills") or {}
    return dict(drills.get("fisTemplates") or {})


# ------------------------------------------------------------------------------------------------------------
# The local emulator
# ------------------------------------------------------------------------------------------------------------


def provision(targets: StackTargets, client: Callable[[str, str], Any] | None = None) -> None:
    """What the drill drills, shaped as the components build it, on the emulator:

    - the reports bucket, where every restore takes its single-flight lock;
    - tier-1 primaries with versioning, object lock and its default retention, a versioned replica, and the
      replication configuration (stored, never copied);
    - each table in every Region it spans, with its keys and their types, PITR with its recovery period,
      deletion protection and the stream the component enables (moto ignores ``ReplicaUpdates``, so each replica
      is a table of the same name, never replicated; indexes are left out: the drill does not read them);
    - each site's lock table (the orchestrator's state) in the recovery Region.

    ``client(service, region)`` defaults to the runtime's factory, one client per (service, Region).
    """
    client = client or functools.cache(lambda service, region: aws.client(service, region))
    if targets.lock_bucket:
        client("s3", targets.primary_region).create_bucket(
            Bucket=targets.lock_bucket, **_location(targets.primary_region)
        )
    for bucket in targets.tier1_buckets():
        s3 = client("s3", bucket.primary_region)
        s3.create_bucket(
            Bucket=bucket.primary,
            ObjectLockEnabledForBucket=bucket.lock_mode is not None,
            **_location(bucket.primary_region),
        )
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
            replica = client("s3", bucket.replica_region)
            replica.create_bucket(Bucket=bucket.replica, **_location(bucket.replica_region))
            replica.put_bucket_versioning(Bucket=bucket.replica, VersioningConfiguration={"Status": "Enabled"})
            configuration = replication_to(f"arn:aws:s3:::{bucket.replica}")
            # The same rule as an explicit empty prefix (every object, as the component's empty filter): the
            # rehearsal's replicator reads an empty <Filter/> back as text, not as "no condition".
            configuration["Rules"][0]["Filter"] = {"Prefix": ""}
            s3.put_bucket_replication(Bucket=bucket.primary, ReplicationConfiguration=configuration)
    for table in targets.tables or ():
        for region in (table.region, *table.replica_regions):
            _create_table(client("dynamodb", region), table)
    for site in targets.sites or ():
        client("dynamodb", targets.recovery_region).create_table(
            TableName=site.descriptor["lockTable"],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )


def _location(region: str) -> dict[str, Any]:
    # us-east-1 takes no LocationConstraint (S3 API Reference, CreateBucket).
    return {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}


def _create_table(ddb: Any, table: TableTarget) -> None:
    keys = [(table.partition_key, "HASH", table.partition_key_type)]
    if table.sort_key:
        keys.append((table.sort_key, "RANGE", table.sort_key_type))
    stream = {"StreamEnabled": True, "StreamViewType": STREAM_VIEW_TYPE} if table.stream_enabled else None
    ddb.create_table(
        TableName=table.table_name,
        KeySchema=[{"AttributeName": name, "KeyType": role} for name, role, _ in keys],
        AttributeDefinitions=[{"AttributeName": name, "AttributeType": kind} for name, _, kind in keys],
        BillingMode="PAY_PER_REQUEST",
        DeletionProtectionEnabled=True,
        **({"StreamSpecification": stream} if stream else {}),
    )
    pitr: dict[str, Any] = {"PointInTimeRecoveryEnabled": True}
    if table.pitr_recovery_period_days:
        pitr["RecoveryPeriodInDays"] = table.pitr_recovery_period_days
    ddb.update_continuous_backups(TableName=table.table_name, PointInTimeRecoverySpecification=pitr)


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
