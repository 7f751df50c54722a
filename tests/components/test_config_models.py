"""Issue 9, item 1: the pydantic config models: holes a bad-input review found, secrets, partitions, the schema.

Each hole is tried as a careless pull request would write it, starting from the valid prod config.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import jsonschema
import pulumi
import pytest
import yaml
from pydantic import BaseModel

from components import arns
from stackmodel.config import ConfigError, StackConfig, parse, read_config, s3_bucket_name_problems
from stackmodel.config.buckets import BucketEntry
from stackmodel.config.errors import MAX_DAYS, MAX_MINUTES, SECRET_NOT_SHOWN
from stackmodel.config.schema import SCHEMA_PATH, render, stack_file_schema
from stackmodel.regions import region_partitions
from stackmodel.tiers import LockMode
from tests.components.harness import PROJECT, REPO, run_program_capturing
from tests.components.test_config_validation import PROD, TIGHTENED, mutated, set_


def problems_of(config: dict[str, Any], **kwargs: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(config, **kwargs)
    return caught.value.problems


# ---------------------------------------------------------------------------------------------------------------
# Namespaces: a typo of the project's name is an error; any other unknown namespace is a warning naming the key.


def test_a_namespace_one_typo_from_the_project_is_an_error_suggesting_it() -> None:
    flat = {f"{PROJECT}:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in PROD.items() if k != "buckets"}
    flat["dr-as-cod:buckets"] = json.dumps(PROD["buckets"])

    project_config = read_config(flat, PROJECT)

    assert project_config.problems == (
        "dr-as-cod:buckets: unknown namespace 'dr-as-cod'; did you mean dr-as-code:buckets? "
        "(a key there is otherwise ignored)",
    )
    with pytest.raises(ConfigError) as caught:
        parse(project_config.raw, problems=project_config.problems)
    assert caught.value.problems == list(project_config.problems)


def test_an_unrelated_namespace_is_ignored_with_a_warning_naming_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stack model returns the warning; the program's edge (components/stack_config.py) logs it."""
    from components import stack_config

    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: warnings.append(message))
    flat = {"acme:owner": "team-a", "pulumi:disable-default-providers": '["aws"]', "aws:region": "us-east-1"}
    monkeypatch.setattr(stack_config.runtime_config, "get_config_env", lambda: flat)
    monkeypatch.setattr(stack_config.runtime_config, "CONFIG", SimpleNamespace(get=dict))  # nothing set in-process

    project_config = read_config(flat, PROJECT)
    assert project_config.problems == ()
    expected = "config key 'acme:owner' is ignored: this program reads only the dr-as-code, aws and pulumi namespaces"
    assert project_config.ignored == (expected,)

    with pytest.raises(ConfigError, match="primaryRegion: is required"):  # logged before the problems are raised
        stack_config.load(PROJECT)
    assert warnings == [expected]


# ---------------------------------------------------------------------------------------------------------------
# Tier-1-only keys, literal prefixes and an explicit auto-restore switch.


def test_protected_prefixes_on_tier_2_is_rejected_not_ignored() -> None:
    config = mutated(set_(("buckets", 2, "protectedPrefixes"), ["avatars/"]))
    assert problems_of(config) == ["buckets[2].protectedPrefixes: tier 2 has no delete auto-restore"]


@pytest.mark.parametrize(("index", "tier"), [(2, 2), (4, 3)])
def test_auto_restore_on_tier_2_or_3_is_rejected_not_ignored(index: int, tier: int) -> None:
    config = mutated(set_(("buckets", index, "autoRestore"), True))
    assert problems_of(config) == [f"buckets[{index}].autoRestore: tier {tier} has no delete auto-restore"]


@pytest.mark.parametrize("prefix", ["*", "masters/*", "take?/", "[ab]/"])
def test_glob_characters_in_a_prefix_are_rejected(prefix: str) -> None:
    config = mutated(set_(("buckets", 0, "protectedPrefixes"), ["releases/", prefix]))
    assert problems_of(config) == [
        "buckets[0].protectedPrefixes[1]: is a literal key prefix, not a pattern: remove '*', '?' and '[' "
        f"('' protects the whole bucket), got {prefix!r}"
    ]


