"""The shared RPO rule: fault time minus the write time of the newest pre-fault canary that came back."""

from __future__ import annotations

import pytest

from handlers.drills.objectives import RPO_RESOLUTION_SECONDS, CanaryWrite, measure_rpo, within_objectives

FAULT = 1000.0
# Every canary wait is bounded by a few seconds: a writer that stops writing fails its test quickly, never hangs.
QUICK = 5.0


def canaries(*times: float) -> list[CanaryWrite]:
    return [CanaryWrite(sequence, at, at + 0.01) for sequence, at in enumerate(times)]


def test_rpo_is_zero_when_the_newest_pre_fault_canary_survived() -> None:
    written = canaries(990, 995, 999)
    measured = measure_rpo(FAULT, written, lambda _canary: True)
    assert measured.rpo_seconds == 0 and measured.every_pre_fault_canary_back and not measured.lower_bound


def test_rpo_is_the_age_of_the_newest_recovered_canary_at_the_fault() -> None:
    written = canaries(990, 995, 999)
    measured = measure_rpo(FAULT, written, lambda canary: canary.sequence < 2)
    assert measured.rpo_seconds == pytest.approx(5.0)
    assert measured.lost_newest == (2,) and measured.holes == ()


def test_post_fault_canaries_are_excluded_and_reported() -> None:
    written = canaries(990, 999, 1001, 1002)  # the last two acknowledged after the fault
    measured = measure_rpo(FAULT, written, lambda canary: canary.sequence in (1, 3))
    assert measured.rpo_seconds == 0  # canary 1 is the newest pre-fault one, and it came back
    assert (measured.pre_fault, measured.post_fault, measured.post_fault_present) == (2, 2, 1)
    assert measured.holes == (0,)  # an older canary lost is a hole, not RPO


def test_a_write_acknowledged_after_the_fault_is_not_pre_fault() -> None:
    written = [CanaryWrite(0, 990, 990.1), CanaryWrite(1, 999.9, 1000.2)]
    measured = measure_rpo(FAULT, written, lambda canary: canary.sequence == 0)
    assert measured.rpo_seconds == 0 and measured.post_fault == 1


def test_nothing_back_is_a_lower_bound_from_the_first_canary() -> None:
    measured = measure_rpo(FAULT, canaries(980, 990), lambda _canary: False)
    assert measured.lower_bound and measured.rpo_seconds == pytest.approx(20.0)


def test_no_pre_fault_canary_cannot_be_measured() -> None:
    with pytest.raises(ValueError, match="before the fault"):
        measure_rpo(FAULT, canaries(1001), lambda _canary: True)


def test_objectives_allow_the_timestamp_resolution_and_refuse_a_missing_figure() -> None:
    assert within_objectives(10, RPO_RESOLUTION_SECONDS, 1, 0)
    assert not within_objectives(10, RPO_RESOLUTION_SECONDS + 0.01, 1, 0)
    assert not within_objectives(61, 0, 1, 0)
    assert not within_objectives(None, 0, 1, None)  # declared but not measured is not a pass
    assert within_objectives(None, None, None, None)


# --- the fault on a clean boundary (issue 23 item 14: the stack drill lost its newest canaries under load) -------


def test_no_canary_write_is_in_flight_or_starts_while_paused() -> None:
    import threading
    import time

    from handlers.drills.canaries import CanaryWriter

    in_flight = threading.Event()
    during_pause: list[int] = []
    paused = threading.Event()

    def write(sequence: int, _written_at: float) -> None:
        in_flight.set()
        if paused.is_set():
            during_pause.append(sequence)
        time.sleep(0.02)  # a slow PutObject
        in_flight.clear()

    with CanaryWriter(write, rate_per_second=200) as writer:
        writer.wait_for(3, timeout=QUICK)
        with writer.paused():
            paused.set()
            assert not in_flight.is_set()
            written = len(writer.written)
            time.sleep(0.2)
            assert len(writer.written) == written
            paused.clear()
        writer.wait_for(written + 2, timeout=QUICK)
    assert during_pause == []


def test_past_the_next_second_lands_in_a_later_second_even_when_sleep_returns_early() -> None:
    from handlers.drills.scenarios.buckets import SECOND_MARGIN, past_the_next_second, restore_point_before

    times = iter([100.7, 100.95, 101.005, 101.2])
    slept: list[float] = []
    now = past_the_next_second(clock=lambda: next(times), sleep=slept.append)
    assert now == 101.2 and len(slept) == 3 and slept[0] == pytest.approx(101 + SECOND_MARGIN - 100.7)
    # Anything acknowledged before the call (second 100 at the latest) is before the restore point.
    assert restore_point_before(now).timestamp() > 100.999 - 1e-6


