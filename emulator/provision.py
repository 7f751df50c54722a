"""The local stack for the rehearsal: what ``drctl drill --local`` drills, provisioned into the two-Region emulator.

``rehearsal_stack(targets, time_scale=N)`` starts, on 127.0.0.1 only:

- the emulator (``emulator.regions.Emulator``: moto behind one proxy per Region), with this process's environment
  pointed at it (``DR_REGION_ENDPOINTS``, fake credentials) for as long as the stack runs;
- the stack's buckets, tables, reports bucket and each site's lock table, by the drill's own provisioning
  (``handlers.cli.drill_stack.provision``), and each site's application settings (``active-region``,
  ``active-bucket/<logical>``, ``active-epoch``) naming the primary, in both Regions, plus its descriptor at
  ``/dr/<app>/site/<name>`` in the recovery Region (what the orchestrator's Lambda reads);
- each site's Route 53 zone, switch alarms, health checks and failover records from
  ``stackmodel.site.route53_plan`` (the same plan the component deploys) through moto's Route 53 and CloudWatch
  APIs, in us-east-1 (Route 53's control plane);
- the emulated Route 53 data plane (``emulator.route53``) reading them back, and the zone's name servers
  (``emulator.dns``), each on its own port;
- one HTTP server per Region standing for the site's endpoint there (``/health`` answers 200 while the Region is
  available, 503 once it is lost), and the switch endpoint: the function URL's host served by a local HTTP server
  that hands each request, as a function URL payload v2.0 event, to
  ``handlers.failover.switch_endpoint.lambda_handler`` invoked through ``emulator.functions`` with its configured
  timeout (unreachable while the recovery Region is lost).

Host names (the endpoints' hosts and the function URL's) reach these servers through ``HostMap``, which the
emulated checkers and the workload use in place of the OS resolver; no name is ever looked up outside.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import http.server
import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from emulator.dns import CachingResolver, NameServers
from emulator.regions import Emulator
from emulator.route53 import DEFAULT_CHECKER_REGIONS, Route53Emulator, RoutingControls
from handlers.drills.model import SiteTarget, StackTargets
from stackmodel.site import SWITCH_FUNCTION_TIMEOUT_SECONDS, Route53Plan, route53_plan

ROUTE53_REGION = "us-east-1"  # Route 53's control plane
LOOPBACK = "127.0.0.1"
FUNCTION_URL_DOMAIN = "lambda-url.{region}.on.aws"

Invoke = Callable[[dict[str, Any]], Mapping[str, Any]]


class HostMap:
    """Host name -> local port: how the emulator's clients (checkers, workload) reach a host's server."""

    def __init__(self) -> None:
        self._hosts: dict[str, int] = {}
        self._lock = threading.Lock()

    def add(self, host: str, port: int) -> None:
        with self._lock:
            self._hosts[host.rstrip(".").lower()] = port

    def __call__(self, host: str, _port: int = 0) -> tuple[str, int]:
        with self._lock:
            port = self._hosts.get(host.rstrip(".").lower())
        if port is None:
            raise LookupError(f"{host} has no local server (the rehearsal contacts nothing outside 127.0.0.1)")
        return LOOPBACK, port

    def url(self, host: str, path: str = "/") -> str:
        address, port = self(host)
        return f"http://{address}:{port}{path}"


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # a checker that hung up early (it reads the status line only) is not an error


@contextlib.contextmanager
def serving(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[int]:
    server = _Server((LOOPBACK, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def regional_endpoint(emulator: Emulator, region: str) -> type[http.server.BaseHTTPRequestHandler]:
    """The site's endpoint in ``region``: 200 while the Region is available, 503 once it is lost."""

    class Endpoint(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            available = emulator.is_available(region)
            body = f"{'ok' if available else 'region lost'} {region}\n".encode()
            self.send_response(200 if available else 503)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("x-dr-region", region)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            return

    return Endpoint


def function_url_event(method: str, path: str, host: str, headers: Mapping[str, str]) -> dict[str, Any]:
    """A Lambda function URL request (payload format 2.0) as Lambda builds it for ``method path``."""
    raw_path, _, query = path.partition("?")
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": query,
        "headers": {key.lower(): value for key, value in headers.items()},
        "requestContext": {
            "domainName": host,
            "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": LOOPBACK},
            "requestId": os.urandom(8).hex(),
        },
        "isBase64Encoded": False,
    }


