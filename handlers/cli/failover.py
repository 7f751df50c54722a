"""``drctl failover``, ``drctl failback`` and ``drctl status`` for a FailoverSite.

Each reads the site's descriptor (``/dr/<app>/site/<name>``) from ``--region``, the recovery region, and works only
there (plus the primary region, best effort): never Route 53's control plane. ``failover`` and ``failback`` drive
the orchestrator's phase machine (handlers/failover/orchestrator.py) round after round under the site lock, so a
run that stopped (a signal, an AWS error) is finished by the next run, or by the scheduled orchestrator.

Signals: the first SIGINT/SIGTERM stops after the round in flight, releases the lock and exits 130/143 with one JSON
object. A second signal while the lock is being released waits for the release (one ``DeleteItem``); a second
signal during an action exits at once and says that the lock may still be held, by whom, and until when.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import FrameType
from typing import Annotated, Any

import typer
from botocore.exceptions import BotoCoreError, ClientError

from handlers import aws
from handlers.app_setting import read_setting
from handlers.cli import EXIT_AWS, EXIT_FAILED, EXIT_OK, EXIT_USAGE, JsonOption, app, fail, finish, stderr, warn
from handlers.cli.validation import region_value, setting_value, site_value
from handlers.failover import actions, orchestrator
from handlers.failover.probe import http_probe
from handlers.failover.site import Site, load_site
from handlers.failover.state import FAILED_OVER, FAILING_BACK, PRIMARY, SiteStore, State

PULUMI_UP_WARNING = (
    "never run `pulumi up` while the site is not in phase primary: a replaced or changed switch health check starts "
    "healthy and sends DNS back to the primary (docs/runbooks/failover.md)"
)

SiteOption = Annotated[
    str, typer.Option("--site", callback=site_value, help="The site's name (sites[].name in the stack config).")
]
RecoveryRegionOption = Annotated[
    str | None,
    typer.Option(
        "--region",
        envvar="AWS_REGION",
        callback=region_value,
        help="The site's recovery region (holds its descriptor).",
    ),
]
AppOption = Annotated[
    str | None,
    typer.Option(
        "--app", envvar="DR_APP", callback=setting_value, help="The app name; found from the descriptor when omitted."
    ),
]
BreakLockOption = Annotated[
    bool,
    typer.Option(
        "--break-lock",
        help="Show the site lock another run holds, then break it (only that holder's; only if that run is dead).",
    ),
]
DryRunOption = Annotated[bool, typer.Option("--dry-run", help="Check and print the plan; change nothing.")]


def _site(site: str, region: str | None, app_name: str | None, as_json: bool) -> Site:
    if not region:
        fail("--region (the site's recovery region) is required", EXIT_USAGE, as_json=as_json)
    try:
        found = load_site(aws.client("ssm", region), site, app_name)
    except (LookupError, ValueError) as error:
        fail(str(error), EXIT_USAGE, as_json=as_json)
    except (ClientError, BotoCoreError) as error:
        fail(f"AWS refused or could not be reached: {error}", EXIT_AWS, as_json=as_json)
    if found.recovery_region != region:
        fail(f"site {site!r} recovers to {found.recovery_region}, not {region}", EXIT_USAGE, as_json=as_json)
    return found


# --- signals -------------------------------------------------------------------------------------------------------


class SiteRun:
    """One ``drctl`` run's owner id, stop event and signal state."""

    def __init__(self, verb: str, store: SiteStore) -> None:
        self.owner = f"drctl-{verb}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.store = store
        self.stop = threading.Event()
        self.code: int | None = None
        self.releasing = False
        self.deferred: int | None = None

    def on_signal(self, signum: int, as_json: bool) -> None:
        code = 128 + signum
        if self.code is None:
            self.code = code
            self.stop.set()
            sys.stderr.write(
                f"\n{signal.Signals(signum).name}: stopping after the round in flight, then releasing the site lock "
                "(signal again to abandon)\n"
            )
            return
        if self.releasing:  # one DeleteItem: let it finish, so no lock is left behind
            self.deferred = code
            sys.stderr.write("\nreleasing the site lock first; exiting right after\n")
            return
        until = datetime.fromtimestamp(time.time() + orchestrator.LEASE_SECONDS, tz=UTC).isoformat()
        message = (
            f"abandoned on a second signal during an action: the site lock may still be held by {self.owner} "
            f"until {until} at the latest (its lease); it expires by itself, or use --break-lock. "
            "Run the same command again to finish the pending actions."
        )
        if as_json:
            body = {"abandoned": True, "error": message, "lock": {"owner": self.owner, "mayBeHeldUntil": until}}
            sys.stdout.write(json.dumps({**body, "exit_code": code}, sort_keys=True) + "\n")
            sys.stdout.flush()
        sys.stderr.write(f"error: {message}\n")
        sys.stderr.flush()
        os._exit(code)

    def release(self) -> bool:
        self.releasing = True
        try:
            return self.store.release(self.owner)
        finally:
            self.releasing = False


