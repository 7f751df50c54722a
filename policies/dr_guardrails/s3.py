"""S3 bucket policies: versioning, MFA delete, object lock, replication, encryption and exposure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from pulumi_policy import PolicyResource, ResourceValidationArgs

from . import config as pack_config
from . import types
from .config import waiver_for
from .framework import Config
from .index import StackIndex
from .inline import INLINE_ARGUMENTS, object_lock_enabled
from .props import (
    CANNOT_VERIFY_PREFIX,
    MISSING,
    UNKNOWN,
    InvalidDocument,
    Tags,
    as_list,
    cannot_verify,
    contains_unknown,
    describe,
    elements,
    expect,
    is_absent,
    label,
    lookup,
    number,
    policy_statements,
    region_of,
    to_plain,
)
from .tiers import MFA_ATTESTED_TAG, TIER_TAG, VALID_TIERS, in_scope, lowest_tier_minimum, tier_minimum

KMS_ALGORITHMS: Final = ("aws:kms", "aws:kms:dsse")
PUBLIC_ACCESS_BLOCK_FLAGS: Final = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
MFA_RUNBOOK: Final = (
    "Only the root user can enable MFA delete "
    "(https://docs.aws.amazon.com/AmazonS3/latest/userguide/MultiFactorAuthenticationDelete.html): as root, run "
    "`aws s3api put-bucket-versioning --bucket <name> --versioning-configuration "
    "Status=Enabled,MFADelete=Enabled --mfa '<root-mfa-device-arn> <current-code>'`, then {record}; `drctl` "
    "checks the live state after deploy. Never put an MFA code in config."
)
# dr-as-code's components tag every child with `dr:component`: only their buckets get advice in that project's
# config terms; any other program is told which argument of its own resource to set.
COMPONENT_TAG: Final = "dr:component"


def mfa_runbook(bucket: PolicyResource, tags: Any) -> str:
    if isinstance(tags.get(COMPONENT_TAG), str):
        record = (
            "record the date as the bucket's `mfaDeleteAttested` in the stack config so the component writes "
            f"the `{MFA_ATTESTED_TAG}` tag"
        )
    else:
        record = f"add the tag `{MFA_ATTESTED_TAG}: <YYYY-MM-DD>` to the `tags` argument of bucket '{bucket.name}'"
    return MFA_RUNBOOK.format(record=record)


MFA_REMEDIATION: Final = MFA_RUNBOOK.format(record=f"tag the bucket `{MFA_ATTESTED_TAG}: <YYYY-MM-DD>`")


Problems = Callable[[Any, Config], Iterable[str]]


# ---------------------------------------------------------------------------------------------
# Problems of one child resource, shared by the resource policy and the stack "attached" policy


def versioning_problems(props: Any, _config: Config) -> Iterator[str]:
    yield from expect(props, ("versioningConfiguration", "status"), "Enabled")


def inventory_problems(props: Any, _config: Config) -> Iterator[str]:
    """A restore plan needs every version (only IncludedObjectVersions=All reports version ids and delete markers),
    daily, in Parquet (the format the SQL planner reads), and the configuration switched on."""
    yield from expect(props, ("includedObjectVersions",), "All")
    yield from expect(props, ("schedule", "frequency"), "Daily")
    yield from expect(props, ("destination", "bucket", "format"), "Parquet")
    enabled = lookup(props, "enabled")
    if enabled is UNKNOWN:
        yield cannot_verify("enabled")
    elif enabled is not None and enabled is not True:
        yield f"`enabled` must be True (declared: {describe(enabled)})"


def object_lock_retention_problems(props: Any, config: Config) -> Iterator[str]:
    enabled = lookup(props, "objectLockEnabled")  # the provider defaults it to "Enabled"
    if enabled is UNKNOWN:
        yield cannot_verify("objectLockEnabled")
    elif not is_absent(enabled) and enabled != "Enabled":
        yield f'objectLockEnabled must be "Enabled" (declared: {describe(enabled)})'

    retention = ("rule", "defaultRetention")
    mode = lookup(props, *retention, "mode")
    allowed = list(config["allowedModes"])
    if mode is UNKNOWN:
        yield cannot_verify(label(*retention, "mode"))
    elif mode not in allowed:
        yield f"{label(*retention, 'mode')} must be one of {allowed} (declared: {describe(mode)})"

    days, years = lookup(props, *retention, "days"), lookup(props, *retention, "years")
    if days is UNKNOWN or years is UNKNOWN:
        yield cannot_verify(label(*retention, "days" if days is UNKNOWN else "years"))
        return
    retention_days = number(days) if number(days) is not None else _years_to_days(years)
    minimum = config["minRetentionDays"]
    if retention_days is None or retention_days < minimum:
        scope = f" for {config['minimumScope']}" if config.get("minimumScope") else ""
        yield f"default retention must be at least {minimum} days{scope} (declared: {_declared_retention(days, years)})"


def _declared_retention(days: Any, years: Any) -> str:
    if not is_absent(days):
        return f"{describe(days)} days"
    if not is_absent(years):
        return f"{describe(years)} years"
    return "neither days nor years is set"


def lock_minimum_config(config: Config, tags: Tags | None) -> Config:
    """The object-lock config with ``minRetentionDays`` resolved from the bucket's tier (``tier<N>MinDays``).

    A lock configuration alone carries no tags (the tier is on its bucket): the resource policy holds it to the
    lowest tier minimum, and ``aws-s3-bucket-object-lock-attached`` checks the bucket's own tier.
    """
    if tags is None:
        return {**config, "minRetentionDays": lowest_tier_minimum(config), "minimumScope": "any tier (the lowest)"}
    minimum, scope = tier_minimum(tags, config)
    if minimum is UNKNOWN:  # require_child reports the unknown tier when the strictest minimum is not met
        return {**config, "minRetentionDays": config["tier1MinDays"], "minimumScope": ""}
    return {**config, "minRetentionDays": minimum, "minimumScope": scope}


def check_object_lock_retention(args: ResourceValidationArgs, config: Config) -> Iterator[str]:
    """The resource policy: a lock configuration (lowest tier minimum) or a bucket's inline lock (its tier's)."""
    if args.resource_type in types.BUCKET:
        child = _inline_child(args, "object_lock")
        if child is not None:
            tier_config = lock_minimum_config(config, Tags(args.props))
            argument_name = INLINE_ARGUMENTS["object_lock"][0]
            problems = object_lock_retention_problems(child.props, tier_config)
            yield from (f"inline {argument_name}: {problem}" for problem in problems)
        return
    yield from object_lock_retention_problems(args.props, lock_minimum_config(config, None))


def _years_to_days(years: Any) -> float | None:
    value = number(years)
    return None if value is None else value * 365


def encryption_problems(props: Any, config: Config) -> Iterator[str]:
    rules = elements(props, "rules")
    if rules is UNKNOWN:
        yield cannot_verify("rules")
        return
    if not rules:
        yield "no encryption rule is declared (rules is empty)"
    for position, rule in enumerate(rules):
        default = (position, "applyServerSideEncryptionByDefault")
        algorithm = lookup(rules, *default, "sseAlgorithm")
        if algorithm is UNKNOWN:
            yield cannot_verify(label("rules", *default, "sseAlgorithm"))
        elif algorithm not in KMS_ALGORITHMS:
            yield (
                f"{label('rules', *default, 'sseAlgorithm')} must be one of {list(KMS_ALGORITHMS)} "
                f"(declared: {describe(algorithm)})"
            )
        # An unknown key id still names a key (it is another resource's output), so only absence fails.
        if config["requireCustomerManagedKey"] and is_absent(
            lookup(rule, "applyServerSideEncryptionByDefault", "kmsMasterKeyId")
        ):
            yield (
                f"{label('rules', *default, 'kmsMasterKeyId')} must name a customer-managed KMS key "
                "(the AWS managed key cannot be shared with the replication role or rotated on your schedule)"
            )


def public_access_block_problems(props: Any, _config: Config) -> Iterator[str]:
    for flag in PUBLIC_ACCESS_BLOCK_FLAGS:
        yield from expect(props, (flag,), True)


def tls_policy_problems(props: Any, _config: Config) -> Iterator[str]:
    try:
        statements = policy_statements(lookup(props, "policy"))
    except InvalidDocument as error:
        yield f"policy: {error}"
        return
    if statements is UNKNOWN:
        # A Deny cannot be undone by another statement, so one fully known TLS statement settles it even when
        # another statement holds a value unknown at preview (a new key's ARN in an upload rule, say).
        if not any(_denies_insecure_transport(statement) for statement in _known_statements(props)):
            yield cannot_verify("policy")
    elif statements is MISSING:
        yield "policy is not set"
    elif not any(_denies_insecure_transport(statement) for statement in statements):
        yield (
            'policy has no statement with Effect "Deny", Principal "*", Action "s3:*" and Condition '
            '{"Bool": {"aws:SecureTransport": "false"}}'
        )


def _known_statements(props: Any) -> list[dict[str, Any]]:
    """The statements of a structured policy document that hold no unknown value (none for a JSON string)."""
    plain = to_plain(lookup(props, "policy"))
    statements = plain.get("Statement") if isinstance(plain, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        return []
    return [item for item in statements if isinstance(item, dict) and not contains_unknown(item)]


def _denies_insecure_transport(statement: dict[str, Any]) -> bool:
    principal = statement.get("Principal")
    everyone = principal == "*" or (isinstance(principal, dict) and "*" in as_list(principal.get("AWS")))
    actions = {str(action).lower() for action in as_list(statement.get("Action"))}
    conditions = statement.get("Condition")
    insecure = False
    if isinstance(conditions, dict):
        for operator, clause in conditions.items():
            if str(operator).lower() in ("bool", "boolifexists") and isinstance(clause, dict):
                for key, value in clause.items():
                    values = {str(item).lower() for item in as_list(value)}
                    insecure = insecure or (str(key).lower() == "aws:securetransport" and values == {"false"})
    return statement.get("Effect") == "Deny" and everyone and bool(actions & {"s3:*", "*"}) and insecure


# ---------------------------------------------------------------------------------------------
# Resource policies


def resource_check(problems: Problems, kind: str = "") -> Callable[[ResourceValidationArgs, Config], Iterator[str]]:
    """A resource check of the child resource; on a bucket, of its v7 inline argument of ``kind`` if declared."""

    def check(args: ResourceValidationArgs, config: Config) -> Iterator[str]:
        if args.resource_type in types.BUCKET:
            if not kind:
                return
            child = _inline_child(args, kind)
            if child is not None:
                argument_name = INLINE_ARGUMENTS[kind][0]
                yield from (f"inline {argument_name}: {problem}" for problem in problems(child.props, config))
            return
        yield from problems(args.props, config)

    return check


def _inline_child(args: ResourceValidationArgs, kind: str) -> Any:
    props = INLINE_ARGUMENTS[kind][1](args.props)
    return None if props is MISSING else type("Inline", (), {"props": props})()


def check_bucket_object_lock_enabled(args: ResourceValidationArgs, config: Config) -> Iterator[str]:
    scope = in_scope(Tags(args.props), config["tiers"])
    if scope is False:
        return
    problems = [] if object_lock_enabled(args.props) is True else list(expect(args.props, ("objectLockEnabled",), True))
    if problems and scope is UNKNOWN:
        yield cannot_verify("tags.dr:tier (it decides whether object lock is required)")
        return
    for problem in problems:
        yield f"{problem}; object lock can only be turned on when the bucket is created"


# ---------------------------------------------------------------------------------------------
# Stack policies: every bucket in scope has a compliant child


@dataclass(frozen=True)
class ChildFindings:
    """What stops a bucket's children of one kind from satisfying a rule."""

    problems: list[str]
    unknown: list[str]

    @property
    def verdict(self) -> Any:
        """True (a compliant child exists), False, or UNKNOWN (only unknowns stand in the way)."""
        if self.problems:
            return False
        return UNKNOWN if self.unknown else True


