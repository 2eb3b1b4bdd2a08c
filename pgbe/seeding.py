"""Demo data: idempotent seed steps and a runner with a progress bar that stays clean in logs."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from sqlalchemy import func, select
from sqlalchemy.orm import Session

Row = TypeVar("Row")
M = TypeVar("M")


@dataclass(frozen=True)
class SeedStep(Generic[Row]):
    """One kind of demo row: its label, the rows, and how to add one (True when it was missing)."""

    label: str
    rows: Sequence[Row]
    add: Callable[[Session, Row], bool]


def get_or_create(
    db: Session, model: type[M], *, lookup: Mapping[str, Any], defaults: Mapping[str, Any] | None = None
) -> tuple[M, bool]:
    """Return the row matching `lookup`, creating it from `lookup` + `defaults` when absent."""
    stmt = select(model).filter_by(**lookup).limit(1)
    existing = db.scalars(stmt).first()
    if existing is not None:
        return existing, False
    obj = model(**{**lookup, **(defaults or {})})
    db.add(obj)
    db.flush()
    return obj, True


def is_empty(db: Session, tables: Iterable[Any]) -> bool:
    """Tell whether every one of `tables` holds no rows."""
    return all(db.scalar(select(func.count()).select_from(table)) == 0 for table in tables)


def run_steps(
    db: Session, steps: Sequence[SeedStep[Any]], *, console: Console | None = None
) -> dict[str, int]:
    """Apply every step in one transaction and return how many rows each step created.

    On a terminal a progress bar is drawn; otherwise (CI, a log file) one plain line per step is
    printed, without colour codes or carriage returns.
    """
    out = console or Console()
    created: dict[str, int] = {}
    try:
        if out.is_terminal:
            columns = (TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn())
            with Progress(*columns, console=out) as progress:
                for step in steps:
                    task = progress.add_task(step.label, total=len(step.rows))
                    created[step.label] = _apply(db, step, functools.partial(progress.advance, task))
        else:
            for step in steps:
                created[step.label] = _apply(db, step, lambda: None)
                out.print(
                    f"seeded {step.label}: {created[step.label]} created, {len(step.rows)} in total",
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )
        db.commit()
    except BaseException:
        db.rollback()
        raise
    return created


def _apply(db: Session, step: SeedStep[Any], advance: Callable[[], None]) -> int:
    count = 0
    for row in step.rows:
        if step.add(db, row):
            count += 1
        advance()
    return count
