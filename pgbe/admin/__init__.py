"""The admin site at /admin (sqladmin): every model, the project's users, the API's permissions."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqladmin import Admin
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from pgbe.admin.auth import RolePermissions, UserBackend, resource_grants
from pgbe.admin.guard import AdminGuardMiddleware
from pgbe.admin.views import HIDDEN, PasswordView, model_views
from pgbe.auth.passwords import PasswordPolicy
from pgbe.auth.service import Auth
from pgbe.settings import PgbeSettings

ROLES = ("staff", "user")


class SiteAdmin(Admin):
    """sqladmin's `Admin`, answering 400 where it would fail on a malformed request."""

    async def delete(self, request: Request) -> Response:
        """Delete the rows `pks` names; without `pks` there is nothing to delete (400, not 500)."""
        if "pks" not in request.query_params:
            raise HTTPException(status_code=400, detail="Name the rows to delete: ?pks=1,2")
        response: Response = await super().delete(request)
        return response


def mount_admin(
    app: Starlette,
    *,
    base: Any,
    session_maker: sessionmaker[Session],
    settings: PgbeSettings,
    auth: Auth,
    resources: Iterable[Any] = (),
    base_url: str = "/admin",
    hidden: frozenset[str] = HIDDEN,
) -> Admin:
    """Mount the admin site on `app`: sign-in with admin or staff users, permissions from `resources`.

    Sign-in goes through `auth.check_credentials`, so the admin site's failures are throttled like the
    API's.

    Admins may do everything. Other roles get, per model, the actions its REST resource allows them
    (a model without a resource is for admins only). The session lives on the server (logout,
    deactivation and a new password end it); its cookie is signed with SECRET_KEY, sent only to
    `base_url`, HttpOnly, SameSite=lax, and Secure outside development and tests. Every answer passes
    `AdminGuardMiddleware` (pgbe.admin.guard): cross-origin writes refused, no framing, redirects
    without the request's host.
    """
    resources = list(resources)
    backend = UserBackend(
        secret_key=settings.secret_key.get_secret_value(),
        auth=auth,
        https_only=settings.environment not in ("development", "test"),
        path=base_url,
    )
    grants = {res.model.__table__.name: resource_grants(res, ROLES) for res in resources}
    admin = SiteAdmin(
        app,
        session_maker=session_maker,
        base_url=base_url,
        title=f"{settings.project_name} admin",
        authentication_backend=backend,
        authorization_backend=RolePermissions(grants),
        # Outermost: a refused request never reaches the session cookie or a view.
        middlewares=[Middleware(AdminGuardMiddleware, trusted_origins=settings.admin_trusted_origins)],
    )
    policy = PasswordPolicy.from_settings(settings)
    for view in model_views(base, resources, hidden=hidden):
        if issubclass(view, PasswordView):  # the project's policy, and the bound on hashes in flight
            view.policy = policy
            view.hasher = auth.hash_new_password
        admin.add_view(view)
    return admin


__all__ = ["SiteAdmin", "mount_admin"]
