"""pulumi-aws v7 inline bucket arguments, read as the child resources they stand for.

`aws.s3.Bucket` in v7 still accepts (deprecated) `versioning`, `server_side_encryption_configuration`,
`object_lock_configuration`, `replication_configuration` and `policy`. Each is translated here into the props
of the standalone resource (`BucketVersioning`, ...), so one set of rules judges both spellings. Argument shapes
are pulumi-aws v7's `BucketVersioningArgs`, `BucketServerSideEncryptionConfigurationArgs`,
`BucketObjectLockConfigurationArgs`, `BucketReplicationConfigurationArgs` (checked in the installed package).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import PolicyResource

from .props import MISSING, UNKNOWN, is_absent, lookup


@dataclass
class InlineChild:
    """Stands in for a child resource the bucket declares inline; reported under the bucket's URN."""

    name: str
    urn: str
    resource_type: str
    props: Any
    provider: Any = None
    property_dependencies: dict[str, list[PolicyResource]] = field(default_factory=dict)


def _flag(value: Any, on: str, off: str) -> Any:
    if value is UNKNOWN:
        return UNKNOWN
    if value is True:
        return on
    return MISSING if is_absent(value) else off


def versioning_props(bucket_props: Any) -> Any:
    versioning = lookup(bucket_props, "versioning")
    if is_absent(versioning):
        return MISSING
    if versioning is UNKNOWN:
        return {"versioningConfiguration": UNKNOWN}
    status = _flag(lookup(versioning, "enabled"), "Enabled", "Suspended")
    return {
        "versioningConfiguration": {
            "status": "Suspended" if status is MISSING else status,
            "mfaDelete": _flag(lookup(versioning, "mfaDelete"), "Enabled", "Disabled"),
        }
    }


def encryption_props(bucket_props: Any) -> Any:
    configuration = lookup(bucket_props, "serverSideEncryptionConfiguration")
    if is_absent(configuration):
        return MISSING
    if configuration is UNKNOWN:
        return {"rules": UNKNOWN}
    rule = lookup(configuration, "rule")
    return {"rules": UNKNOWN if rule is UNKNOWN else [] if is_absent(rule) else [rule]}


def object_lock_props(bucket_props: Any) -> Any:
    configuration = lookup(bucket_props, "objectLockConfiguration")
    if is_absent(configuration):
        return MISSING
    if configuration is UNKNOWN:
        return {"rule": UNKNOWN}
    return {"objectLockEnabled": lookup(configuration, "objectLockEnabled"), "rule": lookup(configuration, "rule")}


def _replication_rule(rule: Any) -> Any:
    if rule is UNKNOWN:
        return UNKNOWN
    destination = lookup(rule, "destination")
    sse_objects = lookup(rule, "sourceSelectionCriteria", "sseKmsEncryptedObjects", "enabled")
    return {
        "id": lookup(rule, "id"),
        "status": lookup(rule, "status"),
        "deleteMarkerReplication": {"status": lookup(rule, "deleteMarkerReplicationStatus")},
        "sourceSelectionCriteria": {"sseKmsEncryptedObjects": {"status": _flag(sse_objects, "Enabled", "Disabled")}},
        "destination": UNKNOWN
        if destination is UNKNOWN
        else {
            "bucket": lookup(destination, "bucket"),
            "storageClass": lookup(destination, "storageClass"),
            "replicationTime": {"status": lookup(destination, "replicationTime", "status")},
            "metrics": {"status": lookup(destination, "metrics", "status")},
            "encryptionConfiguration": {"replicaKmsKeyId": lookup(destination, "replicaKmsKeyId")},
        },
    }


def replication_props(bucket_props: Any) -> Any:
    configuration = lookup(bucket_props, "replicationConfiguration")
    if is_absent(configuration):
        return MISSING
    if configuration is UNKNOWN:
        return {"rules": UNKNOWN}
    rules = lookup(configuration, "rules")
    if rules is UNKNOWN:
        return {"role": lookup(configuration, "role"), "rules": UNKNOWN}
    count = 0 if is_absent(rules) or isinstance(rules, str) or not hasattr(rules, "__len__") else len(rules)
    converted = [_replication_rule(lookup(rules, position)) for position in range(count)]
    return {"role": lookup(configuration, "role"), "rules": converted}


def policy_props(bucket_props: Any) -> Any:
    policy = lookup(bucket_props, "policy")
    return MISSING if is_absent(policy) else {"policy": policy}


# Child kind -> (inline argument, translation).
INLINE_ARGUMENTS: dict[str, tuple[str, Any]] = {
    "versioning": ("versioning", versioning_props),
    "encryption": ("server_side_encryption_configuration", encryption_props),
    "object_lock": ("object_lock_configuration", object_lock_props),
    "replication": ("replication_configuration", replication_props),
    "policy": ("policy", policy_props),
}


def inline_children(bucket: PolicyResource) -> dict[str, InlineChild]:
    """The bucket's inline arguments as stand-in children, by kind (absent arguments are left out)."""
    children = {}
    for kind, (argument, translate) in INLINE_ARGUMENTS.items():
        props = translate(bucket.props)
        if props is MISSING:
            continue
        dependencies = {}
        if kind == "replication":
            dependencies = {"rules": list(bucket.property_dependencies.get("replicationConfiguration", []))}
        children[kind] = InlineChild(
            name=f"{bucket.name} (inline {argument})",
            urn=bucket.urn,
            resource_type=bucket.resource_type,
            props=props,
            provider=bucket.provider,
            property_dependencies=dependencies,
        )
    return children


def object_lock_enabled(bucket_props: Any) -> Any:
    """The bucket's object-lock flag: v7's `object_lock_enabled`, or the deprecated inline configuration's
    `object_lock_enabled="Enabled"`."""
    flag = lookup(bucket_props, "objectLockEnabled")
    if flag is True or flag is UNKNOWN:
        return flag
    inline = lookup(bucket_props, "objectLockConfiguration", "objectLockEnabled")
    if inline is UNKNOWN:
        return UNKNOWN
    return True if inline == "Enabled" else flag
