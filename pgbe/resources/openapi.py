"""The documented signatures of generated routes, from which FastAPI writes their OpenAPI.

A generated route's endpoint is never called: it exists so that FastAPI documents every query
parameter, path parameter, header and body exactly as the handler parses them. Filter parameters
come from the operator table (`pgbe.query.operators`), the same rows the parser uses.
"""

from __future__ import annotations

import enum
import functools
import inspect
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Body, Header, Path, Query
from pydantic import BaseModel, StringConstraints
from sqlalchemy import BigInteger, Integer, SmallInteger, String

from pgbe.http.problems import problem_docs
from pgbe.query.operators import csv_pattern
from pgbe.query.params import INT4_MAX
from pgbe.query.spec import QuerySpec
from pgbe.query.values import NO_NUL, value_type
from pgbe.resources.counts import CountStrategy
from pgbe.resources.cursors import CURSOR_PATTERN, MAX_CURSOR_LENGTH

if TYPE_CHECKING:
    from pgbe.resources.resource import Resource

DESCRIPTIONS = {
    401: "Not authenticated",
    403: "Not allowed",
    404: "No such row (or not yours)",
    409: "Conflict with a unique or foreign key constraint",
    412: "If-Match does not match the current version",
    413: "Body too large",
    415: "The body is not JSON",
    422: "Invalid body, path or query parameter",
    428: "If-Match required",
    429: "Too many sign-ins or failed sign-ins (see Retry-After)",
    503: "Database unavailable",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The problem responses of `statuses`, described."""
    return problem_docs({status: DESCRIPTIONS[status] for status in statuses})


def documented(name: str, doc: str, params: list[inspect.Parameter]) -> Callable[..., Any]:
    """Return an endpoint whose name, docstring and signature document a generated route."""

    async def endpoint(**kwargs: Any) -> None:  # pragma: no cover - never called, see ResourceRoute
        raise RuntimeError(f"served by the resource handler, not with {sorted(kwargs)}")

    endpoint.__name__ = name
    endpoint.__doc__ = doc
    endpoint.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return endpoint


def param(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> inspect.Parameter:
    """A keyword-only parameter of a documented signature."""
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)


def _choice(names: Iterable[str]) -> str:
    return "(" + "|".join(re.escape(name) for name in names) + ")"


def choices(name: str, values: Iterable[str]) -> type[enum.Enum]:
    """A string enum of `values`, named `name` in the OpenAPI (client generators make a type of it)."""
    return _choices(name, tuple(values))


@functools.cache
def _choices(name: str, values: tuple[str, ...]) -> type[enum.Enum]:
    # one class per name and values: the list and the get route share one OpenAPI component
    return enum.Enum(name, [(value, value) for value in values], type=str)  # type: ignore[return-value]


def _one_or_list(values: type[enum.Enum], pattern: str) -> Any:
    """One value of the enum, or a comma-separated list of them (a string matching `pattern`)."""
    return values | Annotated[str, StringConstraints(pattern=pattern)]


def include_param(spec: QuerySpec, *, name: str = "") -> list[inspect.Parameter]:
    """The `include` parameter, when the resource has embeddable relationships."""
    if not spec.includes:
        return []
    allowed = ", ".join(spec.includes)
    values = choices(f"{name}Include", spec.includes)
    query = Query(
        alias=spec.public_name("include"),
        description=f"Related data to embed: one of {allowed}, or several, comma-separated",
    )
    annotation = _one_or_list(values, csv_pattern(_choice(spec.includes)))
    return [param("include", Annotated[annotation | None, query], None)]


def filter_params(spec: QuerySpec) -> list[inspect.Parameter]:
    """One query parameter per filter and operator, typed and described by the operator's row."""
    params: list[inspect.Parameter] = []
    for key, parameter in spec.parameters.items():
        doc = parameter.operator.document(parameter.field.name, parameter.field.value_type)
        query = Query(
            alias=key,
            description=doc.description,
            pattern=doc.pattern,
            ge=doc.low,
            le=doc.high,
            max_length=doc.max_length,
        )
        params.append(param(f"filter_{len(params)}", Annotated[doc.annotation | None, query], None))
    return params


def list_params(
    spec: QuerySpec, *, name: str = "", default_limit: int, max_limit: int, max_skip: int | None = None
) -> list[inspect.Parameter]:
    """`skip`, `limit`, `sort`, `include`, `count`, `cursor`, every filter of a list route, `Prefer`.

    `name` prefixes the enums; `max_skip` bounds `skip` (deeper pages follow the cursor).
    """
    deepest = INT4_MAX if max_skip is None else max_skip
    skip_doc = "Rows to skip" if max_skip is None else f"Rows to skip (at most {max_skip}; then the cursor)"
    return [
        param(
            "skip",
            Annotated[int, Query(alias=spec.public_name("skip"), ge=0, le=deepest, description=skip_doc)],
            0,
        ),
        param(
            "limit",
            Annotated[
                int, Query(alias=spec.public_name("limit"), ge=0, le=max_limit, description="Rows per page")
            ],
            default_limit,
        ),
        *sort_param(spec, name=name),
        *include_param(spec, name=name),
        param(
            "count",
            Annotated[
                CountStrategy | None,
                Query(
                    alias=spec.public_name("count"),
                    description=(
                        "How `total` is counted: `exact` (every matching row), `planned` (the planner's"
                        " estimate), `estimated` (exact up to a threshold, planned above), `none`."
                        " Default: the resource's; `Prefer: count=...` works too"
                    ),
                ),
            ],
            None,
        ),
        param(
            "cursor",
            Annotated[
                str | None,
                Query(
                    alias=spec.public_name("cursor"),
                    max_length=MAX_CURSOR_LENGTH,
                    pattern=CURSOR_PATTERN,
                    description=(
                        "Keyset pagination: the `next` or `prev` cursor of a page of this same list"
                        " (same sort and filters); not with `skip`"
                    ),
                ),
            ],
            None,
        ),
        *filter_params(spec),
        PREFER,
        IF_NONE_MATCH,
    ]


def sort_param(spec: QuerySpec, *, name: str = "") -> list[inspect.Parameter]:
    """The `sort` parameter, when the resource has sortable fields."""
    if not spec.sort:
        return []
    sortable = ", ".join(spec.sort)
    sort_values = choices(f"{name}Sort", [v for field in spec.sort for v in (field, f"-{field}")])
    sort_type = _one_or_list(sort_values, csv_pattern("-?" + _choice(spec.sort)))
    query = Query(
        alias=spec.public_name("sort"),
        description=(
            "A field to sort on, `-` first for descending, or several, comma-separated"
            f" (the first sorts first). Allowed: {sortable}"
        ),
    )
    return [param("sort", Annotated[sort_type | None, query], None)]


def path_params(res: Resource) -> list[inspect.Parameter]:
    """The path parameters of an item of `res` (its parents' first), typed by their lookup columns."""
    params = []
    for owner, name in res.chain:
        column = owner.lookup
        sa_type = column.type
        if isinstance(sa_type, Integer):
            bits = 16 if isinstance(sa_type, SmallInteger) else 64 if isinstance(sa_type, BigInteger) else 32
            params.append(param(name, Annotated[int, Path(ge=1, le=2 ** (bits - 1) - 1)]))
            continue
        python = value_type(sa_type).python
        length = sa_type.length if isinstance(sa_type, String) else None
        text = python is str
        path = Path(
            min_length=1 if text else None,
            max_length=length,
            pattern=NO_NUL if text else None,
            description=f"The {column.name} of the {owner.label.lower()}",
        )
        params.append(param(name, Annotated[python, path]))
    return params


def collection_params(res: Resource) -> list[inspect.Parameter]:
    """The path parameters of a nested collection: every parent's key."""
    return path_params(res)[:-1]


IF_MATCH = param(
    "if_match",
    Annotated[str | None, Header(alias="If-Match", description="The ETag of the version you last read")],
    None,
)


PREFER = param(
    "prefer",
    Annotated[
        str | None,
        Header(alias="Prefer", description="`count=exact|planned|estimated|none` (RFC 7240), as `count`"),
    ],
    None,
)
IF_NONE_MATCH = param(
    "if_none_match",
    Annotated[
        str | None,
        Header(alias="If-None-Match", description="An ETag you hold: `304 Not Modified` if it is current"),
    ],
    None,
)


def body(schema: type[BaseModel], example: dict[str, Any] | None = None) -> inspect.Parameter:
    """The request body, with an example."""
    if example is None:
        return param("body", schema)
    examples = {"example": {"summary": f"A {schema.__name__}", "value": example}}
    return param("body", Annotated[schema, Body(openapi_examples=examples)])  # type: ignore[arg-type]


def header(description: str) -> dict[str, Any]:
    """The OpenAPI of a response header holding a string."""
    return {"description": description, "schema": {"type": "string"}}


ETAG = header('The version of the row, for If-Match (`"7"`, or `"7.<hash>"` with related data)')
LOCATION = header("The path of the created row")
PAGE_HEADERS = {
    "ETag": header("A hash of this page, for If-None-Match"),
    "Link": header('The next and previous pages (RFC 8288): `</things?cursor=...>; rel="next"`'),
    "Preference-Applied": header("The count strategy applied, when `Prefer: count=...` asked for one"),
}
NOT_MODIFIED = {"description": "Not modified: the ETag in If-None-Match is current (no body)"}


def response(
    *, example: Any = None, headers: dict[str, Any] | None = None, media_type: str = "application/json"
) -> dict[str, Any]:
    """An OpenAPI response entry adding an example and headers to what FastAPI documents."""
    entry: dict[str, Any] = {}
    if example is not None:
        entry["content"] = {media_type: {"example": example}}
    if headers:
        entry["headers"] = headers
    return entry
