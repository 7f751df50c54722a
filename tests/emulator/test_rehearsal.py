"""The rehearsal end to end (emulator/rehearsal.py) and its rules that need no emulator.

The end-to-end test runs the prod stack's region loss in the scaled profile (every time constant divided by 20) on
the real clock: the primary Region is lost, the orchestrator's Lambda runs on its schedule with its timeout, Route
53's emulated checkers and name servers move DNS, and the workload's canaries give the measured RTO and RPO. Slow
(about a minute on two shared cores), so marked ``slow``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from emulator.provision import runtime_descriptor, zone_name_for
from emulator.rehearsal import SCALED, profile_for
from handlers.drills.scenarios.switch_latency import measure, percentile

REPO = Path(__file__).resolve().parents[2]


def test_runtime_descriptor_divides_the_time_values_the_runtime_reads() -> None:
    descriptor = {
        "probeIntervalSeconds": 10,
        "ttlSeconds": 30,
        "healthyMinutesBeforeFailback": 30,
        "budget": {"rtoSeconds": 120, "switchSeconds": 40, "rtoMinutes": 2},
    }
    scaled = runtime_descriptor(descriptor, 10)
    assert (scaled["probeIntervalSeconds"], scaled["ttlSeconds"], scaled["healthyMinutesBeforeFailback"]) == (1, 3, 3)
    assert scaled["budget"] == {"rtoSeconds": 12, "switchSeconds": 4, "rtoMinutes": 2}
    assert runtime_descriptor(descriptor, 1) == descriptor


def test_runtime_descriptor_keeps_fractions_and_the_runtime_reads_them() -> None:
    from handlers.failover.site import Site
    from tests.handlers.failover.conftest import descriptor

    scaled = runtime_descriptor({"probeIntervalSeconds": 10, "ttlSeconds": 30, "healthyMinutesBeforeFailback": 30}, 20)
    assert (scaled["probeIntervalSeconds"], scaled["ttlSeconds"], scaled["healthyMinutesBeforeFailback"]) == (
        0.5,
        1.5,
        1.5,
    )
    with pytest.raises(ValueError, match="must be positive"):
        runtime_descriptor({"probeIntervalSeconds": 10}, 0)
    site = Site.from_descriptor({**descriptor("http://p/", "http://s/", "arn:aws:sns:us-west-2:1:t"), **scaled})
    assert (site.probe_interval_seconds, site.ttl_seconds, site.healthy_minutes_before_failback) == (0.5, 1.5, 1.5)


def test_profiles_label_their_basis_and_scale_back() -> None:
    assert SCALED.basis_label == "measured (emulated AWS, time ×1/20)"  # noqa: RUF001 (the label's sign)
    assert profile_for(1).basis_label == "measured (emulated AWS, real clock)"
    assert (SCALED.wall(60), SCALED.stack(7.2)) == (3.0, 144.0)
    # a canary every 10 s of stack time until the restore (the RTO's resolution), every 40 s during the failback
    assert (SCALED.stack(SCALED.canary_interval_seconds), SCALED.stack(SCALED.failback_canary_interval_seconds)) == (
        10.0,
        40.0,
    )
    assert profile_for(10).failback_canary_interval_seconds == SCALED.failback_canary_interval_seconds


def test_zone_is_the_records_parent_domain() -> None:
    assert zone_name_for("api.distronation.example") == "distronation.example"


def test_switch_latency_measures_each_name_server_until_it_answers_the_expected_host() -> None:
    now = [0.0]
    state = {"failed_over": False}
    delays = {("a", 53): 2.0, ("b", 53): 5.0}
    flipped_at = [0.0]

    def flip(failed_over: bool) -> None:
        state["failed_over"] = failed_over
        flipped_at[0] = now[0]

    def ask(_name: str, _type: str, server: tuple[str, int]) -> list[Any]:
        from handlers.failover.dns import Answer

        changed = now[0] - flipped_at[0] >= delays[server]
        failed_over = state["failed_over"] if changed else not state["failed_over"]
        return [Answer("CNAME", "secondary.example" if failed_over else "primary.example", 30)]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    latency = measure(
        flip,
        list(delays),
        "drill.api.example",
        {False: "primary.example", True: "secondary.example"},
        flips=4,
        query_interval=0.5,
        ask=ask,
        clock=lambda: now[0],
        sleep=sleep,
    )
    summary = latency.summary()
    assert summary["by_server"] == {"a:53": {"p50": 2.0, "p95": 2.0}, "b:53": {"p50": 5.0, "p95": 5.0}}
    assert set(summary["by_direction"]) == {"failed-over", "primary"}
    assert summary["missed"] == 0
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20], 0.95) == 19


@contextlib.contextmanager
def prod_rehearsal(pre_fault_seconds: float, healthy_minutes_before_failback: int | None = None) -> Iterator[Any]:
    """The prod stack's site on the two-Region emulator in the scaled profile (optionally another hold-down)."""
    from emulator.provision import rehearsal_stack
    from emulator.rehearsal import Rehearsal
    from handlers.cli import drill_stack

    settings = drill_stack.stack_settings(REPO, "prod")
    if healthy_minutes_before_failback is not None:
        sites = (
            replace(site, healthy_minutes_before_failback=healthy_minutes_before_failback) for site in settings.sites
        )
        settings = replace(settings, sites=tuple(sites))
    targets = drill_stack.targets_from_settings("prod", settings)
    witnesses = {spec.table_name: spec.witness_region for spec in settings.tables if spec.witness_region}
    profile = replace(SCALED, pre_fault_seconds=pre_fault_seconds)
    with (
        rehearsal_stack(
            targets,
            time_scale=profile.time_scale,
            checker_regions=profile.checker_regions,
            witness_regions=sorted(set(witnesses.values())),
        ) as stack,
        Rehearsal(stack, stack.sites[0], profile, witnesses=witnesses) as rehearsal,
    ):
        yield rehearsal


