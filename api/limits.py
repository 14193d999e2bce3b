"""A request-body size limit, enforced before the body is parsed (Content-Length or streamed)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response


def too_large_message(limit: int) -> str:
    return (
        f"the request body is over the limit of {limit:,} bytes (RAG_MAX_BODY_BYTES); "
        "send fewer or shorter articles per request"
    )


class BodySizeLimit:
    """Answer 413 to a body over `limit` bytes, whether or not it declares its length."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.strip().isdigit() and int(declared) > self.limit:
            response = error_response(413, "body_too_large", too_large_message(self.limit))
            await response(scope, receive, send)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    # FastAPI re-raises HTTPException from body parsing; the handler shapes it.
                    raise HTTPException(413, too_large_message(self.limit))
            return message

        await self.app(scope, counting_receive, send)
