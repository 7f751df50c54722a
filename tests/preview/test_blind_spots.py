"""What offline-preview cannot see and how it says so (issue 22): fast unit tests of the pieces; the end-to-end
proofs are the held-out corpus in tests/preview/heldout/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from preview.cli import keep_help_whole, main, program_frames
from preview.errors import InterpreterError, InvokeAnswersError
from preview.install import install_commands
from preview.offline_preview import blind_spots, merge_attached_duplicates
from preview.program import ProgramRecording, Registration, ResourceOptions, answers_hint
from preview.program_runner import UNKNOWN, missing_sdk_features
from preview.project import load_invoke_answers, load_project
from preview.report import NotVerifiable, Violation

URN = "urn:pulumi:dev::app::{type}::{name}"


def registration(type_: str, name: str, **fields: object) -> Registration:
    values: dict = {
        "type": type_,
        "name": name,
        "urn": URN.format(type=type_, name=name),
        "custom": True,
        "read": False,
        "parent": "",
        "provider": "",
        "dependencies": [],
        "property_dependencies": {},
        "properties": {},
        "options": ResourceOptions(),
    }
    values.update(fields)
    return Registration(**values)


# --- remote components and unanswered values ---------------------------------------------------------


def test_a_remote_component_is_not_verifiable_naming_token_name_package_and_what_was_not_checked() -> None:
    vpc = registration("awsx:ec2:Vpc", "vpc", custom=False, remote=True, package_version="3.11.0")
    local = registration("acme:index:Site", "site", custom=False)

    (note,) = blind_spots(ProgramRecording([vpc, local], [], ""))

    assert (note.policy, note.type, note.name) == ("offline-preview-remote-component", "awsx:ec2:Vpc", "vpc")
    assert "from package awsx 3.11.0 (Python SDK pulumi_awsx)" in note.message
    assert "resources created inside it were not checked offline" in note.message
    assert "(it may create a VPC, subnets" in note.message


def test_values_of_unanswered_invokes_and_stack_references_are_named_with_their_source() -> None:
    calls = [{"token": "aws:kms/getAlias:getAlias", "args": {"name": "alias/site-data"}}]
    path = ["rules", 0, "applyServerSideEncryptionByDefault", "kmsMasterKeyId"]
    sse = registration(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "sse",
        from_unanswered_invokes=[{"path": path, "invokes": [0]}],
    )
    reference = registration(
        "pulumi:pulumi:StackReference", "net", read=True, properties={"name": "acme/net/prod", "outputs": UNKNOWN}
    )
    group = registration(
        "aws:ec2/securityGroup:SecurityGroup",
        "sg",
        properties={"vpcId": UNKNOWN, "description": "web"},
        property_dependencies={"vpcId": [reference.urn], "description": [reference.urn]},
    )

    notes = blind_spots(ProgramRecording([sse, reference, group], calls, ""))

    assert [note.message for note in notes] == [
        "not verifiable: rules[0].apply_server_side_encryption_by_default.kms_master_key_id (engine: "
        "rules[0].applyServerSideEncryptionByDefault.kmsMasterKeyId) came from the unanswered invoke "
        'aws:kms/getAlias:getAlias(name="alias/site-data"); answer it with --invoke-answers FILE',
        "not verifiable: vpc_id (engine: vpcId) came from the unanswered StackReference acme/net/prod; add its "
        "outputs under `stackReferences` in --invoke-answers FILE",
    ]


def test_the_runner_marks_unanswered_values_and_turns_them_unknown_at_the_resource() -> None:
    from preview import runner_runtime as runtime

    marker = runtime.UNANSWERED_MARKER + "3:targetKeyArn"

    assert runtime.unknown_placeholder("Optional[builtins.str]", marker) == marker
    assert runtime.unknown_placeholder("Sequence[builtins.str]", marker) == [marker]
    assert runtime.unknown_placeholder("_builtins.str", marker) == marker  # string annotations of generated SDKs
    assert runtime.unknown_placeholder("typing.Sequence[_builtins.str]", marker) == [marker]
    assert runtime.unknown_placeholder("typing.Mapping[str, str]", marker) is None
    assert runtime.unknown_placeholder("builtins.int", marker) is None
    properties, found = runtime.unmark_unanswered({"tags": {"owner": "x"}, "arn": f"arn:{marker}/k", "ids": [marker]})
    assert properties == {"tags": {"owner": "x"}, "arn": UNKNOWN, "ids": [UNKNOWN]}
    assert found == [
        {"path": ["arn"], "invokes": [3], "fields": ["targetKeyArn"]},
        {"path": ["ids", 0], "invokes": [3], "fields": ["targetKeyArn"]},
    ]


def test_result_fields_are_the_engine_names_of_the_sdk_result_type() -> None:
    from pulumi_aws.kms.get_alias import GetAliasResult

    from preview import runner_runtime as runtime

    fields = runtime.result_fields(GetAliasResult)

    assert {"targetKeyArn", "targetKeyId", "arn", "name"} <= set(fields)
    assert "target_key_arn" not in fields


def test_the_programs_own_line_is_a_file_of_the_program_never_a_frozen_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from preview import runner_runtime as runtime

    program = tmp_path / "app"
    program.mkdir()
    monkeypatch.chdir(program)  # the runner runs in the program's directory
    (program / "__main__.py").write_text("import sys\nframe = sys._getframe()\n")
    namespace: dict = {}
    code = compile((program / "__main__.py").read_text(), str(program / "__main__.py"), "exec")
    exec(code, namespace)
    frozen = compile("import sys\nframe = sys._getframe()\n", "<frozen importlib._bootstrap>", "exec")
    frozen_namespace: dict = {}
    exec(frozen, frozen_namespace)

    assert runtime._program_location(namespace["frame"], str(program)) == "__main__.py:2 (<module>)"
    assert runtime._program_location(frozen_namespace["frame"], str(program)) == ""


# --- hints --------------------------------------------------------------------------------------------


def test_the_hint_names_every_unanswered_source_with_a_camel_case_example_and_ignored_keys() -> None:
    calls = [{"token": "aws:secretsmanager/getSecretVersion:getSecretVersion", "args": {"secretId": "db"}}]
    ignored = [{**calls[0], "ignored": ["secret_string"], "fields": ["arn", "secretId", "secretString"]}]

    hint = answers_hint(calls, ["acme/network/prod"], {calls[0]["token"]: ["arn", "secretId", "secretString"]}, ignored)

    assert 'aws:secretsmanager/getSecretVersion:getSecretVersion(secretId="db")' in hint
    assert "acme/network/prod" in hint
    assert "secret_string (did you mean secretString?)" in hint
    example = json.loads(hint.rsplit("for example: ", 1)[1])
    assert example[calls[0]["token"]][0]["result"] == {
        "arn": "<value>",
        "secretString": "<value>",
        "secretId": "<value>",
    }
    assert example["stackReferences"] == {"acme/network/prod": {"<outputName>": "<value>"}}
    assert answers_hint([], [], {}, []) == ""


# --- one finding per problem ----------------------------------------------------------------------------


def test_an_attached_finding_repeating_the_childs_own_is_merged_into_it() -> None:
    problem = "block_public_acls (engine: blockPublicAcls) must be True (declared: False)"
    child = Violation("aws-s3-bucket-public-access-block", "mandatory", "u1", "pab-type", "site-pab", problem)
    attached = Violation(
        "aws-s3-bucket-public-access-block-attached",
        "mandatory",
        "u2",
        "aws:s3/bucket:Bucket",
        "site",
        f"bucket 'site' needs a public access block: site-pab: {problem}",
    )
    missing = Violation(
        "aws-s3-bucket-policy-tls-only-attached",
        "mandatory",
        "u2",
        "aws:s3/bucket:Bucket",
        "site",
        "bucket 'site' needs a TLS-only bucket policy: no BucketPolicy is linked to this bucket",
    )
    advisory_twin = Violation("aws-s3-bucket-public-access-block", "advisory", "u1", "pab-type", "site-pab", problem)

    merged = merge_attached_duplicates([child, attached, missing])

    assert merged == [
        Violation(
            child.policy,
            "mandatory",
            "u1",
            "pab-type",
            "site-pab",
            f"{problem} (also `aws-s3-bucket-public-access-block-attached` on bucket 'site')",
        ),
        missing,
    ]
    # Different levels are two decisions: both stay.
    assert merge_attached_duplicates([advisory_twin, attached]) == [advisory_twin, attached]


def test_not_verifiable_duplicates_merge_the_same_way() -> None:
    note = NotVerifiable(
        "aws-s3-bucket-policy-tls-only", "u1", "t", "site-policy", "cannot verify until deploy: policy", "x"
    )
    twin = NotVerifiable(
        "aws-s3-bucket-policy-tls-only-attached",
        "u2",
        "aws:s3/bucket:Bucket",
        "site",
        "cannot verify until deploy: site-policy.policy",
        "x",
    )
    other = NotVerifiable(
        "aws-s3-bucket-versioning-attached",
        "u2",
        "b",
        "site",
        "cannot verify until deploy: v.versioningConfiguration",
        "x",
    )

    assert merge_attached_duplicates([note, twin, other]) == [
        replace(note, message=f"{note.message} (also `aws-s3-bucket-policy-tls-only-attached` on bucket 'site')"),
        other,
    ]


# --- errors that say why ------------------------------------------------------------------------------


def test_a_traceback_without_program_frames_prints_nothing() -> None:
    sdk_only = (
        "Traceback (most recent call last):\n"
        '  File "/venv/lib/python3.12/site-packages/pulumi/runtime/stack.py", line 1, in run\n'
        "    raise AssertionError('x')\n"
        "AssertionError: x\n"
    )
    own = sdk_only.replace(
        "Traceback (most recent call last):\n",
        'Traceback (most recent call last):\n  File "/app/__main__.py", line 3, in <module>\n    vpc = Vpc()\n',
    )

    assert program_frames(sdk_only) == ""
    assert (
        program_frames(own)
        == 'Traceback (most recent call last):\n  File "/app/__main__.py", line 3, in <module>\n    vpc = Vpc()'
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("aws:kms/getAlias:getAlias:\n  - args: {name: x\n    result: {}\n", r"bad\.yaml: line 3, column 11: "),
        ("a: [1, 2\n", r"bad\.yaml: line 2, column 1: while parsing a flow sequence"),
        (
            "ok: []\naws:kms/getAlias:getAlias:\n  - args: {}\n  - result: 3\n",
            r"line 4: aws:kms/getAlias:getAlias\[1\]",
        ),
    ],
)
def test_a_malformed_answers_file_is_an_answers_error_naming_its_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(InvokeAnswersError, match=message):
        load_invoke_answers(path)


def test_the_sdk_probe_covers_every_runtime_api_with_this_sdk() -> None:
    assert missing_sdk_features() == []


# --- --install ------------------------------------------------------------------------------------------


def test_install_commands_follow_the_toolchain(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("pulumi\n")
    venv = tmp_path / "venv"

    pip = install_commands(tmp_path, venv, "pip")
    uv = install_commands(tmp_path, venv, "uv")
    (tmp_path / "pyproject.toml").write_text("[project]\nname='x'\n")

    assert pip[0][1:] == ["-m", "venv", str(venv)]
    assert pip[1] == [str(venv / "bin" / "python"), "-m", "pip", "install", "-r", str(tmp_path / "requirements.txt")]
    assert uv[0][1:] == ["venv", str(venv)] and uv[1][1:4] == ["pip", "install", "--python"]
    assert install_commands(tmp_path, venv, "uv")[0][1:] == ["sync"]


def test_without_install_a_missing_venv_names_the_command_and_the_option(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: app\nruntime:\n  name: python\n  options:\n    virtualenv: venv\n")
    (tmp_path / "__main__.py").write_text("")

    with pytest.raises(InterpreterError, match=r"or let offline-preview create it with --install"):
        load_project(tmp_path)
    assert not (tmp_path / "venv").exists()


def test_a_failed_install_is_an_environment_error_and_leaves_no_half_venv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = tmp_path / "app"
    program.mkdir()
    (program / "Pulumi.yaml").write_text("name: app\nruntime:\n  name: python\n  options:\n    virtualenv: venv\n")
    (program / "__main__.py").write_text("")
    (program / "requirements.txt").write_text("pulumi\n")
    # The interpreter that creates the venv gets half-way, then fails (as a full disk or a broken ensurepip would).
    python = tmp_path / "python3"
    python.write_text('#!/bin/sh\nmkdir -p "$3/bin"\necho "ensurepip failed" >&2\nexit 3\n')
    python.chmod(0o755)
    monkeypatch.setenv("PULUMI_PYTHON_CMD", str(python))

    with pytest.raises(
        InterpreterError, match=r"--install: `.*python3 -m venv .*venv` exited with code 3:\nensurepip failed"
    ):
        load_project(program, install=True)
    assert not (program / "venv").exists()


def test_install_with_poetry_runs_poetry_install_then_asks_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = tmp_path / "app"
    program.mkdir()
    (program / "Pulumi.yaml").write_text("name: app\nruntime:\n  name: python\n  options:\n    toolchain: poetry\n")
    (program / "__main__.py").write_text("")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    marker = tmp_path / "installed"
    poetry = bin_dir / "poetry"
    # A stand-in poetry: no environment until `poetry install --no-root` has run.
    poetry.write_text(
        "#!/bin/sh\n"
        f'if [ "$1 $2" = "install --no-root" ]; then touch {marker}; exit 0; fi\n'
        f"if [ -e {marker} ]; then echo {sys.executable}; exit 0; fi\n"
        'echo "no environment" >&2; exit 1\n'
    )
    poetry.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")

    with pytest.raises(InterpreterError, match=r"found no environment .*\(or pass --install\)"):
        load_project(program)
    assert load_project(program, install=True).python == sys.executable


# --- --help width -----------------------------------------------------------------------------------------


def test_piped_help_keeps_whole_option_names(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import typer.rich_utils

    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr(typer.rich_utils, "MAX_WIDTH", None)

    assert main(["--help"]) == 0
    help_text = capsys.readouterr().out
    for option in (
        "--fail-on-unverifiable",
        "--fail-on-remediation",
        "--invoke-answers",
        "--program-timeout",
        "--install",
    ):
        assert option in help_text
    assert "…" not in help_text
    keep_help_whole()  # idempotent


def test_piped_drctl_help_keeps_whole_option_names() -> None:
    environment = {key: value for key, value in os.environ.items() if key not in ("COLUMNS", "TERMINAL_WIDTH")}
    completed = subprocess.run(
        [str(Path(sys.executable).parent / "drctl"), "restore-bucket", "--help"],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    for option in ("--delete-created-after", "--batch-threshold", "--max-change-share"):
        assert option in completed.stdout
