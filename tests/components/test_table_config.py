"""Issue 13, item 9: malformed table configs fail before any resource is registered, each by key path.

Every case starts from the valid prod config and changes one thing; the real ``__main__.py`` runs under the mock
runtime, raises ``ConfigError`` and registers nothing. Prod table indexes: 0 users (MREC, TTL, GSI, export),
1 orders (MRSC: us-east-1 + us-west-2, witness us-east-2), 2 transactions (MREC, transactions).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from stackmodel.config import ConfigError, parse
from stackmodel.config.tables import OPERATIONS
from stackmodel.tiers import FailureMode, LockMode, Objective
from tests.components.harness import run_program_capturing, stack_config

PROD = stack_config("prod")
Change = Callable[[dict[str, Any]], None]


def set_(path: tuple[str | int, ...], value: Any) -> Change:
    def apply(config: dict[str, Any]) -> None:
        node: Any = config
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = copy.deepcopy(value)

    return apply


def delete(path: tuple[str | int, ...]) -> Change:
    def apply(config: dict[str, Any]) -> None:
        node: Any = config
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return apply


def mutated(*changes: Change) -> dict[str, Any]:
    config = copy.deepcopy(PROD)
    for change in changes:
        change(config)
    return config


@dataclass(frozen=True)
class Case:
    id: str
    changes: tuple[Change, ...]
    problems: tuple[str, ...]


def case(id_: str, *changes: Change, problems: tuple[str, ...]) -> Case:
    return Case(id_, changes, problems)


MALFORMED = [
    case(
        "hash-key-not-an-attribute",
        set_(("tables", 0, "hashKey"), "id"),
        problems=(
            "tables[0].hashKey: 'id' is not declared in attributes",
            "tables[0].attributes[0].name: 'userId' is neither a table nor an index key; DynamoDB declares key "
            "attributes only",
        ),
    ),
    case(
        "bad-attribute-type",
        set_(("tables", 0, "attributes", 1, "type"), "STRING"),
        problems=(
            "tables[0].attributes[1].type: must be S, N or B (DynamoDB key attributes are strings, numbers or "
            "binary), got 'STRING'",
        ),
    ),
    case(
        "replica-equals-primary",
        set_(("tables", 0, "replicaRegions"), ["us-west-2", "us-east-1"]),
        problems=("tables[0].replicaRegions[1]: 'us-east-1' is the primary region; replicas go elsewhere",),
    ),
    case(
        "rpo-0-on-mrec",
        set_(("tables", 2, "objectives", "regional", "rpoMinutes"), 0),
        problems=(
            "tables[2].objectives.regional.rpoMinutes: tier 1 cannot provide a regional RPO of 0 min; a regional "
            "RPO of 0 needs consistencyMode STRONG (MRSC): three regions of one region set, or two plus "
            "witnessRegion; MREC replicates in about a second with no guarantee",
        ),
    ),
    case(
        "rpo-0-two-regions-no-witness",
        delete(("tables", 1, "witnessRegion")),
        problems=(
            "tables[1].replicaRegions: MRSC needs exactly three regions (primary + replicas, or primary + one "
            "replica + witnessRegion), got 2",
        ),
    ),
    case(
        "pitr-period-36-days",
        set_(("tables", 0, "pitrRecoveryPeriodDays"), 36),
        problems=("tables[0].pitrRecoveryPeriodDays: PITR keeps 1 to 35 days, got 36",),
    ),
    case(
        "pitr-period-0-days",
        set_(("tables", 2, "pitrRecoveryPeriodDays"), 0),
        problems=("tables[2].pitrRecoveryPeriodDays: PITR keeps 1 to 35 days, got 0",),
    ),
    case(
        "mrsc-with-ttl",
        set_(("tables", 1, "ttlAttribute"), "expiresAt"),
        problems=("tables[1].ttlAttribute: MRSC tables (consistencyMode STRONG) do not support TTL",),
    ),
    case(
        "mrsc-with-transactions",
        set_(("tables", 1, "usesTransactions"), True),
        problems=(
            "tables[1].usesTransactions: MRSC tables (consistencyMode STRONG) do not support transactions; use "
            "EVENTUAL with a regional RPO of at least 1 minute",
        ),
    ),
    case(
        "mrsc-four-regions",
        set_(("tables", 1, "replicaRegions"), ["us-west-2", "us-east-2"]),
        problems=(
            "tables[1].replicaRegions: MRSC needs exactly three regions (primary + replicas, or primary + one "
            "replica + witnessRegion), got 4",
            "tables[1].witnessRegion: must differ from the table's primary and replica regions",
        ),
    ),
    case(
        "mrsc-mixed-region-sets",
        set_(("tables", 1, "witnessRegion"), "eu-west-1"),
        problems=(
            "tables[1].replicaRegions: MRSC regions must all come from one region set (US: us-east-1, us-east-2, "
            "us-west-2; EU: eu-central-1, eu-west-1, eu-west-2, eu-west-3; AP: ap-northeast-1, ap-northeast-2, "
            "ap-northeast-3), got ['eu-west-1', 'us-east-1', 'us-west-2']",
        ),
    ),
    case(
        "backup-rpo-under-an-hour",
        set_(("tables", 0, "backup"), {"rpoMinutes": 15}),
        problems=(
            "tables[0].backup.rpoMinutes: AWS Backup jobs run at most every 60 minutes, got 15; PITR already "
            "restores to any second (declare a logical RPO instead)",
        ),
    ),
    case(
        "cold-storage-minimum",
        set_(("tables", 0, "backup"), {"coldStorageAfterDays": 30, "deleteAfterDays": 100}),
        problems=(
            "tables[0].backup.deleteAfterDays: must be at least coldStorageAfterDays + 90 = 120 (a cold recovery "
            "point stays 90 days), got 100",
        ),
    ),
    case(
        "retention-outside-vault-lock",
        set_(("tables", 2, "backup"), {"deleteAfterDays": 500}),
        problems=(
            "tables[2].backup.deleteAfterDays: 500 days is outside the vault lock's retention (7 to 400 days) in "
            "both regions; AWS Backup would fail every job",
        ),
    ),
    case(
        "table-name-too-long-for-its-function-names",
        set_(("tables", 0, "name"), "a" * 50),
        problems=(
            f"tables[0].name: makes the function and role name 'distronation-prod-{'a' * 50}-rpo-age' longer "
            "than the 64 characters Lambda and IAM allow; shorten the table name or namePrefix",
        ),
    ),
    case(
        "duplicate-table-name",
        set_(("tables", 2, "name"), "users"),
        problems=("tables[2].name: duplicate table name 'users' (also tables[0])",),
    ),
    case(
        "gsi-on-undeclared-attribute",
        set_(("tables", 0, "globalSecondaryIndexes", 0, "hashKey"), "phone"),
        problems=(
            "tables[0].attributes[1].name: 'email' is neither a table nor an index key; DynamoDB declares key "
            "attributes only",
            "tables[0].globalSecondaryIndexes[0].hashKey: 'phone' is not declared in attributes",
        ),
    ),
    case(
        "provisioned-without-capacity",
        set_(("tables", 2, "billingMode"), "PROVISIONED"),
        problems=(
            "tables[2].capacity: is required with billingMode PROVISIONED (readUnits, writeUnits)",
            "tables[2].autoscaling: is required for a PROVISIONED table with replicas: global tables need on-demand "
            "capacity or autoscaling on every replica",
        ),
    ),
    case(
        "provisioned-replicated-without-autoscaling",
        set_(("tables", 2, "billingMode"), "PROVISIONED"),
        set_(("tables", 2, "capacity"), {"readUnits": 5, "writeUnits": 5}),
        problems=(
            "tables[2].autoscaling: is required for a PROVISIONED table with replicas: global tables need on-demand "
            "capacity or autoscaling on every replica",
        ),
    ),
    case(
        "tables-without-app",
        delete(("app",)),
        problems=("app: is required when sites or tables are declared",),
    ),
    case(
        "export-to-an-unknown-bucket",
        set_(("tables", 0, "export", "bucket"), "forensics"),
        problems=("tables[0].export.bucket: 'forensics' is not one of the stack's buckets",),
    ),
    case(
        "witness-on-mrec",
        set_(("tables", 0, "witnessRegion"), "us-east-2"),
        problems=("tables[0].witnessRegion: only applies to consistencyMode STRONG (MRSC)",),
    ),
    case(
        "vault-lock-min-above-max",
        set_(("backup", "vaultLock", "minRetentionDays"), 500),
        problems=("backup.vaultLock.minRetentionDays: must not exceed maxRetentionDays (400), got 500",),
    ),
    case("tier-4", set_(("tables", 2, "tier"), 4), problems=("tables[2].tier: must be 1, 2 or 3, got 4",)),
    case(
        "attribute-declared-twice",
        set_(
            ("tables", 0, "attributes"),
            [{"name": "userId", "type": "S"}, {"name": "email", "type": "S"}, {"name": "userId", "type": "S"}],
        ),
        problems=("tables[0].attributes[2].name: duplicate attribute 'userId'",),
    ),
    case(
        "non-key-attributes-without-include",
        set_(("tables", 0, "globalSecondaryIndexes", 0, "nonKeyAttributes"), ["displayName"]),
        problems=(
            "tables[0].globalSecondaryIndexes[0].nonKeyAttributes: is required with projectionType INCLUDE and only "
            "allowed with it",
        ),
    ),
    case(
        "include-without-non-key-attributes",
        set_(("tables", 0, "globalSecondaryIndexes", 0, "projectionType"), "INCLUDE"),
        problems=(
            "tables[0].globalSecondaryIndexes[0].nonKeyAttributes: is required with projectionType INCLUDE and only "
            "allowed with it",
        ),
    ),
    case(
        "duplicate-index-name",
        set_(
            ("tables", 0, "globalSecondaryIndexes"),
            [{"name": "by-email", "hashKey": "email"}, {"name": "by-email", "hashKey": "email", "rangeKey": "userId"}],
        ),
        problems=("tables[0].globalSecondaryIndexes: index names must be unique",),
    ),
    case(
        "capacity-on-pay-per-request",
        set_(("tables", 2, "capacity"), {"readUnits": 5, "writeUnits": 5}),
        problems=("tables[2].capacity: only applies to billingMode PROVISIONED",),
    ),
    case(
        "autoscaling-on-pay-per-request",
        set_(
            ("tables", 2, "autoscaling"),
            {"minReadUnits": 5, "maxReadUnits": 50, "minWriteUnits": 5, "maxWriteUnits": 50},
        ),
        problems=("tables[2].autoscaling: only applies to billingMode PROVISIONED",),
    ),
    case(
        "autoscaling-minimum-above-maximum",
        set_(("tables", 2, "billingMode"), "PROVISIONED"),
        set_(("tables", 2, "capacity"), {"readUnits": 5, "writeUnits": 5}),
        set_(
            ("tables", 2, "autoscaling"),
            {"minReadUnits": 60, "maxReadUnits": 50, "minWriteUnits": 5, "maxWriteUnits": 50},
        ),
        problems=("tables[2].autoscaling.minReadUnits: must not exceed its maximum (50), got 60",),
    ),
    case(
        "repeated-replica-region",
        set_(("tables", 0, "replicaRegions"), ["us-west-2", "us-west-2"]),
        problems=("tables[0].replicaRegions[1]: duplicate region 'us-west-2'",),
    ),
    case(
        "replicas-without-recoveryRegion",
        set_(("tables", 0, "replicaRegions"), ["us-east-2"]),
        problems=(
            "tables[0].replicaRegions: must include the stack's recoveryRegion 'us-west-2', where failover goes",
        ),
    ),
    case(
        "tier1-without-replicas",
        delete(("tables", 0, "replicaRegions")),
        problems=("tables[0].replicaRegions: tier 1 needs at least one replica region",),
    ),
    case(
        "unknown-operation",
        set_(("tables", 2, "operations"), ["GetItem", "GetRecords"]),
        problems=(
            "tables[2].operations[1]: must be a DynamoDB operation CloudWatch reports (GetItem, PutItem, UpdateItem, "
            "DeleteItem, Query, Scan, BatchGetItem, BatchWriteItem, TransactGetItems, TransactWriteItems, "
            "ExecuteStatement, BatchExecuteStatement, ExecuteTransaction), got 'GetRecords'",
        ),
    ),
    case(
        "empty-operations",
        set_(("tables", 2, "operations"), []),
        problems=("tables[2].operations: must name at least one operation the application uses",),
    ),
    case(
        "duplicate-operation",
        set_(("tables", 2, "operations"), ["GetItem", "PutItem", "GetItem"]),
        problems=("tables[2].operations: contains duplicates",),
    ),
    case(
        "eleven-operations",
        set_(("tables", 2, "operations"), list(OPERATIONS[:11])),
        problems=("tables[2].operations: at most 10: one metric-math alarm sums them",),
    ),
    case(
        "transactions-without-usesTransactions",
        set_(("tables", 0, "operations"), ["GetItem", "TransactWriteItems"]),
        problems=("tables[0].operations: TransactWriteItems needs usesTransactions: true",),
    ),
    case(
        "pitr-period-shorter-than-tier",
        set_(("tables", 0, "pitrRecoveryPeriodDays"), 20),
        problems=("tables[0].pitrRecoveryPeriodDays: may only lengthen tier 1's 35 days, got 20",),
    ),
    case(
        "objective-loosens-the-tier",
        set_(("tables", 0, "objectives"), {"regional": {"rpoMinutes": 30}}),
        problems=(
            "tables[0].objectives.regional.rpoMinutes: may only tighten tier 1's regional RPO of 15 min, got 30",
        ),
    ),
    case(
        "tier3-regional-objective",
        set_(("tables", 2, "tier"), 3),
        set_(("tables", 2, "objectives"), {"regional": {"rtoMinutes": 600}}),
        problems=(
            "tables[2].objectives.regional.rtoMinutes: tier 3 does not protect tables against regional loss, so it "
            "cannot provide a regional RTO of 600 min; use a lower tier number",
        ),
    ),
    case(
        "below-the-floor-without-replicas",
        set_(("tables", 0, "tier"), 2),
        delete(("tables", 0, "replicaRegions")),
        set_(("tables", 0, "objectives"), {"regional": {"rtoMinutes": 300}}),
        problems=(
            "tables[0].objectives.regional.rtoMinutes: tier 2 cannot provide a regional RTO of 300 min; its "
            "mechanisms deliver 480 min at best without replicaRegions",
        ),
    ),
    case(
        "backup-on-tier3",
        set_(("tables", 2, "tier"), 3),
        delete(("tables", 2, "objectives")),
        set_(("tables", 2, "backup"), {"deleteAfterDays": 35}),
        problems=("tables[2].backup: tier 3 has no AWS Backup plan (PITR only)",),
    ),
    case(
        "backup-rpo-uneven-schedule",
        set_(("tables", 0, "backup"), {"rpoMinutes": 300}),
        problems=(
            "tables[0].backup.rpoMinutes: must be a schedule AWS Backup can run evenly through the day (60, 120, 180, "
            "240, 360, 480, 720, 1440), got 300",
        ),
    ),
    case(
        "backup-rpo-looser-than-tier",
        set_(("tables", 0, "backup"), {"rpoMinutes": 120}),
        problems=("tables[0].backup.rpoMinutes: may only tighten tier 1's backup RPO of 60 min, got 120",),
    ),
    case(
        "crossAccountVaultArn-not-a-vault",
        set_(("backup", "crossAccountVaultArn"), "arn:aws:s3:::distronation-vault"),
        problems=(
            "backup.crossAccountVaultArn: must be a backup vault ARN "
            "(arn:<partition>:backup:<region>:<account>:backup-vault:<name>), got 'arn:aws:s3:::distronation-vault'",
        ),
    ),
    case(
        "export-schedule-malformed",
        set_(("tables", 0, "export", "schedule"), "weekly"),
        problems=(
            "tables[0].export.schedule: must be an EventBridge schedule: rate(<n> minute|minutes|hour|hours|day|days) "
            "or cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>) with '?' in one day field "
            "('weekly' is neither rate(<n> minutes|hours|days) nor cron(<6 fields>)), got 'weekly'",
        ),
    ),
]


def message_lines(error: Exception) -> list[str]:
    _, *lines = str(error).splitlines()
    return [line.removeprefix("  - ") for line in lines]


def test_at_least_12_distinct_malformed_table_configs() -> None:
    assert len({c.id for c in MALFORMED}) == len(MALFORMED) >= 12
    configs = [json.dumps(mutated(*c.changes), sort_keys=True) for c in MALFORMED]
    assert len(set(configs)) == len(configs)


@pytest.mark.parametrize("case", MALFORMED, ids=[c.id for c in MALFORMED])
def test_malformed_table_config_fails_before_any_resource(case: Case) -> None:
    run, error = run_program_capturing(mutated(*case.changes))

    assert isinstance(error, ConfigError), f"the program accepted a malformed config: {error!r}"
    assert message_lines(error) == list(case.problems)
    assert run.registrations == []


def test_every_table_and_backup_problem_is_reported_at_once() -> None:
    config = mutated(
        set_(("tables", 0, "pitrRecoveryPeriodDays"), 40),
        set_(("tables", 1, "ttlAttribute"), "expiresAt"),
        set_(("tables", 2, "backup"), {"rpoMinutes": 30}),
        set_(("backup", "vaultLock", "mode"), "LEGAL_HOLD"),
    )
    run, error = run_program_capturing(config)
    assert isinstance(error, ConfigError)
    lines = message_lines(error)
    assert [line.split(":")[0] for line in lines] == [
        "backup.vaultLock.mode",
        "tables[0].pitrRecoveryPeriodDays",
        "tables[1].ttlAttribute",
        "tables[2].backup.rpoMinutes",
    ]
    assert run.registrations == []


def test_prod_tables_parse_with_their_objectives() -> None:
    settings = parse(PROD)
    users, orders, transactions = settings.tables
    assert settings.app == "distronation"
    assert settings.table_regions == ("us-east-1", "us-west-2")
    assert (orders.consistency_mode, orders.witness_region, orders.stream_enabled) == ("STRONG", "us-east-2", False)
    assert orders.objectives[FailureMode.REGIONAL] == Objective(rpo_minutes=0, rto_minutes=15)
    assert transactions.objectives[FailureMode.REGIONAL] == Objective(rpo_minutes=1, rto_minutes=30)
    assert transactions.stream_enabled and users.stream_enabled  # MREC global tables replicate through streams
    assert users.backup is not None and users.backup.rpo_minutes == 60
    assert {t.pitr_recovery_period_days for t in settings.tables} == {35}
    assert settings.backup.vault_lock.mode is LockMode.COMPLIANCE
    assert settings.backup.manage_region_settings


def test_a_governance_stack_without_backup_settings_gets_the_defaults() -> None:
    settings = parse(mutated(delete(("backup",))))
    assert settings.backup.vault_lock.mode is LockMode.GOVERNANCE
    assert not settings.backup.manage_region_settings


# --- what the mutation run found unguarded (issue 23 item 12: tables.py in the mutation scope) ------------------

LEDGER = {
    "name": "ledger",
    "tier": 1,
    "hashKey": "id",
    "rangeKey": "at",
    "attributes": [
        {"name": "id", "type": "S"},
        {"name": "at", "type": "N"},
        {"name": "kind", "type": "B"},
        {"name": "owner", "type": "S"},
    ],
    "billingMode": "PROVISIONED",
    "capacity": {"readUnits": 5, "writeUnits": 6},
    "autoscaling": {
        "minReadUnits": 5,
        "maxReadUnits": 50,
        "minWriteUnits": 6,
        "maxWriteUnits": 60,
        "targetUtilization": 55,
    },
    "globalSecondaryIndexes": [
        {
            "name": "by-kind",
            "hashKey": "kind",
            "rangeKey": "owner",
            "projectionType": "INCLUDE",
            "nonKeyAttributes": ["total", "status"],
        }
    ],
    "replicaRegions": ["us-west-2"],
    "ttlAttribute": "expiresAt",
    "streamConsumers": ["audit", "search"],
    "operations": ["GetItem", "Scan"],
    "pitrRecoveryPeriodDays": 35,
    "backup": {"rpoMinutes": 60, "coldStorageAfterDays": 10, "deleteAfterDays": 200},
    "objectives": {"regional": {"rpoMinutes": 5, "rtoMinutes": 45}, "logical": {"rpoMinutes": 0, "rtoMinutes": 100}},
    "export": {"bucket": "reporting", "schedule": "rate(1 day)"},
}


def test_every_table_key_reaches_the_spec() -> None:
    """Each key of an entry that sets every one lands in its own spec field, with values that differ from each other
    and from the tier's defaults."""
    import dataclasses

    settings = parse(mutated(lambda config: config["tables"].append(copy.deepcopy(LEDGER))))
    fields = dataclasses.asdict(settings.tables[3])
    assert fields == {
        "name": "ledger",
        "tier": 1,
        "table_name": "distronation-prod-ledger",
        "hash_key": "id",
        "range_key": "at",
        "attributes": (("id", "S"), ("at", "N"), ("kind", "B"), ("owner", "S")),
        "billing_mode": "PROVISIONED",
        "capacity": {"read_units": 5, "write_units": 6},
        "autoscaling": {
            "min_read_units": 5,
            "max_read_units": 50,
            "min_write_units": 6,
            "max_write_units": 60,
            "target_utilization": 55,
        },
        "indexes": (
            {
                "name": "by-kind",
                "hash_key": "kind",
                "range_key": "owner",
                "projection_type": "INCLUDE",
                "non_key_attributes": ("total", "status"),
            },
        ),
        "primary_region": "us-east-1",
        "replica_regions": ("us-west-2",),
        "consistency_mode": "EVENTUAL",
        "witness_region": None,
        "ttl_attribute": "expiresAt",
        "uses_transactions": False,
        "stream_consumers": ("audit", "search"),
        "operations": ("GetItem", "Scan"),
        "pitr_recovery_period_days": 35,
        "objectives": {
            FailureMode.LOGICAL: {"rpo_minutes": 0, "rto_minutes": 100},
            FailureMode.REGIONAL: {"rpo_minutes": 5, "rto_minutes": 45},
        },
        "backup": {"rpo_minutes": 60, "cold_storage_after_days": 10, "delete_after_days": 200},
        "export": {"bucket": "reporting", "schedule": "rate(1 day)"},
    }
    users, orders, _transactions = settings.tables[:3]
    assert (orders.witness_region, orders.consistency_mode, users.indexes[0].non_key_attributes) == (
        "us-east-2",
        "STRONG",
        (),
    )


