"""A resource as one application serves it: its registry, its compiled statements and caches.

`register()` makes one `ResourceRuntime` per declared `Resource`; the handlers receive it. The
declaration itself never changes, so the same `Resource` can be registered in two applications.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

from sqlalchemy.sql import ClauseElement
from starlette.datastructures import QueryParams

from pgbe.query.params import single_includes
from pgbe.resources.resource import Resource
from pgbe.resources.statements import Compiled, Target, compile_statement

if TYPE_CHECKING:
    from pgbe.resources.registry import ResourceRegistry

MAX_CACHED_STATEMENTS = 512


def target_of(resource: Resource) -> Target:
    """What the statements of `resource` need to know: model, Read schema, allow-lists, links."""
    links = {
        **resource.writes.links(resource.create_schema),
        **resource.writes.links(resource.update_schema),
    }
    return Target(resource.mapper, resource.read, resource.spec, resource.owner_field, links)


class ResourceRuntime:
    """One registered resource: the declaration, the registry it is served with, its caches."""

    def __init__(self, resource: Resource, registry: ResourceRegistry) -> None:
        self.resource = resource
        self.registry = registry
        self.target = target_of(resource)
        # a constraint error on a link table's column names the body field that set it
        self.field_names: dict[str, str] = {
            link.target_column: key for key, link in self.target.links.items()
        }
        self._statements: dict[Hashable, Compiled] = {}
        self._includes: dict[bytes, tuple[str, ...]] = {b"": ()}

    def __repr__(self) -> str:
        return f"<ResourceRuntime {self.resource.path}>"

    def statement(self, key: Hashable, build: Callable[[], ClauseElement]) -> Compiled:
        """Return the compiled statement of one shape, compiling it on first use."""
        compiled = self._statements.get(key)
        if compiled is None:
            compiled = compile_statement(build())
            if len(self._statements) < MAX_CACHED_STATEMENTS:
                self._statements[key] = compiled
        return compiled

    def includes_of(self, query_string: bytes) -> tuple[str, ...]:
        """Return the includes a one-row request asks for (422 for any other parameter), cached per query."""
        includes = self._includes.get(query_string)
        if includes is None:
            includes = single_includes(self.resource.spec, QueryParams(query_string).multi_items())
            if len(self._includes) < MAX_CACHED_STATEMENTS:
                self._includes[query_string] = includes
        return includes

    def links_of(self, schema: Any) -> dict[str, Any]:
        """The link fields of a body schema."""
        return self.resource.writes.links(schema)
