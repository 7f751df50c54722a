"""The drill report: ``drill-report.json`` (for machines), ``drill-report.md`` (for people), and the chart
(``handlers.drills.chart``, written by the CLI only; the Lambda writes JSON and metrics, never a PNG).

Against a deployed stack the figures are also published as CloudWatch metrics in the recovery region (namespace
``DR/Recovery``), one series per scenario and target, so an auditor can see every drill's result over time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from handlers.drills.model import ScenarioResult, Status
from handlers.drills.runner import DrillReport
from handlers.metrics import publish_metrics

JSON_NAME = "drill-report.json"
MARKDOWN_NAME = "drill-report.md"
PNG_NAME = "drill-report.png"
# Metric names (docs/contract.md): dimensions Stack, Scenario, Target; published in the recovery region. The
# whole drill's verdict is also published as DrillPassed with the dimension Stack alone: the scheduled drill's
# alarm (components/drills.py) watches exactly that series.
METRIC_PASSED = "DrillPassed"
METRIC_RTO = "DrillRtoSeconds"
METRIC_RPO = "DrillRpoSeconds"


def seconds_text(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 120:
        return f"{value / 60:.1f} min"
    return f"{value:.2f} s"


def figure_text(result: ScenarioResult, kind: str) -> str:
    measured = getattr(result, f"{kind}_seconds_measured")
    modelled = getattr(result, f"{kind}_seconds_modelled")
    basis = getattr(result, f"{kind}_basis").value
    if modelled is not None:
        shown = f"{seconds_text(modelled)} (modelled"
        return shown + (f"; measured part {seconds_text(measured)})" if measured is not None else ")")
    label = result.checks.get("basis_label") or basis.replace("_", " ")  # the rehearsal's: emulated AWS, time scale
    return f"{seconds_text(measured)} ({label})" if measured is not None else "-"


def markdown(report: DrillReport) -> str:
    verdict = "PASSED" if report.passed else "FAILED"
    lines = [
        f"# DR drill of stack `{report.stack}`: {verdict}",
        "",
        f"- mode: **{report.mode}**; drill id `{report.drill_id}`; {report.started_at} to {report.finished_at}",
    ]
    if report.emulator_ceiling:
        lines.append(f"- emulator: {report.emulator_ceiling}; local RTOs are lower bounds")
    lines += [
        "- RPO is measured from canaries: fault time minus the write time of the newest pre-fault canary that came "
        "back (0 when the newest did); canaries written after the fault are reported, not counted.",
        "",
        "| scenario | target | result | RTO | RTO target | RPO | RPO target |",
        "|---|---|---|---|---|---|---|",
    ]
    for result in report.scenarios:
        lines.append(
            f"| {result.scenario} | {result.target} | {result.status.value} | {figure_text(result, 'rto')} | "
            f"{seconds_text(result.rto_seconds_target)} | {figure_text(result, 'rpo')} | "
            f"{seconds_text(result.rpo_seconds_target)} |"
        )
    for result in report.scenarios:
        lines += ["", f"## {result.scenario}: {result.target} ({result.status.value})", ""]
        if result.rpo:
            rpo = result.rpo
            lines.append(
                f"- canaries before the fault: {rpo['pre_fault']}, back after recovery: {rpo['pre_fault_recovered']}; "
                f"after the fault: {rpo['post_fault']} ({rpo['post_fault_present']} present, not counted)"
            )
        for note in result.notes:
            lines.append(f"- {note.strip()}")
        if result.emulated:
            lines.append("- emulated:")
            lines += [f"  - {step}" for step in result.emulated]
    return "\n".join(lines) + "\n"


def write_report(report: DrillReport, out: Path, *, chart: bool = True) -> dict[str, Path]:
    """Write the JSON, the Markdown and (unless ``chart`` is off) the PNG; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / JSON_NAME, "markdown": out / MARKDOWN_NAME}
    paths["json"].write_text(json.dumps(report.as_dict(), indent=2, default=str) + "\n")
    paths["markdown"].write_text(markdown(report))
    if chart:
        from handlers.drills.chart import save_chart  # matplotlib: CLI only, never in the Lambda package

        paths["png"] = out / PNG_NAME
        save_chart(report, paths["png"])
    return paths


def publish(cloudwatch: Any, report: DrillReport, *, verdict: bool = True) -> int:
    """Each scenario's figures as ``DR/Recovery`` metrics (client in the recovery region), then (unless ``verdict`` is
    off: a part of a drill, whose verdict ``publish_verdict`` publishes once) the drill's verdict under the dimension
    ``Stack`` alone; returns the number of values published."""
    published = publish_verdict(cloudwatch, report.stack, report.passed) if verdict else 0
    for result in report.scenarios:
        dimensions = {"Stack": report.stack, "Scenario": result.scenario, "Target": result.target}
        publish_metrics(cloudwatch, {METRIC_PASSED: 1.0 if result.passed else 0.0}, dimensions)
        published += 1
        if result.status is Status.not_run:
            continue
        figures = {METRIC_RTO: result.rto_seconds_judged, METRIC_RPO: result.rpo_seconds_judged}
        values = {name: value for name, value in figures.items() if value is not None}
        publish_metrics(cloudwatch, values, dimensions, unit="Seconds")
        published += len(values)
    return published


def publish_verdict(cloudwatch: Any, stack: str, passed: bool) -> int:
    """``DrillPassed{Stack}``: the series the scheduled drill's alarm watches (components/drills.py)."""
    publish_metrics(cloudwatch, {METRIC_PASSED: 1.0 if passed else 0.0}, {"Stack": stack})
    return 1
