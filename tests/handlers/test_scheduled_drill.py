"""The scheduled drill (handlers/drills/scheduled.py) on moto: objectives from the deployed buckets' tags, the
logical scenarios only (plus the FIS measurement when templates exist), the report in the log and metrics
published; and deployed mode's ``read_outputs``/``apply_outputs`` in ``drctl drill``.
"""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from components import tags as component_tags
from handlers.cli import drill_stack
from handlers.cli.drills import run_stack_drill
from handlers.drills import scheduled
from handlers.drills.model import BucketTarget, Objective, StackTargets, Status
from handlers.drills.scenarios import regional
from stackmodel.tiers import TIERS, FailureMode
from tests.components.harness import REPO

PRIMARY, REPLICA = "sched-audio-us-east-1", "sched-audio-us-west-2"
REPORTS = "sched-dr-batch-reports-us-east-1"  # the stack's reports bucket: the restores' lock


def test_objective_tags_are_the_keys_the_components_write() -> None:
    for mode in FailureMode:
        for kind in ("rpo", "rto"):
            assert scheduled.objective_tag(kind, mode.value) == component_tags.objective_key(kind, mode)
    assert set(scheduled.MODES) == {mode.value for mode in FailureMode}


def _provision_tagged(tier: int = 1) -> None:
    """A tier-1 primary and its replica as the stack deploys them, tagged by components/tags.py."""
    target = BucketTarget(
        "audio",
        tier,
        PRIMARY,
        "us-east-1",
        REPLICA,
        "us-west-2",
        Objective(0, 30),
        Objective(15, 60),
        lock_mode="COMPLIANCE",
        lock_days=1,
    )
    drill_stack.provision(StackTargets("prod", "us-east-1", "us-west-2", (target,), lock_bucket=REPORTS))
    written = component_tags.objective_tags("audio", tier, TIERS[tier].defaults)
    boto3.client("s3", region_name="us-east-1").put_bucket_tagging(
        Bucket=PRIMARY, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in written.items()]}
    )


def test_a_deployed_bucket_becomes_a_target_from_its_tags_and_replication(moto_endpoint: str) -> None:
    _provision_tagged()
    target = scheduled.bucket_target(scheduled._client, PRIMARY, "us-west-2")
    defaults = TIERS[1].defaults
    assert (target.name, target.tier, target.primary_region) == ("audio", 1, "us-east-1")
    assert (target.replica, target.replica_region) == (REPLICA, "us-west-2")
    assert target.logical == Objective(
        defaults[FailureMode.LOGICAL].rpo_minutes, defaults[FailureMode.LOGICAL].rto_minutes
    )
    assert target.regional.rpo_minutes == defaults[FailureMode.REGIONAL].rpo_minutes


def test_none_means_not_covered_and_an_untagged_bucket_is_refused(moto_endpoint: str) -> None:
    assert scheduled.objectives_from_tags({"dr:rpo-regional-minutes": "none"})["regional"] == Objective(None, None)
    with pytest.raises(ValueError, match="dr:rpo-logical-minutes='soon'"):
        scheduled.objectives_from_tags({"dr:rpo-logical-minutes": "soon"})
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="untagged")
    with pytest.raises(ValueError, match="untagged has no dr:tier tag"):
        scheduled.bucket_target(scheduled._client, "untagged", "us-east-1")


