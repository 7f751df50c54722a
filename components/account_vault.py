"""The isolated vault in another account: built by ``stacks/isolated-vault``, a second program of this project,
through a provider that assumes ``backup.vaultAccount.roleArn`` in that account.

Cross-account copies to a standard vault need AWS Organizations (AWS Backup Developer Guide, "Creating backup
copies across AWS accounts"): both accounts in one organisation, cross-account backup enabled by the management
account, and a vault access policy at the destination granting ``backup:CopyIntoBackupVault``. Here:

- the vault, encrypted with its own customer-managed key, tagged ``dr:isolated=account``;
- a COMPLIANCE vault lock (``changeable_for_days`` set): after that many days nobody, not the source account's
  administrators nor this account's, can shorten retention or delete the vault early;
- a vault access policy that lets principals of the organisation copy *into* the vault, and nothing else;
- a key policy that keeps the account's own administration and lets AWS Backup use the key for copies arriving
  from the organisation (kms:ViaService backup).

What the source account needs is in the main stack: ``backup:CopyIntoBackupVault`` on this vault's ARN in its backup
roles (components/backup.py, components/isolation.py). Organizations backup policies, if the organisation uses them,
can add copy rules of their own to member accounts' plans; they do not replace this vault policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pulumi
import pulumi_aws as aws

from components import arns, tags
from components.keys import KEY_DELETION_WINDOW_DAYS
from stackmodel.config.isolation import VaultAccount, isolated_vault_name


@dataclass(frozen=True)
class AccountVaultArgs:
    name_prefix: str
    region: str  # the source stack's recovery Region
    account: VaultAccount
    provider: aws.Provider  # assumes account.role_arn


class AccountVault(pulumi.ComponentResource):
    TYPE: ClassVar[str] = "dr:backup:AccountVault"

    vault_name: str
    vault_arn: pulumi.Output[str]

    def __init__(self, name: str, args: AccountVaultArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(self.TYPE, name, None, opts)
        region, account = args.region, args.account
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        protected = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(protect=True))
        resource_tags = {tags.COMPONENT: name, tags.ISOLATED: "account"}
        self.vault_name = isolated_vault_name(args.name_prefix, region)
        partition = arns.partition(region)
        key = aws.kms.Key(
            f"{name}-key",
            description=f"AWS Backup vault {self.vault_name} (isolated copies)",
            enable_key_rotation=True,
            deletion_window_in_days=KEY_DELETION_WINDOW_DAYS,
            region=region,
            tags=resource_tags,
            opts=protected,
        )
        aws.kms.KeyPolicy(
            f"{name}-key-policy",
            key_id=key.id,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "AccountAdministersKey",
                            "Effect": "Allow",
                            "Principal": {"AWS": f"arn:{partition}:iam::{account.account_id}:root"},
                            "Action": "kms:*",
                            "Resource": "*",
                        },
                        {
                            "Sid": "OrganisationCopiesThroughBackup",
                            "Effect": "Allow",
                            "Principal": {"AWS": "*"},
                            "Action": [
                                "kms:Encrypt",
                                "kms:ReEncryptFrom",
                                "kms:ReEncryptTo",
                                "kms:GenerateDataKey",
                                "kms:DescribeKey",
                            ],
                            "Resource": "*",
                            "Condition": {
                                "StringEquals": {
                                    "aws:PrincipalOrgID": account.organization_id,
                                    "kms:ViaService": f"backup.{region}.amazonaws.com",
                                }
                            },
                        },
                    ],
                }
            ),
            region=region,
            opts=child,
        )
        vault = aws.backup.Vault(
            name, name=self.vault_name, kms_key_arn=key.arn, region=region, tags=resource_tags, opts=protected
        )
        aws.backup.VaultLockConfiguration(
            f"{name}-lock",
            backup_vault_name=vault.name,
            min_retention_days=account.min_retention_days,
            max_retention_days=account.max_retention_days,
            # pulumi-aws: with changeable_for_days the lock is COMPLIANCE.
            changeable_for_days=account.changeable_for_days,
            region=region,
            opts=child,
        )
        self.vault_arn = pulumi.Output.from_input(
            f"arn:{partition}:backup:{region}:{account.account_id}:backup-vault:{self.vault_name}"
        )
        aws.backup.VaultPolicy(
            f"{name}-policy",
            backup_vault_name=vault.name,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "OrganisationCopiesIn",
                            "Effect": "Allow",
                            "Principal": {"AWS": "*"},
                            "Action": "backup:CopyIntoBackupVault",
                            "Resource": self.vault_arn,
                            "Condition": {"StringEquals": {"aws:PrincipalOrgID": account.organization_id}},
                        }
                    ],
                }
            ),
            region=region,
            opts=child,
        )
        self.register_outputs({"vault_name": self.vault_name, "vault_arn": self.vault_arn})
