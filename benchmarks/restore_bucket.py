"""Point-in-time bucket restore: ``drctl restore-bucket`` vs s3-pit-restore vs the seed's loop.

One ``python -m moto.server`` process on 127.0.0.1 (free port) serves every run. Each run seeds, for
each tool and each path, its own bucket: N keys (default 1,000) written before T, then half of them
overwritten and a quarter deleted after T. Two paths:

- ``marker``: a plain versioned bucket, where drctl removes delete markers in batches;
- ``copy``:   a bucket with a replication configuration (moto stores it, never replicates), where
              drctl must restore by server-side copy, as on a tier-1 primary.

Tools, run in rotating order on identical data:

- ``drctl``: ``handlers.s3.restore.restore_bucket`` (the function behind ``drctl restore-bucket``);
- ``s3-pit-restore`` 0.9 from PyPI, in-process: its script is loaded as a module and its own
  ``do_restore()`` called with in-place arguments (``-b B -B B -t T``). It builds its client with
  ``boto3.client('s3')``, which honours ``AWS_ENDPOINT_URL``, so no patching was needed;
- ``seed loop``: seed 003's bulk_recovery, translated from the AWS CLI to boto3: list versions with
  ``LastModified <= T``, then copy each one, one request at a time (in place instead of into
  ``recovered-<date>/``).

Every tool's S3 requests are counted with a botocore ``before-send`` hook (listing included). Each
restored bucket is verified by reading every key back (keys wrong = content differs from T, or key
missing). Also printed: the emulator's ceiling (HEAD requests/s, sequential and concurrent), the
"shared floor": a new client plus one full versions listing, which every tool pays before its first write
(moto's ListObjectVersions deep-copies every version of the bucket for each page, so it is large here),
and the emulator's CPU seconds per run. On this 2-core machine the moto process is the bottleneck and
costs the same per request whoever sends it (~5.6 ms of CPU per CopyObject), so the ratio of emulator
CPU is the floor under the time ratio here: no client can finish before the emulator has done its work.

Two settings model what the emulator leaves out:

- ``--latency-ms``: a modelled per-request latency on every tool's requests (default 0). Real S3 answers
  small requests in "tens of milliseconds" (AWS, "Optimizing Amazon S3 performance", timeouts and
  retries), where throughput comes from requests in flight, not from the server's CPU;
- ``--concurrency``: ``same`` (default) runs every tool with 10 requests in flight, s3-pit-restore's
  default; ``defaults`` runs each at its own default (drctl 16, s3-pit-restore 10; the seed loop is
  sequential either way).

    uv sync --group bench && uv run python benchmarks/restore_bucket.py [--runs 3] [--keys 1000]
    uv run python benchmarks/restore_bucket.py --latency-ms 50 --concurrency defaults --tools drctl s3-pit-restore

Goals (issue 5): marker path <= 0.5x s3-pit-restore's time and <= 0.75 requests per restored key;
copy path <= 0.7x and <= 1.05 requests per restored key; 0 keys wrong.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.machinery
import importlib.util
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import types
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import psutil

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from handlers import aws  # noqa: E402
from handlers.drills.bucket import replication_to  # noqa: E402
from handlers.s3.restore import (  # noqa: E402
    DEFAULT_WORKERS,
    RestoreOptions,
    assess_blast_radius,
    iter_key_histories,
    read_bucket_protection,
    restore_bucket,
    restore_client,
)

PATHS = ("marker", "copy")
TOOLS = ("drctl", "s3-pit-restore", "seed-loop")
WORKERS = 10  # s3-pit-restore's --max-workers default
LOCK_BUCKET = "bench-dr-reports"  # where drctl takes its single-flight lock
DEFAULT_CONCURRENCY = {"drctl": DEFAULT_WORKERS, "s3-pit-restore": WORKERS, "seed-loop": 1}
FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


# --------------------------------------------------------------------------------------------------
# Emulator
# --------------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def moto_server() -> Iterator[tuple[str, psutil.Process]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("moto server did not start")
        yield endpoint, psutil.Process(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=10)


def reset(endpoint: str) -> None:
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST", data=b"")
    urllib.request.urlopen(request, timeout=30).close()


def ceiling(s3: Any, requests: int = 600, threads: int = WORKERS) -> dict[str, float]:
    """HEAD requests/s the emulator sustains, one at a time and with ``threads`` in flight."""
    s3.create_bucket(Bucket="ceiling")
    s3.put_object(Bucket="ceiling", Key="k", Body=b"x")
    started = time.perf_counter()
    for _ in range(requests // 3):
        s3.head_object(Bucket="ceiling", Key="k")
    sequential = (requests // 3) / (time.perf_counter() - started)
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda _: s3.head_object(Bucket="ceiling", Key="k"), range(requests)))
    concurrent = requests / (time.perf_counter() - started)
    return {"sequential_rps": round(sequential, 1), "concurrent_rps": round(concurrent, 1)}


# --------------------------------------------------------------------------------------------------
# Dataset
# --------------------------------------------------------------------------------------------------
def body(key: str, generation: int) -> bytes:
    return f"{key} generation {generation} ".encode().ljust(512, b".")


@dataclass
class Dataset:
    buckets: list[tuple[str, str, str]]  # (bucket, tool, path)
    keys: list[str]
    at: datetime
    restored_keys: int  # keys whose state after T differs from T


def seed(s3: Any, run: int, keys: int, tools: tuple[str, ...] = TOOLS) -> Dataset:
    names = [f"data/{i:05d} é.bin" for i in range(keys)]
    overwritten, deleted = names[: keys // 2], names[keys // 2 : keys // 2 + keys // 4]
    buckets = [(f"bench-{run}-{tool.replace('-', '')}-{path}", tool, path) for path in PATHS for tool in tools]
    s3.create_bucket(Bucket=LOCK_BUCKET)
    for bucket, _, path in buckets:
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        if path == "copy":
            replica = f"{bucket}-replica"
            s3.create_bucket(Bucket=replica)
            s3.put_bucket_versioning(Bucket=replica, VersioningConfiguration={"Status": "Enabled"})
            s3.put_bucket_replication(
                Bucket=bucket,
                ReplicationConfiguration=replication_to(f"arn:aws:s3:::{replica}", rule_id="all"),
            )

    def each(work: Callable[[str, str], Any], chosen: list[str]) -> None:
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda pair: work(*pair), [(b, k) for b, _, _ in buckets for k in chosen]))

    each(lambda b, k: s3.put_object(Bucket=b, Key=k, Body=body(k, 1)), names)
    # moto truncates LastModified to the second: T is the end of this second, "after" starts at the next.
    now = time.time()
    at = datetime.fromtimestamp(int(now) + 0.999, UTC)
    time.sleep(int(now) + 1.05 - now)
    each(lambda b, k: s3.put_object(Bucket=b, Key=k, Body=body(k, 2)), overwritten)
    each(lambda b, k: s3.delete_object(Bucket=b, Key=k), deleted)
    return Dataset(buckets, names, at, len(overwritten) + len(deleted))


def keys_wrong(s3: Any, bucket: str, keys: list[str]) -> int:
    def wrong(key: str) -> bool:
        try:
            return bool(s3.get_object(Bucket=bucket, Key=key)["Body"].read() != body(key, 1))
        except s3.exceptions.NoSuchKey:
            return True

    with ThreadPoolExecutor(16) as pool:
        return sum(pool.map(wrong, keys))


# --------------------------------------------------------------------------------------------------
# Tools
# --------------------------------------------------------------------------------------------------
def add_latency(events: Any, latency_ms: float) -> None:
    """Model network/service latency (S3 CopyObject typically takes tens of ms) on top of moto's CPU cost.

    The sleep happens in ``before-send`` and releases the GIL, like waiting on a socket would.
    """
    if latency_ms > 0:
        events.register("before-send.s3", lambda **_: time.sleep(latency_ms / 1000))


class Counter:
    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, **_: Any) -> None:
        with self._lock:
            self.count += 1


def run_drctl(bucket: str, at: datetime, latency_ms: float, workers: int) -> int:
    """``drctl restore-bucket --yes``: the dataset changes 75 % of the keys, above the blast-radius share, so the
    comparison runs confirmed; ``guard_requests`` measures what the listing-only pass adds without ``--yes``."""
    s3 = restore_client(workers)
    add_latency(s3.meta.events, latency_ms)
    options = RestoreOptions(bucket=bucket, at=at, workers=workers, confirmed=True, lock_bucket=LOCK_BUCKET)
    summary = restore_bucket(s3, options)
    assert summary["failed"] == 0, summary
    return int(summary["requests"])  # counted by drctl itself, through the same before-send hook


def guard_requests(bucket: str, at: datetime) -> int:
    """Requests of the blast-radius pass (ListObjectVersions only) that a restore without ``--yes`` makes first."""
    s3 = restore_client()
    options = RestoreOptions(bucket=bucket, at=at)
    return int(assess_blast_radius(s3, options, read_bucket_protection(s3, bucket))["requests"])


def load_s3_pit_restore() -> types.ModuleType:
    script = shutil.which("s3-pit-restore") or str(Path(sys.executable).with_name("s3-pit-restore"))
    loader = importlib.machinery.SourceFileLoader("s3_pit_restore_script", script)
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def run_s3_pit_restore(tool: types.ModuleType, bucket: str, at: datetime, latency_ms: float, workers: int) -> int:
    # Its client comes from boto3's default session, so the hooks are registered there first.
    boto3.setup_default_session()
    counter = Counter()
    assert boto3.DEFAULT_SESSION is not None
    boto3.DEFAULT_SESSION.events.register("before-send.s3", counter)
    add_latency(boto3.DEFAULT_SESSION.events, latency_ms)
    tool.args = argparse.Namespace(
        bucket=bucket,
        dest_bucket=bucket,
        dest="",
        prefix="",
        dest_prefix="",
        timestamp=at.isoformat(),
        from_timestamp=None,
        enable_glacier=False,
        verbose=False,
        dry_run=False,
        debug=False,
        test=False,
        max_workers=workers,
    )
    with contextlib.redirect_stdout(io.StringIO()):  # it prints one line per key
        tool.do_restore()
    return counter.count


def run_seed_loop(bucket: str, at: datetime, latency_ms: float) -> int:
    s3 = aws.client("s3")
    counter = Counter()
    s3.meta.events.register("before-send.s3", counter)
    add_latency(s3.meta.events, latency_ms)
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=""):
        for version in page.get("Versions", []):
            if version["LastModified"] <= at:  # --query "Versions[?LastModified<='$recovery_time']"
                source = {"Bucket": bucket, "Key": version["Key"], "VersionId": version["VersionId"]}
                s3.copy_object(CopySource=source, Bucket=bucket, Key=version["Key"])
    return counter.count


def shared_floor(bucket: str, latency_ms: float) -> float:
    """What every tool pays before its first write: a client and one full versions listing (read-only)."""
    started = time.perf_counter()
    s3 = restore_client()
    add_latency(s3.meta.events, latency_ms)
    for _ in iter_key_histories(s3, bucket):
        pass
    return time.perf_counter() - started


# --------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="model this much latency per S3 request, for every tool (default 0: moto as is)",
    )
    parser.add_argument(
        "--concurrency",
        choices=("same", "defaults"),
        default="same",
        help=f"same: {WORKERS} requests in flight for every tool; defaults: each tool's own default",
    )
    parser.add_argument("--tools", nargs="+", choices=TOOLS, default=list(TOOLS))
    parser.add_argument("--json", dest="json_path", help="also write the results to this file")
    options = parser.parse_args()
    if options.keys * 2 > 5000:
        parser.error("moto's list_object_versions is O(N^2): keep a bucket at or below 5,000 versions")
    if not {"drctl", "s3-pit-restore"} <= set(options.tools):
        parser.error("--tools: the ratios need drctl and s3-pit-restore")
    tools = tuple(tool for tool in TOOLS if tool in options.tools)
    same = options.concurrency == "same"
    workers = {tool: WORKERS if same and tool != "seed-loop" else DEFAULT_CONCURRENCY[tool] for tool in tools}
    os.environ.update(FAKE_ENV)
    results: dict[tuple[str, str], list[dict[str, float]]] = {(t, p): [] for t in tools for p in PATHS}
    floors: dict[str, list[float]] = {path: [] for path in PATHS}
    with moto_server() as (endpoint, emulator):
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        s3 = aws.client("s3", max_pool_connections=32)
        ceiling_before = ceiling(s3)
        pit = load_s3_pit_restore()
        for run in range(options.runs):
            reset(endpoint)
            s3 = aws.client("s3", max_pool_connections=32)
            data = seed(s3, run, options.keys, tools)
            order = tools[run % len(tools) :] + tools[: run % len(tools)]  # rotate: no tool always goes first
            for path in PATHS:
                floors[path].append(shared_floor(next(b for b, _, p in data.buckets if p == path), options.latency_ms))
                for tool in order:
                    bucket = next(b for b, t, p in data.buckets if t == tool and p == path)
                    cpu_before = sum(emulator.cpu_times()[:2])
                    started = time.perf_counter()
                    guard = 0
                    if tool == "drctl":
                        guard = guard_requests(bucket, data.at)  # before the restore, outside its timing
                        cpu_before = sum(emulator.cpu_times()[:2])
                        started = time.perf_counter()
                        requests = run_drctl(bucket, data.at, options.latency_ms, workers[tool])
                    elif tool == "s3-pit-restore":
                        requests = run_s3_pit_restore(pit, bucket, data.at, options.latency_ms, workers[tool])
                    else:
                        requests = run_seed_loop(bucket, data.at, options.latency_ms)
                    seconds = time.perf_counter() - started
                    emulator_cpu = sum(emulator.cpu_times()[:2]) - cpu_before
                    wrong = keys_wrong(s3, bucket, data.keys)
                    results[(tool, path)].append(
                        {
                            "seconds": seconds,
                            "emulator_cpu": emulator_cpu,
                            "requests": requests,
                            "guard_requests": guard,
                            "wrong": wrong,
                            "restored": data.restored_keys,
                        }
                    )
                    print(
                        f"run {run + 1} {path:6} {tool:15} {seconds:7.2f}s (emulator CPU {emulator_cpu:5.2f}s) "
                        f"{requests:6d} requests {requests / data.restored_keys:.3f} req/restored key, "
                        f"{wrong} keys wrong",
                        file=sys.stderr,
                    )
        ceiling_after = ceiling(s3)
    report(results, floors, ceiling_before, ceiling_after, options, workers)


def report(
    results: dict[tuple[str, str], list[dict[str, float]]],
    floors: dict[str, list[float]],
    ceiling_before: dict[str, float],
    ceiling_after: dict[str, float],
    options: argparse.Namespace,
    workers: dict[str, int],
) -> None:
    goals = {"marker": (0.5, 0.75), "copy": (0.7, 1.05)}
    tools = list(workers)
    summary: dict[str, Any] = {
        "keys": options.keys,
        "runs": options.runs,
        "workers": workers,
        "emulator": "moto.server 5.2.5, separate process on 127.0.0.1",
        "modelled_latency_ms": options.latency_ms,
        "ceiling_before": ceiling_before,
        "ceiling_after": ceiling_after,
        "paths": {},
    }
    print(f"\nDataset: {options.keys} keys, half overwritten and a quarter deleted after T; median of {options.runs}")
    print(f"Requests in flight: {', '.join(f'{tool} {n}' for tool, n in workers.items())} ({options.concurrency})")
    if options.latency_ms:
        print(f"Modelled latency: {options.latency_ms} ms added to every S3 request of every tool")
    print(
        f"Emulator ceiling (HEAD req/s): sequential {ceiling_before['sequential_rps']} / "
        f"{ceiling_after['sequential_rps']}, {WORKERS} threads {ceiling_before['concurrent_rps']} / "
        f"{ceiling_after['concurrent_rps']} (before / after)"
    )
    for path in PATHS:
        medians = {
            tool: {
                "seconds": statistics.median(r["seconds"] for r in results[(tool, path)]),
                "emulator_cpu": statistics.median(r["emulator_cpu"] for r in results[(tool, path)]),
                "requests": statistics.median(r["requests"] for r in results[(tool, path)]),
                "guard_requests": statistics.median(r["guard_requests"] for r in results[(tool, path)]),
                "wrong": max(r["wrong"] for r in results[(tool, path)]),
                "restored": results[(tool, path)][0]["restored"],
            }
            for tool in tools
        }
        for values in medians.values():
            values["req_per_key"] = values["requests"] / values["restored"]
        drctl, pit = medians["drctl"], medians["s3-pit-restore"]
        time_ratio = drctl["seconds"] / pit["seconds"]
        work_ratio = drctl["emulator_cpu"] / pit["emulator_cpu"]
        floor = statistics.median(floors[path])
        net_ratio = (drctl["seconds"] - floor) / (pit["seconds"] - floor)
        max_ratio, max_req = goals[path]
        met = time_ratio <= max_ratio and drctl["req_per_key"] <= max_req and drctl["wrong"] == 0
        print(f"\n{path} path ({'marker removal allowed' if path == 'marker' else 'replicated: copy only'})")
        print(f"  {'tool':15} {'median s':>9} {'emu CPU s':>10} {'requests':>9} {'req/key':>8} {'wrong':>6}")
        for tool, values in medians.items():
            print(
                f"  {tool:15} {values['seconds']:9.2f} {values['emulator_cpu']:10.2f} {values['requests']:9.0f} "
                f"{values['req_per_key']:8.3f} {values['wrong']:6.0f}"
            )
        print(
            f"  drctl / s3-pit-restore time: {time_ratio:.3f}x (goal <= {max_ratio}x); "
            f"req/key {drctl['req_per_key']:.3f} (goal <= {max_req}); goals {'met' if met else 'NOT met'}"
        )
        print(
            f"  drctl / s3-pit-restore emulator CPU: {work_ratio:.3f}x (the floor under the time ratio while the "
            f"emulator is the bottleneck)"
        )
        print(
            f"  shared floor (new client + one full versions listing, paid by every tool): {floor:.2f}s; "
            f"drctl / s3-pit-restore above that floor: {net_ratio:.3f}x"
        )
        without_yes = (drctl["requests"] + drctl["guard_requests"]) / drctl["restored"]
        print(
            f"  drctl requests per restored key: {drctl['req_per_key']:.3f} with --yes, {without_yes:.3f} without "
            f"(the listing-only blast-radius pass adds {drctl['guard_requests']:.0f} requests)"
        )
        if "seed-loop" in medians:
            print(f"  drctl / seed loop time: {drctl['seconds'] / medians['seed-loop']['seconds']:.3f}x")
        summary["paths"][path] = {
            "medians": medians,
            "drctl_vs_s3_pit_restore": round(time_ratio, 3),
            "drctl_vs_s3_pit_restore_emulator_cpu": round(work_ratio, 3),
            "shared_floor_seconds": round(floor, 3),
            "drctl_vs_s3_pit_restore_above_floor": round(net_ratio, 3),
            "goals_met": met,
            "runs": {tool: results[(tool, path)] for tool in tools},
        }
    if options.json_path:
        Path(options.json_path).write_text(json.dumps(summary, indent=2, default=str))


if __name__ == "__main__":
    main()