VAULT_ACCOUNT = {
    "accountId": "345678901234",
    "roleArn": "arn:aws:iam::345678901234:role/dr-isolated-vault-deployer",
    "organizationId": "o-distronation01",
}


def test_every_backup_setting_reaches_the_settings() -> None:
    from stackmodel.config.isolation import AirGappedVault, Isolation, RestoreTesting, S3Backup, VaultAccount
    from stackmodel.config.tables import BackupSettings
    from stackmodel.tiers import VaultLockProfile

    backup = {
        "manageRegionSettings": False,
        "includeRds": True,
        "crossAccountVaultArn": "arn:aws:backup:us-west-2:345678901234:backup-vault:dr-copies",
        "vaultLock": {"mode": "GOVERNANCE", "minRetentionDays": 8, "maxRetentionDays": 401, "changeableForDays": 4},
        "isolatedCopies": {"tier1": False, "tier2": True},
        "airGappedVault": {"minRetentionDays": 9, "maxRetentionDays": 402, "recoveryAccountId": "210987654321"},
        "vaultAccount": {**VAULT_ACCOUNT, "minRetentionDays": 10, "maxRetentionDays": 403, "changeableForDays": 5},
        "s3": {"target": "primary", "continuousRetentionDays": 30, "snapshotRetentionDays": 36},
        "restoreTesting": {"schedule": "cron(0 6 ? * MON *)", "validationWindowHours": 12, "selectionWindowDays": 3},
        "audit": True,
    }
    assert parse(mutated(set_(("backup",), backup))).backup == BackupSettings(
        manage_region_settings=False,
        vault_lock=VaultLockProfile(LockMode.GOVERNANCE, 8, 401, 4),
        include_rds=True,
        cross_account_vault_arn="arn:aws:backup:us-west-2:345678901234:backup-vault:dr-copies",
        isolation=Isolation(
            tiers=frozenset({2}),
            air_gapped=AirGappedVault(9, 402, "210987654321"),
            vault_account=VaultAccount("345678901234", VAULT_ACCOUNT["roleArn"], "o-distronation01", 10, 403, 5),
        ),
        s3=S3Backup("primary", 30, 36),
        restore_testing=RestoreTesting("cron(0 6 ? * MON *)", 12, 3),
        audit=True,
    )
    tier1_only = parse(mutated(set_(("backup",), {"isolatedCopies": {"tier1": True, "tier2": False}}))).backup
    assert tier1_only.isolation.tiers == frozenset({1})
    assert (tier1_only.isolation.air_gapped, tier1_only.isolation.vault_account) == (None, None)
    assert tier1_only.restore_testing is None


