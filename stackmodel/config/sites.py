"""Failover sites (``sites[i]``): their shape as pydantic models, then the rules that need several keys.

A site is one DNS name served by the primary region and failed over, by the orchestrator in the recovery region,
to the secondary endpoint. The RTO budget is computed by ``stackmodel.failover_budget``; a declared RTO below it
is an error here, with the arithmetic in the message. Links to buckets and tables are checked against the stack's
other entries in ``stackmodel/config/stack.py`` (this module sees one entry at a time).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from stackmodel.config.buckets import LOGICAL_NAME
from stackmodel.config.errors import MAX_MINUTES, Problems, Unit, described, dr_error, key_position
from stackmodel.config.formats import HOSTNAME_PATTERN, PUBLIC_HOST
from stackmodel.failover_budget import Budget, BudgetInputs, DatabaseEngine, Switch, budget

HOSTNAME = re.compile(HOSTNAME_PATTERN)
HOSTED_ZONE_ID = described(
    r"^Z[A-Z0-9]{1,31}$", "must be a Route 53 hosted zone ID (Z, then uppercase letters and digits)"
)
URL_PATH = described(r"^/\S*$", "must be a URL path: '/' first, no spaces")
# Route 53 HealthCheckConfig.ResourcePath: at most 255 characters.
MAX_PATH_LENGTH = 255
# RDS DBInstanceIdentifier / DBClusterIdentifier / GlobalClusterIdentifier: 1 to 63 letters, digits or hyphens, a
# letter first, no hyphen last and no two hyphens in a row (RDS API reference, CreateDBInstance, CreateGlobalCluster).
DB_IDENTIFIER = described(
    r"^[a-zA-Z](-?[a-zA-Z0-9])*$",
    "must be an RDS identifier: a letter, then letters, digits or single hyphens, not ending with a hyphen",
)
MAX_DB_IDENTIFIER = 63
DEFAULT_HEALTHY_MINUTES_BEFORE_FAILBACK = 30
# AWS suggests 60 s or less for failover records; 30 s halves the worst case a resolver holds the old answer, at
# twice the queries reaching Route 53 ($0.40 per million standard queries): docs/costs.md, "Failover sites".
DEFAULT_TTL_SECONDS = 30
# Reserved concurrency: the stack's sum per Region is checked in stackmodel/config/concurrency.py.
DEFAULT_ORCHESTRATOR_RESERVED_CONCURRENCY = 2  # a run may overlap the next one-minute tick (timeout 110 s)
DEFAULT_SWITCH_RESERVED_CONCURRENCY = 10  # checkers send a few requests a second; each answer takes milliseconds
# The descriptor (stackmodel/site.py describe_site) is an Advanced SSM parameter: at most 8 KB (Systems Manager User
# Guide, "Managing parameter tiers"). Its size, measured with describe_site and the longest names the stack allows
# (app 20, prefix 30, 63-character bucket names, 255-character table names, three Regions, function-URL host):
# about 2,460 bytes without linked stores, +406 per bucket, +389 per table; the site's own hosts and record name
# appear 2 and 3 times. The ceilings below round those up, so an accepted site always fits.
DESCRIPTOR_LIMIT_BYTES = 8192
DESCRIPTOR_BASE_BYTES = 2500
DESCRIPTOR_BUCKET_BYTES = 410
DESCRIPTOR_TABLE_BYTES = 400
# Lambda function URLs are not offered in these Regions (Lambda Developer Guide, "Creating and managing Lambda
# function URLs", https://docs.aws.amazon.com/lambda/latest/dg/urls-configuration.html, the note under the URL
# format). The switch endpoint is a function URL, so such a recovery Region is a config error for switch
# "endpoint"; switch "cloudwatch" (slower, budget estimated) or "arc" work there.
FUNCTION_URL_UNSUPPORTED_REGIONS = frozenset(
    {
        "ap-south-2",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-6",
        "ap-southeast-7",
        "ap-east-2",
        "ca-west-1",
        "eu-south-2",
        "eu-central-2",
        "il-central-1",
        "me-central-1",
    }
)


def has_function_urls(region: str) -> bool:
    return region not in FUNCTION_URL_UNSUPPORTED_REGIONS


def _host(value: str) -> str:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        address = None
    if address is not None:
        # Route 53 "can't check the health of endpoints for which the IP address is in local, private, non-routable,
        # or multicast ranges" (Route 53 API reference, HealthCheckConfig, IPAddress).
        if not address.is_global or address.is_multicast:
            raise dr_error(
                "must be a public IP address or a DNS name: Route 53 health checkers cannot reach private, loopback, "
                "link-local, multicast or other non-routable addresses"
            )
        return value
    if not HOSTNAME.fullmatch(value):
        raise dr_error("must be an IP address or a lowercase DNS name")
    return value


def _record_name(value: str) -> str:
    if not HOSTNAME.fullmatch(value):
        raise dr_error("must be a lowercase fully qualified DNS name")
    return value.rstrip(".")


def _unique(names: list[str]) -> list[str]:
    """A store linked twice would be failed over once and hide that another was meant (``[audio, audio]``)."""
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise dr_error(f"must name each store once; repeated: {', '.join(repeated)}")
    return names


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class EndpointEntry(_Entry):
    """Where one region serves the site."""

    host: Annotated[StrictStr, Field(min_length=1, json_schema_extra=PUBLIC_HOST), AfterValidator(_host)]
    port: Annotated[StrictInt, Field(ge=1, le=65535)] = 443
    path: Annotated[StrictStr, Field(min_length=1, max_length=MAX_PATH_LENGTH, pattern=URL_PATH)] = "/health"
    protocol: Literal["HTTP", "HTTPS"] = "HTTPS"


class DatabaseEntry(_Entry):
    """The site's standby database, created elsewhere; referenced by identifier in the recovery region."""

    engine: DatabaseEngine
    # Aurora: the secondary cluster's identifier; RDS: the cross-region read replica's identifier.
    identifier: Annotated[StrictStr, Field(min_length=1, max_length=MAX_DB_IDENTIFIER, pattern=DB_IDENTIFIER)]
    global_cluster_identifier: (
        Annotated[StrictStr, Field(min_length=1, max_length=MAX_DB_IDENTIFIER, pattern=DB_IDENTIFIER)] | None
    ) = Field(default=None, alias="globalClusterIdentifier")
    promotion_seconds: Annotated[StrictInt, Field(ge=1, le=3600)] | None = Field(default=None, alias="promotionSeconds")


