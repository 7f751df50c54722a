"""``drctl drill`` (the whole stack), ``drctl drill-bucket`` and ``drctl drill-table`` (one bucket or table)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from botocore.exceptions import BotoCoreError, ClientError, NoRegionError
from rich.markup import escape
from rich.table import Table

from handlers import aws
from handlers.cli import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    RegionOption,
    app,
    aws_failure,
    fail,
    finish,
    no_region,
    stderr,
    warn,
)
from handlers.cli.validation import (
    bucket_value,
    key_prefix_value,
    one_of,
    path_value,
    positive_value,
    region_value,
    stack_value,
    table_value,
)
from handlers.drills import fis
from handlers.drills.bucket import run_bucket_drill
from handlers.drills.canaries import DEFAULT_RATE_PER_SECOND
from handlers.drills.model import REHEARSAL_TIME_SCALE, Progress, Status
from handlers.drills.report import figure_text, publish, seconds_text, write_report
from handlers.drills.runner import DrillContext, DrillReport, run_drill
from handlers.drills.scenarios import SCENARIOS, select
from handlers.drills.table import DrillError, DrillMode, run_table_drill
from handlers.dynamodb.restore import RestoreError, TableClients


@app.command("drill-bucket")
def drill_bucket_command(
    bucket: Annotated[
        str, typer.Argument(callback=bucket_value, help="Bucket to drill; canaries go under --prefix only.")
    ],
    prefix: Annotated[
        str, typer.Option(callback=key_prefix_value, help="Key prefix for the drill's canary objects.")
    ] = "dr-drill/",
    canaries: Annotated[int, typer.Option(min=4, max=100_000, help="Number of canary objects.")] = 200,
    workers: Annotated[int, typer.Option(min=1, max=256, help="Restore concurrency.")] = 16,
    rto_minutes: Annotated[
        int | None, typer.Option(min=0, max=525_600, help="Declared logical RTO to check against.")
    ] = None,
    rpo_minutes: Annotated[
        int | None, typer.Option(min=0, max=525_600, help="Declared logical RPO to check against.")
    ] = None,
    lock_bucket: Annotated[
        str | None,
        typer.Option(
            envvar="DR_BATCH_REPORT_BUCKET",
            callback=bucket_value,
            help="Bucket for the restore's single-flight lock (the stack's reports bucket).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Damage canaries under PREFIX, restore to the point before, and report the measured RTO and RPO."""
    try:
        result = run_bucket_drill(
            aws.client("s3", max_pool_connections=workers),
            bucket,
            prefix=prefix,
            canaries=canaries,
            workers=workers,
            declared_rto_minutes=rto_minutes,
            declared_rpo_minutes=rpo_minutes,
            lock_bucket=lock_bucket,
        )
    except ValueError as error:
        fail(str(error), EXIT_USAGE, as_json=as_json)
    except (ClientError, BotoCoreError) as error:
        aws_failure(error, as_json)
    finish(result.as_dict(), EXIT_OK if result.passed else EXIT_FAILED, as_json=as_json)


def _message(error: BaseException) -> str:
    return "; ".join([str(error), *getattr(error, "__notes__", [])])


