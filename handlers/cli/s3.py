"""``drctl`` commands for buckets: ``audit-replication``, ``restore-bucket`` (point-in-time restore of a bucket or
prefix, see ``handlers.s3.restore``) and ``verify-mfa-delete``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from handlers import aws
from handlers.aws import client
from handlers.cli import (
    EXIT_AWS,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    JsonOption,
    RegionOption,
    app,
    aws_failure,
    fail,
    finish,
    interruptible,
    stderr,
    warn,
)
from handlers.cli.validation import (
    account_value,
    bucket_value,
    key_prefix_value,
    mfa_value,
    positive_value,
    region_value,
    role_arn_value,
    share_value,
    time_value,
)
from handlers.rpo_age import bucket_region
from handlers.runtime_names import RECOVERY_DATABASE, inventory_table, journal_table, recovery_workgroup
from handlers.s3 import audit, inventory
from handlers.s3.batch import track_jobs
from handlers.s3.lock import LockHeld
from handlers.s3.mfa_delete import mfa_delete_state
from handlers.s3.plan import DEFAULT_MAX_CHANGE_SHARE, BatchOptions
from handlers.s3.restore import (
    DEFAULT_WORKERS,
    BlastRadiusRefused,
    RestoreOptions,
    read_bucket_protection,
    restore_bucket,
    restore_client,
)
from handlers.times import parse_time


def _each_bucket(values: list[str]) -> list[str]:
    for value in values:
        bucket_value(value)
    return values


class PlanSource(StrEnum):
    LISTING = "listing"
    INVENTORY = "inventory"


class SqlEngine(StrEnum):
    DUCKDB = "duckdb"
    ATHENA = "athena"


# Past this many versions a listing takes long enough (about 11,000 versions/s here; paid LIST requests on S3) that
# drctl suggests --plan-from inventory (docs/runbooks/restore-bucket.md).
DEFAULT_SUGGEST_INVENTORY_VERSIONS = 5_000_000


class ArchiveTier(StrEnum):
    EXPEDITED = "Expedited"
    STANDARD = "Standard"
    BULK = "Bulk"


def _batch_options(
    threshold: int | None, role_arn: str | None, report_bucket: str | None, account_id: str | None, as_json: bool
) -> BatchOptions | None:
    if threshold is None:
        return None
    if not role_arn or not report_bucket:
        fail("--batch-threshold needs --batch-role-arn and --batch-report-bucket", as_json=as_json)
    account = account_id or aws.client("sts").get_caller_identity()["Account"]
    return BatchOptions(threshold_keys=threshold, role_arn=role_arn, report_bucket=report_bucket, account_id=account)


def _print_audit(report: dict[str, Any]) -> None:
    counts = Table(title=escape(f"{report['bucket']} → {report['replica_bucket']}"))
    counts.add_column("finding")
    counts.add_column("count", justify="right")
    for name, value in report["counts"].items():
        counts.add_row(escape(name), str(value))
    stderr.print(counts)
    stderr.print(escape(f"verified by: {report['verified_by']}; ETags compared: {report['etags_compared']}"))
    for name, keys in report["findings"].items():
        for key in keys[:10]:
            stderr.print(escape(f"  {name}: {key!r}"))


@app.command("audit-replication")
def audit_replication_command(
    bucket: Annotated[str, typer.Option(callback=bucket_value, help="Primary bucket.")],
    replica_bucket: Annotated[
        str | None,
        typer.Option(callback=bucket_value, help="Replica bucket (default: the replication rule's destination)."),
    ] = None,
    replica_region: Annotated[
        str | None, typer.Option(callback=region_value, help="Replica's region (default: looked up).")
    ] = None,
    prefix: Annotated[str, typer.Option(callback=key_prefix_value, help="Only keys under this prefix.")] = "",
    rtc_window_minutes: Annotated[
        float, typer.Option(callback=positive_value, max=10_080, help="PENDING longer than this is a finding.")
    ] = audit.DEFAULT_RTC_WINDOW.total_seconds() / 60,
    publish: Annotated[bool, typer.Option(help="Publish counts to CloudWatch DR/Recovery.")] = True,
    checksums: Annotated[
        bool, typer.Option(help="Compare checksums (one HeadObject per side per key) where both have one.")
    ] = True,
    workers: Annotated[
        int, typer.Option(min=1, max=256, help="Concurrent HeadObject requests.")
    ] = audit.DEFAULT_WORKERS,
    region: RegionOption = None,
    as_json: JsonOption = False,
) -> None:
    """Compare BUCKET with its replica: missing, extra, differing, FAILED or overdue PENDING objects."""
    s3_primary = client("s3", region, max_pool_connections=workers)
    try:
        replica = replica_bucket or audit.resolve_replica(s3_primary, bucket)
        location = replica_region or bucket_region(s3_primary, replica)
        target = audit.AuditTarget(
            bucket,
            replica,
            prefix,
            timedelta(minutes=rtc_window_minutes),
            verify_checksums=checksums,
            workers=workers,
        )
        s3_replica = client("s3", location, max_pool_connections=workers)
        with stderr.status(escape(f"Auditing {bucket} against {replica}…")):
            report = audit.audit_replication(s3_primary, s3_replica, target)
        if publish:
            audit.publish_audit_metrics(client("cloudwatch", region), report)
    except ValueError as error:
        fail(str(error), as_json=as_json)
    except (ClientError, BotoCoreError) as error:
        aws_failure(error, as_json)
    if not as_json:
        _print_audit(report)
    if report.get("warning"):
        warn(report["warning"])
    finish(report, EXIT_OK if report["ok"] and not report.get("warning") else EXIT_FAILED, as_json=as_json)


@app.command("restore-bucket")
def restore_bucket_command(
    bucket: Annotated[
        str | None,
        typer.Argument(callback=bucket_value, help="Bucket to restore (it must be versioned); not with --from-backup."),
    ] = None,
    to: Annotated[
        str | None,
        typer.Option("--to", callback=time_value("--to"), help="Point in time, ISO 8601 with an offset (Z or ±hh:mm)."),
    ] = None,
    from_backup: Annotated[
        str | None,
        typer.Option(
            "--from-backup",
            help="Restore from this AWS Backup recovery point ARN instead (README, 'Restoring from AWS Backup').",
        ),
    ] = None,
    backup_role_arn: Annotated[
        str | None,
        typer.Option(
            envvar="DR_BUCKET_BACKUP_ROLE_ARN", callback=role_arn_value, help="Role AWS Backup restores with."
        ),
    ] = None,
    vault: Annotated[str | None, typer.Option(help="Vault holding the recovery point (default: looked up).")] = None,
    prefix: Annotated[str, typer.Option(callback=key_prefix_value, help="Only keys under this prefix.")] = "",
    target_bucket: Annotated[
        str | None, typer.Option(callback=bucket_value, help="Restore into this bucket instead.")
    ] = None,
    target_prefix: Annotated[
        str | None,
        typer.Option(callback=key_prefix_value, help="Replace --prefix with this prefix in restored keys."),
    ] = None,
    delete_created_after: Annotated[
        bool, typer.Option(help="Delete keys that did not exist at T (a plain delete: adds a marker).")
    ] = False,
    dry_run: Annotated[bool, typer.Option(help="Plan and count, write nothing.")] = False,
    workers: Annotated[int, typer.Option(min=1, max=256, help="Concurrent requests.")] = DEFAULT_WORKERS,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON summary on stdout.")] = False,
    mfa: Annotated[
        str | None,
        typer.Option(
            callback=mfa_value, help='"SERIAL CODE" (root user): allows marker removal on an MFA-delete bucket.'
        ),
    ] = None,
    archive_tier: Annotated[ArchiveTier, typer.Option(help="Glacier restore tier.")] = ArchiveTier.STANDARD,
    archive_days: Annotated[
        int, typer.Option(min=1, max=30_000, help="Days a restored archive copy stays readable.")
    ] = 7,
    batch_threshold: Annotated[
        int | None,
        typer.Option(min=1, help="Above this many copies, create an S3 Batch Operations job instead."),
    ] = None,
    batch_role_arn: Annotated[
        str | None,
        typer.Option(envvar="DR_BATCH_ROLE_ARN", callback=role_arn_value, help="Role Batch Operations assumes."),
    ] = None,
    batch_report_bucket: Annotated[
        str | None,
        typer.Option(envvar="DR_BATCH_REPORT_BUCKET", callback=bucket_value, help="Bucket for manifests and reports."),
    ] = None,
    batch_account_id: Annotated[
        str | None, typer.Option(callback=account_value, help="Account id (default: the caller's).")
    ] = None,
    yes: Annotated[
        bool,
        typer.Option("--yes", help="Skip the listing-only blast-radius pass (no refusal above --max-change-share)."),
    ] = False,
    max_change_share: Annotated[
        float,
        typer.Option(
            callback=share_value,
            help="Refuse (without --yes) to overwrite or delete more than this share of the live keys.",
        ),
    ] = DEFAULT_MAX_CHANGE_SHARE,
    lock_bucket: Annotated[
        str | None,
        typer.Option(
            envvar="DR_BATCH_REPORT_BUCKET",
            callback=bucket_value,
            help="Bucket holding the single-flight lock dr-locks/<bucket>.json (the stack's reports bucket).",
        ),
    ] = None,
    break_lock: Annotated[
        bool, typer.Option(help="Show the lock another restore holds, then break it (only if that restore is dead).")
    ] = False,
    plan_from: Annotated[
        PlanSource,
        typer.Option(
            help="Plan from a listing of every version, or with SQL from S3 Inventory and the change journal "
            "(until the first report arrives, drctl plans from a listing and says so)."
        ),
    ] = PlanSource.LISTING,
    engine: Annotated[
        SqlEngine,
        typer.Option(help="Where --plan-from inventory runs its SQL: duckdb here, or athena (the stack's workgroup)."),
    ] = SqlEngine.DUCKDB,
    inventory_bucket: Annotated[
        str | None,
        typer.Option(
            envvar="DR_INVENTORY_BUCKET",
            callback=bucket_value,
            help="Bucket holding the inventory reports and the journal (default: --batch-report-bucket; a tier-1 "
            "replica's is in the recovery Region).",
        ),
    ] = None,
    journal_settle_seconds: Annotated[
        int,
        typer.Option(
            min=0,
            max=86_400,
            help="Keys with journal events this recent are planned from their own listing (events still in flight).",
        ),
    ] = int(inventory.DEFAULT_SETTLE.total_seconds()),
    check_against_listing: Annotated[
        bool,
        typer.Option(
            help="With --dry-run --plan-from inventory: also plan from a listing and report every difference."
        ),
    ] = False,
    athena_workgroup: Annotated[
        str | None, typer.Option(envvar="DR_ATHENA_WORKGROUP", help="Athena workgroup (default: dr-recovery-<region>).")
    ] = None,
    athena_database: Annotated[
        str, typer.Option(envvar="DR_ATHENA_DATABASE", help="Glue database of the inventory and journal tables.")
    ] = RECOVERY_DATABASE,
    track_batch_seconds: Annotated[
        int, typer.Option(min=0, max=86_400, help="Follow submitted Batch Operations jobs this long (0: do not wait).")
    ] = 0,
    suggest_inventory_above: Annotated[
        int,
        typer.Option(
            envvar="DR_INVENTORY_SUGGEST_VERSIONS",
            min=1,
            help="Suggest --plan-from inventory when the bucket holds more versions than this.",
        ),
    ] = DEFAULT_SUGGEST_INVENTORY_VERSIONS,
) -> None:
    """Restore BUCKET (or a prefix) to how it was at --to, undeleting or copying each changed key; or, with
    --from-backup, start and track an AWS Backup restore of that recovery point."""
    if from_backup is not None:
        from handlers.cli.backup import restore_from_backup

        restore_from_backup(from_backup, to, target_bucket, backup_role_arn, vault, json_output)
        return
    if bucket is None or to is None:
        fail("BUCKET and --to are required (or restore from AWS Backup with --from-backup ARN)", as_json=json_output)
    at = parse_time(to, "--to")  # checked by the option's callback already
    try:
        options = RestoreOptions(
            bucket=bucket,
            at=at,
            prefix=prefix,
            target_bucket=target_bucket,
            target_prefix=target_prefix,
            delete_created_after=delete_created_after,
            dry_run=dry_run,
            workers=workers,
            mfa=mfa,
            archive_tier=archive_tier.value,
            archive_days=archive_days,
            batch=_batch_options(batch_threshold, batch_role_arn, batch_report_bucket, batch_account_id, json_output),
            confirmed=yes,
            max_change_share=max_change_share,
            lock_bucket=lock_bucket or batch_report_bucket,
            break_lock=break_lock,
        )
        # One client, its pool sized to the workers, shared by every thread.
        s3 = restore_client(workers)
        s3control = aws.client("s3control") if options.batch else None
        if check_against_listing and not (dry_run and plan_from is PlanSource.INVENTORY):
            raise ValueError("--check-against-listing needs --dry-run and --plan-from inventory")
        if plan_from is PlanSource.LISTING:
            _suggest_inventory_before_listing(bucket, None, suggest_inventory_above)
        planning = _inventory_planner(
            s3,
            plan_from,
            engine,
            bucket,
            inventory_bucket or batch_report_bucket or lock_bucket,
            journal_settle_seconds,
            athena_workgroup,
            athena_database,
        )
        # The listing streams, so the bar's total is the keys listed so far and grows until the listing ends.
        with (
            planning as planner,
            interruptible(json_output, f"the restore of {bucket}") as interruption,
            Progress(
                SpinnerColumn(),
                TextColumn("[progress.description]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("keys"),
                TimeElapsedColumn(),
                console=stderr,
                transient=True,
            ) as progress,
        ):
            task = progress.add_task(escape(f"restoring s3://{bucket}/{prefix}"), total=None)
            summary = restore_bucket(
                s3,
                options,
                s3control=s3control,
                on_key_done=lambda n: progress.advance(task, n),
                on_key_listed=lambda listed: progress.update(task, total=listed),
                stop=interruption.stop,
                planner=planner,
            )
            _after_planning(summary, s3, options, planner, plan_from, check_against_listing, suggest_inventory_above)
            if summary.get("batch_jobs") and track_batch_seconds and s3control is not None and options.batch:
                summary["batch_jobs"] = track_jobs(
                    s3control, options.batch.account_id, summary["batch_jobs"], timeout_seconds=track_batch_seconds
                )
    except BlastRadiusRefused as error:
        fail(str(error), EXIT_USAGE, as_json=json_output, blast_radius=error.assessment)
    except LockHeld as error:
        fail(str(error), EXIT_FAILED, as_json=json_output, lock=asdict(error.info))
    except ValueError as error:
        fail(str(error), EXIT_USAGE, as_json=json_output, **_done_so_far(error))
    except (ClientError, BotoCoreError) as error:
        aws_failure(error, json_output, **_done_so_far(error))
    finish(summary, _restore_exit_code(summary, interruption.code), as_json=json_output)


@contextmanager
def _inventory_planner(
    s3: Any,
    plan_from: PlanSource,
    engine: SqlEngine,
    bucket: str,
    inventory_bucket: str | None,
    settle_seconds: int,
    workgroup: str | None,
    database: str,
) -> Iterator[inventory.InventoryPlanner | None]:
    """The inventory planner, or None (the listing planner) for --plan-from listing and before the first report."""
    if plan_from is PlanSource.LISTING:
        yield None
        return
    if not inventory_bucket:
        raise ValueError(
            "--plan-from inventory needs --inventory-bucket (or --batch-report-bucket, DR_INVENTORY_BUCKET)"
        )
    settle = timedelta(seconds=settle_seconds)
    if engine is SqlEngine.ATHENA:
        athena = aws.client("athena")
        region = athena.meta.region_name
        with inventory.athena_planner(
            s3,
            athena,
            inventory_bucket,
            bucket,
            workgroup=workgroup or recovery_workgroup(region),
            database=database,
            settle=settle,
        ) as planner:
            _say_if_no_report(planner, bucket, inventory_bucket)
            yield planner
        return
    with inventory.duckdb_planner(s3, s3, inventory_bucket, bucket, settle=settle) as planner:
        _say_if_no_report(planner, bucket, inventory_bucket)
        yield planner


def _say_if_no_report(planner: inventory.InventoryPlanner | None, bucket: str, inventory_bucket: str) -> None:
    if planner is None:
        warn(
            f"no S3 Inventory report for {bucket} in s3://{inventory_bucket} yet (the first arrives within 48 h of "
            "enabling it): planning from a listing instead"
        )


def _after_planning(
    summary: dict[str, Any],
    s3: Any,
    options: RestoreOptions,
    planner: inventory.InventoryPlanner | None,
    plan_from: PlanSource,
    check_against_listing: bool,
    suggest_above: int,
) -> None:
    """Say which planner ran and why; compare the plans when asked; suggest the inventory for a large bucket."""
    if plan_from is PlanSource.INVENTORY and planner is None:
        summary["planner_note"] = "no inventory report yet: planned from a listing"
    if check_against_listing and planner is not None:
        check = inventory.compare_with_listing(s3, options, read_bucket_protection(s3, options.bucket), planner)
        summary["plan_check"] = check
        if check["differences"]:
            warn(f"the inventory plan differs from the listing plan on {check['differences']} key(s)")
    if planner is None and summary["versions_scanned"] > suggest_above:
        summary["inventory_suggested"] = True
        warn(
            f"{summary['versions_scanned']:,} versions listed (above {suggest_above:,}): next time plan with SQL, "
            "--plan-from inventory (docs/runbooks/restore-bucket.md)"
        )


def _suggest_inventory_before_listing(bucket: str, region: str | None, suggest_above: int) -> None:
    """Before a listing restore: S3's daily NumberOfObjects says how long the listing will take."""
    try:
        count = inventory.versions_from_storage_metrics(client("cloudwatch", region), bucket)
    except (ClientError, BotoCoreError):
        return  # a hint only: no permission or no metric is no reason to stop a restore
    if count is not None and count > suggest_above:
        warn(
            f"{bucket} holds about {count:,} versions and delete markers (S3 NumberOfObjects): a listing plans about "
            "11,000 a second; --plan-from inventory plans them with SQL (docs/runbooks/restore-bucket.md)"
        )


