"""What the stack-file JSON Schema carries for rules that code decides (``json_schema_extra`` of each field).

The program's validators stay the authority; these patterns let an editor refuse the same single values.
tests/components/test_schema_rules.py checks the schema against every rejection fixture, and
tests/components/test_config_aws_rules.py the patterns against the validators over samples.
JSON Schema patterns are ECMA-262 regular expressions (no flags), so case is spelled out.
"""

from __future__ import annotations

from typing import Any

# A lowercase DNS name of 1 to 253 characters (stackmodel/config/sites.py HOSTNAME).
HOSTNAME_PATTERN = r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\.?$"
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
IPV4_PATTERN = rf"^{_OCTET}(\.{_OCTET}){{3}}$"
# IANA special-purpose IPv4 ranges (what ipaddress's is_global excludes) and multicast: Route 53 cannot check them.
NON_PUBLIC_IPV4_PATTERN = (
    r"^(0\.|10\.|100\.(6[4-9]|[7-9][0-9]|1[01][0-9]|12[0-7])\.|127\.|169\.254\.|172\.(1[6-9]|2[0-9]|3[01])\.|"
    r"192\.0\.0\.|192\.0\.2\.|192\.168\.|198\.1[89]\.|198\.51\.100\.|203\.0\.113\.|2(2[4-9]|[3-5][0-9])\.)"
)
IPV6_PATTERN = r"^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*$"
# Unspecified, loopback, unique-local (fc00::/7), link-local (fe80::/10), multicast (ff00::/8), documentation
# (2001:db8::/32), IPv4-mapped.
NON_PUBLIC_IPV6_PATTERN = (
    r"^(::1?$|[Ff][CcDd]|[Ff][Ee][89AaBb]|[Ff][Ff]|2001:0?[Dd][Bb]8:|::[Ff]{4}:|0{0,4}:(0{0,4}:)*0{0,4}:?1?$)"
)
PUBLIC_HOST: dict[str, Any] = {
    "anyOf": [
        {"pattern": HOSTNAME_PATTERN},
        {"pattern": IPV4_PATTERN, "not": {"pattern": NON_PUBLIC_IPV4_PATTERN}},
        {"pattern": IPV6_PATTERN, "not": {"pattern": NON_PUBLIC_IPV6_PATTERN}},
    ]
}
# A calendar date (YYYY-MM-DD) whose day exists in its month; 29 February is allowed in every year here (the
# program checks leap years).
ISO_DATE_PATTERN = (
    r"^[0-9]{4}-((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31|02-29)$"
)
