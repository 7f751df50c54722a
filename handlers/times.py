"""The one rule for points in time given by an operator or an event (``drctl`` options, restore events).

A time must be ISO 8601 with an explicit offset (``Z`` or ``±hh:mm``): a naive time is ambiguous (UTC? the
operator's zone?), and a restore to the wrong hour is silent damage. A time in the future names a state that
does not exist yet. Both are refused with one message naming the option. Dependency-free (no typer): the CLI
turns ``TimeError`` into a usage error (exit 2), a Lambda into a failed invocation.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# Clock skew tolerated between the caller and AWS before "now" counts as the future.
FUTURE_TOLERANCE = timedelta(seconds=5)
TIME_RULE = "an ISO 8601 time with an explicit offset ('Z' or ±hh:mm), not in the future"


class TimeError(ValueError):
    """A time that breaks the rule; the message names the option."""


def parse_time(text: str, option: str, *, now: datetime | None = None) -> datetime:
    """``text`` as an aware UTC datetime, or ``TimeError`` naming ``option``."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except (TypeError, ValueError):
        raise TimeError(f"{option} {text!r} is not {TIME_RULE}") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise TimeError(f"{option} {text!r} has no offset: {option} must be {TIME_RULE}")
    moment = moment.astimezone(UTC)
    current = now or datetime.now(UTC)
    if moment > current + FUTURE_TOLERANCE:
        raise TimeError(
            f"{option} {text!r} is in the future (now {current:%Y-%m-%dT%H:%M:%SZ}): {option} must be {TIME_RULE}"
        )
    return moment
