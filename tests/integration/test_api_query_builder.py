"""One query builder: the controllers' get_page and the fast path's statement agree on the same params."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm import Session

from app.controllers.product import product_controller
from app.models import Category, Product, Tag
from app.resources import products
from pgbe.query import parse_list_params
from pgbe.resources.read_sql import PageShape, select_page
from pgbe.resources.runtime import target_of
from pgbe.resources.statements import Access
from pgbe.testing.queries import count_queries, no_lazy_loads


@pytest.fixture
def catalogue(db: Session) -> None:
    books, tools = Category(name="Books"), Category(name="Tools")
    old, new = Tag(name="old"), Tag(name="new")
    db.add_all([books, tools, old, new])
    for i in range(30):
        category = None if i % 10 == 9 else books if i % 3 else tools  # some without a category
        product = Product(name=f"item {i % 7}", price=(i * 37) % 50, category=category)
        product.tags = [old] if i % 2 else [old, new]
        db.add(product)
    db.flush()


QUERIES = [
    "",
    "sort=-price,name&limit=10",
    "price__gte=10&price__lt=40&sort=price",
    "category.name=Books&sort=-id&skip=3&limit=5",
    "tags.name=new&name__icontains=ITEM 3",
    "price__in=0,11,22,33&include=category,tags",
    "name__startswith=item 1&sort=name,-price",
    "sort=category.name,-price&limit=12",
    "sort=-category.name,name&skip=4&limit=9&include=category",
]


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize(
    "count", ["exact", "estimated, threshold in the text", "estimated, threshold a parameter"]
)
def test_controller_get_page_and_fast_statement_return_same_ids(
    db: Session, catalogue: None, query: str, count: str
) -> None:
    items = [tuple(item.split("=", 1)) for item in query.split("&") if item]
    params = parse_list_params(products.spec, items, default_limit=50, max_limit=500)
    rows, total = product_controller.get_page(db, products.spec, params)
    values = params.bind_values()
    # an estimated total sorts a filtered page out of its bounded matches; with the threshold as a
    # parameter (a direct caller's default) the plain filters' bound is least(:count_threshold, 1000)
    shape = {
        "exact": PageShape(),
        "estimated, threshold in the text": PageShape(count="estimated", threshold=100),
        "estimated, threshold a parameter": PageShape(count="estimated"),
    }[count]
    values["count_threshold"] = 100
    page = db.execute(select_page(target_of(products), params, Access(), shape=shape), values).scalar_one()
    assert [p["id"] for p in page["items"]] == [row.id for row in rows]
    assert page["total"] == total  # 30 rows at most: below the threshold, counted exactly
    assert rows or not total


def test_controller_get_page_with_includes_runs_constant_statements(
    db: Session, engine: Engine, catalogue: None
) -> None:
    params = parse_list_params(products.spec, [("include", "category,tags")], default_limit=50, max_limit=500)
    with count_queries(engine) as queries:
        rows, _ = product_controller.get_page(db, products.spec, params)
        names = [(row.category.name if row.category else None, [t.name for t in row.tags]) for row in rows]
    assert len(names) == 30
    assert queries.count == 4  # count, page, categories, tags: whatever the page size


def test_controller_get_page_lazy_load_raises_under_no_lazy_loads(db: Session, catalogue: None) -> None:
    params = parse_list_params(products.spec, [("include", "tags")], default_limit=5, max_limit=500)
    db.expunge_all()  # forget the objects the fixture made, whose relationships are already set
    with no_lazy_loads(db):
        rows, _ = product_controller.get_page(db, products.spec, params)
        assert all(row.tags for row in rows)
        with pytest.raises(InvalidRequestError, match="lazy"):
            _ = rows[0].category
