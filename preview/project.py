"""Read a Pulumi project (Pulumi.yaml) and one stack's config (Pulumi.<stack>.yaml) the way the CLI does.

Config is flattened to what the Python language host receives in ``PULUMI_CONFIG``: namespaced keys
(``project:key``, ``aws:region``) mapped to strings, structured values as JSON. Secure values cannot be
decrypted offline; they become a placeholder and their keys are listed as secret.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from preview.errors import StackConfigError

SECRET_PLACEHOLDER = "offline-preview-secret-placeholder"


@dataclass(frozen=True)
class PulumiProject:
    name: str
    directory: Path
    main_path: Path
    python: str
    description: str = ""


@dataclass(frozen=True)
class StackConfig:
    values: dict[str, str] = field(default_factory=dict)
    secret_keys: list[str] = field(default_factory=list)

    def to_env_json(self) -> str:
        return json.dumps(self.values)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise StackConfigError(f"cannot read {path}: {exc}") from exc
    if not isinstance(document, dict):
        raise StackConfigError(f"{path} must hold a YAML mapping")
    return document


def python_interpreter(directory: Path, runtime: Any) -> str:
    """The project's own virtualenv when its runtime options name one that exists (Pulumi.yaml,
    PulumiPolicy.yaml), else this interpreter."""
    options = (runtime.get("options") or {}) if isinstance(runtime, dict) else {}
    virtualenv = options.get("virtualenv")
    if virtualenv:
        venv = Path(virtualenv) if Path(virtualenv).is_absolute() else directory / virtualenv
        for candidate in (venv / "bin" / "python", venv / "Scripts" / "python.exe"):
            if candidate.exists():
                return str(candidate)
    return sys.executable


def load_project(directory: Path) -> PulumiProject:
    directory = directory.resolve()
    project_file = directory / "Pulumi.yaml"
    if not project_file.exists():
        raise StackConfigError(f"no Pulumi.yaml in {directory}")
    document = _read_yaml(project_file)
    name = document.get("name")
    if not isinstance(name, str) or not name:
        raise StackConfigError(f"{project_file} has no project name")
    runtime = document.get("runtime")
    runtime_name = runtime.get("name") if isinstance(runtime, dict) else runtime
    if runtime_name != "python":
        raise StackConfigError(f"{project_file}: runtime is {runtime_name!r}; offline-preview runs Python programs")
    main = directory / str(document.get("main") or ".")
    main_path = main / "__main__.py" if main.is_dir() else main
    if not main_path.exists():
        raise StackConfigError(f"program entry point {main_path} does not exist")
    return PulumiProject(
        name=name,
        directory=directory,
        main_path=main_path,
        python=python_interpreter(directory, runtime),
        description=str(document.get("description") or ""),
    )


def _namespaced(project: str, key: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def _is_secure(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def _contains_secure(value: Any) -> bool:
    if _is_secure(value):
        return True
    if isinstance(value, dict):
        return any(_contains_secure(item) for item in value.values())
    if isinstance(value, list):
        return any(_contains_secure(item) for item in value)
    return False


def _without_secure(value: Any) -> Any:
    if _is_secure(value):
        return SECRET_PLACEHOLDER
    if isinstance(value, dict):
        return {key: _without_secure(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_secure(item) for item in value]
    return value


def config_string(value: Any) -> str:
    """The string the language host passes for a config value: scalars as text, objects and lists as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return "" if value is None else str(value)


def _project_defaults(project: PulumiProject) -> dict[str, Any]:
    """Defaults declared under Pulumi.yaml's `config:` (`key: value`, or `key: {default: value}`)."""
    declared = _read_yaml(project.directory / "Pulumi.yaml").get("config") or {}
    defaults: dict[str, Any] = {}
    for key, declaration in declared.items():
        if isinstance(declaration, dict):
            if "value" in declaration:
                defaults[_namespaced(project.name, key)] = declaration["value"]
            elif "default" in declaration:
                defaults[_namespaced(project.name, key)] = declaration["default"]
        else:
            defaults[_namespaced(project.name, key)] = declaration
    return defaults


def load_stack_config(project: PulumiProject, stack: str) -> StackConfig:
    stack_file = project.directory / f"Pulumi.{stack}.yaml"
    if not stack_file.exists():
        raise StackConfigError(f"no {stack_file.name} in {project.directory} (stack {stack!r})")
    declared = _read_yaml(stack_file).get("config") or {}
    if not isinstance(declared, dict):
        raise StackConfigError(f"{stack_file}: `config` must be a mapping")
    raw = _project_defaults(project)
    raw.update({_namespaced(project.name, str(key)): value for key, value in declared.items()})
    values = {key: config_string(_without_secure(value)) for key, value in raw.items()}
    secret_keys = sorted(key for key, value in raw.items() if _contains_secure(value))
    return StackConfig(values=values, secret_keys=secret_keys)
