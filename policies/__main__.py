"""Entry point the Pulumi engine runs: serves the dr-guardrails pack over the Analyzer protocol."""

import gc

from dr_guardrails import PACK_NAME, POLICIES
from pulumi_policy import EnforcementLevel, PolicyPack

# The SDK builds objects for every resource once per policy; with CPython's default thresholds the collector's
# full passes grow with the stack and made AnalyzeStack superlinear (benchmarks/policy_pack.py, 10k resources).
gc.set_threshold(700, 10, 1000)

PolicyPack(
    name=PACK_NAME,
    policies=POLICIES,
    # Each policy sets its own level (mandatory, or remediate where the fix is safe); this is the fallback.
    enforcement_level=EnforcementLevel.MANDATORY,
    description="Disaster-recovery guardrails for pulumi-aws v7: versioning, MFA delete, object lock, PITR, "
    "replication, encryption, failover, declared objectives and least-privilege DR roles.",
)
