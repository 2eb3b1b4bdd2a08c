"""Who makes a request: the identity a verified access token carries."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: a user id, the role it had when the token was issued, its session.

    The role is what the token claims; every statement and hand-written route checks it against the
    account's current role (see `pgbe.auth.guard`), so a stale claim is refused, never honoured.
    `session_id` is the sign-in the token belongs to (its refresh-token family): revoking the
    sign-in ends the token too.
    """

    user_id: int
    role: str
    session_id: uuid.UUID
