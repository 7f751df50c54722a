"""Baseline pack for benchmarks/policy_pack.py: policies that do nothing.

The SDK deserializes a resource's properties once per policy, so the baseline has as many resource and stack
policies as the pack it is compared with: NOOP_RESOURCE_POLICIES and NOOP_STACK_POLICIES, which the benchmark
takes from the real pack's GetAnalyzerInfo.
"""

import gc
import os

from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy, StackValidationPolicy

# The same collector settings as policies/__main__.py, so the comparison isolates the policies' own work.
gc.set_threshold(100_000, 50, 100)


def nothing(_args, _report_violation):
    return None


resource_policies = [
    ResourceValidationPolicy(name=f"noop-resource-{index}", description="Does nothing.", validate=nothing)
    for index in range(int(os.environ.get("NOOP_RESOURCE_POLICIES", "1")))
]
stack_policies = [
    StackValidationPolicy(name=f"noop-stack-{index}", description="Does nothing.", validate=nothing)
    for index in range(int(os.environ.get("NOOP_STACK_POLICIES", "1")))
]

PolicyPack(
    name="noop-baseline",
    policies=[*resource_policies, *stack_policies],
    enforcement_level=EnforcementLevel.MANDATORY,
)
