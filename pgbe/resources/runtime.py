"""A resource as one application serves it: its registry, its compiled statements and caches.

`register()` makes one `ResourceRuntime` per declared `Resource`; the handlers receive it. The
declaration itself never changes, so the same `Resource` can be registered in two applications.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel as Schema
from sqlalchemy.sql import ClauseElement
from starlette.datastructures import QueryParams
from starlette.requests import Request

from pgbe.db.errors import translated
from pgbe.errors import AppError, ConflictError, ValidationError
from pgbe.query.computed import Pluck
from pgbe.query.params import single_includes
from pgbe.resources.bodies import body_envelope, without_nulls
from pgbe.resources.list_plans import MAX_CACHED_PLANS, ListPlan, parse_plan
from pgbe.resources.requests import KeyParser, key_parser
from pgbe.resources.resource import Resource
from pgbe.resources.statements import Compiled, Target, compile_statement
from pgbe.writes import Link

if TYPE_CHECKING:
    from pgbe.resources.registry import ResourceRegistry

MAX_CACHED_STATEMENTS = 512


def _plucks(resource: Resource) -> dict[str, Pluck]:
    return {name: m for name, m in resource.spec.computed.items() if isinstance(m, Pluck)}


def target_of(resource: Resource) -> Target:
    """What the statements of `resource` need to know: the declaration and its body links."""
    plucks = _plucks(resource)
    links = {
        **resource.writes.links(resource.create_schema, plucks),
        **resource.writes.links(resource.update_schema, plucks),
    }
    return Target(resource, links)


class ResourceRuntime:
    """One registered resource: the declaration, the registry it is served with, its caches.

    It also holds what the handlers need ready-made: the parser of each path key (`keys`, outermost
    parent first, the item's last) and the body models (the schemas, or their envelopes).
    """

    def __init__(self, resource: Resource, registry: ResourceRegistry) -> None:
        self.resource = resource
        self.registry = registry
        self.target = target_of(resource)
        self.path = resource.path  # computed from the parent chain: once, not per request
        # a constraint error on a link table's column names the body field that set it
        self.field_names = {link.target_column: key for key, link in self.target.links.items()}
        self.translation = translated(self.public_error)  # one for every request's statement
        # a resource's own page sizes, else the settings'; a default above the settings' maximum raises it
        self.max_limit: int = resource.max_limit or max(registry.max_limit, resource.default_limit or 0)
        self.default_limit: int = resource.default_limit or min(registry.default_limit, self.max_limit)
        self.keys: list[tuple[str, KeyParser]] = [
            (param, key_parser(res, param)) for res, param in resource.chain
        ]
        self._bodies: dict[type[Schema], type[Schema]] = {}
        self._links: dict[type[Schema] | None, dict[str, Link]] = {}
        self._statements: dict[Hashable, Compiled] = {}
        self._includes: dict[bytes, tuple[str, ...]] = {b"": ()}
        # the plans of the most recent list query strings (a deep walk's cursors come and go)
        self.list_plan: Callable[[bytes, str], ListPlan] = functools.lru_cache(maxsize=MAX_CACHED_PLANS)(
            functools.partial(parse_plan, self)
        )

    def __repr__(self) -> str:
        return f"<ResourceRuntime {self.resource.path}>"

    def public_error(self, error: AppError) -> AppError:
        """Name the body field, not the link table's column, in a translated database error."""
        if error.field is None or error.field not in self.field_names:
            return error
        public = self.field_names[error.field]
        if isinstance(error, ValidationError):  # a tag list naming a tag that does not exist
            return ConflictError(f"{public}: some values name no existing row", field=public)
        error.detail = error.detail.replace(error.field, public)
        error.field = public
        return error

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

    def links_of(self, schema: type[Schema] | None) -> dict[str, Link]:
        """The link fields of a body schema."""
        found = self._links.get(schema)
        if found is None:
            found = self._links[schema] = self.resource.writes.links(schema, _plucks(self.resource))
        return found

    def body_model(self, schema: type[Schema] | None) -> type[Schema] | None:
        """The model a request body is validated with: the schema, or its envelope."""
        return None if schema is None else self.body_of(schema)

    def body_of(self, schema: type[Schema]) -> type[Schema]:
        """The body model of `schema`: itself, or its envelope (`{"article": {...}}`)."""
        found = self._bodies.get(schema)
        if found is None:
            key = self.resource.envelope.body_key
            exact = without_nulls(schema, self.resource.mapper)
            found = self._bodies[schema] = body_envelope(exact, key) if key else exact
        return found

    def path_values(self, request: Request) -> dict[str, Any]:
        """The item's key (`key`) and each parent's (`p0` innermost) from the path, parsed (422 if bad)."""
        params = request.path_params
        values: dict[str, Any] = {}
        last = len(self.keys) - 1
        for depth, (name, parse) in enumerate(self.keys):
            if name in params:
                values["key" if depth == last else f"p{last - depth - 1}"] = parse(params[name])
        return values
