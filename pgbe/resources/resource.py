"""Declare a generated REST resource for a model in a few lines."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel as Schema
from sqlalchemy.orm import Mapper, RelationshipProperty
from sqlalchemy.sql import ClauseElement
from starlette.datastructures import QueryParams

from pgbe.auth.principal import Principal
from pgbe.naming import label, singularize
from pgbe.query.params import single_includes
from pgbe.query.spec import QuerySpec
from pgbe.resources.json_sql import check_read_schema
from pgbe.resources.permissions import Permissions
from pgbe.resources.statements import Compiled, Target, compile_statement

if TYPE_CHECKING:
    from pgbe.resources.registry import ResourceRegistry

Hook = Callable[[dict[str, Any], Principal | None], dict[str, Any] | Awaitable[dict[str, Any]]]
SchemaChooser = Callable[[Principal | None], type[Schema]]
MAX_CACHED_STATEMENTS = 512


class Resource:
    """A model exposed as POST, GET one, GET list, PATCH and DELETE, answered by one SQL statement each.

    `filters` maps a field (`price`, or `category.name` through a relationship) to its allowed
    operators; `sort` and `includes` list sortable columns and embeddable relationships. Every name is
    checked against the model and the Read schema when the resource is declared, so a column the Read
    schema does not show (a password hash) can never be filtered or sorted on.

    `owner_field` limits non-admin callers to rows whose `owner_field` equals their user id (other
    rows answer 404 and are not counted); `admin_roles` see every row. `before_create` /
    `before_update` receive the validated fields and the caller and return the fields to write (hash
    a password, set an owner); a value may be a SQL expression. `update_schema_for` picks the PATCH
    schema per caller.
    """

    def __init__(
        self,
        model: type[Any],
        *,
        read: type[Schema],
        create: type[Schema] | None = None,
        update: type[Schema] | None = None,
        controller: Any = None,
        path: str | None = None,
        filters: Mapping[str, Iterable[str]] | None = None,
        sort: Iterable[str] = ("id",),
        includes: Iterable[str] = (),
        permissions: Permissions | None = None,
        owner_field: str | None = None,
        admin_roles: Iterable[str] = ("admin",),
        require_if_match: bool = False,
        before_create: Hook | None = None,
        before_update: Hook | None = None,
        update_schema_for: SchemaChooser | None = None,
        tags: list[str] | None = None,
    ) -> None:
        self.model = model
        self.mapper: Mapper[Any] = model.__mapper__
        self.read = read
        self.create_schema = create
        self.update_schema = update
        self.controller = controller
        self.path = path or f"/{model.__table__.name}"
        self.label = label(model.__name__)
        self.permissions = permissions or Permissions()
        self.owner_field = owner_field
        self.admin_roles = frozenset(admin_roles)
        self.require_if_match = require_if_match
        self.before_create = before_create
        self.before_update = before_update
        self.update_schema_for = update_schema_for
        self.tags = tags or [self.label]
        check_read_schema(self.mapper, read)
        if owner_field is not None and owner_field not in self.mapper.columns:
            raise ValueError(f"owner_field {owner_field!r} is not a column of {model.__name__}")
        self.spec = QuerySpec(model, read, filters=filters, sort=sort, includes=includes)
        self.links = self._links()
        self.field_names = {self._link_target_column(rel): key for key, rel in self.links.items()}
        self.target = Target(self.mapper, read, self.spec, owner_field, self.links)
        self._statements: dict[Hashable, Compiled] = {}
        self._includes: dict[bytes, tuple[str, ...]] = {b"": ()}
        self.registry: ResourceRegistry | None = None
        self._check_writable(create, before_create)
        self._check_writable(update, before_update)

    def _links(self) -> dict[str, RelationshipProperty[Any]]:
        fields = set()
        for schema in (self.create_schema, self.update_schema):
            if schema is not None:
                fields |= set(schema.model_fields)
        links = {}
        for rel in self.mapper.relationships:
            key = f"{singularize(rel.key)}_ids"
            if rel.secondary is not None and key in fields:
                links[key] = rel
        return links

    @staticmethod
    def _link_target_column(rel: RelationshipProperty[Any]) -> str:
        (_, link_target), *_ = rel.secondary_synchronize_pairs or ()
        return str(link_target.name)

    def _check_writable(self, schema: type[Schema] | None, hook: Hook | None) -> None:
        if schema is None or hook is not None:
            return
        for name in schema.model_fields:
            if name not in self.mapper.columns and name not in self.links:
                raise ValueError(f"{schema.__name__}.{name} is not a column of {self.model.__name__}")

    def scoped(self, principal: Principal | None) -> bool:
        """Tell whether `principal` sees only their own rows of this resource."""
        return self.owner_field is not None and (principal is None or principal.role not in self.admin_roles)

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
            includes = single_includes(self.spec, QueryParams(query_string).multi_items())
            if len(self._includes) < MAX_CACHED_STATEMENTS:
                self._includes[query_string] = includes
        return includes

    def update_schema_of(self, principal: Principal | None) -> type[Schema] | None:
        """The PATCH body schema for this caller."""
        if self.update_schema_for is not None:
            return self.update_schema_for(principal)
        return self.update_schema
