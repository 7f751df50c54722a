"""Helpers of the program runner that shape what the pack sees."""

from __future__ import annotations

import json

from preview.program_runner import (
    RESOURCE_REFERENCE_SIGNATURE,
    SIGNATURE_KEY,
    UNKNOWN,
    downgrade_resource_references,
    duration_seconds,
    render_policy_document,
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
