"""Lists at scale over HTTP: count strategies, keyset cursors, max skip, ETags; one statement each."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from app.main import app
from app.resources import products, profiles
from pgbe.resources.registry import ResourceRegistry
from pgbe.testing.api import ApiClient

PRODUCTS = [
    # name, price, category, tags: prices tie, one product has no category
    ("Anvil", 10, "Tools", ["sale"]),
    ("Bolt", 10, "Tools", []),
    ("Chisel", 25, "Tools", ["sale"]),
    ("Drill", 10, None, ["new"]),
    ("Epic", 12, "Books", ["new", "sale"]),
    ("Fable", 25, "Books", []),
    ("Gears", 5, None, []),
]
ORDERS = [
    "price",
    "-price",
    "price,-name",
    "category.name",
    "-category.name,-price",
    "created_at",
    "-id",
    "name",
]


@pytest.fixture
def registry() -> ResourceRegistry:
    found: ResourceRegistry = app.state.resources
    return found


@pytest.fixture
async def seeded(api: ApiClient) -> dict[str, int]:
    """Two categories, two tags and seven products (created in one transaction: created_at ties)."""
    ids: dict[str, int] = {}
    for name in ("Tools", "Books"):
        ids[name] = await api.conn.fetchval("INSERT INTO categories (name) VALUES ($1) RETURNING id", name)
    for name in ("new", "sale"):
        ids[name] = await api.conn.fetchval("INSERT INTO tags (name) VALUES ($1) RETURNING id", name)
    for name, price, category, tags in PRODUCTS:
        ids[name] = await api.conn.fetchval(
            "INSERT INTO products (name, price, category_id) VALUES ($1, $2, $3) RETURNING id",
            name,
            price,
            ids.get(category or ""),
        )
        for tag in tags:
            await api.conn.execute("INSERT INTO product_tags VALUES ($1, $2)", ids[name], ids[tag])
    return ids


async def _get(api: ApiClient, url: str, status: int = 200, **kwargs: Any) -> Any:
    api.queries.reset()
    response = await api.get(url, **kwargs)
    assert response.status_code == status, response.text
    assert api.queries.count == (1 if status in (200, 304) else 0), api.queries.statements
    return response


def _names(body: dict[str, Any]) -> list[str]:
    return [p["name"] for p in body["items"]]


def _links(response: Any) -> dict[str, str]:
    header = response.headers.get("link", "")
    return {rel: url for url, rel in re.findall(r'<([^>]*)>; rel="(\w+)"', header)}


# --- counts ------------------------------------------------------------------------------------------


async def test_list_default_count_is_exact_on_a_small_table(api: ApiClient, seeded: dict[str, int]) -> None:
    body = (await _get(api, "/products?limit=2")).json()
    assert (body["total"], body["total_kind"], body["skip"], body["limit"]) == (7, "exact", 0, 2)


@pytest.mark.parametrize("how", ["query", "prefer"])
async def test_list_count_exact_counts_matching_rows(
    api: ApiClient, seeded: dict[str, int], how: str
) -> None:
    query, headers = ("&count=exact", {}) if how == "query" else ("", {"Prefer": "count=exact"})
    response = await _get(api, f"/products?price=10&limit=1{query}", headers=headers)
    assert (response.json()["total"], response.json()["total_kind"]) == (3, "exact")
    assert response.headers.get("preference-applied") == ("count=exact" if how == "prefer" else None)


async def test_list_count_none_returns_no_total(api: ApiClient, seeded: dict[str, int]) -> None:
    response = await _get(api, "/products?limit=2", headers={"Prefer": "return=minimal, count=none"})
    body = response.json()
    assert (body["total"], body["total_kind"], len(body["items"])) == (None, None, 2)
    assert response.headers["preference-applied"] == "count=none"
    sql = api.queries.statements[0]
    assert "matching" not in sql  # no count of the matching rows at all
    assert "bounded" not in sql


async def test_list_count_query_parameter_wins_over_prefer(api: ApiClient, seeded: dict[str, int]) -> None:
    response = await _get(api, "/products?count=none", headers={"Prefer": "count=exact"})
    assert response.json()["total"] is None
    assert "preference-applied" not in response.headers


async def test_list_count_unknown_strategy_returns_422(api: ApiClient, seeded: dict[str, int]) -> None:
    response = await _get(api, "/products?count=lots", status=422)
    assert "exact, planned, estimated, none" in response.json()["detail"]


async def _planner_rows(api: ApiClient, where: str) -> int:
    plan = await api.conn.fetchval(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM products WHERE {where}")
    return int(json.loads(plan)[0]["Plan"]["Plan Rows"])


async def test_list_count_planned_filtered_is_the_planners_estimate(
    api: ApiClient, seeded: dict[str, int]
) -> None:
    await api.conn.execute("ANALYZE products")
    # a first read prunes the rows earlier tests rolled back, which moves the planner's estimate
    await _get(api, "/products?price__gte=12&count=planned")
    expected = await _planner_rows(api, "price >= 12")
    body = (await _get(api, "/products?price__gte=12&count=planned")).json()
    assert (body["total"], body["total_kind"]) == (expected, "planned")
    assert len(body["items"]) == 3


async def test_list_count_planned_unfiltered_reads_reltuples(api: ApiClient, seeded: dict[str, int]) -> None:
    await api.conn.execute("ANALYZE products")
    reltuples = await api.conn.fetchval("SELECT reltuples FROM pg_class WHERE oid = 'products'::regclass")
    body = (await _get(api, "/products?count=planned&limit=1")).json()
    assert (body["total"], body["total_kind"]) == (round(reltuples), "planned")
    assert "EXPLAIN" not in api.queries.statements[0]


async def test_list_count_estimated_above_threshold_is_planned(
    api: ApiClient, seeded: dict[str, int], registry: ResourceRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry, "count_threshold", 2)
    await api.conn.execute("ANALYZE products")
    planner = await _planner_rows(api, "price <= 12")
    body = (await _get(api, "/products?price__lte=12&count=estimated")).json()
    # more than 2 rows match: the planner's estimate, never below the 3 rows seen while counting
    assert (body["total"], body["total_kind"]) == (max(planner, 3), "planned")
    below = (await _get(api, "/products?price=25&count=estimated")).json()
    assert (below["total"], below["total_kind"]) == (2, "exact")


@pytest.mark.parametrize("search", [True, False], ids=["search", "filter"])
@pytest.mark.parametrize("order", ORDERS)
async def test_filtered_pages_the_same_sorted_out_of_their_matches_or_read_in_order(
    api: ApiClient,
    seeded: dict[str, int],
    registry: ResourceRegistry,
    monkeypatch: pytest.MonkeyPatch,
    order: str,
    search: bool,
) -> None:
    # Chisel, Epic, Fable and Gears hold an "e"; six products cost 10 or more. An estimated total
    # counts the matches and the page is sorted out of them (up to the threshold for a search, up to
    # 1,000 for other filters; the filter runs once); above the threshold, or with an exact total,
    # the page is read in the sort's order
    if search:
        ids = ",".join(str(seeded[name]) for name in ("Chisel", "Epic", "Fable", "Gears"))
        filtered, same, matches, sorted_up_to = "name__icontains=E", f"id__in={ids}", 4, "<= 10000"
    else:
        filtered, same, matches, sorted_up_to = "price__gte=10", "price__gte=10", 6, "<= 1000"
    for skip in (0, 1, matches - 1):
        query = f"sort={order}&limit=2&skip={skip}"
        expected = _names((await _get(api, f"/products?{same}&{query}&count=exact")).json())
        assert "matched" not in api.queries.statements[-1]
        for threshold in (10_000, 2):
            monkeypatch.setattr(registry, "count_threshold", threshold)
            body = (await _get(api, f"/products?{filtered}&{query}&count=estimated")).json()
            assert _names(body) == expected, (order, skip, threshold)
            assert body["total_kind"] == ("exact" if threshold > matches else "planned")
            assert (body["next"] is not None) == (skip + 2 < matches)
            own_columns = not order.lstrip("-").startswith("category.")
            sorted_out = own_columns and threshold > matches
            assert bool(re.search(rf"{sorted_up_to}\b", api.queries.statements[-1])) == sorted_out


async def test_search_lists_are_planned_for_each_text(api: ApiClient, seeded: dict[str, int]) -> None:
    # a cached statement runs on a generic plan after five runs, made for no text at all
    for text in ("e", "e", "bolt", "e", "il", "e", "e"):
        await _get(api, f"/products?name__icontains={text}&count=estimated")
    runs = await api.conn.fetch(
        "SELECT generic_plans + custom_plans AS runs FROM pg_prepared_statements"
        " WHERE statement LIKE '%ILIKE%' AND statement NOT LIKE '%pg_prepared_statements%'"
    )
    assert [r["runs"] for r in runs if r["runs"] > 1] == []  # each ran once (and most are closed)


async def test_list_count_resource_default_applies(
    api: ApiClient, seeded: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(products, "count", "none")
    assert (await _get(api, "/products")).json()["total"] is None
    assert (await _get(api, "/products?count=exact")).json()["total"] == 7


# --- cursors -----------------------------------------------------------------------------------------


async def _walk(api: ApiClient, query: str, first: str) -> tuple[list[str], list[str]]:
    """Follow `next` from the first page to the last, then `prev` back; the names seen each way."""
    forward: list[str] = []
    body = (await _get(api, f"{first}?{query}")).json()
    pages = [body]
    while True:
        forward += _names(body)
        if body["next"] is None:
            break
        body = (await _get(api, f"{first}?{query}&cursor={body['next']}")).json()
        pages.append(body)
    backward: list[str] = _names(body)
    while body["prev"] is not None:
        body = (await _get(api, f"{first}?{query}&cursor={body['prev']}")).json()
        backward = _names(body) + backward
    return forward, backward


@pytest.mark.parametrize("sort", ORDERS)
async def test_list_cursor_walks_every_row_once_in_order_despite_ties(
    api: ApiClient, seeded: dict[str, int], sort: str
) -> None:
    everything = _names((await _get(api, f"/products?sort={sort}&limit=100")).json())
    forward, backward = await _walk(api, f"sort={sort}&limit=2", "/products")
    assert forward == everything
    assert backward == everything
    assert len(set(forward)) == len(PRODUCTS)


async def test_list_cursor_with_filters_and_includes(api: ApiClient, seeded: dict[str, int]) -> None:
    query = "tags.name=sale&price__gte=10&sort=-price&include=category,tags&limit=1"
    forward, backward = await _walk(api, query, "/products")
    assert forward == backward == ["Chisel", "Epic", "Anvil"]
    body = (await _get(api, f"/products?{query}")).json()
    assert body["items"][0]["category"]["name"] == "Tools"
    assert {t["name"] for t in body["items"][0]["tags"]} == {"sale"}
    assert body["total"] == 3


async def test_list_cursor_pages_after_offset_and_first_page_has_no_prev(
    api: ApiClient, seeded: dict[str, int]
) -> None:
    first = (await _get(api, "/products?sort=name&limit=3")).json()
    assert (_names(first), first["prev"]) == (["Anvil", "Bolt", "Chisel"], None)
    offset = (await _get(api, "/products?sort=name&limit=2&skip=3")).json()
    assert _names(offset) == ["Drill", "Epic"]
    before = (await _get(api, f"/products?sort=name&limit=2&cursor={offset['prev']}")).json()
    assert _names(before) == ["Bolt", "Chisel"]
    last = (await _get(api, f"/products?sort=name&limit=5&cursor={offset['next']}")).json()
    assert (_names(last), last["next"]) == (["Fable", "Gears"], None)


async def test_list_link_header_names_next_and_prev(api: ApiClient, seeded: dict[str, int]) -> None:
    response = await _get(api, "/products?sort=price&limit=2&skip=2")
    links = _links(response)
    body = response.json()
    assert set(links) == {"next", "prev"}
    assert links["next"].startswith("/products?")
    assert f"cursor={body['next']}" in links["next"]
    assert "skip=" not in links["next"]
    followed = await _get(api, links["next"])
    assert _names(followed.json()) == _names((await _get(api, "/products?sort=price&limit=2&skip=4")).json())
    last = await _get(api, "/products?sort=price&limit=10")
    assert "link" not in last.headers


def _tampered(cursor: str) -> str:
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    payload, mac = raw[:-16], raw[-16:]
    changed = payload.replace(b'"', b'"9', 1)
    return base64.urlsafe_b64encode(changed + mac).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("make", "other"),
    [
        (lambda c: _tampered(c), "/products?sort=price&limit=2"),
        (lambda c: c[:-2] + ("AA" if c[-2:] != "AA" else "BB"), "/products?sort=price&limit=2"),
        (lambda c: "not-a-cursor", "/products?sort=price&limit=2"),
        (lambda c: c, "/products?sort=name&limit=2"),  # another sort
        (lambda c: c, "/products?sort=price&price__gte=1&limit=2"),  # other filters
        (lambda c: c, "/categories?limit=2"),  # another resource
    ],
)
async def test_list_tampered_or_foreign_cursor_returns_422(
    api: ApiClient, seeded: dict[str, int], make: Callable[[str], str], other: str
) -> None:
    cursor = (await _get(api, "/products?sort=price&limit=2")).json()["next"]
    response = await _get(api, f"{other}&cursor={make(cursor)}", status=422)
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "not a cursor of this list" in problem["detail"]
    assert problem["errors"][0]["loc"] == ["query", "cursor"]


async def test_list_cursor_with_skip_returns_422(api: ApiClient, seeded: dict[str, int]) -> None:
    cursor = (await _get(api, "/products?limit=2")).json()["next"]
    response = await _get(api, f"/products?limit=2&skip=2&cursor={cursor}", status=422)
    assert "cursor" in response.json()["detail"]


async def test_list_skip_above_resource_maximum_returns_422_naming_the_cursor(
    api: ApiClient, seeded: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(products, "max_skip", 3)
    assert _names((await _get(api, "/products?sort=name&skip=3&limit=1")).json()) == ["Drill"]
    response = await _get(api, "/products?skip=4", status=422)
    detail = response.json()["detail"]
    assert "at most 3" in detail
    assert "cursor" in detail


async def test_list_cursor_respects_owner_scoping(
    api: ApiClient, bearer: Callable[[int, str], dict[str, str]]
) -> None:
    ids = []
    for name in ("alice", "bob", "carol"):
        user = await api.conn.fetchval(
            "INSERT INTO users (email, first_name, last_name, full_name, hashed_password, role)"
            " VALUES ($1, 'A', 'X', 'A X', 'not-a-hash', 'user') RETURNING id",
            f"{name}@example.com",
        )
        await api.conn.execute("INSERT INTO profiles (user_id, bio) VALUES ($1, $2)", user, name)
        ids.append(user)
    admin = bearer(ids[2] + 1000, "admin")
    seen, body = [], (await _get(api, "/profiles?limit=1", headers=admin)).json()
    while True:
        seen += [p["bio"] for p in body["items"]]
        if body["next"] is None:
            break
        body = (await _get(api, f"/profiles?limit=1&cursor={body['next']}", headers=admin)).json()
    assert seen == ["alice", "bob", "carol"]
    bob = bearer(ids[1], "user")
    own = (await _get(api, "/profiles?limit=1", headers=bob)).json()
    assert ([p["bio"] for p in own["items"]], own["total"], own["next"]) == (["bob"], 1, None)
    assert profiles.owner_field == "user_id"


# --- conditional GETs -------------------------------------------------------------------------------


async def test_list_if_none_match_returns_304_until_the_page_changes(
    api: ApiClient, seeded: dict[str, int]
) -> None:
    first = await _get(api, "/products?sort=name&limit=3")
    etag = first.headers["etag"]
    again = await _get(api, "/products?sort=name&limit=3", status=304, headers={"If-None-Match": etag})
    assert (again.content, again.headers["etag"]) == (b"", etag)
    weak = await _get(api, "/products?sort=name&limit=3", status=304, headers={"If-None-Match": f"W/{etag}"})
    assert weak.content == b""
    await api.conn.execute("UPDATE products SET price = 11 WHERE name = 'Anvil'")
    changed = await _get(api, "/products?sort=name&limit=3", headers={"If-None-Match": etag})
    assert changed.headers["etag"] != etag
    assert changed.json()["items"][0]["price"] == 11


async def test_get_one_if_none_match_returns_304_with_the_version_etag(
    api: ApiClient, seeded: dict[str, int]
) -> None:
    path = f"/products/{seeded['Anvil']}"
    etag = (await _get(api, path)).headers["etag"]
    assert etag == '"1"'
    cached = await _get(api, path, status=304, headers={"If-None-Match": etag})
    assert cached.content == b""
    head = await api.head(path, headers={"If-None-Match": etag})
    assert (head.status_code, head.headers["etag"]) == (304, etag)
    await api.conn.execute("UPDATE products SET price = 11, version = version + 1 WHERE name = 'Anvil'")
    fresh = await _get(api, path, headers={"If-None-Match": etag})
    assert (fresh.headers["etag"], fresh.json()["price"]) == ('"2"', 11)


async def test_get_one_with_include_etag_changes_with_related_rows(
    api: ApiClient, seeded: dict[str, int], bearer: Callable[[int, str], dict[str, str]]
) -> None:
    path = f"/products/{seeded['Anvil']}?include=tags"
    etag = (await _get(api, path)).headers["etag"]
    assert etag.startswith('"1.')
    await _get(api, path, status=304, headers={"If-None-Match": etag})
    await api.conn.execute("INSERT INTO product_tags VALUES ($1, $2)", seeded["Anvil"], seeded["new"])
    changed = await _get(api, path, headers={"If-None-Match": etag})
    assert changed.headers["etag"] != etag
    assert changed.headers["etag"].startswith('"1.')
    # its version part is what If-Match checks
    staff = bearer(999_001, "staff")
    patched = await api.patch(
        f"/products/{seeded['Anvil']}",
        json={"price": 13},
        headers={"If-Match": changed.headers["etag"], **staff},
    )
    assert (patched.status_code, patched.headers["etag"]) == (200, '"2"')
    stale = await api.patch(
        f"/products/{seeded['Anvil']}",
        json={"price": 14},
        headers={"If-Match": changed.headers["etag"], **staff},
    )
    assert stale.status_code == 412


async def test_list_planned_count_without_the_estimate_function_falls_back_to_exact(
    api: ApiClient, seeded: dict[str, int], registry: ResourceRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry, "estimator", True)
    await api.conn.execute("DROP FUNCTION pgbe_count_estimate(text)")  # rolled back with the test
    api.queries.reset()
    response = await api.get("/products?price=10&count=planned")
    assert response.status_code == 200, response.text
    assert (response.json()["total"], response.json()["total_kind"]) == (3, "exact")
    assert registry.estimator is False  # learned once: the next requests are one statement again
    body = (await _get(api, "/products?price=25&count=planned")).json()
    assert (body["total"], body["total_kind"]) == (2, "exact")


async def test_cursor_after_starts_a_walk_at_a_given_row(api: ApiClient, seeded: dict[str, int]) -> None:
    from pgbe.resources.endpoints import cursor_after

    rt = next(rt for rt in app.state.resources.runtimes if rt.resource is products)
    cursor = cursor_after(rt, "sort=-price", [25, seeded["Fable"]])
    body = (await _get(api, f"/products?sort=-price&limit=2&cursor={cursor}")).json()
    assert _names(body) == ["Epic", "Anvil"]
    await _get(api, f"/products?sort=price&cursor={cursor}", status=422)


async def test_routed_path_with_dependencies_pages_counts_and_caches_alike() -> None:
    """A generated list behind an app dependency is served by the router, not the fast lane."""
    from fastapi import Depends, FastAPI

    from app.config.database import database
    from app.config.settings import get_settings
    from app.models import Category
    from app.schemas.category import CategoryRead
    from pgbe.http.problems import install_problem_handlers
    from pgbe.resources import Resource, register
    from pgbe.testing.api import rolled_back_client

    seen: list[str] = []
    routed = FastAPI(dependencies=[Depends(lambda: seen.append("dependency"))])
    install_problem_handlers(routed)
    shelves = Resource(
        Category, read=CategoryRead, path="/shelves", sort=["id", "name"], count="none", max_skip=2
    )
    register(routed, shelves, registry=ResourceRegistry(database, get_settings()))
    async with rolled_back_client(routed, database) as client:
        for name in ("c", "a", "b", "d"):
            await client.conn.execute("INSERT INTO categories (name) VALUES ($1)", name)
        first = await client.get("/shelves?sort=name&limit=3")
        assert (first.json()["total"], [c["name"] for c in first.json()["items"]]) == (None, ["a", "b", "c"])
        second = await client.get(_links(first)["next"])
        assert [c["name"] for c in second.json()["items"]] == ["d"]
        cached = await client.get(
            "/shelves?sort=name&limit=3", headers={"If-None-Match": first.headers["etag"]}
        )
        assert cached.status_code == 304
        assert (await client.get("/shelves?skip=3")).status_code == 422
        assert seen == ["dependency"] * 4


async def test_list_statements_carry_their_page_size_so_one_plan_serves_every_run(
    api: ApiClient, seeded: dict[str, int], registry: ResourceRegistry
) -> None:
    # PostgreSQL prices a generic plan with `LIMIT $1` or `OFFSET $2` for a tenth of the table and
    # plans every run again; with the page size in the text it keeps one plan per page size
    body = (await _get(api, "/products?limit=2&count=estimated")).json()
    first = api.queries.statements[-1]
    assert _names(body) == ["Anvil", "Bolt"]
    assert body["limit"] == 2
    assert "LIMIT 3" in first
    assert "LIMIT 2" in first
    assert "OFFSET" not in first
    assert f"LIMIT {registry.count_threshold + 1}" in first
    body = (await _get(api, "/products?limit=3&skip=2")).json()
    skipped = api.queries.statements[-1]
    assert _names(body) == ["Chisel", "Drill", "Epic"]
    assert (body["skip"], body["limit"]) == (2, 3)
    assert "LIMIT 4" in skipped
    assert re.search(r"OFFSET \$\d+", skipped)
    for _ in range(6):
        assert _names((await _get(api, "/products?limit=2&count=estimated")).json()) == ["Anvil", "Bolt"]
    runs = await api.conn.fetch(
        "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1", first
    )
    assert [r["generic_plans"] + r["custom_plans"] for r in runs] == [7]  # one statement, prepared once
