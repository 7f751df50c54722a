"""The custom AWS Backup roles against the AWS managed policies they replace, line by line.

A schema or IAM-action check cannot see a *missing* permission: the table backup role once dropped
``backup:CopyIntoBackupVault``/``DescribeBackupVault``/``CopyFromBackupVault`` and every copy job failed. Here every
action of every kept managed statement (tests/fidelity/aws_managed_backup_policies.json, with its source)
must be granted by the custom role, or be named in ``NOT_GRANTED`` with the reason; key actions may come from the
key policies instead (components/keys.py grants the roles by ARN), which the test reads too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.components.harness import Run, prod_run, stack_config

MANAGED = json.loads((Path(__file__).parent.parent / "fidelity" / "aws_managed_backup_policies.json").read_text())
PROD = stack_config("prod")
# Actions of the managed statements the custom roles deliberately leave out, and why.
NOT_GRANTED: dict[str, dict[str, str]] = {
    "table-backup-role": {},
    "bucket-backup-role": {},
}
# Which managed policies each custom role replaces.
REPLACES = {
    "table-backup-role": ("AWSBackupServiceRolePolicyForBackup",),
    "bucket-backup-role": ("AWSBackupServiceRolePolicyForS3Backup", "AWSBackupServiceRolePolicyForS3Restore"),
}
ROLE_SERVICES = {
    "table-backup-role": ("dynamodb", "backup", "tag"),
    "bucket-backup-role": ("s3", "events", "cloudwatch", "backup", "kms"),
}


@pytest.fixture(scope="module")
def prod() -> Run:
    return prod_run(preview=True)


def granted_actions(run: Run, role: str) -> set[str]:
    """Actions the role's inline policy grants, plus what key policies grant it (by the role's name in the ARN)."""
    [policy] = [r for r in run.of_type("aws:iam/rolePolicy:RolePolicy") if r.name == f"{role}-policy"]
    actions = {a for s in json.loads(policy.inputs["policy"])["Statement"] for a in _list(s["Action"])}
    [role_registration] = [r for r in run.of_type("aws:iam/role:Role") if r.name == role]
    role_name = role_registration.inputs["name"]
    for key_policy in run.of_type("aws:kms/keyPolicy:KeyPolicy"):
        document = key_policy.inputs.get("policy")
        if not isinstance(document, str):
            continue
        for statement in json.loads(document)["Statement"]:
            principal = json.dumps(statement.get("Principal", {}))
            if f":role/{role_name}" in principal:
                actions.update(_list(statement["Action"]))
    return actions


def _list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def missing_managed_actions(run: Run, role: str) -> list[tuple[str, str, str]]:
    """(managed policy, statement, action) the custom role does not grant and does not explain."""
    granted = granted_actions(run, role)
    missing = []
    for managed in REPLACES[role]:
        for statement in MANAGED[managed]:
            for action in _list(statement["Action"]):
                if action.split(":")[0] not in ROLE_SERVICES[role]:
                    continue
                if action not in granted and action not in NOT_GRANTED[role]:
                    missing.append((managed, statement.get("Sid", "(no Sid)"), action))
    return missing


@pytest.mark.parametrize("role", sorted(REPLACES))
def test_each_custom_backup_role_grants_what_the_managed_policy_it_replaces_grants(prod: Run, role: str) -> None:
    assert missing_managed_actions(prod, role) == []


def test_the_copy_permissions_are_there_and_scoped_to_the_vaults(prod: Run) -> None:
    [policy] = [r for r in prod.of_type("aws:iam/rolePolicy:RolePolicy") if r.name == "table-backup-role-policy"]
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    assert set(statements["CopyIntoVaults"]["Action"]) == {"backup:CopyIntoBackupVault", "backup:DescribeBackupVault"}
    assert all(":backup-vault:" in arn for arn in statements["CopyIntoVaults"]["Resource"])
    # CopyFromBackupVault's resource is the recovery point being copied (Service Authorization Reference).
    assert statements["CopyFromVaults"]["Action"] == ["backup:CopyFromBackupVault"]
    assert all(":recovery-point:" in arn for arn in statements["CopyFromVaults"]["Resource"])


def test_the_comparison_catches_a_dropped_copy_permission(prod: Run) -> None:
    """The planted defect the review found: the role without CopyIntoBackupVault must fail the comparison."""
    [policy] = [r for r in prod.of_type("aws:iam/rolePolicy:RolePolicy") if r.name == "table-backup-role-policy"]
    document = json.loads(policy.inputs["policy"])
    for statement in document["Statement"]:
        statement["Action"] = [a for a in _list(statement["Action"]) if a != "backup:CopyIntoBackupVault"]
    original = policy.inputs["policy"]
    policy.inputs["policy"] = json.dumps(document)
    try:
        assert ("AWSBackupServiceRolePolicyForBackup", "BackupVaultPermissions", "backup:CopyIntoBackupVault") in (
            missing_managed_actions(prod, "table-backup-role")
        )
    finally:
        policy.inputs["policy"] = original
