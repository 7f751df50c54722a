"""The README's offline deploy command, run exactly as written, passes on the project's own prod stack."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMMAND = re.compile(r"^uv run (offline-preview --program \. --stack prod --policy-pack policies --policy-config \S+)$")


def readme_command() -> list[str]:
    lines = [line.strip() for line in (ROOT / "README.md").read_text().splitlines()]
    [command] = [match.group(1) for line in lines if (match := COMMAND.match(line))]
    return shlex.split(command)


@pytest.mark.slow
def test_the_readme_offline_deploy_command_passes_on_prod(tmp_path: Path) -> None:
    argv = readme_command()
    assert argv[argv.index("--policy-config") + 1] == "policies/config.example.json"
    report = tmp_path / "report.json"
    # The console script is this interpreter's `offline-preview` (what `uv run` resolves it to).
    script = Path(sys.executable).with_name(argv[0])
    completed = subprocess.run(
        [str(script), *argv[1:], "--json", str(report)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
    found = json.loads(report.read_text())
    assert [v for v in found["violations"] if v["enforcement"] == "mandatory"] == []
    # At `remediate` level a tier-2/3 table must keep its tier's PITR period (not be raised to 35 days).
    assert [r for r in found["remediations"] if "pitr" in json.dumps(r)] == []
