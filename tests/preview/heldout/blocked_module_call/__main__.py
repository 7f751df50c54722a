import time

import pulumi_aws as aws


def fetch_naming_prefix() -> str:
    """Stands in for an HTTP call or an SDK call retrying without network or credentials."""
    while True:
        time.sleep(1)


for team in ("finance", "sales", "ops"):
    aws.s3.Bucket(f"{team}-reports")

prefix = fetch_naming_prefix()
aws.s3.Bucket("shared-reports", bucket=f"{prefix}-shared")
