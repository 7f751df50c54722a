"""The switch endpoint: a Lambda function URL (payload v2.0, auth ``NONE``) in the recovery region that Route 53's
inverted HTTPS check reads (docs/design/failover-and-rehearsal.md §2).

- ``200 failed-over`` when the lock table's ``state.switch`` is ``failed-over`` (the inverted check turns
  unhealthy, so the PRIMARY record does), ``404 primary`` otherwise; ``x-dr-switch`` says the same and
  ``x-dr-source`` whether it was read now (``live``), is the last value this container read (``cached``) or the
  cold default (``default``: ``primary``; the calculated check's alarm child keeps DNS put while failed over).
- One ``GetItem`` (``ConsistentRead``, projection ``switch`` only), 0.5 s connect and read timeouts and a single
  attempt: a check answers within Route 53's 2 s even from a cold start (about 0.8 s of imports on a busy machine)
  when the table does not answer. An in-Region GetItem takes milliseconds.
- It never answers 5xx (an error becomes the cached or default answer), never writes, and reveals nothing but the
  switch state. Checkers send several requests a second from many locations, hence the reserved concurrency on
  the function and the module-level client and cache of a warm container.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
from botocore.config import Config

from handlers.aws import region_endpoint

FAILED_OVER, PRIMARY = "failed-over", "primary"
TIMEOUT_SECONDS = 0.5
TABLE_VARIABLE = "LOCK_TABLE"  # the site's lock table (components/site_switch.py sets it)
# Path -> state item: the site's switch, and the drill record's (stackmodel/site.py's SWITCH_PATH, DRILL_SWITCH_PATH
# and DRILL_SWITCH_ITEM; repeated here because the function ships handlers/ only, and a test keeps them equal).
ITEMS = {"/": "state", "/drill": "drill"}

_cache: dict[str, str] = {}
_client: Any = None
_lock = threading.Lock()


def _dynamodb() -> Any:
    global _client
    with _lock:
        if _client is None:
            _client = boto3.session.Session().client(
                "dynamodb",
                config=Config(
                    connect_timeout=TIMEOUT_SECONDS,
                    read_timeout=TIMEOUT_SECONDS,
                    retries={"mode": "standard", "total_max_attempts": 1},
                ),
                # The rehearsal's per-Region endpoint (DR_REGION_ENDPOINTS); absent on AWS, nothing changes.
                endpoint_url=region_endpoint(os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")).get(
                    "endpoint_url"
                ),
            )
        return _client


def read_switch(dynamodb: Any, table: str, item_key: str = "state") -> str:
    """``failed-over`` or ``primary`` from the item (a missing item or attribute is ``primary``)."""
    item = dynamodb.get_item(
        TableName=table,
        Key={"pk": {"S": item_key}},
        ConsistentRead=True,
        ProjectionExpression="#switch",
        ExpressionAttributeNames={"#switch": "switch"},
    ).get("Item")
    value = ((item or {}).get("switch") or {}).get("S")
    return FAILED_OVER if value == FAILED_OVER else PRIMARY


def answer(switch: str, source: str) -> dict[str, Any]:
    return {
        "statusCode": 200 if switch == FAILED_OVER else 404,
        "headers": {
            "content-type": "text/plain",
            "cache-control": "no-store",
            "x-dr-switch": switch,
            "x-dr-source": source,
        },
        "body": switch,
    }


def respond(dynamodb: Any, table: str | None, path: str = "/") -> dict[str, Any]:
    """The answer for one request: live when the table answers, else the cache, else ``primary``. An unknown
    path answers ``primary`` (404) without reading anything."""
    item_key = ITEMS.get(path.rstrip("/") or "/")
    if item_key is None:
        return answer(PRIMARY, "default")
    try:
        if not table:
            raise LookupError(f"{TABLE_VARIABLE} is not set")
        switch = read_switch(dynamodb, table, item_key)
    except Exception:  # whatever fails, a checker must never see a 5xx
        cached = _cache.get(item_key)
        return answer(cached, "cached") if cached else answer(PRIMARY, "default")
    _cache[item_key] = switch
    return answer(switch, "live")


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    path = str((event or {}).get("rawPath") or "/")
    try:
        client = _dynamodb()
    except Exception:  # no region or credentials: still an answer, never a 5xx
        client = None
    return respond(client, os.environ.get(TABLE_VARIABLE), path)
