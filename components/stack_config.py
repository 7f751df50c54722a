"""The program's edge of the stack model: the running program's config, parsed by ``stackmodel.config``.

The only place a config problem becomes a ``pulumi.RunError`` (printed without a traceback) and an ignored key a
Pulumi warning; ``stackmodel`` itself imports no pulumi, so the runtime and drctl can read stacks too.
"""

from __future__ import annotations

from pathlib import Path

import pulumi
from pulumi.runtime import config as runtime_config

from preview import stack_yaml
from preview.project import config_string
from stackmodel.config import ConfigError, StackSettings, parse, read_config


class StackConfigError(pulumi.RunError, ConfigError):
    """A ``ConfigError`` the language host prints as a clean stop."""


def load(project: str) -> StackSettings:
    """Parse the running program's config: what the language host passed, plus anything set in-process."""
    config = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    secret = frozenset(runtime_config.get_config_secret_keys_env()) | frozenset(
        key for key in config if runtime_config.is_config_secret(key)
    )
    project_config = read_config(config, project, secret)
    for warning in project_config.ignored:
        pulumi.log.warn(warning)
    try:
        return parse(project_config.raw, secret_keys=project_config.secret_keys, problems=project_config.problems)
    except ConfigError as error:
        raise StackConfigError(error.problems) from None


MAIN_PROJECT = "dr-as-code"


def settings_from_stack_file(path: Path) -> StackSettings:
    """Another stack's settings from its file (go-yaml semantics, as the CLI reads it): the second program
    (stacks/isolated-vault) serves the main stack's one declaration instead of repeating it."""
    try:
        document = stack_yaml.load_file(path) or {}
    except (OSError, stack_yaml.StackFileError) as error:
        raise StackConfigError([f"cannot read {path}: {error}"]) from None
    declared = document.get("config") or {} if isinstance(document, dict) else {}
    values = {str(key): config_string(value) for key, value in declared.items()}
    project_config = read_config(values, MAIN_PROJECT)
    try:
        return parse(project_config.raw, secret_keys=project_config.secret_keys, problems=project_config.problems)
    except ConfigError as error:
        raise StackConfigError(error.problems) from None
