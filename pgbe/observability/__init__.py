"""Operations: request ids, structured logs, metrics, traces and error reports of a pgbe service.

`install(app, settings=..., database=...)` wires them into an application; each module also stands
alone (the request context, the log formatters, the metrics, the tracing and Sentry set-up).
"""

from pgbe.observability.context import RequestContext, current_request, current_request_id, note_user
from pgbe.observability.install import install

__all__ = ["RequestContext", "current_request", "current_request_id", "install", "note_user"]
