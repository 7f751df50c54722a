"""Hypothesis fuzzing: random, missing and unknown props never crash a policy, and a value outside a
rule's compliant set never passes (it is reported as a violation or as "cannot verify until deploy")."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from dr_guardrails import CATALOG, SPECS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pulumi_policy.deserialize import serialize_properties

from tests.policies.fixtures import (
    RECOVERY,
    VAULT_ACCOUNT,
    compliant_stack,
    object_lock_props,
    pab_props,
    sse_props,
    table_props,
    table_replica_props,
    tls_policy,
    vault_arn,
    versioning_props,
)
from tests.policies.support import (
    ALARM,
    BUCKET,
    BUCKET_POLICY,
    CANNOT_VERIFY,
    DELETE,
    GLOBAL_TABLE,
    KMS_KEY,
    OBJECT_LOCK,
    PAB,
    RECORD,
    SSE,
    TABLE,
    TABLE_REPLICA,
    UNKNOWN_BOOL,
    UNKNOWN_LIST,
    UNKNOWN_NUM,
    UNKNOWN_OBJ,
    UNKNOWN_STR,
    VERSIONING,
    changed,
    remediate,
    run_resource,
    run_stack,
)
from tests.properties import examples

pytestmark = pytest.mark.property  # again at full examples in `make test-slow`

FUZZ = settings(
    max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

UNKNOWNS = [UNKNOWN_STR, UNKNOWN_BOOL, UNKNOWN_NUM, UNKNOWN_LIST, UNKNOWN_OBJ]
KEYS = [
    "status", "versioningConfiguration", "mfaDelete", "objectLockEnabled", "rule", "defaultRetention", "mode",
    "days", "years", "rules", "applyServerSideEncryptionByDefault", "sseAlgorithm", "kmsMasterKeyId",
    "blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets", "policy",
    "pointInTimeRecovery", "enabled", "recoveryPeriodInDays", "replicas", "deletionProtectionEnabled",
    "enableKeyRotation", "customerMasterKeySpec", "keySpec", "failoverRoutingPolicies", "type", "healthCheckId",
    "namespace", "region", "tags", "tagsAll", "dr:tier", "dr:rpo-logical-minutes", "dr:rto-regional-minutes",
    "dr:mfa-delete-attested", "dr:role", "Statement", "Effect", "Action", "NotAction", "Principal", "Condition",
    "Bool", "aws:SecureTransport", "destination", "bucket", "replicationTime", "metrics",
    "deleteMarkerReplication", "sourceSelectionCriteria", "sseKmsEncryptedObjects", "encryptionConfiguration",
    "replicaKmsKeyId", "inlinePolicies", "managedPolicyArns", "policyArn", "role", "zoneId", "name",
    "lifecycleRules", "globalTableArn",
]  # fmt: skip
WORDS = [
    "Enabled", "Disabled", "Suspended", "true", "false", "aws:kms", "aws:kms:dsse", "AES256", "PRIMARY",
    "SECONDARY", "COMPLIANCE", "GOVERNANCE", "us-east-1", "us-west-2", "AWS/Route53", "none", "0", "15",
    "2026-01-01", "runtime", "Deny", "Allow", "*", "s3:*", "{}", '{"Statement": 1}', "[]",
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=6),
    st.sampled_from(WORDS),
    st.sampled_from(UNKNOWNS),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.sampled_from(KEYS), children, max_size=4)
    ),
    max_leaves=12,
)
random_props = st.dictionaries(st.sampled_from(KEYS), values, max_size=6)

RESOURCE_SPECS = [spec for spec in CATALOG if not spec.is_stack_policy]
STACK_SPECS = [spec for spec in CATALOG if spec.is_stack_policy]


@pytest.mark.parametrize("spec", RESOURCE_SPECS, ids=lambda spec: spec.name)
@FUZZ
@given(props=random_props, region=st.sampled_from([None, "us-east-1", "eu-west-1"]))
def test_resource_policies_never_crash_on_random_props(spec: Any, props: dict[str, Any], region: str | None) -> None:
    for resource_type in spec.resource_types:
        found = run_resource(spec.name, resource_type, props, region=region)
        assert all(isinstance(message, str) and message for message in found)
        if spec.fix is not None:
            fixed = remediate(spec.name, resource_type, props, region=region)
            if fixed is not None:
                serialize_properties(fixed)  # what the engine receives must serialize


@pytest.mark.parametrize("spec", STACK_SPECS, ids=lambda spec: spec.name)
@FUZZ
@given(data=st.data())
def test_stack_policies_never_crash_on_mutated_stacks(spec: Any, data: st.DataObject) -> None:
    stack = compliant_stack()
    names = sorted(stack.nodes)
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        node = stack.nodes[data.draw(st.sampled_from(names))]
        key = data.draw(st.sampled_from(sorted(set(node.props) | set(KEYS[:20]))))
        action = data.draw(st.sampled_from(["set", "delete", "unlink"]))
        if action == "set":
            node.props[key] = data.draw(values)
        elif action == "delete":
            node.props.pop(key, None)
        else:
            node.links.pop(data.draw(st.sampled_from(sorted(node.links) or ["bucket"])), None)
    for urn, message in run_stack(spec.name, stack):
        assert isinstance(message, str) and message and (urn is None or urn.startswith("urn:pulumi:"))


# --- no pass for a non-compliant value -------------------------------------------------------------

Good = Callable[[Any], bool]


def one_of(*allowed: Any) -> Good:
    return lambda value: any(value == item and type(value) is type(item) for item in allowed)


def at_least(minimum: float) -> Good:
    return lambda value: not isinstance(value, bool) and isinstance(value, int | float) and value >= minimum


def objective_text(value: Any) -> bool:
    return isinstance(value, str) and (value.strip().lower() == "none" or value.strip().isdigit())


def insecure_transport_false(value: Any) -> bool:
    items = value if isinstance(value, list) else [value]
    return bool(items) and all(not isinstance(item, dict | list) and str(item).lower() == "false" for item in items)


def present_key(value: Any) -> bool:
    """Presence rules accept another resource's (unknown) output as a declared value."""
    return (
        value in UNKNOWNS
        or (isinstance(value, str) and value != "")
        or (value is not None and value is not DELETE and not isinstance(value, str) and value not in UNKNOWNS)
    )


