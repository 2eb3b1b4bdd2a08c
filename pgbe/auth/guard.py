"""The session guard: the caller's account is active, has the role its token claims, its sign-in is live.

An access token is only a claim. Every use of one is checked against the database in the statement
that does the work: generated endpoints compile `session_guard()` into their one statement, and
hand-written routes run `GUARD_SQL` (or `USER_SQL`, which also loads the row) once per request. So a
deactivated account, a changed role or a revoked sign-in (logout, password change, deactivation,
refresh-token reuse) ends every access token of it at once, not when the token expires.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    DateTime,
    Integer,
    String,
    Uuid,
    bindparam,
    column,
    exists,
    table,
)

from pgbe.auth.principal import Principal
from pgbe.errors import UnauthorizedError

# Light table clauses, aliased so that they never correlate with a resource's own `users` table.
_users = table("users", column("id", Integer), column("role", String), column("is_active", Boolean)).alias(
    "auth_user"
)
_sessions = table(
    "refresh_tokens", column("user_id", Integer), column("family_id", Uuid), column("revoked_at", DateTime)
).alias("auth_session")

# A write of any of these columns of an account may end the access tokens it has: a new password or a
# deactivation revokes its sessions (`pgbe.auth.schema`), a new role fails the role claim.
ENDS_TOKENS = frozenset({"hashed_password", "is_active", "role"})

USER_PARAM, ROLE_PARAM, SESSION_PARAM = "auth_user", "auth_role", "auth_session"

GUARD_SQL = (
    "SELECT EXISTS (SELECT 1 FROM users AS u WHERE u.id = $1 AND u.is_active AND u.role = $2"
    " AND EXISTS (SELECT 1 FROM refresh_tokens AS s"
    " WHERE s.family_id = $3 AND s.user_id = u.id AND s.revoked_at IS NULL))"
)
"""True when the principal ($1 user id, $2 role, $3 session id) may act."""
USER_SQL = (
    "SELECT u.* FROM users AS u WHERE u.id = $1 AND u.is_active AND u.role = $2"
    " AND EXISTS (SELECT 1 FROM refresh_tokens AS s"
    " WHERE s.family_id = $3 AND s.user_id = u.id AND s.revoked_at IS NULL)"
)
"""The caller's row when the guard holds, else no row."""


def session_guard() -> ColumnElement[bool]:
    """Return the guard as a SQL condition on the parameters `auth_user`, `auth_role`, `auth_session`."""
    live = (
        exists()
        .where(
            _sessions.c.family_id == bindparam(SESSION_PARAM, type_=Uuid),
            _sessions.c.user_id == _users.c.id,
            _sessions.c.revoked_at.is_(None),
        )
        .correlate(_users)
    )
    return (
        exists()
        .where(
            _users.c.id == bindparam(USER_PARAM, type_=Integer),
            _users.c.is_active,
            _users.c.role == bindparam(ROLE_PARAM, type_=String),
            live,
        )
        .correlate(None)
    )


def guard_values(principal: Principal) -> dict[str, Any]:
    """Return the guard's parameters for `principal`."""
    return {
        USER_PARAM: principal.user_id,
        ROLE_PARAM: principal.role,
        SESSION_PARAM: principal.session_id,
    }


def guard_args(principal: Principal) -> tuple[int, str, Any]:
    """Return the positional arguments of GUARD_SQL and USER_SQL for `principal`."""
    return principal.user_id, principal.role, principal.session_id


SESSION_ENDED = "The session has ended or the account has changed; refresh the token or sign in again"


def session_ended() -> UnauthorizedError:
    """The 401 of a token whose guard failed: the client refreshes (which re-reads role and state)."""
    return UnauthorizedError(SESSION_ENDED)
