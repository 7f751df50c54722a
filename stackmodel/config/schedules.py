"""EventBridge schedule expressions: the one validator for every schedule the stack config declares.

EventBridge's rules ("Using cron and rate expressions to schedule rules",
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html):
- ``rate(value unit)``: a positive value; the unit minute/hour/day is singular for 1 and plural otherwise;
- ``cron(fields)``: six required fields (minutes, hours, day-of-month, month, day-of-week, year); ``*`` in both
  day fields is refused: a value or ``*`` in one of them needs ``?`` in the other.

``tables[].export.schedule`` accepts both forms; ``drills.schedule`` accepts a rate only (its alarm window is the
interval) and calls :func:`rate_seconds` here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RATE = re.compile(r"^rate\((?P<count>\d+) (?P<unit>minutes?|hours?|days?)\)$")
CRON = re.compile(r"^cron\((?P<fields>[^()]*)\)$")
UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# What the JSON Schema carries (editors): a positive rate with EventBridge's unit grammar, or six cron fields with
# '?' in exactly one day field; the value ranges of each cron field are checked by code only.
SHAPE_PATTERN = (
    r"^(rate\((1 (minute|hour|day)|([2-9]|[1-9][0-9]+) (minutes|hours|days))\)"
    r"|cron\(\S+ \S+ (\? \S+ [^\s?]\S*|[^\s?]\S* \S+ \?) \S+\))$"
)


@dataclass(frozen=True)
class CronField:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    special: str = ""  # wildcards beyond , - * / : "?", "L", "W", "#"


CRON_FIELDS = (
    CronField("minutes", 0, 59),
    CronField("hours", 0, 23),
    CronField("day-of-month", 1, 31, special="?LW"),
    CronField("month", 1, 12, MONTHS),
    CronField("day-of-week", 1, 7, WEEKDAYS, special="?L#"),
    CronField("year", 1970, 2199),
)


def rate_seconds(expression: str) -> int:
    """The interval of a ``rate(...)`` expression, in seconds; ValueError says what EventBridge would refuse."""
    match = RATE.fullmatch(expression)
    if match is None:
        raise ValueError(f"{expression!r} is not rate(<n> minutes|hours|days)")
    count, unit = int(match["count"]), match["unit"].rstrip("s")
    if count == 0:
        raise ValueError(f"{expression!r}: the rate's value must be a positive number")
    if (count == 1) != (not match["unit"].endswith("s")):
        raise ValueError(f"{expression!r}: EventBridge wants the singular unit for 1 and the plural otherwise")
    return count * UNIT_SECONDS[unit]


def schedule_problem(expression: str) -> str | None:
    """Why EventBridge would refuse ``expression`` (rate or cron), or None when it is valid."""
    if expression.startswith("rate("):
        try:
            rate_seconds(expression)
        except ValueError as error:
            return str(error)
        return None
    match = CRON.fullmatch(expression)
    if match is None:
        return f"{expression!r} is neither rate(<n> minutes|hours|days) nor cron(<6 fields>)"
    fields = match["fields"].split()
    if len(fields) != len(CRON_FIELDS):
        return (
            f"{expression!r} has {len(fields)} fields; cron takes 6: minutes hours day-of-month month day-of-week year"
        )
    for value, field in zip(fields, CRON_FIELDS, strict=True):
        if not all(_cron_item(item, field) for item in value.split(",")):
            return f"{expression!r}: {field.name} {value!r} is not valid ({field.low}-{field.high}{_names(field)})"
    day_of_month, day_of_week = fields[2], fields[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        return f"{expression!r}: exactly one of day-of-month and day-of-week must be '?' (the other a value or '*')"
    return None


def _names(field: CronField) -> str:
    return f" or {field.names[0]}-{field.names[-1]}" if field.names else ""


def _value(token: str, field: CronField) -> bool:
    if token.isdigit():
        return field.low <= int(token) <= field.high
    return token.upper() in field.names


def _cron_item(item: str, field: CronField) -> bool:
    if item == "*":
        return True
    if item in ("?", "L"):
        return item in field.special
    if "W" in field.special and item.endswith("W"):
        return item == "LW" or _value(item[:-1], field)
    if "#" in field.special and "#" in item:
        day, _, nth = item.partition("#")
        return _value(day, field) and nth.isdigit() and 1 <= int(nth) <= 5
    if "L" in field.special and field.names and item.endswith("L"):
        return _value(item[:-1], field)
    if "/" in item:
        start, _, step = item.partition("/")
        return (start == "*" or _value(start, field)) and step.isdigit() and 1 <= int(step) <= field.high
    if "-" in item:
        first, _, last = item.partition("-")
        return _value(first, field) and _value(last, field)
    return _value(item, field)
