"""Names the stack and the recovery runtime must agree on (docs/contract.md, "Runtime names").

Dependency-free, so the Pulumi program can import it without loading the runtime's clients.
"""

from __future__ import annotations

BATCH_SERVICE_PRINCIPAL = "batchoperations.s3.amazonaws.com"


def batch_report_prefix(bucket: str) -> str:
    """Where a restore of ``bucket`` keeps its Batch Operations manifests and reports; its Batch role may
    touch nothing else in the reports bucket."""
    return f"dr-restore/{bucket}"


# The retention floor for on-demand table backups: pruning never deletes a backup younger than this, and
# ``--retention-days``/``RETENTION_DAYS`` below it are refused. Defined here (dependency-free) because the Lambda
# code ships only ``handlers/``; ``components/tiers.py`` re-exports it as the tiers' minimum backup retention.
MIN_BACKUP_RETENTION_DAYS = 7
