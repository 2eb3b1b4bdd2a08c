"""Costly lists: a time budget for each, and a bound on how many one worker runs at once.

A list filtered by a substring search (`contains`, `icontains`) costs what no index bounds: a short
text or one without a trigram reads every row, ILIKE per row in proportion to the text's length
(100 characters of `%_` take ~230 ms on 200k rows). So does a filter the start-up index check
(INDEX_CHECK) found no index for: a scan of the table. Such a list's statement gets a time budget
(FILTER_STATEMENT_TIMEOUT_MS), enforced by asyncpg's per-call `timeout=`, which cancels the
statement on the server and adds no statement; past it the answer is a 422 that says to narrow
the filter. And at most FILTER_MAX_CONCURRENCY of them are in flight per worker: beyond, 503 with
Retry-After at once, so that a crowd of such requests cannot hold every pooled connection and
starve the rest. Lists without such a filter take neither path.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from pgbe.db.errors import StatementBudgetExceeded
from pgbe.errors import ServiceUnavailableError
from pgbe.observability.metrics import record_shed
from pgbe.observability.sql import record
from pgbe.query.params import ListParams
from pgbe.resources.index_report import Finding
from pgbe.settings import PgbeSettings

SHED_REASON = "costly_list"  # pgbe_load_shed_total{reason="costly_list"}: refused, every slot taken
BUDGET_REASON = "filter_timeout"  # pgbe_load_shed_total{reason="filter_timeout"}: cut at the budget


class CostlyLists:
    """The budget and the slots of one application's costly lists, in this worker.

    One event loop per worker, so a plain counter is atomic between awaits.
    """

    def __init__(self, *, budget_ms: int, size: int, prepare: bool = True) -> None:
        self.budget_ms = budget_ms  # 0: no budget of its own
        self.size = size  # 0: no bound
        # behind PgBouncer asyncpg caches no statement: each one is planned for its values already
        self.prepare = prepare
        self.in_use = 0
        # Per resource path, the query parameters no index serves (`name__gt`), from the index check.
        self.unindexed: dict[str, frozenset[str]] = {}

    @classmethod
    def from_settings(cls, settings: PgbeSettings) -> CostlyLists:
        """FILTER_STATEMENT_TIMEOUT_MS and FILTER_MAX_CONCURRENCY."""
        return cls(
            budget_ms=settings.filter_statement_timeout_ms,
            size=settings.filter_max_concurrency,
            prepare=not settings.db_pgbouncer,
        )

    def filters_of(self, params: ListParams, path: str) -> list[str]:
        """The query parameters that make this list of resource `path` costly (none: an ordinary list)."""
        unindexed = self.unindexed.get(path, frozenset())
        costly = []
        for f in params.filters:
            key = f.operator.key(f.field.name)
            if f.operator.costly or key in unindexed:
                costly.append(key)
        return costly

    def mark_unindexed(self, findings: Iterable[Finding]) -> None:
        """Count as costly the filters the index check found no index for (`missing` findings)."""
        unindexed: dict[str, set[str]] = {}
        for finding in findings:
            if finding.kind == "filter" and finding.level == "missing":
                keys = (finding.field if op == "eq" else f"{finding.field}__{op}" for op in finding.operators)
                unindexed.setdefault(finding.resource, set()).update(keys)
        self.unindexed = {path: frozenset(keys) for path, keys in unindexed.items()}

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one slot for the block; 503 with Retry-After at once when every slot is taken."""
        if self.size and self.in_use >= self.size:
            record_shed(SHED_REASON)
            raise ServiceUnavailableError(
                "Too many lists with costly filters in progress (a substring search, or a filter no"
                " index serves); try again shortly",
                retry_after=1,
            )
        self.in_use += 1
        try:
            yield
        finally:
            self.in_use -= 1

    async def fetchrow(
        self, conn: asyncpg.Connection, sql: str, args: Sequence[Any], filters: Sequence[str]
    ) -> asyncpg.Record | None:
        """Run the list's statement within the budget; past it, StatementBudgetExceeded (a 422).

        The statement is prepared afresh, so PostgreSQL plans it for this request's values: how many
        rows a search text matches decides the plan (`read_sql._bounded_matches`), and a cached statement's
        generic plan, which PostgreSQL switches to after five runs, is made for no text at all (a
        rare text then cost 14 ms instead of 2.5 on 10,000 rows). It costs a round trip and a
        planning; the statement is closed with the connection's next use. Behind PgBouncer every
        statement is planned for its values already, and runs as it is.
        """
        budget = self.budget_ms / 1000 if self.budget_ms else None
        start = time.perf_counter()
        try:
            if not self.prepare:
                return await conn.fetchrow(sql, *args, timeout=budget)
            statement = await conn.prepare(sql, timeout=budget)
            left = None if budget is None else max(budget - (time.perf_counter() - start), 0.001)
            return await statement.fetchrow(*args, timeout=left)
        except TimeoutError as exc:
            record_shed(BUDGET_REASON)
            raise StatementBudgetExceeded(
                f"The filter {', '.join(filters)} took longer than the {self.budget_ms} ms a filtered"
                " list may take; narrow it (a longer search text, or another filter beside it)",
                field=filters[0] if filters else None,
            ) from exc
        finally:
            if self.prepare:  # one statement, as the request log counts them (fetchrow counts itself)
                record(sql, time.perf_counter() - start)


__all__ = ["BUDGET_REASON", "SHED_REASON", "CostlyLists"]
