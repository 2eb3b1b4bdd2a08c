"""Connection leak checks: pools back to zero checked out, no session left busy on the server."""

from __future__ import annotations

import time
from typing import Any

import psycopg

from pgbe.db.database import Database


def checked_out(database: Database) -> dict[str, int]:
    """Return how many connections each pool of `database` has lent and not got back."""
    counts: dict[str, int] = {}
    if "engine" in database.__dict__:
        counts["sync"] = int(database.engine.pool.checkedout())  # type: ignore[attr-defined]
    if "async_engine" in database.__dict__:
        counts["async"] = int(database.async_engine.sync_engine.pool.checkedout())  # type: ignore[attr-defined]
    pool: Any = database._pool
    if pool is not None:
        counts["asyncpg"] = pool.get_size() - pool.get_idle_size()
    return counts


def assert_pools_returned(database: Database) -> None:
    """Fail when a pool of `database` still has a connection checked out."""
    lent = {name: count for name, count in checked_out(database).items() if count}
    assert not lent, f"connections not returned to their pool: {lent}"


def busy_sessions(admin_url: str, application_name: str) -> list[tuple[Any, ...]]:
    """Return the server sessions of an application that are running or inside a transaction."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        return conn.execute(
            "SELECT pid, state, left(query, 80) FROM pg_stat_activity"
            " WHERE application_name = %s AND state IS DISTINCT FROM 'idle'",
            (application_name,),
        ).fetchall()


def assert_no_busy_sessions(admin_url: str, application_name: str, *, within: float = 5.0) -> None:
    """Fail unless every session of the application is idle (none active, none idle in transaction).

    Waits up to `within` seconds: a request's connection goes back just after its response.
    """
    deadline = time.monotonic() + within
    while True:
        busy = busy_sessions(admin_url, application_name)
        if not busy or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not busy, f"sessions of {application_name} still busy: {busy}"
