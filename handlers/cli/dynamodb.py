"""``drctl`` commands for tables: ``restore-table``, ``export-table``, ``backup`` and ``backup-before-release``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from botocore.exceptions import BotoCoreError, ClientError, WaiterError
from rich.markup import escape

from handlers.aws import client
from handlers.cli import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    JsonOption,
    RegionOption,
    app,
    aws_failure,
    fail,
    finish,
    stderr,
)
from handlers.cli.validation import (
    backup_arn_value,
    bucket_value,
    buckets_csv_value,
    key_prefix_value,
    recovery_point_value,
    regions_csv_value,
    role_arn_value,
    setting_value,
    table_value,
    tables_csv_value,
    time_value,
    topic_arn_value,
    vault_value,
)
from handlers.dynamodb import backups
from handlers.dynamodb import export as table_export
from handlers.dynamodb import restore as table_restore
from handlers.runtime_names import MIN_BACKUP_RETENTION_DAYS
from handlers.times import parse_time


def _csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


@app.command("restore-table")
def restore_table_command(
    table: Annotated[str, typer.Argument(callback=table_value, help="Source table name.")],
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            callback=time_value("--to", allow_latest=True),
            help="ISO 8601 point in time with an offset (Z or ±hh:mm), or 'latest' (then pass --target for "
            "idempotent re-runs).",
        ),
    ] = None,
    backup: Annotated[
        str | None, typer.Option("--backup", callback=backup_arn_value, help="Backup ARN to restore from.")
    ] = None,
    recovery_point: Annotated[
        str | None,
        typer.Option(
            "--recovery-point",
            callback=recovery_point_value,
            help="AWS Backup recovery point ARN (arn:aws:backup:…); its region's copy.",
        ),
    ] = None,
    vault: Annotated[
        str | None, typer.Option("--vault", callback=vault_value, help="Backup vault of --recovery-point.")
    ] = None,
    backup_role_arn: Annotated[
        str | None,
        typer.Option(
            envvar="DR_BACKUP_ROLE_ARN",
            callback=role_arn_value,
            help="Role AWS Backup assumes for --recovery-point (backupRoleArn).",
        ),
    ] = None,
    no_replicas: Annotated[
        bool, typer.Option("--no-replicas", help="Cut over without re-adding an MREC source's replica regions.")
    ] = False,
    accept_regional_degradation: Annotated[
        bool,
        typer.Option("--accept-regional-degradation", help="Cut over from an MRSC source to a single-region table."),
    ] = False,
    target: Annotated[
        str | None,
        typer.Option(callback=table_value, help="New table name (default: derived from the source and restore point)."),
    ] = None,
    reference: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="Reference to validate against: export (.jsonl) or expected records (.json).",
        ),
    ] = None,
    sample: Annotated[
        int, typer.Option(min=1, max=100_000, help="Reference records to compare.")
    ] = table_restore.DEFAULT_SAMPLE_SIZE,
    scan_segments: Annotated[
        int, typer.Option(min=1, max=1_000, help="Parallel segments for the exact Scan count.")
    ] = table_restore.DEFAULT_SCAN_SEGMENTS,
    cutover: Annotated[bool, typer.Option("--cutover", help="Point the application setting at the new table.")] = False,
    app_name: Annotated[
        str | None,
        typer.Option(
            "--app", envvar="DR_APP", callback=setting_value, help="Application whose setting --cutover writes."
        ),
    ] = None,
    logical: Annotated[
        str | None,
        typer.Option(callback=setting_value, help="Logical table name in the setting (default: the dr:component tag)."),
    ] = None,
    force: Annotated[bool, typer.Option(help="Cut over even when validation did not pass.")] = False,
    wait_delay: Annotated[int, typer.Option(min=1, max=3_600, help="Seconds between ACTIVE checks.")] = (
        table_restore.DEFAULT_WAIT_DELAY_SECONDS
    ),
    wait_attempts: Annotated[int, typer.Option(min=1, max=10_000, help="ACTIVE checks before giving up.")] = (
        table_restore.DEFAULT_WAIT_MAX_ATTEMPTS
    ),
    region: RegionOption = None,
    as_json: JsonOption = False,
) -> None:
    """Restore TABLE into a new table, re-apply its settings, validate, and optionally cut over."""
    if sum(option is not None for option in (to, backup, recovery_point)) != 1:
        fail("give exactly one of --to, --backup and --recovery-point", as_json=as_json)
    if cutover and not app_name:
        fail("--cutover needs --app (or DR_APP)", as_json=as_json)
    try:
        point = None if to in (None, "latest") else parse_time(str(to), "--to")
    except ValueError as error:
        fail(str(error), as_json=as_json)
    try:
        clients = table_restore.TableClients.for_region(region)
        loaded = None
        if reference is not None:
            keys = table_restore.key_attribute_names(clients.dynamodb, table, backup)
            loaded = table_restore.load_reference(reference, keys, sample)
        with stderr.status(f"Restoring {escape(table)}…"):
            report = table_restore.restore_table(
                clients,
                table,
                to=point,
                use_latest=to == "latest",
                backup_arn=backup,
                recovery_point=table_restore.RecoveryPoint(recovery_point, vault, backup_role_arn)
                if recovery_point
                else None,
                target=target,
                reference=loaded,
                sample_size=sample,
                scan_segments=scan_segments,
                wait=table_restore.WaitPolicy(wait_delay, wait_attempts),
                cutover=table_restore.Cutover(
                    app=app_name,
                    logical=logical,
                    force=force,
                    replicas=not no_replicas,
                    accept_regional_degradation=accept_regional_degradation,
                )
                if cutover and app_name
                else None,
            )
    except (table_restore.RestoreError, OSError, KeyError, ValueError) as error:
        fail(str(error), EXIT_USAGE, as_json=as_json)
    except (ClientError, BotoCoreError, WaiterError) as error:
        aws_failure(error, as_json)
    refused_cutover = cutover and not report["cutover"]["done"]
    finish(report, EXIT_FAILED if report["validation"]["ok"] is False or refused_cutover else EXIT_OK, as_json=as_json)


@app.command("export-table")
def export_table_command(
    table: Annotated[str, typer.Argument(callback=table_value, help="Table to export.")],
    bucket: Annotated[
        str,
        typer.Option(callback=bucket_value, help="A DR bucket of the stack; its SSE-KMS key encrypts the export."),
    ],
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            callback=time_value("--to"),
            help="ISO 8601 time with an offset (Z or ±hh:mm) inside the PITR window (default: latest).",
        ),
    ] = None,
    prefix: Annotated[
        str, typer.Option(callback=key_prefix_value, help="Key prefix of the export.")
    ] = table_export.DEFAULT_PREFIX,
    region: RegionOption = None,
    as_json: JsonOption = False,
) -> None:
    """Export TABLE at a point in time to S3 (ExportTableToPointInTime, SSE-KMS with the bucket's key)."""
    point = parse_time(to, "--to") if to else None  # already checked by the option's callback
    try:
        result = table_export.export_table(
            client("dynamodb", region), client("s3", region), table, bucket, to=point, prefix=prefix
        )
    except table_export.ExportError as error:
        fail(str(error), EXIT_USAGE, as_json=as_json)
    except (ClientError, BotoCoreError) as error:
        aws_failure(error, as_json)
    finish(result, EXIT_OK, as_json=as_json)


def _backup(
    tables: str,
    regions: str,
    reason: str,
    retention_days: int,
    release_retention_days: int,
    buckets: str,
    summary_bucket: str | None,
    summary_prefix: str,
    alarm_topic_arn: str | None,
    ensure_alarms: bool,
    as_json: bool,
    dry_run: bool = False,
) -> None:
    try:
        plan = backups.BackupPlan(
            tables=_csv(tables),
            regions=_csv(regions),
            reason=backups.slug(reason),
            retention_days=retention_days,
            release_retention_days=release_retention_days,
            buckets=_csv(buckets),
            summary_bucket=summary_bucket,
            summary_prefix=summary_prefix,
            alarm_topic_arn=alarm_topic_arn,
            ensure_alarms=ensure_alarms,
            dry_run=dry_run,
        )
    except ValueError as error:
        fail(str(error), as_json=as_json)
    if not plan.tables or not plan.regions:
        fail("give --tables and --regions (or DR_BACKUP_TABLES and DR_REGIONS)", as_json=as_json)
    try:
        verb = "Planning backups of" if dry_run else "Backing up"
        with stderr.status(f"{verb} {len(plan.tables)} table(s) in {len(plan.regions)} region(s)…"):
            summary = backups.run_backups(plan, client)
    except (ClientError, BotoCoreError) as error:
        aws_failure(error, as_json)
    if dry_run and not as_json:
        for table in summary["tables"]:
            for pruned in table.get("would_prune", []):
                stderr.print(
                    f"would prune {escape(table['table'])} ({escape(table['region'])}): {escape(pruned['name'])}"
                )
    finish(summary, EXIT_FAILED if summary["errors"] else EXIT_OK, as_json=as_json)


TablesOption = Annotated[
    str,
    typer.Option(
        envvar="DR_BACKUP_TABLES",
        callback=tables_csv_value,
        help="Comma-separated table names (global table replicas).",
    ),
]
RegionsOption = Annotated[
    str, typer.Option(envvar="DR_REGIONS", callback=regions_csv_value, help="Comma-separated regions.")
]


def _retention_value(days: int) -> int:
    """The floor (stackmodel/tiers.py MIN_BACKUP_RETENTION_DAYS): a lower value is a usage error (exit 2) naming the
    option, the value and the floor, before any backup is taken or pruned."""
    if not MIN_BACKUP_RETENTION_DAYS <= days <= 36_500:
        raise typer.BadParameter(
            f"{days} days is below the retention floor of {MIN_BACKUP_RETENTION_DAYS} days"
            if days < MIN_BACKUP_RETENTION_DAYS
            else f"{days} days is above 36500"
        )
    return days


RetentionOption = Annotated[
    int,
    typer.Option(
        callback=_retention_value,
        help=f"Days to keep this tool's backups (at least {MIN_BACKUP_RETENTION_DAYS}).",
    ),
]
ReleaseRetentionOption = Annotated[
    int,
    typer.Option(
        callback=_retention_value,
        help=f"Days to keep release backups (at least {MIN_BACKUP_RETENTION_DAYS}).",
    ),
]
BucketsOption = Annotated[
    str, typer.Option(callback=buckets_csv_value, help="Comma-separated buckets whose RPO age to publish.")
]
SummaryBucketOption = Annotated[
    str | None,
    typer.Option(envvar="DR_SUMMARY_BUCKET", callback=bucket_value, help="Bucket for the JSON run summary."),
]
SummaryPrefixOption = Annotated[str, typer.Option(help="Key prefix for the run summary.")]
TopicOption = Annotated[
    str | None,
    typer.Option(
        envvar="DR_ALERT_TOPIC_ARN",
        callback=topic_arn_value,
        help="SNS topic for --ensure-alarms (in the alarm's own Region).",
    ),
]
EnsureAlarmsOption = Annotated[
    bool,
    typer.Option(
        "--ensure-alarms",
        help="Also create or update the RPO-age alarms (for resources the stack does not deploy; its own are "
        "stack resources).",
    ),
]
DryRunOption = Annotated[
    bool, typer.Option(help="Take, tag and delete nothing; show the backup it would take and what it would prune.")
]


# `drctl backup` takes on-demand backups; `drctl backup status` (handlers/cli/backup.py) reports AWS Backup.
backup_app = typer.Typer(help="On-demand table backups (no subcommand), or `status` of AWS Backup.")
app.add_typer(backup_app, name="backup")


@backup_app.callback(invoke_without_command=True)
def backup_command(
    ctx: typer.Context,
    tables: TablesOption = "",
    regions: RegionsOption = "",
    reason: Annotated[str, typer.Option(help="Why; part of the backup name, e.g. pre-migration.")] = "manual",
    retention_days: RetentionOption = 35,
    release_retention_days: ReleaseRetentionOption = 90,
    buckets: BucketsOption = "",
    summary_bucket: SummaryBucketOption = None,
    summary_prefix: SummaryPrefixOption = "dr/backups/",
    alarm_topic_arn: TopicOption = None,
    ensure_alarms: EnsureAlarmsOption = False,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Take on-demand backups, prune by retention and publish the RPO age (its alarms with --ensure-alarms)."""
    if ctx.invoked_subcommand is not None:
        return
    _backup(
        tables,
        regions,
        reason,
        retention_days,
        release_retention_days,
        buckets,
        summary_bucket,
        summary_prefix,
        alarm_topic_arn,
        ensure_alarms,
        as_json,
        dry_run,
    )


@app.command("backup-before-release")
def backup_before_release_command(
    release: Annotated[str, typer.Option(help="Release version, e.g. 1.4.2.")],
    tables: TablesOption = "",
    regions: RegionsOption = "",
    retention_days: RetentionOption = 35,
    release_retention_days: ReleaseRetentionOption = 90,
    summary_bucket: SummaryBucketOption = None,
    summary_prefix: SummaryPrefixOption = "dr/backups/",
    alarm_topic_arn: TopicOption = None,
    ensure_alarms: EnsureAlarmsOption = False,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Back up every table before a release; release backups are kept longer and the last one always."""
    _backup(
        tables,
        regions,
        backups.release_reason(release),
        retention_days,
        release_retention_days,
        "",
        summary_bucket,
        summary_prefix,
        alarm_topic_arn,
        ensure_alarms,
        as_json,
        dry_run,
    )
