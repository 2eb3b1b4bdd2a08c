"""The example's generated REST resources: a few declared lines per model."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from pydantic import BaseModel as Schema
from sqlalchemy import func

from app.controllers.category import category_controller
from app.controllers.product import product_controller
from app.controllers.profile import profile_controller
from app.controllers.tag import tag_controller
from app.controllers.user import user_controller
from app.models import Category, Product, Profile, Tag, User
from app.schemas.category import CategoryCreate, CategoryRead, CategoryUpdate
from app.schemas.product import ProductCreate, ProductRead, ProductUpdate
from app.schemas.profile import ProfileCreate, ProfileRead, ProfileUpdate
from app.schemas.tag import TagCreate, TagRead, TagUpdate
from app.schemas.user import UserAdminUpdate, UserCreate, UserRead, UserSelfUpdate
from pgbe.auth.passwords import hash_password
from pgbe.auth.permissions import authenticated, has_role, public
from pgbe.auth.principal import Principal
from pgbe.resources import Permissions, Resource

TEXT = ["eq", "icontains", "startswith", "contains"]
NUMBER = ["eq", "ne", "gt", "gte", "lt", "lte", "in"]
catalogue = Permissions(
    read=public,
    create=has_role("staff", "admin"),
    update=has_role("staff", "admin"),
    delete=has_role("staff", "admin"),
)
own_rows = Permissions(read=authenticated, create=authenticated, update=authenticated, delete=authenticated)

categories = Resource(
    Category,
    controller=category_controller,
    create=CategoryCreate,
    update=CategoryUpdate,
    read=CategoryRead,
    filters={"id": ["in"], "name": TEXT, "description": ["icontains", "isnull"]},
    sort=["id", "name", "created_at", "updated_at"],
    permissions=catalogue,
)

products = Resource(
    Product,
    controller=product_controller,
    create=ProductCreate,
    update=ProductUpdate,
    read=ProductRead,
    filters={
        "id": ["in"],
        "name": TEXT,
        "price": NUMBER,
        "sku": ["eq", "isnull"],
        "category_id": ["eq", "in", "isnull"],
        "category.name": ["eq", "icontains"],
        "tags.name": ["eq", "in"],
        "created_at": ["gte", "lt"],
    },
    sort=["id", "name", "price", "created_at", "updated_at", "category.name"],
    includes=["category", "tags"],
    permissions=catalogue,
)

tags = Resource(
    Tag,
    controller=tag_controller,
    create=TagCreate,
    update=TagUpdate,
    read=TagRead,
    filters={"id": ["in"], "name": TEXT},
    sort=["id", "name"],
    permissions=catalogue,
)


async def _new_user(data: dict[str, Any], principal: Principal | None) -> dict[str, Any]:
    del principal
    data["hashed_password"] = await to_thread.run_sync(hash_password, data.pop("password"))
    data["full_name"] = f"{data['first_name']} {data['last_name']}"
    return data


def _changed_user(data: dict[str, Any], principal: Principal | None) -> dict[str, Any]:
    del principal
    if "first_name" in data or "last_name" in data:
        table = User.__table__
        first = data.get("first_name", table.c.first_name)
        last = data.get("last_name", table.c.last_name)
        data["full_name"] = func.concat(first, " ", last)
    return data


def _user_update_schema(principal: Principal | None) -> type[Schema]:
    # a user's own email changes through POST /auth/email, which asks for the current password
    return UserAdminUpdate if principal is not None and principal.role == "admin" else UserSelfUpdate


users = Resource(
    User,
    controller=user_controller,
    create=UserCreate,
    update=UserAdminUpdate,
    read=UserRead,
    filters={"id": ["in"], "email": ["eq", "icontains"], "role": ["eq", "in"], "is_active": ["eq"]},
    sort=["id", "email", "last_name", "created_at"],
    permissions=Permissions(
        read=authenticated,
        list=has_role("admin"),
        create=has_role("admin"),
        update=authenticated,
        delete=authenticated,
    ),
    owner_field="id",
    before_create=_new_user,
    before_update=_changed_user,
    update_schema_for=_user_update_schema,
)

profiles = Resource(
    Profile,
    controller=profile_controller,
    create=ProfileCreate,
    update=ProfileUpdate,
    read=ProfileRead,
    filters={"user_id": ["eq", "in"], "website": ["isnull"]},
    sort=["id", "user_id", "created_at"],
    permissions=own_rows,
    owner_field="user_id",
)

RESOURCES = (categories, products, tags, users, profiles)
