"""``drctl failover``, ``drctl failback`` and ``drctl status`` for a FailoverSite.

Each reads the site's descriptor (``/dr/<app>/site/<name>``) from ``--region``, the recovery region, and works only
there (plus the primary region's settings copy, best effort): never Route 53's control plane. A manual failover
uses the orchestrator's own path: the same standby checks, the same lock, the same switch.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from botocore.exceptions import BotoCoreError, ClientError

from handlers import aws, interrupts
from handlers.cli import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_SIGINT,
    EXIT_USAGE,
    JsonOption,
    app,
    aws_failure,
    fail,
    finish,
    stderr,
)
from handlers.cli.validation import region_value, setting_value, site_value
from handlers.failover import orchestrator
from handlers.failover.failback import FAILED_BACK, FailbackClients, failback
from handlers.failover.probe import http_probe
from handlers.failover.site import Site, load_site
from handlers.failover.state import SiteStore

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


def _site(site: str, region: str | None, app_name: str | None, as_json: bool) -> Site:
    if not region:
        fail("--region (the site's recovery region) is required", EXIT_USAGE, as_json=as_json)
    try:
        found = load_site(aws.client("ssm", region), site, app_name)
    except (LookupError, ValueError) as error:
        fail(str(error), EXIT_USAGE, as_json=as_json)
    except (ClientError, BotoCoreError) as error:
        aws_failure(error, as_json)
    if found.recovery_region != region:
        fail(f"site {site!r} recovers to {found.recovery_region}, not {region}", EXIT_USAGE, as_json=as_json)
    return found


def _run(as_json: bool, work: Any) -> Any:
    try:
        return work()
    except (KeyboardInterrupt, interrupts.Interrupted) as stop:
        # The lock is released on the way out (handlers/failover/state.py).
        code = stop.code if isinstance(stop, interrupts.Interrupted) else EXIT_SIGINT
        fail("interrupted; the failover lock was released, re-run to continue", code, as_json=as_json)
    except (ClientError, BotoCoreError) as error:
        aws_failure(error, as_json)


@app.command("failover")
def failover_command(
    site: SiteOption,
    region: RecoveryRegionOption = None,
    app_name: AppOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check the standby and print the plan; change nothing.")
    ] = (False),
    as_json: JsonOption = False,
) -> None:
    """Controlled failover to the recovery region through the site's switch (exit 1 if the standby is not ready)."""
    found = _site(site, region, app_name, as_json)
    stderr.print(f"site {found.name}: checking the standby in {found.recovery_region} ...")
    decision = _run(
        as_json,
        lambda: orchestrator.failover(
            found,
            orchestrator.clients_for(found),
            http_probe,
            datetime.now(UTC),
            reason="manual failover (drctl)",
            dry_run=dry_run,
        ),
    )
    ok = decision.outcome in (orchestrator.FAILED_OVER_NOW, orchestrator.DRY_RUN, orchestrator.ALREADY_FAILED_OVER)
    finish(decision.as_dict(), EXIT_OK if ok else EXIT_FAILED, as_json=as_json)


@app.command("failback")
def failback_command(
    site: SiteOption,
    region: RecoveryRegionOption = None,
    app_name: AppOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check and plan the reconciliation only.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Reconcile the linked stores, then hand DNS and settings back (exit 1 while waiting or incomplete)."""
    found = _site(site, region, app_name, as_json)
    recovery = orchestrator.clients_for(found)
    clients = FailbackClients(
        recovery=recovery,
        s3_primary=aws.client("s3", found.primary_region),
        dynamodb_primary=aws.client("dynamodb", found.primary_region),
        rds_primary=aws.client("rds", found.primary_region) if found.database else None,
    )
    result = _run(as_json, lambda: failback(found, clients, http_probe, datetime.now(UTC), dry_run=dry_run))
    finish(result.as_dict(), EXIT_OK if result.outcome in (FAILED_BACK, "dry-run") else EXIT_FAILED, as_json=as_json)


@app.command("status")
def status_command(
    site: SiteOption,
    region: RecoveryRegionOption = None,
    app_name: AppOption = None,
    as_json: JsonOption = False,
) -> None:
    """The site's phase, settings, switch and RTO budget, read from the recovery region."""
    found = _site(site, region, app_name, as_json)

    def read() -> dict[str, Any]:
        try:
            state = SiteStore(aws.client("dynamodb", found.recovery_region), found.lock_table).read()
        except (KeyError, TypeError, ValueError) as error:  # a state item written by hand or by another version
            fail(
                f"the site's state item in {found.lock_table} is malformed (missing or wrong-typed {error}); "
                "fix or delete the item (the orchestrator writes a fresh one)",
                EXIT_FAILED,
                as_json=as_json,
            )
        ssm = aws.client("ssm", found.recovery_region)
        from handlers.app_setting import read_setting

        return {
            "site": found.name,
            "phase": state.phase,
            "consecutiveFailures": state.failures,
            "failedOverAt": state.failed_over_at,
            "primaryHealthySince": state.primary_healthy_since,
            "activeRegion": read_setting(ssm, found.active_region_parameter),
            "activeBuckets": {k: read_setting(ssm, v) for k, v in found.active_bucket_parameters.items()},
            "switch": found.switch_kind,
            "primaryRegion": found.primary_region,
            "recoveryRegion": found.recovery_region,
            "rtoBudget": found.budget,
        }

    finish(_run(as_json, read), EXIT_OK, as_json=as_json)
