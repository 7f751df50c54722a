"""Mutation testing per module (``make mutation``): each module against the fast tests that exercise it, one module
at a time, in a scratch copy of the tree, so every run is bounded and a module's score is its own.

``python tools/mutation.py [MODULE ...]`` prints, per module: mutants, killed, survived (by name), equivalent
(listed below with why), and the score = killed / (mutants - equivalent). A mutant whose tests ran past mutmut's
time limit (``timeout``: it made them hang or crawl) is counted as killed and shown apart: the suite never passes
with it. The restore planner keeps its own function list (the Makefile's previous scope); the others mutate the whole
module.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MUTMUT = Path(sys.executable).with_name("mutmut")


@dataclass(frozen=True)
class Suite:
    module: str
    tests: tuple[str, ...]
    names: tuple[str, ...] = ()  # mutant name globs; empty: every mutant of the module
    # mutant name -> why no test can tell it from the original (excluded from the score)
    equivalent: dict[str, str] = field(default_factory=dict)


PLANNER = ("version_at", "plan_make_current", "plan_copy_elsewhere", "same_object", "content_identities")
SUITES = {
    suite.module: suite
    for suite in (
        Suite(
            "handlers/s3/restore.py",
            (
                "tests/handlers/test_s3_restore.py",
                "tests/handlers/test_same_object.py",
                "tests/handlers/test_restore_planner.py",
            ),
            (
                *(f"handlers.s3.restore.x_{name}__mutmut_*" for name in PLANNER),
                "handlers.s3.restore.xǁBucketProtectionǁ*",
            ),
        ),
        Suite(
            "handlers/s3/plan.py",
            ("tests/handlers/test_restore_plan.py",),
        ),
        Suite(
            "handlers/drills/objectives.py",
            ("tests/handlers/test_drill_objectives.py",),
            equivalent={
                # ``boundary`` is the newest recovered sequence (never among the lost) or -1 below every sequence
                # (sequences start at 0): -2 instead of -1, or <= / >= instead of < / >, select the same lost ones.
                "handlers.drills.objectives.x_measure_rpo__mutmut_43": "boundary -2 is below every sequence too",
                "handlers.drills.objectives.x_measure_rpo__mutmut_81": "the boundary itself is never a lost sequence",
                "handlers.drills.objectives.x_measure_rpo__mutmut_83": "the boundary itself is never a lost sequence",
            },
        ),
        Suite(
            "handlers/drills/canaries.py",
            ("tests/handlers/test_drill_objectives.py",),
            equivalent={
                # The body's dict literal is already in key order: dumping it unsorted writes the same bytes.
                "handlers.drills.canaries.x_canary_payload__mutmut_2": "sort_keys=None: the keys are already sorted",
                "handlers.drills.canaries.x_canary_payload__mutmut_4": "no sort_keys: the keys are already sorted",
                "handlers.drills.canaries.x_canary_payload__mutmut_11": "sort_keys=False: the keys are already sorted",
                # ``break`` leaves the loop, which is the last statement of ``_run``.
                "handlers.drills.canaries.xǁCanaryWriterǁ_run__mutmut_4": "return for break: nothing follows the loop",
            },
        ),
        Suite(
            "stackmodel/config/sites.py",
            ("tests/components/test_site_config.py", "tests/components/test_config_aws_rules.py"),
            equivalent={
                # A record name is lowercase (HOSTNAME_PATTERN), so it never ends in an uppercase X to strip.
                "stackmodel.config.sites.x__record_name__mutmut_9": "rstrip('XX.XX'): no record name ends in 'X'",
            },
        ),
        Suite(
            "stackmodel/config/tables.py",
            ("tests/components/test_config_aws_rules.py", "tests/components/test_table_config.py"),
            equivalent={
                **{
                    f"stackmodel.config.tables.xǁ_Reporterǁadd__mutmut_{n}": "the count is only read as 'any problem'"
                    for n in (14, 15, 16)  # = 1, -= 1, += 2: non-zero after the first problem all the same
                },
                # backup_settings returns at its first problem and nothing else reports in the ``backup`` unit, so
                # the position that orders problems within that unit is never compared.
                **{
                    f"stackmodel.config.tables.x_backup_settings__mutmut_{n}": "the backup unit has one problem at most"
                    for n in (4, 12, 15, 16, 17, 40, 48)
                },
                "stackmodel.config.tables.x__check_regions__mutmut_6": "region_partitions().get(None) is None too",
                # max(x or 1, ...) against a backup RPO of at least 60 min and a 240-min restore: the same maximum.
                "stackmodel.config.tables.x__objectives__mutmut_24": "or 1 for or 0: the backup RPO is at least 60",
                "stackmodel.config.tables.x__objectives__mutmut_30": "or 1 for or 0: the restore takes 240 min",
            },
        ),
    )
}

DETECTED = frozenset({"killed", "timeout"})  # mutmut's statuses the suite catches
STATUS = re.compile(r"^\s*(?P<name>\S+): (?P<status>.+)$")


def _copy_tree(target: Path) -> None:
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    for name in files:
        source = REPO / name
        if name.startswith("mutants/") or not source.is_file():
            continue
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)


def _configure(target: Path, suite: Suite) -> None:
    pyproject = (target / "pyproject.toml").read_text()
    start = pyproject.index("[tool.mutmut]")
    end = pyproject.find("\n[", start + 1)
    block = "\n".join(
        [
            "[tool.mutmut]",
            f"source_paths = [{suite.module!r}]",
            f"pytest_add_cli_args_test_selection = {list(suite.tests)!r}",
            'also_copy = ["tests/", "handlers/", "components/", "policies/", "preview/", "stackmodel/", "tools/",'
            ' "schemas/", "stacks/", "__main__.py", "Pulumi.yaml", "Pulumi.prod.yaml", "Pulumi.local.yaml",'
            ' "README.md", "docs/"]',
            'pytest_add_cli_args = ["-p", "no:xdist", "-q", "-m", "not slow", "-x"]',
            "",
        ]
    ).replace("'", '"')
    (target / "pyproject.toml").write_text(pyproject[:start] + block + (pyproject[end:] if end != -1 else ""))


def run(suite: Suite) -> tuple[dict[str, str], dict[str, str]]:
    with tempfile.TemporaryDirectory(prefix="mutation-") as scratch:
        target = Path(scratch)
        _copy_tree(target)
        _configure(target, suite)
        subprocess.run([str(MUTMUT), "run", "--max-children", "1", *suite.names], cwd=target, check=False)
        listed = subprocess.run(
            [str(MUTMUT), "results", "--all", "true"], cwd=target, capture_output=True, text=True, check=False
        ).stdout
        results = {}
        for line in listed.splitlines():
            match = STATUS.match(line)
            if match and "__mutmut_" in match["name"]:
                results[match["name"]] = match["status"].strip()
        if results and all(status == "not checked" for status in results.values()):
            # mutmut could not run the tests on the unmutated tree (its stats step failed): nothing was measured.
            raise SystemExit(f"{suite.module}: mutmut ran no mutant; the clean test run failed (see its output above)")
        diffs = {
            name: subprocess.run(
                [str(MUTMUT), "show", name], cwd=target, capture_output=True, text=True, check=False
            ).stdout
            for name, status in results.items()
            if status not in DETECTED and name not in suite.equivalent
        }
    return results, diffs


def report(suite: Suite, results: dict[str, str], diffs: dict[str, str]) -> float:
    equivalent = [name for name in results if name in suite.equivalent]
    killed = [name for name, status in results.items() if status in DETECTED and name not in suite.equivalent]
    timeouts = sum(results[name] == "timeout" for name in killed)
    survived = [name for name, status in results.items() if status not in DETECTED and name not in suite.equivalent]
    counted = len(results) - len(equivalent)
    score = len(killed) / counted if counted else 0.0
    print(f"\n== {suite.module}: {len(results)} mutants, {len(killed)} killed ({timeouts} by timeout), "
          f"{len(equivalent)} equivalent, {len(survived)} not killed: score {score:.1%}")  # fmt: skip
    for name in survived:
        print(f"   not killed: {name} ({results[name]})")
        print("      " + "\n      ".join(line for line in diffs.get(name, "").splitlines() if line[:1] in "+-"))
    for name in equivalent:
        print(f"   equivalent: {name}: {suite.equivalent[name]}")
    return score


def main(modules: list[str]) -> int:
    chosen = [SUITES[module] for module in modules] if modules else list(SUITES.values())
    scores = {suite.module: report(suite, *run(suite)) for suite in chosen}
    print("\nper-module scores:", ", ".join(f"{module} {score:.1%}" for module, score in scores.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
