"""The application setting a recovery cuts over: which physical table is active for a logical table.

Applications read ``/dr/<app>/active-table/<logical>`` from SSM Parameter Store instead of a hard-coded
table name, so a restore (``drctl restore-table --cutover``) or a FailoverSite switches them by writing one
parameter. The previous value is returned so that a cutover can be reported and rolled back.
"""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import ClientError

_SEGMENT = re.compile(r"^[A-Za-z0-9_.-]+$")


def active_table_parameter(app: str, logical: str) -> str:
    for segment in (app, logical):
        if not _SEGMENT.match(segment):
            raise ValueError(f"invalid setting segment {segment!r}: use letters, digits, '_', '.', '-'")
    return f"/dr/{app}/active-table/{logical}"


def read_setting(ssm: Any, name: str) -> str | None:
    try:
        return str(ssm.get_parameter(Name=name)["Parameter"]["Value"])
    except ClientError as error:
        if error.response["Error"]["Code"] == "ParameterNotFound":
            return None
        raise


def write_setting(ssm: Any, name: str, value: str) -> str | None:
    """Point the setting at ``value``; returns the previous value (None when the setting was new)."""
    previous = read_setting(ssm, name)
    if previous != value:
        ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
    return previous
