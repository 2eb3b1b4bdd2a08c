"""The index check: every allow-listed sort and filter served by an index of the live database, or named."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import BaseModel as Schema
from pydantic import ConfigDict
from sqlalchemy import Connection, ForeignKey, Integer, String, create_engine, pool, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from app.models import Product
from app.resources import RESOURCES
from pgbe.db.database import with_driver
from pgbe.query.builder import where_clauses
from pgbe.query.params import parse_list_params
from pgbe.resources import Resource
from pgbe.resources.index_report import format_report, missing, plans
from pgbe.resources.indexes import IndexCheckError, check_at_startup, check_resources
from pgbe.testing.migrations import run_cli

ROOT = Path(__file__).resolve().parents[2]


class Base(DeclarativeBase):
    """Tables of this module only, created inside each test's rolled-back transaction."""


class Maker(Base):
    __tablename__ = "ixcheck_makers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))


class Gadget(Base):
    __tablename__ = "ixcheck_gadgets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    price: Mapped[int] = mapped_column(Integer)
    maker_id: Mapped[int | None] = mapped_column(ForeignKey("ixcheck_makers.id"))
    maker: Mapped[Maker | None] = relationship()


class MakerRead(Schema):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str


class GadgetRead(Schema):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    price: int
    maker_id: int | None
    maker: MakerRead | None = None


def _gadgets(**options: object) -> Resource:
    declared: dict[str, object] = {
        "filters": {"price": ["eq", "gte"], "name": ["icontains", "startswith"]},
        "sort": ["id", "price"],
        **options,
    }
    return Resource(Gadget, read=GadgetRead, **declared)  # type: ignore[arg-type]


@pytest.fixture
def conn(db: Session) -> Connection:
    """The test transaction's connection, with the module's tables."""
    connection = db.connection()
    Base.metadata.create_all(connection)
    return connection


def _missing_sql(conn: Connection, resource: Resource) -> dict[str, list[str]]:
    findings, _ = check_resources(conn, [resource])
    return {plan.sql: [f.subject for f in settled] for plan, settled in plans(findings).items()}


def test_index_check_unindexed_sort_and_filter_name_one_index_to_add(conn: Connection) -> None:
    found = _missing_sql(conn, _gadgets())

    assert found["CREATE INDEX CONCURRENTLY ix_ixcheck_gadgets_price_id ON ixcheck_gadgets (price, id);"] == [
        "GET /ixcheck_gadgets sort=price",
        "GET /ixcheck_gadgets filter price (eq, gte)",
    ]
    trigram = (
        "CREATE INDEX CONCURRENTLY ix_ixcheck_gadgets_name_trgm ON ixcheck_gadgets"
        " USING gin (name gin_trgm_ops);"
    )
    assert found[trigram] == ["GET /ixcheck_gadgets filter name (icontains, startswith)"]
    assert len(found) == 2  # sort=id has the primary key


def test_index_check_with_the_indexes_reports_nothing_missing(conn: Connection) -> None:
    conn.execute(text("CREATE INDEX ON ixcheck_gadgets (price, id)"))
    conn.execute(text("CREATE INDEX ON ixcheck_gadgets USING gin (name gin_trgm_ops)"))

    findings, missing_tables = check_resources(conn, [_gadgets()])

    assert missing(findings) == []
    assert missing_tables == set()
    # (price, id) read backwards is price DESC, id DESC; the list asks price DESC, id ASC
    assert [(f.field, f.level) for f in findings] == [("-price", "partial")]
    assert "every allow-listed sort and filter has an index" in format_report(findings)


def test_index_check_descending_tie_break_index_serves_sort_whole(conn: Connection) -> None:
    conn.execute(text("CREATE INDEX ON ixcheck_gadgets (price, id)"))
    conn.execute(text("CREATE INDEX ON ixcheck_gadgets (price DESC, id)"))

    findings, _ = check_resources(conn, [_gadgets(filters={})])

    assert findings == []


def test_index_check_multicolumn_index_serves_its_first_column_only(conn: Connection) -> None:
    conn.execute(text("CREATE INDEX ON ixcheck_gadgets (name, price)"))

    found = _missing_sql(conn, _gadgets(filters={"name": ["eq"], "price": ["eq"]}, sort=["id"]))

    assert list(found) == ["CREATE INDEX CONCURRENTLY ix_ixcheck_gadgets_price ON ixcheck_gadgets (price);"]


