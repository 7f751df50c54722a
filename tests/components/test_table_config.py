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

from components.config import ConfigError, parse
from components.tiers import FailureMode, LockMode, Objective
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