@pytest.mark.parametrize(
    ("key", "extra", "equal"),
    [
        ("vaultLock", {}, 120),
        ("airGappedVault", {"recoveryAccountId": "210987654321"}, 35),
        ("vaultAccount", VAULT_ACCOUNT, 120),
    ],
)
def test_a_retention_range_may_be_one_day_count_but_not_inverted(key: str, extra: dict[str, Any], equal: int) -> None:
    def bounds(low: int, high: int) -> Change:
        return set_(
            ("backup", key), {**PROD["backup"][key], **extra, "minRetentionDays": low, "maxRetentionDays": high}
        )

    retention = parse(mutated(bounds(equal, equal))).backup
    assert retention is not None
    with pytest.raises(ConfigError) as caught:
        parse(mutated(bounds(equal + 1, equal)))
    assert caught.value.problems == [
        f"backup.{key}.minRetentionDays: must not exceed maxRetentionDays ({equal}), got {equal + 1}"
    ]


def extra_table(**entry: Any) -> Any:
    """The prod stack plus a fourth table (tier 2, one key, no replica, unless ``entry`` says otherwise): its spec,
    or the stack's problems."""
    table = {"name": "extra", "tier": 2, "hashKey": "id", "attributes": [{"name": "id", "type": "S"}], **entry}
    try:
        return parse(mutated(lambda config: config["tables"].append(copy.deepcopy(table)))).tables[3]
    except ConfigError as error:
        return error.problems