TIER1 = {"tags": {"dr:tier": "1"}, "objectLockEnabled": True}
PRIMARY_RECORD = {"failoverRoutingPolicies": [{"type": "PRIMARY"}], "healthCheckId": "hc-1"}
TLS_OBJECT = {"bucket": "b", "policy": json.loads(tls_policy("b"))}
STATEMENT = ("policy", "Statement", 0)

# policy, type, compliant props, path that decides compliance, predicate for compliant values
RULES: list[tuple[str, str, dict[str, Any], tuple[str | int, ...], Good]] = [
    (
        "aws-s3-bucket-versioning-enabled",
        VERSIONING,
        versioning_props(),
        ("versioningConfiguration", "status"),
        one_of("Enabled"),
    ),
    ("aws-s3-bucket-object-lock-enabled", BUCKET, TIER1, ("objectLockEnabled",), one_of(True)),
    (
        "aws-s3-bucket-object-lock-retention",
        OBJECT_LOCK,
        object_lock_props(),
        ("rule", "defaultRetention", "mode"),
        one_of("COMPLIANCE", "GOVERNANCE"),
    ),
    (
        "aws-s3-bucket-object-lock-retention",
        OBJECT_LOCK,
        object_lock_props(),
        ("rule", "defaultRetention", "days"),
        at_least(7),
    ),
    (
        "aws-s3-bucket-sse-kms",
        SSE,
        sse_props(),
        ("rules", 0, "applyServerSideEncryptionByDefault", "sseAlgorithm"),
        one_of("aws:kms", "aws:kms:dsse"),
    ),
    ("aws-s3-bucket-public-access-block", PAB, pab_props(), ("restrictPublicBuckets",), one_of(True)),
    ("aws-s3-bucket-policy-tls-only", BUCKET_POLICY, TLS_OBJECT, (*STATEMENT, "Effect"), one_of("Deny")),
    (
        "aws-s3-bucket-policy-tls-only",
        BUCKET_POLICY,
        TLS_OBJECT,
        (*STATEMENT, "Condition", "Bool", "aws:SecureTransport"),
        insecure_transport_false,
    ),
    ("aws-dynamodb-table-pitr-enabled", TABLE, table_props(), ("pointInTimeRecovery", "enabled"), one_of(True)),
    (
        "aws-dynamodb-table-pitr-enabled",
        TABLE,
        table_props(),
        ("pointInTimeRecovery", "recoveryPeriodInDays"),
        lambda v: v is None or v is DELETE or at_least(35)(v),
    ),
    ("aws-dynamodb-table-pitr-enabled", TABLE, table_props(), ("replicas", 0, "pointInTimeRecovery"), one_of(True)),
    ("aws-dynamodb-table-pitr-enabled", TABLE_REPLICA, table_replica_props(), ("pointInTimeRecovery",), one_of(True)),
    (
        "aws-dynamodb-table-deletion-protection",
        TABLE,
        table_props(),
        ("replicas", 0, "deletionProtectionEnabled"),
        one_of(True),
    ),
    (
        "aws-dynamodb-table-deletion-protection",
        TABLE_REPLICA,
        table_replica_props(),
        ("deletionProtectionEnabled",),
        one_of(True),
    ),
    ("aws-kms-key-rotation-enabled", KMS_KEY, {"enableKeyRotation": True}, ("enableKeyRotation",), one_of(True)),
    ("aws-route53-record-primary-health-check", RECORD, PRIMARY_RECORD, ("healthCheckId",), present_key),
    (
        "aws-cloudwatch-alarm-route53-us-east-1",
        ALARM,
        {"namespace": "AWS/Route53", "region": "us-east-1"},
        ("region",),
        one_of("us-east-1"),
    ),
    (
        "aws-route53-healthcheck-site-objectives-achievable",
        "aws:route53/healthCheck:HealthCheck",
        {
            "type": "CALCULATED",
            "tags": {
                "dr:rto-regional-minutes": "2",
                "dr:site-switch": "endpoint",
                "dr:site-probe-interval-seconds": "10",
                "dr:site-failure-threshold": "3",
                "dr:site-ttl-seconds": "30",
                "dr:site-config-refresh-seconds": "30",
                "dr:site-promotion-seconds": "0",
                "dr:site-auto-dns-failover": "false",
            },
        },
        ("tags", "dr:rto-regional-minutes"),
        lambda v: isinstance(v, str) and v.isascii() and v.isdigit() and int(v) >= 2,  # budget 120 s
    ),
    (
        "aws-s3-bucket-objectives-declared",
        BUCKET,
        {
            "tags": {
                "dr:tier": "1",
                "dr:rpo-logical-minutes": "0",
                "dr:rto-logical-minutes": "60",
                "dr:rpo-regional-minutes": "15",
                "dr:rto-regional-minutes": "none",
            }
        },
        ("tags", "dr:tier"),
        one_of("1", "2", "3"),
    ),
    (
        "aws-dynamodb-table-objectives-declared",
        TABLE,
        table_props(),
        ("tags", "dr:rpo-regional-minutes"),
        objective_text,
    ),
]