# --- boundaries the mutation run found unguarded (issue 23 item 12) ---------------------------------------------


def test_a_canary_acknowledged_at_the_fault_instant_is_pre_fault() -> None:
    measured = measure_rpo(FAULT, [CanaryWrite(0, 999.0, 999.5), CanaryWrite(1, 999.9, FAULT)], lambda c: True)
    assert (measured.pre_fault, measured.post_fault) == (2, 0) and measured.newest_pre_fault == 1


def test_every_field_of_the_measurement_and_its_document() -> None:
    written = [CanaryWrite(0, 990.0, 990.1), CanaryWrite(1, 995.4321, 995.5), CanaryWrite(2, 999.0, 999.1)]
    measured = measure_rpo(FAULT, written, lambda canary: canary.sequence < 2)
    assert measured.rpo_seconds == 4.568  # rounded to the millisecond
    assert not measured.lower_bound and measured.fault_at == FAULT
    assert (measured.newest_pre_fault, measured.newest_recovered) == (2, 1)
    document = measured.as_dict()
    assert document["every_pre_fault_canary_back"] is False and document["rpo_seconds"] == 4.568
    assert document["lost_newest"] == (2,) and document["holes"] == ()


def test_nothing_back_has_no_holes_and_loses_everything_newest() -> None:
    measured = measure_rpo(FAULT, canaries(980, 985, 990), lambda _canary: False)
    assert measured.holes == () and measured.lost_newest == (0, 1, 2) and measured.newest_recovered is None


def test_the_no_pre_fault_message_is_exact() -> None:
    with pytest.raises(
        ValueError, match=r"^no canary was acknowledged before the fault: the drill cannot measure an RPO$"
    ):
        measure_rpo(FAULT, canaries(1001), lambda _canary: True)


def test_objective_boundaries_are_inclusive_and_in_seconds() -> None:
    assert within_objectives(60, None, 1, None)  # exactly the RTO
    assert within_objectives(None, 61.0, None, 1)  # 60 s + the resolution
    assert not within_objectives(None, 61.5, None, 1)
    assert within_objectives(None, 30.0, None, 1)


# --- the canary writer (issue 23 item 12: canaries.py in the mutation scope) ------------------------------------


def test_a_canary_body_carries_the_drill_its_sequence_and_write_time() -> None:
    from handlers.drills.canaries import canary_payload

    body = canary_payload("d-1", 7, 1000.25)
    assert body == b'{"drill": "d-1", "sequence": 7, "written_at": 1000.25}'  # sorted keys: one body per canary
    assert canary_payload("d-1", 7, 1000.25) == body


def test_a_rate_must_be_positive() -> None:
    from handlers.drills.canaries import CanaryWriter

    for rate in (0, -1):
        with pytest.raises(ValueError, match=r"^rate_per_second must be positive$"):
            CanaryWriter(lambda *_: None, rate_per_second=rate)
    CanaryWriter(lambda *_: None, rate_per_second=0.001)


def test_each_canary_carries_its_write_time_and_acknowledgement_from_the_clock() -> None:
    import itertools

    from handlers.drills.canaries import CanaryWriter

    ticks = itertools.count(1000)
    seen: list[tuple[int, float]] = []
    writer = CanaryWriter(lambda sequence, at: seen.append((sequence, at)), rate_per_second=1000,
                          clock=lambda: float(next(ticks)))  # fmt: skip
    with writer:
        writer.wait_for(3, timeout=QUICK)
    written = writer.written[:3]
    assert [c.sequence for c in written] == [0, 1, 2]
    # Three clock reads a canary: the write time, the acknowledgement, the pause to the next one.
    assert [(c.written_at, c.acknowledged_at) for c in written] == [
        (1000.0, 1001.0),
        (1003.0, 1004.0),
        (1006.0, 1007.0),
    ]
    assert seen[:3] == [(0, 1000.0), (1, 1003.0), (2, 1006.0)]


def test_a_failed_write_is_recorded_and_not_a_canary() -> None:
    from handlers.drills.canaries import CanaryWriter

    def write(sequence: int, _at: float) -> None:
        if sequence == 1:
            raise RuntimeError("boom")

    with CanaryWriter(write, rate_per_second=500) as writer:
        writer.wait_for(3, timeout=QUICK)
    sequences = [c.sequence for c in writer.written]
    assert 1 not in sequences and sequences[:2] == [0, 2] and writer.errors[0] == "canary 1: boom"


