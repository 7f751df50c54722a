"""Every stack policy: the compliant estate passes, and one change yields exactly the expected violation."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from dr_guardrails import CATALOG

from tests.policies.fixtures import compliant_stack, role_policy_document
from tests.policies.support import (
    ATTACHMENT,
    DELETE,
    LIFECYCLE,
    ROLE,
    ROLE_POLICY,
    UNKNOWN_STR,
    Stack,
    changed,
    deprecated_v2,
    messages,
    run_resource,
    run_stack,
    urn,
)

STACK_POLICIES = [spec.name for spec in CATALOG if spec.is_stack_policy]


def test_compliant_estate_has_no_violation_from_any_policy() -> None:
    stack = compliant_stack()
    resources = stack.resources()
    for spec in CATALOG:
        if spec.is_stack_policy:
            assert run_stack(spec.name, resources) == [], spec.name
            continue
        for name, node in stack.nodes.items():
            if node.resource_type in spec.resource_types:
                assert run_resource(spec.name, node.resource_type, node.props, name=name, region=node.region) == [], (
                    spec.name,
                    name,
                )


def _set(name: str, path: tuple[str | int, ...], value: object) -> Callable[[Stack], None]:
    def mutate(stack: Stack) -> None:
        stack.nodes[name].props = changed(stack.props(name), path, value)

    return mutate


def _remove(name: str) -> Callable[[Stack], None]:
    return lambda stack: stack.remove(name) and None


def _unlink(name: str, prop: str, then: Callable[[Stack], None]) -> Callable[[Stack], None]:
    """Drop a property dependency, then apply one change (the link and the value describe one input)."""

    def mutate(stack: Stack) -> None:
        stack.nodes[name].links.pop(prop, None)
        then(stack)

    return mutate


def _unversioned_with_rpo(bucket: str, rpo_minutes: str) -> Callable[[Stack], None]:
    def mutate(stack: Stack) -> None:
        stack.remove(f"{bucket}-versioning")
        _set(bucket, ("tags", "dr:rpo-logical-minutes"), rpo_minutes)(stack)

    return mutate


def _no_replicas(stack: Stack) -> None:
    """The table's replicas are declared in two places (inline and TableReplica); drop both."""
    _set("orders", ("replicas",), [])(stack)
    stack.remove("orders-eu")


def _add_lifecycle(bucket: str) -> Callable[[Stack], None]:
    return lambda stack: (
        stack.add(LIFECYCLE, f"{bucket}-lifecycle", {"bucket": UNKNOWN_STR, "rules": []}, links={"bucket": [bucket]})
        and None
    )


def _runtime_grants(*actions: str) -> Callable[[Stack], None]:
    return _set("drctl-runtime-policy", ("policy",), role_policy_document(*actions))


def _replication_grants(*actions: str) -> Callable[[Stack], None]:
    return _set("audio-replication-policy", ("policy",), role_policy_document(*actions))


RULE = ("rules", 0)

