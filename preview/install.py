"""`--install`: create a program's missing virtualenv with its own toolchain, as `pulumi install` would.

Opt-in only: installing packages as a side effect of a preview runs code from a registry (build backends,
setup.py), which is a supply-chain risk a reviewer must choose to take. Without `--install`, a missing
environment stays an environment error naming the command to run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from preview.errors import InterpreterError

INSTALL_TIMEOUT_SECONDS = 900.0


def install_commands(directory: Path, venv: Path, toolchain: str) -> list[list[str]]:
    """The commands that create ``venv`` for ``directory`` with ``toolchain`` (pip, uv), in order."""
    requirements = directory / "requirements.txt"
    if toolchain == "uv":
        uv = shutil.which("uv") or "uv"
        if (directory / "pyproject.toml").exists():
            return [[uv, "sync"]]
        commands = [[uv, "venv", str(venv)]]
        if requirements.exists():
            commands.append([uv, "pip", "install", "--python", str(venv_python_path(venv)), "-r", str(requirements)])
        return commands
    # The interpreter the language host would use to create it: PULUMI_PYTHON_CMD, else python3 on PATH.
    base = os.environ.get("PULUMI_PYTHON_CMD") or shutil.which("python3") or sys.executable
    commands = [[base, "-m", "venv", str(venv)]]
    if requirements.exists():
        commands.append([str(venv_python_path(venv)), "-m", "pip", "install", "-r", str(requirements)])
    return commands


def venv_python_path(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _run(command: list[str], directory: Path, environment: dict[str, str], notify: Callable[[str], None]) -> None:
    notify(f"--install: running `{' '.join(command)}` in {directory}")
    try:
        completed = subprocess.run(
            command,
            cwd=directory,
            env=environment,
            capture_output=True,
            text=True,
            check=False,
            timeout=INSTALL_TIMEOUT_SECONDS,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InterpreterError(f"--install: `{' '.join(command)}` failed: {exc}") from exc
    if completed.returncode != 0:
        output = (completed.stderr or completed.stdout).strip().splitlines()[-15:]
        raise InterpreterError(
            f"--install: `{' '.join(command)}` exited with code {completed.returncode}:\n" + "\n".join(output)
        )


def create_virtualenv(directory: Path, venv: Path, toolchain: str, notify: Callable[[str], None]) -> None:
    """Create ``venv`` from the program's requirements (pip, uv); raises InterpreterError naming the command
    that failed, after removing a half-created environment."""
    environment = dict(os.environ)
    if toolchain == "uv":
        # `uv sync` creates .venv unless told otherwise; the project's `virtualenv` option names another folder.
        environment["UV_PROJECT_ENVIRONMENT"] = str(venv)
    existed = venv.exists()
    try:
        for command in install_commands(directory, venv, toolchain):
            _run(command, directory, environment, notify)
    except InterpreterError:
        if not existed and venv.exists():
            shutil.rmtree(venv, ignore_errors=True)
        raise


def poetry_install(directory: Path, poetry: str, notify: Callable[[str], None]) -> None:
    _run([poetry, "install", "--no-root"], directory, dict(os.environ), notify)
