"""What a generated handler reads from a request: path keys, the JSON body, If-Match, the caller."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, cast

import pydantic
from pydantic import BaseModel as Schema
from sqlalchemy import BigInteger, Integer, SmallInteger, String
from starlette.requests import ClientDisconnect, Request

from pgbe.auth.principal import Principal
from pgbe.errors import (
    AppError,
    PreconditionFailedError,
    PreconditionRequiredError,
    UnsupportedMediaTypeError,
    ValidationError,
)
from pgbe.http.headers import header
from pgbe.query.values import value_type
from pgbe.resources.bodies import plain_dump
from pgbe.resources.permissions import row_rule
from pgbe.resources.resource import Resource
from pgbe.resources.statements import Access, Target

JSON = "application/json"
INT4_MAX = 2**31 - 1
# `"7"`, or `"7.<hash>"` (a row with related data, see pgbe.resources.conditional): the version counts
_ETAG = re.compile(r'\s*(?:W/)?"?(\d{1,10})(?:\.[0-9a-f]{1,64})?"?\s*')
KeyParser = Callable[[str], Any]


def path_error(name: str, message: str, kind: str = "value_error") -> ValidationError:
    """The 422 error of a bad path parameter."""
    return ValidationError(
        f"path.{name}: {message}", field=name, errors=[{"loc": ["path", name], "msg": message, "type": kind}]
    )


def key_parser(res: Resource, name: str) -> KeyParser:
    """How the path parameter `name` of `res`'s items becomes a value of its lookup column."""
    column = res.lookup
    sa_type = column.type
    if isinstance(sa_type, Integer):
        bits = 16 if isinstance(sa_type, SmallInteger) else 64 if isinstance(sa_type, BigInteger) else 32
        high, digits = 2 ** (bits - 1) - 1, len(str(2 ** (bits - 1)))
        message = f"must be a positive {bits}-bit integer"

        def integer(raw: str) -> int:
            if not raw.isascii() or not raw.isdigit() or len(raw) > digits or not 1 <= int(raw) <= high:
                raise path_error(name, message, "int_parsing")
            return int(raw)

        return integer
    coerce = value_type(sa_type).coerce
    length = sa_type.length if isinstance(sa_type, String) else None

    def other(raw: str) -> Any:
        if length is not None and len(raw) > length:
            raise path_error(name, f"at most {length} characters", "string_too_long")
        try:
            return coerce(raw)
        except (ValueError, TypeError) as exc:
            raise path_error(name, str(exc) or "invalid value") from None

    return other


def claim(res: Resource) -> Callable[[str], bool]:
    """Which path segments the fast lane takes for an item: digits for integer keys, any other text."""
    if isinstance(res.lookup.type, Integer):
        return lambda raw: raw.isascii() and raw.isdigit() and len(raw) <= 19
    return bool


def caller_values(
    res: Resource, principal: Principal | None, permission: Any
) -> tuple[dict[str, Any], Access]:
    """The caller's bind values (`caller`, `owner`) and what they change in the statement's text."""
    if principal is None:
        return {"caller": None, "owner": None}, caller_access(res, None, permission)
    user = principal.user_id
    return {"caller": user, "owner": user}, caller_access(res, principal, permission)


# The access of a caller depends only on the resource, the permission and the caller's role (scoping,
# row-rule exemptions) and whether there is a caller; roles are few, but tokens choose them: bounded.
_ACCESS: dict[tuple[Resource, Any, str | None, bool], Access] = {}
MAX_CACHED_ACCESS = 4096


def caller_access(res: Resource, principal: Principal | None, permission: Any) -> Access:
    """What the caller's identity changes in the statement's text (cached per resource, permission, role)."""
    key = (res, permission, principal.role if principal is not None else None, principal is not None)
    try:
        access = _ACCESS.get(key)
    except TypeError:  # a permission that cannot be hashed: worked out every time
        return _access(res, principal, permission)
    if access is None:
        access = _access(res, principal, permission)
        if len(_ACCESS) < MAX_CACHED_ACCESS:
            _ACCESS[key] = access
    return access