# policy, one change, resource(s) that must be reported, text a message must contain
CASES: list[tuple[str, Callable[[Stack], None], str | tuple[str, ...], str]] = [
    ("aws-s3-bucket-inventory-versioned", _remove("audio-replica-inventory"), "audio-replica", "no Inventory"),
    (
        "aws-s3-bucket-inventory-versioned",
        _set("audio-primary-inventory", ("includedObjectVersions",), "Current"),
        "audio-primary",
        "includedObjectVersions",
    ),
    (
        "aws-s3-bucket-inventory-versioned",
        _set("audio-primary-inventory", ("destination", "bucket", "format"), "CSV"),
        "audio-primary",
        "format",
    ),
    (
        "aws-s3-bucket-inventory-versioned",
        _set("audio-primary-inventory", ("enabled",), False),
        "audio-primary",
        "enabled",
    ),
    ("aws-s3-bucket-versioning-attached", _remove("reporting-versioning"), "reporting", "no BucketVersioning"),
    (
        "aws-s3-bucket-versioning-attached",
        _set("audio-primary-versioning", ("versioningConfiguration", "status"), "Suspended"),
        "audio-primary",
        "versioningConfiguration.status",
    ),
    ("aws-s3-bucket-versioning-attached", _remove("backup-versioning"), "backup", "no BucketVersioning"),
    (
        "aws-s3-bucket-mfa-delete-enabled",
        _set("audio-primary", ("tags", "dr:mfa-delete-attested"), DELETE),
        "audio-primary",
        "MultiFactorAuthenticationDelete.html",
    ),
    (
        "aws-s3-bucket-mfa-delete-enabled",
        _set("audio-primary", ("tags", "dr:mfa-delete-attested"), "soon"),
        "audio-primary",
        "not a YYYY-MM-DD date",
    ),
    (
        "aws-s3-bucket-mfa-delete-enabled",
        _set("audio-primary", ("tags", "dr:mfa-delete-attested"), "2999-01-01"),
        "audio-primary",
        "in the future",
    ),
    (
        "aws-s3-bucket-mfa-delete-without-lifecycle",
        _add_lifecycle("audio-primary"),
        "audio-primary",
        "requires MFA delete",
    ),
    (
        "aws-s3-bucket-mfa-delete-without-lifecycle",
        _set("reporting-versioning", ("versioningConfiguration", "mfaDelete"), "Enabled"),
        "reporting",
        'mfaDelete "Enabled"',
    ),
    (
        "aws-s3-bucket-mfa-delete-without-lifecycle",
        _set("reporting", ("tags", "dr:mfa-delete-attested"), "2026-01-01"),
        "reporting",
        "dr:mfa-delete-attested",
    ),
    (
        "aws-s3-bucket-object-lock-attached",
        _remove("audio-primary-lock"),
        "audio-primary",
        "no BucketObjectLockConfiguration",
    ),
    (
        "aws-s3-bucket-object-lock-attached",
        _set("reporting-lock", ("rule", "defaultRetention", "days"), 2),
        "reporting",
        "at least 7 days",
    ),
    (
        "aws-s3-bucket-replication-cross-region",
        _remove("audio-replication"),
        ("audio-primary", "audio-replica"),
        "no BucketReplicationConfig",
    ),
    (
        "aws-s3-bucket-replication-cross-region",
        _set("audio-replication", (*RULE, "status"), "Disabled"),
        "audio-primary",
        "rules[0].status",
    ),
    (
        "aws-s3-bucket-replication-cross-region",
        _set("audio-replication", (*RULE, "destination", "replicationTime", "status"), "Disabled"),
        "audio-primary",
        "replicationTime.status",
    ),
    (
        "aws-s3-bucket-replication-cross-region",
        _set("audio-replication", (*RULE, "destination", "metrics"), DELETE),
        "audio-primary",
        "metrics.status",
    ),
    (
        "aws-s3-bucket-replication-cross-region",
        _set("audio-replication", (*RULE, "deleteMarkerReplication", "status"), "Disabled"),
        "audio-primary",
        "deleteMarkerReplication.status",
    ),
    (
        "aws-s3-bucket-replication-cross-region",
        _set("audio-replication", (*RULE, "destination", "encryptionConfiguration"), DELETE),
        "audio-primary",
        "replicaKmsKeyId",
    ),
    (
        "aws-s3-bucket-replication-cross-region",
        _set("audio-replication", (*RULE, "sourceSelectionCriteria"), DELETE),
        "audio-primary",
        "sseKmsEncryptedObjects",
    ),
    (
        "aws-s3-bucket-replication-cross-region",
        _set("audio-replica", ("region",), "us-east-1"),
        "audio-primary",
        "same region",
    ),
    (
        "aws-s3-bucket-replication-cross-region",
        _unlink(
            "audio-replication",
            "rules",
            _set("audio-replication", (*RULE, "destination", "bucket"), "arn:aws:s3:::elsewhere"),
        ),
        ("audio-primary", "audio-replica"),
        "not a bucket declared in this stack",
    ),
    (
        "aws-s3-bucket-sse-kms-attached",
        _remove("reporting-sse"),
        "reporting",
        "no BucketServerSideEncryptionConfiguration",
    ),
    (
        "aws-s3-bucket-sse-kms-attached",
        _set("backup-sse", ("rules", 0, "applyServerSideEncryptionByDefault", "sseAlgorithm"), "AES256"),
        "backup",
        "sseAlgorithm",
    ),
    ("aws-s3-bucket-public-access-block-attached", _remove("backup-pab"), "backup", "no BucketPublicAccessBlock"),
    (
        "aws-s3-bucket-public-access-block-attached",
        _set("audio-replica-pab", ("ignorePublicAcls",), False),
        "audio-replica",
        "ignorePublicAcls",
    ),
    ("aws-s3-bucket-policy-tls-only-attached", _remove("reporting-tls"), "reporting", "no BucketPolicy"),
    ("aws-route53-record-secondary-exists", _remove("site-secondary"), "site-primary", "no SECONDARY"),
    (
        "aws-route53-record-secondary-exists",
        _set("site-secondary", ("name",), "other.example.com"),
        "site-primary",
        "no SECONDARY",
    ),
    ("aws-s3-bucket-objectives-achievable", _remove("audio-primary-lock"), "audio-primary", "dr:rpo-logical-minutes=0"),
    (
        "aws-s3-bucket-objectives-achievable",
        _set("audio-primary", ("objectLockEnabled",), False),
        "audio-primary",
        "object lock off",
    ),
    (
        "aws-s3-bucket-objectives-achievable",
        _set("reporting", ("tags", "dr:rpo-regional-minutes"), "15"),
        "reporting",
        "no cross-region replication",
    ),
    (
        "aws-s3-bucket-objectives-achievable",
        _set("audio-primary", ("tags", "dr:rpo-regional-minutes"), "5"),
        "audio-primary",
        "declare at least 15",
    ),
    (
        "aws-s3-bucket-objectives-achievable",
        _set("audio-replication", (*RULE, "destination", "replicationTime", "status"), "Disabled"),
        "audio-primary",
        "without RTC",
    ),
    (
        "aws-s3-bucket-objectives-achievable",
        _unversioned_with_rpo("backup", "60"),
        "backup",
        "needs versioning Enabled",
    ),
    (
        "aws-dynamodb-table-objectives-achievable",
        _set("orders", ("pointInTimeRecovery", "enabled"), False),
        "orders",
        "point-in-time recovery",
    ),
    ("aws-dynamodb-table-objectives-achievable", _no_replicas, "orders", "dr:rpo-regional-minutes=5"),
    ("aws-iam-role-dr-least-privilege", _runtime_grants("s3:DeleteBucket"), "drctl-runtime", "s3:DeleteBucket"),
    ("aws-iam-role-dr-least-privilege", _runtime_grants("s3:PutBucket*"), "drctl-runtime", "s3:PutBucketVersioning"),
    ("aws-iam-role-dr-least-privilege", _runtime_grants("s3:*"), "drctl-runtime", "service-wide wildcard"),
    ("aws-iam-role-dr-least-privilege", _runtime_grants("*"), "drctl-runtime", 'Action "*"'),
    (
        "aws-iam-role-dr-least-privilege",
        _replication_grants("s3:BypassGovernanceRetention"),
        "audio-replication-role",
        "s3:BypassGovernanceRetention",
    ),
    (
        "aws-iam-role-dr-least-privilege",
        _set("drctl-runtime-logs", ("policyArn",), "arn:aws:iam::aws:policy/AdministratorAccess"),
        "drctl-runtime",
        "AdministratorAccess",
    ),
    (
        "aws-iam-role-dr-least-privilege",
        _set(
            "drctl-runtime-policy",
            ("policy",),
            '{"Statement": {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}}',
        ),
        "drctl-runtime",
        "NotAction",
    ),
    (
        "aws-iam-role-dr-least-privilege",
        _set("drctl-runtime", ("inlinePolicies",), [{"name": "x", "policy": role_policy_document("dynamodb:*")}]),
        "drctl-runtime",
        "dynamodb:*",
    ),
]


