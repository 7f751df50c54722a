"""Route 53's data plane (health checkers and failover answers) emulated over moto's control plane.

moto stores hosted zones, record sets and health checks, but every check is always healthy. This module reads
what was provisioned **through moto's Route 53 API** (``ListHealthChecks``/``GetHealthCheck``,
``ListHostedZones``/``GetHostedZone``/``ListResourceRecordSets``) and evaluates it as the Route 53 Developer
Guide documents it:

- Endpoint checks (HTTP/HTTPS/TCP, string matching): independent checkers, one per checker Region, each probing
  every ``RequestInterval`` from its own phase (checkers do not coordinate). A checker changes its view after
  ``FailureThreshold`` consecutive results the other way; a check is healthy while **more than 18 %** of the
  checkers report healthy; ``Inverted`` flips the check's status. HTTP(S): TCP connect within 4 s, a 2xx/3xx
  within 2 s; string matching: the string in the first 5,120 bytes, 2 s more; TCP: connect within 10 s.
  ("How Amazon Route 53 determines whether a health check is healthy",
  https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html;
  "Values that you specify when you create or update health checks",
  https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/health-checks-creating-values.html.)
  Locally an HTTPS check is probed over HTTP on 127.0.0.1 with the check's FQDN as ``Host``: checkers do not
  validate certificates either.
- Calculated checks: healthy while the number of healthy children is at least ``HealthThreshold`` (then
  ``Inverted``).
- CloudWatch alarm checks: Route 53 reads the alarm's **metric data**, from its own copy of the alarm's period,
  statistic, threshold, comparison operator and evaluation periods (``CloudWatchAlarmConfiguration``), taken at
  ``CreateHealthCheck``/``UpdateHealthCheck``; the alarm's state, ``TreatMissingData`` and M-of-N never count,
  and a later change of the alarm is ignored until ``UpdateHealthCheck``. No data: ``InsufficientDataHealthStatus``
  (``LastKnownStatus`` of a new check is healthy). ("Updating or deleting CloudWatch alarm settings",
  https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/health-checks-updating-cloudwatch-alarm-settings.html;
  botocore ``route53`` model, ``HealthCheckConfig.InsufficientDataHealthStatus``.)
- Routing-control checks: the state of the ARC routing control (``RoutingControls``, On = healthy).
- Failover records: the PRIMARY while its check is healthy (no check: always), else the SECONDARY while its check
  is healthy; when both are unhealthy Route 53 answers with the PRIMARY ("How health checks work in complex
  Amazon Route 53 configurations",
  https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-complex-configs.html).
- A new check with no status yet is healthy (so a check replaced while failed over sends DNS back).

moto drops ``AlarmIdentifier``, ``InsufficientDataHealthStatus`` and ``RoutingControlArn`` from a health check's
config, and never copies the alarm's settings. ``Route53Emulator.create_health_check`` therefore calls moto's
``CreateHealthCheck`` and keeps what AWS would store beside it (the copy of the alarm included); everything else is
read back from moto. Every time constant is divided by ``time_scale`` (the scaled rehearsal profile).
"""

from __future__ import annotations

import http.client
import logging
import math
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

log = logging.getLogger(__name__)

