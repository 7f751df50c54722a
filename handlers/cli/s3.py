"""``drctl`` commands for buckets: ``audit-replication``, ``restore-bucket`` (point-in-time restore of a bucket or
prefix, see ``handlers.s3.restore``) and ``verify-mfa-delete``."""

from __future__ import annotations

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
from handlers.s3 import audit
from handlers.s3.lock import LockHeld
from handlers.s3.mfa_delete import mfa_delete_state
from handlers.s3.plan import DEFAULT_MAX_CHANGE_SHARE, BatchOptions
from handlers.s3.restore import (
    DEFAULT_WORKERS,
    BlastRadiusRefused,
    RestoreOptions,
    restore_bucket,
    restore_client,
)
from handlers.times import parse_time


def _each_bucket(values: list[str]) -> list[str]:
    for value in values:
        bucket_value(value)
    return values


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
    bucket: Annotated[str, typer.Argument(callback=bucket_value, help="Bucket to restore (it must be versioned).")],
    to: Annotated[
        str,
        typer.Option("--to", callback=time_value("--to"), help="Point in time, ISO 8601 with an offset (Z or ±hh:mm)."),
    ],
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
) -> None:
    """Restore BUCKET (or a prefix) to how it was at --to, undeleting or copying each changed key."""
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
        # The listing streams, so the bar's total is the keys listed so far and grows until the listing ends.
        with (
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
