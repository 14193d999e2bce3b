"""The outermost middleware: a request id, one access log line with timings, request metrics.

The id is the client's `X-Request-ID` when it is a plain token (letters, digits, `._:-`, at
most 128), else a fresh one; either way it is echoed in the response and on every log line
logged while the request is served. An unexpected exception becomes the clean JSON 500 here,
so that it too carries the id and is counted.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response
from api.logs import request_id_var
from api.metrics import UNMATCHED_ROUTE, Metrics

log = logging.getLogger("api")

REQUEST_ID_HEADER = "X-Request-ID"
CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
MAX_LOGGED_PATH = 200  # characters of the path in the access line


def request_id_of(scope: Scope) -> str:
    """The client's request id when it is safe to echo and log, else a new one.

    >>> request_id_of({"headers": [(b"x-request-id", b"abc-123")]})
    'abc-123'
    >>> len(request_id_of({"headers": [(b"x-request-id", b"bad\\xff id")]}))
    32
    """
    for name, value in scope.get("headers") or []:
        if name == b"x-request-id":
            given = value.decode("latin-1")
            if CLIENT_REQUEST_ID.fullmatch(given):
                return given
            break
    return uuid.uuid4().hex


def logged_path(scope: Scope) -> str:
    """The path as sent, percent-encoded (so never a line break), without the query string.

    Neither the query nor any header is logged: questions and tokens stay out of the log.
    """
    raw = scope.get("raw_path") or scope["path"].encode("utf-8", "backslashreplace")
    return bytes(raw).decode("latin-1")[:MAX_LOGGED_PATH]


def route_of(scope: Scope) -> str:
    """The matched route's template (`/documents/{doc_id}`), so labels stay few."""
    route = scope.get("route")
    return str(getattr(route, "path", None) or UNMATCHED_ROUTE)


class RequestContext:
    """Pure ASGI middleware (not BaseHTTPMiddleware): streams pass through untouched."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        reset = request_id_var.set(request_id)
        start = time.perf_counter()
        status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception(
                "unexpected error on %s %s",
                scope["method"],
                logged_path(scope),
                extra={"request_id": request_id},
            )
            if status is not None:  # the response has begun: all we can do is drop it
                raise
            response = error_response(
                500,
                "internal_error",
                "the server failed to answer; the error is in its log",
                headers={REQUEST_ID_HEADER: request_id},
            )
            status = 500
            await response(scope, receive, send)
        finally:
            self._record(scope, request_id, status or 500, time.perf_counter() - start)
            request_id_var.reset(reset)

    def _record(self, scope: Scope, request_id: str, status: int, seconds: float) -> None:
        method, route = scope["method"], route_of(scope)
        self.metrics.observe_request(method, route, status, seconds)
        path = logged_path(scope)
        log.info(
            "%s %s %d %.1fms",
            method,
            path,
            status,
            seconds * 1000,
            extra={
                "request_id": request_id,
                "method": method,
                "path": path,
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
                "client": (scope.get("client") or ("", 0))[0],
            },
        )
