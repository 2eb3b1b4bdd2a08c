"""Parse a list request's query string against a resource's allow-lists."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pgbe.errors import ValidationError
from pgbe.query.operators import MAX_IN_VALUES, Operator
from pgbe.query.spec import FilterField, QuerySpec

INT4_MAX = 2**31 - 1
MAX_FILTERS = 20
__all__ = ["INT4_MAX", "MAX_FILTERS", "MAX_IN_VALUES", "Filter", "ListParams", "parse_list_params"]


def query_error(name: str, message: str, kind: str = "value_error") -> ValidationError:
    """Return the 422 error for a bad query parameter."""
    return ValidationError(
        f"query.{name}: {message}",
        field=name,
        errors=[{"loc": ["query", name], "msg": message, "type": kind}],
    )


@dataclass(frozen=True, slots=True)
class Filter:
    """One parsed condition; `value` is already coerced (a LIKE pattern for the text operators)."""

    field: FilterField
    operator: Operator
    value: Any

    @property
    def op(self) -> str:
        """The operator's name."""
        return self.operator.name

    @property
    def shape(self) -> str:
        """The part of the SQL text this condition decides (values excluded, `isnull` included)."""
        key = f"{self.field.name}__{self.op}"
        if not self.operator.binds:
            return f"{key}={self.value}"
        return key + self.operator.variant(self.value) if self.operator.variant else key


@dataclass(frozen=True, slots=True)
class ListParams:
    """A parsed list request: page, filters, sort order and included relations."""

    skip: int
    limit: int
    filters: tuple[Filter, ...] = ()
    sort: tuple[tuple[str, bool], ...] = ()
    includes: tuple[str, ...] = ()
    count: str | None = None  # the count strategy asked for in the query (checked by the handler)
    cursor: str | None = None  # the opaque cursor of a keyset page (checked by the handler)

    @property
    def shape(self) -> tuple[Any, ...]:
        """Everything that changes the SQL text; equal shapes share one compiled statement."""
        return (tuple(f.shape for f in self.filters), self.sort, self.includes)

    def bind_values(self) -> dict[str, Any]:
        """The statement's parameter values by name (`f0`, `f1`, ..., `skip`, `limit`)."""
        values: dict[str, Any] = {f"f{i}": f.value for i, f in enumerate(self.filters) if f.operator.binds}
        values["skip"] = self.skip
        values["limit"] = self.limit
        return values


def _non_negative(name: str, raw: str, maximum: int) -> int:
    if not raw.isascii() or not raw.isdigit():
        raise query_error(name, "must be a non-negative integer", "int_parsing")
    if len(raw) > 12 or int(raw) > maximum:
        raise query_error(name, f"must be at most {maximum}", "less_than_equal")
    return int(raw)


def _csv(name: str, raw: str) -> list[str]:
    items = raw.split(",")
    if any(not item for item in items):
        raise query_error(name, "empty item in a comma-separated list")
    return items


def _filter(spec: QuerySpec, key: str, raw: str) -> Filter:
    parameter = spec.parameters.get(key)
    if parameter is None:
        name, _, op = key.rpartition("__")
        if name in spec.filters:
            raise query_error(key, f"operator {op!r} is not allowed on {name!r}", "extra_forbidden")
        raise query_error(key, "unknown query parameter", "extra_forbidden")
    try:
        value = parameter.operator.parse(parameter.field.value_type, raw)
    except (ValueError, TypeError) as exc:
        raise query_error(key, str(exc) or "invalid value") from None
    return Filter(parameter.field, parameter.operator, value)


def parse_sort(spec: QuerySpec, name: str, raw: str) -> tuple[tuple[str, bool], ...]:
    """Parse a `sort` value: allow-listed fields, `-` for descending, each field once."""
    seen: dict[str, bool] = {}
    for item in _csv(name, raw):
        desc = item.startswith("-")
        field = item[1:] if desc else item
        if field not in spec.sort:
            raise query_error(name, f"cannot sort by {field!r}; allowed: {', '.join(spec.sort)}")
        if field in seen:  # a repeated field adds nothing to the order: its first use counts
            continue
        seen[field] = desc
    return tuple(seen.items())


