"""The program's explicit AWS providers: one per Region, never the ambient Region.

Every stack disables default providers, so every resource names one of these. A local stack (``localEndpoint``,
Pulumi.local.yaml) points each at the emulator (components/local.py).
"""

from __future__ import annotations

import pulumi_aws as aws

from components.local import provider_args
from components.site import ROUTE53_REGION
from stackmodel.config import StackSettings


def regional_providers(settings: StackSettings) -> dict[str, aws.Provider]:
    """One explicit provider per region, never the ambient region: ``primary`` and ``recovery``, then one for every
    further region a table lives in (default providers are disabled in every stack)."""
    local = provider_args(settings.local_endpoint)  # a local stack points every provider at the emulator
    result = {
        settings.primary_region: aws.Provider("primary", region=settings.primary_region, **local),
        settings.recovery_region: aws.Provider("recovery", region=settings.recovery_region, **local),
    }
    for region in settings.table_regions:
        if region not in result:
            result[region] = aws.Provider(f"region-{region}", region=region, **local)
    # Route 53 (and its health-check metrics) lives in us-east-1, even when neither stack Region is.
    if settings.sites and ROUTE53_REGION not in result:
        result[ROUTE53_REGION] = aws.Provider("route53", region=ROUTE53_REGION, **local)
    return result
