"""The admin site's guard decides from the request's headers alone: whose page sent it, where to redirect."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from starlette.datastructures import Headers

from pgbe.admin.guard import AdminGuardMiddleware, host_free


def test_admin_guard_trusted_origin_may_post_through_a_proxy_that_changes_the_host() -> None:
    guard = AdminGuardMiddleware(FastAPI(), trusted_origins=["https://Admin.Example.com:443"])
    assert guard.same_origin(Headers({"host": "app:8000", "origin": "https://admin.example.com"}))
    assert not guard.same_origin(Headers({"host": "app:8000", "origin": "https://other.example.com"}))
    assert not guard.same_origin(Headers({"host": "app:8000", "origin": "http://admin.example.com"}))


@pytest.mark.parametrize(
    ("location", "host", "expected"),
    [
        ("http://evil.example/admin/login", "evil.example", "/admin/login"),
        ("https://site.example:443/admin/?page=2#top", "site.example", "/admin/?page=2#top"),
        ("http://site.example", "site.example", "/"),
        ("/admin/login", "site.example", "/admin/login"),
        ("https://elsewhere.example/x", "site.example", "https://elsewhere.example/x"),
    ],
)
def test_admin_redirect_location_loses_the_requests_own_host(location: str, host: str, expected: str) -> None:
    assert host_free(location, host) == expected