class SiteEntry(_Entry):
    """One ``sites[i]`` entry as written in the stack file."""

    UNKNOWN_KEY_NOUN: ClassVar[str] = "site key"

    name: Annotated[StrictStr, Field(min_length=1, max_length=40, pattern=LOGICAL_NAME)]
    hosted_zone_id: Annotated[StrictStr, Field(pattern=HOSTED_ZONE_ID)] = Field(alias="hostedZoneId")
    record_name: Annotated[
        StrictStr, Field(min_length=1, json_schema_extra={"pattern": HOSTNAME_PATTERN}), AfterValidator(_record_name)
    ] = Field(alias="recordName")
    primary: EndpointEntry
    secondary: EndpointEntry
    # Route 53 endpoint health checks run every 10 or 30 s with a failure threshold of 1-10
    # (https://docs.aws.amazon.com/Route53/latest/APIReference/API_HealthCheckConfig.html); the orchestrator probes
    # at the same interval and threshold, so both views of an endpoint agree.
    probe_interval_seconds: Literal[10, 30] = Field(default=10, alias="probeIntervalSeconds")
    failure_threshold: Annotated[StrictInt, Field(ge=1, le=10)] = Field(default=3, alias="failureThreshold")
    ttl_seconds: Annotated[StrictInt, Field(ge=0, le=86400)] = Field(default=DEFAULT_TTL_SECONDS, alias="ttlSeconds")
    config_refresh_seconds: Annotated[StrictInt, Field(ge=0, le=3600)] = Field(default=60, alias="configRefreshSeconds")
    rto_minutes: Annotated[StrictInt, Field(ge=0, le=MAX_MINUTES)] = Field(alias="rtoMinutes")
    rpo_minutes: Annotated[StrictInt, Field(ge=0, le=MAX_MINUTES)] = Field(default=15, alias="rpoMinutes")
    switch: Switch = "endpoint"
    auto_dns_failover: StrictBool = Field(default=False, alias="autoDnsFailover")
    healthy_minutes_before_failback: Annotated[StrictInt, Field(ge=1, le=10080)] = Field(
        default=DEFAULT_HEALTHY_MINUTES_BEFORE_FAILBACK, alias="healthyMinutesBeforeFailback"
    )
    buckets: Annotated[list[Annotated[StrictStr, Field(pattern=LOGICAL_NAME)]], AfterValidator(_unique)] = Field(
        default_factory=list, json_schema_extra={"uniqueItems": True}
    )
    tables: Annotated[list[Annotated[StrictStr, Field(pattern=LOGICAL_NAME)]], AfterValidator(_unique)] = Field(
        default_factory=list, json_schema_extra={"uniqueItems": True}
    )
    database: DatabaseEntry | None = None
    # A drill's p95 of the checkers' verdict reaching Route 53's name servers (drctl drill --scenario
    # switch-latency); replaces the budget's estimate (stackmodel/failover_budget.py, nameServerDelaySeconds).
    measured_name_server_delay_seconds: Annotated[StrictInt, Field(ge=0, le=600)] | None = Field(
        default=None, alias="measuredNameServerDelaySeconds"
    )
    orchestrator_reserved_concurrency: Annotated[StrictInt, Field(ge=1, le=100)] = Field(
        default=DEFAULT_ORCHESTRATOR_RESERVED_CONCURRENCY, alias="orchestratorReservedConcurrency"
    )
    switch_reserved_concurrency: Annotated[StrictInt, Field(ge=1, le=1000)] = Field(
        default=DEFAULT_SWITCH_RESERVED_CONCURRENCY, alias="switchReservedConcurrency"
    )


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    path: str
    protocol: str

    @property
    def is_ip(self) -> bool:
        try:
            ipaddress.ip_address(self.host)
            return True
        except ValueError:
            return False

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.protocol.lower()}://{host}:{self.port}{self.path}"


