"""Password hashing with argon2 (pwdlib), rehash detection and the password policy (settings)."""

from __future__ import annotations

import string
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from annotated_types import GroupedMetadata
from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from pydantic import Field

from pgbe.errors import ServiceUnavailableError, ValidationError
from pgbe.schemas import Chars

if TYPE_CHECKING:
    from pgbe.settings import PgbeSettings

MIN_LENGTH = 10
MAX_LENGTH = 128

_hasher = PasswordHash.recommended()

_CLASSES = (string.ascii_lowercase, string.ascii_uppercase, string.digits)
_NUMBERS = ("none", "one", "two", "three", "four")


def hash_password(password: str) -> str:
    """Return an argon2 hash of `password` with the current parameters."""
    return _hasher.hash(password)


def verify_password(password: str, hashed: str) -> tuple[bool, str | None]:
    """Check `password`; return (valid, new hash when the stored parameters are outdated)."""
    try:
        return _hasher.verify_and_update(password, hashed)
    except UnknownHashError:  # a stored value no enabled hasher knows: no password matches it
        return False, None


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("pgbe-dummy-password-for-unknown-accounts")


def verify_dummy(password: str) -> None:
    """Spend the same work as a real check, for sign-ins of unknown accounts."""
    _hasher.verify_and_update(password, _dummy_hash())


class HashSlots:
    """At most `size` password hashes (argon2: 64 MiB, ~0.1-0.5 s of CPU each) in flight in this worker.

    Beyond them a request is answered 503 with Retry-After at once: queueing would hold its memory
    and delay every other request of the worker. One event loop per worker, so a plain counter is
    atomic between awaits.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.in_use = 0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one slot for the block; 503 when every slot is taken."""
        if self.in_use >= self.size:
            raise ServiceUnavailableError(
                "Too many password checks in progress; try again shortly", retry_after=1
            )
        self.in_use += 1
        try:
            yield
        finally:
            self.in_use -= 1


def _char_class(char: str) -> int:
    for index, chars in enumerate(_CLASSES):
        if char in chars:
            return index
    return len(_CLASSES)  # punctuation, spaces, letters outside ASCII


@dataclass(frozen=True)
class PasswordPolicy:
    """What a new password must be: its length, and how many kinds of characters it mixes."""

    min_length: int = MIN_LENGTH
    max_length: int = MAX_LENGTH
    min_classes: int = 2

    @classmethod
    def from_settings(cls, settings: PgbeSettings) -> PasswordPolicy:
        """Return the policy of PASSWORD_MIN_LENGTH, PASSWORD_MAX_LENGTH and PASSWORD_MIN_CLASSES."""
        return cls(settings.password_min_length, settings.password_max_length, settings.password_min_classes)

    @property
    def description(self) -> str:
        """Say the rule in one sentence (the OpenAPI description of a password field)."""
        kinds = f"; mixes at least {_NUMBERS[self.min_classes]} of lower case, upper case, digits, others"
        return f"{self.min_length} to {self.max_length} characters{kinds if self.min_classes > 1 else ''}"

    def field(self) -> PasswordField:
        """Return the metadata of a password field: `Annotated[str, policy.field()]`."""
        return PasswordField(self)

    def problems(self, password: str, *, email: str | None = None) -> list[str]:
        """Return why `password` breaks the policy (empty when it is acceptable)."""
        problems = []
        if len(password) < self.min_length:
            problems.append(f"must be at least {self.min_length} characters long")
        if len(password) > self.max_length:
            problems.append(f"must be at most {self.max_length} characters long")
        if password and len({_char_class(c) for c in password}) < self.min_classes:
            problems.append(
                f"must mix at least {_NUMBERS[self.min_classes]} kinds of characters"
                " (lower case, upper case, digits, others)"
            )
        if email and password.lower() in (email.lower(), email.lower().partition("@")[0]):
            problems.append("must not be the email address")
        return problems


@dataclass(frozen=True)
class PasswordField(GroupedMetadata):
    """A password field's length bounds (NUL refused) and the policy in its OpenAPI description."""

    policy: PasswordPolicy

    def __iter__(self) -> Iterator[object]:
        yield from Chars(self.policy.max_length, min=self.policy.min_length)
        yield Field(description=self.policy.description)


DEFAULT_POLICY = PasswordPolicy()


def password_problems(
    password: str, *, email: str | None = None, policy: PasswordPolicy = DEFAULT_POLICY
) -> list[str]:
    """Return why `password` breaks `policy` (empty when it is acceptable)."""
    return policy.problems(password, email=email)


def check_password_policy(
    password: str, *, email: str | None = None, policy: PasswordPolicy = DEFAULT_POLICY
) -> None:
    """Raise ValidationError (422, field `password`) when `password` breaks `policy`."""
    problems = policy.problems(password, email=email)
    if problems:
        raise ValidationError(
            f"password {problems[0]}",
            field="password",
            errors=[{"loc": ["body", "password"], "msg": p, "type": "password_policy"} for p in problems],
        )
