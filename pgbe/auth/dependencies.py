"""FastAPI dependencies for hand-written routes: the caller, the signed-in user, a required role."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.security import OAuth2PasswordBearer

from pgbe.auth.openapi import document_schemes
from pgbe.auth.principal import Principal
from pgbe.auth.service import Auth
from pgbe.auth.users import AuthUser
from pgbe.errors import PermissionDeniedError, UnauthorizedError

TOKEN_URL = "/auth/token"  # noqa: S105 - a route, not a secret

# Declares the OAuth2 password flow in OpenAPI, so the "Authorize" button of /docs signs in.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)


def install_auth(app: FastAPI, auth: Auth) -> None:
    """Make `auth` the authentication of `app`'s routes, its schemes (AUTH_SCHEMES) in OpenAPI."""
    app.state.auth = auth
    document_schemes(app, auth.settings.auth_schemes)


def get_auth(request: Request) -> Auth:
    """Return the Auth installed on the application."""
    auth: Auth = request.app.state.auth
    return auth


async def optional_principal(
    request: Request, _token: Annotated[str | None, Depends(oauth2_scheme)]
) -> Principal | None:
    """Return the caller, or None when no token was sent; an invalid token or ended session is a 401.

    One query checks that the account is active, still has the token's role and that the sign-in
    session is live.
    """
    return await get_auth(request).verified_principal(request)


OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]


async def current_principal(principal: OptionalPrincipal) -> Principal:
    """Return the caller; 401 when anonymous or when the session guard fails (one query)."""
    if principal is None:
        raise UnauthorizedError()
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def current_user(request: Request, _token: Annotated[str | None, Depends(oauth2_scheme)]) -> AuthUser:
    """Load the caller's row with the session guard, in one query; 401 when anonymous or it fails."""
    return AuthUser.from_row(await get_auth(request).verified_user(request))


CurrentUser = Annotated[AuthUser, Depends(current_user)]


def require_role(*roles: str) -> Any:
    """Return a dependency that allows only callers with one of `roles` (401 anonymous, 403 others).

    Use as `dependencies=[require_role("admin")]` or `p: Annotated[Principal, require_role("staff")]`.
    """
    allowed = frozenset(roles)

    async def check(principal: CurrentPrincipal) -> Principal:
        if principal.role not in allowed:
            raise PermissionDeniedError(f"Requires role {' or '.join(sorted(allowed))}")
        return principal

    return Depends(check)
