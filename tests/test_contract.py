"""docs/contract.md "Where each rule lives": every link resolves, and every pack policy has a row.

A link is a backticked ``path::symbol`` (``Class.method`` for a method; a module-level function, class or
assignment), optionally followed by ``[case]``, a parametrized case named by a string literal in that module. A
policy is a backticked name from the pack's ``CATALOG``. Adding a row to the table needs no change here.
"""

from __future__ import annotations

import ast
import importlib
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = ROOT / "docs" / "contract.md"
SECTION = "## Where each rule lives"
COLUMNS = ("rule", "decided", "built", "enforced", "proved")
LINK = re.compile(r"`(?P<path>[^`\s:]+\.py)::(?P<symbol>[A-Za-z_][\w.]*)(?:\[(?P<case>[^\]`]+)\])?`")
POLICY = re.compile(r"`(?P<name>aws-[a-z0-9]+(?:-[a-z0-9]+)+)`")
NOT_APPLICABLE = "—"


@dataclass(frozen=True)
class Row:
    line: int
    cells: dict[str, str]

    @property
    def label(self) -> str:
        return f"line {self.line} ({self.cells['rule'][:60]})"


def rule_rows(markdown: str) -> list[Row]:
    """The rows of every table under SECTION, up to the next level-2 heading."""
    rows: list[Row] = []
    inside = False
    for number, line in enumerate(markdown.splitlines(), 1):
        if line.startswith("## "):
            inside = line.strip() == SECTION
            continue
        if not (inside and line.startswith("|")):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells[0] == COLUMNS[0] or set("".join(cells)) <= set("-: "):
            continue  # header or separator
        if len(cells) != len(COLUMNS):
            raise AssertionError(f"line {number}: expected {len(COLUMNS)} cells, got {len(cells)}: {line}")
        rows.append(Row(number, dict(zip(COLUMNS, cells, strict=True))))
    return rows


def _names_in(body: Iterable[ast.stmt]) -> Iterator[tuple[str, ast.AST]]:
    """Functions, classes and assigned names defined in ``body`` (and in its module-level if/try blocks)."""
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield node.name, node
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        yield name.id, node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            yield node.target.id, node
        elif isinstance(node, ast.If | ast.Try):
            for block in (node.body, node.orelse, getattr(node, "finalbody", []), *getattr(node, "handlers", [])):
                yield from _names_in(block.body if isinstance(block, ast.ExceptHandler) else block)


