"""Bodies of the /auth routes."""

from __future__ import annotations

from typing import Annotated, Literal

from pgbe.schemas import Chars, CreateSchema, ReadSchema

RefreshTokenText = Annotated[str, Chars(2000, min=1)]


class TokenResponse(ReadSchema):
    """An access token for the Authorization header and the refresh token that renews it."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int
    refresh_token: str


class RefreshRequest(CreateSchema):
    """A refresh token to rotate or revoke."""

    refresh_token: RefreshTokenText


class PasswordChange(CreateSchema):
    """The current password and its replacement."""

    current_password: Annotated[str, Chars(128, min=1)]
    new_password: Annotated[str, Chars(128, min=1)]