TIER_1 = {"tier": 1, "replicaRegions": ["us-west-2"]}


def test_a_tables_backup_overrides_and_their_edges() -> None:
    from stackmodel.tiers import TableBackupProfile

    tier_2 = extra_table(backup={"rpoMinutes": 720})
    assert tier_2.backup == TableBackupProfile(720, None, 35)
    # Without a replica the regional copy is the newest backup: never better than the tier's declared regional RPO.
    assert tier_2.objectives[FailureMode.REGIONAL] == Objective(rpo_minutes=1440, rto_minutes=480)
    assert extra_table(**TIER_1, backup={"coldStorageAfterDays": None}).backup == TableBackupProfile(60, None, 120)
    assert extra_table(**TIER_1, backup={"rpoMinutes": 60}).backup == TableBackupProfile(60, 7, 120)
    cold = {"coldStorageAfterDays": 10}
    assert extra_table(**TIER_1, backup={**cold, "deleteAfterDays": 100}).backup == TableBackupProfile(60, 10, 100)
    assert extra_table(**TIER_1, backup={**cold, "deleteAfterDays": 99}) == [
        "tables[3].backup.deleteAfterDays: must be at least coldStorageAfterDays + 90 = 100 (a cold recovery point "
        "stays 90 days), got 99"
    ]
    # The prod vault lock keeps 7 to 400 days: both ends are allowed.
    assert extra_table(**TIER_1, backup={"deleteAfterDays": 400}).backup == TableBackupProfile(60, 7, 400)
    assert extra_table(backup={"deleteAfterDays": 7}).backup == TableBackupProfile(1440, None, 7)
    for days in (6, 401):
        backup = {"deleteAfterDays": days}
        assert extra_table(**(TIER_1 if days > 7 else {}), backup=backup) == [
            f"tables[3].backup.deleteAfterDays: {days} days is outside the vault lock's retention (7 to 400 days) "
            "in both regions; AWS Backup would fail every job"
        ]