def _access(res: Resource, principal: Principal | None, permission: Any) -> Access:
    parents = []
    parent = res.parent
    while parent is not None:
        parents.append(parent.scoped(principal))
        parent = parent.parent
    rule = row_rule(permission) if permission is not None else None
    condition = rule.condition if rule is not None and not rule.exempt(principal) else None
    return Access(
        scoped=res.scoped(principal), parents=tuple(parents), rule=condition, guarded=principal is not None
    )


def check_content_type(request: Request) -> None:
    """Refuse a body that is not declared as JSON (415): a form or text body is never parsed as JSON."""
    content_type = header(request, b"content-type")
    media = (content_type or "").partition(";")[0].strip().lower()
    if media == JSON or (media.startswith("application/") and media.endswith("+json")):
        return
    shown = media or "no Content-Type"
    raise UnsupportedMediaTypeError(f"The body must be application/json, not {shown}")


async def _body(request: Request) -> bytes:
    """`await request.body()` without its async generator: the same messages read, the same state left."""
    state = request.__dict__
    if "_body" in state:
        return cast(bytes, state["_body"])
    if request._stream_consumed:
        raise RuntimeError("Stream consumed")
    chunks = []
    while not request._stream_consumed:
        message = await request._receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            if not message.get("more_body", False):
                request._stream_consumed = True
            if chunk:
                chunks.append(chunk)
        elif message["type"] == "http.disconnect":
            request._is_disconnected = True
            raise ClientDisconnect()
    body = state["_body"] = b"".join(chunks)
    return body


async def read_body(request: Request, schema: type[Schema] | None) -> dict[str, Any]:
    """Validate the JSON body against `schema` (an envelope model or the body itself); 422 otherwise.

    Returns the fields that were sent, and those whose default is not None, by attribute name.
    """
    if schema is None:
        raise AppError("no schema for this method")
    check_content_type(request)
    raw = await _body(request) if type(request).body is Request.body else await request.body()
    try:
        obj = schema.__pydantic_validator__.validate_json(raw)  # model_validate_json without its wrapper
    except pydantic.ValidationError as exc:
        errors = [
            {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_input=False, include_context=False)
        ]
        first = errors[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ValidationError(f"{where}: {first['msg']}", errors=errors) from None
    # The field's value from the instance's dict: a pydantic getattr of a missing name raises inside.
    inner = obj.__dict__.get("pgbe_body")
    if inner is not None:  # an envelope: `{"article": {...}}`
        obj = inner
    set_fields = obj.model_fields_set
    # model_dump() gives the attributes themselves (lists copied) when no field is serialized otherwise
    dumped = obj.__dict__ if plain_dump(type(obj)) else obj.__pydantic_serializer__.to_python(obj)
    return {k: v for k, v in dumped.items() if k in set_fields or v is not None}


# What URL(scope=...) changes in a path (escapes, and what urlsplit drops); else its path is the scope's.
_URL_CHANGES = frozenset("?#\\\t\r\n")


def request_path(request: Request) -> str:
    """Return `request.url.path` without building the URL when the URL would not change the path."""
    path: str = request.scope["path"]
    if path.startswith("//") or not _URL_CHANGES.isdisjoint(path):
        return request.url.path
    return path


def if_match(res: Resource, target: Target, request: Request) -> list[int] | None:
    """Return the versions If-Match accepts; None when any version will do."""
    given = header(request, b"if-match")
    if given is None:  # whether rows are versioned is asked only when it matters (a lookup in the table)
        if res.require_if_match and target.versioned:
            raise PreconditionRequiredError("This resource requires an If-Match header with its ETag")
        return None
    if given.strip() == "*" or not target.versioned:
        return None
    versions = []
    for part in given.split(","):
        match = _ETAG.fullmatch(part)
        if match is None or int(match.group(1)) > INT4_MAX:
            raise PreconditionFailedError("If-Match does not match the current version")
        versions.append(int(match.group(1)))
    return versions
