"""Shared helpers: run offline-preview in-process (its program and pack still run as subprocesses)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from preview.cli import main

HERE = Path(__file__).parent
REPO_ROOT = HERE.parent.parent
PROGRAMS = HERE / "programs"
FIXTURE_PACK = HERE / "fixture_pack"


@dataclass(frozen=True)
class PreviewRun:
    exit_code: int
    stdout: str
    stderr: str
    document: dict[str, Any]

    def findings(self, key: str = "violations") -> set[tuple[str, ...]]:
        if key == "violations":
            return {(item["policy"], item["name"], item["enforcement"]) for item in self.document[key]}
        return {(item["policy"], item["name"]) for item in self.document[key]}


RunPreview = Callable[..., PreviewRun]


@pytest.fixture(autouse=True)
def _cached_bytecode_for_subprocesses(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each preview starts two Python processes; with PYTHONDONTWRITEBYTECODE set (as on this dev box) each
    would recompile pulumi_aws and pulumi_policy from source (~2 s CPU). Cache their bytecode outside the
    venv instead; the behaviour under test does not change."""
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        monkeypatch.delenv("PYTHONDONTWRITEBYTECODE")
        monkeypatch.setenv("PYTHONPYCACHEPREFIX", str(Path(tempfile.gettempdir()) / "offline-preview-pycache"))


@pytest.fixture
def run_preview(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> RunPreview:
    """run_preview(program, stack="test", pack=FIXTURE_PACK, policy_config=None, *extra) -> PreviewRun."""

    def run(
        program: Path,
        stack: str = "test",
        pack: Path = FIXTURE_PACK,
        policy_config: dict[str, Any] | None = None,
        extra: tuple[str, ...] = (),
    ) -> PreviewRun:
        json_path = tmp_path / "findings.json"
        args = ["--program", str(program), "--stack", stack, "--policy-pack", str(pack), "--json", str(json_path)]
        if policy_config is not None:
            config_path = tmp_path / "policy-config.json"
            config_path.write_text(json.dumps(policy_config), encoding="utf-8")
            args += ["--policy-config", str(config_path)]
        exit_code = main([*args, *extra])
        captured = capsys.readouterr()
        document = json.loads(json_path.read_text(encoding="utf-8")) if json_path.exists() else {}
        return PreviewRun(exit_code, captured.out, captured.err, document)

    return run
