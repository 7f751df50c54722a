"""The site's state and lock items in the recovery region's lock table: the phase machine's memory
(docs/design/failover-and-rehearsal.md §1).

Two kinds of write, and nothing else writes the state item:

- **Health-tracking writes** (``SiteStore.track``): ``failures``, ``first_failure_at``, ``primary_healthy_since``
  and ``votes`` only, an ``UpdateItem`` conditioned on ``version`` that bumps it. Any round may make one, lock or
  not; it can never move ``phase``, ``switch`` or ``done``.
- **Fenced writes** (``SiteStore.advance``): everything a transition writes. One ``TransactWriteItems``: a
  ``ConditionCheck`` that the lock is still ours and unexpired, and an ``Update`` of the state item conditioned on
  the phase the caller expects (never on ``version``, which a health write may bump at any time). A ``False``
  means the lock was lost (or another owner moved the phase): the caller ends its round with ``lost-lock``.

Fencing the old primary: every transition increments ``epoch``; the ``settings`` action writes it beside
``active-region`` as ``/dr/<app>/active-epoch``. The recovery region's copy of ``active-region`` is authoritative;
an application still reaching the primary region refuses writes once the epoch it reads is higher than the one it
started with, or the active region is not its own (docs/runbooks/failover.md, "Fencing").
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

PRIMARY, FAILING_OVER, FAILED_OVER, FAILING_BACK = "primary", "failing-over", "failed-over", "failing-back"
PHASES = (PRIMARY, FAILING_OVER, FAILED_OVER, FAILING_BACK)
SWITCH_PRIMARY, SWITCH_FAILED_OVER = "primary", "failed-over"
# Shorter than the prod RTO budget (120 s), so a run that died mid-transition is taken over within the budget;
# renewed every round and during long work (the reconcile renews it per page).
LOCK_LEASE_SECONDS = 60
STATE_KEY, LOCK_KEY = "state", "lock"
HEALTH_FIELDS = ("failures", "first_failure_at", "primary_healthy_since", "votes")
# Fields a transition may set through ``advance`` (``done``/``pending``/``notes`` entries go through their own
# arguments so that one action's record never overwrites another's).
FENCED_FIELDS = (
    "phase",
    "switch",
    "transition",
    "epoch",
    "failed_over_at",
    "last_lag_seconds",
    "watermark",
    "reconcile_progress",
    "manual",
    "failures",
    "first_failure_at",
    "primary_healthy_since",
)


@dataclass(frozen=True)
class State:
    phase: str = PRIMARY
    switch: str = SWITCH_PRIMARY
    transition: str | None = None
    epoch: int = 0
    done: dict[str, str] = field(default_factory=dict)  # action -> ISO time, current transition
    pending: dict[str, str] = field(default_factory=dict)  # polled action -> ISO time it started
    notes: dict[str, str] = field(default_factory=dict)  # action -> what it found (e.g. "dns": "unconfirmed")
    failures: int = 0  # consecutive rounds the probe failed while Route 53's checkers did not say "healthy"
    first_failure_at: float | None = None
    failed_over_at: float | None = None
    primary_healthy_since: float | None = None
    last_lag_seconds: float | None = None  # the database lag seen when the failover began: the RPO estimate
    watermark: str | None = None  # failback: where the second reconcile pass starts
    # failback: a reconcile pass that ran out of round time: {"action", "started", "cursors": {logical: key},
    # "finished": {logical: counts}}; the next round resumes it after each bucket's cursor
    reconcile_progress: dict[str, Any] | None = None
    manual: bool = False
    votes: dict[str, dict[str, Any]] = field(default_factory=dict)  # prober -> {"healthy": bool, "at": epoch s}
    version: int = 0  # bumped by health-tracking writes only
    lock_owner: str | None = None
    lock_expires_at: float | None = None

    def lock_held(self, now: float) -> bool:
        return self.lock_owner is not None and (self.lock_expires_at or 0) > now

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def _conditional_failed(error: ClientError) -> bool:
    code = error.response["Error"]["Code"]
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        reasons = error.response.get("CancellationReasons") or []
        # Only a failed condition means "not ours"; a conflict with another transaction is retried by the caller's
        # next round, and is also reported as not done.
        return all(r.get("Code") in ("ConditionalCheckFailed", "None", "TransactionConflict", None) for r in reasons)
    return False


def _value(value: Any) -> dict[str, Any]:
    """A Python value as a DynamoDB attribute value (numbers, strings, bools, maps, None)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return {"N": str(value)}  # a float's str is its shortest round-tripping repr
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, dict):
        return {"M": {str(k): _value(v) for k, v in value.items()}}
    raise TypeError(f"cannot store {type(value).__name__} in the site state")


