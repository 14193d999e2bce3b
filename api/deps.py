"""What routes need, injected: the shared pipeline, the API settings, the token checks."""

from __future__ import annotations

import hmac
from email.message import Message
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.admission import ComputeSlots
from api.config import ApiSettings
from api.errors import ApiError
from api.metrics import Metrics
from rag.pipeline import Pipeline


async def get_pipeline(request: Request) -> Pipeline:
    pipeline: Pipeline = request.app.state.pipeline
    return pipeline


async def get_api_settings(request: Request) -> ApiSettings:
    api_settings: ApiSettings = request.app.state.api_settings
    return api_settings


async def get_compute_slots(request: Request) -> ComputeSlots:
    slots: ComputeSlots = request.app.state.compute_slots
    return slots


async def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


PipelineDep = Annotated[Pipeline, Depends(get_pipeline)]
ApiSettingsDep = Annotated[ApiSettings, Depends(get_api_settings)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
# RAG_QUERY_CONCURRENCY questions computed at once (one per core), one fewer while a write runs
# (api/admission.py)
ComputeSlotsDep = Annotated[ComputeSlots, Depends(get_compute_slots)]


BEARER = HTTPBearer(auto_error=False, description="The server's RAG_API_TOKEN.")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]


def check_token(
    api_settings: ApiSettings, credentials: HTTPAuthorizationCredentials | None, action: str
) -> None:
    """Let a request through only with the configured bearer token."""
    expected = api_settings.token()
    if expected is None:
        raise ApiError(
            403,
            "writes_disabled" if action == "write" else "reads_disabled",
            f"{action}s are disabled on this server: set RAG_API_TOKEN when starting it, "
            "then send `Authorization: Bearer <token>`",
        )
    given = credentials.credentials.strip() if credentials is not None else ""
    if not given:
        raise ApiError(
            401,
            "missing_token",
            f"{action}s need a token: send `Authorization: Bearer <token>` (the server's RAG_API_TOKEN)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
        raise ApiError(403, "invalid_token", "the bearer token is not the server's RAG_API_TOKEN")


async def require_writer(api_settings: ApiSettingsDep, credentials: Credentials) -> None:
    check_token(api_settings, credentials, "write")


async def require_reader(api_settings: ApiSettingsDep, credentials: Credentials) -> None:
    if api_settings.protect_reads:
        check_token(api_settings, credentials, "read")


async def require_json(content_type: Annotated[str | None, Header()] = None) -> None:
    """Refuse a body that is not declared as JSON, before it is parsed."""
    message = Message()
    message["content-type"] = content_type or ""
    subtype = message.get_content_subtype()
    if message.get_content_maintype() != "application" or not (
        subtype == "json" or subtype.endswith("+json")
    ):
        raise ApiError(
            415,
            "unsupported_media_type",
            f"the body must be JSON sent with `Content-Type: application/json`, "
            f"not {content_type or 'no content type'!r}",
        )
