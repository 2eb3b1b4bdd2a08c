"""The migration linter: squawk on each revision's SQL plus pgbe's rename checks, and `pgbe db lint`."""

from __future__ import annotations

from pathlib import Path

import pytest

from pgbe.migrations import head_revisions
from pgbe.migrations.lint import Finding, lint, main, read_exceptions
from pgbe.testing.migrations import copy_project, run_cli, write_revision

ROOT = Path(__file__).resolve().parents[2]

# One hazard per revision, chained after the project's head: (revision, upgrade body, expected rules).
UNSAFE = [
    (
        "u_index",
        'op.create_index("ix_products_price", "products", ["price"])',
        {"require-concurrent-index-creation"},
    ),
    (
        "u_notnull",
        'op.add_column("products", sa.Column("stock", sa.Integer(), nullable=False))',
        {"adding-required-field"},
    ),
    ("u_type", 'op.alter_column("products", "price", type_=sa.BigInteger())', {"changing-column-type"}),
    (
        "u_check",
        'op.create_check_constraint("ck_products_price_positive", "products", "price >= 0")',
        {"constraint-missing-not-valid"},
    ),
    (
        "u_rename",
        'op.drop_column("categories", "description")\n'
        'op.add_column("categories", sa.Column("summary", sa.String(500), nullable=True))',
        {"drop-add-pair", "drop-mapped-column", "ban-drop-column"},
    ),
    (
        "u_mapped",
        'op.alter_column("products", "name", new_column_name="title")',
        {"rename-mapped-column", "renaming-column"},
    ),
]

SAFE_BODY = """
with op.get_context().autocommit_block():
    op.create_index(
        "ix_products_price", "products", ["price"], postgresql_concurrently=True, if_not_exists=True
    )
op.add_column("products", sa.Column("stock", sa.Integer(), server_default="0", nullable=False))
op.create_check_constraint(
    "ck_products_price_positive", "products", "price >= 0", postgresql_not_valid=True
)
op.execute("ALTER TABLE products VALIDATE CONSTRAINT ck_products_price_positive")
"""


def _head() -> str:
    (head,) = head_revisions(ROOT)
    return head


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project whose migrations a test may extend."""
    return copy_project(ROOT, tmp_path / "project")


def _problems(findings: list[Finding], revision: str) -> set[str]:
    return {f.rule for f in findings if f.revision == revision and f.allowed is None}


def test_migration_lint_project_history_passes() -> None:
    findings = lint(ROOT)

    assert [f for f in findings if f.allowed is None] == []
    assert all(f.allowed for f in findings)  # every exception carries its reason


def test_migration_lint_unsafe_revisions_flagged_each_with_its_safe_way(project: Path) -> None:
    down = _head()
    for revision, body, _ in UNSAFE:
        write_revision(project / "migrations" / "versions", revision, down, body)
        down = revision

    findings = lint(project)

    for revision, _, expected in UNSAFE:
        assert _problems(findings, revision) == expected, revision
    by_rule = {f.rule: f for f in findings}
    assert "CONCURRENTLY" in by_rule["require-concurrent-index-creation"].safe_way
    assert "backfill" in by_rule["adding-required-field"].safe_way
    assert "expand/contract" in by_rule["changing-column-type"].safe_way
    assert "NOT VALID" in by_rule["constraint-missing-not-valid"].safe_way
    assert "alter_column" in by_rule["drop-add-pair"].safe_way
    assert "categories: drops description and adds summary" in by_rule["drop-add-pair"].message
    assert by_rule["require-concurrent-index-creation"].statement.startswith("CREATE INDEX ix_products_price")
    assert by_rule["require-concurrent-index-creation"].path.name == "2099_01_01_0000-u_index_test.py"
    assert main(project) == 1


def test_migration_lint_safe_patterns_pass(project: Path) -> None:
    write_revision(project / "migrations" / "versions", "s_safe", _head(), SAFE_BODY)

    findings = lint(project)

    assert _problems(findings, "s_safe") == set()
    assert main(project) == 0


def test_migration_lint_justified_exception_allows_only_its_rule(project: Path) -> None:
    versions = project / "migrations" / "versions"
    comment = "# migration-lint: allow require-concurrent-index-creation -- products holds a few rows"
    write_revision(versions, "e_ok", _head(), UNSAFE[0][1], comments=comment)
    write_revision(
        versions, "e_noreason", "e_ok", UNSAFE[2][1], comments="# migration-lint: allow changing-column-type"
    )
    write_revision(
        versions, "e_unused", "e_noreason", "pass", comments="# migration-lint: allow ban-drop-column -- no"
    )

    findings = lint(project)

    allowed = [f for f in findings if f.revision == "e_ok"]
    assert [(f.rule, f.allowed) for f in allowed] == [
        ("require-concurrent-index-creation", "products holds a few rows")
    ]
    assert _problems(findings, "e_noreason") == {"changing-column-type", "exception-without-reason"}
    assert _problems(findings, "e_unused") == {"unused-exception"}


def test_read_exceptions_reason_continues_on_following_comment_lines() -> None:
    source = "# migration-lint: allow a-rule, b-rule -- first part\n# second part\n\ndef upgrade(): ...\n"

    assert read_exceptions(source) == {"a-rule": "first part second part", "b-rule": "first part second part"}


def test_pgbe_db_lint_cli_exit_status_follows_findings(project: Path, database_url: str) -> None:
    passing = run_cli("pgbe", "db", "lint", cwd=ROOT, url=database_url)
    assert "no migration hazards found" in passing.stdout
    assert "allowed: renaming-column in revision 0003" in passing.stdout

    write_revision(project / "migrations" / "versions", "u_index", _head(), UNSAFE[0][1])
    failing = run_cli("pgbe", "db", "lint", cwd=project, url=database_url, check=False)

    assert failing.returncode == 1
    assert (
        "2099_01_01_0000-u_index_test.py (revision u_index): require-concurrent-index-creation"
        in failing.stdout
    )
    assert "safe way: create it CONCURRENTLY" in failing.stdout
    assert "1 problem(s) in 1 revision(s)" in failing.stdout


def test_migration_lint_squawk_error_exits_two_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(ROOT, pg_version="not-a-version")

    assert status == 2
    assert capsys.readouterr().err.startswith("error: squawk failed: error: invalid value 'not-a-version'")
