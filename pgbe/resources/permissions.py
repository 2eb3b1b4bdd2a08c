"""Who may call each method of a generated resource, and rules that look at the row."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pgbe.auth.permissions import Permission, authenticated, public
from pgbe.auth.principal import Principal
from pgbe.query.computed import CallerIn, Computed


@dataclass(frozen=True)
class RowRule:
    """A permission that looks at the row: the caller passes `check`, then the row must pass `condition`.

    The condition is part of the request's one statement. A row the caller can see but that fails it
    answers 403; a row the caller cannot see (another owner's, a missing one) answers 404. Callers
    with one of `roles` pass whatever the row.
    """

    condition: Computed
    check: Permission = authenticated
    roles: frozenset[str] = field(default_factory=frozenset)

    def __call__(self, principal: Principal | None) -> None:
        self.check(principal)

    def describe(self) -> str:
        """How `pgbe routes` names it: `caller is author`, `caller is author or role admin`."""
        path = getattr(self.condition, "path", None)
        who = f"caller is {path}" if path is not None else "row rule"
        return who + (f" or role {'|'.join(sorted(self.roles))}" if self.roles else "")

    def exempt(self, principal: Principal | None) -> bool:
        """Tell whether `principal` passes whatever the row (one of `roles`)."""
        return principal is not None and principal.role in self.roles


def caller_is(path: str, *, roles: Iterable[str] = ()) -> RowRule:
    """Allow signed-in callers the `path` of the row leads to: `caller_is("author")`, `caller_is("id")`.

    `path` is a relationship path as in `CallerIn` (`"author"`, `"team.members"`); `"id"` (the primary
    key) means the row is the caller's own user row.
    """
    return RowRule(CallerIn(path), roles=frozenset(roles))


def row_rule(permission: Permission) -> RowRule | None:
    """The row rule of a permission, if it has one."""
    return permission if isinstance(permission, RowRule) else None


@dataclass(frozen=True, slots=True)
class Permissions:
    """The permission of each method of a resource; `list` defaults to `read`.

    Catalogue-style defaults: anyone reads, signed-in callers write. A permission is a callable of
    the caller, or a `RowRule` (`caller_is("author")`) that also looks at the row.
    """

    read: Permission = public
    list: Permission | None = None
    create: Permission = authenticated
    update: Permission = authenticated
    delete: Permission = authenticated

    @classmethod
    def author_writes(cls, path: str = "author", *, roles: Iterable[str] = ()) -> Permissions:
        """Anyone reads, signed-in callers create, only the row's `path` (its author) changes or deletes."""
        rule = caller_is(path, roles=roles)
        return cls(read=public, create=authenticated, update=rule, delete=rule)

    @property
    def list_permission(self) -> Permission:
        """The permission of the list endpoint."""
        return self.list if self.list is not None else self.read


def permission_name(permission: Callable[..., Any]) -> str:
    """Return a readable name for a permission callable (`public`, `role admin|staff`)."""
    if isinstance(permission, RowRule):
        return permission.describe()
    name = getattr(permission, "__name__", repr(permission))
    qualname = getattr(permission, "__qualname__", name)
    if "role" in qualname and inspect.isfunction(permission):
        roles = inspect.getclosurevars(permission).nonlocals.get("allowed")
        if roles:
            return f"role {'|'.join(sorted(roles))}"
    return str(qualname if "(" in qualname else name)
