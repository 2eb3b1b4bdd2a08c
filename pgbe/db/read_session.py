"""A Session that reads from a replica and writes to the primary (the `get_read_db` dependency).

Routed to the primary: flushes, INSERT/UPDATE/DELETE, `SELECT ... FOR UPDATE/SHARE`, raw SQL not
marked `execution_options(read_only=True)`, and everything after any of those in the same session
(sticky). Other statements go to one replica per session, chosen when first needed; a replica that
cannot be reached, lags too far or has not replayed the request's WAL position is passed over.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Delete, Engine, Insert, Select, Update, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, UOWTransaction

from pgbe.db.read_state import current_routing, mark_primary_used
from pgbe.db.replicas import Replica, ReplicaSet

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

READ_ONLY = "read_only"  # execution option: raw SQL that may run on a replica


class RoutingSession(Session):
    """Session whose reads go to a replica until it writes; then everything goes to the primary."""

    def __init__(self, *, primary: Engine, replicas: ReplicaSet, **kw: Any) -> None:
        super().__init__(**{**kw, "bind": primary})  # sessionmaker passes bind=None
        self.primary = primary
        self.replicas = replicas
        self._replica: Replica | None = None
        self._replica_chosen = False
        self.sticky = False

    def get_bind(self, mapper: Any = None, clause: Any = None, **kw: Any) -> Engine:  # noqa: ARG002 - Session's signature
        """Return the primary's engine for writes and after a write, else a replica's."""
        if self.sticky or self._flushing or not self._is_read(clause):
            self._stick()
            return self.primary
        replica = self._choose_replica()
        if replica is None:
            return self.primary
        return self.replicas.sync_engine(replica)

    def _is_read(self, clause: Any) -> bool:
        if clause is None or isinstance(clause, (Insert, Update, Delete)):
            return False
        if isinstance(clause, Select):
            return clause._for_update_arg is None
        options = getattr(clause, "_execution_options", None) or {}
        return bool(options.get(READ_ONLY, False))

    def _choose_replica(self) -> Replica | None:
        if not self._replica_chosen:
            routing = current_routing()
            if routing is not None and routing.wrote:
                self._replica = None
            else:
                min_lsn = routing.min_lsn if routing is not None else None
                self._replica = self.replicas.pick_sync(min_lsn)
            self._replica_chosen = True
        return self._replica

    def _stick(self) -> None:
        self.sticky = True
        mark_primary_used()

    def _connection_for_bind(self, engine: Any, execution_options: Any = None, **kw: Any) -> Connection:
        # The replica may die between status checks: fall back to the primary instead of failing.
        replica = self._replica
        if replica is None or replica.engine is None or engine is not replica.engine:
            return super()._connection_for_bind(engine, execution_options, **kw)
        try:
            return super()._connection_for_bind(engine, execution_options, **kw)
        except DBAPIError as exc:
            if not exc.connection_invalidated and not _is_connect_error(exc):
                raise
            replica.mark_down(exc)
            self._replica = None
            return super()._connection_for_bind(self.primary, execution_options, **kw)


def _is_connect_error(exc: DBAPIError) -> bool:
    import psycopg

    return isinstance(exc.orig, psycopg.OperationalError)


@event.listens_for(RoutingSession, "after_flush")
def _after_flush(session: Session, _flush_context: UOWTransaction) -> None:
    if isinstance(session, RoutingSession):
        session._stick()


__all__ = ["READ_ONLY", "RoutingSession"]
