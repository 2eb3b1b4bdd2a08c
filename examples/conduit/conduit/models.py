"""Conduit's tables: users who follow each other, articles with tags and favorites, comments."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Column, ForeignKey, Index, Integer, String, Table, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from pgbe.auth.models import LoginThrottleMixin, RefreshTokenMixin
from pgbe.auth.passwords import hash_password
from pgbe.auth.principal import Principal
from pgbe.auth.schema import email_index
from pgbe.db.errors import register_metadata
from pgbe.models import ModelMixin, VersionedMixin, make_metadata
from pgbe.writes import WriteRules


class BaseModel(ModelMixin, DeclarativeBase):
    """Base of every model: `id`, `created_at`, `updated_at`, table name from the class name."""

    __abstract__ = True
    metadata = make_metadata()


register_metadata(BaseModel.metadata)

follows = Table(
    "follows",
    BaseModel.metadata,
    Column("follower_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("followed_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
    CheckConstraint("follower_id <> followed_id", name="not_self"),
)
favorites = Table(
    "favorites",
    BaseModel.metadata,
    Column("article_id", Integer, ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
)
article_tags = Table(
    "article_tags",
    BaseModel.metadata,
    Column("article_id", Integer, ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", Integer, ForeignKey("tags.id", ondelete="RESTRICT"), primary_key=True, index=True),
)


def _hash_password(data: dict[str, Any], principal: Principal | None) -> dict[str, Any]:
    """Store the password's hash, never the password."""
    del principal
    password = data.pop("password", None)
    if password is not None:
        data["hashed_password"] = hash_password(password)
    return data


class User(VersionedMixin, BaseModel):
    """A person who signs in, writes, follows others and favorites articles."""

    email: Mapped[str] = mapped_column(String(320), nullable=False, unique=True)
    username: Mapped[str] = mapped_column(String(50), nullable=False, unique=True)
    bio: Mapped[str | None] = mapped_column(Text)
    image: Mapped[str | None] = mapped_column(String(500))
    hashed_password: Mapped[str] = mapped_column(String(255), nullable=False)
    role: Mapped[str] = mapped_column(
        String(20), nullable=False, server_default=text("'user'"), default="user"
    )
    is_active: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("true"), default=True
    )

    followers: Mapped[list[User]] = relationship(
        secondary=follows,
        primaryjoin=lambda: User.id == follows.c.followed_id,
        secondaryjoin=lambda: User.id == follows.c.follower_id,
    )

    __table_args__ = (CheckConstraint("role IN ('admin', 'user')", name="role"), email_index())
    __repr_fields__ = ("id", "username")
    __write_rules__ = WriteRules(before_create=_hash_password, before_update=_hash_password, blocking=True)


class Tag(BaseModel):
    """A word articles are filed under."""

    name: Mapped[str] = mapped_column(String(40), nullable=False, unique=True)


def slugify(title: str) -> str:
    """Return the URL slug of a title: `How to Train Your Dragon!` -> `how-to-train-your-dragon`."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:120] or "article"


def _new_article(data: dict[str, Any], principal: Principal | None) -> dict[str, Any]:
    del principal
    data["slug"] = slugify(data["title"])
    return data


def _changed_article(data: dict[str, Any], principal: Principal | None) -> dict[str, Any]:
    del principal
    if "title" in data:
        data["slug"] = slugify(data["title"])
    return data


class Article(VersionedMixin, BaseModel):
    """A post addressed by the slug of its title."""

    slug: Mapped[str] = mapped_column(String(120), nullable=False, unique=True)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(String(500), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    author_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )

    author: Mapped[User] = relationship()
    tags: Mapped[list[Tag]] = relationship(secondary=article_tags)
    favorited_by: Mapped[list[User]] = relationship(secondary=favorites)

    # the lists' order, newest first and the primary key breaking ties, read straight off the index
    __table_args__ = (Index("ix_articles_created_at_id", text("created_at DESC"), "id"),)
    __write_rules__ = WriteRules(before_create=_new_article, before_update=_changed_article)


class Comment(VersionedMixin, BaseModel):
    """A remark on an article."""

    body: Mapped[str] = mapped_column(Text, nullable=False)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), nullable=False, index=True
    )
    author_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )

    article: Mapped[Article] = relationship()
    author: Mapped[User] = relationship()


class RefreshToken(RefreshTokenMixin, BaseModel):
    """A refresh token (its SHA-256) of a sign-in session; access tokens are checked against it."""


class LoginThrottle(LoginThrottleMixin, BaseModel):
    """Failed sign-ins of one account or client address in the current window."""
