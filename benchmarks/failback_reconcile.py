"""Failback's S3 reconcile throughput (handlers/failover/reconcile.py) on a local moto server.

Run: ``uv run python benchmarks/failback_reconcile.py [keys]``. A replica bucket holds ``keys`` objects written
during the failover (each must be copied back) beside as many replicated before it (each is compared and left
alone); the reconcile runs once sequentially (``workers=1``) and once with the default workers, each against a
fresh pair of buckets. Prints keys per second, S3 requests per key and the ratio. Quote ``uptime``'s load beside the
figures: the cores are shared. moto answers in milliseconds where S3 answers in tens of milliseconds, so on AWS the
network wait (and the gain from workers) is larger than here.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3
from moto.server import ThreadedMotoServer

from handlers.failover.reconcile import ReconcileOptions, reconcile_bucket

EAST, WEST = "us-east-1", "us-west-2"


def _buckets(run: str, keys: int) -> tuple[Any, Any, dict[str, str], datetime]:
    primary, recovery = boto3.client("s3", EAST), boto3.client("s3", WEST)
    names = {"logical": run, "primary": f"{run}-{EAST}", "replica": f"{run}-{WEST}"}
    primary.create_bucket(Bucket=names["primary"])
    recovery.create_bucket(Bucket=names["replica"], CreateBucketConfiguration={"LocationConstraint": WEST})
    for client, name in ((primary, names["primary"]), (recovery, names["replica"])):
        client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    for n in range(keys):  # replicated before the failover: compared, left alone
        for client, name in ((primary, names["primary"]), (recovery, names["replica"])):
            client.put_object(Bucket=name, Key=f"before/{n:06d}.json", Body=b"{}")
    time.sleep(1.05)  # LastModified has one-second resolution
    failed_over_at = datetime.now(UTC)
    time.sleep(1.05)
    for n in range(keys):  # written to the replica while failed over: copied back
        recovery.put_object(Bucket=names["replica"], Key=f"during/{n:06d}.json", Body=b"{}")
    return primary, recovery, names, failed_over_at


def _requests(client: Any) -> list[int]:
    count = [0]
    client.meta.events.register("before-send.s3", lambda **_: count.__setitem__(0, count[0] + 1))
    return count


def run(keys: int, workers: int) -> dict[str, float]:
    primary, recovery, names, since = _buckets(f"bench-w{workers}", keys)
    print(f"workers={workers}: buckets ready, reconciling", flush=True)
    sent = [_requests(primary), _requests(recovery)]
    started = time.perf_counter()
    result = reconcile_bucket(primary, recovery, names, since, options=ReconcileOptions(workers=workers))
    seconds = time.perf_counter() - started
    assert result.complete and result.copied == keys, result.as_dict()
    requests = sum(c[0] for c in sent)
    return {"seconds": seconds, "keys_per_second": 2 * keys / seconds, "requests_per_copied_key": requests / keys}


def main() -> None:
    keys = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's access log, a line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ.update(
        AWS_ENDPOINT_URL=f"http://{host}:{port}",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=EAST,
    )
    try:
        sequential = run(keys, workers=1)
        parallel = run(keys, workers=ReconcileOptions().workers)
    finally:
        server.stop()
    print(f"load average {os.getloadavg()[0]:.1f}; {keys} keys copied back + {keys} compared per run")
    for name, figures in (("workers=1", sequential), (f"workers={ReconcileOptions().workers}", parallel)):
        print(
            f"{name:>10}: {figures['seconds']:.2f} s, {figures['keys_per_second']:.0f} keys/s, "
            f"{figures['requests_per_copied_key']:.2f} S3 requests per copied key"
        )
    print(f"ratio (workers / sequential time): {parallel['seconds'] / sequential['seconds']:.2f}")


if __name__ == "__main__":
    main()
