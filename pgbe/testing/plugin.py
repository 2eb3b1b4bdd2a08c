"""pytest plugin of pgbe projects: one migrated database per run, rolled-back sessions and API clients.

Enable it in `tests/conftest.py` with `pytest_plugins = ["pgbe.testing.plugin"]`. The database lives on
TEST_DATABASE_URL's server when set, else on a throwaway embedded PostgreSQL; it is created and
migrated before the application is imported (DATABASE_URL and ENVIRONMENT=test are set for it) and
dropped at the end of the run. With PGBE_TEST_PGBOUNCER_URL set, the application's connections go
through that transaction-pooling PgBouncer (DB_PGBOUNCER=true) while migrations go to the server directly.
"""

from __future__ import annotations

import os
import platform
import secrets
import sys
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from pgbe.project import Project
from pgbe.testing.api import ApiClient
from pgbe.testing.databases import TestServer
from pgbe.testing.leaks import checked_out

_server: TestServer | None = None
_project_key = pytest.StashKey[Project]()
_url_key = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    """Create and migrate the run's database before any application module is imported."""
    global _server
    if hasattr(config, "workerinput"):
        return
    from alembic import command

    from pgbe.migrations import alembic_config

    project = Project.find(config.rootpath)
    _server = TestServer.start()
    url = direct_url = _server.create_database()
    bouncer = os.environ.get("PGBE_TEST_PGBOUNCER_URL")
    if bouncer:
        via = make_url(bouncer)
        url = make_url(url).set(host=via.host, port=via.port).render_as_string(hide_password=False)
        os.environ["DB_PGBOUNCER"] = "true"
    os.environ["DATABASE_URL"] = url
    os.environ["ENVIRONMENT"] = "test"
    # Like every environment but development, tests refuse the default secret: one random key per run.
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(48))
    os.environ.pop("DATABASE_REPLICA_URLS", None)
    command.upgrade(alembic_config(project.root, url=direct_url), "head")
    config.stash[_project_key] = project
    config.stash[_url_key] = url


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    """Say which Python and which PostgreSQL server and database the tests use."""
    from pgbe.db.database import describe

    if _url_key not in config.stash or _server is None:
        return None
    where = "embedded (pgbe[embedded])" if _server.embedded_dir else "TEST_DATABASE_URL"
    return [
        f"python: {platform.python_implementation()} {platform.python_version()} ({sys.executable})",
        f"postgresql: {_server.server_version()} [{where}]",
        f"database: {describe(config.stash[_url_key])}",
    ]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when the project's pools still lend a connection after every test ended."""
    del exitstatus
    project = session.config.stash.get(_project_key, None)
    if project is None or hasattr(session.config, "workerinput"):
        return
    if project.database_target.partition(":")[0] not in sys.modules:
        return  # no test loaded the application: it has no pool to check
    lent = {name: count for name, count in checked_out(project.database()).items() if count}
    if lent:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"connections never returned to the app's pools: {lent}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_unconfigure(config: pytest.Config) -> None:
    """Close the application's pools, drop the run's databases and stop an embedded server."""
    if _server is None:
        return
    try:
        project = config.stash.get(_project_key, None)
        if project is not None:
            database = project.database()
            if "engine" in database.__dict__:
                database.engine.dispose()
    finally:
        _server.close()


@pytest.fixture(scope="session")
def project(pytestconfig: pytest.Config) -> Project:
    """The project under test."""
    return pytestconfig.stash[_project_key]


@pytest.fixture(scope="session")
def test_server() -> TestServer:
    """The PostgreSQL server of this run, for tests that need databases of their own."""
    assert _server is not None
    return _server


@pytest.fixture(scope="session")
def database_url() -> str:
    """URL of the run's migrated database."""
    return os.environ["DATABASE_URL"]


@pytest.fixture
def scratch_database(test_server: TestServer) -> Iterator[str]:
    """An empty database of its own, dropped after the test."""
    url = test_server.create_database("pgbe_scratch")
    yield url
    test_server.drop_database(url)


@pytest.fixture(scope="session")
def engine(project: Project) -> Engine:
    """The application's sync engine, on the run's database."""
    engine: Engine = project.database().engine
    return engine


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """A Session whose commits become savepoints of one transaction rolled back after the test."""
    connection = engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


@pytest.fixture
async def api(project: Project, request: pytest.FixtureRequest) -> AsyncIterator[ApiClient]:
    """An async HTTP client on the app; all its database work is one transaction rolled back after the test.

    Generated endpoints, `get_db` / `get_read_db` / `get_async_db` routes and the controllers they
    call share that transaction. `api.conn` is its asyncpg connection, `api.run_sync(work)` runs
    `work(session)` in it, `api.queries` counts the statements run on it.
    """
    from pgbe.testing.api import rolled_back_client

    if "db" in request.fixturenames:
        pytest.fail(
            "a test uses both `api` and `db`: their transactions cannot see each other's rows;"
            " set up rows with `api.conn` or `await api.run_sync(lambda db: ...)` instead",
            pytrace=False,
        )

    application = project.load("app", "app.main:app")
    async with rolled_back_client(application, project.database()) as client:
        yield client


@pytest.fixture
def bearer(project: Project, api: ApiClient) -> Callable[[int, str], dict[str, str]]:
    """Return `bearer(user_id, role)`: an Authorization header with a valid access token.

    Before the next request of `api`, the account gets this role (created when no user has this id;
    required columns get placeholders) and the token's sign-in session is stored, in the test's
    transaction. Tokens are checked against both, as in production: a token of a deactivated account
    is refused, and so is an earlier token of the account once `bearer` gave it another role.
    """
    from pgbe.testing.principals import Bearer

    auth = project.load("auth", "app.config.auth:auth")
    return Bearer(auth.codec, api, api.conn)
