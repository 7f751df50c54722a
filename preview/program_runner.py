"""Run one Pulumi Python program under the mock runtime with preview semantics and record every registration.

offline-preview starts this file as a script, with the program's own interpreter, so it imports nothing but
pulumi and the standard library:

    python program_runner.py MAIN_PATH PROJECT STACK RESULT_JSON

Config arrives the way the Python language host passes it: ``PULUMI_CONFIG`` and
``PULUMI_CONFIG_SECRET_KEYS``. The result file holds the registrations (type, name, URN, inputs with unknowns,
parent, dependencies, property dependencies, options) or the program's error.

Preview semantics: ``new_resource`` returns no id and echoes the inputs, so every computed output (a new
bucket's id or ARN) stays unknown, as in a first ``pulumi preview``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import runpy
import sys
import threading
import traceback
from typing import Any

# The script's own directory must not shadow the program's imports (this folder has cli.py, report.py, ...).
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]

from google.protobuf import json_format
from pulumi.runtime import mocks, stack
from pulumi.runtime.settings import get_project, get_stack
from pulumi.runtime.sync_await import _sync_await

# Wire-format constants, see sdk/go/common/resource/properties.go in pulumi/pulumi.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
SIGNATURE_KEY = "4dabf18193072939515e22adb298388d"
RESOURCE_REFERENCE_SIGNATURE = "5cf8f73096256a8f31e491e813e4eb8e"
ROOT_STACK_TYPE = "pulumi:pulumi:Stack"

PLACEHOLDER_ACCOUNT_ID = "123456789012"
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_SECONDS_PER_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def duration_seconds(duration: str) -> float:
    """Seconds in a Go duration string such as "1h30m" (custom timeouts); 0 when empty or unparsable."""
    return sum(float(value) * _SECONDS_PER_UNIT[unit] for value, unit in _DURATION_PART.findall(duration))


def downgrade_resource_references(value: Any) -> Any:
    """Replace resource references by their id (or URN for components), as the engine marshals them for
    analyzers (MarshalProperties without KeepResources); an empty id at preview is unknown."""
    if isinstance(value, list):
        return [downgrade_resource_references(item) for item in value]
    if isinstance(value, dict):
        if value.get(SIGNATURE_KEY) == RESOURCE_REFERENCE_SIGNATURE:
            if "id" in value:
                return value["id"] or UNKNOWN
            return value.get("urn", UNKNOWN)
        return {key: downgrade_resource_references(item) for key, item in value.items()}
    return value


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _single_or_list(values: list[Any]) -> Any:
    # The AWS provider renders one-element lists as a plain string.
    return values[0] if len(values) == 1 else values


def render_policy_document(args: dict[str, Any]) -> str:
    """Offline stand-in for aws.iam.get_policy_document: the JSON the provider would render."""
    statements = []
    for statement in args.get("statements") or []:
        rendered: dict[str, Any] = {}
        if statement.get("sid"):
            rendered["Sid"] = statement["sid"]
        rendered["Effect"] = statement.get("effect") or "Allow"
        for source, target in (
            ("actions", "Action"),
            ("notActions", "NotAction"),
            ("resources", "Resource"),
            ("notResources", "NotResource"),
        ):
            if statement.get(source):
                rendered[target] = _single_or_list(_as_list(statement[source]))
        for source, target in (("principals", "Principal"), ("notPrincipals", "NotPrincipal")):
            principals = statement.get(source) or []
            if len(principals) == 1 and principals[0].get("type") == "*":
                rendered[target] = "*"
            elif principals:
                rendered[target] = {
                    principal["type"]: _single_or_list(_as_list(principal.get("identifiers") or []))
                    for principal in principals
                }
        conditions: dict[str, dict[str, Any]] = {}
        for condition in statement.get("conditions") or []:
            conditions.setdefault(condition["test"], {})[condition["variable"]] = _single_or_list(
                _as_list(condition.get("values") or [])
            )
        if conditions:
            rendered["Condition"] = conditions
        statements.append(rendered)
    return json.dumps({"Version": args.get("version") or "2012-10-17", "Statement": statements}, indent=2)


class RecordingMocks(mocks.Mocks):
    """Preview semantics for resources; offline answers for the few invokes DR programs commonly make."""

    def __init__(self, default_region: str) -> None:
        self.default_region = default_region
        self.provider_regions: dict[str, str] = {}
        self.unanswered_invokes: set[str] = set()

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict]:
        # Only reads (`Resource.get`) and imports know their id before deploy. A policy given as a structured
        # document comes back from the provider as JSON text (a string output), so it stays unknown here.
        outputs = {k: v for k, v in args.inputs.items() if not (k == "policy" and isinstance(v, dict))}
        return args.resource_id or None, outputs

    def call(self, args: mocks.MockCallArgs) -> dict:  # type: ignore[override]
        # A bare dict: MockMonitor.Invoke iterates the failures of a tuple, so (result, None) breaks it.
        region = args.args.get("region") or self._provider_region(args.provider) or self.default_region
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": PLACEHOLDER_ACCOUNT_ID,
                "arn": f"arn:aws:iam::{PLACEHOLDER_ACCOUNT_ID}:user/offline-preview",
                "userId": "OFFLINEPREVIEW",
                "id": PLACEHOLDER_ACCOUNT_ID,
            }
        if args.token == "aws:index/getRegion:getRegion":
            return {"name": region, "region": region, "id": region}
        if args.token == "aws:index/getPartition:getPartition":
            return {
                "partition": "aws",
                "dnsSuffix": "amazonaws.com",
                "reverseDnsPrefix": "com.amazonaws",
                "id": "aws",
            }
        if args.token == "aws:iam/getPolicyDocument:getPolicyDocument":
            document = render_policy_document(args.args)
            return {"json": document, "minifiedJson": json.dumps(json.loads(document)), "id": "offline"}
        self.unanswered_invokes.add(args.token)
        return {}

    def _provider_region(self, provider_reference: str) -> str | None:
        provider_urn = provider_reference.rsplit("::", 1)[0] if provider_reference else ""
        return self.provider_regions.get(provider_urn)


class RecordingMonitor(mocks.MockMonitor):
    """A MockMonitor that keeps what the engine would receive for each registration."""

    def __init__(self, recording_mocks: RecordingMocks) -> None:
        super().__init__(recording_mocks)
        self.recording_mocks = recording_mocks
        self.registrations: list[dict[str, Any]] = []
        self._urns: set[str] = set()
        self._lock = threading.Lock()

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """URNs as the engine makes them (Deployment.generateURN): the parent's full qualified type, except
        the root stack's, prefixes the type. MockMonitor keeps only the parent's last type and keeps the stack."""
        parent_type = parent.split("::")[2] if parent else ""
        if parent_type and parent_type != ROOT_STACK_TYPE:
            type_ = f"{parent_type}${type_}"
        return f"urn:pulumi:{get_stack()}::{get_project()}::{type_}::{name}"

    def RegisterResource(self, request):  # gRPC method name
        urn = self.make_urn(request.parent, request.type, request.name)
        with self._lock:
            if urn in self._urns:
                # The engine rejects this too; the mock monitor would silently overwrite the first one.
                raise ValueError(f"Duplicate resource URN '{urn}'; try giving it a unique name")
            self._urns.add(urn)
        properties = downgrade_resource_references(json_format.MessageToDict(request.object))
        if request.type.startswith("pulumi:providers:") and isinstance(properties.get("region"), str):
            self.recording_mocks.provider_regions[urn] = properties["region"]
        timeouts = request.customTimeouts
        registration = {
            "type": request.type,
            "name": request.name,
            "urn": urn,
            "custom": request.custom,
            "read": False,
            "parent": request.parent,
            "provider": request.provider,
            "dependencies": list(request.dependencies),
            "property_dependencies": {
                key: list(value.urns) for key, value in request.propertyDependencies.items() if value.urns
            },
            "properties": properties,
            "options": {
                "protect": request.protect,
                "ignore_changes": list(request.ignoreChanges),
                "delete_before_replace": (request.deleteBeforeReplace if request.deleteBeforeReplaceDefined else None),
                "additional_secret_outputs": list(request.additionalSecretOutputs),
                "aliases": list(request.aliasURNs),
                "custom_timeouts": {
                    "create": duration_seconds(timeouts.create),
                    "update": duration_seconds(timeouts.update),
                    "delete": duration_seconds(timeouts.delete),
                },
            },
        }
        with self._lock:
            self.registrations.append(registration)
        return super().RegisterResource(request)

    def ReadResource(self, request):  # gRPC method name
        # Reads are not analyzed one by one by the engine, but they are part of the stack AnalyzeStack sees.
        properties = downgrade_resource_references(json_format.MessageToDict(request.properties))
        with self._lock:
            self.registrations.append(
                {
                    "type": request.type,
                    "name": request.name,
                    "urn": self.make_urn(request.parent, request.type, request.name),
                    "custom": True,
                    "read": True,
                    "parent": request.parent,
                    "provider": request.provider,
                    "dependencies": list(request.dependencies),
                    "property_dependencies": {},
                    "properties": properties,
                    "options": {},
                }
            )
        return super().ReadResource(request)


class ErrorLogCollector(logging.Handler):
    """Collects pulumi.log.error messages: the engine fails a preview that logged an error."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _program_logger(collector: ErrorLogCollector) -> logging.Logger:
    logger = logging.getLogger("offline-preview.program")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    echo = logging.StreamHandler(sys.stderr)
    echo.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    logger.addHandler(echo)
    logger.addHandler(collector)
    return logger