def test_waiting_for_more_canaries_than_come_times_out_naming_the_count() -> None:
    from handlers.drills.canaries import CanaryWriter

    def refuse(_sequence: int, _at: float) -> None:
        raise RuntimeError("down")

    with (
        CanaryWriter(refuse, rate_per_second=100) as writer,
        pytest.raises(TimeoutError, match=r"^only 0 of 2 canaries written in 0.3 s: \['canary 0: down'"),
    ):
        writer.wait_for(2, timeout=0.3)


def test_waiting_for_exactly_the_canaries_written_returns() -> None:
    from handlers.drills.canaries import CanaryWriter

    def two_then_refuse(sequence: int, _at: float) -> None:
        if sequence >= 2:
            raise RuntimeError("down")

    with CanaryWriter(two_then_refuse, rate_per_second=100) as writer:
        writer.wait_for(2, timeout=QUICK)  # two come, and only two
        assert [c.sequence for c in writer.written] == [0, 1]


def test_the_pause_between_canaries_is_the_interval_less_the_time_the_write_took() -> None:
    """One canary every 2 s (0.5/s), and each write takes 1.95 s by the writer's clock: the next write is due
    0.05 s later, so four canaries come well within a second of real time (a pause of the whole interval, or of
    at least a second, would take six seconds or more)."""
    import itertools
    import time

    from handlers.drills.canaries import CanaryWriter

    ticks = itertools.count()
    # Each canary reads the clock three times (write time, acknowledgement, pause): 1.95 s from write to pause.
    writer = CanaryWriter(lambda *_: None, rate_per_second=0.5, clock=lambda: next(ticks) * 0.975)
    started = time.monotonic()
    with writer:
        writer.wait_for(4, timeout=QUICK)
    assert time.monotonic() - started < 3.0  # 0.15 s of pauses; the rest is a tolerance for busy cores


def test_the_writer_thread_is_a_named_daemon() -> None:
    """A daemon: a drill interrupted before ``stop`` never keeps the process alive; named, so a thread dump says
    what it is."""
    import threading

    from handlers.drills.canaries import CanaryWriter

    with CanaryWriter(lambda *_: None, rate_per_second=100) as writer:
        writer.wait_for(1, timeout=QUICK)
        [thread] = [t for t in threading.enumerate() if t.name == "drill-canaries"]
        assert thread.daemon


def test_stop_waits_for_the_write_in_flight() -> None:
    import threading

    from handlers.drills.canaries import CanaryWriter

    entered, release = threading.Event(), threading.Event()

    def slow_first(sequence: int, _at: float) -> None:
        if sequence == 0:
            entered.set()
            release.wait(QUICK)

    writer = CanaryWriter(slow_first, rate_per_second=100)
    writer.start()
    assert entered.wait(QUICK)
    threading.Timer(0.2, release.set).start()
    assert [c.sequence for c in writer.stop()] == [0]  # acknowledged while stop waited, and nothing after it


def test_stop_gives_up_on_a_hung_write_after_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    import time

    from handlers.drills import canaries

    monkeypatch.setattr(canaries, "STOP_JOIN_SECONDS", 0.2)
    entered, release = threading.Event(), threading.Event()

    def hung(_sequence: int, _at: float) -> None:
        entered.set()
        release.wait(QUICK)

    writer = canaries.CanaryWriter(hung, rate_per_second=100)
    writer.start()
    assert entered.wait(QUICK)
    started = time.monotonic()
    try:
        assert writer.stop() == []  # the hung canary was never acknowledged
        assert time.monotonic() - started < QUICK - 1
    finally:
        release.set()


def test_stopping_a_writer_that_never_started_returns_nothing() -> None:
    from handlers.drills.canaries import CanaryWriter

    assert CanaryWriter(lambda *_: None).stop() == []


def test_the_rate_bounds_the_writes() -> None:
    import time

    from handlers.drills.canaries import CanaryWriter

    writer = CanaryWriter(lambda *_: None, rate_per_second=10)
    writer.start()
    time.sleep(1.0)
    written = writer.stop()
    assert 1 <= len(written) <= 12  # at most one per 0.1 s (plus the first), whatever the scheduling
    assert writer.stop() == written  # stopping twice changes nothing
