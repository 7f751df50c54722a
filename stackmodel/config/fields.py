"""Field types shared by the config models of several store kinds (stack keys, tables, sites)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, StrictStr

from stackmodel import powertools
from stackmodel.config.errors import dr_error
from stackmodel.regions import region_partitions


def _region(value: str) -> str:
    if value not in region_partitions():
        raise dr_error("must be an AWS region botocore knows")
    problem = powertools.powertools_layer_problem(value)
    if problem is not None:  # every runtime Lambda uses the layer, so the ARN must exist where it deploys
        raise dr_error(f"{problem}, which every DR Lambda needs")
    return value


def _deployable_regions() -> list[str]:
    """The regions ``_region`` accepts, for the JSON Schema's enum."""
    return sorted(r for r in region_partitions() if powertools.powertools_layer_problem(r) is None)


Region = Annotated[
    StrictStr, Field(min_length=1, json_schema_extra={"enum": _deployable_regions()}), AfterValidator(_region)
]
