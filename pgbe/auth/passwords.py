"""Password hashing with argon2 (pwdlib), rehash detection and a minimum password policy."""

from __future__ import annotations

import string
from functools import lru_cache

from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError

from pgbe.errors import ValidationError

MIN_LENGTH = 10
MAX_LENGTH = 128

_hasher = PasswordHash.recommended()

_CLASSES = (string.ascii_lowercase, string.ascii_uppercase, string.digits)


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


def _char_class(char: str) -> int:
    for index, chars in enumerate(_CLASSES):
        if char in chars:
            return index
    return len(_CLASSES)  # punctuation, spaces, letters outside ASCII


def password_problems(password: str, *, email: str | None = None) -> list[str]:
    """Return why `password` breaks the policy (empty when it is acceptable)."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"must be at least {MIN_LENGTH} characters long")
    if len(password) > MAX_LENGTH:
        problems.append(f"must be at most {MAX_LENGTH} characters long")
    if password and len({_char_class(c) for c in password}) < 2:
        problems.append("must mix at least two kinds of characters (lower case, upper case, digits, others)")
    if email and password.lower() in (email.lower(), email.lower().partition("@")[0]):
        problems.append("must not be the email address")
    return problems


def check_password_policy(password: str, *, email: str | None = None) -> None:
    """Raise ValidationError (422, field `password`) when `password` breaks the policy."""
    problems = password_problems(password, email=email)
    if problems:
        raise ValidationError(
            f"password {problems[0]}",
            field="password",
            errors=[{"loc": ["body", "password"], "msg": p, "type": "password_policy"} for p in problems],
        )
