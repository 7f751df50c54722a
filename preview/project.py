"""Read a Pulumi project (Pulumi.yaml) and one stack's config (Pulumi.<stack>.yaml) the way the CLI does.

Config is flattened to what the Python language host receives in ``PULUMI_CONFIG``: namespaced keys
(``project:key``, ``aws:region``) mapped to strings, structured values as JSON. Secure values cannot be
decrypted offline; they become a placeholder and their keys are listed as secret.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from preview import stack_yaml
from preview.errors import InterpreterError, InvokeAnswersError, StackConfigError
from preview.install import create_virtualenv, poetry_install

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
    """A Pulumi project or stack file, decoded like the CLI (go-yaml v3, see stack_yaml.py)."""
    try:
        document = stack_yaml.load_file(path) or {}
    except OSError as exc:
        raise StackConfigError(f"cannot read {path}: {exc}") from exc
    except stack_yaml.StackFileError as exc:
        raise StackConfigError(str(exc)) from exc
    if not isinstance(document, dict):
        raise StackConfigError(f"{path} must hold a YAML mapping")
    return document


def _venv_python(venv: Path) -> Path | None:
    for candidate in (venv / "bin" / "python", venv / "Scripts" / "python.exe"):
        if candidate.exists():
            return candidate
    return None


def python_interpreter(
    directory: Path, runtime: Any, install: bool = False, notify: Callable[[str], None] = lambda message: None
) -> str:
    """The interpreter the Pulumi CLI's Python language host would use for this project (Pulumi.yaml or
    PulumiPolicy.yaml `runtime`); never falls back silently, and installs only with ``install=True``
    (`--install`: a missing virtualenv is created with the project's toolchain, see preview/install.py).

    - ``toolchain: uv``: ``virtualenv`` if set, else ``<project>/.venv``; missing means "run `uv sync`";
    - ``toolchain: poetry``: ``poetry env info --executable`` in the project directory;
    - ``toolchain: pip`` (the default): ``virtualenv`` if set (it must exist), else ``PULUMI_PYTHON_CMD`` or
      ``python3``/``python`` on PATH, as the language host does.
    """
    options = (runtime.get("options") or {}) if isinstance(runtime, dict) else {}
    toolchain = str(options.get("toolchain") or "pip")
    virtualenv = options.get("virtualenv")
    if toolchain == "poetry":
        return _poetry_interpreter(directory, install, notify)
    if virtualenv or toolchain == "uv":
        venv_text = str(virtualenv or ".venv")
        venv = Path(venv_text) if Path(venv_text).is_absolute() else directory / venv_text
        python = _venv_python(venv)
        if python is None and install:
            create_virtualenv(directory, venv, toolchain, notify)
            python = _venv_python(venv)
        if python is None:
            create = (
                f"cd {directory} && uv sync"
                if toolchain == "uv"
                else f"python3 -m venv {venv} && {venv}/bin/pip install -r {directory}/requirements.txt"
            )
            raise InterpreterError(
                f"the program's virtualenv {venv} (toolchain {toolchain}) does not exist; create it with "
                f"`{create}`, or let offline-preview create it with --install"
            )
        return str(python)
    command = os.environ.get("PULUMI_PYTHON_CMD") or shutil.which("python3") or shutil.which("python")
    if not command:
        raise InterpreterError("no python3 or python on PATH for a project without a virtualenv (toolchain pip)")
    return shutil.which(command) or command


def _poetry_interpreter(directory: Path, install: bool, notify: Callable[[str], None]) -> str:
    instruction = f"run `cd {directory} && poetry install` to create the environment (or pass --install)"
    poetry = shutil.which("poetry")
    if poetry is None:
        raise InterpreterError(
            f"the project uses toolchain poetry, but poetry is not on PATH; install poetry and {instruction}"
        )

    def executable() -> tuple[str, str]:
        completed = subprocess.run(
            [poetry, "env", "info", "--executable"],
            cwd=directory,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        found = completed.stdout.strip() if completed.returncode == 0 else ""
        return (found if found and Path(found).exists() else ""), (completed.stderr or completed.stdout).strip()

    found, output = executable()
    if not found and install:
        poetry_install(directory, poetry, notify)
        found, output = executable()
    if not found:
        raise InterpreterError(
            f"`poetry env info --executable` found no environment for {directory} ({output or 'no output'}); "
            f"{instruction}"
        )
    return found


def load_project(
    directory: Path, install: bool = False, notify: Callable[[str], None] = lambda message: None
) -> PulumiProject:
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
        python=python_interpreter(directory, runtime, install, notify),
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


def _yaml_error_text(exc: Exception) -> str:
    """A YAML syntax error as ``line N, column M: problem`` (1-based, as editors count)."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = " ".join(str(part) for part in (getattr(exc, "context", None), getattr(exc, "problem", None)) if part)
    if mark is None:
        return str(exc)
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem or exc}"


def _entry_lines(text: str) -> dict[str, int]:
    """The line of each top-level key and of each list entry below it (``token[2]``), for error messages."""
    try:
        root = yaml.compose(text, Loader=stack_yaml.GoYamlLoader)
    except yaml.YAMLError:
        return {}
    lines: dict[str, int] = {}
    for key, value in getattr(root, "value", []) if isinstance(root, yaml.MappingNode) else []:
        lines[str(key.value)] = key.start_mark.line + 1
        if isinstance(value, yaml.SequenceNode):
            for position, item in enumerate(value.value):
                lines[f"{key.value}[{position}]"] = item.start_mark.line + 1
    return lines


def load_invoke_answers(path: Path) -> dict[str, Any]:
    """The --invoke-answers file (YAML or JSON): ``token: [{args, result}, ...]`` plus ``stackReferences``.
    A malformed file is an InvokeAnswersError naming its line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvokeAnswersError(f"cannot read invoke answers {path}: {exc}") from exc
    try:
        document = stack_yaml.loads(text) or {}
    except stack_yaml.StackFileError as exc:
        raise InvokeAnswersError(f"invoke answers {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise InvokeAnswersError(f"invoke answers {path}: {_yaml_error_text(exc)}") from exc
    if not isinstance(document, dict):
        raise InvokeAnswersError(f"invoke answers {path} must hold a mapping of invoke tokens")
    lines = _entry_lines(text)

    def at(key: str) -> str:
        return f"line {lines[key]}: " if key in lines else ""

    problems = []
    for token, entries in document.items():
        if token == "stackReferences":
            if not isinstance(entries, dict) or not all(isinstance(value, dict) for value in entries.values()):
                problems.append(f"{at(token)}stackReferences: must map each stack name to a mapping of outputs")
            continue
        if not isinstance(entries, list):
            problems.append(f"{at(token)}{token}: must be a list of {{args, result}} entries")
            continue
        for position, entry in enumerate(entries):
            where = at(f"{token}[{position}]") or at(token)
            if not isinstance(entry, dict) or not isinstance(entry.get("result"), dict):
                problems.append(
                    f"{where}{token}[{position}]: needs `result` (a mapping) and optional `args` (a mapping)"
                )
            elif not isinstance(entry.get("args", {}), dict):
                problems.append(f"{where}{token}[{position}].args: must be a mapping")
    if problems:
        raise InvokeAnswersError(f"invoke answers {path}: " + "; ".join(problems))
    # JSON round trip: what the runner receives (dates and other YAML types never reach it).
    return dict(json.loads(json.dumps(document)))