def test_index_check_partial_and_expression_indexes_do_not_count(conn: Connection) -> None:
    conn.execute(text("CREATE INDEX ixcheck_cheap ON ixcheck_gadgets (price) WHERE price < 100"))
    conn.execute(text("CREATE INDEX ixcheck_lower ON ixcheck_gadgets (lower(name))"))

    findings, _ = check_resources(conn, [_gadgets(filters={"price": ["eq"], "name": ["eq"]}, sort=["id"])])

    messages = {f.field: f.message for f in missing(findings)}
    assert set(messages) == {"price", "name"}
    assert "ixcheck_cheap is partial (WHERE price < 100)" in messages["price"]


def test_index_check_related_filter_checks_the_join_and_the_related_column(conn: Connection) -> None:
    resource = _gadgets(filters={"maker.name": ["eq"]}, sort=["id", "maker.name"])

    found = _missing_sql(conn, resource)
    findings, _ = check_resources(conn, [resource])

    assert set(found) == {
        "CREATE INDEX CONCURRENTLY ix_ixcheck_makers_name ON ixcheck_makers (name);",
        "CREATE INDEX CONCURRENTLY ix_ixcheck_gadgets_maker_id ON ixcheck_gadgets (maker_id);",
    }
    assert [(f.field, f.level) for f in findings if f.kind == "sort"] == [("maker.name", "unindexable")]


def test_index_check_ignore_setting_silences_a_column(conn: Connection) -> None:
    findings, _ = check_resources(conn, [_gadgets()], ignore=["ixcheck_gadgets.price"])

    assert {f.field for f in missing(findings)} == {"name"}


def test_startup_check_warns_naming_the_index(conn: Connection, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="pgbe.indexes"):
        check_at_startup(conn, [_gadgets(filters={})], mode="warn")

    [record] = caplog.records
    assert "GET /ixcheck_gadgets sort=price has no index" in record.getMessage()
    assert "CREATE INDEX CONCURRENTLY ix_ixcheck_gadgets_price_id ON ixcheck_gadgets (price, id);" in (
        record.getMessage()
    )
    assert 'Index("ix_ixcheck_gadgets_price_id", "price", "id")' in record.getMessage()


def test_startup_check_indexed_resource_does_not_warn(
    conn: Connection, caplog: pytest.LogCaptureFixture
) -> None:
    conn.execute(text("CREATE INDEX ON ixcheck_gadgets (price, id)"))

    with caplog.at_level(logging.WARNING, logger="pgbe.indexes"):
        check_at_startup(conn, [_gadgets(filters={})], mode="fail")

    assert caplog.records == []


def test_startup_check_fail_setting_refuses_to_start(conn: Connection) -> None:
    with pytest.raises(
        IndexCheckError, match=r"ix_ixcheck_gadgets_price_id ON ixcheck_gadgets \(price, id\)"
    ):
        check_at_startup(conn, [_gadgets(filters={})], mode="fail")


def test_example_resources_have_every_index_they_need(db: Session) -> None:
    findings, missing_tables = check_resources(db.connection(), RESOURCES)

    assert missing(findings) == []
    assert missing_tables == set()


@pytest.mark.parametrize("query", ["name__icontains=duct 777", "name__contains=Duct", "name__startswith=Pro"])
def test_text_filters_can_use_the_trigram_index(db: Session, query: str) -> None:
    """With sequential scans priced out, the planner picks the trigram index for the list's condition."""
    products = next(r for r in RESOURCES if r.model is Product)
    params = parse_list_params(products.spec, [tuple(query.split("=", 1))], default_limit=20, max_limit=500)
    db.execute(text("SET LOCAL enable_seqscan = off"))
    statement = select(Product.id).where(*where_clauses(params)).limit(20)
    compiled = statement.compile(db.get_bind(), compile_kwargs={"literal_binds": True})

    plan = "\n".join(db.execute(text(f"EXPLAIN {compiled}")).scalars())

    # A prefix match may also use the btree index where the collation allows range scans (C, as the
    # embedded PostgreSQL's builtin locale): an index either way, never a sequential scan.
    prefix_on_btree = query.startswith("name__startswith") and "using ix_products_name on" in plan
    assert "ix_products_name_trgm" in plan or prefix_on_btree, plan


@pytest.mark.parametrize("query", ["name__contains=_", "name__icontains=ab", "name__icontains=%_%_%_"])
def test_text_filters_without_a_trigram_never_scan_the_whole_trigram_index(db: Session, query: str) -> None:
    """pg_trgm would read every entry and recheck every row for these: the condition avoids the index."""
    products = next(r for r in RESOURCES if r.model is Product)
    params = parse_list_params(products.spec, [tuple(query.split("=", 1))], default_limit=20, max_limit=500)
    db.execute(text("SET LOCAL enable_seqscan = off"))
    statement = select(Product.id).where(*where_clauses(params)).limit(20)
    compiled = statement.compile(db.get_bind(), compile_kwargs={"literal_binds": True})

    plan = "\n".join(db.execute(text(f"EXPLAIN {compiled}")).scalars())

    assert "ix_products_name_trgm" not in plan, plan


