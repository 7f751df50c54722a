"""DNS reads of the failover: ask the zone's own name servers, never Route 53's ``TestDNSAnswer``.

``TestDNSAnswer`` is a control-plane call (hosted in us-east-1). The orchestrator instead asks the zone's
authoritative name servers directly (no recursion, so no cache between it and Route 53's answer): one resolve of
``<record>`` per round verifies the switch, and one of ``probe.<record>`` reads Route 53's checkers' verdict on
the primary (the second vantage point; the only data-plane read of a check's status).

A minimal RFC 1035 client over UDP, stdlib only: the Lambda package has no dnspython. The name servers come from
``DR_DNS_NAMESERVERS`` (``host:port,...``; the local rehearsal's authoritative server) or else from the zone's
delegation, found with NS queries through the system resolver.
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "AAAA": 28}
QUERY_TIMEOUT_SECONDS = 1.0  # per name server; a round asks at most MAX_SERVERS_PER_QUERY of them
MAX_SERVERS_PER_QUERY = 2
TYPE_NAMES = {value: key for key, value in TYPES.items()}


@dataclass(frozen=True)
class Answer:
    type: str
    value: str
    ttl: int


def system_nameserver(path: str = "/etc/resolv.conf") -> str:
    try:
        with open(path) as handle:
            for line in handle:
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "nameserver":
                    return parts[1]
    except OSError:
        pass
    return "127.0.0.1"


def _encode_name(name: str) -> bytes:
    labels = [label for label in name.rstrip(".").split(".") if label]
    return b"".join(struct.pack("B", len(label)) + label.encode("ascii") for label in labels) + b"\x00"


def _read_name(message: bytes, offset: int) -> tuple[str, int]:
    labels: list[str] = []
    end: int | None = None
    for _ in range(128):  # compression pointers can loop in a hostile answer
        length = message[offset]
        if length & 0xC0 == 0xC0:
            pointer = struct.unpack_from("!H", message, offset)[0] & 0x3FFF
            end = offset + 2 if end is None else end
            offset = pointer
            continue
        if length == 0:
            return ".".join(labels), (offset + 1 if end is None else end)
        labels.append(message[offset + 1 : offset + 1 + length].decode("ascii"))
        offset += 1 + length
    raise ValueError("DNS name compression loop")


def query(
    name: str, record_type: str, nameserver: str, port: int = 53, timeout: float = 2.0, *, recursion: bool = True
) -> list[Answer]:
    """One query (recursion desired unless ``recursion`` is False); the answer section as (type, value, ttl)."""
    ident = secrets.randbits(16)
    flags = 0x0100 if recursion else 0x0000
    packet = struct.pack("!HHHHHH", ident, flags, 1, 0, 0, 0) + _encode_name(name)
    packet += struct.pack("!HH", TYPES[record_type], 1)
    family = socket.AF_INET6 if ipaddress.ip_address(nameserver).version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(packet, (nameserver, port))
        while True:
            message, _ = sock.recvfrom(4096)
            if struct.unpack_from("!H", message)[0] == ident:
                break
    _, flags, questions, answers, _, _ = struct.unpack_from("!HHHHHH", message)
    if flags & 0x000F not in (0, 3):  # NOERROR or NXDOMAIN; anything else is the resolver failing
        raise OSError(f"DNS server answered rcode {flags & 0x000F}")
    offset = 12
    for _ in range(questions):
        _, offset = _read_name(message, offset)
        offset += 4
    found: list[Answer] = []
    for _ in range(answers):
        _, offset = _read_name(message, offset)
        kind, _, ttl, length = struct.unpack_from("!HHIH", message, offset)
        offset += 10
        data = message[offset : offset + length]
        if kind == TYPES["A"]:
            found.append(Answer("A", str(ipaddress.IPv4Address(data)), ttl))
        elif kind == TYPES["NS"]:
            found.append(Answer("NS", _read_name(message, offset)[0], ttl))
        elif kind == TYPES["AAAA"]:
            found.append(Answer("AAAA", str(ipaddress.IPv6Address(data)), ttl))
        elif kind == TYPES["CNAME"]:
            found.append(Answer("CNAME", _read_name(message, offset)[0], ttl))
        offset += length
    return found


Resolver = Callable[[str, str], list[Answer]]
Server = tuple[str, int]


def stub_resolver(nameserver: str | None = None, port: int = 53) -> Resolver:
    """A recursive resolver (the system's by default): what a client of the site would be told."""
    server = nameserver or system_nameserver()
    return lambda name, record_type: query(name, record_type, server, port)


def parse_servers(value: str) -> list[Server]:
    """``host:port,host,[v6]:port`` -> [(host, port)]; port 53 when omitted."""
    servers: list[Server] = []
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        if part.startswith("["):
            host, _, rest = part[1:].partition("]")
            port = rest.lstrip(":") or "53"
        elif part.count(":") == 1:
            host, port = part.split(":")
        else:
            host, port = part, "53"
        if not port.isdigit():
            raise ValueError(f"DR_DNS_NAMESERVERS: bad port in {part!r}")
        servers.append((host, int(port)))
    return servers


def zone_nameservers(record_name: str, recursive: Server | None = None) -> list[Server]:
    """The addresses of the name servers delegated for the zone holding ``record_name``: NS queries for each
    parent name (through the recursive resolver) until one has NS records, then their A records."""
    host, port = recursive or (system_nameserver(), 53)
    labels = record_name.rstrip(".").split(".")
    for start in range(len(labels) - 1):
        zone = ".".join(labels[start:])
        names = [a.value for a in query(zone, "NS", host, port, QUERY_TIMEOUT_SECONDS * 2) if a.type == "NS"]
        if names:
            addresses = [
                (a.value, 53)
                for name in sorted(names)
                for a in query(name, "A", host, port, QUERY_TIMEOUT_SECONDS * 2)
                if a.type == "A"
            ]
            if addresses:
                return addresses
    raise OSError(f"no name servers found for a zone of {record_name}")


def authoritative_resolver(servers: Callable[[], list[Server]]) -> Resolver:
    """Ask the zone's name servers directly, without recursion, one after the other until one answers (at most
    ``MAX_SERVERS_PER_QUERY``, each ``QUERY_TIMEOUT_SECONDS``: a round's DNS reads stay bounded)."""

    def resolve(name: str, record_type: str) -> list[Answer]:
        errors: list[str] = []
        for host, port in servers()[:MAX_SERVERS_PER_QUERY]:
            try:
                return query(name, record_type, host, port, QUERY_TIMEOUT_SECONDS, recursion=False)
            except OSError as error:
                errors.append(f"{host}:{port}: {error or type(error).__name__}")
        raise OSError("no name server answered: " + "; ".join(errors or ["none known"]))

    return resolve


def site_resolver(record_name: str, configured: str | None) -> Resolver:
    """``configured`` (``DR_DNS_NAMESERVERS``) or the zone's delegation, looked up once and kept."""
    if configured:
        fixed = parse_servers(configured)
        return authoritative_resolver(lambda: fixed)
    found: list[Server] = []

    def servers() -> list[Server]:
        if not found:
            found.extend(zone_nameservers(record_name))
        return found

    return authoritative_resolver(servers)


def answers_with(answers: list[Answer], target: str) -> bool:
    wanted = target.rstrip(".").lower()
    return any(answer.value.rstrip(".").lower() == wanted for answer in answers)