def _python(attribute: dict[str, Any]) -> Any:
    ((kind, value),) = attribute.items()
    if kind == "NULL":
        return None
    if kind == "BOOL":
        return bool(value)
    if kind == "N":
        number = float(value)
        return int(number) if number.is_integer() and "." not in value and "e" not in value.lower() else number
    if kind == "S":
        return value
    if kind == "M":
        return {k: _python(v) for k, v in value.items()}
    raise TypeError(f"unexpected attribute type {kind} in the site state")


class SiteStore:
    """The lock table's ``state`` and ``lock`` items. Every write reports whether it happened."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self.dynamodb, self.table = dynamodb, table

    # --- reads ---------------------------------------------------------------------------------------------------

    def read(self) -> State:
        """Both items, strongly consistent."""
        item = self._get(STATE_KEY)
        lock = self._get(LOCK_KEY)
        values = {k: _python(v) for k, v in item.items() if k != "pk"}
        known = {name: values[name] for name in State.__dataclass_fields__ if name in values}
        for number in ("failed_over_at", "first_failure_at", "primary_healthy_since", "last_lag_seconds"):
            if known.get(number) is not None:
                known[number] = float(known[number])
        state = State(**known)
        if lock:
            return State(
                **{
                    **state.as_dict(),
                    "lock_owner": lock.get("owner", {}).get("S"),
                    "lock_expires_at": float(lock["expires_at"]["N"]) if "expires_at" in lock else None,
                }
            )
        return state

    def _get(self, key: str) -> dict[str, Any]:
        response = self.dynamodb.get_item(TableName=self.table, Key={"pk": {"S": key}}, ConsistentRead=True)
        return dict(response.get("Item") or {})

    # --- health-tracking writes ------------------------------------------------------------------------------------

    def track(self, previous: State, **changes: Any) -> bool:
        """Set health-tracking fields only, if nobody wrote one since ``previous`` was read; bumps ``version``."""
        unknown = set(changes) - set(HEALTH_FIELDS)
        if unknown:
            raise ValueError(f"not a health-tracking field: {sorted(unknown)} (transitions use advance())")
        names = {f"#{k}": k for k in changes} | {"#version": "version"}
        values = {f":{k}": _value(v) for k, v in changes.items()} | {
            ":next": {"N": str(previous.version + 1)},
            ":version": {"N": str(previous.version)},
        }
        sets = ", ".join(f"#{k} = :{k}" for k in changes)
        if previous.version:
            condition = "#version = :version"
        else:
            values.pop(":version")
            condition = "attribute_not_exists(#version)"
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key={"pk": {"S": STATE_KEY}},
                UpdateExpression=f"SET {sets + ', ' if sets else ''}#version = :next",
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if _conditional_failed(error):
                return False
            raise
        return True

    # --- fenced writes ---------------------------------------------------------------------------------------------

    def advance(
        self,
        owner: str,
        expect_phase: str,
        changes: dict[str, Any] | None = None,
        *,
        now: float,
        done: dict[str, str] | None = None,
        pending: dict[str, str] | None = None,
        notes: dict[str, str] | None = None,
        reset_done: bool = False,
    ) -> bool:
        """One ``TransactWriteItems``: the lock is ``owner``'s and unexpired, and the phase is ``expect_phase``;
        then ``changes`` (and entries of ``done``/``pending``/``notes``) are written. False: not written."""
        changes = dict(changes or {})
        unknown = set(changes) - set(FENCED_FIELDS)
        if unknown:
            raise ValueError(f"not a transition field: {sorted(unknown)}")
        names: dict[str, str] = {"#phase": "phase"}
        values: dict[str, Any] = {":expect": {"S": expect_phase}}
        sets: list[str] = []
        for key, value in changes.items():
            names[f"#{key}"] = key
            values[f":{key}"] = _value(value)
            sets.append(f"#{key} = :{key}")
        maps = {"done": done, "pending": pending, "notes": notes}
        for name, entries in maps.items():
            names[f"#{name}"] = name
            if reset_done:
                values[f":{name}"] = _value(entries or {})
                sets.append(f"#{name} = :{name}")
                continue
            for index, (key, value) in enumerate((entries or {}).items()):
                names[f"#{name}{index}"] = key
                values[f":{name}{index}"] = _value(value)
                sets.append(f"#{name}.#{name}{index} = :{name}{index}")
        if not reset_done:  # the maps exist from ``begin`` on; a site that never began has none yet
            names = {k: v for k, v in names.items() if k[1:] not in maps or any(s.startswith(k) for s in sets)}
        if not sets:
            return True
        expected_phase = "#phase = :expect"
        if expect_phase == PRIMARY:  # a site that never failed over has no state item, or one without a phase
            expected_phase = "(attribute_not_exists(#phase) OR #phase = :expect)"
        try:
            self.dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "ConditionCheck": {
                            "TableName": self.table,
                            "Key": {"pk": {"S": LOCK_KEY}},
                            "ConditionExpression": "#owner = :me AND expires_at > :now",
                            "ExpressionAttributeNames": {"#owner": "owner"},
                            "ExpressionAttributeValues": {":me": {"S": owner}, ":now": _value(float(now))},
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": {"pk": {"S": STATE_KEY}},
                            "UpdateExpression": "SET " + ", ".join(sets),
                            "ConditionExpression": expected_phase,
                            "ExpressionAttributeNames": names,
                            "ExpressionAttributeValues": values,
                        }
                    },
                ]
            )
        except ClientError as error:
            if _conditional_failed(error):
                return False
            raise
        return True

    # --- the lock --------------------------------------------------------------------------------------------------

    def acquire(self, owner: str, now: float, lease: float = LOCK_LEASE_SECONDS) -> bool:
        """Take the lock if it is free, expired or already ours (then this renews it)."""
        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item={
                    "pk": {"S": LOCK_KEY},
                    "owner": {"S": owner},
                    "expires_at": _value(float(now + lease)),
                    "acquired_at": _value(float(now)),
                },
                ConditionExpression="attribute_not_exists(pk) OR expires_at <= :now OR #owner = :me",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":now": _value(float(now)), ":me": {"S": owner}},
            )
        except ClientError as error:
            if _conditional_failed(error):
                return False
            raise
        return True

    def renew(self, owner: str, now: float, lease: float = LOCK_LEASE_SECONDS) -> bool:
        """Extend our unexpired lease; False if the lock is not ours any more (stop acting)."""
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key={"pk": {"S": LOCK_KEY}},
                UpdateExpression="SET expires_at = :until",
                ConditionExpression="#owner = :me AND expires_at > :now",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={
                    ":me": {"S": owner},
                    ":now": _value(float(now)),
                    ":until": _value(float(now + lease)),
                },
            )
        except ClientError as error:
            if _conditional_failed(error):
                return False
            raise
        return True

    def release(self, owner: str) -> bool:
        """Delete the lock if it is ours; True when no lock of ours remains."""
        try:
            self.dynamodb.delete_item(
                TableName=self.table,
                Key={"pk": {"S": LOCK_KEY}},
                ConditionExpression="attribute_not_exists(pk) OR #owner = :me",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":me": {"S": owner}},
            )
        except ClientError as error:
            if _conditional_failed(error):
                return True  # someone else's lock (ours expired and was taken): none of ours remains
            raise
        return True

    def break_lock(self, now: float, *, expected_owner: str) -> bool:
        """Delete the lock only if ``expected_owner`` (the one shown to the operator) still holds it."""
        try:
            self.dynamodb.delete_item(
                TableName=self.table,
                Key={"pk": {"S": LOCK_KEY}},
                ConditionExpression="#owner = :seen",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":seen": {"S": expected_owner}},
            )
        except ClientError as error:
            if _conditional_failed(error):
                return False
            raise
        return True


def describe(state: State) -> str:
    return json.dumps(state.as_dict(), default=str, sort_keys=True)
