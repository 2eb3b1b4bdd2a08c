"""Create and drop throwaway PostgreSQL databases on the test server (configured or embedded)."""

from __future__ import annotations

import os
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from pgbe.db import embedded
from pgbe.db.database import libpq_dsn


@dataclass
class TestServer:
    """A PostgreSQL server the tests may create databases on."""

    admin_url: str
    embedded_dir: Path | None = None
    created: list[str] = field(default_factory=list)

    __test__ = False  # not a test class

    @classmethod
    def start(cls) -> TestServer:
        """Use TEST_DATABASE_URL when set, else a throwaway embedded PostgreSQL."""
        configured = os.environ.get("TEST_DATABASE_URL")
        if configured:
            return cls(admin_url=libpq_dsn(configured))
        # mkdtemp: a folder of this user's own (mode 700) per run, whoever ran before
        folder = Path(tempfile.mkdtemp(prefix="pgbe-test-pg-"))
        return cls(admin_url=embedded.start(folder, persistent=False), embedded_dir=folder)

    def server_version(self) -> str:
        """Return the server's PostgreSQL version, e.g. `18.6` or `15.19 (Debian 15.19-0+deb12u1)`."""
        with psycopg.connect(self.admin_url) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        assert row is not None
        return str(row[0])

    def url_for(self, name: str) -> str:
        """Return the libpq URL of database `name` on this server."""
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def create_database(self, prefix: str = "pgbe_test") -> str:
        """Create an empty database and return its URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self.created.append(name)
        return self.url_for(name)

    def drop_database(self, url: str) -> None:
        """Drop a database made by `create_database`, closing its connections."""
        name = make_url(url).database
        assert name is not None
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if name in self.created:
            self.created.remove(name)

    def close(self) -> None:
        """Drop what is left and stop an embedded server."""
        for name in list(self.created):
            self.drop_database(self.url_for(name))
        if self.embedded_dir is not None:
            embedded.stop(self.embedded_dir)
