"""No import cycles in the program, the runtime or the preview, and the S3 and DynamoDB runtimes stay apart.

Imports are read from the source, so one under ``if TYPE_CHECKING:`` or inside a function counts: that is how the
old ``s3_batch``/``s3_restore`` pair hid its cycle, and it is planted below to prove the check reports it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.components.harness import REPO
from tests.import_graph import crossings, cycles, import_graph

CHECKED = ("components", "emulator", "handlers", "preview", "stackmodel")

# The old pair as it was: a module-level import one way, a TYPE_CHECKING and a function-level import the other.
OLD_S3_RESTORE = """
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from handlers.s3_batch import BatchCopier, BatchOptions


def _batch_copier(options):
    from handlers.s3_batch import BatchCopier  # only batch restores need it

    return BatchCopier(options)


def head_or_none(s3, bucket, key):
    return None
"""
OLD_S3_BATCH = """
from typing import TYPE_CHECKING

from handlers.s3_restore import head_or_none

if TYPE_CHECKING:
    from handlers.s3_restore import KeyPlan, RestoreOptions, RestoreSummary
"""


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph([REPO / name for name in CHECKED], REPO)


def plant(base: Path, files: dict[str, str]) -> dict[str, set[str]]:
    for relative, source in files.items():
        path = base / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    return import_graph([base / "handlers"], base)


def test_the_walk_sees_the_runtime(graph: dict[str, set[str]]) -> None:
    assert "handlers.s3.plan" in graph["handlers.s3.batch"]
    assert {"handlers.s3.batch", "handlers.s3.plan"} <= graph["handlers.s3.restore"]
    assert "handlers.runtime_names" in graph["components.buckets"]


def test_there_are_no_import_cycles(graph: dict[str, set[str]]) -> None:
    assert cycles(graph) == []


@pytest.mark.parametrize(
    ("package", "forbidden"), [("handlers.s3", "handlers.dynamodb"), ("handlers.dynamodb", "handlers.s3")]
)
def test_s3_and_dynamodb_runtimes_do_not_import_each_other(
    graph: dict[str, set[str]], package: str, forbidden: str
) -> None:
    assert crossings(graph, package, forbidden) == []


def test_the_old_s3_batch_restore_pair_is_reported_as_a_cycle(tmp_path: Path) -> None:
    planted = plant(
        tmp_path,
        {
            "handlers/__init__.py": "",
            "handlers/aws.py": "",
            "handlers/s3_restore.py": OLD_S3_RESTORE,
            "handlers/s3_batch.py": OLD_S3_BATCH,
        },
    )
    assert cycles(planted) == [["handlers.s3_batch", "handlers.s3_restore"]]


def test_a_cycle_only_under_type_checking_and_in_a_function_is_reported(tmp_path: Path) -> None:
    hidden_only = OLD_S3_BATCH.replace("from handlers.s3_restore import head_or_none\n", "")
    planted = plant(
        tmp_path,
        {"handlers/__init__.py": "", "handlers/s3_restore.py": OLD_S3_RESTORE, "handlers/s3_batch.py": hidden_only},
    )
    assert cycles(planted) == [["handlers.s3_batch", "handlers.s3_restore"]]


def test_a_relative_import_cycle_is_reported(tmp_path: Path) -> None:
    planted = plant(
        tmp_path,
        {
            "handlers/__init__.py": "",
            "handlers/s3/__init__.py": "",
            "handlers/s3/a.py": "from . import b\n",
            "handlers/s3/b.py": "def f():\n    from .a import g\n",
        },
    )
    assert cycles(planted) == [["handlers.s3.a", "handlers.s3.b"]]


def test_an_s3_module_reaching_dynamodb_is_reported(tmp_path: Path) -> None:
    planted = plant(
        tmp_path,
        {
            "handlers/__init__.py": "",
            "handlers/shared.py": "from handlers.dynamodb.restore import restore_table\n",
            "handlers/s3/__init__.py": "",
            "handlers/s3/restore.py": "def f():\n    from handlers import shared\n",
            "handlers/dynamodb/__init__.py": "",
            "handlers/dynamodb/restore.py": "def restore_table():\n    pass\n",
        },
    )
    assert crossings(planted, "handlers.s3", "handlers.dynamodb") == [
        ("handlers.s3.restore", "handlers.dynamodb.restore")
    ]
    assert crossings(planted, "handlers.dynamodb", "handlers.s3") == []


# Every module of the runtime and of the stack model, imported in a fresh interpreter: what actually gets loaded, so
# an import through any chain (a shared helper that imports pulumi) is caught, not only a direct one.
LOADED_BY = """
import importlib, pkgutil, sys
import {package}
for info in pkgutil.walk_packages({package}.__path__, "{package}."):
    importlib.import_module(info.name)
print(sorted({{m.split(".")[0] for m in sys.modules if m.split(".")[0] in ("pulumi", "pulumi_aws", "components")}}))
"""


@pytest.mark.parametrize("package", ["handlers", "stackmodel"])
def test_the_runtime_and_the_stack_model_never_load_pulumi_or_a_component(package: str) -> None:
    """The Lambda package and drctl read stacks through ``stackmodel``; only the program's edge imports pulumi."""
    loaded = subprocess.run(
        [sys.executable, "-c", LOADED_BY.format(package=package)], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]"


def test_the_import_check_sees_a_runtime_module_that_loads_pulumi(tmp_path: Path) -> None:
    (tmp_path / "fakeruntime").mkdir()
    (tmp_path / "fakeruntime" / "__init__.py").write_text("")
    (tmp_path / "fakeruntime" / "uses_model.py").write_text("import components.stack_config\n")
    loaded = subprocess.run(
        [sys.executable, "-c", LOADED_BY.format(package="fakeruntime")],
        cwd=tmp_path,
        env={"PYTHONPATH": f"{tmp_path}:{REPO}"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "['components', 'pulumi']"


def test_mypy_follows_every_pulumi_aws_service_the_program_uses() -> None:
    """pyproject skips the pulumi_aws services the program does not use (a cold mypy run parses all ~250
    otherwise); a service used but not listed there would be typed Any and its arguments never checked."""
    import re
    import tomllib

    overrides = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["mypy"]["overrides"]
    followed = {
        module
        for override in overrides
        if override.get("follow_imports") == "normal"
        for module in override["module"]
        if module.startswith("pulumi_aws")
    }
    sources = [REPO / "__main__.py", *(REPO / "components").rglob("*.py"), *(REPO / "stackmodel").rglob("*.py")]
    used = {match for path in sources for match in re.findall(r"\baws\.([a-z][a-z0-9_]*)\.[A-Za-z_]", path.read_text())}
    assert used, "no pulumi_aws service found: the pattern no longer matches the program's imports"
    missing = sorted(
        f"pulumi_aws.{service}"
        for service in used
        if not {f"pulumi_aws.{service}", f"pulumi_aws.{service}.*"} <= followed
    )
    assert not missing, f"add to the followed pulumi_aws modules in pyproject.toml ([[tool.mypy.overrides]]): {missing}"