@contextmanager
def signals_stop(run: SiteRun, as_json: bool) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread (tests calling in a thread)
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        run.on_signal(signum, as_json)

    previous = {signum: signal.signal(signum, handler) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old if old is not None else signal.SIG_DFL)


def _break_lock(store: SiteStore, as_json: bool) -> dict[str, Any] | None:
    """The restore lock's rule: show the lock found, and break only that one (conditional on its owner)."""
    state = store.read()
    if state.lock_owner is None:
        return None
    shown = {"owner": state.lock_owner, "expiresAt": state.lock_expires_at, "expired": not state.lock_held(time.time())}
    warn(f"breaking the site lock held by {state.lock_owner} (expires at {state.lock_expires_at})")
    if not store.break_lock(time.time(), expected_owner=state.lock_owner):
        fail("the site lock changed hands while breaking it; look again (drctl status)", EXIT_FAILED, as_json=as_json)
    return shown


def _transition(
    verb: str,
    found: Site,
    as_json: bool,
    break_lock: bool,
    work: Callable[[actions.Clients, SiteRun], orchestrator.Decision],
    ok: tuple[str, ...],
) -> None:
    clients = orchestrator.clients_for(found)
    store = SiteStore(clients.dynamodb, found.lock_table)
    run = SiteRun(verb, store)
    result: dict[str, Any] = {}
    code = EXIT_OK
    with signals_stop(run, as_json):
        try:
            broken = _break_lock(store, as_json) if break_lock else None
            if broken:
                result["lockBroken"] = broken
            decision = work(clients, run)
            result |= decision.as_dict()
            code = EXIT_OK if decision.outcome in ok else EXIT_FAILED
            if decision.outcome == orchestrator.ACTION_FAILED:
                code = EXIT_AWS
                warn("an action failed; run the same command again to finish the pending actions")
        except (ClientError, BotoCoreError) as error:
            result |= {"error": f"AWS refused or could not be reached: {error}"}
            code = EXIT_AWS
        except Exception as error:  # still one JSON object, and the lock released (docs/contract.md, "drctl")
            result |= {"error": f"{type(error).__name__}: {error}"}
            code = EXIT_FAILED
        finally:
            released = run.release()
        result["lockReleased"] = released
        if run.code is not None or run.deferred is not None:
            result |= {"interrupted": True, "signal": signal.Signals((run.deferred or run.code or 128) - 128).name}
            code = run.deferred or run.code or code
        try:
            state = store.read()
            result["state"] = {
                "phase": state.phase,
                "switch": state.switch,
                "done": [a for a in _order(state) if a in state.done],
                "pending": [a for a in _order(state) if a not in state.done] if state.transition else [],
            }
        except (ClientError, BotoCoreError) as error:
            result["state"] = f"unreadable: {error}"
    finish(result, code, as_json=as_json)


def _order(state: State) -> tuple[str, ...]:
    return orchestrator.transition_actions(state.phase if state.phase != PRIMARY else FAILING_BACK)


@app.command("failover")
def failover_command(
    site: SiteOption,
    region: RecoveryRegionOption = None,
    app_name: AppOption = None,
    dry_run: DryRunOption = False,
    accept_data_loss: Annotated[
        bool,
        typer.Option(
            "--accept-data-loss",
            help="Fail over although the database's lag is unknown or over the RPO (that lag is the data lost).",
        ),
    ] = False,
    break_lock: BreakLockOption = False,
    as_json: JsonOption = False,
) -> None:
    """Controlled failover to the recovery region (or finish one that stopped); exit 1 if the standby is not ready."""
    found = _site(site, region, app_name, as_json)
    stderr.print(f"site {found.name}: failing over to {found.recovery_region} ...")

    def work(clients: actions.Clients, run: SiteRun) -> orchestrator.Decision:
        return orchestrator.failover(
            found,
            clients,
            http_probe,
            datetime.now(UTC),
            reason="manual failover (drctl)",
            owner=run.owner,
            dry_run=dry_run,
            accept_data_loss=accept_data_loss,
            stop=run.stop,
            release=False,
        )

    ok = (orchestrator.FAILED_OVER_NOW, orchestrator.ALREADY_FAILED_OVER, orchestrator.DRY_RUN)
    _transition("failover", found, as_json, break_lock, work, ok)