@app.command("drill-table")
def drill_table_command(
    table: Annotated[
        str, typer.Argument(callback=table_value, help="Table to drill; canary items use the key prefix dr-drill#.")
    ],
    mode: Annotated[
        DrillMode, typer.Option(help="Recovery point: an on-demand backup, or a PITR time (PITR must be on).")
    ] = DrillMode.backup,
    canaries: Annotated[int, typer.Option(min=4, max=100_000, help="Number of canary items.")] = 200,
    rto_minutes: Annotated[
        int | None, typer.Option(min=0, max=525_600, help="Declared logical RTO to check against.")
    ] = None,
    rpo_minutes: Annotated[
        int | None, typer.Option(min=0, max=525_600, help="Declared logical RPO to check against.")
    ] = None,
    keep: Annotated[bool, typer.Option("--keep", help="Keep the canaries, the drill table and the backup.")] = False,
    region: RegionOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Damage canaries in TABLE, restore it into a new table, and report the measured RTO and RPO."""
    try:
        clients = TableClients.for_region(region)
    except NoRegionError:  # a local input problem, not AWS refusing
        no_region(as_json)
    try:
        with stderr.status(escape(f"Drilling {table}…")) as status:
            result = run_table_drill(
                clients,
                table,
                mode=mode,
                canaries=canaries,
                declared_rto_minutes=rto_minutes,
                declared_rpo_minutes=rpo_minutes,
                keep=keep,
                progress=lambda text: status.update(escape(text)),
            )
    except (ValueError, RestoreError) as error:
        fail(_message(error), EXIT_USAGE, as_json=as_json)
    except (ClientError, BotoCoreError, DrillError) as error:
        aws_failure(error, as_json)
    if result.cleanup.get("errors"):
        warn(f"cleanup incomplete: {result.cleanup['errors']}")
    finish(result.as_dict(), EXIT_OK if result.passed else EXIT_FAILED, as_json=as_json)


@app.command("drill-experiments")
def drill_experiments_command(
    region: Annotated[
        list[str] | None, typer.Option("--region", callback=each_region, help="Region to check (repeatable).")
    ] = None,
    stack: Annotated[
        str | None,
        typer.Option("--stack", callback=stack_value, help="Check every Region of this stack's typed config."),
    ] = None,
    project: Annotated[
        Path,
        typer.Option(exists=True, file_okay=False, callback=path_value, help="Directory of Pulumi.yaml."),
    ] = Path(),
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """List drill FIS experiments still active, and with --stack running executions of its scheduled drill workflow
    (exit 1 when any): run before `pulumi up`, which must never change the replication a pause holds (the deploy
    workflow does)."""
    from preview.errors import PreviewError
    from stackmodel.config import ConfigError

    regions = list(region or [])
    workflow: tuple[str, str] | None = None  # (Region, state machine name)
    if stack:
        from handlers.cli import drill_stack
        from handlers.runtime_names import drill_workflow_name

        try:
            settings = drill_stack.stack_settings(project, stack)
        except (ValueError, ConfigError, PreviewError) as error:
            fail(_message(error), EXIT_USAGE, as_json=as_json)
        regions += [settings.primary_region, settings.recovery_region]
        if settings.drills.scheduled:
            workflow = (settings.recovery_region, drill_workflow_name(settings.name_prefix))
    regions = sorted(set(regions))
    if not regions:
        fail("give --region or --stack", EXIT_USAGE, as_json=as_json)
    try:
        active = {name: fis.running_drill_experiments(aws.client("fis", name)) for name in regions}
        running = fis.running_drill_workflows(aws.client("stepfunctions", workflow[0]), workflow[1]) if workflow else []
    except (ClientError, BotoCoreError) as error:
        aws_failure(error, as_json)
    found = {name: experiments for name, experiments in active.items() if experiments}
    if found and not as_json:
        warn(f"drill experiments still active: {found}; wait for them (or stop them) before `pulumi up`")
    if running and not as_json:
        warn(f"the scheduled drill is running: {running}; wait for it (it may start a pause) before `pulumi up`")
    document = {"active": found, "regions": regions, "running_workflows": running}
    finish(document, EXIT_FAILED if found or running else EXIT_OK, as_json=as_json)


@app.command("drill-first-run")
def drill_first_run_command(
    stack: Annotated[str, typer.Option("--stack", callback=stack_value, help="The deployed stack.")],
    project: Annotated[
        Path,
        typer.Option(exists=True, file_okay=False, callback=path_value, help="Directory of Pulumi.yaml."),
    ] = Path(),
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Start the scheduled drill's workflow once if it has never run (the deploy workflow does, after `pulumi up`):
    its DrillPassed alarm treats no drill as a failure, so a new stack gets its first verdict now."""
    from handlers.cli import drill_stack
    from handlers.runtime_names import drill_workflow_name
    from preview.errors import PreviewError
    from stackmodel.config import ConfigError

    try:
        settings = drill_stack.stack_settings(project, stack)
    except (ValueError, ConfigError, PreviewError) as error:
        fail(_message(error), EXIT_USAGE, as_json=as_json)
    if not settings.drills.scheduled:
        finish({"workflow": None, "started": None, "reason": "drills.scheduled is off"}, EXIT_OK, as_json=as_json)
    name = drill_workflow_name(settings.name_prefix)
    try:
        document = fis.start_first_drill(aws.client("stepfunctions", settings.recovery_region), name)
    except (ClientError, BotoCoreError) as error:
        aws_failure(error, as_json)
    finish(document, EXIT_OK, as_json=as_json)


def each_region(values: list[str] | None) -> list[str]:
    return [str(region_value(value)) for value in values or []]


DEFAULT_OUT = Path("reports")
DEFAULT_TIME_SCALE = REHEARSAL_TIME_SCALE


def run_stack_drill(
    stack: str,
    *,
    local: bool,
    scenarios: list[str] | None = None,
    project_dir: Path = Path(),
    outputs_file: Path | None = None,
    allow_production_failover: bool = False,
    canary_rate: float = DEFAULT_RATE_PER_SECOND,
    progress: Progress = lambda _message: None,
    time_scale: float = DEFAULT_TIME_SCALE,
) -> DrillReport:
    """The drill of a stack: targets from its typed config, then on the local emulator or the deployed stack.
    Locally the regional scenarios run on the two-Region rehearsal (``emulator/rehearsal.py``) with every time
    constant divided by ``time_scale`` (1: the stack's own settings on the real clock)."""
    from handlers.cli import drill_stack  # components and moto: only when a stack drill runs

    chosen = select(scenarios, local=local)  # an unknown scenario stops before anything is provisioned
    targets = drill_stack.targets_from_settings(stack, drill_stack.stack_settings(project_dir, stack))

    def client(service: str, region: str) -> Any:
        return aws.client(service, region, max_pool_connections=32)

    if local:
        from emulator.rehearsal import LocalRehearsals, profile_for

        settings = drill_stack.stack_settings(project_dir, stack)
        witnesses = {spec.table_name: spec.witness_region for spec in settings.tables if spec.witness_region}
        rehearsals = LocalRehearsals(targets, profile_for(time_scale), witnesses=witnesses, progress=progress)
        try:
            with drill_stack.local_stack(targets) as endpoints:
                context = DrillContext(
                    targets,
                    local=True,
                    client=client,
                    progress=progress,
                    canary_rate=canary_rate,
                    endpoints=endpoints,
                    rehearsal=rehearsals,
                )
                return run_drill(context, chosen)
        finally:
            rehearsals.close()
    outputs = drill_stack.read_outputs(stack, outputs_file, project_dir)
    context = DrillContext(
        drill_stack.apply_outputs(targets, outputs),
        local=False,
        client=client,
        progress=progress,
        canary_rate=canary_rate,
        fis_templates=drill_stack.fis_templates(outputs),
        allow_production_failover=allow_production_failover,
    )
    report = run_drill(context, chosen)
    backup_status = outputs.get("backupStatus")
    if isinstance(backup_status, dict):  # AWS Backup restore tests: the measured RTO on AWS of a restore from backup
        from handlers.backup.restore_tests import restore_test_rows

        report.scenarios.extend(
            restore_test_rows(lambda region: client("backup", region), backup_status, datetime.now(UTC))
        )
    publish(client("cloudwatch", targets.recovery_region), report)  # audit trail in the recovery region
    return report


def summary_table(report: DrillReport, paths: dict[str, Path]) -> Table:
    table = Table(title=f"drill of {report.stack} ({report.mode}): {'passed' if report.passed else 'FAILED'}")
    for column in ("scenario", "target", "result", "RTO", "RTO target", "RPO", "RPO target"):
        table.add_column(column)
    colours = {Status.passed: "green", Status.failed: "red", Status.not_run: "yellow"}
    for result in report.scenarios:
        table.add_row(
            escape(result.scenario),
            escape(result.target),
            f"[{colours[result.status]}]{result.status.value}[/]",
            figure_text(result, "rto"),
            seconds_text(result.rto_seconds_target),
            figure_text(result, "rpo"),
            seconds_text(result.rpo_seconds_target),
        )
    table.caption = escape("  ".join(f"{kind}: {path}" for kind, path in paths.items()))
    return table


@app.command("drill")
def drill_command(
    stack: Annotated[
        str,
        typer.Option("--stack", callback=stack_value, help="Stack whose typed config declares what to drill."),
    ],
    scenario: Annotated[
        list[str] | None,
        typer.Option(
            "--scenario",
            callback=one_of(SCENARIOS, "a drill scenario"),
            help=f"Scenario to run (repeatable): {', '.join(SCENARIOS)}.",
        ),
    ] = None,
    local: Annotated[
        bool, typer.Option("--local", help="Run on a moto server on 127.0.0.1, provisioned from the stack config.")
    ] = False,
    out: Annotated[
        Path, typer.Option(callback=path_value, file_okay=False, help="Directory for drill-report.{json,md,png}.")
    ] = DEFAULT_OUT,
    outputs: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            readable=True,
            callback=path_value,
            help="A file of `pulumi stack output --json` (instead of running pulumi).",
        ),
    ] = None,
    project: Annotated[
        Path,
        typer.Option(exists=True, file_okay=False, callback=path_value, help="Directory of Pulumi.yaml."),
    ] = Path(),
    allow_production_failover: Annotated[
        bool, typer.Option(help="Fail over the real record, not drill.<record>: moves production traffic.")
    ] = False,
    canary_rate: Annotated[
        float, typer.Option(min=1, max=100, callback=positive_value, help="Canary writes per second.")
    ] = 20.0,
    time_scale: Annotated[
        float,
        typer.Option(
            min=1,
            max=100,
            help="--local: divide every time constant of the rehearsal by this factor (1: the stack's own settings "
            "on the real clock).",
        ),
    ] = DEFAULT_TIME_SCALE,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Drill the whole stack: each scenario's RTO and RPO measured against the declared objectives (exit 1 when
    any objective is missed or a scenario could not run)."""
    from preview.errors import PreviewError
    from stackmodel.config import ConfigError

    try:
        with stderr.status(f"Drilling stack {escape(stack)}…") as status:
            report = run_stack_drill(
                stack,
                local=local,
                scenarios=scenario,
                project_dir=project,
                outputs_file=outputs,
                allow_production_failover=allow_production_failover,
                canary_rate=canary_rate,
                progress=lambda text: status.update(escape(text)),
                time_scale=time_scale,
            )
    except (ValueError, ConfigError, PreviewError) as error:
        fail(_message(error), EXIT_USAGE, as_json=as_json)
    except (ClientError, BotoCoreError) as error:
        aws_failure(error, as_json)
    try:
        paths = write_report(report, out)
    except OSError as error:
        fail(f"cannot write the report to {out}: {error}", EXIT_USAGE, as_json=as_json, report=report.as_dict())
    stderr.print(summary_table(report, paths))
    result = {**report.as_dict(), "paths": {kind: str(path) for kind, path in paths.items()}}
    finish(result if as_json else {}, EXIT_OK if report.passed else EXIT_FAILED, as_json=as_json)
