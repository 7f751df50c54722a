"""SiteStore on a moto server: health-tracking writes vs fenced writes, the lease, and the race that made split
brain (a health write between a transition's read and its write)."""

from __future__ import annotations

import threading
import time

import boto3
import pytest

from handlers.failover.state import FAILED_OVER, FAILING_OVER, PRIMARY, SWITCH_FAILED_OVER, SiteStore
from tests.handlers.failover.conftest import RECOVERY
from tests.handlers.failover.phase_world import atomic_moto, atomic_moto_server

__all__ = ["atomic_moto", "atomic_moto_server"]  # fixtures

TABLE = "site-lock"


@pytest.fixture
def store(atomic_moto: str) -> SiteStore:
    dynamodb = boto3.client("dynamodb", RECOVERY)
    dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return SiteStore(dynamodb, TABLE)


def begin(store: SiteStore, owner: str = "a") -> None:
    now = time.time()
    assert store.acquire(owner, now)
    assert store.advance(
        owner,
        PRIMARY,
        {"phase": FAILING_OVER, "epoch": 1, "transition": "t1"},
        now=now,
        done={"begin": "x"},
        reset_done=True,
    )


def test_a_new_site_reads_as_primary(store: SiteStore) -> None:
    state = store.read()
    assert (state.phase, state.switch, state.epoch, state.done, state.lock_owner) == (PRIMARY, "primary", 0, {}, None)


def test_a_health_write_bumps_the_version_and_touches_nothing_else(store: SiteStore) -> None:
    begin(store)
    before = store.read()
    assert store.track(before, failures=2, first_failure_at=10.0, votes={"p": {"healthy": False, "at": 1.0}})
    after = store.read()
    assert after.version == before.version + 1
    assert (after.failures, after.first_failure_at, after.votes["p"]["healthy"]) == (2, 10.0, False)
    assert (after.phase, after.switch, after.done, after.epoch) == (before.phase, before.switch, before.done, 1)
    assert not store.track(before, failures=3)  # from a stale read: refused, the next round re-reads
    with pytest.raises(ValueError, match="phase"):
        store.track(after, phase=FAILED_OVER)


def test_a_health_write_between_read_and_fenced_write_does_not_lose_the_transition(store: SiteStore) -> None:
    """The split brain of issue 18: a probe round bumped the version, and the transition's version-conditioned
    write failed unnoticed. Fenced writes are conditioned on the lock and the phase only."""
    begin(store)
    read = store.read()
    assert store.track(read, failures=1)  # another round's health write lands in between
    assert store.advance("a", FAILING_OVER, {"switch": SWITCH_FAILED_OVER}, now=time.time(), done={"switch": "y"})
    state = store.read()
    assert state.switch == SWITCH_FAILED_OVER and state.done == {"begin": "x", "switch": "y"} and state.failures == 1


def test_fenced_writes_need_the_unexpired_lock_and_the_expected_phase(store: SiteStore) -> None:
    begin(store)
    now = time.time()
    assert not store.advance("b", FAILING_OVER, {"switch": SWITCH_FAILED_OVER}, now=now)  # not the owner
    assert not store.advance("a", PRIMARY, {"switch": SWITCH_FAILED_OVER}, now=now)  # the phase moved on
    assert not store.advance("a", FAILING_OVER, {"switch": SWITCH_FAILED_OVER}, now=now + 3600)  # lease expired
    assert store.read().switch == "primary"
    with pytest.raises(ValueError, match="votes"):
        store.advance("a", FAILING_OVER, {"votes": {}}, now=now)


def test_the_lease_is_single_flight_renewed_and_taken_over_only_when_expired(store: SiteStore) -> None:
    now = time.time()
    assert store.acquire("a", now, lease=2)
    assert not store.acquire("b", now + 1, lease=2)
    assert store.renew("a", now + 1.5, lease=2)  # until now + 3.5
    assert not store.acquire("b", now + 3, lease=2)
    assert store.acquire("b", now + 4, lease=2)  # expired: taken over
    assert not store.renew("a", now + 4, lease=2)  # a's renewal finds the lock gone: a stops acting
    assert store.release("a")  # not a's: nothing of a's remains, b keeps its lock
    assert store.read().lock_owner == "b"
    assert not store.break_lock(now, expected_owner="a")  # break only the lock the operator was shown
    assert store.break_lock(now, expected_owner="b")
    assert store.read().lock_owner is None


def test_concurrent_acquires_have_one_winner(store: SiteStore) -> None:
    barrier, winners = threading.Barrier(4), []

    def contend(owner: str) -> None:
        mine = SiteStore(boto3.client("dynamodb", RECOVERY), TABLE)
        barrier.wait()
        if mine.acquire(owner, time.time()):
            winners.append(owner)

    threads = [threading.Thread(target=contend, args=(f"o{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1 and store.read().lock_owner == winners[0]