def child_findings(
    index: StackIndex, bucket: PolicyResource, kind: str, problems: Problems, config: Config
) -> ChildFindings:
    """Nothing when at least one child of ``kind`` complies; unknowns alone when one child might."""
    children = index.children(bucket, kind)
    if not children:
        return ChildFindings([f"no {_CHILD_NOUNS[kind]} is linked to this bucket through its `bucket` input"], [])
    failures: list[str] = []
    for child in children:
        found = list(problems(child.props, config))
        if not found:
            return ChildFindings([], [])
        unknown = [message for message in found if message.startswith(CANNOT_VERIFY_PREFIX)]
        if len(unknown) == len(found):
            prefix_length = len(CANNOT_VERIFY_PREFIX) + 2
            return ChildFindings([], [cannot_verify(f"{child.name}.{message[prefix_length:]}") for message in unknown])
        failures.extend(f"{child.name}: {message}" for message in found)
    return ChildFindings(failures, [])


_CHILD_NOUNS: Final = {
    "versioning": "BucketVersioning",
    "object_lock": "BucketObjectLockConfiguration",
    "lifecycle": "BucketLifecycleConfiguration",
    "encryption": "BucketServerSideEncryptionConfiguration",
    "replication": "BucketReplicationConfig",
    "public_access_block": "BucketPublicAccessBlock",
    "policy": "BucketPolicy",
    "inventory": "Inventory",
}


