"""Purpose-written programs through the real dr-guardrails pack, over the Analyzer protocol.

The prod stack's zero-violation run is in test_offline_preview.py; here a program built from this repository's
own (compliant) component plus one deliberate defect per DR rule must yield exactly the expected violations.
"""

from __future__ import annotations

import pytest

from tests.preview.conftest import PROGRAMS, REPO_ROOT, RunPreview

PACK = REPO_ROOT / "policies"

EXPECTED = {
    ("aws-s3-bucket-mfa-delete-without-lifecycle", "media-primary", "mandatory"),
    ("aws-kms-key-rotation-enabled", "unrotated", "mandatory"),
    ("aws-dynamodb-globaltable-not-legacy", "legacy", "mandatory"),
    ("aws-iam-role-dr-least-privilege", "too-broad", "mandatory"),
    ("aws-route53-record-primary-health-check", "api-primary", "mandatory"),
    ("aws-route53-record-secondary-exists", "api-primary", "mandatory"),
    # A tier-1 bucket with no isolated AWS Backup copy and no versioned inventory (issues 20 and 21).
    ("aws-backup-plan-isolated-copy", "media-primary", "mandatory"),
    ("aws-s3-bucket-inventory-versioned", "media-primary", "mandatory"),
    ("aws-s3-bucket-inventory-versioned", "media-replica", "mandatory"),
}


@pytest.mark.slow
def test_each_deliberate_defect_yields_exactly_its_violation(run_preview: RunPreview) -> None:
    run = run_preview(PROGRAMS / "dr_defects", pack=PACK)

    assert run.exit_code == 1, run.stdout + run.stderr
    assert run.findings() == EXPECTED
    assert run.document["not_verifiable"] == []


@pytest.mark.slow
def test_policy_config_can_turn_a_defect_into_an_advisory(run_preview: RunPreview) -> None:
    run = run_preview(
        PROGRAMS / "dr_defects",
        pack=PACK,
        policy_config={
            "aws-kms-key-rotation-enabled": "advisory",
            "aws-dynamodb-globaltable-not-legacy": "disabled",
        },
    )

    assert run.exit_code == 1  # the other defects are still mandatory
    findings = run.findings()
    assert ("aws-kms-key-rotation-enabled", "unrotated", "advisory") in findings
    assert not [f for f in findings if f[0] == "aws-dynamodb-globaltable-not-legacy"]


@pytest.mark.slow
def test_values_unknown_at_preview_are_reported_by_the_real_pack(run_preview: RunPreview) -> None:
    run = run_preview(PROGRAMS / "unknown_at_preview", pack=PACK)

    assert run.exit_code in (0, 1), run.stderr
    unverifiable = run.document["not_verifiable"]
    assert unverifiable, "an unknown value must be reported as not verifiable, never passed"
    assert all(
        item["message"].startswith("cannot verify until deploy") or "during preview" in item["message"]
        for item in unverifiable
    )
