"""A small publishing domain declared only with generated resources, for the resource engine's tests.

Writers follow each other; posts are addressed by slug, carry labels (a list of names) and likes (a
count and the caller's flag); remarks live under their post. Its tables are created in a schema of
their own inside the test's transaction (`create_tables`), so the app's migrated tables are untouched.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import asyncpg
from pydantic import ConfigDict, Field
from pydantic.alias_generators import to_camel
from sqlalchemy import CheckConstraint, Column, ForeignKey, Integer, String, Table, Text, func
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.schema import CreateIndex, CreateTable

from pgbe.auth.permissions import authenticated, public
from pgbe.auth.principal import Principal
from pgbe.models import ModelMixin, VersionedMixin, make_metadata
from pgbe.query.computed import CallerIn, Count, Expr, Pluck
from pgbe.resources import Permissions, Resource
from pgbe.resources.declarations import Action, Envelope, View
from pgbe.resources.permissions import caller_is
from pgbe.schemas import Chars, CreateSchema, ReadSchema, UpdateSchema
from pgbe.writes import WriteRules

SCHEMA = "pgbe_publishing"
CAMEL = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class Base(ModelMixin, DeclarativeBase):
    __abstract__ = True
    metadata = make_metadata()


follows = Table(
    "follows",
    Base.metadata,
    Column("follower_id", Integer, ForeignKey("writers.id", ondelete="CASCADE"), primary_key=True),
    Column("followed_id", Integer, ForeignKey("writers.id", ondelete="CASCADE"), primary_key=True),
    CheckConstraint("follower_id <> followed_id", name="not_self"),
)
likes = Table(
    "likes",
    Base.metadata,
    Column("post_id", Integer, ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True),
    Column("writer_id", Integer, ForeignKey("writers.id", ondelete="CASCADE"), primary_key=True),
)
post_labels = Table(
    "post_labels",
    Base.metadata,
    Column("post_id", Integer, ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True),
    Column("label_id", Integer, ForeignKey("labels.id", ondelete="RESTRICT"), primary_key=True),
)


class Writer(VersionedMixin, Base):
    username: Mapped[str] = mapped_column(String(50), nullable=False, unique=True)
    bio: Mapped[str | None] = mapped_column(Text)
    followers: Mapped[list[Writer]] = relationship(
        secondary=follows,
        primaryjoin=lambda: Writer.id == follows.c.followed_id,
        secondaryjoin=lambda: Writer.id == follows.c.follower_id,
    )


class Label(Base):
    name: Mapped[str] = mapped_column(String(40), nullable=False, unique=True)


def _slug(title: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in title.lower()).split())


def _new_post(data: dict[str, Any], principal: Principal | None) -> dict[str, Any]:
    del principal
    data["slug"] = _slug(data["title"])
    return data


def _changed_post(data: dict[str, Any], principal: Principal | None) -> dict[str, Any]:
    del principal
    if "title" in data:
        data["slug"] = _slug(data["title"])
    return data


class Post(VersionedMixin, Base):
    slug: Mapped[str] = mapped_column(String(120), nullable=False, unique=True)
    title: Mapped[str] = mapped_column(String(100), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    author_id: Mapped[int] = mapped_column(ForeignKey("writers.id"), nullable=False)
    author: Mapped[Writer] = relationship()
    labels: Mapped[list[Label]] = relationship(secondary=post_labels)
    liked_by: Mapped[list[Writer]] = relationship(secondary=likes)

    __write_rules__ = WriteRules(before_create=_new_post, before_update=_changed_post)


class Remark(VersionedMixin, Base):
    body: Mapped[str] = mapped_column(Text, nullable=False)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), nullable=False)
    author_id: Mapped[int] = mapped_column(ForeignKey("writers.id"), nullable=False)
    post: Mapped[Post] = relationship()
    author: Mapped[Writer] = relationship()


# --- schemas ---------------------------------------------------------------------------------------
class WriterRead(ReadSchema):
    username: str
    bio: str | None
    following: Annotated[bool, CallerIn("followers")]


class PostRead(ReadSchema):
    model_config = ReadSchema.model_config | CAMEL

    slug: str
    title: str
    body: str
    label_list: Annotated[list[str], Pluck("labels", "name", create_missing=True)]
    created_at: datetime
    likes_count: Annotated[int, Count("liked_by")]
    liked: Annotated[bool, CallerIn("liked_by")]
    title_length: Annotated[int, Expr(lambda c: func.char_length(c.title))]
    author: WriterRead


class PostCreate(CreateSchema):
    model_config = CreateSchema.model_config | CAMEL

    title: Annotated[str, Chars(100, min=1)]
    body: Annotated[str, Chars(10_000, min=1)]
    label_list: Annotated[list[Annotated[str, Chars(40, min=1)]], Field(max_length=10)] = Field(
        default_factory=list
    )


class PostUpdate(UpdateSchema):
    model_config = UpdateSchema.model_config | CAMEL

    title: Annotated[str, Chars(100, min=1)] | None = None
    body: Annotated[str, Chars(10_000, min=1)] | None = None
    label_list: Annotated[list[Annotated[str, Chars(40, min=1)]], Field(max_length=10)] | None = None


class RemarkRead(ReadSchema):
    id: int
    body: str
    author: WriterRead


class RemarkCreate(CreateSchema):
    body: Annotated[str, Chars(2000, min=1)]


class LabelRead(ReadSchema):
    name: str


# --- resources -------------------------------------------------------------------------------------
writers = Resource(
    Writer,
    read=WriterRead,
    path="/writers",
    lookup="username",
    sort=["username"],
    operations=["list", "get"],
    permissions=Permissions(read=public),
    actions=[Action("follow", link="followers")],
)
posts = Resource(
    Post,
    read=PostRead,
    create=PostCreate,
    update=PostUpdate,
    path="/posts",
    lookup="slug",
    filters={
        "labels.name": ["eq"],
        "author.username": ["eq"],
        "liked_by.username": ["eq"],
        "likes_count": ["gte"],
    },
    sort=["created_at", "likes_count", "title"],
    aliases={
        "offset": "skip",
        "label": "labels.name",
        "author": "author.username",
        "liked": "liked_by.username",
    },
    default_sort="-created_at",
    unknown_params="ignore",
    envelope=Envelope(item="post", items="posts", total="postsCount", skip=None, limit=None),
    permissions=Permissions.author_writes("author"),
    created_by="author_id",
    update_methods=["PUT"],
    views=[View("feed", where=CallerIn("author.followers"), permission=authenticated)],
    actions=[Action("like", link="liked_by")],
)
remarks = Resource(
    Remark,
    read=RemarkRead,
    create=RemarkCreate,
    path="/remarks",
    parent=posts,
    sort=["id"],
    operations=["list", "create", "get", "delete"],
    envelope=Envelope(item="remark", items="remarks", total=None, skip=None, limit=None),
    permissions=Permissions(read=public, create=authenticated, delete=caller_is("author")),
    created_by="author_id",
)
labels = Resource(
    Label,
    read=LabelRead,
    path="/labels",
    sort=["name"],
    default_sort="name",
    operations=["list"],
    envelope=Envelope(items="labels", total=None, skip=None, limit=None, each="name"),
)
RESOURCES = (writers, posts, remarks, labels)


async def create_tables(conn: asyncpg.Connection) -> None:
    """Create the domain's tables in a schema of their own, inside the caller's transaction."""
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    await conn.execute(f"CREATE SCHEMA {SCHEMA}")
    await conn.execute(f"SET LOCAL search_path TO {SCHEMA}, public")
    for table in Base.metadata.sorted_tables:
        await conn.execute(str(CreateTable(table).compile(dialect=dialect)))
        for index in table.indexes:
            await conn.execute(str(CreateIndex(index).compile(dialect=dialect)))
    # the app's tables first (users and sessions, which access tokens are checked against), then these
    await conn.execute(f"SET LOCAL search_path TO public, {SCHEMA}")
