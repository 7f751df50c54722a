"""The shared stack index: built once per resource list, linked through property dependencies."""

from __future__ import annotations

from typing import Any

import pytest
from dr_guardrails import CATALOG, dynamodb, failover, iam, index, kms, objectives, props, s3

from tests.policies.fixtures import TIER2_TAGS, add_bucket_children, compliant_stack
from tests.policies.support import BUCKET, Stack, run_stack


def test_all_stack_policies_share_one_index_for_one_resource_list(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[int] = []
    original = index.StackIndex.__init__

    def counting(self: index.StackIndex, resources: object) -> None:
        built.append(id(resources))
        original(self, resources)  # type: ignore[arg-type]

    monkeypatch.setattr(index.StackIndex, "__init__", counting)
    resources = compliant_stack().resources()
    for spec in CATALOG:
        if spec.is_stack_policy:
            assert run_stack(spec.name, resources) == []
    assert len(built) == 1
    run_stack("aws-s3-bucket-versioning-attached", compliant_stack().resources())
    assert len(built) == 2, "a new resource list (a new AnalyzeStack call) gets a fresh index"


def test_index_links_children_tables_and_replication_destinations() -> None:
    resources = compliant_stack().resources()
    stack_index = index.StackIndex(resources)
    by_name = {resource.name: resource for resource in resources}
    assert [child.name for child in stack_index.children(by_name["audio-primary"], "versioning")] == [
        "audio-primary-versioning"
    ]
    assert [child.name for child in stack_index.children(by_name["audio-primary"], "replication")] == [
        "audio-replication"
    ]
    assert [child.name for child in stack_index.children(by_name["backup"], "versioning")] == ["backup-versioning"]
    assert stack_index.children(by_name["backup"], "replication") == []
    assert [replica.name for replica in stack_index.table_replicas(by_name["orders"])] == ["orders-eu"]
    assert stack_index.is_replication_destination(by_name["audio-replica"])
    assert not stack_index.is_replication_destination(by_name["audio-primary"])


def _property_reads_for_all_stack_policies(buckets: int, monkeypatch: pytest.MonkeyPatch) -> int:
    stack = Stack()
    for number in range(buckets):
        name = f"bucket-{number}"
        stack.add(BUCKET, name, {"bucket": name, "objectLockEnabled": True, "tags": TIER2_TAGS})
        add_bucket_children(stack, name, "us-east-1", lock_mode="GOVERNANCE")
    resources = stack.resources()
    reads = 0
    real_lookup = props.lookup

    def counting_lookup(node: Any, *path: Any) -> Any:
        nonlocal reads
        reads += 1
        return real_lookup(node, *path)

    for module in (props, index, s3, dynamodb, failover, iam, kms, objectives):
        monkeypatch.setattr(module, "lookup", counting_lookup)
    for spec in CATALOG:
        if spec.is_stack_policy:
            run_stack(spec.name, resources)
    monkeypatch.undo()
    return reads


def test_stack_policies_do_linear_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ten times the buckets costs ten times the property reads, not a hundred (no per-bucket scans)."""
    small = _property_reads_for_all_stack_policies(20, monkeypatch)
    large = _property_reads_for_all_stack_policies(200, monkeypatch)
    assert small > 0
    assert large <= small * 10.5
