"""DynamoDB global tables (``tables[i]``): the ready place for their entries.

Filled by the tables issue (keys, attributes, indexes, replicas, consistency mode, backup plan), each rule next
to what it judges, as ``buckets.py`` does for buckets. Until then a stack declares no tables.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class TableEntry(BaseModel):
    """One ``tables[i]`` entry; no fields yet, so no stack can declare one."""

    model_config = ConfigDict(extra="forbid", frozen=True)
