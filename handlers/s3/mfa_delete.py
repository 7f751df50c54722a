"""Confirm on the live bucket what the root runbook (docs/runbooks/mfa-delete.md) should have done.

The program can only declare MFA delete; the root user enables it. After that, the stack config records an
attestation that the policy pack accepts. This check (``drctl verify-mfa-delete``) closes the loop: it reads
``GetBucketVersioning``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
