"""The request handlers of generated resources: one SQL statement each, JSON built by PostgreSQL."""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping
from typing import Any

import asyncpg
import pydantic
from pydantic import BaseModel as Schema
from sqlalchemy import ColumnElement
from starlette.requests import Request
from starlette.responses import Response

from pgbe.auth.guard import guard_values, session_ended, session_guard
from pgbe.auth.principal import Principal
from pgbe.db.errors import translate
from pgbe.errors import (
    AppError,
    NotFoundError,
    PreconditionFailedError,
    PreconditionRequiredError,
    ValidationError,
)
from pgbe.query.params import INT4_MAX, parse_list_params
from pgbe.resources.resource import Hook, Resource
from pgbe.resources.statements import (
    Compiled,
    compile_statement,
    delete_row,
    insert_row,
    select_one,
    select_page,
    update_row,
)

JSON = "application/json"
_ETAG = re.compile(r'\s*(?:W/)?"?(\d{1,10})"?\s*')


def _registry(res: Resource) -> Any:
    if res.registry is None:
        raise RuntimeError(f"resource {res.path} is not registered")
    return res.registry


def _row_id(request: Request) -> int:
    raw = request.path_params["id"]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 10 or not 1 <= int(raw) <= INT4_MAX:
        raise ValidationError(
            "path.id: must be a positive 32-bit integer",
            field="id",
            errors=[
                {"loc": ["path", "id"], "msg": "must be a positive 32-bit integer", "type": "int_parsing"}
            ],
        )
    return int(raw)


def _not_found(res: Resource, pk: int) -> NotFoundError:
    return NotFoundError(f"{res.label} {pk} not found")


def _driver_error(res: Resource, exc: Exception) -> Exception:
    if isinstance(exc, asyncpg.DataError):  # raised by asyncpg itself while encoding a parameter
        return ValidationError("A value is out of range or malformed for its column")
    error = translate(exc)
    if error is None:
        return exc
    if error.field in res.field_names:
        public = res.field_names[error.field]
        error.detail = error.detail.replace(error.field, public)
        error.field = public
    return error


async def _fetchrow(
    res: Resource, request: Request, compiled: Compiled, values: Mapping[str, Any], *, read: bool
) -> asyncpg.Record:
    database = _registry(res).database
    args = compiled.args(values)
    try:
        if read:
            position = _registry(res).read_position(request)
            # run_read runs the read again, once, when its connection dies mid-flight
            row = await database.run_read(lambda conn: conn.fetchrow(compiled.sql, *args), min_lsn=position)
        else:
            row = await database.run_write(lambda conn: conn.fetchrow(compiled.sql, *args))
    except (asyncpg.PostgresError, asyncpg.DataError) as exc:
        raise _driver_error(res, exc) from exc
    return row


def _owner_values(res: Resource, principal: Principal | None, values: dict[str, Any]) -> bool:
    scoped = res.scoped(principal)
    if scoped:
        values["owner"] = principal.user_id if principal is not None else None
    return scoped


def _guard_values(principal: Principal | None, values: dict[str, Any]) -> bool:
    """Bind the session guard of a signed-in caller; tell whether the statement carries it."""
    if principal is None:
        return False
    values.update(guard_values(principal))
    return True


def _guard(guarded: bool) -> ColumnElement[bool] | None:
    return session_guard() if guarded else None


async def _on_primary(
    res: Resource, request: Request, compiled: Compiled, values: Mapping[str, Any]
) -> asyncpg.Record | None:
    """Ask a read whose guard failed once more on the primary, when it may have run on a replica.

    A replica may not have the caller's session yet (a sign-in a moment ago); revocations are
    seen by replicas within their lag, and by the primary at once.
    """
    if not _registry(res).database.replicas:
        return None
    row: asyncpg.Record | None = await _fetchrow(res, request, compiled, values, read=False)
    return row


