"""The program under the mock runtime twice: a first preview (computed outputs unknown) and an update whose mocks
answer as AWS would, with realistic ids and ARNs per type (``arn:aws:kms:<region>:<account>:key/<uuid>``), so that
checks on ARNs see the shapes a deploy produces, not ``arn:aws:mock:::name``."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pulumi.runtime.mocks import MockResourceArgs

from stackmodel.regions import partition
from tests.components.harness import ACCOUNT_ID, PROJECT, REPO, PreviewMocks, Run, provider_outputs, run_program

STACKS = Path(__file__).resolve().parent / "stacks"


def _arn(service: str, region: str, resource: str) -> str:
    return f"arn:{partition(region)}:{service}:{region}:{ACCOUNT_ID}:{resource}"


class RealisticMocks(PreviewMocks):
    """Update mode: ids and ARNs in the shape each AWS API returns them."""

    def __init__(self) -> None:
        super().__init__(preview=False)

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        inputs: Mapping[str, Any] = args.inputs
        outputs = provider_outputs(inputs)
        region = str(inputs.get("region") or "us-east-1")
        name = str(inputs.get("name") or args.name)
        generated = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{args.typ}/{args.name}"))
        token = args.typ
        if token == "pulumi:providers:aws":
            return generated, outputs
        if token == "aws:kms/key:Key":
            outputs |= {"keyId": generated, "arn": _arn("kms", region, f"key/{generated}")}
            return generated, outputs
        if token == "aws:kms/alias:Alias":
            return name, outputs | {"arn": _arn("kms", region, name)}
        if token == "aws:s3/bucket:Bucket":
            bucket = str(inputs["bucket"])
            return bucket, outputs | {"arn": f"arn:{partition(region)}:s3:::{bucket}", "bucket": bucket}
        if token == "aws:iam/role:Role":
            arn = f"arn:{partition(region)}:iam::{ACCOUNT_ID}:role/{name}"
            return name, outputs | {"arn": arn, "name": name}
        if token == "aws:sns/topic:Topic":
            arn = _arn("sns", region, name)
            return arn, outputs | {"arn": arn}
        if token == "aws:sns/topicSubscription:TopicSubscription":
            arn = f"{inputs.get('topic')}:{generated}"
            return arn, outputs | {"arn": arn}
        if token == "aws:lambda/function:Function":
            return name, outputs | {"arn": _arn("lambda", region, f"function:{name}"), "name": name}
        if token == "aws:lambda/functionUrl:FunctionUrl":  # https://<url-id>.lambda-url.<region>.on.aws/
            url_id = generated.replace("-", "")
            return str(inputs["functionName"]), outputs | {
                "functionUrl": f"https://{url_id}.lambda-url.{region}.on.aws/",
                "urlId": url_id,
            }
        if token == "aws:route53/healthCheck:HealthCheck":  # Route 53 health check ids are UUIDs
            return generated, outputs | {"arn": f"arn:{partition(region)}:route53:::healthcheck/{generated}"}
        if token == "aws:cloudwatch/logGroup:LogGroup":
            return name, outputs | {"arn": _arn("logs", region, f"log-group:{name}")}
        if token == "aws:cloudwatch/eventRule:EventRule":
            return args.name, outputs | {"arn": _arn("events", region, f"rule/{args.name}"), "name": args.name}
        if token == "aws:cloudwatch/metricAlarm:MetricAlarm":
            return name, outputs | {"arn": _arn("cloudwatch", region, f"alarm:{name}")}
        if token == "aws:sfn/stateMachine:StateMachine":  # the ARN is the state machine's id
            arn = _arn("states", region, f"stateMachine:{name}")
            return arn, outputs | {"arn": arn}
        if token.startswith("aws:s3/"):  # a bucket's sub-resources are identified by their bucket
            return str(inputs.get("bucket") or args.name), outputs
        return f"{args.name}-{generated[:8]}", outputs


def stack_file_config(path: Path, project: str = PROJECT) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    return {key.split(":", 1)[1]: value for key, value in document["config"].items() if key.startswith(f"{project}:")}


# The prod stack, and a config that turns every feature on, kept away from the repository root (the workflows
# deploy every Pulumi.<stack>.yaml found there).
CONFIGS: dict[str, Path] = {
    "prod": REPO / "Pulumi.prod.yaml",
    "all-features": STACKS / "Pulumi.all-features.yaml",
    # The second program (stacks/isolated-vault): the all-features stack's vault in the other account.
    "isolated-vault": STACKS / "Pulumi.isolated-vault.yaml",
}
# Stacks of another program than the repository's own: (program directory, its project name).
PROGRAMS: dict[str, tuple[Path, str]] = {"isolated-vault": (REPO / "stacks" / "isolated-vault", "dr-isolated-vault")}


def _config(stack: str) -> tuple[dict[str, Any], Path]:
    directory, project = PROGRAMS.get(stack, (REPO, PROJECT))
    return stack_file_config(CONFIGS[stack], project), directory


def preview_run(stack: str) -> Run:
    config, directory = _config(stack)
    return run_program(config, preview=True, repo=directory)


def update_run(stack: str) -> Run:
    config, directory = _config(stack)
    return run_program(config, preview=False, mocks=RealisticMocks(), repo=directory)
