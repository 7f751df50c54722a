"""``drills``: a schedule the drill alarm can watch and a pause a drill can afford, or no resource at all.

Every case starts from the prod config (both drill switches on) and changes one ``drills`` key; the real
``__main__.py`` runs under the mock runtime, raises ``ConfigError`` and registers nothing.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from stackmodel.config import ConfigError
from tests.components.harness import run_program_capturing, stack_config


def prod_with(**drills: Any) -> dict[str, Any]:
    config = copy.deepcopy(stack_config("prod"))
    config["drills"].update(drills)
    return config


MALFORMED = [
    pytest.param(
        {"schedule": "cron(0 3 ? * SUN *)"},
        [
            (
                "drills.schedule: must be an EventBridge rate expression such as 'rate(7 days)' ('cron(0 3 ? * SUN "
                "*)' is not rate(<n> minutes|hours|days)); cron is not accepted because the drill alarm's window is "
                "derived from the interval, got 'cron(0 3 ? * SUN *)'"
            )
        ],
        id="schedule-cron",
    ),
    pytest.param(
        {"schedule": "rate(30 minutes)"},
        [
            (
                "drills.schedule: must be between rate(1 hour) and rate(7 days): the drill alarm's window is one "
                "interval, got 'rate(30 minutes)'"
            )
        ],
        id="schedule-under-an-hour",
    ),
    pytest.param(
        {"schedule": "rate(8 days)"},
        [
            (
                "drills.schedule: must be between rate(1 hour) and rate(7 days): the drill alarm's window is one "
                "interval, got 'rate(8 days)'"
            )
        ],
        id="schedule-over-7-days",
    ),
    pytest.param(
        {"schedule": "rate(1 days)"},
        [
            (
                "drills.schedule: must be an EventBridge rate expression such as 'rate(7 days)' ('rate(1 days)': "
                "EventBridge wants the singular unit for 1 and the plural otherwise); cron is not accepted because "
                "the drill alarm's window is derived from the interval, got 'rate(1 days)'"
            )
        ],
        id="schedule-plural-for-1",
    ),
    pytest.param(
        {"schedule": "rate(2 hour)"},
        [
            (
                "drills.schedule: must be an EventBridge rate expression such as 'rate(7 days)' ('rate(2 hour)': "
                "EventBridge wants the singular unit for 1 and the plural otherwise); cron is not accepted because "
                "the drill alarm's window is derived from the interval, got 'rate(2 hour)'"
            )
        ],
        id="schedule-singular-for-2",
    ),
    pytest.param({"pauseMinutes": 0}, ["drills.pauseMinutes: must be at least 1, got 0"], id="pauseMinutes-0"),
    pytest.param({"pauseMinutes": 15}, ["drills.pauseMinutes: must be at most 14, got 15"], id="pauseMinutes-15"),
]


@pytest.mark.parametrize(("drills", "expected"), MALFORMED)
def test_malformed_drills_config_fails_before_any_resource(drills: dict[str, Any], expected: list[str]) -> None:
    run, error = run_program_capturing(prod_with(**drills))

    assert isinstance(error, ConfigError), f"the program accepted a malformed drills config: {error!r}"
    assert error.problems == expected
    assert run.registrations == []


@pytest.mark.parametrize("schedule", ["rate(1 hour)", "rate(7 days)", "rate(168 hours)"])
def test_the_schedule_limits_themselves_are_accepted(schedule: str) -> None:
    run, error = run_program_capturing(prod_with(schedule=schedule, pauseMinutes=14))
    assert error is None
    assert run.registrations


def test_a_table_with_more_receiving_regions_than_fis_stop_conditions_stops_before_any_resource() -> None:
    config = prod_with()
    users = next(table for table in config["tables"] if table["name"] == "users")  # drilled: RPO 15 > pause 5
    users["replicaRegions"] = ["us-west-2", "us-west-1", "ca-central-1", "eu-west-1", "eu-central-1", "eu-west-2"]
    run, error = run_program_capturing(config)
    assert isinstance(error, ConfigError)
    index = config["tables"].index(users)
    assert (
        f"tables[{index}].replicaRegions: with drills.faultInjection the table's replication pause needs one stop "
        "alarm per receiving Region, and FIS allows at most 5; got 6"
    ) in error.problems
    assert run.registrations == []


def test_tables_whose_regional_rpo_the_pause_would_break_get_no_template() -> None:
    from components.drills import fis_tables
    from stackmodel.config import parse

    settings = parse(stack_config("prod"))
    # orders: MRSC, regional RPO 0; transactions: MREC, 1 min; users: the tier's 15 min, above the 5-minute pause.
    assert [table.logical for table in fis_tables(settings)] == ["users"]
