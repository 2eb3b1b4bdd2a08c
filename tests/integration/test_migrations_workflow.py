"""The guide's workflow on a copy of the project: change a model, autogenerate, upgrade, check."""

from __future__ import annotations

from pathlib import Path

import psycopg
from alembic import command

from pgbe.db.database import libpq_dsn
from pgbe.migrations import alembic_config
from pgbe.testing.migrations import copy_project, database_revisions, run_cli

ROOT = Path(__file__).resolve().parents[2]


def test_add_product_column_autogenerate_upgrade_check_needs_no_other_step(
    scratch_database: str, tmp_path: Path
) -> None:
    url = scratch_database
    command.upgrade(alembic_config(ROOT, url=url), "head")  # what `make run` leaves behind
    project = copy_project(ROOT, tmp_path / "project")
    model = project / "app" / "models" / "product.py"
    anchor = "    sku: Mapped[str | None]"
    line = "    weight: Mapped[int | None] = mapped_column(Integer, nullable=True)\n"
    model.write_text(model.read_text().replace(anchor, line + anchor, 1))

    run_cli("alembic", "revision", "--autogenerate", "-m", "add weight to products", cwd=project, url=url)
    run_cli("alembic", "upgrade", "head", cwd=project, url=url)
    checked = run_cli("alembic", "check", cwd=project, url=url)

    assert "No new upgrade operations detected." in checked.stdout
    [created] = list((project / "migrations" / "versions").glob("*add_weight_to_products.py"))
    revision = created.name.split("-", 1)[1].split("_", 1)[0]
    assert database_revisions(url) == {revision}
    with psycopg.connect(libpq_dsn(url)) as conn:
        row = conn.execute(
            "SELECT data_type, is_nullable FROM information_schema.columns"
            " WHERE table_name = 'products' AND column_name = 'weight'"
        ).fetchone()
    assert row == ("integer", "YES")
