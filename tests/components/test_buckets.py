"""The prod stack under Pulumi's mock runtime: every tier's protections on every child."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from stackmodel import tiers
from tests.components.harness import ACCOUNT_ID, REPO, UNKNOWN, Registration, Run, prod_run

S3 = "aws:s3/"
BUCKET = "aws:s3/bucket:Bucket"
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
TAGGABLE = {
    "aws:s3/bucket:Bucket",
    "aws:kms/key:Key",
    "aws:iam/role:Role",
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:lambda/function:Function",
}


@pytest.fixture(scope="module")
def prod() -> Run:
    return prod_run(preview=True)


@pytest.fixture(scope="module")
def prod_up() -> Run:
    return prod_run(preview=False)


def component(run: Run, name: str) -> Registration:
    [match] = [r for r in run.registrations if r.type.startswith("dr:storage:") and r.name == name]
    return match


def child(run: Run, parent: Registration, type_token: str, name: str) -> Registration:
    """The resource ``name`` built by ``parent``, directly or through a component of its own."""
    [match] = [r for r in run.descendants_of(parent.urn) if r.type == type_token and r.name == name]
    return match


def linked_to(run: Run, bucket: Registration, type_token: str) -> list[Registration]:
    """Children linked to ``bucket`` the way the policy pack links them: property_dependencies["bucket"]."""
    return [r for r in run.of_type(type_token) if bucket.urn in r.property_dependencies.get("bucket", [])]


def policy_document(registration: Registration) -> dict[str, Any]:
    """A policy as registered: JSON text, or a structured document (bucket policies) with unknown leaves."""
    document = registration.inputs["policy"]
    assert document != UNKNOWN, f"{registration.name}: policy must be known at preview"
    return document if isinstance(document, dict) else json.loads(document)


def providers(run: Run) -> dict[str, str]:
    """Provider reference (urn::id) -> region."""
    return {f"{r.urn}::{UNKNOWN}": r.inputs["region"] for r in run.of_type("pulumi:providers:aws")}


def test_prod_stack_builds_the_declared_estate(prod: Run) -> None:
    names = {(r.type, r.name) for r in prod.registrations if r.type.startswith("dr:storage:")}
    assert names == {
        ("dr:storage:Tier1Bucket", "audio"),
        ("dr:storage:Tier1Bucket", "uploads"),
        ("dr:storage:Tier2Bucket", "profile-pictures"),
        ("dr:storage:Tier2Bucket", "reporting"),
        ("dr:storage:Tier3Bucket", "backup"),
        ("dr:storage:Tier3Bucket", "dr-batch-reports"),  # every stack's, for Batch Operations restores
        ("dr:storage:Tier3Bucket", "dr-recovery-reports"),  # its twin: tier-1 replicas' inventories
        ("dr:storage:RecoveryCatalog", "dr-catalog-us-east-1"),
        ("dr:storage:RecoveryCatalog", "dr-catalog-us-west-2"),
    }
    assert len(prod.of_type(BUCKET)) == 9  # two per tier-1 component, one per tier 2/3


def test_prod_stack_also_builds_with_known_outputs(prod_up: Run) -> None:
    assert len(prod_up.of_type(BUCKET)) == 9
    assert all(r.inputs.get("bucket") != UNKNOWN for r in prod_up.of_type("aws:s3/bucketVersioning:BucketVersioning"))


def test_default_providers_disabled_in_every_stack() -> None:
    for stack_file in REPO.glob("Pulumi.*.yaml"):
        config = yaml.safe_load(stack_file.read_text())["config"]
        assert config.get("pulumi:disable-default-providers") == ["aws"], stack_file.name


def test_every_aws_resource_has_an_explicit_provider_in_its_own_region(prod: Run) -> None:
    by_provider = providers(prod)
    assert sorted(by_provider.values()) == ["us-east-1", "us-west-2"]
    aws_resources = [r for r in prod.registrations if r.type.startswith("aws:") and r.custom]
    assert aws_resources
    for resource in aws_resources:
        assert resource.provider in by_provider, f"{resource.name} has no explicit provider"
        if "region" in resource.inputs:
            assert resource.inputs["region"] == by_provider[resource.provider], resource.name


def test_every_resource_is_parented_to_a_component(prod: Run) -> None:
    components = {r.urn for r in prod.registrations if not r.custom}
    for resource in prod.registrations:
        if resource.type == "pulumi:providers:aws" or not resource.custom:
            continue
        assert resource.parent in components, f"{resource.name} is not parented to a component"


def test_every_taggable_child_carries_its_declared_objectives(prod: Run) -> None:
    for name, tier in (("audio", 1), ("uploads", 1), ("profile-pictures", 2), ("reporting", 2), ("backup", 3)):
        parent = component(prod, name)
        children = [r for r in prod.descendants_of(parent.urn) if r.type in TAGGABLE]
        assert children
        for resource in children:
            tags = resource.inputs["tags"]
            assert tags["dr:tier"] == str(tier), resource.name
            assert tags["dr:component"] == name
            for key in ("rpo", "rto"):
                for mode in tiers.FailureMode:
                    assert f"dr:{key}-{mode.value}-minutes" in tags, (resource.name, key, mode)


def test_declared_objectives_tighten_the_tier_defaults(prod: Run) -> None:
    audio = child(prod, component(prod, "audio"), BUCKET, "audio-primary").inputs["tags"]
    assert audio["dr:rto-logical-minutes"] == "30"  # declared in Pulumi.prod.yaml
    assert audio["dr:rpo-logical-minutes"] == "0"
    assert audio["dr:rpo-regional-minutes"] == "15"
    backup = child(prod, component(prod, "backup"), BUCKET, "backup-primary").inputs["tags"]
    assert backup["dr:rpo-logical-minutes"] == "none"
    assert backup["dr:rpo-regional-minutes"] == "none"


@pytest.mark.parametrize("name", ["audio", "uploads"])
def test_tier1_buckets_in_both_regions_with_full_protection(prod: Run, name: str) -> None:
    parent = component(prod, name)
    primary = child(prod, parent, BUCKET, f"{name}-primary")
    replica = child(prod, parent, BUCKET, f"{name}-replica")
    assert primary.inputs["region"] == "us-east-1"
    assert replica.inputs["region"] == "us-west-2"
    assert primary.inputs["bucket"] == f"distronation-prod-{name}-us-east-1"
    assert replica.inputs["bucket"] == f"distronation-prod-{name}-us-west-2"
    assert primary.inputs["tags"]["dr:bucket-role"] == "primary"
    assert replica.inputs["tags"]["dr:bucket-role"] == "replica"
    for bucket in (primary, replica):
        assert bucket.inputs["objectLockEnabled"] is True
        assert bucket.protect, f"{bucket.name} holds tier-1 data and must be protected"

        [versioning] = linked_to(prod, bucket, "aws:s3/bucketVersioning:BucketVersioning")
        assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
        assert "mfa" not in versioning.inputs, "an MFA code must never be in the program"

        [lock] = linked_to(prod, bucket, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
        assert lock.inputs["objectLockEnabled"] == "Enabled"
        retention = lock.inputs["rule"]["defaultRetention"]
        assert retention["mode"] == "COMPLIANCE"
        assert retention["days"] >= 30

        [sse] = linked_to(
            prod, bucket, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
        )
        [rule] = sse.inputs["rules"]
        assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
        assert rule["bucketKeyEnabled"] is True
        [key_urn] = sse.property_dependencies["rules"]
        key = prod.by_urn()[key_urn]
        assert key.inputs["enableKeyRotation"] is True
        assert key.inputs["region"] == bucket.inputs["region"], "one customer-managed key per region"

        [block] = linked_to(prod, bucket, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
        for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):
            assert block.inputs[flag] is True, flag

        [ownership] = linked_to(prod, bucket, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
        assert ownership.inputs["rule"]["objectOwnership"] == "BucketOwnerEnforced"

        [policy] = linked_to(prod, bucket, "aws:s3/bucketPolicy:BucketPolicy")
        statements = {s["Sid"]: s for s in policy_document(policy)["Statement"]}
        tls = statements.pop("DenyInsecureTransport")
        assert tls["Effect"] == "Deny"
        assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert f"arn:aws:s3:::{bucket.inputs['bucket']}/*" in tls["Resource"]
        # Uploads under the bucket's own key only; exactly s3:PutObject, so replication writes are never denied.
        assert set(statements) == {"DenyOtherKmsKeys", "DenyKmsWithoutKeyId", "DenyOtherEncryptionTypes"}
        assert all(s["Action"] == "s3:PutObject" and s["Effect"] == "Deny" for s in statements.values())
        assert key.urn in policy.property_dependencies["policy"], "the key-id condition names this bucket's key"
        # At a first preview only the new key's ARN is unknown; the other statements stay checkable.
        assert statements["DenyOtherKmsKeys"]["Condition"] == {
            "StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": UNKNOWN},
            "Null": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "false"},
        }


@pytest.mark.parametrize("name", ["audio", "uploads"])
def test_tier1_mfa_delete_primary_has_no_lifecycle_and_keeps_root_changes(prod: Run, name: str) -> None:
    parent = component(prod, name)
    primary = child(prod, parent, BUCKET, f"{name}-primary")
    replica = child(prod, parent, BUCKET, f"{name}-replica")
    lifecycle = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
    assert linked_to(prod, primary, lifecycle) == [], "AWS rejects lifecycle on an MFA-delete bucket"
    assert len(linked_to(prod, replica, lifecycle)) == 1

    [versioning] = linked_to(prod, primary, "aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.protect
    assert versioning.ignore_changes == ["versioningConfiguration"]
    [replica_versioning] = linked_to(prod, replica, "aws:s3/bucketVersioning:BucketVersioning")
    assert replica_versioning.ignore_changes == []
    assert primary.inputs["tags"]["dr:mfa-delete-attested"] == "2026-11-20"
    assert "dr:mfa-delete-attested" not in replica.inputs["tags"]


def test_tier1_replica_lifecycle_tiers_noncurrent_versions_only(prod: Run) -> None:
    replica = child(prod, component(prod, "audio"), BUCKET, "audio-replica")
    [lifecycle] = linked_to(prod, replica, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    [rule] = [r for r in lifecycle.inputs["rules"] if r["id"] == "noncurrent-versions"]
    assert rule["status"] == "Enabled"
    assert [(t["storageClass"], t["noncurrentDays"]) for t in rule["noncurrentVersionTransitions"]] == [
        ("STANDARD_IA", 30),
        ("GLACIER", 90),
        ("DEEP_ARCHIVE", 180),
    ]
    assert rule["noncurrentVersionExpiration"]["noncurrentDays"] == 400
    assert rule["abortIncompleteMultipartUpload"]["daysAfterInitiation"] == 7
    assert "transitions" not in rule, "current versions stay instantly readable for failover"


def test_tier1_replication_with_rtc_delete_markers_and_kms(prod: Run) -> None:
    parent = component(prod, "audio")
    primary = child(prod, parent, BUCKET, "audio-primary")
    replica = child(prod, parent, BUCKET, "audio-replica")
    [replication] = linked_to(prod, primary, "aws:s3/bucketReplicationConfig:BucketReplicationConfig")
    [rule] = replication.inputs["rules"]
    assert rule["status"] == "Enabled"
    assert rule["filter"] == {}
    assert rule["deleteMarkerReplication"] == {"status": "Enabled"}
    assert rule["sourceSelectionCriteria"] == {"sseKmsEncryptedObjects": {"status": "Enabled"}}
    destination = rule["destination"]
    assert destination["bucket"] == "arn:aws:s3:::distronation-prod-audio-us-west-2"
    assert destination["storageClass"] == "STANDARD_IA"
    assert destination["replicationTime"] == {"status": "Enabled", "time": {"minutes": 15}}
    assert destination["metrics"] == {"status": "Enabled", "eventThreshold": {"minutes": 15}}
    replica_key = prod.by_urn()[replication.property_dependencies["rules"][0]]
    assert replica_key.inputs["region"] == "us-west-2"
    # Versioning on both buckets must exist before replication is configured.
    versionings = {
        r.urn
        for bucket in (primary, replica)
        for r in linked_to(prod, bucket, "aws:s3/bucketVersioning:BucketVersioning")
    }
    assert versionings <= set(replication.dependencies)


def test_tier1_replication_role_is_least_privilege(prod: Run) -> None:
    parent = component(prod, "audio")
    [role] = [
        r for r in prod.children_of(parent.urn) if r.type == "aws:iam/role:Role" and r.name == "audio-replication"
    ]
    assert role.inputs["tags"]["dr:role"] == "replication"
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {"Service": "s3.amazonaws.com"}
    [policy] = [r for r in prod.of_type("aws:iam/rolePolicy:RolePolicy") if role.urn in r.property_dependencies["role"]]
    statements = {s["Sid"]: s for s in policy_document(policy)["Statement"]}
    source, replica = "arn:aws:s3:::distronation-prod-audio-us-east-1", "arn:aws:s3:::distronation-prod-audio-us-west-2"
    assert statements["ReadSourceConfiguration"]["Resource"] == source
    assert {"s3:GetObjectRetention", "s3:GetObjectLegalHold"} <= set(statements["ReadSourceVersions"]["Action"])
    assert statements["ReadSourceVersions"]["Resource"] == f"{source}/*"
    assert statements["WriteReplica"]["Resource"] == f"{replica}/*"
    # Key use is granted by the keys' policies, by role ARN, never through an alias (see the key-policy test).
    assert not [s for s in statements.values() if any(a.startswith("kms:") for a in s["Action"])]
    assert role.inputs["name"] == "distronation-prod-audio-replication"
    [replication] = linked_to(prod, child(prod, parent, BUCKET, "audio-primary"), REPLICATION)
    assert policy.urn in replication.dependencies, "replication waits for its role's policy"
    actions = [a for s in statements.values() for a in s["Action"]]
    assert not [a for a in actions if "*" in a], "no wildcard actions"
    assert "s3:BypassGovernanceRetention" not in actions


def test_tier1_key_policies_grant_each_role_by_arn_after_the_role_exists(prod: Run) -> None:
    parent = component(prod, "audio")
    roles = {r.inputs["name"]: r for r in prod.of_type("aws:iam/role:Role")}
    expected = {
        "primary": {
            "distronation-prod-audio-replication": ["kms:Decrypt"],
            "distronation-prod-audio-undelete": ["kms:Decrypt", "kms:GenerateDataKey"],
            "distronation-prod-audio-audit": ["kms:Decrypt"],
            "distronation-prod-audio-batch-restore": ["kms:Decrypt", "kms:GenerateDataKey"],
            "distronation-prod-dr-drill": ["kms:Decrypt", "kms:GenerateDataKey"],  # the scheduled drill's canaries
            "distronation-prod-api-failover": ["kms:Decrypt", "kms:GenerateDataKey"],  # failback copies back here
        },
        "replica": {
            "distronation-prod-audio-replication": ["kms:Encrypt", "kms:GenerateDataKey"],
            "distronation-prod-audio-audit": ["kms:Decrypt"],
            "distronation-prod-dr-drill": ["kms:Decrypt"],  # reads replica canaries under a FIS pause
            # AWS Backup for S3 backs up the replica (components/isolation.py): two statements, uses through S3 and
            # AWS Backup, and grants for AWS resources; this map keeps the last one per role.
            "distronation-prod-bucket-backup": ["kms:CreateGrant"],
            "distronation-prod-api-failover": ["kms:Decrypt"],  # the failback reads the replica's writes
        },
    }
    for role_in_pair, grants in expected.items():
        key_policy = child(prod, parent, "aws:kms/keyPolicy:KeyPolicy", f"audio-{role_in_pair}-key-policy")
        key = child(prod, parent, "aws:kms/key:Key", f"audio-{role_in_pair}-key")
        assert key.urn in key_policy.property_dependencies["keyId"]
        statements = policy_document(key_policy)["Statement"]
        granted = {
            s["Principal"]["AWS"].rpartition("/")[2]: s["Action"] for s in statements if s["Sid"] != "EnableIamPolicies"
        }
        assert granted == grants
        for name in grants:
            assert roles[name].urn in key_policy.dependencies, f"KMS rejects a policy naming {name} before it exists"


def test_batch_reports_key_grants_every_buckets_batch_restore_role(prod: Run) -> None:
    parent = component(prod, "dr-batch-reports")
    key_policy = child(prod, parent, "aws:kms/keyPolicy:KeyPolicy", "dr-batch-reports-primary-key-policy")
    principals = {
        s["Principal"]["AWS"]
        for s in policy_document(key_policy)["Statement"]
        if s["Sid"] != "EnableIamPolicies" and "AWS" in s["Principal"]
    }
    names = ("audio", "uploads", "profile-pictures", "reporting", "backup")
    batch_roles = {f"arn:aws:iam::{ACCOUNT_ID}:role/distronation-prod-{n}-batch-restore" for n in names}
    # The change journal's delivery roles of the buckets in this Region (Firehose writes the journal here).
    journal_roles = {
        f"arn:aws:iam::{ACCOUNT_ID}:role/distronation-prod-{n}-journal-p"
        for n in ("audio", "uploads", "profile-pictures", "reporting")
    }
    # And the scheduled drill (prod sets drills.scheduled), whose restores take their lock in this bucket, and
    # Backup Audit Manager delivering its reports (components/backup_estate.py::report_delivery_grants).
    reports = (
        f"arn:aws:iam::{ACCOUNT_ID}:role/aws-service-role/reports.backup.amazonaws.com/AWSServiceRoleForBackupReports"
    )
    drill = f"arn:aws:iam::{ACCOUNT_ID}:role/distronation-prod-dr-drill"
    assert principals == batch_roles | journal_roles | {drill, reports}


def test_tier1_alarms_live_where_s3_publishes_their_metrics(prod: Run) -> None:
    parent = component(prod, "uploads")
    alarms = {
        r.inputs["metricName"]: r
        for r in prod.children_of(parent.urn)
        if r.type.endswith(":MetricAlarm") and "metricName" in r.inputs  # the delete-volume alarm uses metric queries
    }
    assert set(alarms) == {"ReplicationLatency", "OperationsFailedReplication", "RecoveryPointAgeSeconds"}
    latency = alarms["ReplicationLatency"]
    assert latency.inputs["threshold"] == 900
    assert latency.inputs["dimensions"] == {
        "SourceBucket": "distronation-prod-uploads-us-east-1",
        "DestinationBucket": "distronation-prod-uploads-us-west-2",
        "RuleId": "all-objects",
    }
    # S3 User Guide, "Using S3 Replication metrics": latency in the destination Region, failures in the source.
    regions = {"ReplicationLatency": "us-west-2", "OperationsFailedReplication": "us-east-1"}
    regions["RecoveryPointAgeSeconds"] = "us-west-2"  # read from the latency, beside the replica
    providers_by_region = {v: k for k, v in providers(prod).items()}
    for metric, alarm in alarms.items():
        region = regions[metric]
        assert alarm.inputs["region"] == region, metric
        assert alarm.provider == providers_by_region[region], metric
        assert alarm.inputs["alarmActions"] == [f"arn:aws:sns:{region}:{ACCOUNT_ID}:distronation-prod-dr-alerts"]
    subscriptions = prod.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert sorted(s.inputs["region"] for s in subscriptions) == ["us-east-1", "us-west-2"], "one topic per Region"
    assert {(s.inputs["protocol"], s.inputs["endpoint"]) for s in subscriptions} == {
        ("email", "dr-alerts@distronation.example")
    }


def test_tier1_delete_auto_restore_is_wired_with_least_privilege(prod: Run) -> None:
    parent = component(prod, "audio")
    primary = child(prod, parent, BUCKET, "audio-primary")
    [notification] = linked_to(prod, primary, "aws:s3/bucketNotification:BucketNotification")
    functions = notification.inputs["lambdaFunctions"]
    assert [f["filterPrefix"] for f in functions] == ["masters/", "releases/"]
    assert all(f["events"] == ["s3:ObjectRemoved:DeleteMarkerCreated"] for f in functions)
    permission = child(prod, parent, "aws:lambda/permission:Permission", "audio-auto-restore")
    assert permission.urn in notification.dependencies
    assert permission.inputs["principal"] == "s3.amazonaws.com"
    assert permission.inputs["sourceArn"] == "arn:aws:s3:::distronation-prod-audio-us-east-1"
    assert permission.inputs["sourceAccount"] == ACCOUNT_ID
    function = child(prod, parent, "aws:lambda/function:Function", "audio-auto-restore")
    assert function.inputs["handler"] == "handlers.s3.auto_restore.lambda_handler"
    # A JSON list: S3 keys may contain commas.
    assert json.loads(function.inputs["environment"]["variables"]["PROTECTED_PREFIXES"]) == ["masters/", "releases/"]
    assert function.inputs["environment"]["variables"]["ALLOW_MARKER_REMOVAL"] == "false"
    assert function.inputs["region"] == "us-east-1"
    role = child(prod, parent, "aws:iam/role:Role", "audio-auto-restore")
    assert role.inputs["tags"]["dr:role"] == "runtime"
    [policy] = [r for r in prod.of_type("aws:iam/rolePolicy:RolePolicy") if role.urn in r.property_dependencies["role"]]
    actions = {
        a
        for s in policy_document(policy)["Statement"]
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert "s3:PutObject" in actions and "s3:GetObjectVersion" in actions
    forbidden = {"s3:DeleteObjectVersion", "s3:DeleteObject", "s3:PutBucketVersioning", "s3:DeleteBucket"}
    assert not actions & forbidden, "MFA-delete primary: the runtime role copies back, it never deletes"


def test_lambda_handler_named_by_the_component_exists() -> None:
    import importlib

    from components.recovery_function import HANDLERS_DIR

    assert HANDLERS_DIR == REPO / "handlers"
    module = importlib.import_module("handlers.s3.auto_restore")
    assert callable(module.lambda_handler)


@pytest.mark.parametrize("name", ["profile-pictures", "reporting"])
def test_tier2_single_region_with_versioning_lock_and_lifecycle(prod: Run, name: str) -> None:
    parent = component(prod, name)
    buckets = [r for r in prod.children_of(parent.urn) if r.type == BUCKET]
    [bucket] = buckets
    assert bucket.inputs["region"] == "us-east-1"
    assert bucket.protect
    [lock] = linked_to(prod, bucket, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
    assert lock.inputs["rule"]["defaultRetention"] == {"mode": "GOVERNANCE", "days": 7}
    [versioning] = linked_to(prod, bucket, "aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    assert versioning.ignore_changes == [], "no MFA delete on tier 2, so versioning stays fully managed"
    [lifecycle] = linked_to(prod, bucket, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    [rule] = [r for r in lifecycle.inputs["rules"] if r["id"] == "noncurrent-versions"]
    assert [t["storageClass"] for t in rule["noncurrentVersionTransitions"]] == ["STANDARD_IA", "GLACIER"]
    assert linked_to(prod, bucket, "aws:s3/bucketReplicationConfig:BucketReplicationConfig") == []
    assert not [r for r in prod.descendants_of(parent.urn) if r.type == "aws:lambda/function:Function"]


def test_tier3_basic_lifecycle_without_lock(prod: Run) -> None:
    parent = component(prod, "backup")
    [bucket] = [r for r in prod.children_of(parent.urn) if r.type == BUCKET]
    assert bucket.inputs["objectLockEnabled"] is False
    assert bucket.retain_on_delete and not bucket.protect
    assert linked_to(prod, bucket, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration") == []
    [lifecycle] = linked_to(prod, bucket, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    rule, tiering = lifecycle.inputs["rules"]
    assert "transitions" not in rule
    assert tiering["transitions"] == [{"days": 0, "storageClass": "INTELLIGENT_TIERING"}]
    assert rule["noncurrentVersionExpiration"] == {"noncurrentDays": 30}
    assert "noncurrentVersionTransitions" not in rule
    # Still versioned, encrypted and private.
    assert len(linked_to(prod, bucket, "aws:s3/bucketVersioning:BucketVersioning")) == 1
    assert len(linked_to(prod, bucket, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")) == 1


def test_preview_semantics_leave_computed_outputs_unknown(prod: Run) -> None:
    """At a first preview a new bucket has no id: children link to it only through property dependencies."""
    versionings = prod.of_type("aws:s3/bucketVersioning:BucketVersioning")
    assert versionings and all(r.inputs["bucket"] == UNKNOWN for r in versionings)
    assert all(len(r.property_dependencies["bucket"]) == 1 for r in versionings)
    # Policies built from names stay known, so the policy pack can verify them before deploy.
    assert all(r.inputs["policy"] != UNKNOWN for r in prod.of_type("aws:s3/bucketPolicy:BucketPolicy"))
    assert all(r.inputs["policy"] != UNKNOWN for r in prod.of_type("aws:iam/rolePolicy:RolePolicy"))


def test_main_stays_thin() -> None:
    source = (REPO / "__main__.py").read_text()
    assert len(source.splitlines()) < 70
    assert "load_settings(" in source
    readers = [p.name for p in (REPO / "components").glob("*.py") if "pulumi.Config(" in p.read_text()]
    assert readers == [], "components take typed args and never read pulumi.Config"


def test_project_config_schema_uses_only_types_pulumi_accepts() -> None:
    project = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "uv"}}
    for key, declaration in project["config"].items():
        assert declaration["type"] in {"string", "integer", "boolean", "array"}, key
        assert declaration["description"], key


@pytest.mark.parametrize("name", ["audio", "profile-pictures", "backup"])
def test_every_bucket_has_a_batch_restore_role_scoped_to_itself_and_its_reports(prod: Run, name: str) -> None:
    parent = component(prod, name)
    role = child(prod, parent, "aws:iam/role:Role", f"{name}-batch-restore")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "batchoperations.s3.amazonaws.com"}
    assert role.inputs["tags"]["dr:role"] == "runtime"
    [policy] = [r for r in prod.of_type("aws:iam/rolePolicy:RolePolicy") if role.urn in r.property_dependencies["role"]]
    statements = {s["Sid"]: s for s in policy_document(policy)["Statement"]}
    bucket = f"distronation-prod-{name}-us-east-1"
    assert statements["CopyVersionsBack"]["Resource"] == f"arn:aws:s3:::{bucket}/*"
    assert "s3:PutObject" in statements["CopyVersionsBack"]["Action"]
    reports = "arn:aws:s3:::distronation-prod-dr-batch-reports-us-east-1"
    assert statements["ReadManifestWriteReport"]["Resource"] == f"{reports}/dr-restore/{bucket}/*"
    actions = {a for s in statements.values() for a in s["Action"]}
    assert not {a for a in actions if "Delete" in a or "Bypass" in a}, "a restore copies; it never deletes"
    reports_component = component(prod, "dr-batch-reports")
    assert not [r for r in prod.children_of(reports_component.urn) if r.type == "aws:iam/role:Role"]


def test_a_whole_bucket_prefix_reaches_the_handler_as_protecting_every_key(prod: Run) -> None:
    from handlers.s3 import auto_restore

    parent = component(prod, "uploads")  # protectedPrefixes: [""] in Pulumi.prod.yaml
    function = child(prod, parent, "aws:lambda/function:Function", "uploads-auto-restore")
    encoded = function.inputs["environment"]["variables"]["PROTECTED_PREFIXES"]
    assert json.loads(encoded) == [""]
    assert auto_restore.is_protected("any/key", auto_restore.parse_prefixes(encoded))
    [notification] = [
        r
        for r in prod.children_of(parent.urn)
        if r.type.endswith(":BucketNotification") and r.inputs.get("lambdaFunctions")
    ]
    assert notification.inputs["lambdaFunctions"][0].get("filterPrefix") is None  # no filter: every key


def test_tier1_replication_audit_runs_hourly_with_read_only_access(prod: Run) -> None:
    parent = component(prod, "audio")
    function = child(prod, parent, "aws:lambda/function:Function", "audio-replication-audit")
    assert function.inputs["handler"] == "handlers.s3.audit.lambda_handler"
    variables = function.inputs["environment"]["variables"]
    assert variables["AUDIT_BUCKETS"] == "distronation-prod-audio-us-east-1"
    assert variables["REPLICA_REGION"] == "us-west-2"
    assert variables["RTC_WINDOW_MINUTES"] == "15"
    rule = child(prod, parent, "aws:cloudwatch/eventRule:EventRule", "audio-replication-audit")
    assert rule.inputs["scheduleExpression"] == "rate(1 hour)"
    target = child(prod, parent, "aws:cloudwatch/eventTarget:EventTarget", "audio-replication-audit")
    assert function.urn in target.property_dependencies["arn"]
    permission = child(prod, parent, "aws:lambda/permission:Permission", "audio-replication-audit")
    assert permission.inputs["principal"] == "events.amazonaws.com"
    assert rule.urn in permission.property_dependencies["sourceArn"]
    role = child(prod, parent, "aws:iam/role:Role", "audio-replication-audit")
    [policy] = [r for r in prod.of_type("aws:iam/rolePolicy:RolePolicy") if role.urn in r.property_dependencies["role"]]
    statements = policy_document(policy)["Statement"]
    actions = {a for s in statements for a in s["Action"]}
    assert not {a for a in actions if a.startswith("s3:") and not a.startswith(("s3:List", "s3:Get"))}, actions
    [metrics] = [s for s in statements if s["Sid"] == "PublishRecoveryMetrics"]
    assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": "DR/Recovery"}}


def test_tier1_rpo_age_runs_beside_the_replica_and_its_alarm_is_a_stack_resource(prod: Run) -> None:
    parent = component(prod, "uploads")
    function = child(prod, parent, "aws:lambda/function:Function", "uploads-rpo-age")
    assert function.inputs["handler"] == "handlers.rpo_age.lambda_handler"
    assert function.inputs["region"] == "us-west-2", "S3 publishes ReplicationLatency in the destination Region"
    variables = function.inputs["environment"]["variables"]
    assert variables["RPO_BUCKETS"] == "distronation-prod-uploads-us-east-1"
    assert "ALERT_TOPIC_ARN" not in variables
    rule = child(prod, parent, "aws:cloudwatch/eventRule:EventRule", "uploads-rpo-age")
    assert rule.inputs["scheduleExpression"] == "rate(15 minutes)"
    assert rule.inputs["region"] == "us-west-2"
    role = child(prod, parent, "aws:iam/role:Role", "uploads-rpo-age")
    assert role.inputs["tags"]["dr:role"] == "runtime"
    [policy] = [r for r in prod.of_type("aws:iam/rolePolicy:RolePolicy") if role.urn in r.property_dependencies["role"]]
    statements = {s["Sid"]: s for s in policy_document(policy)["Statement"]}
    actions = {a for s in statements.values() for a in s["Action"]}
    assert "cloudwatch:PutMetricAlarm" not in actions, "the alarm is a stack resource, never created at run time"
    assert not any(a.startswith("dynamodb:") for a in actions)
    alarm = child(prod, parent, "aws:cloudwatch/metricAlarm:MetricAlarm", "uploads-rpo-age")
    assert alarm.inputs["name"] == "dr-rpo-age-S3Bucket-distronation-prod-uploads-us-east-1-us-east-1"
    assert (alarm.inputs["namespace"], alarm.inputs["metricName"]) == ("DR/Recovery", "RecoveryPointAgeSeconds")
    assert alarm.inputs["dimensions"] == {
        "ResourceType": "S3Bucket",
        "Resource": "distronation-prod-uploads-us-east-1",
        "Region": "us-east-1",
    }
    assert (alarm.inputs["threshold"], alarm.inputs["treatMissingData"]) == (900, "breaching")


RUNTIME_FUNCTION = "dr:runtime:RecoveryFunction"


@pytest.mark.parametrize("name", ["audio", "uploads"])
def test_tier1_runtime_functions_are_recovery_functions_aliased_to_their_old_parent(prod: Run, name: str) -> None:
    """Each runtime child was a direct child of its bucket component before issue 9; the alias naming that
    parent lets `pulumi up` on an existing stack move it to the RecoveryFunction instead of replacing it."""
    parent = component(prod, name)
    functions = [r for r in prod.children_of(parent.urn) if r.type == RUNTIME_FUNCTION]
    assert sorted(f.name for f in functions) == [f"{name}-auto-restore", f"{name}-replication-audit", f"{name}-rpo-age"]
    for function in functions:
        children = prod.children_of(function.urn)
        assert {r.type for r in children} >= {
            "aws:cloudwatch/logGroup:LogGroup",
            "aws:iam/role:Role",
            "aws:iam/rolePolicy:RolePolicy",
            "aws:lambda/function:Function",
            "aws:lambda/permission:Permission",
        }
        for resource in children:
            assert resource.aliases == [{"spec": {"parentUrn": parent.urn}}], resource.name
        assert function.aliases == [], "the component itself is new; it has no earlier URN"


@pytest.mark.parametrize("name", ["audio", "uploads"])
def test_tier1_primary_alerts_on_unusual_delete_volume_in_its_own_region(prod: Run, name: str) -> None:
    parent = component(prod, name)
    primary = child(prod, parent, "aws:s3/bucket:Bucket", f"{name}-primary")
    [metrics] = linked_to(prod, primary, "aws:s3/bucketMetric:BucketMetric")
    assert metrics.inputs["name"] == "EntireBucket" and "filter" not in metrics.inputs
    alarm = child(prod, parent, "aws:cloudwatch/metricAlarm:MetricAlarm", f"{name}-delete-volume")
    deletes, band = alarm.inputs["metricQueries"]
    assert deletes["metric"]["metricName"] == "DeleteRequests" and deletes["metric"]["namespace"] == "AWS/S3"
    assert deletes["metric"]["dimensions"] == {
        "BucketName": f"distronation-prod-{name}-us-east-1",
        "FilterId": "EntireBucket",
    }
    assert band["expression"].startswith("ANOMALY_DETECTION_BAND(deletes")
    assert alarm.inputs["thresholdMetricId"] == "band"
    assert alarm.inputs["comparisonOperator"] == "GreaterThanUpperThreshold"
    assert alarm.inputs["region"] == metrics.inputs["region"] == "us-east-1"
    assert alarm.inputs["alarmActions"] == [f"arn:aws:sns:us-east-1:{ACCOUNT_ID}:distronation-prod-dr-alerts"]


def test_tier2_and_tier3_buckets_carry_no_request_metrics(prod: Run) -> None:
    tiered = {component(prod, name).urn for name in ("profile-pictures", "reporting", "backup")}
    assert not [m for m in prod.of_type("aws:s3/bucketMetric:BucketMetric") if m.parent in tiered]


INVENTORY = "aws:s3/inventory:Inventory"


def test_tier1_copies_and_tier2_buckets_have_a_versioned_inventory_in_their_region(prod: Run) -> None:
    inventories = {r.name: r for r in prod.of_type(INVENTORY)}
    assert set(inventories) == {
        "audio-primary-inventory",
        "audio-replica-inventory",
        "uploads-primary-inventory",
        "uploads-replica-inventory",
        "profile-pictures-primary-inventory",
        "reporting-primary-inventory",
    }
    for inventory in inventories.values():
        assert inventory.inputs["includedObjectVersions"] == "All"
        assert inventory.inputs["schedule"] == {"frequency": "Daily"}
        assert inventory.inputs["destination"]["bucket"]["format"] == "Parquet"
        assert {"Size", "LastModifiedDate", "ETag", "StorageClass", "ChecksumAlgorithm"} <= set(
            inventory.inputs["optionalFields"]
        )
        region = inventory.inputs["region"]
        destination = inventory.inputs["destination"]["bucket"]["bucketArn"]
        assert destination == f"arn:aws:s3:::distronation-prod-dr-batch-reports-{region}", "same Region as the source"


def test_reports_buckets_grant_inventory_delivery_to_their_regions_sources(prod: Run) -> None:
    for name, region, sources in (
        ("dr-batch-reports", "us-east-1", 4),
        ("dr-recovery-reports", "us-west-2", 2),
    ):
        parent = component(prod, name)
        [policy] = [r for r in prod.descendants_of(parent.urn) if r.type == "aws:s3/bucketPolicy:BucketPolicy"]
        [grant] = [s for s in policy_document(policy)["Statement"] if s["Sid"] == "AllowInventoryDelivery"]
        assert grant["Principal"] == {"Service": "s3.amazonaws.com"} and grant["Action"] == "s3:PutObject"
        assert len(grant["Condition"]["ArnLike"]["aws:SourceArn"]) == sources
        assert all(arn.endswith(region) for arn in grant["Condition"]["ArnLike"]["aws:SourceArn"])
        [key_policy] = [r for r in prod.descendants_of(parent.urn) if r.type == "aws:kms/keyPolicy:KeyPolicy"]
        statements = (
            json.loads(key_policy.inputs["policy"])["Statement"] if key_policy.inputs["policy"] != UNKNOWN else []
        )
        if statements:  # the account id is unknown at preview in some runs
            [kms] = [s for s in statements if s.get("Sid") == "AllowInventoryEncryption"]
            assert kms["Action"] == ["kms:GenerateDataKey"]


def test_the_journal_and_catalog_sit_beside_each_regions_reports(prod: Run) -> None:
    streams = prod.of_type("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream")
    assert len(streams) == 6
    for stream in streams:
        conversion = stream.inputs["extendedS3Configuration"]["dataFormatConversionConfiguration"]
        assert "parquetSerDe" in conversion["outputFormatConfiguration"]["serializer"]
        assert stream.inputs["extendedS3Configuration"]["prefix"].startswith("dr-journal/")
    rules = prod.of_type("aws:cloudwatch/eventRule:EventRule")
    patterns = [json.loads(r.inputs["eventPattern"]) for r in rules if r.name.endswith(("-created", "-deleted"))]
    assert sorted({p["detail-type"][0] for p in patterns}) == ["Object Created", "Object Deleted"]
    for workgroup in prod.of_type("aws:athena/workgroup:Workgroup"):
        configuration = workgroup.inputs["configuration"]
        assert configuration["bytesScannedCutoffPerQuery"] == 100 * 1024**3
        assert configuration["resultConfiguration"]["encryptionConfiguration"]["encryptionOption"] == "SSE_KMS"
    tables = prod.of_type("aws:glue/catalogTable:CatalogTable")
    assert len(tables) == 12 and all(t.inputs["parameters"]["projection.enabled"] == "true" for t in tables)
    notifications = prod.of_type("aws:s3/bucketNotification:BucketNotification")
    assert all(n.inputs.get("eventbridge") is True for n in notifications)


def test_intelligent_tiering_on_current_versions_but_never_on_mfa_delete_primaries(prod: Run) -> None:
    lifecycles = prod.of_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    tiered = {
        r.name
        for r in lifecycles
        if any(
            t.get("storageClass") == "INTELLIGENT_TIERING"
            for rule in r.inputs["rules"]
            for t in rule.get("transitions") or []
        )
    }
    assert {"audio-replica-lifecycle", "uploads-replica-lifecycle", "reporting-primary-lifecycle"} <= tiered
    assert not {name for name in tiered if name.startswith(("audio-primary", "uploads-primary"))}
    for lifecycle in lifecycles:
        for rule in lifecycle.inputs["rules"]:
            if rule["id"] == "current-intelligent-tiering":
                assert rule["filter"] == {"objectSizeGreaterThan": 128 * 1024}
