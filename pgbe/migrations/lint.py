"""Lint migrations for PostgreSQL lock hazards: squawk on each revision's SQL, plus rename checks.

Each revision's upgrade is rendered offline (`alembic upgrade <prev>:<rev> --sql`) and given to squawk,
the maintained linter for PostgreSQL migrations. pgbe adds what squawk cannot see from SQL alone: a
column dropped and another added in the same table (autogenerate's reading of a rename, which loses
the data), and dropping or renaming a column the models still map. A revision may allow a rule with a
justified comment: `# migration-lint: allow <rule> -- <why>`.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from alembic import command
from alembic.script import Script, ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import MetaData

from pgbe.extras import MissingExtraError
from pgbe.migrations import alembic_config

# squawk rules about type taste rather than locks; each exclusion says why.
EXCLUDED_RULES: dict[str, str] = {
    "prefer-bigint-over-int": "a type choice, not a lock hazard (the models use Integer, as the guide does)",
    "prefer-bigint-over-smallint": "a type choice, not a lock hazard",
    "prefer-identity": "SQLAlchemy renders Integer primary keys as SERIAL; a type choice, not a lock hazard",
    "prefer-text-field": "String(n) is the guide's type; widening a varchar is a catalog-only change",
}

SAFE_WAYS: dict[str, str] = {
    "require-concurrent-index-creation": "create it CONCURRENTLY outside the transaction: "
    "`with op.get_context().autocommit_block(): op.create_index(..., postgresql_concurrently=True, "
    "if_not_exists=True)`",
    "require-concurrent-index-deletion": "drop it CONCURRENTLY in an autocommit block "
    "(`op.drop_index(..., postgresql_concurrently=True)`)",
    "ban-concurrent-index-creation-in-transaction": "run CONCURRENTLY inside "
    "`with op.get_context().autocommit_block():`",
    "adding-required-field": "add the column nullable (or with a constant server_default), backfill it in "
    "batches (pgbe.batches.batched_update), then add CHECK (col IS NOT NULL) NOT VALID, VALIDATE it "
    "and SET NOT NULL",
    "adding-not-nullable-field": "add CHECK (col IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT in a separate "
    "step, then SET NOT NULL (PostgreSQL 12+ uses the validated check and skips the scan)",
    "changing-column-type": "expand/contract: add a column of the new type, write both, backfill in batches, "
    "move reads over, drop the old column in a later release",
    "constraint-missing-not-valid": "add the constraint NOT VALID (`postgresql_not_valid=True`), then "
    "VALIDATE CONSTRAINT in a separate transaction",
    "adding-foreign-key-constraint": "add the foreign key NOT VALID, then VALIDATE CONSTRAINT in a separate "
    "transaction",
    "disallowed-unique-constraint": "CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... UNIQUE USING "
    "INDEX",
    "adding-primary-key-constraint": "CREATE UNIQUE INDEX CONCURRENTLY, then ADD PRIMARY KEY USING INDEX",
    "adding-field-with-default": "add the column without a volatile default, then backfill in batches",
    "renaming-column": "expand/contract: add the new column, write both, backfill, move reads, drop the old "
    "one in a later release",
    "renaming-table": "expand/contract, or a view under the old name during the transition",
    "ban-drop-column": "contract last: stop reading and writing the column in one release, drop it in a "
    "later revision",
    "ban-drop-table": "stop using the table in one release, drop it in a later revision",
    "require-lock-timeout": "set DB_MIGRATION_LOCK_TIMEOUT_MS (migrations/env.py applies it)",
    "require-statement-timeout": "set DB_MIGRATION_STATEMENT_TIMEOUT_MS (migrations/env.py applies it)",
    "prefer-robust-stmts": "use IF [NOT] EXISTS so that a step outside a transaction can be retried",
    "drop-add-pair": "if this is a rename, write `op.alter_column(table, old, new_column_name=new)` by hand "
    "(or expand/contract); autogenerate reads renames as drop + add, which loses the column's data",
    "drop-mapped-column": "contract last: remove the column from the models and release that first, then "
    "drop it in a later revision",
    "rename-mapped-column": "expand/contract: add the new column beside the mapped one, backfill, move the "
    "code, drop the old column in a later release",
    "unused-exception": "delete the exception comment: the rule it allows does not fire in this revision",
}

_IDENT = r'(?:"[^"]+"|[\w$]+)(?:\.(?:"[^"]+"|[\w$]+))?'
_ALTER_COLUMN = re.compile(
    rf"^ALTER TABLE (?:ONLY )?(?:IF EXISTS )?(?P<table>{_IDENT}) (?P<verb>ADD|DROP) COLUMN "
    rf"(?:IF (?:NOT )?EXISTS )?(?P<column>{_IDENT})",
    re.IGNORECASE | re.MULTILINE,
)
_RENAME_COLUMN = re.compile(
    rf"^ALTER TABLE (?:ONLY )?(?:IF EXISTS )?(?P<table>{_IDENT}) RENAME (?:COLUMN )?(?P<old>{_IDENT}) "
    rf"TO (?P<new>{_IDENT})",
    re.IGNORECASE | re.MULTILINE,
)
_CREATE_TABLE = re.compile(rf"^CREATE TABLE (?:IF NOT EXISTS )?(?P<table>{_IDENT})", re.I | re.M)
_EXCEPTION = re.compile(r"#\s*migration-lint:\s*allow\s+(?P<rules>[\w\-, ]+?)\s*(?:--\s*(?P<why>.*))?$")


@dataclass(frozen=True)
class Finding:
    """One hazard in one revision; `allowed` holds the revision's justification when excepted."""

    revision: str
    path: Path
    rule: str
    message: str
    statement: str = ""
    source: str = "squawk"
    allowed: str | None = None

    @property
    def safe_way(self) -> str:
        """The safer way to make this change."""
        return SAFE_WAYS.get(self.rule, f"see https://squawkhq.com/docs/{self.rule}")


