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

    def get_by_category(
        self, db: Session, category_id: int, *, skip: int = 0, limit: int | None = None
    ) -> list[Product]:
        """Get products by category: every one, as the guide writes it, or `limit` from `skip` by id."""
        query = db.query(self.model).filter(self.model.category_id == category_id)
        if limit is None and not skip:
            return query.all()
        return query.order_by(self.model.id).offset(skip).limit(limit).all()


product_controller = ProductController()
