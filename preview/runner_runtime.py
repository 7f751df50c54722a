"""The part of the program runner that needs the pulumi SDK: a recording mock monitor and the program's run.

Loaded by program_runner.py (by path, inside the program's interpreter) only after it has checked that the SDK
offers every public API used here.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import os
import re
import sys
import threading
import time
import traceback
from typing import Any

import pulumi
import pulumi.resource
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import mocks, run_in_stack, settings
from pulumi.runtime.proto import provider_pb2, resource_pb2


def _sibling(name: str) -> Any:
    here = os.path.dirname(os.path.abspath(__file__))
    module_name = f"offline_preview_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, os.path.join(here, f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


_HERE = os.path.dirname(os.path.abspath(__file__))
_helpers = _sibling("program_runner")
_answers = _sibling("invoke_answers")
downgrade_resource_references = _helpers.downgrade_resource_references
duration_seconds = _helpers.duration_seconds

ROOT_STACK_TYPE = "pulumi:pulumi:Stack"
# The monitor's Invoke answer: resource_pb2.ResourceInvokeResponse in recent SDKs, provider_pb2.InvokeResponse
# before (pulumi 3.228.0 has only the latter); both carry `return` and `failures`.
INVOKE_RESPONSE = getattr(resource_pb2, "ResourceInvokeResponse", None) or provider_pb2.InvokeResponse
STACK_REFERENCE_TYPE = "pulumi:pulumi:StackReference"
STATUS_INTERVAL_SECONDS = 0.5


class Tracker:
    """What the program is waiting for: resources constructed whose registration has not reached the monitor
    (their inputs are still resolving) and monitor calls in flight."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.constructed: dict[tuple[str, str], float] = {}
        self.in_flight: dict[int, str] = {}
        self.registered = 0
        self.last_registered = ""

    def construct(self, type_: str, name: str) -> None:
        with self._lock:
            self.constructed.setdefault((type_, name), time.monotonic())

    def arrived(self, type_: str, name: str) -> None:
        with self._lock:
            self.constructed.pop((type_, name), None)
            self.registered += 1
            self.last_registered = f"{type_} '{name}'"

    def start(self, what: str) -> int:
        with self._lock:
            key = id(what) ^ int(time.monotonic_ns())
            self.in_flight[key] = what
            return key

    def finish(self, key: int) -> None:
        with self._lock:
            self.in_flight.pop(key, None)

    def waiting_for(self, main_thread: threading.Thread, program_dir: str) -> list[str]:
        """The program's own line first whenever the main thread is in it: while it runs (a module-level sleep,
        a network call retrying), nothing else can progress, so the resources it constructed only wait for it."""
        with self._lock:
            pending = sorted(self.constructed.items(), key=lambda item: item[1])
            calls = list(self.in_flight.values())
        frame = sys._current_frames().get(main_thread.ident or 0)
        location = _program_location(frame, program_dir)
        lines = [f"the program's own code at {location}"] if location else []
        lines += [f"{call} (a monitor call in flight)" for call in calls]
        if location and pending:
            lines.append(f"{len(pending)} resource(s) constructed before it, whose inputs wait for that code")
        elif pending:
            lines += [f"resource {type_} '{name}' (its inputs have not resolved)" for (type_, name), _ in pending]
        return lines or ["the SDK's outstanding outputs"]


def _program_location(frame: Any, program_dir: str) -> str:
    """The innermost frame of the program's own files (not its libraries, not this runner)."""
    program_dir = os.path.join(os.path.abspath(program_dir), "")
    for entry in reversed(traceback.extract_stack(frame) if frame is not None else []):
        if entry.filename.startswith("<"):  # <frozen importlib._bootstrap>, <string>: no file of the program
            continue
        filename = os.path.abspath(entry.filename)
        if (
            filename.startswith(program_dir)
            and "site-packages" not in filename
            and not filename.startswith(os.path.join(_HERE, ""))
        ):
            return f"{os.path.relpath(filename, program_dir)}:{entry.lineno} ({entry.name})"
    return ""