def includes_of(spec: QuerySpec, name: str, raw: str) -> tuple[str, ...]:
    """Parse an `include` value: allow-listed relationship names, sorted, each once."""
    names = _csv(name, raw)
    for include in names:
        if include not in spec.includes:
            allowed = ", ".join(spec.includes) or "nothing"
            raise query_error(name, f"cannot include {include!r}; allowed: {allowed}")
    return tuple(sorted(set(names)))


def parse_list_params(
    spec: QuerySpec,
    items: Iterable[tuple[str, str]],
    *,
    default_limit: int,
    max_limit: int,
    default_sort: tuple[tuple[str, bool], ...] = (),
    ignore_unknown: bool = False,
    max_skip: int | None = None,
) -> ListParams:
    """Parse `(name, value)` query items; unknown names and malformed values raise a 422 error.

    With `ignore_unknown`, parameters that are neither reserved nor filters are skipped instead.
    A `skip` above `max_skip` is a 422 that points to the cursor; a cursor with a `skip` too.
    """
    skip, limit = 0, default_limit
    sort = default_sort
    includes: tuple[str, ...] = ()
    verbatim: dict[str, str] = {}
    filters: list[Filter] = []
    seen: set[str] = set()
    declared = len(spec.parameters)
    for key, raw in items:
        if "\x00" in key or "\x00" in raw:
            raise query_error(key.replace("\x00", ""), "must not contain NUL characters")
        reserved = spec.reserved.get(key)
        if reserved is not None:
            if key in seen:
                raise query_error(key, "given more than once")
            seen.add(key)
            if reserved == "skip":
                skip = _non_negative(key, raw, INT4_MAX)
            elif reserved == "limit":
                limit = _non_negative(key, raw, max_limit)
            elif reserved == "sort":
                sort = parse_sort(spec, key, raw)
            elif reserved == "include":
                includes = includes_of(spec, key, raw)
            else:  # count, cursor: checked by the handler
                verbatim[reserved] = raw
        elif ignore_unknown and key not in spec.parameters:
            continue
        else:
            filters.append(_filter(spec, key, raw))
            # every declared filter may be used once, even when there are more than MAX_FILTERS
            if len(filters) > MAX_FILTERS and len(filters) > declared:
                raise query_error(key, f"at most {max(MAX_FILTERS, declared)} filters")
    cursor = verbatim.get("cursor")
    _check_skip(spec, skip, cursor, max_skip)
    # A canonical order makes `a=1&b=2` and `b=2&a=1` one statement shape.
    filters.sort(key=lambda f: f.shape)
    return ListParams(skip, limit, tuple(filters), sort, includes, verbatim.get("count"), cursor)


def _check_skip(spec: QuerySpec, skip: int, cursor: str | None, max_skip: int | None) -> None:
    """Refuse a `skip` beside a cursor, or deeper than `max_skip` (the cursor goes further)."""
    name, cursor_name = spec.public_name("skip"), spec.public_name("cursor")
    if skip and cursor is not None:
        raise query_error(name, f"cannot be combined with {cursor_name}")
    if max_skip is not None and skip > max_skip:
        raise query_error(
            name,
            f"must be at most {max_skip}; to page further, follow the `next` cursor"
            f" (the {cursor_name} parameter) of the previous page",
            "less_than_equal",
        )


def single_includes(spec: QuerySpec, items: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """Parse the query of a one-row request: only `include` is accepted."""
    includes: tuple[str, ...] = ()
    name = spec.public_name("include")
    for key, raw in items:
        if key != name or "\x00" in raw:
            raise query_error(key.replace("\x00", ""), "unknown query parameter", "extra_forbidden")
        includes = includes_of(spec, key, raw)
    return includes
