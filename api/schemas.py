"""Pydantic models of the HTTP edge: what requests may carry and what responses look like."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from api.errors import MAX_LISTED_PROBLEMS, ApiError
from rag.documents import Article, article_from_record
from rag.errors import BadDocument
from rag.retrieval import Filters

MAX_TOP_K = 50
ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def iso_day(value: str | None) -> str | None:
    """A YYYY-MM-DD date checked to exist, or None.

    >>> iso_day("2024-02-29")
    '2024-02-29'
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        if not ISO_DAY.match(value):
            raise ValueError
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise ValueError(f"must be a date as YYYY-MM-DD, got {value[:40]!r}") from None


class FiltersIn(BaseModel):
    """Restrict the articles searched: one source, and/or a publication date range (inclusive)."""

    model_config = ConfigDict(extra="forbid")

    source: str | None = Field(default=None, examples=["Reuters"])
    published_after: str | None = Field(default=None, examples=["2024-01-01"])
    published_before: str | None = Field(default=None, examples=["2024-12-31"])

    @field_validator("published_after", "published_before")
    @classmethod
    def _day(cls, value: str | None) -> str | None:
        return iso_day(value)

    @model_validator(mode="after")
    def _ordered(self) -> FiltersIn:
        after, before = self.published_after, self.published_before
        if after and before and after > before:
            raise ValueError(f"published_after ({after}) is later than published_before ({before})")
        return self

    def to_filters(self) -> Filters:
        return Filters(
            (self.source or "").strip() or None, self.published_after, self.published_before
        )


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(examples=["how many were wounded in Odessa?"])
    top_k: int | None = Field(default=None, ge=1, le=MAX_TOP_K, strict=True)
    filters: FiltersIn | None = None


class CopyOut(BaseModel):
    """Another outlet's publication of the same wire story, folded into this article."""

    id: str
    source: str | None
    url: str | None
    published_at: str | None
    title: str | None


class PassageOut(BaseModel):
    chunk_id: int
    doc_id: str
    title: str
    source: str | None
    url: str | None
    published_at: str | None
    text: str
    start: int
    end: int
    score: float
    dense_score: float | None
    lexical_score: float | None
    also_published: list[CopyOut] = Field(
        default_factory=list, description="other outlets that published this article"
    )


class CitationOut(BaseModel):
    doc_id: str
    title: str
    source: str | None
    url: str | None
    published_at: str | None
    quote: str = Field(description="article.text[start:end]")
    start: int
    end: int
    score: float
    answer_start: int | None = Field(
        description="the answer is article.text[answer_start:answer_end] (where an article "
        "words the same value otherwise, e.g. 'four' for '4', its own words)"
    )
    answer_end: int | None


class ReportOut(BaseModel):
    """One distinct answer the retrieved articles give, with who gives it and when."""

    answer: str
    normalized: float | int | str | None
    source: str | None
    published_at: str | None
    event_date: str | None = Field(description="the day the text names, resolved (ISO)")
    date_text: str | None = Field(description="that day as the text writes it")
    attribution: str | None
    confidence: float
    change: bool = Field(description="phrased as an update ('rose to', 'up from')")
    earlier: bool = Field(description="the earlier figure of an 'up from N'")
    citations: list[CitationOut]


class AnswerOut(BaseModel):
    """The document `rag ask --json` prints."""

    question: str
    answer: str | None
    answer_type: str
    normalized: float | int | str | None
    confidence: float
    abstained: bool
    attribution: str | None
    sentence: str | None
    message: str | None
    citations: list[CitationOut]
    passages: list[PassageOut]
    reports: list[ReportOut] = Field(default_factory=list)
    agreement: str | None = Field(
        default=None, description="single | consistent | updated | disputed"
    )
    as_of: str | None = Field(default=None, description="the date of the chosen report")
    independent_sources: int | None = Field(
        default=None, description="outlets behind the chosen figure, each counted once"
    )


class SearchOut(BaseModel):
    results: list[PassageOut]


class DocumentIn(BaseModel):
    """One article to add or replace; ingesting the same `id` again replaces it."""

    model_config = ConfigDict(extra="ignore")

    text: str | None = Field(default=None, description="the article's text (or send `html`)")
    html: str | None = Field(
        default=None,
        description="a web page instead of `text`: its main text, title, site, date and "
        "canonical URL are extracted",
    )
    id: str | int | None = Field(
        default=None,
        max_length=512,
        examples=["kyiv-2024-03-01", "https://example.com/world/kyiv-strike"],
        description="any string up to 512 characters; default: the canonical `url`, else a "
        "hash of the text",
    )
    title: str | None = None
    url: str | None = None
    source: str | None = None
    author: str | None = None
    published_at: str | None = Field(default=None, examples=["2024-03-01"])


class DocumentSummary(BaseModel):
    id: str
    title: str
    source: str | None
    url: str | None
    published_at: str | None
    chars: int
    author: str | None = None
    place: str | None = Field(default=None, description="from the article's dateline")
    also_published: list[CopyOut] = Field(
        default_factory=list, description="wire copies of this article from other outlets"
    )


class DocumentOut(DocumentSummary):
    text: str


class DocumentPage(BaseModel):
    documents: list[DocumentSummary]
    total: int
    offset: int
    limit: int


class SkippedOut(BaseModel):
    location: str
    error: str


class FoldedOut(BaseModel):
    id: str
    into: str = Field(description="the stored article it is a copy of")


class IngestOut(BaseModel):
    added: list[str]
    replaced: list[str]
    unchanged: list[str]
    folded: list[FoldedOut] = Field(default_factory=list)
    skipped: list[SkippedOut]
    chunks_added: int
    committed: bool


class DeletedOut(BaseModel):
    deleted: str


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[str] | None = None


class ErrorOut(BaseModel):
    error: ErrorBody


def document_body_schema() -> dict[str, Any]:
    """OpenAPI schema of POST /documents: one article object or a list of them."""
    one = DocumentIn.model_json_schema()
    return {"anyOf": [one, {"type": "array", "items": one}]}


def parse_articles(body: Any, max_batch: int) -> list[Article]:
    """Articles of a POST /documents body, or one error listing every bad record."""
    records = body if isinstance(body, list) else [body]
    if not isinstance(body, dict | list) or not records:
        raise ApiError(
            422,
            "bad_document",
            'send one article object or a non-empty list of them, e.g. {"text": "...", "id": "..."}',
        )
    if len(records) > max_batch:
        raise ApiError(
            413,
            "too_many_documents",
            f"{len(records):,} articles in one request; the limit is {max_batch:,} "
            "(RAG_MAX_BATCH); send them in several requests",
        )
    articles, problems = [], []
    first_of: dict[str, int] = {}  # id -> position of its first record
    for i, record in enumerate(records):
        where = f"documents[{i}]" if isinstance(body, list) else "document"
        try:
            article = article_from_record(record, where)
        except BadDocument as exc:
            problems.append(str(exc))
            continue
        if article.id in first_of:  # which one should win is the client's call, not ours
            problems.append(
                f"{where}: id {article.id!r} is already used by documents[{first_of[article.id]}] "
                "in this request; send each article once"
            )
        first_of.setdefault(article.id, i)
        articles.append(article)
    if problems:
        raise ApiError(
            422,
            "bad_document",
            "; ".join(problems[:MAX_LISTED_PROBLEMS]) + "; nothing was written",
            details=problems if len(problems) > 1 else None,
        )
    return articles
