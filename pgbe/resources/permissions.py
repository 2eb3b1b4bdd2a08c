"""Who may call each method of a generated resource."""

from __future__ import annotations

from dataclasses import dataclass

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
