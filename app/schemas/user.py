"""User schemas: the password hash never leaves the server."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import EmailStr, Field, model_validator

from app.config.settings import get_settings
from pgbe.auth.passwords import PasswordPolicy
from pgbe.schemas import Chars, CreateSchema, ReadSchema, UpdateSchema

Role = Literal["admin", "staff", "user"]
PASSWORD_POLICY = PasswordPolicy.from_settings(get_settings())  # PASSWORD_MIN_LENGTH, ...
Password = Annotated[str, PASSWORD_POLICY.field()]


class UserCreate(CreateSchema):
    """Fields to register a user; the role is set by admins only."""

    email: Annotated[EmailStr, Chars(320)]
    first_name: Annotated[str, Chars(100, min=1)]
    last_name: Annotated[str, Chars(100, min=1)]
    password: Password

    @model_validator(mode="after")
    def _password_policy(self) -> UserCreate:
        problems = PASSWORD_POLICY.problems(self.password, email=self.email)
        if problems:
            raise ValueError(f"password {problems[0]}")
        return self


class UserSelfUpdate(UpdateSchema):
    """Fields a user may change on their own account with PATCH (the email: POST /auth/email)."""

    first_name: Annotated[str, Chars(100, min=1)] | None = None
    last_name: Annotated[str, Chars(100, min=1)] | None = None


class UserUpdate(UserSelfUpdate):
    """Fields the controller changes on an account (trusted code)."""

    email: Annotated[EmailStr, Chars(320)] | None = None


class EmailChange(CreateSchema):
    """A new email for the caller, with the current password."""

    current_password: Annotated[str, Chars(128, min=1)]
    email: Annotated[EmailStr, Chars(320)]


class UserAdminUpdate(UserUpdate):
    """Fields an admin may change on any account."""

    role: Role | None = None
    is_active: bool | None = None


class UserRead(ReadSchema):
    """A user as the API returns it (never the password hash)."""

    id: int
    email: str
    first_name: str
    last_name: str
    full_name: str | None
    role: Role
    is_active: bool
    version: int
    created_at: datetime
    updated_at: datetime = Field(description="Last change")
