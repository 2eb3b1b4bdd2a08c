"""Error reports to Sentry (extra `pgbe[sentry]`), configured by `SENTRY_DSN`.

Unhandled errors are reported with the request id, method and route; request bodies, headers,
cookies, query strings, local variables and anything that looks like a secret are never sent: pgbe
turns off Sentry's automatic web integrations (which attach the request) and scrubs every event.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from pgbe.extras import MissingExtraError
from pgbe.observability.context import current_request_id

_SECRET_KEY = re.compile(r"pass|secret|token|auth|cookie|session|key|csrf|dsn", re.IGNORECASE)
_BEARER = re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]+")
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+):[^@\s]+@")
REDACTED = "[redacted]"


def _scrub_text(value: str) -> str:
    return _URL_PASSWORD.sub(rf"\1:{REDACTED}@", _BEARER.sub(f"Bearer {REDACTED}", value))


def _scrub(value: Any) -> Any:
    """Return `value` with secrets redacted: values under secret-like keys, bearer tokens, URL passwords."""
    if isinstance(value, dict):
        return {
            k: REDACTED if isinstance(k, str) and _SECRET_KEY.search(k) else _scrub(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    if isinstance(value, str):
        return _scrub_text(value)
    return value


def before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any] | None:
    """Tag the event with the request id; drop what a request carries; redact secrets everywhere."""
    del hint
    event.pop("request", None)  # body, headers, cookies, query string: never reported
    for frame_holder in event.get("exception", {}).get("values", ()):
        for frame in (frame_holder.get("stacktrace") or {}).get("frames", ()):
            frame.pop("vars", None)
    request_id = current_request_id()
    if request_id is not None:
        event.setdefault("tags", {})["request_id"] = request_id
    scrubbed: dict[str, Any] = _scrub(event)
    return scrubbed


def configure_sentry(
    dsn: str, *, environment: str, release: str | None = None, traces_sample_rate: float = 0.0, **options: Any
) -> None:
    """Start the Sentry client (`options` go to `sentry_sdk.init`, e.g. a test `transport`).

    Raises:
        RuntimeError: the `sentry` extra is not installed.
    """
    try:
        import sentry_sdk
        from sentry_sdk.integrations.logging import LoggingIntegration, ignore_logger
    except ImportError:
        raise MissingExtraError("sentry", "SENTRY_DSN (error reports)") from None
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        max_request_body_size="never",  # and no personal data: send_default_pii stays unset (off)
        include_local_variables=False,
        auto_enabling_integrations=False,  # the web integrations would attach the request
        # errors logged with a traceback (the unhandled-error handler's) become events; the rest
        # of the log stays breadcrumbs
        integrations=[LoggingIntegration(level=logging.INFO, event_level=logging.ERROR)],
        before_send=before_send,  # type: ignore[arg-type]
        traces_sample_rate=traces_sample_rate,
        **options,
    )
    ignore_logger("pgbe.access")  # a 5xx's access line would repeat its error as a second event


def report(error: BaseException) -> None:
    """Report `error` to Sentry, when it is configured."""
    import sentry_sdk

    if sentry_sdk.get_client().is_active():
        sentry_sdk.capture_exception(error)
