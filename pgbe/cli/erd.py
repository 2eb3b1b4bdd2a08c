"""`pgbe erd`: the entity-relationship diagram of the models, drawn by graphviz (PNG and SVG)."""

from __future__ import annotations

import html
import shutil
import subprocess
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Column, MetaData, Table
from sqlalchemy.dialects import postgresql

from pgbe.cli.output import fail
from pgbe.project import Project

_HEADER = "#336791"


def _column_row(column: Column[object]) -> str:
    marks = []
    if column.primary_key:
        marks.append("PK")
    if column.foreign_keys:
        marks.append("FK")
    if column.unique:
        marks.append("UQ")
    name = port = html.escape(column.name)
    if not column.nullable:
        name = f"<B>{name}</B>"
    return (
        f'<TR><TD ALIGN="LEFT" PORT="{port}">{name}</TD>'
        f'<TD ALIGN="LEFT">{_gray(_type_name(column), "#555555")}</TD>'
        f'<TD ALIGN="LEFT" PORT="{port}_out">{_gray(" ".join(marks), "#888888")}</TD></TR>'
    )


def _type_name(column: Column[object]) -> str:
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    return str(column.type.compile(dialect=dialect)).lower().replace(" with time zone", "tz")


def _gray(text: str, colour: str) -> str:
    return f'<FONT COLOR="{colour}">{html.escape(text)}</FONT>' if text else " "


def _table_node(table: Table) -> str:
    rows = "".join(_column_row(c) for c in table.columns)
    title = (
        f'<TR><TD COLSPAN="3" BGCOLOR="{_HEADER}"><FONT COLOR="white"><B>{table.name}</B></FONT></TD></TR>'
    )
    label = f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4">{title}{rows}</TABLE>>'
    return f'  "{table.name}" [label={label}];'


def to_dot(metadata: MetaData) -> str:
    """Return the Graphviz source of the tables and their foreign keys (bold columns: NOT NULL)."""
    lines = [
        "digraph erd {",
        '  graph [rankdir=LR, fontname="Helvetica", nodesep=0.6, ranksep=1.0];',
        '  node [shape=plaintext, fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9, color="#666666", arrowhead=crow, arrowtail=none];',
    ]
    tables = sorted(metadata.tables.values(), key=lambda t: t.name)
    lines.extend(_table_node(t) for t in tables)
    for table in tables:
        for fk in sorted(table.foreign_keys, key=lambda f: f.parent.name):
            one_to_one = fk.parent.unique or (fk.parent.primary_key and len(table.primary_key.columns) == 1)
            head = "tee" if one_to_one else "crow"
            lines.append(
                f'  "{fk.column.table.name}":"{fk.column.name}_out":e -> "{table.name}":"{fk.parent.name}":w '
                f'[arrowhead={head}, label="{fk.parent.name}"];'
            )
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(dot_source: str, output: Path) -> list[Path]:
    """Write `output`.png and `output`.svg with graphviz `dot`; return the paths."""
    binary = shutil.which("dot")
    if binary is None:
        fail("graphviz is not installed: apt-get install graphviz (or brew install graphviz)")
    output.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in ("png", "svg"):
        path = output.with_suffix(f".{fmt}")
        extra = ["-Gdpi=110"] if fmt == "png" else []
        result = subprocess.run(  # noqa: S603 - the resolved dot binary with fixed arguments
            [binary, f"-T{fmt}", *extra, "-o", str(path)], input=dot_source, text=True, capture_output=True
        )
        if result.returncode != 0:
            fail(
                f"dot failed: {result.stderr.strip().splitlines()[0] if result.stderr else result.returncode}"
            )
        written.append(path)
    return written


def erd(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Path without extension (relative: from the project root)")
    ] = Path("docs/erd"),
    dot: Annotated[bool, typer.Option("--dot", help="Print the Graphviz source instead")] = False,
) -> None:
    """Draw the entity-relationship diagram of the models as PNG and SVG (needs graphviz).

    Example: pgbe erd -o docs/erd   (writes docs/erd.png and docs/erd.svg)
    """
    project = Project.find()
    source = to_dot(project.base_model().metadata)
    if dot:
        typer.echo(source, nl=False)
        return
    target = output if output.is_absolute() else project.root / output
    for path in render(source, target):
        typer.echo(f"wrote {path}")
