"""BaseController: generic CRUD over a model, in the CRUDBase style the guide uses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar

from pydantic import BaseModel as Schema
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import DeclarativeBase, Session, selectinload

from pgbe.db.transactions import commit_or_flush
from pgbe.errors import NotFoundError
from pgbe.naming import label, singularize
from pgbe.query import ListParams, QuerySpec, order_by, where_clauses

ModelType = TypeVar("ModelType", bound=DeclarativeBase)
CreateSchemaType = TypeVar("CreateSchemaType", bound=Schema)
UpdateSchemaType = TypeVar("UpdateSchemaType", bound=Schema)


class BaseController(Generic[ModelType, CreateSchemaType, UpdateSchemaType]):
    """Create, read, update and delete rows of one model with a sync Session."""

    def __init__(self, model: type[ModelType]) -> None:
        self.model = model

    @property
    def label(self) -> str:
        """The model's human name, for messages."""
        return label(self.model.__name__)

    def get(self, db: Session, id: Any) -> ModelType | None:
        """Return the row with this primary key, or None."""
        return db.get(self.model, id)

    def get_or_404(self, db: Session, id: Any) -> ModelType:
        """Return the row with this primary key or raise NotFoundError."""
        obj = self.get(db, id)
        if obj is None:
            raise NotFoundError(f"{self.label} {id} not found")
        return obj

    def get_multi(self, db: Session, *, skip: int = 0, limit: int = 100) -> Sequence[ModelType]:
        """Return a page of rows in primary-key order."""
        pk = self.model.__mapper__.primary_key[0]
        stmt = select(self.model).order_by(pk).offset(skip).limit(limit)
        return db.scalars(stmt).all()

    def get_page(
        self,
        db: Session,
        spec: QuerySpec,
        params: ListParams,
        *,
        where: Sequence[ColumnElement[bool]] = (),
    ) -> tuple[Sequence[ModelType], int]:
        """Return the rows of one page and the total, with the generated endpoints' filters and sort.

        `params` comes from `parse_list_params(resource.spec, ...)`, so a hand-written endpoint
        filters exactly as the generated one; included relationships are loaded eagerly.
        """
        conditions = [*where_clauses(params), *where]
        stmt = (
            select(self.model)
            .where(*conditions)
            .order_by(*order_by(spec, params))
            .offset(params.skip)
            .limit(params.limit)
            .options(*(selectinload(getattr(self.model, name)) for name in params.includes))
        )
        total = db.scalar(select(func.count()).select_from(self.model).where(*conditions)) or 0
        return db.scalars(stmt).all(), total

    def count(self, db: Session) -> int:
        """Return the number of rows."""
        return db.scalar(select(func.count()).select_from(self.model)) or 0

    def create(self, db: Session, *, obj_in: CreateSchemaType | Mapping[str, Any]) -> ModelType:
        """Insert a row from a schema or dict, commit (or flush inside `atomic`) and return it."""
        data = obj_in.model_dump() if isinstance(obj_in, Schema) else dict(obj_in)
        db_obj = self.model(**self._column_values(data))
        self._apply_relations(db, db_obj, data)
        db.add(db_obj)
        commit_or_flush(db)
        db.refresh(db_obj)
        return db_obj

    def update(
        self,
        db: Session,
        *,
        db_obj: ModelType,
        obj_in: UpdateSchemaType | Mapping[str, Any],
    ) -> ModelType:
        """Change only the fields that were set, commit (or flush inside `atomic`) and return the row."""
        data = obj_in.model_dump(exclude_unset=True) if isinstance(obj_in, Schema) else dict(obj_in)
        for key, value in self._column_values(data).items():
            setattr(db_obj, key, value)
        self._apply_relations(db, db_obj, data)
        db.add(db_obj)
        commit_or_flush(db)
        db.refresh(db_obj)
        return db_obj

    def remove(self, db: Session, *, id: Any) -> ModelType:
        """Delete the row with this primary key and return it; NotFoundError when absent."""
        obj = self.get_or_404(db, id)
        db.delete(obj)
        commit_or_flush(db)
        return obj

    def _column_values(self, data: Mapping[str, Any]) -> dict[str, Any]:
        columns = {c.key for c in self.model.__mapper__.column_attrs}
        return {k: v for k, v in data.items() if k in columns}

    def _apply_relations(self, db: Session, db_obj: ModelType, data: Mapping[str, Any]) -> None:
        """Set many-to-many collections given as `<relation>_ids` lists (e.g. `tag_ids`)."""
        for rel in self.model.__mapper__.relationships:
            key = f"{singularize(rel.key)}_ids"
            if rel.uselist and rel.secondary is not None and key in data and data[key] is not None:
                target = rel.mapper.class_
                ids = list(dict.fromkeys(data[key]))
                rows = db.scalars(select(target).where(target.__mapper__.primary_key[0].in_(ids))).all()
                if len(rows) != len(ids):
                    missing = sorted(set(ids) - {r.id for r in rows})
                    raise NotFoundError(f"{label(target.__name__)} not found: {missing}", field=key)
                setattr(db_obj, rel.key, list(rows))
