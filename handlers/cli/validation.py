"""Typer callbacks that refuse malformed values before any request is sent (exit 2, the option named by Typer).

Each rule is the documented format of the thing named: a value that AWS would refuse anyway is refused here,
so the exit code says "your input" (2) rather than "AWS refused" (3).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

import typer

from handlers.times import TimeError, parse_time

T = TypeVar("T")

# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html (general purpose buckets)
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html
TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")
REGION_NAME = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
# DynamoDB backup ARNs: arn:aws:dynamodb:<region>:<account>:table/<table>/backup/<id>
BACKUP_ARN = re.compile(r"arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:\d{12}:table/[A-Za-z0-9_.-]{3,255}/backup/[A-Za-z0-9-]+")
ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}")
TOPIC_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?")
ACCOUNT_ID = re.compile(r"\d{12}")
# SSM parameter path segments (the application and logical names in /dr/<app>/active-table/<logical>).
SETTING_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")
MFA_VALUE = re.compile(r"\S+ \d{6}")
SITE_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")  # sites[].name (stackmodel/config/sites.py)
RECOVERY_POINT_ARN = re.compile(r"arn:aws[a-z-]*:backup:[a-z0-9-]+:\d{12}:recovery-point:[A-Za-z0-9:/_.-]{1,1024}")
VAULT_NAME = re.compile(r"[A-Za-z0-9_.-]{2,50}")  # AWS Backup: BackupVaultName
# Pulumi stack names: letters, digits, hyphens, underscores and periods, optionally qualified <org>/<project>/<stack>
# (https://www.pulumi.com/docs/iac/concepts/stacks/#create-stack).
STACK_NAME = re.compile(r"([A-Za-z0-9_.-]{1,100}/){0,2}[A-Za-z0-9_.-]{1,100}")
MAX_KEY_BYTES = 1024  # S3 object key limit


def is_bucket_name(value: str) -> bool:
    if not BUCKET_NAME.fullmatch(value) or ".." in value:
        return False
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return True
    return False


def _checked(ok: Callable[[str], bool], what: str) -> Callable[[str | None], str | None]:
    def callback(value: str | None) -> str | None:
        if value is not None and not ok(value):
            raise typer.BadParameter(f"{value!r} is not {what}")
        return value

    return callback


def _pattern(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    return lambda value: pattern.fullmatch(value) is not None


bucket_value = _checked(is_bucket_name, "a valid S3 bucket name (3-63 of a-z 0-9 . -)")
table_value = _checked(_pattern(TABLE_NAME), "a valid DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -)")
region_value = _checked(_pattern(REGION_NAME), "an AWS Region name such as us-east-1")
backup_arn_value = _checked(_pattern(BACKUP_ARN), "a DynamoDB backup ARN (arn:aws:dynamodb:…:table/T/backup/ID)")
role_arn_value = _checked(_pattern(ROLE_ARN), "an IAM role ARN")
topic_arn_value = _checked(_pattern(TOPIC_ARN), "an SNS topic ARN")
account_value = _checked(_pattern(ACCOUNT_ID), "a 12-digit account id")
setting_value = _checked(_pattern(SETTING_NAME), "a name of 1-128 of A-Z a-z 0-9 _ . -")
mfa_value = _checked(_pattern(MFA_VALUE), 'a "SERIAL CODE" pair (device serial or ARN, a space, six digits)')
site_value = _checked(_pattern(SITE_NAME), "a site name (lowercase letters, digits, inner hyphens)")
recovery_point_value = _checked(
    _pattern(RECOVERY_POINT_ARN), "an AWS Backup recovery point ARN (arn:aws:backup:…:recovery-point:ID)"
)
vault_value = _checked(_pattern(VAULT_NAME), "a backup vault name (2-50 of A-Z a-z 0-9 _ . -)")
stack_value = _checked(_pattern(STACK_NAME), "a Pulumi stack name (letters, digits, - _ . ; optionally org/project/)")


def _is_path_text(value: str) -> bool:
    """A path the OS can take: encodable (no lone surrogates) and without NUL, which no file system accepts."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return bool(value) and "\x00" not in value


def path_value(value: Path | None) -> Path | None:
    if value is not None and not _is_path_text(str(value)):
        raise typer.BadParameter(f"{str(value)!r} is not a usable path (UTF-8, no NUL)")
    return value


def one_of(known: Iterable[str], what: str) -> Callable[[list[str] | None], list[str] | None]:
    """A repeatable option whose every value must be one of ``known``."""
    names = tuple(known)

    def callback(values: list[str] | None) -> list[str] | None:
        unknown = [value for value in values or () if value not in names]
        if unknown:
            raise typer.BadParameter(f"{unknown[0]!r} is not {what}; known: {', '.join(names)}")
        return values

    return callback


def _is_key_text(value: str) -> bool:
    try:
        return len(value.encode("utf-8")) <= MAX_KEY_BYTES
    except UnicodeEncodeError:  # lone surrogates cannot be an S3 key
        return False


key_prefix_value = _checked(_is_key_text, f"an S3 key prefix (UTF-8, at most {MAX_KEY_BYTES} bytes)")


def _csv_of(ok: Callable[[str], bool], what: str) -> Callable[[str | None], str | None]:
    def callback(value: str | None) -> str | None:
        if value is None:
            return value
        bad = [part.strip() for part in value.split(",") if part.strip() and not ok(part.strip())]
        if bad:
            raise typer.BadParameter(f"{bad[0]!r} is not {what}")
        return value

    return callback


buckets_csv_value = _csv_of(is_bucket_name, "a valid S3 bucket name")
tables_csv_value = _csv_of(_pattern(TABLE_NAME), "a valid DynamoDB table name")
regions_csv_value = _csv_of(_pattern(REGION_NAME), "an AWS Region name")


def time_value(option: str, *, allow_latest: bool = False) -> Callable[[str | None], str | None]:
    """The shared time rule (``handlers.times``) as a callback; ``latest`` only where the command allows it."""

    def callback(value: str | None) -> str | None:
        if value is None or (allow_latest and value == "latest"):
            return value
        try:
            parse_time(value, option)
        except TimeError as error:
            raise typer.BadParameter(str(error)) from None
        return value

    return callback


def positive_value(value: float | None) -> float | None:
    """Thresholds and windows: strictly above zero (Typer's ``min`` is inclusive)."""
    if value is not None and not value > 0:
        raise typer.BadParameter(f"{value} is not above 0")
    return value


def share_value(value: float) -> float:
    """A share of keys: above 0, at most 1."""
    if not 0 < value <= 1:
        raise typer.BadParameter(f"{value} is not a share in (0, 1]")
    return value
