"""The base model machinery every project's BaseModel is built from."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import DDL, DateTime, Index, Integer, MetaData, Table, event, func, inspect
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from pgbe.naming import label, table_name

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def make_metadata() -> MetaData:
    """Return a MetaData with the constraint naming convention, so migrations name constraints."""
    return MetaData(naming_convention=NAMING_CONVENTION)


CREATE_TRIGRAM = DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm")  # type: ignore[no-untyped-call]  # untyped in SQLAlchemy


def trigram_index(table: str, column: str) -> Index:
    """A pg_trgm GIN index on `column`, for `__table_args__`: `contains`, `icontains` and `startswith` use it.

    LIKE / ILIKE '%text%' can use no B-tree; a trigram index finds the rows holding each three-letter
    piece of the text. Migrations create the extension (`CREATE EXTENSION IF NOT EXISTS pg_trgm`);
    `metadata.create_all` does it too, before the table.
    """
    index = Index(
        f"ix_{table}_{column}_trgm", column, postgresql_using="gin", postgresql_ops={column: "gin_trgm_ops"}
    )
    event.listen(index, "after_parent_attach", _create_trigram_first)
    return index


def _create_trigram_first(index: Index, table: Table) -> None:
    del index
    if not event.contains(table, "before_create", CREATE_TRIGRAM):
        event.listen(table, "before_create", CREATE_TRIGRAM)


class ModelMixin:
    """Integer id, plural table name, database-set timestamps and a readable repr."""

    __repr_fields__: ClassVar[tuple[str, ...]] = ()

    @declared_attr.directive
    @classmethod
    def __tablename__(cls) -> str:
        return table_name(cls.__name__)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, sort_order=-100)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False, sort_order=100
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True),
        server_default=func.now(),
        onupdate=func.now(),
        nullable=False,
        sort_order=101,
    )

    def __repr__(self) -> str:
        state = inspect(self)
        names = (
            self.__repr_fields__
            or tuple(c.key for c in state.mapper.column_attrs if c.key not in ("created_at", "updated_at"))[
                :3
            ]
        )
        # Only loaded values: a repr must never emit SQL (and works on detached objects).
        parts = [f"{name}={state.dict[name]!r}" if name in state.dict else f"{name}=…" for name in names]
        return f"<{type(self).__name__} {' '.join(parts)}>"

    def __str__(self) -> str:
        """Return a readable name (admin pages, related objects): name, title, full name or email."""
        state = inspect(self).dict
        for key in ("name", "title", "full_name", "email"):
            if state.get(key):
                return str(state[key])
        return f"{label(type(self).__name__)} #{state.get('id', 'new')}"

    def to_dict(self) -> dict[str, Any]:
        """Return the loaded column values keyed by attribute name."""
        state = inspect(self)
        return {c.key: getattr(self, c.key) for c in state.mapper.column_attrs}


class VersionedMixin:
    """A version column checked on every ORM update (optimistic locking) and exposed as ETag."""

    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1", sort_order=99)

    @declared_attr.directive
    @classmethod
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]
