"""offline-preview on programs written the way public Pulumi programs are (issue 11), through the real pack."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from tests.preview.conftest import PROGRAMS, REPO_ROOT, RunPreview

pytestmark = pytest.mark.slow

PACK = REPO_ROOT / "policies"
REAL_WORLD = PROGRAMS / "real_world"


def test_resource_objects_passed_as_inputs_run_to_completion(run_preview: RunPreview) -> None:
    run = run_preview(REAL_WORLD, stack="resource-reference", pack=PACK)

    assert run.exit_code == 1, run.stderr  # the bare bucket has real findings; the point is it finished
    assert run.document["resources"] == 6  # stack, provider, role, attachment, bucket, bucket policy
    assert "did not finish" not in run.stderr


def test_a_program_that_blocks_is_stopped_naming_the_resource_it_waits_for(
    run_preview: RunPreview, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Room for a slow import of pulumi_aws on a loaded machine before the notice (2 cores shared by several runs).
    monkeypatch.setenv("OFFLINE_PREVIEW_NOTICE_AFTER_SECONDS", "6")

    run = run_preview(REAL_WORLD, stack="blocks", pack=PACK, extra=("--program-timeout", "12"))

    assert run.exit_code == 2
    stderr = " ".join(run.stderr.split())  # rich wraps long lines
    # The notice says what it waits for at that moment: on a loaded machine the program may still be running its
    # own code (importing pulumi_aws.s3 at the Bucket line); the final error must name the stuck resource.
    assert "the program is still running after 6 s; waiting for: " in stderr
    assert run.document["error"].startswith(
        "program error: the program did not finish within 12 s (--program-timeout); it was waiting for: "
        "resource aws:s3/bucket:Bucket 'stuck' (its inputs have not resolved)"
    )


def test_a_value_from_an_unanswered_invoke_is_unknown_and_named_with_the_invoke(run_preview: RunPreview) -> None:
    run = run_preview(REAL_WORLD, stack="unanswered-invokes", pack=PACK)

    assert (run.exit_code, run.document["category"]) == (0, "not verifiable"), run.stderr
    (note,) = run.document["not_verifiable"]
    assert note["name"] == "invoke-from-s3"
    assert note["message"].startswith(
        "not verifiable: function (engine: function) came from the unanswered invoke "
        'aws:lambda/getFunction:getFunction(functionName="orders-handler")'
    )


def test_a_failing_program_gets_the_answers_hint_with_ignored_python_names(run_preview: RunPreview) -> None:
    unanswered = run_preview(REAL_WORLD, stack="failing-invokes", pack=PACK)
    python_names = run_preview(
        REAL_WORLD,
        stack="failing-invokes",
        pack=PACK,
        extra=("--invoke-answers", str(REAL_WORLD / "answers-python-names.yaml")),
    )

    for run in (unanswered, python_names):
        assert (run.exit_code, run.document["category"]) == (2, "program error")
        error = run.document["error"]
        assert error.startswith("program error: JSONDecodeError: Expecting value")
        assert 'aws:secretsmanager/getSecretVersion:getSecretVersion(secretId="db-settings")' in error
        assert "StackReference(s) have no answers (their outputs are unknown offline): acme/network/prod" in error
        assert "every key is the engine's camelCase name" in error
        assert '__main__.py", line' in run.stderr  # the program's own frame, above the message
    assert "secret_string (did you mean secretString?)" in python_names.document["error"]
    assert '"result": {"secretString": "<value>"' in python_names.document["error"]


def test_invoke_answers_and_stack_references_come_from_the_answers_file(run_preview: RunPreview) -> None:
    run = run_preview(
        REAL_WORLD, stack="answered-invokes", pack=PACK, extra=("--invoke-answers", str(REAL_WORLD / "answers.yaml"))
    )

    assert run.exit_code in (0, 1), run.stderr
    warnings = " ".join(run.document["warnings"])
    assert "StackReference(s) have no answers (their outputs are unknown offline): acme/other/prod" in warnings
    assert "acme/network/prod" not in warnings
    assert "unanswered" not in warnings.replace("unanswered StackReference", "")  # only acme/other/prod lacks one
    assert "getFunction" not in warnings  # answered by the file
    builtin = next(warning for warning in run.document["warnings"] if "built-in fake values" in warning)
    assert "aws:route53/getZone:getZone" in builtin and "aws:ec2/getAmi:getAmi" in builtin


def test_explicit_false_is_never_flipped_and_remediations_are_code_changes(run_preview: RunPreview) -> None:
    run = run_preview(REAL_WORLD, stack="explicit-false", pack=PACK)

    assert run.exit_code == 1
    assert run.findings() == {("aws-dynamodb-table-pitr-enabled", "ledger", "mandatory")}
    by_name = {item["name"]: item for item in run.document["remediations"]}
    assert by_name["ledger"]["applied_offline"] is False
    assert by_name["ledger"]["overrides_explicit"] == [
        "explicit `point_in_time_recovery.enabled=False` would be overridden at deploy "
        "(engine: pointInTimeRecovery.enabled)"
    ]
    assert by_name["sessions"]["applied_offline"] is True
    assert by_name["sessions"]["set"] == ["point_in_time_recovery={'enabled': True} (engine: pointInTimeRecovery)"]
    assert "the code still needs a change" in run.stdout


def test_fail_on_remediation_fails_a_run_whose_only_findings_are_remediations(run_preview: RunPreview) -> None:
    # The fixture program's only finding is a remediation (an absent acl filled in).
    passing = run_preview(PROGRAMS / "compliant")
    strict = run_preview(PROGRAMS / "compliant", extra=("--fail-on-remediation",))

    assert passing.exit_code == 0 and passing.document["remediations"]
    assert strict.exit_code == 1


def test_a_compliant_inline_v7_bucket_passes(run_preview: RunPreview) -> None:
    run = run_preview(REAL_WORLD, stack="inline-bucket", pack=PACK)

    bucket_findings = {item["policy"] for item in run.document["violations"] if item["name"] == "media"}
    # Tier 2 needs no replication or MFA delete; versioning, SSE-KMS, object lock and TLS policy are inline.
    assert bucket_findings == set(), run.stdout
    assert run.exit_code == 0, run.stdout


def test_rds_and_aurora_are_held_to_point_in_time_recovery(run_preview: RunPreview) -> None:
    run = run_preview(REAL_WORLD, stack="databases", pack=PACK)

    assert run.exit_code == 1
    assert run.findings() == {
        ("aws-rds-cluster-backup-retention", "ledger", "mandatory"),
        ("aws-rds-cluster-deletion-protection", "ledger", "mandatory"),
        ("aws-rds-cluster-final-snapshot", "ledger", "mandatory"),
        ("aws-rds-cluster-copy-tags-to-snapshot", "ledger", "mandatory"),
    }
    retention = next(v for v in run.document["violations"] if v["policy"] == "aws-rds-cluster-backup-retention")
    assert "must be at least 14 days for `dr:tier` 2" in retention["message"]
    assert "(severity high; control " in run.stdout


def test_a_run_error_is_shown_as_its_message_only(run_preview: RunPreview) -> None:
    run = run_preview(REAL_WORLD, stack="run-error", pack=PACK)

    assert run.exit_code == 2
    assert "program error: invalid stack config (1 problem(s)):" in run.stderr
    assert "RunError" not in run.stderr and "Traceback" not in run.stderr


def test_an_sdk_without_the_needed_apis_is_an_environment_error_not_a_program_error(
    run_preview: RunPreview, tmp_path: Path
) -> None:
    """A stub `pulumi` 3.228.0 first on the runner's path: no network, no install."""
    stub = tmp_path / "stub-sdk"
    (stub / "pulumi" / "runtime").mkdir(parents=True)
    (stub / "pulumi" / "__init__.py").write_text("")
    (stub / "pulumi" / "runtime" / "__init__.py").write_text(
        "def set_mocks(mocks, project=None, stack=None, preview=None):\n    raise AssertionError('not reached')\n"
    )
    (stub / "pulumi-3.228.0.dist-info").mkdir()
    (stub / "pulumi-3.228.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: pulumi\nVersion: 3.228.0\n"
    )
    # The program's virtualenv: an interpreter that finds the stub first (the pack keeps the real SDK).
    program = tmp_path / "program"
    shutil.copytree(PROGRAMS / "compliant", program)
    (program / "Pulumi.yaml").write_text(
        "name: compliant\nruntime:\n  name: python\n  options:\n    virtualenv: venv\n"
    )
    python = program / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\nPYTHONPATH={stub} exec {sys.executable} "$@"\n')
    python.chmod(0o755)

    run = run_preview(program)

    assert run.exit_code == 2
    stderr = " ".join(run.stderr.split())  # rich wraps long lines
    assert "environment error: the program's interpreter" in stderr
    assert "has pulumi 3.228.0; offline-preview needs an SDK with pulumi.runtime.set_mocks(monitor=...)" in stderr
    assert "program error" not in run.stderr
    assert run.document["error"].startswith("environment error:")


