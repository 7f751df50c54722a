"""Reading resource properties without ever tripping over an unknown value.

At preview the SDK hands policies an ``unknown_checking_proxy``: reading an unknown raises
``UnknownValueError``, and ``props.get(k)``, ``k in props`` and ``k in props.keys()`` raise too.
The SDK would turn that error into a generic advisory note, which silently passes a mandatory
policy. Every read in this pack therefore goes through :func:`lookup`, which tests membership by
iterating the keys (safe) and returns the :data:`UNKNOWN` marker instead of raising, so each
policy can report "cannot verify until deploy: <property>" itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

from pulumi_policy import proxy
from pulumi_policy.proxy import UnknownValueError

CANNOT_VERIFY_PREFIX: Final = "cannot verify until deploy"

_UNKNOWN_SENTINELS: Final = frozenset(
    {
        proxy.UNKNOWN_BOOLEAN_VALUE,
        proxy.UNKNOWN_NUMBER_VALUE,
        proxy.UNKNOWN_STRING_VALUE,
        proxy.UNKNOWN_ARRAY_VALUE,
        proxy.UNKNOWN_ASSET_VALUE,
        proxy.UNKNOWN_ARCHIVE_VALUE,
        proxy.UNKNOWN_OBJECT_VALUE,
    }
)

Key = str | int


class _Marker:
    """A named sentinel; falsy so that ``if value:`` never mistakes it for a real value."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Marker("MISSING")
"""The property is absent (or its parent is not a container)."""

UNKNOWN: Final = _Marker("UNKNOWN")
"""The property is present but its value is only known after deploy."""


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN or (isinstance(value, str) and value in _UNKNOWN_SENTINELS)


def is_absent(value: Any) -> bool:
    """True for a missing property and for an explicit null."""
    return value is MISSING or value is None


def lookup(node: Any, *path: Key) -> Any:
    """Follow ``path`` from ``node``; return the value, :data:`MISSING` or :data:`UNKNOWN`. Never raises."""
    current = node
    for key in path:
        if is_unknown(current):
            return UNKNOWN
        if isinstance(key, int):
            if isinstance(current, str | bytes) or not isinstance(current, Sequence):
                return MISSING
            if not -len(current) <= key < len(current):
                return MISSING
        else:
            if not isinstance(current, Mapping):
                return MISSING
            # Iterating yields keys without touching values, so it cannot raise UnknownValueError.
            if key not in list(current):
                return MISSING
        try:
            current = current[key]  # type: ignore[index]
        except UnknownValueError:
            return UNKNOWN
    return UNKNOWN if is_unknown(current) else current


def elements(node: Any, *path: Key) -> list[Any] | Any:
    """The items of the list at ``path``, each read safely; ``UNKNOWN`` if the list itself is unknown.

    A missing property or a non-list value yields an empty list, so a policy that needs at least one
    element reports it as absent.
    """
    value = lookup(node, *path)
    if value is UNKNOWN:
        return UNKNOWN
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        return []
    return [lookup(value, index) for index in range(len(value))]


def keys(node: Any) -> list[str]:
    """The keys of a mapping (safe on proxies); empty for anything else."""
    return [str(key) for key in node] if isinstance(node, Mapping) else []


def to_plain(node: Any) -> Any:
    """A plain copy of a (possibly proxied) value, with unknown leaves replaced by :data:`UNKNOWN`."""
    if is_unknown(node):
        return UNKNOWN
    if isinstance(node, Mapping):
        return {str(key): to_plain(lookup(node, str(key))) for key in node}
    if isinstance(node, Sequence) and not isinstance(node, str | bytes):
        return [to_plain(lookup(node, index)) for index in range(len(node))]
    return node


def contains_unknown(node: Any) -> bool:
    if node is UNKNOWN:
        return True
    if isinstance(node, Mapping):
        return any(contains_unknown(value) for value in node.values())
    if isinstance(node, list):
        return any(contains_unknown(value) for value in node)
    return False


def label(*path: Key) -> str:
    """``("rules", 0, "status")`` -> ``rules[0].status``."""
    text = ""
    for key in path:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else key)
    return text


_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])([A-Z])")


def python_name(engine_path: str) -> str:
    """``pointInTimeRecovery.enabled`` -> ``point_in_time_recovery.enabled``: the argument the user writes in
    Python (pulumi-aws converts snake_case arguments to the engine's camelCase names)."""
    return _CAMEL_HUMP.sub(r"_\1", engine_path).lower() if engine_path else engine_path


def argument(engine_path: str) -> str:
    """The Python argument with the engine name beside it when they differ."""
    python = python_name(engine_path)
    return python if python == engine_path else f"{python} (engine: {engine_path})"


