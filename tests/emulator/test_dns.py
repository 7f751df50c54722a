"""The rehearsal's DNS (emulator/dns.py): authoritative answers from the emulated checks, and TTL caching.

Real UDP on 127.0.0.1 through dnspython; the caching test runs on a clock the test moves, so the TTL rule is exact,
and once on the real clock with a short TTL.
"""

from __future__ import annotations

import time
from typing import Any

import dns.flags
import dns.message
import dns.query
import dns.rcode
import pytest

from emulator.dns import CachingResolver, name_servers, query
from emulator.route53 import Route53Emulator, RoutingControls
from tests.emulator.test_route53 import client, moto, moto_url, network_for  # noqa: F401  (fixtures)

ZONE = "example.test"


def zone_with_failover(
    endpoint_url: str, *, ttl: int, primary: str = "api-use1.example.net"
) -> tuple[Route53Emulator, RoutingControls]:
    controls = RoutingControls({"arn:p": True}, at_least_one_on=False)
    r53 = Route53Emulator(
        client(endpoint_url, "route53"),
        network=network_for(),
        cloudwatch=lambda region: client(endpoint_url, "cloudwatch", region),
        routing_controls=controls,
    )
    check = r53.create_health_check({"Type": "RECOVERY_CONTROL", "RoutingControlArn": "arn:p"})
    route53 = client(endpoint_url, "route53")
    zone_id = route53.create_hosted_zone(Name=ZONE, CallerReference="z")["HostedZone"]["Id"]
    records: list[dict[str, Any]] = [
        {
            "Name": f"api.{ZONE}",
            "Type": "CNAME",
            "SetIdentifier": "primary",
            "Failover": "PRIMARY",
            "TTL": ttl,
            "ResourceRecords": [{"Value": primary}],
            "HealthCheckId": check,
        },
        {
            "Name": f"api.{ZONE}",
            "Type": "CNAME",
            "SetIdentifier": "secondary",
            "Failover": "SECONDARY",
            "TTL": ttl,
            "ResourceRecords": [{"Value": "api-usw2.example.net"}],
        },
        {"Name": f"plain.{ZONE}", "Type": "A", "TTL": 300, "ResourceRecords": [{"Value": "10.1.2.3"}]},
        {"Name": f"alias.{ZONE}", "Type": "CNAME", "TTL": 300, "ResourceRecords": [{"Value": f"host.{ZONE}"}]},
    ]
    route53.change_resource_record_sets(
        HostedZoneId=zone_id, ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": r} for r in records]}
    )
    r53.load()
    return r53, controls


def test_each_delegated_name_server_answers_authoritatively(moto: str) -> None:  # noqa: F811
    r53, controls = zone_with_failover(moto, ttl=60)
    with name_servers(r53, ZONE) as servers:
        assert len(servers.addresses()) == 4  # moto delegates every zone to four name servers
        for address in servers.addresses():
            request = dns.message.make_query(f"api.{ZONE}", "A")
            response = dns.query.udp(request, address[0], port=address[1], timeout=2)
            assert response.flags & dns.flags.AA
            (rrset,) = response.answer
            assert rrset.ttl == 60  # the stack's TTL, as Route 53 answers it (the scaled profile scales the cache)
            assert rrset[0].to_text() == "api-use1.example.net."
        controls.update({"arn:p": False})  # PRIMARY's check unhealthy: every server answers the SECONDARY
        for address in servers.addresses():
            assert query(f"api.{ZONE}", "A", address)[0].value == "api-usw2.example.net"
        assert servers.environment_value().count("127.0.0.1:") == 4


