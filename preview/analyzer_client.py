"""Start a CrossGuard policy pack the way the Pulumi engine does and talk to it over the Analyzer protocol.

The one gRPC client of the project: offline-preview and benchmarks/policy_pack.py both use it.

What the engine does (pulumi/pulumi ``sdk/go/common/resource/plugin/analyzer_plugin.go``):
- runs the pack's program with ``PULUMI_CONFIG``, ``PULUMI_PROJECT``, ``PULUMI_STACK``, ``PULUMI_DRY_RUN``
  (``constructEnv``) and reads the port the pack prints on stdout;
- calls ``Handshake`` (optional), ``ConfigureStack`` (optional: UNIMPLEMENTED is tolerated), ``GetAnalyzerInfo``
  and ``Configure`` with every policy's resolved config;
- per resource, ``Remediate`` then ``Analyze`` (``pkg/resource/deploy/step_generator.go``); ``AnalyzeStack``
  once at the end.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from preview import stack_yaml
from preview.errors import PolicyPackError, PreviewError
from preview.project import python_interpreter

PACK_START_TIMEOUT_SECONDS = 60
# The Python SDK's pack server accepts 400 MB messages; a 10k-resource AnalyzeStack exceeds gRPC's 4 MB default.
MAX_MESSAGE_BYTES = 400 * 1024 * 1024
CHANNEL_OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
]

LEVEL_NAMES: dict[int, str] = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.REMEDIATE: "remediate",
    analyzer_pb2.DISABLED: "disabled",
}
LEVEL_VALUES: dict[str, int] = {name: value for value, name in LEVEL_NAMES.items()}


def to_struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(values)
    return struct


def from_struct(struct: struct_pb2.Struct) -> dict[str, Any]:
    return json_format.MessageToDict(struct)


@dataclass(frozen=True)
class PolicyConfig:
    """One policy's resolved config: what Configure sends for it."""

    enforcement_level: str
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StackIdentity:
    """What the engine tells the pack about the stack being previewed."""

    project: str
    stack: str
    config: dict[str, str] = field(default_factory=dict)
    secret_keys: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    organization: str = ""
    dry_run: bool = True


class _OutputDrain:
    """Reads a pack's stdout on a thread: the first line is the port; later lines must not fill the pipe."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self._first_line = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.append(line)
            self._first_line.set()
        self._first_line.set()

    def first_line(self, timeout: float) -> str | None:
        self._first_line.wait(timeout)
        return self.lines[0] if self.lines else None


class AnalyzerClient:
    """Typed calls on a running pack; protocol failures become PolicyPackError."""

    def __init__(self, channel: grpc.Channel, describe_failure: Any = None) -> None:
        self._stub = analyzer_pb2_grpc.AnalyzerStub(channel)
        self._describe_failure = describe_failure or (lambda: "")

    def _call(self, method: str, request: Any) -> Any:
        try:
            return getattr(self._stub, method)(request)
        except grpc.RpcError as exc:
            raise PolicyPackError(
                f"policy pack failed in {method}: {exc.details()}",  # type: ignore[attr-defined]
                self._describe_failure(),
            ) from exc

    def _optional_call(self, method: str, request: Any) -> bool:
        """Calls the engine tolerates as UNIMPLEMENTED (older SDKs); True when the pack implements them."""
        try:
            getattr(self._stub, method)(request)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.UNIMPLEMENTED:  # type: ignore[attr-defined]
                return False
            raise PolicyPackError(
                f"policy pack failed in {method}: {exc.details()}",  # type: ignore[attr-defined]
                self._describe_failure(),
            ) from exc
        return True

    def handshake(self, pack_dir: Path) -> bool:
        directory = str(pack_dir)
        request = analyzer_pb2.AnalyzerHandshakeRequest(
            engine_address="", root_directory=directory, program_directory=directory
        )
        return self._optional_call("Handshake", request)

    def configure_stack(self, identity: StackIdentity) -> bool:
        request = analyzer_pb2.AnalyzerStackConfigureRequest(
            project=identity.project,
            stack=identity.stack,
            organization=identity.organization,
            dry_run=identity.dry_run,
            config=identity.config,
            config_secret_keys=identity.secret_keys,
            tags=identity.tags,
        )
        return self._optional_call("ConfigureStack", request)

    def analyzer_info(self) -> analyzer_pb2.AnalyzerInfo:
        return self._call("GetAnalyzerInfo", empty_pb2.Empty())

    def configure(self, policy_configs: Mapping[str, PolicyConfig]) -> None:
        request = analyzer_pb2.ConfigureAnalyzerRequest(
            policyConfig={
                name: analyzer_pb2.PolicyConfig(
                    enforcementLevel=LEVEL_VALUES[config.enforcement_level],  # type: ignore[arg-type]
                    properties=to_struct(config.properties),
                )
                for name, config in policy_configs.items()
            }
        )
        self._call("Configure", request)

    def remediate(self, request: analyzer_pb2.AnalyzeRequest) -> analyzer_pb2.RemediateResponse:
        return self._call("Remediate", request)

    def analyze(self, request: analyzer_pb2.AnalyzeRequest) -> analyzer_pb2.AnalyzeResponse:
        return self._call("Analyze", request)

    def analyze_stack(self, resources: Sequence[analyzer_pb2.AnalyzerResource]) -> analyzer_pb2.AnalyzeResponse:
        return self._call("AnalyzeStack", analyzer_pb2.AnalyzeStackRequest(resources=resources))


def read_policy_project(pack_dir: Path) -> dict[str, Any]:
    """PulumiPolicy.yaml, or {} when the pack has none."""
    policy_project = pack_dir / "PulumiPolicy.yaml"
    if not policy_project.exists():
        return {}
    try:
        document = stack_yaml.loads(policy_project.read_text(encoding="utf-8"))
    except Exception as exc:
        raise PolicyPackError(f"cannot read {policy_project}: {exc}") from exc
    return document if isinstance(document, dict) else {}


def pack_version(pack_dir: Path, info: analyzer_pb2.AnalyzerInfo) -> str:
    """The CLI prefers PulumiPolicy.yaml's version; Python packs always report 0.0.1 themselves."""
    return str(read_policy_project(pack_dir).get("version") or info.version)