HEALTHY_SHARE = 0.18  # healthy while MORE than 18 % of the checkers report healthy (documented)
HTTP_CONNECT_SECONDS = 4.0
HTTP_RESPONSE_SECONDS = 2.0
STRING_MATCH_BYTES = 5120
TCP_CONNECT_SECONDS = 10.0
# Route 53's default health-checking Regions (CreateHealthCheck: Regions, "at least three"); one checker each.
DEFAULT_CHECKER_REGIONS = (
    "us-east-1",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "sa-east-1",
)
ENDPOINT_TYPES = frozenset({"HTTP", "HTTPS", "HTTP_STR_MATCH", "HTTPS_STR_MATCH", "TCP"})
# Copied from the alarm at CreateHealthCheck (botocore route53 model, CloudWatchAlarmConfiguration).
ALARM_COPY_KEYS = (
    "EvaluationPeriods",
    "Threshold",
    "ComparisonOperator",
    "Period",
    "MetricName",
    "Namespace",
    "Statistic",
    "Dimensions",
)
BREACHES: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": lambda value, threshold: value >= threshold,
    "GreaterThanThreshold": lambda value, threshold: value > threshold,
    "LessThanThreshold": lambda value, threshold: value < threshold,
    "LessThanOrEqualToThreshold": lambda value, threshold: value <= threshold,
}
RELOAD_SECONDS = 1.0  # how often the emulator re-reads moto's zones, records and checks
# How often Route 53 reads an alarm check's metric is not documented: assumed every 10 s (scaled like the rest).
ALARM_EVALUATION_SECONDS = 10.0


class RoutingControls:
    """The ARC cluster's routing-control states (data plane); ``update`` applies the "at least one On" assertion
    rule the stack's safety rule declares, atomically over one call's entries."""

    def __init__(self, states: Mapping[str, bool] | None = None, *, at_least_one_on: bool = True) -> None:
        self._states = dict(states or {})
        self._lock = threading.Lock()
        self._at_least_one_on = at_least_one_on

    def state(self, arn: str) -> bool:
        with self._lock:
            return self._states.get(arn, False)

    def update(self, entries: Mapping[str, bool]) -> None:
        with self._lock:
            after = {**self._states, **entries}
            if self._at_least_one_on and after and not any(after.values()):
                raise ValueError("safety rule: at least one routing control must stay On")
            self._states = after


@dataclass
class Checker:
    """One health checker's view of an endpoint: its verdict changes after ``threshold`` consecutive results."""

    region: str
    next_due: float
    verdict: bool | None = None  # None: no result yet
    streak: int = 0
    results: int = 0

    def observe(self, healthy: bool, threshold: int) -> None:
        self.results += 1
        if self.verdict is None:
            self.verdict, self.streak = healthy, 0
            return
        if healthy == self.verdict:
            self.streak = 0
            return
        self.streak += 1
        if self.streak >= threshold:
            self.verdict, self.streak = healthy, 0


@dataclass
class CheckState:
    id: str
    config: dict[str, Any]  # HealthCheckConfig as moto returns it, plus what moto drops
    alarm_copy: dict[str, Any] | None = None  # CloudWatchAlarmConfiguration (the check's own copy)
    checkers: list[Checker] = field(default_factory=list)
    last_known: bool | None = None  # alarm checks: the last status with sufficient data
    metric_verdict: bool | None = None  # alarm checks: the last evaluation (None: insufficient data)
    next_evaluation: float = -math.inf

    @property
    def type(self) -> str:
        return str(self.config["Type"])

    @property
    def inverted(self) -> bool:
        return bool(self.config.get("Inverted"))


@dataclass(frozen=True)
class Record:
    name: str  # lowercase, no trailing dot
    type: str
    ttl: int
    values: tuple[str, ...]
    set_identifier: str | None = None
    failover: str | None = None  # PRIMARY | SECONDARY
    health_check_id: str | None = None


@dataclass(frozen=True)
class Zone:
    id: str
    name: str  # lowercase, no trailing dot
    name_servers: tuple[str, ...]
    records: tuple[Record, ...]


def _name(value: str) -> str:
    return value.rstrip(".").lower()


Network = Callable[[str, int], tuple[str, int]]
"""(FQDN or IP, port) -> (127.0.0.1 address, port) the emulator connects to; raises ``LookupError`` for a name
with no local server (the checker then sees a connection failure, as for an unreachable endpoint)."""


