"""Conduit's endpoints: every one of them declared here, none hand-written."""

from __future__ import annotations

from conduit.models import Article, Comment, Tag, User
from conduit.schemas import (
    ArticleCreate,
    ArticleRead,
    ArticleUpdate,
    CommentCreate,
    CommentRead,
    ProfileRead,
    TagRead,
    UserCreate,
    UserRead,
    UserUpdate,
)
from pgbe.auth.permissions import authenticated, public
from pgbe.query.computed import CallerIn
from pgbe.resources import AccessToken, Caller, Permissions, Resource, SignIn
from pgbe.resources.declarations import Action, Envelope, View
from pgbe.resources.permissions import caller_is

# POST /api/users: sign up; POST /api/users/login: sign in (both answer the account with a token)
users = Resource(
    User,
    read=UserRead,
    create=UserCreate,
    path="/api/users",
    lookup="username",
    operations=["create"],
    envelope=Envelope(item="user"),
    permissions=Permissions(create=public),
    token=AccessToken(),
    sign_in=SignIn("/login"),
)

# GET and PUT /api/user: the caller's own account, with a fresh token
user = Resource(
    User,
    read=UserRead,
    update=UserUpdate,
    path="/api/user",
    lookup=Caller(),
    update_methods=["PUT"],
    envelope=Envelope(item="user"),
    permissions=Permissions(read=authenticated, update=authenticated),
    name="user",  # operation ids user.get, user.update (profiles has users.get)
    tags=["user"],
    token=AccessToken(),
)

# GET /api/profiles/{username}, POST and DELETE /api/profiles/{username}/follow
profiles = Resource(
    User,
    read=ProfileRead,
    path="/api/profiles",
    lookup="username",
    operations=["get"],
    envelope=Envelope(item="profile"),
    permissions=Permissions(read=public),
    actions=[Action("follow", link="followers")],
    tags=["profiles"],
)

# GET and POST /api/articles, GET /api/articles/feed, GET, PUT and DELETE /api/articles/{slug},
# POST and DELETE /api/articles/{slug}/favorite
articles = Resource(
    Article,
    read=ArticleRead,
    create=ArticleCreate,
    update=ArticleUpdate,
    path="/api/articles",
    lookup="slug",
    filters={"tags.name": ["eq"], "author.username": ["eq"], "favorited_by.username": ["eq"]},
    sort=["created_at"],
    aliases={
        "offset": "skip",
        "tag": "tags.name",
        "author": "author.username",
        "favorited": "favorited_by.username",
    },
    default_sort="-created_at",
    unknown_params="ignore",
    envelope=Envelope(item="article", items="articles", total="articlesCount", skip=None, limit=None),
    permissions=Permissions.author_writes("author"),
    created_by="author_id",
    update_methods=["PUT"],
    views=[View("feed", where=CallerIn("author.followers"), permission=authenticated)],
    actions=[Action("favorite", link="favorited_by")],
)

# GET and POST /api/articles/{slug}/comments, DELETE /api/articles/{slug}/comments/{id}
comments = Resource(
    Comment,
    read=CommentRead,
    create=CommentCreate,
    path="/comments",
    parent=articles,
    sort=["id"],
    default_sort="id",
    operations=["list", "create", "delete"],
    default_limit=500,  # RealWorld lists every comment of an article
    envelope=Envelope(item="comment", items="comments", total=None, skip=None, limit=None),
    permissions=Permissions(read=public, create=authenticated, delete=caller_is("author")),
    created_by="author_id",
)

# GET /api/tags
tags = Resource(
    Tag,
    read=TagRead,
    path="/api/tags",
    sort=["name"],
    default_sort="name",
    operations=["list"],
    default_limit=1000,  # RealWorld lists every tag
    envelope=Envelope(items="tags", total=None, skip=None, limit=None, each="name"),
)

RESOURCES = (users, user, profiles, articles, comments, tags)
