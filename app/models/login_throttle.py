"""Failed sign-in counters shared by every worker process."""

from __future__ import annotations

from app.models.base import BaseModel
from pgbe.auth.models import LoginThrottleMixin


class LoginThrottle(LoginThrottleMixin, BaseModel):
    """Failures of one account or client address in the current window (table `login_throttles`)."""

    __repr_fields__ = ("key", "failures")
