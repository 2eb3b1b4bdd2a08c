"""Sign-in to the admin site with the project's own users, and the API's permissions per role."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqladmin.authentication import AuthenticationBackend
from sqladmin.authorization import AuthorizationBackend
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
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
        session_maker: sessionmaker[Session],
        user_model: Any,
        auth: Auth,
        https_only: bool,
    ) -> None:
        super().__init__(secret_key)
        self.middlewares = [
            Middleware(
                SessionMiddleware,
                secret_key=secret_key,
                session_cookie=SESSION_COOKIE,
                max_age=SESSION_SECONDS,
                same_site="lax",
                https_only=https_only,
            )
        ]
        self.session_maker = session_maker
        self.user_model = user_model
        self.auth = auth

    def _current(self, user_id: int) -> str | None:
        model = self.user_model
        with self.session_maker() as db:
            row = db.execute(select(model.role, model.is_active).where(model.id == user_id)).first()
        if row is None or not row.is_active or row.role not in ADMIN_ROLES:
            return None
        return str(row.role)

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
        request.session.clear()
        request.session.update({"user_id": int(user["id"]), "role": str(user["role"])})
        return True

    async def logout(self, request: Request) -> bool:
        """End the session."""
        request.session.clear()
        return True

    async def authenticate(self, request: Request) -> bool:
        """Accept a session whose user is still an active admin or staff member (role re-read)."""
        user_id = request.session.get("user_id")
        if not isinstance(user_id, int):
            return False
        role = await run_in_threadpool(self._current, user_id)
        if role is None:
            request.session.clear()
            return False
        request.session["role"] = role
        return True


def allows(permission: Callable[[Principal | None], None], role: str) -> bool:
    """Tell whether an API permission lets a signed-in user with `role` through.

    A rule that looks at the row (`caller_is("author")`) lets through only the roles it exempts: the
    admin site has no row to ask it about.
    """
    exempt = getattr(permission, "roles", None)
    if getattr(permission, "condition", None) is not None and isinstance(exempt, frozenset):
        return role in exempt
    try:
        permission(Principal(user_id=0, role=role))
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