def test_an_empty_prefix_list_no_longer_turns_auto_restore_off_silently() -> None:
    config = mutated(set_(("buckets", 0, "protectedPrefixes"), []))
    assert problems_of(config) == [
        "buckets[0].protectedPrefixes: is empty; omit it to protect the whole bucket, or set autoRestore: false to "
        "turn auto-restore off"
    ]


def test_auto_restore_is_turned_off_explicitly() -> None:
    config = mutated(set_(("buckets", 0, "autoRestore"), False), lambda c: c["buckets"][0].pop("protectedPrefixes"))
    assert parse(config).buckets[0].protected_prefixes == ()
    both = mutated(set_(("buckets", 0, "autoRestore"), False))
    assert problems_of(both) == [
        "buckets[0].protectedPrefixes: has no effect with autoRestore: false; remove one of them"
    ]


def test_omitting_protected_prefixes_protects_the_whole_bucket() -> None:
    config = mutated(lambda c: c["buckets"][0].pop("protectedPrefixes"))
    assert parse(config).buckets[0].protected_prefixes == ("",)


# ---------------------------------------------------------------------------------------------------------------
# Upper bounds, reported on the key that breaks them.


@pytest.mark.parametrize(
    ("path", "key_path"),
    [
        (("buckets", 0, "noncurrentExpirationDays"), "buckets[0].noncurrentExpirationDays"),
        (("buckets", 3, "transitions", "glacierDays"), "buckets[3].transitions.glacierDays"),
        (("buckets", 3, "transitions", "standardIaDays"), "buckets[3].transitions.standardIaDays"),
        (("buckets", 2, "lockDays"), "buckets[2].lockDays"),
    ],
)
def test_every_day_count_is_at_most_100_years(path: tuple[str | int, ...], key_path: str) -> None:
    huge = 1_000_000_000_000_000_000
    assert problems_of(mutated(set_(path, huge))) == [f"{key_path}: must be at most {MAX_DAYS}, got {huge}"]


def test_every_minute_count_is_at_most_a_year() -> None:
    config = mutated(set_(("buckets", 1, "objectives"), {"logical": {"rtoMinutes": MAX_MINUTES + 1}}))
    assert problems_of(config) == [
        f"buckets[1].objectives.logical.rtoMinutes: must be at most {MAX_MINUTES}, got {MAX_MINUTES + 1}"
    ]


def test_an_email_with_a_zero_width_space_is_rejected() -> None:
    config = mutated(set_(("alertEmail",), "dr-alerts\u200b@distronation.example"))
    assert problems_of(config) == [
        "alertEmail: must be an email address without invisible or space characters, "
        "got 'dr-alerts\\u200b@distronation.example'"
    ]


# ---------------------------------------------------------------------------------------------------------------
# Tests a mutation run showed missing.


def test_a_valid_lock_mode_is_accepted_and_compliance_cannot_be_downgraded() -> None:
    assert parse(mutated(set_(("buckets", 0, "lockMode"), "COMPLIANCE"))).buckets[0].lock_mode is LockMode.COMPLIANCE
    assert parse(mutated(set_(("buckets", 2, "lockMode"), "COMPLIANCE"))).buckets[2].lock_mode is LockMode.COMPLIANCE
    assert problems_of(mutated(set_(("buckets", 0, "lockMode"), "GOVERNANCE"))) == [
        "buckets[0].lockMode: may only tighten tier 1's COMPLIANCE mode; GOVERNANCE can be bypassed"
    ]


def test_lock_days_may_only_tighten_the_tier() -> None:
    assert problems_of(mutated(set_(("buckets", 0, "lockDays"), 29))) == [
        "buckets[0].lockDays: may only tighten tier 1's object-lock retention of 30 days, got 29"
    ]
    assert parse(mutated(set_(("buckets", 0, "lockDays"), 31))).buckets[0].lock_days == 31


def test_an_objective_that_is_not_a_mapping_is_rejected() -> None:
    assert problems_of(mutated(set_(("buckets", 1, "objectives"), {"logical": 5}))) == [
        "buckets[1].objectives.logical: must be a mapping with rpoMinutes/rtoMinutes, got 5"
    ]


