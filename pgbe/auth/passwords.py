"""Password hashing with argon2 (pwdlib), with rehash detection."""

from __future__ import annotations

from pwdlib import PasswordHash

_hasher = PasswordHash.recommended()


def hash_password(password: str) -> str:
    """Return an argon2 hash of `password`."""
    return _hasher.hash(password)


def verify_password(password: str, hashed: str) -> tuple[bool, str | None]:
    """Check `password`; return (valid, new hash when the parameters changed)."""
    return _hasher.verify_and_update(password, hashed)
