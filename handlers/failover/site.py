"""The site descriptor (SSM ``/dr/<app>/site/<name>`` in the recovery region), as the runtime reads it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from handlers.app_setting import read_setting

SITE_ROOT = "/dr"


@dataclass(frozen=True)
class Site:
    name: str
    app: str
    primary_region: str
    recovery_region: str
    record_name: str
    record_type: str
    # Time values are floats: the rehearsal's scaled profile divides them (emulator/provision.py); AWS's are whole.
    ttl_seconds: float
    primary_host: str
    primary_url: str
    secondary_host: str
    secondary_url: str
    probe_interval_seconds: float
    failure_threshold: int
    healthy_minutes_before_failback: float
    rpo_minutes: int
    switch: dict[str, Any]
    active_region_parameter: str
    active_bucket_parameters: dict[str, str]
    lock_table: str
    topic_arn: str | None
    metrics_namespace: str
    buckets: list[dict[str, str]] = field(default_factory=list)
    tables: list[dict[str, Any]] = field(default_factory=list)
    database: dict[str, Any] | None = None
    budget: dict[str, float] = field(default_factory=dict)

    @property
    def switch_kind(self) -> str:
        return str(self.switch["kind"])

    @classmethod
    def from_descriptor(cls, document: dict[str, Any]) -> Site:
        try:
            return cls(
                name=document["name"],
                app=document["app"],
                primary_region=document["primaryRegion"],
                recovery_region=document["recoveryRegion"],
                record_name=document["recordName"].rstrip("."),
                record_type=document["recordType"],
                ttl_seconds=float(document["ttlSeconds"]),
                primary_host=document["primary"]["host"],
                primary_url=document["primary"]["url"],
                secondary_host=document["secondary"]["host"],
                secondary_url=document["secondary"]["url"],
                probe_interval_seconds=float(document["probeIntervalSeconds"]),
                failure_threshold=int(document["failureThreshold"]),
                healthy_minutes_before_failback=float(document["healthyMinutesBeforeFailback"]),
                rpo_minutes=int(document["rpoMinutes"]),
                switch=dict(document["switch"]),
                active_region_parameter=document["parameters"]["activeRegion"],
                active_bucket_parameters=dict(document["parameters"].get("activeBuckets", {})),
                lock_table=document["lockTable"],
                topic_arn=document.get("topicArn"),
                metrics_namespace=document.get("metricsNamespace", "DR/Recovery"),
                buckets=list(document.get("buckets", [])),
                tables=list(document.get("tables", [])),
                database=document.get("database"),
                budget=dict(document.get("budget", {})),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"site descriptor is missing or has a bad field: {error}") from None


def descriptor_parameter(app: str, site: str) -> str:
    return f"{SITE_ROOT}/{app}/site/{site}"


def find_descriptor(ssm: Any, site: str, app: str | None = None) -> str:
    """The parameter name of ``site``; without ``app``, the one ``/dr/*/site/<site>`` there is."""
    if app:
        return descriptor_parameter(app, site)
    found: list[str] = []
    for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=SITE_ROOT, Recursive=True):
        found += [p["Name"] for p in page["Parameters"] if p["Name"].endswith(f"/site/{site}")]
    if len(found) != 1:
        where = "none" if not found else ", ".join(sorted(found))
        raise LookupError(
            f"expected one site descriptor named {site!r} under {SITE_ROOT}/ in this region, found {where} "
            "(--region must be the site's recovery region)"
        )
    return found[0]


def load_site(ssm: Any, site: str, app: str | None = None) -> Site:
    name = find_descriptor(ssm, site, app)
    text = read_setting(ssm, name)
    if text is None:
        raise LookupError(f"no site descriptor at {name} in this region (read it from the recovery region)")
    return Site.from_descriptor(json.loads(text))
