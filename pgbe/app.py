"""`create_app`: a project's application, wired by pgbe in the one order every project shares.

A project's `app/main.py` says only what it chose (its settings, database, models, routers,
resources, admin site); everything else is installed here, so upgrading pgbe upgrades every project:

1. problem handlers (every error rendered in one place, in the shape declared for its prefix);
2. the process: logs, SQL counting, error reports (`pgbe.observability`);
3. the middleware stack, outermost first (`pgbe.stack.LAYERS`), then the project's own middleware;
4. routes: `/metrics` when enabled, `/health/live` and `/health/ready` (database, schema, replicas),
   the project's routers (auth first when it has them), the generated resources (after the
   hand-written routes, which win on a shared path), the admin site (extra pgbe[admin]);
5. the lifespan: log the database, check that indexes serve the resources' allow-lists
   (`pgbe.resources.indexes`, setting `index_check`), run the start-up hooks, freeze the start-up
   heap; on shutdown, close every pool.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI
from sqlalchemy import create_engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware

from pgbe.auth.dependencies import install_auth
from pgbe.db.urls import describe
from pgbe.http.health import database_check, health_router, schema_check
from pgbe.http.orm_json import register_orm_encoder
from pgbe.http.problems import ErrorShape, install_problem_handlers
from pgbe.http.replicas import replica_readiness
from pgbe.observability.install import configure_process, install_metrics_route
from pgbe.resources import ResourceRegistry, register
from pgbe.resources.costly import CostlyLists
from pgbe.resources.indexes import check_at_startup
from pgbe.runtime import freeze_startup_objects
from pgbe.settings import PgbeSettings
from pgbe.stack import AppContext, middleware_stack

if TYPE_CHECKING:
    from pgbe.auth.service import Auth
    from pgbe.db.database import Database
    from pgbe.resources import Resource

logger = logging.getLogger("pgbe.app")
StartupHook = Callable[[], object]  # sync hooks run in a thread, coroutine functions are awaited
Lifespan = Callable[[FastAPI], Any]

# FastAPI 0.165+ has its own OpenTelemetry layer that asks the global providers on every request
# (about 10 µs) and would open a second span per request beside pgbe's tracing (pgbe.observability).
_NATIVE_TELEMETRY = "telemetry" in inspect.signature(FastAPI.__init__).parameters


@dataclass(frozen=True)
class AdminSite:
    """The admin site `create_app` mounts (extra pgbe[admin]): where, and which tables it leaves out."""

    base_url: str = "/admin"
    hidden: frozenset[str] | None = None


def create_app(
    *,
    settings: PgbeSettings,
    database: Database,
    models: type,
    auth: Auth | None = None,
    routers: Sequence[APIRouter] = (),
    resources: Sequence[Resource] = (),
    admin: AdminSite | None = None,
    middleware: Sequence[Middleware] = (),
    error_shapes: Mapping[str, ErrorShape | Callable[[dict[str, Any]], Any]] | None = None,
    on_startup: Sequence[StartupHook] = (),
    lifespan: Lifespan | None = None,
    root: Path | None = None,
    version: str = "0.1.0",
    **fastapi_options: Any,
) -> FastAPI:
    """Return the application of a project, wired in pgbe's order (see this module's docstring).

    Args:
        models: the project's declarative base (ORM objects encoded as JSON, the admin site's models).
        routers: the project's hand-written routers, included in this order.
        middleware: the project's own middleware, inside pgbe's layers and outside the fast lane.
        error_shapes: a body shape per path prefix instead of problem+json (e.g. `{"/api": render}`).
        on_startup: hooks run once the application starts, after the database is logged.
        lifespan: the project's own lifespan, entered inside pgbe's (its pools are still open).
        root: the project folder (alembic.ini, migrations/); found from the settings' module if unset.
        fastapi_options: passed to `FastAPI(...)` (description, dependencies, docs_url...); the docs
            routes are left out unless `settings.docs_enabled`.
    """
    if not settings.docs_enabled:  # API_DOCS; off outside development and test unless asked for
        for option in ("docs_url", "redoc_url", "openapi_url"):
            fastapi_options.setdefault(option, None)
    if _NATIVE_TELEMETRY:  # pgbe traces requests itself; telemetry={...} turns FastAPI's back on
        fastapi_options.setdefault("telemetry", {"tracing": False, "metrics": False, "logs": False})
    costly = CostlyLists.from_settings(settings)  # the index check marks the filters no index serves
    app = FastAPI(
        title=settings.project_name,
        version=version,
        lifespan=_lifespan(
            database, on_startup, lifespan, index_check=_index_check(settings, database, resources, costly)
        ),
        **fastapi_options,
    )
    problems = install_problem_handlers(app, shapes=error_shapes)
    ctx = AppContext(
        settings=settings,
        database=database,
        problems=problems,
        root=root or project_root(settings),
        auth=auth,
    )
    register_orm_encoder(models)
    configure_process(settings)
    app.user_middleware[:0] = [*middleware_stack(ctx), *middleware]
    install_metrics_route(app, settings)
    checks = {
        "database": database_check(database),
        "schema": schema_check(database, ctx.root),
        "replicas": replica_readiness(database),
    }
    app.include_router(health_router(checks, problems=problems))
    if auth is not None:
        install_auth(app, auth)
    for router in routers:
        app.include_router(router)
    registry = (
        ResourceRegistry(
            database,
            settings,
            resolve_principal=auth.resolve_principal,
            rate_limits=auth.rate_limits,
            auth=auth,
            costly=costly,
        )
        if auth is not None
        else ResourceRegistry(database, settings, costly=costly)
    )
    app.state.rate_limits = registry.rate_limits
    register(app, *resources, registry=registry)
    if admin is not None:
        _mount_admin(app, admin, ctx, models=models, resources=resources)
    return app


def project_root(settings: PgbeSettings) -> Path:
    """Return the folder holding alembic.ini above the module of the project's settings class.

    Found from the code rather than the working directory, so `/health/ready` compares the schema
    with the project's own migrations wherever the server was started.
    """
    start = Path(inspect.getfile(type(settings))).resolve()
    for folder in start.parents:
        if (folder / "alembic.ini").is_file():
            return folder
    return Path.cwd().resolve()


def _index_check(
    settings: PgbeSettings, database: Database, resources: Sequence[Resource], costly: CostlyLists
) -> StartupHook:
    """The start-up check of the resources' indexes: warnings, or a refusal to start (`index_check`).

    The filters it finds no index for are costly lists from then on (`pgbe.resources.costly`).
    """

    def check() -> None:
        if settings.index_check == "off" or not resources:
            return
        # a connection of its own, closed afterwards: the sync pool may never be needed otherwise
        engine = create_engine(
            database.url, poolclass=NullPool, connect_args=database.connections.psycopg_args()
        )
        try:
            with engine.connect() as conn:
                findings = check_at_startup(
                    conn, resources, mode=settings.index_check, ignore=settings.index_check_ignore
                )
            costly.mark_unindexed(findings)
        except DBAPIError as exc:  # the database is down: /health/ready says so; serve meanwhile
            logger.warning("index check skipped: the database did not answer (%s)", type(exc.orig).__name__)
        finally:
            engine.dispose()

    return check


def _lifespan(
    database: Database, hooks: Sequence[StartupHook], inner: Lifespan | None, *, index_check: StartupHook
) -> Lifespan:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        logger.info("database: %s", describe(database.url))
        try:
            await run_in_threadpool(index_check)
            for hook in hooks:
                if inspect.iscoroutinefunction(hook):
                    await hook()
                else:
                    await run_in_threadpool(hook)
            async with AsyncExitStack() as stack:
                if inner is not None:
                    await stack.enter_async_context(inner(app))
                freeze_startup_objects()  # full garbage collections would otherwise stall requests ~90 ms
                yield
        finally:
            await database.close()

    return lifespan


def _mount_admin(
    app: FastAPI, site: AdminSite, ctx: AppContext, *, models: type, resources: Sequence[Resource]
) -> None:
    """Mount the admin site when pgbe[admin] is installed; say why not otherwise."""
    if find_spec("sqladmin") is None:
        logger.warning(
            "the admin site needs the extra pgbe[admin] (sqladmin): %s is not mounted", site.base_url
        )
        return
    if ctx.auth is None:
        raise ValueError("the admin site signs users in through auth: pass create_app(auth=...)")
    from pgbe.admin import mount_admin

    options: dict[str, Any] = {} if site.hidden is None else {"hidden": site.hidden}
    mount_admin(
        app,
        base=models,
        session_maker=ctx.database.SessionLocal,
        settings=ctx.settings,
        auth=ctx.auth,
        resources=resources,
        base_url=site.base_url,
        **options,
    )


__all__ = ["AdminSite", "create_app", "project_root"]
