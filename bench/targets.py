"""The applications the benchmark measures: each with its floor, its data, its environment and its token.

The catalogue (E1-E5) is this repository's own application; Conduit (E6) is the example in
`examples/conduit`, a second pgbe project with its own database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from bench import conduit, dataset
from bench.dataset import BenchDatabase
from bench.servers import ROOT


@dataclass(frozen=True)
class Target:
    """An application under test, its hand-written floor and what they run on."""

    name: str
    app: str
    floor: str
    create: Callable[[], BenchDatabase]
    reset_writes: Callable[[str], None]
    env: Callable[[str, str, int], dict[str, str]]
    token: Callable[[str, str, str], tuple[str | None, str]]  # (base URL, database URL, secret)
    max_id: int
    data: str


def get_token(base_url: str) -> tuple[str | None, str]:
    """Sign the staff user in at /auth/token; return (token, reason when there is none)."""
    try:
        response = httpx.post(
            base_url + "/auth/token",
            data={"username": dataset.BENCH_EMAIL, "password": dataset.BENCH_PASSWORD},
            timeout=30,
        )
    except httpx.HTTPError as exc:
        return None, f"/auth/token failed: {exc}"
    if response.status_code == 404:
        return None, "no /auth/token endpoint yet (authentication not built)"
    if response.status_code != 200:
        return None, f"/auth/token answered {response.status_code}: {response.text[:200]}"
    token = response.json().get("access_token")
    return (token, "") if token else (None, "/auth/token returned no access_token")


def staff_token(base_url: str, db_url: str, secret: str) -> tuple[str | None, str]:
    """The catalogue's token: its staff user signs in like any client."""
    del db_url, secret
    return get_token(base_url)


def reader_token(base_url: str, db_url: str, secret: str) -> tuple[str | None, str]:
    """Conduit's token: its reader signs in through `POST /api/users/login`."""
    del db_url, secret
    return conduit.reader_token(base_url)


def catalogue_env(db_url: str, secret: str, pool_size: int) -> dict[str, str]:
    """The catalogue app's and its floor's environment, in production settings."""
    return {
        "ENVIRONMENT": "production",
        "SECRET_KEY": secret,
        "DATABASE_URL": db_url,
        "DB_ASYNC_POOL_SIZE": str(pool_size),
        "ACCESS_TOKEN_MINUTES": "240",
        "BENCH_FLOOR_POOL_SIZE": str(pool_size),
    }


def conduit_env(db_url: str, secret: str, pool_size: int) -> dict[str, str]:
    """Conduit's environment (its settings read CONDUIT_*) and its floor's, in production settings."""
    return {
        "PYTHONPATH": str(ROOT / "examples" / "conduit"),
        "CONDUIT_ENVIRONMENT": "production",
        "CONDUIT_SECRET_KEY": secret,
        "CONDUIT_DATABASE_URL": db_url,
        "CONDUIT_DB_ASYNC_POOL_SIZE": str(pool_size),
        "CONDUIT_PAGE_COUNT": "exact",  # articlesCount as the floor computes it, whatever the table's size
        "SECRET_KEY": secret,
        "DATABASE_URL": db_url,
        "BENCH_FLOOR_POOL_SIZE": str(pool_size),
    }


CATALOGUE = Target(
    name="catalogue",
    app="app.main:app",
    floor="bench.floor:app",
    create=dataset.create,
    reset_writes=dataset.reset_writes,
    env=catalogue_env,
    token=staff_token,
    max_id=dataset.PRODUCTS,
    data=f"{dataset.CATEGORIES} categories, {dataset.PRODUCTS} products, {dataset.TAGS} tags, "
    f"{dataset.TAGS_PER_PRODUCT} tags per product",
)
CONDUIT = Target(
    name="conduit",
    app="conduit.main:app",
    floor="bench.conduit_floor:app",
    create=conduit.create,
    reset_writes=conduit.reset_writes,
    env=conduit_env,
    token=reader_token,
    max_id=conduit.ARTICLES,
    data=f"Conduit: {conduit.USERS} users, {conduit.ARTICLES} articles, {conduit.TAGS} tags, "
    f"{conduit.TAGS_PER_ARTICLE} tags per article, 3 favorites per article on average",
)
TARGETS = {t.name: t for t in (CATALOGUE, CONDUIT)}
