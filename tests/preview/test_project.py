"""Reading Pulumi.yaml and Pulumi.<stack>.yaml into what the Python language host passes the program."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from preview.errors import StackConfigError
from preview.project import SECRET_PLACEHOLDER, load_project, load_stack_config


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
    assert project.python == sys.executable
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
