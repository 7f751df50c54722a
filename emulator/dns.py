"""DNS for the rehearsal: Route 53's name servers answering from the emulated health checks, and a caching resolver.

- ``NameServers``: one authoritative server (dnspython, UDP) on a high port of 127.0.0.1 for each of a zone's
  delegated name servers (``GetHostedZone``'s ``DelegationSet``), all answering from one ``Route53Emulator``: the
  failover records by their checks' status, with the record's TTL (divided by the rehearsal's time scale, rounded
  up). The orchestrator and the switch-latency drill query them directly (``DR_DNS_NAMESERVERS``), as they query
  Route 53's name servers on AWS; nothing else answers, so no query leaves 127.0.0.1.
- ``CachingResolver``: what stands between an application and Route 53 on AWS. It keeps each answer for its TTL
  (so the workload keeps reaching the old Region until the TTL runs out, the budget's TTL term) and follows CNAMEs.
  The workload resolves through it and connects to the answer with the right ``Host``: the OS resolver would bypass
  the emulator.
"""

from __future__ import annotations

import logging
import math
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from emulator.route53 import Route53Emulator, Zone

log = logging.getLogger(__name__)

QUERY_TIMEOUT_SECONDS = 1.0
MAX_CNAME_CHAIN = 8
SOA_SERIAL = 1


@dataclass(frozen=True)
class Answer:
    type: str
    value: str
    ttl: int