async def list_rows(res: Resource, request: Request) -> Response:
    """GET /things: a page of rows with the total count."""
    registry = _registry(res)
    principal = await registry.principal(request)
    res.permissions.list_permission(principal)
    params = parse_list_params(
        res.spec,
        request.query_params.multi_items(),
        default_limit=registry.default_limit,
        max_limit=registry.max_limit,
    )
    values = params.bind_values()
    scoped = _owner_values(res, principal, values)
    guarded = _guard_values(principal, values)
    compiled = res.statement(
        ("list", params.shape, scoped, guarded),
        lambda: select_page(res.target, params, scoped=scoped, guard=_guard(guarded)),
    )
    row = await _fetchrow(res, request, compiled, values, read=True)
    if row is None:
        row = await _on_primary(res, request, compiled, values)
    if row is None:
        raise session_ended()
    return Response(row[0], media_type=JSON)


async def get_row(res: Resource, request: Request) -> Response:
    """GET /things/{id}: one row, with an ETag of its version."""
    registry = _registry(res)
    principal = await registry.principal(request)
    res.permissions.read(principal)
    pk = _row_id(request)
    includes = res.includes_of(request.scope["query_string"])
    values: dict[str, Any] = {"id": pk}
    scoped = _owner_values(res, principal, values)
    guarded = _guard_values(principal, values)
    compiled = res.statement(
        ("get", includes, scoped, guarded),
        lambda: select_one(res.target, includes, scoped=scoped, guard=_guard(guarded)),
    )
    row = await _fetchrow(res, request, compiled, values, read=True)
    if guarded and not row[2]:
        row = await _on_primary(res, request, compiled, values)
        if row is None or not row[2]:
            raise session_ended()
    if row is None or row[0] is None:
        raise _not_found(res, pk)
    headers = {"ETag": f'"{row[1]}"'} if row[1] is not None else None
    return Response(row[0], media_type=JSON, headers=headers)


