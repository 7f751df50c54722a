"""Customer-managed key policies that grant DR roles key use by role ARN (issue 10, option b).

No grant goes through an alias (AWS documents that alias changes can take up to five minutes to affect
authorization) and no IAM statement names keys by ARN text (``key/*``): each key's own policy names the roles
that use it, by their explicit names (``arns.role_arn``), so every document is known at preview.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components import arns

# The longest window KMS allows: a key scheduled for deletion by mistake can be recovered for 30 days.
KEY_DELETION_WINDOW_DAYS = 30


def data_key(
    name: str, description: str, region: str, tags: Mapping[str, str], opts: pulumi.ResourceOptions
) -> aws.kms.Key:
    """A customer-managed key for a DR data store: yearly rotation on (Security Hub KMS.4), the longest deletion window.
    Callers protect it: losing the key loses the data it encrypts."""
    return aws.kms.Key(
        name,
        description=description,
        enable_key_rotation=True,
        deletion_window_in_days=KEY_DELETION_WINDOW_DAYS,
        region=region,
        tags=dict(tags),
        opts=opts,
    )


@dataclass(frozen=True)
class KeyUser:
    """A role that a key's policy grants ``actions`` to, by the role's ARN."""

    sid: str  # the key-policy statement's Sid (letters and digits)
    role_arn: pulumi.Input[str]  # from the role's explicit name (arns.role_arn): known at preview
    role: pulumi.Resource  # KMS rejects a key policy naming a principal that does not exist yet: wait for it
    actions: tuple[str, ...]
    # Only condition keys every action in ``actions`` has (Service Authorization Reference, AWS KMS).
    condition: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BucketKeyUsers:
    """Roles of other components that a bucket's key policies must name (TieredBucketArgs.key_users and
    replica_key_users): built before the bucket, so its key policy can wait for them."""

    primary: tuple[KeyUser, ...] = ()
    replica: tuple[KeyUser, ...] = ()


NO_KEY_USERS = BucketKeyUsers()


def merge_bucket_key_users(*sources: Mapping[str, BucketKeyUsers]) -> dict[str, BucketKeyUsers]:
    """Bucket name -> every source's users of that bucket's keys."""
    merged: dict[str, BucketKeyUsers] = {}
    for source in sources:
        for bucket, users in source.items():
            before = merged.get(bucket, BucketKeyUsers())
            merged[bucket] = BucketKeyUsers(before.primary + users.primary, before.replica + users.replica)
    return merged


def statement_id(words: str) -> str:
    """A policy statement id (letters and digits only) from words: "audit checksums" -> "AuditChecksums"."""
    parts = re.split(r"[^A-Za-z0-9]+", words)
    return "".join(part[:1].upper() + part[1:] for part in parts if part)


def via_services(region: str, *services: str) -> dict[str, Any]:
    """Key use only through these AWS services in ``region`` (``kms:ViaService``, a condition key of the
    cryptographic operations and ``kms:DescribeKey``), never by direct calls."""
    return {"StringEquals": {"kms:ViaService": [f"{service}.{region}.amazonaws.com" for service in services]}}


# kms:GrantIsForAWSResource is a condition key of the grant operations only (CreateGrant, ListGrants, RevokeGrant):
# a grant for an AWS service acting on the role's behalf, for the length of a job.
GRANT_FOR_AWS_RESOURCE = {"Bool": {"kms:GrantIsForAWSResource": "true"}}


def key_policy(
    name: str,
    key: aws.kms.Key,
    region: str,
    account: pulumi.Input[str],
    users: Sequence[KeyUser],
    opts: pulumi.ResourceOptions,
    service_statements: Sequence[Mapping[str, Any]] = (),
) -> aws.kms.KeyPolicy:
    """The key's policy: the account may delegate through IAM (the default key policy), and each DR role that uses
    the key is granted its actions by ARN. Written after every role it names exists."""
    root = pulumi.Output.concat("arn:", arns.partition(region), ":iam::", account, ":root")
    statements: list[dict[str, Any]] = [
        {"Sid": "EnableIamPolicies", "Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*", "Resource": "*"},
        *(
            {
                "Sid": user.sid,
                "Effect": "Allow",
                "Principal": {"AWS": user.role_arn},
                "Action": list(user.actions),
                "Resource": "*",  # in a key policy, "*" is this key
                **({"Condition": dict(user.condition)} if user.condition else {}),
            }
            for user in users
        ),
        # Grants to AWS services by service principal (S3 Inventory delivering SSE-KMS reports).
        *(dict(statement) for statement in service_statements),
    ]
    return aws.kms.KeyPolicy(
        name,
        key_id=key.id,
        policy=pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": statements}),
        region=region,
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[user.role for user in users])),
    )