def require_child(
    kind: str, problems: Problems, what: str, bucket_config: Callable[[Config, Tags], Config] | None = None
) -> Callable[[StackIndex, Config], Iterator[tuple[str, str]]]:
    """A stack check: every bucket of the configured tiers has a compliant ``kind`` child.

    ``bucket_config`` derives a bucket's own config from its tags (a tier's minimum, say).
    """

    def check(index: StackIndex, config: Config) -> Iterator[tuple[str, str]]:
        for bucket in index.buckets:
            scope = in_scope(index.tags(bucket), config["tiers"])
            if scope is False:
                continue
            own_config = bucket_config(config, index.tags(bucket)) if bucket_config else config
            findings = child_findings(index, bucket, kind, problems, own_config)
            if findings.verdict is not True and scope is UNKNOWN:
                yield (
                    bucket.urn,
                    cannot_verify(f"tags.dr:tier of bucket '{bucket.name}' (it decides whether {what} applies)"),
                )
                continue
            for problem in findings.problems:
                yield bucket.urn, f"bucket '{bucket.name}' needs {what}: {problem}"
            for unknown in findings.unknown:
                yield bucket.urn, unknown

    return check


# ---------------------------------------------------------------------------------------------
# MFA delete


@dataclass(frozen=True)
class MfaState:
    """How a bucket stands on MFA delete: declared, attested, or only unknown."""

    declared: bool
    attested: str | None
    unknown: list[str]
    notes: list[str]

    @property
    def on(self) -> bool:
        return self.declared or self.attested is not None


