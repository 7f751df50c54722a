"""Issue 23 item 7: the stack-file JSON Schema carries every single-key rule the program enforces.

Every rejection fixture of the config tests is collected here. The schema must reject each one, except those whose
rule needs a second key (the JSON Schema sees one value at a time), listed in ``CROSS_KEY`` with the keys involved.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from stackmodel.config.schema import PROJECT, stack_file_schema
from tests.components import (
    test_config_aws_rules,
    test_config_validation,
    test_drill_config,
    test_site_config,
    test_table_config,
)

_TIER = "the bucket's or table's tier"
_PRIMARY = "primaryRegion"
# id -> the other key(s) the rule needs; a JSON Schema sees one value at a time
CROSS_KEY: dict[str, str] = {
    "aws-rules:auto-dns-failover-on-a-stateful-site": "the site's buckets, tables and database",
    "aws-rules:replica-in-aws-cn": _PRIMARY,
    "aws-rules:replica-in-aws-us-gov": _PRIMARY,
    "sites:rds-replica-with-globalClusterIdentifier": "database.engine",
    "sites:secondary-equals-primary": "primary",
    "tables:autoscaling-minimum-above-maximum": "the other bound",
    "tables:autoscaling-on-pay-per-request": "billingMode",
    "tables:backup-on-tier3": _TIER,
    "tables:backup-rpo-looser-than-tier": _TIER,
    "tables:below-the-floor-without-replicas": "replicaRegions and the backup schedule",
    "tables:capacity-on-pay-per-request": "billingMode",
    "tables:cold-storage-minimum": "coldStorageAfterDays",
    "tables:export-to-an-unknown-bucket": "buckets",
    "tables:gsi-on-undeclared-attribute": "attributes",
    "tables:hash-key-not-an-attribute": "attributes",
    "tables:include-without-non-key-attributes": "nonKeyAttributes",
    "tables:non-key-attributes-without-include": "projectionType",
    "tables:mrsc-four-regions": "consistencyMode and witnessRegion",
    "tables:mrsc-mixed-region-sets": f"consistencyMode and {_PRIMARY}",
    "tables:mrsc-with-transactions": "consistencyMode",
    "tables:mrsc-with-ttl": "consistencyMode",
    "tables:objective-loosens-the-tier": _TIER,
    "tables:pitr-period-shorter-than-tier": _TIER,
    "tables:provisioned-replicated-without-autoscaling": "billingMode and replicaRegions",
    "tables:provisioned-without-capacity": "billingMode",
    "tables:replica-equals-primary": _PRIMARY,
    "tables:replicas-without-recoveryRegion": "recoveryRegion",
    "tables:retention-outside-vault-lock": "backup.vaultLock",
    "tables:rpo-0-on-mrec": "consistencyMode",
    "tables:rpo-0-two-regions-no-witness": "consistencyMode and witnessRegion",
    "tables:table-name-too-long-for-its-function-names": "namePrefix",
    "tables:tables-without-app": "app",
    "tables:tier1-without-replicas": "replicaRegions",
    "tables:tier3-regional-objective": _TIER,
    "tables:transactions-without-usesTransactions": "usesTransactions",
    "tables:vault-lock-min-above-max": "maxRetentionDays",
    "tables:witness-on-mrec": "consistencyMode",
    "validation:bucket-name-too-long-tier1": "namePrefix and the regions (the physical name)",
    "validation:bucket-name-too-long-tier2": "namePrefix and the regions (the physical name)",
    "validation:namePrefix-too-long-for-the-batch-reports-bucket": "the bucket names and regions",
    "validation:deep-archive-too-soon-after-glacier": "glacierDays",
    "validation:expiration-before-deep-archive-minimum": "deepArchiveDays",
    "validation:expiration-before-lock-ends-tier1": "lockDays",
    "validation:expiration-before-lock-ends-tier2": "lockDays",
    "validation:glacier-10-days-after-standard-ia": "standardIaDays",
    "validation:lockDays-on-tier3": _TIER,
    "validation:lockMode-on-tier3": _TIER,
    "validation:mfaDeleteAttested-on-tier2": _TIER,
    "validation:replicaStorageClass-on-tier2": _TIER,
    "validation:recovery-equals-primary": _PRIMARY,
    "validation:recoveryRegion-in-another-partition-accepted": _PRIMARY,
    "validation:tier1-logical-rto-below-floor": _TIER,
    "validation:tier1-loosened-logical-rto": _TIER,
    "validation:tier1-loosened-regional-rpo": _TIER,
    "validation:tier1-regional-rpo-0": _TIER,
    "validation:tier2-any-regional-objective": _TIER,
    "validation:tier3-logical-objective": _TIER,
}
# id -> why JSON Schema (2020-12) cannot say it although one key decides it
BEYOND_JSON_SCHEMA: dict[str, str] = {
    "validation:tier-as-float": "JSON Schema's integer is any number with a zero fractional part, so 2.0 is 2",
    "validation:mfaDeleteAttested-in-future": "the schema has no notion of today",
    "validation:nested-protectedPrefixes": "a relation between list items (only uniqueItems exists)",
    "validation:whole-bucket-with-another-protectedPrefix": "a relation between list items",
    "validation:duplicate-bucket-name": "uniqueness of one property across objects (uniqueItems compares whole items)",
    "tables:duplicate-table-name": "uniqueness of one property across objects",
    "tables:duplicate-index-name": "uniqueness of one property across objects",
    "tables:attribute-declared-twice": "uniqueness of one property across objects",
}


def fixtures() -> Iterator[tuple[str, dict[str, Any]]]:
    for case in test_config_validation.MALFORMED:
        yield f"validation:{case.id}", test_config_validation.mutated(case.change)
    for param in test_config_validation.FORMERLY_ACCEPTED:
        yield f"validation:{param.id}", test_config_validation.mutated(param.values[0])
    for case in test_table_config.MALFORMED:
        yield f"tables:{case.id}", test_table_config.mutated(*case.changes)
    for param in test_site_config.MALFORMED_SITES:
        yield f"sites:{param.id}", test_site_config.prod(**copy.deepcopy(param.values[0]))
    for param in test_drill_config.MALFORMED:
        yield f"drills:{param.id}", test_drill_config.prod_with(**param.values[0])
    for rejected in test_config_aws_rules.REJECTED:
        yield f"aws-rules:{rejected.id}", rejected.config()


FIXTURES = dict(fixtures())
VALIDATOR = jsonschema.Draft202012Validator(stack_file_schema())


def document(config: dict[str, Any]) -> dict[str, Any]:
    return {"config": {f"{PROJECT}:{key}": value for key, value in config.items()}}


def test_the_cross_key_list_names_real_fixtures_and_the_aws_rules_agree() -> None:
    assert set(CROSS_KEY) <= set(FIXTURES) and set(BEYOND_JSON_SCHEMA) <= set(FIXTURES)
    for rejected in test_config_aws_rules.REJECTED:
        assert (f"aws-rules:{rejected.id}" in CROSS_KEY) is (not rejected.single_key), rejected.id


@pytest.mark.parametrize("fixture", sorted(FIXTURES))
def test_the_schema_rejects_every_single_key_rejection(fixture: str) -> None:
    errors = [error.message for error in VALIDATOR.iter_errors(document(FIXTURES[fixture]))]
    exempt = CROSS_KEY.get(fixture) or BEYOND_JSON_SCHEMA.get(fixture)
    if exempt:
        assert errors == [], f"{fixture} is listed as beyond the schema ({exempt}) but the schema rejects it"
    else:
        assert errors, f"the schema accepts {fixture}, which the program rejects"
