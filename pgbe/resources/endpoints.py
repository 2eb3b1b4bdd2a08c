"""The request handlers of generated resources: one SQL statement each, JSON built by PostgreSQL."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import asyncpg
import orjson
from sqlalchemy import ColumnElement
from starlette.requests import Request
from starlette.responses import Response

from pgbe.auth.guard import guard_values, session_ended
from pgbe.auth.permissions import authenticated
from pgbe.auth.principal import Principal
from pgbe.errors import (
    NotFoundError,
    PermissionDeniedError,
    PreconditionFailedError,
)
from pgbe.http.headers import header
from pgbe.http.rate_limits import client_address
from pgbe.query.params import ListParams
from pgbe.resources.conditional import body_etag, body_hash, not_modified
from pgbe.resources.counts import FUNCTION, CountStrategy, preferred_count
from pgbe.resources.cursors import Cursor
from pgbe.resources.declarations import Action, View
from pgbe.resources.json_sql import embedded, read_plan
from pgbe.resources.links import link_header
from pgbe.resources.list_plans import ListPlan, list_context
from pgbe.resources.read_sql import PageShape, select_one, select_page
from pgbe.resources.requests import JSON, caller_values, if_match, read_body, request_path
from pgbe.resources.resource import Resource
from pgbe.resources.runtime import ResourceRuntime
from pgbe.resources.statements import Access, Compiled, compile_statement
from pgbe.resources.tokens import caller_token, issue, session_values, with_token
from pgbe.resources.write_sql import delete_row, insert_row, link_row, update_row
from pgbe.writes import has_sql

Handler = Callable[[ResourceRuntime, Request], Awaitable[Response]]
logger = logging.getLogger(__name__)


def _not_found(rt: ResourceRuntime, values: Mapping[str, Any]) -> NotFoundError:
    return NotFoundError(f"{rt.resource.label} {values.get('key')} not found")


def _parent_not_found(rt: ResourceRuntime, values: Mapping[str, Any]) -> NotFoundError:
    parent = rt.resource.parent
    assert parent is not None
    return NotFoundError(f"{parent.label} {values.get('p0')} not found")


async def _fetchrow(
    rt: ResourceRuntime,
    request: Request,
    compiled: Compiled,
    values: Mapping[str, Any],
    *,
    read: bool,
    costly: Sequence[str] = (),
) -> asyncpg.Record:
    database = rt.registry.database
    args = compiled.args(values)
    work: Callable[[asyncpg.Connection], Awaitable[asyncpg.Record | None]]
    if costly:  # within the budget of lists filtered by a substring search
        bounded = rt.registry.costly
        work = functools.partial(bounded.fetchrow, sql=compiled.sql, args=args, filters=costly)
    else:
        work = lambda conn: conn.fetchrow(compiled.sql, *args)  # noqa: E731 - the hot path, one closure
    with rt.translation:
        if read:
            # run_read runs the read again, once, when its connection dies mid-flight
            row = await database.run_read(work, min_lsn=rt.registry.read_position(request))
        else:
            row = await database.run_write(work)
    return row


async def _read(
    rt: ResourceRuntime,
    request: Request,
    compiled: Compiled,
    values: Mapping[str, Any],
    access: Access,
    *,
    costly: Sequence[str] = (),
) -> asyncpg.Record | None:
    """Run a read; a signed-in caller's failed session check is asked once more on the primary.

    A replica may not have the caller's session yet (a sign-in a moment ago); revocations are seen
    by replicas within their lag, and by the primary at once. Still failing: 401. `costly` names the
    filters that make it a costly list (`pgbe.resources.costly`).
    """
    row = await _fetchrow(rt, request, compiled, values, read=True, costly=costly)
    if not access.guarded or _session_holds(row):
        return row
    if rt.registry.database.replicas:
        row = await _fetchrow(rt, request, compiled, values, read=False, costly=costly)
        if _session_holds(row):
            return row
    raise session_ended()


def _session_holds(row: asyncpg.Record | None) -> bool:
    return row is not None and (len(row) < 4 or row[3] is not False)


def _check_session(access: Access, session: Any) -> None:
    if access.guarded and session is not True:
        raise session_ended()


async def _caller(
    rt: ResourceRuntime, request: Request, permission: Any
) -> tuple[Principal | None, dict[str, Any], Access]:
    """Resolve and check the caller; return the statement's values (path keys included) and access."""
    principal = await rt.registry.principal(request)
    if rt.resource.caller_item:
        authenticated(principal)  # the caller's own row: there is none without a caller
    permission(principal)
    values, access = caller_values(rt.resource, principal, permission)
    if principal is not None:
        values.update(guard_values(principal))
    values.update(rt.path_values(request))
    if rt.resource.caller_item:
        assert principal is not None
        values["key"] = principal.user_id
    return principal, values, access


