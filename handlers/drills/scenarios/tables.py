"""Logical loss in a table: corrupt items (seeded data and canaries), restore to before the corruption, validate.

Locally the restore comes from an on-demand backup taken just before the fault, because the emulator's PITR
restore ignores the time and copies the current (corrupted) items; against a deployed stack it is a PITR restore
to the end of the second before the fault (DynamoDB restores to the second). Either way the restore goes into a
new table through ``restore_table`` (what ``drctl restore-table`` runs), the RPO is read from the canaries in
the restored table, and the drill's canaries, restored table and backup are removed afterwards.

Tables come from the stack's ``tables`` config (GlobalTable). A build whose config has no ``tables`` reports that
it had no table to drill: never a pass.
"""

from __future__ import annotations

import math
import random
import time
from datetime import UTC, datetime
from typing import Any

from handlers.drills.canaries import CanaryWriter
from handlers.drills.model import Basis, ScenarioResult, Status, TableTarget, judge, minutes_to_seconds, not_run
from handlers.drills.objectives import measure_rpo
from handlers.drills.runner import DrillContext, Scenario
from handlers.drills.table import DEFAULT_WAIT, _wait_for_backup, _wait_until_restorable, clean_up, drill_table_name
from handlers.dynamodb.restore import TableClients, WaitPolicy, batch_get, canonical_key, restore_table

NAME = "table-item-corruption"
SEQUENCE_ATTRIBUTE = "dr_drill_sequence"
WRITTEN_AT_ATTRIBUTE = "dr_drill_written_at"
LOCAL_EMULATED = [
    "DynamoDB API: moto on 127.0.0.1, so the RTO (restore + validation) is a lower bound",
    "PITR: moto's restore ignores the time, so the restore uses an on-demand backup taken just before the fault; "
    "deployed drills restore by PITR",
    "fault detection: the drill knows the fault time",
]
BINARY_KEYS = "binary (B) key attributes: the restore's validation compares keys as JSON text, which has no bytes"
LOCAL_WAIT = WaitPolicy(delay_seconds=1, max_attempts=30)  # moto is ACTIVE at once
PITR_RESTORABLE_WAIT = WaitPolicy(delay_seconds=15, max_attempts=40)


def table_clients(context: DrillContext, region: str) -> TableClients:
    return TableClients(
        dynamodb=context.client("dynamodb", region),
        autoscaling=context.client("application-autoscaling", region),
        cloudwatch=context.client("cloudwatch", region),
        ssm=context.client("ssm", region),
    )


def seed_items(ddb: Any, table: TableTarget, prefix: str, count: int, rng: random.Random) -> dict[str, dict[str, Any]]:
    """Order-like items; returns canonical key -> item."""
    seeded: dict[str, dict[str, Any]] = {}
    for index in range(count):
        item = {
            **table.key(f"{prefix}order#{index:05d}"),
            "customer": {"S": f"customer-{rng.randint(1, 500):04d}"},
            "total_cents": {"N": str(rng.randint(99, 99_999))},
            "status": {"S": rng.choice(["placed", "paid", "shipped"])},
        }
        ddb.put_item(TableName=table.table_name, Item=item)
        seeded[canonical_key(table.key(f"{prefix}order#{index:05d}"))] = item
    return seeded


