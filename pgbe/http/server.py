"""How `pgbe run` configures uvicorn: bounded heads, trusted proxies, a concurrency bound, no banner."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pgbe.http.head_limit import configured_limit, h11_buffer_limit, protocol_class

if TYPE_CHECKING:
    from pgbe.settings import PgbeSettings


def server_options(settings: PgbeSettings) -> dict[str, Any]:
    """Return the uvicorn options every worker of `pgbe run` is served with (host, port and app aside).

    - `forwarded_allow_ips`: X-Forwarded-For/-Proto are believed only from FORWARDED_ALLOW_IPS (none
      by default), so a client cannot choose the address its throttle and rate limits count under;
    - `limit_concurrency`: beyond SERVER_MAX_CONCURRENCY connections and requests a worker answers
      503 at once instead of queueing work it cannot finish in time;
    - `server_header`: no `server: uvicorn` banner;
    - `http`: the protocol that answers 431 to a head over MAX_HEADER_BYTES, whatever the parser.
    """
    proxies = [ip.strip() for ip in settings.forwarded_allow_ips.split(",") if ip.strip()]
    return {
        "http": protocol_class(),
        "h11_max_incomplete_event_size": h11_buffer_limit(configured_limit()),
        "proxy_headers": bool(proxies),
        "forwarded_allow_ips": proxies or None,
        "limit_concurrency": settings.server_max_concurrency or None,
        "server_header": False,
        "timeout_graceful_shutdown": 30,
        "log_config": None,  # pgbe's handler (prepare_server), so the server's lines share the format
        "access_log": False,  # pgbe.access writes one line per request
        "log_level": settings.log_level.lower(),
    }


__all__ = ["server_options"]