@dataclass(frozen=True)
class Database:
    engine: DatabaseEngine
    identifier: str
    global_cluster_identifier: str | None
    promotion_seconds: int | None


@dataclass(frozen=True)
class SiteSpec:
    """A validated site, as the component and ``__main__`` use it."""

    name: str
    hosted_zone_id: str
    record_name: str
    primary: Endpoint
    secondary: Endpoint
    probe_interval_seconds: int
    failure_threshold: int
    ttl_seconds: int
    config_refresh_seconds: int
    rto_minutes: int
    rpo_minutes: int
    switch: Switch
    auto_dns_failover: bool
    healthy_minutes_before_failback: int
    buckets: tuple[str, ...]
    tables: tuple[str, ...]
    database: Database | None
    budget: Budget
    orchestrator_reserved_concurrency: int = DEFAULT_ORCHESTRATOR_RESERVED_CONCURRENCY
    switch_reserved_concurrency: int = DEFAULT_SWITCH_RESERVED_CONCURRENCY
    measured_name_server_delay_seconds: int | None = None

    @property
    def record_type(self) -> str:
        """A for IP endpoints (AAAA for IPv6), CNAME for DNS names: failover pairs share one type."""
        if not self.primary.is_ip:
            return "CNAME"
        return "AAAA" if ":" in self.primary.host else "A"


def site_reservations(spec: SiteSpec, recovery_region: str) -> tuple[tuple[str, str, int], ...]:
    """(Region, key, reserved concurrency) of each function the site deploys: the orchestrator, and the switch
    endpoint wherever the recovery Region offers function URLs (components/site_switch.py builds it there for the
    drill record whatever the site's switch). Both run in the recovery Region."""
    orchestrator = (recovery_region, "orchestratorReservedConcurrency", spec.orchestrator_reserved_concurrency)
    if not has_function_urls(recovery_region):
        return (orchestrator,)
    return orchestrator, (recovery_region, "switchReservedConcurrency", spec.switch_reserved_concurrency)


def budget_inputs(entry: SiteEntry) -> BudgetInputs:
    return BudgetInputs(
        probe_interval_seconds=entry.probe_interval_seconds,
        failure_threshold=entry.failure_threshold,
        ttl_seconds=entry.ttl_seconds,
        config_refresh_seconds=entry.config_refresh_seconds,
        switch=entry.switch,
        database=entry.database.engine if entry.database else None,
        promotion_seconds=entry.database.promotion_seconds if entry.database else None,
        auto_dns_failover=entry.auto_dns_failover,
        measured_name_server_delay_seconds=entry.measured_name_server_delay_seconds,
    )


def _endpoint(entry: EndpointEntry) -> Endpoint:
    return Endpoint(entry.host, entry.port, entry.path, entry.protocol)


