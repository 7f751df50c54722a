"""Alert topics: one per Region asked for, the same subscription on each, and a warning for undeliverable mail."""

from __future__ import annotations

import pytest

from components.alerting import reserved_email_domain
from tests.components.harness import run_program, stack_config


@pytest.mark.parametrize(
    ("email", "reserved"),
    [
        ("dr-alerts@distronation.example", ".example"),
        ("a@b.test", ".test"),
        ("a@host.invalid", ".invalid"),
        ("a@localhost", ".localhost"),
        ("a@example.com", "example.com"),
        ("a@mail.example.org", "example.org"),
        ("oncall@distronation.com", None),
        ("a@example.co", None),
        ("a@notexample.com", None),
    ],
)
def test_reserved_domains_are_those_of_rfc_2606_and_6761(email: str, reserved: str | None) -> None:
    assert reserved_email_domain(email) == reserved


def test_a_reserved_alert_address_is_warned_about_at_preview(caplog: pytest.LogCaptureFixture) -> None:
    run_program(stack_config("prod"), preview=True)  # without an engine, pulumi.log writes to Python logging
    [warning] = [r for r in caplog.records if "reserved domain" in r.getMessage()]
    assert warning.levelname == "WARNING" and "dr-alerts@distronation.example" in warning.getMessage()


def test_a_deliverable_alert_address_is_not_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    run = run_program({**stack_config("prod"), "alertEmail": "oncall@distronation.com"}, preview=True)
    assert not [r for r in caplog.records if "reserved domain" in r.getMessage()]
    topics = run.of_type("aws:sns/topic:Topic")
    assert sorted(t.inputs["region"] for t in topics) == ["us-east-1", "us-west-2"]
    assert {t.inputs["name"] for t in topics} == {"distronation-prod-dr-alerts"}
    # The first Region keeps the unsuffixed names, so an existing stack keeps its confirmed subscription.
    assert sorted(t.name for t in topics) == ["dr-alerts", "dr-alerts-us-west-2"]
