"""``SiteDescriptor``: the site descriptor (``/dr/<app>/site/<name>``, stackmodel.site.describe_site) as an SSM
parameter in the recovery Region, where the orchestrator and drctl read it.

Advanced tier: a Standard parameter holds at most 4 KB, which about eight linked stores exceed; Advanced holds 8 KB
(Systems Manager User Guide, "Managing parameter tiers") for $0.05 per parameter-month (docs/costs.md). The config
check (stackmodel/config/sites.py) refuses a site whose descriptor could pass 8 KB.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pulumi
import pulumi_aws as aws

PARAMETER_TIER = "Advanced"


@dataclass(frozen=True)
class SiteDescriptorArgs:
    site_name: str  # the FailoverSite's resource name: the parameter keeps the name it had under it
    site: str
    parameter_name: str
    descriptor: Mapping[str, Any]  # outputs inside
    recovery_region: str
    recovery_provider: aws.Provider
    tags: Mapping[str, str]
    # What the descriptor names that is not an output in it (the switch alarms): it is published after them.
    waits_for: Sequence[pulumi.Resource] = field(default_factory=tuple)
    moved_from: pulumi.Resource | None = None


class SiteDescriptor(pulumi.ComponentResource):
    TYPE: ClassVar[str] = "dr:site:SiteDescriptor"

    parameter: aws.ssm.Parameter
    parameter_name: pulumi.Output[str]

    def __init__(self, name: str, args: SiteDescriptorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(self.TYPE, name, None, opts)
        aliases = [pulumi.Alias(parent=args.moved_from)] if args.moved_from is not None else None
        self.parameter = aws.ssm.Parameter(
            f"{args.site_name}-descriptor",
            name=args.parameter_name,
            type="String",
            tier=PARAMETER_TIER,
            insecure_value=pulumi.Output.json_dumps(dict(args.descriptor)),  # not a secret: shown in diffs, exports
            description=f"FailoverSite {args.site}: regions, switch, settings, lock and linked stores (drctl reads it)",
            region=args.recovery_region,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=args.recovery_provider,
                aliases=aliases,
                depends_on=list(args.waits_for),
            ),
        )
        self.parameter_name = self.parameter.name
        self.register_outputs({"parameter_name": self.parameter_name})