def test_names_outside_the_zone_are_refused_and_missing_names_are_nxdomain(moto: str) -> None:  # noqa: F811
    r53, _ = zone_with_failover(moto, ttl=60)
    with name_servers(r53, ZONE) as servers:
        address = servers.addresses()[0]
        refused = dns.query.udp(dns.message.make_query("example.org", "A"), address[0], port=address[1], timeout=2)
        assert refused.rcode() == dns.rcode.REFUSED
        missing = dns.query.udp(dns.message.make_query(f"nope.{ZONE}", "A"), address[0], port=address[1], timeout=2)
        assert missing.rcode() == dns.rcode.NXDOMAIN
        ns = query(ZONE, "NS", address)
        assert {answer.value for answer in ns} == set(servers.servers)


def test_resolver_in_the_scaled_profile_keeps_an_answer_for_the_ttl_divided_exactly(moto: str) -> None:  # noqa: F811
    r53, controls = zone_with_failover(moto, ttl=30)
    now = [1000.0]
    with name_servers(r53, ZONE) as servers:
        resolver = CachingResolver(servers.addresses(), clock=lambda: now[0], time_scale=20.0)
        assert resolver.resolve(f"api.{ZONE}", "A") == "api-use1.example.net"
        controls.update({"arn:p": False})
        now[0] += 1.45  # 30 s / 20 = 1.5 s, not the 2 s a whole-second TTL would give
        assert resolver.resolve(f"api.{ZONE}", "A") == "api-use1.example.net"
        now[0] += 0.1
        assert resolver.resolve(f"api.{ZONE}", "A") == "api-usw2.example.net"


def test_resolver_keeps_an_answer_for_its_ttl_and_not_longer(moto: str) -> None:  # noqa: F811
    r53, controls = zone_with_failover(moto, ttl=30)
    now = [1000.0]
    with name_servers(r53, ZONE) as servers:
        resolver = CachingResolver(servers.addresses(), clock=lambda: now[0])
        assert resolver.resolve(f"api.{ZONE}", "A") == "api-use1.example.net"
        controls.update({"arn:p": False})
        now[0] += 29.9
        assert resolver.resolve(f"api.{ZONE}", "A") == "api-use1.example.net"  # cached: the old Region
        now[0] += 0.2
        assert resolver.resolve(f"api.{ZONE}", "A") == "api-usw2.example.net"  # TTL over: the new answer
        assert resolver.hits >= 1 and resolver.misses >= 2


def test_resolver_on_the_real_clock_sees_the_change_one_ttl_later(moto: str) -> None:  # noqa: F811
    r53, controls = zone_with_failover(moto, ttl=2)
    with name_servers(r53, ZONE) as servers:
        resolver = CachingResolver(servers.addresses())
        assert resolver.resolve(f"api.{ZONE}") == "api-use1.example.net"
        changed_at = time.monotonic()
        controls.update({"arn:p": False})
        while resolver.resolve(f"api.{ZONE}") == "api-use1.example.net":
            time.sleep(0.02)
        waited = time.monotonic() - changed_at
    assert 1.5 <= waited <= 2.6, waited


def test_resolver_returns_addresses_of_a_records(moto: str) -> None:  # noqa: F811
    r53, _ = zone_with_failover(moto, ttl=30)
    with name_servers(r53, ZONE) as servers:
        assert CachingResolver(servers.addresses()).resolve(f"plain.{ZONE}") == "10.1.2.3"


def test_resolver_with_no_name_server_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="at least one name server"):
        CachingResolver([])


def test_resolver_stops_at_a_cname_target_without_records(moto: str) -> None:  # noqa: F811
    """The site's records name the Regions' hosts (``api-use1...``): no record for them in the zone, so the
    resolver hands the host name to the network, as the workload connects to it with that ``Host``."""
    r53, _ = zone_with_failover(moto, ttl=30)
    with name_servers(r53, ZONE) as servers:
        resolver = CachingResolver(servers.addresses())
        assert resolver.resolve(f"alias.{ZONE}") == f"host.{ZONE}"
        assert resolver.resolve(f"alias.{ZONE}") == f"host.{ZONE}"
        assert resolver.hits >= 1
