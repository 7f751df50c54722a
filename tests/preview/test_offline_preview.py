"""offline-preview end to end: purpose-written programs through the fixture pack over the Analyzer protocol."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.preview.conftest import FIXTURE_PACK, PROGRAMS, REPO_ROOT, RunPreview

pytestmark = pytest.mark.slow

VIOLATION_KEYS = {"policy", "enforcement", "urn", "type", "name", "message", "severity", "control"}
NOT_VERIFIABLE_KEYS = {"policy", "urn", "type", "name", "message"}


def test_console_script_passes_a_compliant_program_and_writes_the_json_contract(tmp_path: Path) -> None:
    json_path = tmp_path / "out" / "findings.json"
    completed = subprocess.run(
        [
            str(Path(sys.executable).with_name("offline-preview")),
            "--program",
            str(PROGRAMS / "compliant"),
            "--stack",
            "test",
            "--policy-pack",
            str(FIXTURE_PACK),
            "--json",
            str(json_path),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    document = json.loads(json_path.read_text(encoding="utf-8"))
    assert {"resources", "violations", "not_verifiable"} <= set(document)
    # Stack, provider, bucket, versioning and topic.
    assert document["resources"] == 5
    assert document["violations"] == []
    assert document["not_verifiable"] == []
    # The absent acl is filled by the remediate-level policy before Analyze sees the bucket, and still listed
    # as a code change with the Python argument to set.
    assert [
        (item["policy"], item["name"], item["set"], item["applied_offline"]) for item in document["remediations"]
    ] == [("fixture-bucket-acl-private", "audio", ["acl='private' (engine: acl)"], True)]
    assert document["interpreter"].startswith(sys.executable.rsplit("/", 1)[0])
    assert document["policy_pack"]["version"] == "0.1.0"
    assert "compliant:alarmEmail" in " ".join(document["warnings"])
    assert "PASS" in completed.stdout
    assert "fixture-bucket-acl-private" in completed.stdout
    assert "program interpreter:" in completed.stdout


def test_violations_are_reported_by_policy_and_resource_with_their_levels(run_preview: RunPreview) -> None:
    run = run_preview(PROGRAMS / "violations")

    assert run.exit_code == 1
    assert run.findings() == {
        ("fixture-versioning-enabled", "suspended-versioning", "mandatory"),
        ("fixture-versioning-naive", "suspended-versioning", "mandatory"),
        ("fixture-bucket-has-versioning", "unversioned", "mandatory"),
        ("fixture-bucket-tagged", "unversioned", "advisory"),
    }
    for violation in run.document["violations"]:
        assert set(violation) == VIOLATION_KEYS
        assert violation["urn"].endswith(f"::{violation['name']}")
    stack_violation = next(v for v in run.document["violations"] if v["policy"] == "fixture-bucket-has-versioning")
    assert stack_violation["type"] == "aws:s3/bucket:Bucket"
    # The policy's own text, without the description the SDK prepends.
    assert stack_violation["message"] == "bucket has no BucketVersioning linked through its `bucket` property"
    assert "[mandatory]" in run.stdout
    assert "FAIL: 3 mandatory, 1 advisory" in run.stdout


def test_policy_config_overrides_levels_and_properties(run_preview: RunPreview) -> None:
    run = run_preview(
        PROGRAMS / "violations",
        policy_config={
            "all": "advisory",
            "fixture-versioning-naive": "disabled",
            "fixture-bucket-tagged": {"enforcementLevel": "mandatory", "tag": "owner"},
        },
    )

    assert run.exit_code == 1
    assert run.findings() == {
        ("fixture-versioning-enabled", "suspended-versioning", "advisory"),
        ("fixture-bucket-has-versioning", "unversioned", "advisory"),
        # The configured tag key reaches the policy, and both buckets lack it.
        ("fixture-bucket-tagged", "unversioned", "mandatory"),
        ("fixture-bucket-tagged", "suspended", "mandatory"),
        # `all` puts the remediating policy at advisory, where the SDK validates instead of remediating.
        ("fixture-bucket-acl-private", "unversioned", "advisory"),
        ("fixture-bucket-acl-private", "suspended", "advisory"),
    }
    assert run.document["policy_pack"]["levels"]["fixture-versioning-naive"] == "disabled"


def test_policy_config_that_fails_the_schema_is_a_config_error_naming_policy_and_key(
    run_preview: RunPreview,
) -> None:
    run = run_preview(PROGRAMS / "compliant", policy_config={"fixture-bucket-tagged": {"tag": 5}})

    assert run.exit_code == 2
    assert "policy 'fixture-bucket-tagged': tag: 5 is not of type 'string'" in run.stderr
    assert run.document["violations"] == [] and "error" in run.document


def test_values_unknown_at_preview_are_not_verifiable_never_passed(run_preview: RunPreview) -> None:
    run = run_preview(PROGRAMS / "unknown_at_preview")

    assert run.document["violations"] == []
    assert run.findings("not_verifiable") == {
        ("fixture-versioning-enabled", "media-versioning"),
        ("fixture-versioning-naive", "media-versioning"),
    }
    messages = {item["policy"]: item["message"] for item in run.document["not_verifiable"]}
    assert messages["fixture-versioning-enabled"].startswith("cannot verify until deploy")
    # The SDK's own note for a policy that read an unknown value, which it downgrades to advisory.
    assert messages["fixture-versioning-naive"].startswith("can't run policy 'fixture-versioning-naive'")
    for item in run.document["not_verifiable"]:
        assert set(item) == NOT_VERIFIABLE_KEYS
    assert run.exit_code == 0
    assert "2 not verifiable at preview" in run.stdout


def test_fail_on_unverifiable_turns_not_verifiable_into_exit_1(run_preview: RunPreview) -> None:
    run = run_preview(PROGRAMS / "unknown_at_preview", extra=("--fail-on-unverifiable",))

    assert run.exit_code == 1


@pytest.mark.parametrize(
    ("stack", "program_error"),
    [
        ("test", "RuntimeError: tier 7 is not a DR tier (expected 1, 2 or 3)"),
        ("apply", "KeyError: \"tier table has no entry for bucket 'logs'\""),
        (
            "duplicate",
            "ValueError: Duplicate resource URN 'urn:pulumi:duplicate::broken::aws:s3/bucket:Bucket::logs'; "
            "try giving it a unique name",
        ),
    ],
    ids=["raises-at-import", "raises-inside-apply", "duplicate-urn"],
)
def test_a_program_that_raises_exits_2_with_its_own_error(
    run_preview: RunPreview, stack: str, program_error: str
) -> None:
    run = run_preview(PROGRAMS / "broken", stack=stack)

    assert run.exit_code == 2
    assert f"program error: {program_error}" in run.stderr
    assert "No policy was checked" in run.stderr
    assert run.document["error"] == f"program error: {program_error}"
    assert "PASS" not in run.stdout


def test_a_missing_stack_is_a_config_error(run_preview: RunPreview) -> None:
    run = run_preview(PROGRAMS / "compliant", stack="staging")

    assert run.exit_code == 2
    assert "no Pulumi.staging.yaml" in run.stderr


def test_a_pack_that_fails_to_start_exits_2_with_its_error(run_preview: RunPreview, tmp_path: Path) -> None:
    broken_pack = tmp_path / "broken_pack"
    broken_pack.mkdir()
    (broken_pack / "__main__.py").write_text("raise ImportError('dr_guardrails is not installed')\n")

    run = run_preview(PROGRAMS / "compliant", pack=broken_pack)

    assert run.exit_code == 2
    assert "did not print its port" in run.stderr
    assert "dr_guardrails is not installed" in run.stderr


def test_prod_stack_has_no_mandatory_violation_through_the_real_pack(run_preview: RunPreview) -> None:
    run = run_preview(REPO_ROOT, stack="prod", pack=REPO_ROOT / "policies")

    assert run.exit_code == 0, run.stdout + run.stderr
    assert [v for v in run.document["violations"] if v["enforcement"] == "mandatory"] == []
    assert run.document["policy_pack"]["name"] == "dr-guardrails"
    # Every policy was configured with an explicit level, so none silently ran as advisory.
    levels = run.document["policy_pack"]["levels"]
    assert levels and "mandatory" in levels.values()
    # The real program ran: DR components register dozens of resources.
    assert run.document["resources"] > 30
