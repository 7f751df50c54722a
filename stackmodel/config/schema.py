"""The JSON Schema for whole ``Pulumi.<stack>.yaml`` files, generated from the config models.

``python -m stackmodel.config.schema`` rewrites ``schemas/pulumi-stack.schema.json`` (committed; a test keeps it
in sync). Editors that run the YAML language server read it from the stack file's first line:
``# yaml-language-server: $schema=./schemas/pulumi-stack.schema.json``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from stackmodel.config.stack import StackConfig

PROJECT = "dr-as-code"
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "pulumi-stack.schema.json"
SCALAR_TYPES = frozenset({"string", "integer", "number", "boolean"})
# A value set with `pulumi config set --secret` is stored as {secure: <ciphertext>}.
SECURE = {
    "type": "object",
    "properties": {"secure": {"type": "string"}},
    "required": ["secure"],
    "additionalProperties": False,
    "description": "A value encrypted by `pulumi config set --secret`.",
}


def _is_scalar(node: dict[str, Any]) -> bool:
    if "enum" in node or "const" in node:
        return True
    if node.get("type") in SCALAR_TYPES:
        return True
    options = node.get("anyOf", [])
    return bool(options) and all(_is_scalar(o) or o.get("type") == "null" for o in options)


def _securable(node: dict[str, Any]) -> dict[str, Any]:
    """``node``, with every scalar leaf also accepting ``{secure: string}`` (Pulumi encrypts leaves only)."""
    node = dict(node)
    if "properties" in node:
        node["properties"] = {key: _securable(value) for key, value in node["properties"].items()}
    if isinstance(node.get("items"), dict):
        node["items"] = _securable(node["items"])
    if "anyOf" in node and not _is_scalar(node):
        node["anyOf"] = [_securable(option) for option in node["anyOf"]]
    if _is_scalar(node):
        return {"anyOf": [node, {"$ref": "#/$defs/Secure"}]}
    return node


def _secret_as_a_whole(node: dict[str, Any]) -> dict[str, Any]:
    """A top-level value may also be one ``secure`` value as a whole (``pulumi config set --secret --path``)."""
    return _securable(node) if _is_scalar(node) else {"anyOf": [_securable(node), {"$ref": "#/$defs/Secure"}]}


def stack_file_schema() -> dict[str, Any]:
    models = StackConfig.model_json_schema(by_alias=True, ref_template="#/$defs/{model}")
    definitions = {name: _securable(body) for name, body in models.pop("$defs", {}).items()}
    definitions["Secure"] = SECURE
    project_keys = {f"{PROJECT}:{key}": _secret_as_a_whole(value) for key, value in models["properties"].items()}
    known = "|".join(re.escape(key) for key in models["properties"])
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/dr-as-code/dr-as-code/schemas/pulumi-stack.schema.json",
        "title": f"Pulumi stack file for the {PROJECT} project",
        "description": "Generated from stackmodel/config by `python -m stackmodel.config.schema`; do not edit.",
        "type": "object",
        "properties": {
            "config": {
                "type": "object",
                "description": "Stack config: the project's keys under their dr-as-code: names; other namespaces "
                "(pulumi:, aws:, ...) are allowed.",
                "properties": project_keys,
                "required": [f"{PROJECT}:{key}" for key in models.get("required", [])],
                # An unknown key in the project's namespace is a typo the program rejects.
                "patternProperties": {f"^{re.escape(PROJECT)}:(?!({known})$)": False},
                "additionalProperties": True,
            },
            "secretsprovider": {"type": "string"},
            "encryptedkey": {"type": "string"},
            "encryptionsalt": {"type": "string"},
            "environment": {
                "description": "Pulumi ESC environments imported into this stack.",
                "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "object"}],
            },
        },
        "additionalProperties": False,
        "$defs": definitions,
    }


def render() -> str:
    return json.dumps(stack_file_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    SCHEMA_PATH.parent.mkdir(exist_ok=True)
    SCHEMA_PATH.write_text(render())
    print(f"wrote {SCHEMA_PATH}")
