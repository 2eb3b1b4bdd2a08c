"""The Link header of a list's neighbouring pages, built from the request's raw query string."""

from __future__ import annotations

from typing import Any

from pgbe.resources.links import page_links


def _scope(path: str, query: bytes) -> dict[str, Any]:
    return {"type": "http", "path": path, "query_string": query}


def test_links_keep_the_query_as_sent_without_the_offset_and_the_old_cursor() -> None:
    scope = _scope("/products", b"category.name=Category%207&skip=40&limit=20&cursor=old&sort=-price")

    header = page_links(scope, {"next": "abc-_1", "prev": None}, cursor="cursor", drop=("skip", "cursor"))

    assert header == '</products?category.name=Category%207&limit=20&sort=-price&cursor=abc-_1>; rel="next"'


def test_links_name_each_neighbour_and_respect_aliases_and_encoded_keys() -> None:
    scope = _scope("/api/articles", b"offset=20&ta%67=dragons&limit=5")

    header = page_links(scope, {"next": "n", "prev": "p"}, cursor="after", drop=("offset", "after"))

    assert header == (
        '</api/articles?ta%67=dragons&limit=5&after=n>; rel="next", '
        '</api/articles?ta%67=dragons&limit=5&after=p>; rel="prev"'
    )


def test_no_neighbour_no_header_and_a_bare_query() -> None:
    assert page_links(_scope("/t", b""), {"next": None}, cursor="cursor", drop=("skip",)) is None
    assert (
        page_links(_scope("/t", b"skip=5"), {"next": "x"}, cursor="cursor", drop=("skip",))
        == '</t?cursor=x>; rel="next"'
    )


def test_a_path_cannot_smuggle_a_query_into_the_link() -> None:
    header = page_links(_scope("/t?x=1", b""), {"next": "x"}, cursor="cursor", drop=())

    assert header == '</t%3Fx=1?cursor=x>; rel="next"'