class AuthoritativeServer:
    """One name server: UDP on 127.0.0.1, answers from the emulated Route 53 with the AA flag."""

    def __init__(self, route53: Route53Emulator, *, name: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.route53 = route53
        self.name = name
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind((host, port))
        self.socket.settimeout(0.2)
        self.queries = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"dns-{name}", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.socket.getsockname()[:2]
        return str(host), int(port)

    def start(self) -> AuthoritativeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.socket.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                wire, peer = self.socket.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                request = dns.message.from_wire(wire)
            except dns.exception.DNSException:
                continue  # not a DNS message: a name server drops it
            try:
                reply = self.respond(request)
            except Exception:  # answer SERVFAIL rather than leave the client waiting
                log.exception("dns %s: failed to answer", self.name)
                reply = dns.message.make_response(request)
                reply.set_rcode(dns.rcode.SERVFAIL)
            self.queries += 1
            with suppress(OSError):
                self.socket.sendto(reply.to_wire(), peer)

    def respond(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        response.flags &= ~dns.flags.RA  # an authoritative server, never recursive
        if not query.question:
            response.set_rcode(dns.rcode.FORMERR)
            return response
        question = query.question[0]
        qname = question.name.to_text(omit_final_dot=True)
        qtype = dns.rdatatype.to_text(question.rdtype)
        zone, records = self.route53.answer(qname, qtype)
        if zone is None:
            response.set_rcode(dns.rcode.REFUSED)  # not authoritative for it: Route 53 refuses
            return response
        response.flags |= dns.flags.AA
        if qtype == "NS" and qname.lower() == zone.name:
            response.answer.append(self._ns(zone))
            return response
        if qtype == "SOA" and qname.lower() == zone.name:
            response.answer.append(self._soa(zone))
            return response
        for record in records:
            rrset = dns.rrset.from_text_list(
                dns.name.from_text(record.name),
                record.ttl,
                dns.rdataclass.IN,
                dns.rdatatype.from_text(record.type),
                [self._absolute(record.type, value) for value in record.values],
            )
            response.answer.append(rrset)
        if not records:
            exists = any(r.name == qname.lower() for r in zone.records) or qname.lower() == zone.name
            if not exists:
                response.set_rcode(dns.rcode.NXDOMAIN)
            response.authority.append(self._soa(zone))
        return response

    @staticmethod
    def _absolute(record_type: str, value: str) -> str:
        if record_type in ("CNAME", "NS") and not value.endswith("."):
            return value + "."
        return value

    def _ns(self, zone: Zone) -> dns.rrset.RRset:
        return dns.rrset.from_text_list(
            dns.name.from_text(zone.name),
            172800,
            dns.rdataclass.IN,
            dns.rdatatype.NS,
            [self._absolute("NS", server) for server in zone.name_servers],
        )

    def _soa(self, zone: Zone) -> dns.rrset.RRset:
        primary = zone.name_servers[0] if zone.name_servers else f"ns.{zone.name}"
        # Route 53's SOA: negative-caching TTL 86400 by default.
        text = f"{self._absolute('NS', primary)} awsdns-hostmaster.amazon.com. {SOA_SERIAL} 7200 900 1209600 86400"
        return dns.rrset.from_text(dns.name.from_text(zone.name), 900, "IN", "SOA", text)


class NameServers:
    """The zone's delegated name servers, each an ``AuthoritativeServer`` on its own port of 127.0.0.1."""

    def __init__(self, route53: Route53Emulator, zone_name: str) -> None:
        zone = route53.zone_for(zone_name)
        if zone is None:
            raise LookupError(f"the emulated Route 53 has no hosted zone for {zone_name}: provision it first")
        names = zone.name_servers or (f"ns-1.{zone.name}",)
        self.zone = zone
        self.servers = {name: AuthoritativeServer(route53, name=name) for name in names}

    def start(self) -> NameServers:
        for server in self.servers.values():
            server.start()
        return self

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()

    def addresses(self) -> list[tuple[str, int]]:
        return [server.address for server in self.servers.values()]

    def environment_value(self) -> str:
        """``DR_DNS_NAMESERVERS``: ``host:port,...`` of every name server."""
        return ",".join(f"{host}:{port}" for host, port in self.addresses())

    @property
    def queries(self) -> int:
        return sum(server.queries for server in self.servers.values())


@contextmanager
def name_servers(route53: Route53Emulator, zone_name: str) -> Iterator[NameServers]:
    servers = NameServers(route53, zone_name).start()
    try:
        yield servers
    finally:
        servers.stop()


def query(name: str, record_type: str, server: tuple[str, int], timeout: float = QUERY_TIMEOUT_SECONDS) -> list[Answer]:
    """One non-recursive query to one name server; the answer section. ``OSError`` when it cannot answer."""
    request = dns.message.make_query(name, record_type)
    request.flags &= ~dns.flags.RD
    try:
        response = dns.query.udp(request, server[0], port=server[1], timeout=timeout)
    except (dns.exception.Timeout, dns.exception.DNSException) as error:
        raise OSError(f"name server {server[0]}:{server[1]} did not answer {name}: {error}") from None
    rcode = response.rcode()
    if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        raise OSError(f"name server {server[0]}:{server[1]} answered {dns.rcode.to_text(rcode)} for {name}")
    found: list[Answer] = []
    for rrset in response.answer:
        for rdata in rrset:
            found.append(Answer(dns.rdatatype.to_text(rrset.rdtype), rdata.to_text().rstrip("."), int(rrset.ttl)))
    return found


class CachingResolver:
    """A recursive resolver's cache in front of the name servers: each answer is kept for its TTL, CNAMEs are
    followed. Empty answers are not cached (a resolver would keep them for the SOA's negative TTL; the rehearsal
    never queries a name that does not exist). The name servers answer the stack's TTLs, as Route 53 does; in the
    scaled profile this cache keeps each answer for ``TTL / time_scale`` seconds, exactly (the wire carries whole
    seconds only)."""

    def __init__(
        self,
        nameservers: Sequence[tuple[str, int]],
        *,
        clock: Callable[[], float] = time.monotonic,
        timeout: float = QUERY_TIMEOUT_SECONDS,
        time_scale: float = 1.0,
    ) -> None:
        if not nameservers:
            raise ValueError("a resolver needs at least one name server")
        self.nameservers = list(nameservers)
        self.clock = clock
        self.timeout = timeout
        self.time_scale = time_scale
        self._cache: dict[tuple[str, str], tuple[float, list[Answer]]] = {}
        self._outside: dict[str, float] = {}  # CNAME targets no name server here answers for, until expiry
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self._next = 0

    def _fetch(self, name: str, record_type: str) -> list[Answer]:
        last: OSError | None = None
        for _ in range(len(self.nameservers)):
            with self._lock:
                server = self.nameservers[self._next % len(self.nameservers)]
                self._next += 1
            try:
                return query(name, record_type, server, self.timeout)
            except OSError as error:
                last = error
        raise last or OSError("no name server answered")

    def lookup(self, name: str, record_type: str = "A") -> list[Answer]:
        """The answers for one name, from the cache while their TTL lasts."""
        key = (name.rstrip(".").lower(), record_type)
        now = self.clock()
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and cached[0] > now:
                self.hits += 1
                return list(cached[1])
            self.misses += 1
        answers = self._fetch(key[0], record_type)
        if answers:
            expires = now + min(answer.ttl for answer in answers) / self.time_scale
            with self._lock:
                self._cache[key] = (expires, answers)
        return answers

    def resolve(self, name: str, record_type: str = "A") -> str:
        """The final target of ``name``: the address of an A/AAAA answer, or, when a CNAME names a host the name
        servers hold no record for (outside their zones, or a host without a record), that name: the network maps
        it to its local server."""
        current = name.rstrip(".").lower()
        for _ in range(MAX_CNAME_CHAIN):
            answers = self.lookup(current, record_type)
            direct = [answer for answer in answers if answer.type == record_type]
            if direct:
                return direct[0].value
            cname = next((answer for answer in answers if answer.type == "CNAME"), None)
            if cname is None:
                raise LookupError(f"{name} has no {record_type} answer")
            current = cname.value.lower()
            with self._lock:
                outside = self._outside.get(current, -math.inf) > self.clock()
            if outside:
                return current
            try:
                final = not self.lookup(current, record_type)  # no record here (NXDOMAIN/empty): a host name
            except OSError:  # outside the emulated zones (REFUSED): the network maps the name
                final = True
            if final:
                with self._lock:
                    self._outside[current] = self.clock() + cname.ttl / self.time_scale
                return current
        raise LookupError(f"{name}: CNAME chain longer than {MAX_CNAME_CHAIN}")

    def flush(self) -> None:
        with self._lock:
            self._cache.clear()
            self._outside.clear()
