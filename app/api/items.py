"""The guide's first example: an endpoint that uses `get_db` and returns ORM objects."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from sqlalchemy.orm import Session

from app.config.database import get_db
from app.controllers.product import product_controller
from app.models import Product
from app.schemas.product import ProductRead
from pgbe.query.params import INT4_MAX

router = APIRouter(tags=["examples"])


@router.get("/items/")
def read_items(db: Session = Depends(get_db)):  # type: ignore[no-untyped-def]
    """Return every product, as the guide's `read_items` does (no response model)."""
    return db.query(Product).all()


@router.get("/categories/{category_id}/products/by-controller", response_model=list[ProductRead])
def products_by_category(
    category_id: Annotated[int, Path(ge=1, le=INT4_MAX)], db: Session = Depends(get_db)
) -> Sequence[Product]:
    """Return the products of a category through `ProductController.get_by_category`."""
    return product_controller.get_by_category(db, category_id)
