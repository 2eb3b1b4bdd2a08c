"""Costly lists (contains / icontains, unindexed filters) are bounded: a budget, pattern bounds, slots.

A statement is made slow deterministically: another connection holds an ACCESS EXCLUSIVE lock on
`products`, so the list's statement waits on it until the budget cancels it on the server.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest
from prometheus_client import REGISTRY

from app.resources import RESOURCES
from pgbe.db.urls import libpq_dsn
from pgbe.project import Project
from pgbe.query.operators import MAX_PATTERN_CHARS, MAX_PATTERN_WILDCARDS, SEARCH_TEXT
from pgbe.resources.costly import BUDGET_REASON, SHED_REASON, CostlyLists
from pgbe.resources.indexes import check_resources
from pgbe.testing.api import ApiClient

SEARCH = "/products?name__icontains=cable"


def _shed(reason: str) -> float:
    return REGISTRY.get_sample_value("pgbe_load_shed_total", {"reason": reason}) or 0.0


@pytest.fixture
def costly(api: ApiClient, monkeypatch: pytest.MonkeyPatch) -> Callable[..., CostlyLists]:
    """Set the application's budget (ms) and slots for this test: `costly(budget_ms=200, size=1)`."""
    from app.main import app

    lists: CostlyLists = app.state.resources.costly

    def configure(*, budget_ms: int, size: int = 4) -> CostlyLists:
        monkeypatch.setattr(lists, "budget_ms", budget_ms)
        monkeypatch.setattr(lists, "size", size)
        monkeypatch.setattr(lists, "unindexed", {})
        return lists

    return configure


class ProductsLock:
    """An ACCESS EXCLUSIVE lock on `products`, held by a connection of its own until released."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.held = False

    async def take(self) -> None:
        """Lock the table: every statement reading it waits from now on."""
        await self.conn.execute("BEGIN; LOCK TABLE products IN ACCESS EXCLUSIVE MODE")
        self.held = True

    async def release(self) -> None:
        """End the lock's transaction."""
        if self.held:
            await self.conn.execute("ROLLBACK")
            self.held = False

    async def waiters(self) -> int:
        """How many backends wait for a lock on `products` now."""
        count: int = await self.conn.fetchval(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'products'::regclass"
        )
        return count


@pytest.fixture
async def products_lock(project: Project, api: ApiClient) -> AsyncIterator[ProductsLock]:
    """A lock on `products` a test takes and releases (released at the end in any case)."""
    del api  # the test's transaction starts first, so that the lock is taken inside the test
    conn = await asyncpg.connect(libpq_dsn(project.database().url))
    lock = ProductsLock(conn)
    try:
        yield lock
    finally:
        await lock.release()
        await conn.close()


async def _until_waiting(lock: ProductsLock, count: int = 1) -> None:
    for _ in range(200):
        if await lock.waiters() >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the request never reached the database")


async def test_costly_list_over_budget_answers_422_naming_the_filter(
    api: ApiClient, costly: Callable[..., CostlyLists], products_lock: ProductsLock
) -> None:
    costly(budget_ms=200)
    before = _shed(BUDGET_REASON)
    await products_lock.take()

    started = time.perf_counter()
    response = await asyncio.wait_for(api.get(SEARCH), 5)
    elapsed = time.perf_counter() - started

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"].endswith("filter-too-costly")
    assert "name__icontains" in body["detail"]
    assert "200 ms" in body["detail"]
    assert "SELECT" not in response.text
    assert "products" not in response.text
    assert 0.2 <= elapsed < 1.5  # cut at the budget, not at DB_STATEMENT_TIMEOUT_MS
    assert _shed(BUDGET_REASON) == before + 1
    assert await products_lock.waiters() == 0  # cancelled on the server, not only abandoned

    await products_lock.release()
    again = await api.get(SEARCH)  # the connection serves the next request
    assert again.status_code == 200, again.text


