"""dr-guardrails: the CrossGuard policy pack for disaster recovery on pulumi-aws v7.

Import the policies from here (``from dr_guardrails import POLICIES``); never import the pack's
``__main__``, whose ``PolicyPack(...)`` serves gRPC forever.
"""

from .catalog import CATALOG, PACK_NAME, POLICIES, SPECS, build_policies
from .framework import Control, PolicySpec
from .props import CANNOT_VERIFY_PREFIX

__all__ = [
    "CANNOT_VERIFY_PREFIX",
    "CATALOG",
    "PACK_NAME",
    "POLICIES",
    "SPECS",
    "Control",
    "PolicySpec",
    "build_policies",
]
