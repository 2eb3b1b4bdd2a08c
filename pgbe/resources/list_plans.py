"""What a list request's query string decides, worked out once per distinct query string.

A list request's query names its page, filters, sort, includes, count strategy and cursor; the
parse, the allow-list checks, the statement's shape and the cursor's context follow from it and from
the resource alone. Clients ask for the same lists again and again (a first page, a feed), so each
runtime keeps the plans of its most recent query strings (`ResourceRuntime.list_plan`); a malformed
query raises its 422 every time and is never kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.datastructures import QueryParams

from pgbe.query.keyset import sort_keys
from pgbe.query.params import ListParams, parse_list_params
from pgbe.resources.counts import CountStrategy, count_strategy
from pgbe.resources.links import kept_query

if TYPE_CHECKING:
    from pgbe.resources.runtime import ResourceRuntime

MAX_CACHED_PLANS = 256


@dataclass(frozen=True, slots=True)
class ListPlan:
    """A parsed list query and what follows from it.

    `shape`: `params.shape`, part of the statement's cache key; `bound`: the statement's values the
    query gives; `asked`: the count strategy of the `count` parameter; `size`: the number of sort keys
    (a cursor holds one value each); `context`: what a cursor is bound to, None for a nested list (its
    parent keys come from the path); `kept`: the query without offset and cursor, the base of `Link`.
    """

    params: ListParams
    shape: tuple[Any, ...]
    bound: Mapping[str, Any]
    asked: CountStrategy | None
    size: int
    context: str | None
    kept: str


def list_context(path: str, view: str, params: ListParams, values: Mapping[str, Any]) -> str:
    """What a cursor is bound to: the resource, the view, the sort, the filters and the parent keys."""
    filters = [(f.shape, repr(f.value)) for f in params.filters]
    parents = sorted((k, repr(v)) for k, v in values.items() if k.startswith("p") and k[1:].isdigit())
    return repr((path, view, params.sort, filters, parents))


def parse_plan(rt: ResourceRuntime, query_string: bytes, view: str) -> ListPlan:
    """Parse `query_string` for the list of `rt` (its view `view`, "" for the list itself); 422 if bad."""
    res, registry = rt.resource, rt.registry
    spec = res.spec
    params = parse_list_params(
        spec,
        QueryParams(query_string).multi_items(),
        default_limit=rt.default_limit,
        max_limit=rt.max_limit,
        default_sort=res.default_sort,
        ignore_unknown=res.ignore_unknown,
        max_skip=res.max_skip if res.max_skip is not None else registry.max_skip,
    )
    asked = None if params.count is None else count_strategy(params.count, spec.public_name("count"))
    nested = res.parent is not None  # its parents' keys are in the path, and in the cursor's context
    cursor = spec.public_name("cursor")
    return ListPlan(
        params=params,
        shape=params.shape,
        bound=params.bind_values(),
        asked=asked,
        size=len(sort_keys(spec, params)),
        context=None if nested else list_context(rt.path, view, params, {}),
        kept=kept_query(query_string, (spec.public_name("skip"), cursor)),
    )


__all__ = ["MAX_CACHED_PLANS", "ListPlan", "list_context", "parse_plan"]
