"""One ``ConfigError`` for every problem in a stack's config, with values hidden under secret keys.

Messages come from ``ValidationError.errors(include_input=False)`` (never ``str(ValidationError)``, which prints
every input): each error's type and location pick a message here, and the offending value is looked up in the raw
config only when its top-level key is not secret.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError

SECRET_NOT_SHOWN = "(secret value not shown)"
MAX_DAYS = 36500  # S3 object lock allows at most 100 years; every day count shares that ceiling
MAX_MINUTES = 525600  # one year

# What each string pattern means, by the pattern itself: several keys share one pattern, and one key name
# (``name``) has different patterns in different entries. Filled by ``described`` where each pattern is defined.
PATTERN_MESSAGES: dict[str, str] = {}


def described(pattern: str, message: str) -> str:
    """``pattern``, registered with the message a value that does not match it gets."""
    PATTERN_MESSAGES[pattern] = message
    return pattern


# Messages for keys whose every validation error means the same thing.
KEY_MESSAGES = {
    "tier": "must be 1, 2 or 3",
    "lockMode": "must be COMPLIANCE or GOVERNANCE",
    "replicaStorageClass": "must be one of STANDARD, STANDARD_IA so failover can read the replica",
    "buckets": "must be a list of bucket entries",
    "protectedPrefixes": "must be a list of key prefixes",
    "logical": "must be a mapping with rpoMinutes/rtoMinutes",
    "regional": "must be a mapping with rpoMinutes/rtoMinutes",
}
# Keys whose message shows the type of a wrong value rather than the value itself.
SHOW_TYPE = frozenset({"buckets", "dict_type", "model_type", "model_attributes_type"})


class ConfigError(ValueError):
    """Invalid stack config; ``problems`` holds one ``path: message`` line per problem.

    The program's edge (``components/stack_config.py``) re-raises it as a ``pulumi.RunError``, which the language
    host prints without a traceback; the stack model itself never imports pulumi.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        listing = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid stack config ({len(problems)} problem(s)):\n{listing}")


def dr_error(message: str, *, show_input: bool = True) -> PydanticCustomError:
    """A domain rule's error inside a validator; the input is appended later, unless it is secret."""
    return PydanticCustomError("dr", message, {"show_input": show_input})


@dataclass(frozen=True)
class Unit:
    """One independently validated piece of config: the top-level scalars, or one list entry."""

    path: str  # "" for top-level keys, "buckets[2]" for an entry
    secret: bool  # the whole unit sits under a secret key
    order: tuple[int, ...]  # sorts units: top-level keys first, then entries by index
    secret_keys: frozenset[str] = frozenset()  # for the top-level unit: which of its keys are secret

    def hides(self, key: str | int | None) -> bool:
        return self.secret or key in self.secret_keys

    def at(self, *keys: str | int) -> str:
        path = self.path
        for key in keys:
            path = f"{path}[{key}]" if isinstance(key, int) else (f"{path}.{key}" if path else key)
        return path

    def show(self, value: Any) -> str:
        return SECRET_NOT_SHOWN if self.secret else repr(value)


class Problems:
    """Problems keyed for a stable order: by unit, then by the position of the key they are reported on."""

    def __init__(self) -> None:
        self._items: list[tuple[tuple[int, ...], int, int, str]] = []

    def add(self, unit: Unit, position: int, path: str, message: str) -> None:
        self._items.append((unit.order, position, len(self._items), f"{path}: {message}"))

    def __bool__(self) -> bool:
        return bool(self._items)

    def lines(self) -> list[str]:
        return [line for *_, line in sorted(self._items)]


def key_position(model: type[BaseModel], key: str | int) -> int:
    """Where ``key`` sits among the model's fields (unknown keys first), for a stable order within a unit."""
    aliases = [field.alias or name for name, field in model.model_fields.items()]
    return aliases.index(key) if key in aliases else -1


def allowed_keys(model: type[BaseModel]) -> list[str]:
    aliases = [field.alias or name for name, field in model.model_fields.items()]
    return aliases if getattr(model, "KEEP_KEY_ORDER", False) else sorted(aliases)