def _etag(version: Any) -> dict[str, str] | None:
    return {"ETag": f'"{version}"'} if version is not None else None


def _count(rt: ResourceRuntime, request: Request, asked: CountStrategy | None) -> tuple[CountStrategy, bool]:
    """The count strategy of a list request, and whether it came from a `Prefer` header.

    The `count` query parameter (`asked`) wins over `Prefer: count=...`; else the resource's default,
    else the `PAGE_COUNT` setting.
    """
    if asked is not None:
        return asked, False
    preferred = preferred_count(header(request, b"prefer"))
    if preferred is not None:
        return preferred, True
    return rt.resource.count or rt.registry.count, False


def _with_cursors(body: str, rt: ResourceRuntime, cursors: Mapping[str, str | None]) -> bytes:
    """The page's JSON with the cursors under the envelope's keys (built by PostgreSQL, then closed here)."""
    envelope = rt.resource.envelope
    keys = {"next": envelope.next, "prev": envelope.prev}
    # a cursor is base64url (CURSOR_PATTERN): a JSON string as it stands, nothing to escape
    extra = "".join(
        f', "{keys[rel]}" : ' + ("null" if cursor is None else f'"{cursor}"')
        for rel, cursor in cursors.items()
        if keys[rel] is not None
    )
    data = body.encode()  # the answer's bytes, copied once more at most: a page can be large
    return b"".join((memoryview(data)[:-1], extra.encode(), b"}")) if extra else data


def _edge(raw: Any) -> tuple[str | None, ...] | None:
    return None if raw is None else tuple(orjson.loads(raw))


def cursor_after(
    rt: ResourceRuntime, query: str, values: Sequence[Any], *, path: Mapping[str, Any] | None = None
) -> str:
    """A signed cursor of the list `query` (`"sort=-price&price__gte=10"`) after the row with `values`.

    `values` are the row's sort values, its primary key last (unless sorted on); `path` the parent
    keys of a nested list (`{"p0": ...}`). For benchmarks and tests that start a walk mid-table.
    """
    plan = rt.list_plan(query.encode(), "")
    if len(values) != plan.size:
        raise ValueError(f"{plan.size} values expected (the sort, then the key)")
    context = list_context(rt.path, "", plan.params, dict(path or {}))
    text = tuple(None if v is None else str(v) for v in values)
    return rt.registry.cursors.encode(Cursor(text), context)


def _page_statement(
    rt: ResourceRuntime, view: str, plan: ListPlan, access: Access, where: Any, shape: PageShape
) -> Compiled:
    """The compiled statement of a page of this shape (`where`: the view's condition)."""
    key = ("list", view, plan.shape, access, shape)
    return rt.statement(key, lambda: select_page(rt.target, plan.params, access, where=where, shape=shape))


