"""Two figures for a FailoverSite, beside seed 002's 8.5 minutes and seed 001's "~1-2 min".

1. The modelled RTO of the prod site as Pulumi.prod.yaml declares it (api: probe 10 s x 3, TTL 30 s, config refresh
   30 s, no database), every term of the budget printed with its label (documented / configured / estimate /
   measured) and source (stackmodel/failover_budget.py). Goal: <= 120 s on both the DNS and the application path.
2. Whole failovers on a real clock, driven by the runtime's own ``run_rounds`` until settled, with the timings
   it publishes: SwitchSeconds (transition begun to switch flipped: begin, database, settings, switch, one round
   each, back to back) and TransitionSeconds (begun to reported, DNS confirmation included), against moto on
   127.0.0.1 (in-process, one request at a time) with real HTTP endpoints and an authoritative DNS server there.
   Median of several runs. Goal: SwitchSeconds <= 5 s. Feeds the orchestratorActionSeconds estimate (real AWS
   latency is what a drill measures); skip with --budget-only.

    uv run python benchmarks/failover.py [--runs 5] [--budget-only]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml

from stackmodel.config import parse
from stackmodel.failover_budget import Budget, constant

REPO = Path(__file__).resolve().parents[1]
SEED_002_SECONDS = 8.5 * 60  # seed 002's automated failover
SEED_001_SECONDS = (60, 120)  # seed 001's global-table failover, "~1-2 min"
GOAL_SECONDS = 120


TIMINGS = ("DetectionSeconds", "SwitchSeconds", "DnsConfirmedSeconds", "TransitionSeconds")


def orchestrator_runs(runs: int) -> list[tuple[dict[str, float], int]]:
    """Per run: the timings the runtime itself publishes (``orchestrator.timings``: DetectionSeconds, SwitchSeconds
    = transition begun to switch flipped, DnsConfirmedSeconds, TransitionSeconds = begun to reported) of one whole
    failover driven by ``run_rounds`` until settled, and its rounds. The world is the real-clock tests' (probe
    interval 1 s, an authoritative DNS server on 127.0.0.1 that follows the switch, moto serving one request at a
    time as DynamoDB's conditional writes need)."""
    from handlers.failover import orchestrator
    from tests.handlers.conftest import FAKE_ENV
    from tests.handlers.failover.phase_world import AtomicMotoServer, make_world, reset

    server = AtomicMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    os.environ.update({**FAKE_ENV, "AWS_ENDPOINT_URL": endpoint})
    measured: list[tuple[dict[str, float], int]] = []
    # The server logs every request to stderr: kept out of the printed figures.
    with contextlib.redirect_stderr(io.StringIO()), contextlib.ExitStack() as stop:
        stop.callback(server.stop)
        for _ in range(runs):
            reset(endpoint)
            world = make_world()
            try:
                world.primary.mode = "failing"
                decisions = orchestrator.run_rounds(
                    world.site,
                    world.clients(),
                    world.probe,
                    owner="bench",
                    seconds=60,
                    until=lambda decision: decision.outcome in orchestrator.SETTLED,
                )
            finally:
                world.close()
            final = decisions[-1]
            if final.outcome not in orchestrator.SETTLED:
                raise RuntimeError(f"the failover did not settle within 60 s: {final}")
            measured.append((dict(final.timings), len(decisions)))
    return measured


def prod_budgets() -> dict[str, Budget]:
    """Each site of the prod stack, parsed by the program's own config validator."""
    document = yaml.safe_load((REPO / "Pulumi.prod.yaml").read_text())
    config = {k.split(":", 1)[1]: v for k, v in document["config"].items() if k.startswith("dr-as-code:")}
    return {site.name: site.budget for site in parse(config).sites}


def print_budget(name: str, model: Budget) -> bool:
    print(f"modelled RTO of prod site {name!r}:")
    for term in model.terms:
        print(f"  {term.seconds:>4} s  {term.label:<10}  {term.name}: {term.source}")
    print(f"  {model.explain()}")
    ok = model.dns_path <= GOAL_SECONDS and model.app_path <= GOAL_SECONDS
    print(
        f"  DNS path {model.dns_path} s, application path {model.app_path} s: "
        f"{'meets' if ok else 'misses'} the {GOAL_SECONDS} s goal"
    )
    ratio = model.rto_seconds / SEED_002_SECONDS
    print(
        f"  beside the seeds: seed 002 {SEED_002_SECONDS:.0f} s (8.5 min; ratio {ratio:.2f}), "
        f"seed 001 {SEED_001_SECONDS[0]}-{SEED_001_SECONDS[1]} s (~1-2 min; ratio "
        f"{model.rto_seconds / SEED_001_SECONDS[1]:.2f} of its upper end)"
    )
    estimates = sum(t.seconds for t in model.terms if t.label == "estimate")
    print(f"  of which estimates (measure with a drill): {estimates} s")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--budget-only", action="store_true", help="print the modelled budget only")
    args = parser.parse_args()

    for name, model in prod_budgets().items():
        print_budget(name, model)
    if args.budget_only:
        return
    measured = orchestrator_runs(args.runs)
    print(f"\norchestrator on moto (127.0.0.1, one request at a time), probe interval 1 s, {args.runs} runs")
    print(f"  rounds until settled: median {statistics.median(rounds for _, rounds in measured):.0f}")
    for name in TIMINGS:
        values = [timings[name] for timings, _ in measured if name in timings]
        if values:
            print(f"  {name}: median {statistics.median(values):.3f} s (min {min(values):.3f}, max {max(values):.3f})")
    switch = statistics.median(timings["SwitchSeconds"] for timings, _ in measured)
    estimate = constant("orchestratorActionSeconds")
    print(f"  SwitchSeconds / the budget's orchestratorActionSeconds estimate ({estimate} s): {switch / estimate:.3f}")


if __name__ == "__main__":
    main()
