"""Access tokens in a resource's answers (`Resource(token=AccessToken())`): the statements and the JSON.

An answer about the caller's own account carries a token of the caller's sign-in, signed after the
statement with no more SQL (the statement checked the session). A write that may end the caller's
tokens (a new password, role or deactivation, `pgbe.auth.guard.ENDS_TOKENS`) is followed by one
statement opening a new session. A sign-up opens its session in its own statement, and a sign-in
opens it in the statement that reads the account.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Collection
from typing import Annotated, Any

from pydantic import BaseModel as Schema
from pydantic import ConfigDict, Field, StringConstraints, create_model
from sqlalchemy import ColumnElement, Select, bindparam, select
from starlette.requests import Request
from starlette.responses import Response

from pgbe.auth.guard import ENDS_TOKENS
from pgbe.auth.principal import Principal
from pgbe.auth.refresh import session_insert
from pgbe.auth.service import BAD_CREDENTIALS, MAX_PASSWORD_INPUT
from pgbe.errors import UnauthorizedError
from pgbe.http.rate_limits import client_address
from pgbe.resources.bodies import body_envelope
from pgbe.resources.requests import JSON, read_body
from pgbe.resources.runtime import ResourceRuntime
from pgbe.resources.statements import Target

Handler = Callable[[ResourceRuntime, Request], Awaitable[Response]]

FRESH_DOC = "A fresh access token of this account (send it as `Authorization: <scheme> <token>`)"
SIGN_UP_DOC = "An access token of the new account when an anonymous caller made it (a sign-up); else null"


def with_token(body: str, key: str, token: str | None, *, enveloped: bool) -> str:
    """The row's JSON (built by PostgreSQL) with the token as its last field, inside the envelope."""
    end = len(body) - (2 if enveloped else 1)
    comma = "" if body[end - 1] == "{" else ", "
    return f"{body[:end]}{comma}{json.dumps(key)} : {json.dumps(token)}{body[end:]}"


def _active_account(t: Target) -> Select[Any]:
    """The id of the account `key` (its primary key) while it is active."""
    key: ColumnElement[Any] = bindparam("key", type_=t.pk.type)
    return select(t.pk).where(t.pk == key, t.table.c.is_active)


def sign_in_row(t: Target) -> Select[Any]:
    """Open a session for the active account `key` and answer its JSON, version and role, in one statement."""
    table = t.table
    opened = session_insert(_active_account(t)).cte("opened")
    item = t.pk == select(opened.c.user_id).scalar_subquery()
    return select(t.wrap(t.json(table.c)), t.version_of(table.c), table.c.role).where(item)


def session_row(t: Target) -> Select[Any]:
    """Open a new session for the active account `key`; answer its role (no row when inactive)."""
    table = t.table
    opened = session_insert(_active_account(t)).cte("opened")
    return select(table.c.role).where(t.pk == select(opened.c.user_id).scalar_subquery())


def issue(rt: ResourceRuntime, user_id: int, role: str, session: uuid.UUID) -> str:
    """A signed access token of `user_id` in the sign-in `session`."""
    auth = rt.registry.auth
    assert auth is not None  # register() refuses token resources without auth
    return auth.codec.issue_access(Principal(user_id=user_id, role=role, session_id=session))


def session_values(rt: ResourceRuntime) -> tuple[uuid.UUID, dict[str, Any]]:
    """A new session's id and the parameters of the statement that opens it."""
    auth = rt.registry.auth
    assert auth is not None
    return auth.refresh_tokens.session_values()


async def caller_token(
    rt: ResourceRuntime, principal: Principal, changed: Collection[str] = ()
) -> str | None:
    """A token of the caller's own account after a statement on it that changed the columns `changed`.

    The caller's sign-in, when nothing changed could end it (no SQL); else a new session (one
    statement), or None when the account can no longer sign in (deactivated).
    """
    if not ENDS_TOKENS & set(changed):
        return issue(rt, principal.user_id, principal.role, principal.session_id)
    session, values = session_values(rt)
    compiled = rt.statement(("token:session",), lambda: session_row(rt.target))
    args = compiled.args({**values, "key": principal.user_id})
    with rt.translation:
        role = await rt.registry.database.run_write(lambda conn: conn.fetchval(compiled.sql, *args))
    return None if role is None else issue(rt, principal.user_id, role, session)


def credentials(rt: ResourceRuntime) -> tuple[type[Schema], type[Schema]]:
    """The sign-in body of `rt`: the credentials' model, and the model of the body (in its envelope)."""
    res = rt.resource
    assert res.sign_in is not None
    sign_in = res.sign_in
    email = Annotated[str, StringConstraints(min_length=1, max_length=320)]
    password = Annotated[str, StringConstraints(min_length=1, max_length=MAX_PASSWORD_INPUT)]
    model: type[Schema] = create_model(
        f"{res.label}SignIn",
        __config__=ConfigDict(extra="forbid"),
        **{
            sign_in.email: (email, Field(description="The account's email")),
            sign_in.password: (password, Field(description="Its password")),
        },  # type: ignore[call-overload]
    )
    model.__doc__ = "The credentials of a sign-in."
    key = sign_in.body if sign_in.body is not None else res.envelope.body_key
    return model, (body_envelope(model, key) if key else model)


def sign_in_handler(body: type[Schema]) -> Handler:
    """POST /users/login: check the credentials (`Auth.check_credentials`), answer the account with a token.

    The credentials' check runs pgbe.auth's statements (the throttle's, the account's); then one
    statement opens the session and reads the account.
    """

    async def sign_in(rt: ResourceRuntime, request: Request) -> Response:
        res, auth = rt.resource, rt.registry.auth
        assert res.sign_in is not None
        assert auth is not None
        sent = await read_body(request, body)  # 422 before any attempt is counted
        email, password = sent[res.sign_in.email], sent[res.sign_in.password]
        user = await auth.check_credentials(email, password, client=client_address(request))
        session, values = auth.refresh_tokens.session_values()
        compiled = rt.statement(("sign_in",), lambda: sign_in_row(rt.target))
        # the account is the caller from here on: computed fields over the caller see them
        args = compiled.args({**values, "key": user["id"], "caller": user["id"]})
        with rt.translation:
            row = await rt.registry.database.run_write(lambda conn: conn.fetchrow(compiled.sql, *args))
        if row is None:  # deactivated since its password was checked
            raise UnauthorizedError(BAD_CREDENTIALS)
        found, version, role = row
        assert res.token_field is not None
        token = issue(rt, user["id"], role, session)
        answer = with_token(found, res.token_field, token, enveloped=res.envelope.item is not None)
        return Response(answer, media_type=JSON, headers={"ETag": f'"{version}"'} if version else None)

    return sign_in


__all__ = [
    "caller_token",
    "credentials",
    "issue",
    "session_row",
    "session_values",
    "sign_in_handler",
    "sign_in_row",
    "with_token",
]