def mfa_state(index: StackIndex, bucket: PolicyResource, today: dt.date) -> MfaState:
    declared, unknown, notes = False, [], []
    for versioning in index.children(bucket, "versioning"):
        value = lookup(versioning.props, "versioningConfiguration", "mfaDelete")
        if value is UNKNOWN:
            unknown.append(f"{versioning.name}.versioningConfiguration.mfaDelete")
        declared = declared or value == "Enabled"
    attested = None
    tag = index.tags(bucket).get(MFA_ATTESTED_TAG)
    if tag is UNKNOWN:
        unknown.append(f"tags.{MFA_ATTESTED_TAG}")
    elif isinstance(tag, str):
        try:
            if dt.date.fromisoformat(tag) <= today:
                attested = tag
            else:
                notes.append(f"`{MFA_ATTESTED_TAG}` {tag!r} is in the future")
        except ValueError:
            notes.append(f"`{MFA_ATTESTED_TAG}` {tag!r} is not a YYYY-MM-DD date")
    return MfaState(declared, attested, unknown, notes)


def mfa_required(index: StackIndex, bucket: PolicyResource, config: Config) -> Any:
    """True/False/UNKNOWN: the bucket's tier needs MFA delete (replicas carry the lifecycle instead)."""
    if index.is_replication_destination(bucket):
        return False
    return in_scope(index.tags(bucket), config["tiers"])


def _tier_reason(index: StackIndex, bucket: PolicyResource, config: Config) -> str:
    """Tier wording only for a bucket that has a tier."""
    tier = index.tags(bucket).get(TIER_TAG)
    if isinstance(tier, str) and tier in VALID_TIERS:
        return f"its `{TIER_TAG}` is {tier}, one of the configured tiers {config['tiers']}"
    return f"it has no valid `{TIER_TAG}` tag, so it is checked as a protected bucket"


