"""Auth: sign-in, refresh, sign-out and password change over one database and one secret."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from asyncpg import Record
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from pgbe.auth.guard import GUARD_SQL, USER_SQL, guard_args, session_ended
from pgbe.auth.passwords import (
    HashSlots,
    PasswordPolicy,
    check_password_policy,
    hash_password,
    verify_dummy,
    verify_password,
)
from pgbe.auth.principal import Principal
from pgbe.auth.refresh import RefreshTokens
from pgbe.auth.throttle import Limit, LoginThrottle, make_throttle
from pgbe.auth.tokens import TokenCodec
from pgbe.auth.users import email_identity, get_user, get_user_by_email, set_password_hash
from pgbe.db.database import Database
from pgbe.errors import TooManyRequestsError, UnauthorizedError
from pgbe.http.headers import header
from pgbe.http.rate_limits import RateLimits
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
        self.schemes = frozenset(scheme.lower() for scheme in settings.auth_schemes)
        self.challenge = ", ".join(settings.auth_schemes)
        self.password_policy = PasswordPolicy.from_settings(settings)
        self.hash_slots = HashSlots(settings.password_hash_concurrency)
        self.rate_limits = RateLimits.from_settings(settings)

    def resolve_principal(self, request: Request) -> Principal | None:
        """Return the principal the request's token claims (None when anonymous); a bad token is a 401.

        No query: the claim is unverified against the database. Generated endpoints compile the
        session guard into their statement; anything else uses `verified_principal`.
        """
        authorization = header(request, b"authorization")
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() not in self.schemes or not token.strip():
            raise UnauthorizedError(
                f"Expected an access token as: {' or '.join(self.settings.auth_schemes)} <token>",
                headers={"WWW-Authenticate": self.challenge},
            )
        principal = self.codec.decode_access(token.strip())
        note_user(principal.user_id)  # the request's log line names its caller
        return principal

    async def verified_principal(self, request: Request) -> Principal | None:
        """Return the caller after checking the session guard (one query); 401 when it fails."""
        principal = self.resolve_principal(request)
        if principal is None:
            return None
        if not await self.session_live(principal):
            raise session_ended()
        return principal

    async def session_live(self, principal: Principal) -> bool:
        """Tell whether the session guard holds for `principal` (one query)."""
        async with self.database.acquire() as conn:
            allowed: bool = await conn.fetchval(GUARD_SQL, *guard_args(principal))
        return allowed

    async def start_session(self, user_id: int, *, seconds: int) -> uuid.UUID:
        """Open a sign-in session without a refresh token for the client (the admin site's cookie)."""
        async with self.database.acquire() as conn:
            _, session = await self.refresh_tokens.issue(conn, user_id, seconds=seconds)
        return session

    async def end_session(self, session_id: uuid.UUID) -> None:
        """Revoke a sign-in session: its refresh tokens and access tokens stop working at once."""
        async with self.database.acquire() as conn:
            await self.refresh_tokens.revoke_session(conn, session_id)

    async def verified_user(self, request: Request) -> Record:
        """Return the caller's row after checking the session guard, in one query; 401 otherwise."""
        principal = self.resolve_principal(request)
        if principal is None:
            raise UnauthorizedError()
        async with self.database.acquire() as conn:
            row: Record | None = await conn.fetchrow(USER_SQL, *guard_args(principal))
        if row is None:
            raise session_ended()
        return row

    def _limits(self, email: str, client: str) -> list[Limit]:
        s = self.settings
        return [
            Limit(f"account:{email_identity(email)[:320]}", s.login_max_failures),
            Limit(f"client:{client[:64]}", s.login_max_failures_per_client),
        ]

    async def _reserve(self, limits: list[Limit]) -> None:
        """Count this attempt before any password is checked; 429 when a limit is used up."""
        wait = await self.throttle.reserve(limits)
        if wait is not None:
            from pgbe.observability.metrics import record_throttle

            record_throttle("login")  # pgbe_throttle_events_total{kind="login"}
            raise TooManyRequestsError(
                "Too many failed sign-ins; try again later", headers={"Retry-After": str(wait)}
            )

    async def login(self, email: str, password: str, *, client: str) -> TokenPair:
        """Check the credentials and issue tokens; unknown accounts and wrong passwords look alike."""
        user = await self.check_credentials(email, password, client=client)
        async with self.database.acquire() as conn, conn.transaction():
            refresh, session = await self.refresh_tokens.issue(conn, user["id"])
        return self._pair(Principal(user_id=user["id"], role=user["role"], session_id=session), refresh)

    async def check_credentials(self, email: str, password: str, *, client: str) -> Record:
        """Return the active user with these credentials: 401 otherwise, 429 while throttled.

        Every sign-in (the API's, the admin site's) goes through here: failures are throttled per
        account and per client, an unknown account costs a hash like a wrong password, and an
        outdated hash is replaced.
        """
        password = password[:MAX_PASSWORD_INPUT]  # bounds the hashing work; no stored password is as long
        await self.rate_limits.hit("signin", client)
        limits = self._limits(email, client)
        async with self.hash_slots.slot():  # before the reservation: a 503 costs no attempt
            await self._reserve(limits)
            async with self.database.acquire() as conn:
                user = await get_user_by_email(conn, email)
            if user is None:
                await run_in_threadpool(verify_dummy, password)
                valid, new_hash = False, None
            else:
                valid, new_hash = await run_in_threadpool(verify_password, password, user["hashed_password"])
        if not valid or user is None or not user["is_active"]:
            raise UnauthorizedError(BAD_CREDENTIALS)  # the reserved attempt stays counted
        await self.throttle.release(limits)
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
        principal = Principal(user_id=rotation.user_id, role=rotation.role, session_id=rotation.family_id)
        return self._pair(principal, rotation.refresh_token)

    async def logout(self, refresh_token: str) -> None:
        """Revoke the family of `refresh_token` (every token of that sign-in)."""
        async with self.database.acquire() as conn:
            await self.refresh_tokens.revoke_family(conn, refresh_token)

    async def change_password(self, user_id: int, current: str, new: str, *, client: str) -> None:
        """Check the current password (throttled like a sign-in) and store the new one.

        The new hash revokes every sign-in session of the user, in the database (see
        `pgbe.auth.schema`), which ends their access tokens too.
        """
        async with self.database.acquire() as conn:
            user = await get_user(conn, user_id)
        if user is None or not user["is_active"]:
            raise UnauthorizedError("User not found or inactive")
        check_password_policy(new, email=user["email"], policy=self.password_policy)
        limits = self._limits(user["email"], client)
        async with self.hash_slots.slot():
            await self._reserve(limits)
            valid, _ = await run_in_threadpool(
                verify_password, current[:MAX_PASSWORD_INPUT], user["hashed_password"]
            )
            if not valid:
                raise UnauthorizedError("Current password is incorrect")
            await self.throttle.release(limits)
            hashed = await run_in_threadpool(hash_password, new)
        async with self.database.acquire() as conn:
            await set_password_hash(conn, user_id, hashed)

    async def change_email(self, user_id: int, current: str, email: str, *, client: str) -> Record:
        """Check the current password (throttled like a sign-in), then store the new email.

        Another account with the same email up to case and compatibility forms is a 409 (the unique
        index decides); the row's version moves on.
        """
        async with self.database.acquire() as conn:
            user = await get_user(conn, user_id)
        if user is None or not user["is_active"]:
            raise UnauthorizedError("User not found or inactive")
        limits = self._limits(user["email"], client)
        async with self.hash_slots.slot():
            await self._reserve(limits)
            valid, _ = await run_in_threadpool(
                verify_password, current[:MAX_PASSWORD_INPUT], user["hashed_password"]
            )
        if not valid:
            raise UnauthorizedError("Current password is incorrect")
        await self.throttle.release(limits)
        async with self.database.acquire() as conn:
            row: Record = await conn.fetchrow(
                "UPDATE users SET email = $2, updated_at = now(), version = version + 1"
                " WHERE id = $1 RETURNING *",
                user_id,
                email,
            )
        return row

    async def hash_new_password(self, password: str) -> str:
        """Hash a new password (sign-up, admin forms) within this worker's bound on hashes in flight."""
        async with self.hash_slots.slot():
            return await run_in_threadpool(hash_password, password)

    def _pair(self, principal: Principal, refresh: str) -> TokenPair:
        return TokenPair(
            access_token=self.codec.issue_access(principal),
            refresh_token=refresh,
            expires_in=self.codec.access_seconds,
        )
