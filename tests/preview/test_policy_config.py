"""Policy config resolution, as the Pulumi CLI does it (pkg/resource/analyzer/config.go)."""

from __future__ import annotations

import pytest
from pulumi.runtime.proto import analyzer_pb2

from preview.analyzer_client import to_struct
from preview.errors import PolicyConfigError
from preview.policy_config import parse_policy_config, resolve_policy_config


def analyzer_info(**initial_config: analyzer_pb2.PolicyConfig) -> analyzer_pb2.AnalyzerInfo:
    return analyzer_pb2.AnalyzerInfo(
        name="pack",
        supportsConfig=True,
        policies=[
            analyzer_pb2.PolicyInfo(
                name="versioning",
                enforcementLevel=analyzer_pb2.MANDATORY,
                policy_type=analyzer_pb2.POLICY_TYPE_RESOURCE,
            ),
            analyzer_pb2.PolicyInfo(
                name="retention",
                enforcementLevel=analyzer_pb2.ADVISORY,
                policy_type=analyzer_pb2.POLICY_TYPE_RESOURCE,
                configSchema=analyzer_pb2.PolicyConfigSchema(
                    properties=to_struct(
                        {
                            "minDays": {"type": "integer", "minimum": 1, "default": 30},
                            "mode": {"type": "string", "enum": ["GOVERNANCE", "COMPLIANCE"]},
                        }
                    )
                ),
            ),
        ],
        initialConfig=initial_config,
    )


def levels(info: analyzer_pb2.AnalyzerInfo, document: object = None) -> dict[str, str]:
    resolved = resolve_policy_config(info, parse_policy_config(document) if document is not None else None)
    return {name: config.enforcement_level for name, config in resolved.policies.items()}


def test_every_policy_gets_its_level_and_schema_defaults_without_a_config_file() -> None:
    resolved = resolve_policy_config(analyzer_info())

    assert {name: config.enforcement_level for name, config in resolved.policies.items()} == {
        "versioning": "mandatory",
        "retention": "advisory",
    }
    # Integers arrive as floats through the protobuf Struct; the schema still accepts them.
    assert resolved.policies["retention"].properties == {"minDays": 30.0}
    assert resolved.policies["versioning"].properties == {}


def test_all_sets_every_level_and_a_policy_entry_wins_over_all() -> None:
    assert levels(analyzer_info(), {"all": "disabled", "retention": "mandatory"}) == {
        "versioning": "disabled",
        "retention": "mandatory",
    }


def test_a_policy_entry_merges_properties_over_the_defaults_and_keeps_its_level() -> None:
    resolved = resolve_policy_config(analyzer_info(), parse_policy_config({"retention": {"mode": "COMPLIANCE"}}))

    assert resolved.policies["retention"].properties == {"minDays": 30.0, "mode": "COMPLIANCE"}
    assert resolved.policies["retention"].enforcement_level == "advisory"


def test_the_packs_initial_config_applies_before_the_file() -> None:
    info = analyzer_info(
        versioning=analyzer_pb2.PolicyConfig(enforcementLevel=analyzer_pb2.REMEDIATE),
        retention=analyzer_pb2.PolicyConfig(
            enforcementLevel=analyzer_pb2.MANDATORY, properties=to_struct({"minDays": 90})
        ),
    )

    resolved = resolve_policy_config(info, parse_policy_config({"versioning": "advisory"}))

    assert resolved.policies["versioning"].enforcement_level == "advisory"
    assert resolved.policies["retention"].enforcement_level == "mandatory"
    assert resolved.policies["retention"].properties == {"minDays": 90.0}
    assert resolved.warnings == []


def test_initial_config_without_a_level_downgrades_to_advisory_like_the_cli_and_warns() -> None:
    info = analyzer_info(versioning=analyzer_pb2.PolicyConfig(properties=to_struct({"note": "x"})))

    resolved = resolve_policy_config(info)

    assert resolved.policies["versioning"].enforcement_level == "advisory"
    assert "'versioning'" in resolved.warnings[0]


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"retention": {"minDays": 0}}, "policy 'retention': minDays: 0 is less than the minimum of 1"),
        ({"retention": {"mode": "NONE"}}, "policy 'retention': mode: 'NONE' is not one of"),
        ({"retention": "strict"}, "'strict' is not an enforcement level"),
        ({"retention": {"enforcementLevel": 3}}, "3 is not an enforcement level"),
        ({"retention": 5}, "must be a level string or an object"),
        ({"retentoin": "mandatory"}, "names 'retentoin', which the pack 'pack' does not have"),
        (["mandatory"], "must be a JSON object"),
    ],
)
def test_invalid_config_is_an_error_naming_the_policy_and_key(document: object, expected: str) -> None:
    with pytest.raises(PolicyConfigError) as error:
        resolve_policy_config(analyzer_info(), parse_policy_config(document))

    assert expected in str(error.value)


def test_required_properties_are_enforced() -> None:
    info = analyzer_info()
    info.policies[1].configSchema.required.append("mode")

    with pytest.raises(PolicyConfigError, match="policy 'retention': 'mode' is a required property"):
        resolve_policy_config(info)
