"""Liveness and readiness endpoints, and the readiness checks of a pgbe database and its schema."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from pgbe.http.problems import DEFAULT_PROBLEMS, Problems
from pgbe.migrations import head_revisions

if TYPE_CHECKING:
    from pgbe.db.database import Database

ReadinessCheck = Callable[[], Awaitable[str | None]]


class Degraded(str):
    """A check result that is reported but leaves the service ready (a replica down: reads fall back)."""

    __slots__ = ()


def database_check(database: Database) -> ReadinessCheck:
    """Return a check that the primary answers a query."""

    async def check() -> str | None:
        async with database.acquire() as conn:
            await conn.fetchval("SELECT 1")
        return None

    return check


def schema_check(database: Database, root: Path) -> ReadinessCheck:
    """Return a check that the database is at the head revisions of the migrations under `root`."""

    async def check() -> str | None:
        async with database.acquire() as conn:
            exists = await conn.fetchval("SELECT to_regclass('alembic_version') IS NOT NULL")
            rows = await conn.fetch("SELECT version_num FROM alembic_version") if exists else []
        current = {row[0] for row in rows}
        heads = head_revisions(root)
        if current != heads:
            return f"schema at {sorted(current) or 'none'}, code expects {sorted(heads)}"
        return None

    return check


def health_router(checks: dict[str, ReadinessCheck], *, problems: Problems = DEFAULT_PROBLEMS) -> APIRouter:
    """Return `/health/live` and `/health/ready`; each check returns None when fine, else the reason."""
    router = APIRouter(prefix="/health", tags=["health"])

    @router.get("/live")
    async def live() -> dict[str, str]:
        """Answer while the process runs."""
        return {"status": "ok"}

    @router.get("/ready", responses={503: {"description": "Not ready"}})
    async def ready(request: Request) -> Response:
        """Answer 200 only when every dependency (database, schema, replicas) is usable."""
        results: dict[str, str] = {}
        failed = False
        for name, check in checks.items():
            try:
                reason = await check()
            except Exception as exc:
                reason = f"{type(exc).__name__}"
            if isinstance(reason, Degraded):
                results[name] = f"degraded: {reason}"
                continue
            results[name] = reason or "ok"
            failed = failed or reason is not None
        if failed:
            detail = "; ".join(f"{k}: {v}" for k, v in results.items() if v != "ok")
            return problems.response(
                request.url.path,
                503,
                f"Not ready: {detail}",
                slug="unavailable",
                headers={"Retry-After": "2"},
            )
        return Response(orjson.dumps({"status": "ready", "checks": results}), media_type="application/json")

    return router
