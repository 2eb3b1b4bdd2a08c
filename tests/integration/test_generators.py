"""`pgbe new project` and `pgbe new resource`: the generated code passes its tests, migrations and linters."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest

from pgbe.testing.databases import TestServer

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
TIMEOUT = 900


def _env(test_server: TestServer, database_url: str | None = None) -> dict[str, str]:
    """The environment of a generated project: its own databases on this run's test server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "DB_", "PGBE_"))}
    for name in ("ENVIRONMENT", "MAKEFLAGS", "MAKELEVEL", "MFLAGS"):  # not the outer make's (make test)
        env.pop(name, None)
    env["TEST_DATABASE_URL"] = test_server.admin_url
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT)


def _ok(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    result = _run(args, cwd, env)
    assert result.returncode == 0, f"{' '.join(args)}\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def pgbe_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pgbe's wheel, built once for this module's projects (`--pgbe`), as `pgbe new project` builds it."""
    folder = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [PYTHON, "-m", "pip", "wheel", "-q", "--no-deps", "-w", folder, ROOT], check=True, timeout=300
    )
    (wheel,) = folder.glob("pgbe-*.whl")
    return wheel


@pytest.fixture
def project(tmp_path: Path, test_server: TestServer, pgbe_wheel: Path) -> Path:
    args = [PYTHON, "-m", "pgbe.cli", "new", "project", "shop", "--pgbe", str(pgbe_wheel)]
    _ok(args, tmp_path, _env(test_server))
    return tmp_path / "shop"


@pytest.fixture
def dev_database(test_server: TestServer) -> Iterator[str]:
    url = test_server.create_database("pgbe_generated")
    yield url
    test_server.drop_database(url)


def _lint(project: Path, env: dict[str, str], cache: Path) -> None:
    _ok([PYTHON, "-m", "ruff", "check", "."], project, env)
    _ok([PYTHON, "-m", "ruff", "format", "--check", "."], project, env)
    # pgbe is installed editable here, as a path in a .pth file (pyproject's package-dir), which mypy
    # follows without MYPYPATH. The cache belongs to this run (and user).
    site = Path(sysconfig.get_paths()["purelib"])
    if list(site.glob("__editable___pgbe_*finder.py")):
        pytest.fail("pgbe is installed through an import hook mypy cannot follow: pip install --no-deps -e .")
    args = [PYTHON, "-m", "mypy", "--cache-dir", str(cache), "app", "tests"]
    _ok(args, project, {k: v for k, v in env.items() if k != "MYPYPATH"})


def _make_n(project: Path, env: dict[str, str]) -> str:
    return _ok(["make", "--no-print-directory", "-n", "test"], project, env)


def test_new_project_vendors_this_checkouts_wheel_and_installs_itself(
    tmp_path: Path, test_server: TestServer
) -> None:
    env = _env(test_server)
    out = _ok([PYTHON, "-m", "pgbe.cli", "new", "project", "shop"], tmp_path, env)
    project = tmp_path / "shop"
    (wheel,) = (project / "vendor").glob("pgbe-*-py3-none-any.whl")
    assert (project / "pgbe-source.txt").read_text() == f"vendor/{wheel.name}\n"
    assert f"pgbe comes from vendor/{wheel.name} ({ROOT}" in out
    assert f"from {ROOT}" in (project / "vendor" / "README.md").read_text()
    make = _make_n(project, env)
    assert f'install "vendor/{wheel.name}" -e ".[embedded]"' in make  # make run's part
    assert f'install "vendor/{wheel.name}" -e ".[test]"' in make
    assert "pgbe[dev]" not in (project / "pyproject.toml").read_text()


def test_new_project_reinstalls_when_pyproject_source_or_wheel_change(
    project: Path, test_server: TestServer
) -> None:
    env = _env(test_server)
    stamps = [
        line.split("touch ")[-1] for line in _make_n(project, env).splitlines() if "touch .venv/" in line
    ]
    assert len(stamps) == 2
    (project / ".venv").mkdir()
    for stamp in stamps:
        (project / stamp).touch()
    assert _make_n(project, env).strip() == ".venv/bin/pytest"  # installed: nothing to do
    (wheel,) = (project / "vendor").glob("*.whl")
    changes = [
        (project / "pyproject.toml", 'dependencies = [\n    "humanize>=4",'),
        (project / "pgbe-source.txt", "pgbe @ git+https://git.example.com/pgbe.git@" + "a" * 40),
    ]
    for path, text in changes:
        before = path.read_text()
        path.write_text(before.replace("dependencies = [", text) if path.suffix == ".toml" else text + "\n")
        assert "install" in _make_n(project, env), path
        path.write_text(before)
    wheel.write_bytes(wheel.read_bytes() + b"\0")  # rebuilt, same name
    assert "uninstall --yes pgbe" in _make_n(project, env)


