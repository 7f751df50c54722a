"""The whole stack's config: top-level keys, then one unit per list entry, every problem reported at once.

pydantic skips a model's validators when any of its fields failed, so one model over everything would drop
"recoveryRegion must differ" whenever a bucket field is also wrong. Instead the top-level keys and each bucket
entry are validated as separate units, the domain rules run on every unit (and every top-level key) that
parsed, and all problems are merged into one ``ConfigError``: top-level keys first, then entries by index.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Protocol, TypeVar
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, StrictStr, TypeAdapter, ValidationError

from stackmodel.config.buckets import (
    BATCH_REPORTS_NAME,
    LOGICAL_NAME,
    RECOVERY_REPORTS_NAME,
    BucketEntry,
    BucketSpec,
    Naming,
    bucket_spec,
)
from stackmodel.config.concurrency import QUOTAS_KEY, Reservation, concurrency_problems
from stackmodel.config.drills import DrillsConfig, drill_problems
from stackmodel.config.errors import ConfigError, Problems, Unit, dr_error, key_position, report_validation_error
from stackmodel.config.fields import Region
from stackmodel.config.isolation import DYNAMODB, S3, IsolatedStore, isolation_problems
from stackmodel.config.sites import SiteEntry, SiteSpec, site_reservations, site_spec
from stackmodel.config.tables import (
    DEFAULT_BACKUP_SETTINGS,
    BackupSettings,
    BackupSettingsEntry,
    TableContext,
    TableEntry,
    TableSpec,
    backup_settings,
    table_spec,
)
from stackmodel.regions import region_partitions

EntryT = TypeVar("EntryT", bound=BaseModel)
SpecT = TypeVar("SpecT")

PROVIDER_NAMESPACES = frozenset({"pulumi", "aws"})  # Pulumi's own keys, and the one provider this program uses
STRUCTURED_KEYS = frozenset({"buckets", "tables", "backup", "sites", "drills", "lambdaConcurrencyQuotas"})
LIST_KEYS = frozenset({"buckets", "tables", "backup", "sites"})  # validated as their own units, not with the scalars
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: str) -> str:
    if not EMAIL.fullmatch(value):
        raise dr_error("must be an email address")
    # A zero-width or other invisible character passes the pattern but never matches a real mailbox.
    if any(not c.isprintable() or c.isspace() for c in value):
        raise dr_error("must be an email address without invisible or space characters")
    return value


LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})


def _local_endpoint(value: str) -> str:
    """Only an emulator on this machine: the key turns off credential checks, so it must never reach AWS."""
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or parts.hostname not in LOCAL_HOSTS or parts.path not in {"", "/"}:
        raise dr_error("must be http://127.0.0.1:<port> or http://localhost:<port> (a local emulator such as moto)")
    return value.rstrip("/")


class StackConfig(BaseModel):
    """The project's keys in ``Pulumi.<stack>.yaml`` (``dr-as-code:<key>``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    UNKNOWN_KEY_NOUN: ClassVar[str] = "config key"

    primary_region: Region = Field(
        alias="primaryRegion",
        description="Region that serves traffic and holds the primary copy of every data store.",
    )
    recovery_region: Region = Field(
        alias="recoveryRegion",
        description="Region that holds replicas and takes over on failover. Must differ from primaryRegion.",
    )
    # S3 reserves the prefix xn-- for bucket names (bucket naming rules); every bucket name starts with namePrefix.
    name_prefix: Annotated[
        StrictStr, Field(min_length=1, pattern=LOGICAL_NAME, json_schema_extra={"not": {"pattern": "^xn--"}})
    ] = Field(
        alias="namePrefix",
        description="Stem of every physical resource name (<namePrefix>-<bucket>-<region>); keep it globally unique.",
    )
    alert_email: Annotated[
        StrictStr, Field(min_length=1, json_schema_extra={"pattern": EMAIL.pattern}), AfterValidator(_email)
    ] = Field(
        alias="alertEmail",
        description="Email address subscribed to the DR alert topic (replication latency, failures, RPO age).",
    )
    buckets: list[BucketEntry] = Field(default_factory=list, description="The S3 buckets, each with its DR tier.")
    app: Annotated[StrictStr, Field(min_length=1, max_length=40, pattern=LOGICAL_NAME)] | None = Field(
        default=None,
        description="The application's name: the <app> in its settings /dr/<app>/...; required when sites or tables "
        "exist.",
    )
    tables: list[TableEntry] = Field(
        default_factory=list, description="The DynamoDB global tables, each with its DR tier and objectives."
    )
    backup: BackupSettingsEntry | None = Field(
        default=None, description="AWS Backup: region settings switch, vault lock mode and retention, copies."
    )
    sites: list[SiteEntry] = Field(
        default_factory=list, description="Failover sites: a DNS name the recovery-region orchestrator fails over."
    )
    local_endpoint: Annotated[StrictStr, AfterValidator(_local_endpoint)] | None = Field(
        default=None,
        alias="localEndpoint",
        description="Point every AWS provider at a local emulator (moto) at this URL; only for Pulumi.local.yaml.",
    )
    drills: DrillsConfig = Field(
        default_factory=DrillsConfig,
        description="AWS FIS replication pauses and the scheduled drill (components/drills.py); off by default.",
    )
    # Service Quotas code L-B99A9384; stackmodel/config/concurrency.py sums the stack's reservations against it.
    lambda_concurrency_quotas: dict[Region, Annotated[StrictInt, Field(ge=1)]] = Field(
        default_factory=dict,
        alias="lambdaConcurrencyQuotas",
        description="The account's Lambda 'Concurrent executions' quota per Region, where it is not the default "
        "1000; reservations made outside this stack in that Region may be subtracted here.",
    )


