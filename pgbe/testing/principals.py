"""Access tokens for tests: a real sign-in session (and the account, when missing) in the test's transaction.

Every access token is checked against the database (`pgbe.auth.guard`), so a test's token needs an
active account with the token's role and a live session. `Bearer` makes both on the test's rolled-back
connection before the client's next request; the caller stays a plain `bearer(user_id, role)`.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx

from pgbe.auth.principal import Principal
from pgbe.auth.tokens import TokenCodec, hash_refresh_token, new_refresh_token

# Columns the test account gets when its table requires them; any other required column a
# placeholder of its type.
_PLACEHOLDERS: dict[str, Any] = {"text": "Test", "character varying": "Test", "boolean": False, "integer": 0}
_REQUIRED_COLUMNS = (
    "SELECT column_name, data_type FROM information_schema.columns"
    " WHERE table_schema = current_schema() AND table_name = 'users' AND is_nullable = 'NO'"
    " AND column_default IS NULL AND is_identity = 'NO' AND is_generated = 'NEVER'"
)


async def open_session(conn: asyncpg.Connection, user_id: int, *, seconds: int = 86400) -> uuid.UUID:
    """Store a sign-in session (a refresh-token family nobody holds the token of) for `user_id`."""
    session = uuid.uuid4()
    await conn.execute(
        "INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at)"
        " VALUES ($1, $2, $3, now() + $4 * interval '1 second')",
        user_id,
        session,
        hash_refresh_token(new_refresh_token()),
        seconds,
    )
    return session


async def ensure_account(conn: asyncpg.Connection, user_id: int, role: str) -> None:
    """Make user `user_id` have `role`, creating it when missing (other required columns get placeholders).

    An existing account keeps everything else, its active state included: a deactivated account's
    token is refused, as in production.
    """
    required = {r["column_name"]: r["data_type"] for r in await conn.fetch(_REQUIRED_COLUMNS)}
    values: dict[str, Any] = {name: _PLACEHOLDERS.get(kind, "Test") for name, kind in required.items()}
    no_password = "!"  # noqa: S105 - matches no password: no hasher knows this format
    values.update(id=user_id, email=f"user{user_id}@pgbe.test", role=role, hashed_password=no_password)
    names = ", ".join(values)
    slots = ", ".join(f"${n}" for n in range(1, len(values) + 1))
    created = await conn.fetchval(
        f"INSERT INTO users AS u ({names}) VALUES ({slots})"  # noqa: S608 - names from the catalog
        " ON CONFLICT (id) DO UPDATE SET role = EXCLUDED.role WHERE u.role IS DISTINCT FROM EXCLUDED.role"
        " RETURNING (xmax = 0) AS created",
        *values.values(),
    )
    if created:  # keep the id sequence ahead of ids chosen by hand
        sequence = await conn.fetchval("SELECT pg_get_serial_sequence('users', 'id')")
        if sequence is not None:
            await conn.execute(
                f"SELECT setval($1::text::regclass, greatest($2, (SELECT last_value FROM {sequence})))",  # noqa: S608
                sequence,
                user_id,
            )


class Bearer:
    """`bearer(user_id, role)`: a header for that account signed in with that role, from the next request on.

    Before the client's next request the account gets `role` (it is created when missing) and the
    token's session is stored; a later `bearer(user_id, other_role)` therefore ends the earlier token.
    """

    def __init__(self, codec: TokenCodec, client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
        self.codec = codec
        self.conn = conn
        self._pending: list[Principal] = []
        client.event_hooks.setdefault("request", []).append(self._flush)

    def __call__(self, user_id: int, role: str = "user") -> dict[str, str]:
        principal = Principal(user_id=user_id, role=role, session_id=uuid.uuid4())
        self._pending.append(principal)
        return {"Authorization": f"Bearer {self.codec.issue_access(principal)}"}

    async def _flush(self, request: httpx.Request) -> None:
        del request
        while self._pending:
            principal = self._pending.pop(0)
            await ensure_account(self.conn, principal.user_id, principal.role)
            await self.conn.execute(
                "INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at)"
                " VALUES ($1, $2, $3, now() + interval '1 day')",
                principal.user_id,
                principal.session_id,
                hash_refresh_token(new_refresh_token()),
            )
