"""POST /ask and GET /search: the same calls as `rag ask --json` and `rag search --json`."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from api.deps import ComputeSlotsDep, MetricsDep, PipelineDep, require_json, require_reader
from api.schemas import MAX_TOP_K, AnswerOut, AskRequest, ErrorOut, FiltersIn, SearchOut

router = APIRouter(dependencies=[Depends(require_reader)], tags=["questions"])
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 401, 403, 413, 415, 422, 503)
}


async def query_filters(
    source: Annotated[str | None, Query(description="only articles from this source")] = None,
    published_after: Annotated[str | None, Query(description="YYYY-MM-DD, inclusive")] = None,
    published_before: Annotated[str | None, Query(description="YYYY-MM-DD, inclusive")] = None,
) -> FiltersIn:
    try:
        return FiltersIn(
            source=source, published_after=published_after, published_before=published_before
        )
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("query", *e["loc"])} for e in exc.errors()]
        ) from None


@router.post(
    "/ask",
    response_model=AnswerOut,
    responses=ERRORS,
    dependencies=[Depends(require_json)],
    summary="Answer a question from the sources, with citations, or abstain",
)
def ask(
    body: AskRequest, pipeline: PipelineDep, metrics: MetricsDep, slots: ComputeSlotsDep
) -> JSONResponse:
    filters = body.filters.to_filters() if body.filters else None
    with slots.question():
        answer = pipeline.ask(body.question, body.top_k, filters)
    metrics.observe_answer(answer.abstained)
    return JSONResponse(answer.to_dict())


@router.get(
    "/search", response_model=SearchOut, responses=ERRORS, summary="Hybrid retrieval: passages"
)
def search(
    pipeline: PipelineDep,
    slots: ComputeSlotsDep,
    filters: Annotated[FiltersIn, Depends(query_filters)],
    q: Annotated[str, Query(description="the question or keywords")],
    k: Annotated[int | None, Query(ge=1, le=MAX_TOP_K, description="passages to return")] = None,
) -> JSONResponse:
    with slots.question():
        passages = pipeline.search(q, k, filters.to_filters())
    return JSONResponse({"results": [asdict(p) for p in passages]})
