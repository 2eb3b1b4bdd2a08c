"""One sqladmin view per model of a declarative base, configured from the model and its REST resource."""

from __future__ import annotations

import types
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from sqladmin import ModelView
from sqladmin.helpers import get_primary_keys, object_identifier_values
from sqlalchemy import BigInteger, Integer, Select, SmallInteger, String, Text
from sqlalchemy.exc import DataError, DBAPIError
from sqlalchemy.orm import Mapper, RelationshipDirection
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from wtforms import Form, PasswordField, ValidationError, validators

from pgbe import errors
from pgbe.auth.passwords import DEFAULT_POLICY, PasswordPolicy, hash_password
from pgbe.db.errors import translated
from pgbe.naming import label
from pgbe.writes import writes_for

HASH_COLUMN = "hashed_password"
HIDDEN = frozenset({HASH_COLUMN})
MANAGED = frozenset({"id", "created_at", "updated_at", "version"})  # set by the database or the ORM
TEXT_OPERATORS = frozenset({"eq", "icontains", "contains", "startswith"})
# The largest value of each integer column type (PostgreSQL refuses a larger one with an error).
INTEGER_MAX = ((BigInteger, 2**63 - 1), (SmallInteger, 2**15 - 1), (Integer, 2**31 - 1))


def _searchable(mapper: Mapper[Any], resource: Any, hidden: frozenset[str]) -> list[str]:
    columns = {c.key: c for c in mapper.column_attrs}
    if resource is not None:
        names = [
            n for n, f in resource.spec.filters.items() if "." not in n and set(f.operators) & TEXT_OPERATORS
        ]
    else:
        names = list(columns)
    return [
        n
        for n in names
        if n in columns and n not in hidden and isinstance(columns[n].columns[0].type, String | Text)
    ]


def _sortable(mapper: Mapper[Any], resource: Any, hidden: frozenset[str]) -> list[str]:
    columns = [c.key for c in mapper.column_attrs if c.key not in hidden]
    if resource is None:
        return columns
    return [n for n in resource.spec.sort if n in columns]


class RulesView(ModelView):
    """A view that writes rows by the model's write rules (`pgbe.writes`), as the API does.

    Ids and searches that PostgreSQL could not take (`abc` or 2**40 for an integer key, NUL in a
    search) are answered 404 and 400 before any statement, instead of a database error's 500. A write
    the database refuses shows the framework's message (`pgbe.db.errors.translated`), never the
    driver's, which holds the SQL and its parameters (a password hash among them).
    """

    async def insert_model(self, request: Request, data: dict[str, Any]) -> Any:
        """Insert the row; a refusal of the database becomes its framework error."""
        with database_refusals():
            return await super().insert_model(request, data)

    async def update_model(self, request: Request, pk: str, data: dict[str, Any]) -> Any:
        """Update the row; a refusal of the database becomes its framework error."""
        with database_refusals():
            return await super().update_model(request, pk, data)

    async def delete_model(self, request: Request, pk: Any) -> None:
        """Delete the row; a refusal of the database (still referenced...) becomes its framework error."""
        with database_refusals():
            await super().delete_model(request, pk)

    def form_details_query(self, request: Request) -> Select[Any]:
        """The details page's statement, for an id that can name a row (else 404)."""
        check_identifier(self.model, request.path_params["pk"])
        return super().form_details_query(request)

    def form_edit_query(self, request: Request) -> Select[Any]:
        """The edit page's statement, for an id that can name a row (else 404)."""
        check_identifier(self.model, request.path_params["pk"])
        return super().form_edit_query(request)

    async def get_object_for_delete(self, value: Any) -> Any:
        """The row to delete, for an id that can name a row (else 404)."""
        check_identifier(self.model, str(value))
        return await super().get_object_for_delete(value)

    def search_query(self, stmt: Select[Any], term: str) -> Select[Any]:
        """Search the searchable columns; a term with NUL (which no text value holds) is a 400."""
        if "\x00" in term:
            raise HTTPException(status_code=400, detail="A search cannot contain the NUL character.")
        return super().search_query(stmt, term)

    async def on_model_change(
        self, data: dict[str, Any], model: Any, is_created: bool, request: Request
    ) -> None:
        """Run the model's hook on the form's fields before they are set on the row."""
        del model, request
        writes = writes_for(self.model)
        if writes.hook(create=is_created) is not None:
            changed = await run_in_threadpool(writes.prepare, dict(data), None, create=is_created)
            data.clear()
            data.update(changed)


@contextmanager
def database_refusals() -> Iterator[None]:
    """Raise a database error as the framework's error, whose message names no SQL and no value."""
    try:
        with translated():  # the framework's one translation
            yield
    except DBAPIError as exc:  # of no kind it knows: the driver's text would show the statement
        if isinstance(exc, DataError):  # refused by the driver itself (NUL in text...)
            raise errors.ValidationError("A value is malformed for its column") from exc
        raise errors.AppError("The database refused the change") from exc


