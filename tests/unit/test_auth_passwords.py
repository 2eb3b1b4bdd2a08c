"""Password hashing (argon2, rehash detection) and the minimum password policy."""

from __future__ import annotations

import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pydantic import ValidationError as PydanticValidationError

from app.schemas.user import UserCreate
from pgbe.auth.passwords import check_password_policy, hash_password, password_problems, verify_password
from pgbe.errors import ValidationError


def test_hash_password_is_argon2_and_verifies() -> None:
    hashed = hash_password("Correct-Horse-42")
    assert hashed.startswith("$argon2id$")
    assert "Correct-Horse-42" not in hashed
    assert verify_password("Correct-Horse-42", hashed) == (True, None)
    assert verify_password("correct-horse-42", hashed)[0] is False


def test_verify_password_outdated_parameters_returns_new_hash() -> None:
    weak = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1),)).hash(
        "Correct-Horse-42"
    )
    valid, new_hash = verify_password("Correct-Horse-42", weak)
    assert valid is True
    assert new_hash is not None
    assert verify_password("Correct-Horse-42", new_hash) == (True, None)


@pytest.mark.parametrize(
    ("password", "email"),
    [
        ("Short-1", None),
        ("abcdefghijkl", None),
        ("123456789012", None),
        ("ABCDEFGHIJKL", None),
        ("Ada.Lovelace", "ada.lovelace@example.com"),
        ("ada@example.com", "ada@example.com"),
        ("x" * 129 + "A", None),
    ],
)
def test_check_password_policy_weak_password_raises_422(password: str, email: str | None) -> None:
    with pytest.raises(ValidationError) as exc:
        check_password_policy(password, email=email)
    assert exc.value.status_code == 422
    assert exc.value.field == "password"


@pytest.mark.parametrize(
    "password", ["Correct-Horse-42", "correct horse battery", "tr0ub4dor&3x", "Ünïcödé-pass"]
)
def test_password_problems_acceptable_password_is_empty(password: str) -> None:
    assert password_problems(password, email="ada@example.com") == []


def test_user_create_weak_password_is_rejected() -> None:
    base = {"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"}
    with pytest.raises(PydanticValidationError, match="two kinds of characters"):
        UserCreate.model_validate(base | {"password": "aaaaaaaaaaaa"})
    assert UserCreate.model_validate(base | {"password": "Analytical-Engine"}).password == "Analytical-Engine"
