"""``aws-dynamodb-table-objectives-achievable`` for a regional RPO of 0: only MRSC achieves it (issue 13).

Starts from the compliant estate's ``orders`` table, declares ``dr:rpo-regional-minutes=0`` and changes one thing.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.policies.fixtures import compliant_stack
from tests.policies.support import UNKNOWN_STR, Stack, changed, messages, run_stack

POLICY = "aws-dynamodb-table-objectives-achievable"
REGIONAL_RPO = ("tags", "dr:rpo-regional-minutes")
STRONG = {"pointInTimeRecovery": True, "deletionProtectionEnabled": True, "consistencyMode": "STRONG"}


def _orders(stack: Stack, **props: object) -> None:
    node = stack.nodes["orders"]
    node.props = changed(node.props, REGIONAL_RPO, "0")
    for key, value in props.items():
        node.props = changed(node.props, (key,), value)


def mrsc_with_witness(stack: Stack) -> None:
    stack.remove("orders-eu")  # a separate TableReplica is always eventual
    _orders(stack, replicas=[{"regionName": "us-west-2", **STRONG}], globalTableWitness={"regionName": "us-east-2"})


def mrsc_three_regions(stack: Stack) -> None:
    stack.remove("orders-eu")
    _orders(stack, replicas=[{"regionName": "us-west-2", **STRONG}, {"regionName": "us-east-2", **STRONG}])


@pytest.mark.parametrize("build", [mrsc_with_witness, mrsc_three_regions])
def test_mrsc_meets_a_regional_rpo_of_zero(build: Callable[[Stack], None]) -> None:
    stack = compliant_stack()
    build(stack)
    assert run_stack(POLICY, stack) == []


def test_mrec_replicas_with_a_regional_rpo_of_zero_is_a_violation() -> None:
    stack = compliant_stack()
    stack.remove("orders-eu")
    _orders(stack)  # the fixture's inline replica has no consistencyMode: EVENTUAL
    [message] = messages(run_stack(POLICY, stack))
    assert "dr:rpo-regional-minutes=0" in message
    assert "every replica needs consistencyMode STRONG (declared: ['EVENTUAL'])" in message
    assert "one replica plus globalTableWitness" in message


def test_one_strong_replica_without_a_witness_is_a_violation() -> None:
    stack = compliant_stack()
    stack.remove("orders-eu")
    _orders(stack, replicas=[{"regionName": "us-west-2", **STRONG}])
    [message] = messages(run_stack(POLICY, stack))
    assert "declared: 1 replica(s), witness none" in message
    assert "consistencyMode STRONG (declared" not in message


def test_a_separate_table_replica_cannot_be_strong() -> None:
    stack = compliant_stack()
    _orders(stack, replicas=[{"regionName": "us-west-2", **STRONG}, {"regionName": "us-east-2", **STRONG}])
    [message] = messages(run_stack(POLICY, stack))
    assert "1 aws.dynamodb.TableReplica resource(s) replicate eventually" in message


def test_an_unknown_consistency_mode_is_reported_not_passed() -> None:
    stack = compliant_stack()
    stack.remove("orders-eu")
    _orders(stack, replicas=[{"regionName": "us-west-2", **STRONG, "consistencyMode": UNKNOWN_STR}])
    [message] = messages(run_stack(POLICY, stack))
    assert "consistencyMode" in message and "cannot" in message.lower()
