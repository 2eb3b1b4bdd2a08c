"""Parse a list request's query string against a resource's allow-lists."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pgbe.errors import ValidationError
from pgbe.query.spec import FilterField, QuerySpec
from pgbe.query.values import escape_like, parse_bool

INT4_MAX = 2**31 - 1
MAX_IN_VALUES = 1000
MAX_FILTERS = 20
RESERVED = frozenset({"skip", "limit", "sort", "include"})


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
    op: str
    value: Any

    @property
    def shape(self) -> str:
        """The part of the SQL text this condition decides (values excluded, `isnull` included)."""
        return (
            f"{self.field.name}__isnull={self.value}"
            if self.op == "isnull"
            else f"{self.field.name}__{self.op}"
        )


@dataclass(frozen=True, slots=True)
class ListParams:
    """A parsed list request: page, filters, sort order and included relations."""

    skip: int
    limit: int
    filters: tuple[Filter, ...] = ()
    sort: tuple[tuple[str, bool], ...] = ()
    includes: tuple[str, ...] = ()

    @property
    def shape(self) -> tuple[Any, ...]:
        """Everything that changes the SQL text; equal shapes share one compiled statement."""
        return (tuple(f.shape for f in self.filters), self.sort, self.includes)

    def bind_values(self) -> dict[str, Any]:
        """The statement's parameter values by name (`f0`, `f1`, ..., `skip`, `limit`)."""
        values: dict[str, Any] = {f"f{i}": f.value for i, f in enumerate(self.filters) if f.op != "isnull"}
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
    name, op = key, "eq"
    if "__" in key:
        name, _, op = key.rpartition("__")
    field = spec.filters.get(name)
    if field is None:
        raise query_error(key, "unknown query parameter", "extra_forbidden")
    if op not in field.operators:
        raise query_error(key, f"operator {op!r} is not allowed on {name!r}", "extra_forbidden")
    try:
        if op == "isnull":
            return Filter(field, op, parse_bool(raw))
        if op == "in":
            items = _csv(key, raw)
            if len(items) > MAX_IN_VALUES:
                raise query_error(key, f"at most {MAX_IN_VALUES} values")
            return Filter(field, op, [field.coerce(item) for item in items])
        value = field.coerce(raw)
    except (ValueError, TypeError) as exc:
        if isinstance(exc, ValidationError):
            raise
        raise query_error(key, str(exc) or "invalid value") from None
    if op == "contains" or op == "icontains":
        value = f"%{escape_like(value)}%"
    elif op == "startswith":
        value = f"{escape_like(value)}%"
    return Filter(field, op, value)


def _sort(spec: QuerySpec, raw: str) -> tuple[tuple[str, bool], ...]:
    seen: dict[str, bool] = {}
    for item in _csv("sort", raw):
        desc = item.startswith("-")
        name = item[1:] if desc else item
        if name not in spec.sort:
            raise query_error("sort", f"cannot sort by {name!r}; allowed: {', '.join(spec.sort)}")
        if name in seen:  # a repeated field adds nothing to the order: its first use counts
            continue
        seen[name] = desc
    return tuple(seen.items())


def _includes(spec: QuerySpec, raw: str) -> tuple[str, ...]:
    names = _csv("include", raw)
    for name in names:
        if name not in spec.includes:
            allowed = ", ".join(spec.includes) or "nothing"
            raise query_error("include", f"cannot include {name!r}; allowed: {allowed}")
    return tuple(sorted(set(names)))


def _declared_filters(spec: QuerySpec) -> int:
    return sum(len(field.operators) for field in spec.filters.values())


def parse_list_params(
    spec: QuerySpec,
    items: Iterable[tuple[str, str]],
    *,
    default_limit: int,
    max_limit: int,
) -> ListParams:
    """Parse `(name, value)` query items; unknown names and malformed values raise a 422 error."""
    skip, limit = 0, default_limit
    sort: tuple[tuple[str, bool], ...] = ()
    includes: tuple[str, ...] = ()
    filters: list[Filter] = []
    seen: set[str] = set()
    for key, raw in items:
        if "\x00" in key or "\x00" in raw:
            raise query_error(key.replace("\x00", ""), "must not contain NUL characters")
        if key in RESERVED:
            if key in seen:
                raise query_error(key, "given more than once")
            seen.add(key)
            if key == "skip":
                skip = _non_negative(key, raw, INT4_MAX)
            elif key == "limit":
                limit = _non_negative(key, raw, max_limit)
            elif key == "sort":
                sort = _sort(spec, raw)
            else:
                includes = _includes(spec, raw)
        else:
            filters.append(_filter(spec, key, raw))
            # every declared filter may be used once, even when there are more than MAX_FILTERS
            if len(filters) > MAX_FILTERS and len(filters) > _declared_filters(spec):
                raise query_error(key, f"at most {max(MAX_FILTERS, _declared_filters(spec))} filters")
    # A canonical order makes `a=1&b=2` and `b=2&a=1` one statement shape.
    filters.sort(key=lambda f: f.shape)
    return ListParams(skip, limit, tuple(filters), sort, includes)


def single_includes(spec: QuerySpec, items: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """Parse the query of a one-row request: only `include` is accepted."""
    includes: tuple[str, ...] = ()
    for key, raw in items:
        if key != "include" or "\x00" in raw:
            raise query_error(key.replace("\x00", ""), "unknown query parameter", "extra_forbidden")
        includes = _includes(spec, raw)
    return includes
