"""PostgreSQL restarted or its backends killed under a steady load: no acknowledged write lost, no 500."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg
import httpx
import pytest

from pgbe.db.database import Database
from pgbe.db.errors import translate
from pgbe.errors import ServiceUnavailableError
from pgbe.settings import PgbeSettings
from pgbe.testing.leaks import assert_pools_returned
from pgbe.testing.servers import AppServer
from tests.fault_fixtures import (
    CLIENT_LIMITS,
    LOCK_WAITERS,
    FaultCluster,
    application_name,
    poll_until,
    table_locked,
)

pytestmark = pytest.mark.faults
CLIENT_TIMEOUT = 20


@dataclass
class Load:
    """A steady stream of product creations (and reads of what was created), with every answer kept."""

    http: httpx.AsyncClient
    headers: dict[str, str]
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    writes: list[tuple[str, int, int | None]] = field(default_factory=list)  # name, status, id
    reads: list[int] = field(default_factory=list)  # statuses
    fault_done: bool = False
    after_fault: int = 0
    _numbers: itertools.count[int] = field(default_factory=itertools.count)

    def enough(self) -> bool:
        return (self.fault_done and self.after_fault >= 40) or len(self.writes) >= 1500

    async def worker(self) -> None:
        while not self.enough():
            name = f"load-{self.tag}-{next(self._numbers)}"
            response = await self.http.post(
                "/products", json={"name": name, "price": 1}, headers=self.headers
            )
            created = response.json().get("id") if response.status_code == 201 else None
            self.writes.append((name, response.status_code, created))
            if self.fault_done:
                self.after_fault += 1
            if created is not None:
                self.reads.append((await self.http.get(f"/products/{created}")).status_code)

    async def run(self, fault: Callable[[], Awaitable[None]], *, workers: int = 6) -> None:
        async def inject() -> None:
            while len(self.writes) < 30:
                await asyncio.sleep(0.01)
            await fault()
            self.fault_done = True

        await asyncio.gather(inject(), *(self.worker() for _ in range(workers)))


def assert_no_acknowledged_write_lost(load: Load, cluster: FaultCluster) -> None:
    statuses = {status for _, status, _ in load.writes}
    assert statuses <= {201, 503}, statuses
    assert set(load.reads) <= {200, 503}, set(load.reads)
    with cluster.connect() as conn:
        rows = conn.execute(
            "SELECT id, name FROM products WHERE name LIKE %s", (f"load-{load.tag}-%",)
        ).fetchall()
    stored = dict(rows)
    names = [name for _, name in rows]
    assert len(names) == len(set(names)), "a write was applied twice"
    acknowledged = {created: name for name, status, created in load.writes if status == 201}
    missing = {i: n for i, n in acknowledged.items() if stored.get(i) != n}
    assert not missing, f"acknowledged writes missing from the database: {missing}"
    assert 201 in {status for _, status, _ in load.writes[-20:]}, "the service did not recover"


async def test_restart_under_write_load_keeps_every_acknowledged_write(
    load_app: AppServer, fault_cluster: FaultCluster
) -> None:
    async def restart() -> None:
        await asyncio.to_thread(fault_cluster.cluster.restart)

    headers = fault_cluster.bearer("staff")
    client = httpx.AsyncClient(base_url=load_app.url, limits=CLIENT_LIMITS, timeout=CLIENT_TIMEOUT)
    async with client as http:
        load = Load(http, headers)
        await load.run(restart)
    assert_no_acknowledged_write_lost(load, fault_cluster)
    assert load_app.unexpected_errors() == []


async def test_backends_terminated_under_load_keep_every_acknowledged_write(
    load_app: AppServer, fault_cluster: FaultCluster
) -> None:
    killed: list[int] = []

    async def kill_backends() -> None:
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            with fault_cluster.connect() as conn:
                rows = conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                    (application_name(load_app),),
                ).fetchall()
            killed.extend(1 for row in rows if row[0])
            await asyncio.sleep(0.03)

    headers = fault_cluster.bearer("staff")
    client = httpx.AsyncClient(base_url=load_app.url, limits=CLIENT_LIMITS, timeout=CLIENT_TIMEOUT)
    async with client as http:
        load = Load(http, headers)
        await load.run(kill_backends)
    assert killed, "no backend of the application was terminated"
    assert_no_acknowledged_write_lost(load, fault_cluster)
    assert load_app.unexpected_errors() == []


def direct_database(cluster: FaultCluster) -> Database:
    return Database(
        PgbeSettings(database_url=cluster.url, project_name="pgbe-fault-retry", db_async_pool_size=2)
    )


async def terminate_when_running(cluster: FaultCluster, marker: str) -> None:
    """Terminate the backend running a statement containing `marker`, once it runs."""
    await poll_until(
        cluster,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE query LIKE %s AND pid <> pg_backend_pid() AND state = 'active'",
        (f"%{marker}%",),
        failure="the statement never ran",
    )


async def test_run_read_connection_killed_mid_flight_retried_once(fault_cluster: FaultCluster) -> None:
    database = direct_database(fault_cluster)
    attempts: list[int] = []

    async def work(conn: asyncpg.Connection) -> int:
        attempts.append(await conn.fetchval("SELECT pg_backend_pid()"))
        sleep = "0.6" if len(attempts) == 1 else "0"
        value: int = await conn.fetchval(f"SELECT 42 /* retry-probe */ FROM pg_sleep({sleep})")
        return value

    try:
        killer = asyncio.ensure_future(terminate_when_running(fault_cluster, "retry-probe"))
        assert await database.run_read(work) == 42
        await killer
        assert len(attempts) == 2
        assert attempts[0] != attempts[1]  # the retry ran on a fresh connection
        assert_pools_returned(database)
    finally:
        await database.close()


async def test_run_read_killed_twice_gives_up_with_503(fault_cluster: FaultCluster) -> None:
    database = direct_database(fault_cluster)
    attempts: list[int] = []

    async def work(conn: asyncpg.Connection) -> int:
        attempts.append(1)
        killer = asyncio.ensure_future(terminate_when_running(fault_cluster, "doomed-probe"))
        try:
            value: int = await conn.fetchval("SELECT 42 /* doomed-probe */ FROM pg_sleep(2)")
        finally:
            await killer
        return value

    try:
        with pytest.raises(asyncpg.PostgresError) as failure:
            await database.run_read(work)
        assert len(attempts) == 2
        assert isinstance(translate(failure.value), ServiceUnavailableError)
        assert_pools_returned(database)
    finally:
        await database.close()


async def test_write_killed_mid_flight_returns_503_and_is_not_repeated(
    load_app: AppServer, fault_cluster: FaultCluster
) -> None:
    name = f"killed-{uuid.uuid4().hex[:8]}"
    headers = fault_cluster.bearer("staff")
    async with httpx.AsyncClient(base_url=load_app.url, timeout=CLIENT_TIMEOUT) as http:
        with table_locked(fault_cluster, "products") as locker:
            write = asyncio.ensure_future(
                http.post("/products", json={"name": name, "price": 3}, headers=headers)
            )
            await terminate_waiting(fault_cluster, load_app)
            response = await write
            locker.rollback()
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"]
        await asyncio.sleep(0.2)
    with fault_cluster.connect() as conn:
        count = conn.execute("SELECT count(*) FROM products WHERE name = %s", (name,)).fetchone()
    assert count == (0,)


async def test_read_killed_mid_flight_is_retried_and_answers_200(
    load_app: AppServer, fault_cluster: FaultCluster
) -> None:
    async with httpx.AsyncClient(base_url=load_app.url, timeout=CLIENT_TIMEOUT) as http:
        with table_locked(fault_cluster, "categories") as locker:
            read = asyncio.ensure_future(http.get("/categories"))
            await terminate_waiting(fault_cluster, load_app)
            locker.rollback()  # the retried read now goes through
            response = await read
    assert response.status_code == 200, response.text


async def terminate_waiting(cluster: FaultCluster, server: AppServer) -> None:
    """Terminate the application's backend that waits on a lock, once there is one."""
    await poll_until(
        cluster,
        "SELECT pg_terminate_backend(pid) " + LOCK_WAITERS,
        (application_name(server),),
        failure="no request of the application waited on the lock",
    )