async def _page(rt: ResourceRuntime, request: Request, permission: Any, view: View | None) -> Response:
    res, registry = rt.resource, rt.registry
    principal, values, access = await _caller(rt, request, permission)
    if principal is None and registry.rate_limits.rules.get("anonymous_list") is not None:
        await registry.rate_limits.hit("anonymous_list", client_address(request))  # before the statement
    view_name = view.name if view is not None else ""
    plan = rt.list_plan(request.scope["query_string"], view_name)
    params = plan.params
    strategy, preferred = _count(rt, request, plan.asked)
    values.update(plan.bound)
    values["count_threshold"] = registry.count_threshold
    context = plan.context if plan.context is not None else list_context(rt.path, view_name, params, values)
    cursor, cursor_name = None, res.spec.public_name("cursor")
    if params.cursor is not None:
        cursor = registry.cursors.decode(params.cursor, context, size=plan.size, name=cursor_name)
        values.update({f"c{i}": v for i, v in enumerate(cursor.values) if v is not None})
    where = view.where if view is not None else None
    costly = registry.costly.filters_of(params, rt.path)
    seek = cursor.nulls if cursor is not None else None
    backward = cursor is not None and cursor.backward
    while True:
        shape = PageShape(
            strategy,
            registry.estimator,
            seek,
            backward,
            limit=params.limit,
            offset=params.skip > 0,
            threshold=registry.count_threshold,
        )
        compiled = _page_statement(rt, view_name, plan, access, where, shape)
        try:
            if costly:
                async with registry.costly.slot():
                    row = await _read(rt, request, compiled, values, access, costly=costly)
            else:
                row = await _read(rt, request, compiled, values, access)
        except asyncpg.UndefinedFunctionError as exc:
            if FUNCTION not in str(exc) or not registry.estimator:
                raise
            logger.warning(
                "%s is missing from the database: planned counts of filtered lists are exact until"
                " a migration runs pgbe.resources.counts.CREATE_COUNT_ESTIMATE",
                FUNCTION,
            )
            registry.estimator = False
            continue
        break
    assert row is not None
    if not row[1]:
        raise _parent_not_found(rt, values)
    cursors = _cursors(rt, context, cursor, params, _edge(row[3]), _edge(row[4]), bool(row[5]))
    body = _with_cursors(row[0], rt, cursors)
    headers = {"ETag": body_etag(body)}
    link = link_header(request.scope["path"], plan.kept, cursors, cursor=cursor_name)
    if link is not None:
        headers["Link"] = link
    if preferred:
        headers["Preference-Applied"] = f"count={strategy}"
    if not_modified(request, headers["ETag"]):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=JSON, headers=headers)


def _cursors(
    rt: ResourceRuntime,
    context: str,
    cursor: Cursor | None,
    params: ListParams,
    first: tuple[str | None, ...] | None,
    last: tuple[str | None, ...] | None,
    more: bool,
) -> dict[str, str | None]:
    """The cursors of the next and previous pages (None at either end of the list)."""
    sign = rt.registry.cursors.encode
    backward = cursor is not None and cursor.backward
    after = last if last is not None else (cursor.values if cursor is not None and backward else None)
    before = first if first is not None else (cursor.values if cursor is not None and not backward else None)
    has_next = more if not backward else after is not None
    has_prev = more if backward else (cursor is not None or params.skip > 0)
    return {
        "next": sign(Cursor(after), context) if has_next and after is not None else None,
        "prev": sign(Cursor(before, backward=True), context) if has_prev and before is not None else None,
    }


async def list_rows(rt: ResourceRuntime, request: Request) -> Response:
    """GET /things: a page of rows with the total count."""
    return await _page(rt, request, rt.resource.permissions.list_permission, None)


def view_handler(view: View) -> Handler:
    """GET /things/<view>: a page of the rows that pass the view's condition for the caller."""

    async def list_view(rt: ResourceRuntime, request: Request) -> Response:
        return await _page(rt, request, view.permission, view)

    list_view.__doc__ = f"GET /things/{view.name}: a page of the rows the view shows the caller."
    return list_view


async def get_row(rt: ResourceRuntime, request: Request) -> Response:
    """GET /things/{key}: one row, with an ETag of its version."""
    principal, values, access = await _caller(rt, request, rt.resource.permissions.read)
    includes = rt.includes_of(request.scope["query_string"])
    compiled = rt.statement(("get", includes, access), lambda: select_one(rt.target, includes, access))
    row = await _read(rt, request, compiled, values, access)
    if row is None or row[0] is None:
        raise _not_found(rt, values)
    if not row[2]:
        raise PermissionDeniedError(f"You may not read this {rt.resource.label.lower()}")
    etag = _row_etag(rt, includes, row[0], row[1])
    headers = {"ETag": etag}
    body = row[0]
    if _tokened(rt) and principal is not None:  # a new token in every answer: never 304
        body = _with_token(rt, body, await caller_token(rt, principal))
    elif not_modified(request, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=JSON, headers=headers)


