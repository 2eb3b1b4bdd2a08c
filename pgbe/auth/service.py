"""Auth: sign-in, refresh, sign-out and password change over one database and one secret."""

from __future__ import annotations

from dataclasses import dataclass

from asyncpg import Record
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from pgbe.auth.passwords import check_password_policy, hash_password, verify_dummy, verify_password
from pgbe.auth.principal import Principal
from pgbe.auth.refresh import RefreshTokens
from pgbe.auth.throttle import Limit, LoginThrottle, make_throttle
from pgbe.auth.tokens import TokenCodec
from pgbe.auth.users import get_user, get_user_by_email, set_password_hash
from pgbe.db.database import Database
from pgbe.errors import TooManyRequestsError, UnauthorizedError
from pgbe.observability.context import note_user
from pgbe.settings import PgbeSettings

BAD_CREDENTIALS = "Incorrect email or password"
MAX_PASSWORD_INPUT = 1024


@dataclass(frozen=True)
class TokenPair:
    """What a sign-in or a refresh returns."""

    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret


class Auth:
    """The project's authentication: tokens, refresh families, throttling and password checks."""

    def __init__(
        self, settings: PgbeSettings, database: Database, *, throttle: LoginThrottle | None = None
    ) -> None:
        self.settings = settings
        self.database = database
        self.codec = TokenCodec(
            settings.secret_key.get_secret_value(), access_minutes=settings.access_token_minutes
        )
        self.refresh_tokens = RefreshTokens(days=settings.refresh_token_days)
        self.throttle = throttle or make_throttle(
            database, redis_url=settings.redis_url, window_seconds=settings.login_window_seconds
        )

    def resolve_principal(self, request: Request) -> Principal | None:
        """Return the caller of `request` (None when anonymous); a bad bearer token is a 401."""
        header = request.headers.get("authorization")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise UnauthorizedError("Expected a Bearer token")
        principal = self.codec.decode_access(token.strip())
        note_user(principal.user_id)  # the request's log line names its caller
        return principal

    def _limits(self, email: str, client: str) -> list[Limit]:
        s = self.settings
        return [
            Limit(f"account:{email.strip().lower()[:320]}", s.login_max_failures),
            Limit(f"client:{client[:64]}", s.login_max_failures_per_client),
        ]

    async def login(self, email: str, password: str, *, client: str) -> TokenPair:
        """Check the credentials and issue tokens; unknown accounts and wrong passwords look alike."""
        user = await self.check_credentials(email, password, client=client)
        async with self.database.acquire() as conn, conn.transaction():
            refresh = await self.refresh_tokens.issue(conn, user["id"])
        return self._pair(Principal(user_id=user["id"], role=user["role"]), refresh)

    async def check_credentials(self, email: str, password: str, *, client: str) -> Record:
        """Return the active user with these credentials: 401 otherwise, 429 while throttled.

        Every sign-in (the API's, the admin site's) goes through here: failures are throttled per
        account and per client, an unknown account costs a hash like a wrong password, and an
        outdated hash is replaced.
        """
        password = password[:MAX_PASSWORD_INPUT]  # bounds the hashing work; no stored password is as long
        limits = self._limits(email, client)
        wait = await self.throttle.retry_after(limits)
        if wait is not None:
            from pgbe.observability.metrics import record_throttle

            record_throttle("login")  # pgbe_throttle_events_total{kind="login"}
            raise TooManyRequestsError(
                "Too many failed sign-ins; try again later", headers={"Retry-After": str(wait)}
            )
        async with self.database.acquire() as conn:
            user = await get_user_by_email(conn, email)
        if user is None:
            await run_in_threadpool(verify_dummy, password)
            valid, new_hash = False, None
        else:
            valid, new_hash = await run_in_threadpool(verify_password, password, user["hashed_password"])
        if not valid or user is None or not user["is_active"]:
            await self.throttle.record_failure([limit.key for limit in limits])
            raise UnauthorizedError(BAD_CREDENTIALS)
        await self.throttle.reset(limits[0].key)
        if new_hash is not None:
            async with self.database.acquire() as conn:
                await set_password_hash(conn, user["id"], new_hash, new_version=False)
        return user

    async def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate a refresh token: the old one is spent, a reused one revokes its family (401)."""
        refused: UnauthorizedError | None = None
        async with self.database.acquire() as conn:
            try:
                rotation = await self.refresh_tokens.rotate(conn, refresh_token)
            except UnauthorizedError as exc:
                refused = exc  # raised below: a reuse's revocation must not be undone with the connection
        if refused is not None:
            raise refused
        return self._pair(Principal(user_id=rotation.user_id, role=rotation.role), rotation.refresh_token)

    async def logout(self, refresh_token: str) -> None:
        """Revoke the family of `refresh_token` (every token of that sign-in)."""
        async with self.database.acquire() as conn:
            await self.refresh_tokens.revoke_family(conn, refresh_token)

    async def change_password(self, user_id: int, current: str, new: str) -> None:
        """Check the current password, store the new one and revoke every refresh token of the user."""
        async with self.database.acquire() as conn:
            user = await get_user(conn, user_id)
        if user is None or not user["is_active"]:
            raise UnauthorizedError("User not found or inactive")
        valid, _ = await run_in_threadpool(verify_password, current, user["hashed_password"])
        if not valid:
            raise UnauthorizedError("Current password is incorrect")
        check_password_policy(new, email=user["email"])
        hashed = await run_in_threadpool(hash_password, new)
        async with self.database.acquire() as conn, conn.transaction():
            await set_password_hash(conn, user_id, hashed)
            await self.refresh_tokens.revoke_user(conn, user_id)

    def _pair(self, principal: Principal, refresh: str) -> TokenPair:
        return TokenPair(
            access_token=self.codec.issue_access(principal),
            refresh_token=refresh,
            expires_in=self.codec.access_seconds,
        )
