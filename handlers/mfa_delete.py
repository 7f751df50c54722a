"""Confirm on the live bucket what the root runbook (docs/runbooks/mfa-delete.md) should have done.

The program can only declare MFA delete; the root user enables it. After that, the stack config records an
attestation that the policy pack accepts. This check closes the loop: it reads ``GetBucketVersioning``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated, Any

import typer
from botocore.exceptions import BotoCoreError, ClientError

from handlers import aws
from handlers.cli import EXIT_AWS, EXIT_FAILED, EXIT_OK, app, emit, fail


@dataclass(frozen=True)
class MfaDeleteState:
    bucket: str
    versioning: str  # "Enabled", "Suspended" or "Never enabled"
    mfa_delete: str  # "Enabled", "Disabled" or "Never enabled"

    @property
    def compliant(self) -> bool:
        return self.versioning == "Enabled" and self.mfa_delete == "Enabled"


def mfa_delete_state(s3: Any, bucket: str) -> MfaDeleteState:
    response = s3.get_bucket_versioning(Bucket=bucket)
    return MfaDeleteState(
        bucket=bucket,
        versioning=response.get("Status", "Never enabled"),
        mfa_delete=response.get("MFADelete", "Never enabled"),
    )


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
