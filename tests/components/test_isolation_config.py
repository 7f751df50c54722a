"""Isolated copies in the stack config (stackmodel/config/isolation.py) and the account-compromise objectives
(stackmodel/tiers.py): what a vault cannot hold, retentions outside a vault's bounds, and the limits of restore
testing are config errors naming the key, before any resource."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from stackmodel.config import ConfigError, parse
from stackmodel.config.isolation import (
    AIR_GAPPED_VAULT_TYPES,
    DYNAMODB,
    S3,
    account_vault_arn,
    isolated_vault_name,
)
from stackmodel.regions import (
    AIR_GAPPED_COPY_IN_UNAVAILABLE,
    AIR_GAPPED_VAULT_UNAVAILABLE,
    AWS_BACKUP_REGIONS,
    RESTORE_TESTING_REGIONS,
    S3_BACKUP_REGIONS,
)
from stackmodel.tiers import ISOLATION, NOT_COVERED, S3_SNAPSHOT_RPO_MINUTES, TABLE_TIERS
from tests.components.harness import run_program_capturing, stack_config

PROD = stack_config("prod")


def with_backup(**changes: Any) -> dict[str, Any]:
    config = copy.deepcopy(PROD)
    backup = config["backup"]
    for key, value in changes.items():
        if value is None:
            backup.pop(key, None)
        else:
            backup[key] = value
    return config


def problems(config: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        parse(config)
    return list(raised.value.problems)


def test_prod_copies_s3_to_the_air_gapped_vault_and_tables_to_the_other_account() -> None:
    isolation = parse(PROD).backup.isolation
    assert isolation.tiers == frozenset({1})
    assert isolation.kind_for(S3) == "air-gapped" and isolation.kind_for(DYNAMODB) == "account"
    assert isolated_vault_name("distronation-prod", "us-west-2") == "distronation-prod-isolated-us-west-2"
    assert account_vault_arn("distronation-prod", "us-west-2", "345678901234").startswith(
        "arn:aws:backup:us-west-2:345678901234:backup-vault:"
    )


def test_a_table_no_configured_vault_takes_is_a_config_error() -> None:
    found = problems(with_backup(vaultAccount=None))  # prod's air-gapped vault takes only S3
    assert len(found) == 3  # users, orders, transactions
    assert all("DynamoDB" in line and "backup.airGappedVault.resourceTypes: S3" in line for line in found)
    assert found[0].startswith("tables[0]: needs an isolated copy of DynamoDB")


def test_the_air_gapped_vault_takes_dynamodb_by_default() -> None:
    """AWS Backup Developer Guide, "Primary backups to logically air-gapped vaults": DynamoDB with advanced features
    backs up into a logically air-gapped vault, so without resourceTypes the vault takes every type it can hold."""
    assert {S3, DYNAMODB} == AIR_GAPPED_VAULT_TYPES
    lag = {k: v for k, v in PROD["backup"]["airGappedVault"].items() if k != "resourceTypes"}
    isolation = parse(with_backup(vaultAccount=None, airGappedVault=lag)).backup.isolation
    assert isolation.kind_for(DYNAMODB) == "air-gapped" and isolation.kind_for(S3) == "air-gapped"


@pytest.mark.parametrize("types", [["EBS"], []])
def test_an_air_gapped_resource_type_the_vault_cannot_take_is_refused(types: list[str]) -> None:
    lag = {**PROD["backup"]["airGappedVault"], "resourceTypes": types}
    found = problems(with_backup(airGappedVault=lag))
    assert found and all(line.startswith("backup.airGappedVault.resourceTypes") for line in found)


def test_switching_the_tier_off_needs_no_isolated_vault_for_it() -> None:
    parse(with_backup(vaultAccount=None, isolatedCopies={"tier1": False}))


def test_a_copy_retention_outside_the_vault_bounds_is_a_config_error() -> None:
    lag = {**PROD["backup"]["airGappedVault"], "maxRetentionDays": 20}
    found = problems(with_backup(airGappedVault=lag))
    assert len(found) == 2  # audio and uploads keep their snapshot copies 35 days
    assert all("35 days, outside backup.airGappedVault's retention (7-20 days)" in line for line in found)


def test_an_air_gapped_minimum_under_seven_days_is_refused() -> None:
    lag = {**PROD["backup"]["airGappedVault"], "minRetentionDays": 3}
    [line] = problems(with_backup(airGappedVault=lag))
    assert "airGappedVault.minRetentionDays" in line


def test_a_restore_test_validation_window_over_168_hours_is_refused() -> None:
    [line] = problems(with_backup(restoreTesting={"validationWindowHours": 169}))
    assert "restoreTesting.validationWindowHours" in line


def test_more_than_30_tier1_buckets_cannot_share_one_restore_test_selection() -> None:
    config = copy.deepcopy(PROD)
    config["buckets"] += [{"name": f"extra-{n}", "tier": 1, "mfaDeleteAttested": "2026-11-20"} for n in range(29)]
    assert any("at most 30 buckets" in line for line in problems(config))


def test_aws_backup_for_s3_outside_its_confirmed_regions_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from stackmodel.config import isolation

    assert "us-west-2" in S3_BACKUP_REGIONS and "eu-west-2" not in S3_BACKUP_REGIONS  # London's row: not readable
    monkeypatch.setattr(isolation, "S3_BACKUP_REGIONS", S3_BACKUP_REGIONS - {"us-west-2"})
    [line] = problems(PROD)
    assert line.startswith("backup.s3.target: AWS Backup for S3 is not confirmed in us-west-2")


def test_an_air_gapped_vault_where_aws_offers_none_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from stackmodel.config import isolation

    assert {"ca-west-1", "ap-southeast-5"} <= AIR_GAPPED_VAULT_UNAVAILABLE  # "Logically air-gapped vault", Regions
    monkeypatch.setattr(isolation, "AIR_GAPPED_VAULT_UNAVAILABLE", frozenset({"us-west-2"}))
    [line] = problems(PROD)
    assert line.startswith("backup.airGappedVault: no logically air-gapped vault is offered in us-west-2")


def test_cross_region_copies_into_an_air_gapped_vault_where_aws_offers_none_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Mexico (Central) has the vault but no cross-Region or cross-account copies into it (footnote 1): prod's
    replica snapshots copy within the recovery Region and pass; the primary's bucket snapshots would cross."""
    from stackmodel.config import isolation

    assert "mx-central-1" in AIR_GAPPED_COPY_IN_UNAVAILABLE and "mx-central-1" not in AIR_GAPPED_VAULT_UNAVAILABLE
    monkeypatch.setattr(isolation, "AIR_GAPPED_COPY_IN_UNAVAILABLE", frozenset({"us-west-2"}))
    parse(PROD)
    [line] = problems(with_backup(s3={**PROD["backup"]["s3"], "target": "primary"}))
    assert line.startswith("backup.airGappedVault: copies of S3 would enter the air-gapped vault in us-west-2")


