"""Offline answers to invokes: plausible, clearly fake values for common data sources, and the user's own file.

Loaded by the program runner inside the program's interpreter, so it imports only the standard library.

User file (``--invoke-answers FILE``, YAML or JSON, already parsed by offline-preview and passed as JSON)::

    aws:route53/getZone:getZone:
      - args: {name: example.com}         # a subset of the call's arguments (engine names)
        result: {zoneId: Z123, name: example.com}
    stackReferences:
      acme/network/prod: {vpcId: vpc-123}

The first entry whose ``args`` are a subset of the call's arguments wins; ``stackReferences`` maps a
StackReference's name to its outputs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

PLACEHOLDER_ACCOUNT_ID = "123456789012"
STACK_REFERENCES_KEY = "stackReferences"
UNANSWERED = object()


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _single_or_list(values: list[Any]) -> Any:
    # The AWS provider renders one-element lists as a plain string.
    return values[0] if len(values) == 1 else values


def render_policy_document(args: dict[str, Any]) -> str:
    """Offline stand-in for aws.iam.get_policy_document: the JSON the provider would render."""
    statements = []
    for statement in args.get("statements") or []:
        rendered: dict[str, Any] = {}
        if statement.get("sid"):
            rendered["Sid"] = statement["sid"]
        rendered["Effect"] = statement.get("effect") or "Allow"
        for source, target in (
            ("actions", "Action"),
            ("notActions", "NotAction"),
            ("resources", "Resource"),
            ("notResources", "NotResource"),
        ):
            if statement.get(source):
                rendered[target] = _single_or_list(_as_list(statement[source]))
        for source, target in (("principals", "Principal"), ("notPrincipals", "NotPrincipal")):
            principals = statement.get(source) or []
            if len(principals) == 1 and principals[0].get("type") == "*":
                rendered[target] = "*"
            elif principals:
                rendered[target] = {
                    principal["type"]: _single_or_list(_as_list(principal.get("identifiers") or []))
                    for principal in principals
                }
        conditions: dict[str, dict[str, Any]] = {}
        for condition in statement.get("conditions") or []:
            conditions.setdefault(condition["test"], {})[condition["variable"]] = _single_or_list(
                _as_list(condition.get("values") or [])
            )
        if conditions:
            rendered["Condition"] = conditions
        statements.append(rendered)
    return json.dumps({"Version": args.get("version") or "2012-10-17", "Statement": statements}, indent=2)


def is_subset(wanted: Any, actual: Any) -> bool:
    """``wanted`` is contained in ``actual``: every key of a mapping recursively, lists and scalars equal."""
    if isinstance(wanted, Mapping):
        return isinstance(actual, Mapping) and all(
            key in actual and is_subset(value, actual[key]) for key, value in wanted.items()
        )
    return bool(wanted == actual)


def user_answer(answers: Mapping[str, Any], token: str, args: Mapping[str, Any]) -> Any:
    """The result of the first entry for ``token`` whose ``args`` are a subset of the call's, or UNANSWERED."""
    for entry in answers.get(token) or []:
        if isinstance(entry, Mapping) and is_subset(entry.get("args") or {}, args):
            result = entry.get("result")
            return dict(result) if isinstance(result, Mapping) else {}
    return UNANSWERED


def builtin_answer(token: str, args: Mapping[str, Any], region: str) -> Any:
    """Fake but well-shaped answers for data sources many programs call; UNANSWERED for any other token."""
    account = PLACEHOLDER_ACCOUNT_ID
    if token == "aws:index/getCallerIdentity:getCallerIdentity":
        return {
            "accountId": account,
            "arn": f"arn:aws:iam::{account}:user/offline-preview",
            "userId": "OFFLINEPREVIEW",
            "id": account,
        }
    if token == "aws:index/getRegion:getRegion":
        return {"name": region, "region": region, "id": region, "endpoint": f"ec2.{region}.amazonaws.com"}
    if token == "aws:index/getPartition:getPartition":
        return {"partition": "aws", "dnsSuffix": "amazonaws.com", "reverseDnsPrefix": "com.amazonaws", "id": "aws"}
    if token == "aws:iam/getPolicyDocument:getPolicyDocument":
        document = render_policy_document(dict(args))
        return {"json": document, "minifiedJson": json.dumps(json.loads(document)), "id": "offline"}
    if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
        suffixes = ("a", "b", "c")
        return {
            "names": [f"{region}{suffix}" for suffix in suffixes],
            "zoneIds": [f"offline-az{number}" for number in range(1, len(suffixes) + 1)],
            "groupNames": [region],
            "id": region,
        }
    if token == "aws:index/getAvailabilityZone:getAvailabilityZone":
        name = args.get("name") or f"{region}a"
        return {"name": name, "zoneId": "offline-az1", "region": region, "state": "available", "id": name}
    if token == "aws:ec2/getAmi:getAmi":
        image = "ami-0offline0preview0"
        return {
            "id": image,
            "imageId": image,
            "arn": f"arn:aws:ec2:{region}::image/{image}",
            "name": "offline-preview-fake-ami",
            "architecture": "x86_64",
            "rootDeviceName": "/dev/xvda",
        }
    if token == "aws:route53/getZone:getZone":
        name = str(args.get("name") or "offline-preview.example")
        zone = str(args.get("zoneId") or "ZOFFLINEPREVIEW")
        return {
            "id": zone,
            "zoneId": zone,
            "name": name.rstrip(".") + ".",
            "arn": f"arn:aws:route53:::hostedzone/{zone}",
            "nameServers": ["ns-1.offline-preview.example"],
            "privateZone": bool(args.get("privateZone")),
        }
    if token == "aws:ec2/getVpc:getVpc":
        return {
            "id": "vpc-0offlinepreview",
            "arn": f"arn:aws:ec2:{region}:{account}:vpc/vpc-0offlinepreview",
            "cidrBlock": "10.0.0.0/16",
            "default": bool(args.get("default")),
        }
    if token == "aws:ec2/getSubnets:getSubnets":
        return {"ids": [f"subnet-0offline{suffix}" for suffix in ("a", "b", "c")], "id": region}
    if token == "aws:ec2/getSubnet:getSubnet":
        return {
            "id": "subnet-0offlinea",
            "vpcId": "vpc-0offlinepreview",
            "availabilityZone": f"{region}a",
            "cidrBlock": "10.0.0.0/24",
            "arn": f"arn:aws:ec2:{region}:{account}:subnet/subnet-0offlinea",
        }
    if token == "aws:acm/getCertificate:getCertificate":
        return {
            "arn": f"arn:aws:acm:{region}:{account}:certificate/offline-preview",
            "id": "offline-preview",
            "domain": args.get("domain") or "offline-preview.example",
            "status": "ISSUED",
        }
    return UNANSWERED
