"""Account guards: one account per email up to case and NFKC; sessions revoked by the database.

Emails are unique up to case and compatibility forms (fullwidth letters). Deactivating an account
or giving it a new password revokes its sign-in sessions, whatever writes the row.

The unique index is built CONCURRENTLY (writes to users go on meanwhile); existing accounts that
would collide make the upgrade stop first, naming them, so that an operator merges or renames them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 22:30:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from pgbe.auth import schema

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Refuse colliding accounts, build the email index, install the revocation trigger."""
    if not op.get_context().as_sql:
        clashes = op.get_bind().exec_driver_sql(schema.DUPLICATE_EMAILS).all()
        if clashes:
            listed = "; ".join(f"{key!r}: users {list(ids)}" for key, ids in clashes)
            raise RuntimeError(f"accounts share an email up to case or compatibility form: {listed}")
    with op.get_context().autocommit_block():
        op.execute(schema.CREATE_EMAIL_INDEX.replace("INDEX", "INDEX CONCURRENTLY IF NOT EXISTS", 1))
    for statement in schema.CREATE_SESSION_TRIGGER:
        op.execute(statement)


def downgrade() -> None:
    """Remove the trigger and the index (case variants of an email become possible again)."""
    for statement in schema.DROP_SESSION_TRIGGER:
        op.execute(statement)
    with op.get_context().autocommit_block():
        op.execute(schema.DROP_EMAIL_INDEX.replace("INDEX", "INDEX CONCURRENTLY IF EXISTS", 1))