async def test_ordinary_list_is_not_cut_at_the_filter_budget(
    api: ApiClient, costly: Callable[..., CostlyLists], products_lock: ProductsLock
) -> None:
    costly(budget_ms=100)
    await products_lock.take()

    ordinary = asyncio.create_task(api.get("/products?name=Cable&price__gte=1"))
    await _until_waiting(products_lock)
    await asyncio.sleep(0.3)  # three budgets long
    assert not ordinary.done()
    await products_lock.release()

    response = await ordinary
    assert response.status_code == 200, response.text


async def test_costly_lists_beyond_the_slots_answer_503_at_once(
    api: ApiClient, costly: Callable[..., CostlyLists], products_lock: ProductsLock
) -> None:
    lists = costly(budget_ms=5_000, size=1)
    before = _shed(SHED_REASON)
    await products_lock.take()
    held = asyncio.create_task(api.get(SEARCH))
    await _until_waiting(products_lock)
    assert lists.in_use == 1

    started = time.perf_counter()
    refused = await asyncio.wait_for(api.get("/products?name__contains=duct"), 5)
    elapsed = time.perf_counter() - started

    assert refused.status_code == 503, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["retry-after"] == "1"
    assert elapsed < 0.5
    assert _shed(SHED_REASON) == before + 1
    await products_lock.release()
    assert (await held).status_code == 200
    assert lists.in_use == 0
    assert (await api.get("/products?name__contains=duct")).status_code == 200


async def test_budget_zero_leaves_costly_lists_to_the_statement_timeout(
    api: ApiClient, costly: Callable[..., CostlyLists], products_lock: ProductsLock
) -> None:
    costly(budget_ms=0)
    await products_lock.take()

    search = asyncio.create_task(api.get(SEARCH))
    await _until_waiting(products_lock)
    await asyncio.sleep(0.3)
    assert not search.done()
    await products_lock.release()

    assert (await search).status_code == 200


async def test_filter_no_index_serves_is_a_costly_list(
    api: ApiClient, costly: Callable[..., CostlyLists]
) -> None:
    lists = costly(budget_ms=2_000, size=1)
    await api.conn.execute("DROP INDEX ix_products_price_id")  # rolled back with the test
    findings, _ = await api.run_sync(lambda db: check_resources(db.connection(), RESOURCES))
    lists.mark_unindexed(findings)
    assert {"price", "price__gte", "price__lt"} <= lists.unindexed["/products"]
    assert "id__in" not in lists.unindexed["/products"]

    async with lists.slot():  # the one slot taken, as by a costly list in flight
        refused = await api.get("/products?price__gte=1")
        ordinary = await api.get("/products?id__in=1,2")
    served = await api.get("/products?price__gte=1")

    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"] == "1"
    assert ordinary.status_code == 200, ordinary.text
    assert served.status_code == 200, served.text


@pytest.mark.parametrize("operator", ["contains", "icontains", "startswith"])
async def test_search_text_with_too_many_wildcards_returns_422(api: ApiClient, operator: str) -> None:
    at_most = "%_" * (MAX_PATTERN_WILDCARDS // 2)
    accepted = await api.get("/products", params={f"name__{operator}": at_most})
    refused = await api.get("/products", params={f"name__{operator}": at_most + "%"})

    assert accepted.status_code == 200, accepted.text
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert f"name__{operator}" in refused.json()["detail"]
    assert f"at most {MAX_PATTERN_WILDCARDS} % or _" in refused.json()["detail"]


async def test_openapi_documents_the_search_text_bounds(api: ApiClient) -> None:
    schema: dict[str, Any] = (await api.get("/openapi.json")).json()
    params = {p["name"]: p["schema"] for p in schema["paths"]["/products"]["get"]["parameters"]}
    text = params["name__icontains"]["anyOf"][0]

    assert text["maxLength"] == MAX_PATTERN_CHARS
    assert text["pattern"] == SEARCH_TEXT
    assert re.fullmatch(SEARCH_TEXT, "%" * MAX_PATTERN_WILDCARDS)
    assert not re.fullmatch(SEARCH_TEXT, "%" * (MAX_PATTERN_WILDCARDS + 1))
