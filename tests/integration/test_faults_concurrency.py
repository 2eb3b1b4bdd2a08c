"""Concurrent clients: deadlocks and serialization failures retried, no lost update, 409 on unique races."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from pgbe.db.database import Database
from pgbe.db.transactions import run_in_transaction, run_in_transaction_async
from pgbe.settings import PgbeSettings
from pgbe.testing.leaks import assert_pools_returned
from pgbe.testing.servers import AppServer
from tests.fault_fixtures import FaultCluster

pytestmark = pytest.mark.faults


@pytest.fixture
def database(fault_cluster: FaultCluster) -> Iterator[Database]:
    db = Database(PgbeSettings(database_url=fault_cluster.url, project_name="pgbe-fault-concurrency"))
    yield db
    assert_pools_returned(db)
    db.engine.dispose()


def two_categories(cluster: FaultCluster) -> tuple[int, int]:
    tag = uuid.uuid4().hex[:8]
    with cluster.connect() as conn:
        rows = conn.execute(
            "INSERT INTO categories (name) VALUES (%s), (%s) RETURNING id", (f"a-{tag}", f"b-{tag}")
        ).fetchall()
    return rows[0][0], rows[1][0]


def run_both(target_a: object, target_b: object) -> list[BaseException]:
    errors: list[BaseException] = []

    def guarded(target: object) -> None:
        try:
            target()  # type: ignore[operator]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(t,)) for t in (target_a, target_b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return errors


def test_run_in_transaction_deadlock_between_two_sessions_is_retried(
    database: Database, fault_cluster: FaultCluster
) -> None:
    first, second = two_categories(fault_cluster)
    both_locked_one = threading.Barrier(2, timeout=10)
    attempts: list[str] = []

    def transfer(name: str, order: tuple[int, int]) -> None:
        def work(db: Session) -> None:
            attempts.append(name)
            db.execute(text("SET LOCAL deadlock_timeout = '50ms'"))
            db.execute(text("UPDATE categories SET version = version + 1 WHERE id = :id"), {"id": order[0]})
            if attempts.count(name) == 1:
                both_locked_one.wait()  # each holds one row and now asks for the other's
            db.execute(text("UPDATE categories SET version = version + 1 WHERE id = :id"), {"id": order[1]})

        run_in_transaction(database.SessionLocal, work, backoff=0.01)

    errors = run_both(lambda: transfer("ab", (first, second)), lambda: transfer("ba", (second, first)))

    assert errors == []
    assert len(attempts) == 3  # one of the two was chosen as the deadlock victim and ran again
    with fault_cluster.connect() as conn:
        versions = conn.execute(
            "SELECT version FROM categories WHERE id IN (%s, %s)", (first, second)
        ).fetchall()
    assert sorted(v[0] for v in versions) == [3, 3]  # both transfers applied, each exactly once


def test_run_in_transaction_concurrent_serialization_failure_is_retried(
    database: Database, fault_cluster: FaultCluster
) -> None:
    engine = database.make_engine(database.url, isolation_level="SERIALIZABLE")
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    tag = uuid.uuid4().hex[:8]
    both_read = threading.Barrier(2, timeout=10)
    attempts: list[str] = []

    def add_if_fewer_than_two(name: str) -> None:
        def work(db: Session) -> None:
            attempts.append(name)
            count = db.scalar(
                text("SELECT count(*) FROM categories WHERE name LIKE :p"), {"p": f"ws-{tag}-%"}
            )
            if attempts.count(name) == 1:
                both_read.wait()  # both decide on the same snapshot: write skew
            db.execute(text("INSERT INTO categories (name) VALUES (:n)"), {"n": f"ws-{tag}-{name}-{count}"})

        run_in_transaction(factory, work, backoff=0.01)

    try:
        errors = run_both(lambda: add_if_fewer_than_two("x"), lambda: add_if_fewer_than_two("y"))
    finally:
        engine.dispose()

    assert errors == []
    assert len(attempts) == 3
    with fault_cluster.connect() as conn:
        names = conn.execute("SELECT name FROM categories WHERE name LIKE %s", (f"ws-{tag}-%",)).fetchall()
    counts = sorted(name[0].rsplit("-", 1)[1] for name in names)
    assert counts == ["0", "1"]  # the retried one saw the other's row: serializable after all


async def test_run_in_transaction_async_deadlock_is_retried(
    database: Database, fault_cluster: FaultCluster
) -> None:
    first, second = two_categories(fault_cluster)
    both_locked_one = asyncio.Barrier(2)
    attempts: list[str] = []

    async def transfer(name: str, order: tuple[int, int]) -> None:
        async def work(conn: asyncpg.Connection) -> None:
            attempts.append(name)
            await conn.execute("SET LOCAL deadlock_timeout = '50ms'")
            await conn.execute("UPDATE categories SET version = version + 1 WHERE id = $1", order[0])
            if attempts.count(name) == 1:
                await asyncio.wait_for(both_locked_one.wait(), 10)
            await conn.execute("UPDATE categories SET version = version + 1 WHERE id = $1", order[1])

        await run_in_transaction_async(database, work, backoff=0.01)

    try:
        await asyncio.gather(transfer("ab", (first, second)), transfer("ba", (second, first)))
        assert len(attempts) == 3
        with fault_cluster.connect() as conn:
            versions = conn.execute(
                "SELECT version FROM categories WHERE id IN (%s, %s)", (first, second)
            ).fetchall()
        assert sorted(v[0] for v in versions) == [3, 3]
    finally:
        await database.close()


async def test_run_in_transaction_async_serialization_failure_is_retried(
    database: Database, fault_cluster: FaultCluster
) -> None:
    tag = uuid.uuid4().hex[:8]
    both_read = asyncio.Barrier(2)
    attempts: list[str] = []

    async def add(name: str) -> None:
        async def work(conn: asyncpg.Connection) -> None:
            attempts.append(name)
            count = await conn.fetchval("SELECT count(*) FROM categories WHERE name LIKE $1", f"as-{tag}-%")
            if attempts.count(name) == 1:
                await asyncio.wait_for(both_read.wait(), 10)
            await conn.execute("INSERT INTO categories (name) VALUES ($1)", f"as-{tag}-{name}-{count}")

        await run_in_transaction_async(database, work, isolation="serializable", backoff=0.01)

    try:
        await asyncio.gather(add("x"), add("y"))
        assert len(attempts) == 3
    finally:
        await database.close()


async def test_optimistic_locking_two_clients_one_wins_one_412(
    load_app: AppServer, fault_cluster: FaultCluster
) -> None:
    headers = fault_cluster.bearer("staff")
    async with httpx.AsyncClient(base_url=load_app.url, timeout=20, headers=headers) as http:
        created = await http.post("/products", json={"name": "contested", "price": 10})
        assert created.status_code == 201, created.text
        url = f"/products/{created.json()['id']}"
        alice_read, bob_read = await asyncio.gather(http.get(url), http.get(url))
        assert alice_read.headers["etag"] == bob_read.headers["etag"]
        alice, bob = await asyncio.gather(
            http.patch(url, json={"price": 11}, headers={"If-Match": alice_read.headers["etag"]}),
            http.patch(url, json={"description": "bob"}, headers={"If-Match": bob_read.headers["etag"]}),
        )
        final = (await http.get(url)).json()
    assert sorted([alice.status_code, bob.status_code]) == [200, 412], (alice.text, bob.text)
    assert final["version"] == created.json()["version"] + 1
    if alice.status_code == 200:
        assert (final["price"], final["description"]) == (11, None)
    else:
        assert (final["price"], final["description"]) == (10, "bob")
    loser = alice if alice.status_code == 412 else bob
    assert loser.headers["content-type"] == "application/problem+json"


async def test_patch_with_stale_etag_returns_412_and_keeps_the_newer_change(
    load_app: AppServer, fault_cluster: FaultCluster
) -> None:
    headers = fault_cluster.bearer("staff")
    async with httpx.AsyncClient(base_url=load_app.url, timeout=20, headers=headers) as http:
        created = await http.post("/products", json={"name": "stale", "price": 1})
        url = f"/products/{created.json()['id']}"
        first = await http.patch(url, json={"price": 2}, headers={"If-Match": created.headers["etag"]})
        stale = await http.patch(url, json={"price": 3}, headers={"If-Match": created.headers["etag"]})
        final = (await http.get(url)).json()
    assert first.status_code == 200
    assert stale.status_code == 412
    assert final["price"] == 2


async def test_unique_name_race_answers_one_201_and_409s(
    load_app: AppServer, fault_cluster: FaultCluster
) -> None:
    name = f"race-{uuid.uuid4().hex[:8]}"
    headers = fault_cluster.bearer("staff")
    async with httpx.AsyncClient(base_url=load_app.url, timeout=20, headers=headers) as http:
        responses = await asyncio.gather(*(http.post("/categories", json={"name": name}) for _ in range(8)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 7, [r.text for r in responses]
    conflict = next(r for r in responses if r.status_code == 409)
    assert conflict.headers["content-type"] == "application/problem+json"
    assert conflict.json()["field"] == "name"
    with fault_cluster.connect() as conn:
        assert conn.execute("SELECT count(*) FROM categories WHERE name = %s", (name,)).fetchone() == (1,)
