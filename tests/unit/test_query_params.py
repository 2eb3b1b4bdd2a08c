"""Parsing list query parameters against a resource's allow-lists (no database)."""

from __future__ import annotations

import pytest

from app.resources import products, tags
from pgbe.errors import ValidationError
from pgbe.query import parse_list_params
from pgbe.query.values import escape_like


def _parse(query: list[tuple[str, str]]):  # type: ignore[no-untyped-def]
    return parse_list_params(products.spec, query, default_limit=50, max_limit=500)


def test_parse_filter_order_does_not_change_shape() -> None:
    first = _parse([("price__gte", "1"), ("name", "a")])
    second = _parse([("name", "b"), ("price__gte", "2")])
    assert first.shape == second.shape
    assert first.bind_values() != second.bind_values()


def test_parse_in_values_of_any_count_share_one_shape() -> None:
    assert _parse([("id__in", "1")]).shape == _parse([("id__in", "1,2,3")]).shape


def test_parse_isnull_value_is_part_of_shape() -> None:
    assert _parse([("sku__isnull", "true")]).shape != _parse([("sku__isnull", "false")]).shape


def test_parse_text_operators_escape_like_wildcards() -> None:
    params = _parse([("name__contains", "50%_\\")])
    assert params.filters[0].value == "%50\\%\\_\\\\%"


def test_parse_sort_keeps_direction_and_order() -> None:
    assert _parse([("sort", "-price,name")]).sort == (("price", True), ("name", False))


def test_parse_defaults_to_settings_limit() -> None:
    params = _parse([])
    assert (params.skip, params.limit) == (0, 50)


@pytest.mark.parametrize(
    ("key", "value"),
    [("limit", "501"), ("sort", "secret"), ("include", "owner"), ("price", "1" * 30), ("name__gt", "a")],
)
def test_parse_refused_parameter_raises_422_naming_it(key: str, value: str) -> None:
    with pytest.raises(ValidationError) as info:
        _parse([(key, value)])
    assert info.value.status_code == 422
    assert info.value.field == key


def test_parse_more_than_twenty_filters_raises() -> None:
    with pytest.raises(ValidationError, match="at most 20"):
        parse_list_params(tags.spec, [("name", str(i)) for i in range(21)], default_limit=5, max_limit=5)


def test_escape_like_leaves_plain_text() -> None:
    assert escape_like("plain text") == "plain text"


def test_list_sort_on_related_field_is_parsed() -> None:
    params = parse_list_params(
        products.spec, [("sort", "-category.name,id")], default_limit=50, max_limit=500
    )
    assert params.sort == (("category.name", True), ("id", False))


@pytest.mark.parametrize(
    ("sort", "message"),
    [
        ("tags.name", "to-one"),  # a collection has no single value to sort by
        ("category.description.x", "to-one"),
        ("owner.name", "not a relationship"),
    ],
)
def test_query_spec_refuses_unsortable_related_field(sort: str, message: str) -> None:
    from app.models import Product
    from app.schemas.product import ProductRead
    from pgbe.query.spec import QuerySpec

    with pytest.raises(ValueError, match=message):
        QuerySpec(Product, ProductRead, sort=[sort], includes=["category", "tags"])


@pytest.mark.parametrize(
    "raw",
    [
        "0",
        "7",
        "-1",
        "2147483647",
        "-2147483648",
        "2147483648",
        "-2147483649",
        "9999999999",
        "007",
        "+5",
        "1.0",
    ],
)
def test_in_pattern_documented_accepts_exactly_what_the_parser_accepts(raw: str) -> None:
    import re

    parameter = products.spec.parameters["price__in"]
    doc = parameter.operator.document("price", parameter.field.value_type)
    documented = re.fullmatch(doc.pattern or "", f"{raw},1") is not None
    try:
        _parse([("price__in", f"{raw},1")])
        parsed = True
    except ValidationError:
        parsed = False
    assert documented == parsed


def test_every_declared_operator_is_a_parameter_with_a_row() -> None:
    from pgbe.query import OPERATORS

    for name, field in products.spec.filters.items():
        for op in field.operators:
            assert products.spec.parameters[OPERATORS[op].key(name)].operator is OPERATORS[op]