@dataclass(frozen=True)
class StackSettings:
    primary_region: str
    recovery_region: str
    name_prefix: str
    alert_email: str
    batch_reports: BucketSpec  # the stack's own bucket for S3 Batch Operations manifests and reports
    buckets: tuple[BucketSpec, ...] = field(default_factory=tuple)
    app: str | None = None
    tables: tuple[TableSpec, ...] = field(default_factory=tuple)
    backup: BackupSettings = DEFAULT_BACKUP_SETTINGS

    @property
    def recovery_reports(self) -> BucketSpec:
        """The reports bucket's twin in the recovery Region: S3 Inventory delivers only within the source's Region,
        so a tier-1 replica's inventory and change journal land here (components/inventory.py)."""
        return dataclasses.replace(
            self.batch_reports,
            name=RECOVERY_REPORTS_NAME,
            qualified_name=f"{self.name_prefix}-{RECOVERY_REPORTS_NAME}",
            primary_bucket_name=f"{self.name_prefix}-{BATCH_REPORTS_NAME}-{self.recovery_region}",
        )

    @property
    def inventory_reports(self) -> dict[str, str]:
        """Region -> the reports bucket there (TieredBucketArgs.inventory_reports)."""
        return {
            self.primary_region: self.batch_reports.primary_bucket_name,
            self.recovery_region: self.recovery_reports.primary_bucket_name,
        }

    @property
    def table_regions(self) -> tuple[str, ...]:
        """Every region a table lives in (primary, replicas), in first-use order; one provider each."""
        return tuple(dict.fromkeys(region for table in self.tables for region in table.regions))

    sites: tuple[SiteSpec, ...] = field(default_factory=tuple)
    local_endpoint: str | None = None  # every provider goes to this emulator (components/local.py)
    drills: DrillsConfig = field(default_factory=DrillsConfig)


@dataclass(frozen=True)
class ProjectConfig:
    """The project's keys from the engine's flat ``namespace:key`` map, and what the namespaces revealed."""

    raw: dict[str, Any]
    secret_keys: frozenset[str]  # project keys (without namespace) whose value holds a secret
    problems: tuple[str, ...]  # keys in a namespace one typo away from the project's
    ignored: tuple[str, ...] = ()  # warnings: keys in other namespaces, which this program never reads


def edit_distance(first: str, second: str) -> int:
    previous = list(range(len(second) + 1))
    for i, a in enumerate(first, 1):
        current = [i]
        for j, b in enumerate(second, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b)))
        previous = current
    return previous[-1]


def read_config(config: Mapping[str, str], project: str, secret_keys: frozenset[str] = frozenset()) -> ProjectConfig:
    """Split the flat config map by namespace.

    Structured values arrive as JSON text; scalars stay strings, so a name prefix such as ``2024`` is not turned
    into a number. Unknown project keys are kept, so ``parse`` reports a misspelled key. A key in a namespace
    within edit distance 2 of the project's name is an error (``dr-as-cod:buckets`` would deploy no buckets); a
    key in any other unknown namespace is ignored with a warning naming it.
    """
    raw: dict[str, Any] = {}
    problems: list[str] = []
    ignored: list[str] = []
    for namespaced, text in config.items():
        namespace, _, key = namespaced.partition(":")
        if namespace == project:
            if key in STRUCTURED_KEYS:
                try:
                    raw[key] = json.loads(text)
                except json.JSONDecodeError:
                    raw[key] = text  # parse() reports the wrong type
            else:
                raw[key] = text
        elif namespace in PROVIDER_NAMESPACES:
            continue
        elif edit_distance(namespace, project) <= 2:
            problems.append(
                f"{namespaced}: unknown namespace {namespace!r}; did you mean {project}:{key}? "
                "(a key there is otherwise ignored)"
            )
        else:
            ignored.append(
                f"config key {namespaced!r} is ignored: this program reads only the {project}, "
                f"{' and '.join(sorted(PROVIDER_NAMESPACES))} namespaces"
            )
    secrets = frozenset(k.partition(":")[2] for k in secret_keys if k.partition(":")[0] == project)
    return ProjectConfig(raw, secrets, tuple(sorted(problems)), tuple(ignored))


