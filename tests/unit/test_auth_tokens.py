"""Access tokens: pinned algorithm, signature, expiry, type, required claims; the verified-token cache."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest

from pgbe.auth.principal import Principal
from pgbe.auth.tokens import TokenCodec, hash_refresh_token, new_refresh_token
from pgbe.errors import UnauthorizedError

SECRET = "unit-test-secret-" + "s" * 64  # long enough for HS512 too (the other-alg case)
SESSION = uuid.UUID("6f1c1d2e-0000-4000-8000-000000000007")


@pytest.fixture
def codec() -> TokenCodec:
    return TokenCodec(SECRET, access_minutes=15)


def _claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": "7",
        "role": "staff",
        "typ": "access",
        "iat": now,
        "exp": now + 600,
        "sid": SESSION.hex,
        "jti": "abc",
    }
    claims.update(overrides)
    return claims


def test_decode_access_issued_token_returns_principal(codec: TokenCodec) -> None:
    token = codec.issue_access(Principal(7, "staff", SESSION))
    assert codec.decode_access(token) == Principal(7, "staff", SESSION)
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_issue_access_claims_carry_identity_type_and_expiry(codec: TokenCodec) -> None:
    claims = jwt.decode(
        codec.issue_access(Principal(3, "user", SESSION), now=1_000), options={"verify_signature": False}
    )
    assert claims["sub"] == "3"
    assert claims["role"] == "user"
    assert claims["typ"] == "access"
    assert claims["sid"] == SESSION.hex
    assert claims["iat"] == 1_000
    assert claims["exp"] == 1_000 + 15 * 60
    assert claims["jti"]


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(jwt.encode(_claims(), None, algorithm="none"), id="alg-none"),
        pytest.param(
            jwt.encode(_claims(), "some-other-secret-of-enough-length", algorithm="HS256"), id="wrong-key"
        ),
        pytest.param(jwt.encode(_claims(), SECRET, algorithm="HS512"), id="other-hmac-alg"),
        pytest.param(jwt.encode(_claims(typ="refresh"), SECRET, algorithm="HS256"), id="refresh-type"),
        pytest.param(jwt.encode(_claims(exp=int(time.time()) - 60), SECRET, algorithm="HS256"), id="expired"),
        pytest.param(jwt.encode({"sub": "7", "role": "user", "typ": "access"}, SECRET), id="no-exp"),
        pytest.param(jwt.encode(_claims(sub="seven"), SECRET, algorithm="HS256"), id="non-numeric-sub"),
        pytest.param(
            jwt.encode({k: v for k, v in _claims().items() if k != "sid"}, SECRET, algorithm="HS256"),
            id="no-session",
        ),
        pytest.param(jwt.encode(_claims(sid="not-a-uuid"), SECRET, algorithm="HS256"), id="bad-session"),
        pytest.param("a.b.c", id="garbage"),
    ],
)
def test_decode_access_invalid_token_raises_unauthorized(codec: TokenCodec, token: str) -> None:
    with pytest.raises(UnauthorizedError) as exc:
        codec.decode_access(token)
    assert exc.value.headers == {"WWW-Authenticate": "Bearer"}


def test_decode_access_tampered_payload_raises_unauthorized(codec: TokenCodec) -> None:
    token = codec.issue_access(Principal(7, "user", SESSION))
    header, _, signature = token.split(".")
    forged = jwt.encode(_claims(role="admin"), "x" * 32, algorithm="HS256").split(".")[1]
    with pytest.raises(UnauthorizedError):
        codec.decode_access(f"{header}.{forged}.{signature}")


def test_decode_access_cache_answers_until_the_cached_expiry_only(codec: TokenCodec) -> None:
    token = codec.issue_access(Principal(7, "user", SESSION))
    codec.decode_access(token)
    codec._cache[token] = (Principal(99, "marker", SESSION), time.time() + 60)
    assert codec.decode_access(token) == Principal(99, "marker", SESSION)  # served from the cache
    codec._cache[token] = (Principal(99, "marker", SESSION), time.time() - 1)
    assert codec.decode_access(token) == Principal(7, "user", SESSION)  # past its expiry: verified again


def test_decode_access_cache_is_bounded(codec: TokenCodec) -> None:
    small = TokenCodec(SECRET, access_minutes=15, cache_size=3)
    tokens = [small.issue_access(Principal(i, "user", SESSION)) for i in range(1, 6)]
    for token in tokens:
        small.decode_access(token)
    assert len(small._cache) == 3
    assert list(small._cache) == tokens[2:]


def test_new_refresh_token_is_random_and_stored_as_sha256() -> None:
    first, second = new_refresh_token(), new_refresh_token()
    assert first != second
    assert len(first) >= 43
    assert hash_refresh_token(first) == hash_refresh_token(first)
    assert len(hash_refresh_token(first)) == 64
    assert first not in hash_refresh_token(first)
