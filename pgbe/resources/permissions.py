"""Who may call each method of a generated resource."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pgbe.auth.permissions import Permission, authenticated, public


@dataclass(frozen=True, slots=True)
class Permissions:
    """The permission of each method of a resource; `list` defaults to `read`.

    Catalogue-style defaults: anyone reads, signed-in callers write.
    """

    read: Permission = public
    list: Permission | None = None
    create: Permission = authenticated
    update: Permission = authenticated
    delete: Permission = authenticated

    @property
    def list_permission(self) -> Permission:
        """The permission of the list endpoint."""
        return self.list if self.list is not None else self.read


def permission_name(permission: Callable[..., Any]) -> str:
    """Return a readable name for a permission callable (`public`, `role admin|staff`)."""
    name = getattr(permission, "__name__", repr(permission))
    qualname = getattr(permission, "__qualname__", name)
    if "role" in qualname and inspect.isfunction(permission):
        roles = inspect.getclosurevars(permission).nonlocals.get("allowed")
        if roles:
            return f"role {'|'.join(sorted(roles))}"
    return str(qualname if "(" in qualname else name)
