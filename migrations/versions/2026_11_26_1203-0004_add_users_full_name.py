"""Add users.full_name and fill it from first_name and last_name (the guide's data migration).

One UPDATE inside the revision's transaction: the column and its data arrive together. On a big table,
fill it with pgbe.batches.batched_update instead (docs/migrations.md, "Batched data migrations").

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 12:03:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the column, then fill it from the name fields."""
    op.add_column("users", sa.Column("full_name", sa.String(length=201), nullable=True))

    users = sa.table(
        "users",
        sa.column("id", sa.Integer),
        sa.column("first_name", sa.String),
        sa.column("last_name", sa.String),
        sa.column("full_name", sa.String),
    )
    connection = op.get_bind()
    connection.execute(users.update().values(full_name=users.c.first_name + " " + users.c.last_name))


def downgrade() -> None:
    """Drop the column; first_name and last_name still hold the data."""
    op.drop_column("users", "full_name")