def parse(
    raw: Mapping[str, Any], *, secret_keys: frozenset[str] = frozenset(), problems: tuple[str, ...] = ()
) -> StackSettings:
    """Validate the whole config; raise one ``ConfigError`` listing every problem.

    ``secret_keys``: top-level keys whose values never appear in a message. ``problems``: lines found before
    parsing (namespaces), listed first.
    """
    found = Problems()
    top = Unit("", secret=False, order=(0,), secret_keys=secret_keys)
    for line in problems:
        path, _, message = line.partition(": ")
        found.add(top, -2, path, message)

    scalars = {key: value for key, value in raw.items() if key not in LIST_KEYS}
    failed: set[str | int] = set()
    try:
        StackConfig.model_validate(scalars)
    except ValidationError as error:
        failed = report_validation_error(error, StackConfig, scalars, top, found)

    def parsed(key: str) -> str | None:
        return scalars[key] if key in scalars and key not in failed else None

    primary, recovery, prefix, email = (
        parsed(k) for k in ("primaryRegion", "recoveryRegion", "namePrefix", "alertEmail")
    )
    _check_regions(primary, recovery, top, found)

    naming = Naming(
        prefix,
        primary,
        recovery,
        secret=bool({"namePrefix", "primaryRegion", "recoveryRegion"} & secret_keys),
    )
    specs = _buckets(raw.get("buckets", []), naming, "buckets" in secret_keys, found)
    batch_unit = Unit(f"namePrefix (for {BATCH_REPORTS_NAME})", secret=naming.secret, order=(2,))
    batch_reports = bucket_spec(BucketEntry(name=BATCH_REPORTS_NAME, tier=3), naming, batch_unit, found)

    backup = _backup_settings(raw.get("backup"), "backup" in secret_keys, found)
    # Unknown when a bucket entry failed, or when a misspelled namespace may hold the buckets.
    buckets_known = not problems and not any(line.startswith("buckets") for line in found.lines())
    raw_buckets = raw.get("buckets", [])
    bucket_names = (
        frozenset(str(e["name"]) for e in raw_buckets if isinstance(e, Mapping) and "name" in e)
        if buckets_known and isinstance(raw_buckets, list)
        else None
    )
    # Region rules need both regions valid and distinct; otherwise recoveryRegion's own problem says it all.
    regions_ok = bool(primary and recovery and primary != recovery)
    context = TableContext(
        prefix, primary if regions_ok else None, recovery if regions_ok else None, bucket_names, backup
    )
    tables = _tables(raw.get("tables", []), context, "tables" in secret_keys, found)
    app = parsed("app")
    if app is None and "app" not in failed and (raw.get("sites") or raw.get("tables")):
        found.add(top, key_position(StackConfig, "app"), "app", "is required when sites or tables are declared")
    # Site links are judged only against a bucket list that parsed whole; otherwise its own problems say enough.
    buckets_whole = (
        not problems
        and bool(primary and recovery and prefix)  # replicas are named from these
        and isinstance(raw_buckets, list)
        and len(specs) == len(raw_buckets)
    )
    raw_tables = raw.get("tables", [])
    tables_whole = isinstance(raw_tables, list) and len(tables) == len(raw_tables)
    sites = _sites(
        raw.get("sites", []),
        specs if buckets_whole else None,
        tables if tables_whole else None,
        "sites" in secret_keys,
        found,
        recovery if regions_ok else None,
    )
    if QUOTAS_KEY not in failed:  # a quota that failed has its own problem
        quotas = scalars.get(QUOTAS_KEY, {})
        _check_concurrency(raw.get("sites", []), sites, recovery if regions_ok else None, quotas, top, found)
    drills = DrillsConfig.model_validate(scalars["drills"]) if parsed("drills") is not None else DrillsConfig()
    for path, message in drill_problems(drills, _config_positions(raw_tables, tables)):
        found.add(top, key_position(StackConfig, "drills"), path, message)
    if backup is not None and buckets_whole and tables_whole:
        for path, message in isolation_problems(
            backup.isolation,
            backup.s3,
            backup.restore_testing,
            isolated_stores(backup, specs, tables),
            (primary, recovery) if regions_ok and primary and recovery else None,
        ):
            found.add(top, key_position(StackConfig, "backup"), path, message)

    if found:
        raise ConfigError(found.lines())
    assert primary and recovery and prefix and email and batch_reports  # every None above added a problem
    return StackSettings(
        primary,
        recovery,
        prefix,
        email,
        batch_reports,
        tuple(specs),
        app=app,
        tables=tuple(tables),
        backup=backup or DEFAULT_BACKUP_SETTINGS,
        sites=tuple(sites),
        local_endpoint=parsed("localEndpoint"),
        drills=drills,
    )


