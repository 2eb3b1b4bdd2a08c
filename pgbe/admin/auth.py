"""Sign-in to the admin site with the project's own users, and the API's permissions per role."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any

from sqladmin.authentication import AuthenticationBackend
from sqladmin.authorization import AuthorizationBackend
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request

from pgbe.auth.principal import Principal
from pgbe.auth.service import Auth
from pgbe.errors import AppError, TooManyRequestsError, UnauthorizedError

ADMIN_ROLES = frozenset({"admin", "staff"})
SESSION_COOKIE = "pgbe_admin"
SESSION_SECONDS = 8 * 3600
# Actions of the admin site and the resource permission that governs each.
ACTION_PERMISSION = {
    "list": "list",
    "details": "read",
    "export": "list",
    "create": "create",
    "edit": "update",
    "delete": "delete",
}


class UserBackend(AuthenticationBackend):
    """Sign in with an active admin or staff account of the `users` table; a signed session cookie."""

    def __init__(
        self,
        *,
        secret_key: str,
        auth: Auth,
        https_only: bool,
        path: str = "/admin",
    ) -> None:
        super().__init__(secret_key)
        self.middlewares = [
            Middleware(
                SessionMiddleware,
                secret_key=secret_key,
                session_cookie=SESSION_COOKIE,
                max_age=SESSION_SECONDS,
                path=path,  # never sent to the API's routes
                same_site="lax",
                https_only=https_only,
            )
        ]
        self.auth = auth

    async def login(self, request: Request) -> bool:
        """Check the form's email and password; only admins and staff get a session."""
        form = await request.form()
        email, password = str(form.get("username", "")), str(form.get("password", ""))
        if not email or not password:
            return False
        client = request.client.host if request.client else "unknown"
        try:  # the API's sign-in check: throttled, with unknown accounts and wrong passwords alike
            user = await self.auth.check_credentials(email, password, client=client)
        except (UnauthorizedError, TooManyRequestsError):
            return False
        if user["role"] not in ADMIN_ROLES:
            return False
        # A sign-in session on the server, like the API's: logout, deactivation and a new password
        # revoke it, so a copied cookie stops working with it.
        session = await self.auth.start_session(int(user["id"]), seconds=SESSION_SECONDS)
        request.session.clear()
        request.session.update({"user_id": int(user["id"]), "role": str(user["role"]), "sid": session.hex})
        return True

    async def logout(self, request: Request) -> bool:
        """End the session on the server and forget the cookie."""
        principal = _principal(request)
        if principal is not None:
            await self.auth.end_session(principal.session_id)
        request.session.clear()
        return True

    async def authenticate(self, request: Request) -> bool:
        """Accept a live session of an active admin or staff member whose role has not changed."""
        principal = _principal(request)
        if (
            principal is None
            or principal.role not in ADMIN_ROLES
            or not await self.auth.session_live(principal)
        ):
            request.session.clear()
            return False
        return True


def _principal(request: Request) -> Principal | None:
    """The caller the admin session cookie names, or None when it names none."""
    user_id, role, sid = (request.session.get(k) for k in ("user_id", "role", "sid"))
    if not isinstance(user_id, int) or not isinstance(role, str) or not isinstance(sid, str):
        return None
    try:
        return Principal(user_id=user_id, role=role, session_id=uuid.UUID(hex=sid))
    except ValueError:
        return None


def allows(permission: Callable[[Principal | None], None], role: str) -> bool:
    """Tell whether an API permission lets a signed-in user with `role` through."""
    try:
        permission(Principal(user_id=0, role=role, session_id=uuid.UUID(int=0)))
    except AppError:
        return False
    return True


class RolePermissions(AuthorizationBackend):
    """The API's rules in the admin site: admins do everything; others what the resource lets them."""

    def __init__(self, grants: dict[str, dict[str, frozenset[str]]]) -> None:
        self.grants = grants  # identity -> role -> allowed actions

    def has_permission(self, request: Request, identity: str, action: str, obj: Any | None = None) -> bool:
        """Answer from the role stored in the session (no I/O)."""
        del obj
        role = request.session.get("role")
        if role == "admin":
            return True
        return isinstance(role, str) and action in self.grants.get(identity, {}).get(role, frozenset())


def resource_grants(resource: Any, roles: Iterable[str]) -> dict[str, frozenset[str]]:
    """Return the admin actions each role may take on a REST resource's model.

    A resource that shows non-admins only their own rows gives them nothing here: the admin site lists
    every row.
    """
    perms = resource.permissions
    by_name = {
        "list": perms.list_permission,
        "read": perms.read,
        "create": perms.create,
        "update": perms.update,
        "delete": perms.delete,
    }
    grants: dict[str, frozenset[str]] = {}
    for role in roles:
        if resource.owner_field is not None and role not in resource.admin_roles:
            grants[role] = frozenset()
            continue
        grants[role] = frozenset(a for a, name in ACTION_PERMISSION.items() if allows(by_name[name], role))
    return grants