def _default_region() -> str:
    config = json.loads(os.environ.get("PULUMI_CONFIG") or "{}")
    return config.get("aws:region") or os.environ.get("AWS_REGION") or "us-east-1"


def run_program(main_path: str, project: str, stack_name: str) -> dict[str, Any]:
    """Run the program to completion, awaiting every RPC and Output; return what the result file holds."""
    recording_mocks = RecordingMocks(_default_region())
    monitor = RecordingMonitor(recording_mocks)
    collector = ErrorLogCollector()
    mocks.set_mocks(
        recording_mocks,
        project=project,
        stack=stack_name,
        preview=True,
        logger=_program_logger(collector),
        monitor=monitor,
    )

    def program() -> Any:
        runpy.run_path(main_path, run_name="__main__")
        # Like run_in_stack: an entry point registered with pulumi.run runs after the module code.
        root = stack.get_root_resource()
        async_program = root._take_async_program() if isinstance(root, stack.Stack) else None
        return async_program() if async_program is not None else None

    error = None
    try:
        # run_pulumi_func awaits every outstanding RPC and Output, re-raising errors from apply callbacks.
        _sync_await(stack.run_pulumi_func(program))
    except BaseException as exc:  # any failure, SystemExit included, is reported
        error = {
            "type": type(exc).__name__,
            "message": str(exc),
            "traceback": "".join(traceback.format_exception(exc)),
        }
    if error is None and collector.messages:
        error = {
            "type": "pulumi.log.error",
            "message": "; ".join(collector.messages),
            "traceback": "",
        }
    return {
        "resources": monitor.registrations,
        "unanswered_invokes": sorted(recording_mocks.unanswered_invokes),
        "error": error,
    }


def main(argv: list[str]) -> int:
    main_path, project, stack_name, result_path = argv
    program_dir = os.path.dirname(os.path.abspath(main_path))
    os.chdir(program_dir)
    sys.path.insert(0, program_dir)
    result = run_program(main_path, project, stack_name)
    with open(result_path, "w", encoding="utf-8") as result_file:
        json.dump(result, result_file)
    return 0


if __name__ == "__main__":
    exit_code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    # The result is written; skip interpreter teardown, where the SDK's leftover event loops and gRPC
    # threads print "Exception ignored" noise that would read like a program error.
    os._exit(exit_code)
