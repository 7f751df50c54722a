"""What the local rehearsal's emulator costs and how exact it is (run: ``uv run python benchmarks/emulator.py``).

Prints, on this machine (quote the load beside the figures: they are shared cores):

- proxy overhead per request: the same calls straight to moto and through a Region proxy (median ms, ratio);
- replication lag accuracy: configured fixed lag vs measured (delivered - written) for S3 and MREC items;
- function runner: cold invoke (new worker process + import), warm invoke round trip, and a bare
  ``python -c pass`` spawn for scale.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from emulator.functions import FunctionRunner
from emulator.regions import Emulator
from emulator.replication import Lag, Replicator

EAST, WEST = "us-east-1", "us-west-2"
CALLS = 200
LAG = 0.5


def _median_ms(samples: list[float]) -> float:
    return round(1000 * statistics.median(samples), 2)


def _p95_ms(samples: list[float]) -> float:
    return round(1000 * sorted(samples)[int(0.95 * (len(samples) - 1))], 2)


def proxy_overhead(emulator: Emulator) -> None:
    direct = emulator.client("dynamodb", EAST, upstream=True)
    proxied = emulator.client("dynamodb", EAST)
    direct.create_table(
        TableName="bench",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for client in (direct, proxied):
        client.put_item(TableName="bench", Item={"pk": {"S": "warm"}})
    timings: dict[str, list[float]] = {"direct": [], "proxied": []}
    for index in range(CALLS):
        for name, client in (("direct", direct), ("proxied", proxied)):
            started = time.perf_counter()
            client.put_item(TableName="bench", Item={"pk": {"S": f"{name}-{index}"}})
            timings[name].append(time.perf_counter() - started)
    direct_ms, proxied_ms = _median_ms(timings["direct"]), _median_ms(timings["proxied"])
    print(
        f"proxy: PutItem median direct {direct_ms} ms, through the proxy {proxied_ms} ms "
        f"(+{round(proxied_ms - direct_ms, 2)} ms, ratio {round(proxied_ms / direct_ms, 2)}); "
        f"proxy's own time per request {emulator.stats()[EAST]['overhead_ms_per_request']} ms"
    )


def lag_accuracy(emulator: Emulator) -> None:
    replicator = Replicator(emulator, s3_lag=Lag.fixed(LAG), dynamodb_lag=Lag.fixed(LAG)).start()
    s3_east, s3_west = emulator.client("s3", EAST), emulator.client("s3", WEST)
    s3_east.create_bucket(Bucket="bench-src")
    s3_west.create_bucket(Bucket="bench-dst", CreateBucketConfiguration={"LocationConstraint": WEST})
    for client, bucket in ((s3_east, "bench-src"), (s3_west, "bench-dst")):
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3_east.put_bucket_replication(
        Bucket="bench-src",
        ReplicationConfiguration={
            "Role": "arn:aws:iam::123456789012:role/r",
            "Rules": [
                {
                    "ID": "all",
                    "Priority": 1,
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "DeleteMarkerReplication": {"Status": "Disabled"},
                    "Destination": {"Bucket": "arn:aws:s3:::bench-dst"},
                }
            ],
        },
    )
    emulator.client("dynamodb", WEST).create_table(
        TableName="bench",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    replicator.add_global_table("bench", [EAST, WEST])
    dynamodb = emulator.client("dynamodb", EAST)
    for index in range(30):
        s3_east.put_object(Bucket="bench-src", Key=f"k{index}", Body=b"x" * 1024)
        dynamodb.put_item(TableName="bench", Item={"pk": {"S": f"lag-{index}"}})
        time.sleep(0.05)
    replicator.wait_until_idle(60)
    replicator.stop()
    for service in ("s3", "dynamodb"):
        errors = [d.lag_seconds - LAG for d in replicator.deliveries() if d.service == service]
        print(
            f"lag {service}: configured {LAG} s, measured - configured: median {_median_ms(errors)} ms, "
            f"p95 {_p95_ms(errors)} ms, max {round(1000 * max(errors), 1)} ms over {len(errors)} deliveries"
        )


def function_spawn() -> None:
    bare = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare.append(time.perf_counter() - started)
    cold, warm = [], []
    for _ in range(3):
        runner = FunctionRunner(replace_after_timeout=False)
        started = time.perf_counter()
        runner.invoke("json:loads", "{}", timeout_seconds=10)
        cold.append(time.perf_counter() - started)
        for _ in range(20):
            started = time.perf_counter()
            runner.invoke("json:loads", "{}", timeout_seconds=10)
            warm.append(time.perf_counter() - started)
        runner.close()
    print(
        f"function runner (json:loads): cold invoke median {_median_ms(cold)} ms, warm invoke median "
        f"{_median_ms(warm)} ms (p95 {_p95_ms(warm)} ms); bare `python -c pass` {_median_ms(bare)} ms"
    )
    # A runtime module's init phase (imports only: prewarm invokes nothing, so nothing is contacted).
    for handler in (
        "handlers.failover.orchestrator:lambda_handler",
        "handlers.failover.switch_endpoint:lambda_handler",
    ):
        runner = FunctionRunner(replace_after_timeout=False)
        started = time.perf_counter()
        runner.prewarm(handler)
        print(f"function {handler}: cold start (process + init) {round(1000 * (time.perf_counter() - started))} ms")
        runner.close()


def main() -> None:
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with Emulator([EAST, WEST]) as emulator:
        proxy_overhead(emulator)
        lag_accuracy(emulator)
    function_spawn()


if __name__ == "__main__":
    main()
