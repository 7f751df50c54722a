"""The regional RPO under an AWS FIS replication pause (handlers/drills/fis.py).

Emulated, and said so: FIS is a botocore ``Stubber`` on a real client (every request is validated against the
service model; moto 5.2.5 stores FIS experiments but pauses nothing), and S3 replication (and DynamoDB global-table
replication) is a thread in this test that copies canaries from the primary to the replica on moto until the stubbed
``StartExperiment`` returns (moto never replicates; it ignores ``ReplicaUpdates``). The canaries, the replica reads,
the canary clean-up and the RPO rule are the real ones.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from handlers.drills import fis
from handlers.drills.model import BucketTarget, Objective, Status, TableTarget

PRIMARY, REPLICA = "drill-primary", "drill-replica"
PREFIX = "dr-drill/test/regional-rpo-fis/"
TEMPLATE = "EXT1a2b3c4d5e6f7"
EXPERIMENT = "EXP1a2b3c4d5e6f7"
TIMING = fis.FisTiming(
    hold_seconds=2.5, baseline_timeout_seconds=10, state_timeout_seconds=5, poll_seconds=0.05, canary_rate=10
)


class Replicator:
    """S3 replication as this test emulates it: copy new canaries to the replica until paused."""

    def __init__(self) -> None:
        self.paused = threading.Event()
        self.stop = threading.Event()
        self.primary = boto3.client("s3", region_name="us-east-1")
        self.replica = boto3.client("s3", region_name="us-west-2")
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        copied: set[str] = set()
        while not self.stop.wait(0.05):
            if self.paused.is_set():
                continue
            listing = self.primary.list_objects_v2(Bucket=PRIMARY, Prefix=PREFIX).get("Contents", [])
            for item in listing:
                if item["Key"] not in copied and not self.paused.is_set():
                    body = self.primary.get_object(Bucket=PRIMARY, Key=item["Key"])["Body"].read()
                    self.replica.put_object(Bucket=REPLICA, Key=item["Key"], Body=body)
                    copied.add(item["Key"])


@pytest.fixture
def buckets(mock_aws: None) -> Iterator[Replicator]:
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=PRIMARY)
    boto3.client("s3", region_name="us-west-2").create_bucket(
        Bucket=REPLICA, CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    replicator = Replicator()
    replicator.thread.start()
    yield replicator
    replicator.stop.set()
    replicator.thread.join(timeout=5)


def experiment(state: str) -> dict[str, Any]:
    return {
        "experiment": {
            "id": EXPERIMENT,
            "experimentTemplateId": TEMPLATE,
            "state": {"status": state, "reason": state},
            "creationTime": datetime.now(UTC),
        }
    }


def target(rpo_minutes: float | None = 15) -> BucketTarget:
    return BucketTarget(
        name="audio",
        tier=1,
        primary=PRIMARY,
        primary_region="us-east-1",
        replica=REPLICA,
        replica_region="us-west-2",
        logical=Objective(0, 30),
        regional=Objective(rpo_minutes, 60),
    )


def measure(
    fis_client: Any, bucket: BucketTarget, timing: fis.FisTiming = TIMING, guard: fis.AlarmGuard | None = None
) -> Any:
    return fis.measure_regional_rpo(
        primary_s3=boto3.client("s3", region_name="us-east-1"),
        replica_s3=boto3.client("s3", region_name="us-west-2"),
        fis=fis_client,
        bucket=bucket,
        template_id=TEMPLATE,
        drill_id="test",
        prefix=PREFIX,
        scenario="regional-rpo-fis",
        timing=timing,
        guard=guard,
    )


def stubbed_fis(replicator: Replicator, states_after_start: list[str], stop: bool) -> tuple[Any, Stubber]:
    client = boto3.client("fis", region_name="us-east-1")
    stubber = Stubber(client)
    start_params = {"clientToken": ANY, "experimentTemplateId": TEMPLATE, "tags": {"dr:drill": "test"}}
    stubber.add_response("list_experiments", {"experiments": []}, {})  # no other drill's pause is active
    stubber.add_response("start_experiment", experiment("initiating"), start_params)
    for state in states_after_start:
        stubber.add_response("get_experiment", experiment(state), {"id": EXPERIMENT})
    if stop:
        stubber.add_response("stop_experiment", experiment("stopping"), {"id": EXPERIMENT})
        stubber.add_response("get_experiment", experiment("stopped"), {"id": EXPERIMENT})
    # The pause takes effect when FIS accepts the start.
    client.meta.events.register("after-call.fis.StartExperiment", lambda **_: replicator.paused.set())
    return client, stubber


def test_the_rpo_under_a_pause_is_measured_from_replica_canaries_and_the_experiment_is_stopped(
    buckets: Replicator,
) -> None:
    # start -> initiating; polled: running; at the end: still running, so it is stopped, then stopped.
    client, stubber = stubbed_fis(buckets, ["running", "running"], stop=True)
    with stubber:
        result = measure(client, target())
        stubber.assert_no_pending_responses()
    assert result.status is Status.passed, result.notes
    assert result.checks["experiment_states"] == ["initiating", "running", "stopping", "stopped"]
    # Nothing written during the pause reached the replica: the loss is at least the hold, and far below 15 min.
    assert TIMING.hold_seconds <= result.rpo_seconds_measured < TIMING.hold_seconds + 3
    assert result.rpo["pre_fault_recovered"] < result.rpo["pre_fault"] and not result.rpo["holes"]
    assert result.rpo_seconds_target == 15 * 60 and result.rto_seconds_target is None


def test_a_pause_longer_than_the_declared_regional_rpo_fails_the_drill(buckets: Replicator) -> None:
    client, stubber = stubbed_fis(buckets, ["running", "running"], stop=True)
    with stubber:
        result = measure(client, target(rpo_minutes=0))
    assert result.status is Status.failed and result.rpo_seconds_measured >= TIMING.hold_seconds


def test_an_experiment_that_fails_to_start_measures_nothing_and_is_not_stopped_again(buckets: Replicator) -> None:
    client, stubber = stubbed_fis(buckets, ["failed", "failed", "failed"], stop=False)
    with stubber:
        result = measure(client, target())
        stubber.assert_no_pending_responses()  # no StopExperiment on a finished experiment
    assert result.status is Status.failed and result.rpo_seconds_measured is None
    assert any("ended failed before it reached ['running']" in note for note in result.notes)


def test_the_lag_guard_in_alarm_ends_the_hold_early_and_says_why(buckets: Replicator) -> None:
    """The drill reads the bucket's lag guard (ReplicationLatency at the RPO, in the replica's Region) while it holds
    the pause: in ALARM, the region is declared lost now and the experiment is stopped (moto's alarm state)."""
    cloudwatch = boto3.client("cloudwatch", region_name="us-west-2")
    cloudwatch.put_metric_alarm(
        AlarmName="dr-drill-lag-drill-primary", Namespace="AWS/S3", MetricName="ReplicationLatency",
        Statistic="Maximum", Period=60, EvaluationPeriods=1, Threshold=900,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )  # fmt: skip
    cloudwatch.set_alarm_state(AlarmName="dr-drill-lag-drill-primary", StateValue="ALARM", StateReason="lag 900 s")
    client, stubber = stubbed_fis(buckets, ["running", "running"], stop=True)
    long_hold = fis.FisTiming(
        hold_seconds=60, baseline_timeout_seconds=10, state_timeout_seconds=5, poll_seconds=0.05, canary_rate=10
    )
    started = time.monotonic()
    with stubber:
        result = measure(client, target(), long_hold, fis.AlarmGuard(cloudwatch, "dr-drill-lag-drill-primary"))
        stubber.assert_no_pending_responses()  # stopped, as after a full hold
    assert time.monotonic() - started < 30, "the 60 s hold ended at the guard"
    assert any("dr-drill-lag-drill-primary in ALARM (lag 900 s)" in note for note in result.notes)
    assert result.checks["experiment_states"][-2:] == ["stopping", "stopped"]


def test_a_missing_lag_guard_is_reported_and_the_hold_runs_its_course(buckets: Replicator) -> None:
    client, stubber = stubbed_fis(buckets, ["running", "running"], stop=True)
    guard = fis.AlarmGuard(boto3.client("cloudwatch", region_name="us-west-2"), "dr-drill-lag-absent")
    with stubber:
        result = measure(client, target(), TIMING, guard)
    assert result.status is Status.passed and result.rpo_seconds_measured >= TIMING.hold_seconds
    assert "guard dr-drill-lag-absent does not exist: the FIS duration bounds the pause" in result.notes


def test_without_working_replication_no_experiment_starts(mock_aws: None) -> None:
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=PRIMARY)
    boto3.client("s3", region_name="us-west-2").create_bucket(
        Bucket=REPLICA, CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    client = boto3.client("fis", region_name="us-east-1")
    quick = fis.FisTiming(hold_seconds=0, baseline_timeout_seconds=0.5, poll_seconds=0.05, canary_rate=10)
    with Stubber(client) as stubber:  # any FIS call would fail: nothing is queued
        result = measure(client, target(), quick)
        stubber.assert_no_pending_responses()
    assert result.status is Status.failed and result.checks["experiment_id"] is None
    assert any("replication is not working" in note for note in result.notes)


# ---------------------------------------------------------------- no overlapping pauses (issue 23 item 11)


def _listed(*experiments: tuple[str, str, dict[str, str]]) -> dict[str, Any]:
    return {
        "experiments": [
            {"id": eid, "experimentTemplateId": "EXT1", "state": {"status": state}, "tags": tags}
            for eid, state, tags in experiments
        ]
    }


def test_only_active_drill_experiments_are_reported_across_pages() -> None:
    from handlers.drills.fis import running_drill_experiments

    client = boto3.client("fis", region_name="us-east-1")
    stubber = Stubber(client)
    first = _listed(("EXP1", "running", {"dr:drill": "d1"}), ("EXP2", "completed", {"dr:drill": "d0"}))
    stubber.add_response("list_experiments", {**first, "nextToken": "page2"}, {})
    second = _listed(("EXP3", "running", {"team": "chaos"}), ("EXP4", "initiating", {"dr:drill": "d2"}))
    stubber.add_response("list_experiments", second, {"nextToken": "page2"})
    with stubber:
        found = running_drill_experiments(client)
        stubber.assert_no_pending_responses()
    assert [(e["id"], e["state"], e["drill"]) for e in found] == [
        ("EXP1", "running", "d1"),
        ("EXP4", "initiating", "d2"),
    ]


def test_a_drill_never_starts_a_second_pause() -> None:
    from handlers.drills.fis import ExperimentError, start_experiment

    client = boto3.client("fis", region_name="us-east-1")
    stubber = Stubber(client)
    stubber.add_response("list_experiments", _listed(("EXP1", "running", {"dr:drill": "other"})), {})
    with stubber, pytest.raises(ExperimentError, match="still active"):
        start_experiment(client, TEMPLATE, "test")
    stubber.assert_no_pending_responses()  # no StartExperiment was sent


def test_drctl_drill_experiments_exits_1_while_one_is_active(monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from typer.testing import CliRunner

    from handlers import aws
    from handlers.cli import load_commands

    stubbed = {}
    for region, listing in (("us-east-1", _listed(("EXP1", "running", {"dr:drill": "d1"}))), ("us-west-2", _listed())):
        client = boto3.client("fis", region_name=region)
        stubber = Stubber(client)
        stubber.add_response("list_experiments", listing, {})
        stubber.activate()
        stubbed[region] = client
    no_workflow = boto3.client("stepfunctions", region_name="us-west-2")
    stubber = Stubber(no_workflow)
    stubber.add_response("list_state_machines", {"stateMachines": []}, {})
    stubber.activate()
    monkeypatch.setattr(
        aws, "client", lambda service, region=None, **_: no_workflow if service == "stepfunctions" else stubbed[region]
    )
    result = CliRunner().invoke(load_commands(), ["drill-experiments", "--stack", "prod", "--json"])
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    assert document["regions"] == ["us-east-1", "us-west-2"] and list(document["active"]) == ["us-east-1"]
    assert document["running_workflows"] == []


def test_drctl_drill_experiments_exits_1_while_the_scheduled_drill_runs(
    mock_aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 23 item 11: a deploy waits for a running drill workflow too (it may start a pause at any moment).
    moto keeps a started execution RUNNING (no Lambda runs here)."""
    import json

    from typer.testing import CliRunner

    from handlers.cli import load_commands

    sfn = boto3.client("stepfunctions", region_name="us-west-2")
    definition = json.dumps({"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 600, "End": True}}})
    role = "arn:aws:iam::123456789012:role/distronation-prod-dr-drill-workflow"
    for name in ("distronation-prod-dr-drill", "someone-elses-workflow"):
        sfn.create_state_machine(name=name, definition=definition, roleArn=role)
    machines = {m["name"]: m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]}
    sfn.start_execution(stateMachineArn=machines["someone-elses-workflow"])  # not this stack's: ignored
    command = ["drill-experiments", "--stack", "prod", "--json"]
    first = CliRunner().invoke(load_commands(), command)
    assert first.exit_code == 0, first.output
    execution = sfn.start_execution(stateMachineArn=machines["distronation-prod-dr-drill"])["executionArn"]
    second = CliRunner().invoke(load_commands(), command)
    assert second.exit_code == 1, second.output
    [running] = json.loads(second.stdout)["running_workflows"]
    assert running["execution"] == execution and running["workflow"] == "distronation-prod-dr-drill"


# ---------------------------------------------------------------- the DynamoDB pause (issue 23 item 11)

TABLE = "orders"
TABLE_TEMPLATE = "EXT9z8y7x6w5v4u3"


class TableReplicator:
    """Global-table replication as this test emulates it: copy new and deleted items from the us-east-1 table to the
    us-west-2 one, until paused (moto keeps two unrelated tables of the same name)."""

    def __init__(self) -> None:
        self.paused = threading.Event()
        self.stop = threading.Event()
        self.primary = boto3.client("dynamodb", region_name="us-east-1")
        self.replica = boto3.client("dynamodb", region_name="us-west-2")
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.wait(0.05):
            if self.paused.is_set():
                continue
            items = {item["pk"]["S"]: item for item in self.primary.scan(TableName=TABLE)["Items"]}
            held = {item["pk"]["S"] for item in self.replica.scan(TableName=TABLE)["Items"]}
            for key in sorted(set(items) - held):
                if self.paused.is_set():
                    break
                self.replica.put_item(TableName=TABLE, Item=items[key])


@pytest.fixture
def tables(mock_aws: None) -> Iterator[TableReplicator]:
    for region in ("us-east-1", "us-west-2"):
        boto3.client("dynamodb", region_name=region).create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
    replicator = TableReplicator()
    replicator.thread.start()
    yield replicator
    replicator.stop.set()
    replicator.thread.join(timeout=5)


def table_target(rpo_minutes: float | None = 15) -> TableTarget:
    return TableTarget(
        name="orders",
        table_name=TABLE,
        region="us-east-1",
        partition_key="pk",
        sort_key="sk",
        logical=Objective(0, 30),
        regional=Objective(rpo_minutes, 60),
        replica_regions=("us-east-1", "us-west-2"),
    )


def test_the_table_rpo_under_a_global_table_pause_is_measured_and_the_canaries_are_removed(
    tables: TableReplicator,
) -> None:
    client = boto3.client("fis", region_name="us-east-1")
    stubber = Stubber(client)
    stubber.add_response("list_experiments", {"experiments": []}, {})
    start = {"clientToken": ANY, "experimentTemplateId": TABLE_TEMPLATE, "tags": {"dr:drill": "test"}}
    stubber.add_response("start_experiment", experiment("initiating"), start)
    for state in ("running", "running"):
        stubber.add_response("get_experiment", experiment(state), {"id": EXPERIMENT})
    stubber.add_response("stop_experiment", experiment("stopping"), {"id": EXPERIMENT})
    stubber.add_response("get_experiment", experiment("stopped"), {"id": EXPERIMENT})
    client.meta.events.register("after-call.fis.StartExperiment", lambda **_: tables.paused.set())
    with stubber:
        result = fis.measure_table_regional_rpo(
            primary_ddb=boto3.client("dynamodb", region_name="us-east-1"),
            replica_ddb=boto3.client("dynamodb", region_name="us-west-2"),
            replica_region="us-west-2",
            fis=client,
            table=table_target(),
            template_id=TABLE_TEMPLATE,
            drill_id="test",
            prefix="dr-drill#test#",
            scenario="regional-rpo-fis",
            timing=TIMING,
        )
        stubber.assert_no_pending_responses()
    assert result.status is Status.passed, result.notes
    assert result.target == "dynamodb://orders (us-east-1 -> us-west-2)"
    assert result.checks["experiment_states"] == ["initiating", "running", "stopping", "stopped"]
    assert TIMING.hold_seconds <= result.rpo_seconds_measured < TIMING.hold_seconds + 3
    assert 0 < result.rpo["pre_fault_recovered"] < result.rpo["pre_fault"] and not result.rpo["holes"]
    # The drill's canary items are gone from the primary (their deletes replicate once the pause is over).
    left = boto3.client("dynamodb", region_name="us-east-1").scan(TableName=TABLE)["Items"]
    assert left == [] and result.checks["cleanup_errors"] == []


def test_a_deployed_drill_runs_the_dynamodb_template_of_each_drilled_table(tables: TableReplicator) -> None:
    """The regional scenario looks up ``dynamodb:<table>`` templates as well as ``s3:<bucket>`` ones."""
    from handlers.drills.model import StackTargets
    from handlers.drills.runner import DrillContext
    from handlers.drills.scenarios import regional

    client = boto3.client("fis", region_name="us-east-1")
    stubber = Stubber(client)
    stubber.add_response("list_experiments", {"experiments": []}, {})
    stubber.add_response("start_experiment", experiment("initiating"), {
        "clientToken": ANY, "experimentTemplateId": TABLE_TEMPLATE, "tags": {"dr:drill": ANY},
    })  # fmt: skip
    stubber.add_response("get_experiment", experiment("running"), {"id": EXPERIMENT})
    stubber.add_response("get_experiment", experiment("completed"), {"id": EXPERIMENT})
    stubber.add_response("get_experiment", experiment("completed"), {"id": EXPERIMENT})
    client.meta.events.register("after-call.fis.StartExperiment", lambda **_: tables.paused.set())

    def factory(service: str, region: str) -> Any:
        return client if service == "fis" else boto3.client(service, region_name=region)

    targets = StackTargets("prod", "us-east-1", "us-west-2", (), tables=(table_target(),), sites=())
    context = DrillContext(
        targets, local=False, client=factory, fis_templates={"dynamodb:orders": TABLE_TEMPLATE}, fis_timing=TIMING
    )
    with stubber:
        [result] = regional.run_fis(context)
        stubber.assert_no_pending_responses()
    assert result.scenario == "regional-rpo-fis" and result.target.startswith("dynamodb://orders")
    assert result.status is Status.passed, result.notes


STOP_ALARM = "dr-drill-stop-orders-us-east-1-to-us-west-2"  # components/drills.py names it so (runtime_names)


def _stop_alarm(state: str) -> Any:
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    cloudwatch.put_metric_alarm(
        AlarmName=STOP_ALARM, Namespace="AWS/DynamoDB", MetricName="ReplicationLatency", Statistic="Maximum",
        Period=60, EvaluationPeriods=15, Threshold=900_000, ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="breaching",
    )  # fmt: skip
    cloudwatch.set_alarm_state(AlarmName=STOP_ALARM, StateValue=state, StateReason="no datapoints: table quiet")
    return cloudwatch


def _measure_table(fis_client: Any, cloudwatch: Any, timing: fis.FisTiming = TIMING) -> Any:
    return fis.measure_table_regional_rpo(
        primary_ddb=boto3.client("dynamodb", region_name="us-east-1"),
        replica_ddb=boto3.client("dynamodb", region_name="us-west-2"),
        replica_region="us-west-2",
        fis=fis_client,
        table=table_target(),
        template_id=TABLE_TEMPLATE,
        drill_id="test",
        prefix="dr-drill#test#",
        scenario="regional-rpo-fis",
        timing=timing,
        cloudwatch=cloudwatch,
    )


def test_the_drill_starts_a_table_pause_only_once_its_stop_conditions_left_alarm(tables: TableReplicator) -> None:
    """A quiet table's stop alarm is in ALARM (missing data breaches); the canaries bring it back to OK (here: the
    test sets the state, as CloudWatch would once their ReplicationLatency datapoints arrive)."""
    cloudwatch = _stop_alarm("ALARM")
    started: list[float] = []
    cleared_at: list[float] = []

    def clear() -> None:
        time.sleep(1.0)
        cleared_at.append(time.monotonic())
        cloudwatch.set_alarm_state(AlarmName=STOP_ALARM, StateValue="OK", StateReason="datapoints below the RPO")

    client = boto3.client("fis", region_name="us-east-1")
    stubber = Stubber(client)
    stubber.add_response("list_experiments", {"experiments": []}, {})
    start = {"clientToken": ANY, "experimentTemplateId": TABLE_TEMPLATE, "tags": {"dr:drill": "test"}}
    stubber.add_response("start_experiment", experiment("initiating"), start)
    stubber.add_response("get_experiment", experiment("running"), {"id": EXPERIMENT})
    stubber.add_response("get_experiment", experiment("running"), {"id": EXPERIMENT})
    stubber.add_response("stop_experiment", experiment("stopping"), {"id": EXPERIMENT})
    stubber.add_response("get_experiment", experiment("stopped"), {"id": EXPERIMENT})
    client.meta.events.register(
        "before-parameter-build.fis.StartExperiment", lambda **_: started.append(time.monotonic())
    )
    client.meta.events.register("after-call.fis.StartExperiment", lambda **_: tables.paused.set())
    clearer = threading.Thread(target=clear)
    clearer.start()
    with stubber:
        result = _measure_table(client, cloudwatch)
        stubber.assert_no_pending_responses()
    clearer.join()
    assert result.status is Status.passed, result.notes
    assert started and cleared_at and started[0] >= cleared_at[0]  # never while the stop condition was in ALARM


def test_a_stop_condition_stuck_in_alarm_starts_no_pause_and_says_so(tables: TableReplicator) -> None:
    cloudwatch = _stop_alarm("ALARM")
    client = boto3.client("fis", region_name="us-east-1")
    quick = fis.FisTiming(
        hold_seconds=1, baseline_timeout_seconds=1.5, state_timeout_seconds=5, poll_seconds=0.05, canary_rate=10
    )
    with Stubber(client) as stubber:  # any FIS call would fail: nothing is queued
        result = _measure_table(client, cloudwatch, quick)
        stubber.assert_no_pending_responses()
    assert result.status is Status.failed and result.checks["experiment_id"] is None
    assert any("stop conditions still in ALARM" in note and STOP_ALARM in note for note in result.notes)
    assert boto3.client("dynamodb", region_name="us-east-1").scan(TableName=TABLE)["Items"] == []  # cleaned up


def test_drctl_drill_first_run_starts_the_workflow_once_only(mock_aws: None) -> None:
    """The deploy's first drill: a never-run workflow starts (DrillPassed gets a verdict now, not an interval
    later); once it has run, the schedule carries on and nothing more starts (moto keeps executions RUNNING)."""
    import json

    from typer.testing import CliRunner

    from handlers.cli import load_commands

    sfn = boto3.client("stepfunctions", region_name="us-west-2")
    command = ["drill-first-run", "--stack", "prod", "--json"]
    absent = CliRunner().invoke(load_commands(), command)
    assert absent.exit_code == 0 and json.loads(absent.stdout)["started"] is None
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    arn = sfn.create_state_machine(
        name="distronation-prod-dr-drill",
        definition=definition,
        roleArn="arn:aws:iam::123456789012:role/distronation-prod-dr-drill-workflow",
    )["stateMachineArn"]
    first = CliRunner().invoke(load_commands(), command)
    assert first.exit_code == 0, first.output
    started = json.loads(first.stdout)["started"]
    assert started and started.endswith(":first-run-after-deploy")
    again = CliRunner().invoke(load_commands(), command)
    assert json.loads(again.stdout) == {
        "exit_code": 0,
        "workflow": "distronation-prod-dr-drill",
        "started": None,
        "reason": "the workflow has run before: its schedule carries on",
    }
    assert len(sfn.list_executions(stateMachineArn=arn)["executions"]) == 1
