"""The orchestrator's own probes: an HTTP(S) GET with a short timeout, from the recovery region."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

PROBE_TIMEOUT_SECONDS = 4.0  # Route 53's own checkers give an endpoint 4 s to connect


@dataclass(frozen=True)
class ProbeResult:
    healthy: bool
    detail: str  # "200", "503", "timeout", ...
    seconds: float


Probe = Callable[[str], ProbeResult]


def http_probe(url: str, timeout: float = PROBE_TIMEOUT_SECONDS) -> ProbeResult:
    """Healthy means a 2xx or 3xx answer within ``timeout``, as Route 53's HTTP checks judge it."""
    started = time.monotonic()
    request = urllib.request.Request(url, method="GET", headers={"User-Agent": "dr-failover-probe"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except TimeoutError:
        return ProbeResult(False, "timeout", time.monotonic() - started)
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        detail = "timeout" if isinstance(reason, TimeoutError) else f"error: {reason}"
        return ProbeResult(False, detail, time.monotonic() - started)
    return ProbeResult(200 <= status < 400, str(status), time.monotonic() - started)