class Route53Emulator:
    """Health checkers, calculated/alarm/routing-control checks and failover answers over moto's Route 53."""

    def __init__(
        self,
        route53: Any,
        *,
        network: Network,
        control: Any | None = None,
        cloudwatch: Callable[[str], Any],
        routing_controls: RoutingControls | None = None,
        checker_regions: Sequence[str] = DEFAULT_CHECKER_REGIONS,
        time_scale: float = 1.0,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if len(checker_regions) < 3:
            raise ValueError("checker_regions: Route 53 needs at least three health-checking Regions")
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.route53 = route53  # reads (the data plane's view of what is stored)
        self.control = control if control is not None else route53  # CreateHealthCheck, UpdateHealthCheck
        self.network = network
        self.cloudwatch = cloudwatch
        self.routing_controls = routing_controls or RoutingControls()
        self.checker_regions = tuple(checker_regions)
        self.time_scale = time_scale
        self.clock = clock
        self._random = random.Random(seed)
        self._lock = threading.RLock()
        self._checks: dict[str, CheckState] = {}
        self._extra: dict[str, dict[str, Any]] = {}  # what moto drops, by check id
        self._alarm_copies: dict[str, dict[str, Any]] = {}
        self._zones: list[Zone] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._loaded_at = -math.inf
        self.probes = 0
        self.evaluations = 0

    # --- control plane: creation keeps what AWS stores and moto drops ------------------------------------------

    def create_health_check(self, config: Mapping[str, Any], caller_reference: str | None = None) -> str:
        """moto's ``CreateHealthCheck``, then AWS's stored extras: the alarm identifier with a copy of the alarm's
        settings (read now, as Route 53 does), ``InsufficientDataHealthStatus`` and ``RoutingControlArn``."""
        created = self.control.create_health_check(
            CallerReference=caller_reference or uuid.uuid4().hex, HealthCheckConfig=dict(config)
        )["HealthCheck"]
        check_id = str(created["Id"])
        self._remember(check_id, config)
        return check_id

    def update_health_check(self, check_id: str, **changes: Any) -> None:
        """moto's ``UpdateHealthCheck``; an alarm check re-copies the alarm's settings (the documented deploy step
        after an alarm changes)."""
        self.control.update_health_check(HealthCheckId=check_id, **changes)
        merged = {**self._extra.get(check_id, {}), **changes}
        self._remember(check_id, merged)
        with self._lock:
            self._loaded_at = -math.inf

    def _remember(self, check_id: str, config: Mapping[str, Any]) -> None:
        extra = {
            key: config[key]
            for key in ("AlarmIdentifier", "InsufficientDataHealthStatus", "RoutingControlArn", "Type")
            if key in config
        }
        self._extra[check_id] = extra
        alarm = extra.get("AlarmIdentifier")
        if alarm:
            self._alarm_copies[check_id] = self._copy_alarm(alarm)

    def _copy_alarm(self, identifier: Mapping[str, Any]) -> dict[str, Any]:
        alarms = self.cloudwatch(str(identifier["Region"])).describe_alarms(AlarmNames=[identifier["Name"]])
        found = alarms["MetricAlarms"]
        if not found:
            raise ValueError(f"AlarmIdentifier names no alarm {identifier['Name']} in {identifier['Region']}")
        alarm = found[0]
        copy = {key: alarm[key] for key in ALARM_COPY_KEYS if key in alarm}
        copy["Region"] = identifier["Region"]
        return copy

    # --- reading moto -------------------------------------------------------------------------------------------

    def load(self) -> None:
        """Re-read zones, records and checks from moto. A check keeps its checkers' views while its config is
        unchanged; a new or replaced check starts with none (healthy)."""
        checks: dict[str, dict[str, Any]] = {}
        for page in self._pages("list_health_checks", "HealthChecks"):
            for check in page:
                config = {k: v for k, v in check["HealthCheckConfig"].items() if v is not None}
                config.update(self._extra.get(check["Id"], {}))
                checks[check["Id"]] = config
        zones = []
        for page in self._pages("list_hosted_zones", "HostedZones"):
            for zone in page:
                zones.append(self._zone(zone))
        now = self.clock()
        with self._lock:
            kept: dict[str, CheckState] = {}
            for check_id, config in checks.items():
                current = self._checks.get(check_id)
                if current is not None and current.config == config:
                    current.alarm_copy = self._alarm_copies.get(check_id)  # re-copied by UpdateHealthCheck
                    kept[check_id] = current
                    continue
                state = CheckState(check_id, config, alarm_copy=self._alarm_copies.get(check_id))
                if state.type in ENDPOINT_TYPES:
                    interval = self._interval(state)
                    regions = config.get("Regions") or self.checker_regions
                    state.checkers = [
                        Checker(region, next_due=now + self._random.uniform(0, interval)) for region in regions
                    ]
                kept[check_id] = state
            self._checks = kept
            self._zones = zones
            self._loaded_at = now

    def _pages(self, operation: str, key: str) -> Iterator[list[dict[str, Any]]]:
        # moto pages these with Marker/NextMarker; follow them until IsTruncated is false.
        marker: str | None = None
        while True:
            response = getattr(self.route53, operation)(**({"Marker": marker} if marker else {}))
            yield response.get(key, [])
            if not response.get("IsTruncated") or not response.get("NextMarker"):
                return
            marker = response["NextMarker"]

    def _zone(self, zone: Mapping[str, Any]) -> Zone:
        detail = self.route53.get_hosted_zone(Id=zone["Id"])
        name_servers = tuple(detail.get("DelegationSet", {}).get("NameServers", ()))
        records: list[Record] = []
        paginator = self.route53.get_paginator("list_resource_record_sets")
        for page in paginator.paginate(HostedZoneId=zone["Id"]):
            for record in page["ResourceRecordSets"]:
                records.append(
                    Record(
                        name=_name(record["Name"]),
                        type=record["Type"],
                        ttl=int(record.get("TTL", 300)),
                        values=tuple(r["Value"] for r in record.get("ResourceRecords", [])),
                        set_identifier=record.get("SetIdentifier"),
                        failover=record.get("Failover"),
                        health_check_id=record.get("HealthCheckId"),
                    )
                )
        return Zone(str(zone["Id"]).rsplit("/", 1)[-1], _name(zone["Name"]), name_servers, tuple(records))

    # --- the checkers -------------------------------------------------------------------------------------------

    def _interval(self, state: CheckState) -> float:
        return float(state.config.get("RequestInterval") or 30) / self.time_scale

    def start(self) -> Route53Emulator:
        self.load()
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="r53-checker")
        self._thread = threading.Thread(target=self._run, name="r53-scheduler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> Route53Emulator:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        assert self._pool is not None
        in_flight: set[tuple[str, str]] = set()
        while not self._stop.is_set():
            now = self.clock()
            if now - self._loaded_at >= RELOAD_SECONDS:
                try:
                    self.load()
                except Exception as error:  # moto restarting: keep answering from the last view, as AWS's DNS does
                    log.warning("route53 emulator: reload failed: %s", error)
            due: list[tuple[CheckState, Checker]] = []
            alarms: list[CheckState] = []
            with self._lock:
                for state in self._checks.values():
                    if state.type == "CLOUDWATCH_METRIC" and state.next_evaluation <= now:
                        state.next_evaluation = now + ALARM_EVALUATION_SECONDS / self.time_scale
                        alarms.append(state)
                    for checker in state.checkers:
                        if checker.next_due <= now and (state.id, checker.region) not in in_flight:
                            due.append((state, checker))
                            checker.next_due += self._interval(state)
                            if checker.next_due < now:  # fell behind (slow probes): no burst of catch-up probes
                                checker.next_due = now + self._interval(state)
            for state, checker in due:
                key = (state.id, checker.region)
                in_flight.add(key)
                self._pool.submit(self._probe_and_record, state, checker, key, in_flight)
            for state in alarms:
                self._pool.submit(self._evaluate_alarm, state)
            self._stop.wait(0.02)

    def _probe_and_record(
        self, state: CheckState, checker: Checker, key: tuple[str, str], in_flight: set[tuple[str, str]]
    ) -> None:
        try:
            healthy = probe_endpoint(state.config, self.network)
            with self._lock:
                checker.observe(healthy, int(state.config.get("FailureThreshold") or 3))
                self.probes += 1
        finally:
            in_flight.discard(key)

    def _evaluate_alarm(self, state: CheckState) -> None:
        verdict = None if state.alarm_copy is None else self._metric_verdict(state.alarm_copy)
        with self._lock:
            state.metric_verdict = verdict
            if verdict is not None:
                state.last_known = verdict
            self.evaluations += 1

    def evaluate_alarms_now(self) -> None:
        """Evaluate every alarm check once, synchronously (tests, and a freshly loaded emulator)."""
        with self._lock:
            states = [state for state in self._checks.values() if state.type == "CLOUDWATCH_METRIC"]
        for state in states:
            self._evaluate_alarm(state)

    # --- status -------------------------------------------------------------------------------------------------

    def status(self, check_id: str) -> bool:
        """Whether Route 53 considers the check healthy now."""
        with self._lock:
            return self._status(check_id, depth=0)

    def _status(self, check_id: str, depth: int) -> bool:
        if depth > 10:
            raise ValueError("calculated health checks nest too deep")
        state = self._checks.get(check_id)
        if state is None:
            return True  # a record naming a deleted check: Route 53 treats it as healthy
        if state.config.get("Disabled"):
            raw = True  # a disabled check is considered healthy (Inverted still applies)
        elif state.type in ENDPOINT_TYPES:
            if not any(checker.verdict is not None for checker in state.checkers):
                return True  # a new check, no checker has reported yet: healthy, inverted or not
            raw = self._endpoint_status(state)
        elif state.type == "CALCULATED":
            children = state.config.get("ChildHealthChecks") or []
            healthy = sum(1 for child in children if self._status(child, depth + 1))
            raw = healthy >= int(state.config.get("HealthThreshold") or 0)
        elif state.type == "CLOUDWATCH_METRIC":
            raw = self._alarm_status(state)
        elif state.type == "RECOVERY_CONTROL":
            raw = self.routing_controls.state(str(state.config.get("RoutingControlArn")))
        else:
            raise ValueError(f"health check {check_id}: type {state.type} is not emulated")
        return raw != state.inverted

    def _endpoint_status(self, state: CheckState) -> bool:
        verdicts = [checker.verdict for checker in state.checkers if checker.verdict is not None]
        return sum(verdicts) / len(state.checkers) > HEALTHY_SHARE

    def _alarm_status(self, state: CheckState) -> bool:
        if state.metric_verdict is not None:
            return state.metric_verdict
        insufficient = str(state.config.get("InsufficientDataHealthStatus") or "LastKnownStatus")
        if insufficient == "Healthy":
            return True
        if insufficient == "Unhealthy":
            return False
        return True if state.last_known is None else state.last_known  # a new check has no last status: healthy

    def _metric_verdict(self, copy: Mapping[str, Any]) -> bool | None:
        """The alarm's rule on the metric data over its evaluation periods: unhealthy when every datapoint there
        breaches; None (insufficient data) when there is none."""
        period = float(copy["Period"]) / self.time_scale
        window = period * int(copy["EvaluationPeriods"])
        end = datetime.now(UTC)
        try:
            points = self.cloudwatch(str(copy["Region"])).get_metric_statistics(
                Namespace=copy["Namespace"],
                MetricName=copy["MetricName"],
                Dimensions=[{"Name": d["Name"], "Value": d["Value"]} for d in copy.get("Dimensions", [])],
                StartTime=end - timedelta(seconds=window),
                EndTime=end + timedelta(seconds=1),
                Period=max(60, int(copy["Period"])),
                Statistics=[copy["Statistic"]],
            )["Datapoints"]
        except Exception as error:  # the metric's Region unreachable: CloudWatch has no data for Route 53
            log.info("route53 emulator: metric read failed: %s", error)
            return None
        if not points:
            return None
        breaches = BREACHES[str(copy["ComparisonOperator"])]
        values = [float(point[copy["Statistic"]]) for point in points]
        return not all(breaches(value, float(copy["Threshold"])) for value in values)

    # --- answers ------------------------------------------------------------------------------------------------

    def zones(self) -> list[Zone]:
        with self._lock:
            return list(self._zones)

    def zone_for(self, name: str) -> Zone | None:
        wanted = _name(name)
        best: Zone | None = None
        for zone in self.zones():
            if (wanted == zone.name or wanted.endswith("." + zone.name)) and (
                best is None or len(zone.name) > len(best.name)
            ):
                best = zone
        return best

    def answer(self, name: str, record_type: str) -> tuple[Zone | None, list[Record]]:
        """The records Route 53 answers for (name, type): failover records by their checks, a CNAME at the name
        for any type. Returns (zone, records); no zone: not authoritative."""
        zone = self.zone_for(name)
        if zone is None:
            return None, []
        wanted = _name(name)
        at_name = [record for record in zone.records if record.name == wanted]
        for kind in (record_type, "CNAME"):
            matching = [record for record in at_name if record.type == kind]
            if matching:
                return zone, self._choose(matching)
        return zone, []

    def _choose(self, records: list[Record]) -> list[Record]:
        failover = {record.failover: record for record in records if record.failover}
        if not failover:
            return records
        primary, secondary = failover.get("PRIMARY"), failover.get("SECONDARY")
        healthy = {
            role: record.health_check_id is None or self.status(record.health_check_id)
            for role, record in failover.items()
        }
        if primary is not None and healthy.get("PRIMARY"):
            return [primary]
        if secondary is not None and healthy.get("SECONDARY"):
            return [secondary]
        return [primary] if primary is not None else []  # both unhealthy: Route 53 answers with the PRIMARY

    def wait_for_probes(self, count: int, timeout: float) -> bool:
        """Test helper: wait until the checkers have made ``count`` more probes."""
        target = self.probes + count
        deadline = self.clock() + timeout
        while self.clock() < deadline:
            if self.probes >= target:
                return True
            time.sleep(0.01)
        return False


def probe_endpoint(config: Mapping[str, Any], network: Network) -> bool:
    """One checker's request to an endpoint check's target, with Route 53's limits (not scaled: they bound a
    single request, not the schedule). Any failure to connect or answer in time is unhealthy."""
    kind = str(config["Type"])
    host = str(config.get("FullyQualifiedDomainName") or config.get("IPAddress"))
    port = int(config.get("Port") or (443 if kind.startswith("HTTPS") else 80))
    try:
        address, local_port = network(host, port)
    except LookupError:
        return False
    if kind == "TCP":
        try:
            with socket.create_connection((address, local_port), timeout=TCP_CONNECT_SECONDS):
                return True
        except OSError:
            return False
    connection = http.client.HTTPConnection(address, local_port, timeout=HTTP_CONNECT_SECONDS)
    try:
        connection.connect()
        assert connection.sock is not None
        connection.sock.settimeout(HTTP_RESPONSE_SECONDS)
        connection.putrequest("GET", str(config.get("ResourcePath") or "/"), skip_host=True)
        connection.putheader("Host", host)  # the FQDN, as with EnableSNI
        connection.putheader("User-Agent", "Amazon-Route53-Health-Check-Service (emulated)")
        connection.endheaders()
        response = connection.getresponse()
        if not 200 <= response.status < 400:
            return False
        if kind.endswith("STR_MATCH"):
            body = response.read(STRING_MATCH_BYTES)
            return str(config.get("SearchString", "")).encode() in body
        return True
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()