def test_operations_default_grow_with_transactions_and_stop_at_ten() -> None:
    from stackmodel.config.tables import DEFAULT_OPERATIONS, TRANSACTION_OPERATIONS

    assert extra_table().operations == DEFAULT_OPERATIONS
    assert extra_table(usesTransactions=True).operations == (*DEFAULT_OPERATIONS, "TransactWriteItems")
    ten = [operation for operation in OPERATIONS if operation not in TRANSACTION_OPERATIONS]
    assert len(ten) == 10 and extra_table(operations=ten).operations == tuple(ten)


def test_pitr_and_autoscaling_edges() -> None:
    assert extra_table(tier=3).pitr_recovery_period_days == 7
    assert extra_table(tier=3, pitrRecoveryPeriodDays=7).pitr_recovery_period_days == 7
    assert extra_table(tier=3, pitrRecoveryPeriodDays=1) == [
        "tables[3].pitrRecoveryPeriodDays: may only lengthen tier 3's 7 days, got 1"
    ]
    fixed = {"minReadUnits": 5, "maxReadUnits": 5, "minWriteUnits": 7, "maxWriteUnits": 7}
    provisioned = {"billingMode": "PROVISIONED", "capacity": {"readUnits": 5, "writeUnits": 7}, "autoscaling": fixed}
    spec = extra_table(**TIER_1, **provisioned)
    assert (spec.autoscaling.min_read_units, spec.autoscaling.max_write_units) == (
        5,
        7,
    )  # a minimum may equal its maximum


