"""The planner's decisions on synthetic histories, exact to the field (kills planner mutants, ``make mutation``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handlers.s3.plan import Action, KeyHistory, KeyPlan, Version
from handlers.s3.restore import BucketProtection, plan_copy_elsewhere, plan_make_current, version_at

T = datetime(2026, 11, 1, tzinfo=UTC)


def entry(version_id: str, minutes: int, *, marker: bool = False, latest: bool = False, etag: str = "") -> Version:
    return Version("key", version_id, T + timedelta(minutes=minutes), latest, marker, size=10, etag=etag)


def test_version_at_includes_a_version_written_exactly_at_t() -> None:
    exact = entry("v1", 0, latest=True)
    assert version_at(KeyHistory("key", (exact,)), T) == exact
    assert version_at(KeyHistory("key", (exact,)), T - timedelta(seconds=1)) is None


def test_every_plan_names_its_key_version_and_markers() -> None:
    old, marker = entry("v1", -5), entry("m1", 5, marker=True, latest=True)
    history = KeyHistory("key", (marker, old))
    assert plan_make_current(history, old, undelete_allowed=True, delete_unwanted=False) == KeyPlan(
        "key", Action.UNDELETE, old, ("m1",)
    )
    assert plan_make_current(history, None, undelete_allowed=True, delete_unwanted=True) == KeyPlan("key", Action.SKIP)
    live = KeyHistory("key", (entry("v2", 5, latest=True), old))
    assert plan_make_current(live, live.entries[0], undelete_allowed=True, delete_unwanted=False) == KeyPlan(
        "key", Action.SKIP
    )
    assert plan_make_current(live, None, undelete_allowed=True, delete_unwanted=True) == KeyPlan("key", Action.DELETE)
    assert plan_copy_elsewhere(live, None, delete_unwanted=True) == KeyPlan("key", Action.DELETE)
    assert plan_copy_elsewhere(live, None, delete_unwanted=False) == KeyPlan("key", Action.SKIP)
    assert plan_copy_elsewhere(live, old, delete_unwanted=False) == KeyPlan("key", Action.COPY, old)


def test_etags_prove_a_difference_only_when_both_are_md5s_and_the_caller_says_so() -> None:
    old = entry("v1", -5, etag='"aaa"')
    for current_etag, wanted_etag in (('"bbb"', '"aaa"'), ('"bbb-2"', '"aaa"'), ('"bbb"', '"aaa-2"')):
        current = entry("v2", 5, latest=True, etag=current_etag)
        wanted = entry("v1", -5, etag=wanted_etag)
        history = KeyHistory("key", (current, wanted))
        by_default = plan_make_current(history, wanted, undelete_allowed=False, delete_unwanted=False)
        assert by_default.maybe_same_as == current  # the default does not trust ETags (SSE-KMS)
        md5 = plan_make_current(history, wanted, undelete_allowed=False, delete_unwanted=False, etags_are_md5=True)
        both_md5 = "-" not in current_etag and "-" not in wanted_etag
        assert md5.maybe_same_as == (None if both_md5 else current), (current_etag, wanted_etag)
    assert old.etag == '"aaa"'


def test_copy_reasons_are_exact() -> None:
    assert BucketProtection("Enabled", mfa_delete=False, replicated=False).copy_reason() is None
    assert BucketProtection("Enabled", mfa_delete=False, replicated=True).copy_reason() == (
        "replication configured: versioned deletes do not replicate"
    )
    assert BucketProtection("Enabled", mfa_delete=True, replicated=False).copy_reason() == (
        "MFA delete enabled: removing a delete marker needs the root user's MFA code"
    )
    assert BucketProtection("Enabled", mfa_delete=True, replicated=False).copy_reason("SERIAL 123456") is None