@pytest.mark.slow
def test_region_loss_is_measured_and_failback_loses_no_acknowledged_write_in_the_scaled_profile() -> None:
    """Region loss measured end to end; then the Region returns with its held replication, the workload keeps
    writing through the failback, and the orchestrator fails back on its own: every acknowledged canary is present
    and current in the primary afterwards, phase, switch, settings and DNS agree, and no invocation outlived its
    timeout. The site's hold-down is shortened to 5 minutes (15 s here) to keep the test short; ``make demo`` runs
    prod's 30."""
    with prod_rehearsal(pre_fault_seconds=100, healthy_minutes_before_failback=5) as rehearsal:
        result = rehearsal.region_loss()
        failback, race = rehearsal.failback()
    checks = result.checks
    assert checks["before"]["agree"] and checks["before"]["phase"] == "primary"
    assert checks["after"]["agree"] and checks["after"]["phase"] == "failed-over"
    assert set(checks["after"]["dns"].values()) == {"us-west-2"}  # every name server answers the secondary
    assert checks["invocations"]["timeouts"] == 0
    # detection needs failureThreshold (3) failed rounds 10 s apart after the fault: never faster than 20 s
    assert result.rto_seconds_measured is not None and result.rto_seconds_measured >= 20
    milestones = checks["milestones_seconds"]
    assert milestones["failover begun"] <= milestones["settings moved"] <= milestones["failed over"]
    assert milestones["settings moved"] <= milestones["switch flipped"]  # settings move before DNS (design §1)
    assert result.rpo_seconds_measured is not None and result.rpo["pre_fault"] > 0
    assert checks["basis_label"] == "measured (emulated AWS, time ×1/20)"  # noqa: RUF001
    # the verdict follows the declared objectives (rtoMinutes 2, rpoMinutes 15) and the checks
    within = result.rto_seconds_measured <= 120 and result.rpo_seconds_measured <= 15 * 60 + 1
    assert result.passed is within

    checks = failback.checks
    assert checks["failed_back"] and checks["settled"] and checks["after"]["agree"], failback.notes
    assert checks["after"]["phase"] == "primary" and checks["acknowledged_since_failover"] > 0
    assert checks["lost_count"] == 0, checks["lost"]
    assert failback.rpo_seconds_measured == 0.0 and failback.passed
    assert checks["invocations"]["timeouts"] == 0
    assert race.checks["fired"] and race.passed  # a probe round ran during the reconcile and changed nothing


def test_switch_latency_publishes_the_flip_again_while_it_waits_and_times_from_the_first() -> None:
    now = [0.0]
    calls: list[tuple[float, bool]] = []

    def flip(failed_over: bool) -> None:
        calls.append((now[0], failed_over))

    def ask(_name: str, _type: str, _server: tuple[str, int]) -> list[Any]:
        from handlers.failover.dns import Answer

        # DNS follows the flip only if the switch was still being published 25 s on (a period with data)
        moved = now[0] >= 25 and len(calls) >= 3
        return [Answer("CNAME", "secondary.example" if moved else "primary.example", 30)]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    latency = measure(
        flip,
        [("a", 53)],
        "drill.api.example",
        {False: "primary.example", True: "secondary.example"},
        flips=1,
        query_interval=1.0,
        ask=ask,
        clock=lambda: now[0],
        sleep=sleep,
        republish_every=10.0,
    )
    assert [at for at, _ in calls] == [0.0, 10.0, 20.0]  # published again every 10 s while waiting
    assert latency.summary()["by_direction"]["failed-over"]["p50"] == 25.0  # from the first flip
