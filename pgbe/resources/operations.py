"""The operations of a registered resource: each route, what serves it and how OpenAPI shows it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field, create_model
from starlette.responses import Response

from pgbe.auth.permissions import Permission, public
from pgbe.resources import endpoints, examples, openapi, tokens
from pgbe.resources.endpoints import Handler
from pgbe.resources.fast_lane import Claim
from pgbe.resources.json_sql import read_plan
from pgbe.resources.requests import claim
from pgbe.resources.runtime import ResourceRuntime

T = TypeVar("T")
AUTH = (401, 403)


TOTAL = "Rows matching the filters, on every page (null with count=none); total_kind says how counted"
TOTAL_KIND = "`exact` (counted) or `planned` (the planner's estimate); null when not counted"
NEXT = "The cursor of the next page (pass it as `cursor`); null on the last page"
PREV = "The cursor of the previous page; null on the first page"
TotalKind = Literal["exact", "planned"]


class Page(BaseModel, Generic[T]):
    """A page of rows, the number of rows matching the filters, and the cursors of its neighbours."""

    items: list[T]
    total: int | None = Field(description=TOTAL)
    total_kind: TotalKind | None = Field(description=TOTAL_KIND)
    skip: int
    limit: int
    next: str | None = Field(description=NEXT)
    prev: str | None = Field(description=PREV)


@dataclass(frozen=True)
class Operation:
    """One route of a resource, before it is added to a router: what serves it, how it is documented."""

    name: str
    path: str
    method: str
    handler: Handler
    endpoint: Any
    permission: Permission
    claims: Mapping[str, Claim] = field(default_factory=dict)
    scoped: bool = False  # callers see only their own rows (`pgbe routes` says so)
    options: Mapping[str, Any] = field(default_factory=dict)  # response_model, status_code, ...


def item_model(rt: ResourceRuntime, *, carries: Literal["row", "token", "sign_up"] = "row") -> Any:
    """The response model of one row: the Read schema, or its envelope (`{"article": ...}`).

    `carries="token"`: the row with the resource's access token field; `"sign_up"`: a nullable one.
    """
    res = rt.resource
    read: Any = res.read
    if carries != "row" and res.token_field is not None:
        signing_up = carries == "sign_up"
        kind: Any = str | None if signing_up else str
        read = create_model(
            f"{res.read.__name__}{'SignedUp' if signing_up else 'WithToken'}",
            __base__=res.read,
            pgbe_token=(
                kind,
                Field(
                    alias=res.token_field,
                    description=tokens.SIGN_UP_DOC if signing_up else tokens.FRESH_DOC,
                ),
            ),
        )
        read.__doc__ = res.read.__doc__
    key = res.envelope.item
    if key is None:
        return read
    return create_model(f"{read.__name__}Item", pgbe_item=(read, Field(alias=key)))


def page_model(rt: ResourceRuntime) -> Any:
    """The response model of a list: `Page[Read]`, or the envelope's keys."""
    res = rt.resource
    envelope = res.envelope
    if envelope.default:
        return Page[res.read]  # type: ignore[name-defined]
    row: Any = res.read
    if envelope.each is not None:
        row = res.read.model_fields[envelope.each].annotation
    fields: dict[str, Any] = {"pgbe_items": (list[row], Field(alias=envelope.items))}
    if envelope.total is not None:
        fields["pgbe_total"] = (int | None, Field(alias=envelope.total, description=TOTAL))
        if envelope.total_kind is not None:
            fields["pgbe_total_kind"] = (
                TotalKind | None,
                Field(alias=envelope.total_kind, description=TOTAL_KIND),
            )
    if envelope.skip is not None:
        fields["pgbe_skip"] = (int, Field(alias=envelope.skip))
    if envelope.limit is not None:
        fields["pgbe_limit"] = (int, Field(alias=envelope.limit))
    for key, name, doc in ((envelope.next, "pgbe_next", NEXT), (envelope.prev, "pgbe_prev", PREV)):
        if key is not None:
            fields[name] = (str | None, Field(alias=key, description=doc))
    return create_model(f"{res.read.__name__}List", **fields)


def _claims(rt: ResourceRuntime, *, item: bool) -> dict[str, Claim]:
    chain = rt.resource.chain if item else rt.resource.chain[:-1]
    return {param: claim(res) for res, param in chain}


