"""The admin site's HTTP guard: cross-origin writes refused, never framed, redirects without a host.

One ASGI middleware wrapped around the admin application only (sqladmin's `Admin(middlewares=...)`):

- **Cross-site request forgery**: a request that can change something (any method but GET, HEAD,
  OPTIONS, TRACE: the forms' POSTs, the DELETE of the list page, the sign-in form) must come from a
  page of the admin site itself. The browser says where it comes from (`Sec-Fetch-Site`, else
  `Origin`, else `Referer`) and a page of another site cannot make it lie; a request that says
  nothing is refused too (fail closed), so a script that drives the admin site sends `Origin`.
  The check runs before the session is read, so a refused request reads and writes nothing.
- **Framing**: `X-Frame-Options: DENY` and `Content-Security-Policy: frame-ancestors 'none'` on every
  answer, so no other page can overlay the admin site (clickjacking).
- **Caches**: `Cache-Control: no-store` on every page but the static files (`/statics/`), so no
  shared or browser cache keeps a page of users or orders after the session ends.
- **Redirects**: sqladmin builds absolute URLs from the request's `Host`; the `Location` of its
  redirects is rewritten to the path alone, so a forged `Host` never reaches a redirect.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pgbe.http import SAFE_METHODS

# Sec-Fetch-Site values of a request the admin site's own pages made (or the user typed).
SAME_ORIGIN_FETCHES = frozenset({"same-origin", "none"})
DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}
FRAME_HEADERS = {
    "x-frame-options": "DENY",
    "content-security-policy": "frame-ancestors 'none'",
}
STATIC_PREFIX = "/statics/"  # sqladmin's CSS and scripts: cacheable, they hold no data
REFUSAL = (
    "Refused: this request did not come from a page of the admin site (cross-site request forgery "
    "protection). Browsers send Origin or Sec-Fetch-Site by themselves; a script must send "
    "an Origin header naming this site."
)


class AdminGuardMiddleware:
    """Refuse cross-origin writes, forbid framing and keep the host out of redirects (module docstring)."""

    def __init__(self, app: ASGIApp, *, trusted_origins: Iterable[str] = ()) -> None:
        self.app = app
        self.trusted_origins = frozenset(_origin(o) for o in trusted_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the request's origin, then pass it on with the answer's headers made safe."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        private = not _site_path(scope).startswith(STATIC_PREFIX)

        async def send_safely(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer = MutableHeaders(scope=message)
                for name, value in FRAME_HEADERS.items():
                    if name not in answer:
                        answer[name] = value
                if private:
                    answer["cache-control"] = "no-store"
                if "location" in answer:
                    answer["location"] = host_free(answer["location"], host)
            await send(message)

        if scope["method"] not in SAFE_METHODS and not self.same_origin(headers):
            await PlainTextResponse(REFUSAL, status_code=403)(scope, receive, send_safely)
            return
        await self.app(scope, receive, send_safely)

    def same_origin(self, headers: Headers) -> bool:
        """Tell whether the browser says the request comes from this site (or a trusted origin)."""
        origin = headers.get("origin")
        if origin is not None and _origin(origin) in self.trusted_origins:
            return True
        fetch_site = headers.get("sec-fetch-site")
        if fetch_site is not None:
            return fetch_site.lower() in SAME_ORIGIN_FETCHES
        if origin is None:
            origin = headers.get("referer")  # older browsers: the page the form was on
        if origin is None or origin == "null":
            return False
        return _netloc(origin) == _normal_host(headers.get("host", ""), urlsplit(origin).scheme)


def _site_path(scope: Scope) -> str:
    """The request's path inside the admin site (without the `/admin` it is mounted at)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def host_free(location: str, host: str) -> str:
    """Return `location` without scheme and host when it points at `host` (the request's own)."""
    parts = urlsplit(location)
    if not parts.netloc or not host:
        return location
    if _netloc(location) != _normal_host(host, parts.scheme):
        return location  # somewhere else on purpose: not the admin's own URL
    return urlunsplit(("", "", parts.path or "/", parts.query, parts.fragment))


def _origin(url: str) -> str:
    """Return `scheme://host[:port]` of `url`, lower-cased, without the scheme's default port."""
    scheme = urlsplit(url).scheme.lower()
    return f"{scheme}://{_netloc(url)}"


def _netloc(url: str) -> str:
    parts = urlsplit(url)
    return _normal_host(parts.netloc, parts.scheme)


def _normal_host(netloc: str, scheme: str) -> str:
    """Return `netloc` lower-cased, without credentials and without the scheme's default port."""
    netloc = netloc.rpartition("@")[2].lower()
    default = DEFAULT_PORTS.get(scheme.lower())
    if default is not None and netloc.endswith(f":{default}"):
        netloc = netloc[: -len(default) - 1]
    return netloc
