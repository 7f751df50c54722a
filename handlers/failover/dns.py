"""Verify a failover the way clients see it: ask a DNS resolver, never Route 53's ``TestDNSAnswer``.

``TestDNSAnswer`` is a control-plane call (hosted in us-east-1) and answers from Route 53's view, not what a
caching resolver hands clients. This is a minimal RFC 1035 stub resolver over UDP (stdlib only, so the Lambda needs
no extra package): it keeps no cache, so every query sees what the resolver holds, and ``wait_for_answer`` polls
until the resolver's cached answer (at most one TTL old) names the expected target.
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

TYPES = {"A": 1, "CNAME": 5, "AAAA": 28}
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


def query(name: str, record_type: str, nameserver: str, port: int = 53, timeout: float = 2.0) -> list[Answer]:
    """One query with recursion desired; the answer section as (type, value, ttl)."""
    ident = secrets.randbits(16)
    packet = struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + _encode_name(name)
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
        elif kind == TYPES["AAAA"]:
            found.append(Answer("AAAA", str(ipaddress.IPv6Address(data)), ttl))
        elif kind == TYPES["CNAME"]:
            found.append(Answer("CNAME", _read_name(message, offset)[0], ttl))
        offset += length
    return found


Resolver = Callable[[str, str], list[Answer]]


def stub_resolver(nameserver: str | None = None, port: int = 53) -> Resolver:
    server = nameserver or system_nameserver()
    return lambda name, record_type: query(name, record_type, server, port)


def answers_with(answers: list[Answer], target: str) -> bool:
    wanted = target.rstrip(".").lower()
    return any(answer.value.rstrip(".").lower() == wanted for answer in answers)


def wait_for_answer(
    resolver: Resolver,
    name: str,
    record_type: str,
    target: str,
    deadline_seconds: float,
    poll_seconds: float = 5.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[bool, float, list[Answer]]:
    """Poll until ``name`` answers with ``target`` or ``deadline_seconds`` pass (give it the TTL plus the switch's
    latency: a resolver may hold the old answer that long). Returns (confirmed, seconds waited, last answers)."""
    started = clock()
    last: list[Answer] = []
    while True:
        try:
            last = resolver(name, record_type)
        except OSError:
            last = []
        if answers_with(last, target):
            return True, clock() - started, last
        if clock() - started + poll_seconds > deadline_seconds:
            return False, clock() - started, last
        sleep(poll_seconds)