@pytest.mark.parametrize(("policy", "mutate", "subject", "expected"), CASES)
def test_one_change_yields_the_expected_violation(
    policy: str, mutate: Callable[[Stack], None], subject: str | tuple[str, ...], expected: str
) -> None:
    stack = compliant_stack()
    mutate(stack)
    found = run_stack(policy, stack)
    assert found, f"{policy} passed a non-compliant stack"
    subjects = (subject,) if isinstance(subject, str) else subject
    assert {resource_urn for resource_urn, _ in found} == {
        urn(stack.nodes[name].resource_type, name) for name in subjects
    }, found
    assert any(expected in message for message in messages(found)), found
    assert not any(message.startswith("cannot verify") for message in messages(found)), found


def test_replica_buckets_are_exempt_from_mfa_delete_and_replication() -> None:
    stack = compliant_stack()
    assert "dr:mfa-delete-attested" not in stack.props("audio-replica")["tags"]
    assert run_stack("aws-s3-bucket-mfa-delete-enabled", stack) == []
    stack.remove("audio-replication")  # without the link the replica is just another tier-1 bucket
    reported = {resource_urn for resource_urn, _ in run_stack("aws-s3-bucket-mfa-delete-enabled", stack)}
    assert reported == {urn("aws:s3/bucket:Bucket", "audio-replica")}