def _tokened(rt: ResourceRuntime) -> bool:
    """Tell whether the item answers of `rt` carry the caller's token (their own account)."""
    return rt.resource.token_field is not None and rt.resource.caller_item


def _with_token(rt: ResourceRuntime, body: str, token: str | None) -> str:
    res = rt.resource
    assert res.token_field is not None
    return with_token(body, res.token_field, token, enveloped=res.envelope.item is not None)


@functools.lru_cache(maxsize=1024)
def _row_alone(res: Resource, includes: tuple[str, ...]) -> bool:
    """Tell whether a row's JSON shows only its own columns (no related rows, no computed field)."""
    plan = read_plan(res.mapper, res.read, res.computed)
    return not embedded(plan, includes) and all(f.computed is None for f in plan)


def _row_etag(rt: ResourceRuntime, includes: tuple[str, ...], body: str, version: Any) -> str:
    """A row's tag: its version when its JSON is the row's alone, else the version and the JSON's hash."""
    if version is None:
        return body_etag(body)
    return f'"{version}"' if _row_alone(rt.resource, includes) else f'"{version}.{body_hash(body)}"'


def _write_statement(rt: ResourceRuntime, key: tuple[Any, ...], sql: bool, build: Any) -> Compiled:
    if sql:  # a hook's SQL expression may embed values: not a cacheable shape
        return compile_statement(build())
    return rt.statement(key, build)


def _write_values(
    values: dict[str, Any], data: Mapping[str, Any], links: Mapping[str, Any], sql: bool
) -> dict[str, Any]:
    # a hook's SQL expressions are in the statement itself, not among its values
    values.update({f"v_{k}": v for k, v in data.items() if not sql or not isinstance(v, ColumnElement)})
    for k, v in links.items():
        values[f"l_{k}"] = list(v)
    return values


def _written(body: str, status: int, version: Any, *first: tuple[bytes, bytes]) -> Response:
    """The JSON answer of a write; its headers (`first`, then the ETag) encoded as Response would."""
    response = Response(body, status_code=status, media_type=JSON)
    extra = [*first, (b"etag", f'"{version}"'.encode("latin-1"))] if version is not None else list(first)
    response.raw_headers[:0] = extra  # before content-length and content-type, as a headers= mapping
    return response


def _set_owner(rt: ResourceRuntime, data: dict[str, Any], principal: Principal | None) -> None:
    """Non-admins always own what they create; admins own it unless they name an owner.

    `created_by` is always the caller.
    """
    res = rt.resource
    if principal is not None and res.created_by is not None:
        data[res.created_by] = principal.user_id
    owner = res.owner_field
    if owner is None or principal is None or owner == rt.target.pk.name:
        return
    if res.scoped(principal) or owner not in data:
        data[owner] = principal.user_id


async def create_row(rt: ResourceRuntime, request: Request) -> Response:
    """POST /things: insert a row; 201 with its Location and ETag."""
    res = rt.resource
    principal, values, access = await _caller(rt, request, res.permissions.create)
    schema = res.create_schema
    data = await read_body(request, rt.body_model(schema))
    if res.writes.hook(create=True) is not None:
        data = await res.writes.prepare_async(data, principal, create=True)
    data, links = res.writes.split(data, rt.links_of(schema))
    _set_owner(rt, data, principal)
    res.writes.fill_defaults(data)
    # the whole access: a statement compiled for an anonymous caller has no session check, and one
    # compiled for a signed-in caller refuses every row when its guard parameters are NULL
    sign_up = res.token_field is not None and principal is None  # a new account opens its sign-in
    key = ("create", tuple(sorted(data)), tuple(sorted(links)), access, sign_up)
    sql = has_sql(data)
    compiled = _write_statement(
        rt, key, sql, lambda: insert_row(rt.target, data, links, access, sign_up=sign_up)
    )
    session_id, opened = session_values(rt) if sign_up else (None, {})
    values.update(opened)
    row = await _fetchrow(rt, request, compiled, _write_values(values, data, links, sql), read=False)
    body, key, version, session = row[:4]
    _check_session(access, session)
    if body is None:
        raise _parent_not_found(rt, values)
    if res.token_field is not None:
        opened_for = row[4] if session_id is not None else None  # NULL: no session (inactive)
        token = issue(rt, opened_for, row[5], session_id) if session_id and opened_for else None
        body = _with_token(rt, body, token)
    # an integer key is digits (and a sign), which quote() leaves alone
    shown = str(key) if type(key) is int else quote(str(key), safe="")
    location = f"{request_path(request).rstrip('/')}/{shown}"
    return _written(body, 201, version, (b"location", location.encode("latin-1")))


