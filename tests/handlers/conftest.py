"""Shared fixtures for handler tests: a moto server, an in-process moto mock and a fake Lambda context.

- ``moto_server`` (session): one ``ThreadedMotoServer`` on 127.0.0.1 (free port) per test process
  (xdist gives each worker its own). It points ``AWS_ENDPOINT_URL`` and fake credentials at the server
  for the whole session, so code that builds its own clients (the CLI, Lambda entry points) reaches it.
- ``moto_endpoint`` (function): the same server, emptied first, so every test starts from no resources.
- ``mock_aws`` (function): in-process ``moto.mock_aws``; it hides ``AWS_ENDPOINT_URL`` because the mock
  only intercepts requests addressed to AWS hostnames.
- ``lambda_context``: a fake ``LambdaContext`` with the attributes powertools reads.
- ``load_event``: loads a sample event from ``tests/handlers/events/<name>.json``.

Create boto3 clients inside the test (after the fixture has started the emulator).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws as moto_mock_aws
from moto.server import ThreadedMotoServer

EVENTS_DIR = Path(__file__).parent / "events"
REGION = "us-east-1"
FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    # DynamoDB streams with this botocore need it (GUIDE §3, moto).
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "POWERTOOLS_METRICS_NAMESPACE": "dr-tests",
    "POWERTOOLS_SERVICE_NAME": "dr-tests",
}


def _set_fake_env(mp: pytest.MonkeyPatch) -> None:
    for name, value in FAKE_ENV.items():
        mp.setenv(name, value)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """Endpoint URL of a moto server shared by this test process; env points boto3 at it."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    with pytest.MonkeyPatch.context() as mp:
        _set_fake_env(mp)
        mp.setenv("AWS_ENDPOINT_URL", endpoint)
        try:
            yield endpoint
        finally:
            server.stop()


def reset_moto(endpoint: str) -> None:
    """Forget every resource on the emulator (moto's own reset API)."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=10):
        pass


@pytest.fixture
def moto_endpoint(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The session's moto server, emptied, with ``AWS_ENDPOINT_URL`` and credentials set for this test."""
    reset_moto(moto_server)
    _set_fake_env(monkeypatch)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    return moto_server


@pytest.fixture
def mock_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """In-process moto for small unit tests (create clients inside the test)."""
    _set_fake_env(monkeypatch)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with moto_mock_aws():
        yield


@dataclass
class FakeLambdaContext:
    function_name: str = "dr-test-function"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:dr-test-function"
    aws_request_id: str = "11111111-2222-3333-4444-555555555555"
    log_group_name: str = "/aws/lambda/dr-test-function"
    log_stream_name: str = "2026/01/01/[$LATEST]test"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def load_event() -> Callable[[str], dict[str, Any]]:
    def load(name: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((EVENTS_DIR / f"{name}.json").read_text())
        return data

    return load