def switch_endpoint(
    emulator: Emulator, region: str, host: str, invoke: Invoke
) -> type[http.server.BaseHTTPRequestHandler]:
    """The switch function's URL: each request becomes a function URL event for ``invoke``; while the recovery
    Region is lost the connection is dropped (its function URLs are gone)."""

    class Switch(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        invocations = 0

        def do_GET(self) -> None:
            if not emulator.is_available(region):
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(2)
                return
            Switch.invocations += 1
            try:
                response = invoke(function_url_event("GET", self.path, host, dict(self.headers)))
            except Exception as error:  # the function failed: Lambda answers 502 to a function URL client
                response = {"statusCode": 502, "body": f"function error: {type(error).__name__}"}
            body = str(response.get("body") or "").encode()
            self.send_response(int(response.get("statusCode", 200)))
            for key, value in (response.get("headers") or {}).items():
                self.send_header(key, str(value))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            return

    return Switch


SWITCH_HANDLER = "handlers.failover.switch_endpoint:lambda_handler"


# Warm execution environments of the switch function kept locally; requests beyond them wait for one. (Deployed it
# reserves switchReservedConcurrency, 10 by default; here every environment is a Python process on shared cores.)
LOCAL_SWITCH_CONCURRENCY = 2


def function_switch(emulator: Emulator, region: str, lock_table: str) -> Invoke:
    """The switch function invoked as Lambda would (``emulator.functions``: a warm worker process per concurrent
    request, killed at the function's timeout), in ``region`` with its lock table. It builds its DynamoDB client
    with boto3 alone (the function ships no ``handlers.aws``), so the Region's endpoint is given the way botocore
    reads it for one service (``AWS_ENDPOINT_URL_DYNAMODB``)."""
    from emulator.functions import default_runner, invoke

    env = {
        **emulator.environment(),
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ENDPOINT_URL_DYNAMODB": emulator.endpoint(region),
        "LOCK_TABLE": lock_table,
    }

    default_runner().prewarm(
        SWITCH_HANDLER, env=env, count=LOCAL_SWITCH_CONCURRENCY, timeout_seconds=SWITCH_FUNCTION_TIMEOUT_SECONDS
    )
    slots = threading.BoundedSemaphore(LOCAL_SWITCH_CONCURRENCY)

    def call(event: dict[str, Any]) -> Mapping[str, Any]:
        with slots:
            result = invoke(SWITCH_HANDLER, event, timeout_seconds=SWITCH_FUNCTION_TIMEOUT_SECONDS, env=env)
        if result.outcome != "ok" or not isinstance(result.payload, Mapping):
            raise RuntimeError(f"switch function {result.outcome}: {result.payload}")
        return result.payload

    return call


@dataclass
class LocalSite:
    """One site as provisioned locally."""

    name: str
    target: SiteTarget  # its descriptor points at the local servers
    plan: Route53Plan
    zone_id: str
    zone_name: str
    check_ids: dict[str, str]
    name_servers: NameServers | None = None

    @property
    def descriptor(self) -> Mapping[str, Any]:
        return self.target.descriptor

    @property
    def record_name(self) -> str:
        return str(self.descriptor["recordName"])


@dataclass
class RehearsalStack:
    emulator: Emulator
    targets: StackTargets  # sites carry their local descriptors
    route53: Route53Emulator
    network: HostMap
    sites: list[LocalSite]
    time_scale: float
    environment: dict[str, str] = field(default_factory=dict)

    def site(self, name: str) -> LocalSite:
        return next(site for site in self.sites if site.name == name)

    def function_environment(self, site: LocalSite) -> dict[str, str]:
        """What a runtime function of ``site`` gets: the emulator's endpoints, the zone's name servers, the time
        scale, its Region and its site descriptor's parameter."""
        env = {
            **self.environment,
            "AWS_REGION": str(site.descriptor["recoveryRegion"]),
            "AWS_DEFAULT_REGION": str(site.descriptor["recoveryRegion"]),
            "SITE_PARAMETER": f"/dr/{site.descriptor['app']}/site/{site.name}",
            "LOCK_TABLE": str(site.descriptor["lockTable"]),
            "POWERTOOLS_LOG_LEVEL": "WARNING",  # the report says what happened; the rounds' logs would drown it
        }
        if site.name_servers is not None:
            env["DR_DNS_NAMESERVERS"] = site.name_servers.environment_value()
        return env

    def resolver(self, site: LocalSite) -> CachingResolver:
        """A caching resolver (the application's) in front of the site's name servers."""
        assert site.name_servers is not None
        return CachingResolver(site.name_servers.addresses(), time_scale=self.time_scale)


def zone_name_for(record_name: str) -> str:
    """The hosted zone the record lives in: the record's parent domain (the config names the zone by id only)."""
    labels = record_name.rstrip(".").split(".")
    return ".".join(labels[1:]) if len(labels) > 2 else ".".join(labels)


def local_descriptor(
    descriptor: Mapping[str, Any], *, network: HostMap, lock_table: str | None = None
) -> dict[str, Any]:
    """The descriptor with each endpoint's URL pointing at its local server (hosts unchanged: checks and records
    keep naming them, and ``network`` maps them)."""
    local = json.loads(json.dumps(descriptor))  # a deep copy of plain data
    for role in ("primary", "secondary"):
        endpoint = local[role]
        local[role] = {**endpoint, "url": network.url(endpoint["host"], endpoint.get("path", "/health"))}
    if lock_table:
        local["lockTable"] = lock_table
    return local


# The descriptor's time values the runtime reads (handlers/failover: probe interval, TTL, failback hold-down, and the
# budget's terms for the DNS confirmation and the failback's hold); the runtime's own constants (run, round budget,
# poll, lease) are divided by DR_TIME_SCALE in the runtime.
SCALED_SECONDS = ("probeIntervalSeconds", "ttlSeconds")
SCALED_MINUTES = ("healthyMinutesBeforeFailback",)


def runtime_descriptor(descriptor: Mapping[str, Any], time_scale: float) -> dict[str, Any]:
    """The descriptor the runtime reads in the scaled profile: its time values divided by ``time_scale`` (the
    runtime reads them as floats, ``handlers/failover/site.py``), never rounded."""
    scaled = json.loads(json.dumps(descriptor))
    if time_scale == 1:
        return scaled
    if time_scale <= 0:
        raise ValueError(f"time scale must be positive, not {time_scale:g}")

    def divide(value: Any) -> float:
        result = float(value) / time_scale
        return int(result) if result.is_integer() else result

    for key in (*SCALED_SECONDS, *SCALED_MINUTES):
        scaled[key] = divide(scaled[key])
    scaled["budget"] = {
        key: divide(value) if key.endswith("Seconds") else value for key, value in (scaled.get("budget") or {}).items()
    }
    return scaled


def provision_route53(
    route53: Route53Emulator, client: Callable[[str, str], Any], descriptor: Mapping[str, Any], plan: Route53Plan
) -> tuple[str, str, dict[str, str]]:
    """The plan on moto, as the component deploys it: zone, switch alarms (in their Region), checks (children
    first, by logical name), failover records. Returns (zone id, zone name, check ids by logical name)."""
    control = client("route53", ROUTE53_REGION)
    zone_name = zone_name_for(str(descriptor["recordName"]))
    existing = {
        zone["Name"].rstrip("."): zone["Id"].rsplit("/", 1)[-1] for zone in control.list_hosted_zones()["HostedZones"]
    }
    zone_id = (
        existing.get(zone_name)
        or control.create_hosted_zone(Name=zone_name, CallerReference=f"rehearsal-{zone_name}")["HostedZone"][
            "Id"
        ].rsplit("/", 1)[-1]
    )
    for alarm in plan.alarms:
        region = next(
            check.config["AlarmIdentifier"]["Region"]
            for check in plan.checks
            if check.config.get("AlarmIdentifier", {}).get("Name") == alarm.config["AlarmName"]
        )
        client("cloudwatch", region).put_metric_alarm(**alarm.config)
    ids: dict[str, str] = {}
    pending = list(plan.checks)
    while pending:
        ready = [c for c in pending if all(child in ids for child in c.config.get("ChildHealthChecks", []))]
        if not ready:
            raise ValueError(f"route53 plan: children never defined for {[c.logical for c in pending]}")
        for check in ready:
            config = dict(check.config)
            if "ChildHealthChecks" in config:
                config["ChildHealthChecks"] = [ids[child] for child in config["ChildHealthChecks"]]
            ids[check.logical] = route53.create_health_check(
                config, caller_reference=f"{descriptor['name']}-{check.logical}"
            )
            pending.remove(check)
    changes = [{"Action": "UPSERT", "ResourceRecordSet": record.resource_record_set(ids)} for record in plan.records]
    control.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})
    return zone_id, zone_name, ids


