"""The request handlers of generated resources: one SQL statement each, JSON built by PostgreSQL."""

from __future__ import annotations

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
    UnsupportedMediaTypeError,
    ValidationError,
)
from pgbe.query.params import INT4_MAX, parse_list_params
from pgbe.resources.runtime import ResourceRuntime
from pgbe.resources.statements import (
    Compiled,
    compile_statement,
    delete_row,
    insert_row,
    select_one,
    select_page,
    update_row,
)
from pgbe.writes import has_sql

JSON = "application/json"
_ETAG = re.compile(r'\s*(?:W/)?"?(\d{1,10})"?\s*')


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


def _not_found(rt: ResourceRuntime, pk: int) -> NotFoundError:
    return NotFoundError(f"{rt.resource.label} {pk} not found")


def _driver_error(rt: ResourceRuntime, exc: Exception) -> Exception:
    if isinstance(exc, asyncpg.DataError):  # raised by asyncpg itself while encoding a parameter
        return ValidationError("A value is out of range or malformed for its column")
    error = translate(exc)
    if error is None:
        return exc
    if error.field is not None and error.field in rt.field_names:
        public = rt.field_names[error.field]
        error.detail = error.detail.replace(error.field, public)
        error.field = public
    return error


async def _fetchrow(
    rt: ResourceRuntime, request: Request, compiled: Compiled, values: Mapping[str, Any], *, read: bool
) -> asyncpg.Record:
    database = rt.registry.database
    args = compiled.args(values)
    try:
        if read:
            position = rt.registry.read_position(request)
            # run_read runs the read again, once, when its connection dies mid-flight
            row = await database.run_read(lambda conn: conn.fetchrow(compiled.sql, *args), min_lsn=position)
        else:
            row = await database.run_write(lambda conn: conn.fetchrow(compiled.sql, *args))
    except (asyncpg.PostgresError, asyncpg.DataError) as exc:
        raise _driver_error(rt, exc) from exc
    return row


def _owner_values(rt: ResourceRuntime, principal: Principal | None, values: dict[str, Any]) -> bool:
    scoped = rt.resource.scoped(principal)
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
    rt: ResourceRuntime, request: Request, compiled: Compiled, values: Mapping[str, Any]
) -> asyncpg.Record | None:
    """Ask a read whose guard failed once more on the primary, when it may have run on a replica.

    A replica may not have the caller's session yet (a sign-in a moment ago); revocations are
    seen by replicas within their lag, and by the primary at once.
    """
    if not rt.registry.database.replicas:
        return None
    row: asyncpg.Record | None = await _fetchrow(rt, request, compiled, values, read=False)
    return row


async def list_rows(rt: ResourceRuntime, request: Request) -> Response:
    """GET /things: a page of rows with the total count."""
    res, registry = rt.resource, rt.registry
    principal = await registry.principal(request)
    res.permissions.list_permission(principal)
    params = parse_list_params(
        res.spec,
        request.query_params.multi_items(),
        default_limit=registry.default_limit,
        max_limit=registry.max_limit,
    )
    values = params.bind_values()
    scoped = _owner_values(rt, principal, values)
    guarded = _guard_values(principal, values)
    compiled = rt.statement(
        ("list", params.shape, scoped, guarded),
        lambda: select_page(rt.target, params, scoped=scoped, guard=_guard(guarded)),
    )
    row = await _fetchrow(rt, request, compiled, values, read=True)
    if row is None:
        row = await _on_primary(rt, request, compiled, values)
    if row is None:
        raise session_ended()
    return Response(row[0], media_type=JSON)


async def get_row(rt: ResourceRuntime, request: Request) -> Response:
    """GET /things/{id}: one row, with an ETag of its version."""
    res = rt.resource
    principal = await rt.registry.principal(request)
    res.permissions.read(principal)
    pk = _row_id(request)
    includes = rt.includes_of(request.scope["query_string"])
    values: dict[str, Any] = {"id": pk}
    scoped = _owner_values(rt, principal, values)
    guarded = _guard_values(principal, values)
    compiled = rt.statement(
        ("get", includes, scoped, guarded),
        lambda: select_one(rt.target, includes, scoped=scoped, guard=_guard(guarded)),
    )
    row = await _fetchrow(rt, request, compiled, values, read=True)
    if guarded and not row[2]:
        row = await _on_primary(rt, request, compiled, values)
        if row is None or not row[2]:
            raise session_ended()
    if row is None or row[0] is None:
        raise _not_found(rt, pk)
    headers = {"ETag": f'"{row[1]}"'} if row[1] is not None else None
    return Response(row[0], media_type=JSON, headers=headers)


def _check_content_type(request: Request) -> None:
    """Refuse a body that is not declared as JSON (415): a form or text body is never parsed as JSON."""
    content_type = request.headers.get("content-type")
    media = (content_type or "").partition(";")[0].strip().lower()
    if media == JSON or (media.startswith("application/") and media.endswith("+json")):
        return
    shown = media or "no Content-Type"
    raise UnsupportedMediaTypeError(f"The body must be application/json, not {shown}")


async def _body(request: Request, schema: type[Schema] | None) -> dict[str, Any]:
    if schema is None:
        raise AppError("no schema for this method")
    _check_content_type(request)
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