@pytest.mark.slow
def test_the_workflow_steps_drill_one_store_per_invocation_and_publish_one_verdict(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The steps the Step Functions workflow invokes in turn (components/drills.py workflow_definition)."""
    _provision_tagged()
    monkeypatch.setenv("DRILL_STACK", "prod")
    monkeypatch.setenv("DRILL_BUCKETS", json.dumps([PRIMARY]))
    monkeypatch.setenv("DRILL_FIS_TEMPLATES", "{}")
    monkeypatch.setenv("DRILL_FIS_REGIONS", "[]")
    monkeypatch.setenv("DRILL_METRICS_REGION", "us-west-2")
    monkeypatch.setenv("DR_BATCH_REPORT_BUCKET", REPORTS)
    first = scheduled.lambda_handler({"step": "preflight"}, None)
    assert first == {"stack": "prod", "stores": [PRIMARY], "skip": False, "active": {}}
    cloudwatch = boto3.client("cloudwatch", region_name="us-west-2")
    result = scheduled.lambda_handler({"step": "drill", "bucket": PRIMARY}, None)
    assert result["bucket"] == PRIMARY and result["passed"] is True
    series = cloudwatch.list_metrics(Namespace="DR/Recovery", MetricName="DrillPassed")["Metrics"]
    scenarios = {d["Value"] for m in series for d in m["Dimensions"] if d["Name"] == "Scenario"}
    assert scenarios == {"bucket-accidental-delete", "bucket-prefix-corruption"}  # no tables, no FIS templates
    # One store's run is not the stack's verdict: that series appears only with the verdict step.
    assert [{"Name": "Stack", "Value": "prod"}] not in [metric["Dimensions"] for metric in series]
    final = scheduled.lambda_handler({"step": "verdict", "results": [result]}, None)
    assert final == {"stack": "prod", "passed": True, "stores": 1, "failed_stores": []}
    series = cloudwatch.list_metrics(Namespace="DR/Recovery", MetricName="DrillPassed")["Metrics"]
    assert [{"Name": "Stack", "Value": "prod"}] in [metric["Dimensions"] for metric in series]
    assert not boto3.client("cloudwatch", region_name="us-east-1").list_metrics(Namespace="DR/Recovery")["Metrics"]


def _verdict_value(results: list[dict[str, Any]]) -> tuple[dict[str, Any], float]:
    cloudwatch = boto3.client("cloudwatch", region_name="us-west-2")
    document = scheduled.verdict(
        lambda service, region: boto3.client(service, region_name=region),
        stack="prod",
        results=results,
        metrics_region="us-west-2",
    )
    data = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "passed",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "DR/Recovery",
                        "MetricName": "DrillPassed",
                        "Dimensions": [{"Name": "Stack", "Value": "prod"}],
                    },
                    "Period": 60,
                    "Stat": "Minimum",
                },
            }
        ],
        StartTime=datetime.now(UTC) - timedelta(minutes=5),
        EndTime=datetime.now(UTC) + timedelta(minutes=5),
    )["MetricDataResults"][0]["Values"]
    return document, min(data)


@pytest.mark.parametrize(
    ("results", "passed"),
    [
        ([{"bucket": "a", "passed": True}, {"bucket": "b", "passed": True}], 1.0),
        # a store whose invocation timed out arrives from the workflow's Catch as passed: false
        (
            [{"bucket": "a", "passed": True}, {"bucket": "b", "passed": False, "error": {"Error": "States.Timeout"}}],
            0.0,
        ),
        ([], 0.0),
    ],
)
def test_the_verdict_passes_only_when_every_store_passed(
    mock_aws: None, results: list[dict[str, Any]], passed: float
) -> None:
    document, value = _verdict_value(results)
    assert value == passed and document["passed"] is (passed == 1.0)
    assert document["failed_stores"] == [r["bucket"] for r in results if not r["passed"]]


def test_an_active_pause_of_the_stack_skips_the_run_and_says_which(mock_aws: None) -> None:
    from botocore.stub import Stubber

    clients = {}
    listings = {
        # started from the console on the stack's template: no dr:drill tag, still this stack's pause
        "us-east-1": [{"id": "EXP1", "experimentTemplateId": "EXTaudio", "state": {"status": "running"}}],
        # another team's experiment on another template: not this stack's
        "us-west-2": [{"id": "EXP2", "experimentTemplateId": "EXTother", "state": {"status": "running"}}],
    }
    for region, experiments in listings.items():
        clients[region] = boto3.client("fis", region_name=region)
        stubber = Stubber(clients[region])
        stubber.add_response("list_experiments", {"experiments": experiments}, {})
        stubber.activate()
    found = scheduled.preflight(
        lambda _service, region: clients[region],
        stack="prod",
        buckets=[PRIMARY],
        fis_templates={"s3:audio": "EXTaudio"},
        regions=["us-east-1", "us-west-2"],
    )
    assert found["skip"] is True and list(found["active"]) == ["us-east-1"]
    assert found["active"]["us-east-1"][0]["template"] == "EXTaudio"


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({}, "event key 'step' must be one of preflight, drill, verdict"),
        ({"step": "drill", "bucket": "someone-elses"}, "event key 'bucket' must be one of the drilled buckets"),
        ({"step": "verdict"}, "event key 'results' must be the list"),
    ],
)
def test_a_malformed_event_names_its_key(monkeypatch: pytest.MonkeyPatch, event: dict[str, Any], message: str) -> None:
    monkeypatch.setenv("DRILL_STACK", "prod")
    monkeypatch.setenv("DRILL_BUCKETS", json.dumps([PRIMARY]))
    monkeypatch.setenv("DRILL_METRICS_REGION", "us-west-2")
    with pytest.raises(ValueError, match=message):
        scheduled.lambda_handler(event, None)


def test_with_fis_templates_the_schedule_adds_the_regional_measurement(monkeypatch: pytest.MonkeyPatch) -> None:
    chosen: list[list[str]] = []
    target = BucketTarget("audio", 1, PRIMARY, "us-east-1", REPLICA, "us-west-2", Objective(0, 30), Objective(15, 60))
    monkeypatch.setattr(
        scheduled,
        "scheduled_targets",
        lambda *_a: StackTargets("prod", "us-east-1", "us-west-2", (target,), (), (), lock_bucket=REPORTS),
    )
    monkeypatch.setattr(scheduled, "run_drill", lambda _c, scenarios: chosen.append([s.name for s in scenarios]))
    monkeypatch.setattr(scheduled, "publish", lambda *_a, **_k: 0)
    for templates in ({}, {"s3:audio": "EXT1"}):
        scheduled.run_scheduled(
            lambda *_a: None, stack="prod", buckets=[PRIMARY], fis_templates=templates, metrics_region="us-west-2"
        )
    logical = ["bucket-accidental-delete", "bucket-prefix-corruption"]
    assert chosen == [logical, [*logical, regional.FIS_NAME]]


# ----------------------------------------------------------------------------------------------------------
# Deployed mode of `drctl drill`: names from `pulumi stack output --json`.
# ----------------------------------------------------------------------------------------------------------


def _outputs() -> dict[str, Any]:
    """What a deployed prod stack exports: physical names that differ from the config-derived ones."""
    names = ["audio", "uploads", "profile-pictures", "reporting", "backup"]
    return {
        "primaryRegion": "us-east-1",
        "recoveryRegion": "us-west-2",
        "buckets": {
            name: {
                "tier": 1,
                "primary": f"deployed-{name}-use1",
                "replica": f"deployed-{name}-usw2",
                "replicaRegion": "us-west-2",
            }
            for name in names
        },
        "batchReportsBucket": "deployed-reports-use1",
        "tables": {
            name: {
                "name": f"deployed-{name}",
                "regions": ["us-east-1", "us-west-2"],
                "primaryRegion": "us-east-1",
                "consistencyMode": "STRONG" if name == "orders" else "EVENTUAL",
            }
            for name in ("users", "orders", "transactions")
        },
        "sites": {
            "api": {"descriptor": {"name": "api", "lockTable": "deployed-api-lock"}, "rtoBudget": {"rtoSeconds": 220}}
        },
        "drills": {"fisTemplates": {"s3:audio": "EXTaudio"}},
    }


def _fake_pulumi(directory: Path, stdout: str, exit_code: int = 0) -> Path:
    script = directory / "pulumi"
    script.write_text(f"#!/bin/sh\necho \"$@\" > {directory}/args\ncat <<'EOF'\n{stdout}\nEOF\nexit {exit_code}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def test_read_outputs_runs_pulumi_stack_output_or_reads_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_pulumi(tmp_path, json.dumps(_outputs()))
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert drill_stack.read_outputs("prod", None, REPO) == _outputs()
    assert (tmp_path / "args").read_text().split() == [
        "stack",
        "output",
        "--json",
        "--show-secrets=false",
        "--stack",
        "prod",
    ]
    saved = tmp_path / "outputs.json"
    saved.write_text(json.dumps({"buckets": {}}))
    assert drill_stack.read_outputs("prod", saved, REPO) == {"buckets": {}}


def test_a_failing_pulumi_is_an_error_naming_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_pulumi(tmp_path, "error: no stack named 'prod' found", exit_code=255)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(ValueError, match="pulumi stack output --json --stack prod failed"):
        drill_stack.read_outputs("prod", None, REPO)


def test_apply_outputs_takes_the_deployed_names_and_refuses_a_missing_bucket() -> None:
    targets = drill_stack.targets_from_settings("prod", drill_stack.stack_settings(REPO, "prod"))
    applied = drill_stack.apply_outputs(targets, _outputs())
    audio = next(bucket for bucket in applied.buckets if bucket.name == "audio")
    assert (audio.primary, audio.replica, audio.replica_region) == (
        "deployed-audio-use1",
        "deployed-audio-usw2",
        "us-west-2",
    )
    assert audio.logical == next(b for b in targets.buckets if b.name == "audio").logical  # objectives stay
    assert drill_stack.fis_templates(_outputs()) == {"s3:audio": "EXTaudio"}
    assert applied.lock_bucket == "deployed-reports-use1"
    orders = next(table for table in applied.tables or () if table.name == "orders")
    assert (orders.table_name, orders.region, orders.replica_regions) == (
        "deployed-orders",
        "us-east-1",
        ("us-west-2",),
    )
    assert (orders.partition_key, orders.sort_key, orders.sort_key_type) == ("orderId", "createdAt", "N")  # config
    [site] = applied.sites or ()
    assert site.descriptor["lockTable"] == "deployed-api-lock" and site.rto_budget_seconds == 220
    for group, name in (("buckets", "uploads"), ("tables", "users"), ("sites", "api")):
        broken = _outputs()
        del broken[group][name]
        with pytest.raises(ValueError, match=rf"stack outputs have no {group}\.{name}"):
            drill_stack.apply_outputs(targets, broken)
    broken = _outputs()
    del broken["batchReportsBucket"]
    with pytest.raises(ValueError, match="no batchReportsBucket"):
        drill_stack.apply_outputs(targets, broken)


@pytest.mark.slow
def test_a_deployed_drill_uses_the_output_names_and_publishes_in_the_recovery_region(
    moto_endpoint: str, tmp_path: Path
) -> None:
    saved = tmp_path / "outputs.json"
    saved.write_text(json.dumps(_outputs()))
    targets = drill_stack.targets_from_settings("prod", drill_stack.stack_settings(REPO, "prod"))
    drill_stack.provision(drill_stack.apply_outputs(targets, _outputs()))  # the "deployed" stack, on moto
    report = run_stack_drill(
        "prod", local=False, scenarios=["bucket-accidental-delete"], project_dir=REPO, outputs_file=saved
    )
    assert report.mode == "deployed" and report.passed, [r.notes for r in report.scenarios]
    assert {r.target for r in report.scenarios} == {"s3://deployed-audio-use1", "s3://deployed-uploads-use1"}
    assert all(r.status is Status.passed and not r.emulated for r in report.scenarios)
    published = boto3.client("cloudwatch", region_name="us-west-2").list_metrics(Namespace="DR/Recovery")["Metrics"]
    assert {"DrillPassed", "DrillRtoSeconds", "DrillRpoSeconds"} <= {m["MetricName"] for m in published}
