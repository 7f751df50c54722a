"""Two figures for a FailoverSite, beside seed 002's 8.5 minutes and seed 001's "~1-2 min".

1. The modelled RTO of the prod site as Pulumi.prod.yaml declares it (api: probe 10 s x 3, TTL 30 s, config refresh
   30 s, no database), every term of the budget printed with its label (documented / configured / estimate /
   measured) and source (stackmodel/failover_budget.py). Goal: <= 120 s on both the DNS and the application path.
2. The orchestrator's own time from a confirmed failure (the threshold-th failed round) to the switch flipped
   (begin, database, settings, switch: one round each, back to back), against a moto server on 127.0.0.1 (a
   separate process; its ceiling is about 150-200 requests/s) with real HTTP endpoints on 127.0.0.1. Median of
   several runs. Goal: <= 5 s. Feeds the orchestratorActionSeconds estimate (real AWS latency is what a drill
   measures); skip with --budget-only.

    uv run python benchmarks/failover.py [--runs 5] [--budget-only]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml

from stackmodel.config import parse
from stackmodel.failover_budget import Budget, constant

REPO = Path(__file__).resolve().parents[1]
SEED_002_SECONDS = 8.5 * 60  # seed 002's automated failover
SEED_001_SECONDS = (60, 120)  # seed 001's global-table failover, "~1-2 min"
GOAL_SECONDS = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
            return process, endpoint
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("moto server did not start")


def orchestrator_seconds(runs: int) -> tuple[list[float], list[int]]:
    """Per run: seconds from the round that confirms the failure to the switch flipped, running the action rounds
    back to back as the runtime does (begin, database, settings, switch: one bounded round each), and the rounds."""
    from handlers.failover.orchestrator import CONTINUE_AT_ONCE, run_once
    from handlers.failover.probe import http_probe
    from handlers.failover.site import Site
    from tests.handlers.failover.conftest import RECOVERY, Endpoint, create_aws, descriptor, recovery_clients

    to_switch: list[float] = []
    rounds: list[int] = []
    process, endpoint = start_moto()
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_REGION=RECOVERY
    )
    primary, secondary = Endpoint("failing"), Endpoint("healthy")
    try:
        for _ in range(runs):
            urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))
            topic = create_aws()
            site = Site.from_descriptor(descriptor(primary.url, secondary.url, topic))
            clients = recovery_clients()
            now = datetime.now(UTC)
            for i in range(site.failure_threshold - 1):
                run_once(site, clients, http_probe, now + timedelta(seconds=10 * i), owner="bench")
            started = time.perf_counter()
            decision = run_once(site, clients, http_probe, now + timedelta(seconds=30), owner="bench")
            count = 1
            while "switch" not in decision.done:
                assert decision.outcome in CONTINUE_AT_ONCE and count < 20, decision
                decision = run_once(site, clients, http_probe, datetime.now(UTC), owner="bench")
                count += 1
            to_switch.append(time.perf_counter() - started)
            rounds.append(count)
    finally:
        primary.close()
        secondary.close()
        process.terminate()
        process.wait(10)
    return to_switch, rounds


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
    to_switch, rounds = orchestrator_seconds(args.runs)
    median = statistics.median(to_switch)
    print(f"\norchestrator on moto (127.0.0.1, separate process; emulator ceiling ~150-200 req/s), {args.runs} runs")
    print(f"  confirmed failure -> switch flipped: median {median:.3f} s in {statistics.median(rounds):.0f} rounds")
    print(
        f"  ratio to the budget's orchestratorActionSeconds estimate ({constant('orchestratorActionSeconds')} s): "
        f"{median / constant('orchestratorActionSeconds'):.3f}"
    )


if __name__ == "__main__":
    main()