def write_settings(client: Callable[[str, str], Any], descriptor: Mapping[str, Any], time_scale: float = 1.0) -> None:
    """The application's settings as the stack declares them, naming the primary, in both Regions; and the
    descriptor where the orchestrator reads it (``runtime_descriptor``: scaled)."""
    primary, recovery = str(descriptor["primaryRegion"]), str(descriptor["recoveryRegion"])
    parameters = descriptor["parameters"]
    values = {parameters["activeRegion"]: primary}
    for bucket in descriptor.get("buckets", []):
        values[parameters["activeBuckets"][bucket["logical"]]] = bucket["primary"]
    values[f"/dr/{descriptor['app']}/active-epoch"] = "0"
    for region in (primary, recovery):
        ssm = client("ssm", region)
        for name, value in values.items():
            ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
    client("ssm", recovery).put_parameter(
        Name=f"/dr/{descriptor['app']}/site/{descriptor['name']}",
        Value=json.dumps(runtime_descriptor(descriptor, time_scale)),
        Type="String",
        Tier="Advanced",  # the component's tier: a descriptor over 4 KB
        Overwrite=True,
    )


@contextlib.contextmanager
def process_environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def regions_of(targets: StackTargets) -> list[str]:
    regions = [targets.primary_region, targets.recovery_region, ROUTE53_REGION]
    for table in targets.tables or ():
        regions += [table.region, *table.replica_regions]
    for bucket in targets.buckets:
        regions += [bucket.primary_region] + ([bucket.replica_region] if bucket.replica_region else [])
    return list(dict.fromkeys(regions))