def drill_table(context: DrillContext, table: TableTarget) -> ScenarioResult:
    clients = table_clients(context, table.region)
    ddb = clients.dynamodb
    result = ScenarioResult(
        scenario=NAME,
        target=f"dynamodb://{table.table_name}",
        status=Status.failed,
        rto_seconds_target=minutes_to_seconds(table.logical.rto_minutes),
        rpo_seconds_target=minutes_to_seconds(table.logical.rpo_minutes),
        rto_basis=Basis.lower_bound if context.local else Basis.measured,
        emulated=list(LOCAL_EMULATED) if context.local else [],
    )
    prefix = f"dr-drill#{context.drill_id}#"
    rng = random.Random(f"{context.drill_id}/{table.name}")
    context.progress(f"{NAME} {table.table_name}: seeding {context.seed_objects} items")
    seeded = seed_items(ddb, table, prefix, context.seed_objects, rng)
    items: dict[int, dict[str, Any]] = {}

    def write(sequence: int, written_at: float) -> None:
        items[sequence] = {
            **table.key(f"{prefix}canary#{sequence:06d}"),
            SEQUENCE_ATTRIBUTE: {"N": str(sequence)},
            WRITTEN_AT_ATTRIBUTE: {"S": datetime.fromtimestamp(written_at, UTC).isoformat()},
        }
        ddb.put_item(TableName=table.table_name, Item=items[sequence])

    backup_arn: str | None = None
    restored = drill_table_name(table.table_name, context.drill_id)
    wait = LOCAL_WAIT if context.local else DEFAULT_WAIT
    keys = [table.key(f"{prefix}order#{index:05d}") for index in range(context.seed_objects)]
    writer = CanaryWriter(write, rate_per_second=context.canary_rate)
    writer.start()
    try:
        try:
            time.sleep(context.pre_fault_seconds)
            writer.wait_for(3)
            if context.local:
                details = ddb.create_backup(TableName=table.table_name, BackupName=f"dr-drill-{context.drill_id}")
                backup_arn = str(details["BackupDetails"]["BackupArn"])
            fault_at = time.time()
            written_so_far = [items[canary.sequence] for canary in writer.written]
            context.progress(f"{NAME} {table.table_name}: corrupting {len(seeded) + len(written_so_far)} items")
            for item in [*seeded.values(), *written_so_far]:
                corrupted = {name: value for name, value in item.items() if name in table.key("x")}
                ddb.put_item(TableName=table.table_name, Item={**corrupted, "corrupted": {"S": rng.randbytes(8).hex()}})
            time.sleep(context.post_fault_seconds)
        finally:
            canaries = writer.stop()
        keys += [table.key(f"{prefix}canary#{canary.sequence:06d}") for canary in canaries]

        if backup_arn:
            _wait_for_backup(ddb, backup_arn, wait, time.sleep)
            context.progress(f"{NAME} {table.table_name}: restoring backup {backup_arn} into {restored}")
            report = restore_table(clients, table.table_name, backup_arn=backup_arn, target=restored, wait=wait)
        else:
            at = datetime.fromtimestamp(math.floor(fault_at) - 0.001, UTC)
            warning = _wait_until_restorable(ddb, table.table_name, at, PITR_RESTORABLE_WAIT, time.sleep)
            if warning:
                result.notes.append(warning)
            context.progress(f"{NAME} {table.table_name}: PITR restore to {at.isoformat()} into {restored}")
            report = restore_table(clients, table.table_name, to=at, target=restored, wait=wait)
        back = batch_get(ddb, restored, keys)
        wrong = [key for key, item in seeded.items() if back.get(key) != item]
        present = {
            canary.sequence: back.get(canonical_key(table.key(f"{prefix}canary#{canary.sequence:06d}")))
            == items[canary.sequence]
            for canary in canaries
        }
        recovered_at = time.time()
    finally:
        cleanup = clean_up(
            clients, table.table_name, keys, restored, backup_arn, wait=wait, sleep=time.sleep,
            backup_name=f"dr-drill-{context.drill_id}" if context.local else None,
        )  # fmt: skip

    rpo = measure_rpo(fault_at, canaries, lambda canary: present[canary.sequence])
    result.rto_seconds_measured = round(recovered_at - fault_at, 3)
    result.rpo_seconds_measured = rpo.rpo_seconds
    result.rpo_basis = Basis.lower_bound if rpo.lower_bound else Basis.measured
    result.rpo = rpo.as_dict()
    result.checks = {
        "items_seeded": len(seeded),
        "items_wrong_count": len(wrong),
        "restore_mode": "backup" if backup_arn else "pitr",
        "restored_table": restored,
        "validation_ok": report.get("validation", {}).get("ok"),
        "cleanup_errors": cleanup.get("errors", []),
    }
    return judge(result, not wrong and not rpo.holes and rpo.pre_fault_recovered > 0)


def run(context: DrillContext) -> list[ScenarioResult]:
    tables = context.targets.tables
    if tables is None:
        return [not_run(NAME, "-", "no table to drill: this build's stack config has no `tables` (GlobalTable)")]
    if not tables:
        return [not_run(NAME, "-", "no table to drill: the stack declares no table")]
    return [
        not_run(NAME, f"dynamodb://{table.table_name}", BINARY_KEYS)
        if "B" in (table.partition_key_type, table.sort_key_type if table.sort_key else "S")
        else drill_table(context, table)
        for table in tables
    ]


ITEM_CORRUPTION = Scenario(
    name=NAME,
    summary="corrupt seeded items and canaries in each table, restore to before the corruption, validate",
    failure_mode="logical",
    run=run,
    scheduled=True,
)
