"""The example's generated REST resources: a few declared lines per model."""

from __future__ import annotations

from pydantic import BaseModel as Schema

from app.models import Category, Product, Profile, Tag, User
from app.schemas.category import CategoryCreate, CategoryRead, CategoryUpdate
from app.schemas.product import ProductCreate, ProductRead, ProductUpdate
from app.schemas.profile import ProfileCreate, ProfileRead, ProfileUpdate
from app.schemas.tag import TagCreate, TagRead, TagUpdate
from app.schemas.user import UserAdminUpdate, UserCreate, UserRead, UserSelfUpdate
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
    create=CategoryCreate,
    update=CategoryUpdate,
    read=CategoryRead,
    filters={"id": ["in"], "name": TEXT, "description": ["icontains", "isnull"]},
    sort=["id", "name", "created_at", "updated_at"],
    permissions=catalogue,
)

products = Resource(
    Product,
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
    create=TagCreate,
    update=TagUpdate,
    read=TagRead,
    filters={"id": ["in"], "name": TEXT},
    sort=["id", "name"],
    permissions=catalogue,
)


def _user_update_schema(principal: Principal | None) -> type[Schema]:
    # a user's own email changes through POST /auth/email, which asks for the current password
    return UserAdminUpdate if principal is not None and principal.role == "admin" else UserSelfUpdate


users = Resource(
    User,
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
    update_schema_for=_user_update_schema,
)

profiles = Resource(
    Profile,
    create=ProfileCreate,
    update=ProfileUpdate,
    read=ProfileRead,
    filters={"user_id": ["eq", "in"], "website": ["isnull"]},
    sort=["id", "user_id", "created_at"],
    permissions=own_rows,
    owner_field="user_id",
)

RESOURCES = (categories, products, tags, users, profiles)