def site_spec(entry: SiteEntry, unit: Unit, found: Problems, recovery_region: str | None = None) -> SiteSpec | None:
    """The rules that need several keys of one entry (and the stack's recovery Region, when it is valid); None (and
    problems added) when any fails."""
    before = len(found.lines())
    primary, secondary = _endpoint(entry.primary), _endpoint(entry.secondary)
    if primary.is_ip != secondary.is_ip or (primary.is_ip and (":" in primary.host) != (":" in secondary.host)):
        found.add(
            unit,
            key_position(SiteEntry, "secondary"),
            unit.at("secondary", "host"),
            "must be the same kind as primary.host (both IPv4, both IPv6 or both DNS names): the PRIMARY and "
            "SECONDARY failover records share one record type",
        )
    if primary.host == secondary.host and primary.port == secondary.port:
        found.add(
            unit,
            key_position(SiteEntry, "secondary"),
            unit.at("secondary"),
            "must differ from primary: a failover to the same endpoint recovers nothing",
        )
    if entry.switch == "arc" and entry.auto_dns_failover:
        found.add(
            unit,
            key_position(SiteEntry, "autoDnsFailover"),
            unit.at("autoDnsFailover"),
            "applies to the endpoint and CloudWatch switches only; with switch 'arc' the routing control is the only "
            "switch",
        )
    if entry.switch == "endpoint" and recovery_region is not None and not has_function_urls(recovery_region):
        found.add(
            unit,
            key_position(SiteEntry, "switch"),
            unit.at("switch"),
            f"'endpoint' needs a Lambda function URL, which {recovery_region} (the recovery Region) does not offer "
            "(Lambda Developer Guide, 'Creating and managing Lambda function URLs'); use switch 'cloudwatch' (its "
            "budget is longer and estimated) or 'arc'",
        )
    descriptor = (
        DESCRIPTOR_BASE_BYTES
        + 3 * len(entry.record_name)
        + 2 * (len(entry.primary.host) + len(entry.secondary.host))
        + DESCRIPTOR_BUCKET_BYTES * len(entry.buckets)
        + DESCRIPTOR_TABLE_BYTES * len(entry.tables)
    )
    if descriptor > DESCRIPTOR_LIMIT_BYTES:
        found.add(
            unit,
            key_position(SiteEntry, "buckets"),
            unit.at("buckets"),
            f"with {len(entry.buckets)} buckets and {len(entry.tables)} tables the site's descriptor can reach "
            f"{descriptor} bytes, over the {DESCRIPTOR_LIMIT_BYTES} an Advanced SSM parameter holds: link fewer "
            "stores, or split the application into two sites",
        )
    if entry.auto_dns_failover and (entry.buckets or entry.tables or entry.database):
        found.add(
            unit,
            key_position(SiteEntry, "autoDnsFailover"),
            unit.at("autoDnsFailover"),
            "is for stateless sites only (no buckets, tables or database): DNS may move before the orchestrator "
            "has moved the linked stores (docs/runbooks/failover.md)",
        )
    database = entry.database
    if database and database.engine == "aurora-global" and not database.global_cluster_identifier:
        found.add(
            unit,
            key_position(SiteEntry, "database"),
            unit.at("database", "globalClusterIdentifier"),
            "is required for engine 'aurora-global' (FailoverGlobalCluster names the global cluster)",
        )
    if database and database.engine == "rds-replica" and database.global_cluster_identifier:
        found.add(
            unit,
            key_position(SiteEntry, "database"),
            unit.at("database", "globalClusterIdentifier"),
            "applies to engine 'aurora-global' only",
        )
    computed = budget(budget_inputs(entry))
    if entry.rto_minutes * 60 < computed.rto_seconds:
        found.add(
            unit,
            key_position(SiteEntry, "rtoMinutes"),
            unit.at("rtoMinutes"),
            f"{entry.rto_minutes} min is below what this site can achieve: {computed.explain()}; declare at least "
            f"{computed.rto_minutes}, or shorten the probe interval, threshold or TTL",
        )
    if len(found.lines()) > before:
        return None
    return SiteSpec(
        name=entry.name,
        hosted_zone_id=entry.hosted_zone_id,
        record_name=entry.record_name,
        primary=primary,
        secondary=secondary,
        probe_interval_seconds=entry.probe_interval_seconds,
        failure_threshold=entry.failure_threshold,
        ttl_seconds=entry.ttl_seconds,
        config_refresh_seconds=entry.config_refresh_seconds,
        rto_minutes=entry.rto_minutes,
        rpo_minutes=entry.rpo_minutes,
        switch=entry.switch,
        auto_dns_failover=entry.auto_dns_failover,
        healthy_minutes_before_failback=entry.healthy_minutes_before_failback,
        buckets=tuple(entry.buckets),
        tables=tuple(entry.tables),
        database=Database(
            database.engine, database.identifier, database.global_cluster_identifier, database.promotion_seconds
        )
        if database
        else None,
        budget=computed,
        orchestrator_reserved_concurrency=entry.orchestrator_reserved_concurrency,
        switch_reserved_concurrency=entry.switch_reserved_concurrency,
        measured_name_server_delay_seconds=entry.measured_name_server_delay_seconds,
    )