def _done_so_far(error: BaseException) -> dict[str, Any]:
    """The counts of a restore stopped by an error after it began (``restore_summary``), printed and returned."""
    done: dict[str, Any] | None = getattr(error, "restore_summary", None)
    if done is None:
        return {}
    stderr.print(
        f"[yellow]stopped by the error:[/yellow] {done['copied']} copied, {done['undeleted']} undeleted, "
        f"{done['deleted']} deleted, {done['failed']} failed; {done['not_done']} planned key(s) not done. Run the "
        "same command again after fixing the cause: it skips what is done."
    )
    return {"summary": done}


def _restore_exit_code(summary: dict[str, Any], signal_code: int | None) -> int:
    """130/143 on a signal; 3 when a systemic AWS refusal stopped it, 1 for other failures or an empty match."""
    if signal_code is not None:
        stderr.print(
            f"[yellow]stopped:[/yellow] {summary['copied']} copied, {summary['undeleted']} undeleted, "
            f"{summary['deleted']} deleted, {summary['failed']} failed; {summary['not_done']} planned key(s) not "
            f"done{'' if summary['listing_complete'] else ' and the listing was not finished'}. Run the same "
            "command again to finish: it skips what is done."
        )
        return signal_code
    if summary["systemic_failure"] is not None:
        for name, entry in summary["error_classes"].items():
            warn(f"{entry['count']} key(s) failed with {name}, e.g. {entry['sample'][:3]}")
        warn(f"stopped early: {summary['stopped']}; fix the cause and run the same command again")
        aws = summary["error_classes"][summary["systemic_failure"]]["aws"]
        return EXIT_AWS if aws else EXIT_FAILED
    if summary["stopped"] is not None:
        warn(f"stopped early: {summary['stopped']}")
        return EXIT_FAILED
    if summary["warning"]:
        warn(summary["warning"])
        return EXIT_FAILED
    return EXIT_FAILED if summary["failed"] else EXIT_OK


