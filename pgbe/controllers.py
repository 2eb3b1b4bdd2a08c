"""BaseController: generic CRUD over a model, in the CRUDBase style the guide uses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar

from pydantic import BaseModel as Schema
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import DeclarativeBase, Session, selectinload

from pgbe.db.transactions import commit_or_flush
from pgbe.errors import ConflictError, NotFoundError
from pgbe.naming import label
from pgbe.query import ListParams, QuerySpec, order_by, where_clauses
from pgbe.writes import Link, ModelWrites, writes_for

ModelType = TypeVar("ModelType", bound=DeclarativeBase)
CreateSchemaType = TypeVar("CreateSchemaType", bound=Schema)
UpdateSchemaType = TypeVar("UpdateSchemaType", bound=Schema)


class BaseController(Generic[ModelType, CreateSchemaType, UpdateSchemaType]):
    """Create, read, update and delete rows of one model with a sync Session.

    Writes follow the model's write rules (`pgbe.writes`), as generated endpoints and the admin site
    do: its hooks run, managed columns are refused, `<relation>_ids` lists set many-to-many links
    (a missing target is a ConflictError naming the field). Keys of a dict that are neither columns
    nor links are ignored.
    """

    def __init__(self, model: type[ModelType]) -> None:
        self.model = model

    @property
    def writes(self) -> ModelWrites:
        """The model's write rules."""
        return writes_for(self.model)

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
        columns, links = self._prepare(obj_in, data, create=True)
        db_obj = self.model(**columns)
        self._apply_links(db, db_obj, links)
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
        columns, links = self._prepare(obj_in, data, create=False)
        for key, value in columns.items():
            setattr(db_obj, key, value)
        self._apply_links(db, db_obj, links)
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

    def _prepare(
        self, obj_in: Schema | Mapping[str, Any], data: dict[str, Any], *, create: bool
    ) -> tuple[dict[str, Any], dict[str, tuple[Link, list[Any]]]]:
        """Run the model's hook, then split columns from links (managed columns refused)."""
        writes = self.writes
        links = writes.links(type(obj_in)) if isinstance(obj_in, Schema) else writes.all_links()
        data = writes.prepare(data, None, create=create)
        columns, values = writes.split(data, links, ignore_unknown=True)
        return columns, {key: (links[key], ids) for key, ids in values.items()}

    def _apply_links(
        self, db: Session, db_obj: ModelType, links: Mapping[str, tuple[Link, list[Any]]]
    ) -> None:
        """Set many-to-many collections given as `<relation>_ids` lists (e.g. `tag_ids`)."""
        for key, (link, ids) in links.items():
            rel = link.relationship
            target = rel.mapper.class_
            by = getattr(target, link.by)
            rows = db.scalars(select(target).where(by.in_(ids))).all()
            if len(rows) != len(ids):
                missing = sorted(set(ids) - {getattr(r, link.by) for r in rows})
                raise ConflictError(f"{label(target.__name__)} not found: {missing}", field=key)
            setattr(db_obj, rel.key, list(rows))
