"""One ConnectionFactory: every driver's connections, primary and replica, carry the same settings."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from pgbe.db.connections import ConnectionFactory
from pgbe.settings import PgbeSettings

SETTINGS = """SELECT current_setting('statement_timeout'),
       current_setting('idle_in_transaction_session_timeout'),
       current_setting('application_name')"""
EXPECTED = ("4321ms", "8765ms", "connections-test")


def _settings(**overrides: object) -> PgbeSettings:
    values: dict[str, object] = {
        "db_statement_timeout_ms": 4321,
        "db_idle_in_transaction_timeout_ms": 8765,
        "project_name": "connections-test",
        "db_replica_connect_timeout": 0.5,
        "_env_file": None,
    }
    return PgbeSettings(**{**values, **overrides})  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["primary", "replica"])
async def test_every_driver_connects_with_the_same_session_settings(database_url: str, kind: str) -> None:
    factory = getattr(ConnectionFactory, kind)(_settings())

    engine = factory.engine(database_url)
    with engine.connect() as conn:
        assert tuple(conn.execute(text(SETTINGS)).one()) == EXPECTED
    engine.dispose()

    async_engine = factory.async_engine(database_url)
    async with async_engine.connect() as aconn:
        assert tuple((await aconn.execute(text(SETTINGS))).one()) == EXPECTED
    await async_engine.dispose()

    pool = await factory.pool(database_url)
    try:
        assert pool.get_size() == (0 if kind == "replica" else 1)  # a replica's pool connects when used
        async with pool.acquire() as raw:
            assert tuple(await raw.fetchrow(SETTINGS)) == EXPECTED
    finally:
        await pool.close()


def test_replica_connections_time_out_sooner_than_the_primary_s() -> None:
    settings = _settings(db_connect_timeout=7, db_replica_connect_timeout=2.5)
    primary, replica = ConnectionFactory.primary(settings), ConnectionFactory.replica(settings)
    assert primary.psycopg_args()["connect_timeout"] == 7
    assert primary.asyncpg_args()["timeout"] == 7
    assert replica.psycopg_args()["connect_timeout"] == 3  # libpq counts whole seconds
    assert replica.asyncpg_args()["timeout"] == 2.5
    # the pool's own options are the same for both, and for the sync and async engines
    assert primary.pool_options() == replica.pool_options()


async def test_behind_pgbouncer_timeouts_are_set_per_transaction(database_url: str) -> None:
    factory = ConnectionFactory.primary(_settings(db_pgbouncer=True))
    assert "options" not in factory.psycopg_args()  # no session settings: they would leak to others
    assert factory.psycopg_args()["prepare_threshold"] is None

    engine = factory.engine(database_url)
    with engine.connect() as conn:
        statement, idle, _ = conn.execute(text(SETTINGS)).one()
    engine.dispose()
    assert (statement, idle) == EXPECTED[:2]  # set_config(..., true) at the start of the transaction
