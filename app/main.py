"""The application: routers, error handlers, health checks and lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from app.admin import install_admin
from app.api import auth as auth_api
from app.api import router as api_router
from app.bootstrap import ensure_first_admin
from app.config.auth import auth
from app.config.database import database
from app.config.settings import get_settings
from app.models import BaseModel
from app.resources import RESOURCES
from pgbe.auth.dependencies import install_auth
from pgbe.db.database import describe
from pgbe.http.disconnect import CancelOnDisconnectMiddleware
from pgbe.http.health import health_router
from pgbe.http.limits import BodyLimitMiddleware
from pgbe.http.orm_json import register_orm_encoder
from pgbe.http.problems import install_problem_handlers
from pgbe.http.replicas import ReadYourWritesMiddleware, replica_readiness
from pgbe.migrations import head_revisions
from pgbe.observability import install as install_observability
from pgbe.resources import ResourceRegistry, register
from pgbe.runtime import freeze_startup_objects

logger = logging.getLogger("app")
PROJECT_ROOT = Path(__file__).resolve().parents[1]  # alembic.ini and migrations/, whatever the cwd


async def _database_ready() -> str | None:
    async with database.acquire() as conn:
        await conn.fetchval("SELECT 1")
    return None


async def _schema_ready() -> str | None:
    async with database.acquire() as conn:
        exists = await conn.fetchval("SELECT to_regclass('alembic_version') IS NOT NULL")
        rows = await conn.fetch("SELECT version_num FROM alembic_version") if exists else []
    current = {row[0] for row in rows}
    heads = head_revisions(PROJECT_ROOT)
    if current != heads:
        return f"schema at {sorted(current) or 'none'}, code expects {sorted(heads)}"
    return None


def _create_first_admin() -> None:
    with database.SessionLocal() as db:
        ensure_first_admin(db, get_settings())


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    """Log the database in use, create the first admin when configured; close every pool on shutdown."""
    logger.info("database: %s", describe(database.url))
    await run_in_threadpool(_create_first_admin)
    freeze_startup_objects()  # full garbage collections would otherwise stall requests ~90 ms
    yield
    await database.close()


def create_app() -> FastAPI:
    """Build the FastAPI application."""
    settings = get_settings()
    app = FastAPI(title=settings.project_name, version="0.1.0", lifespan=lifespan)
    install_problem_handlers(app)
    register_orm_encoder(BaseModel)
    # middleware (body limits, ...) is installed here
    app.add_middleware(ReadYourWritesMiddleware, database=database)  # innermost: sees each write's outcome
    app.add_middleware(
        BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes, body_timeout=settings.http_body_timeout
    )
    app.add_middleware(CancelOnDisconnectMiddleware)  # sees the client before the others
    install_observability(app, settings=settings, database=database)  # outermost: ids, logs, metrics
    checks = {"database": _database_ready, "schema": _schema_ready, "replicas": replica_readiness(database)}
    app.include_router(health_router(checks))
    # auth routes are included here
    install_auth(app, auth)
    app.include_router(auth_api.router)
    app.include_router(api_router)
    # generated REST resources are registered here
    registry = ResourceRegistry(database, settings, resolve_principal=auth.resolve_principal)
    register(app, *RESOURCES, registry=registry)
    # the admin site is mounted here
    install_admin(app)
    return app


app = create_app()
