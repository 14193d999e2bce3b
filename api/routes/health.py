"""GET /healthz (the process answers) and GET /readyz (the index is loaded)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import PipelineDep
from api.schemas import ErrorOut

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={503: {"model": ErrorOut}},
    summary="The index is loaded: article and chunk counts, model name",
)
def readyz(pipeline: PipelineDep) -> dict[str, Any]:
    info = pipeline.info()  # raises IndexNotFound / CorruptIndex -> 503
    return {
        "status": "ready",
        "articles": info["articles"],
        "chunks": info["chunks"],
        "embedding_model": info["embedding_model"],
        "snapshot": info["snapshot"],
    }
