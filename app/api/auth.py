"""Sign-in, token refresh, sign-out, password change and sign-up (`/auth`)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm

from app.config.auth import auth
from app.schemas.auth import PasswordChange, RefreshRequest, TokenResponse
from app.schemas.user import EmailChange, UserCreate, UserRead
from pgbe.auth.dependencies import CurrentPrincipal, CurrentUser
from pgbe.auth.service import TokenPair
from pgbe.auth.users import email_taken
from pgbe.errors import ConflictError
from pgbe.http.problems import ERROR_RESPONSES, problem_docs
from pgbe.http.rate_limits import client_address

router = APIRouter(prefix="/auth", tags=["auth"])

Responses = dict[int | str, dict[str, Any]]
_401: Responses = problem_docs({401: "Not authenticated"})
_429: Responses = problem_docs({429: "Too many sign-ins or failed sign-ins (see Retry-After)"})
_503: Responses = problem_docs({503: "Too many password checks in progress (see Retry-After)"})


def _tokens(pair: TokenPair) -> TokenResponse:
    return TokenResponse.model_validate(asdict(pair))


@router.post("/token", responses=_401 | _429 | _503)
async def token(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> TokenResponse:
    """Sign in with email (as `username`) and password; returns access and refresh tokens."""
    return _tokens(await auth.login(form.username, form.password, client=client_address(request)))


@router.post("/refresh", responses=_401)
async def refresh(body: RefreshRequest) -> TokenResponse:
    """Exchange a refresh token for new tokens; the old refresh token is spent."""
    return _tokens(await auth.refresh(body.refresh_token))


@router.post("/logout", status_code=204)
async def logout(body: RefreshRequest) -> Response:
    """Revoke the refresh token and every token rotated from the same sign-in."""
    await auth.logout(body.refresh_token)
    return Response(status_code=204)


@router.get("/me", responses=_401)
async def me(user: CurrentUser) -> UserRead:
    """Return the signed-in user."""
    return UserRead.model_validate(user.fields)


@router.post("/password", status_code=204, responses=_401 | _429 | _503)
async def change_password(request: Request, body: PasswordChange, principal: CurrentPrincipal) -> Response:
    """Change the caller's password; every sign-in of the caller ends (sign in again)."""
    await auth.change_password(
        principal.user_id, body.current_password, body.new_password, client=client_address(request)
    )
    return Response(status_code=204)


@router.post("/email", responses=_401 | _429 | {409: ERROR_RESPONSES[409]})
async def change_email(request: Request, body: EmailChange, principal: CurrentPrincipal) -> UserRead:
    """Change the caller's email; asks for the current password (a 409 when another account has it)."""
    row = await auth.change_email(
        principal.user_id, body.current_password, body.email, client=client_address(request)
    )
    return UserRead.model_validate(dict(row))


_409: Responses = {409: ERROR_RESPONSES[409]}
_SIGNUP: Responses = problem_docs({429: "Too many sign-ups from this client (see Retry-After)"}) | _503


@router.post("/register", status_code=201, responses=_409 | _SIGNUP)
async def register(request: Request, body: UserCreate) -> UserRead:
    """Create an account with the `user` role (the password policy is checked by UserCreate)."""
    await auth.rate_limits.hit("signup", client_address(request))  # SIGNUP_RATE_LIMIT per client
    async with auth.database.acquire() as conn:  # before hashing: a taken email costs no hash
        if await email_taken(conn, body.email):
            raise ConflictError("A user with this email already exists", field="email")
    hashed = await auth.hash_new_password(body.password)
    async with auth.database.acquire() as conn:  # the unique index decides between concurrent sign-ups
        row = await conn.fetchrow(
            "INSERT INTO users (email, first_name, last_name, full_name, hashed_password, role)"
            " VALUES ($1, $2, $3, $4, $5, 'user') RETURNING *",
            body.email,
            body.first_name,
            body.last_name,
            f"{body.first_name} {body.last_name}",
            hashed,
        )
    return UserRead.model_validate(dict(row))
