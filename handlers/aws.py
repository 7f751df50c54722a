"""One place that builds boto3 clients for the recovery runtime.

Standard retries (AWS's recommended mode; adaptive mode can delay the first request, which is bad on a
failover path) and explicit timeouts. boto3 honours ``AWS_ENDPOINT_URL`` itself, which is how the CLI,
Lambdas and drills reach the local emulator. ``DR_REGION_ENDPOINTS`` (JSON ``{region: url}``) maps each Region
to its own endpoint instead: the local two-Region rehearsal (emulator/regions.py) gives every Region a proxy,
which botocore cannot express (it has no per-Region endpoint setting). Absent, nothing changes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.utils import parse_timestamp as botocore_parse_timestamp

DEFAULT_MAX_ATTEMPTS = 5
CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 30
# Content-MD5 of an empty request body.
EMPTY_BODY_MD5 = base64.b64encode(hashlib.md5(b"").digest()).decode()


def client_config(max_pool_connections: int = 10, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> Config:
    return Config(
        # total_max_attempts counts the first try; botocore's "max_attempts" would add one more.
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        max_pool_connections=max_pool_connections,
    )


def client(
    service: str,
    region: str | None = None,
    *,
    max_pool_connections: int = 10,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    timestamp_parser: Callable[[str], datetime] | None = None,
) -> Any:
    """A new client; ``region`` defaults to ``AWS_REGION``/``AWS_DEFAULT_REGION``.

    ``timestamp_parser`` replaces botocore's (dateutil-based) parser for response timestamps, e.g.
    ``parse_iso_timestamp`` for clients that parse large listings.
    """
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    core = botocore.session.get_session()
    if timestamp_parser is not None:
        core.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=timestamp_parser)
    # A fresh session per client: boto3's default session is not thread-safe to create clients from.
    session: Any = boto3.session.Session(botocore_session=core)  # Any: the stubs only type literal names
    new_client = session.client(
        service,
        region_name=region,
        config=client_config(max_pool_connections=max_pool_connections, max_attempts=max_attempts),
        **region_endpoint(region),
    )
    if service == "s3":
        send_md5_on_copies(new_client)
    return new_client


def region_endpoint(region: str | None) -> dict[str, str]:
    """``{"endpoint_url": ...}`` for ``region`` from ``DR_REGION_ENDPOINTS``, or ``{}`` when it is unset.

    When set, a Region missing from it is an error rather than a silent fall-back to the real endpoint.
    """
    raw = os.environ.get("DR_REGION_ENDPOINTS")
    if not raw:
        return {}
    try:
        endpoints = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValueError(f"DR_REGION_ENDPOINTS: not JSON ({error.msg})") from None
    if not isinstance(endpoints, dict):
        raise ValueError("DR_REGION_ENDPOINTS: must be a JSON object {region: url}")
    if region not in endpoints:
        raise ValueError(
            f"DR_REGION_ENDPOINTS: no endpoint for Region {region!r} (has: {', '.join(sorted(endpoints)) or 'none'})"
        )
    return {"endpoint_url": str(endpoints[region])}


def send_md5_on_copies(s3: Any) -> None:
    """Declare the (empty) body's Content-MD5 on server-side copies.

    S3 requires Content-MD5 or a checksum on writes into a bucket with default object-lock retention, and
    server-side copies into such a bucket have been refused without it (rclone/rclone#6846; moto enforces
    it too). Tier-1 buckets all have default retention, and restores write into them by copying.
    """

    def declare_md5(request: Any, **_: Any) -> None:
        if "Content-MD5" not in request.headers:
            request.headers["Content-MD5"] = EMPTY_BODY_MD5

    for operation in ("CopyObject", "UploadPartCopy"):
        s3.meta.events.register(f"before-sign.s3.{operation}", declare_md5, unique_id=f"dr-md5-{operation}")


def parse_iso_timestamp(value: str) -> datetime:
    """Fast path for the ISO 8601 timestamps in XML/JSON bodies; anything else goes to botocore's parser."""
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return botocore_parse_timestamp(value)  # type: ignore[no-any-return]
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@cache
def cached_client(service: str, region: str | None = None, *, max_pool_connections: int = 10) -> Any:
    """Module-scope clients for Lambda entry points (reused across warm invocations)."""
    return client(service, region, max_pool_connections=max_pool_connections)
