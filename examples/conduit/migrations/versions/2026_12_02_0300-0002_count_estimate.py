"""The planner's row estimate for list totals: `pgbe_count_estimate(query)` (pgbe.resources.counts).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 03:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from pgbe.resources import counts

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the function lists counted `planned` or `estimated` read the estimate from."""
    op.execute(counts.CREATE_COUNT_ESTIMATE)


def downgrade() -> None:
    """Drop it."""
    op.execute(counts.DROP_COUNT_ESTIMATE)