def check_mfa_delete(index: StackIndex, config: Config) -> Iterator[tuple[str, str]]:
    date = pack_config.today()
    for bucket in index.buckets:
        required = mfa_required(index, bucket, config)
        if required is False:
            continue
        decision = waiver_for(bucket.name, config, date)
        if decision.active is not None:
            continue
        state = mfa_state(index, bucket, date)
        if state.on:
            continue
        if state.unknown or required is UNKNOWN:
            what = state.unknown or [f"tags.dr:tier of bucket '{bucket.name}'"]
            yield bucket.urn, cannot_verify(", ".join(what))
            continue
        expired = "".join(
            f" Exception '{waiver.pattern}' ({waiver.reason}) expired on {waiver.expires}."
            for waiver in decision.expired
        )
        notes = "".join(f" Note: {note}." for note in state.notes)
        yield (
            bucket.urn,
            (
                f"bucket '{bucket.name}' requires MFA delete ({_tier_reason(index, bucket, config)}): configured: no "
                f'versioning resource declares mfaDelete "Enabled" and there is no valid `{MFA_ATTESTED_TAG}` '
                f"tag.{notes}{expired} To satisfy: {mfa_runbook(bucket, index.tags(bucket))}"
            ),
        )


def check_mfa_delete_without_lifecycle(index: StackIndex, config: Config) -> Iterator[tuple[str, str]]:
    date = pack_config.today()
    for bucket in index.buckets:
        lifecycles = [child.name for child in index.children(bucket, "lifecycle")]
        inline = elements(bucket.props, "lifecycleRules")
        if inline is UNKNOWN or inline:
            lifecycles.append("inline lifecycleRules")
        if not lifecycles:
            continue
        state = mfa_state(index, bucket, date)
        reasons = []
        if state.declared:
            reasons.append('its versioning declares mfaDelete "Enabled"')
        if state.attested:
            reasons.append(f"it carries `{MFA_ATTESTED_TAG}`={state.attested}")
        required = mfa_required(index, bucket, config)
        if required is True and waiver_for(bucket.name, config, date).active is None:
            reasons.append(f"{_tier_reason(index, bucket, config)} requires MFA delete")
        if reasons:
            yield (
                bucket.urn,
                (
                    f"bucket '{bucket.name}' combines MFA delete ({'; '.join(reasons)}) with a lifecycle "
                    f"configuration ({', '.join(lifecycles)}); AWS rejects lifecycle rules on an MFA-delete "
                    "bucket. Keep MFA delete on the primary and move the lifecycle to the replica."
                ),
            )
        elif state.unknown or required is UNKNOWN:
            yield bucket.urn, cannot_verify(", ".join(state.unknown or [f"tags.dr:tier of bucket '{bucket.name}'"]))


# ---------------------------------------------------------------------------------------------
# Cross-region replication


