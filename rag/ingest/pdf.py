"""PDF reports: one article per file, its text page by page, via pypdf."""

from __future__ import annotations

import io
import logging
import re
from datetime import date
from typing import Any

from rag.documents import MAX_TITLE_CHARS, Article, content_id
from rag.errors import BadDocument

# Titles tools write when the author gave none.
PLACEHOLDER_TITLE = re.compile(
    r"^(untitled|microsoft word - .*|document\d*|.*\.(docx?|pdf))$", re.I
)
MAX_TITLE_LINE = 150  # a first line longer than this is a paragraph, not a heading


def article_from_pdf(raw: bytes, where: str, *, fallback_id: str | None = None) -> Article:
    """One article from a PDF; a scan (no text layer) or a locked file is a BadDocument."""
    try:
        from pypdf import PdfReader
        from pypdf.errors import PyPdfError
    except ImportError:  # pragma: no cover - a declared dependency
        raise BadDocument("reading PDFs needs pypdf: pip install pypdf") from None
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    if not raw.startswith(b"%PDF"):
        raise BadDocument(f"{where}: not a PDF (no %PDF header)")
    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted and not reader.decrypt(""):
            raise BadDocument(
                f"{where}: the PDF is encrypted; it cannot be read without its password"
            )
        pages = [_page_text(page) for page in reader.pages]
        meta = reader.metadata or {}
    except BadDocument:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise BadDocument(f"{where}: not a readable PDF ({type(exc).__name__})") from None
    except Exception as exc:  # pypdf also raises plain errors on broken files (and DependencyError)
        raise BadDocument(f"{where}: not a readable PDF ({type(exc).__name__}: {exc})") from None
    text = "\n\n".join(p for p in pages if p)
    if not text.strip():
        raise BadDocument(
            f"{where}: no extractable text in {len(pages)} page(s) (a scanned PDF? "
            "run OCR on it first); not ingested"
        )
    return Article(
        id=fallback_id or content_id(text),
        title=_title(meta, text)[:MAX_TITLE_CHARS],
        text=text,
        published_at=_pdf_date(meta),
        author=_meta_str(meta, "/Author"),
    )


def _page_text(page: Any) -> str:
    try:
        text = page.extract_text() or ""
    except Exception:  # one broken page should not lose the others
        return ""
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _meta_str(meta: Any, key: str) -> str | None:
    try:
        value = meta.get(key)
    except Exception:
        return None
    value = " ".join(str(value).split()) if value else ""
    return value or None


def _title(meta: Any, text: str) -> str:
    """The document's own title when it has a real one, else its first line."""
    title = _meta_str(meta, "/Title")
    if title and not PLACEHOLDER_TITLE.match(title):
        return title
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first if len(first) <= MAX_TITLE_LINE else first[:MAX_TITLE_LINE].rsplit(" ", 1)[0]


def _pdf_date(meta: Any) -> str | None:
    """The creation date from the PDF's metadata ("D:20240303..."), as YYYY-MM-DD."""
    raw = _meta_str(meta, "/CreationDate") or ""
    found = re.match(r"^(?:D:)?(\d{4})(\d{2})(\d{2})", raw)
    if not found:
        return None
    year, month, day = found.groups()
    try:
        return date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        return None
