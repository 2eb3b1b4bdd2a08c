"""The `users` table as auth sees it: id, email, hashed_password, role, is_active, version."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any

import asyncpg


@dataclass(frozen=True)
class AuthUser:
    """A signed-in user loaded from the database; `fields` holds every column but the password hash."""

    id: int
    email: str
    role: str
    is_active: bool
    fields: dict[str, Any] = field(repr=False)

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> AuthUser:
        """Build from a `users` row, leaving the password hash behind."""
        fields = {k: v for k, v in row.items() if k != "hashed_password"}
        return cls(
            id=row["id"], email=row["email"], role=row["role"], is_active=row["is_active"], fields=fields
        )


async def get_user(conn: asyncpg.Connection, user_id: int) -> asyncpg.Record | None:
    """Return the user row with this id, or None."""
    row: asyncpg.Record | None = await conn.fetchrow("SELECT * FROM users WHERE id = $1", user_id)
    return row


def email_identity(email: str) -> str:
    """Return what identifies an email address in Python: NFKC, case-folded, trimmed.

    The database's rule is `pgbe.auth.schema.EMAIL_KEY`; this one folds at least as much, so keys
    built from it (throttle counters) never tell apart two addresses the database treats as one.
    """
    return unicodedata.normalize("NFKC", email.strip()).casefold()


async def get_user_by_email(conn: asyncpg.Connection, email: str) -> asyncpg.Record | None:
    """Return the user row with this email (case and compatibility forms folded), or None."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT id, email, role, is_active, hashed_password FROM users"
        " WHERE lower(normalize(email, NFKC)) = lower(normalize($1::text, NFKC))",  # EMAIL_KEY, indexed
        email,
    )
    return row


async def email_taken(conn: asyncpg.Connection, email: str, *, other_than: int | None = None) -> bool:
    """Tell whether another account has this email (case and compatibility forms folded)."""
    taken: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM users"
        " WHERE lower(normalize(email, NFKC)) = lower(normalize($1::text, NFKC))"  # EMAIL_KEY, indexed
        " AND id IS DISTINCT FROM $2)",
        email,
        other_than,
    )
    return taken


async def set_password_hash(
    conn: asyncpg.Connection, user_id: int, hashed: str, *, new_version: bool = True
) -> None:
    """Store a new password hash; a rehash of the same password keeps the row's version."""
    if new_version:
        await conn.execute(
            "UPDATE users SET hashed_password = $2, updated_at = now(), version = version + 1 WHERE id = $1",
            user_id,
            hashed,
        )
    else:
        await conn.execute("UPDATE users SET hashed_password = $2 WHERE id = $1", user_id, hashed)
