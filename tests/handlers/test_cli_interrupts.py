"""Issue 23 items 8 and 9: one signal wrapper for every ``drctl`` command, and no traceback on odd input.

- In process: each command, stopped by SIGINT or SIGTERM inside its work, exits 130/143 with exactly one JSON
  object under ``--json`` (typer used to turn the KeyboardInterrupt into a bare exit 130, and SIGTERM killed).
- Real processes: ``drctl drill-table`` against moto through a small HTTP proxy that holds one chosen request,
  so each signal lands at a known step (no timing): SIGTERM during the damage step, and a second Ctrl-C during
  the cleanup. Afterwards the drilled table holds no canary and no drill backup is left.
"""

from __future__ import annotations

import http.client
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from typer.testing import CliRunner

from handlers import cli
from handlers.cli import COMMAND_MODULES, EXIT_SIGINT, EXIT_SIGTERM, EXIT_USAGE, app

for _module in COMMAND_MODULES:
    __import__(_module)

DRCTL = Path(sys.executable).with_name("drctl")
TABLE = "orders-drill-src"


def one_json_object(stdout: str) -> dict[str, Any]:
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert len(lines) == 1, stdout
    document = json.loads(lines[0])
    assert isinstance(document, dict)
    return document


@pytest.fixture
def sigterm_fails_loudly() -> Iterator[None]:
    """Without drctl's guard a SIGTERM would kill the test process: make it an ordinary failure instead."""

    def refuse(_signum: int, _frame: Any) -> None:
        raise AssertionError("SIGTERM reached the test's handler: drctl installed none")

    previous = signal.signal(signal.SIGTERM, refuse)
    yield
    signal.signal(signal.SIGTERM, previous)


def _raiser(signum: int) -> Callable[..., Any]:
    def work(*_args: Any, **_kwargs: Any) -> Any:
        signal.raise_signal(signum)
        raise AssertionError("the signal did not stop the work")

    return work


# (command line, module attribute the command calls for its work)
COMMANDS = {
    "drill-table": (["drill-table", TABLE, "--region", "us-east-1"], "handlers.cli.drills.run_table_drill"),
    "drill --stack": (["drill", "--stack", "prod", "--local"], "handlers.cli.drills.run_stack_drill"),
    "export-table": (
        ["export-table", TABLE, "--bucket", "some-bucket", "--region", "us-east-1"],
        "handlers.dynamodb.export.export_table",
    ),
    "restore-table": (
        ["restore-table", TABLE, "--to", "latest", "--region", "us-east-1"],
        "handlers.dynamodb.restore.restore_table",
    ),
    "backup": (
        ["backup", "--tables", TABLE, "--regions", "us-east-1", "--retention-days", "35"],
        "handlers.dynamodb.backups.run_backups",
    ),
    "audit-replication": (["audit-replication", "--bucket", "some-bucket"], "handlers.s3.audit.resolve_replica"),
}


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_stops_on_a_signal_with_one_json_object(
    command: str, signum: int, monkeypatch: pytest.MonkeyPatch, sigterm_fails_loudly: None
) -> None:
    args, target = COMMANDS[command]
    module, _, name = target.rpartition(".")
    monkeypatch.setattr(sys.modules[module], name, _raiser(signum))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    result = CliRunner().invoke(app, [*args, "--json"])
    expected = 128 + signum
    assert result.exit_code == expected, (result.stdout, result.stderr, result.exception)
    document = one_json_object(result.stdout)
    assert document["exit_code"] == expected and document["interrupted"] is True
    assert document["signal"] == signal.Signals(signum).name


def test_a_signal_after_the_result_is_printed_cannot_change_it(monkeypatch: pytest.MonkeyPatch) -> None:
    def finished(*_args: Any, **_kwargs: Any) -> Any:
        cli.emit({"done": True}, as_json=True, code=0)
        signal.raise_signal(signal.SIGINT)  # held: the outcome is already out
        raise cli.typer.Exit(0)

    monkeypatch.setattr(sys.modules["handlers.cli.drills"], "run_stack_drill", finished)
    result = CliRunner().invoke(app, ["drill", "--stack", "prod", "--local", "--json"])
    assert result.exit_code == 0 and one_json_object(result.stdout) == {"done": True, "exit_code": 0}


# ---------------------------------------------------------------- item 9: local decisions, no tracebacks