def test_mfa_advice_uses_this_projects_config_only_for_its_own_components() -> None:
    component = compliant_stack()
    _set("audio-primary", ("tags", "dr:mfa-delete-attested"), DELETE)(component)
    other = compliant_stack()
    _set("audio-primary", ("tags", "dr:mfa-delete-attested"), DELETE)(other)
    _set("audio-primary", ("tags", "dr:component"), DELETE)(other)

    (component_message,) = messages(run_stack("aws-s3-bucket-mfa-delete-enabled", component))
    (other_message,) = messages(run_stack("aws-s3-bucket-mfa-delete-enabled", other))

    assert "`mfaDeleteAttested` in the stack config" in component_message
    assert "add the tag `dr:mfa-delete-attested: <YYYY-MM-DD>` to the `tags` argument of bucket" in other_message
    assert "stack config" not in other_message and "mfaDeleteAttested" not in other_message


def test_declared_mfa_delete_satisfies_without_attestation() -> None:
    stack = compliant_stack()
    _set("audio-primary", ("tags", "dr:mfa-delete-attested"), DELETE)(stack)
    _set("audio-primary-versioning", ("versioningConfiguration", "mfaDelete"), "Enabled")(stack)
    assert run_stack("aws-s3-bucket-mfa-delete-enabled", stack) == []


def test_sse_kms_source_without_kms_needs_no_replica_key() -> None:
    stack = compliant_stack()
    _set("audio-replication", (*RULE, "destination", "encryptionConfiguration"), DELETE)(stack)
    _set("audio-primary-sse", ("rules", 0, "applyServerSideEncryptionByDefault", "sseAlgorithm"), "AES256")(stack)
    assert run_stack("aws-s3-bucket-replication-cross-region", stack) == []


def test_children_link_by_known_bucket_name_when_no_dependency_exists() -> None:
    stack = compliant_stack()
    stack.nodes["reporting-versioning"].links = {}
    _set("reporting-versioning", ("bucket",), "acme-reporting")(stack)
    assert run_stack("aws-s3-bucket-versioning-attached", stack) == []
    _set("reporting-versioning", ("bucket",), "some-other-bucket")(stack)
    assert run_stack("aws-s3-bucket-versioning-attached", stack)


def test_v2_tokens_are_linked_like_v7_tokens() -> None:
    stack = compliant_stack()
    for name in ("reporting", "reporting-versioning", "reporting-sse"):
        stack.nodes[name].resource_type = deprecated_v2(stack.nodes[name].resource_type)
    assert run_stack("aws-s3-bucket-versioning-attached", stack) == []
    assert run_stack("aws-s3-bucket-sse-kms-attached", stack) == []
    stack.remove("reporting-versioning")
    assert [u for u, _ in run_stack("aws-s3-bucket-versioning-attached", stack)] == [
        urn("aws:s3/bucketV2:BucketV2", "reporting")
    ]


def test_iam_ignores_roles_without_dr_role_tag() -> None:
    stack = compliant_stack()
    stack.add(ROLE, "ci-admin", {"inlinePolicies": [{"name": "all", "policy": role_policy_document("*")}]}, region=None)
    assert run_stack("aws-iam-role-dr-least-privilege", stack) == []


def test_iam_role_policy_links_by_role_name() -> None:
    stack = compliant_stack()
    stack.add(ROLE, "named-role", {"name": "dr-backup", "tags": {"dr:role": "backup"}}, region=None)
    stack.add(
        ROLE_POLICY, "named-role-policy", {"role": "dr-backup", "policy": role_policy_document("backup:*")}, region=None
    )
    found = run_stack("aws-iam-role-dr-least-privilege", stack)
    assert [u for u, _ in found] == [urn(ROLE, "named-role")]


def test_iam_external_customer_policy_cannot_be_inspected() -> None:
    stack = compliant_stack()
    stack.add(
        ATTACHMENT,
        "external",
        {"role": UNKNOWN_STR, "policyArn": "arn:aws:iam::123456789012:policy/x"},
        region=None,
        links={"role": ["drctl-runtime"]},
    )
    assert any(
        "cannot be inspected" in message for message in messages(run_stack("aws-iam-role-dr-least-privilege", stack))
    )
