"""The guide's first example: an endpoint that uses `get_db` and returns ORM objects."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy.orm import Session

from app.config.database import get_db
from app.config.settings import Settings, get_settings
from app.controllers.product import product_controller
from app.models import Product
from app.schemas.product import ProductRead
from pgbe.query.params import INT4_MAX

router = APIRouter(tags=["examples"])
PAGE_MAX = get_settings().page_max_limit


@router.get("/items/")
def read_items(  # type: ignore[no-untyped-def]
    request: Request,
    response: Response,
    skip: Annotated[int, Query(ge=0, le=INT4_MAX, description="Rows to skip, in id order")] = 0,
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            le=PAGE_MAX,
            description="Rows to return (default PAGE_DEFAULT_LIMIT; unbounded in development)",
        ),
    ] = None,
    db: Session = Depends(get_db),
    settings: Settings = Depends(get_settings),
):
    """Return the products, as the guide's `read_items` does (no response model).

    In development, without `limit`, every row, exactly as the guide writes it. Anywhere else a public
    list is bounded: at most `limit` rows (PAGE_DEFAULT_LIMIT, at most PAGE_MAX_LIMIT) in id order, and
    a `Link: <...>; rel="next"` header while rows remain.
    """
    if settings.is_development and limit is None:
        if not skip:
            return db.query(Product).all()  # the guide's example, as written
        return db.query(Product).order_by(Product.id).offset(skip).all()
    size = limit or settings.page_default_limit
    rows = db.query(Product).order_by(Product.id).offset(skip).limit(size + 1).all()
    if len(rows) > size:  # one row more than asked for: there is a next page (no count needed)
        following = urlencode({"skip": skip + size, "limit": size})
        response.headers["Link"] = f'<{request.url.path}?{following}>; rel="next"'
    return rows[:size]


@router.get("/categories/{category_id}/products/by-controller", response_model=list[ProductRead])
def products_by_category(
    category_id: Annotated[int, Path(ge=1, le=INT4_MAX)], db: Session = Depends(get_db)
) -> Sequence[Product]:
    """Return the products of a category through `ProductController.get_by_category`."""
    return product_controller.get_by_category(db, category_id)
