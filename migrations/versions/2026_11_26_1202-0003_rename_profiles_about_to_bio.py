"""Rename profiles.about to profiles.bio (the guide's column rename).

Alembic cannot tell a rename from a drop and an add, so this revision is written by hand.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 12:02:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# migration-lint: allow renaming-column -- the guide's rename, shipped together with the model change;
# a live system with old code still running would use expand/contract (docs/migrations.md).


def upgrade() -> None:
    """Rename the column, keeping its data."""
    op.alter_column("profiles", "about", new_column_name="bio")


def downgrade() -> None:
    """Rename it back."""
    op.alter_column("profiles", "bio", new_column_name="about")
