"""Product controller, with the guide's `get_by_category`."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.controllers.base_controller import BaseController
from app.models.product import Product
from app.schemas.product import ProductCreate, ProductUpdate


class ProductController(BaseController[Product, ProductCreate, ProductUpdate]):
    """Controller for product operations."""

    def __init__(self) -> None:
        """Initialize with Product model."""
        super().__init__(Product)

    def get_by_category(self, db: Session, category_id: int) -> list[Product]:
        """Get products by category."""
        return db.query(self.model).filter(self.model.category_id == category_id).all()


product_controller = ProductController()
