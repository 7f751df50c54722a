"""``drctl`` commands for buckets: ``audit-replication``, ``restore-bucket`` (point-in-time restore of a bucket or
prefix, see ``handlers.s3.restore``) and ``verify-mfa-delete``."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any

import typer
from botocore.exceptions import BotoCoreError, ClientError
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
    emit,
    fail,
    stderr,
)
from handlers.rpo_age import bucket_region
from handlers.s3 import audit
from handlers.s3.mfa_delete import mfa_delete_state
from handlers.s3.plan import BatchOptions
from handlers.s3.restore import (
    DEFAULT_WORKERS,
    RestoreOptions,
    parse_point_in_time,
    restore_bucket,
    restore_client,
)


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
    counts = Table(title=f"{report['bucket']} → {report['replica_bucket']}")
    counts.add_column("finding")
    counts.add_column("count", justify="right")
    for name, value in report["counts"].items():
        counts.add_row(name, str(value))
    stderr.print(counts)
    stderr.print(f"verified by: {report['verified_by']}; ETags compared: {report['etags_compared']}")
    for name, keys in report["findings"].items():
        for key in keys[:10]:
            stderr.print(f"  {name}: {key!r}")


@app.command("audit-replication")
def audit_replication_command(
    bucket: Annotated[str, typer.Option(help="Primary bucket.")],
    replica_bucket: Annotated[
        str | None, typer.Option(help="Replica bucket (default: the replication rule's destination).")
    ] = None,
    replica_region: Annotated[str | None, typer.Option(help="Replica's region (default: looked up).")] = None,
    prefix: Annotated[str, typer.Option(help="Only keys under this prefix.")] = "",
    rtc_window_minutes: Annotated[
        float, typer.Option(help="PENDING longer than this is a finding.")
    ] = audit.DEFAULT_RTC_WINDOW.total_seconds() / 60,
    publish: Annotated[bool, typer.Option(help="Publish counts to CloudWatch DR/Recovery.")] = True,
    checksums: Annotated[
        bool, typer.Option(help="Compare checksums (one HeadObject per side per key) where both have one.")
    ] = True,
    workers: Annotated[int, typer.Option(min=1, help="Concurrent HeadObject requests.")] = audit.DEFAULT_WORKERS,
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
        with stderr.status(f"Auditing {bucket} against {replica}…"):
            report = audit.audit_replication(s3_primary, s3_replica, target)
        if publish:
            audit.publish_audit_metrics(client("cloudwatch", region), report)
    except ValueError as error:
        fail(str(error), as_json=as_json)
    except (ClientError, BotoCoreError) as error:
        aws_failure(error, as_json)
    if as_json:
        emit(report, as_json)
    else:
        _print_audit(report)
    if not report["ok"]:
        raise typer.Exit(EXIT_FAILED)


@app.command("restore-bucket")
def restore_bucket_command(
    bucket: Annotated[str, typer.Argument(help="Bucket to restore (it must be versioned).")],
    to: Annotated[str, typer.Option("--to", help="Point in time, ISO 8601 (UTC if no offset).")],
    prefix: Annotated[str, typer.Option(help="Only keys under this prefix.")] = "",
    target_bucket: Annotated[str | None, typer.Option(help="Restore into this bucket instead.")] = None,
    target_prefix: Annotated[
        str | None, typer.Option(help="Replace --prefix with this prefix in restored keys.")
    ] = None,
    delete_created_after: Annotated[
        bool, typer.Option(help="Delete keys that did not exist at T (a plain delete: adds a marker).")
    ] = False,
    dry_run: Annotated[bool, typer.Option(help="Plan and count, write nothing.")] = False,
    workers: Annotated[int, typer.Option(min=1, max=256, help="Concurrent requests.")] = DEFAULT_WORKERS,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON summary on stdout.")] = False,
    mfa: Annotated[
        str | None,
        typer.Option(help='"SERIAL CODE" (root user): allows marker removal on an MFA-delete bucket.'),
    ] = None,
    archive_tier: Annotated[ArchiveTier, typer.Option(help="Glacier restore tier.")] = ArchiveTier.STANDARD,
    archive_days: Annotated[int, typer.Option(min=1, help="Days a restored archive copy stays readable.")] = 7,
    batch_threshold: Annotated[
        int | None, typer.Option(help="Above this many copies, create an S3 Batch Operations job instead.")
    ] = None,
    batch_role_arn: Annotated[
        str | None, typer.Option(envvar="DR_BATCH_ROLE_ARN", help="Role Batch Operations assumes.")
    ] = None,
    batch_report_bucket: Annotated[
        str | None, typer.Option(envvar="DR_BATCH_REPORT_BUCKET", help="Bucket for manifests and reports.")
    ] = None,
    batch_account_id: Annotated[str | None, typer.Option(help="Account id (default: the caller's).")] = None,
) -> None:
    """Restore BUCKET (or a prefix) to how it was at --to, undeleting or copying each changed key."""
    try:
        at = parse_point_in_time(to)
    except ValueError:
        fail(f"--to {to!r} is not an ISO 8601 time", EXIT_USAGE, as_json=json_output)
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
        )
        # One client, its pool sized to the workers, shared by every thread.
        s3 = restore_client(workers)
        s3control = aws.client("s3control") if options.batch else None
        # The listing streams, so the bar's total is the keys listed so far and grows until the listing ends.
        with Progress(
            SpinnerColumn(),
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("keys"),
            TimeElapsedColumn(),
            console=stderr,
            transient=True,
        ) as progress:
            task = progress.add_task(f"restoring s3://{bucket}/{prefix}", total=None)
            summary = restore_bucket(
                s3,
                options,
                s3control=s3control,
                on_key_done=lambda n: progress.advance(task, n),
                on_key_listed=lambda listed: progress.update(task, total=listed),
            )
    except ValueError as error:
        fail(str(error), EXIT_USAGE, as_json=json_output)
    except (ClientError, BotoCoreError) as error:
        fail(f"AWS refused or could not be reached: {error}", EXIT_AWS, as_json=json_output)
    emit(summary, json_output)
    if summary["failed"]:
        raise typer.Exit(EXIT_FAILED)


@app.command("verify-mfa-delete")
def verify_mfa_delete(
    buckets: Annotated[list[str], typer.Argument(help="Tier-1 primary buckets to check.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Exit 0 only if every bucket has versioning and MFA delete Enabled (the root runbook's result)."""
    try:
        s3 = aws.client("s3")
        states = [mfa_delete_state(s3, bucket) for bucket in buckets]
    except (ClientError, BotoCoreError) as error:
        fail(f"AWS refused or could not be reached: {error}", EXIT_AWS, as_json=as_json)
    emit(
        {
            "buckets": [{**asdict(state), "compliant": state.compliant} for state in states],
            "compliant": all(state.compliant for state in states),
            "runbook": "docs/runbooks/mfa-delete.md",
        },
        as_json,
    )
    raise typer.Exit(EXIT_OK if all(state.compliant for state in states) else EXIT_FAILED)
