"""Regions as real fault domains over one moto server: one small HTTP proxy per Region on 127.0.0.1.

API (docs/design/failover-and-rehearsal.md §5)::

    with Emulator(["us-east-1", "us-west-2"]) as emulator:      # starts moto + one proxy per Region
        emulator.endpoint("us-west-2")        # "http://127.0.0.1:<port>"
        emulator.environment()                # {"DR_REGION_ENDPOINTS": json, fake credentials, ...}
        emulator.client("s3", "us-west-2")    # cached boto3 client through that Region's proxy, with the
                                              # runtime's config (handlers.aws.client_config(**kwargs));
                                              # upstream=True goes straight to moto (bookkeeping only)
        emulator.lose_region("us-east-1")     # every client of us-east-1 fails, whatever endpoint it uses
        emulator.is_available("us-east-1")    # False
        emulator.restore_region("us-east-1")  # back, with the data it had
        emulator.on_region_change(listener)   # listener(region, lost) after each lose/restore
        emulator.add_interceptor(hook)        # hook(request, forward) -> ProxiedResponse (the replicator's seam)
        emulator.bucket_region("b"), emulator.bucket_replication("b")   # as stored (see below)
        emulator.stats()                      # requests, refusals and proxy overhead per Region
    Emulator(regions, separate_process=True)  # moto as `python -m moto.server` (faster for long runs)

How a lost Region fails. moto (5.2.5) partitions differently from AWS: S3 has one bucket namespace per account
(``s3_backends[account]["aws"]``, each bucket carrying its ``region_name``) served from every endpoint, and
DynamoDB, SSM, CloudWatch, ... keep one backend per Region chosen by the request's SigV4 signing Region (so a
global table is one independent table of the same name per Region). The endpoint alone would not be a fault:

- its own endpoint resets every connection (what a client sees when a Region's endpoints are gone);
- through any other endpoint, a request whose **resource** lives in it answers 503 ``ServiceUnavailable``:
  S3 requests by the bucket's location (``GetBucketLocation``, cached; ``CreateBucket`` by its
  ``LocationConstraint``; a server-side copy by its source bucket's too), global services by their owner
  Region (``GLOBAL_SERVICE_OWNERS``: the Route 53 control plane and IAM in us-east-1), everything else
  (DynamoDB tables, SSM, CloudWatch, Lambda, ...) by the signing Region, which is where moto keeps the resource.

DynamoDB writes reach moto one at a time per Region (moto's conditional writes are not atomic; DynamoDB's are).
The emulated DNS data plane (emulator/dns.py) is not behind these proxies and keeps answering. Restoring a Region
reopens its endpoint; moto kept its data. Nothing but 127.0.0.1 is ever contacted: the upstream is the local moto
server and the proxies bind 127.0.0.1 only.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from xml.etree import ElementTree

LOOPBACK = "127.0.0.1"

# Global services and the Region that owns their control plane (Route 53: "the control plane ... is hosted in
# us-east-1", Route 53 Developer Guide, "Data plane and control plane"; IAM likewise).
GLOBAL_SERVICE_OWNERS: Mapping[str, str] = {
    "route53": "us-east-1",
    "route53domains": "us-east-1",
    "iam": "us-east-1",
    "cloudfront": "us-east-1",
    "organizations": "us-east-1",
}

# Header the emulator's own traffic carries (the replicator's reads and writes), so interceptors do not
# capture a replica write as a new application write. Never sent by the runtime.
EMULATOR_HEADER = "x-dr-emulator"

FAKE_CREDENTIALS = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
    "aws_session_token": "testing",
}
# moto checks a write's condition and then writes without a lock, so two concurrent conditional writes can both
# succeed, which DynamoDB never allows (conditional writes and transactions are atomic: Developer Guide,
# "Condition expressions", "TransactWriteItems"). The proxies send DynamoDB writes to moto one at a time per Region.
_DYNAMODB_WRITES = {
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "BatchWriteItem",
    "TransactWriteItems",
    "ExecuteStatement",
    "BatchExecuteStatement",
    "ExecuteTransaction",
}
_CREDENTIAL = re.compile(r"Credential=[^/\s,]+/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request")
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
}


@dataclass
class ProxiedRequest:
    """One request as the proxy received it, with where it is going in emulated AWS."""

    method: str
    path: str  # path and query, as sent
    headers: dict[str, str]  # lower-cased names
    body: bytes
    endpoint_region: str  # the proxy it came through
    signing_region: str | None
    service: str | None
    resource_region: str  # the Region whose loss fails it
    bucket: str | None = None  # S3 only

    @property
    def target(self) -> str | None:
        """``X-Amz-Target`` (JSON protocols, e.g. ``DynamoDB_20120810.PutItem``)."""
        return self.headers.get("x-amz-target")

    @property
    def from_emulator(self) -> bool:
        return EMULATOR_HEADER in self.headers

    @property
    def query(self) -> dict[str, list[str]]:
        return urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query, keep_blank_values=True)

    @property
    def key(self) -> str | None:
        """S3 object key (path-style addressing), or None for bucket-level requests."""
        if self.bucket is None:
            return None
        parts = urllib.parse.urlsplit(self.path).path.lstrip("/").split("/", 1)
        return urllib.parse.unquote(parts[1]) if len(parts) == 2 and parts[1] else None


@dataclass
class ProxiedResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((value for key, value in self.headers if key.lower() == lowered), None)


Forward = Callable[[], ProxiedResponse]
Interceptor = Callable[[ProxiedRequest, Forward], ProxiedResponse]


class RegionUnavailable(Exception):
    """Raised inside the emulator when work needs a lost Region (e.g. the replicator's own reads)."""

    def __init__(self, region: str) -> None:
        super().__init__(f"Region {region} is lost (emulated outage)")
        self.region = region


@dataclass
class _RegionStats:
    requests: int = 0
    refused: int = 0
    proxy_seconds: float = 0.0  # time in the proxy excluding the upstream round trip
    upstream_seconds: float = 0.0


@dataclass
class _Region:
    name: str
    server: ThreadingHTTPServer
    thread: threading.Thread
    stats: _RegionStats = field(default_factory=_RegionStats)


class Emulator:
    """One moto server and one proxy per Region on 127.0.0.1 (see the module docstring)."""

    def __init__(
        self,
        regions: Iterable[str],
        *,
        upstream: str | None = None,
        separate_process: bool = False,
        global_owners: Mapping[str, str] = GLOBAL_SERVICE_OWNERS,
    ) -> None:
        self.regions = tuple(dict.fromkeys(regions))
        if not self.regions:
            raise ValueError("regions: at least one Region is needed")
        self._upstream = upstream
        self._separate_process = separate_process
        self._global_owners = dict(global_owners)
        self._moto: Any = None
        self._moto_process: Any = None
        self._proxies: dict[str, _Region] = {}
        self._lost: set[str] = set()
        self._lock = threading.RLock()
        self._bucket_regions: dict[str, str] = {}
        self._replication: dict[str, bytes] = {}
        self._write_locks: dict[str, threading.Lock] = {}
        self._interceptors: list[Interceptor] = []
        self._loss_listeners: list[Callable[[str, bool], None]] = []
        self._local = threading.local()
        self._client_lock = threading.Lock()
        self._clients: dict[tuple[Any, ...], Any] = {}
        self._session: Any = None

    # lifecycle -----------------------------------------------------------------------------------------------

    def start(self) -> Emulator:
        if self._upstream is None:
            self._upstream = self._start_moto()
        for region in self.regions:
            server = _ProxyServer((LOOPBACK, 0), _ProxyHandler, emulator=self, region=region)
            thread = threading.Thread(target=server.serve_forever, name=f"proxy-{region}", daemon=True)
            thread.start()
            self._proxies[region] = _Region(region, server, thread)
        return self

    def stop(self) -> None:
        for proxy in self._proxies.values():
            proxy.server.shutdown()
            proxy.server.server_close()
        self._proxies.clear()
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        if self._moto_process is not None:
            self._moto_process.terminate()
            try:
                self._moto_process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # a busy server may ignore SIGTERM: never leave it behind
                self._moto_process.kill()
                self._moto_process.wait()
            self._moto_process = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _start_moto(self) -> str:
        if self._separate_process:
            import subprocess
            import sys

            with socket.socket() as probe:
                probe.bind((LOOPBACK, 0))
                port = probe.getsockname()[1]
            self._moto_process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            url = f"http://{LOOPBACK}:{port}"
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    with socket.create_connection((LOOPBACK, port), timeout=0.5):
                        return url
                except OSError:
                    time.sleep(0.1)
            raise RuntimeError("the moto server process did not start within 30 s")
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
        self._moto = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
        self._moto.start()
        host, port = self._moto.get_host_and_port()
        return f"http://{host}:{port}"

    # endpoints and clients ------------------------------------------------------------------------------------

    @property
    def upstream(self) -> str:
        if self._upstream is None:
            raise RuntimeError("the emulator is not started")
        return self._upstream

    def endpoint(self, region: str) -> str:
        try:
            port = self._proxies[region].server.server_address[1]
        except KeyError:
            raise KeyError(f"region: {region!r} is not emulated (emulated: {', '.join(self.regions)})") from None
        return f"http://{LOOPBACK}:{port}"

    def endpoints(self) -> dict[str, str]:
        return {region: self.endpoint(region) for region in self.regions}

    def environment(self) -> dict[str, str]:
        """Environment for a process (or function) that should reach emulated AWS only."""
        return {
            "DR_REGION_ENDPOINTS": json.dumps(self.endpoints()),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        }

    def client(
        self, service: str, region: str, *, emulator_traffic: bool = False, upstream: bool = False, **kwargs: Any
    ) -> Any:
        """A boto3 client through ``region``'s proxy, with the runtime's retry and timeout config
        (``handlers.aws.client_config(**kwargs)``). Cached per arguments: clients are thread-safe, and one
        botocore session loads each service model once (a fresh session costs ~0.5 s per client here).

        ``emulator_traffic`` marks the requests as the emulator's own (replica writes), which interceptors skip;
        ``upstream`` goes straight to moto, past the Region checks (the emulator's own bookkeeping only).
        """
        key = (service, region, emulator_traffic, upstream, tuple(sorted(kwargs.items())))
        with self._client_lock:
            cached = self._clients.get(key)
            if cached is not None:
                return cached
            import boto3
            import botocore.session

            from handlers.aws import client_config, send_md5_on_copies

            if self._session is None:
                self._session = boto3.session.Session(
                    botocore_session=botocore.session.get_session(),
                    **FAKE_CREDENTIALS,  # type: ignore[arg-type]
                )
            new_client = self._session.client(
                service,
                region_name=region,
                endpoint_url=self.upstream if upstream else self.endpoint(region),
                config=client_config(**kwargs),
            )
            if service == "s3":
                send_md5_on_copies(new_client)
            if emulator_traffic:
                mark_emulator_traffic(new_client)
            self._clients[key] = new_client
            return new_client

    # faults --------------------------------------------------------------------------------------------------

    def lose_region(self, region: str) -> None:
        self.endpoint(region)  # names the Region in the error when it is not emulated
        with self._lock:
            self._lost.add(region)
            listeners = list(self._loss_listeners)
        for listener in listeners:
            listener(region, True)

    def restore_region(self, region: str) -> None:
        self.endpoint(region)
        with self._lock:
            self._lost.discard(region)
            listeners = list(self._loss_listeners)
        for listener in listeners:
            listener(region, False)

    def is_available(self, region: str) -> bool:
        with self._lock:
            return region not in self._lost

    def lost_regions(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._lost)

    def require(self, region: str) -> None:
        """Raise RegionUnavailable when ``region`` is lost (for the emulator's own direct work)."""
        if not self.is_available(region):
            raise RegionUnavailable(region)

    def on_region_change(self, listener: Callable[[str, bool], None]) -> None:
        """``listener(region, lost)`` after every lose/restore (the replicator holds and releases work)."""
        with self._lock:
            self._loss_listeners.append(listener)

    def add_interceptor(self, interceptor: Interceptor) -> None:
        """Run ``interceptor(request, forward)`` around every request that passed the Region checks."""
        with self._lock:
            self._interceptors.append(interceptor)

    def remove_interceptor(self, interceptor: Interceptor) -> None:
        with self._lock:
            if interceptor in self._interceptors:
                self._interceptors.remove(interceptor)

    def remove_region_listener(self, listener: Callable[[str, bool], None]) -> None:
        with self._lock:
            if listener in self._loss_listeners:
                self._loss_listeners.remove(listener)

    def stats(self) -> dict[str, dict[str, float]]:
        return {
            region: {
                "requests": proxy.stats.requests,
                "refused": proxy.stats.refused,
                "proxy_seconds": round(proxy.stats.proxy_seconds, 6),
                "upstream_seconds": round(proxy.stats.upstream_seconds, 6),
                # what the proxy adds per request (parsing, Region checks, interceptors' own work, copying)
                "overhead_ms_per_request": round(
                    1000 * (proxy.stats.proxy_seconds - proxy.stats.upstream_seconds) / max(proxy.stats.requests, 1), 3
                ),
            }
            for region, proxy in self._proxies.items()
        }

    # locating resources --------------------------------------------------------------------------------------

    def bucket_region(self, bucket: str) -> str | None:
        """The bucket's location as moto stores it (cached; None when it does not exist)."""
        with self._lock:
            known = self._bucket_regions.get(bucket)
        if known is not None:
            return known
        response = self.upstream_request("GET", f"/{urllib.parse.quote(bucket)}?location", region=self.regions[0])
        if response.status != 200:
            return None
        root = ElementTree.fromstring(response.body)
        location = (root.text or "").strip() or "us-east-1"
        with self._lock:
            self._bucket_regions[bucket] = location
        return location

    def forget_bucket(self, bucket: str) -> None:
        with self._lock:
            self._bucket_regions.pop(bucket, None)

    def _locate(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes, endpoint: str
    ) -> tuple[str | None, str | None, str, str | None]:
        """(signing Region, service, resource Region, bucket) of a request."""
        signing_region, service = None, None
        match = _CREDENTIAL.search(headers.get("authorization", "")) or _CREDENTIAL.search(urllib.parse.unquote(path))
        if match:
            signing_region, service = match.group(1), match.group(2)
        if service in self._global_owners:
            return signing_region, service, self._global_owners[service], None
        if service == "s3":
            bucket = _path_bucket(path)
            if bucket is None:
                return signing_region, service, signing_region or endpoint, None
            split = urllib.parse.urlsplit(path)
            creating = method == "PUT" and split.path.strip("/") == bucket and not split.query
            if creating:
                location = _location_constraint(body) or "us-east-1"
                self.forget_bucket(bucket)
                return signing_region, service, location, bucket
            return signing_region, service, self.bucket_region(bucket) or signing_region or endpoint, bucket
        return signing_region, service, signing_region or endpoint, None

    def _copy_source_region(self, request: ProxiedRequest) -> str | None:
        """A server-side copy (CopyObject, UploadPartCopy) also needs its source bucket's Region."""
        source = request.headers.get("x-amz-copy-source") if request.service == "s3" else None
        if not source:
            return None
        bucket = urllib.parse.unquote(source).lstrip("/").split("/", 1)[0]
        try:
            return self.bucket_region(bucket)
        except Exception:
            return None

    # upstream ------------------------------------------------------------------------------------------------

    def upstream_request(
        self,
        method: str,
        path: str,
        *,
        region: str,
        service: str = "s3",
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> ProxiedResponse:
        """A request straight to moto, signed (unverified) for ``region``: the emulator's own bookkeeping only."""
        sent = {
            "authorization": (
                f"AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/{service}/aws4_request, "
                "SignedHeaders=host, Signature=0"
            ),
            **{name.lower(): value for name, value in (headers or {}).items()},
        }
        return self._send_upstream(method, path, sent, body)

    def _send_upstream(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> ProxiedResponse:
        split = urllib.parse.urlsplit(self.upstream)
        for attempt in range(2):
            connection = getattr(self._local, "connection", None)
            if connection is None:
                connection = http.client.HTTPConnection(split.hostname or LOOPBACK, split.port, timeout=60)
                self._local.connection = connection
            try:
                if connection.sock is None:
                    connection.connect()
                    connected: Any = connection.sock
                    connected.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                connection.request(method, path, body=body or None, headers=dict(headers))
                upstream = connection.getresponse()
                data = upstream.read()
                return ProxiedResponse(upstream.status, list(upstream.getheaders()), data)
            except (http.client.HTTPException, OSError):
                connection.close()
                self._local.connection = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _write_lock(self, region: str) -> threading.Lock:
        with self._lock:
            return self._write_locks.setdefault(region, threading.Lock())

    def _handle(self, request: ProxiedRequest) -> ProxiedResponse:
        headers = {name: value for name, value in request.headers.items() if name not in _HOP_BY_HOP}
        headers.pop(EMULATOR_HEADER, None)

        target = request.target or ""
        atomic = target.startswith("DynamoDB_") and target.rsplit(".", 1)[-1] in _DYNAMODB_WRITES

        def forward() -> ProxiedResponse:
            if atomic:
                with self._write_lock(request.signing_region or request.endpoint_region):
                    return self._send_upstream(request.method, request.path, headers, request.body)
            return self._send_upstream(request.method, request.path, headers, request.body)

        with self._lock:
            interceptors = list(self._interceptors)
        call: Forward = forward
        for interceptor in reversed(interceptors):
            call = _bind(interceptor, request, call)
        response = call()
        if request.service == "s3" and request.bucket and request.key is None and 200 <= response.status < 300:
            self._record_bucket_configuration(request)
        return response

    def _record_bucket_configuration(self, request: ProxiedRequest) -> None:
        bucket = request.bucket or ""
        with self._lock:
            if request.method == "DELETE" and not request.query:
                self._bucket_regions.pop(bucket, None)
                self._replication.pop(bucket, None)
            elif "replication" in request.query and request.method == "PUT":
                self._replication[bucket] = request.body
            elif "replication" in request.query and request.method == "DELETE":
                self._replication.pop(bucket, None)

    def bucket_replication(self, bucket: str) -> dict[str, Any] | None:
        """The bucket's replication configuration as the client stored it, in boto3's shape; None when absent.

        moto stores the whole configuration but its GetBucketReplication answers every rule with an empty prefix
        filter and ``DeleteMarkerReplication: Disabled`` (moto 5.2.5, ``S3Response.get_bucket_replication``),
        so the proxies keep the accepted PutBucketReplication body, and moto's answer is only the fall-back for
        a configuration written before the emulator started.
        """
        with self._lock:
            body = self._replication.get(bucket)
        if body is not None:
            return _replication_from_xml(body)
        if self._moto is not None:  # in-process moto: read what it stored (written past the proxies)
            return _replication_from_moto(bucket)
        response = self.upstream_request("GET", f"/{urllib.parse.quote(bucket)}?replication", region=self.regions[0])
        if response.status != 200:
            return None
        return _replication_from_xml(response.body)


_LIST_ELEMENTS = {"Rule", "Tag"}
_LEAF_ELEMENTS = {"Prefix", "ID", "Key", "Value", "Status", "Bucket", "Role", "StorageClass", "Account", "Priority"}


def _replication_from_xml(body: bytes) -> dict[str, Any]:
    """ReplicationConfiguration XML -> boto3's dict shape (``Rules`` and ``Tags`` as lists, Priority an int)."""

    def convert(element: ElementTree.Element) -> Any:
        children = list(element)
        if not children:
            text = (element.text or "").strip()
            # An empty container (``<Filter/>``: every object) is a dict; an empty leaf (``<Prefix/>``) a string.
            return text if text or element.tag.rsplit("}", 1)[-1] in _LEAF_ELEMENTS else {}
        result: dict[str, Any] = {}
        for child in children:
            name = child.tag.rsplit("}", 1)[-1]
            value = convert(child)
            if name == "Priority":
                value = int(value)
            if name in _LIST_ELEMENTS and not (name == "Tag" and element.tag.rsplit("}", 1)[-1] == "Filter"):
                plural = "Rules" if name == "Rule" else "Tags"
                result.setdefault(plural, []).append(value)
            else:
                result[name] = value
        return result

    converted = convert(ElementTree.fromstring(body))
    converted.setdefault("Rules", [])
    return dict(converted)


def _replication_from_moto(bucket: str) -> dict[str, Any] | None:
    """The configuration as an in-process moto stored it (xmltodict's shape) -> boto3's shape."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    try:
        stored = s3_backends[DEFAULT_ACCOUNT_ID]["aws"].get_bucket_replication(bucket)
    except Exception:
        return None
    if not stored:
        return None

    def listed(value: Any) -> list[Any]:
        return value if isinstance(value, list) else [value] if value is not None else []

    def normalised(value: Any, name: str = "") -> Any:
        if isinstance(value, dict):
            result: dict[str, Any] = {}
            for key, inner in value.items():
                if key == "Rule":
                    result["Rules"] = [normalised(rule) for rule in listed(inner)]
                elif key == "Tag" and name == "And":
                    result["Tags"] = [normalised(tag) for tag in listed(inner)]
                else:
                    result[key] = normalised(inner, key)
            return result
        if name == "Priority":
            return int(value)
        return "" if value is None else value

    converted = normalised(dict(stored))
    converted.setdefault("Rules", [])
    return dict(converted)


def _bind(interceptor: Interceptor, request: ProxiedRequest, inner: Forward) -> Forward:
    return lambda: interceptor(request, inner)


def _path_bucket(path: str) -> str | None:
    first = urllib.parse.urlsplit(path).path.lstrip("/").split("/", 1)[0]
    return urllib.parse.unquote(first) or None


def _location_constraint(body: bytes) -> str | None:
    if not body.strip():
        return None
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return None
    for element in root.iter():
        if element.tag.endswith("LocationConstraint"):
            return (element.text or "").strip() or None
    return None


def unavailable_response(request: ProxiedRequest, region: str) -> ProxiedResponse:
    """503 ServiceUnavailable in the request's protocol (S3/query XML or JSON), naming the lost Region."""
    message = f"Region {region} is unavailable (emulated outage)"
    if request.target is not None or "json" in request.headers.get("content-type", ""):
        body = json.dumps({"__type": "ServiceUnavailable", "message": message}).encode()
        content_type = "application/x-amz-json-1.0"
    elif request.service == "s3":
        body = f"<Error><Code>ServiceUnavailable</Code><Message>{message}</Message></Error>".encode()
        content_type = "application/xml"
    else:
        body = (
            "<ErrorResponse><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code>"
            f"<Message>{message}</Message></Error></ErrorResponse>"
        ).encode()
        content_type = "text/xml"
    return ProxiedResponse(503, [("Content-Type", content_type), ("Content-Length", str(len(body)))], body)


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type, *, emulator: Emulator, region: str) -> None:
        self.emulator = emulator
        self.region = region
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client that hung up first (a killed function, a timed-out probe) is not the proxy's error
        super().handle_error(request, client_address)


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ProxyServer

    def log_message(self, format: str, *args: Any) -> None:
        return

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in separate writes: without TCP_NODELAY, Nagle's algorithm and the client's
        # delayed ACK add ~40 ms to every request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _reset(self) -> None:
        """Close with RST: the endpoint is gone."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True

    def _serve(self) -> None:
        started = time.perf_counter()
        emulator, region = self.server.emulator, self.server.region
        stats = emulator._proxies[region].stats if region in emulator._proxies else _RegionStats()
        body = self._read_body()
        if not emulator.is_available(region):
            stats.refused += 1
            self._reset()
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            signing_region, service, resource_region, bucket = emulator._locate(
                self.command, self.path, headers, body, region
            )
        except Exception:  # the location lookup failed: judge the request by its endpoint alone
            signing_region, service, resource_region, bucket = None, None, region, None
        request = ProxiedRequest(
            self.command, self.path, headers, body, region, signing_region, service, resource_region, bucket
        )
        unavailable = next(
            (r for r in (resource_region, emulator._copy_source_region(request)) if r and not emulator.is_available(r)),
            None,
        )
        if unavailable is not None:
            stats.refused += 1
            response = unavailable_response(request, unavailable)
        else:
            try:
                with _timed(emulator) as upstream_timer:
                    response = emulator._handle(request)
            except Exception as error:  # any upstream failure is a 502 to the client
                body_text = f"emulator proxy error: {error}".encode()
                response = ProxiedResponse(502, [("Content-Length", str(len(body_text)))], body_text)
                upstream_timer = [0.0]
            stats.upstream_seconds += upstream_timer[0]
        self.send_response_only(response.status)
        for name, value in response.headers:
            if name.lower() in _HOP_BY_HOP or name.lower() in {"content-length", "date", "server"}:
                continue
            self.send_header(name, value)
        length = response.header("Content-Length") if self.command == "HEAD" else str(len(response.body))
        self.send_header("Content-Length", length or "0")
        self.end_headers()
        if self.command != "HEAD" and response.body:
            self.wfile.write(response.body)
        stats.requests += 1
        stats.proxy_seconds += time.perf_counter() - started

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = _serve


@contextmanager
def _timed(emulator: Emulator) -> Iterator[list[float]]:
    elapsed = [0.0]
    started = time.perf_counter()
    try:
        yield elapsed
    finally:
        elapsed[0] = time.perf_counter() - started


def mark_emulator_traffic(client: Any) -> None:
    """Tag every request of ``client`` as the emulator's own (replica writes are not captured again)."""

    def tag(request: Any, **_: Any) -> None:
        request.headers[EMULATOR_HEADER] = "1"

    client.meta.events.register("before-send", tag, unique_id="dr-emulator-traffic")