def isolated_stores(backup: BackupSettings, buckets: list[BucketSpec], tables: list[TableSpec]) -> list[IsolatedStore]:
    """The stores whose tier copies to an isolated vault: tier-1 buckets (AWS Backup for S3) and tables with an
    AWS Backup rule. components/isolation.py builds the copies for exactly these."""
    tiers = backup.isolation.tiers
    stores = [
        IsolatedStore(f"buckets[{index}]", S3, backup.s3.snapshot_retention_days)
        for index, spec in enumerate(buckets)
        if spec.tier == 1 and 1 in tiers
    ]
    stores += [
        IsolatedStore(f"tables[{index}]", DYNAMODB, spec.backup.delete_after_days)
        for index, spec in enumerate(tables)
        if spec.backup is not None and spec.tier in tiers
    ]
    return stores


def _entries(
    raw: Any,
    key: str,
    noun: str,
    order: int,
    model: type[EntryT],
    build: Callable[[EntryT, Unit], SpecT | None],
    secret: bool,
    found: Problems,
    reserved: Mapping[str, str] | None = None,
) -> list[SpecT]:
    """One list key (``buckets``, ``tables``, ``sites``): each entry its own unit, validated by ``model`` and judged by
    ``build`` (a spec, or None after reporting); names are unique, and ``reserved`` maps names no entry may take to
    the reason. Only entries that pass every rule become specs."""
    try:
        entries = TypeAdapter(list[Any]).validate_python(raw, strict=True)
    except ValidationError as error:
        report_validation_error_at(error, raw, Unit("", secret=secret, order=(0,)), found, key=key, noun=noun)
        return []
    specs: list[SpecT] = []
    seen: dict[str, int] = {}
    for index, raw_entry in enumerate(entries):
        unit = Unit(f"{key}[{index}]", secret=secret, order=(order, index))
        try:
            entry = model.model_validate(raw_entry)
        except ValidationError as error:
            report_validation_error(error, model, raw_entry, unit, found)
            continue
        spec = build(entry, unit)
        name: str = entry.name  # type: ignore[attr-defined]
        if name in seen:
            problem = f"duplicate {noun.split()[0]} name {unit.show(name)} (also {key}[{seen[name]}])"
        elif reserved and name in reserved:
            problem = reserved[name]
        else:
            seen[name] = index
            if spec is not None:
                specs.append(spec)
            continue
        found.add(unit, key_position(model, "name"), unit.at("name"), problem)
    return specs


def _backup_settings(raw_backup: Any, secret: bool, found: Problems) -> BackupSettings | None:
    if raw_backup is None:
        return DEFAULT_BACKUP_SETTINGS
    unit = Unit("backup", secret=secret, order=(3,))
    try:
        entry = BackupSettingsEntry.model_validate(raw_backup)
    except ValidationError as error:
        report_validation_error(error, BackupSettingsEntry, raw_backup, unit, found)
        return None
    return backup_settings(entry, unit, found)


class _Named(Protocol):
    @property
    def name(self) -> str: ...


NamedT = TypeVar("NamedT", bound=_Named)


def _config_positions(raw_entries: Any, specs: list[NamedT]) -> list[tuple[int, NamedT]]:
    """Each valid entry with its index in the config's list (the first entry of a name is the one kept)."""
    positions: dict[str, int] = {}
    for index, entry in enumerate(raw_entries if isinstance(raw_entries, list) else []):
        if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
            positions.setdefault(entry["name"], index)
    return [(positions[spec.name], spec) for spec in specs]


