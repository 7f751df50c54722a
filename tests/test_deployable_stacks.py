"""The local stack (moto) builds with every provider pointed at the emulator, and CI never deploys it.

The workflows preview and deploy only the stacks listed in ``.ci/deployable-stacks``; the listing commands are
run here exactly as the workflows run them.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from components.local import LOCAL_SERVICES
from stackmodel.config import ConfigError, parse
from tests.components.harness import REPO, prod_run, run_program, stack_config

WORKFLOWS = REPO / ".github" / "workflows"
NOT_DEPLOYABLE = {"local"}


def deployable() -> list[str]:
    lines = (REPO / ".ci" / "deployable-stacks").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def stack_step_output(workflow: str, tmp_path: Path) -> list[str]:
    """Run the workflow's `stacks` step script and read the matrix it writes to GITHUB_OUTPUT."""
    document = yaml.safe_load((WORKFLOWS / workflow).read_text())
    [step] = [step for step in document["jobs"]["test"]["steps"] if step.get("id") == "stacks"]
    output = tmp_path / f"{workflow}.out"
    subprocess.run(
        ["bash", "-euo", "pipefail", "-c", step["run"]],
        cwd=REPO,
        env={**os.environ, "GITHUB_OUTPUT": str(output)},
        check=True,
    )
    key, _, value = output.read_text().strip().partition("=")
    assert key == "stacks"
    stacks: list[str] = json.loads(value)
    return stacks


def test_every_deployable_stack_has_a_stack_file_and_local_is_not_one() -> None:
    assert deployable() == ["prod"]
    assert all((REPO / f"Pulumi.{stack}.yaml").exists() for stack in deployable())
    assert not NOT_DEPLOYABLE & set(deployable())


@pytest.mark.parametrize("workflow", ["pull-request.yml", "main.yml"])
def test_workflow_matrices_hold_only_deployable_stacks(workflow: str, tmp_path: Path) -> None:
    stacks = stack_step_output(workflow, tmp_path)
    assert sorted(stacks) == sorted(deployable())
    stack_files = {path.name.removeprefix("Pulumi.").removesuffix(".yaml") for path in REPO.glob("Pulumi.*.yaml")}
    assert "local" in stack_files  # the stack exists, and is still in neither matrix
    assert not (stack_files - set(deployable())) & set(stacks)
    text = (WORKFLOWS / workflow).read_text()
    assert "for stack_file in Pulumi.*.yaml" not in text  # no step globs stack files


def test_local_stack_points_every_provider_at_the_emulator() -> None:
    run = run_program(stack_config("local"))
    providers = run.of_type("pulumi:providers:aws")
    assert {provider.inputs["region"] for provider in providers} == {"us-east-1", "us-west-2"}
    for provider in providers:
        inputs = provider.inputs
        endpoints = json.loads(inputs["endpoints"]) if isinstance(inputs["endpoints"], str) else inputs["endpoints"]
        assert endpoints == [dict.fromkeys(LOCAL_SERVICES, "http://127.0.0.1:5000")], provider.name
        for flag in ("skipCredentialsValidation", "skipRequestingAccountId", "skipMetadataApiCheck", "s3UsePathStyle"):
            assert str(inputs[flag]).lower() == "true", (provider.name, flag)
    used = {r.type.split(":")[1].split("/")[0] for r in run.registrations if r.type.startswith("aws:")}
    endpoint_services = {service.rstrip("_") for service in LOCAL_SERVICES} | {"cloudwatch", "lambda"}
    if "firehose" in LOCAL_SERVICES:  # Firehose streams are aws:kinesis/firehoseDeliveryStream
        endpoint_services.add("kinesis")
    assert used <= endpoint_services, used - endpoint_services  # every service the program uses is redirected


def test_prod_providers_carry_no_local_endpoint() -> None:
    run = prod_run(preview=True)
    for provider in run.of_type("pulumi:providers:aws"):
        assert "endpoints" not in provider.inputs and "s3UsePathStyle" not in provider.inputs
        assert provider.inputs["skipCredentialsValidation"] == "false"  # the provider's default: checks stay on


@pytest.mark.parametrize("url", ["https://s3.amazonaws.com", "http://10.0.0.5:5000", "ftp://127.0.0.1", "x"])
def test_local_endpoint_must_be_on_this_machine(url: str) -> None:
    raw = {**stack_config("local"), "localEndpoint": url}
    with pytest.raises(ConfigError, match="localEndpoint"):
        parse(raw)
