"""Recovery drills for DynamoDB: damage canary items on purpose, restore the table, and measure what was achieved.

A drill writes canary items (partition key ``dr-drill#<drill id>#<nnnnn>``, sort key ``dr-drill`` when the table
has one), takes a recovery point, then overwrites half and deletes a quarter of them. It restores into a new
table with the same ``restore_table`` that ``drctl restore-table`` uses, validating against the canaries as the
reference (every canary must be back at generation 1), and reports:

- measured RTO: wall time from the start of the restore until the restored table is validated;
- measured RPO: from the canaries, by the shared rule (``handlers.drills.objectives``): the fault (the first
  damaging write) minus the write time of the newest canary that came back right (0 when the newest did).

Recovery points:

- ``backup`` (default): an on-demand backup taken after the canaries were written. moto models this one: a
  backup is a real snapshot there.
- ``pitr``: a time T between the canary writes and the damage (at least the 1 s resolution away from both).
  DynamoDB can restore only up to ``LatestRestorableDateTime`` (typically about 5 minutes behind now), so the
  drill waits for it to pass T before the restore; that wait is not part of the measured RTO. moto's PITR
  restore ignores the time and copies the current items (GUIDE §3), so there this drill fails, honestly.

Afterwards the drill deletes its canaries from the source, the restored table (turning off the deletion
protection the restore re-applied) with the alarms and autoscaling targets copied onto it, and its backup,
unless ``keep``. Cleanup also runs when validation fails or the drill stops on an error.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from handlers import interrupts
from handlers.drills.objectives import CanaryWrite, measure_rpo, within_objectives
from handlers.dynamodb.restore import (
    ExpectedItem,
    Reference,
    TableClients,
    WaitPolicy,
    batch_get,
    canonical_key,
    plain_item,
    restore_table,
    table_alarms,
    wait_until_active,
)

CANARY_PREFIX = "dr-drill#"  # then the drill id and the canary number
CANARY_SORT_KEY_VALUE = "dr-drill"
GENERATION_ATTRIBUTE = "dr_drill_generation"
WRITTEN_AT_ATTRIBUTE = "dr_drill_written_at"
# PITR restores to the second, so T must sit clearly between the writes and the damage.
TIMESTAMP_RESOLUTION_SECONDS = 1.1
BATCH_WRITE_LIMIT = 25  # BatchWriteItem's maximum requests per call
DEFAULT_WAIT = WaitPolicy()  # restore_table's: table ACTIVE checks every 20 s for up to an hour
# How long to wait for LatestRestorableDateTime to pass T (about 5 min behind now on DynamoDB).
DEFAULT_RESTORABLE_WAIT = WaitPolicy(delay_seconds=15, max_attempts=40)
# A LatestRestorableDateTime that does not move over this many checks is not going to (an emulator).
STALLED_CHECKS = 4


class DrillMode(StrEnum):
    backup = "backup"
    pitr = "pitr"


class DrillError(Exception):
    """The service did not reach a state the drill needs (e.g. the backup never became AVAILABLE)."""


@dataclass
class TableDrillResult:
    table: str
    mode: str
    canaries: int
    overwritten: int
    deleted: int
    recovery_point: str
    restored_table: str
    restore: dict[str, Any]
    rto_seconds: float
    rpo_seconds: float
    backup_arn: str | None = None
    keys_wrong: list[str] = field(default_factory=list)
    cleanup: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    declared_rto_minutes: int | None = None
    declared_rpo_minutes: int | None = None

    @property
    def passed(self) -> bool:
        validated = self.restore.get("validation", {}).get("ok") is True and not self.keys_wrong
        return validated and within_objectives(
            self.rto_seconds, self.rpo_seconds, self.declared_rto_minutes, self.declared_rpo_minutes
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


@dataclass(frozen=True)
class CanaryKeys:
    partition: str
    sort: str | None

    def key(self, canary_id: str) -> dict[str, Any]:
        key = {self.partition: {"S": canary_id}}
        if self.sort is not None:
            key[self.sort] = {"S": CANARY_SORT_KEY_VALUE}
        return key


def canary_key_schema(table: dict[str, Any]) -> CanaryKeys:
    """The table's key attributes; refused unless each is a string (the canary values are strings)."""
    types = {definition["AttributeName"]: definition["AttributeType"] for definition in table["AttributeDefinitions"]}
    names = {element["KeyType"]: element["AttributeName"] for element in table["KeySchema"]}
    for name in names.values():
        if types.get(name) != "S":
            raise ValueError(
                f"table {table['TableName']}: key attribute {name} is of type {types.get(name)}, not S; "
                f"the drill's canary keys ({CANARY_PREFIX}<drill id>#<n>) are strings, so nothing was written"
            )
    return CanaryKeys(partition=names["HASH"], sort=names.get("RANGE"))


