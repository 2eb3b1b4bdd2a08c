"""Request headers read straight from the ASGI scope."""

from __future__ import annotations

from typing import cast

from starlette.requests import HTTPConnection


def header(request: HTTPConnection, name: bytes) -> str | None:
    """The first header called `name` (lower case), as `request.headers.get` finds it.

    Starlette's `request.headers` builds a `Headers` object and raises and catches a KeyError for a
    missing name; a request's one or two header reads on the generated paths scan the raw list.
    """
    for key, value in request.scope["headers"]:
        if key == name:
            return cast(str, value.decode("latin-1"))
    return None