def uses_kms(index: StackIndex, bucket: PolicyResource) -> Any:
    """True/False/UNKNOWN: the bucket's default encryption is SSE-KMS."""
    verdict: Any = False
    for encryption in index.children(bucket, "encryption"):
        rules = elements(encryption.props, "rules")
        if rules is UNKNOWN:
            verdict = UNKNOWN
            continue
        for rule in rules:
            algorithm = lookup(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm")
            if algorithm in KMS_ALGORITHMS:
                return True
            if algorithm is UNKNOWN:
                verdict = UNKNOWN
    return verdict


@dataclass(frozen=True)
class ReplicationReport:
    problems: list[str]
    unknown: list[str]
    cross_region: bool
    """At least one enabled rule provably reaches a bucket in another region."""
    rtc: bool
    """...and that rule also has Replication Time Control enabled."""

    @property
    def compliant(self) -> bool:
        return not self.problems and not self.unknown and self.cross_region


def replication_report(index: StackIndex, bucket: PolicyResource) -> ReplicationReport:
    configs = index.children(bucket, "replication")
    if not configs:
        return ReplicationReport(["no BucketReplicationConfig is linked to this bucket"], [], False, False)
    problems: list[str] = []
    unknown: list[str] = []
    cross_region = rtc = False
    source_region = region_of(bucket.props, bucket.provider)
    kms = uses_kms(index, bucket)
    for replication in configs:
        rules = elements(replication.props, "rules")
        if rules is UNKNOWN:
            unknown.append(f"{replication.name}.rules")
            continue
        if not rules:
            problems.append(f"{replication.name} declares no rules")
        destinations = index.dependencies_of_type(replication, "rules", types.BUCKET)
        for position, rule in enumerate(rules):
            where = f"{replication.name}.{label('rules', position)}"
            rule_problems: list[str] = []
            rule_unknown: list[str] = []
            for path, wanted in (
                (("status",), "Enabled"),
                (("destination", "replicationTime", "status"), "Enabled"),
                (("destination", "metrics", "status"), "Enabled"),
                (("deleteMarkerReplication", "status"), "Enabled"),
            ):
                for message in expect(rule, path, wanted, prefix=f"{where}."):
                    (rule_unknown if message.startswith(CANNOT_VERIFY_PREFIX) else rule_problems).append(message)
            if kms is not False:
                key = lookup(rule, "destination", "encryptionConfiguration", "replicaKmsKeyId")
                sse_objects = lookup(rule, "sourceSelectionCriteria", "sseKmsEncryptedObjects", "status")
                missing = is_absent(key) or sse_objects not in ("Enabled", UNKNOWN)
                if missing and kms is UNKNOWN:
                    rule_unknown.append(f"whether bucket '{bucket.name}' uses SSE-KMS (its encryption algorithm)")
                elif missing:
                    rule_problems.append(
                        f"{where}: the source uses SSE-KMS, so destination.encryptionConfiguration.replicaKmsKeyId "
                        "must be set and sourceSelectionCriteria.sseKmsEncryptedObjects.status must be "
                        f'"Enabled" (declared: key {describe(key)}, sseKmsEncryptedObjects {describe(sse_objects)})'
                    )
            region_ok = _destination_in_other_region(
                index, bucket, source_region, lookup(rule, "destination", "bucket"), destinations, where
            )
            if isinstance(region_ok, str):
                (rule_unknown if region_ok.startswith(CANNOT_VERIFY_PREFIX) else rule_problems).append(region_ok)
            problems.extend(rule_problems)
            unknown.extend(rule_unknown)
            if region_ok is True and lookup(rule, "status") == "Enabled":
                cross_region = True
                rtc = rtc or lookup(rule, "destination", "replicationTime", "status") == "Enabled"
    return ReplicationReport(problems, unknown, cross_region, rtc)


def _destination_in_other_region(
    index: StackIndex,
    source: PolicyResource,
    source_region: Any,
    destination_value: Any,
    dependencies: list[PolicyResource],
    where: str,
) -> bool | str:
    """True, or a message: the problem, or what cannot be verified."""
    named = index.named("bucket", destination_value)
    candidates = [named] if named is not None else [dep for dep in dependencies if dep.urn != source.urn]
    if not candidates:
        if destination_value is UNKNOWN:
            return cannot_verify(f"{where}.destination.bucket")
        return (
            f"{where}.destination.bucket {describe(destination_value)} is not a bucket declared in this stack, "
            "so its region cannot be checked; declare the replica bucket in the same program"
        )
    if source_region is UNKNOWN or source_region is MISSING:
        return cannot_verify(f"region of bucket '{source.name}' (no `region` input and no provider region)")
    for candidate in candidates:
        region = region_of(candidate.props, candidate.provider)
        if region is UNKNOWN or region is MISSING:
            return cannot_verify(f"region of destination bucket '{candidate.name}'")
        if region == source_region:
            return f"{where} replicates to '{candidate.name}' in {region}, the same region as the source"
    return True


def check_tier_replication(index: StackIndex, config: Config) -> Iterator[tuple[str, str]]:
    for bucket in index.buckets:
        if index.is_replication_destination(bucket):
            continue
        scope = in_scope(index.tags(bucket), config["tiers"])
        if scope is False:
            continue
        report = replication_report(index, bucket)
        if report.compliant:
            continue
        if scope is UNKNOWN:
            yield (
                bucket.urn,
                cannot_verify(f"tags.dr:tier of bucket '{bucket.name}' (it decides whether replication applies)"),
            )
            continue
        for problem in report.problems:
            yield bucket.urn, f"bucket '{bucket.name}' needs cross-region replication with RTC: {problem}"
        for what in report.unknown:
            yield bucket.urn, cannot_verify(what)
        if not report.problems and not report.unknown and not report.cross_region:
            yield bucket.urn, f"bucket '{bucket.name}' has no enabled rule that replicates to another region"
