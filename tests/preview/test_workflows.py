"""The GitHub workflows: valid against GitHub's schema, and wired as the offline-preview issue requires."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.preview.conftest import REPO_ROOT

WORKFLOWS = REPO_ROOT / ".github" / "workflows"


def load(name: str) -> dict[Any, Any]:
    document = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    # YAML 1.1 reads the `on:` key as True.
    document["on"] = document.pop(True, document.get("on"))
    return document


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [step for step in job["steps"] if str(step.get("uses", "")).startswith(action)]


def run_commands(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


@pytest.mark.slow
def test_workflows_validate_against_the_github_workflow_schema() -> None:
    check_jsonschema = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    assert check_jsonschema, "check-jsonschema is a dev dependency"
    workflows = sorted(str(path) for path in WORKFLOWS.glob("*.yml"))
    assert len(workflows) == 2

    completed = subprocess.run(
        [check_jsonschema, "--builtin-schema", "vendor.github-workflows", *workflows],
        capture_output=True,
        text=True,
        check=False,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_pull_request_workflow_tests_then_previews_offline_then_with_the_pack() -> None:
    workflow = load("pull-request.yml")
    test, preview = workflow["jobs"]["test"], workflow["jobs"]["preview"]

    assert "pull_request" in workflow["on"]
    commands = run_commands(test)
    assert commands.index("make test") < commands.index("offline-preview")
    assert ".ci/deployable-stacks" in commands and "Pulumi.*.yaml" not in commands

    assert preview["needs"] == "test"
    assert preview["permissions"]["id-token"] == "write"
    assert "python -m pip install -r policies/requirements.txt" in run_commands(preview)
    credentials = steps_using(preview, "aws-actions/configure-aws-credentials@")
    pulumi = steps_using(preview, "pulumi/actions@v7")
    assert credentials and "role-to-assume" in credentials[0]["with"]
    assert pulumi[0]["with"]["command"] == "preview"
    assert pulumi[0]["with"]["policyPacks"] == "policies"
    assert pulumi[0]["with"]["comment-on-pr"] is True
    assert preview["steps"].index(credentials[0]) < preview["steps"].index(pulumi[0])


def test_main_workflow_runs_up_per_stack_in_its_environment_and_never_mfa_delete() -> None:
    workflow = load("main.yml")
    up = workflow["jobs"]["up"]

    assert workflow["on"]["push"]["branches"] == ["main"]
    assert up["environment"]["name"] == "${{ matrix.stack }}"
    assert up["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.test.outputs.stacks) }}"
    assert up["permissions"]["id-token"] == "write"
    pulumi = steps_using(up, "pulumi/actions@v7")
    assert pulumi[0]["with"]["command"] == "up"
    assert pulumi[0]["with"]["policyPacks"] == "policies"
    text = (WORKFLOWS / "main.yml").read_text(encoding="utf-8")
    assert "Never attempts MFA delete" in text
    # No step may touch MFA delete: only root can, with a live code (docs/runbooks/mfa-delete.md).
    assert "--mfa" not in text and "MFADelete" not in text


def test_main_workflow_checks_for_active_drill_experiments_before_up() -> None:
    """Issue 23 item 11: a scheduled FIS pause can overlap a deploy; `pulumi up` waits for it (exit 1 stops the job)."""
    steps = load("main.yml")["jobs"]["up"]["steps"]
    guard = next(i for i, step in enumerate(steps) if "drctl drill-experiments" in step.get("run", ""))
    up = next(i for i, step in enumerate(steps) if step.get("uses") == "pulumi/actions@v7")
    assert guard < up and '--stack "${{ matrix.stack }}"' in steps[guard]["run"]


def test_main_workflow_starts_the_first_drill_of_a_new_stack_after_up() -> None:
    """Issue 23 item 11: DrillPassed is in ALARM until a drill has run; the deploy starts the first one (once)."""
    steps = load("main.yml")["jobs"]["up"]["steps"]
    up = next(i for i, step in enumerate(steps) if step.get("uses") == "pulumi/actions@v7")
    first = next(i for i, step in enumerate(steps) if "drctl drill-first-run" in step.get("run", ""))
    assert first > up and '--stack "${{ matrix.stack }}"' in steps[first]["run"]
