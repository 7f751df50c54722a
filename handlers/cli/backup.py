"""``drctl backup status`` and ``drctl restore-bucket --from-backup``: AWS Backup from the operator's side."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from botocore.exceptions import BotoCoreError, ClientError

from handlers.aws import client
from handlers.backup.restore import RestoreRefused, restore_metadata, start_bucket_restore, track_restore, vault_name_of
from handlers.backup.status import backup_status
from handlers.cli import EXIT_FAILED, EXIT_OK, JsonOption, aws_failure, fail, finish
from handlers.cli.dynamodb import backup_app
from handlers.times import TimeError, parse_time


@backup_app.command("status")
def backup_status_command(
    stack: Annotated[str, typer.Option(help="The deployed stack whose backupStatus output to read.")] = "prod",
    outputs: Annotated[
        Path | None, typer.Option(help="A saved `pulumi stack output --json` instead of asking the pulumi CLI.")
    ] = None,
    project_dir: Annotated[Path, typer.Option(help="The Pulumi project directory.")] = Path("."),
    as_json: JsonOption = False,
) -> None:
    """Per store: newest recovery point in each vault against its RPO, last copy job, last restore test.
    Exit 1 when any objective is unmet."""
    from handlers.cli.drill_stack import read_outputs

    try:
        document = read_outputs(stack, outputs, project_dir).get("backupStatus")
    except ValueError as error:
        fail(str(error), as_json=as_json)
    if not isinstance(document, dict):
        fail(f"stack {stack} exports no backupStatus (deploy it with this version)", as_json=as_json)
    clients: dict[str, Any] = {}

    def client_for(region: str) -> Any:
        return clients.setdefault(region, client("backup", region))

    try:
        stores = backup_status(client_for, document, datetime.now(UTC))
    except (ClientError, BotoCoreError) as error:
        aws_failure(error, as_json)
    unmet = [store for store in stores if not store.met]
    finish(
        {"stack": stack, "stores": [store.as_dict() for store in stores], "unmet": [s.name for s in unmet]},
        EXIT_FAILED if unmet else EXIT_OK,
        as_json=as_json,
    )


def restore_from_backup(
    recovery_point_arn: str,
    to: str | None,
    target_bucket: str | None,
    role_arn: str | None,
    vault: str | None,
    as_json: bool,
) -> None:
    """Start an AWS Backup restore of an S3 recovery point and follow it to its end."""
    if not recovery_point_arn.startswith("arn:") or ":recovery-point:" not in recovery_point_arn:
        fail(f"--from-backup must be an AWS Backup recovery point ARN, got {recovery_point_arn!r}", as_json=as_json)
    if role_arn is None:
        fail("--backup-role-arn (or DR_BUCKET_BACKUP_ROLE_ARN) is required with --from-backup", as_json=as_json)
    try:
        at = parse_time(to, "--to") if to is not None else None
    except TimeError as error:
        fail(str(error), as_json=as_json)
    region = recovery_point_arn.split(":")[3]
    backup = client("backup", region)
    try:
        vault_name = vault or vault_name_of(backup, recovery_point_arn)
        metadata = restore_metadata(backup, recovery_point_arn, vault_name, target_bucket, at)
        job_id = start_bucket_restore(backup, recovery_point_arn, role_arn, metadata)
        last = None
        for progress in track_restore(backup, job_id):
            last = progress
    except RestoreRefused as error:
        fail(str(error), as_json=as_json)
    except (ClientError, BotoCoreError) as error:
        aws_failure(error, as_json)
    assert last is not None
    finish(
        {
            "restoreJobId": job_id,
            "status": last.status,
            "createdResourceArn": last.created_resource_arn,
            "message": last.status_message,
            "elapsedSeconds": round(last.elapsed_seconds, 1),
        },
        EXIT_OK if last.status == "COMPLETED" else EXIT_FAILED,
        as_json=as_json,
    )
