"""Helpers of the program runner that shape what the pack sees."""

from __future__ import annotations

import json

from preview.invoke_answers import UNANSWERED, builtin_answer, is_subset, render_policy_document, user_answer
from preview.program_runner import (
    RESOURCE_REFERENCE_SIGNATURE,
    SIGNATURE_KEY,
    UNKNOWN,
    downgrade_resource_references,
    duration_seconds,
)


def test_resource_references_become_ids_unknown_ids_or_component_urns() -> None:
    def reference(**fields: str) -> dict[str, str]:
        return {SIGNATURE_KEY: RESOURCE_REFERENCE_SIGNATURE, "urn": "urn:a", **fields}

    value = {"known": reference(id="bucket-1"), "new": [reference(id="")], "component": reference()}

    assert downgrade_resource_references(value) == {"known": "bucket-1", "new": [UNKNOWN], "component": "urn:a"}


def test_custom_timeouts_are_converted_to_seconds() -> None:
    assert duration_seconds("1h30m") == 5400
    assert duration_seconds("250ms") == 0.25
    assert duration_seconds("") == 0


def test_policy_documents_render_like_the_provider() -> None:
    document = json.loads(
        render_policy_document(
            {
                "statements": [
                    {
                        "sid": "DenyInsecureTransport",
                        "effect": "Deny",
                        "actions": ["s3:*"],
                        "resources": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
                        "principals": [{"type": "*", "identifiers": ["*"]}],
                        "conditions": [{"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}],
                    },
                    {
                        "actions": ["s3:GetObject"],
                        "principals": [{"type": "Service", "identifiers": ["s3.amazonaws.com"]}],
                    },
                ]
            }
        )
    )

    assert document == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Action": "s3:*",
                "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
                "Principal": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {"Effect": "Allow", "Action": "s3:GetObject", "Principal": {"Service": "s3.amazonaws.com"}},
        ],
    }


def test_user_answers_win_by_first_subset_match_of_the_arguments() -> None:
    answers = {
        "aws:route53/getZone:getZone": [
            {"args": {"name": "internal.example", "privateZone": True}, "result": {"zoneId": "ZPRIVATE"}},
            {"args": {"name": "example.com"}, "result": {"zoneId": "ZFIRST"}},
            {"args": {"name": "example.com"}, "result": {"zoneId": "ZSECOND"}},
            {"result": {"zoneId": "ZANY"}},
        ]
    }
    token = "aws:route53/getZone:getZone"

    assert user_answer(answers, token, {"name": "example.com", "privateZone": False}) == {"zoneId": "ZFIRST"}
    assert user_answer(answers, token, {"name": "internal.example", "privateZone": True}) == {"zoneId": "ZPRIVATE"}
    assert user_answer(answers, token, {"name": "other.example"}) == {"zoneId": "ZANY"}
    assert user_answer(answers, "aws:ec2/getAmi:getAmi", {}) is UNANSWERED
    assert is_subset({"filters": [{"name": "x"}]}, {"filters": [{"name": "x"}], "owners": ["self"]})
    assert not is_subset({"filters": [{"name": "x"}]}, {"filters": [{"name": "y"}]})


def test_common_data_sources_get_well_shaped_fake_answers() -> None:
    zones = builtin_answer("aws:index/getAvailabilityZones:getAvailabilityZones", {}, "eu-west-1")
    assert zones["names"] == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    zone = builtin_answer("aws:route53/getZone:getZone", {"name": "example.com"}, "eu-west-1")
    assert zone["zoneId"] and zone["name"] == "example.com."
    assert builtin_answer("aws:ec2/getAmi:getAmi", {}, "eu-west-1")["id"].startswith("ami-")
    assert (
        builtin_answer("aws:index/getCallerIdentity:getCallerIdentity", {}, "eu-west-1")["accountId"] == "123456789012"
    )
    assert builtin_answer("aws:lambda/getFunction:getFunction", {}, "eu-west-1") is UNANSWERED
