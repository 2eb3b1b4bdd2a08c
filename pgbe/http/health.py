"""Liveness and readiness endpoints."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from starlette.responses import Response

from pgbe.http.problems import problem_response

ReadinessCheck = Callable[[], Awaitable[str | None]]


class Degraded(str):
    """A check result that is reported but leaves the service ready (a replica down: reads fall back)."""

    __slots__ = ()


def health_router(checks: dict[str, ReadinessCheck]) -> APIRouter:
    """Return `/health/live` and `/health/ready`; each check returns None when fine, else the reason."""
    router = APIRouter(prefix="/health", tags=["health"])

    @router.get("/live")
    async def live() -> dict[str, str]:
        """Answer while the process runs."""
        return {"status": "ok"}

    @router.get("/ready", responses={503: {"description": "Not ready"}})
    async def ready() -> Response:
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
            return problem_response(
                503, f"Not ready: {detail}", slug="unavailable", headers={"Retry-After": "2"}
            )
        import orjson

        return Response(orjson.dumps({"status": "ready", "checks": results}), media_type="application/json")

    return router