@pytest.fixture
def committed_table(scratch_database: str) -> str:
    """The scratch database with the module's tables committed (a server sees them)."""
    engine = create_engine(with_driver(scratch_database, "psycopg"), poolclass=pool.NullPool)
    Base.metadata.create_all(engine)
    engine.dispose()
    return scratch_database


async def test_create_app_index_check_fail_refuses_to_start(committed_table: str) -> None:
    from pgbe import create_app
    from pgbe.db.database import Database
    from pgbe.settings import PgbeSettings

    settings = PgbeSettings(database_url=committed_table, index_check="fail")
    database = Database(settings)
    application = create_app(settings=settings, database=database, models=Base, resources=[_gadgets()])

    with pytest.raises(IndexCheckError, match="ix_ixcheck_gadgets_price_id"):
        async with application.router.lifespan_context(application):
            pass
    database.engine.dispose()


def test_pgbe_db_lint_names_a_missing_index_and_exits_one(scratch_database: str) -> None:
    run_cli("pgbe", "db", "upgrade", cwd=ROOT, url=scratch_database)
    clean = run_cli("pgbe", "db", "lint", cwd=ROOT, url=scratch_database)
    engine = create_engine(with_driver(scratch_database, "psycopg"), poolclass=pool.NullPool)
    with engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_products_price_id"))
    engine.dispose()

    failing = run_cli("pgbe", "db", "lint", cwd=ROOT, url=scratch_database, check=False)
    skipped = run_cli("pgbe", "db", "lint", "--no-indexes", cwd=ROOT, url=scratch_database)

    assert "every allow-listed sort and filter has an index" in clean.stdout
    assert "not indexable: GET /products sort=category.name" in clean.stdout
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "missing index: CREATE INDEX CONCURRENTLY ix_products_price_id ON products (price, id);" in (
        failing.stdout
    )
    assert '    model: Index("ix_products_price_id", "price", "id")' in failing.stdout
    assert "    for GET /products sort=price: no index orders products by price" in failing.stdout
    assert "    for GET /products filter price (eq, gt, gte, in, lt, lte)" in failing.stdout
    assert "1 index(es) missing for 2 allow-listed sort(s) and filter(s)" in failing.stdout
    assert "allow-listed" not in skipped.stdout


async def test_create_app_warns_and_starts_by_default(
    committed_table: str, caplog: pytest.LogCaptureFixture
) -> None:
    from pgbe import create_app
    from pgbe.db.database import Database
    from pgbe.settings import PgbeSettings

    settings = PgbeSettings(database_url=committed_table)
    database = Database(settings)
    application = create_app(settings=settings, database=database, models=Base, resources=[_gadgets()])

    with caplog.at_level(logging.WARNING, logger="pgbe.indexes"):
        async with application.router.lifespan_context(application):
            pass

    assert any("ix_ixcheck_gadgets_price_id" in r.getMessage() for r in caplog.records)


async def test_create_app_database_down_skips_the_check_and_starts(caplog: pytest.LogCaptureFixture) -> None:
    from pgbe import create_app
    from pgbe.db.database import Database
    from pgbe.settings import PgbeSettings

    settings = PgbeSettings(database_url="postgresql://postgres@127.0.0.1:1/nowhere", index_check="fail")
    database = Database(settings)
    application = create_app(settings=settings, database=database, models=Base, resources=[_gadgets()])

    with caplog.at_level(logging.WARNING, logger="pgbe.app"):
        async with application.router.lifespan_context(application):
            pass

    assert "index check skipped: the database did not answer (OperationalError)" in caplog.text


def test_create_all_creates_pg_trgm_before_the_trigram_indexes(scratch_database: str) -> None:
    from app.models import BaseModel

    engine = create_engine(with_driver(scratch_database, "psycopg"), poolclass=pool.NullPool)
    BaseModel.metadata.create_all(engine)
    with engine.connect() as connection:
        extensions = connection.execute(text("SELECT extname FROM pg_extension")).scalars().all()
        trigram = connection.execute(text("SELECT to_regclass('ix_products_name_trgm')")).scalar()
    engine.dispose()

    assert "pg_trgm" in extensions
    assert trigram == "ix_products_name_trgm"
