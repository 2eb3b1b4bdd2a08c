"""Every model of the application, imported so the metadata knows them all."""

from app.models.base import BaseModel
from app.models.category import Category
from app.models.login_throttle import LoginThrottle
from app.models.product import Product
from app.models.profile import Profile
from app.models.refresh_token import RefreshToken
from app.models.tag import Tag, product_tag
from app.models.user import User

__all__ = [
    "BaseModel",
    "Category",
    "LoginThrottle",
    "Product",
    "Profile",
    "RefreshToken",
    "Tag",
    "User",
    "product_tag",
]