def test_restore_and_export_without_a_region_exit_2_with_one_object(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for variable in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    for args in (
        ["restore-table", TABLE, "--to", "latest", "--json"],
        ["export-table", TABLE, "--bucket", "some-bucket", "--json"],
    ):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == EXIT_USAGE, (args, result.stdout, result.exception)
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert one_json_object(result.stdout)["error"] == "no Region: pass --region or set AWS_REGION"


def test_drill_outputs_holding_a_json_list_is_a_clear_error(tmp_path: Path) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text("[1, 2]")
    repo = Path(__file__).resolve().parents[2]
    result = CliRunner().invoke(
        app, ["drill", "--stack", "prod", "--outputs", str(outputs), "--project", str(repo), "--json"]
    )
    assert result.exit_code == EXIT_USAGE, (result.stdout, result.exception)
    assert "holds a JSON list, not the object of stack outputs" in one_json_object(result.stdout)["error"]


# ---------------------------------------------------------------- real processes, real signals


class HoldingProxy:
    """Forwards every request to moto; holds the first one whose ``X-Amz-Target`` ends with a chosen operation
    until released, after telling the test it is held (the drctl process is then waiting in that call)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.hold_operation: str | None = None
        self.hold_after = False  # hold the response (the server did the work) rather than the request
        self.held = threading.Event()
        self.release = threading.Event()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                target = self.headers.get("X-Amz-Target", "")
                held = bool(proxy.hold_operation) and target.endswith(f".{proxy.hold_operation}")
                if held:
                    proxy.hold_operation = None
                if held and not proxy.hold_after:
                    proxy.held.set()
                    proxy.release.wait(60)
                upstream = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=60)
                headers = {key: value for key, value in self.headers.items() if key.lower() != "host"}
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                data = response.read()
                if held and proxy.hold_after:
                    proxy.held.set()
                    proxy.release.wait(60)
                try:
                    self.send_response(response.status)
                    for key, value in response.getheaders():
                        if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up on this request (it was interrupted)
                finally:
                    upstream.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def hold(self, operation: str, *, after: bool = False) -> None:
        self.held.clear()
        self.release.clear()
        self.hold_after = after
        self.hold_operation = operation

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()


@pytest.fixture
def proxy(moto_endpoint: str) -> Iterator[HoldingProxy]:
    holding = HoldingProxy(moto_endpoint)
    yield holding
    holding.close()


def _source_table(ddb: Any) -> None:
    ddb.create_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName=TABLE, Item={"pk": {"S": "customer#1"}})


def _start_drill(proxy: HoldingProxy) -> subprocess.Popen[str]:
    env = {**os.environ, "AWS_ENDPOINT_URL": proxy.url, "AWS_REGION": "us-east-1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [str(DRCTL), "drill-table", TABLE, "--canaries", "40", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _left_behind(ddb: Any) -> tuple[list[str], list[str], list[str]]:
    items = ddb.scan(TableName=TABLE)["Items"]
    canaries = [item["pk"]["S"] for item in items if item["pk"]["S"].startswith("dr-drill#")]
    backups = [b["BackupName"] for b in ddb.list_backups(TableName=TABLE)["BackupSummaries"]]
    tables = [name for name in ddb.list_tables()["TableNames"] if name != TABLE]
    return canaries, backups, tables


def _wait_held(proxy: HoldingProxy, process: subprocess.Popen[str]) -> None:
    if not proxy.held.wait(120):
        process.kill()
        raise AssertionError(f"the drill never reached the held request: {process.communicate()}")


@pytest.mark.slow
def test_sigterm_during_the_damage_step_cleans_up_and_reports_143(proxy: HoldingProxy) -> None:
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    _source_table(ddb)
    proxy.hold("DeleteItem")  # the damage step: half the canaries overwritten, now deleting a quarter
    process = _start_drill(proxy)
    _wait_held(proxy, process)
    assert _left_behind(ddb)[1], "the drill's backup exists while it damages"
    process.send_signal(signal.SIGTERM)
    proxy.release.set()
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == EXIT_SIGTERM, stderr
    document = one_json_object(stdout)
    assert document["exit_code"] == EXIT_SIGTERM and document["signal"] == "SIGTERM"
    assert document["cleanup"]["backup_deleted"] is True and document["cleanup"]["errors"] == []
    assert _left_behind(ddb) == ([], [], [])
    assert "Traceback" not in stderr


@pytest.mark.slow
def test_a_second_ctrl_c_during_cleanup_does_not_stop_it(proxy: HoldingProxy) -> None:
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    _source_table(ddb)
    proxy.hold("CreateBackup", after=True)  # the backup exists on the server; its ARN has not come back to drctl
    process = _start_drill(proxy)
    _wait_held(proxy, process)
    proxy.hold("BatchWriteItem")  # cleanup's first step: deleting the canaries
    process.send_signal(signal.SIGINT)
    _wait_held(proxy, process)  # now inside the cleanup
    process.send_signal(signal.SIGINT)
    proxy.release.set()
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == EXIT_SIGINT, stderr
    document = one_json_object(stdout)
    assert document["exit_code"] == EXIT_SIGINT and document["signal"] == "SIGINT"
    assert document["cleanup"]["canaries_deleted"] == 40 and document["cleanup"]["backup_deleted"] is True
    assert "already stopping; cleanup finishes first" in stderr
    assert _left_behind(ddb) == ([], [], [])
    assert "Traceback" not in stderr
