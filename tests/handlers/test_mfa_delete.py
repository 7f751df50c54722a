"""`drctl verify-mfa-delete`: the live check that follows the root runbook.

moto does not model MFA delete (GUIDE §3), so the MFA-delete state is injected by wrapping
``get_bucket_versioning``; versioning itself is real on the emulator.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from handlers import aws, cli
from handlers.s3.mfa_delete import mfa_delete_state


def _make_bucket(name: str, versioned: bool) -> Any:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=name)
    if versioned:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return s3


def test_state_reads_live_versioning(moto_endpoint: str) -> None:
    s3 = _make_bucket("plain", versioned=False)
    assert mfa_delete_state(s3, "plain").versioning == "Never enabled"
    s3.put_bucket_versioning(Bucket="plain", VersioningConfiguration={"Status": "Enabled"})
    state = mfa_delete_state(s3, "plain")
    assert state.versioning == "Enabled"
    assert not state.compliant, "versioning alone is not MFA delete"


@pytest.mark.parametrize(("mfa_delete", "exit_code"), [("Enabled", 0), ("Disabled", 1)])
def test_cli_exit_code_follows_the_live_state(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, mfa_delete: str, exit_code: int
) -> None:
    _make_bucket("tier1-primary", versioned=True)
    real_client = aws.client

    def client_reporting_mfa_delete(service: str, *args: Any, **kwargs: Any) -> Any:
        s3 = real_client(service, *args, **kwargs)
        real = s3.get_bucket_versioning
        s3.get_bucket_versioning = lambda **kw: {**real(**kw), "MFADelete": mfa_delete}
        return s3

    monkeypatch.setattr(aws, "client", client_reporting_mfa_delete)
    result = CliRunner().invoke(cli.load_commands(), ["verify-mfa-delete", "tier1-primary", "--json"])
    assert result.exit_code == exit_code, result.output
    document = json.loads(result.stdout)
    assert document["compliant"] is (exit_code == 0)
    assert document["buckets"] == [
        {"bucket": "tier1-primary", "versioning": "Enabled", "mfa_delete": mfa_delete, "compliant": exit_code == 0}
    ]


def test_cli_reports_an_unversioned_bucket_as_non_compliant(moto_endpoint: str) -> None:
    _make_bucket("never-versioned", versioned=False)
    result = CliRunner().invoke(cli.load_commands(), ["verify-mfa-delete", "never-versioned", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["buckets"][0]["mfa_delete"] == "Never enabled"


def test_cli_on_a_missing_bucket_exits_with_aws_code(moto_endpoint: str) -> None:
    result = CliRunner().invoke(cli.load_commands(), ["verify-mfa-delete", "no-such-bucket"])
    assert result.exit_code == cli.EXIT_AWS and "NoSuchBucket" in result.stderr


def test_cli_errors_under_json_are_one_json_object_on_stdout(moto_endpoint: str) -> None:
    _make_bucket("tier1-primary", versioned=True)
    result = CliRunner().invoke(cli.load_commands(), ["verify-mfa-delete", "tier1-primary", "no-such-bucket", "--json"])
    assert result.exit_code == cli.EXIT_AWS
    error = json.loads(result.stdout)  # one object, the error, not a partial report on the buckets checked
    assert error["exit_code"] == cli.EXIT_AWS and "NoSuchBucket" in error["error"]
