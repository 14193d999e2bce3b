"""The articles in the index: list, read, add or replace, delete."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import JSONResponse

from api.deps import (
    ApiSettingsDep,
    ComputeSlotsDep,
    PipelineDep,
    require_json,
    require_reader,
    require_writer,
)
from api.errors import ApiError
from api.schemas import (
    DeletedOut,
    DocumentOut,
    DocumentPage,
    ErrorOut,
    IngestOut,
    document_body_schema,
    parse_articles,
)
from rag.documents import Article

DEFAULT_PAGE = 50
MAX_PAGE = 500

router = APIRouter(prefix="/documents", tags=["documents"])
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 401, 403, 404, 413, 415, 422, 503)
}


def summary(article: Article) -> dict[str, Any]:
    return {
        "id": article.id,
        "title": article.title,
        "source": article.source,
        "url": article.url,
        "published_at": article.published_at,
        "chars": len(article.text),
        "author": article.author,
        "place": article.place,
        "also_published": [asdict(c) for c in article.also_published],
    }


@router.get(
    "",
    response_model=DocumentPage,
    responses=ERRORS,
    dependencies=[Depends(require_reader)],
    summary="The articles in the index, ordered by id, one page at a time",
)
def list_documents(
    pipeline: PipelineDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
) -> dict[str, Any]:
    articles = pipeline.snapshot.articles
    ids = sorted(articles)[offset : offset + limit]
    return {
        "documents": [summary(articles[i]) for i in ids],
        "total": len(articles),
        "offset": offset,
        "limit": limit,
    }


@router.get(
    "/{doc_id:path}",
    response_model=DocumentOut,
    responses=ERRORS,
    dependencies=[Depends(require_reader)],
    summary="One article, with its full text",
)
def get_document(doc_id: str, pipeline: PipelineDep) -> dict[str, Any]:
    article = pipeline.article(doc_id)
    return {**summary(article), "text": article.text}


@router.post(
    "",
    response_model=IngestOut,
    responses={**ERRORS, 201: {"model": IngestOut, "description": "Some articles were added"}},
    dependencies=[Depends(require_writer), Depends(require_json)],
    summary="Add or replace articles (one object or a list); all or nothing",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": document_body_schema()}},
        }
    },
)
def add_documents(
    body: Annotated[Any, Body()],
    pipeline: PipelineDep,
    api_settings: ApiSettingsDep,
    slots: ComputeSlotsDep,
) -> JSONResponse:
    articles = parse_articles(body, api_settings.max_batch)
    with slots.write():
        report = pipeline.ingest(articles, strict=True)
    if report.skipped:  # strict: an article over the size limit, and nothing was written
        problems = [str(p) for p in report.skipped]
        raise ApiError(
            422, "bad_document", "; ".join(problems) + "; nothing was written", details=problems
        )
    return JSONResponse(report.to_dict(), status_code=201 if report.added else 200)


@router.delete(
    "/{doc_id:path}",
    response_model=DeletedOut,
    responses=ERRORS,
    dependencies=[Depends(require_writer)],
    summary="Remove one article",
)
def delete_document(doc_id: str, pipeline: PipelineDep, slots: ComputeSlotsDep) -> dict[str, str]:
    with slots.write():
        pipeline.delete(doc_id)
    return {"deleted": doc_id}
