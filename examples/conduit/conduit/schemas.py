"""Conduit's JSON: what each resource answers and accepts, camelCase as RealWorld spells it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import ConfigDict, EmailStr, Field, model_validator
from pydantic.alias_generators import to_camel

from pgbe.auth.passwords import password_problems
from pgbe.query.computed import CallerIn, Count, Pluck
from pgbe.schemas import Chars, CreateSchema, ReadSchema, UpdateSchema

CAMEL = ConfigDict(alias_generator=to_camel, populate_by_name=True)
Username = Annotated[str, Chars(50, min=1), Field(pattern=r"^[A-Za-z0-9_.-]+$")]
TagName = Annotated[str, Chars(40, min=1)]
TagList = Annotated[list[TagName], Field(max_length=20)]


class UserRead(ReadSchema):
    """The account, as registration answers it."""

    email: str
    username: str
    bio: str | None
    image: str | None


class UserCreate(CreateSchema):
    """Fields to register: a username, an email and a password that passes the policy."""

    username: Username
    email: Annotated[EmailStr, Chars(320)]
    password: Annotated[str, Chars(128, min=1)]

    @model_validator(mode="after")
    def _password_policy(self) -> UserCreate:
        problems = password_problems(self.password, email=self.email)
        if problems:
            raise ValueError(f"password {problems[0]}")
        return self


class UserUpdate(UpdateSchema):
    """Fields the caller may change on their own account (a new password ends every sign-in of it)."""

    email: Annotated[EmailStr, Chars(320)] | None = None
    username: Username | None = None
    password: Annotated[str, Chars(128, min=1)] | None = None
    bio: Annotated[str, Chars(10_000)] | None = None
    image: Annotated[str, Chars(500)] | None = None

    @model_validator(mode="after")
    def _password_policy(self) -> UserUpdate:
        problems = password_problems(self.password, email=self.email) if self.password else []
        if problems:
            raise ValueError(f"password {problems[0]}")
        return self


class ProfileRead(ReadSchema):
    """A user as others see them, with whether the caller follows them."""

    username: str
    bio: str | None
    image: str | None
    following: Annotated[bool, CallerIn("followers")]


class ArticleRead(ReadSchema):
    """An article with its tags, its author and its favorites (a count and the caller's flag)."""

    model_config = ReadSchema.model_config | CAMEL

    slug: str
    title: str
    description: str
    body: str
    tag_list: Annotated[list[str], Pluck("tags", "name", create_missing=True)]
    created_at: datetime
    updated_at: datetime
    favorited: Annotated[bool, CallerIn("favorited_by")]
    favorites_count: Annotated[int, Count("favorited_by")]
    author: ProfileRead


class ArticleCreate(CreateSchema):
    """A new article; its slug comes from the title, its author is the caller."""

    model_config = CreateSchema.model_config | CAMEL

    title: Annotated[str, Chars(200, min=1)]
    description: Annotated[str, Chars(500, min=1)]
    body: Annotated[str, Chars(100_000, min=1)]
    tag_list: TagList = Field(default_factory=list)


class ArticleUpdate(UpdateSchema):
    """Fields of an article its author may change (a new title is a new slug)."""

    model_config = UpdateSchema.model_config | CAMEL

    title: Annotated[str, Chars(200, min=1)] | None = None
    description: Annotated[str, Chars(500, min=1)] | None = None
    body: Annotated[str, Chars(100_000, min=1)] | None = None
    tag_list: TagList | None = None


class CommentRead(ReadSchema):
    """A comment with its author."""

    model_config = ReadSchema.model_config | CAMEL

    id: int
    created_at: datetime
    updated_at: datetime
    body: str
    author: ProfileRead


class CommentCreate(CreateSchema):
    """A new comment; its article comes from the path, its author is the caller."""

    body: Annotated[str, Chars(10_000, min=1)]


class TagRead(ReadSchema):
    """A tag's name."""

    name: str
