"""``drctl drill-bucket`` and ``drctl drill-table``, and the bucket drill ``make demo`` runs on the emulator."""

from __future__ import annotations

from typing import Annotated

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.markup import escape

from handlers import aws
from handlers.cli import EXIT_AWS, EXIT_FAILED, EXIT_OK, EXIT_USAGE, RegionOption, app, fail, finish, stderr, warn
from handlers.cli.validation import bucket_value, key_prefix_value, table_value
from handlers.drills.bucket import replication_to, run_bucket_drill
from handlers.drills.table import DrillError, DrillMode, run_table_drill
from handlers.dynamodb.restore import RestoreError, TableClients


@app.command("drill-bucket")
def drill_bucket_command(
    bucket: Annotated[
        str, typer.Argument(callback=bucket_value, help="Bucket to drill; canaries go under --prefix only.")
    ],
    prefix: Annotated[
        str, typer.Option(callback=key_prefix_value, help="Key prefix for the drill's canary objects.")
    ] = "dr-drill/",
    canaries: Annotated[int, typer.Option(min=4, max=100_000, help="Number of canary objects.")] = 200,
    workers: Annotated[int, typer.Option(min=1, max=256, help="Restore concurrency.")] = 16,
    rto_minutes: Annotated[
        int | None, typer.Option(min=0, max=525_600, help="Declared logical RTO to check against.")
    ] = None,
    rpo_minutes: Annotated[
        int | None, typer.Option(min=0, max=525_600, help="Declared logical RPO to check against.")
    ] = None,
    lock_bucket: Annotated[
        str | None,
        typer.Option(
            envvar="DR_BATCH_REPORT_BUCKET",
            callback=bucket_value,
            help="Bucket for the restore's single-flight lock (the stack's reports bucket).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Damage canaries under PREFIX, restore to the point before, and report the measured RTO and RPO."""
    try:
        result = run_bucket_drill(
            aws.client("s3", max_pool_connections=workers),
            bucket,
            prefix=prefix,
            canaries=canaries,
            workers=workers,
            declared_rto_minutes=rto_minutes,
            declared_rpo_minutes=rpo_minutes,
            lock_bucket=lock_bucket,
        )
    except ValueError as error:
        fail(str(error), EXIT_USAGE, as_json=as_json)
    except (ClientError, BotoCoreError) as error:
        fail(f"AWS refused or could not be reached: {error}", EXIT_AWS, as_json=as_json)
    finish(result.as_dict(), EXIT_OK if result.passed else EXIT_FAILED, as_json=as_json)


def run_demo_drill(console: Console) -> bool:
    """The drill on a tier-1-shaped bucket on an in-process moto server (127.0.0.1), for `make demo`."""
    import logging
    import os

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the emulator's per-request access log

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    saved = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ.update(
        AWS_ENDPOINT_URL=f"http://{host}:{port}", AWS_ACCESS_KEY_ID="drill", AWS_SECRET_ACCESS_KEY="drill"
    )
    try:
        s3 = aws.client("s3", "us-east-1", max_pool_connections=16)
        bucket = "distronation-prod-audio-us-east-1"
        s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_object_lock_configuration(
            Bucket=bucket,
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 30}},
            },
        )
        # A replication configuration, as on every tier-1 primary: the restore must copy, never remove markers.
        s3.put_bucket_replication(
            Bucket=bucket, ReplicationConfiguration=replication_to("arn:aws:s3:::distronation-prod-audio-us-west-2")
        )
        # The stack's reports bucket, where a restore takes its single-flight lock.
        reports = "distronation-prod-dr-reports-us-east-1"
        s3.create_bucket(Bucket=reports)
        result = run_bucket_drill(s3, bucket, declared_rto_minutes=30, declared_rpo_minutes=0, lock_bucket=reports)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.stop()
    restore = result.restore
    console.print(
        f"tier-1 bucket [bold]{result.bucket}[/] (object lock COMPLIANCE, replication configured): "
        f"{result.canaries} canaries, {result.overwritten} overwritten and {result.deleted} deleted after T"
    )
    console.print(
        f"restore path: {restore.get('copy_reason') or 'delete-marker removal'}; copied {restore['copied']}, "
        f"undeleted {restore['undeleted']}, skipped {restore['skipped']}, failed {restore['failed']}, "
        f"{restore['requests']} S3 requests"
    )
    verdict = "[green]PASS[/]" if result.passed else "[red]FAIL[/]"
    console.print(
        f"measured RTO {result.rto_seconds:.2f} s (declared 30 min), measured RPO {result.rpo_seconds:.0f} s "
        f"(declared 0), keys wrong {len(result.keys_wrong)}: {verdict}"
    )
    console.print("[dim]emulated: moto on 127.0.0.1 (replication is stored but never copies objects)[/]")
    return result.passed


def _message(error: BaseException) -> str:
    return "; ".join([str(error), *getattr(error, "__notes__", [])])


@app.command("drill-table")
def drill_table_command(
    table: Annotated[
        str, typer.Argument(callback=table_value, help="Table to drill; canary items use the key prefix dr-drill#.")
    ],
    mode: Annotated[
        DrillMode, typer.Option(help="Recovery point: an on-demand backup, or a PITR time (PITR must be on).")
    ] = DrillMode.backup,
    canaries: Annotated[int, typer.Option(min=4, max=100_000, help="Number of canary items.")] = 200,
    rto_minutes: Annotated[
        int | None, typer.Option(min=0, max=525_600, help="Declared logical RTO to check against.")
    ] = None,
    rpo_minutes: Annotated[
        int | None, typer.Option(min=0, max=525_600, help="Declared logical RPO to check against.")
    ] = None,
    keep: Annotated[bool, typer.Option("--keep", help="Keep the canaries, the drill table and the backup.")] = False,
    region: RegionOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Damage canaries in TABLE, restore it into a new table, and report the measured RTO and RPO."""
    clients = TableClients.for_region(region)
    try:
        with stderr.status(escape(f"Drilling {table}…")) as status:
            result = run_table_drill(
                clients,
                table,
                mode=mode,
                canaries=canaries,
                declared_rto_minutes=rto_minutes,
                declared_rpo_minutes=rpo_minutes,
                keep=keep,
                progress=lambda text: status.update(escape(text)),
            )
    except (ValueError, RestoreError) as error:
        fail(_message(error), EXIT_USAGE, as_json=as_json)
    except (ClientError, BotoCoreError, DrillError) as error:
        fail(f"AWS refused or could not be reached: {_message(error)}", EXIT_AWS, as_json=as_json)
    if result.cleanup.get("errors"):
        warn(f"cleanup incomplete: {result.cleanup['errors']}")
    finish(result.as_dict(), EXIT_OK if result.passed else EXIT_FAILED, as_json=as_json)
