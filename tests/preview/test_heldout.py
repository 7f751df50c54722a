"""The held-out corpus (tests/preview/heldout/README.md): each program's report has exactly the right category.

Programs with a `requirements.txt` run in a real virtualenv with the real wheels (awsx, aws-apigateway,
pulumi 3.228.0), created once per machine with uv from its cache and reused (`venv_for`); everything else runs
with this repository's interpreter. Marked slow: the first run on a machine installs from PyPI.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.preview.conftest import REPO_ROOT, PreviewRun, RunPreview

pytestmark = pytest.mark.slow

HELDOUT = Path(__file__).parent / "heldout"
PACK = REPO_ROOT / "policies"
VENV_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dr-as-code" / "offline-preview-venvs"


def venv_for(requirements: Path) -> Path:
    """A virtualenv with exactly ``requirements``, made once per machine by uv (its wheel cache makes a rebuild
    take seconds) and kept under VENV_CACHE keyed by the file's content."""
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH: the held-out programs' virtualenvs are made with uv")
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:16]
    venv = VENV_CACHE / f"{requirements.parent.name}-{digest}"
    if (venv / "bin" / "python").exists():
        return venv
    VENV_CACHE.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f"{venv.name}-", dir=VENV_CACHE))
    python = building / "bin" / "python"
    for command in (
        [uv, "venv", "--quiet", "--allow-existing", "--python", sys.executable, str(building)],
        [uv, "pip", "install", "--quiet", "--python", str(python), "-r", str(requirements)],
    ):
        completed = subprocess.run(command, capture_output=True, text=True, check=False, timeout=900)
        if completed.returncode != 0:
            shutil.rmtree(building, ignore_errors=True)
            pytest.fail(f"`{' '.join(command)}` failed (PyPI unreachable?):\n{completed.stderr[-2000:]}")
    try:
        building.rename(venv)  # atomic: a parallel worker that lost the race keeps the winner's venv
    except OSError:
        shutil.rmtree(building, ignore_errors=True)
    return venv


def program_copy(name: str, tmp_path: Path, with_venv: bool = True) -> Path:
    """The program as a user has it: its files, and (``with_venv``) its `venv` folder made from its requirements."""
    program = tmp_path / name
    shutil.copytree(HELDOUT / name, program)
    if with_venv and (program / "requirements.txt").exists():
        (program / "venv").symlink_to(venv_for(program / "requirements.txt"), target_is_directory=True)
    return program


def run(run_preview: RunPreview, program: Path, *extra: str) -> PreviewRun:
    return run_preview(program, stack="dev", pack=PACK, extra=extra)


def flat(text: str) -> str:
    return " ".join(text.split())


def test_awsx_vpc_with_a_security_group_is_not_verifiable_naming_the_component(
    run_preview: RunPreview, tmp_path: Path
) -> None:
    program = program_copy("awsx_vpc", tmp_path)

    result = run(run_preview, program)
    strict = run(run_preview, program, "--fail-on-unverifiable")

    assert (result.exit_code, result.document["category"]) == (0, "not verifiable"), result.stderr
    assert result.document["violations"] == []
    (note,) = result.document["not_verifiable"]
    assert (note["policy"], note["type"], note["name"]) == ("offline-preview-remote-component", "awsx:ec2:Vpc", "vpc")
    assert "from package awsx 3.11.0 (Python SDK pulumi_awsx)" in note["message"]
    assert "resources created inside it were not checked offline" in note["message"]
    assert "program error" not in result.stderr  # never blamed on the program (no type assertion on outputs)
    # The security group still reached the pack, with the VPC id unknown.
    assert result.document["resources"] == 3  # the stack, the VPC component, the security group
    assert strict.exit_code == 1


def test_a_component_api_serving_a_folder_names_the_bucket_it_may_create(
    run_preview: RunPreview, tmp_path: Path
) -> None:
    result = run(run_preview, program_copy("component_api", tmp_path))

    assert (result.exit_code, result.document["category"]) == (0, "not verifiable"), result.stderr
    (note,) = result.document["not_verifiable"]
    assert (note["type"], note["name"]) == ("aws-apigateway:index:RestAPI", "api")
    assert "an S3 bucket with the uploaded files" in note["message"]
    assert "resources created inside it were not checked offline" in note["message"]
    assert "not verifiable at preview" in flat(result.stdout) and "offline-preview's own check" in result.stdout


def test_a_program_pinned_to_pulumi_3_228_runs_its_invokes_and_passes(run_preview: RunPreview, tmp_path: Path) -> None:
    result = run(run_preview, program_copy("pinned_sdk", tmp_path))

    assert (result.exit_code, result.document["category"]) == (0, "pass"), result.stderr + result.stdout
    assert result.document["interpreter"].endswith("(pulumi 3.228.0)")
    warnings = " ".join(result.document["warnings"])
    assert "built-in fake values" in warnings and "aws:index/getCallerIdentity:getCallerIdentity()" in warnings


