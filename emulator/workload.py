"""The rehearsal's workload: an application's client writing canaries through DNS and settings, and the inputs
of the measured RTO and RPO (computed by the shared rule, ``handlers/drills/objectives.py``).

API::

    workload = Workload(
        descriptor,                      # the site descriptor (stackmodel.site.describe_site / the local one)
        resolve=resolver.resolve,        # any resolve(name) -> (address, ttl): emulator.dns's caching resolver
        connect=host_map,                # address -> (ip, port) on 127.0.0.1 (emulator.provision.HostMap)
        clients=emulator.client,         # (service, region) -> boto3 client through that Region's proxy
        config_refresh_seconds=30, interval_seconds=1.0,
    )
    workload.start(); ...; workload.stop()          # or workload.write_once() from a test, one canary at a time
    workload.records()                 # every attempt: CanaryRecord(sequence, store, written_at, acknowledged_at,
                                       #   served_by, region, location, key, address, error)
    workload.rto(fault_at, recovery_region)         # seconds, or None: objectives.measure_rto
    workload.rpo(fault_at, recovery_region, store="s3"|"table")   # objectives.RpoMeasurement
    workload.missing_after(region, since=None)      # acknowledged canaries absent where the application reads

What one canary is, as the application would do it:

1. resolve the site's record name with the given resolver (the workload never uses the OS resolver: it would
   bypass the emulated DNS), and connect to the answer (``connect`` maps it to a local port) with
   ``Host: <record name>``; the endpoint that answers is the application in one Region (its ``x-dr-region``
   header, else the descriptor's primary/secondary host says which);
2. that Region's application reads ``/dr/<app>/active-region`` and ``/dr/<app>/active-bucket/<logical>`` from
   SSM in its own Region, at most every ``config_refresh_seconds`` (a refresh that fails keeps the last values,
   as an application's cache does);
3. it writes the canary where it is told: an object ``<prefix><sequence>.json`` into each active bucket, and an
   item into each linked table in the active Region. Each write is recorded with the time stamped into the
   canary and the time the service acknowledged it; failures are recorded with their error.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from handlers.drills.objectives import CanaryWrite, RpoMeasurement, measure_rpo, measure_rto

Store = Literal["s3", "table"]
DEFAULT_PREFIX = "dr-canary/"
REQUEST_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class CanaryRecord:
    sequence: int
    store: Store
    written_at: float  # stamped into the canary
    acknowledged_at: float | None  # None: the write failed
    served_by: str | None  # the Region whose endpoint DNS sent the client to
    region: str | None  # the active Region the application wrote to
    location: str  # bucket or table name
    key: str  # object key, or the item's key as JSON
    address: str | None  # what DNS answered
    error: str | None = None

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_at is not None

    def as_canary(self) -> CanaryWrite:
        if self.acknowledged_at is None:
            raise ValueError(f"canary {self.sequence} was never acknowledged")
        return CanaryWrite(self.sequence, self.written_at, self.acknowledged_at)


Clients = Callable[[str, str], Any]


class Workload:
    """Writes canaries through DNS and settings; see the module docstring."""

    def __init__(
        self,
        descriptor: Mapping[str, Any],
        *,
        resolve: Callable[[str], tuple[str, float]],
        connect: Callable[[str], tuple[str, int]],
        clients: Clients,
        config_refresh_seconds: float,
        interval_seconds: float = 1.0,
        prefix: str = DEFAULT_PREFIX,
        tables: Sequence[str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        for key in ("app", "recordName", "primaryRegion", "recoveryRegion", "parameters", "primary", "secondary"):
            if key not in descriptor:
                raise ValueError(f"descriptor: missing {key!r}")
        if config_refresh_seconds < 0 or interval_seconds <= 0:
            raise ValueError("config_refresh_seconds must be >= 0 and interval_seconds > 0")
        self.descriptor = descriptor
        self.record_name = str(descriptor["recordName"]).rstrip(".")
        self._resolve = resolve
        self._connect = connect
        self._clients = clients
        self._refresh = config_refresh_seconds
        self._interval = interval_seconds
        self._prefix = prefix
        self._clock = clock
        self._tables = (
            list(tables) if tables is not None else [str(table["name"]) for table in descriptor.get("tables", [])]
        )
        self._hosts = {
            str(descriptor["primary"]["host"]).rstrip(".").lower(): str(descriptor["primaryRegion"]),
            str(descriptor["secondary"]["host"]).rstrip(".").lower(): str(descriptor["recoveryRegion"]),
        }
        self._settings: dict[str, tuple[float, dict[str, str]]] = {}
        self._key_schemas: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self._records: list[CanaryRecord] = []
        self._lock = threading.Lock()
        self._sequence = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # running ---------------------------------------------------------------------------------------------------

    def set_interval(self, seconds: float) -> None:
        """Write a canary every ``seconds`` from the next one on."""
        if seconds <= 0:
            raise ValueError(f"interval_seconds must be > 0, not {seconds:g}")
        self._interval = seconds

    def start(self) -> Workload:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="workload", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def __enter__(self) -> Workload:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self.write_once()
            next_at += self._interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def write_once(self) -> list[CanaryRecord]:
        """One canary: resolve, reach an endpoint, read settings there, write to every store it names."""
        with self._lock:
            sequence = self._sequence
            self._sequence += 1
        written_at = self._clock()
        address, served_by, error = None, None, None
        try:
            address, served_by = self._reach()
        except Exception as failure:  # DNS or endpoint down: no store is written
            error = f"endpoint: {type(failure).__name__}: {failure}"
        records: list[CanaryRecord] = []
        if served_by is None:
            records.append(
                CanaryRecord(sequence, "s3", written_at, None, None, None, "", "", address, error or "no endpoint")
            )
        else:
            settings = self._settings_in(served_by)
            active = settings.get("active-region")
            records += self._write_objects(sequence, written_at, served_by, active, address, settings)
            records += self._write_items(sequence, written_at, served_by, active, address)
        with self._lock:
            self._records += records
        return records

    def _reach(self) -> tuple[str, str]:
        address, _ttl = self._resolve(self.record_name)
        address = str(address).rstrip(".")
        host, port = self._connect(address)
        connection = http.client.HTTPConnection(host, port, timeout=REQUEST_TIMEOUT_SECONDS)
        try:
            connection.request("GET", "/", headers={"Host": self.record_name})
            response = connection.getresponse()
            response.read()
        finally:
            connection.close()
        if response.status >= 500:
            raise ConnectionError(f"{address} answered {response.status}")
        region = response.getheader("x-dr-region") or self._hosts.get(address.lower())
        if region is None:
            raise LookupError(f"{address}: neither an x-dr-region header nor a site endpoint host")
        return address, region

    def _settings_in(self, region: str) -> dict[str, str]:
        """The application's settings in ``region``, refreshed at most every config_refresh_seconds."""
        now = time.monotonic()
        cached = self._settings.get(region)
        if cached is not None and now - cached[0] < self._refresh:
            return cached[1]
        prefix = f"/dr/{self.descriptor['app']}/"
        try:
            ssm = self._clients("ssm", region)
            values: dict[str, str] = {}
            for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=prefix, Recursive=True):
                for parameter in page["Parameters"]:
                    values[parameter["Name"][len(prefix) :]] = parameter["Value"]
        except Exception:  # the Region's SSM is unreachable: keep what the application last read
            return cached[1] if cached else {}
        self._settings[region] = (now, values)
        return values

    def _write_objects(
        self,
        sequence: int,
        written_at: float,
        served_by: str,
        active: str | None,
        address: str | None,
        settings: Mapping[str, str],
    ) -> list[CanaryRecord]:
        records = []
        key = f"{self._prefix}{sequence:08d}.json"
        body = json.dumps({"sequence": sequence, "written_at": written_at, "served_by": served_by}).encode()
        for logical in self.descriptor["parameters"].get("activeBuckets", {}):
            bucket = settings.get(f"active-bucket/{logical}", "")
            acknowledged, error = None, None
            if not bucket or not active:
                error = f"settings in {served_by}: no active-region or active-bucket/{logical}"
            else:
                try:
                    self._clients("s3", active).put_object(
                        Bucket=bucket, Key=key, Body=body, ContentType="application/json"
                    )
                    acknowledged = self._clock()
                except Exception as failure:
                    error = f"{type(failure).__name__}: {failure}"
            records.append(
                CanaryRecord(sequence, "s3", written_at, acknowledged, served_by, active, bucket, key, address, error)
            )
        return records

    def _write_items(
        self, sequence: int, written_at: float, served_by: str, active: str | None, address: str | None
    ) -> list[CanaryRecord]:
        records = []
        for table in self._tables:
            acknowledged, error, key_id = None, None, ""
            if not active:
                error = f"settings in {served_by}: no active-region"
            else:
                try:
                    dynamodb = self._clients("dynamodb", active)
                    key = self._canary_key(dynamodb, table, active, sequence)
                    key_id = json.dumps(key, sort_keys=True)
                    item = {
                        **key,
                        "dr_canary_written_at": {"N": repr(written_at)},
                        "dr_canary_served_by": {"S": served_by},
                    }
                    dynamodb.put_item(TableName=table, Item=item)
                    acknowledged = self._clock()
                except Exception as failure:
                    error = f"{type(failure).__name__}: {failure}"
            records.append(
                CanaryRecord(
                    sequence, "table", written_at, acknowledged, served_by, active, table, key_id, address, error
                )
            )
        return records

    def _canary_key(self, dynamodb: Any, table: str, region: str, sequence: int) -> dict[str, Any]:
        """A key for canary ``sequence`` in the table's own key schema (strings, numbers or binary)."""
        schema = self._key_schemas.get((table, region))
        if schema is None:
            described = dynamodb.describe_table(TableName=table)["Table"]
            types = {a["AttributeName"]: a["AttributeType"] for a in described["AttributeDefinitions"]}
            schema = [(element["AttributeName"], types[element["AttributeName"]]) for element in described["KeySchema"]]
            self._key_schemas[(table, region)] = schema
        values = {"S": f"dr-canary#{sequence:08d}", "N": str(sequence), "B": f"dr-canary#{sequence:08d}".encode()}
        return {name: {kind: values[kind]} for name, kind in schema}

    # results ---------------------------------------------------------------------------------------------------

    def records(self) -> list[CanaryRecord]:
        with self._lock:
            return list(self._records)

    def acknowledged(self, store: Store | None = None) -> list[CanaryRecord]:
        return [r for r in self.records() if r.acknowledged and (store is None or r.store == store)]

    def rto(self, fault_at: float, recovery_region: str) -> float | None:
        """Fault -> first canary acknowledged in the recovery Region through DNS and settings (shared rule)."""
        return measure_rto(
            fault_at,
            (
                (record.acknowledged_at, record.served_by == recovery_region and record.region == recovery_region)
                for record in self.records()
                if record.acknowledged_at is not None
            ),
        )

    def present(self, record: CanaryRecord, region: str) -> bool:
        """Whether ``record``'s canary is readable in ``region`` where the application would read it: the
        bucket the descriptor pairs with the one written (primary <-> replica), or the table in that Region."""
        try:
            if record.store == "s3":
                bucket = self._bucket_in(record.location, region)
                got = self._clients("s3", region).get_object(Bucket=bucket, Key=record.key)
                return bool(json.loads(got["Body"].read()).get("sequence") == record.sequence)
            item = self._clients("dynamodb", region).get_item(
                TableName=record.location, Key=json.loads(record.key), ConsistentRead=True
            )
            return "Item" in item
        except Exception:
            return False

    def _bucket_in(self, bucket: str, region: str) -> str:
        for entry in self.descriptor.get("buckets", []):
            if bucket in (entry.get("primary"), entry.get("replica")):
                return str(entry["primary"] if entry.get("primaryRegion") == region else entry["replica"])
        return bucket

    def rpo(self, fault_at: float, recovery_region: str, *, store: Store = "s3") -> RpoMeasurement:
        """RPO from the canaries of ``store`` acknowledged before the fault, read back in the recovery Region
        (shared rule: ``objectives.measure_rpo``). One canary per sequence: the first store location."""
        by_sequence: dict[int, CanaryRecord] = {}
        for record in self.acknowledged(store):
            by_sequence.setdefault(record.sequence, record)
        canaries = [record.as_canary() for record in by_sequence.values()]
        return measure_rpo(
            fault_at, canaries, lambda canary: self.present(by_sequence[canary.sequence], recovery_region)
        )

    def missing_after(self, region: str, *, since: float | None = None) -> list[CanaryRecord]:
        """Acknowledged canaries (optionally only those acknowledged after ``since``) not readable in ``region``:
        after failback, every one must be there (0 acknowledged writes lost)."""
        return [
            record
            for record in self.acknowledged()
            if (since is None or (record.acknowledged_at or 0) > since) and not self.present(record, region)
        ]


def summarize(records: Iterable[CanaryRecord]) -> dict[str, Any]:
    """Counts for a report: attempts, acknowledged, failed, and acknowledged per (served_by, region)."""
    attempts = list(records)
    by_route: dict[str, int] = {}
    for record in attempts:
        if record.acknowledged:
            route = f"{record.served_by}->{record.region}"
            by_route[route] = by_route.get(route, 0) + 1
    return {
        "attempts": len(attempts),
        "acknowledged": sum(1 for record in attempts if record.acknowledged),
        "failed": sum(1 for record in attempts if not record.acknowledged),
        "acknowledgedByRoute": by_route,
    }
