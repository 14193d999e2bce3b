"""Web pages: the main text of a news page (no navigation, banners, comments or related links)
with its title, author, site, canonical URL and publication date, via trafilatura and htmldate."""

from __future__ import annotations

import logging
import re
from typing import Any

from rag.documents import MAX_TITLE_CHARS, Article, content_id, normalize_date, url_id
from rag.errors import BadDocument
from rag.ingest.datelines import parse_dateline, year_from_url
from rag.ingest.ids import canonical_url

BLANK_LINES = re.compile(r"\n{2,}")
SNIFF_BYTES = 4096
MIN_WORDS = 5  # less is a leftover link or label ("Home"), not an article


def _trafilatura() -> Any:
    try:
        import trafilatura
    except ImportError:  # pragma: no cover - a declared dependency
        raise BadDocument("reading web pages needs trafilatura: pip install trafilatura") from None
    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)  # its own warnings per page
    logging.getLogger("htmldate").setLevel(logging.CRITICAL)
    return trafilatura


def check_markup(raw: bytes | str, where: str) -> None:
    """Refuse what is not a web page at all: binary content, or no tag near the top."""
    head = raw[:SNIFF_BYTES]
    if isinstance(head, str):
        head = head.encode("utf-8", "replace")
    if b"\x00" in head:
        raise BadDocument(f"{where}: binary content, not an HTML page")
    if b"<" not in head:
        raise BadDocument(f"{where}: no HTML markup near the top; not a web page")


def paragraphs(text: str) -> str:
    """Extracted text with one blank line between paragraphs and no stray spaces."""
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n\n".join(line for line in lines if line)


def article_from_html(
    raw: bytes | str, where: str, *, url: str | None = None, fallback_id: str | None = None
) -> Article:
    """One article from a page; the id is its canonical URL when it has one.

    `url` (where the page was fetched from) is used when the page names no canonical URL.
    """
    check_markup(raw, where)
    trafilatura = _trafilatura()
    try:
        doc = trafilatura.bare_extraction(
            raw,
            url=url,
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            include_images=False,
            include_links=False,
            favor_precision=True,
        )
    except Exception as exc:  # lxml and trafilatura raise many kinds on hostile markup
        raise BadDocument(f"{where}: the page could not be parsed ({type(exc).__name__})") from None
    meta = doc.as_dict() if doc is not None and hasattr(doc, "as_dict") else (doc or {})
    text = paragraphs(meta.get("text") or "")
    title = " ".join((meta.get("title") or "").split())
    if title and text.casefold().startswith(title.casefold() + "\n"):
        text = text[len(title) :].lstrip("\n")  # the headline repeated as the body's first line
    if len(text.split()) < MIN_WORDS:
        raise BadDocument(f"{where}: no article text found in the page")
    page_url = canonical_url(meta.get("url") or url or "") or None
    published = _date(meta.get("date"), where)
    dateline = parse_dateline(text, year_from_url(page_url) or _year(published))
    if published is None and dateline is not None:
        published = dateline.day
    return Article(
        id=url_id(page_url, where) or fallback_id or content_id(text),
        title=(title or text.split("\n", 1)[0])[:MAX_TITLE_CHARS],
        text=text,
        source=meta.get("sitename") or meta.get("hostname") or None,
        url=page_url,
        published_at=published,
        author=meta.get("author") or None,
        place=dateline.place if dateline else None,
    )


def _date(value: Any, where: str) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return normalize_date(value[:10], where)
    except BadDocument:
        return None


def _year(day: str | None) -> int | None:
    return int(day[:4]) if day else None
