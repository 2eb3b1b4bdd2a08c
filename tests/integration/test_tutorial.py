"""docs/tutorial.md, run word for word: every ```bash tutorial block, in order, in one shell."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pgbe.testing.databases import TestServer
from pgbe.testing.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
TUTORIAL = ROOT / "docs" / "tutorial.md"
BLOCK = re.compile(r"^```bash tutorial\n(.*?)^```", re.S | re.M)


def tutorial_blocks() -> list[str]:
    """Return the shell blocks the tutorial marks as steps, in reading order."""
    return BLOCK.findall(TUTORIAL.read_text())


@pytest.fixture
def bookshop_database(test_server: TestServer) -> Iterator[str]:
    url = test_server.create_database("pgbe_tutorial")
    yield url
    test_server.drop_database(url)


def test_tutorial_blocks_found() -> None:
    blocks = tutorial_blocks()
    assert len(blocks) >= 6
    assert blocks[0].startswith("pgbe new project bookshop\ncd bookshop")


def test_tutorial_commands_run_as_written(
    tmp_path: Path, test_server: TestServer, bookshop_database: str
) -> None:
    first, *rest = tutorial_blocks()
    venv = Path(sys.executable).parent.parent
    # `make test` would create .venv and install pgbe into it; this run lends it pgbe's own environment.
    script = "\n".join(["set -euo pipefail", first, f"ln -s {venv} .venv", *rest])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "DB_", "PGBE_"))}
    env.pop("ENVIRONMENT", None)
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        TEST_DATABASE_URL=test_server.admin_url,
        DATABASE_URL=bookshop_database,
        PORT=str(free_port()),
    )
    # Output to a file, not a pipe, and the shell in a session of its own: when a step fails, the
    # shell exits at once and the server it started in the background is stopped with the session,
    # instead of holding a pipe open (and the test waiting) until the timeout.
    log = tmp_path / "tutorial.log"
    with log.open("w") as out:
        shell = subprocess.Popen(
            ["bash", "-c", script],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            returncode = shell.wait(timeout=900)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(shell.pid, signal.SIGTERM)
            shell.wait()
    output = log.read_text()
    assert returncode == 0, output[-4000:]
    assert "wrote app/models/book.py" in output
    assert "16 passed" in output  # 7 of the new project, 6 generated for books, 3 of the report
    assert re.search(r"GET\s+/reports/books\s+role admin\|staff\s+book_report", output)
    assert re.search(r'"items"\s*:\s*\[\]', output)  # GET /books from the production-style run
    assert (tmp_path / "bookshop" / "app" / "models" / "book.py").is_file()
