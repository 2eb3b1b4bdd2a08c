"""Search texts: which ones a trigram index can look up, and the statement shapes they get (no database)."""

from __future__ import annotations

import pytest

from app.resources import products
from pgbe.query import parse_list_params
from pgbe.query.operators import has_trigram
from pgbe.resources.index_report import IndexPlan


@pytest.mark.parametrize(
    ("text", "expected"),
    [("duct 777", True), ("Dün", True), ("ab", False), ("%_%_", False), ("a_b_c", False)],
)
def test_has_trigram_needs_three_letters_or_digits_in_a_row(text: str, expected: bool) -> None:
    assert has_trigram(text) is expected


def test_search_texts_with_and_without_a_trigram_get_their_own_statement_shape() -> None:
    def shape(text: str) -> object:
        return parse_list_params(
            products.spec, [("name__icontains", text)], default_limit=20, max_limit=500
        ).shape

    assert shape("lamp") == shape("duct 777")
    assert shape("%_") == shape("ab")
    assert shape("lamp") != shape("ab")


def test_index_plan_renders_the_statement_and_the_model_line() -> None:
    descending = IndexPlan("products", (("price", True), ("id", False)))
    trigram = IndexPlan("products", (("name", False),), method="gin", opclass="gin_trgm_ops")

    assert (
        descending.sql == "CREATE INDEX CONCURRENTLY ix_products_price_desc_id ON products (price DESC, id);"
    )
    assert descending.model == 'Index("ix_products_price_desc_id", text("price DESC"), "id")'
    assert (
        trigram.sql
        == "CREATE INDEX CONCURRENTLY ix_products_name_trgm ON products USING gin (name gin_trgm_ops);"
    )
    assert trigram.model == 'trigram_index("products", "name")  # from pgbe.models'
    assert IndexPlan("products", (("price", False), ("id", False))).covers(
        IndexPlan("products", (("price", False),))
    )
    assert not trigram.covers(IndexPlan("products", (("name", False),)))