def canary_item(key: dict[str, Any], generation: int, written_at: float) -> dict[str, Any]:
    return {
        **key,
        GENERATION_ATTRIBUTE: {"N": str(generation)},
        WRITTEN_AT_ATTRIBUTE: {"S": datetime.fromtimestamp(written_at, UTC).isoformat()},
    }


def new_drill_id(started: datetime) -> str:
    """Unique per drill, so two drills of one table never share canaries or a restored table."""
    return f"{started.astimezone(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def drill_table_name(source: str, drill_id: str) -> str:
    """The drill's restored table; the suffix always survives the 255-character limit."""
    suffix = f"-drill-{drill_id}"
    return source[: 255 - len(suffix)] + suffix


def _table_exists(dynamodb: Any, name: str) -> bool:
    try:
        dynamodb.describe_table(TableName=name)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ResourceNotFoundException":
            return False
        raise
    return True


def _pitr_enabled(dynamodb: Any, table: str) -> bool:
    description = dynamodb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    return bool(description.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus") == "ENABLED")


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _wait_for_backup(dynamodb: Any, backup_arn: str, wait: WaitPolicy, sleep: Callable[[float], None]) -> None:
    for attempt in range(wait.max_attempts):
        details = dynamodb.describe_backup(BackupArn=backup_arn)["BackupDescription"]["BackupDetails"]
        if details["BackupStatus"] == "AVAILABLE":
            return
        if details["BackupStatus"] == "DELETED":
            raise DrillError(f"backup {backup_arn} was deleted before the drill could restore it")
        if attempt + 1 < wait.max_attempts:
            sleep(wait.delay_seconds)
    raise DrillError(f"backup {backup_arn} not AVAILABLE after {wait.max_attempts} checks")


def _wait_until_restorable(
    dynamodb: Any, table: str, point: datetime, wait: WaitPolicy, sleep: Callable[[float], None]
) -> str | None:
    """Wait until PITR can restore to ``point``; a warning when it never could (the restore is tried anyway)."""
    previous, stalled = None, 0
    latest: datetime | None = None
    for attempt in range(wait.max_attempts):
        description = dynamodb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
        reported = description.get("PointInTimeRecoveryDescription", {}).get("LatestRestorableDateTime")
        latest = _as_utc(reported) if isinstance(reported, datetime) else None
        if latest is not None and latest >= point:
            return None
        stalled = stalled + 1 if latest == previous else 0
        if stalled >= STALLED_CHECKS or attempt + 1 == wait.max_attempts:
            break
        previous = latest
        sleep(wait.delay_seconds)
    shown = latest.isoformat() if latest else "not reported"
    return (
        f"PITR LatestRestorableDateTime ({shown}) did not reach the recovery point {point.isoformat()}; "
        "restored anyway (an emulator that does not advance it, or a slow service)"
    )


def _delete_canaries(dynamodb: Any, table: str, keys: list[dict[str, Any]], sleep: Callable[[float], None]) -> int:
    for start in range(0, len(keys), BATCH_WRITE_LIMIT):
        request: dict[str, Any] = {
            table: [{"DeleteRequest": {"Key": key}} for key in keys[start : start + BATCH_WRITE_LIMIT]]
        }
        attempt = 0
        while request:
            request = dynamodb.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
            if request:
                attempt += 1
                sleep(min(0.05 * 2**attempt, 5.0))
    return len(keys)


def clean_up(
    clients: TableClients,
    table: str,
    keys: list[dict[str, Any]],
    restored_table: str,
    backup_arn: str | None,
    *,
    wait: WaitPolicy,
    sleep: Callable[[float], None],
    backup_name: str | None = None,
) -> dict[str, Any]:
    """Remove everything the drill made; each step is tried even when an earlier one failed, and reported.

    It runs to the end even on a second Ctrl-C or a SIGTERM (``handlers.interrupts.shielded``): the drilled table is
    the application's own. A backup whose ARN never came back (an interrupt during CreateBackup) is found by name.
    """
    with interrupts.shielded():
        return _clean_up(clients, table, keys, restored_table, backup_arn, backup_name, wait=wait, sleep=sleep)


def _drill_backup(dynamodb: Any, table: str, name: str) -> str | None:
    """The drill's backup by name: an interrupt can land after DynamoDB created it but before its ARN came back."""
    pages = dynamodb.get_paginator("list_backups").paginate(TableName=table, BackupType="USER")
    return next(
        (summary["BackupArn"] for page in pages for summary in page.get("BackupSummaries", [])
         if summary.get("BackupName") == name),
        None,
    )  # fmt: skip


def _clean_up(
    clients: TableClients,
    table: str,
    keys: list[dict[str, Any]],
    restored_table: str,
    backup_arn: str | None,
    backup_name: str | None,
    *,
    wait: WaitPolicy,
    sleep: Callable[[float], None],
) -> dict[str, Any]:
    ddb = clients.dynamodb
    cleaned: dict[str, Any] = {
        "canaries_deleted": 0,
        "restored_table_deleted": False,
        "alarms_deleted": [],
        "scalable_targets_deregistered": [],
        "backup_deleted": False,
        "errors": [],
    }

    def attempt(step: str, action: Callable[[], None]) -> None:
        try:
            action()
        except (ClientError, BotoCoreError, DrillError) as error:
            cleaned["errors"].append(f"{step}: {error}")

    def delete_canaries() -> None:
        cleaned["canaries_deleted"] = _delete_canaries(ddb, table, keys, sleep)

    def delete_restored_table() -> None:
        if not _table_exists(ddb, restored_table):
            return
        described = wait_until_active(ddb, restored_table, wait)  # no update or delete while CREATING/UPDATING
        if described.get("DeletionProtectionEnabled"):
            ddb.update_table(TableName=restored_table, DeletionProtectionEnabled=False)
            wait_until_active(ddb, restored_table, wait)
        resource_ids = [f"table/{restored_table}"] + [
            f"table/{restored_table}/index/{index['IndexName']}"
            for index in described.get("GlobalSecondaryIndexes", [])
        ]
        scalable = clients.autoscaling.describe_scalable_targets(ServiceNamespace="dynamodb", ResourceIds=resource_ids)
        for target in scalable.get("ScalableTargets", []):
            if target["ResourceId"] not in resource_ids:  # moto matches ResourceIds loosely
                continue
            clients.autoscaling.deregister_scalable_target(
                ServiceNamespace="dynamodb",
                ResourceId=target["ResourceId"],
                ScalableDimension=target["ScalableDimension"],
            )
            cleaned["scalable_targets_deregistered"].append(f"{target['ResourceId']} {target['ScalableDimension']}")
        # Found by the table they watch, so alarms the restore copied are removed even if it failed afterwards.
        alarms = [alarm["AlarmName"] for alarm in table_alarms(clients.cloudwatch, restored_table)]
        if alarms:
            clients.cloudwatch.delete_alarms(AlarmNames=alarms)
            cleaned["alarms_deleted"] = list(alarms)
        ddb.delete_table(TableName=restored_table)
        cleaned["restored_table_deleted"] = True

    def delete_backup() -> None:
        arn = backup_arn or (_drill_backup(ddb, table, backup_name) if backup_name else None)
        if arn:
            ddb.delete_backup(BackupArn=arn)
            cleaned["backup_deleted"] = True

    attempt("canaries", delete_canaries)
    attempt("restored table", delete_restored_table)
    attempt("backup", delete_backup)
    return cleaned


def run_table_drill(
    clients: TableClients,
    table: str,
    *,
    mode: DrillMode | str = DrillMode.backup,
    canaries: int = 200,
    declared_rto_minutes: int | None = None,
    declared_rpo_minutes: int | None = None,
    keep: bool = False,
    wait: WaitPolicy = DEFAULT_WAIT,
    restorable_wait: WaitPolicy = DEFAULT_RESTORABLE_WAIT,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[str], None] = lambda _message: None,
) -> TableDrillResult:
    mode = DrillMode(mode)
    if canaries < 4:
        raise ValueError("a drill needs at least 4 canaries (half overwritten, a quarter deleted)")
    ddb = clients.dynamodb
    started_at = datetime.now(UTC)
    # Everything that can refuse the drill is checked before the first canary is written.
    source = ddb.describe_table(TableName=table)["Table"]
    canary_keys = canary_key_schema(source)
    if mode is DrillMode.pitr and not _pitr_enabled(ddb, table):
        raise ValueError(f"table {table} does not have point-in-time recovery enabled: a pitr drill cannot restore it")
    drill_id = new_drill_id(started_at)
    restored_table = drill_table_name(table, drill_id)
    if _table_exists(ddb, restored_table):
        raise ValueError(f"table {restored_table} already exists; run the drill again in a second")

    ids = [f"{CANARY_PREFIX}{drill_id}#{index:05d}" for index in range(canaries)]
    keys = {canary_id: canary_keys.key(canary_id) for canary_id in ids}
    written_at: dict[str, float] = {}
    writes: list[CanaryWrite] = []
    expected: dict[str, dict[str, Any]] = {}
    backup_arn: str | None = None
    backup_name = f"{table[:200]}-dr-drill-{drill_id}" if mode is DrillMode.backup else None
    report: dict[str, Any] | None = None
    warnings: list[str] = []
    try:
        progress(f"Writing {canaries} canaries into {table}…")
        for canary_id in ids:
            written_at[canary_id] = time.time()
            expected[canary_id] = canary_item(keys[canary_id], 1, written_at[canary_id])
            ddb.put_item(TableName=table, Item=expected[canary_id])
            writes.append(CanaryWrite(len(writes), written_at[canary_id], time.time()))

        if mode is DrillMode.backup:
            progress(f"Backing up {table}…")
            details = ddb.create_backup(TableName=table, BackupName=backup_name)["BackupDetails"]
            backup_arn = str(details["BackupArn"])
            # The backup holds every write acknowledged before this time (the request's time marker).
            created = details.get("BackupCreationDateTime")
            recovery_point = _as_utc(created) if isinstance(created, datetime) else datetime.now(UTC)
            progress(f"Waiting for backup {backup_arn} to be AVAILABLE…")
            _wait_for_backup(ddb, backup_arn, wait, sleep)
        else:
            progress("Waiting past the 1 s timestamp resolution…")
            sleep(TIMESTAMP_RESOLUTION_SECONDS)
            recovery_point = datetime.now(UTC)
            sleep(TIMESTAMP_RESOLUTION_SECONDS)

        overwritten = ids[: canaries // 2]
        deleted = ids[canaries // 2 : canaries // 2 + canaries // 4]
        fault_at = time.time()
        progress(f"Damaging: overwriting {len(overwritten)} canaries, deleting {len(deleted)}…")
        for canary_id in overwritten:
            ddb.put_item(TableName=table, Item=canary_item(keys[canary_id], 2, time.time()))
        for canary_id in deleted:
            ddb.delete_item(TableName=table, Key=keys[canary_id])

        if mode is DrillMode.pitr:
            progress(f"Waiting until PITR can restore {table} to {recovery_point.isoformat()}…")
            warning = _wait_until_restorable(ddb, table, recovery_point, restorable_wait, sleep)
            if warning:
                warnings.append(warning)

        reference = Reference(
            expected=[ExpectedItem(key=keys[canary_id], item=expected[canary_id]) for canary_id in ids],
            source=f"{canaries} drill canaries",
        )
        progress(f"Restoring {table} into {restored_table}…")
        started = time.monotonic()
        report = restore_table(
            clients,
            table,
            to=recovery_point if mode is DrillMode.pitr else None,
            backup_arn=backup_arn,
            target=restored_table,
            reference=reference,
            sample_size=canaries,  # every canary, not a sample
            wait=wait,
        )
        # The validation above lists at most 50 mismatches; the RPO needs every canary that came back wrong.
        restored = batch_get(ddb, restored_table, list(keys.values()), sleep)
        keys_wrong = [
            canary_id
            for canary_id in ids
            if (restored_item := restored.get(canonical_key(keys[canary_id]))) is None
            or plain_item(restored_item) != plain_item(expected[canary_id])
        ]
        rto_seconds = time.monotonic() - started
        restore_report = report
    except BaseException as error:  # an interrupted drill must not leave its canaries and tables behind either
        if not keep:
            cleaned = clean_up(
                clients, table, list(keys.values()), restored_table, backup_arn,
                wait=wait, sleep=sleep, backup_name=backup_name,
            )  # fmt: skip
            error.add_note(f"drill cleanup after the failure: {cleaned}")
            error.cleanup = cleaned  # type: ignore[attr-defined]  # reported by drctl's one JSON object
        raise

    wrong = set(keys_wrong)
    rpo_seconds = measure_rpo(fault_at, writes, lambda canary: ids[canary.sequence] not in wrong).rpo_seconds
    if keep:
        cleanup: dict[str, Any] = {"kept": True}
    else:
        progress("Cleaning up the canaries, the drill table and the backup…")
        cleanup = clean_up(
            clients, table, list(keys.values()), restored_table, backup_arn, wait=wait, sleep=sleep,
            backup_name=backup_name,
        )  # fmt: skip
    return TableDrillResult(
        table=table,
        mode=mode.value,
        canaries=canaries,
        overwritten=len(overwritten),
        deleted=len(deleted),
        recovery_point=recovery_point.isoformat(),
        restored_table=restored_table,
        restore=restore_report,
        rto_seconds=round(rto_seconds, 3),
        rpo_seconds=round(rpo_seconds, 3),
        backup_arn=backup_arn,
        keys_wrong=keys_wrong,
        cleanup=cleanup,
        warnings=warnings,
        declared_rto_minutes=declared_rto_minutes,
        declared_rpo_minutes=declared_rpo_minutes,
    )
