"""/health/ready knows the schema: not ready while the database is behind the head revision."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory
from httpx import ASGITransport, AsyncClient

from app.config.settings import get_settings
from app.models import BaseModel
from pgbe import create_app
from pgbe.db.database import Database
from pgbe.migrations import alembic_config

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ScriptDirectory.from_config(alembic_config(ROOT))
HEAD = SCRIPTS.get_current_head()


async def _ready(client: AsyncClient) -> tuple[int, dict[str, object]]:
    response = await client.get("/health/ready")
    return response.status_code, response.json()


async def test_health_ready_schema_behind_head_returns_503_until_upgraded(scratch_database: str) -> None:
    assert HEAD is not None
    previous = SCRIPTS.get_revision(HEAD).down_revision
    assert isinstance(previous, str)
    config = alembic_config(ROOT, url=scratch_database)
    command.upgrade(config, previous)
    behind = Database(get_settings(), url=scratch_database)
    application = create_app(settings=get_settings(), database=behind, models=BaseModel)
    try:
        async with AsyncClient(transport=ASGITransport(app=application), base_url="http://test") as client:
            status, body = await _ready(client)
            assert status == 503
            assert f"schema: schema at ['{previous}'], code expects ['{HEAD}']" in str(body["detail"])

            command.upgrade(config, "head")
            status, body = await _ready(client)
    finally:
        await behind.close()
    assert isinstance(body.get("checks"), dict)
    assert body["checks"]["schema"] == "ok"


async def test_health_ready_empty_database_reports_no_schema(scratch_database: str) -> None:
    empty = Database(get_settings(), url=scratch_database)
    application = create_app(settings=get_settings(), database=empty, models=BaseModel)
    try:
        async with AsyncClient(transport=ASGITransport(app=application), base_url="http://test") as client:
            status, body = await _ready(client)
    finally:
        await empty.close()
    assert status == 503
    assert f"schema: schema at none, code expects ['{HEAD}']" in str(body["detail"])
