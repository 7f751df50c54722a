"""Entry point the Pulumi engine runs: serves the dr-guardrails pack over the Analyzer protocol."""

import gc

from dr_guardrails import PACK_NAME, POLICIES
from pulumi_policy import EnforcementLevel, PolicyPack

# The SDK builds objects for every resource once per policy. With CPython's default thresholds the collector's
# passes over that growing heap made AnalyzeStack superlinear (benchmarks/policy_pack.py: t(10k)/t(1k) 12.9 with
# (700, 10, 1000), 10.5 with these). Cycles are still collected, just less often.
gc.set_threshold(100_000, 50, 100)

PolicyPack(
    name=PACK_NAME,
    policies=POLICIES,
    # Each policy sets its own level (mandatory, or remediate where the fix is safe); this is the fallback.
    enforcement_level=EnforcementLevel.MANDATORY,
    description="Disaster-recovery guardrails for pulumi-aws v7: versioning, MFA delete, object lock, PITR, "
    "replication, encryption, failover, declared objectives and least-privilege DR roles.",
)
