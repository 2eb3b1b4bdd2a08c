"""Declare a generated REST resource for a model: what is exposed, to whom, in which shape.

A `Resource` is data. It is checked against its model and schemas when it is declared, so a
mistake fails at import; the caches, the statements and the routes belong to the runtime that
`register()` builds, so one declaration can serve two applications.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal, cast

from pydantic import BaseModel as Schema
from sqlalchemy import Column, Table, UniqueConstraint
from sqlalchemy.orm import Mapper, RelationshipDirection, RelationshipProperty

from pgbe.auth.principal import Principal
from pgbe.errors import ValidationError
from pgbe.naming import label, singularize
from pgbe.query.computed import CallerIn, Computed
from pgbe.query.params import parse_sort
from pgbe.query.spec import QuerySpec
from pgbe.resources.counts import STRATEGIES, CountStrategy
from pgbe.resources.declarations import DEFAULT_ENVELOPE, AccessToken, Action, Caller, Envelope, SignIn, View
from pgbe.resources.json_sql import check_read_schema
from pgbe.resources.permissions import Permissions
from pgbe.writes import ModelWrites, writes_for

SchemaChooser = Callable[[Principal | None], type[Schema]]
OPERATIONS = ("list", "get", "create", "update", "delete")
ITEM_OPERATIONS = ("get", "update", "delete")
MAX_PAGE_LIMIT = 10_000  # the most rows any list answers at once, whatever a resource declares


class Resource:
    """A model exposed as a collection and its items, each request answered by one SQL statement.

    What is exposed: `read` (the JSON of a row), `create` / `update` (the bodies), `operations` (any
    of list, get, create, update, delete; what is left out answers 405) and `update_methods` (PATCH,
    PUT or both). Items are addressed by `lookup`, the primary key or any unique column
    (`lookup="slug"`), or are the caller's own row at the resource's path (`lookup=Caller()`:
    `GET /user`, no key, 401 anonymous). `parent=articles` nests the resource under its parent's items
    (`/articles/{slug}/comments`): the parent is found in the same statement (404 when it is missing
    or not visible) and sets the parent key of created rows.

    Lists: `filters` maps a field (`price`, `category.name` through a relationship, or a computed
    field) to its operators; `sort` and `includes` list sortable fields and embeddable relationships;
    `aliases` renames query parameters (`{"offset": "skip", "tag": "tags.name"}`); `default_sort`
    orders a list without `sort`; `unknown_params="ignore"` skips parameters it does not know instead
    of answering 422; `views` add lists with a condition on the caller at their own path;
    `default_limit` / `max_limit` set this resource's page size (by default the settings'; at most
    MAX_PAGE_LIMIT, so a small table can be listed whole but no list is unbounded). Every name
    is checked against the model and the Read schema, so a column the Read schema does not show (a
    password hash) can never be filtered or sorted on. `count` is the default count strategy of the
    lists and `max_skip` their deepest offset (else the `PAGE_COUNT` and `PAGE_MAX_SKIP` settings);
    deeper pages follow the `next` cursor.

    Who: `permissions` per method (a `RowRule` such as `caller_is("author")` looks at the row: 403
    for a visible row the caller may not change); `owner_field` limits non-admin callers to rows whose
    `owner_field` is their user id (others answer 404 and are not counted) and sets it on create;
    `created_by` only sets a column to the caller on create. `actions` add endpoints on items
    (`POST /articles/{slug}/favorite`). `envelope` names the keys around rows, lists and bodies.
    `name` (the table's by default) names the operation ids and OpenAPI components: a second
    resource of the same table in one application needs its own (`name="profiles"`).
    What happens to the fields on the way to the table (links, managed columns, defaults, hooks) is
    the model's own write rules (`pgbe.writes`), the same for every path.

    Accounts (the `users` table that `pgbe.auth` signs in): `token=AccessToken()` adds a field
    holding a fresh access token to the answers about the caller's own account and to sign-ups'
    (`AccessToken`); `sign_in=SignIn("/login")` adds `POST <path>/login` answering the account with
    a token (`SignIn`).
    """

    def __init__(
        self,
        model: type[Any],
        *,
        read: type[Schema],
        create: type[Schema] | None = None,
        update: type[Schema] | None = None,
        path: str | None = None,
        lookup: str | Caller | None = None,
        parent: Resource | None = None,
        parent_field: str | None = None,
        filters: Mapping[str, Iterable[str]] | None = None,
        sort: Iterable[str] | None = None,
        includes: Iterable[str] = (),
        computed: Mapping[str, Computed] | None = None,
        aliases: Mapping[str, str] | None = None,
        default_sort: str | None = None,
        unknown_params: Literal["refuse", "ignore"] = "refuse",
        default_limit: int | None = None,
        max_limit: int | None = None,
        envelope: Envelope | None = None,
        permissions: Permissions | None = None,
        owner_field: str | None = None,
        created_by: str | None = None,
        admin_roles: Iterable[str] = ("admin",),
        require_if_match: bool = False,
        update_schema_for: SchemaChooser | None = None,
        operations: Iterable[str] = OPERATIONS,
        update_methods: Iterable[str] = ("PATCH",),
        views: Iterable[View] = (),
        actions: Iterable[Action] = (),
        tags: list[str] | None = None,
        count: CountStrategy | None = None,
        max_skip: int | None = None,
        name: str | None = None,
        token: AccessToken | None = None,
        sign_in: SignIn | None = None,
    ) -> None:
        self.model = model
        # names its operation ids (`articles.list`) and OpenAPI components: two resources of one
        # table in one application need names of their own (`profiles`)
        self.name = name or str(model.__table__.name)
        if not re.fullmatch(r"[a-z][a-z0-9_]*", self.name):
            raise ValueError(f"name {self.name!r}: lowercase letters, digits and _, starting with a letter")
        self.mapper: Mapper[Any] = model.__mapper__
        self.read = read
        self.create_schema = create
        self.update_schema = update
        self.segment = path or f"/{model.__table__.name}"
        self.label = label(model.__name__)
        self.permissions = permissions or Permissions()
        self.owner_field = owner_field
        self.created_by = created_by
        self.admin_roles = frozenset(admin_roles)
        self.require_if_match = require_if_match
        self.update_schema_for = update_schema_for
        self.envelope = envelope or DEFAULT_ENVELOPE
        self.ignore_unknown = unknown_params == "ignore"
        self.tags = tags or [self.label]
        self.views = tuple(views)
        self.actions = tuple(actions)
        self.computed = dict(computed or {})
        if count is not None and count not in STRATEGIES:
            raise ValueError(f"count {count!r}: one of {', '.join(STRATEGIES)}")
        self.count = count  # None: the PAGE_COUNT setting
        if max_skip is not None and max_skip < 0:
            raise ValueError(f"max_skip {max_skip!r} must be at least 0")
        self.max_skip = max_skip  # None: the PAGE_MAX_SKIP setting
        if not self.segment.startswith("/") or self.segment.endswith("/") or "{" in self.segment:
            raise ValueError(f"path {self.segment!r}: a resource path starts with / and has no parameter")
        check_read_schema(self.mapper, read, self.computed)
        for name in (owner_field, created_by):
            if name is not None and name not in self.mapper.columns:
                raise ValueError(f"{name!r} is not a column of {model.__name__}")
        self.caller_item = isinstance(lookup, Caller)
        self.lookup: Column[Any] = self._lookup(lookup.column if isinstance(lookup, Caller) else lookup)
        self.parent = parent
        self.parent_relationship = self._parent(parent, parent_field)
        self.operations = self._operations(operations)
        self.default_limit, self.max_limit = _page_limits(default_limit, max_limit)
        self.update_methods = tuple(dict.fromkeys(m.upper() for m in update_methods))
        if not self.update_methods or set(self.update_methods) - {"PATCH", "PUT"}:
            raise ValueError(f"update_methods {update_methods!r}: PATCH, PUT or both")
        if sort is None:  # the primary key, when the Read schema shows it
            pk = self.mapper.primary_key[0].key
            sort = [pk] if pk in read.model_fields else []
        self.spec = QuerySpec(
            model,
            read,
            filters=filters,
            sort=sort,
            includes=includes,
            aliases=aliases,
            computed=self.computed,
        )
        try:
            self.default_sort = parse_sort(self.spec, "default_sort", default_sort) if default_sort else ()
        except ValidationError as exc:
            raise ValueError(f"default_sort {default_sort!r}: {exc.detail}") from None
        self.writes: ModelWrites = writes_for(model)
        hooks = self.writes.rules
        self.writes.check_schema(create, hooked=hooks.before_create is not None)
        self.writes.check_schema(update, hooked=hooks.before_update is not None)
        self._check_set_from_elsewhere(create)
        self._check_declarations()
        self.token_field = token.field if token is not None else None
        self.sign_in = sign_in
        self._check_token()

    def __repr__(self) -> str:
        return f"<Resource {self.path} of {self.model.__name__}>"

    # --- paths -------------------------------------------------------------------------------------

    @property
    def chain(self) -> list[tuple[Resource, str]]:
        """Every resource from the outermost parent to this one, with the path parameter of its items.

        Empty for the caller's own row (`lookup=Caller()`): its item has no key in the path.
        """
        if self.caller_item:
            return []
        outer = self.parent.chain if self.parent is not None else []
        taken = {param for _, param in outer}
        own = self.lookup.key or self.lookup.name
        if own in taken:
            own = f"{singularize(self.model.__table__.name)}_{own}"
        return [*outer, (self, own)]

    @property
    def path(self) -> str:
        """The collection's path: `/articles`, or `/articles/{slug}/comments` under a parent."""
        chain = self.chain
        parts = [f"{res.segment}/{{{param}}}" for res, param in chain[:-1]]
        return "".join(parts) + self.segment

    @property
    def item_path(self) -> str:
        """The path of one item: `/articles/{slug}` (the resource's path for the caller's own row)."""
        if self.caller_item:
            return self.path
        return f"{self.path}/{{{self.chain[-1][1]}}}"

    @property
    def lookup_param(self) -> str:
        """The path parameter naming an item."""
        return self.chain[-1][1]

    # --- callers -----------------------------------------------------------------------------------

    def scoped(self, principal: Principal | None) -> bool:
        """Tell whether `principal` sees only their own rows of this resource."""
        return self.owner_field is not None and (principal is None or principal.role not in self.admin_roles)

    def update_schema_of(self, principal: Principal | None) -> type[Schema] | None:
        """The update body schema for this caller."""
        if self.update_schema_for is not None:
            return self.update_schema_for(principal)
        return self.update_schema

    # --- checks ------------------------------------------------------------------------------------

    def _lookup(self, name: str | None) -> Column[Any]:
        table = cast(Table, self.mapper.local_table)
        if name is None:
            return cast(Column[Any], self.mapper.primary_key[0])
        if name not in self.mapper.columns:
            raise ValueError(f"lookup {name!r} is not a column of {self.model.__name__}")
        column: Column[Any] = self.mapper.columns[name]
        keys = [
            [c.name for c in con.columns]
            for con in [*getattr(table, "constraints", ()), *getattr(table, "indexes", ())]
            if isinstance(con, UniqueConstraint) or getattr(con, "unique", False) is True
        ]
        if not (column.primary_key or column.unique or [column.name] in keys):
            raise ValueError(f"lookup {name!r}: {table.name}.{column.name} is not unique")
        return column

    def _parent(self, parent: Resource | None, field: str | None) -> RelationshipProperty[Any] | None:
        if parent is None:
            if field is not None:
                raise ValueError("parent_field without parent")
            return None
        if self.caller_item or parent.caller_item:
            raise ValueError(
                f"{self.model.__name__}: the caller's own row (lookup=Caller()) cannot be nested"
            )
        candidates = [
            rel
            for rel in self.mapper.relationships
            if rel.direction is RelationshipDirection.MANYTOONE
            and rel.mapper is parent.mapper
            and (field is None or rel.key == field)
        ]
        if len(candidates) != 1:
            found = ", ".join(r.key for r in candidates) or "none"
            raise ValueError(
                f"{self.model.__name__} under {parent.model.__name__}: name the relationship with"
                f" parent_field= (many-to-one relationships to it: {found})"
            )
        rel = candidates[0]
        if len(rel.local_remote_pairs) != 1:
            raise ValueError(f"{self.model.__name__}.{rel.key}: only single-column parent keys are supported")
        return rel

    @property
    def parent_column(self) -> str | None:
        """The column of a nested row that holds its parent's key."""
        if self.parent_relationship is None:
            return None
        ((local, _),) = self.parent_relationship.local_remote_pairs
        return str(local.name)

    def _operations(self, operations: Iterable[str]) -> tuple[str, ...]:
        """The operations offered; by default every one whose schema is given."""
        asked = tuple(dict.fromkeys(operations))
        default = asked == OPERATIONS
        unknown = set(asked) - set(OPERATIONS)
        if unknown:
            raise ValueError(f"operations {sorted(unknown)}: choose from {', '.join(OPERATIONS)}")
        if self.caller_item:
            collection = [op for op in asked if op not in ITEM_OPERATIONS]
            if collection and not default:
                raise ValueError(
                    f"operations {collection}: the caller's own row (lookup=Caller()) has no list"
                )
            # deleting one's own row (an account) is offered only when asked for
            asked = ("get", "update") if default else asked
            if self.views:
                raise ValueError("views: the caller's own row (lookup=Caller()) has no list")
        schemas = {"create": self.create_schema, "update": self.update_schema}
        missing = [op for op in asked if op in schemas and schemas[op] is None]
        if missing and not default:
            raise ValueError(f"operations {missing} need a {missing[0]} schema")
        return tuple(op for op in asked if op not in missing)

    def _check_set_from_elsewhere(self, schema: type[Schema] | None) -> None:
        """Refuse a create body that could set the parent key or the caller's column itself."""
        if schema is None:
            return
        for name, why in ((self.parent_column, "the path"), (self.created_by, "the caller")):
            if name is not None and name in schema.model_fields:
                raise ValueError(f"{schema.__name__}.{name} is set from {why}; it cannot be in the body")

    def _check_declarations(self) -> None:
        names = [view.name for view in self.views] + [action.name for action in self.actions]
        if len(names) != len(set(names)):
            raise ValueError(f"{self.model.__name__}: two views or actions share a name ({names})")
        for view in self.views:
            view.where.check(self.mapper)
        for action in self.actions:
            if action.link is not None:
                rel = self.mapper.relationships.get(action.link)
                if rel is None or rel.secondary is None:
                    raise ValueError(
                        f"action {action.name!r}: {action.link!r} is not a many-to-many relationship"
                    )
                CallerIn(action.link).check(self.mapper)
            for column in action.values or {}:
                if column not in self.mapper.columns:
                    raise ValueError(f"action {action.name!r}: {column!r} is not a column")

    def _check_token(self) -> None:
        """A token field only on pgbe.auth's accounts, with a name the Read schema leaves free."""
        if self.sign_in is not None and self.token_field is None:
            raise ValueError("sign_in answers the account with a token: declare it, token=AccessToken()")
        if self.sign_in is not None and self.parent is not None:
            raise ValueError("sign_in: the accounts' resource cannot be nested")
        if self.token_field is None:
            return
        table = self.mapper.local_table
        missing = {"role", "is_active"} - set(table.c.keys())
        if getattr(table, "name", None) != "users" or missing:
            raise ValueError(
                f"token on {self.model.__name__}: only the accounts pgbe.auth signs in (table users,"
                " with role and is_active) carry access tokens"
            )
        shown = {f.alias or name for name, f in self.read.model_fields.items()} | set(self.read.model_fields)
        if self.token_field in shown:
            raise ValueError(f"token {self.token_field!r}: {self.read.__name__} has a field of that name")


def _page_limits(default: int | None, most: int | None) -> tuple[int | None, int | None]:
    """Check a resource's own page sizes: 1 to MAX_PAGE_LIMIT, the default within the maximum."""
    for name, value in (("default_limit", default), ("max_limit", most)):
        if value is not None and not 1 <= value <= MAX_PAGE_LIMIT:
            raise ValueError(f"{name} {value}: between 1 and {MAX_PAGE_LIMIT}")
    if default is not None and most is not None and default > most:
        raise ValueError(f"default_limit {default} is above max_limit {most}")
    return default, most
