"""``drill-report.png``: measured against target for every scenario, the page a person hands an auditor.

Two panels (RTO and RPO, seconds on a symmetric-log axis so 0 s and an hour both show). Per scenario row: a bar
for the figure and a black diamond for the target. Solid bars are measured, hatched bars are lower bounds
(the emulator is faster than AWS), dotted open bars are modelled; green passed, red failed, grey not run.
matplotlib is imported here only, so the Lambda package never needs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from handlers.drills.model import Basis, ScenarioResult, Status
from handlers.drills.runner import DrillReport

STYLE: dict[Basis, dict[str, Any]] = {
    Basis.measured: {"hatch": None, "fill": True, "linestyle": "solid"},
    Basis.lower_bound: {"hatch": "///", "fill": True, "linestyle": "solid"},
    Basis.modelled: {"hatch": "..", "fill": False, "linestyle": "dotted"},
}
COLOURS = {Status.passed: "#2e7d32", Status.failed: "#c62828", Status.not_run: "#9e9e9e"}


def _value(result: ScenarioResult, kind: str) -> float | None:
    return result.rto_seconds_judged if kind == "rto" else result.rpo_seconds_judged


def _light(colour: str) -> tuple[float, float, float, float]:
    from matplotlib.colors import to_rgba

    return to_rgba(colour, alpha=0.3)


def _all_figures(rows: list[ScenarioResult], kind: str) -> list[float]:
    values = [_value(result, kind) for result in rows]
    targets = [result.rto_seconds_target if kind == "rto" else result.rpo_seconds_target for result in rows]
    return [value for value in [*values, *targets] if value is not None]


def build_figure(report: DrillReport) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    rows = report.scenarios
    labels = [f"{result.scenario}\n{result.target}" for result in rows]
    figure = Figure(figsize=(13, 1.4 + 0.75 * max(len(rows), 1)), layout="constrained")
    axes = figure.subplots(1, 2, sharey=True)
    for ax, kind, title in ((axes[0], "rto", "RTO: fault to validated recovery"), (axes[1], "rpo", "RPO: data lost")):
        for index, result in enumerate(rows):
            basis = result.rto_basis if kind == "rto" else result.rpo_basis
            value = _value(result, kind)
            style = STYLE[basis]
            colour = COLOURS[result.status]
            if value is None:
                ax.text(
                    0.02,
                    index,
                    "not run" if result.status is Status.not_run else "no figure",
                    va="center",
                    color=colour,
                    transform=ax.get_yaxis_transform(),
                    gid=f"missing:{kind}:{index}",
                )
            else:
                (bar,) = ax.barh(
                    index,
                    value,
                    height=0.5,
                    facecolor=(colour if basis is Basis.measured else _light(colour)) if style["fill"] else "none",
                    edgecolor=colour,
                    hatch=style["hatch"],
                    linestyle=style["linestyle"],
                    linewidth=1.5,
                )
                bar.set_gid(f"figure:{kind}:{index}:{basis.value}")
                ax.annotate(
                    f"{value:.2f} s" if value < 120 else f"{value / 60:.1f} min",
                    (value, index),
                    xytext=(4, 8),
                    textcoords="offset points",
                    fontsize=8,
                )
            target = result.rto_seconds_target if kind == "rto" else result.rpo_seconds_target
            if target is not None:
                (marker,) = ax.plot([target], [index], marker="D", color="black", linestyle="none", markersize=7)
                marker.set_gid(f"target:{kind}:{index}")
        ax.set_xscale("symlog", linthresh=1.0)
        ax.set_xlim(0, 3 * max([1.0, *_all_figures(rows, kind)]))
        ax.set_xlabel(f"{kind.upper()} (seconds, symmetric log scale)")
        if kind == "rpo":
            ax.axvspan(0, 1.0, color="#bbbbbb", alpha=0.25, gid="rpo-resolution")
            ax.text(0.5, -0.55, "1 s timestamp\nresolution", ha="center", va="top", fontsize=7, color="#555555")
        ax.set_title(title)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(rows)), labels, fontsize=8)
    axes[0].set_ylabel("scenario and target")
    axes[0].set_ylim(len(rows) - 0.4, -0.6)
    legend = [
        Patch(facecolor="#555555", edgecolor="#555555", label="measured"),
        Patch(facecolor=_light("#555555"), edgecolor="#555555", hatch="///", label="lower bound (emulator)"),
        Patch(facecolor="none", edgecolor="#555555", hatch="..", linestyle="dotted", label="modelled"),
        Line2D([], [], marker="D", color="black", linestyle="none", label="target (declared objective)"),
        Patch(color=COLOURS[Status.passed], label="passed"),
        Patch(color=COLOURS[Status.failed], label="failed"),
        Patch(color=COLOURS[Status.not_run], label="not run"),
    ]
    figure.legend(handles=legend, loc="outside lower center", ncols=7, fontsize=8)
    verdict = "passed" if report.passed else "FAILED"
    figure.suptitle(f"DR drill of stack {report.stack} ({report.mode}, {report.started_at[:19]}Z): {verdict}")
    return figure


def save_chart(report: DrillReport, path: Path) -> Path:
    build_figure(report).savefig(path, dpi=120)
    return path