def test_new_project_git_source_pinned_to_a_commit(tmp_path: Path, test_server: TestServer) -> None:
    env, url = _env(test_server), "git+https://git.example.com/team/pgbe.git"
    refused = _run([PYTHON, "-m", "pgbe.cli", "new", "project", "a", "--pgbe", f"{url}@main"], tmp_path, env)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        f"error: {url}@main: name a commit (git+<url>@<sha>), not a branch, so clones agree"
    ]
    assert not (tmp_path / "a").exists()
    commit = "0123456789abcdef0123456789abcdef01234567"
    _ok([PYTHON, "-m", "pgbe.cli", "new", "project", "b", "--pgbe", f"{url}@{commit}"], tmp_path, env)
    assert (tmp_path / "b" / "pgbe-source.txt").read_text() == f"pgbe @ {url}@{commit}\n"
    assert not list((tmp_path / "b" / "vendor").glob("*.whl"))
    assert f'install "pgbe @ {url}@{commit}" -e ".[test]"' in _make_n(tmp_path / "b", env)


def test_new_project_existing_folder_refused_with_one_line(tmp_path: Path, test_server: TestServer) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    result = _run([PYTHON, "-m", "pgbe.cli", "new", "project", "taken"], tmp_path, _env(test_server))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'taken'} exists and is not empty: choose a new folder"
    ]
    assert sorted(p.name for p in (tmp_path / "taken").iterdir()) == ["notes.txt"]


def test_new_project_then_new_resource_pass_tests_migrations_and_lint(
    project: Path, test_server: TestServer, dev_database: str, tmp_path: Path
) -> None:
    names = ["app/main.py", "app/config/settings.py", "app/config/database.py", "app/models/base.py"]
    names += ["app/controllers/base_controller.py", "app/resources.py", "migrations/env.py"]
    names += ["tests/conftest.py", "Makefile", "README.md", ".ci/run", ".env.example", ".gitignore"]
    for name in names:
        assert (project / name).is_file(), name
    assert not (project / "app" / "models" / "product.py").exists()
    assert os.access(project / ".ci" / "run", os.X_OK)
    env, db_env = _env(test_server), _env(test_server, dev_database)
    # The fresh project's own tests pass straight away.
    assert "7 passed" in _ok([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider"], project, env)

    _ok([PYTHON, "-m", "pgbe.cli", "new", "resource", "Tag", "name:str:50:unique"], project, db_env)
    fields = ["title:str:200", "slug:str:120:lookup", "body:text", "published:bool", "rating:int:optional"]
    fields += ["author:fk:users", "editor:fk:users:optional"]  # a second reference to the same table
    fields += ["tags:m2m:tags"]
    out = _ok([PYTHON, "-m", "pgbe.cli", "new", "resource", "Article", *fields], project, db_env)
    assert "review the migration" in out
    revisions = list((project / "migrations" / "versions").glob("*_add_articles.py"))
    assert len(revisions) == 1
    migration = revisions[0].read_text()
    assert 'op.create_table(\n        "articles"' in migration
    assert 'op.create_table(\n        "article_tags"' in migration
    for name in ("app/models/article.py", "app/schemas/article.py", "app/controllers/article.py"):
        assert (project / name).is_file(), name
    resources = (project / "app" / "resources.py").read_text()
    assert "RESOURCES.append(articles)" in resources
    assert 'lookup="slug"' in resources
    # comments -> articles -> users: the test data follows the chain of required references
    fields = ["body:text", "article:fk:articles", "author:fk:users"]
    _ok([PYTHON, "-m", "pgbe.cli", "new", "resource", "Comment", *fields], project, db_env)
    for table in ("tags", "articles", "comments"):
        test_text = (project / "tests" / f"test_{table}.py").read_text()
        # rows they refer to are made from the migrated schema when the test runs, not from a copy
        assert "INSERT INTO" not in test_text
        assert "hashed_password" not in test_text
    out = _ok([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider"], project, env)
    assert "25 passed" in out  # 7 of the project + 6 each of tags, articles and comments
    _ok([PYTHON, "-m", "alembic", "upgrade", "head"], project, db_env)
    _ok([PYTHON, "-m", "alembic", "check"], project, db_env)
    _lint(project, env, tmp_path / "mypy-cache")
    # Asked again, the generator refuses and writes nothing.
    again = _run([PYTHON, "-m", "pgbe.cli", "new", "resource", "Article", "title:str"], project, db_env)
    assert again.returncode == 1
    assert again.stderr.strip().splitlines() == [
        "error: table 'articles' already exists: choose another resource name"
    ]


def test_new_resource_unknown_foreign_table_refused_with_one_line(
    project: Path, test_server: TestServer
) -> None:
    result = _run(
        [PYTHON, "-m", "pgbe.cli", "new", "resource", "Note", "text:str", "owner:fk:people"],
        project,
        _env(test_server),
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: field 'owner': no table 'people' (tables: login_throttles, refresh_tokens, users)"
    ]
    assert not (project / "app" / "models" / "note.py").exists()


def test_new_resource_without_resources_list_refused_before_writing(
    project: Path, test_server: TestServer
) -> None:
    resources = project / "app" / "resources.py"
    resources.write_text(
        resources.read_text().replace("RESOURCES: list[Resource] = [users]", "RESOURCES = (users,)")
    )
    result = _run(
        [PYTHON, "-m", "pgbe.cli", "new", "resource", "Note", "text:str"], project, _env(test_server)
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: app/resources.py must define a RESOURCES list (RESOURCES: list[Resource] = [...])"
    ]
    assert not (project / "app" / "models" / "note.py").exists()
