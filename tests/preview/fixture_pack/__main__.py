"""Fixture pack for tests/preview: one policy per behaviour offline-preview must handle.

- fixture-versioning-enabled (mandatory): reads unknowns safely and says "cannot verify until deploy";
- fixture-versioning-naive (mandatory): reads the status directly, so the SDK turns an unknown into its own
  advisory "can't run policy ... during preview" note;
- fixture-bucket-tagged (advisory, configurable tag key): exercises config defaults, overrides and the schema;
- fixture-bucket-no-force-destroy (remediate): rewrites an explicit forceDestroy=true to false (an override);
- fixture-bucket-acl-private (remediate): fills an absent acl with "private" (a remediation that only fills);
- fixture-bucket-has-versioning (mandatory stack policy): links children through property_dependencies["bucket"].
"""

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyPack,
    ResourceValidationPolicy,
    StackValidationPolicy,
)

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
VERSIONING_TYPES = ("aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2")


def raw(props, key):
    """Read one key without tripping the SDK's unknown-checking proxy: iterating keys is safe."""
    if key not in list(props):
        return None
    try:
        return props[key]
    except Exception:  # the SDK's UnknownValueError
        return UNKNOWN


def versioning_enabled(args, report_violation):
    if args.resource_type not in VERSIONING_TYPES:
        return
    configuration = raw(args.props, "versioningConfiguration")
    status = UNKNOWN if configuration == UNKNOWN else (raw(configuration, "status") if configuration else None)
    if status == UNKNOWN:
        report_violation("cannot verify until deploy: versioning status is computed from another resource")
    elif status != "Enabled":
        report_violation(f"versioning status is {status!r}, expected 'Enabled'")


def versioning_naive(args, report_violation):
    if args.resource_type in VERSIONING_TYPES and args.props["versioningConfiguration"]["status"] != "Enabled":
        report_violation("versioning is not enabled")


def bucket_tagged(args, report_violation):
    if args.resource_type not in BUCKET_TYPES:
        return
    tag = (args.get_config() or {}).get("tag", "dr:tier")
    tags = raw(args.props, "tags") or {}
    if tags != UNKNOWN and tag not in list(tags):
        report_violation(f"bucket has no {tag!r} tag")


def no_force_destroy_check(args, report_violation):
    if args.resource_type in BUCKET_TYPES and raw(args.props, "forceDestroy") is True:
        report_violation("forceDestroy would let `pulumi destroy` empty a DR bucket")


def no_force_destroy_fix(args):
    if args.resource_type in BUCKET_TYPES and raw(args.props, "forceDestroy") is True:
        props = dict(args.props)
        props["forceDestroy"] = False
        return props
    return None


def acl_private_check(args, report_violation):
    if args.resource_type in BUCKET_TYPES and raw(args.props, "acl") in (None, "public-read"):
        report_violation("acl must be private")


def acl_private_fix(args):
    # Fills a property the program left absent (a remediation that never overrides an explicit value) or
    # overrides an explicit "public-read" (one offline-preview must not apply).
    if args.resource_type in BUCKET_TYPES and raw(args.props, "acl") in (None, "public-read"):
        props = dict(args.props)
        props["acl"] = "private"
        return props
    return None


def bucket_has_versioning(args, report_violation):
    versioned = set()
    for resource in args.resources:
        if resource.resource_type in VERSIONING_TYPES:
            versioned.update(dep.urn for dep in resource.property_dependencies.get("bucket", []))
    for resource in args.resources:
        if resource.resource_type in BUCKET_TYPES and resource.urn not in versioned:
            report_violation("bucket has no BucketVersioning linked through its `bucket` property", resource.urn)


PolicyPack(
    name="fixture-pack",
    policies=[
        ResourceValidationPolicy(
            name="fixture-versioning-enabled",
            description="Checks that bucket versioning is enabled.",
            validate=versioning_enabled,
            enforcement_level=EnforcementLevel.MANDATORY,
        ),
        ResourceValidationPolicy(
            name="fixture-versioning-naive",
            description="Checks versioning without guarding against unknowns.",
            validate=versioning_naive,
            enforcement_level=EnforcementLevel.MANDATORY,
        ),
        ResourceValidationPolicy(
            name="fixture-bucket-tagged",
            description="Checks that every bucket carries the configured tag.",
            validate=bucket_tagged,
            enforcement_level=EnforcementLevel.ADVISORY,
            config_schema=PolicyConfigSchema(
                properties={"tag": {"type": "string", "default": "dr:tier", "minLength": 1}}
            ),
        ),
        ResourceValidationPolicy(
            name="fixture-bucket-no-force-destroy",
            description="Checks that buckets do not set forceDestroy.",
            validate=no_force_destroy_check,
            remediate=no_force_destroy_fix,
            enforcement_level=EnforcementLevel.REMEDIATE,
        ),
        ResourceValidationPolicy(
            name="fixture-bucket-acl-private",
            description="Checks that buckets are private.",
            validate=acl_private_check,
            remediate=acl_private_fix,
            enforcement_level=EnforcementLevel.REMEDIATE,
        ),
        StackValidationPolicy(
            name="fixture-bucket-has-versioning",
            description="Checks that every bucket has a versioning resource.",
            validate=bucket_has_versioning,
            enforcement_level=EnforcementLevel.MANDATORY,
        ),
    ],
)
