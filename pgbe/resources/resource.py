"""Declare a generated REST resource for a model: what is exposed, to whom, in which shape.

A `Resource` is data. It is checked against its model and schemas when it is declared, so a
mistake fails at import; the caches, the statements and the routes belong to the runtime that
`register()` builds, so one declaration can serve two applications.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic import BaseModel as Schema
from sqlalchemy.orm import Mapper

from pgbe.auth.principal import Principal
from pgbe.naming import label
from pgbe.query.spec import QuerySpec
from pgbe.resources.json_sql import check_read_schema
from pgbe.resources.permissions import Permissions
from pgbe.writes import ModelWrites, writes_for

SchemaChooser = Callable[[Principal | None], type[Schema]]


class Resource:
    """A model exposed as POST, GET one, GET list, PATCH and DELETE, answered by one SQL statement each.

    `filters` maps a field (`price`, or `category.name` through a relationship) to its allowed
    operators; `sort` and `includes` list sortable columns and embeddable relationships. Every name is
    checked against the model and the Read schema when the resource is declared, so a column the Read
    schema does not show (a password hash) can never be filtered or sorted on.

    `owner_field` limits non-admin callers to rows whose `owner_field` equals their user id (other
    rows answer 404 and are not counted); `admin_roles` see every row. `update_schema_for` picks the
    PATCH schema per caller. What happens to the fields on the way to the table (links, managed
    columns, defaults, hooks) is the model's own write rules (`pgbe.writes`), the same for every path.
    """

    def __init__(
        self,
        model: type[Any],
        *,
        read: type[Schema],
        create: type[Schema] | None = None,
        update: type[Schema] | None = None,
        path: str | None = None,
        filters: Mapping[str, Iterable[str]] | None = None,
        sort: Iterable[str] = ("id",),
        includes: Iterable[str] = (),
        permissions: Permissions | None = None,
        owner_field: str | None = None,
        admin_roles: Iterable[str] = ("admin",),
        require_if_match: bool = False,
        update_schema_for: SchemaChooser | None = None,
        tags: list[str] | None = None,
    ) -> None:
        self.model = model
        self.mapper: Mapper[Any] = model.__mapper__
        self.read = read
        self.create_schema = create
        self.update_schema = update
        self.path = path or f"/{model.__table__.name}"
        self.label = label(model.__name__)
        self.permissions = permissions or Permissions()
        self.owner_field = owner_field
        self.admin_roles = frozenset(admin_roles)
        self.require_if_match = require_if_match
        self.update_schema_for = update_schema_for
        self.tags = tags or [self.label]
        check_read_schema(self.mapper, read)
        if owner_field is not None and owner_field not in self.mapper.columns:
            raise ValueError(f"owner_field {owner_field!r} is not a column of {model.__name__}")
        if not self.path.startswith("/") or self.path.endswith("/") or "{" in self.path:
            raise ValueError(f"path {self.path!r}: a resource path starts with / and has no parameter")
        self.spec = QuerySpec(model, read, filters=filters, sort=sort, includes=includes)
        self.writes: ModelWrites = writes_for(model)
        hooked = self.writes.rules
        self.writes.check_schema(create, hooked=hooked.before_create is not None)
        self.writes.check_schema(update, hooked=hooked.before_update is not None)

    def __repr__(self) -> str:
        return f"<Resource {self.path} of {self.model.__name__}>"

    def scoped(self, principal: Principal | None) -> bool:
        """Tell whether `principal` sees only their own rows of this resource."""
        return self.owner_field is not None and (principal is None or principal.role not in self.admin_roles)

    def update_schema_of(self, principal: Principal | None) -> type[Schema] | None:
        """The PATCH body schema for this caller."""
        if self.update_schema_for is not None:
            return self.update_schema_for(principal)
        return self.update_schema