def test_the_real_pulumi_3_228_sdk_passes_the_capability_probe(tmp_path: Path) -> None:
    """Every runtime API the runner uses, probed in the real 3.228.0 wheel (not a stub)."""
    venv = venv_for(HELDOUT / "pinned_sdk" / "requirements.txt")
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import program_runner; "
        "print(program_runner.missing_sdk_features())"
    )
    completed = subprocess.run(
        [str(venv / "bin" / "python"), "-c", probe, str(REPO_ROOT / "preview")],
        capture_output=True,
        text=True,
        check=True,
    )

    assert completed.stdout.strip() == "[]"


def test_a_stack_reference_consumer_is_not_verifiable_until_answered(run_preview: RunPreview) -> None:
    program = HELDOUT / "stack_reference"

    unanswered = run(run_preview, program)
    answered = run(run_preview, program, "--invoke-answers", str(program / "answers.yaml"))

    assert (unanswered.exit_code, unanswered.document["category"]) == (0, "not verifiable"), unanswered.stderr
    (note,) = unanswered.document["not_verifiable"]
    assert note["message"].startswith(
        "not verifiable: vpc_id (engine: vpcId) came from the unanswered StackReference acme/network/prod"
    )
    assert '"stackReferences": {"acme/network/prod": {"<outputName>": "<value>"}}' in " ".join(
        unanswered.document["warnings"]
    )
    assert (answered.exit_code, answered.document["category"]) == (0, "pass"), answered.stdout


def test_an_sse_kms_key_from_an_alias_lookup_is_not_verifiable_until_answered(run_preview: RunPreview) -> None:
    program = HELDOUT / "sse_kms_alias"

    unanswered = run(run_preview, program)
    python_names = run(run_preview, program, "--invoke-answers", str(program / "answers-python-names.yaml"))
    answered = run(run_preview, program, "--invoke-answers", str(program / "answers.yaml"))

    assert (unanswered.exit_code, unanswered.document["category"]) == (0, "not verifiable"), unanswered.stdout
    assert unanswered.document["violations"] == []  # unknown, not absent: no "must name a customer-managed key"
    (note,) = unanswered.document["not_verifiable"]
    assert note["message"] == (
        "not verifiable: server_side_encryption_configuration.rule.apply_server_side_encryption_by_default."
        "kms_master_key_id (engine: serverSideEncryptionConfiguration.rule.applyServerSideEncryptionByDefault."
        'kmsMasterKeyId) came from the unanswered invoke aws:kms/getAlias:getAlias(name="alias/site-data"); '
        "answer it with --invoke-answers FILE"
    )
    assert python_names.document["category"] == "not verifiable"
    assert "target_key_arn (did you mean targetKeyArn?)" in " ".join(python_names.document["warnings"])
    assert (answered.exit_code, answered.document["category"]) == (0, "pass"), answered.stdout


def test_a_blocked_module_level_call_is_a_program_error_naming_its_own_line(run_preview: RunPreview) -> None:
    # 15 s: room for a slow import of pulumi_aws on a loaded machine before the program reaches its own loop.
    result = run(run_preview, HELDOUT / "blocked_module_call", "--program-timeout", "15")

    assert (result.exit_code, result.document["category"]) == (2, "program error")
    error = result.document["error"]
    assert error.startswith(
        "program error: the program did not finish within 15 s (--program-timeout); it was waiting for: "
        "the program's own code at __main__.py:9 (fetch_naming_prefix)"
    ), error
    assert "resource aws:s3/bucket:Bucket" not in error  # the buckets only wait for that line
    assert "Traceback" not in result.stderr


def test_a_missing_venv_is_an_environment_error_and_install_creates_it(run_preview: RunPreview, tmp_path: Path) -> None:
    venv_for(HELDOUT / "missing_venv" / "requirements.txt")  # seeds uv's cache with these exact wheels
    program = program_copy("missing_venv", tmp_path, with_venv=False)

    missing = run(run_preview, program)
    installed = run(run_preview, program, "--install")

    assert (missing.exit_code, missing.document["category"]) == (2, "environment error")
    # One unwrapped line: the command stays whole in a log.
    assert (
        f"create it with `cd {program} && uv sync`, or let offline-preview create it with --install" in missing.stderr
    )
    assert (installed.exit_code, installed.document["category"]) == (0, "pass"), installed.stderr
    assert installed.document["interpreter"].startswith(str(program / "venv"))
    assert "--install: running `" in flat(installed.stderr)
