"""KMS key rotation."""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import ResourceValidationArgs

from .framework import Config
from .props import expect, lookup

ROTATABLE_SPEC = "SYMMETRIC_DEFAULT"


def check_key_rotation(args: ResourceValidationArgs, _config: Config) -> Iterator[str]:
    for spec_prop in ("customerMasterKeySpec", "keySpec"):
        spec = lookup(args.props, spec_prop)
        # Only symmetric encryption keys support automatic rotation; asymmetric/HMAC keys are out of scope.
        if isinstance(spec, str) and spec != ROTATABLE_SPEC:
            return
    yield from expect(args.props, ("enableKeyRotation",), True)
