"""Names the stack and the recovery runtime must agree on (docs/contract.md, "Runtime names").

Dependency-free, so the Pulumi program can import it without loading the runtime's clients.
"""

from __future__ import annotations

BATCH_SERVICE_PRINCIPAL = "batchoperations.s3.amazonaws.com"


def batch_report_prefix(bucket: str) -> str:
    """Where a restore of ``bucket`` keeps its Batch Operations manifests and reports; its Batch role may
    touch nothing else in the reports bucket."""
    return f"dr-restore/{bucket}"


# The RPO-age metric (handlers/rpo_age.py) and the alarm on it: the stack creates the buckets' alarms
# (components/buckets.py), ``drctl backup --ensure-alarms`` upserts others under the same names.
RECOVERY_METRICS_NAMESPACE = "DR/Recovery"
RPO_AGE_METRIC = "RecoveryPointAgeSeconds"
RPO_ALARM_PERIOD_SECONDS = 3600


def rpo_dimensions(resource_type: str, resource: str, region: str) -> dict[str, str]:
    """``region`` is the resource's own Region, which is not always where the metric is published: a bucket's
    age is published in its replica's Region, beside the ``ReplicationLatency`` it is read from."""
    return {"ResourceType": resource_type, "Resource": resource, "Region": region}


def rpo_alarm_name(dimensions: dict[str, str]) -> str:
    return "dr-rpo-age-{ResourceType}-{Resource}-{Region}".format(**dimensions)


# The RPO-age metric's ResourceType dimension for tables (handlers/rpo_age.py publishes, components/tables.py alarms).
TABLE_PITR_RESOURCE_TYPE = "DynamoDBTable"  # PITR's latest restorable time, in each region of the table
TABLE_BACKUP_RESOURCE_TYPE = "DynamoDBTableBackup"  # the newest completed AWS Backup recovery point, primary region
# The tag GlobalTable writes and the AWS Backup selection matches (components/backup.py).
BACKUP_PLAN_TAG = "dr:backup-plan"

# The retention floor for on-demand table backups: pruning never deletes a backup younger than this, and
# ``--retention-days``/``RETENTION_DAYS`` below it are refused. Defined here (dependency-free) because the Lambda
# code ships only ``handlers/``; ``stackmodel/tiers.py`` re-exports it as the tiers' minimum backup retention.
MIN_BACKUP_RETENTION_DAYS = 7

# Single-flight restores (handlers/s3/lock.py): one lock object per destination bucket, in the stack's reports bucket.
LOCK_PREFIX = "dr-locks/"

# Restore planning at scale (handlers/s3/inventory.py, components/inventory.py): S3 Inventory writes
# ``<INVENTORY_PREFIX>/<source bucket>/<INVENTORY_CONFIG_ID>/<YYYY-MM-DDTHH-MMZ>/manifest.json`` (and ``data/``,
# ``hive/dt=.../``) into the reports bucket of the source's Region; Firehose writes the change journal beside it.
INVENTORY_PREFIX = "dr-inventory"
INVENTORY_CONFIG_ID = "dr-versions"
JOURNAL_PREFIX = "dr-journal"
# The inventory's optional fields the planner reads (S3 API InventoryOptionalField; the checksum field holds only the
# algorithm), beside the fields IncludedObjectVersions=All always adds (version id, is-latest, delete marker).
INVENTORY_OPTIONAL_FIELDS = (
    "Size",
    "LastModifiedDate",
    "ETag",
    "StorageClass",
    "ObjectLockRetainUntilDate",
    "ObjectLockMode",
    "ObjectLockLegalHoldStatus",
    "ChecksumAlgorithm",
)


def inventory_root(bucket: str) -> str:
    return f"{INVENTORY_PREFIX}/{bucket}/{INVENTORY_CONFIG_ID}/"


def journal_root(bucket: str) -> str:
    """Firehose's prefix for ``bucket``'s object events: ``dr-journal/<bucket>/dt=YYYY-MM-DD/``."""
    return f"{JOURNAL_PREFIX}/{bucket}/"


# The Glue database and tables over the inventory and the journal (components/inventory.py), which
# ``drctl restore-bucket --plan-from inventory --engine athena`` and ``drctl audit-objects --engine athena`` query.
RECOVERY_DATABASE = "dr_recovery"


def _glue_name(bucket: str) -> str:
    return bucket.replace("-", "_").replace(".", "_")


def inventory_table(bucket: str) -> str:
    return f"inventory_{_glue_name(bucket)}"


def journal_table(bucket: str) -> str:
    return f"journal_{_glue_name(bucket)}"


def recovery_workgroup(region: str) -> str:
    return f"dr-recovery-{region}"


def drill_lag_alarm_name(bucket: str) -> str:
    """The alarm on a tier-1 bucket's ``ReplicationLatency`` (in its replica's Region) that a drill reads while it
    holds a FIS replication pause, and stops the pause when it is in ALARM (components/drills.py, handlers/drills)."""
    return f"dr-drill-lag-{bucket}"


def drill_table_stop_alarm_name(table: str, region: str, receiving: str) -> str:
    """A global table's FIS stop condition: ``ReplicationLatency`` from its paused replica in ``region`` to
    ``receiving`` (components/drills.py); a drill waits for it to leave ALARM before it starts the experiment."""
    return f"dr-drill-stop-{table}-{region}-to-{receiving}"


def drill_workflow_name(name_prefix: str) -> str:
    """The scheduled drill's Step Functions state machine (and its Lambda) in the recovery Region; ``drctl
    drill-experiments`` lists its running executions before a deploy."""
    return f"{name_prefix}-dr-drill"
