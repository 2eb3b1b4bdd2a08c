"""`pgbe createsuperuser`: an admin account, from prompts or from flags."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer
from pydantic import EmailStr, TypeAdapter
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import text

from pgbe.auth.passwords import PasswordPolicy
from pgbe.cli.output import fail
from pgbe.project import Project

ENSURE_USER_OPTION = "app.bootstrap:ensure_user"

EnsureUser = Callable[..., Any]


def _valid_email(email: str) -> str:
    try:
        return str(TypeAdapter(EmailStr).validate_python(email.strip()))
    except PydanticValidationError:
        fail(f"{email!r} is not a valid email address")


def createsuperuser(
    email: Annotated[str | None, typer.Option(help="Email of the new admin")] = None,
    password: Annotated[
        str | None,
        typer.Option(envvar="PGBE_SUPERUSER_PASSWORD", help="Password (prefer the environment variable)"),
    ] = None,
    no_input: Annotated[
        bool, typer.Option("--no-input", help="Never prompt; fail when a value is missing")
    ] = False,
) -> None:
    """Create an admin account. Example: pgbe createsuperuser --email admin@example.com"""
    project = Project.find()
    if email is None:
        if no_input:
            fail("--email is required with --no-input")
        email = typer.prompt("Email")
    email = _valid_email(email)
    if password is None:
        if no_input:
            fail("--password or PGBE_SUPERUSER_PASSWORD is required with --no-input")
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    problems = PasswordPolicy.from_settings(project.settings()).problems(password, email=email)
    if problems:
        fail(f"password {'; '.join(problems)}")
    ensure_user: EnsureUser = project.load("ensure_user", ENSURE_USER_OPTION)
    with project.database().SessionLocal() as db:
        taken = db.scalar(text("SELECT 1 FROM users WHERE lower(email) = lower(:email)"), {"email": email})
        if taken:
            fail(f"a user with email {email} already exists")
        ensure_user(db, email, password, "admin")
    typer.echo(f"superuser {email} created")
