"""The failover runtime's deciding rules, each at its boundary, on fast fakes (moto in-process only where DynamoDB's
condition expressions decide): the switch endpoint's answers, the reconcile's per-key decision, failback's steps,
the lag gate and the switch's entries, the lock's lease arithmetic and fenced writes, vote counting and the phase
machine's rounds. `make mutation-failover-runtime` (tools/mutation_failover_runtime.toml) runs only this file, so
every test here stays in milliseconds; the end-to-end behaviour is in the other test files of this directory."""

from __future__ import annotations

import re
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from handlers.failover import actions, failback, orchestrator, reconcile, switch_endpoint
from handlers.failover.actions import Clients
from handlers.failover.dns import Answer
from handlers.failover.failback import Step
from handlers.failover.probe import ProbeResult
from handlers.failover.reconcile import Entry, ReconcileOptions, _merged, _newer, _Walk
from handlers.failover.site import Site
from handlers.failover.state import (
    FAILED_OVER,
    FAILING_BACK,
    FAILING_OVER,
    PRIMARY,
    SWITCH_FAILED_OVER,
    SiteStore,
    State,
    _conditional_failed,
    _python,
    _value,
)
from handlers.s3.plan import BatchOptions
from handlers.s3.restore import RESTORED_FROM_METADATA
from tests.handlers.failover.conftest import PRIMARY_HOST, RECORD, SECONDARY_HOST, descriptor

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
TOPIC = "arn:aws:sns:us-west-2:123456789012:dr-alerts"


def make_site(**extra: Any) -> Site:
    return Site.from_descriptor(descriptor("http://primary/health", "http://secondary/health", TOPIC, **extra))


def client_error(code: str, reasons: list[dict[str, Any]] | None = None) -> ClientError:
    response: dict[str, Any] = {"Error": {"Code": code, "Message": code}}
    if reasons is not None:
        response["CancellationReasons"] = reasons
    return ClientError(response, "Op")  # type: ignore[arg-type]


# --- the switch endpoint: status mapping -------------------------------------------------------------------------