@contextlib.contextmanager
def rehearsal_stack(
    targets: StackTargets,
    *,
    time_scale: float = 1.0,
    checker_regions: tuple[str, ...] = DEFAULT_CHECKER_REGIONS,
    switch_invoke: Callable[[Emulator, str, str], Invoke] = function_switch,
    routing_controls: RoutingControls | None = None,
    emulator: Emulator | None = None,
    witness_regions: Sequence[str] = (),
) -> Iterator[RehearsalStack]:
    """Everything the rehearsal runs on (module docstring), stopped and the environment restored afterwards."""
    from handlers.cli.drill_stack import provision

    owned = emulator is None
    # moto in its own process: the checkers, name servers, proxies and workload share this one (GUIDE: faster)
    emulator = emulator or Emulator([*regions_of(targets), *witness_regions], separate_process=True)
    if owned:
        emulator.start()
    with contextlib.ExitStack() as stack:
        if owned:
            stack.callback(emulator.stop)
        environment = {**emulator.environment(), "DR_TIME_SCALE": f"{time_scale:g}"}
        stack.enter_context(process_environment(environment))
        stack.enter_context(_without("AWS_ENDPOINT_URL"))  # DR_REGION_ENDPOINTS decides, Region by Region
        network = HostMap()
        ports = {
            region: stack.enter_context(serving(regional_endpoint(emulator, region)))
            for region in dict.fromkeys([targets.primary_region, targets.recovery_region])
        }
        for site in targets.sites or ():
            network.add(site.descriptor["primary"]["host"], ports[site.descriptor["primaryRegion"]])
            network.add(site.descriptor["secondary"]["host"], ports[site.descriptor["recoveryRegion"]])
        client = functools.cache(lambda service, region: emulator.client(service, region))
        provision(targets, client)
        route53 = Route53Emulator(
            _direct_client(emulator, "route53"),  # the data plane reads the stored checks past the proxies
            control=client("route53", ROUTE53_REGION),  # changes go through us-east-1's control plane
            network=network,
            cloudwatch=functools.cache(lambda region: emulator.client("cloudwatch", region, max_attempts=1)),
            routing_controls=routing_controls,
            checker_regions=checker_regions,
            time_scale=time_scale,
        )
        sites: list[LocalSite] = []
        local_targets: list[SiteTarget] = []
        for target in targets.sites or ():
            descriptor = local_descriptor(target.descriptor, network=network)
            switches = [descriptor["switch"], (descriptor.get("drill") or {}).get("switch") or {}]
            # one function URL serves the site's switch and the drill record's (by path)
            for host in {switch["host"] for switch in switches if switch.get("kind") == "endpoint"}:
                invoke = switch_invoke(emulator, targets.recovery_region, str(descriptor["lockTable"]))
                handler = switch_endpoint(emulator, targets.recovery_region, host, invoke)
                network.add(host, stack.enter_context(serving(handler)))
            plan = route53_plan(descriptor)
            zone_id, zone_name, check_ids = provision_route53(route53, client, descriptor, plan)
            descriptor["hostedZoneId"] = zone_id
            write_settings(client, descriptor, time_scale)
            local = dataclasses.replace(target, descriptor=descriptor)
            local_targets.append(local)
            sites.append(LocalSite(target.name, local, plan, zone_id, zone_name, check_ids))
        stack.enter_context(_running(route53))
        for local_site in sites:
            servers = NameServers(route53, local_site.zone_name).start()
            stack.callback(servers.stop)
            local_site.name_servers = servers
        yield RehearsalStack(
            emulator=emulator,
            targets=dataclasses.replace(targets, sites=tuple(local_targets) if targets.sites is not None else None),
            route53=route53,
            network=network,
            sites=sites,
            time_scale=time_scale,
            environment=environment,
        )


@contextlib.contextmanager
def _running(route53: Route53Emulator) -> Iterator[None]:
    route53.start()
    try:
        yield
    finally:
        route53.stop()


@contextlib.contextmanager
def _without(key: str) -> Iterator[None]:
    saved = os.environ.pop(key, None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ[key] = saved


def _direct_client(emulator: Emulator, service: str) -> Any:
    """A client of moto itself, past the Region proxies (Route 53's data plane is global)."""
    import boto3

    session: Any = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", aws_session_token="testing"
    )
    return session.client(service, region_name=ROUTE53_REGION, endpoint_url=emulator.upstream)