def _write_statement(
    rt: ResourceRuntime, key: tuple[Any, ...], data: Mapping[str, Any], build: Any
) -> Compiled:
    if has_sql(data):  # a hook's SQL expression may embed values: not a cacheable shape
        return compile_statement(build())
    return rt.statement(key, build)


def _write_values(data: Mapping[str, Any], links: Mapping[str, Any]) -> dict[str, Any]:
    values = {f"v_{k}": v for k, v in data.items() if not isinstance(v, ColumnElement)}
    values.update({f"l_{k}": list(v) for k, v in links.items()})
    return values


def _set_owner(rt: ResourceRuntime, data: dict[str, Any], principal: Principal | None) -> None:
    """Non-admins always own what they create; admins own it unless they name an owner."""
    res = rt.resource
    owner = res.owner_field
    if owner is None or principal is None or owner == rt.target.pk.name:
        return
    if res.scoped(principal) or owner not in data:
        data[owner] = principal.user_id


async def create_row(rt: ResourceRuntime, request: Request) -> Response:
    """POST /things: insert a row; 201 with its Location and ETag."""
    res = rt.resource
    principal = await rt.registry.principal(request)
    res.permissions.create(principal)
    schema = res.create_schema
    data = await _body(request, schema)
    data = await res.writes.prepare_async(data, principal, create=True)
    data, links = res.writes.split(data, rt.links_of(schema))
    _set_owner(rt, data, principal)
    res.writes.fill_defaults(data)
    values = _write_values(data, links)
    guarded = _guard_values(principal, values)
    key = ("create", tuple(sorted(data)), tuple(sorted(links)), guarded)
    compiled = _write_statement(
        rt, key, data, lambda: insert_row(rt.target, data, links, guard=_guard(guarded))
    )
    row = await _fetchrow(rt, request, compiled, values, read=False)
    if row is None:  # only a guarded insert returns no row
        raise session_ended()
    headers = {"Location": f"{res.path}/{row[1]}"}
    if row[2] is not None:
        headers["ETag"] = f'"{row[2]}"'
    return Response(row[0], status_code=201, media_type=JSON, headers=headers)


def _if_match(rt: ResourceRuntime, request: Request) -> list[int] | None:
    """Return the versions If-Match accepts; None when any version will do."""
    header = request.headers.get("if-match")
    versioned = rt.target.versioned
    if header is None:
        if rt.resource.require_if_match and versioned:
            raise PreconditionRequiredError("This resource requires an If-Match header with its ETag")
        return None
    if header.strip() == "*" or not versioned:
        return None
    versions = []
    for part in header.split(","):
        match = _ETAG.fullmatch(part)
        if match is None or int(match.group(1)) > INT4_MAX:
            raise PreconditionFailedError("If-Match does not match the current version")
        versions.append(int(match.group(1)))
    return versions


async def update_row_handler(rt: ResourceRuntime, request: Request) -> Response:
    """PATCH /things/{id}: change the given fields; If-Match checks the version in the same statement."""
    res = rt.resource
    principal = await rt.registry.principal(request)
    res.permissions.update(principal)
    pk = _row_id(request)
    versions = _if_match(rt, request)
    schema = res.update_schema_of(principal)
    data = await _body(request, schema)
    data = await res.writes.prepare_async(data, principal, create=False)
    data, links = res.writes.split(data, rt.links_of(schema))
    values = _write_values(data, links)
    values["id"] = pk
    check = versions is not None
    if check:
        values["versions"] = versions
    scoped = _owner_values(rt, principal, values)
    guarded = _guard_values(principal, values)
    key = ("update", tuple(sorted(data)), tuple(sorted(links)), scoped, check, guarded)
    compiled = _write_statement(
        rt,
        key,
        data,
        lambda: update_row(rt.target, data, links, scoped=scoped, check_version=check, guard=_guard(guarded)),
    )
    body, version, found, allowed = await _fetchrow(rt, request, compiled, values, read=False)
    if guarded and not allowed:
        raise session_ended()
    if body is None:
        if found:
            raise PreconditionFailedError(f"{res.label} {pk} has changed; fetch it again")
        raise _not_found(rt, pk)
    headers = {"ETag": f'"{version}"'} if version is not None else None
    return Response(body, media_type=JSON, headers=headers)


async def delete_row_handler(rt: ResourceRuntime, request: Request) -> Response:
    """DELETE /things/{id}: 204; If-Match checks the version in the same statement."""
    res = rt.resource
    principal = await rt.registry.principal(request)
    res.permissions.delete(principal)
    pk = _row_id(request)
    versions = _if_match(rt, request)
    values: dict[str, Any] = {"id": pk}
    check = versions is not None
    if check:
        values["versions"] = versions
    scoped = _owner_values(rt, principal, values)
    guarded = _guard_values(principal, values)
    compiled = rt.statement(
        ("delete", scoped, check, guarded),
        lambda: delete_row(rt.target, scoped=scoped, check_version=check, guard=_guard(guarded)),
    )
    deleted, found, allowed = await _fetchrow(rt, request, compiled, values, read=False)
    if guarded and not allowed:
        raise session_ended()
    if not deleted:
        if found:
            raise PreconditionFailedError(f"{res.label} {pk} has changed; fetch it again")
        raise _not_found(rt, pk)
    return Response(status_code=204)
