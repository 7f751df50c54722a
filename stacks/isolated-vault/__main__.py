"""The isolated vault in another account, from the main stack's one declaration (``backup.vaultAccount``).

Settings come from the main stack's file, read as the Pulumi CLI reads it and validated by ``stackmodel.config``;
the provider assumes the role the config names, in the main stack's recovery Region.
"""

import sys
from pathlib import Path

import pulumi
import pulumi_aws as aws

PROGRAM_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(PROGRAM_DIR.parent.parent))  # the project's components/ and stackmodel/

from components.account_vault import AccountVault, AccountVaultArgs  # noqa: E402
from components.stack_config import settings_from_stack_file  # noqa: E402

source = PROGRAM_DIR / pulumi.Config().require("sourceStackFile")
settings = settings_from_stack_file(source)
account = settings.backup.isolation.vault_account
if account is None:
    raise pulumi.RunError(f"{source}: backup.vaultAccount is not set, so no vault in another account is needed")
provider = aws.Provider(
    "vault-account",
    region=settings.recovery_region,
    assume_roles=[aws.ProviderAssumeRoleArgs(role_arn=account.role_arn, session_name="dr-isolated-vault")],
    allowed_account_ids=[account.account_id],
)
vault = AccountVault(
    "isolated-vault", AccountVaultArgs(settings.name_prefix, settings.recovery_region, account, provider)
)
pulumi.export("vaultArn", vault.vault_arn)
pulumi.export("vaultName", vault.vault_name)
