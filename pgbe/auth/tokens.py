"""Signed access tokens (PyJWT, HS256 pinned) and opaque refresh tokens."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections import OrderedDict

import jwt

from pgbe.auth.principal import Principal
from pgbe.errors import UnauthorizedError

ALGORITHM = "HS256"
ACCESS = "access"
_REQUIRED_CLAIMS = ["exp", "iat", "sub", "typ", "role", "sid", "jti"]


def new_refresh_token() -> str:
    """Return a fresh opaque refresh token (256 random bits)."""
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    """Return the SHA-256 of a refresh token: what the database stores instead of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


class TokenCodec:
    """Issue and verify access tokens with one secret; verified tokens are cached until they expire."""

    def __init__(self, secret: str, *, access_minutes: int, cache_size: int = 4096) -> None:
        self._secret = secret
        self.access_seconds = access_minutes * 60
        self._cache: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        self._cache_size = cache_size

    def issue_access(self, principal: Principal, *, now: float | None = None) -> str:
        """Return a signed access token for `principal`."""
        issued = int(time.time() if now is None else now)
        claims = {
            "sub": str(principal.user_id),
            "role": principal.role,
            "sid": principal.session_id.hex,
            "typ": ACCESS,
            "iat": issued,
            "exp": issued + self.access_seconds,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def decode_access(self, token: str) -> Principal:
        """Return the principal of a valid access token; raise UnauthorizedError otherwise."""
        cached = self._cache.get(token)
        if cached is not None:
            principal, expires = cached
            if time.time() < expires:
                return principal
            self._cache.pop(token, None)
        try:
            claims = jwt.decode(
                token, self._secret, algorithms=[ALGORITHM], options={"require": _REQUIRED_CLAIMS}
            )
        except jwt.ExpiredSignatureError as exc:
            raise UnauthorizedError("Token expired") from exc
        except jwt.InvalidTokenError as exc:
            raise UnauthorizedError("Invalid token") from exc
        if claims["typ"] != ACCESS:
            raise UnauthorizedError("Invalid token type")
        try:
            principal = Principal(
                user_id=int(claims["sub"]), role=str(claims["role"]), session_id=uuid.UUID(str(claims["sid"]))
            )
        except (TypeError, ValueError) as exc:
            raise UnauthorizedError("Invalid token") from exc
        self._remember(token, principal, float(claims["exp"]))
        return principal

    def _remember(self, token: str, principal: Principal, expires: float) -> None:
        self._cache[token] = (principal, expires)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