def test_a_witness_stays_in_the_partition_and_off_the_tables_regions() -> None:
    strong = {"tier": 1, "consistencyMode": "STRONG", "replicaRegions": ["us-west-2"]}
    assert extra_table(**strong, witnessRegion="cn-north-1") == [
        "tables[3].replicaRegions: MRSC regions must all come from one region set (US: us-east-1, us-east-2, "
        "us-west-2; EU: eu-central-1, eu-west-1, eu-west-2, eu-west-3; AP: ap-northeast-1, ap-northeast-2, "
        "ap-northeast-3), got ['cn-north-1', 'us-east-1', 'us-west-2']",
        "tables[3].witnessRegion: must be in the primary region's partition 'aws'",
    ]
    assert extra_table(**strong, witnessRegion="us-west-2") == [
        "tables[3].witnessRegion: must differ from the table's primary and replica regions"
    ]
    assert extra_table(**strong, witnessRegion="us-east-2").witness_region == "us-east-2"


def test_a_boolean_is_not_a_tier() -> None:
    assert extra_table(tier=True) == ["tables[3].tier: must be 1, 2 or 3, got True"]


def test_the_longest_function_name_may_be_exactly_64_characters() -> None:
    # distronation-prod-<name>-rpo-age: 26 characters around the name.
    assert extra_table(name="n" * 38).table_name == f"distronation-prod-{'n' * 38}"
    assert extra_table(name="n" * 39) == [
        f"tables[3].name: makes the function and role name 'distronation-prod-{'n' * 39}-rpo-age' longer than the 64 "
        "characters Lambda and IAM allow; shorten the table name or namePrefix"
    ]