def test_a_broken_stack_file_is_a_config_error_and_a_date_reaches_the_program(
    run_preview: RunPreview, tmp_path: Path
) -> None:
    program = tmp_path / "program"
    program.mkdir()
    (program / "Pulumi.yaml").write_text("name: dates\nruntime: python\n")
    (program / "__main__.py").write_text(
        "import pulumi\npulumi.export('attested', pulumi.Config().require('attested'))\n"
        "assert pulumi.Config().require('attested') == '2026-11-20'\nassert pulumi.Config().require('flag') == 'on'\n"
    )
    (program / "Pulumi.ok.yaml").write_text("config:\n  dates:attested: 2026-11-20\n  dates:flag: on\n")
    (program / "Pulumi.dup.yaml").write_text("config:\n  dates:attested: 2026-11-20\n  dates:attested: 2026-11-21\n")

    assert run_preview(program, stack="ok", pack=PACK).exit_code == 0
    duplicate = run_preview(program, stack="dup", pack=PACK)
    assert duplicate.exit_code == 2
    assert 'line 3: mapping key "dates:attested" already defined at line 2' in duplicate.stderr


def test_the_interpreter_is_reported_in_text_and_json(run_preview: RunPreview) -> None:
    run = run_preview(REAL_WORLD, stack="inline-bucket", pack=PACK)

    assert run.document["interpreter"].startswith(str(Path(sys.executable).parent))
    assert "program interpreter:" in run.stdout
    assert json.dumps(run.document)  # the document is plain JSON