def check_identifier(model: type, identifier: str) -> None:
    """Raise 404 unless `identifier` (from a URL) can be the primary key of a row of `model`."""
    if "\x00" in identifier:
        raise HTTPException(status_code=404)
    try:
        values = object_identifier_values(identifier, model)
    except (ValueError, TypeError, ArithmeticError) as exc:  # "abc" for an integer, a malformed UUID
        raise HTTPException(status_code=404) from exc
    for column, value in zip(get_primary_keys(model), values, strict=False):
        if isinstance(value, int) and not _fits(column.type, value):
            raise HTTPException(status_code=404)


def _fits(column_type: Any, value: int) -> bool:
    for kind, largest in INTEGER_MAX:
        if isinstance(column_type, kind):
            return -largest - 1 <= value <= largest
    return True


class PasswordView(RulesView):
    """A view of a model with a password hash: a password field, required to create, kept when empty.

    The password is checked against `policy` (the project's, PASSWORD_*) and hashed by `hasher`
    (`Auth.hash_new_password`: within the worker's bound on hashes in flight); the hash is never shown.
    `mount_admin` sets both.
    """

    policy: ClassVar[PasswordPolicy] = DEFAULT_POLICY
    hasher: ClassVar[Callable[[str], Awaitable[str]] | None] = None

    async def scaffold_form(self, rules: list[str] | None = None) -> type[Form]:
        """Add the password field to the model's form."""
        form = await super().scaffold_form(rules)
        policy = self.policy

        def check_policy(form: Form, field: PasswordField) -> None:
            email = getattr(form, "email", None)
            problems = policy.problems(field.data or "", email=email.data if email is not None else None)
            if problems:
                raise ValidationError(f"The password {problems[0]}")

        field = PasswordField(
            "Password",
            validators=[validators.Optional(), check_policy],
            description=f"Required for a new account ({policy.description}); empty keeps the current one.",
        )
        return type(f"{form.__name__}WithPassword", (form,), {"password": field})

    async def on_model_change(
        self, data: dict[str, Any], model: Any, is_created: bool, request: Request
    ) -> None:
        """Store a new password as its hash; refuse a new account without one."""
        password = data.pop("password", None)
        if password:
            hasher = type(self).hasher
            hashed = await hasher(password) if hasher else await run_in_threadpool(hash_password, password)
            setattr(model, HASH_COLUMN, hashed)
        elif is_created:
            raise ValueError("A new account needs a password")
        await super().on_model_change(data, model, is_created, request)


def model_view(
    mapper: Mapper[Any], resource: Any = None, *, hidden: frozenset[str] = HIDDEN
) -> type[ModelView]:
    """Return a ModelView of `mapper`'s class: readable names, no secrets, the resource's search and sort."""
    cls = mapper.class_
    columns = [c.key for c in mapper.column_attrs if c.key not in hidden]
    to_one = [r.key for r in mapper.relationships if r.direction is RelationshipDirection.MANYTOONE]
    to_many = [r.key for r in mapper.relationships if r.direction is RelationshipDirection.ONETOMANY]
    has_password = HASH_COLUMN in mapper.column_attrs and HASH_COLUMN in hidden
    required_hidden = any(
        not c.columns[0].nullable and c.columns[0].server_default is None and c.columns[0].default is None
        for c in mapper.column_attrs
        if c.key in hidden and not (has_password and c.key == HASH_COLUMN)  # the form sets it
    )
    # In lists, a foreign key column shows as its related object's name, in the column's place.
    backing = {
        col.key: r.key
        for r in mapper.relationships
        if r.direction is RelationshipDirection.MANYTOONE
        for col in r.local_columns
    }
    listed = [backing.get(c, c) for c in columns if c not in ("version", "updated_at")]
    attrs: dict[str, Any] = {
        "name": label(cls.__name__),
        "name_plural": label(cls.__name__, plural=True),
        "column_list": listed + [r for r in to_one if r not in listed],
        "column_details_exclude_list": sorted(hidden),
        "column_export_exclude_list": sorted(hidden),
        "form_excluded_columns": sorted(hidden | MANAGED) + to_many,
        "column_searchable_list": _searchable(mapper, resource, hidden),
        "column_sortable_list": _sortable(mapper, resource, hidden),
        "column_default_sort": [("id", True)],
        "can_create": not required_hidden,  # a form without the hidden field could not insert a row
        "page_size": 25,
    }

    def body(namespace: dict[str, Any]) -> None:
        namespace.update(attrs)

    bases = (PasswordView,) if has_password else (RulesView,)
    view: type[ModelView] = types.new_class(f"{cls.__name__}Admin", bases, {"model": cls}, body)
    view.identity = cls.__table__.name  # URLs like the API's: /admin/products/list
    return view


def model_views(
    base: Any, resources: Iterable[Any] = (), *, hidden: frozenset[str] = HIDDEN
) -> list[type[ModelView]]:
    """Return a view of every mapped class of `base`, in label order, each with its resource if any."""
    by_model = {res.model: res for res in resources}
    mappers = sorted(base.registry.mappers, key=lambda m: label(m.class_.__name__, plural=True))
    return [model_view(m, by_model.get(m.class_), hidden=hidden) for m in mappers]
