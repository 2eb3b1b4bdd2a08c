"""`pgbe routes`: every route of the application with its method, path, permission and name."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import fastapi.routing
import typer
from fastapi.dependencies.models import Dependant
from starlette.routing import BaseRoute, Mount, Route

from pgbe.project import Project
from pgbe.resources.permissions import permission_name

# Dependencies that provide something (a session, the auth service), not a permission.
_PLUMBING = frozenset({"get_db", "get_async_db", "get_auth", "get_settings", "oauth2_scheme"})


@dataclass(frozen=True)
class RouteInfo:
    """One line of `pgbe routes`."""

    method: str
    path: str
    permission: str
    name: str


def _declared_permission(route: BaseRoute, method: str) -> str | None:
    """A permission the route itself declares (a generated route's, or `permissions` on the route)."""
    label = getattr(route, "permission_label", None)
    if isinstance(label, str):
        return label
    permissions = getattr(route, "permissions", None) or getattr(
        getattr(route, "endpoint", None), "permissions", None
    )
    if isinstance(permissions, dict):
        permission = permissions.get(method)
        return permission_name(permission) if permission is not None else None
    permission = getattr(route, "permission", None)
    return permission_name(permission) if callable(permission) else None


def _dependency_names(dependant: Dependant) -> list[str]:
    names: list[str] = []
    for dep in dependant.dependencies:
        if dep.call is None or isinstance(dep.call, type):  # classes parse forms and bodies
            continue
        name = permission_name(dep.call)
        if name not in _PLUMBING and name not in names:
            names.append(name)
    return names


def _flatten(routes: Sequence[BaseRoute]) -> Iterator[Any]:
    """Yield the routes with included routers resolved (FastAPI >= 0.160 includes them lazily)."""
    iter_contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    if iter_contexts is None:
        yield from routes
        return
    yield from iter_contexts(routes)


def collect_routes(
    routes: Sequence[BaseRoute], prefix: str = "", mounted: str | None = None
) -> Iterator[RouteInfo]:
    """Yield one RouteInfo per method of every route, mounted applications included."""
    for route in _flatten(routes):
        original = getattr(route, "original_route", route)
        if isinstance(original, Mount):
            sub = getattr(original.app, "routes", None)
            path = prefix + original.path
            if sub is None or not any(isinstance(r, Route) for r in sub):
                yield RouteInfo(
                    "*", path or "/", "(mounted app)", original.name or type(original.app).__name__
                )
            else:
                # A mounted application (the admin site) checks its own sign-in.
                yield from collect_routes(sub, path, f"{original.name or 'mounted app'} sign-in")
            continue
        if not isinstance(original, Route) or "_method_not_allowed" in getattr(
            original.endpoint, "__qualname__", ""
        ):
            continue
        for method in sorted(route.methods or {"GET"}):
            if method == "HEAD":
                continue
            permission = _declared_permission(original, method)
            if permission is None:
                dependant = getattr(route, "dependant", None)
                deps = _dependency_names(dependant) if dependant is not None else []
                permission = ", ".join(deps) or mounted or "public"
            yield RouteInfo(method, prefix + str(route.path), permission, str(route.name))


def format_table(rows: Sequence[RouteInfo]) -> str:
    """Return the routes as aligned plain-text columns."""
    header = RouteInfo("METHOD", "PATH", "PERMISSION", "NAME")
    table = [header, *rows]
    widths = [max(len(getattr(r, f)) for r in table) for f in ("method", "path", "permission")]
    lines = [
        f"{r.method:<{widths[0]}}  {r.path:<{widths[1]}}  {r.permission:<{widths[2]}}  {r.name}".rstrip()
        for r in table
    ]
    return "\n".join(lines)


def routes(
    path_filter: str = typer.Option("", "--path", help="Show only paths containing this text"),
) -> None:
    """List every route: method, path, permission and name.

    The permission comes from the resource declaration for generated endpoints, and from the
    dependencies (current_user, role admin|staff, ...) for hand-written ones.
    Example: pgbe routes --path /products
    """
    project = Project.find()
    application = project.load("app", "app.main:app")
    rows = [r for r in collect_routes(application.routes) if path_filter in r.path]
    typer.echo(format_table(sorted(rows, key=lambda r: (r.path, r.method))))
