"""Command-line surface: usage errors are exit 2, like every other error that checked nothing."""

from __future__ import annotations

import pytest

from preview.cli import main


def test_a_missing_option_is_a_usage_error_with_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--stack", "prod"]) == 2
    assert "Missing option '--program'" in capsys.readouterr().err


def test_help_lists_every_option(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # rich truncates long option names in narrow terminals

    assert main(["--help"]) == 0
    help_text = capsys.readouterr().out
    for option in ("--program", "--stack", "--policy-pack", "--policy-config", "--json", "--fail-on-unverifiable"):
        assert option in help_text