def pack_interpreter(pack_dir: Path) -> str:
    """The interpreter the engine would use: PulumiPolicy.yaml's virtualenv if it exists, else ours."""
    runtime = read_policy_project(pack_dir).get("runtime")
    options = (runtime.get("options") or {}) if isinstance(runtime, dict) else {}
    if not options.get("virtualenv") and not options.get("toolchain"):
        return sys.executable  # the pack's requirements are installed beside offline-preview's own
    try:
        return python_interpreter(pack_dir, runtime)
    except PreviewError as exc:
        raise PolicyPackError(f"policy pack {pack_dir}: {exc}") from exc


def _tail(path: Path, limit: int = 4000) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-limit:]
    except OSError:
        return ""


@contextmanager
def running_policy_pack(
    pack_dir: Path,
    identity: StackIdentity,
    extra_env: Mapping[str, str] | None = None,
    python_options: Sequence[str] = (),
) -> Iterator[AnalyzerClient]:
    """Start the pack's __main__.py like the engine, yield a connected client, and stop the pack afterwards.

    ``python_options`` go before the entry point (benchmarks/profile_pack.py wraps a pack to profile it);
    the pack is stopped with SIGINT first so such a wrapper can write its output.
    """
    pack_dir = pack_dir.resolve()
    entry_point = pack_dir / "__main__.py"
    if not entry_point.exists():
        raise PolicyPackError(f"no policy pack at {pack_dir} (expected {entry_point.name})")
    env = {
        **_environment_without_pulumi_settings(),
        "PULUMI_PROJECT": identity.project,
        "PULUMI_STACK": identity.stack,
        "PULUMI_DRY_RUN": "true" if identity.dry_run else "false",
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    if identity.config:
        env["PULUMI_CONFIG"] = _json(identity.config)
    if identity.organization:
        env["PULUMI_ORGANIZATION"] = identity.organization
    with tempfile.TemporaryDirectory(prefix="offline-preview-pack-") as scratch:
        stderr_path = Path(scratch) / "stderr.log"
        with stderr_path.open("w", encoding="utf-8") as stderr_file:
            process = subprocess.Popen(
                [pack_interpreter(pack_dir), *python_options, str(entry_point)],
                cwd=pack_dir,
                env=env,
                stdout=subprocess.PIPE,
                stderr=stderr_file,
                text=True,
            )
            try:
                assert process.stdout is not None
                drain = _OutputDrain(process.stdout)
                port_line = drain.first_line(PACK_START_TIMEOUT_SECONDS)
                if port_line is None or not port_line.strip().isdigit():
                    process.kill()
                    process.wait()
                    raise PolicyPackError(
                        f"policy pack {pack_dir} did not print its port (exit code {process.returncode})",
                        _tail(stderr_path) + "".join(drain.lines),
                    )
                channel = grpc.insecure_channel(f"127.0.0.1:{int(port_line)}", options=CHANNEL_OPTIONS)
                with channel:
                    grpc.channel_ready_future(channel).result(timeout=PACK_START_TIMEOUT_SECONDS)
                    yield AnalyzerClient(channel, describe_failure=lambda: _tail(stderr_path))
            finally:
                _stop(process)


def _stop(process: subprocess.Popen[str]) -> None:
    # SIGINT is what PolicyPack handles (KeyboardInterrupt stops its server); then escalate.
    for signal_process in (lambda: process.send_signal(signal.SIGINT), process.terminate, process.kill):
        if process.poll() is not None:
            return
        signal_process()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            continue


def _environment_without_pulumi_settings() -> dict[str, str]:
    # The caller's own PULUMI_CONFIG (e.g. from a surrounding pulumi run) must not leak into the pack.
    return {key: value for key, value in os.environ.items() if key != "PULUMI_CONFIG"}


def _json(values: Mapping[str, str]) -> str:
    return json.dumps(dict(values))