@app.command("failback")
def failback_command(
    site: SiteOption,
    region: RecoveryRegionOption = None,
    app_name: AppOption = None,
    dry_run: DryRunOption = False,
    break_lock: BreakLockOption = False,
    as_json: JsonOption = False,
) -> None:
    """Reconcile the linked stores, move settings and DNS back, hold, reconcile again (exit 1 while waiting)."""
    found = _site(site, region, app_name, as_json)

    def work(clients: actions.Clients, run: SiteRun) -> orchestrator.Decision:
        return orchestrator.failback(
            found,
            clients,
            http_probe,
            datetime.now(UTC),
            owner=run.owner,
            dry_run=dry_run,
            stop=run.stop,
            release=False,
        )

    _transition("failback", found, as_json, break_lock, work, (orchestrator.FAILED_BACK, orchestrator.DRY_RUN))


def site_status(found: Site, clients: actions.Clients, now: float | None = None) -> dict[str, Any]:
    """What ``drctl status --site`` prints: phase, switch, lock, actions done and pending, votes, settings."""
    now = time.time() if now is None else now
    state = SiteStore(clients.dynamodb, found.lock_table).read()
    order = _order(state)
    in_transition = state.phase not in (PRIMARY, FAILED_OVER)
    status: dict[str, Any] = {
        "site": found.name,
        "phase": state.phase,
        "switch": state.switch,
        "transition": state.transition,
        "epoch": state.epoch,
        "lock": {
            "owner": state.lock_owner,
            "expiresAt": state.lock_expires_at,
            "held": state.lock_held(now),
        },
        "actionsDone": [a for a in order if a in state.done] if state.transition else [],
        "actionTimes": dict(state.done),
        "actionsPending": [a for a in order if a not in state.done] if state.transition else [],
        "notes": state.notes,
        "votes": state.votes,
        "consecutiveFailures": state.failures,
        "failedOverAt": state.failed_over_at,
        "primaryHealthySince": state.primary_healthy_since,
        "rpoEstimateSeconds": state.last_lag_seconds,
        "activeRegion": read_setting(clients.ssm, found.active_region_parameter),
        "activeEpoch": read_setting(clients.ssm, actions.epoch_parameter(found)),
        "activeBuckets": {k: read_setting(clients.ssm, v) for k, v in found.active_bucket_parameters.items()},
        "switchKind": found.switch_kind,
        "primaryRegion": found.primary_region,
        "recoveryRegion": found.recovery_region,
        "rtoBudget": found.budget,
        "warnings": [],
    }
    if state.phase != PRIMARY:
        status["warnings"].append(PULUMI_UP_WARNING)
    if in_transition and not state.lock_held(now):
        status["warnings"].append(
            f"a {state.phase} transition is pending with no live lock: the next orchestrator round or "
            f"`drctl {'failback' if state.phase == FAILING_BACK else 'failover'}` finishes it"
        )
    if state.phase == FAILED_OVER and state.switch != FAILED_OVER:
        status["warnings"].append("phase failed-over but the switch says primary: run drctl failover again")
    return status


@app.command("status")
def status_command(
    site: SiteOption,
    region: RecoveryRegionOption = None,
    app_name: AppOption = None,
    as_json: JsonOption = False,
) -> None:
    """The site's phase, switch, lock, actions done and pending, settings and RTO budget (recovery region)."""
    found = _site(site, region, app_name, as_json)
    try:
        clients = orchestrator.clients_for(found)
        status = site_status(found, clients)
    except (ClientError, BotoCoreError) as error:
        fail(f"AWS refused or could not be reached: {error}", EXIT_AWS, as_json=as_json)
    for warning in status["warnings"]:
        warn(warning)
    finish(status, EXIT_OK, as_json=as_json)


__all__ = ["FAILED_OVER", "failback_command", "failover_command", "site_status", "status_command"]