class SwitchTable:
    def __init__(self, items: dict[str, dict[str, Any]] | None = None, error: Exception | None = None) -> None:
        self.items, self.error, self.calls = items or {}, error, []  # type: list[dict[str, Any]]

    def get_item(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.error:
            raise self.error
        item = self.items.get(kwargs["Key"]["pk"]["S"])
        return {"Item": item} if item is not None else {}


@pytest.fixture
def empty_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(switch_endpoint, "_cache", {})


def test_read_switch_reads_only_the_switch_attribute_consistently() -> None:
    table = SwitchTable({"drill": {"switch": {"S": "failed-over"}}})
    assert switch_endpoint.read_switch(table, "lock", "drill") == "failed-over"
    assert table.calls == [
        {
            "TableName": "lock",
            "Key": {"pk": {"S": "drill"}},
            "ConsistentRead": True,
            "ProjectionExpression": "#switch",
            "ExpressionAttributeNames": {"#switch": "switch"},
        }
    ]
    assert switch_endpoint.read_switch(table, "lock") == "primary"  # default item "state": missing
    assert table.calls[-1]["Key"] == {"pk": {"S": "state"}}
    assert switch_endpoint.read_switch(SwitchTable({"state": {}}), "lock") == "primary"
    assert switch_endpoint.read_switch(SwitchTable({"state": {"switch": {"S": "other"}}}), "lock") == "primary"


def test_answers_are_200_failed_over_or_404_primary_with_their_headers() -> None:
    assert switch_endpoint.answer("failed-over", "live") == {
        "statusCode": 200,
        "headers": {
            "content-type": "text/plain",
            "cache-control": "no-store",
            "x-dr-switch": "failed-over",
            "x-dr-source": "live",
        },
        "body": "failed-over",
    }
    primary = switch_endpoint.answer("primary", "cached")
    assert (primary["statusCode"], primary["body"], primary["headers"]["x-dr-switch"]) == (404, "primary", "primary")
    assert primary["headers"]["x-dr-source"] == "cached"


@pytest.mark.usefixtures("empty_cache")
def test_respond_maps_paths_to_items_and_falls_back_to_the_cache_then_primary() -> None:
    table = SwitchTable({"state": {"switch": {"S": "failed-over"}}, "drill": {"switch": {"S": "primary"}}})
    live = switch_endpoint.respond(table, "lock", "/")
    assert (live["statusCode"], live["headers"]["x-dr-source"]) == (200, "live")
    drill = switch_endpoint.respond(table, "lock", "/drill/")
    assert (drill["statusCode"], drill["headers"]["x-dr-source"]) == (404, "live")
    assert [c["Key"]["pk"]["S"] for c in table.calls] == ["state", "drill"]
    assert switch_endpoint.respond(table, "lock", "")["statusCode"] == 200  # "" is "/"
    unknown = switch_endpoint.respond(table, "lock", "/other")
    assert (unknown["statusCode"], unknown["body"], unknown["headers"]["x-dr-source"]) == (404, "primary", "default")
    assert switch_endpoint.respond(table, "lock", "/drillX")["headers"]["x-dr-source"] == "default"
    assert len(table.calls) == 3  # an unknown path reads nothing
    assert switch_endpoint.respond(table, "lock")["statusCode"] == 200  # the default path is the site's switch
    assert table.calls[-1]["Key"] == {"pk": {"S": "state"}}
    table.calls.pop()

    failing = SwitchTable(error=client_error("ProvisionedThroughputExceededException"))
    cached = switch_endpoint.respond(failing, "lock", "/")
    assert (cached["statusCode"], cached["body"], cached["headers"]["x-dr-source"]) == (200, "failed-over", "cached")
    drill_cached = switch_endpoint.respond(failing, "lock", "/drill")
    assert (drill_cached["statusCode"], drill_cached["headers"]["x-dr-source"]) == (404, "cached")  # "primary" kept
    assert switch_endpoint.respond(table, None, "/")["headers"]["x-dr-source"] == "cached"  # no table: no read
    assert len(table.calls) == 3


@pytest.mark.usefixtures("empty_cache")
def test_respond_without_a_cache_answers_the_default_primary() -> None:
    failing = SwitchTable(error=RuntimeError("boom"))
    answered = switch_endpoint.respond(failing, "lock", "/")
    assert (answered["statusCode"], answered["body"], answered["headers"]["x-dr-source"]) == (404, "primary", "default")
    assert switch_endpoint.respond(SwitchTable(), "", "/drill")["headers"]["x-dr-source"] == "default"


@pytest.mark.usefixtures("empty_cache")
def test_lambda_handler_reads_the_raw_path_and_the_table_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    table = SwitchTable({"drill": {"switch": {"S": "failed-over"}}, "state": {"switch": {"S": "primary"}}})
    monkeypatch.setattr(switch_endpoint, "_dynamodb", lambda: table)
    monkeypatch.setenv("LOCK_TABLE", "lock")
    answered = switch_endpoint.lambda_handler({"rawPath": "/drill"}, None)
    assert (answered["statusCode"], table.calls[-1]["TableName"]) == (200, "lock")
    assert switch_endpoint.lambda_handler({}, None)["headers"]["x-dr-source"] == "live"  # "/": the state item
    assert table.calls[-1]["Key"] == {"pk": {"S": "state"}}

    def broken() -> Any:
        raise RuntimeError("no region")

    monkeypatch.setattr(switch_endpoint, "_dynamodb", broken)
    assert switch_endpoint.lambda_handler({"rawPath": "/drill"}, None)["headers"]["x-dr-source"] == "cached"


# --- the reconcile's per-key decision ------------------------------------------------------------------------------

SINCE = T0
STARTED = T0 + timedelta(minutes=10)


def entry(key: str, at: datetime, version: str = "", etag: str = '"e"', marker: bool = False) -> Entry:
    return Entry(key, version, at, etag, 3, "STANDARD", marker)


class Side:
    """One bucket's current entries (HEAD) and newest entries (ListObjectVersions ``Prefix=key, MaxKeys=1``)."""

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket
        self.heads: dict[str, tuple[Entry, dict[str, str]]] = {}
        self.newest: dict[str, Entry] = {}
        self.calls: list[tuple[str, str]] = []

    def head_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:
        assert Bucket == self.bucket
        self.calls.append(("head", Key))
        found, metadata = self.heads[Key]
        return {
            "VersionId": found.version_id,
            "LastModified": found.last_modified,
            "ETag": found.etag,
            "ContentLength": found.size,
            "StorageClass": found.storage_class,
            "Metadata": metadata,
        }

    def list_object_versions(self, *, Bucket: str, Prefix: str, MaxKeys: int) -> dict[str, Any]:
        assert (Bucket, MaxKeys) == (self.bucket, 1)
        self.calls.append(("versions", Prefix))
        found = self.newest.get(Prefix)
        if found is None:
            return {}
        listed = {
            "Key": found.key,
            "VersionId": found.version_id,
            "LastModified": found.last_modified,
            "IsLatest": True,
        }
        return {"DeleteMarkers": [listed]} if found.is_delete_marker else {"Versions": [listed]}


class Pass:
    def __init__(self) -> None:
        self.primary, self.replica = Side("p-bucket"), Side("r-bucket")
        bucket = {"logical": "data", "primary": "p-bucket", "replica": "r-bucket"}
        options = ReconcileOptions(dry_run=True, clock=lambda: STARTED)
        self.walk = _Walk(self.primary, self.replica, bucket, SINCE, options)

    def key(self, name: str, primary: Entry | None, replica: Entry | None) -> dict[str, Any]:
        if replica is not None:
            self.replica.heads.setdefault(name, (replica, {}))
        if primary is not None:
            self.primary.heads.setdefault(name, (primary, {}))
        before = len(self.walk.result.conflicts)
        self.walk.key(name, primary, replica)
        result = self.walk.result
        assert all(c["key"] == name for c in result.conflicts[before:])
        return {
            "copied": result.copied,
            "deleted": result.deleted,
            "unchanged": result.unchanged,
            "deferred": result.deferred,
            "kept": [c["kept"] for c in result.conflicts],
        }


def counts(copied: int = 0, deleted: int = 0, unchanged: int = 0, deferred: int = 0, kept: Any = ()) -> dict[str, Any]:
    return {"copied": copied, "deleted": deleted, "unchanged": unchanged, "deferred": deferred, "kept": list(kept)}


def test_newer_is_strict() -> None:
    assert _newer(entry("k", T0 + timedelta(seconds=1)), entry("k", T0))
    assert not _newer(entry("k", T0), entry("k", T0))
    assert not _newer(entry("k", T0), entry("k", T0 + timedelta(seconds=1)))


def test_merged_joins_both_listings_by_key() -> None:
    a, b, c, d, e = (entry(k, T0) for k in "abcde")
    c2 = entry("c", T0, "v2")
    joined = list(_merged(iter([a, c, d]), iter([b, c2, e])))
    assert joined == [("a", a, None), ("b", None, b), ("c", c, c2), ("d", d, None), ("e", None, e)]
    assert list(_merged(iter([]), iter([a]))) == [("a", None, a)]
    assert list(_merged(iter([a]), iter([]))) == [("a", a, None)]
    assert list(_merged(iter([]), iter([]))) == []
    assert list(_merged(iter([a]), iter([c2, e]))) == [("a", a, None), ("c", None, c2), ("e", None, e)]
    assert list(_merged(iter([c]), iter([c2]))) == [("c", c, c2)]  # both end on the same key


def test_a_key_only_on_the_primary_is_deleted_only_for_a_newer_replica_delete_since_the_failover() -> None:
    at = SINCE + timedelta(minutes=1)
    run = Pass()
    assert run.key("never", entry("never", at), None) == counts(unchanged=1)  # never on the replica
    run.replica.newest["live"] = entry("live", at + timedelta(seconds=5))  # a version, not a marker
    assert run.key("live", entry("live", at), None) == counts(unchanged=2)
    run.replica.newest["old"] = entry("old", SINCE - timedelta(seconds=1), marker=True)  # before the failover
    assert run.key("old", entry("old", SINCE - timedelta(minutes=5)), None) == counts(unchanged=3)
    run.replica.newest["edge"] = entry("edge", SINCE, marker=True)  # exactly at the failover: counts
    assert run.key("edge", entry("edge", SINCE - timedelta(minutes=5)), None) == counts(deleted=1, unchanged=3)
    assert ("versions", "edge") in run.replica.calls and not run.primary.calls


def test_a_delete_outside_the_dry_run_deletes_that_key_on_the_primary() -> None:
    run = Pass()
    run.walk.options.dry_run = False
    deleted: list[dict[str, Any]] = []
    run.primary.delete_object = lambda **kwargs: deleted.append(kwargs)  # type: ignore[attr-defined]
    run.replica.newest["k"] = entry("k", SINCE + timedelta(seconds=2), marker=True)
    assert run.key("k", entry("k", SINCE + timedelta(seconds=1)), None) == counts(deleted=1, kept=())
    assert deleted == [{"Bucket": "p-bucket", "Key": "k"}]


def test_a_replica_delete_never_hides_a_newer_or_equal_primary_write() -> None:
    run = Pass()
    run.replica.newest["k"] = entry("k", SINCE + timedelta(minutes=1), marker=True)
    assert run.key("k", entry("k", SINCE + timedelta(minutes=1)), None) == counts(unchanged=1, kept=["primary"])
    run.replica.newest["j"] = entry("j", SINCE + timedelta(minutes=1), marker=True)
    assert run.key("j", entry("j", SINCE + timedelta(minutes=2)), None) == counts(unchanged=2, kept=["primary"] * 2)
    conflict = run.walk.result.conflicts[0]
    assert conflict["key"] == "k" and conflict["replica"]["kind"] == "delete-marker"
    assert conflict["primary"]["kind"] == "version"
    # A primary write exactly at the failover beside an equal-time marker: changed on both sides, kept.
    run.replica.newest["e"] = entry("e", SINCE, marker=True)
    assert run.key("e", entry("e", SINCE), None) == counts(unchanged=3, kept=["primary", "primary", "primary"])


def test_replica_writes_before_the_failover_are_unchanged_and_during_the_pass_deferred() -> None:
    run = Pass()
    assert run.key("old", None, entry("old", SINCE - timedelta(seconds=1))) == counts(unchanged=1)
    assert run.key("late", None, entry("late", STARTED + timedelta(seconds=2))) == counts(unchanged=1, deferred=1)
    assert not run.replica.calls  # decided from the listing alone
    # Within LastModified's one-second resolution of the pass's start: taken (copied: absent on the primary).
    assert run.key("edge", None, entry("edge", STARTED + timedelta(seconds=1), "rv")) == counts(
        copied=1, unchanged=1, deferred=1
    )
    # Exactly at the failover: taken too.
    assert run.key("first", None, entry("first", SINCE, "rv")) == counts(copied=2, unchanged=1, deferred=1)
    assert ("head", "edge") in run.replica.calls and ("versions", "edge") in run.primary.calls
    assert run.key("old2", None, entry("old2", SINCE - timedelta(seconds=1))) == counts(
        copied=2, unchanged=2, deferred=1
    )
    assert run.key("late2", None, entry("late2", STARTED + timedelta(seconds=2))) == counts(
        copied=2, unchanged=2, deferred=2
    )


def test_a_replica_write_over_a_primary_delete_is_copied_unless_the_delete_is_as_new() -> None:
    run = Pass()
    written = SINCE + timedelta(minutes=2)
    run.primary.newest["gone"] = entry("gone", written, marker=True)  # deleted on the primary at the same second
    assert run.key("gone", None, entry("gone", written, "rv")) == counts(unchanged=1, kept=["primary"])
    run.primary.newest["later"] = entry("later", written + timedelta(seconds=1), marker=True)
    assert run.key("later", None, entry("later", written, "rv")) == counts(unchanged=2, kept=["primary", "primary"])
    run.primary.newest["before"] = entry("before", SINCE - timedelta(minutes=1), marker=True)  # deleted before
    assert run.key("before", None, entry("before", SINCE, "rv")) == counts(copied=1, unchanged=2, kept=["primary"] * 2)
    run2 = Pass()
    run2.primary.newest["k"] = entry("k", SINCE - timedelta(minutes=1), marker=True)
    assert run2.key("k", None, entry("k", SINCE + timedelta(seconds=1), "rv")) == counts(copied=1)
    run2.primary.newest["m"] = entry("m", SINCE, marker=True)  # deleted on the primary during the failover, older
    assert run2.key("m", None, entry("m", SINCE + timedelta(seconds=1), "rv")) == counts(copied=2, kept=["replica"])
    assert run2.key("n", None, entry("n", SINCE + timedelta(seconds=1), "rv")) == counts(copied=3, kept=["replica"])
    run2.primary.newest["s"] = entry("s", SINCE, marker=True)  # both at the failover's second: the delete stays
    assert run2.key("s", None, entry("s", SINCE, "rv")) == counts(copied=3, unchanged=1, kept=["replica", "primary"])


def test_a_key_on_both_sides_goes_to_the_newer_side_and_both_changed_is_a_conflict() -> None:
    run = Pass()
    p, r = entry("same", SINCE, "v1"), entry("same", SINCE + timedelta(seconds=5), "v1")
    assert run.key("same", p, r) == counts(unchanged=1)  # one version: replicated
    run.primary.heads["back"] = (entry("back", SINCE, "p2"), {RESTORED_FROM_METADATA: "r2"})
    assert run.key("back", entry("back", SINCE), entry("back", SINCE + timedelta(seconds=5), "r2")) == counts(
        unchanged=2
    )  # copied back by an earlier pass
    old = SINCE - timedelta(minutes=1)
    assert run.key("new", entry("new", old, "p"), entry("new", SINCE, "r")) == counts(copied=1, unchanged=2)
    both = run.key("both", entry("both", SINCE, "p"), entry("both", SINCE + timedelta(seconds=1), "r"))
    assert both == counts(copied=2, unchanged=2, kept=["replica"])
    tie = run.key("tie", entry("tie", SINCE, "p", '"a"'), entry("tie", SINCE, "r", '"b"'))
    assert tie == counts(copied=2, unchanged=3, kept=["replica", "primary"])


def test_an_older_replica_version_keeps_the_primary_and_reports_only_real_conflicts() -> None:
    run = Pass()
    old = SINCE - timedelta(minutes=1)
    late = SINCE + timedelta(minutes=1)
    assert run.key("a", entry("a", late, "p"), entry("a", SINCE, "r")) == counts(unchanged=1, kept=["primary"])
    # The decision reads the HEADs, not the listing: here the primary's HEAD is newer than the replica's.
    run.replica.heads["b"] = (entry("b", SINCE, "r"), {})
    run.primary.heads["b"] = (entry("b", SINCE + timedelta(seconds=1), "p", '"e"'), {})
    assert run.key("b", entry("b", old), entry("b", SINCE, "r")) == counts(unchanged=2, kept=["primary"] * 2)
    # A primary unchanged since before the failover: the replica's newer version is copied, no conflict.
    run.replica.heads["c"] = (entry("c", SINCE, "r", '"same"'), {})
    run.primary.heads["c"] = (entry("c", old, "p", '"same"'), {})
    assert run.key("c", entry("c", old), entry("c", SINCE, "r")) == counts(copied=1, unchanged=2, kept=["primary"] * 2)


def test_an_equal_time_older_primary_with_another_etag_is_a_conflict_and_the_same_etag_is_not() -> None:
    """Walk.key decides on the HEADs: a replica entry listed since the failover whose HEAD is older (a later
    overwrite was replicated back) is kept on the primary; a conflict only when the ETags differ."""
    run = Pass()
    old = SINCE - timedelta(minutes=1)
    run.replica.heads["k"] = (entry("k", old, "r", '"x"'), {})
    run.primary.heads["k"] = (entry("k", old, "p", '"x"'), {})
    assert run.key("k", entry("k", old), entry("k", SINCE, "r")) == counts(unchanged=1)
    run.replica.heads["j"] = (entry("j", old, "r", '"x"'), {})
    run.primary.heads["j"] = (entry("j", old, "p", '"y"'), {})
    assert run.key("j", entry("j", old), entry("j", SINCE, "r")) == counts(unchanged=2, kept=["primary"])


def test_copies_past_the_batch_threshold_go_to_the_manifest() -> None:
    run = Pass()
    run.walk.options.batch = BatchOptions(threshold_keys=1, role_arn="r", report_bucket="b", account_id="1")
    for name in ("a", "b"):
        run.key(name, None, entry(name, SINCE + timedelta(seconds=1), f"v-{name}"))
    assert (run.walk.result.copied, run.walk.result.batched, len(run.walk.manifest)) == (1, 1, 1)
    assert "v-b" in run.walk.manifest[0]


# --- failback's steps ----------------------------------------------------------------------------------------------


class Rds:
    def __init__(self, members: list[dict[str, Any]], instance: dict[str, Any] | None = None) -> None:
        self.members, self.instance, self.calls = members, instance or {}, []  # type: list[tuple[str, Any]]

    def describe_global_clusters(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("describe_global_clusters", kwargs))
        return {"GlobalClusters": [{"GlobalClusterMembers": self.members}]}

    def describe_db_clusters(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("describe_db_clusters", kwargs))
        return {"DBClusters": [{"DBClusterArn": f"arn:aws:rds:us-west-2:1:cluster:{kwargs['DBClusterIdentifier']}"}]}

    def describe_db_instances(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("describe_db_instances", kwargs))
        return {"DBInstances": [self.instance]}

    def switchover_global_cluster(self, **kwargs: Any) -> None:
        self.calls.append(("switchover_global_cluster", kwargs))

    def promote_read_replica(self, **kwargs: Any) -> None:
        self.calls.append(("promote_read_replica", kwargs))


AURORA = {"engine": "aurora-global", "identifier": "db-usw2", "globalClusterIdentifier": "global-db"}
OLD_PRIMARY = "arn:aws:rds:us-east-1:1:cluster:db-use1"


def fake_clients(**extra: Any) -> Clients:
    return Clients(**{"cloudwatch": None, "ssm": None, "dynamodb": None, "sns": None, "s3": None, **extra})


def step_context(site: Site, clients: Clients, state: State | None = None, now: datetime = T0) -> failback.StepContext:
    return failback.StepContext(site, clients, state or State(), now, renew=lambda: True)


def test_hold_seconds_is_config_refresh_plus_switch_plus_ttl() -> None:
    assert failback.hold_seconds(make_site()) == 120 + 60 + 60  # the fixture's switchSeconds 120, TTL 60
    assert failback.hold_seconds(make_site(budget={})) == 60 + 120 + 60  # the defaults
    assert failback.hold_seconds(make_site(budget={"configRefreshSeconds": 7, "switchSeconds": 11})) == 7 + 11 + 60


def test_hold_waits_until_exactly_the_hold_has_passed_since_the_switch() -> None:
    site = make_site(budget={"configRefreshSeconds": 10, "switchSeconds": 20})  # 90 s with the TTL
    switched = State(done={"switch": (T0 - timedelta(seconds=90)).isoformat()})
    assert failback.hold(step_context(site, fake_clients(), switched)) == Step(True, note="held 90 s of 90 s")
    early = State(done={"switch": (T0 - timedelta(seconds=89)).isoformat()})
    assert failback.hold(step_context(site, fake_clients(), early)) == Step(
        False, reason="holding 89 s of 90 s (config refresh + switch + TTL)"
    )
    never = failback.hold(step_context(site, fake_clients(), State()))  # the switch never moved
    assert never == Step(False, reason="holding 0 s of 90 s (config refresh + switch + TTL)")
    naive = State(done={"switch": (T0 - timedelta(seconds=95)).replace(tzinfo=None).isoformat()})  # read as UTC
    assert failback.hold(step_context(site, fake_clients(), naive)).note == "held 95 s of 90 s"


def test_aurora_moves_back_only_once_the_old_primary_reports_it_is_the_writer() -> None:
    site = make_site(database=AURORA)
    assert failback.database_back(step_context(make_site(), fake_clients())) == Step(True, note="no database")
    rds_site = make_site(database={**AURORA, "engine": "rds"})
    assert failback.database_back(step_context(rds_site, fake_clients())) == Step(
        True, note="RDS promotion is one-way: re-create the replica in the primary region"
    )
    assert failback.database_back(step_context(site, fake_clients())) == Step(
        False, reason="no RDS client for the linked database"
    )
    recovery = {"DBClusterArn": "arn:aws:rds:us-west-2:1:cluster:db-usw2", "IsWriter": True}
    rds = Rds([recovery])
    assert failback.database_back(step_context(site, fake_clients(rds=rds))) == Step(
        False, reason="no cluster in us-east-1 has rejoined the global database yet"
    )
    assert rds.calls == [("describe_global_clusters", {"GlobalClusterIdentifier": "global-db"})]
    rds.members = [recovery, {"DBClusterArn": OLD_PRIMARY, "IsWriter": False}]
    asked = failback.database_back(step_context(site, fake_clients(rds=rds)))
    assert asked == Step(False, {"action": "SwitchoverGlobalCluster", "target": OLD_PRIMARY}, start_pending=True)
    assert rds.calls[-1] == (
        "switchover_global_cluster",
        {"GlobalClusterIdentifier": "global-db", "TargetDbClusterIdentifier": OLD_PRIMARY},
    )
    polled = failback.database_back(step_context(site, fake_clients(rds=rds), State(pending={"database": "t"})))
    assert polled == Step(False, reason=f"waiting for {OLD_PRIMARY} to report it is the writer")
    assert rds.calls[-1][0] == "describe_global_clusters"  # asked once only
    rds.members = [{**recovery, "IsWriter": False}, {"DBClusterArn": OLD_PRIMARY, "IsWriter": True}]
    done = failback.database_back(step_context(site, fake_clients(rds=rds), State(pending={"database": "t"})))
    assert done == Step(True, {"writer": OLD_PRIMARY}, note="old primary is the writer")


def test_the_old_primary_is_the_member_in_the_primary_region() -> None:
    site = make_site()
    members = [{"DBClusterArn": "arn:aws:rds:us-west-2:1:cluster:us-east-1"}, {"DBClusterArn": OLD_PRIMARY}]
    assert failback.old_primary_member(site, members) == {"DBClusterArn": OLD_PRIMARY}
    assert failback.old_primary_member(site, members[:1]) is None


def test_the_switch_moves_back_to_primary_by_state_or_by_both_routing_controls() -> None:
    step = failback.switch_back(step_context(make_site(), fake_clients()))
    assert step == Step(True, {"switch": "primary"}, {"switch": "primary"})
    arc = RecordingArc()
    step = failback.switch_back(step_context(arc_site(), fake_clients(arc=arc)))
    assert step == Step(True, {"routingControls": "primary On, secondary Off via us-west-2"}, {"switch": "primary"})
    assert arc.entries == [PRIMARY_ON_SECONDARY_OFF]


def test_the_reconcile_passes_start_at_the_failover_then_at_the_watermark(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[datetime] = []

    def reconciled(s3_primary: Any, s3: Any, bucket: Any, since: datetime, *, options: Any) -> Any:
        seen.append(since)
        return reconcile.ReconcileResult("audio", since.isoformat(), "2026-12-07T12:30:00+00:00")

    monkeypatch.setattr(reconcile, "reconcile_bucket", reconciled)
    clients = fake_clients(s3_primary=object())
    site = make_site()
    assert failback.reconcile_first(step_context(site, clients)) == Step(
        False, reason="the site state has no failover time; reconcile by hand (drctl) first"
    )
    first = failback.reconcile_first(step_context(site, clients, State(failed_over_at=T0.timestamp())))
    assert first.finished and first.changes["watermark"]  # where the second pass starts (reconcile_pass's rule)
    assert seen == [T0]
    assert failback.reconcile_second(step_context(site, clients)) == Step(False, reason="reconcile-1 left no watermark")
    later = T0 + timedelta(minutes=30)
    assert failback.reconcile_second(step_context(site, clients, State(watermark=later.isoformat()))).finished
    assert seen == [T0, later]


# --- actions: the lag gate, the switch, settings, database, DNS ---------------------------------------------------


class RecordingArc:
    def __init__(self, failing: tuple[str, ...] = ()) -> None:
        self.failing, self.entries, self.asked = failing, [], []  # type: tuple[str, ...], list[Any], list[str]

    def __call__(self, endpoint: str, region: str) -> RecordingArc:
        self.asked.append(f"{endpoint}@{region}")
        self.current = region
        return self

    def update_routing_control_states(self, *, UpdateRoutingControlStateEntries: Any) -> None:
        if self.current in self.failing:
            raise client_error("EndpointTemporarilyUnavailableException")
        self.entries.append(UpdateRoutingControlStateEntries)


PRIMARY_ARN, SECONDARY_ARN = "arn:rc/primary", "arn:rc/secondary"
PRIMARY_ON_SECONDARY_OFF = [
    {"RoutingControlArn": PRIMARY_ARN, "RoutingControlState": "On"},
    {"RoutingControlArn": SECONDARY_ARN, "RoutingControlState": "Off"},
]


def arc_site(**switch: Any) -> Site:
    return make_site(
        switch={
            "kind": "arc",
            "primaryRoutingControlArn": PRIMARY_ARN,
            "secondaryRoutingControlArn": SECONDARY_ARN,
            "clusterEndpoints": [
                {"endpoint": "https://e1", "region": "us-west-2"},
                {"endpoint": "https://e2", "region": "eu-west-1"},
            ],
            **switch,
        }
    )


def test_one_arc_call_sets_both_controls_on_the_first_endpoint_that_answers() -> None:
    arc = RecordingArc(failing=("us-west-2",))
    assert actions.set_routing_controls(fake_clients(arc=arc), arc_site(), failed_over=True) == "eu-west-1"
    assert arc.asked == ["https://e1@us-west-2", "https://e2@eu-west-1"]
    assert arc.entries == [
        [
            {"RoutingControlArn": PRIMARY_ARN, "RoutingControlState": "Off"},
            {"RoutingControlArn": SECONDARY_ARN, "RoutingControlState": "On"},
        ]
    ]
    refused = "no ARC cluster endpoint accepted the change: us-west-2: .*; eu-west-1: "
    with pytest.raises(RuntimeError, match=f"^{refused}"):
        actions.set_routing_controls(fake_clients(arc=RecordingArc(("us-west-2", "eu-west-1"))), arc_site(), True)
    none = re.escape("no ARC cluster endpoint accepted the change: none configured")
    with pytest.raises(RuntimeError, match=f"^{none}$"):
        actions.set_routing_controls(fake_clients(arc=RecordingArc()), arc_site(clusterEndpoints=[]), True)
    unset = make_site(switch={k: v for k, v in arc_site().switch.items() if k != "clusterEndpoints"})
    with pytest.raises(RuntimeError, match=f"^{none}$"):
        actions.set_routing_controls(fake_clients(arc=RecordingArc()), unset, True)
    factory = re.escape("switch 'arc' needs a route53-recovery-cluster client factory")
    with pytest.raises(ValueError, match=f"^{factory}$"):
        actions.set_routing_controls(fake_clients(), arc_site(), True)


def test_the_arc_switch_needs_both_controls() -> None:
    assert actions.routing_control_arns(arc_site()) == (PRIMARY_ARN, SECONDARY_ARN)
    legacy = arc_site(primaryRoutingControlArn=None, routingControlArn="arn:rc/legacy")
    assert actions.routing_control_arns(legacy) == ("arn:rc/legacy", SECONDARY_ARN)
    both = re.escape(
        "switch 'arc' needs primaryRoutingControlArn and secondaryRoutingControlArn in the site descriptor: "
        "failing over turns the secondary On in the same call that turns the primary Off"
    )
    with pytest.raises(ValueError, match=f"^{both}$"):
        actions.routing_control_arns(arc_site(secondaryRoutingControlArn=None))
    with pytest.raises(ValueError, match="primaryRoutingControlArn"):
        actions.routing_control_arns(arc_site(primaryRoutingControlArn=None))


def test_the_lag_gate_refuses_only_an_unknown_lag_or_one_over_the_rpo() -> None:
    site = make_site(database={"engine": "rds", "identifier": "db-usw2"})  # RPO 15 min: 900 s
    assert actions.lag_gate(make_site(), None) is None  # no database: nothing to lose
    assert actions.lag_gate(site, None) == ("database db-usw2: replication lag unknown (no datapoint in 5 minutes)")
    assert actions.lag_gate(site, 900.0) is None
    assert actions.lag_gate(site, 0.0) is None
    assert actions.lag_gate(site, 900.5) == "database db-usw2: replication lag 900 s exceeds the RPO (15 min)"


class Metrics:
    def __init__(self, points: list[dict[str, Any]]) -> None:
        self.points, self.asked = points, []  # type: list[dict[str, Any]], list[dict[str, Any]]

    def get_metric_statistics(self, **kwargs: Any) -> dict[str, Any]:
        self.asked.append(kwargs)
        return {"Datapoints": self.points}


def test_the_lag_is_the_newest_maximum_in_seconds() -> None:
    points = [
        {"Timestamp": T0 - timedelta(minutes=2), "Maximum": 9000.0},
        {"Timestamp": T0 - timedelta(minutes=1), "Maximum": 1500.0},
        {"Timestamp": T0 - timedelta(minutes=3), "Maximum": 100.0},
    ]
    metrics = Metrics(points)
    clients = fake_clients()
    clients.cloudwatch = metrics
    assert actions._lag_seconds(clients, "AuroraGlobalDBReplicationLag", "DBClusterIdentifier", "db", T0) == 1.5
    assert metrics.asked == [
        {
            "Namespace": "AWS/RDS",
            "MetricName": "AuroraGlobalDBReplicationLag",
            "Dimensions": [{"Name": "DBClusterIdentifier", "Value": "db"}],
            "StartTime": T0 - timedelta(minutes=5),
            "EndTime": T0,
            "Period": 60,
            "Statistics": ["Maximum"],
        }
    ]
    assert actions._lag_seconds(clients, "ReplicaLag", "DBInstanceIdentifier", "db", T0) == 1500.0
    metrics.points = []
    assert actions._lag_seconds(clients, "ReplicaLag", "DBInstanceIdentifier", "db", T0) is None


def test_the_database_is_writable_once_promoted() -> None:
    assert actions.database_writable(fake_clients(rds=Rds([])), make_site())  # no database
    assert actions.database_writable(fake_clients(), make_site(database=AURORA))  # no client: nothing to wait for
    target = "arn:aws:rds:us-west-2:1:cluster:db-usw2"
    rds = Rds([{"DBClusterArn": OLD_PRIMARY, "IsWriter": True}, {"DBClusterArn": target, "IsWriter": False}])
    assert not actions.database_writable(fake_clients(rds=rds), make_site(database=AURORA))
    assert ("describe_db_clusters", {"DBClusterIdentifier": "db-usw2"}) in rds.calls
    assert ("describe_global_clusters", {"GlobalClusterIdentifier": "global-db"}) in rds.calls
    rds.members = [{"DBClusterArn": OLD_PRIMARY, "IsWriter": False}, {"DBClusterArn": target, "IsWriter": True}]
    assert actions.database_writable(fake_clients(rds=rds), make_site(database=AURORA))
    rds.members = [{"DBClusterArn": OLD_PRIMARY, "IsWriter": True}, {"DBClusterArn": target}]
    assert not actions.database_writable(fake_clients(rds=rds), make_site(database=AURORA))
    instance = make_site(database={"engine": "rds", "identifier": "db-usw2"})
    replica = Rds([], {"DBInstanceStatus": "available", "ReadReplicaSourceDBInstanceIdentifier": "db-use1"})
    assert not actions.database_writable(fake_clients(rds=replica), instance)
    assert replica.calls == [("describe_db_instances", {"DBInstanceIdentifier": "db-usw2"})]
    assert actions.database_writable(fake_clients(rds=Rds([], {"DBInstanceStatus": "available"})), instance)
    assert not actions.database_writable(fake_clients(rds=Rds([], {"DBInstanceStatus": "modifying"})), instance)


def test_dns_moved_names_the_side_asked_for() -> None:
    asked: list[tuple[str, str]] = []

    def resolver(name: str, record_type: str) -> list[Answer]:
        asked.append((name, record_type))
        return [Answer("CNAME", SECONDARY_HOST + ".", 60)]

    site = make_site()
    assert actions.dns_moved(fake_clients(), site, to_recovery=True) == (None, [])
    assert actions.dns_moved(fake_clients(resolver=resolver), site, to_recovery=True) == (
        True,
        [SECONDARY_HOST + "."],
    )
    assert actions.dns_moved(fake_clients(resolver=resolver), site, to_recovery=False)[0] is False
    assert asked == [(RECORD, "CNAME"), (RECORD, "CNAME")]
    assert PRIMARY_HOST != SECONDARY_HOST


class Parameters:
    def __init__(self, failing: bool = False) -> None:
        self.values, self.failing = {}, failing  # type: dict[str, str], bool

    def get_parameter(self, *, Name: str) -> dict[str, Any]:
        if self.failing:
            raise client_error("InternalServerError")
        if Name not in self.values:
            raise client_error("ParameterNotFound")
        return {"Parameter": {"Value": self.values[Name]}}

    def put_parameter(self, *, Name: str, Value: str, Type: str, Overwrite: bool) -> None:
        self.values[Name] = Value


def test_settings_move_buckets_epoch_and_region_and_the_primary_copy_is_best_effort() -> None:
    site = make_site()
    recovery, primary = Parameters(), Parameters()
    written = actions.move_settings(fake_clients(ssm=recovery, ssm_primary=primary), site, True, epoch=4)
    assert recovery.values == {
        "/dr/distronation/active-bucket/audio": "distronation-prod-audio-us-west-2",
        "/dr/distronation/active-epoch": "4",
        "/dr/distronation/active-region": "us-west-2",
    }
    assert primary.values == {"/dr/distronation/active-epoch": "4", "/dr/distronation/active-region": "us-west-2"}
    assert written == {
        "activeRegion": "us-west-2",
        "epoch": 4,
        "activeBuckets": {"audio": "distronation-prod-audio-us-west-2"},
        "primaryRegionCopy": "written",
    }
    back = actions.move_settings(fake_clients(ssm=recovery, ssm_primary=Parameters(failing=True)), site, False, 5)
    assert recovery.values["/dr/distronation/active-bucket/audio"] == "distronation-prod-audio-us-east-1"
    assert recovery.values["/dr/distronation/active-region"] == "us-east-1"
    assert back["primaryRegionCopy"].startswith("not written: ") and back["activeRegion"] == "us-east-1"
    alone = actions.move_settings(fake_clients(ssm=recovery), site, True, 6)
    assert alone["primaryRegionCopy"] == "no client" and recovery.values["/dr/distronation/active-epoch"] == "6"


# --- the state and the lock: conditions and lease arithmetic (moto in-process evaluates the conditions) -------------

LOCK_TABLE = "distronation-prod-api-failover-lock"


@pytest.fixture
def dynamodb(mock_aws: None) -> Any:
    client = boto3.client("dynamodb", "us-west-2")
    client.create_table(
        TableName=LOCK_TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return client


@pytest.fixture
def store(dynamodb: Any) -> SiteStore:
    return SiteStore(dynamodb, LOCK_TABLE)


def raw(store: SiteStore, key: str) -> dict[str, Any]:
    return dict(store.dynamodb.get_item(TableName=LOCK_TABLE, Key={"pk": {"S": key}}).get("Item") or {})


def test_the_lock_is_held_only_by_an_owner_before_its_expiry() -> None:
    assert State(lock_owner="a", lock_expires_at=101.0).lock_held(100.0)
    assert not State(lock_owner="a", lock_expires_at=100.0).lock_held(100.0)
    assert not State(lock_owner=None, lock_expires_at=101.0).lock_held(100.0)
    assert not State(lock_owner="a").lock_held(0.0)  # no expiry read: not held


def test_only_a_failed_condition_or_a_conflict_is_a_refusal() -> None:
    assert _conditional_failed(client_error("ConditionalCheckFailedException"))
    cancelled = "TransactionCanceledException"
    assert _conditional_failed(client_error(cancelled, [{"Code": "ConditionalCheckFailed"}, {"Code": "None"}]))
    assert _conditional_failed(client_error(cancelled, [{"Code": "TransactionConflict"}, {}]))
    assert _conditional_failed(client_error(cancelled))
    assert not _conditional_failed(client_error(cancelled, [{"Code": "ValidationError"}, {"Code": "None"}]))
    assert not _conditional_failed(client_error("ProvisionedThroughputExceededException"))


def test_values_round_trip_through_dynamodb_attribute_values() -> None:
    assert _value(None) == {"NULL": True}
    assert _value(True) == {"BOOL": True}
    assert _value(3) == {"N": "3"}
    assert _value(2.5) == {"N": "2.5"}
    assert _value("x") == {"S": "x"}
    assert _value({"a": {"b": 1}}) == {"M": {"a": {"M": {"b": {"N": "1"}}}}}
    with pytest.raises(TypeError, match="cannot store list"):
        _value([1])
    assert _python({"NULL": True}) is None
    assert _python({"BOOL": False}) is False
    assert _python({"N": "3"}) == 3 and isinstance(_python({"N": "3"}), int)
    assert isinstance(_python({"N": "3.0"}), float) and isinstance(_python({"N": "3E0"}), float)
    assert isinstance(_python({"N": "3e0"}), float)
    assert _python({"N": "2.5"}) == 2.5
    assert _python({"S": "x"}) == "x"
    assert _python({"M": {"a": {"N": "1"}}}) == {"a": 1}
    with pytest.raises(TypeError, match="unexpected attribute type L"):
        _python({"L": []})


def test_the_lease_is_now_plus_lease_and_taken_over_exactly_at_expiry(store: SiteStore) -> None:
    assert store.acquire("a", 100.0, lease=60)
    assert raw(store, "lock") == {
        "pk": {"S": "lock"},
        "owner": {"S": "a"},
        "expires_at": {"N": "160.0"},
        "acquired_at": {"N": "100.0"},
    }
    assert (store.read().lock_owner, store.read().lock_expires_at) == ("a", 160.0)
    assert not store.acquire("b", 159.5, lease=60)
    assert store.acquire("a", 120.0, lease=60)  # ours: renewed
    assert store.read().lock_expires_at == 180.0
    assert not store.renew("a", 180.0, lease=60)  # at the expiry it is not ours to renew
    assert store.renew("a", 179.0, lease=30)
    assert store.read().lock_expires_at == 209.0
    assert not store.renew("b", 150.0)
    assert store.acquire("b", 209.0, lease=10)  # exactly at the expiry: free
    assert store.read().lock_owner == "b"
    assert store.renew("b", 210.0) and store.read().lock_expires_at == 270.0  # the default lease, 60 s


def test_acquire_defaults_to_the_lock_lease(store: SiteStore) -> None:
    assert store.acquire("a", 100.0)
    assert store.read().lock_expires_at == 160.0


def test_release_and_break_remove_only_the_named_owners_lock(store: SiteStore) -> None:
    assert store.release("nobody")  # no lock at all: none of ours remains
    assert store.acquire("a", 100.0)
    assert store.release("b") and store.read().lock_owner == "a"  # someone else's stays
    assert store.release("a") and store.read().lock_owner is None
    assert store.acquire("b", 100.0)
    assert not store.break_lock(100.0, expected_owner="a")
    assert store.read().lock_owner == "b"
    assert store.break_lock(100.0, expected_owner="b") and raw(store, "lock") == {}
    assert not store.break_lock(100.0, expected_owner="b")  # nothing left to break


def test_health_writes_are_version_conditioned_and_bump_it(store: SiteStore) -> None:
    fresh = store.read()
    assert store.track(fresh, failures=1, votes={"p": {"healthy": False, "at": 1.0}})
    assert not store.track(fresh, failures=2)  # a second write from the same version-0 read
    after = store.read()
    assert (after.version, after.failures, after.votes) == (1, 1, {"p": {"healthy": False, "at": 1}})
    assert store.track(after, failures=2, first_failure_at=5.5, primary_healthy_since=None)
    assert not store.track(after, failures=3)
    latest = store.read()
    assert (latest.version, latest.failures, latest.first_failure_at, latest.phase) == (2, 2, 5.5, PRIMARY)
    assert store.track(latest) and store.read().version == 3  # nothing but the version
    with pytest.raises(ValueError, match=r"\['epoch', 'phase'\]"):
        store.track(latest, phase=FAILED_OVER, epoch=2)


def test_fenced_writes_need_our_unexpired_lock_and_the_expected_phase(store: SiteStore) -> None:
    assert store.acquire("a", 100.0, lease=60)
    begin = {"phase": FAILING_OVER, "epoch": 1, "transition": "t1"}
    assert not store.advance("b", PRIMARY, begin, now=110.0, done={"begin": "x"}, reset_done=True)  # not the owner
    assert not store.advance("a", PRIMARY, begin, now=160.0, done={"begin": "x"}, reset_done=True)  # lease over
    assert not store.advance("a", FAILING_OVER, begin, now=110.0, done={"begin": "x"}, reset_done=True)
    assert raw(store, "state") == {}
    assert store.advance("a", PRIMARY, begin, now=159.0, done={"begin": "x"}, reset_done=True)  # no item yet
    state = store.read()
    assert (state.phase, state.epoch, state.transition, state.done, state.pending, state.notes) == (
        FAILING_OVER,
        1,
        "t1",
        {"begin": "x"},
        {},
        {},
    )
    assert not store.advance("a", PRIMARY, {"switch": SWITCH_FAILED_OVER}, now=120.0)  # the phase moved on
    assert store.advance(
        "a", FAILING_OVER, {"switch": SWITCH_FAILED_OVER}, now=120.0, done={"switch": "y"}, notes={"switch": "n"}
    )
    assert store.advance("a", FAILING_OVER, now=121.0, pending={"database": "p"}, done={"settings": "z"})
    state = store.read()
    assert state.switch == SWITCH_FAILED_OVER and state.done == {"begin": "x", "switch": "y", "settings": "z"}
    assert (state.notes, state.pending) == ({"switch": "n"}, {"database": "p"})
    assert store.advance("a", FAILING_OVER, now=999.0)  # nothing to write: nothing asked of DynamoDB
    assert store.advance("a", FAILING_OVER, {"phase": FAILING_BACK}, now=122.0, reset_done=True)
    assert (store.read().done, store.read().notes, store.read().pending) == ({}, {}, {})
    with pytest.raises(ValueError, match=r"\['version', 'votes'\]"):
        store.advance("a", FAILING_BACK, {"votes": {}, "version": 3}, now=122.0)


def test_a_primary_phase_written_explicitly_is_expected_too(store: SiteStore) -> None:
    assert store.acquire("a", 100.0)
    assert store.advance("a", PRIMARY, {"phase": PRIMARY}, now=100.0)
    assert store.advance("a", PRIMARY, {"epoch": 3}, now=100.0)
    assert store.read().epoch == 3
    assert not store.advance("a", FAILED_OVER, {"epoch": 4}, now=100.0)


def test_other_errors_are_raised_not_read_as_refusals(dynamodb: Any) -> None:
    missing = SiteStore(dynamodb, "no-such-table")
    for attempt in (
        lambda: missing.acquire("a", 1.0),
        lambda: missing.renew("a", 1.0),
        lambda: missing.release("a"),
        lambda: missing.break_lock(1.0, expected_owner="a"),
        lambda: missing.track(State(), failures=1),
        lambda: missing.advance("a", PRIMARY, {"epoch": 1}, now=1.0),
    ):
        with pytest.raises(ClientError):
            attempt()


# --- the orchestrator: votes, gates, rounds ---------------------------------------------------------------------


class Recorder:
    """CloudWatch and SNS in one: metrics put, lag datapoints to read, messages published."""

    def __init__(self, lag_points: list[dict[str, Any]] | None = None) -> None:
        self.metrics: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []
        self.lag_points = lag_points or []

    def put_metric_data(self, **kwargs: Any) -> None:
        self.metrics.append(kwargs)

    def get_metric_statistics(self, **kwargs: Any) -> dict[str, Any]:
        return {"Datapoints": self.lag_points}

    def publish(self, **kwargs: Any) -> None:
        self.messages.append(kwargs)

    def switch_values(self) -> list[float]:
        return [
            m["MetricData"][0]["Value"] for m in self.metrics if m["MetricData"][0]["MetricName"] == "FailoverSwitch"
        ]


class Zone:
    """The zone's name servers as the orchestrator reads them: ``probe.<record>`` and ``<record>``."""

    def __init__(self) -> None:
        self.answers: dict[str, str | None] = {f"probe.{RECORD}": PRIMARY_HOST, RECORD: PRIMARY_HOST}

    def __call__(self, name: str, record_type: str) -> list[Answer]:
        value = self.answers.get(name)
        return [Answer(record_type, value, 60)] if value else []


class Health:
    def __init__(self) -> None:
        self.healthy = {"http://primary/health": True, "http://secondary/health": True}

    def __call__(self, url: str) -> ProbeResult:
        return ProbeResult(self.healthy[url], "200" if self.healthy[url] else "503", 0.01)


class Runtime:
    def __init__(self, dynamodb: Any, **site: Any) -> None:
        self.site = make_site(tables=[], buckets=[], **site)
        self.recorder, self.zone, self.health, self.ssm = Recorder(), Zone(), Health(), Parameters()
        self.clients = Clients(
            cloudwatch=self.recorder, ssm=self.ssm, dynamodb=dynamodb, sns=self.recorder, s3=None, resolver=self.zone
        )
        self.store = SiteStore(dynamodb, self.site.lock_table)

    def round(self, at: datetime, **kwargs: Any) -> orchestrator.Decision:
        return orchestrator.run_once(self.site, self.clients, self.health, at, owner="me", **kwargs)

    def primary_down(self, route53_sees_it: bool | None = True) -> None:
        self.health.healthy["http://primary/health"] = False
        answers = {True: SECONDARY_HOST, False: PRIMARY_HOST, None: None}
        self.zone.answers[f"probe.{RECORD}"] = answers[route53_sees_it]


@pytest.fixture
def runtime(dynamodb: Any) -> Runtime:
    return Runtime(dynamodb)


def test_route53s_vote_is_the_probe_records_answer() -> None:
    zone, site = Zone(), make_site()
    clients = fake_clients(resolver=zone)
    assert orchestrator.route53_vote(clients, site) is True
    zone.answers[f"probe.{RECORD}"] = SECONDARY_HOST
    assert orchestrator.route53_vote(clients, site) is False
    zone.answers[f"probe.{RECORD}"] = "elsewhere.example"
    assert orchestrator.route53_vote(clients, site) is None
    zone.answers[f"probe.{RECORD}"] = None
    assert orchestrator.route53_vote(clients, site) is None
    assert orchestrator.route53_vote(fake_clients(), site) is None
    asked: list[tuple[str, str]] = []
    orchestrator.route53_vote(fake_clients(resolver=lambda name, kind: asked.append((name, kind)) or []), site)
    assert asked == [(f"probe.{RECORD}", "CNAME")]  # the site's record type


def test_the_probe_counts_failed_rounds_and_route53_must_agree_at_the_threshold(runtime: Runtime) -> None:
    """Route 53's checkers apply their own failure threshold, so their verdict is read as it stands when the
    probe's count is reached, not counted again round by round (that added one detection time to the other's)."""
    assert runtime.round(T0) == orchestrator.Decision(orchestrator.HEALTHY, "api", 0, phase=PRIMARY)
    runtime.primary_down(route53_sees_it=False)  # Route 53 still says healthy: its checkers have not decided yet
    first = runtime.round(T0)
    assert first == orchestrator.Decision(
        orchestrator.SUSPECT, "api", 1, ["primary probe: 503", "route53 checkers: healthy"], phase=PRIMARY
    )
    runtime.primary_down(route53_sees_it=None)  # no answer from the name servers: the probe's failure counts
    assert runtime.round(T0 + timedelta(seconds=10)).failures == 2
    runtime.primary_down(route53_sees_it=False)
    held = runtime.round(T0 + timedelta(seconds=20))  # the threshold, but one vantage point only: no failover
    assert (held.outcome, held.failures) == (orchestrator.SUSPECT, 3)
    assert held.reasons[-1] == "Route 53's checkers do not see the primary fail (yet): no failover on one vantage point"
    state = runtime.store.read()
    assert state.first_failure_at == T0.timestamp() and state.failures == 3
    assert state.votes["recovery-probe"]["healthy"] is False and state.votes["route53-checkers"]["healthy"] is True
    runtime.primary_down()
    started = runtime.round(T0 + timedelta(seconds=30))  # Route 53's threshold reached too: the failover starts
    assert started.outcome == orchestrator.STARTED and started.failures == 4
    assert started.reasons == [
        "the recovery Region's probe saw the primary fail 4 rounds in a row (503) and Route 53's checkers see it "
        "unhealthy"
    ]


def test_an_unready_standby_is_alerted_once_on_the_round_that_reaches_the_threshold(runtime: Runtime) -> None:
    runtime.primary_down()
    runtime.health.healthy["http://secondary/health"] = False
    for second in (0, 10):
        assert runtime.round(T0 + timedelta(seconds=second)).outcome == orchestrator.SUSPECT
    assert runtime.recorder.messages == []
    reached = runtime.round(T0 + timedelta(seconds=20))
    assert (reached.outcome, runtime.store.read().failures) == (orchestrator.STANDBY_NOT_READY, 3)
    assert [m["Subject"] for m in runtime.recorder.messages] == ["DR api: standby not ready, no failover"]
    after = runtime.round(T0 + timedelta(seconds=30))
    assert (after.outcome, runtime.store.read().failures) == (orchestrator.STANDBY_NOT_READY, 4)
    assert len(runtime.recorder.messages) == 1  # not again on every round after it


def test_an_unready_standby_is_alerted_when_route53_agrees_after_the_threshold(runtime: Runtime) -> None:
    runtime.primary_down(route53_sees_it=None)  # the probe counts; Route 53's verdict unknown
    runtime.health.healthy["http://secondary/health"] = False
    for second in (0, 10, 20):
        assert runtime.round(T0 + timedelta(seconds=second)).outcome == orchestrator.SUSPECT
    assert runtime.store.read().failures == 3 and runtime.recorder.messages == []
    runtime.primary_down()  # Route 53 agrees one round after the threshold: the first round both agree
    reached = runtime.round(T0 + timedelta(seconds=30))
    assert (reached.outcome, runtime.store.read().failures) == (orchestrator.STANDBY_NOT_READY, 4)
    assert [m["Subject"] for m in runtime.recorder.messages] == ["DR api: standby not ready, no failover"]
    runtime.round(T0 + timedelta(seconds=40))
    assert len(runtime.recorder.messages) == 1


def test_without_a_resolver_the_probe_alone_decides(dynamodb: Any) -> None:
    """A local drill without DNS (no resolver): no Route 53 vote can come, so the probe's count decides."""
    runtime = Runtime(dynamodb)
    runtime.clients = replace(runtime.clients, resolver=None)
    runtime.primary_down(route53_sees_it=None)
    for second in (0, 10):
        assert runtime.round(T0 + timedelta(seconds=second)).outcome == orchestrator.SUSPECT
    started = runtime.round(T0 + timedelta(seconds=20))
    assert started.outcome == orchestrator.STARTED
    assert runtime.store.read().votes == {
        "recovery-probe": {"healthy": False, "at": (T0 + timedelta(seconds=20)).timestamp(), "detail": "503"}
    }


def test_only_a_healthy_probe_resets_the_count(runtime: Runtime) -> None:
    """Route 53's "healthy" neither resets nor stops the count: it is what its checkers answer until their own
    threshold (a partition looks the same and is held at the threshold, see above)."""
    runtime.primary_down()
    runtime.round(T0)
    runtime.zone.answers[f"probe.{RECORD}"] = PRIMARY_HOST  # Route 53's checkers see it healthy
    counted = runtime.round(T0 + timedelta(seconds=10))
    assert (counted.outcome, counted.failures) == (orchestrator.SUSPECT, 2)
    assert runtime.store.read().first_failure_at == T0.timestamp()
    runtime.primary_down()
    runtime.health.healthy["http://primary/health"] = True
    assert runtime.round(T0 + timedelta(seconds=20)).outcome == orchestrator.HEALTHY
    assert runtime.store.read().failures == 0 and runtime.store.read().first_failure_at is None


def test_without_a_resolver_the_recovery_probe_decides_alone(runtime: Runtime) -> None:
    runtime.clients.resolver = None
    runtime.health.healthy["http://primary/health"] = False
    assert runtime.round(T0).failures == 1
    assert runtime.round(T0).failures == 2
    assert "route53-checkers" not in runtime.store.read().votes


def test_a_stale_health_write_is_contended(runtime: Runtime) -> None:
    assert runtime.store.track(runtime.store.read(), failures=2, first_failure_at=1.0)
    stale = runtime.store.read()
    assert runtime.store.track(stale, failures=0)
    decision = orchestrator._watch_primary(
        runtime.site, runtime.clients, runtime.store, stale, runtime.health, T0, "me"
    )
    reasons = ["primary probe: 200", "route53 checkers: healthy"]
    assert decision == orchestrator.Decision(orchestrator.CONTENDED, "api", 2, reasons, phase=PRIMARY)


def test_begin_is_a_fenced_write_of_the_next_epoch(runtime: Runtime) -> None:
    runtime.primary_down()
    runtime.store.track(runtime.store.read(), failures=2, first_failure_at=5.0)
    started = runtime.round(T0)
    state = runtime.store.read()
    assert (started.outcome, started.site, started.failures) == (orchestrator.STARTED, "api", 3)
    assert (state.phase, state.epoch, state.manual, state.failed_over_at) == (FAILING_OVER, 1, False, T0.timestamp())
    assert state.transition == f"failover-{int(T0.timestamp() * 1000)}-me"
    assert state.done == {"begin": "2026-12-07T12:00:00.000+00:00"} and state.lock_owner == "me"
    assert state.last_lag_seconds is None
    assert started.done == ["begin"] and started.pending == [
        "database",
        "settings",
        "switch",
        "dns",
        "report",
        "finish",
    ]
    assert started.actions == {
        "begin": {
            "phase": FAILING_OVER,
            "transition": state.transition,
            "epoch": 1,
            "manual": False,
            "failed_over_at": T0.timestamp(),
            "last_lag_seconds": None,
        }
    }


def test_another_runs_lock_stops_begin_and_a_transition_round(runtime: Runtime) -> None:
    assert runtime.store.acquire("other", T0.timestamp())
    locked = orchestrator._begin(runtime.site, runtime.clients, T0, "me", PRIMARY, FAILING_OVER, "r")
    assert locked == orchestrator.Decision(
        orchestrator.LOCKED, "api", reasons=["another run holds the failover lock"], phase=PRIMARY
    )
    assert runtime.store.advance("other", PRIMARY, {"phase": FAILING_OVER}, now=T0.timestamp(), reset_done=True)
    held = runtime.round(T0 + timedelta(seconds=1))
    assert (held.outcome, held.site, held.phase) == (orchestrator.LOCKED, "api", FAILING_OVER)
    assert held.reasons == [f"other holds the lock until {T0.timestamp() + 60}; it continues the transition"]


def test_begin_on_a_moved_phase_continues_or_refuses(runtime: Runtime) -> None:
    site, clients = runtime.site, runtime.clients
    not_failed_over = orchestrator._begin(site, clients, T0, "me", FAILED_OVER, FAILING_BACK, "r")
    assert (not_failed_over.outcome, not_failed_over.phase) == (orchestrator.NOT_FAILED_OVER, PRIMARY)
    begin = {"begin": T0.isoformat(), "database": T0.isoformat()}
    assert runtime.store.advance(
        "me", PRIMARY, {"phase": FAILING_OVER}, now=T0.timestamp(), done=begin, reset_done=True
    )
    in_progress = orchestrator._begin(site, clients, T0, "me", FAILED_OVER, FAILING_BACK, "r")
    assert (in_progress.outcome, in_progress.site, in_progress.reasons) == (
        orchestrator.TRANSITION_IN_PROGRESS,
        "api",
        ["site is in phase 'failing-over'"],
    )
    continued = orchestrator._begin(site, clients, T0, "me", PRIMARY, FAILING_OVER, "r")
    assert continued.outcome == orchestrator.ADVANCED and continued.done == ["begin", "database", "settings"]
    assert runtime.ssm.values["/dr/distronation/active-region"] == "us-west-2"  # with the run's own clients


def failed_over(runtime: Runtime, at: datetime = T0, **extra: Any) -> None:
    t = at.timestamp()
    assert runtime.store.acquire("setup", t)
    assert runtime.store.advance(
        "setup",
        PRIMARY,
        {"phase": FAILED_OVER, "switch": SWITCH_FAILED_OVER, "epoch": 1, "failed_over_at": t, **extra},
        now=t,
        reset_done=True,
        done={a: "2026-12-07T12:00:00+00:00" for a in orchestrator.FAILOVER_ACTIONS},
    )
    assert runtime.store.release("setup")


def test_failback_starts_only_after_the_primary_was_healthy_long_enough(runtime: Runtime) -> None:
    failed_over(runtime)
    first = runtime.round(T0)
    assert (first.outcome, first.site, first.pending) == (orchestrator.ALREADY_FAILED_OVER, "api", [])
    assert runtime.store.read().primary_healthy_since == T0.timestamp()
    assert runtime.store.read().votes == {
        "recovery-probe": {"healthy": True, "at": T0.timestamp(), "detail": "200"},
        "route53-checkers": {"healthy": True, "at": T0.timestamp()},
    }
    almost = runtime.round(T0 + timedelta(minutes=30) - timedelta(seconds=1))
    assert almost.outcome == orchestrator.ALREADY_FAILED_OVER
    assert runtime.round(T0 + timedelta(minutes=30), auto_failback=False).outcome == orchestrator.ALREADY_FAILED_OVER
    started = runtime.round(T0 + timedelta(minutes=30))
    assert (started.outcome, started.reasons) == (orchestrator.STARTED, ["primary healthy from both vantage points"])
    assert started.pending == list(orchestrator.FAILBACK_ACTIONS[1:])
    state = runtime.store.read()
    assert (state.phase, state.epoch, state.failed_over_at) == (FAILING_BACK, 2, T0.timestamp())
    assert state.transition.startswith("failback-") and state.manual is False


def test_an_unknown_or_unhealthy_vote_restarts_the_failback_hold_down(runtime: Runtime) -> None:
    failed_over(runtime)
    runtime.round(T0)
    runtime.zone.answers[f"probe.{RECORD}"] = None  # unknown with a resolver: not healthy
    runtime.round(T0 + timedelta(minutes=1))
    assert runtime.store.read().primary_healthy_since is None
    runtime.zone.answers[f"probe.{RECORD}"] = PRIMARY_HOST
    runtime.round(T0 + timedelta(minutes=2))
    runtime.health.healthy["http://primary/health"] = False
    runtime.round(T0 + timedelta(minutes=3))
    assert runtime.store.read().primary_healthy_since is None
    runtime.clients.resolver = None  # alone, the recovery probe decides
    runtime.health.healthy["http://primary/health"] = True
    runtime.round(T0 + timedelta(minutes=4))
    assert runtime.store.read().primary_healthy_since == (T0 + timedelta(minutes=4)).timestamp()


def test_a_failback_that_cannot_begin_leaves_the_failed_over_answer(runtime: Runtime) -> None:
    failed_over(runtime, primary_healthy_since=T0.timestamp())
    assert runtime.store.acquire("other", (T0 + timedelta(minutes=31)).timestamp())
    decision = runtime.round(T0 + timedelta(minutes=31))
    assert decision.outcome == orchestrator.ALREADY_FAILED_OVER


def database_runtime(dynamodb: Any, lag_ms: float | None, status: str = "available") -> Runtime:
    runtime = Runtime(dynamodb, database={"engine": "rds", "identifier": "db-usw2"})
    runtime.clients.rds = Rds([], {"DBInstanceStatus": status, "ReadReplicaSourceDBInstanceIdentifier": "db-use1"})
    if lag_ms is not None:
        runtime.recorder.lag_points = [{"Timestamp": T0, "Maximum": lag_ms}]
    return runtime


def test_the_lag_gate_holds_only_a_manual_failover_without_accepted_loss(dynamodb: Any) -> None:
    over = database_runtime(dynamodb, 901.0)  # ReplicaLag is in seconds: 901 s over a 15-minute RPO
    kwargs: dict[str, Any] = {"owner": "me", "reason": "drill"}
    refused = orchestrator.start_failover(over.site, over.clients, over.health, T0, manual=True, **kwargs)
    assert refused == orchestrator.Decision(
        orchestrator.DATA_LOSS_NOT_ACCEPTED,
        "api",
        reasons=[
            "database db-usw2: replication lag 901 s exceeds the RPO (15 min)",
            "pass --accept-data-loss to fail over anyway (the lag is the data lost)",
        ],
        actions={"observedLagSeconds": 901.0},
        phase=PRIMARY,
    )
    planned = orchestrator.start_failover(over.site, over.clients, over.health, T0, manual=True, dry_run=True, **kwargs)
    assert planned.outcome == orchestrator.DATA_LOSS_NOT_ACCEPTED  # the dry run shows the refusal too
    accepted = orchestrator.start_failover(
        over.site, over.clients, over.health, T0, manual=True, accept_data_loss=True, dry_run=True, **kwargs
    )
    assert accepted.outcome == orchestrator.DRY_RUN and accepted.reasons[1].startswith("database db-usw2: ")
    assert accepted.actions == {
        "switch": "cloudwatch",
        "activeRegion": "us-west-2",
        "activeBuckets": {},
        "database": {"engine": "rds", "identifier": "db-usw2"},
        "observedLagSeconds": 901.0,
        "actions": list(orchestrator.FAILOVER_ACTIONS),
    }
    unplanned = orchestrator.start_failover(over.site, over.clients, over.health, T0, manual=False, **kwargs)
    assert unplanned.outcome == orchestrator.STARTED
    assert over.store.read().last_lag_seconds == 901.0 and over.store.read().manual is False


def test_a_manual_failover_under_the_rpo_starts_and_is_recorded_as_manual(dynamodb: Any) -> None:
    under = database_runtime(dynamodb, 900.0)
    started = orchestrator.start_failover(
        under.site, under.clients, under.health, T0, owner="me", reason="drill", manual=True
    )
    assert started.outcome == orchestrator.STARTED and under.store.read().manual is True


def test_a_standby_that_is_not_ready_stops_the_failover_with_an_alert(dynamodb: Any) -> None:
    runtime = database_runtime(dynamodb, 1.0, status="storage-full")
    runtime.health.healthy["http://secondary/health"] = False
    kwargs: dict[str, Any] = {"owner": "me", "reason": "drill", "manual": False}
    dry = orchestrator.start_failover(runtime.site, runtime.clients, runtime.health, T0, dry_run=True, **kwargs)
    assert dry.outcome == orchestrator.STANDBY_NOT_READY and runtime.recorder.messages == []
    refused = orchestrator.start_failover(runtime.site, runtime.clients, runtime.health, T0, **kwargs)
    problems = [
        "secondary endpoint http://secondary/health is unhealthy (503)",
        "database db-usw2 is storage-full, not available",
    ]
    assert refused == orchestrator.Decision(orchestrator.STANDBY_NOT_READY, "api", reasons=problems, phase=PRIMARY)
    (message,) = runtime.recorder.messages
    assert message["Subject"] == "DR api: standby not ready, no failover"
    assert message["Message"] == "drill. The standby is not ready, so nothing was changed:\n- " + "\n- ".join(problems)
    assert runtime.store.read().phase == PRIMARY


def begun(runtime: Runtime, at: datetime = T0) -> None:
    decision = orchestrator._begin(runtime.site, runtime.clients, at, "me", PRIMARY, FAILING_OVER, "r")
    assert decision.outcome == orchestrator.STARTED


def test_a_failover_runs_its_actions_in_order_one_per_round(runtime: Runtime) -> None:
    begun(runtime)
    outcomes = []
    for second in range(1, 7):
        outcomes.append(runtime.round(T0 + timedelta(seconds=second)))
        if second == 3:  # the switch moved: Route 53 answers with the secondary now
            runtime.zone.answers[RECORD] = SECONDARY_HOST
    assert [d.outcome for d in outcomes] == ["advanced"] * 5 + ["failed-over"]
    assert [d.done[-1] for d in outcomes] == ["database", "settings", "switch", "dns", "report", "finish"]
    state = runtime.store.read()
    assert (state.phase, state.switch, state.failures, state.lock_owner) == (FAILED_OVER, SWITCH_FAILED_OVER, 0, None)
    assert runtime.ssm.values["/dr/distronation/active-region"] == "us-west-2"
    assert runtime.recorder.switch_values() == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]  # published after the write
    switched = [m["MetricData"][0]["Timestamp"] for m in runtime.recorder.metrics][3]  # by the switch round
    assert switched == T0 + timedelta(seconds=3)
    assert outcomes[3].dns_confirmed is True and outcomes[-1].dns_confirmed is True
    assert outcomes[-1].timings == {"SwitchSeconds": 3.0, "DnsConfirmedSeconds": 1.0, "TransitionSeconds": 5.0}
    assert outcomes[-1].reasons == [f"{state.transition} finished"]
    assert runtime.recorder.messages[-1]["Subject"] == "DR api: failed over to us-west-2"
    assert runtime.round(T0 + timedelta(seconds=8)).outcome == orchestrator.ALREADY_FAILED_OVER


def test_a_failed_action_is_retried_by_the_next_round(runtime: Runtime) -> None:
    begun(runtime)
    runtime.round(T0)  # database: none
    runtime.ssm.failing = True
    failed = runtime.round(T0)
    assert (failed.outcome, failed.site) == (orchestrator.ACTION_FAILED, "api")
    assert failed.reasons[0].startswith("settings: ")
    assert failed.done == ["begin", "database"]
    runtime.ssm.failing = False
    assert runtime.round(T0).done[-1] == "settings"


def test_a_round_on_a_settled_site_reports_where_it_stands(runtime: Runtime) -> None:
    decision = orchestrator.transition_round(runtime.site, runtime.clients, runtime.store, "me", T0)
    assert (decision.outcome, decision.site, decision.pending[0]) == (orchestrator.NOT_FAILED_OVER, "api", "begin")
    assert decision.pending[1] == "reconcile-1"
    assert runtime.store.release("me")
    failed_over(runtime)
    decision = orchestrator.transition_round(runtime.site, runtime.clients, runtime.store, "me", T0)
    assert (decision.outcome, decision.pending) == (orchestrator.ALREADY_FAILED_OVER, [])


def test_a_polled_action_marks_its_start_once_and_waits(dynamodb: Any) -> None:
    runtime = database_runtime(dynamodb, 1.0)
    begun(runtime)
    first = runtime.round(T0)
    assert first.outcome == orchestrator.WAITING and first.reasons == ["database: promoting"]
    assert first.actions == {"database": {"action": "PromoteReadReplica"}}
    assert runtime.store.read().pending == {"database": "2026-12-07T12:00:00.000+00:00"}
    second = runtime.round(T0 + timedelta(seconds=30))
    assert second.reasons == ["database: promotion running for 30 s"]
    assert runtime.store.read().pending == {"database": "2026-12-07T12:00:00.000+00:00"}  # not moved
    assert [c[0] for c in runtime.clients.rds.calls].count("promote_read_replica") == 1  # asked once


def test_the_database_alert_is_sent_once_past_ten_minutes(dynamodb: Any) -> None:
    runtime = database_runtime(dynamodb, 1.0)
    started = State(pending={"database": T0.isoformat()}, phase=FAILING_OVER)

    def poll(after: float) -> Any:
        context = failback.StepContext(
            runtime.site, runtime.clients, started, T0 + timedelta(seconds=after), lambda: True
        )
        return orchestrator._database(context)

    for after in (600.0, 610.0):
        assert poll(after) == Step(False, reason=f"promotion running for {after:.0f} s")
    assert runtime.recorder.messages == []
    assert poll(600.5) == Step(False, reason="promotion running for 600 s") and len(runtime.recorder.messages) == 1
    assert runtime.recorder.messages[0] == {
        "TopicArn": TOPIC,
        "Subject": "DR api: database not writable after 600 s",
        "Message": "still polling",
    }
    poll(609.9)
    assert len(runtime.recorder.messages) == 2
    runtime.clients.rds.instance = {"DBInstanceStatus": "available"}
    assert poll(700.0) == Step(True, note="writable; lag at begin None s (the RPO estimate)")
    started = State(phase=FAILING_OVER)  # not yet asked
    runtime.clients.rds.instance = {"DBInstanceStatus": "available", "ReadReplicaSourceDBInstanceIdentifier": "x"}
    assert poll(0.0) == Step(False, {"action": "PromoteReadReplica"}, start_pending=True, reason="promoting")
    without = failback.StepContext(make_site(), runtime.clients, started, T0, lambda: True)
    assert orchestrator._database(without) == Step(True, note="no database")


def test_dns_is_confirmed_or_declared_unconfirmed_after_ttl_plus_switch(runtime: Runtime) -> None:
    switched = State(phase=FAILING_OVER, done={"switch": T0.isoformat()})

    def check(after: float, resolver: Any = runtime.zone) -> Any:
        runtime.clients.resolver = resolver
        context = failback.StepContext(
            runtime.site, runtime.clients, switched, T0 + timedelta(seconds=after), lambda: True
        )
        return orchestrator._dns(context)

    assert check(0.0, None) == Step(True, note="not verified: no resolver configured")
    waiting = check(180.0)  # TTL 60 + switch 120: not yet past
    assert waiting == Step(False, [PRIMARY_HOST], reason=f"{RECORD} answers ['{PRIMARY_HOST}'] (180 s of 180 s)")
    assert runtime.recorder.messages == []
    late = check(180.5)
    assert late == Step(True, [PRIMARY_HOST], note=f"unconfirmed after 180 s: {PRIMARY_HOST}")
    assert runtime.recorder.messages == [
        {
            "TopicArn": TOPIC,
            "Subject": "DR api: DNS not confirmed",
            "Message": f"{RECORD} still answers ['{PRIMARY_HOST}'] 180 s after the switch (allowed 180 s)",
        }
    ]
    runtime.zone.answers[RECORD] = None
    silent = check(200.0)
    assert silent == Step(True, [], note="unconfirmed after 200 s: no answer")
    assert (
        runtime.recorder.messages[-1]["Message"]
        == f"{RECORD} still answers nothing 200 s after the switch (allowed 180 s)"
    )
    runtime.zone.answers[RECORD] = SECONDARY_HOST
    assert check(5.0) == Step(True, [SECONDARY_HOST], note=f"confirmed: {SECONDARY_HOST}")
    runtime.zone.answers[RECORD] = PRIMARY_HOST
    runtime.site.budget.pop("switchSeconds")  # the default switch budget is 120 s too
    assert check(180.0).reason == f"{RECORD} answers ['{PRIMARY_HOST}'] (180 s of 180 s)"
    never = failback.StepContext(runtime.site, runtime.clients, State(phase=FAILING_OVER), T0, lambda: True)
    runtime.zone.answers[RECORD] = None
    assert orchestrator._dns(never).reason == f"{RECORD} answers nothing (0 s of 180 s)"
    runtime.zone.answers[RECORD] = PRIMARY_HOST
    runtime.site.budget["switchSeconds"] = 30  # the site's own switch budget: TTL 60 + 30
    assert not check(90.0).finished and check(90.5).finished
    runtime.zone.answers[RECORD] = SECONDARY_HOST

    def both(name: str, record_type: str) -> list[Answer]:
        return [Answer(record_type, SECONDARY_HOST, 60), Answer(record_type, "other.example", 60)]

    assert check(5.0, both).note == f"confirmed: {SECONDARY_HOST}, other.example"

    def neither(name: str, record_type: str) -> list[Answer]:
        return [Answer(record_type, PRIMARY_HOST, 60), Answer(record_type, "other.example", 60)]

    assert check(91.0, neither).note == f"unconfirmed after 91 s: {PRIMARY_HOST}, other.example"


def test_timings_are_measured_between_recorded_steps() -> None:
    site = make_site()
    at = {name: (T0 + timedelta(seconds=s)).isoformat() for name, s in (("begin", 10), ("switch", 14), ("dns", 20))}
    state = State(done={**at, "report": (T0 + timedelta(seconds=25)).isoformat()}, first_failure_at=T0.timestamp())
    confirmed = orchestrator.timings(site, State(**{**state.as_dict(), "notes": {"dns": "confirmed: x"}}))
    assert confirmed == {
        "DetectionSeconds": 20.0,  # 10 s to begin + the probe interval before the first failure was seen
        "SwitchSeconds": 4.0,
        "DnsConfirmedSeconds": 6.0,
        "TransitionSeconds": 15.0,
    }
    unconfirmed = orchestrator.timings(site, State(**{**state.as_dict(), "notes": {"dns": "unconfirmed after"}}))
    assert "DnsConfirmedSeconds" not in unconfirmed and "DetectionSeconds" in unconfirmed
    assert orchestrator.timings(site, State(done={"switch": at["switch"], "dns": at["dns"]})) == {}
    assert orchestrator.timings(site, State(done={"begin": at["begin"]})) == {}


def test_dns_confirmed_reads_the_dns_note() -> None:
    assert orchestrator._dns_confirmed(State()) is None
    assert orchestrator._dns_confirmed(State(notes={"dns": "not verified: no resolver configured"})) is None
    assert orchestrator._dns_confirmed(State(notes={"dns": "confirmed: x"})) is True
    assert orchestrator._dns_confirmed(State(notes={"dns": "unconfirmed after 9 s"})) is False


def test_the_pause_between_rounds() -> None:
    site, quick = make_site(), make_site(probeIntervalSeconds=3)
    for outcome in (orchestrator.STARTED, orchestrator.ADVANCED, orchestrator.CONTINUING):
        assert orchestrator.pause_after(orchestrator.Decision(outcome, "api"), site) == 0.0
    for outcome in (orchestrator.WAITING, orchestrator.ACTION_FAILED, orchestrator.LOCKED, orchestrator.LOST_LOCK):
        assert orchestrator.pause_after(orchestrator.Decision(outcome, "api"), site) == orchestrator.POLL_SECONDS
        assert orchestrator.pause_after(orchestrator.Decision(outcome, "api"), quick) == 3.0
    assert orchestrator.pause_after(orchestrator.Decision(orchestrator.HEALTHY, "api"), site) == 10.0
    assert orchestrator.POLL_SECONDS < 10.0


def test_drctl_failback_waits_for_a_primary_healthy_now_and_long_enough(runtime: Runtime) -> None:
    kwargs: dict[str, Any] = {"owner": "me", "seconds": 0.0}
    site, clients, health = runtime.site, runtime.clients, runtime.health
    primary = orchestrator.failback(site, clients, health, T0, **kwargs)
    assert (primary.outcome, primary.site) == (orchestrator.NOT_FAILED_OVER, "api")
    failed_over(runtime, primary_healthy_since=T0.timestamp())
    health.healthy["http://primary/health"] = False
    assert orchestrator.failback(site, clients, health, T0, **kwargs) == orchestrator.Decision(
        orchestrator.WAITING_FOR_HEALTH, "api", reasons=["the primary endpoint fails its probe now"]
    )
    health.healthy["http://primary/health"] = True
    early = orchestrator.failback(site, clients, health, T0 + timedelta(seconds=1799), **kwargs)
    assert (early.outcome, early.site) == (orchestrator.WAITING_FOR_HEALTH, "api")
    assert early.reasons == ["primary healthy for 1799 s of the 1800 s required (healthyMinutesBeforeFailback)"]
    dry = orchestrator.failback(site, clients, health, T0 + timedelta(seconds=1800), dry_run=True, **kwargs)
    assert (dry.outcome, dry.reasons) == (orchestrator.DRY_RUN, ["drctl failback"])
    kept = orchestrator.failback(site, clients, health, T0 + timedelta(seconds=1800), release=False, **kwargs)
    assert kept.phase == FAILING_BACK and runtime.store.read().phase == FAILING_BACK
    assert runtime.store.read().lock_owner == "me"  # release=False: drctl's signal path releases it
    assert runtime.store.release("me")
    in_progress = orchestrator.failback(site, clients, health, T0, **kwargs)  # continues the failback
    assert in_progress.phase == FAILING_BACK and in_progress.done[0] == "begin"
    assert runtime.store.read().lock_owner is None  # released on the way out


def test_drctl_failback_without_a_healthy_since_waits(runtime: Runtime) -> None:
    failed_over(runtime)
    decision = orchestrator.failback(runtime.site, runtime.clients, runtime.health, T0, owner="me", seconds=0.0)
    assert decision.reasons == ["primary healthy for 0 s of the 1800 s required (healthyMinutesBeforeFailback)"]
    begun_elsewhere = Runtime(runtime.store.dynamodb)
    assert begun_elsewhere.store.acquire("x", T0.timestamp())
    assert begun_elsewhere.store.advance("x", FAILED_OVER, {"phase": PRIMARY}, now=T0.timestamp())
    assert begun_elsewhere.store.advance("x", PRIMARY, {"phase": FAILING_OVER}, now=T0.timestamp())
    assert begun_elsewhere.store.release("x")
    during = orchestrator.failback(runtime.site, runtime.clients, runtime.health, T0, owner="me", seconds=0.0)
    assert (during.outcome, during.reasons) == (
        orchestrator.TRANSITION_IN_PROGRESS,
        ["site is in phase 'failing-over'"],
    )


def test_drctl_failback_stops_after_the_round_in_which_stop_is_set(runtime: Runtime) -> None:
    failed_over(runtime)
    begin = orchestrator._begin(runtime.site, runtime.clients, T0, "me", FAILED_OVER, FAILING_BACK, "r")
    assert begin.outcome == orchestrator.STARTED and runtime.store.release("me")
    runtime.clients.s3_primary = object()  # no bucket is linked: never called
    # A clock that never moves: rounds continue while actions finish, and end at the first that waits.
    kwargs: dict[str, Any] = {"owner": "me", "seconds": 0.0, "clock": lambda: 0.0}
    stop = threading.Event()
    stop.set()
    stopped = orchestrator.failback(runtime.site, runtime.clients, runtime.health, T0, stop=stop, **kwargs)
    assert (stopped.outcome, stopped.done) == (orchestrator.ADVANCED, ["begin", "reconcile-1"])
    driven = orchestrator.failback(runtime.site, runtime.clients, runtime.health, T0, **kwargs)
    assert (driven.outcome, driven.done[-1], driven.pending[0]) == (orchestrator.WAITING, "switch", "hold")


class ReadableBuckets:
    def head_bucket(self, **kwargs: Any) -> dict[str, Any]:
        return {}


def test_a_dry_run_plans_each_linked_bucket_onto_its_replica() -> None:
    site = make_site(tables=[])
    clients = fake_clients(s3=ReadableBuckets())
    plan = orchestrator.start_failover(
        site, clients, Health(), T0, owner="me", reason="drill", manual=True, dry_run=True
    )
    assert plan == orchestrator.Decision(
        orchestrator.DRY_RUN,
        "api",
        reasons=["drill"],  # no lag known, no database: nothing refused
        actions={
            "switch": "cloudwatch",
            "activeRegion": "us-west-2",
            "activeBuckets": {"audio": "distronation-prod-audio-us-west-2"},
            "database": None,
            "observedLagSeconds": None,
            "actions": list(orchestrator.FAILOVER_ACTIONS),
        },
    )


def test_a_round_holds_its_lease_and_renews_it_only_until_its_deadline(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(orchestrator, "LEASE_SECONDS", 7.0)  # the scaled lease, not the store's default
    begun(runtime)
    seen: list[tuple[float | None, bool, bool, float | None]] = []

    def step(action: str, context: failback.StepContext) -> Step:
        held = runtime.store.read().lock_expires_at
        seen.append((held, context.renew(), context.out_of_time(), runtime.store.read().lock_expires_at))
        return Step(False, reason="working")

    monkeypatch.setattr(orchestrator, "_step", step)

    def round_at(deadline: float | None, clock: float) -> orchestrator.Decision:
        now = datetime.now(UTC)
        return orchestrator.transition_round(
            runtime.site, runtime.clients, runtime.store, "me", now, deadline=deadline, clock=lambda: clock
        )

    before = datetime.now(UTC).timestamp()
    assert round_at(None, 0.0).reasons == ["database: working"]
    after = datetime.now(UTC).timestamp()
    acquired, renewed, out_of_time, until = seen[-1]
    assert acquired is not None and before + 7.0 <= acquired <= after + 7.0
    assert renewed and not out_of_time and until is not None and acquired <= until <= after + 7.0
    round_at(10.0, 10.0)  # at the deadline: still in time
    assert seen[-1][1:3] == (True, False)
    round_at(10.0, 10.5)  # past it: no renewal, out of time
    assert seen[-1][1:3] == (False, True) and seen[-1][3] == seen[-1][0]


def waiting_round(runtime: Runtime, monkeypatch: pytest.MonkeyPatch, step: Step, steal: bool) -> Any:
    """One transition round whose action returns ``step``; ``steal``: another run takes the lock meanwhile."""

    def action(name: str, context: failback.StepContext) -> Step:
        if steal:
            assert runtime.store.release("me") and runtime.store.acquire("other", T0.timestamp())
        return step

    monkeypatch.setattr(orchestrator, "_step", action)
    return orchestrator.transition_round(runtime.site, runtime.clients, runtime.store, "me", T0)


def lost(action: str) -> orchestrator.Decision:
    rest = list(orchestrator.FAILOVER_ACTIONS[1:])
    return orchestrator.Decision(
        orchestrator.LOST_LOCK,
        "api",
        reasons=[f"{action}: lock lost"],
        phase=FAILING_OVER,
        done=["begin"],
        pending=rest,
    )


def test_a_waiting_action_keeps_its_progress_fenced(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    begun(runtime)
    progress = Step(False, changes={"watermark": "2026-12-07T12:00:00+00:00"}, reason="resumes")
    waiting = waiting_round(runtime, monkeypatch, progress, steal=False)
    assert (waiting.outcome, waiting.reasons) == (orchestrator.WAITING, ["database: resumes"])
    state = runtime.store.read()
    assert (state.watermark, state.pending) == ("2026-12-07T12:00:00+00:00", {})  # no start mark asked for
    assert waiting_round(runtime, monkeypatch, progress, steal=True) == lost("database")
    assert runtime.store.read().lock_owner == "other"


def test_a_polled_actions_start_mark_is_fenced(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    begun(runtime)
    plain = Step(False, reason="not yet")
    assert waiting_round(runtime, monkeypatch, plain, steal=True).outcome == orchestrator.WAITING  # nothing to write
    assert runtime.store.release("other") and runtime.store.acquire("me", T0.timestamp())
    marked = Step(False, start_pending=True, reason="asked")
    assert waiting_round(runtime, monkeypatch, marked, steal=True) == lost("database")
    assert runtime.store.read().pending == {}


def test_a_waiting_action_without_a_reason_says_waiting(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    begun(runtime)
    rest = list(orchestrator.FAILOVER_ACTIONS[1:])
    assert waiting_round(runtime, monkeypatch, Step(False), steal=False) == orchestrator.Decision(
        orchestrator.WAITING,
        "api",
        reasons=["database: waiting"],
        actions={"database": None},
        phase=FAILING_OVER,
        done=["begin"],
        pending=rest,
    )


def finish(runtime: Runtime, order: tuple[str, ...]) -> orchestrator.Decision:
    """The transition under way with every action but ``finish`` done: its last round."""
    phase = runtime.store.read().phase
    done = {a: T0.isoformat() for a in order[:-1]}
    assert runtime.store.advance("me", phase, now=T0.timestamp(), done=done)
    return orchestrator.transition_round(runtime.site, runtime.clients, runtime.store, "me", T0)


def test_finishing_a_failover_keeps_its_detection_time_and_a_failback_clears_it(runtime: Runtime) -> None:
    health = {"failures": 3, "first_failure_at": 5.0, "primary_healthy_since": 7.0}
    assert runtime.store.track(runtime.store.read(), **health)
    begun(runtime)
    finished = finish(runtime, orchestrator.FAILOVER_ACTIONS)
    assert (finished.outcome, finished.site) == (orchestrator.FAILED_OVER_NOW, "api")
    assert finished.timings["DetectionSeconds"] == T0.timestamp() - 5.0 + 10  # from the first failure seen
    state = runtime.store.read()
    assert (state.phase, state.failures, state.first_failure_at, state.primary_healthy_since) == (
        FAILED_OVER,
        0,
        5.0,
        None,
    )
    assert runtime.store.track(state, primary_healthy_since=7.0)
    began = orchestrator._begin(runtime.site, runtime.clients, T0, "me", FAILED_OVER, FAILING_BACK, "r")
    assert began.outcome == orchestrator.STARTED
    assert finish(runtime, orchestrator.FAILBACK_ACTIONS).outcome == orchestrator.FAILED_BACK
    state = runtime.store.read()
    assert (state.phase, state.failures, state.first_failure_at, state.primary_healthy_since) == (
        PRIMARY,
        0,
        None,
        None,
    )


def test_a_finished_action_is_recorded_fenced_with_its_note_only_if_it_has_one(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    begun(runtime)
    refused = waiting_round(runtime, monkeypatch, Step(True, note="n"), steal=True)
    assert refused == orchestrator.Decision(
        orchestrator.LOST_LOCK,
        "api",
        reasons=["database: lock lost, nothing recorded"],
        phase=FAILING_OVER,
        done=["begin"],
        pending=list(orchestrator.FAILOVER_ACTIONS[1:]),
    )
    assert runtime.store.read().notes == {}
    assert runtime.store.release("other") and runtime.store.acquire("me", T0.timestamp())
    assert waiting_round(runtime, monkeypatch, Step(True, {"moved": 1}), steal=False) == orchestrator.Decision(
        orchestrator.ADVANCED,
        "api",
        reasons=["database done"],
        actions={"database": {"moved": 1}},
        phase=FAILING_OVER,
        done=["begin", "database"],
        pending=list(orchestrator.FAILOVER_ACTIONS[2:]),
    )
    assert runtime.store.read().notes == {}  # no note, no entry
    assert waiting_round(runtime, monkeypatch, Step(True, note="n"), steal=False).done[-1] == "settings"
    assert runtime.store.read().notes == {"settings": "n"}


def test_begin_takes_the_lock_for_the_scaled_lease(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(orchestrator, "LEASE_SECONDS", 7.0)
    begun(runtime)
    assert runtime.store.read().lock_expires_at == T0.timestamp() + 7.0


def test_begin_refuses_when_the_lock_moves_before_its_write(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    class Overtaken(SiteStore):
        """Another run takes the lock between begin's read and its fenced write."""

        def advance(self, owner: str, *args: Any, **kwargs: Any) -> bool:
            assert self.release(owner) and self.acquire("other", T0.timestamp())
            return super().advance(owner, *args, **kwargs)

    monkeypatch.setattr(orchestrator, "SiteStore", Overtaken)
    refused = orchestrator._begin(runtime.site, runtime.clients, T0, "me", PRIMARY, FAILING_OVER, "r")
    assert refused == orchestrator.Decision(
        orchestrator.LOST_LOCK, "api", reasons=["the lock or the phase moved before begin was written"]
    )
    assert runtime.store.read().phase == PRIMARY


def test_a_drive_stops_at_a_failed_action_and_gives_its_round_the_whole_budget(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(orchestrator, "POLL_SECONDS", 0.0)  # a failed action would be retried at once
    begun(runtime)
    runtime.round(T0)  # database: none
    runtime.ssm.failing = True
    deadlines: list[float] = []
    each_round = orchestrator.run_once

    def counted(*args: Any, **kwargs: Any) -> orchestrator.Decision:
        deadlines.append(kwargs["deadline"])
        return each_round(*args, **kwargs)

    monkeypatch.setattr(orchestrator, "run_once", counted)
    ticks = iter(range(1000))
    site, clients, health = runtime.site, runtime.clients, runtime.health
    failed = orchestrator._drive(site, clients, health, "me", 50.0, None, lambda: float(next(ticks)), True)
    assert failed.outcome == orchestrator.ACTION_FAILED and runtime.store.read().lock_owner is None
    assert deadlines == [1.0 + 50.0]  # one round, whose deadline is the run's (drctl's long reconcile)


def test_a_drive_on_a_settled_site_watches_it_like_any_round(runtime: Runtime) -> None:
    failed_over(runtime)
    settled = orchestrator._drive(runtime.site, runtime.clients, runtime.health, "me", 0.0, None, lambda: 0.0, True)
    assert settled.outcome == orchestrator.ALREADY_FAILED_OVER
    assert runtime.store.read().primary_healthy_since is not None  # the primary was probed
