"""Provider settings for a stack that deploys into a local emulator (``localEndpoint``, Pulumi.local.yaml).

``aws:*`` stack config only reaches default providers, and this program disables them, so the emulator's
endpoints, the skipped credential checks and path-style S3 come from the project's typed config and are passed to
every explicit provider here.
"""

from __future__ import annotations

from typing import Any

# Every AWS service the program's components call, by the provider's endpoint key (pulumi-aws ProviderEndpointArgs).
LOCAL_SERVICES = (
    "applicationautoscaling",
    "athena",
    "backup",
    "cloudwatch",
    "cloudwatchevents",
    "cloudwatchlogs",
    "dynamodb",
    "firehose",
    "fis",
    "glue",
    "iam",
    "kms",
    "lambda_",
    "route53",
    "s3",
    "sfn",  # the scheduled drill workflow (aws:sfn/stateMachine)
    "sns",
    "ssm",
    "sts",
)
# moto accepts any credentials; these never reach AWS because every endpoint is local.
LOCAL_CREDENTIALS = "local-emulator"


def provider_args(local_endpoint: str | None) -> dict[str, Any]:
    """Extra ``aws.Provider`` arguments: none for a real stack, the emulator's for a local one."""
    if local_endpoint is None:
        return {}
    return {
        "endpoints": [dict.fromkeys(LOCAL_SERVICES, local_endpoint)],
        "access_key": LOCAL_CREDENTIALS,
        "secret_key": LOCAL_CREDENTIALS,
        "skip_credentials_validation": True,
        "skip_metadata_api_check": True,
        "skip_region_validation": True,
        "skip_requesting_account_id": True,
        "s3_use_path_style": True,
    }
