"""``drctl restore-bucket``: point-in-time restore of a bucket or prefix (see ``handlers.s3_restore``)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from handlers import aws
from handlers.cli import EXIT_AWS, EXIT_FAILED, EXIT_USAGE, app, emit, fail, stderr
from handlers.s3_batch import BatchOptions
from handlers.s3_restore import (
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
