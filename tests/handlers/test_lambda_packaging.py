"""Every runtime module must import with only what the Lambda runtime has: boto3 and the Powertools layer.

The component ships `handlers/` as the function's code (components/recovery_function.py), so a module that pulled in the
CLI's libraries (typer, rich) or the Pulumi SDK would fail on its first invocation. Only `handlers/cli/` may use
them; every other module is checked, so logic stays importable without the CLI.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.components.harness import REPO

HANDLERS = REPO / "handlers"
CLI_PACKAGE = HANDLERS / "cli"
ENTRY_POINTS = {
    "handlers.s3.auto_restore",
    "handlers.s3.audit",
    "handlers.s3.restore",
    "handlers.rpo_age",
    "handlers.dynamodb.backups",
    "handlers.failover.orchestrator",
    "handlers.drills.scheduled",
}
NOT_IN_LAMBDA = [
    "typer",
    "rich",
    "click",
    "pulumi",
    "pulumi_aws",
    "yaml",
    "moto",
    "matplotlib",
    "components",
    "pyarrow",  # the SQL planner's Parquet files: drctl only (a default dependency group)
    "duckdb",
]


def runtime_modules() -> list[str]:
    """Every module under handlers/ outside the CLI package, as dotted names."""
    modules = []
    for path in sorted(HANDLERS.rglob("*.py")):
        if path.is_relative_to(CLI_PACKAGE):
            continue
        parts = path.relative_to(REPO).with_suffix("").parts
        modules.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return modules


def test_every_entry_point_is_a_runtime_module() -> None:
    assert set(runtime_modules()) >= ENTRY_POINTS
    assert len(runtime_modules()) > len(ENTRY_POINTS)  # the walk found the logic modules too


@pytest.mark.parametrize("module", runtime_modules())
def test_module_imports_without_cli_or_pulumi_libraries(module: str) -> None:
    blocked = "; ".join(f"sys.modules[{name!r}] = None" for name in NOT_IN_LAMBDA)
    check = "; m.lambda_handler" if module in ENTRY_POINTS else ""
    code = f"import sys; {blocked}; import importlib; m = importlib.import_module({module!r}){check}"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