def cannot_verify(what: str) -> str:
    """The message every policy uses for a value it needs that is unknown at preview.

    The offline preview classifies messages with this prefix as "not verifiable"; keep it stable.
    """
    return f"{CANNOT_VERIFY_PREFIX}: {what}"


def describe(value: Any) -> str:
    if value is MISSING:
        return "not set"
    if value is UNKNOWN:
        return "unknown until deploy"
    if isinstance(value, bool):
        return repr(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # gRPC carries every number as a double
    return json.dumps(to_plain(value), default=str)


def expect(node: Any, path: tuple[Key, ...], wanted: Any, *, prefix: str = "") -> Iterator[str]:
    """Yield one message unless the value at ``path`` equals ``wanted`` (reports unknowns explicitly)."""
    value = lookup(node, *path)
    where = f"{prefix}{label(*path)}"
    if value is UNKNOWN:
        yield cannot_verify(where)
    elif value != wanted or isinstance(value, bool) != isinstance(wanted, bool):
        yield f"{argument(where)} must be {python_literal(wanted)} (declared: {describe(value)})"


def python_literal(value: Any) -> str:
    """A wanted value as the user writes it in Python (``True``, ``"Enabled"``)."""
    return repr(value) if isinstance(value, bool) else json.dumps(value)


def is_true(value: Any) -> bool:
    """Strict boolean truth: only ``True`` (pulumi passes booleans as booleans)."""
    return value is True


# ---------------------------------------------------------------------------------------------
# Tags


class Tags:
    """A resource's tags (``tagsAll`` merged under ``tags``), read without raising."""

    def __init__(self, props: Any) -> None:
        self.values: dict[str, Any] = {}
        self.all_unknown = False
        for source in ("tagsAll", "tags"):
            node = lookup(props, source)
            if node is UNKNOWN:
                # An unknown map hides every key; remember it so reads report "cannot verify".
                self.all_unknown = self.all_unknown or source == "tags"
                continue
            for key in keys(node):
                self.values[key] = lookup(node, key)

    def get(self, key: str) -> Any:
        """The tag's value, :data:`UNKNOWN`, or :data:`MISSING`."""
        if key in self.values:
            return self.values[key]
        return UNKNOWN if self.all_unknown else MISSING


# ---------------------------------------------------------------------------------------------
# IAM-style policy documents


class InvalidDocument(ValueError):
    """The document is neither valid JSON nor an object with statements."""


def policy_statements(document: Any) -> list[dict[str, Any]] | Any:
    """The statements of a policy document given as a JSON string or an object.

    Returns :data:`UNKNOWN` when the document (or any part of it) is unknown at preview, and raises
    :class:`InvalidDocument` when it cannot be read.
    """
    if document is UNKNOWN or document is MISSING:
        return document
    plain = to_plain(document)
    if isinstance(plain, str):
        try:
            plain = json.loads(plain)
        except ValueError as error:
            raise InvalidDocument(f"policy document is not valid JSON: {error}") from error
    if contains_unknown(plain):
        return UNKNOWN
    if not isinstance(plain, dict):
        raise InvalidDocument("policy document is not a JSON object")
    statements = plain.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not all(isinstance(item, dict) for item in statements):
        raise InvalidDocument("policy document Statement must be an object or a list of objects")
    return statements


def as_list(value: Any) -> list[Any]:
    """IAM fields accept a string or a list of strings."""
    if value is None or value is MISSING:
        return []
    return list(value) if isinstance(value, list) else [value]


def shallow_copy(node: Any) -> dict[str, Any]:
    """A new top-level dict for a remediation, keeping nested proxies, secrets and unknowns intact.

    The SDK's serializer unwraps its own proxies and re-wraps ``Secret`` values, so untouched
    properties round-trip exactly as the engine sent them.
    """
    if isinstance(node, dict):
        return dict(node)
    if isinstance(node, Mapping):
        return dict(node["__target"])  # the SDK proxies expose their raw target under this key
    return {}


def number(value: Any) -> float | None:
    """A numeric value (gRPC carries every number as a double), or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def region_of(props: Any, provider: Any) -> Any:
    """The region a resource lives in: its own ``region`` input, else its provider's region.

    Returns :data:`UNKNOWN` when either is unknown and :data:`MISSING` when neither is set (the
    provider then falls back to ``AWS_REGION``, which a policy cannot see).
    """
    own = lookup(props, "region")
    if isinstance(own, str) and own:
        return own
    if own is UNKNOWN:
        return UNKNOWN
    provider_props = getattr(provider, "props", None)
    if provider_props is None:
        return MISSING
    inherited = lookup(provider_props, "region")
    if isinstance(inherited, str) and inherited:
        return inherited
    return UNKNOWN if inherited is UNKNOWN else MISSING
