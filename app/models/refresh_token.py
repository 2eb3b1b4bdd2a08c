"""Refresh tokens: rotated on use, revoked by family."""

from __future__ import annotations

from app.models.base import BaseModel
from pgbe.auth.models import RefreshTokenMixin


class RefreshToken(RefreshTokenMixin, BaseModel):
    """A refresh token issued to a user (table `refresh_tokens`)."""

    __repr_fields__ = ("id", "user_id", "family_id")
