"""Failover sites (``sites[i]``): the ready place for their entries.

Filled by the failover-site issue (zone, endpoints, health checks, switch), each rule next to what it judges, as
``buckets.py`` does for buckets. Until then a stack declares no sites.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class SiteEntry(BaseModel):
    """One ``sites[i]`` entry; no fields yet, so no stack can declare one."""

    model_config = ConfigDict(extra="forbid", frozen=True)
