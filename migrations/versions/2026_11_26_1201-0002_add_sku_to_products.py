"""Add products.sku (the guide's "adding a new column" step).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 12:01:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the nullable column: no table rewrite, no long lock."""
    op.add_column("products", sa.Column("sku", sa.String(length=100), nullable=True))


def downgrade() -> None:
    """Drop the column."""
    op.drop_column("products", "sku")
