"""The parts of a resource declaration: its JSON envelopes, its views and its actions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pgbe.auth.permissions import Permission, authenticated
from pgbe.query.computed import CallerIn, Computed


@dataclass(frozen=True, slots=True)
class Caller:
    """`lookup=Caller()`: the one item is the caller's own row, at the resource's path (`GET /user`).

    The row is the one whose `column` (the primary key by default; any unique column, such as a
    profile's `user_id`) is the signed-in caller's user id. There is no path key, no list and no
    create; anonymous callers get 401, whatever the permissions say.
    """

    column: str | None = None


@dataclass(frozen=True, slots=True)
class Envelope:
    """The keys around a resource's JSON; the default is today's shape.

    `item` wraps one row (`{"article": {...}}`) in every answer that carries one, and `body` (by
    default the same key) wraps request bodies. A list answer is an object with the rows under
    `items` and, unless left out (None), the total, skip and limit under their keys:
    `Envelope(item="article", items="articles", total="articlesCount", skip=None, limit=None)`.
    `each="name"` lists the value of that field of each row instead of the row (`{"tags": ["a"]}`).
    `total_kind` says whether the total is `exact` or `planned` (null when not counted); `next` and
    `prev` hold the cursors of the neighbouring pages (null at either end). The default envelope
    (`DEFAULT_ENVELOPE`) has all three; a declared one only those it names (the `Link` header
    carries the cursors whatever the envelope).
    """

    item: str | None = None
    body: str | None = None
    items: str = "items"
    total: str | None = "total"
    skip: str | None = "skip"
    limit: str | None = "limit"
    each: str | None = None
    total_kind: str | None = None
    next: str | None = None
    prev: str | None = None

    @property
    def body_key(self) -> str | None:
        """The key around request bodies."""
        return self.body if self.body is not None else self.item

    @property
    def counts(self) -> bool:
        """Tell whether lists carry a total (a count of every matching row)."""
        return self.total is not None

    @property
    def default(self) -> bool:
        """Tell whether this is today's shape (`Page[Read]`)."""
        return self == DEFAULT_ENVELOPE


DEFAULT_ENVELOPE = Envelope(total_kind="total_kind", next="next", prev="prev")


@dataclass(frozen=True, slots=True)
class View:
    """A list of the resource at its own path, with a condition on the caller: a feed.

    `View("feed", where=CallerIn("author.followers"))` answers `GET /articles/feed` with the articles
    whose author the caller follows; every list parameter works on it. `where` is a computed boolean
    (or any `Computed`) of the row.
    """

    name: str
    where: Computed
    permission: Permission = authenticated
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Action:
    """An extra endpoint on each item, answering the item's representation.

    `Action("favorite", link="favorited_by")`: `POST /articles/{slug}/favorite` adds the caller to
    the item's `favorited_by` (a many-to-many relationship to users), `DELETE` takes them out; each
    is one statement, and computed fields over that relationship (the count, the caller's flag) answer
    the new state. `values={...}` makes an update action instead (`POST .../publish` setting
    `published=True`): column values or SQL expressions.
    """

    name: str
    link: str | None = None
    values: dict[str, Any] | None = None
    permission: Permission = authenticated
    description: str | None = None

    def __post_init__(self) -> None:
        if (self.link is None) == (self.values is None):
            raise ValueError(f"action {self.name!r}: give either link= or values=")
        if not self.name.replace("-", "_").isidentifier():
            raise ValueError(f"action {self.name!r}: the name is a path segment (letters, digits, - and _)")

    @property
    def methods(self) -> tuple[str, ...]:
        """The HTTP methods of the action: POST to link (or update), DELETE to unlink."""
        return ("POST", "DELETE") if self.link is not None else ("POST",)


@dataclass(frozen=True, slots=True)
class AccessToken:
    """`token=AccessToken()`: answers about an account carry a fresh access token under `field`.

    Which answers: those about the caller's own account (`lookup=Caller()`: get, update, actions),
    signed with the caller's sign-in after the statement (a write that may end it, a new password,
    opens a new session in a second statement); create answers, where an anonymous caller's new
    account (a sign-up) gets a sign-in session opened by the same statement (null for a signed-in
    caller: the account is not theirs); and the sign-in's (`SignIn`).
    """

    field: str = "token"

    def __post_init__(self) -> None:
        if not self.field.isidentifier():
            raise ValueError(f"AccessToken field {self.field!r}: a JSON key of letters, digits and _")


@dataclass(frozen=True, slots=True)
class SignIn:
    """A sign-in endpoint of the accounts' resource, answering the account with a fresh access token.

    `Resource(User, ..., token=AccessToken(), sign_in=SignIn("/login"))`: `POST /users/login` with
    `{"email": ..., "password": ...}` (inside the body envelope, `body=` or the resource's) checks the
    credentials with `pgbe.auth.Auth.check_credentials`, so the protections of every sign-in apply
    (throttling per account and client, the bound on hashes in flight, inactive accounts refused),
    opens a sign-in session and answers the account's Read representation, in the item envelope,
    with the access token under the resource's `token` field. `email` and `password` name the body's
    fields. The operation id is the resource's name and the path's last segment (`users.login`).
    """

    path: str = "/login"
    body: str | None = None
    email: str = "email"
    password: str = "password"  # noqa: S105 - the name of the body's field, not a password
    description: str | None = None

    def __post_init__(self) -> None:
        if not re.fullmatch(r"(/[a-z][a-z0-9_-]*)+", self.path):
            raise ValueError(f"sign_in path {self.path!r}: segments of lowercase letters, digits, - and _")
        if self.email == self.password:
            raise ValueError("sign_in: the email and password fields need names of their own")

    @property
    def name(self) -> str:
        """The operation's name: the path's last segment (`login`)."""
        return self.path.rsplit("/", 1)[1].replace("-", "_")


__all__ = ["AccessToken", "Action", "CallerIn", "Envelope", "SignIn", "View"]
