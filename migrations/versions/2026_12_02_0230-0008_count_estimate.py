"""The planner's row estimate for list totals: `pgbe_count_estimate(query)`.

Lists counted `planned` (or `estimated`, above its threshold) ask the planner how many rows a
filtered list holds; the function reads it from EXPLAIN, in the list's one statement.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 02:30:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from pgbe.resources import counts

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the function."""
    op.execute(counts.CREATE_COUNT_ESTIMATE)


def downgrade() -> None:
    """Drop it."""
    op.execute(counts.DROP_COUNT_ESTIMATE)