def test_undeclared_range_keys_and_write_bounds_are_reported_at_their_own_key() -> None:
    assert extra_table(rangeKey="at") == ["tables[3].rangeKey: 'at' is not declared in attributes"]
    index = {"name": "by-k", "hashKey": "k", "rangeKey": "zz"}
    attributes = [{"name": "id", "type": "S"}, {"name": "k", "type": "S"}]
    assert extra_table(attributes=attributes, globalSecondaryIndexes=[index]) == [
        "tables[3].globalSecondaryIndexes[0].rangeKey: 'zz' is not declared in attributes"
    ]
    scaling = {"minReadUnits": 5, "maxReadUnits": 5, "minWriteUnits": 8, "maxWriteUnits": 7}
    provisioned = {"billingMode": "PROVISIONED", "capacity": {"readUnits": 5, "writeUnits": 7}, "autoscaling": scaling}
    assert extra_table(**TIER_1, **provisioned) == [
        "tables[3].autoscaling.minWriteUnits: must not exceed its maximum (7), got 8"
    ]


def test_an_explicit_null_backup_rpo_keeps_the_tiers() -> None:
    from stackmodel.tiers import TableBackupProfile

    assert extra_table(backup={"rpoMinutes": None}).backup == TableBackupProfile(1440, None, 35)


