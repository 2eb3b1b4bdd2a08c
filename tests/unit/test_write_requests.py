"""The write path's shortcuts give what the long way gives: paths, headers, bodies, access."""

from __future__ import annotations

import datetime
import enum
import itertools
from typing import Annotated, Any

import pydantic
import pytest
from starlette.requests import Request

from pgbe.resources.bodies import plain_dump
from pgbe.resources.requests import _body, header, read_body, request_path


def _request(path: str, headers: list[tuple[bytes, bytes]], server: Any = ("h", 80)) -> Request:
    scope = {"type": "http", "path": path, "headers": headers, "query_string": b"", "server": server}
    return Request(scope)


def test_request_path_any_path_matches_url_path() -> None:
    pieces = ["/", "a", "?", "#", "\\", "\t", "\n", "%", "é", "[", " "]
    for size in range(4):
        for parts in itertools.product(pieces, repeat=size):
            for hosts, server in (([(b"host", b"example.com")], None), ([], None), ([], ("h", 80))):
                request = _request("/" + "".join(parts), hosts, server)
                try:
                    expected = request.url.path
                except ValueError:
                    continue
                assert request_path(_request(request.scope["path"], hosts, server)) == expected


def test_header_missing_or_repeated_matches_headers_get() -> None:
    request = _request("/", [(b"if-match", b'"1"'), (b"if-match", b'"2"'), (b"x", b"\xe9")])
    for name in ("if-match", "x", "content-type"):
        assert header(request, name.encode()) == request.headers.get(name)


class Colour(enum.Enum):
    """A plain enum."""

    RED = "red"


class Plain(pydantic.BaseModel):
    """Fields model_dump returns as they are."""

    name: Annotated[str, pydantic.AfterValidator(str.strip)]
    when: datetime.datetime | None = None
    colour: Colour | None = None
    ids: list[int] | None = None


class Serialized(pydantic.BaseModel):
    """A field with its own serializer."""

    price: Annotated[int, pydantic.PlainSerializer(lambda v: v * 100)]


class Nested(pydantic.BaseModel):
    """A nested model: model_dump makes it a dict."""

    plain: Plain


class Excluded(pydantic.BaseModel):
    """An excluded field: model_dump leaves it out."""

    secret: str = pydantic.Field(exclude=True)


@pytest.mark.parametrize(
    ("model", "plain"), [(Plain, True), (Serialized, False), (Nested, False), (Excluded, False)]
)
def test_plain_dump_only_models_whose_dump_is_their_attributes(
    model: type[pydantic.BaseModel], plain: bool
) -> None:
    assert plain_dump(model) is plain


def test_plain_dump_attributes_equal_model_dump() -> None:
    obj = Plain.model_validate_json(
        b'{"name": " x ", "when": "2020-01-01T00:00:00Z", "colour": "red", "ids": [1]}'
    )
    assert obj.__dict__ == obj.model_dump()


async def test_read_body_streamed_in_chunks_reads_them_all() -> None:
    messages = iter(
        [
            {"type": "http.request", "body": b'{"name": ', "more_body": True},
            {"type": "http.request", "body": b'"x"}', "more_body": False},
        ]
    )

    async def receive() -> dict[str, Any]:
        return next(messages)

    scope = {"type": "http", "path": "/", "headers": [(b"content-type", b"application/json")]}
    request = Request(scope, receive)
    assert await read_body(request, Plain) == {"name": "x"}
    assert await _body(request) == await request.body() == b'{"name": "x"}'
