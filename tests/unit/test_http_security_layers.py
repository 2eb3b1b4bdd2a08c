"""The Host check and the security headers, as ASGI layers around a bare application."""

from __future__ import annotations

from typing import Any

import pytest

from pgbe.http.security import SecurityHeadersMiddleware, TrustedHostMiddleware


def _scope(host: bytes, *, path: str = "/things", method: str = "GET", token: bool = False) -> dict[str, Any]:
    headers = [(b"host", host)] + ([(b"authorization", b"Bearer x")] if token else [])
    return {"type": "http", "method": method, "path": path, "root_path": "", "headers": headers}


def _app(status: int = 200, headers: list[tuple[bytes, bytes]] | None = None) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": status, "headers": list(headers or [])})
        await send({"type": "http.response.body", "body": b"{}"})

    return app


async def _start(app: Any, scope: dict[str, Any]) -> dict[str, Any]:
    """The `http.response.start` message `app` sends for a bodiless request."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]


async def _status_and_headers(app: Any, scope: dict[str, Any]) -> tuple[int, dict[bytes, bytes]]:
    start = await _start(app, scope)
    return start["status"], dict(start.get("headers", []))


async def test_remembered_hosts_never_let_a_refused_host_through() -> None:
    layer = TrustedHostMiddleware(_app(), allowed_hosts=["api.example.com", "*.example.org"])
    assert (await _status_and_headers(layer, _scope(b"API.example.com:443")))[0] == 200
    assert (await _status_and_headers(layer, _scope(b"evil.test")))[0] == 400
    assert (await _status_and_headers(layer, _scope(b"API.example.com:443")))[0] == 200
    assert (await _status_and_headers(layer, _scope(b"evil.test", path="/health/live")))[0] == 200
    assert b"evil.test" not in layer.allowed_values


async def test_remembered_hosts_are_bounded_and_wildcards_still_match_past_the_bound() -> None:
    layer = TrustedHostMiddleware(_app(), allowed_hosts=["*.example.org"])
    for i in range(TrustedHostMiddleware._REMEMBERED + 50):
        assert (await _status_and_headers(layer, _scope(b"n%d.example.org" % i)))[0] == 200
    assert len(layer.allowed_values) == TrustedHostMiddleware._REMEMBERED
    assert (await _status_and_headers(layer, _scope(b"example.net")))[0] == 400


@pytest.mark.parametrize(
    ("method", "token", "no_store"), [("GET", False, False), ("GET", True, True), ("POST", False, True)]
)
async def test_security_headers_no_store_on_writes_and_tokened_requests(
    method: str, token: bool, no_store: bool
) -> None:
    layer = SecurityHeadersMiddleware(_app())
    _, headers = await _status_and_headers(layer, _scope(b"h", method=method, token=token))
    assert headers[b"x-content-type-options"] == b"nosniff"
    assert (headers.get(b"cache-control") == b"no-store") is no_store


async def test_security_headers_keep_the_routes_own_choices() -> None:
    own = [(b"cache-control", b"private, max-age=60"), (b"x-content-type-options", b"nosniff")]
    layer = SecurityHeadersMiddleware(_app(headers=own))
    _, headers = await _status_and_headers(layer, _scope(b"h", method="POST"))
    assert headers[b"cache-control"] == b"private, max-age=60"


async def test_a_401_with_the_default_challenge_names_the_accepted_schemes() -> None:
    layer = SecurityHeadersMiddleware(
        _app(401, [(b"www-authenticate", b"Bearer")]), schemes=["Token", "Bearer"]
    )
    _, headers = await _status_and_headers(layer, _scope(b"h"))
    assert headers[b"www-authenticate"] == b"Token, Bearer"
    other = SecurityHeadersMiddleware(
        _app(401, [(b"www-authenticate", b'Basic realm="x"')]), schemes=["Token"]
    )
    _, headers = await _status_and_headers(other, _scope(b"h"))
    assert headers[b"www-authenticate"] == b'Basic realm="x"'


async def _header_list(app: Any, scope: dict[str, Any]) -> tuple[int, list[tuple[bytes, bytes]]]:
    start = await _start(app, scope)
    return start["status"], list(start["headers"])


@pytest.mark.parametrize(
    ("status", "own", "method", "token"),
    [
        (200, [], "GET", False),
        (200, [], "GET", True),
        (201, [(b"cache-control", b"private")], "POST", False),
        (401, [(b"www-authenticate", b"Bearer"), (b"www-authenticate", b"Basic")], "GET", False),
        (401, [(b"www-authenticate", b"Basic"), (b"www-authenticate", b"Bearer")], "GET", True),
        (200, [(b"x-content-type-options", b"nosniff")], "DELETE", False),
    ],
)
async def test_security_headers_folded_into_observability_send_the_same_headers(
    status: int, own: list[tuple[bytes, bytes]], method: str, token: bool
) -> None:
    from starlette.middleware import Middleware

    from pgbe.observability.middleware import ObservabilityMiddleware
    from pgbe.stack import folded

    layers = [
        Middleware(ObservabilityMiddleware, access_log=False),
        Middleware(SecurityHeadersMiddleware, schemes=["Token", "Bearer"]),
    ]
    [fused] = folded(list(layers))
    scope = {**_scope(b"h", method=method, token=token), "headers": [(b"x-request-id", b"r-1")]}
    if token:
        scope["headers"].append((b"authorization", b"Bearer x"))

    def build(stack: list[Middleware]) -> Any:
        app = _app(status, own)
        for cls, args, kwargs in reversed(stack):
            app = cls(app, *args, **kwargs)
        return app

    assert await _header_list(build([fused]), scope) == await _header_list(build(layers), scope)
    assert fused.kwargs["security"] is not None
