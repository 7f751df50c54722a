"""Run one Pulumi Python program under the mock runtime with preview semantics and record every registration.

offline-preview starts this file as a script, with the program's own interpreter, so it imports nothing but
the standard library until it has checked that the interpreter's pulumi SDK offers what the runner needs:

    python program_runner.py MAIN_PATH PROJECT STACK RESULT_JSON [INVOKE_ANSWERS_JSON]

Config arrives the way the Python language host passes it: ``PULUMI_CONFIG`` and
``PULUMI_CONFIG_SECRET_KEYS``. The result file holds the registrations (type, name, URN, inputs with unknowns,
parent, dependencies, property dependencies, options), the interpreter and SDK version, the invokes left
unanswered, and the program's error or an environment error (an SDK the runner cannot drive). While the program
runs, ``RESULT_JSON.status`` says what it is waiting for (offline-preview shows it after 10 s and on timeout).

Only public SDK APIs are used (``REQUIRED_SDK_FEATURES`` lists each one, probed before the program runs):
``pulumi.runtime.set_mocks(monitor=...)``, ``pulumi.runtime.mocks.MockMonitor``, ``pulumi.runtime.run_in_stack``
(the SDK's own entry point, which also runs ``pulumi.run`` programs), ``pulumi.runtime.settings.set_root_resource``
and the monitor's response messages (the invoke response in its old or new form).
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import re
import sys
import traceback
from importlib import metadata
from typing import Any

# The script's own directory must not shadow the program's imports (this folder has cli.py, report.py, ...).
HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0]) == HERE:
    del sys.path[0]

# Wire-format constants, see sdk/go/common/resource/properties.go in pulumi/pulumi.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
SIGNATURE_KEY = "4dabf18193072939515e22adb298388d"
RESOURCE_REFERENCE_SIGNATURE = "5cf8f73096256a8f31e491e813e4eb8e"

# The SDK this runner was written and tested against; older SDKs pass if they offer REQUIRED_SDK_FEATURES.
TESTED_PULUMI_VERSION = "3.272.0"
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_SECONDS_PER_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def duration_seconds(duration: str) -> float:
    """Seconds in a Go duration string such as "1h30m" (custom timeouts); 0 when empty or unparsable."""
    return sum(float(value) * _SECONDS_PER_UNIT[unit] for value, unit in _DURATION_PART.findall(duration))


def downgrade_resource_references(value: Any) -> Any:
    """Replace resource references by their id (or URN for components), as the engine marshals them for
    analyzers and for providers that do not accept references; an empty id at preview is unknown."""
    if isinstance(value, list):
        return [downgrade_resource_references(item) for item in value]
    if isinstance(value, dict):
        if value.get(SIGNATURE_KEY) == RESOURCE_REFERENCE_SIGNATURE:
            if "id" in value:
                return value["id"] or UNKNOWN
            return value.get("urn", UNKNOWN)
        return {key: downgrade_resource_references(item) for key, item in value.items()}
    return value


def sdk_version() -> str:
    try:
        return metadata.version("pulumi")
    except metadata.PackageNotFoundError:
        return "not installed"


# Every SDK API runner_runtime.py uses, probed before it is loaded: (description, alternatives), where each
# alternative is (module, dotted attribute) and one of them must exist. Keep in step with runner_runtime.py.
REQUIRED_SDK_FEATURES: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("pulumi.RunError", (("pulumi", "RunError"),)),
    ("pulumi.runtime.run_in_stack", (("pulumi.runtime", "run_in_stack"),)),
    ("pulumi.runtime.settings.set_root_resource", (("pulumi.runtime.settings", "set_root_resource"),)),
    ("pulumi.runtime.settings.get_stack", (("pulumi.runtime.settings", "get_stack"),)),
    ("pulumi.runtime.mocks.Mocks", (("pulumi.runtime.mocks", "Mocks"),)),
    ("pulumi.runtime.mocks.MockCallArgs", (("pulumi.runtime.mocks", "MockCallArgs"),)),
    ("pulumi.runtime.mocks.MockMonitor", (("pulumi.runtime.mocks", "MockMonitor"),)),
    (
        "pulumi.runtime.mocks.MockMonitor.ResourceRegistration",
        (("pulumi.runtime.mocks", "MockMonitor.ResourceRegistration"),),
    ),
    (
        "pulumi.runtime.proto.resource_pb2.RegisterResourceResponse",
        (("pulumi.runtime.proto.resource_pb2", "RegisterResourceResponse"),),
    ),
    (
        "pulumi.runtime.proto.resource_pb2.ReadResourceResponse",
        (("pulumi.runtime.proto.resource_pb2", "ReadResourceResponse"),),
    ),
    (
        "an invoke response type (pulumi.runtime.proto.resource_pb2.ResourceInvokeResponse or "
        "pulumi.runtime.proto.provider_pb2.InvokeResponse)",
        (
            ("pulumi.runtime.proto.resource_pb2", "ResourceInvokeResponse"),
            ("pulumi.runtime.proto.provider_pb2", "InvokeResponse"),
        ),
    ),
    ("google.protobuf.json_format.MessageToDict", (("google.protobuf.json_format", "MessageToDict"),)),
)


def _has(module: str, attribute: str) -> bool:
    try:
        found: Any = importlib.import_module(module)
    except ImportError:
        return False
    for part in attribute.split("."):
        found = getattr(found, part, None)
        if found is None:
            return False
    return True


def missing_sdk_features() -> list[str]:
    """The SDK APIs the runner needs that this interpreter's pulumi lacks (empty when all are there)."""
    try:
        import pulumi.runtime as runtime
    except Exception as exc:
        return [f"an importable pulumi.runtime ({type(exc).__name__}: {exc})"]
    missing: list[str] = []
    set_mocks = getattr(runtime, "set_mocks", None)
    if set_mocks is None:
        missing.append("pulumi.runtime.set_mocks")
    else:
        parameters = inspect.signature(set_mocks).parameters
        missing += [
            f"pulumi.runtime.set_mocks({name}=...)"
            for name in ("preview", "monitor", "logger")
            if name not in parameters
        ]
    for description, alternatives in REQUIRED_SDK_FEATURES:
        if not any(_has(module, attribute) for module, attribute in alternatives):
            missing.append(description)
    return missing


def _load_sibling(name: str) -> Any:
    """Import a module of this folder by path (the folder itself is kept off sys.path, see above)."""
    spec = importlib.util.spec_from_file_location(f"offline_preview_{name}", os.path.join(HERE, f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def environment_report() -> dict[str, Any]:
    return {"interpreter": sys.executable, "pulumi_version": sdk_version()}


def main(argv: list[str]) -> int:
    main_path, project, stack_name, result_path, *rest = argv
    answers: dict[str, Any] = {}
    if rest and rest[0]:
        with open(rest[0], encoding="utf-8") as answers_file:
            answers = json.load(answers_file)
    program_dir = os.path.dirname(os.path.abspath(main_path))
    os.chdir(program_dir)
    sys.path.insert(0, program_dir)
    result: dict[str, Any] = {**environment_report(), "resources": [], "unanswered_invokes": [], "error": None}
    missing = missing_sdk_features()
    if missing:
        result["environment_error"] = {"missing": missing}
    else:
        try:
            runtime = _load_sibling("runner_runtime")
            result.update(runtime.run_program(main_path, project, stack_name, answers, result_path + ".status"))
        except Exception as exc:
            result["error"] = {"type": type(exc).__name__, "message": str(exc), "traceback": traceback.format_exc()}
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
