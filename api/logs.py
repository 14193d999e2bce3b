"""The server's log lines: plain text or one JSON object a line, each with its request id.

Nothing here ever formats request headers, so the bearer token cannot reach the log.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

# The id of the request being served; set by api.request_context, read by every log line.
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
LOGGERS = ("api", "uvicorn")  # ours, and uvicorn's start-up / error lines
# Attributes every LogRecord has; anything else on a record came from `extra=` and is logged.
STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
    "request_id",
    "color_message",  # uvicorn's copy of the message with terminal colours
}


class RequestIdFilter(logging.Filter):
    """Stamp each record with the id of the request it was logged under (or None)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get()
        return True


class TextFormatter(logging.Formatter):
    """`INFO:     [request id] message`, as uvicorn's own lines; the id only inside a request."""

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        tag = f"[{request_id}] " if request_id else ""
        return f"{record.levelname}:     {tag}{super().format(record)}"


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts, level, logger, message, request_id, then any `extra=` fields.

    >>> record = logging.LogRecord("api", logging.INFO, "", 0, "GET /ask 200", (), None)
    >>> record.request_id, record.status = "r1", 200
    >>> sorted(json.loads(JsonFormatter().format(record)))
    ['level', 'logger', 'message', 'request_id', 'status', 'ts']
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(level: str, json_lines: bool) -> None:
    """Send the app's and uvicorn's lines to stderr in one format, nothing else's.

    The loggers still propagate: the root logger has no handler in `rag serve`, and tests
    capture through it.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    handler.addFilter(RequestIdFilter())
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(level.upper())