def _track_constructions(tracker: Tracker) -> None:
    """Note every resource the program constructs, before its inputs resolve (public module attributes of
    pulumi.resource; skipped if an SDK names them differently)."""
    for attribute in ("register_resource", "read_resource"):
        original = getattr(pulumi.resource, attribute, None)
        if original is None:
            continue

        def wrapper(res: Any, ty: str, name: str, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            tracker.construct(ty, name)
            return _original(res, ty, name, *args, **kwargs)

        setattr(pulumi.resource, attribute, wrapper)


# A value of an invoke left unanswered carries this marker (plus the invoke's number) until it reaches a
# resource input, where the monitor turns it into an unknown and remembers the invoke it came from.
UNANSWERED_MARKER = "offline-preview-unanswered-invoke-"
_MARKED = re.compile(re.escape(UNANSWERED_MARKER) + r"(\d+):(\w+)")
_STRING_HINT = re.compile(r"^(typing\.)?(Optional\[)?(_?builtins\.)?str\]?$")
_STRING_LIST_HINT = re.compile(
    r"^(typing\.)?(Optional\[)?(typing\.|collections\.abc\.)?(Sequence|List|list)\[(_?builtins\.)?str\]\]?$"
)


def _track_invoke_types(types: dict[str, Any]) -> None:
    """Note the result type each invoke token is called with (generated SDKs pass ``typ=`` to
    ``pulumi.runtime.invoke`` and its output forms), so an unanswered invoke can be given unknown fields and
    an answer's ignored keys can be named."""
    runtime_module = sys.modules["pulumi.runtime"]
    for attribute in ("invoke", "invoke_single", "invoke_output", "invoke_output_single", "invoke_async"):
        original = getattr(runtime_module, attribute, None)
        if original is None:
            continue

        def wrapper(tok: str, props: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            typ = kwargs.get("typ", args[1] if len(args) > 1 else None)
            if typ is not None:
                types[tok] = typ
            return _original(tok, props, *args, **kwargs)

        setattr(runtime_module, attribute, wrapper)


def result_fields(typ: Any) -> dict[str, str]:
    """Engine name -> type hint text of an invoke result type's declared outputs (@pulumi.getter names)."""
    fields: dict[str, str] = {}
    for klass in reversed(getattr(typ, "__mro__", ())):
        for value in vars(klass).values():
            engine_name = getattr(getattr(value, "fget", None), "_pulumi_name", None)
            if isinstance(value, property) and isinstance(engine_name, str):
                hint = getattr(value.fget, "__annotations__", {}).get("return", "")
                fields[engine_name] = hint if isinstance(hint, str) else repr(hint).replace("<class 'str'>", "str")
    return fields


def unknown_placeholder(hint: str, marker: str) -> Any:
    """A stand-in the SDK's result type accepts: the marker for a string, a one-marker list for a list of
    strings; None (absent) for any other type, which cannot carry a marker."""
    hint = hint.replace(" ", "")
    if _STRING_HINT.match(hint):
        return marker
    if _STRING_LIST_HINT.match(hint):
        return [marker]
    return None


class RecordingMocks(mocks.Mocks):
    """Offline answers to invokes: the user's file first, then the built-in fake answers; anything else (or an
    empty answer) gets unknown values, marked with the invoke they came from."""

    def __init__(self, default_region: str, answers: dict[str, Any]) -> None:
        self.default_region = default_region
        self.answers = answers
        self.provider_regions: dict[str, str] = {}
        self.invoke_types: dict[str, Any] = {}
        self.unanswered_invokes: list[dict[str, Any]] = []
        self.builtin_answers: list[dict[str, Any]] = []
        self.ignored_answer_keys: list[dict[str, Any]] = []
        self.result_fields: dict[str, list[str]] = {}
        self.stack_references_without_answers: list[str] = []
        self._lock = threading.Lock()

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict]:
        return args.resource_id or None, dict(args.inputs)

    def call(self, args: mocks.MockCallArgs) -> dict:  # type: ignore[override]
        arguments = dict(args.args)
        call = {"token": args.token, "args": self._readable(arguments)}
        fields = result_fields(self.invoke_types.get(args.token))
        answer = _answers.user_answer(self.answers, args.token, arguments)
        if answer is not _answers.UNANSWERED:
            ignored = sorted(key for key in answer if fields and key not in fields)
            if ignored:
                self._note(self.ignored_answer_keys, {**call, "ignored": ignored, "fields": sorted(fields)})
            if any(key in fields or not fields for key in answer):
                return dict(answer)
        else:
            region = arguments.get("region") or self._provider_region(args.provider) or self.default_region
            answer = _answers.builtin_answer(args.token, arguments, region)
            if answer is not _answers.UNANSWERED:
                self._note(self.builtin_answers, call)
                return dict(answer)
        number = self._note(self.unanswered_invokes, call)
        if fields:
            self.result_fields[args.token] = sorted(fields)
        result = {}
        for name, hint in fields.items():
            value = (
                arguments[name]
                if name in arguments
                else unknown_placeholder(hint, f"{UNANSWERED_MARKER}{number}:{name}")
            )
            if value is not None:
                result[name] = value
        return result

    def _readable(self, value: Any) -> Any:
        """An argument that came from another unanswered invoke, as text a reader understands."""
        if isinstance(value, str):
            return _MARKED.sub(
                lambda found: f"<unknown {found.group(2)} of {self.unanswered_invokes[int(found.group(1))]['token']}>",
                value,
            )
        if isinstance(value, list):
            return [self._readable(item) for item in value]
        if isinstance(value, dict):
            return {key: self._readable(item) for key, item in value.items()}
        return value

    def _note(self, calls: list[dict[str, Any]], call: dict[str, Any]) -> int:
        with self._lock:
            if call not in calls:
                calls.append(call)
            return calls.index(call)

    def stack_reference_outputs(self, name: str) -> Any:
        """A reference's answered outputs, or unknown (the engine would know them; offline nobody does)."""
        references = self.answers.get(_answers.STACK_REFERENCES_KEY) or {}
        if name in references and isinstance(references[name], dict):
            return dict(references[name])
        if name not in self.stack_references_without_answers:
            self.stack_references_without_answers.append(name)
        return _helpers.UNKNOWN

    def _provider_region(self, provider_reference: str) -> str | None:
        provider_urn = provider_reference.rsplit("::", 1)[0] if provider_reference else ""
        return self.provider_regions.get(provider_urn)


def unmark_unanswered(value: Any, path: tuple[Any, ...] = ()) -> tuple[Any, list[dict[str, Any]]]:
    """Replace every string holding an unanswered invoke's marker by an unknown; say which path came from
    which invoke (by its number in the unanswered list) and which of its result fields."""
    if isinstance(value, str):
        markers = _MARKED.findall(value)
        if markers:
            numbers = sorted({int(number) for number, _ in markers})
            fields = sorted({field for _, field in markers})
            return _helpers.UNKNOWN, [{"path": list(path), "invokes": numbers, "fields": fields}]
        return value, []
    found: list[dict[str, Any]] = []
    if isinstance(value, list):
        items = []
        for position, item in enumerate(value):
            item, inner = unmark_unanswered(item, (*path, position))
            items.append(item)
            found += inner
        return items, found
    if isinstance(value, dict):
        mapping = {}
        for key, item in value.items():
            mapping[key], inner = unmark_unanswered(item, (*path, key))
            found += inner
        return mapping, found
    return value, []


def _struct(values: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(values)
    return struct


class RecordingMonitor(mocks.MockMonitor):
    """Answers the SDK as the engine does at preview and keeps what the engine would receive.

    RegisterResource, ReadResource and Invoke are answered from the serialized request itself: resource
    references are downgraded to ids (unknown for new resources) as the engine does for providers, so no
    resource object is rebuilt on the monitor's thread (MockMonitor's deserialize/serialize round trip waits
    forever on a new resource's id, which has no value at preview).
    """

    def __init__(self, recording_mocks: RecordingMocks, tracker: Tracker) -> None:
        super().__init__(recording_mocks)
        self.recording_mocks = recording_mocks
        self.tracker = tracker
        self.registrations: list[dict[str, Any]] = []
        self._urns: set[str] = set()
        self._lock = threading.Lock()

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """URNs as the engine makes them (Deployment.generateURN): the parent's full qualified type, except
        the root stack's, prefixes the type. MockMonitor keeps only the parent's last type and keeps the stack."""
        parent_type = parent.split("::")[2] if parent else ""
        if parent_type and parent_type != ROOT_STACK_TYPE:
            type_ = f"{parent_type}${type_}"
        return f"urn:pulumi:{settings.get_stack()}::{settings.get_project()}::{type_}::{name}"

    def RegisterResource(self, request: Any) -> Any:  # gRPC method name
        self.tracker.arrived(request.type, request.name)
        call = self.tracker.start(f"RegisterResource {request.type} '{request.name}'")
        try:
            return self._register(request)
        finally:
            self.tracker.finish(call)

    def _register(self, request: Any) -> Any:
        urn = self.make_urn(request.parent, request.type, request.name)
        with self._lock:
            if urn in self._urns:
                # The engine rejects this too; the mock monitor would silently overwrite the first one.
                raise ValueError(f"Duplicate resource URN '{urn}'; try giving it a unique name")
            self._urns.add(urn)
        properties, from_unanswered = unmark_unanswered(
            downgrade_resource_references(json_format.MessageToDict(request.object))
        )
        remote = bool(getattr(request, "remote", False))
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
            "remote": remote,
            "package_version": request.version,
            "from_unanswered_invokes": from_unanswered,
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
        if request.type == ROOT_STACK_TYPE:
            return resource_pb2.RegisterResourceResponse(urn=urn)
        # Preview: a new resource has no id and its outputs are its inputs; only imports know their id.
        # A policy given as a structured document comes back from the provider as JSON text (a string output),
        # so it stays unknown here.
        resource_id = request.importId or ""
        outputs = {k: v for k, v in properties.items() if not (k == "policy" and isinstance(v, dict))}
        if remote:
            # A multi-language component runs in its provider plugin, which is not here: it is not expanded and
            # all its outputs stay unknown, as the engine leaves what a plugin has not computed yet.
            outputs = {}
        self.resources[urn] = mocks.MockMonitor.ResourceRegistration(urn, resource_id, outputs)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=resource_id, object=_struct(outputs))

    def ReadResource(self, request: Any) -> Any:  # gRPC method name
        self.tracker.arrived(request.type, request.name)
        # Reads are not analyzed one by one by the engine, but they are part of the stack AnalyzeStack sees.
        properties = downgrade_resource_references(json_format.MessageToDict(request.properties))
        if request.type == STACK_REFERENCE_TYPE:
            name = str(properties.get("name") or request.id)
            properties = {
                "name": name,
                "outputs": self.recording_mocks.stack_reference_outputs(name),
                "secretOutputNames": [],
            }
        urn = self.make_urn(request.parent, request.type, request.name)
        with self._lock:
            self.registrations.append(
                {
                    "type": request.type,
                    "name": request.name,
                    "urn": urn,
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
        self.resources[urn] = mocks.MockMonitor.ResourceRegistration(urn, request.id, properties)
        return resource_pb2.ReadResourceResponse(urn=urn, properties=_struct(properties))

    def Invoke(self, request: Any) -> Any:  # gRPC method name
        if request.tok == "pulumi:pulumi:getResource":
            return super().Invoke(request)
        call = self.tracker.start(f"invoke {request.tok}")
        try:
            arguments = downgrade_resource_references(json_format.MessageToDict(request.args))
            result = self.recording_mocks.call(mocks.MockCallArgs(request.tok, arguments, request.provider))
            return INVOKE_RESPONSE(**{"return": _struct(result)})
        finally:
            self.tracker.finish(call)


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


def _write_status(tracker: Tracker, main_thread: threading.Thread, program_dir: str, path: str) -> None:
    """Keep ``path`` saying what the program waits for, so offline-preview can tell the user while it runs."""
    while True:
        time.sleep(STATUS_INTERVAL_SECONDS)
        status = {
            "waiting_for": tracker.waiting_for(main_thread, program_dir),
            "registered": tracker.registered,
            "last_registered": tracker.last_registered,
        }
        temporary = path + ".tmp"
        with open(temporary, "w", encoding="utf-8") as status_file:
            json.dump(status, status_file)
        os.replace(temporary, path)


def _error(exc: BaseException) -> dict[str, Any]:
    # pulumi.RunError ends a program cleanly: the language host prints its message only, no traceback.
    if isinstance(exc, pulumi.RunError):
        return {"type": "RunError", "message": str(exc), "traceback": ""}
    return {"type": type(exc).__name__, "message": str(exc), "traceback": "".join(traceback.format_exception(exc))}


def run_program(
    main_path: str, project: str, stack_name: str, answers: dict[str, Any], status_path: str
) -> dict[str, Any]:
    """Run the program to completion with the SDK's own entry point; return what the result file holds."""
    tracker = Tracker()
    _track_constructions(tracker)
    recording_mocks = RecordingMocks(_default_region(), answers)
    _track_invoke_types(recording_mocks.invoke_types)
    monitor = RecordingMonitor(recording_mocks, tracker)
    collector = ErrorLogCollector()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    # set_mocks creates a root stack when there is none; run_in_stack must create it instead (it runs
    # pulumi.run programs and registers the stack's outputs), so a placeholder holds the place meanwhile.
    settings.set_root_resource(object())  # type: ignore[arg-type]
    mocks.set_mocks(
        recording_mocks,
        project=project,
        stack=stack_name,
        preview=True,
        logger=_program_logger(collector),
        monitor=monitor,
    )
    settings.set_root_resource(None)  # type: ignore[arg-type]
    program_dir = os.path.dirname(os.path.abspath(main_path))
    threading.Thread(
        target=_write_status,
        args=(tracker, threading.current_thread(), program_dir, status_path),
        daemon=True,
    ).start()

    error = None
    try:
        # run_in_stack awaits every outstanding RPC and Output, re-raising errors from apply callbacks.
        loop.run_until_complete(run_in_stack(lambda: _run_main(main_path)))
    except BaseException as exc:  # any failure, SystemExit included, is reported
        error = _error(exc)
    if error is None and collector.messages:
        error = {"type": "pulumi.log.error", "message": "; ".join(collector.messages), "traceback": ""}
    return {
        "resources": monitor.registrations,
        "unanswered_invokes": recording_mocks.unanswered_invokes,
        "builtin_answers": recording_mocks.builtin_answers,
        "ignored_answer_keys": recording_mocks.ignored_answer_keys,
        "result_fields": recording_mocks.result_fields,
        "stack_references_without_answers": recording_mocks.stack_references_without_answers,
        "error": error,
    }


def _run_main(main_path: str) -> None:
    import runpy

    runpy.run_path(main_path, run_name="__main__")
