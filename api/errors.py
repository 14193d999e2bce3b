"""Errors at the HTTP edge: every failure becomes `{"error": {"code", "message"}}`."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.errors import RagError

log = logging.getLogger("api")

MAX_LISTED_PROBLEMS = 5  # validation problems spelled out in one message
FASTAPI_UNPARSABLE_BODY = "There was an error parsing the body"  # fastapi/routing.py
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
}


class ApiError(Exception):
    """A problem the client can fix, with the status and code to answer it with."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        details: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.headers = headers
        self.details = details


def error_response(
    status_code: int,
    code: str,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
    details: list[str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status_code, headers=headers)


def error_code(exc: RagError) -> str:
    """Snake-case name of a core error class.

    >>> error_code(RagError())
    'rag_error'
    """
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__).lower()


def describe(error: dict[str, Any]) -> str:
    """One validation problem in words: `top_k: Input should be less than or equal to 50`."""
    loc = [str(part) for part in error.get("loc", ())]
    where, path = (loc[0], loc[1:]) if loc and loc[0] in {"body", "query", "path"} else ("", loc)
    if where == "body" and not path:
        if error.get("type") == "missing":
            return 'the request body is missing; send a JSON object such as {"question": "..."}'
        if error.get("type") in {"model_attributes_type", "dict_type"}:
            return 'the request body must be a JSON object such as {"question": "..."}'
    name = ".".join(path)
    if where == "query":
        name = f"query parameter {name!r}"
    elif where == "path":
        name = f"path parameter {name!r}"
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    return f"{name}: {message}" if name else message


def unparsable_body_message(cause: BaseException | None) -> str:
    """Why FastAPI could not read a JSON body, in words (it only says "error parsing")."""
    if isinstance(cause, UnicodeDecodeError):
        return f"the request body is not valid UTF-8 (bad byte at position {cause.start})"
    if isinstance(cause, RecursionError):
        return "the request body is JSON nested too deeply to read"
    if isinstance(cause, ValueError) and "digits" in str(cause):
        return "the request body holds a number with too many digits to read"
    return "the request body could not be read as JSON"


def validation_response(errors: Sequence[Any]) -> JSONResponse:
    problems = [dict(e) for e in errors]
    if any(p.get("type") == "json_invalid" for p in problems):
        bad = next(p for p in problems if p.get("type") == "json_invalid")
        reason = (bad.get("ctx") or {}).get("error", "invalid JSON")
        return error_response(
            400, "malformed_json", f"the request body is not valid JSON ({reason})"
        )
    lines = [describe(p) for p in problems]
    message = "; ".join(lines[:MAX_LISTED_PROBLEMS])
    if len(lines) > MAX_LISTED_PROBLEMS:
        message += f"; and {len(lines) - MAX_LISTED_PROBLEMS} more"
    return error_response(
        422, "invalid_request", message, details=lines if len(lines) > 1 else None
    )


def install_error_handlers(app: FastAPI) -> None:
    """Translate core errors, validation errors, HTTP errors and crashes into JSON."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(
            exc.status_code, exc.code, exc.message, headers=exc.headers, details=exc.details
        )

    @app.exception_handler(RagError)
    async def _rag_error(request: Request, exc: RagError) -> JSONResponse:
        return error_response(getattr(exc, "status_code", 400), error_code(exc), str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_response(exc.errors())

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "http_error")
        if exc.status_code == 404 and exc.detail == "Not Found":
            message = f"nothing at {request.url.path}; the endpoints are listed at /docs"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}; see /docs"
        elif exc.status_code == 400 and exc.detail == FASTAPI_UNPARSABLE_BODY:
            code, message = "malformed_json", unparsable_body_message(exc.__cause__)
        else:
            message = str(exc.detail)
        return error_response(exc.status_code, code, message, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(
            500, "internal_error", "the server failed to answer; the error is in its log"
        )
