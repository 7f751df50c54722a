"""``handlers/s3/plan.py`` without an emulator: the fail-fast rule that halts a restore, the bounded failure memory,
and the small value types the planner and executor share (issue 23 item 12: in ``make mutation``'s scope)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from handlers.s3.plan import (
    CLASS_SAMPLE,
    FAILURE_SAMPLE,
    MAX_ERROR_CLASSES,
    OTHER_ERRORS,
    FailFast,
    FailureTally,
    KeyHistory,
    RestoreOptions,
    RestoreSummary,
    Version,
    head_or_none,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


# ---------------------------------------------------------------- the fail-fast rule


def test_all_first_writes_failing_trips_exactly_at_first_writes() -> None:
    tally = FailureTally(FailFast(first_writes=5, window=1000, window_share=2.0))
    for index in range(4):
        tally.failed(f"k{index}", "AccessDenied", aws=True)
        assert tally.tripped is None
    tally.failed("k4", "AccessDenied", aws=True)
    assert tally.tripped == "AccessDenied" and tally.aws_refused


def test_one_success_among_the_first_writes_prevents_the_first_writes_rule() -> None:
    tally = FailureTally(FailFast(first_writes=5, window=1000, window_share=2.0))
    tally.succeeded()
    for index in range(50):
        tally.failed(f"k{index}", "AccessDenied", aws=True)
    assert tally.tripped is None and tally.failures == 50 and tally.outcomes == 51


def test_alternating_outcomes_never_trip() -> None:
    """The mutant the issue found: counting failures as outcomes made 50 alternating failures "systemic"."""
    tally = FailureTally(FailFast(first_writes=50, window=200, window_share=0.9))
    for index in range(1000):
        if index % 2:
            tally.failed(f"k{index}", "SlowDown", aws=True)
        else:
            tally.succeeded()
    assert tally.tripped is None and tally.failures == 500 and tally.outcomes == 1000


def test_the_window_trips_at_its_share_only_once_full() -> None:
    tally = FailureTally(FailFast(first_writes=10**6, window=10, window_share=0.9))
    tally.succeeded()
    for index in range(8):
        tally.failed(f"k{index}", "InternalError", aws=True)
    assert tally.tripped is None  # 9 outcomes: the window is not full
    tally.failed("k8", "InternalError", aws=True)
    assert tally.tripped == "InternalError"  # 9 of 10 failed = 0.9, at the share


def test_the_window_below_its_share_does_not_trip() -> None:
    tally = FailureTally(FailFast(first_writes=10**6, window=10, window_share=0.9))
    tally.succeeded(2)
    for index in range(8):
        tally.failed(f"k{index}", "InternalError", aws=True)
    assert tally.tripped is None  # 8 of 10 = 0.8


def test_the_window_slides() -> None:
    tally = FailureTally(FailFast(first_writes=10**6, window=4, window_share=1.0))
    tally.succeeded()
    for index in range(3):
        tally.failed(f"k{index}", "X", aws=False)
    assert tally.tripped is None  # [ok, x, x, x]
    tally.failed("k3", "X", aws=False)
    assert tally.tripped == "X" and not tally.aws_refused  # [x, x, x, x]


def test_successes_counted_in_bulk_fill_the_window_but_not_beyond_it() -> None:
    tally = FailureTally(FailFast(first_writes=3, window=4, window_share=1.0))
    tally.succeeded(10)
    assert tally.outcomes == 10 and list(tally.window) == [True] * 4
    tally.succeeded(0)
    assert tally.outcomes == 10


def test_the_dominant_class_is_reported_and_stays() -> None:
    tally = FailureTally(FailFast(first_writes=3, window=100, window_share=2.0))
    tally.failed("a", "Throttling", aws=True)
    tally.failed("b", "AccessDenied", aws=True)
    tally.failed("c", "AccessDenied", aws=True)
    assert tally.tripped == "AccessDenied"
    for index in range(5):
        tally.failed(f"t{index}", "Throttling", aws=True)
    assert tally.tripped == "AccessDenied"  # decided once


def test_without_any_class_nothing_trips() -> None:
    tally = FailureTally(FailFast(first_writes=1, window=1, window_share=0.0))
    tally.succeeded(5)
    assert tally.tripped is None and not tally.aws_refused


def test_classes_and_samples_are_bounded() -> None:
    tally = FailureTally(FailFast(first_writes=10**6, window=10, window_share=2.0))
    for index in range(MAX_ERROR_CLASSES + 5):
        for key in range(CLASS_SAMPLE + 3):
            tally.failed(f"k{index}-{key}", f"Code{index}", aws=index % 2 == 0)
    assert len(tally.classes) == MAX_ERROR_CLASSES + 1
    assert tally.classes[OTHER_ERRORS]["count"] == 5 * (CLASS_SAMPLE + 3)
    assert all(len(entry["sample"]) == CLASS_SAMPLE for entry in tally.classes.values())
    assert tally.classes["Code0"] == {
        "count": CLASS_SAMPLE + 3,
        "aws": True,
        "sample": [f"k0-{key}" for key in range(CLASS_SAMPLE)],
    }
    assert tally.classes["Code1"]["aws"] is False
    tally.failed("late", "Code3", aws=False)  # a known class keeps its name even when the table is full
    assert tally.classes["Code3"]["count"] == CLASS_SAMPLE + 4


# ---------------------------------------------------------------- the summary


def test_summary_counts_samples_and_reports_classes() -> None:
    summary = RestoreSummary(fail_fast=FailFast(first_writes=10**6, window=10, window_share=2.0))
    summary.add("copied", 3, bytes_copied=30)
    summary.add("copied")
    summary.add("skipped", 2)
    for index in range(FAILURE_SAMPLE + 7):
        summary.fail(f"key-{index}", "AccessDenied", aws=index == 0)
    summary.succeeded(2)
    document = summary.as_dict()
    assert (document["copied"], document["skipped"], document["bytes_copied"]) == (4, 2, 30)
    assert document["failed"] == FAILURE_SAMPLE + 7 and len(document["failures"]) == FAILURE_SAMPLE
    assert document["failures"]["key-0"] == "AccessDenied" and f"key-{FAILURE_SAMPLE}" not in document["failures"]
    assert document["error_classes"] == {
        "AccessDenied": {"count": FAILURE_SAMPLE + 7, "aws": True, "sample": [f"key-{i}" for i in range(CLASS_SAMPLE)]}
    }
    assert "fail_fast" not in document and "_lock" not in document and "_tally" not in document
    assert summary.tally.outcomes == FAILURE_SAMPLE + 9
    assert summary.systemic_failure is None


def test_summary_default_fail_fast_trips_after_fifty_failures() -> None:
    summary = RestoreSummary()
    for index in range(49):
        summary.fail(f"k{index}", "AccessDenied")
    assert summary.systemic_failure is None
    summary.fail("k49", "AccessDenied")
    assert summary.systemic_failure == "AccessDenied" and summary.tally.aws_refused
    assert FailFast() == FailFast(first_writes=50, window=200, window_share=0.9)


def test_summary_tally_is_created_once_and_one_success_is_the_default() -> None:
    summary = RestoreSummary()
    assert summary.tally is summary.tally
    summary.succeeded()
    assert summary.tally.outcomes == 1


def test_summary_document_has_exactly_its_keys_and_copies_the_failures() -> None:
    summary = RestoreSummary()
    summary.fail("k", "AccessDenied")
    document = summary.as_dict()
    assert set(document) == {
        "keys_scanned", "versions_scanned", "undeleted", "copied", "deleted", "skipped", "archived_pending",
        "failed", "batched", "bytes_copied", "failures", "error_classes",
    }  # fmt: skip
    assert document["failures"] == {"k": "AccessDenied"} and document["failures"] is not summary.failures


# ---------------------------------------------------------------- value types


def _entry(key: str, version: str, at: datetime, latest: bool, **extra: Any) -> dict[str, Any]:
    return {"Key": key, "VersionId": version, "LastModified": at, "IsLatest": latest, **extra}


def test_version_from_listing_reads_every_field_with_defaults() -> None:
    full = Version.from_listing(
        _entry("a", "v1", T0, True, Size=7, StorageClass="GLACIER", ETag='"e"', ChecksumAlgorithm=["SHA256", "CRC32"]),
        False,
    )
    assert full == Version("a", "v1", T0, True, False, 7, "GLACIER", '"e"', "SHA256") and full.archived
    bare = Version.from_listing(_entry("a", "v2", T0, False), True)
    assert (bare.size, bare.storage_class, bare.etag, bare.checksum_algorithm) == (0, "STANDARD", "", None)
    assert bare.is_delete_marker and not bare.is_latest and not bare.archived
    assert Version("a", "v", T0, True, False, storage_class="DEEP_ARCHIVE").archived


def test_key_history_current_newer_and_newest_data() -> None:
    marker = Version("a", "m", T0 + timedelta(seconds=2), True, True)
    middle = Version("a", "v2", T0 + timedelta(seconds=1), False, False)
    oldest = Version("a", "v1", T0, False, False)
    history = KeyHistory("a", (marker, middle, oldest))
    assert history.current is marker and history.newer_than(oldest) == (marker, middle)
    assert history.newer_than(marker) == () and history.newest_data_version() is middle
    no_latest = KeyHistory("a", (Version("a", "x", T0, False, False), oldest))
    assert no_latest.current.version_id == "x"
    assert KeyHistory("a", (marker,)).newest_data_version() is None
    assert KeyHistory("a", (oldest, marker)).current is marker


def test_restore_options_destination() -> None:
    in_place = RestoreOptions(bucket="b", at=T0, prefix="p/")
    assert in_place.destination_bucket == "b" and in_place.in_place and in_place.destination_key("p/x") == "p/x"
    same_prefix = RestoreOptions(bucket="b", at=T0, prefix="p/", target_prefix="p/")
    assert same_prefix.in_place
    elsewhere = RestoreOptions(bucket="b", at=T0, prefix="p/", target_bucket="c", target_prefix="q/")
    assert elsewhere.destination_bucket == "c" and not elsewhere.in_place
    assert elsewhere.destination_key("p/x/y") == "q/x/y"
    other_prefix = RestoreOptions(bucket="b", at=T0, prefix="p/", target_prefix="r/")
    assert not other_prefix.in_place and other_prefix.destination_key("p/z") == "r/z"
    other_bucket = RestoreOptions(bucket="b", at=T0, target_bucket="c")
    assert not other_bucket.in_place


class _Head:
    def __init__(self, code: str | None) -> None:
        self.code = code

    def head_object(self, **kwargs: Any) -> dict[str, Any]:
        if self.code is None:
            return {"ContentLength": 1, **kwargs}
        raise ClientError({"Error": {"Code": self.code, "Message": "x"}}, "HeadObject")


@pytest.mark.parametrize("code", ["404", "NoSuchKey", "NotFound"])
def test_head_or_none_is_none_only_for_absent_keys(code: str) -> None:
    assert head_or_none(_Head(code), "b", "k") is None


def test_head_or_none_returns_the_head_and_raises_other_errors() -> None:
    assert head_or_none(_Head(None), "b", "k") == {"ContentLength": 1, "Bucket": "b", "Key": "k"}
    with pytest.raises(ClientError):
        head_or_none(_Head("AccessDenied"), "b", "k")