def _refusal(rt: ResourceRuntime, values: Mapping[str, Any], found: Any, allowed: Any) -> Exception:
    """Why a change touched no row: 404 (not there for the caller), 403 (not theirs), 412 (stale)."""
    if not found:
        return _not_found(rt, values)
    if allowed is False:
        return PermissionDeniedError(f"You may not change this {rt.resource.label.lower()}")
    return PreconditionFailedError(f"{rt.resource.label} {values.get('key')} has changed; fetch it again")


async def _update(
    rt: ResourceRuntime, request: Request, permission: Any, data: dict[str, Any] | None, name: str
) -> Response:
    res = rt.resource
    principal, values, access = await _caller(rt, request, permission)
    versions = if_match(res, rt.target, request)
    links: dict[str, Any] = {}
    if data is None:
        schema = res.update_schema_of(principal)
        data = await read_body(request, rt.body_model(schema))
        if res.writes.hook(create=False) is not None:
            data = await res.writes.prepare_async(data, principal, create=False)
        data, links = res.writes.split(data, rt.links_of(schema))
    check = versions is not None
    if check:
        values["versions"] = versions
    key = (name, tuple(sorted(data)), tuple(sorted(links)), access, check)
    sql = has_sql(data)
    compiled = _write_statement(
        rt, key, sql, lambda: update_row(rt.target, data, links, access, check_version=check)
    )
    body, version, found, allowed, session = await _fetchrow(
        rt, request, compiled, _write_values(values, data, links, sql), read=False
    )
    _check_session(access, session)
    if body is None:
        raise _refusal(rt, values, found, allowed)
    if _tokened(rt) and principal is not None:
        body = _with_token(rt, body, await caller_token(rt, principal, changed=data))
    return _written(body, 200, version)


async def update_row_handler(rt: ResourceRuntime, request: Request) -> Response:
    """PATCH (or PUT) /things/{key}: change the given fields; If-Match is checked in the same statement."""
    return await _update(rt, request, rt.resource.permissions.update, None, "update")


async def delete_row_handler(rt: ResourceRuntime, request: Request) -> Response:
    """DELETE /things/{key}: 204; If-Match is checked in the same statement."""
    res = rt.resource
    _, values, access = await _caller(rt, request, res.permissions.delete)
    versions = if_match(res, rt.target, request)
    check = versions is not None
    if check:
        values["versions"] = versions
    compiled = rt.statement(
        ("delete", access, check), lambda: delete_row(rt.target, access, check_version=check)
    )
    deleted, found, allowed, session = await _fetchrow(rt, request, compiled, values, read=False)
    _check_session(access, session)
    if not deleted:
        raise _refusal(rt, values, found, allowed)
    return Response(status_code=204)


def action_handler(action: Action, *, add: bool = True) -> Handler:
    """The handler of an item action: link (add) or unlink the caller, or an update of some columns."""

    async def act(rt: ResourceRuntime, request: Request) -> Response:
        if action.values is not None:
            return await _update(rt, request, action.permission, dict(action.values), f"action:{action.name}")
        assert action.link is not None
        relationship = action.link
        principal, values, access = await _caller(rt, request, action.permission)
        compiled = rt.statement(
            ("link", relationship, add, access), lambda: link_row(rt.target, relationship, access, add=add)
        )
        body, version, found, allowed, session = await _fetchrow(rt, request, compiled, values, read=False)
        _check_session(access, session)
        if body is None:
            raise _refusal(rt, values, found, allowed)
        if _tokened(rt) and principal is not None:
            body = _with_token(rt, body, await caller_token(rt, principal))
        return Response(body, media_type=JSON, headers=_etag(version))

    act.__doc__ = f"{'POST' if add else 'DELETE'} /things/{{key}}/{action.name}"
    return act