def _examples(rt: ResourceRuntime) -> dict[str, Any]:
    """Example bodies of each operation's request and response, from the schemas and the envelope."""
    res = rt.resource
    envelope = res.envelope
    read = examples.example(res.read)
    row: Any = read
    if envelope.each is not None:
        row = read.get(
            next(f.key for f in read_plan(res.mapper, res.read, res.computed) if f.name == envelope.each)
        )
    page: dict[str, Any] = {envelope.items: [row]}
    shown = (
        (envelope.total, 1),
        (envelope.total_kind if envelope.total is not None else None, "exact"),
        (envelope.skip, 0),
        (envelope.limit, rt.default_limit),
        (envelope.next, None),
        (envelope.prev, None),
    )
    for key, value in shown:
        if key is not None:
            page[key] = value
    found = {"read": read if envelope.item is None else {envelope.item: read}, "page": page}
    if res.token_field is not None:
        signed = {**read, res.token_field: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9..."}
        found["signed"] = signed if envelope.item is None else {envelope.item: signed}
    body_key = envelope.body_key
    for name, schema in (("create", res.create_schema), ("update", res.update_schema)):
        if schema is not None:
            body = examples.example(schema)
            found[name] = body if body_key is None else {body_key: body}
    return found


def operations(rt: ResourceRuntime) -> list[Operation]:
    """Every route of the resource, in the order the router must try them (views before items).

    Each operation's name is unique in the resource: with the table it makes the stable OpenAPI
    operation id (`posts.list`, `posts.like`, `posts.unlike`, `posts.feed`).
    """
    res = rt.resource
    spec, perms = res.spec, res.permissions
    plural = res.name
    kind = "".join(part.capitalize() for part in plural.split("_"))  # names the sort/include enums
    scoped = res.owner_field is not None
    limits = {"default_limit": rt.default_limit, "max_limit": rt.max_limit}
    outer = openapi.collection_params(res)
    keys = openapi.path_params(res)
    collection, items = _claims(rt, item=False), _claims(rt, item=True)
    # the item's words: `one of articles` (by slug), or the caller's own row
    one_of = f"the caller's own {res.label.lower()}" if res.caller_item else f"one of {plural}"
    by = "" if res.caller_item else " by " + ("id" if res.lookup.primary_key else res.lookup_param)
    page = page_model(rt)
    own = res.token_field is not None and res.caller_item  # answers about the caller's account carry a token
    one = item_model(rt, carries="token" if own else "row")
    example = _examples(rt)
    etag = {"ETag": openapi.ETAG}
    read_ok = {200: openapi.response(example=example["signed" if own else "read"], headers=etag)}
    ops: list[Operation] = []

    def add(
        name: str, path: str, method: str, handler: Handler, doc: tuple[str, str, list[Any]], **kw: Any
    ) -> None:
        ops.append(Operation(name, path, method, handler, openapi.documented(*doc), **kw))

    if res.sign_in is not None:
        credentials, sent = tokens.credentials(rt)
        example_body = examples.example(credentials)
        key = res.sign_in.body if res.sign_in.body is not None else res.envelope.body_key
        add(
            res.sign_in.name,
            f"{res.path}{res.sign_in.path}",
            "POST",
            tokens.sign_in_handler(sent),
            (
                f"{res.sign_in.name}_{plural}",
                res.sign_in.description
                or "Sign in with an email and a password: the account, with a fresh access token.",
                [*outer, openapi.body(sent, {key: example_body} if key else example_body)],
            ),
            permission=public,
            claims=collection,
            options={
                "response_model": item_model(rt, carries="token"),
                "responses": {200: openapi.response(example=example["signed"], headers=etag)}
                | openapi.problems(401, 413, 415, 422, 429, 503),
            },
        )
    max_skip = res.max_skip if res.max_skip is not None else rt.registry.max_skip
    list_doc = openapi.list_params(spec, name=kind, max_skip=max_skip, **limits)
    page_ok = {
        200: openapi.response(example=example["page"], headers=openapi.PAGE_HEADERS),
        304: openapi.NOT_MODIFIED,
    }
    get_ok = {**read_ok, 304: openapi.NOT_MODIFIED}
    for view in res.views:
        add(
            view.name,
            f"{res.path}/{view.name}",
            "GET",
            endpoints.view_handler(view),
            (
                f"list_{plural}_{view.name}",
                view.description or f"List {plural}: {view.name}.",
                [*outer, *list_doc],
            ),
            permission=view.permission,
            claims=collection,
            options={"response_model": page, "responses": page_ok | openapi.problems(*AUTH, 404, 422, 503)},
        )
    if "list" in res.operations:
        add(
            "list",
            res.path,
            "GET",
            endpoints.list_rows,
            (f"list_{plural}", f"List {plural}: filter, sort, paginate.", [*outer, *list_doc]),
            permission=perms.list_permission,
            claims=collection,
            scoped=scoped,
            options={
                "response_model": page,
                "responses": page_ok | openapi.problems(*AUTH, *_parent(rt), 422, 503),
            },
        )
    if "create" in res.operations and res.create_schema is not None:
        created = {
            201: openapi.response(
                example=example["signed" if res.token_field is not None else "read"],
                headers={"Location": openapi.LOCATION, **etag},
            )
        }
        add(
            "create",
            res.path,
            "POST",
            endpoints.create_row,
            (
                f"create_{plural}",
                f"Create one of {plural}.",
                [*outer, openapi.body(rt.body_of(res.create_schema), example["create"])],
            ),
            permission=perms.create,
            claims=collection,
            options={
                "status_code": 201,
                "response_model": item_model(rt, carries="sign_up"),
                "responses": created | openapi.problems(*AUTH, *_parent(rt), 409, 413, 415, 422, 503),
            },
        )
    if "get" in res.operations:
        add(
            "get",
            res.item_path,
            "GET",
            endpoints.get_row,
            (
                f"get_{plural}",
                f"Get {one_of}{by}.",
                [*keys, *openapi.include_param(spec, name=kind), openapi.IF_NONE_MATCH],
            ),
            permission=perms.read,
            claims=items,
            scoped=scoped,
            options={"response_model": one, "responses": get_ok | openapi.problems(*AUTH, 404, 422, 503)},
        )
    if "update" in res.operations and res.update_schema is not None:
        note = (
            " The body shown is the widest one; which of its fields a caller may send depends on"
            " the caller, and a field they may not change is a 422."
            if res.update_schema_for is not None
            else ""
        )
        body = openapi.body(rt.body_of(res.update_schema), example["update"])
        for i, method in enumerate(res.update_methods):
            add(
                "update" + (f".{method.lower()}" if i else ""),
                res.item_path,
                method,
                endpoints.update_row_handler,
                (
                    f"update_{plural}" + (f"_{method.lower()}" if i else ""),
                    f"Change some fields of {one_of}." + note,
                    [*keys, openapi.IF_MATCH, body],
                ),
                permission=perms.update,
                claims=items,
                scoped=scoped,
                options={
                    "response_model": one,
                    "responses": read_ok | openapi.problems(*AUTH, 404, 409, 412, 413, 415, 422, 428, 503),
                },
            )
    if "delete" in res.operations:
        add(
            "delete",
            res.item_path,
            "DELETE",
            endpoints.delete_row_handler,
            (f"delete_{plural}", f"Delete {one_of}.", [*keys, openapi.IF_MATCH]),
            permission=perms.delete,
            claims=items,
            scoped=scoped,
            options={
                "status_code": 204,
                "response_class": Response,
                "responses": openapi.problems(*AUTH, 404, 409, 412, 422, 428, 503),
            },
        )
    for action in res.actions:
        for method in action.methods:
            adding = method == "POST"
            verb = action.name.replace("-", "_")
            name = verb if adding else f"un{verb}"
            what = (
                f"{'Add the caller to' if adding else 'Take the caller out of'} the {action.link}"
                f" of {one_of}."
                if action.link is not None
                else f"{action.name.capitalize()} {one_of}."
            )
            add(
                name,
                f"{res.item_path}/{action.name}",
                method,
                endpoints.action_handler(action, add=adding),
                (f"{name}_{plural}", action.description or what, keys),
                permission=action.permission,
                claims=items,
                options={
                    "response_model": one,
                    "responses": read_ok | openapi.problems(*AUTH, 404, 409, 422, 503),
                },
            )
    return ops


def _parent(rt: ResourceRuntime) -> tuple[int, ...]:
    return (404,) if rt.resource.parent is not None else ()


__all__ = ["Operation", "Page", "item_model", "operations", "page_model"]