@dataclass
class RenderedRevision:
    """A revision and the SQL of its upgrade."""

    revision: str
    path: Path
    sql: str
    exceptions: dict[str, str] = field(default_factory=dict)


def _name(identifier: str) -> str:
    return identifier.rsplit(".", 1)[-1].strip('"')


def render_revisions(root: Path) -> tuple[list[RenderedRevision], MetaData | None]:
    """Render each revision's upgrade as offline SQL, base first; return them and the models' metadata."""
    config = alembic_config(root)
    scripts: list[Script] = list(reversed(list(ScriptDirectory.from_config(config).walk_revisions())))
    rendered = []
    for script in scripts:
        if isinstance(script.down_revision, tuple | list):
            continue  # a merge point: its parents are rendered on their own
        buffer = io.StringIO()
        config.output_buffer = buffer
        target = f"{script.down_revision}:{script.revision}" if script.down_revision else script.revision
        command.upgrade(config, target, sql=True)
        assert script.path is not None
        path = Path(script.path)
        rendered.append(
            RenderedRevision(script.revision, path, buffer.getvalue(), read_exceptions(path.read_text()))
        )
    metadata = config.attributes.get("target_metadata")
    return rendered, metadata if isinstance(metadata, MetaData) else None


def read_exceptions(source: str) -> dict[str, str]:
    """Return `{rule: justification}` from a revision's `# migration-lint: allow` comments.

    The justification may continue on the comment lines right below the marker.
    """
    allowed: dict[str, str] = {}
    lines = source.splitlines()
    for number, line in enumerate(lines):
        match = _EXCEPTION.search(line)
        if match is None:
            continue
        why = [(match["why"] or "").strip()]
        for following in lines[number + 1 :]:
            text = following.strip()
            if not text.startswith("#") or _EXCEPTION.search(text):
                break
            why.append(text.lstrip("# ").strip())
        for rule in re.split(r"[\s,]+", match["rules"].strip()):
            allowed[rule] = " ".join(part for part in why if part) if why[0] else ""
    return allowed


def squawk_binary() -> str:
    """Return the squawk executable beside this Python, else on PATH."""
    beside = Path(sys.executable).parent / "squawk"
    found = str(beside) if beside.exists() else shutil.which("squawk")
    if found is None:
        raise MissingExtraError("lint", "pgbe db lint (squawk)")
    return found


def run_squawk(revisions: Sequence[RenderedRevision], *, pg_version: str) -> list[Finding]:
    """Run squawk once over every revision's SQL and return its findings."""
    with tempfile.TemporaryDirectory(prefix="pgbe-lint-") as folder:
        files: dict[str, RenderedRevision] = {}
        for index, rev in enumerate(revisions):
            sql_file = Path(folder) / f"{index:04d}-{rev.revision}.sql"
            sql_file.write_text(rev.sql)
            files[str(sql_file)] = rev
        if not files:
            return []
        args = [squawk_binary(), "--reporter", "json", f"--pg-version={pg_version}"]
        args += [f"--exclude={rule}" for rule in EXCLUDED_RULES]
        done = subprocess.run([*args, *files], capture_output=True, text=True, check=False)  # noqa: S603
        try:
            reports = json.loads(done.stdout) if done.returncode in (0, 1) else None
        except json.JSONDecodeError:
            reports = None
        if not isinstance(reports, list):
            raise RuntimeError(f"squawk failed: {done.stderr.strip() or done.stdout.strip()}")
    findings = []
    for report in reports:
        rev = files[report["file"]]
        lines = rev.sql.splitlines()[report["line"] : report["line_end"] + 1]
        message = report["message"] + (f" {report['help']}" if report.get("help") else "")
        findings.append(
            Finding(rev.revision, rev.path, report["rule_name"], message, " ".join(x.strip() for x in lines))
        )
    return findings


def _later_recreates(later: Sequence[RenderedRevision], table: str, column: str) -> bool:
    for rev in later:
        for m in _ALTER_COLUMN.finditer(rev.sql):
            if m["verb"].upper() == "ADD" and (_name(m["table"]), _name(m["column"])) == (table, column):
                return True
        for m in _RENAME_COLUMN.finditer(rev.sql):
            if (_name(m["table"]), _name(m["new"])) == (table, column):
                return True
        if any(_name(m["table"]) == table for m in _CREATE_TABLE.finditer(rev.sql)):
            return True
    return False


