"""The isolated-copy and isolated-vault-lock policies: the compliant estate passes, one change fails, and what
cannot be read at preview is reported, never passed."""

from __future__ import annotations

from tests.policies.fixtures import (
    AIR_GAPPED_VAULT,
    BACKUP_VAULT,
    OWN_ACCOUNT,
    RECOVERY,
    VAULT_LOCK,
    compliant_stack,
    vault_arn,
)
from tests.policies.support import UNKNOWN_STR, messages, run_stack, urn

COPY = "aws-backup-plan-isolated-copy"
LOCK = "aws-backup-vault-isolated-compliance-lock"


def test_the_compliant_estate_copies_every_tier1_store_out_of_the_account() -> None:
    assert run_stack(COPY, compliant_stack()) == []
    assert run_stack(LOCK, compliant_stack()) == []


def test_a_table_whose_plan_copies_only_within_the_account_fails() -> None:
    stack = compliant_stack()
    copies = stack.props("tables-plan")["rules"][0]["copyActions"]
    copies[1]["destinationVaultArn"] = vault_arn(RECOVERY, OWN_ACCOUNT, "another-vault-here")
    [(where, message)] = run_stack(COPY, stack)
    assert where == urn("aws:dynamodb/table:Table", "orders") and "no isolated vault" in message


def test_a_tier1_bucket_without_an_isolated_snapshot_copy_fails() -> None:
    stack = compliant_stack()
    stack.props("buckets-plan")["rules"][1]["copyActions"] = []
    found = run_stack(COPY, stack)
    assert [where for where, _ in found] == [urn("aws:s3/bucket:Bucket", "audio-primary")]
    assert "isolated vault" in found[0][1]


def test_a_bucket_in_no_selection_fails_and_the_tiers_config_sets_the_scope() -> None:
    stack = compliant_stack().remove("buckets-selection")
    assert [where for where, _ in run_stack(COPY, stack)] == [urn("aws:s3/bucket:Bucket", "audio-primary")]
    # Scoped to tier 3 instead: the tier-1 stores are out of scope, the tier-3 bucket has no isolated copy.
    assert [where for where, _ in run_stack(COPY, stack, {"tiers": ["3"]})] == [urn("aws:s3/bucket:Bucket", "backup")]


def test_an_unknown_copy_destination_is_not_verifiable_never_passed() -> None:
    stack = compliant_stack()
    stack.props("tables-plan")["rules"][0]["copyActions"][1]["destinationVaultArn"] = UNKNOWN_STR
    stack.props("tables-plan")["rules"][0]["copyActions"][0]["destinationVaultArn"] = UNKNOWN_STR
    assert any("cannot" in m.lower() or "verify" in m.lower() for m in messages(run_stack(COPY, stack)))


def test_an_air_gapped_vault_under_seven_days_fails() -> None:
    stack = compliant_stack()
    stack.props("vault-air-gapped")["minRetentionDays"] = 3
    [(where, message)] = run_stack(LOCK, stack)
    assert where == urn(AIR_GAPPED_VAULT, "vault-air-gapped") and ">= 7" in message


def test_an_isolated_vault_needs_a_compliance_lock() -> None:
    stack = compliant_stack()
    stack.add(
        BACKUP_VAULT, "account-vault", {"name": "acme-isolated", "tags": {"dr:isolated": "account"}}, region=RECOVERY
    )
    assert messages(run_stack(LOCK, stack)) == [
        "an isolated vault needs a COMPLIANCE vault lock (aws.backup.VaultLockConfiguration)"
    ]
    stack.add(
        VAULT_LOCK,
        "account-vault-lock",
        {"backupVaultName": UNKNOWN_STR, "minRetentionDays": 7, "maxRetentionDays": 400},
        region=RECOVERY,
        links={"backupVaultName": ["account-vault"]},
    )
    assert messages(run_stack(LOCK, stack)) == [
        "the isolated vault's lock is GOVERNANCE: set changeable_for_days (COMPLIANCE)"
    ]
    stack.props("account-vault-lock")["changeableForDays"] = 3
    assert run_stack(LOCK, stack) == []


def test_a_plan_whose_name_is_not_a_string_is_no_plan_of_the_tables_never_a_crash() -> None:
    """Found by tests/policies/test_fuzz.py: a plan name that is an object was used as a dict key."""
    stack = compliant_stack()
    stack.props("tables-plan")["name"] = {"not": "a name"}
    assert [where for where, _ in run_stack(COPY, stack)] == [
        urn("aws:dynamodb/table:Table", "orders"),
    ]