def _tables(raw_tables: Any, context: TableContext, secret: bool, found: Problems) -> list[TableSpec]:
    return _entries(
        raw_tables,
        "tables",
        "table entries",
        4,
        TableEntry,
        lambda entry, unit: table_spec(entry, context, unit, found),
        secret,
        found,
    )


def _check_concurrency(
    raw_sites: Any,
    sites: list[SiteSpec],
    recovery: str | None,
    quotas: Mapping[str, int],
    top: Unit,
    found: Problems,
) -> None:
    """Every reservation of the sites that parsed (a lower bound while others failed: each only adds), summed per
    Region against the account's quota there."""
    if recovery is None:
        return
    reservations = [
        Reservation(region, f"sites[{index}].{key}", amount)
        for index, spec in _config_positions(raw_sites, sites)
        for region, key, amount in site_reservations(spec, recovery)
    ]
    for message in concurrency_problems(
        reservations, quotas, hide_amounts=top.hides("sites"), hide_quotas=top.hides(QUOTAS_KEY)
    ):
        found.add(top, key_position(StackConfig, QUOTAS_KEY), "sites", message)


def _check_regions(primary: str | None, recovery: str | None, top: Unit, found: Problems) -> None:
    if not (primary and recovery):
        return
    position = key_position(StackConfig, "recoveryRegion")
    hidden = top.hides("primaryRegion") or top.hides("recoveryRegion")
    if primary == recovery:
        shown = "(secret value not shown)" if hidden else repr(primary)
        found.add(top, position, "recoveryRegion", f"must differ from primaryRegion, both are {shown}")
    elif region_partitions()[primary] != region_partitions()[recovery]:
        if hidden:
            message = "is in another partition than primaryRegion; S3 cannot replicate across partitions"
        else:
            message = (
                f"{recovery!r} is in partition {region_partitions()[recovery]!r} but primaryRegion {primary!r} is "
                f"in {region_partitions()[primary]!r}; S3 cannot replicate across partitions"
            )
        found.add(top, position, "recoveryRegion", message)


def _buckets(raw_buckets: Any, naming: Naming, secret: bool, found: Problems) -> list[BucketSpec]:
    return _entries(
        raw_buckets,
        "buckets",
        "bucket entries",
        1,
        BucketEntry,
        lambda entry, unit: bucket_spec(entry, naming, unit, found),
        secret,
        found,
        reserved={BATCH_REPORTS_NAME: f"{BATCH_REPORTS_NAME!r} is reserved for the stack's Batch Operations reports"},
    )


def _sites(
    raw_sites: Any,
    buckets: list[BucketSpec] | None,
    tables: list[TableSpec] | None,
    secret: bool,
    found: Problems,
    recovery_region: str | None = None,
) -> list[SiteSpec]:
    """Links must name tier-1 buckets (they have a replica) and declared tables. ``buckets``/``tables`` are None
    when their list did not parse whole: its own problems say enough then."""
    replicated = {spec.name for spec in buckets or [] if spec.replica_bucket_name}
    declared_buckets = {spec.name for spec in buckets or []}
    declared_tables = {spec.name for spec in tables or []}

    def build(entry: SiteEntry, unit: Unit) -> SiteSpec | None:
        spec = site_spec(entry, unit, found, recovery_region)
        linked = True
        for position, bucket in enumerate(entry.buckets if buckets is not None else []):
            if bucket not in declared_buckets:
                problem = "is not a bucket of this stack"
            elif bucket not in replicated:
                problem = "is not a tier-1 bucket; a site fails over only to a bucket with a replica"
            else:
                continue
            linked = False
            found.add(
                unit, key_position(SiteEntry, "buckets"), unit.at("buckets", position), f"{unit.show(bucket)} {problem}"
            )
        for position, table in enumerate(entry.tables if tables is not None else []):
            if table not in declared_tables:
                linked = False
                found.add(
                    unit,
                    key_position(SiteEntry, "tables"),
                    unit.at("tables", position),
                    f"{unit.show(table)} is not a table of this stack",
                )
        return spec if linked else None

    return _entries(raw_sites, "sites", "site entries", 5, SiteEntry, build, secret, found)


def report_validation_error_at(
    error: ValidationError, raw: Any, unit: Unit, found: Problems, key: str = "buckets", noun: str = "bucket entries"
) -> None:
    """A list key (``buckets``, ``tables``, ``sites``) itself has the wrong type."""
    for item in error.errors(include_input=False):
        if item["loc"]:
            continue
        shown = "(secret value not shown)" if unit.secret else type(raw).__name__
        found.add(unit, key_position(StackConfig, key), key, f"must be a list of {noun}, got {shown}")
