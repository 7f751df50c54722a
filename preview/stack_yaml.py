"""Read Pulumi.yaml and Pulumi.<stack>.yaml as the Pulumi CLI does: go-yaml v3 decoding into untyped values.

PyYAML's safe loader applies YAML 1.1: ``on``/``yes`` become booleans, ``1:20`` becomes 80 (sexagesimal), an
unquoted date becomes a ``date`` and a duplicate key silently keeps the last value. go-yaml v3 (gopkg.in/yaml.v3,
resolve.go and decode.go) resolves plain scalars by the YAML 1.2 core schema: only ``true``/``false`` (three
spellings each) are booleans, ``null``/``~``/empty are null, integers are decimal, ``0x``, ``0o`` or ``0b``,
floats include ``.inf``/``.nan``; everything else, timestamps included when decoding into an untyped value,
stays the source text. A duplicate key at any depth is an error.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node

_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_INT = re.compile(r"^(?:[-+]?[0-9][0-9_]*|0x[0-9a-fA-F_]+|0o[0-7_]+|0b[01_]+)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)


class StackFileError(ValueError):
    """The file is not valid YAML or repeats a key; the message follows the CLI's wording."""


class GoYamlLoader(yaml.SafeLoader):
    """A SafeLoader with go-yaml v3's resolvers and duplicate-key errors."""


GoYamlLoader.yaml_implicit_resolvers = {}
GoYamlLoader.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL, list("tTfF"))
GoYamlLoader.add_implicit_resolver("tag:yaml.org,2002:null", _NULL, ["~", "n", "N", ""])
GoYamlLoader.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
GoYamlLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))


def _construct_int(loader: GoYamlLoader, node: Node) -> int:
    text = str(loader.construct_scalar(node)).replace("_", "")  # type: ignore[arg-type]
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    for prefix, base in (("0x", 16), ("0o", 8), ("0b", 2)):
        if digits.startswith(prefix):
            return sign * int(digits[2:], base)
    # Go's strconv.ParseInt(text, 0, 64) reads a leading 0 as octal ("0755").
    if len(digits) > 1 and digits.startswith("0") and all(char in "01234567" for char in digits):
        return sign * int(digits, 8)
    return sign * int(digits, 10)


def _construct_timestamp_as_text(loader: GoYamlLoader, node: Node) -> str:
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


GoYamlLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
# An explicit !!timestamp (or a tag some tool adds) still reaches the program as its source text.
GoYamlLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp_as_text)


def _construct_mapping_without_duplicates(loader: GoYamlLoader, node: Node, deep: bool = False) -> dict[Any, Any]:
    if not isinstance(node, MappingNode):
        raise ConstructorError(None, None, "expected a mapping node", node.start_mark)
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise StackFileError(f"line {line}: mapping key {_go_quote(key)} already defined at line {seen[key]}")
        seen[key] = line
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)  # type: ignore[arg-type]


def _go_quote(value: Any) -> str:
    # go-yaml formats the key with %#v: strings are double-quoted, numbers and booleans bare.
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


GoYamlLoader.construct_mapping = _construct_mapping_without_duplicates  # type: ignore[assignment,method-assign]


def loads(text: str) -> Any:
    """Decode one YAML document like go-yaml v3 into untyped values; raises StackFileError or yaml.YAMLError."""
    return yaml.load(text, Loader=GoYamlLoader)


def load_file(path: Path) -> Any:
    """Decode ``path``; a problem is a StackFileError worded like the CLI's."""
    try:
        return loads(path.read_text(encoding="utf-8"))
    except StackFileError as exc:
        raise StackFileError(f"could not unmarshal '{path}': yaml: unmarshal errors:\n  {exc}") from exc
    except yaml.YAMLError as exc:
        raise StackFileError(f"could not unmarshal '{path}': {exc}") from exc
