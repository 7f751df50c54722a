"""One index of the stack, built once per ``AnalyzeStack`` resource list and shared by stack policies.

Children link to their bucket (or table, role, policy) through ``property_dependencies``, because
ids are unknown at preview; a known name or ARN is only a fallback. Building is one linear pass
over the resources plus one over the links, so every stack policy stays linear.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from pulumi_policy import PolicyResource

from . import types
from .inline import inline_children
from .props import MISSING, UNKNOWN, Tags, lookup

_KIND_BY_TYPE: dict[str, str] = {token: kind for kind, tokens in types.BUCKET_CHILDREN.items() for token in tokens}


class StackIndex:
    def __init__(self, resources: Sequence[PolicyResource]) -> None:
        self.resources = resources
        self.by_urn: dict[str, PolicyResource] = {}
        self.by_type: dict[str, list[PolicyResource]] = defaultdict(list)
        self.buckets: list[PolicyResource] = []
        self.tables: list[PolicyResource] = []
        self._bucket_children: dict[str, dict[str, list[PolicyResource]]] = defaultdict(lambda: defaultdict(list))
        self._table_replicas: dict[str, list[PolicyResource]] = defaultdict(list)
        self._by_name: dict[tuple[str, str], PolicyResource] = {}
        self._tags: dict[str, Tags] = {}
        self.replication_destinations: set[str] = set()

        for resource in resources:
            self.by_urn[resource.urn] = resource
            self.by_type[resource.resource_type].append(resource)
            if resource.resource_type in types.BUCKET:
                self.buckets.append(resource)
                self._remember_names("bucket", resource, ("bucket", "id", "arn"))
                inline = inline_children(resource)
                for inline_kind, child in inline.items():
                    self._bucket_children[resource.urn][inline_kind].append(child)  # type: ignore[arg-type]
            elif resource.resource_type in types.TABLE:
                self.tables.append(resource)
                self._remember_names("table", resource, ("arn",))
            elif resource.resource_type in types.IAM_ROLE:
                self._remember_names("role", resource, ("name", "id", "arn"))
            elif resource.resource_type in types.IAM_POLICY:
                self._remember_names("policy", resource, ("arn", "id"))

        for source in self.buckets:
            for inline_replication in self._bucket_children[source.urn].get("replication", []):
                for target in self.replication_destination_buckets(inline_replication):  # type: ignore[arg-type]
                    if target.urn != source.urn:
                        self.replication_destinations.add(target.urn)

        for resource in resources:
            kind = _KIND_BY_TYPE.get(resource.resource_type)
            if kind is not None:
                bucket = self.linked(resource, "bucket", types.BUCKET, "bucket")
                if bucket is not None:
                    self._bucket_children[bucket.urn][kind].append(resource)
                if kind == "replication":
                    for destination in self.replication_destination_buckets(resource):
                        if bucket is None or destination.urn != bucket.urn:
                            self.replication_destinations.add(destination.urn)
            elif resource.resource_type in types.TABLE_REPLICA:
                table = self.linked(resource, "globalTableArn", types.TABLE, "table")
                if table is not None:
                    self._table_replicas[table.urn].append(resource)

    def _remember_names(self, namespace: str, resource: PolicyResource, props: Iterable[str]) -> None:
        for prop in props:
            value = lookup(resource.props, prop)
            if isinstance(value, str):
                self._by_name[(namespace, value)] = resource
                if namespace == "bucket" and not value.startswith("arn:"):
                    self._by_name[(namespace, f"arn:aws:s3:::{value}")] = resource

    def named(self, namespace: str, value: Any) -> PolicyResource | None:
        """A resource found by a known name, id or ARN (the fallback when no dependency links it)."""
        return self._by_name.get((namespace, value)) if isinstance(value, str) else None

    def linked(
        self, resource: PolicyResource, prop: str, target_types: frozenset[str], namespace: str
    ) -> PolicyResource | None:
        """The resource of ``target_types`` that ``resource.prop`` refers to."""
        for dependency in resource.property_dependencies.get(prop, []):
            if dependency.resource_type in target_types:
                return dependency
        return self.named(namespace, lookup(resource.props, prop))

    def dependencies_of_type(
        self, resource: PolicyResource, prop: str, target_types: frozenset[str]
    ) -> list[PolicyResource]:
        return [dep for dep in resource.property_dependencies.get(prop, []) if dep.resource_type in target_types]

    def replication_destination_buckets(self, replication: PolicyResource) -> list[PolicyResource]:
        """Buckets that a replication configuration's rules point at (dependencies, else known ARNs)."""
        found = {dep.urn: dep for dep in self.dependencies_of_type(replication, "rules", types.BUCKET)}
        rules = lookup(replication.props, "rules")
        if rules is not UNKNOWN and rules is not MISSING and isinstance(rules, Sequence):
            for position in range(len(rules)):
                bucket = self.named("bucket", lookup(rules, position, "destination", "bucket"))
                if bucket is not None:
                    found[bucket.urn] = bucket
        return list(found.values())

    def children(self, bucket: PolicyResource, kind: str) -> list[PolicyResource]:
        """The bucket's child resources of one kind (see ``types.BUCKET_CHILDREN``)."""
        by_kind = self._bucket_children.get(bucket.urn)
        return list(by_kind.get(kind, [])) if by_kind else []

    def table_replicas(self, table: PolicyResource) -> list[PolicyResource]:
        return list(self._table_replicas.get(table.urn, []))

    def is_replication_destination(self, bucket: PolicyResource) -> bool:
        return bucket.urn in self.replication_destinations

    def tags(self, resource: PolicyResource) -> Tags:
        cached = self._tags.get(resource.urn)
        if cached is None:
            cached = self._tags[resource.urn] = Tags(resource.props)
        return cached


_cache_lock = threading.Lock()
_cached: tuple[Sequence[PolicyResource], StackIndex] | None = None


def index_for(resources: Sequence[PolicyResource]) -> StackIndex:
    """The index for this exact resource list, built at most once.

    Keyed on the list's identity. The cache holds the list itself, so its id cannot be reused by
    another list while cached. Note: the Python SDK builds a fresh list (and fresh props) for each
    stack policy, so under the real engine each policy builds its own index once; callers that pass
    one list to every policy (tests, tools) share a single index.
    """
    global _cached
    with _cache_lock:
        if _cached is not None and _cached[0] is resources:
            return _cached[1]
        index = StackIndex(resources)
        _cached = (resources, index)
        return index