# Databases: one compliant resource per engine type, each setting fuzzed against its policy.
DATABASE_OK: dict[str, Any] = {
    "backupRetentionPeriod": 35,
    "deletionProtection": True,
    "skipFinalSnapshot": False,
    "finalSnapshotIdentifier": "final",
    "copyTagsToSnapshot": True,
    "tags": {"dr:tier": "1"},
}
DATABASE_SETTINGS: dict[str, tuple[tuple[str | int, ...], Good]] = {
    "backup-retention": (("backupRetentionPeriod",), at_least(35)),
    "deletion-protection": (("deletionProtection",), one_of(True)),
    "final-snapshot": (("skipFinalSnapshot",), lambda v: v is False or v is None or v is DELETE),
    "copy-tags-to-snapshot": (("copyTagsToSnapshot",), one_of(True)),
}
RULES += [
    (name, resource_type, DATABASE_OK, *DATABASE_SETTINGS[name.rsplit("-cluster-", 1)[-1].rsplit("-instance-", 1)[-1]])
    for name, spec in SPECS.items()
    if name.startswith(("aws-rds-", "aws-docdb-", "aws-neptune-"))
    for resource_type in sorted(spec.resource_types)
]


@pytest.mark.parametrize(
    ("policy", "resource_type", "props", "path", "good"),
    RULES,
    ids=lambda value: value if isinstance(value, str) else "",
)
@FUZZ
@given(value=st.one_of(values, st.just(DELETE)))
def test_a_non_compliant_value_never_passes(
    policy: str, resource_type: str, props: dict[str, Any], path: tuple[str | int, ...], good: Good, value: Any
) -> None:
    found = run_resource(policy, resource_type, changed(props, path, value), region=None)
    if good(value):
        assert found == [], f"{policy} rejected the compliant value {value!r}: {found}"
    else:
        assert found, f"{policy} passed {'.'.join(map(str, path))}={value!r}"
        if value in UNKNOWNS:
            assert any(message.startswith(CANNOT_VERIFY) for message in found), found


@FUZZ
@given(props=random_props)
def test_legacy_global_table_is_always_reported(props: dict[str, Any]) -> None:
    assert run_resource("aws-dynamodb-globaltable-not-legacy", GLOBAL_TABLE, props)


def _past_date(value: Any) -> bool:
    try:
        return isinstance(value, str) and dt.date.fromisoformat(value) <= dt.date.today()
    except ValueError:
        return False


