"""The write statements of a resource: create, update, delete and actions, one statement each.

Every statement returns what its answer needs in the same snapshot: the row's JSON, its version,
whether the item exists for the caller (`found`: 404 or not) and whether the caller may change it
(`allowed`: 403 or not). Link rows (`tag_ids`, a tag list) are written by data-modifying CTEs of the
same statement; what they change is shown from the request's values, since a statement does not see
its own CTEs' rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Table,
    any_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal,
    literal_column,
    null,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.dialects.postgresql import insert as pg_insert

from pgbe.auth.refresh import session_insert
from pgbe.query.computed import CallerIn, Count, Pluck, caller
from pgbe.resources.json_sql import read_plan
from pgbe.resources.statements import Access, Target, guard_once, parent_key
from pgbe.writes import Link

_EMPTY_ARRAY: ColumnElement[Any] = literal_column("'[]'::json")


def _value(t: Target, key: str, value: Any) -> Any:
    if isinstance(value, ColumnElement):
        return value
    return bindparam(f"v_{key}", value, type_=t.table.c[key].type)


def _pairs(link: Link) -> tuple[Any, Any, Any, Any]:
    """(parent key column, link column to the parent, target key column, link column to the target)."""
    rel = link.relationship
    ((parent, link_parent),) = rel.synchronize_pairs
    ((target, link_target),) = rel.secondary_synchronize_pairs or ()
    return parent, link_parent, target, link_target


def _param(link: Link) -> Any:
    target = link.relationship.mapper.local_table
    return bindparam(f"l_{link.key}", type_=ARRAY(target.c[link.by].type))


def _targets(link: Link) -> Any:
    """A subquery of `(value, target key)`: every given value with the key of its row (NULL if none).

    A value with no row makes the link insert fail on its NOT NULL column, so the whole statement
    fails and nothing is written (a conflict naming the link field).
    """
    rel = link.relationship
    _, _, target_col, _ = _pairs(link)
    param = _param(link)
    values = select(func.unnest(param).label("value")).distinct().subquery(f"values_{link.key}")
    if link.by_primary_key:
        return select(values.c.value, values.c.value.label("target")).subquery(f"targets_{link.key}")
    table = cast(Table, rel.mapper.local_table)
    by, key = table.c[link.by], table.c[target_col.name]
    known: Any = select(by.label("value"), key.label("target")).where(by == any_(param))
    if link.create_missing:
        new = (
            pg_insert(table)
            .from_select([by.name], select(values.c.value))
            .on_conflict_do_nothing()
            .returning(by.label("value"), key.label("target"))
            .cte(f"new_{link.key}")
        )
        known = union_all(select(new.c.value, new.c.target), known)
    found = known.subquery(f"known_{link.key}")
    joined = values.outerjoin(found, found.c.value == values.c.value)
    return select(values.c.value, found.c.target).select_from(joined).subquery(f"targets_{link.key}")


def _link_ctes(t: Target, row: Any, links: Mapping[str, Sequence[Any]], *, replace: bool) -> list[Any]:
    ctes = []
    for key in links:
        link = t.links[key]
        parent, link_parent, _, link_target = _pairs(link)
        table = cast(Table, link.relationship.secondary)
        targets = _targets(link)
        rows = select(row.c[parent.name], targets.c.target)
        add = pg_insert(table).from_select([link_parent.name, link_target.name], rows)
        ctes.append((add.on_conflict_do_nothing() if replace else add).cte(f"add_{key}"))
        if replace:
            gone = delete(table).where(
                table.c[link_parent.name].in_(select(row.c[parent.name])),
                table.c[link_target.name].not_in(
                    select(targets.c.target).where(targets.c.target.is_not(None))
                ),
            )
            ctes.append(gone.cte(f"drop_{key}"))
    return ctes


def _link_overrides(t: Target, links: Mapping[str, Sequence[Any]]) -> dict[str, ColumnElement[Any]]:
    """The JSON of fields that show a link the statement sets, from the values sent (sorted, each once).

    The statement's own snapshot does not see the link rows it writes, so a count of the linked
    relationship, and a list of one column of its rows (`tag_ids`, `tagList`), are answered from the
    values sent (the link replaces the relationship's rows); only a list of another column of rows
    the statement creates (`create_missing`) still shows the rows linked before.
    """
    found: dict[str, ColumnElement[Any]] = {}
    for field in read_plan(t.mapper, t.read, t.resource.computed):
        marker = field.computed
        if not isinstance(marker, Pluck | Count):
            continue
        sent = [t.links[key] for key in links if t.links[key].relationship.key == marker.relationship]
        if not sent:
            continue
        link = sent[0]
        values = select(func.unnest(_param(link)).label("v")).distinct().subquery()
        if isinstance(marker, Count):
            found[field.name] = select(func.count()).select_from(values).scalar_subquery()
        elif marker.column == link.by:
            agg = func.json_agg(aggregate_order_by(values.c.v, values.c.v))
            found[field.name] = select(func.coalesce(agg, _EMPTY_ARRAY)).scalar_subquery()
        elif not link.create_missing:  # another column of the targets, which exist already
            target = link.relationship.mapper.local_table.alias()
            value = target.c[link.relationship.mapper.columns[marker.column].name]
            agg = func.json_agg(aggregate_order_by(value, value))
            chosen = target.c[link.relationship.mapper.columns[link.by].name] == any_(_param(link))
            found[field.name] = select(func.coalesce(agg, _EMPTY_ARRAY)).where(chosen).scalar_subquery()
    return found


def insert_row(
    t: Target,
    data: Mapping[str, Any],
    links: Mapping[str, Sequence[Any]],
    access: Access,
    *,
    sign_up: bool = False,
) -> Any:
    """INSERT ... RETURNING json, key, version; a nested row takes its parent's key in the same statement.

    `sign_up`: the new row is an account, and the statement also opens a sign-in session for it
    (`pgbe.auth.refresh.session_insert`), answering the account's id and role after the session
    check (the id NULL when no session was opened: an inactive account).
    """
    table = t.table
    values = {k: _value(t, k, v) for k, v in data.items()}
    parent_column = t.resource.parent_column
    session = guard_once(access)
    conditions = [session] if access.guarded else []
    if parent_column is not None:
        key = parent_key(t.resource, 0, access.parents)
        values[parent_column] = key
        conditions.append(key.is_not(None))
    if conditions:  # a failed session check or a missing parent: nothing inserted, one answer row
        source = select(*(value.label(name) for name, value in values.items())).where(*conditions)
        stmt: Any = insert(table).from_select(list(values), source)
    else:
        stmt = insert(table).values(values)
    overrides = _link_overrides(t, links)
    # RETURNING cannot correlate a subquery (an embedded author) to the new row: select from a CTE
    row = stmt.returning(*table.c).cte("row")
    result = select(
        select(t.wrap(t.json(row.c, overrides=overrides))).scalar_subquery(),
        select(row.c[t.lookup.name]).scalar_subquery(),
        select(t.version_of(row.c)).scalar_subquery(),
        session,
    )
    if sign_up:
        opened = session_insert(select(row.c[t.pk.name]).where(row.c.is_active)).cte("opened")
        result = result.add_columns(
            select(opened.c.user_id).scalar_subquery(), select(row.c.role).scalar_subquery()
        )
    for cte in _link_ctes(t, row, links, replace=False):
        result = result.add_cte(cte)
    return result


def _target(t: Target, access: Access) -> Any:
    """The item of the path as the caller sees it, with whether the caller passes the row rule."""
    table = t.table
    allowed = t.allowed(table.c, access).label("allowed")
    return select(t.pk.label("pk"), allowed).where(*t.item(table.c, access)).cte("target")


def _matched(t: Target, access: Access, check_version: bool) -> tuple[list[Any], Any, Any]:
    """The rows a change touches, and whether the item exists (`found`) and may be changed (`allowed`).

    Without a row rule or a version check the item's conditions suffice (a missing row is a 404);
    with one, the item is looked up once in a CTE, so 404, 403 and 412 are told apart.
    """
    if not check_version and access.rule is None:
        return t.item(t.table.c, access), null(), true()
    target = _target(t, access)
    matched = [t.pk.in_(select(target.c.pk).where(target.c.allowed)), *_version_check(t, check_version)]
    return matched, exists(select(target.c.pk)), select(target.c.allowed).scalar_subquery()


def _version_check(t: Target, check_version: bool) -> list[ColumnElement[bool]]:
    if not check_version:
        return []
    return [t.table.c.version == any_(bindparam("versions", type_=ARRAY(Integer)))]


def update_row(
    t: Target,
    data: Mapping[str, Any],
    links: Mapping[str, Sequence[Any]],
    access: Access,
    *,
    check_version: bool,
) -> Select[Any]:
    """UPDATE ... RETURNING json, version, found, allowed (404, 403 and 412 told apart in one snapshot)."""
    table = t.table
    values = {k: _value(t, k, v) for k, v in data.items()}
    if "updated_at" in table.c:
        values["updated_at"] = func.now()
    if t.versioned:
        values["version"] = table.c.version + 1
    matched, found, allowed = _matched(t, access, check_version)
    session = guard_once(access)
    if access.guarded:
        matched.append(session)
    row = update(table).where(*matched).values(values).returning(*table.c).cte("row")
    body = select(t.wrap(t.json(row.c, overrides=_link_overrides(t, links)))).scalar_subquery()
    version = select(t.version_of(row.c)).scalar_subquery()
    result = select(body, version, found, allowed, session)
    for cte in _link_ctes(t, row, links, replace=True):
        result = result.add_cte(cte)
    return result


def delete_row(t: Target, access: Access, *, check_version: bool) -> Select[Any]:
    """DELETE ... and say whether a row was deleted, whether it existed and whether it was allowed."""
    table = t.table
    matched, found, allowed = _matched(t, access, check_version)
    session = guard_once(access)
    if access.guarded:
        matched.append(session)
    row = delete(table).where(*matched).returning(t.pk).cte("row")
    deleted = select(func.count()).select_from(row).scalar_subquery()
    return select(deleted, found, allowed, session)


def link_row(t: Target, relationship: str, access: Access, *, add: bool) -> Select[Any]:
    """Add (or take out) the caller in a many-to-many relationship of the item; answer the item.

    Computed fields over that relationship answer the new state: its count moves by the rows the
    statement changed, the caller's flag is what was asked.
    """
    table = t.table
    rel = t.mapper.relationships[relationship]
    (_, link_parent), *_ = rel.synchronize_pairs
    (_, link_target), *_ = rel.secondary_synchronize_pairs or [(None, None)]
    link = cast(Table, rel.secondary)
    target = _target(t, access)
    session = guard_once(access)
    live = [session] if access.guarded else []
    permitted = select(target.c.pk).where(target.c.allowed, *live)
    if add:
        rows = select(target.c.pk, caller()).where(target.c.allowed, *live)
        change: Any = (
            pg_insert(link)
            .from_select([link_parent.name, link_target.name], rows)
            .on_conflict_do_nothing()
            .returning(literal(1).label("changed"))
        )
    else:
        change = (
            delete(link)
            .where(link.c[link_parent.name].in_(permitted), link.c[link_target.name] == caller())
            .returning(literal(1).label("changed"))
        )
    changed = change.cte("change")
    moved = select(func.count()).select_from(changed).scalar_subquery()
    overrides: dict[str, ColumnElement[Any]] = {}
    for field in read_plan(t.mapper, t.read, t.resource.computed):
        marker = field.computed
        if isinstance(marker, Count) and marker.relationship == relationship:
            count = marker.expression(t.mapper, table.c)
            overrides[field.name] = count + moved if add else count - moved
        elif isinstance(marker, CallerIn) and marker.path == relationship:
            overrides[field.name] = literal(add)
    item = table.c[t.pk.name] == select(target.c.pk).where(target.c.allowed).scalar_subquery()
    body = select(t.wrap(t.json(table.c, overrides=overrides))).where(item).scalar_subquery()
    version = select(t.version_of(table.c)).where(item).scalar_subquery()
    found = exists(select(target.c.pk))
    allowed = select(target.c.allowed).scalar_subquery()
    return select(body, version, found, allowed, session).add_cte(changed)
