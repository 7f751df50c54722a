"""switch-latency: how long the switch takes to change Route 53's answers, measured on the drill record.

Each site has ``drill.<record>`` with its own switch (the lock table's ``drill`` item behind the switch endpoint's
``/drill``, and its own alarm metric, ``Site=<app>/<site>/drill``) and its own checks; production never moves. The
drill flips that switch ``flips`` times (failed over, back, ...) and after each flip asks **each of the zone's
delegated name servers directly** (no recursion, so no cache; Route 53's are anycast, so each is reported on its
own) until it answers with the expected endpoint, a few queries a second. It reports p50/p95 from the flip to the
changed answer, per direction and per server.

The p95 is what the budget reads: set it as the site's ``measuredNameServerDelaySeconds`` in the stack config
(``stackmodel/config/sites.py``), which replaces the budget's estimate ``nameServerDelaySeconds``.

- Deployed: the zone's name servers come from its delegation (``handlers.failover.dns.zone_nameservers``, or
  ``DR_DNS_NAMESERVERS`` when set), the clients from the drill's factory.
- ``--local``: the rehearsal's emulated Route 53 and name servers (``emulator/route53.py``, ``emulator/dns.py``),
  same code; figures scaled back by the rehearsal's time factor.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from handlers.drills.model import ScenarioResult, Status, not_run
from handlers.drills.runner import DrillContext, Scenario
from handlers.failover.dns import Server, answers_with, parse_servers, query, zone_nameservers

NAME = "switch-latency"
DEFAULT_FLIPS = 20
# The drill metric is published again this often while a flip is awaited, as the orchestrator publishes the site's
# every round: a period without data leaves the alarm INSUFFICIENT_DATA and the check at its last status
# (LastKnownStatus), so a flip back within the minute of the flip over (the period's Maximum still 1) would
# otherwise never reach DNS.
REPUBLISH_SECONDS = 10.0
LOCAL_FLIPS = 4  # the scaled rehearsal: each flip back waits for the alarm child's minute to pass
QUERY_INTERVAL_SECONDS = 0.25  # per server: a few queries a second
FLIP_TIMEOUT_SECONDS = 300.0
DRILL_ITEM = "drill"


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile (``fraction`` in (0, 1]); None without values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


@dataclass
class SwitchLatency:
    flips: int
    # direction ("failed-over" | "primary") -> server "host:port" -> seconds per flip (None: not seen in time)
    samples: dict[str, dict[str, list[float | None]]] = field(default_factory=dict)

    def values(self, direction: str | None = None) -> list[float]:
        return [
            value
            for name, servers in self.samples.items()
            if direction in (None, name)
            for series in servers.values()
            for value in series
            if value is not None
        ]

    def missed(self) -> int:
        return sum(1 for servers in self.samples.values() for series in servers.values() for v in series if v is None)

    def summary(self, scale: float = 1.0) -> dict[str, Any]:
        def stats(values: list[float]) -> dict[str, float | None]:
            p50, p95 = percentile(values, 0.5), percentile(values, 0.95)
            return {
                "p50": None if p50 is None else round(p50 * scale, 3),
                "p95": None if p95 is None else round(p95 * scale, 3),
            }

        return {
            "flips": self.flips,
            "all": stats(self.values()),
            "by_direction": {direction: stats(self.values(direction)) for direction in self.samples},
            "by_server": {
                server: stats([v for d in self.samples.values() for v in d.get(server, []) if v is not None])
                for server in sorted({s for d in self.samples.values() for s in d})
            },
            "missed": self.missed(),
        }


Query = Callable[[str, str, Server], list[Any]]


def authoritative_query(name: str, record_type: str, server: Server) -> list[Any]:
    return query(name, record_type, server[0], server[1], timeout=1.0, recursion=False)


def measure(
    flip: Callable[[bool], None],
    servers: Sequence[Server],
    record_name: str,
    hosts: Mapping[bool, str],
    *,
    flips: int = DEFAULT_FLIPS,
    timeout_seconds: float = FLIP_TIMEOUT_SECONDS,
    query_interval: float = QUERY_INTERVAL_SECONDS,
    ask: Query = authoritative_query,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    republish_every: float | None = None,
) -> SwitchLatency:
    """Flip ``flips`` times, starting towards failed over; per flip and server, the seconds until the server answers
    ``hosts[failed_over]``. ``flip(failed_over)`` moves the drill switch; with ``republish_every`` it is called
    again that often while the answers are awaited (the flip's time stays the first call's)."""
    if not servers:
        raise ValueError("switch-latency needs the zone's name servers")
    result = SwitchLatency(flips)
    failed_over = False
    for _ in range(flips):
        failed_over = not failed_over
        direction = "failed-over" if failed_over else "primary"
        started = published = clock()
        flip(failed_over)
        pending = {f"{host}:{port}": (host, port) for host, port in servers}
        seen: dict[str, float | None] = dict.fromkeys(pending)
        while pending and clock() - started < timeout_seconds:
            if republish_every is not None and clock() - published >= republish_every:
                flip(failed_over)
                published = clock()
            for label, server in list(pending.items()):
                try:
                    answers = ask(record_name, "A", server)
                except OSError:
                    continue
                if answers_with(answers, hosts[failed_over]):
                    seen[label] = clock() - started
                    del pending[label]
            if pending:
                sleep(query_interval)
        for label, value in seen.items():
            result.samples.setdefault(direction, {}).setdefault(label, []).append(value)
    return result


def drill_flip(dynamodb: Any, cloudwatch: Any, lock_table: str, switch: Mapping[str, Any]) -> Callable[[bool], None]:
    """Moves the drill record's switch as the orchestrator moves the site's: the lock table's ``drill`` item (what
    the switch endpoint answers on ``/drill``) and the drill alarm's metric (the calculated check's other child)."""

    def flip(failed_over: bool) -> None:
        dynamodb.update_item(
            TableName=lock_table,
            Key={"pk": {"S": DRILL_ITEM}},
            UpdateExpression="SET #switch = :switch",
            ExpressionAttributeNames={"#switch": "switch"},
            ExpressionAttributeValues={":switch": {"S": "failed-over" if failed_over else "primary"}},
        )
        if switch.get("namespace") and switch.get("metricName"):
            cloudwatch.put_metric_data(
                Namespace=switch["namespace"],
                MetricData=[
                    {
                        "MetricName": switch["metricName"],
                        "Dimensions": [{"Name": k, "Value": v} for k, v in (switch.get("dimensions") or {}).items()],
                        "Value": 1.0 if failed_over else 0.0,
                    }
                ],
            )

    return flip


def drill_site(
    client: Callable[[str, str], Any],
    descriptor: Mapping[str, Any],
    servers: Sequence[Server],
    *,
    flips: int,
    scale: float,
    label: str,
) -> ScenarioResult:
    drill = descriptor.get("drill") or {}
    result = ScenarioResult(scenario=NAME, target=f"site {descriptor['name']}", status=Status.failed)
    switch = drill.get("switch")
    if not switch:
        return not_run(NAME, result.target, "the site has no drill record switch (drill.<record>)")
    if switch.get("kind") == "arc":
        return not_run(NAME, result.target, "an ARC drill switch is flipped through the cluster: not implemented here")
    recovery = str(descriptor["recoveryRegion"])
    flip = drill_flip(client("dynamodb", recovery), client("cloudwatch", recovery), descriptor["lockTable"], switch)
    hosts = {False: str(descriptor["primary"]["host"]), True: str(descriptor["secondary"]["host"])}
    try:
        latency = measure(
            flip,
            servers,
            str(drill["recordName"]),
            hosts,
            flips=flips,
            timeout_seconds=FLIP_TIMEOUT_SECONDS / scale,
            republish_every=REPUBLISH_SECONDS / scale,
        )
    finally:
        flip(False)  # the drill record ends where it started
    summary = latency.summary(scale)
    result.checks.update({"switch_latency": summary, "basis_label": label})
    p95 = summary["all"]["p95"]
    result.rto_seconds_measured = p95
    result.notes += [
        f"{flips} flips of drill.{descriptor['recordName']}, each of {len(servers)} name servers asked directly: "
        f"p50 {summary['all']['p50']} s, p95 {p95} s ({label}); failed over "
        f"{summary['by_direction'].get('failed-over')}, back {summary['by_direction'].get('primary')}",
        f"set sites[{descriptor['name']}].measuredNameServerDelaySeconds to the p95 for the budget to read it",
    ]
    if latency.missed():
        result.notes.append(f"{latency.missed()} answers did not change within {FLIP_TIMEOUT_SECONDS:.0f} s")
    result.status = Status.passed if p95 is not None and not latency.missed() else Status.failed
    return result


def run(context: DrillContext) -> list[ScenarioResult]:
    sites = context.targets.sites
    if not sites:
        return [not_run(NAME, "-", "the stack declares no site")]
    results = []
    for site in sites:
        if context.local:
            if context.rehearsal is None:
                results.append(not_run(NAME, f"site {site.name}", "needs the rehearsal's emulated Route 53"))
                continue
            rehearsal = context.rehearsal.for_site(site.name)
            results.append(
                drill_site(
                    rehearsal.client,
                    rehearsal.descriptor,
                    rehearsal.name_servers(),
                    flips=LOCAL_FLIPS,
                    scale=rehearsal.profile.time_scale,
                    label=rehearsal.profile.basis_label,
                )
            )
            continue
        configured = os.environ.get("DR_DNS_NAMESERVERS")
        record = str((site.descriptor.get("drill") or {}).get("recordName") or site.descriptor["recordName"])
        servers = parse_servers(configured) if configured else zone_nameservers(record)
        results.append(
            drill_site(context.client, site.descriptor, servers, flips=DEFAULT_FLIPS, scale=1.0, label="measured")
        )
    return results


SWITCH_LATENCY = Scenario(
    name=NAME,
    summary="flip the drill record's switch; time each name server's answer change (p50/p95)",
    failure_mode="regional",
    run=run,
    scheduled=False,
)