async def _body(request: Request, schema: type[Schema] | None) -> dict[str, Any]:
    if schema is None:
        raise AppError("no schema for this method")
    raw = await request.body()
    try:
        obj = schema.model_validate_json(raw)
    except pydantic.ValidationError as exc:
        errors = [
            {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_input=False, include_context=False)
        ]
        first = errors[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ValidationError(f"{where}: {first['msg']}", errors=errors) from None
    set_fields = obj.model_fields_set
    return {k: v for k, v in obj.model_dump().items() if k in set_fields or v is not None}


async def _hook(hook: Hook | None, data: dict[str, Any], principal: Principal | None) -> dict[str, Any]:
    if hook is None:
        return data
    result = hook(data, principal)
    if inspect.isawaitable(result):
        result = await result
    assert isinstance(result, dict)
    return result


def _split(res: Resource, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    links = {k: data.pop(k) for k in list(data) if k in res.links}
    links = {k: v for k, v in links.items() if v is not None}
    for key in data:
        if key not in res.mapper.columns:
            raise AppError(f"{key!r} is not a column of {res.model.__name__}")
    return data, links


def _write_statement(res: Resource, key: tuple[Any, ...], data: Mapping[str, Any], build: Any) -> Compiled:
    if any(isinstance(v, ColumnElement) for v in data.values()):
        return compile_statement(build())
    return res.statement(key, build)


def _write_values(data: Mapping[str, Any], links: Mapping[str, Any]) -> dict[str, Any]:
    values = {f"v_{k}": v for k, v in data.items() if not isinstance(v, ColumnElement)}
    values.update({f"l_{k}": list(v) for k, v in links.items()})
    return values


def _python_defaults(res: Resource, data: dict[str, Any]) -> None:
    """Fill in the model's Python-side column defaults (`default="user"`), as the ORM would."""
    for column in res.target.table.c:
        default = column.default
        if column.key in data or default is None:
            continue
        if default.is_scalar:
            data[column.key] = default.arg
        elif default.is_callable:
            data[column.key] = default.arg(None)


def _set_owner(res: Resource, data: dict[str, Any], principal: Principal | None) -> None:
    """Non-admins always own what they create; admins own it unless they name an owner."""
    owner = res.owner_field
    if owner is None or principal is None or owner == res.target.pk.name:
        return
    if res.scoped(principal) or owner not in data:
        data[owner] = principal.user_id


async def create_row(res: Resource, request: Request) -> Response:
    """POST /things: insert a row; 201 with its Location and ETag."""
    principal = await _registry(res).principal(request)
    res.permissions.create(principal)
    data = await _body(request, res.create_schema)
    data, links = _split(res, await _hook(res.before_create, data, principal))
    _set_owner(res, data, principal)
    _python_defaults(res, data)
    values = _write_values(data, links)
    guarded = _guard_values(principal, values)
    key = ("create", tuple(sorted(data)), tuple(sorted(links)), guarded)
    compiled = _write_statement(
        res, key, data, lambda: insert_row(res.target, data, links, guard=_guard(guarded))
    )
    row = await _fetchrow(res, request, compiled, values, read=False)
    if row is None:  # only a guarded insert returns no row
        raise session_ended()
    headers = {"Location": f"{res.path}/{row[1]}"}
    if row[2] is not None:
        headers["ETag"] = f'"{row[2]}"'
    return Response(row[0], status_code=201, media_type=JSON, headers=headers)


def _if_match(res: Resource, request: Request) -> list[int] | None:
    """Return the versions If-Match accepts; None when any version will do."""
    header = request.headers.get("if-match")
    if header is None:
        if res.require_if_match and res.target.versioned:
            raise PreconditionRequiredError("This resource requires an If-Match header with its ETag")
        return None
    if header.strip() == "*" or not res.target.versioned:
        return None
    versions = []
    for part in header.split(","):
        match = _ETAG.fullmatch(part)
        if match is None or int(match.group(1)) > INT4_MAX:
            raise PreconditionFailedError("If-Match does not match the current version")
        versions.append(int(match.group(1)))
    return versions


async def update_row_handler(res: Resource, request: Request) -> Response:
    """PATCH /things/{id}: change the given fields; If-Match checks the version in the same statement."""
    principal = await _registry(res).principal(request)
    res.permissions.update(principal)
    pk = _row_id(request)
    versions = _if_match(res, request)
    data = await _body(request, res.update_schema_of(principal))
    data, links = _split(res, await _hook(res.before_update, data, principal))
    values = _write_values(data, links)
    values["id"] = pk
    check = versions is not None
    if check:
        values["versions"] = versions
    scoped = _owner_values(res, principal, values)
    guarded = _guard_values(principal, values)
    key = ("update", tuple(sorted(data)), tuple(sorted(links)), scoped, check, guarded)
    compiled = _write_statement(
        res,
        key,
        data,
        lambda: update_row(
            res.target, data, links, scoped=scoped, check_version=check, guard=_guard(guarded)
        ),
    )
    body, version, found, allowed = await _fetchrow(res, request, compiled, values, read=False)
    if guarded and not allowed:
        raise session_ended()
    if body is None:
        if found:
            raise PreconditionFailedError(f"{res.label} {pk} has changed; fetch it again")
        raise _not_found(res, pk)
    headers = {"ETag": f'"{version}"'} if version is not None else None
    return Response(body, media_type=JSON, headers=headers)


async def delete_row_handler(res: Resource, request: Request) -> Response:
    """DELETE /things/{id}: 204; If-Match checks the version in the same statement."""
    principal = await _registry(res).principal(request)
    res.permissions.delete(principal)
    pk = _row_id(request)
    versions = _if_match(res, request)
    values: dict[str, Any] = {"id": pk}
    check = versions is not None
    if check:
        values["versions"] = versions
    scoped = _owner_values(res, principal, values)
    guarded = _guard_values(principal, values)
    compiled = res.statement(
        ("delete", scoped, check, guarded),
        lambda: delete_row(res.target, scoped=scoped, check_version=check, guard=_guard(guarded)),
    )
    deleted, found, allowed = await _fetchrow(res, request, compiled, values, read=False)
    if guarded and not allowed:
        raise session_ended()
    if not deleted:
        if found:
            raise PreconditionFailedError(f"{res.label} {pk} has changed; fetch it again")
        raise _not_found(res, pk)
    return Response(status_code=204)
