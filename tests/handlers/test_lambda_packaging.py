"""The Lambda entry points must import with only what the Lambda runtime has: boto3 and the Powertools layer.

The component ships `handlers/` as the function's code (components/recovery_function.py), so an entry point that pulled
in the CLI's libraries (typer, rich) or the Pulumi SDK would fail on its first invocation.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.components.harness import REPO

ENTRY_POINTS = ["handlers.auto_restore", "handlers.audit", "handlers.backups", "handlers.s3_restore"]
NOT_IN_LAMBDA = ["typer", "rich", "click", "pulumi", "pulumi_aws", "yaml", "moto"]


@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_entry_point_imports_without_cli_or_pulumi_libraries(module: str) -> None:
    blocked = "; ".join(f"sys.modules[{name!r}] = None" for name in NOT_IN_LAMBDA)
    code = f"import sys; {blocked}; import importlib; m = importlib.import_module({module!r}); m.lambda_handler"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