@pytest.mark.parametrize(
    ("name", "problems"),
    [
        ("abc", []),
        ("ab", ["must be 3 to 63 characters long, got 2"]),
        ("a" * 63, []),
        ("a" * 64, ["must be 3 to 63 characters long, got 64"]),
        ("-abc", ["must begin and end with a letter or digit"]),
        ("abc-", ["must begin and end with a letter or digit"]),
        ("0bc9", []),
    ],
)
def test_s3_bucket_name_rules_at_their_edges(name: str, problems: list[str]) -> None:
    assert s3_bucket_name_problems(name) == problems


def test_a_63_character_bucket_name_is_accepted_through_the_config() -> None:
    # "distronation-prod-" (18) + 35 + "-us-east-1" (10) = 63.
    spec = parse(mutated(set_(("buckets", 2, "name"), "u" * 35))).buckets[2]
    assert len(spec.primary_bucket_name) == 63


# ---------------------------------------------------------------------------------------------------------------
# Secrets and the error's type.


def test_the_error_is_a_run_error_the_language_host_prints_without_a_traceback() -> None:
    _, error = run_program_capturing(mutated(set_(("buckets", 2, "tier"), 4)))
    assert isinstance(error, pulumi.RunError)


@pytest.mark.parametrize(
    ("secret_key", "change", "expected"),
    [
        (
            "alertEmail",
            set_(("alertEmail",), "s3cr3t-mailbox-no-at-sign"),
            f"alertEmail: must be an email address, got {SECRET_NOT_SHOWN}",
        ),
        (
            "buckets",
            set_(("buckets", 3, "name"), "S3cr3t_Bucket"),
            f"buckets[3].name: must be lowercase letters, digits and inner hyphens, got {SECRET_NOT_SHOWN}",
        ),
    ],
)
def test_a_malformed_secure_value_appears_neither_in_the_error_nor_the_log(
    secret_key: str,
    change: Callable[[dict[str, Any]], None],
    expected: str,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = mutated(change)
    secret_value = config[secret_key] if secret_key != "buckets" else config["buckets"][3]["name"]
    monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", json.dumps([f"{PROJECT}:{secret_key}"]))
    logged: list[str] = []
    for level in ("debug", "info", "warn", "error"):
        monkeypatch.setattr(pulumi.log, level, lambda message, *a, **k: logged.append(str(message)))
    caplog.set_level(logging.DEBUG)

    _, error = run_program_capturing(config)

    assert isinstance(error, ConfigError)
    assert expected in error.problems
    out, err = capfd.readouterr()
    for text in (str(error), repr(error), out, err, caplog.text, *logged):
        assert secret_value not in text


# ---------------------------------------------------------------------------------------------------------------
# Partitions and the Powertools layer.


def test_arns_take_their_partition_from_botocore() -> None:
    assert arns.bucket_arn("b", "us-iso-east-1") == "arn:aws-iso:s3:::b"
    assert arns.bucket_arn("b", "us-isob-east-1") == "arn:aws-iso-b:s3:::b"
    assert arns.bucket_arn("b", "cn-north-1") == "arn:aws-cn:s3:::b"
    assert arns.bucket_arn("b", "us-gov-west-1") == "arn:aws-us-gov:s3:::b"
    assert arns.bucket_arn("b", "eu-west-1") == "arn:aws:s3:::b"
    assert all(arns.partition(region) == partition for region, partition in region_partitions().items())


@pytest.mark.parametrize(
    ("region", "arn"),
    [
        ("us-east-1", "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-x86_64:27"),
        (
            "cn-north-1",
            "arn:aws-cn:lambda:cn-north-1:498634801083:layer:AWSLambdaPowertoolsPythonV3-python312-x86_64:27",
        ),
        (
            "us-gov-west-1",
            "arn:aws-us-gov:lambda:us-gov-west-1:165093116878:layer:AWSLambdaPowertoolsPythonV3-python312-x86_64:27",
        ),
        (
            "us-gov-east-1",
            "arn:aws-us-gov:lambda:us-gov-east-1:165087284144:layer:AWSLambdaPowertoolsPythonV3-python312-x86_64:27",
        ),
    ],
)
def test_powertools_layer_arn_per_partition(region: str, arn: str) -> None:
    assert arns.powertools_layer_arn(region) == arn


def test_a_region_without_a_published_powertools_layer_is_a_config_error() -> None:
    config = mutated(set_(("primaryRegion",), "us-iso-east-1"), set_(("recoveryRegion",), "us-iso-west-1"))
    assert problems_of(config) == [
        "primaryRegion: Powertools publishes no Lambda layer in partition 'aws-iso', which every DR Lambda needs, "
        "got 'us-iso-east-1'",
        "recoveryRegion: Powertools publishes no Lambda layer in partition 'aws-iso', which every DR Lambda needs, "
        "got 'us-iso-west-1'",
    ]
    china = mutated(set_(("primaryRegion",), "cn-northwest-1"), set_(("recoveryRegion",), "cn-north-1"))
    assert problems_of(china) == [
        "primaryRegion: Powertools publishes its layer in partition 'aws-cn' only in cn-north-1, which every DR "
        "Lambda needs, got 'cn-northwest-1'"
    ]


# ---------------------------------------------------------------------------------------------------------------
# The stack-file schema.


def test_the_committed_schema_is_generated_from_the_models() -> None:
    assert SCHEMA_PATH.read_text() == render(), "run: uv run python -m stackmodel.config.schema"
    jsonschema.Draft202012Validator.check_schema(stack_file_schema())


def stack_files() -> list[dict[str, Any]]:
    return [
        yaml.safe_load(path.read_text()) for path in sorted(REPO.glob("Pulumi.*.yaml")) if path.name != "Pulumi.yaml"
    ]


def fixtures() -> list[dict[str, Any]]:
    """Every config a test parses as valid, written as a stack file."""
    configs = [PROD, *(mutated(set_(("buckets", p.values[0], "objectives"), p.values[1])) for p in TIGHTENED)]
    defects = REPO / "tests/preview/programs/dr_defects/__main__.py"
    assert "parse(" in defects.read_text()
    return [{"config": {f"{PROJECT}:{k}": v for k, v in c.items()}} for c in configs]


def test_stack_files_and_every_config_fixture_validate_against_the_schema() -> None:
    validator = jsonschema.Draft202012Validator(stack_file_schema())
    documents = [*stack_files(), *fixtures()]
    assert len(documents) >= 5
    for document in documents:
        assert [e.message for e in validator.iter_errors(document)] == []


def test_the_schema_rejects_what_the_models_reject_and_accepts_secure_values() -> None:
    validator = jsonschema.Draft202012Validator(stack_file_schema())
    document = stack_files()[0]
    document["config"]["dr-as-code:alertEmail"] = {"secure": "v1:abc"}
    document["config"]["dr-as-code:buckets"][0]["lockDays"] = {"secure": "v1:def"}
    document["config"]["acme:owner"] = "team-a"
    assert list(validator.iter_errors(document)) == []
    for key, value in (("dr-as-code:bukets", []), ("dr-as-code:namePrefix", 5)):
        broken = {**document, "config": {**document["config"], key: value}}
        assert list(validator.iter_errors(broken)), key
    broken_bucket = json.loads(json.dumps(document))
    broken_bucket["config"]["dr-as-code:buckets"][1]["tier"] = 7
    assert list(validator.iter_errors(broken_bucket))


PULUMI_TYPES = {"string": "string", "integer": "integer", "boolean": "boolean", "array": "array"}


def _declared_type(model: type[BaseModel], alias: str) -> tuple[str, Any]:
    schema = model.model_json_schema(by_alias=True)["properties"][alias]
    return schema.get("type", "object"), schema.get("default")


def test_pulumi_yaml_declarations_equal_the_models() -> None:
    declared = yaml.safe_load((REPO / "Pulumi.yaml").read_text())["config"]
    from_models = {
        alias: _declared_type(StackConfig, alias)
        for alias in StackConfig.model_json_schema(by_alias=True)["properties"]
        if _declared_type(StackConfig, alias)[0] in {"string", "integer", "boolean"}  # Pulumi types no structures
    }
    assert {key: (d["type"], d.get("default")) for key, d in declared.items()} == from_models
    required = set(StackConfig.model_json_schema(by_alias=True)["required"])
    assert {key for key, d in declared.items() if "default" not in d} <= required
    assert BucketEntry.model_config["extra"] == "forbid"
