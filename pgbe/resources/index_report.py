"""The findings of the index check: what is missing, the index that settles it, and the report."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

Level = Literal["missing", "partial", "unindexable"]


@dataclass(frozen=True, slots=True)
class IndexPlan:
    """An index to add: its table, its keys (column, descending) and method / operator class."""

    table: str
    keys: tuple[tuple[str, bool], ...]
    method: str = "btree"
    opclass: str | None = None

    @property
    def name(self) -> str:
        """`ix_<table>_<columns>`, with `_trgm` / `_pattern` for an operator class, `_desc` per DESC key."""
        parts = [f"{column}_desc" if desc else column for column, desc in self.keys]
        suffix = {"gin_trgm_ops": "_trgm", "text_pattern_ops": "_pattern"}.get(self.opclass or "", "")
        return f"ix_{self.table.replace('.', '_')}_{'_'.join(parts)}{suffix}"

    def covers(self, other: IndexPlan) -> bool:
        """Tell whether this index serves everything `other` would (same kind, `other`'s keys first)."""
        same_kind = (self.table, self.method, self.opclass) == (other.table, other.method, other.opclass)
        return same_kind and self.keys[: len(other.keys)] == other.keys

    @property
    def sql(self) -> str:
        """The statement that creates it without blocking writes."""
        keys = ", ".join(
            f"{column}{' ' + self.opclass if self.opclass else ''}{' DESC' if desc else ''}"
            for column, desc in self.keys
        )
        using = "" if self.method == "btree" else f" USING {self.method}"
        return f"CREATE INDEX CONCURRENTLY {self.name} ON {self.table}{using} ({keys});"

    @property
    def model(self) -> str:
        """The model's `__table_args__` entry that declares it."""
        if self.opclass == "gin_trgm_ops":
            return f'trigram_index("{self.table}", "{self.keys[0][0]}")  # from pgbe.models'
        columns = ", ".join(f'text("{c} DESC")' if desc else f'"{c}"' for c, desc in self.keys)
        ops = f', postgresql_ops={{"{self.keys[0][0]}": "{self.opclass}"}}' if self.opclass else ""
        using = "" if self.method == "btree" else f', postgresql_using="{self.method}"'
        return f'Index("{self.name}", {columns}{using}{ops})'


@dataclass(frozen=True, slots=True)
class Finding:
    """An allow-listed sort or filter that no index serves (or serves partly), and what to add."""

    resource: str
    kind: Literal["sort", "filter"]
    field: str
    level: Level
    message: str
    operators: tuple[str, ...] = ()
    plan: IndexPlan | None = None

    @property
    def subject(self) -> str:
        """`GET /products sort=price`, or `... filter name (contains, icontains)`."""
        what = (
            f"sort={self.field}"
            if self.kind == "sort"
            else f"filter {self.field} ({', '.join(self.operators)})"
        )
        return f"GET {self.resource} {what}"


def plans(findings: Iterable[Finding]) -> dict[IndexPlan, list[Finding]]:
    """The indexes to add, each with the findings it settles; an index covered by another is merged in."""
    grouped: dict[IndexPlan, list[Finding]] = {}
    for finding in findings:
        if finding.plan is not None and finding.level == "missing":
            grouped.setdefault(finding.plan, []).append(finding)
    for plan in sorted(grouped, key=lambda p: len(p.keys)):
        wider = next((other for other in grouped if other is not plan and other.covers(plan)), None)
        if wider is not None:
            grouped[wider] += grouped.pop(plan)
    return grouped


def format_report(findings: Sequence[Finding], missing_tables: Iterable[str] = ()) -> str:
    """The findings as text: each index to add with what it serves, then partial and unindexable ones."""
    lines = [
        f"table {name} does not exist: apply the migrations (pgbe db upgrade)"
        for name in sorted(missing_tables)
    ]
    grouped = plans(findings)
    for plan, settled in grouped.items():
        lines.append(f"missing index: {plan.sql}")
        lines.append(f"    model: {plan.model}")
        lines += [f"    for {f.subject}: {f.message}" for f in settled]
    for f in findings:
        if f.level == "partial" and f.plan is not None:
            lines.append(f"partly served: {f.subject}: {f.message}; to serve it whole: {f.plan.sql}")
        elif f.level == "unindexable":
            lines.append(f"not indexable: {f.subject}: {f.message}")
    lines.append(
        f"{len(grouped)} index(es) missing for {sum(map(len, grouped.values()))} allow-listed"
        " sort(s) and filter(s)"
        if grouped
        else "every allow-listed sort and filter has an index"
    )
    return "\n".join(lines)


def missing(findings: Iterable[Finding]) -> list[Finding]:
    """The findings that call for an index (not the partial or unindexable ones)."""
    return [f for f in findings if f.level == "missing"]


__all__ = ["Finding", "IndexPlan", "Level", "format_report", "missing", "plans"]