def _model_at(model: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel]:
    """The model that owns the last key of ``loc`` (for unknown-key listings)."""
    for key in loc:
        if isinstance(key, int):
            continue
        field = next((f for n, f in model.model_fields.items() if (f.alias or n) == key), None)
        inner = _inner_model(field.annotation) if field is not None else None
        if inner is None:
            break
        model = inner
    return model


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in getattr(annotation, "__args__", ()):
        found = _inner_model(argument)
        if found is not None:
            return found
    return None


def _lookup(raw: Any, loc: Iterable[str | int]) -> tuple[bool, Any]:
    node = raw
    for key in loc:
        in_mapping = isinstance(node, Mapping) and key in node
        in_list = isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node)
        if in_mapping or in_list:
            node = node[key]
        else:
            return False, None
    return True, node


def _message(error: Mapping[str, Any], key: str | int, model: type[BaseModel]) -> tuple[str, str]:
    """(message, how to show the input: "value", "type" or "none") for one pydantic error."""
    kind = error["type"]
    name = str(key)
    if kind == "missing":
        return "is required", "none"
    if kind == "extra_forbidden":
        noun = getattr(model, "UNKNOWN_KEY_NOUN", "key")
        return f"unknown {noun} (allowed: {', '.join(allowed_keys(model))})", "none"
    if kind == "dr":
        return error["msg"], "value" if error.get("ctx", {}).get("show_input", True) else "none"
    if name in KEY_MESSAGES:
        return KEY_MESSAGES[name], "type" if name in SHOW_TYPE else "value"
    if kind in SHOW_TYPE:
        return "must be a mapping", "type"
    if name.endswith("Minutes") and (kind == "int_type" or (kind == "greater_than_equal" and error["ctx"]["ge"] == 0)):
        return "must be a non-negative integer number of minutes", "value"
    if kind == "int_type":
        return "must be an integer", "value"
    if kind == "greater_than" and name.endswith("Days"):
        return "must be a positive number of days", "value"
    if kind == "greater_than_equal":
        return f"must be at least {error['ctx']['ge']}", "value"
    if kind == "less_than_equal":
        return f"must be at most {error['ctx']['le']}", "value"
    if kind == "string_pattern_mismatch":
        pattern = error["ctx"]["pattern"]
        return PATTERN_MESSAGES.get(pattern, f"must match {pattern}"), "value"
    if kind in {"string_type", "string_too_short"}:
        return "must be a non-empty string", "value"
    if kind in {"literal_error", "enum"}:
        return f"must be one of {error['ctx']['expected']}", "value"
    if kind == "string_too_long":
        return f"must be at most {error['ctx']['max_length']} characters", "value"
    if kind == "list_type":
        return "must be a list", "type"
    if kind == "too_short":
        return f"must have at least {error['ctx']['min_length']} item(s)", "none"
    if kind == "too_long":
        return f"must have at most {error['ctx']['max_length']} item(s)", "none"
    if kind == "bool_type":
        return "must be true or false", "value"
    return f"is not valid ({kind})", "value"


def report_validation_error(
    error: ValidationError, model: type[BaseModel], raw: Any, unit: Unit, problems: Problems
) -> set[str | int]:
    """Add one problem per pydantic error; return the top-level keys of the unit that failed."""
    failed: set[str | int] = set()
    for item in error.errors(include_input=False):
        loc = tuple(item["loc"])
        # A str key of a mapping value (e.g. "objectives.zonal") or a field; pydantic never puts values in loc.
        key = loc[-1] if loc else ""
        owner = _model_at(model, loc[:-1])
        message, show = _message(item, key, owner)
        if show != "none":
            found, value = _lookup(raw, loc)
            if found:
                shown = type(value).__name__ if show == "type" else repr(value)
                message = f"{message}, got {SECRET_NOT_SHOWN if unit.hides(loc[0] if loc else None) else shown}"
        problems.add(unit, key_position(model, loc[0]) if loc else -1, unit.at(*loc) if loc else unit.path, message)
        if loc:
            failed.add(loc[0])
    return failed
