"""Category controller."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.controllers.base_controller import BaseController
from app.models.category import Category
from app.schemas.category import CategoryCreate, CategoryUpdate


class CategoryController(BaseController[Category, CategoryCreate, CategoryUpdate]):
    """Controller for category operations."""

    def __init__(self) -> None:
        """Initialize with Category model."""
        super().__init__(Category)

    def get_by_name(self, db: Session, name: str) -> Category | None:
        """Return the category with this name, or None."""
        return db.scalar(select(Category).where(Category.name == name))


category_controller = CategoryController()