# policy, resource, path, predicate for compliant values (stack-level rules)
STACK_RULES: list[tuple[str, str, tuple[str | int, ...], Good]] = [
    (
        "aws-s3-bucket-inventory-versioned",
        "audio-primary-inventory",
        ("includedObjectVersions",),
        one_of("All"),
    ),
    (
        "aws-s3-bucket-versioning-attached",
        "reporting-versioning",
        ("versioningConfiguration", "status"),
        one_of("Enabled"),
    ),
    (
        "aws-s3-bucket-object-lock-attached",
        "audio-primary-lock",
        ("rule", "defaultRetention", "mode"),
        one_of("COMPLIANCE", "GOVERNANCE"),
    ),
    (
        "aws-s3-bucket-sse-kms-attached",
        "backup-sse",
        ("rules", 0, "applyServerSideEncryptionByDefault", "sseAlgorithm"),
        one_of("aws:kms", "aws:kms:dsse"),
    ),
    ("aws-s3-bucket-public-access-block-attached", "reporting-pab", ("blockPublicAcls",), one_of(True)),
    (
        "aws-s3-bucket-replication-cross-region",
        "audio-replication",
        ("rules", 0, "deleteMarkerReplication", "status"),
        one_of("Enabled"),
    ),
    (
        "aws-s3-bucket-replication-cross-region",
        "audio-replication",
        ("rules", 0, "destination", "replicationTime", "status"),
        one_of("Enabled"),
    ),
    ("aws-s3-bucket-mfa-delete-enabled", "audio-primary", ("tags", "dr:mfa-delete-attested"), _past_date),
    ("aws-s3-bucket-objectives-achievable", "audio-primary", ("objectLockEnabled",), one_of(True)),
    ("aws-dynamodb-table-objectives-achievable", "orders", ("pointInTimeRecovery", "enabled"), one_of(True)),
    (
        "aws-route53-record-secondary-exists",
        "site-secondary",
        ("name",),
        lambda v: isinstance(v, str) and v.lower().rstrip(".") == "app.example.com",
    ),
    ("aws-s3-bucket-policy-tls-only-attached", "backup-tls", ("policy",), lambda v: v == tls_policy()),
    (
        "aws-s3-bucket-mfa-delete-without-lifecycle",
        "reporting-versioning",
        ("versioningConfiguration", "mfaDelete"),
        lambda v: v != "Enabled" and v not in UNKNOWNS,
    ),
    # The table plan's isolated copy: only the other account's vault ARN keeps the table copied out.
    (
        "aws-backup-plan-isolated-copy",
        "tables-plan",
        ("rules", 0, "copyActions", 1, "destinationVaultArn"),
        lambda v: v == ISOLATED_VAULT_ARN,
    ),
    (
        "aws-backup-vault-isolated-compliance-lock",
        "vault-air-gapped",
        ("minRetentionDays",),
        lambda v: isinstance(v, int | float) and not isinstance(v, bool) and 7 <= v <= 400,
    ),
]
ISOLATED_VAULT_ARN = vault_arn(RECOVERY, VAULT_ACCOUNT, "acme-isolated")


@pytest.mark.parametrize(
    ("policy", "name", "path", "good"), STACK_RULES, ids=lambda value: value if isinstance(value, str) else ""
)
@FUZZ
@given(value=st.one_of(values, st.just(DELETE)))
def test_a_non_compliant_child_never_passes_the_stack_policy(
    policy: str, name: str, path: tuple[str | int, ...], good: Good, value: Any
) -> None:
    stack = compliant_stack()
    stack.nodes[name].props = changed(stack.props(name), path, value)
    found = run_stack(policy, stack)
    if good(value):
        assert found == [], f"{policy} rejected the compliant value {value!r}: {found}"
    else:
        assert found, f"{policy} passed {name}.{'.'.join(map(str, path))}={value!r}"


SAFE_ACTIONS = ["s3:GetObject", "s3:ListBucketVersions", "dynamodb:Query", "kms:Decrypt", "s3:GetObjectVersion"]
UNSAFE_RUNTIME_ACTIONS = [
    "*",
    "s3:*",
    "dynamodb:*",
    "S3:*",
    "s3:DeleteBucket",
    "s3:delete*",
    "s3:PutBucketVersioning",
    "s3:Put*",
    "s3:BypassGovernanceRetention",
    "s3:*Retention",
    "s3:?ypassGovernanceRetention",
]


@FUZZ
@given(actions=st.lists(st.sampled_from(SAFE_ACTIONS + UNSAFE_RUNTIME_ACTIONS), min_size=1, max_size=4))
def test_runtime_role_grants_are_judged_by_what_they_cover(actions: list[str]) -> None:
    stack = compliant_stack()
    stack.props("drctl-runtime-policy")["policy"] = json.dumps(
        {"Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
    )
    found = run_stack("aws-iam-role-dr-least-privilege", stack)
    assert bool(found) == any(action in UNSAFE_RUNTIME_ACTIONS for action in actions), (actions, found)


def test_every_policy_is_fuzzed() -> None:
    covered = {rule[0] for rule in RULES} | {rule[0] for rule in STACK_RULES}
    covered |= {"aws-dynamodb-globaltable-not-legacy", "aws-iam-role-dr-least-privilege"}
    assert set(SPECS) == covered