@cache
def _module(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def link_problem(root: Path, path: str, symbol: str, case: str | None) -> str | None:
    """Why ``path::symbol[case]`` does not resolve under ``root``, or None when it does."""
    file = root / path
    if not file.is_file():
        return f"{path}: no such file"
    scope: Iterable[ast.stmt] = _module(file).body
    found: ast.AST | None = None
    for depth, part in enumerate(symbol.split(".")):
        found = dict(_names_in(scope)).get(part)
        if found is None:
            return f"{path}::{symbol}: {'.'.join(symbol.split('.')[: depth + 1])} is not defined there"
        scope = found.body if isinstance(found, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) else []
    if case is not None:
        nodes = ast.walk(_module(file))
        literals = {n.value for n in nodes if isinstance(n, ast.Constant) and isinstance(n.value, str)}
        if case not in literals:
            return f"{path}::{symbol}[{case}]: no case {case!r} in {path}"
    return None


def contract_problems(markdown: str, policy_names: Iterable[str], root: Path = ROOT) -> list[str]:
    """Every broken link, empty cell, unknown policy and policy without a row, one line each."""
    rows = rule_rows(markdown)
    problems: list[str] = []
    if not rows:
        return [f"no rows under {SECTION!r}"]
    catalog = set(policy_names)
    enforced: set[str] = set()
    for row in rows:
        for column in COLUMNS[1:]:
            cell = row.cells[column]
            links = list(LINK.finditer(cell))
            if not links and not cell.startswith(NOT_APPLICABLE):
                problems.append(f"{row.label}: {column} has no `path::symbol` link and no '{NOT_APPLICABLE} reason'")
            for link in links:
                problem = link_problem(root, link["path"], link["symbol"], link["case"])
                if problem:
                    problems.append(f"{row.label}: {column}: {problem}")
        for match in POLICY.finditer(row.cells["enforced"]):
            enforced.add(match["name"])
            if match["name"] not in catalog:
                problems.append(f"{row.label}: enforced names {match['name']!r}, which is not in the pack's CATALOG")
        if POLICY.search(row.cells["enforced"]) and not LINK.search(row.cells["enforced"]):
            problems.append(f"{row.label}: enforced names a policy but not its check function")
    problems += [f"policy {name!r} has no row (name it in an enforced cell)" for name in sorted(catalog - enforced)]
    return problems


def catalog_names() -> list[str]:
    """Policy names from the pack's CATALOG, imported as the engine loads it (never the pack's __main__)."""
    policies_dir = str(ROOT / "policies")
    if policies_dir not in sys.path:
        sys.path.insert(0, policies_dir)
    catalog = importlib.import_module("dr_guardrails.catalog")
    return [spec.name for spec in catalog.CATALOG]


def test_every_link_resolves_and_every_policy_has_a_row() -> None:
    problems = contract_problems(CONTRACT.read_text(), catalog_names())
    assert not problems, "docs/contract.md, where each rule lives:\n" + "\n".join(problems)


def test_the_table_covers_config_rules_and_policies() -> None:
    rows = rule_rows(CONTRACT.read_text())
    config_only = [row for row in rows if row.cells["enforced"].startswith(f"{NOT_APPLICABLE} config only")]
    assert len(config_only) >= 20, f"expected the config rules too, found {len(config_only)} config-only rows"
    # Policies may share a row when they check one rule on several resource types (the database policies);
    # that every policy has a row is asserted by test_every_link_resolves_and_every_policy_has_a_row.
    policy_rows = [row for row in rows if not row.cells["enforced"].startswith(NOT_APPLICABLE)]
    assert len(policy_rows) >= 25, f"expected the pack's policies too, found {len(policy_rows)} rows that name one"


def _table(*rows: tuple[str, ...]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|---|---|---|---|---|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


PLANTED = "\n\n".join(
    [
        "# Contracts",
        SECTION,
        _table(
            (
                "lock days",
                "`stackmodel/tiers.py::TIERS`",
                "`components/buckets.py::TieredBucket._regional_bucket`",
                "— config only",
                "`tests/components/test_config_models.py::test_lock_days_may_only_tighten_the_tier`",
            ),
            (
                "a renamed method and a case that is not there",
                "`stackmodel/tiers.py::TierProfile.objective`",
                "`components/buckets.py::TieredBucket._lifecycles`",
                "`aws-s3-bucket-versioning-enabled` `policies/dr_guardrails/s3.py::versioning_problems`",
                "`tests/components/test_config_validation.py::test_malformed_config_fails_before_any_resource[no-such-case]`",
            ),
            (
                "a moved file, an empty cell, a made-up policy",
                "`components/settings.py::parse`",
                "",
                "`aws-s3-bucket-made-up` `policies/dr_guardrails/s3.py::check_made_up`",
                "— none yet",
            ),
        ),
        "## Next section",
        _table(("outside the section", "`nowhere.py::nothing`", "—", "—", "—")),
    ]
)


def test_planted_defects_are_each_reported() -> None:
    problems = contract_problems(PLANTED, ["aws-s3-bucket-versioning-enabled", "aws-kms-key-rotation-enabled"])
    joined = "\n".join(problems)
    assert "components/buckets.py::TieredBucket._lifecycles: TieredBucket._lifecycles is not defined there" in joined
    assert "no case 'no-such-case'" in joined
    assert "components/settings.py: no such file" in joined
    assert "built has no `path::symbol` link" in joined
    assert "policies/dr_guardrails/s3.py::check_made_up: check_made_up is not defined there" in joined
    assert "'aws-s3-bucket-made-up', which is not in the pack's CATALOG" in joined
    assert "policy 'aws-kms-key-rotation-enabled' has no row" in joined
    assert "nowhere.py" not in joined  # rows after the section are not the table's
    assert len(problems) == 7, joined


def test_links_resolve_to_every_kind_of_definition() -> None:
    assert link_problem(ROOT, "stackmodel/tiers.py", "TIERS", None) is None  # annotated assignment
    assert link_problem(ROOT, "stackmodel/tiers.py", "MINIMUM_STORAGE_DAYS", None) is None  # assignment
    assert link_problem(ROOT, "stackmodel/tiers.py", "TierProfile.objective", None) is None  # method
    assert link_problem(ROOT, "components/buckets.py", "TieredBucket.TYPE", None) is None  # class attribute
    assert link_problem(ROOT, "stackmodel/tiers.py", "TierProfile.nothing", None) is not None
    assert link_problem(ROOT, "stackmodel/tiers.py", "MINIMUM_STORAGE_DAYS.keys", None) is not None


@pytest.mark.parametrize("line", ["| a | b | c |", "| x | decided | built | enforced | proved | extra |"])
def test_a_row_with_the_wrong_number_of_cells_is_an_error(line: str) -> None:
    with pytest.raises(AssertionError, match="expected 5 cells"):
        rule_rows(f"{SECTION}\n\n| rule | decided | built | enforced | proved |\n|---|---|---|---|---|\n{line}\n")
