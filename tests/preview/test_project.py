"""Reading Pulumi.yaml and Pulumi.<stack>.yaml into what the Python language host passes the program."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from preview.errors import InterpreterError, InvokeAnswersError, StackConfigError
from preview.project import SECRET_PLACEHOLDER, load_invoke_answers, load_project, load_stack_config
from preview.stack_yaml import StackFileError, loads


def write(directory: Path, name: str, text: str) -> None:
    (directory / name).write_text(text, encoding="utf-8")


@pytest.fixture
def program(tmp_path: Path) -> Path:
    write(
        tmp_path,
        "Pulumi.yaml",
        "name: shop\nruntime:\n  name: python\n  options:\n    toolchain: uv\n"
        "config:\n  retentionDays:\n    type: integer\n    default: 30\n  region: us-east-1\n",
    )
    write(tmp_path, "__main__.py", "")
    # toolchain uv: the CLI (and offline-preview) run <project>/.venv/bin/python.
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").symlink_to(sys.executable)
    return tmp_path


def test_stack_config_is_namespaced_stringified_and_secrets_are_placeholders(program: Path) -> None:
    write(
        program,
        "Pulumi.dev.yaml",
        "config:\n"
        "  aws:region: eu-west-1\n"
        "  shop:enabled: true\n"
        "  replicas: 3\n"
        "  shop:buckets:\n    - name: audio\n      tier: 1\n"
        "  shop:dbPassword:\n    secure: v1:AAAA\n"
        "  shop:nested:\n    token:\n      secure: v1:BBBB\n",
    )
    project = load_project(program)

    config = load_stack_config(project, "dev")

    assert project.name == "shop"
    assert project.python == str(program / ".venv" / "bin" / "python")
    assert config.values["aws:region"] == "eu-west-1"
    assert config.values["shop:enabled"] == "true"
    assert config.values["shop:replicas"] == "3"
    assert json.loads(config.values["shop:buckets"]) == [{"name": "audio", "tier": 1}]
    assert config.values["shop:dbPassword"] == SECRET_PLACEHOLDER
    assert json.loads(config.values["shop:nested"]) == {"token": SECRET_PLACEHOLDER}
    assert config.secret_keys == ["shop:dbPassword", "shop:nested"]
    # Project-level defaults apply unless the stack overrides them.
    assert config.values["shop:retentionDays"] == "30"
    assert config.values["shop:region"] == "us-east-1"


def test_a_project_virtualenv_is_used_when_it_exists(program: Path) -> None:
    write(program, "Pulumi.yaml", "name: shop\nruntime:\n  name: python\n  options:\n    virtualenv: venv\n")
    python = program / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("")

    assert load_project(program).python == str(python)


@pytest.mark.parametrize(
    ("pulumi_yaml", "message"),
    [
        ("name: shop\nruntime: nodejs\n", "offline-preview runs Python programs"),
        ("runtime: python\n", "has no project name"),
        ("name: shop\nruntime: python\nmain: src/\n", "does not exist"),
    ],
)
def test_unsupported_or_broken_projects_are_config_errors(program: Path, pulumi_yaml: str, message: str) -> None:
    write(program, "Pulumi.yaml", pulumi_yaml)

    with pytest.raises(StackConfigError, match=message):
        load_project(program)


def test_a_missing_stack_file_is_a_config_error(program: Path) -> None:
    with pytest.raises(StackConfigError, match=r"no Pulumi\.prod\.yaml"):
        load_stack_config(load_project(program), "prod")


# --- interpreters, found as the Pulumi CLI finds them -----------------------------------------------------


def _project(program: Path, options: str) -> None:
    write(program, "Pulumi.yaml", f"name: shop\nruntime:\n  name: python\n  options:\n{options}")


def test_toolchain_uv_uses_the_named_virtualenv_before_dot_venv(program: Path) -> None:
    _project(program, "    toolchain: uv\n    virtualenv: envs/app\n")
    python = program / "envs" / "app" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.symlink_to(sys.executable)

    assert load_project(program).python == str(python)


def test_a_missing_uv_environment_is_an_error_naming_uv_sync_never_a_fallback(program: Path) -> None:
    _project(program, "    toolchain: uv\n    virtualenv: missing-env\n")

    with pytest.raises(
        InterpreterError, match=r"missing-env \(toolchain uv\) does not exist; create it with `cd .* && uv sync`"
    ):
        load_project(program)


def test_a_missing_pip_virtualenv_is_an_error_naming_the_commands_that_create_it(program: Path) -> None:
    _project(program, "    virtualenv: venv\n")

    with pytest.raises(InterpreterError, match=r"python3 -m venv .*venv && .*pip install -r"):
        load_project(program)


def test_toolchain_poetry_asks_poetry_for_its_executable(
    program: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(program, "    toolchain: poetry\n")
    bin_dir = tmp_path_factory.mktemp("poetry-bin")
    poetry = bin_dir / "poetry"
    poetry.write_text(f"#!/bin/sh\n[ \"$1 $2 $3\" = 'env info --executable' ] && echo {sys.executable}\n")
    poetry.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")

    assert load_project(program).python == sys.executable


def test_toolchain_poetry_without_poetry_on_path_is_refused_with_the_instruction(
    program: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(program, "    toolchain: poetry\n")
    monkeypatch.setenv("PATH", str(tmp_path_factory.mktemp("empty-bin")))

    with pytest.raises(
        InterpreterError, match=r"poetry is not on PATH; install poetry and run `cd .* && poetry install`"
    ):
        load_project(program)


# --- stack files decoded like go-yaml v3 (the CLI's decoder) --------------------------------------------


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("v: on", "on"),
        ("v: off", "off"),
        ("v: yes", "yes"),
        ("v: No", "No"),
        ("v: y", "y"),
        ("v: 1:20", "1:20"),  # YAML 1.1 sexagesimal would give 80
        ("v: 2026-11-20", "2026-11-20"),  # a timestamp-like scalar stays its source text
        ("v: 2026-11-20T10:00:00Z", "2026-11-20T10:00:00Z"),
        ("v: true", True),
        ("v: False", False),
        ("v: ~", None),
        ("v: null", None),
        ("v: 42", 42),
        ("v: 0x1F", 31),
        ("v: 0o17", 15),
        ("v: 3.5", 3.5),
        ("v: '2'", "2"),
        ("v: [on, 1:20, 2026-11-20]", ["on", "1:20", "2026-11-20"]),
    ],
)
def test_scalars_decode_like_go_yaml_v3(yaml_text: str, expected: object) -> None:
    assert loads(yaml_text) == {"v": expected}


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("a: 1\na: 2\n", 'line 2: mapping key "a" already defined at line 1'),
        (
            "config:\n  x:buckets:\n    - name: a\n      tier: 2\n      tier: 3\n",
            'line 5: mapping key "tier" already defined at line 4',
        ),
        ("config:\n  x:k: 1\n  x:k: 2\n", 'line 3: mapping key "x:k" already defined at line 2'),
    ],
    ids=["top-level", "inside-a-list-entry", "config-key"],
)
def test_a_duplicate_key_at_any_depth_is_an_error_naming_both_lines(yaml_text: str, message: str) -> None:
    with pytest.raises(StackFileError, match=message):
        loads(yaml_text)


def test_stack_file_problems_are_config_errors_in_the_cli_wording(program: Path) -> None:
    write(program, "Pulumi.dev.yaml", "config:\n  shop:tier: 2\n  shop:tier: 3\n")

    with pytest.raises(StackConfigError) as raised:
        load_stack_config(load_project(program), "dev")

    assert str(raised.value) == (
        f"could not unmarshal '{program / 'Pulumi.dev.yaml'}': yaml: unmarshal errors:\n"
        '  line 3: mapping key "shop:tier" already defined at line 2'
    )


def test_an_unquoted_date_reaches_the_program_as_its_text(program: Path) -> None:
    write(program, "Pulumi.dev.yaml", "config:\n  shop:buckets:\n    - name: a\n      mfaDeleteAttested: 2026-11-20\n")

    config = load_stack_config(load_project(program), "dev")

    assert json.loads(config.values["shop:buckets"]) == [{"name": "a", "mfaDeleteAttested": "2026-11-20"}]


def test_invoke_answers_files_are_validated_and_read_as_yaml_or_json(tmp_path: Path) -> None:
    good = tmp_path / "answers.yaml"
    good.write_text(
        "aws:route53/getZone:getZone:\n  - args: {name: example.com}\n    result: {zoneId: Z1}\n"
        "stackReferences:\n  acme/net/prod: {vpcId: vpc-1}\n",
        encoding="utf-8",
    )
    assert load_invoke_answers(good)["stackReferences"] == {"acme/net/prod": {"vpcId": "vpc-1"}}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"aws:ec2/getAmi:getAmi": [{"args": {}}]}), encoding="utf-8")
    with pytest.raises(InvokeAnswersError, match=r"aws:ec2/getAmi:getAmi\[0\]: needs `result`"):
        load_invoke_answers(bad)