@app.command("verify-mfa-delete")
def verify_mfa_delete(
    buckets: Annotated[list[str], typer.Argument(callback=_each_bucket, help="Tier-1 primary buckets to check.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Exit 0 only if every bucket has versioning and MFA delete Enabled (the root runbook's result)."""
    try:
        s3 = aws.client("s3")
        states = [mfa_delete_state(s3, bucket) for bucket in buckets]
    except (ClientError, BotoCoreError) as error:
        aws_failure(error, as_json)
    compliant = all(state.compliant for state in states)
    finish(
        {
            "buckets": [{**asdict(state), "compliant": state.compliant} for state in states],
            "compliant": all(state.compliant for state in states),
            "runbook": "docs/runbooks/mfa-delete.md",
        },
        EXIT_OK if compliant else EXIT_FAILED,
        as_json=as_json,
    )


def _actions_value(value: str) -> str:
    actions = [action.strip() for action in value.split(",") if action.strip()]
    unknown = sorted(set(actions) - set(inventory.AUDIT_ACTIONS))
    if not actions or unknown:
        raise typer.BadParameter(
            f"{', '.join(unknown) or 'nothing'} is not one of {', '.join(inventory.AUDIT_ACTIONS)}",
            param_hint="--actions",
        )
    return value


@app.command("audit-objects")
def audit_objects_command(
    bucket: Annotated[str, typer.Option(callback=bucket_value, help="Bucket whose object changes to list.")],
    since: Annotated[
        str,
        typer.Option(callback=time_value("--since"), help="From this time, ISO 8601 with an offset (Z or ±hh:mm)."),
    ],
    key_prefix: Annotated[str, typer.Option(callback=key_prefix_value, help="Only keys under this prefix.")] = "",
    actions: Annotated[
        str, typer.Option(callback=_actions_value, help="Comma-separated: create, overwrite, delete.")
    ] = ",".join(inventory.AUDIT_ACTIONS),
    inventory_bucket: Annotated[
        str | None,
        typer.Option(
            envvar="DR_INVENTORY_BUCKET",
            callback=bucket_value,
            help="Bucket holding the journal and inventory reports (the reports bucket in the bucket's Region).",
        ),
    ] = None,
    engine: Annotated[
        SqlEngine, typer.Option(help="duckdb here, or athena (the stack's workgroup).")
    ] = SqlEngine.DUCKDB,
    athena_workgroup: Annotated[
        str | None, typer.Option(envvar="DR_ATHENA_WORKGROUP", help="Athena workgroup (default: dr-recovery-<region>).")
    ] = None,
    athena_database: Annotated[
        str, typer.Option(envvar="DR_ATHENA_DATABASE", help="Glue database of the inventory and journal tables.")
    ] = RECOVERY_DATABASE,
    spikes_min_deletes: Annotated[
        int | None,
        typer.Option(min=1, help="Also list 5-minute windows with at least this many deleted objects."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1_000_000, help="Print at most this many changes.")] = 1000,
    as_json: JsonOption = False,
) -> None:
    """Who created, overwrote or deleted which objects since --since, from the change journal (S3 -> EventBridge ->
    Firehose Parquet) with DuckDB or Athena; CloudTrail data events add who for requests the journal lacks."""
    reports = inventory_bucket or os.environ.get("DR_BATCH_REPORT_BUCKET")
    if not reports:
        fail("audit-objects needs --inventory-bucket (or DR_INVENTORY_BUCKET, DR_BATCH_REPORT_BUCKET)", as_json=as_json)
    start = parse_time(since, "--since")
    chosen = [action.strip() for action in actions.split(",") if action.strip()]
    try:
        s3 = aws.client("s3")
        with _journal_engine(s3, engine, reports, bucket, start, athena_workgroup, athena_database) as sql:
            changes = inventory.audit_objects(sql, bucket, start, prefix=key_prefix, actions=chosen)
            spikes = inventory.deletion_spikes(sql, bucket, start, spikes_min_deletes) if spikes_min_deletes else None
    except ValueError as error:
        fail(str(error), EXIT_USAGE, as_json=as_json)
    except (ClientError, BotoCoreError) as error:
        aws_failure(error, as_json)
    counts = {action: sum(1 for change in changes if change["action"] == action) for action in chosen}
    report: dict[str, Any] = {
        "bucket": bucket,
        "since": start.isoformat(),
        "prefix": key_prefix,
        "engine": engine.value,
        "counts": counts,
        "changes": [_jsonable(change) for change in changes[:limit]],
        "truncated": len(changes) > limit,
    }
    if spikes is not None:
        report["deletion_spikes"] = [_jsonable(spike) for spike in spikes]
    if not as_json:
        _print_changes(report)
    finish(report, EXIT_OK, as_json=as_json)


@contextmanager
def _journal_engine(
    s3: Any,
    engine: SqlEngine,
    reports_bucket: str,
    bucket: str,
    since: Any,
    workgroup: str | None,
    database: str,
) -> Iterator[inventory.Engine]:
    if engine is SqlEngine.ATHENA:
        athena = aws.client("athena")
        report = inventory.latest_report(s3, reports_bucket, bucket)
        yield inventory.AthenaEngine(
            athena,
            workgroup or recovery_workgroup(athena.meta.region_name),
            database,
            inventory_table(bucket),
            journal_table(bucket),
            report_partition=f"{report.created:%Y-%m-%d-%H-%M}" if report else "none",
        )
        return
    with inventory.duckdb_journal(s3, reports_bucket, bucket, since) as duck:
        yield duck


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {name: value.isoformat() if hasattr(value, "isoformat") else value for name, value in row.items()}


def _print_changes(report: dict[str, Any]) -> None:
    table = Table(title=escape(f"{report['bucket']}/{report['prefix']} since {report['since']}"))
    for column in ("time", "action", "key", "version", "requester", "source IP"):
        table.add_column(column)
    for change in report["changes"][:50]:
        table.add_row(
            escape(str(change["event_time"])),
            escape(str(change["action"]) + (f" ({change['deletion_type']})" if change.get("deletion_type") else "")),
            escape(repr(change["key"])),
            escape(str(change["version_id"])),
            escape(str(change.get("requester") or "")),
            escape(str(change.get("source_ip_address") or "")),
        )
    stderr.print(table)
    stderr.print(escape(f"counts: {report['counts']}" + (" (truncated)" if report["truncated"] else "")))
    for spike in report.get("deletion_spikes") or []:
        stderr.print(escape(f"deletion spike: {spike}"))
