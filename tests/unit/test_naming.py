"""Table names and labels derived from class names by a real inflector."""

from __future__ import annotations

import pytest

from pgbe.naming import label, pluralize, singularize, snake_case, table_name


@pytest.mark.parametrize(
    ("class_name", "expected"),
    [
        ("Product", "products"),
        ("Category", "categories"),
        ("Person", "people"),
        ("ProductTag", "product_tags"),
        ("Tag", "tags"),
        ("User", "users"),
        ("Profile", "profiles"),
        ("Address", "addresses"),
        ("OrderItem", "order_items"),
        ("HTTPLog", "http_logs"),
    ],
)
def test_table_name_class_name_returns_plural_snake_case(class_name: str, expected: str) -> None:
    assert table_name(class_name) == expected


def test_snake_case_acronym_then_word_splits_between_them() -> None:
    assert snake_case("APIKey") == "api_key"


def test_pluralize_then_singularize_round_trips_irregular_nouns() -> None:
    assert pluralize("person") == "people"
    assert singularize("people") == "person"
    assert singularize("categories") == "category"


def test_singularize_singular_word_returns_it_unchanged() -> None:
    assert singularize("category") == "category"


def test_label_plural_pluralizes_the_last_word_only() -> None:
    assert label("ProductTag") == "Product tag"
    assert label("ProductTag", plural=True) == "Product tags"
