"""The pack as a publishable unit: layout, metadata, and what the engine sees from GetAnalyzerInfo."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from dr_guardrails import CATALOG, PACK_NAME, POLICIES, SPECS

from tests.policies import analyzer
from tests.policies.support import BUCKET, LIFECYCLE, OBJECT_LOCK, SSE, VERSIONING, deprecated_v2

PACK_DIR = Path(__file__).resolve().parents[2] / "policies"
NAME = re.compile(r"^aws-[a-z0-9]+-[a-z0-9]+(-[a-z0-9]+)+$")


def test_pack_folder_is_publishable_alone() -> None:
    manifest = yaml.safe_load((PACK_DIR / "PulumiPolicy.yaml").read_text())
    assert manifest["runtime"] == "python"
    requirements = (PACK_DIR / "requirements.txt").read_text()
    assert "pulumi-policy" in requirements and re.search(r"^pulumi[<>=]", requirements, re.MULTILINE)
    main = (PACK_DIR / "__main__.py").read_text()
    assert "PolicyPack(" in main and "PACK_NAME" in main
    for source in PACK_DIR.rglob("*.py"):
        text = source.read_text()
        assert not re.search(r"^\s*(from|import)\s+(components|handlers|preview|tests)\b", text, re.MULTILINE), source


def test_policy_names_metadata_and_uniqueness() -> None:
    assert PACK_NAME == "dr-guardrails"
    assert len(SPECS) == len(CATALOG) == len(POLICIES)
    for spec in CATALOG:
        assert NAME.match(spec.name), spec.name
        assert spec.description.startswith("Checks that") and spec.description.endswith(".")
        assert spec.description.count(". ") == 0, f"{spec.name}: description must be one sentence"
        assert spec.remediation_steps
        assert f"severity: {spec.severity.value}" in spec.full_description
        for control in spec.controls:
            assert control.id in spec.full_description


def test_required_controls_are_mapped() -> None:
    controls = {spec.name: {control.id for control in spec.controls} for spec in CATALOG}
    assert "S3.14" in controls["aws-s3-bucket-versioning-enabled"]
    assert "S3.20" in controls["aws-s3-bucket-mfa-delete-enabled"]
    assert "S3.15" in controls["aws-s3-bucket-object-lock-retention"]
    assert "S3.7" in controls["aws-s3-bucket-replication-cross-region"]
    assert "S3.8" in controls["aws-s3-bucket-public-access-block"]
    assert "S3.5" in controls["aws-s3-bucket-policy-tls-only"]
    assert "S3.17" in controls["aws-s3-bucket-sse-kms"]
    assert "DynamoDB.2" in controls["aws-dynamodb-table-pitr-enabled"]
    assert "DynamoDB.6" in controls["aws-dynamodb-table-deletion-protection"]
    assert "KMS.4" in controls["aws-kms-key-rotation-enabled"]
    assert {"IAM.1", "IAM.21"} <= controls["aws-iam-role-dr-least-privilege"]


def test_every_resource_policy_recognises_v2_tokens_where_pulumi_aws_has_them() -> None:
    v2 = {token: deprecated_v2(token) for token in (BUCKET, VERSIONING, OBJECT_LOCK, SSE, LIFECYCLE)}
    for spec in CATALOG:
        for v7, deprecated in v2.items():
            if v7 in spec.resource_types:
                assert deprecated in spec.resource_types, (spec.name, deprecated)


def test_analyzer_info_advertises_levels_severity_schema_and_remediation_steps() -> None:
    info = analyzer.servicer().GetAnalyzerInfo(None, None)
    assert info.name == PACK_NAME
    advertised = {policy.name: policy for policy in info.policies}
    assert set(advertised) == set(SPECS)
    for name, spec in SPECS.items():
        policy = advertised[name]
        assert analyzer.LEVEL_NAMES[policy.enforcementLevel] == spec.enforcement_level.value
        assert policy.remediation_steps == spec.remediation_steps
        assert policy.severity != 0
        assert set(policy.configSchema.properties) == set(spec.config)


def test_readme_documents_every_policy_with_level_and_controls() -> None:
    readme = (PACK_DIR / "README.md").read_text()
    assert "pulumi preview --policy-pack policies --policy-pack-config" in readme
    assert "pulumi policy publish" in readme
    for spec in CATALOG:
        row = next((line for line in readme.splitlines() if line.startswith(f"| `{spec.name}`")), None)
        assert row is not None, f"README table lacks {spec.name}"
        assert spec.enforcement_level.value in row and spec.severity.value in row
        for control in spec.controls:
            assert control.id in row, (spec.name, control.id)
