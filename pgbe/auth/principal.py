"""Who makes a request: the identity a verified access token carries."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: a user id and that user's role when the token was issued."""

    user_id: int
    role: str
