"""Permissions: callables that accept or refuse a principal (None when the caller is anonymous)."""

from __future__ import annotations

from collections.abc import Callable

from pgbe.auth.principal import Principal
from pgbe.errors import PermissionDeniedError, UnauthorizedError

Permission = Callable[[Principal | None], None]
"""Raise UnauthorizedError (no identity) or PermissionDeniedError (not allowed); return None to allow."""


def public(principal: Principal | None) -> None:
    """Allow everyone, signed in or not."""
    del principal


def authenticated(principal: Principal | None) -> None:
    """Allow any signed-in user."""
    if principal is None:
        raise UnauthorizedError()


def has_role(*roles: str) -> Permission:
    """Allow signed-in users whose role is one of `roles`."""
    allowed = frozenset(roles)

    def check(principal: Principal | None) -> None:
        if principal is None:
            raise UnauthorizedError()
        if principal.role not in allowed:
            raise PermissionDeniedError(f"Requires role {' or '.join(sorted(allowed))}")

    check.__qualname__ = f"has_role({', '.join(map(repr, roles))})"
    return check
