"""The guide's first example: an endpoint that uses `get_db` and returns ORM objects.

Both lists here answer every row only in development, as the guide writes them. Anywhere else a
public list is bounded (`ListWindow`): at most `limit` rows (PAGE_DEFAULT_LIMIT unless asked, at most
PAGE_MAX_LIMIT) in id order, and a `Link: <...>; rel="next"` header while rows remain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy.orm import Query as OrmQuery
from sqlalchemy.orm import Session

from app.config.database import get_db
from app.config.settings import Settings, get_settings
from app.controllers.product import product_controller
from app.models import Product
from app.schemas.product import ProductRead
from pgbe.query.params import INT4_MAX

router = APIRouter(tags=["examples"])
PAGE_MAX = get_settings().page_max_limit


@dataclass(frozen=True)
class ListWindow:
    """The rows a hand-written list answers: `limit` rows from `skip`, or every row (`limit` None)."""

    skip: int
    limit: int | None

    def page(self, rows: Sequence[Any], request: Request, response: Response) -> Sequence[Any]:
        """Cut `rows` (fetched with `self.fetch`) to the window; say in `Link` where the next page is."""
        if self.limit is None or len(rows) <= self.limit:
            return rows
        following = urlencode({"skip": self.skip + self.limit, "limit": self.limit})
        response.headers["Link"] = f'<{request.url.path}?{following}>; rel="next"'  # no host: never reflected
        return rows[: self.limit]

    @property
    def fetch(self) -> int | None:
        """Rows to ask the database for: one more than the window, to know whether a next page exists."""
        return None if self.limit is None else self.limit + 1


def list_window(
    skip: Annotated[int, Query(ge=0, le=INT4_MAX, description="Rows to skip, in id order")] = 0,
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            le=PAGE_MAX,
            description="Rows to return (default PAGE_DEFAULT_LIMIT; every row in development)",
        ),
    ] = None,
    settings: Settings = Depends(get_settings),
) -> ListWindow:
    """The window of a public list: unbounded only in development when no `limit` is asked."""
    if limit is None and not settings.is_development:
        limit = settings.page_default_limit
    return ListWindow(skip=skip, limit=limit)


Window = Annotated[ListWindow, Depends(list_window)]


def _windowed(query: OrmQuery[Product], window: ListWindow) -> list[Product]:
    return query.order_by(Product.id).offset(window.skip).limit(window.fetch).all()


@router.get("/items/")
def read_items(request: Request, response: Response, window: Window, db: Session = Depends(get_db)):  # type: ignore[no-untyped-def]
    """Return the products, as the guide's `read_items` does (no response model; module docstring)."""
    if window.limit is None and not window.skip:
        return db.query(Product).all()  # the guide's example, as written
    return window.page(_windowed(db.query(Product), window), request, response)


@router.get("/categories/{category_id}/products/by-controller", response_model=list[ProductRead])
def products_by_category(
    category_id: Annotated[int, Path(ge=1, le=INT4_MAX)],
    request: Request,
    response: Response,
    window: Window,
    db: Session = Depends(get_db),
) -> Sequence[Product]:
    """Return the products of a category through `ProductController.get_by_category` (module docstring)."""
    if window.limit is None and not window.skip:
        return product_controller.get_by_category(db, category_id)  # as the guide calls it
    rows = product_controller.get_by_category(db, category_id, skip=window.skip, limit=window.fetch)
    return window.page(rows, request, response)
