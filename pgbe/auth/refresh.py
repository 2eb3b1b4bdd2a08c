"""Refresh-token families (table `refresh_tokens`): issue, rotate once, revoke a family on reuse."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import DateTime, Insert, Integer, Select, String, Uuid, bindparam, column, func, insert
from sqlalchemy import table as sql_table
from sqlalchemy.sql.expression import literal_column

from pgbe.auth.tokens import hash_refresh_token, new_refresh_token
from pgbe.errors import UnauthorizedError

_refresh_tokens = sql_table(
    "refresh_tokens",
    column("user_id", Integer),
    column("family_id", Uuid),
    column("token_hash", String),
    column("expires_at", DateTime),
)
SESSION_ID, SESSION_HASH, SESSION_SECONDS = "session_id", "session_hash", "session_seconds"


def session_insert(user_ids: Select[Any]) -> Insert:
    """`INSERT INTO refresh_tokens` a new sign-in session for the user `user_ids` selects, in SQL.

    For a statement that opens a session as part of its work (a sign-up, a sign-in answering the
    account): its parameters are `session_id`, `session_hash` and `session_seconds`
    (`RefreshTokens.session_values`). It returns the user id, or no row when `user_ids` selects none.
    """
    expires = func.now() + bindparam(SESSION_SECONDS, type_=Integer) * literal_column("interval '1 second'")
    source = user_ids.add_columns(
        bindparam(SESSION_ID, type_=Uuid), bindparam(SESSION_HASH, type_=String), expires
    )
    return (
        insert(_refresh_tokens)
        .from_select(["user_id", "family_id", "token_hash", "expires_at"], source)
        .returning(_refresh_tokens.c.user_id)
    )


@dataclass(frozen=True)
class Rotation:
    """The outcome of a successful refresh: who it belongs to and the token that replaces it."""

    user_id: int
    role: str
    family_id: uuid.UUID
    refresh_token: str


class RefreshTokens:
    """Refresh tokens stored as SHA-256 digests; each rotation stays in the family of the first sign-in."""

    def __init__(self, *, days: int) -> None:
        self.days = days

    async def issue(
        self,
        conn: asyncpg.Connection,
        user_id: int,
        *,
        family_id: uuid.UUID | None = None,
        seconds: int | None = None,
    ) -> tuple[str, uuid.UUID]:
        """Store a new refresh token for `user_id` and return it with its family (new unless given).

        A new family is a new sign-in session; it lives `seconds` (REFRESH_TOKEN_DAYS by default).
        """
        token = new_refresh_token()
        family = family_id or uuid.uuid4()
        await conn.execute(
            "INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at)"
            " VALUES ($1, $2, $3, now() + $4 * interval '1 second')",
            user_id,
            family,
            hash_refresh_token(token),
            seconds if seconds is not None else self.days * 86400,
        )
        return token, family

    def session_values(self) -> tuple[uuid.UUID, dict[str, Any]]:
        """A new session's id, and the parameters of `session_insert` for it.

        Its refresh token is made and forgotten: only its hash is stored, so the session is never
        refreshed; it ends when revoked or after REFRESH_TOKEN_DAYS.
        """
        session = uuid.uuid4()
        return session, {
            SESSION_ID: session,
            SESSION_HASH: hash_refresh_token(new_refresh_token()),
            SESSION_SECONDS: self.days * 86400,
        }

    async def rotate(self, conn: asyncpg.Connection, token: str) -> Rotation:
        """Mark `token` used and issue its successor; a token used twice revokes its whole family."""
        digest = hash_refresh_token(token)
        async with conn.transaction():
            row = await conn.fetchrow(
                "UPDATE refresh_tokens AS t SET used_at = now(), updated_at = now() FROM users AS u"
                " WHERE t.token_hash = $1 AND t.used_at IS NULL AND t.revoked_at IS NULL"
                " AND t.expires_at > now() AND u.id = t.user_id AND u.is_active"
                " RETURNING t.user_id, t.family_id, u.role",
                digest,
            )
            if row is not None:
                successor, family = await self.issue(conn, row["user_id"], family_id=row["family_id"])
                return Rotation(
                    user_id=row["user_id"], role=row["role"], family_id=family, refresh_token=successor
                )
        reused = await conn.fetchval(
            "UPDATE refresh_tokens SET revoked_at = now(), updated_at = now()"
            " WHERE revoked_at IS NULL AND family_id = (SELECT family_id FROM refresh_tokens"
            " WHERE token_hash = $1 AND used_at IS NOT NULL) RETURNING true",
            digest,
        )
        if reused:
            raise UnauthorizedError("Refresh token reused; every session of its sign-in was revoked")
        raise UnauthorizedError("Invalid or expired refresh token")

    async def revoke_family(self, conn: asyncpg.Connection, token: str) -> int:
        """Revoke every token of the family `token` belongs to; return how many were still live."""
        result: str = await conn.execute(
            "UPDATE refresh_tokens SET revoked_at = now(), updated_at = now()"
            " WHERE revoked_at IS NULL AND family_id = (SELECT family_id FROM refresh_tokens"
            " WHERE token_hash = $1)",
            hash_refresh_token(token),
        )
        return int(result.rsplit(" ", 1)[-1])

    async def revoke_session(self, conn: asyncpg.Connection, family_id: uuid.UUID) -> int:
        """Revoke every token of the sign-in session `family_id`; return how many were still live."""
        result: str = await conn.execute(
            "UPDATE refresh_tokens SET revoked_at = now(), updated_at = now()"
            " WHERE family_id = $1 AND revoked_at IS NULL",
            family_id,
        )
        return int(result.rsplit(" ", 1)[-1])

    async def revoke_user(self, conn: asyncpg.Connection, user_id: int) -> int:
        """Revoke every refresh token of `user_id` (password change, deactivation)."""
        result: str = await conn.execute(
            "UPDATE refresh_tokens SET revoked_at = now(), updated_at = now()"
            " WHERE user_id = $1 AND revoked_at IS NULL",
            user_id,
        )
        return int(result.rsplit(" ", 1)[-1])
