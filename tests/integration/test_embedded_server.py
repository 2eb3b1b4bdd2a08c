"""The embedded PostgreSQL 18 itself: a throwaway server, its extensions, and who it runs as."""

from __future__ import annotations

import os
import pwd
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pgbe.db import embedded

EXTENSIONS = ["pg_trgm", "btree_gist", "citext", "pg_stat_statements", "vector"]


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Path, str, list[str]]]:
    """A throwaway embedded server, with the system's accounts listed before it started."""
    accounts = sorted(entry.pw_name for entry in pwd.getpwall())
    folder = Path(tempfile.mkdtemp(prefix="pgbe-embedded-test-"))
    url = embedded.start(folder, persistent=False)
    try:
        yield folder, url, accounts
    finally:
        embedded.stop(folder)


def _uid_of(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    return int(next(line for line in status if line.startswith("Uid:")).split()[1])


def test_embedded_server_is_postgresql_18_on_a_socket_only(server: tuple[Path, str, list[str]]) -> None:
    folder, url, _ = server
    with psycopg.connect(url) as conn:
        assert conn.execute("SHOW server_version_num").fetchone()[0].startswith("18")
        assert conn.execute("SHOW listen_addresses").fetchone() == ("",)
    assert embedded.version().startswith("18.")
    assert (folder / ".s.PGSQL.5432").is_socket()


@pytest.mark.parametrize("extension", EXTENSIONS)
def test_embedded_server_extension_installs(server: tuple[Path, str, list[str]], extension: str) -> None:
    _, url, _ = server
    with psycopg.connect(url) as conn:
        conn.execute(f'CREATE EXTENSION IF NOT EXISTS "{extension}"')
        assert conn.execute("SELECT 1 FROM pg_extension WHERE extname = %s", [extension]).fetchone() == (1,)
        conn.rollback()


def test_embedded_server_trigram_index_serves_similarity(server: tuple[Path, str, list[str]]) -> None:
    _, url, _ = server
    with psycopg.connect(url) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        conn.execute("CREATE TEMP TABLE words (w text)")
        conn.execute("INSERT INTO words VALUES ('postgresql'), ('postgres'), ('mysql')")
        rows = conn.execute("SELECT w FROM words WHERE w % 'postgre' ORDER BY w").fetchall()
        assert rows == [("postgres",), ("postgresql",)]
        conn.rollback()


@pytest.mark.skipif(os.geteuid() != 0, reason="runs as this user when not root (the whole suite shows it)")
def test_embedded_server_started_by_root_runs_as_nobody_and_creates_no_account(
    server: tuple[Path, str, list[str]],
) -> None:
    folder, _, accounts_before = server
    nobody = pwd.getpwnam("nobody").pw_uid
    pid = embedded.pid(folder)
    assert pid is not None
    assert _uid_of(pid) == nobody
    assert folder.stat().st_uid == nobody
    assert sorted(entry.pw_name for entry in pwd.getpwall()) == accounts_before


@pytest.mark.skipif(os.geteuid() == 0, reason="as root the server runs as another account (test above)")
def test_embedded_server_started_by_a_user_runs_as_that_user(server: tuple[Path, str, list[str]]) -> None:
    folder, _, _ = server
    pid = embedded.pid(folder)
    assert pid is not None
    assert _uid_of(pid) == os.geteuid()