def _mapped(metadata: MetaData | None, table: str, column: str) -> bool:
    return metadata is not None and table in metadata.tables and column in metadata.tables[table].c


def _pgbe(rev: RenderedRevision, rule: str, message: str, statement: str = "") -> Finding:
    return Finding(rev.revision, rev.path, rule, message, statement, "pgbe")


def check_columns(revisions: Sequence[RenderedRevision], metadata: MetaData | None) -> list[Finding]:
    """Find drop + add pairs in one table and revision, and drops or renames of still-mapped columns."""
    findings = []
    for position, rev in enumerate(revisions):
        later = revisions[position + 1 :]
        dropped: dict[str, list[str]] = {}
        added: dict[str, list[str]] = {}
        for m in _ALTER_COLUMN.finditer(rev.sql):
            table, column = _name(m["table"]), _name(m["column"])
            (added if m["verb"].upper() == "ADD" else dropped).setdefault(table, []).append(column)
            dropping = m["verb"].upper() == "DROP"
            if dropping and _mapped(metadata, table, column) and not _later_recreates(later, table, column):
                message = f"{table}.{column} is dropped but the models still map it."
                findings.append(_pgbe(rev, "drop-mapped-column", message, m[0]))
        for table, columns in dropped.items():
            if table in added:
                message = (
                    f"{table}: drops {', '.join(columns)} and adds {', '.join(added[table])} in one "
                    "revision; it looks like a rename and loses the dropped column's data."
                )
                findings.append(_pgbe(rev, "drop-add-pair", message))
        for m in _RENAME_COLUMN.finditer(rev.sql):
            table, old = _name(m["table"]), _name(m["old"])
            if _mapped(metadata, table, old) and not _later_recreates(later, table, old):
                message = f"{table}.{old} is renamed to {_name(m['new'])} but the models still map {old}."
                findings.append(_pgbe(rev, "rename-mapped-column", message, m[0]))
    return findings


def apply_exceptions(revisions: Sequence[RenderedRevision], findings: list[Finding]) -> list[Finding]:
    """Mark findings a revision allows with a reason; report reasonless or unused exceptions."""
    by_revision = {rev.revision: rev for rev in revisions}
    result = []
    fired: set[tuple[str, str]] = set()
    for finding in findings:
        rev = by_revision[finding.revision]
        why = rev.exceptions.get(finding.rule)
        fired.add((finding.revision, finding.rule))
        result.append(replace(finding, allowed=why) if why else finding)
    for rev in revisions:
        for rule, why in rev.exceptions.items():
            if not why:
                message = (
                    f"the exception for {rule} gives no reason (`# migration-lint: allow {rule} -- <why>`)."
                )
                result.append(_pgbe(rev, "exception-without-reason", message))
            elif (rev.revision, rule) not in fired:
                message = f"the exception for {rule} allows nothing: the rule does not fire here."
                result.append(_pgbe(rev, "unused-exception", message))
    return result


def lint(root: Path, *, pg_version: str = "15") -> list[Finding]:
    """Lint every revision of the project at `root`; allowed findings carry their justification."""
    root = root.resolve()
    revisions, metadata = render_revisions(root)
    findings = run_squawk(revisions, pg_version=pg_version) + check_columns(revisions, metadata)
    return apply_exceptions(revisions, findings)


def format_report(findings: Sequence[Finding], root: Path) -> str:
    """Return the findings as text: problems first, each with the safe way, then allowed exceptions."""
    lines = []
    problems = [f for f in findings if f.allowed is None]
    for f in problems:
        where = f.path.relative_to(root) if f.path.is_relative_to(root) else f.path
        lines.append(f"{where} (revision {f.revision}): {f.rule} [{f.source}]")
        lines.append(f"    {f.message}")
        if f.statement:
            lines.append(f"    statement: {f.statement}")
        lines.append(f"    safe way: {f.safe_way}")
    for f in findings:
        if f.allowed is not None:
            lines.append(f"allowed: {f.rule} in revision {f.revision} -- {f.allowed}")
    revisions = len({f.revision for f in problems})
    lines.append(
        f"{len(problems)} problem(s) in {revisions} revision(s)" if problems else "no migration hazards found"
    )
    return "\n".join(lines)


def main(root: Path, *, pg_version: str = "15") -> int:
    """Lint the project's migrations, print the report; return 1 on problems, 2 when linting failed."""
    root = root.resolve()
    try:
        findings = lint(root, pg_version=pg_version)
    except (CommandError, OSError, RuntimeError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    print(format_report(findings, root))  # noqa: T201 - the command's output
    return 1 if any(f.allowed is None for f in findings) else 0


__all__ = [
    "Finding",
    "RenderedRevision",
    "apply_exceptions",
    "check_columns",
    "format_report",
    "lint",
    "main",
    "read_exceptions",
    "render_revisions",
    "run_squawk",
    "squawk_binary",
]