def test_why_an_objective_is_out_of_reach() -> None:
    """The MRSC reason only for a regional RPO of 0 on a replicated table; "without replicaRegions" only where a
    replica would have helped (regional, none declared)."""
    assert extra_table(**TIER_1, objectives={"logical": {"rtoMinutes": 50}}) == [
        "tables[3].objectives.logical.rtoMinutes: tier 1 cannot provide a logical RTO of 50 min; its mechanisms "
        "deliver 60 min at best"
    ]
    assert extra_table(**TIER_1, objectives={"regional": {"rtoMinutes": 4}}) == [
        "tables[3].objectives.regional.rtoMinutes: tier 1 cannot provide a regional RTO of 4 min; its mechanisms "
        "deliver 5 min at best"
    ]
    assert extra_table(objectives={"regional": {"rpoMinutes": 720}}) == [
        "tables[3].objectives.regional.rpoMinutes: tier 2 cannot provide a regional RPO of 720 min; its mechanisms "
        "deliver 1440 min at best without replicaRegions"
    ]


def test_without_a_replica_the_regional_objective_is_what_a_backup_copy_delivers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Today's tier-2 default (1440/480) already sits at or above its daily copy and a 240-minute restore, so the rule
    is tried on a tier whose regional default is tighter than its backup: it loosens to the copy's RPO and the
    restore's RTO."""
    import dataclasses

    from stackmodel.config import tables

    tier_2 = tables.TABLE_TIERS[2]
    tight = {**tier_2.defaults, FailureMode.REGIONAL: Objective(rpo_minutes=60, rto_minutes=60)}
    monkeypatch.setattr(tables, "TABLE_TIERS", {**tables.TABLE_TIERS, 2: dataclasses.replace(tier_2, defaults=tight)})
    assert extra_table().objectives[FailureMode.REGIONAL] == Objective(rpo_minutes=1440, rto_minutes=240)


def test_a_table_spec_needs_the_name_prefix_and_the_primary_region() -> None:
    """Either missing is a problem of its own (reported elsewhere): no spec is built without it."""
    from stackmodel.config.errors import Problems, Unit
    from stackmodel.config.tables import TableContext, TableEntry, table_spec

    entry = TableEntry.model_validate(
        {"name": "x", "tier": 3, "hashKey": "id", "attributes": [{"name": "id", "type": "S"}]}
    )
    unit = Unit("tables[0]", secret=False, order=(4, 0))
    for prefix, primary in (("p", "us-east-1"), (None, "us-east-1"), ("p", None)):
        found = Problems()
        spec = table_spec(entry, TableContext(prefix, primary, None, None, None), unit, found)
        assert (spec is not None) == (prefix is not None and primary is not None) and not found