def test_restore_testing_outside_its_regions_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from stackmodel.config import isolation

    monkeypatch.setattr(isolation, "RESTORE_TESTING_REGIONS", RESTORE_TESTING_REGIONS - {"us-east-1"})
    [line] = problems(PROD)
    assert line == (
        "backup.restoreTesting: restore testing is not confirmed in us-east-1 (AWS Backup 'Feature availability', "
        "stackmodel/regions.py)"
    )


def test_restore_testing_is_confirmed_in_every_commercial_region_only() -> None:
    assert {"ap-east-2", "mx-central-1", "il-central-1", "us-east-1"} <= RESTORE_TESTING_REGIONS
    assert not RESTORE_TESTING_REGIONS & {"cn-north-1", "us-gov-west-1", "eusc-de-east-1", "me-west-1"}
    assert RESTORE_TESTING_REGIONS <= AWS_BACKUP_REGIONS


def test_a_config_error_registers_nothing() -> None:
    run, error = run_program_capturing(with_backup(vaultAccount=None))
    assert isinstance(error, ConfigError)
    assert [r for r in run.registrations if r.custom] == []


def test_account_compromise_objectives_per_tier() -> None:
    # Tier 1: a daily isolated snapshot bounds the RPO (24 h), not the regional RPO.
    assert ISOLATION[1].isolated_copy_default and ISOLATION[1].account_compromise.rpo_minutes == S3_SNAPSHOT_RPO_MINUTES
    tier1_table = TABLE_TIERS[1].backup
    assert tier1_table is not None and tier1_table.rpo_minutes <= ISOLATION[1].account_compromise.rpo_minutes
    assert not ISOLATION[2].isolated_copy_default and ISOLATION[2].account_compromise.rpo_minutes == 1440
    assert ISOLATION[3].account_compromise == NOT_COVERED
