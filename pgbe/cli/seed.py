"""Demo data for development databases."""

from __future__ import annotations

from pgbe.project import Project


def seed_if_empty(project: Project) -> None:
    """Seed a development database that holds no rows yet (filled in by the seeding command)."""
    del project
