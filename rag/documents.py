"""Articles: parsing files into validated records with stable ids.

`.txt`/`.md`/`.json`/`.jsonl` are read here; web pages, feeds and PDFs by the converters in
`rag/ingest/`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from rag.errors import BadDocument
from rag.ingest.ids import MAX_ID_CHARS, canonical_url, check_id

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
RECORD_SUFFIXES = {".json", ".jsonl"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
FEED_SUFFIXES = {".xml", ".rss", ".atom"}
PDF_SUFFIXES = {".pdf"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | RECORD_SUFFIXES | HTML_SUFFIXES | FEED_SUFFIXES | PDF_SUFFIXES
MAX_TITLE_CHARS = 200
IdFrom = Literal["content", "path"]


@dataclass(frozen=True)
class Limits:
    """How big a web page or feed, and a PDF, may be before it is refused unread."""

    max_page_bytes: int = 10_000_000
    max_pdf_bytes: int = 100_000_000


@dataclass(frozen=True)
class Copy:
    """Another outlet's publication of a stored article (a wire copy folded into it)."""

    id: str
    source: str | None = None
    url: str | None = None
    published_at: str | None = None
    title: str | None = None


HEADER_LINES = 6  # how far from the top a repeated title line is looked for


@dataclass(frozen=True)
class Article:
    """One article; `text` is kept verbatim so citation offsets select its exact characters."""

    id: str
    title: str
    text: str
    source: str | None = None
    url: str | None = None
    published_at: str | None = None
    # Character ranges of `text` that are indexed; a repeated title line is left out.
    index_spans: tuple[tuple[int, int], ...] = field(default=())
    author: str | None = None
    place: str | None = None  # from a dateline ("KYIV, March 3 (Reuters) -")
    also_published: tuple[Copy, ...] = ()  # wire copies folded into this article

    @classmethod
    def stored(
        cls,
        id: str,
        title: str,
        text: str,
        source: str | None,
        url: str | None,
        published_at: str | None,
        index_spans: tuple[tuple[int, int], ...],
    ) -> Article:
        """An article read back from the store, made without the frozen `__init__`'s ten
        `object.__setattr__` calls (a third of a second at start-up for 57k articles); the
        instance is as frozen as any other."""
        article = object.__new__(cls)
        article.__dict__.update(
            id=id,
            title=title,
            text=text,
            source=source,
            url=url,
            published_at=published_at,
            index_spans=index_spans,
            author=None,
            place=None,
            also_published=(),
        )
        return article

    @cached_property  # an article never changes (frozen); stores compare it often
    def content_hash(self) -> str:
        payload = json.dumps(
            [self.title, self.text, self.source, self.url, self.published_at], ensure_ascii=False
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def spans(self) -> tuple[tuple[int, int], ...]:
        return self.index_spans or ((0, len(self.text)),)


@dataclass(frozen=True)
class Problem:
    """A file or record that was skipped, with where and why."""

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


def content_id(text: str) -> str:
    """Stable id of an article without one: a hash of its text.

    >>> content_id("abc")
    'doc-ba7816bf8f01cfea'
    """
    return "doc-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def normalize_date(value: Any, where: str) -> str | None:
    """ISO date (YYYY-MM-DD) or datetime string, or None; anything else is a BadDocument."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadDocument(f"{where}: published_at must be an ISO date string")
    try:
        if len(value) == 10:
            return date.fromisoformat(value).isoformat()
        return datetime.fromisoformat(value.replace("Z", "+00:00")).isoformat()
    except ValueError:
        raise BadDocument(
            f"{where}: published_at {value!r} is not an ISO date (YYYY-MM-DD)"
        ) from None


def _valid_unicode(value: str, key: str, where: str) -> str:
    """The value, unless it holds an unpaired surrogate (JSON "\\ud800"), which no file can store."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadDocument(f"{where}: {key} is not valid Unicode (an unpaired surrogate)") from None
    return value


def _json_problem(exc: ValueError | RecursionError) -> str:
    """Why a JSON text could not be parsed, in a few words."""
    if isinstance(exc, RecursionError):
        return "invalid JSON (nested too deeply)"
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON ({exc.msg})"
    return f"invalid JSON ({str(exc).split(':')[0]})"  # e.g. a number of 5,000 digits


def _optional_str(record: dict[str, Any], key: str, where: str) -> str | None:
    value = record.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadDocument(f"{where}: {key} must be a string")
    return _valid_unicode(value, key, where).strip() or None


def _lines_with_offsets(text: str) -> list[tuple[int, int, str]]:
    out, pos = [], 0
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        out.append((pos, pos + len(body), body))
        pos += len(line)
    return out


def title_and_spans(text: str) -> tuple[str, tuple[tuple[int, int], ...]]:
    """Title of a plain-text article, and the ranges to index (a repeated title line left out).

    The title is the first Markdown heading; else a line repeated near the top (the usual
    sign of a title echoed as the body's first line); else the first non-empty line.
    """
    lines = [ln for ln in _lines_with_offsets(text) if ln[2].strip()]
    head = lines[:HEADER_LINES]
    title, skip = None, None
    for _, _, body in head:
        if body.lstrip().startswith("#"):
            title = body.lstrip("# \t").strip()
            break
    seen: dict[str, int] = {}
    for i, (_, _, body) in enumerate(head):
        key = body.strip().lstrip("# \t").casefold()
        if key in seen:
            skip = i
            title = title or body.strip().lstrip("# \t")
            break
        seen[key] = i
    if title is None:
        title = lines[0][2].strip() if lines else ""
    spans: list[tuple[int, int]] = []
    if skip is None:
        spans.append((0, len(text)))
    else:
        start, end, _ = head[skip]
        spans.append((0, start))
        spans.append((end, len(text)))
    spans = [(a, b) for a, b in spans if text[a:b].strip()]
    return title[:MAX_TITLE_CHARS], tuple(spans)


def article_from_text(text: str, where: str, doc_id: str | None = None) -> Article:
    if doc_id is not None:
        doc_id = check_id(doc_id, where)
    if not text.strip():
        raise BadDocument(f"{where}: empty article")
    if "\x00" in text:
        raise BadDocument(f"{where}: binary content (NUL bytes), not a text article")
    title, spans = title_and_spans(text)
    return Article(id=doc_id or content_id(text), title=title, text=text, index_spans=spans)


def article_from_record(record: Any, where: str) -> Article:
    """An article from a JSON object: `text` required; `id`, `title`, `url`, `source`,
    `published_at` optional."""
    if not isinstance(record, dict):
        raise BadDocument(f"{where}: expected a JSON object with a 'text' field")
    if record.get("text") is None and record.get("html") is not None:
        return _article_from_html_record(record, where)
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        raise BadDocument(f"{where}: record has no 'text' (a non-empty string is required)")
    if "\x00" in text:
        raise BadDocument(f"{where}: text contains NUL bytes")
    _valid_unicode(text, "text", where)
    raw_id = record.get("id")
    doc_id = check_id(raw_id, where) if raw_id is not None else None
    title = _optional_str(record, "title", where)
    if title is None:
        title, spans = title_and_spans(text)
    else:
        spans = ()
    url = _optional_str(record, "url", where)
    return Article(
        id=doc_id or url_id(url, where) or content_id(text),
        title=title[:MAX_TITLE_CHARS],
        text=text,
        source=_optional_str(record, "source", where),
        url=url,
        published_at=normalize_date(record.get("published_at"), where),
        index_spans=spans,
        author=_optional_str(record, "author", where),
    )


def _article_from_html_record(record: dict[str, Any], where: str) -> Article:
    """`{"html": ..., "url": ...}`: the page's main text and metadata; fields the record
    gives (`id`, `title`, `source`, `published_at`, `author`) win over the page's own."""
    from dataclasses import replace

    from rag.ingest.html import article_from_html

    page = record["html"]
    if not isinstance(page, str) or not page.strip():
        raise BadDocument(f"{where}: html must be a non-empty string")
    _valid_unicode(page, "html", where)
    url = _optional_str(record, "url", where)
    article = article_from_html(page, where, url=url)
    given = {key: _optional_str(record, key, where) for key in ("title", "source", "author")}
    published = normalize_date(record.get("published_at"), where)
    raw_id = record.get("id")
    return replace(
        article,
        id=check_id(raw_id, where) if raw_id is not None else article.id,
        published_at=published or article.published_at,
        **{key: value for key, value in given.items() if value},
    )


def url_id(url: str | None, where: str) -> str | None:
    """The id of an article known by its URL: the canonical URL, so a page ingested again
    replaces itself.

    >>> url_id("https://Example.com/a?utm_source=rss#x", "x")
    'https://example.com/a'
    """
    if not url:
        return None
    canonical = canonical_url(url)
    if len(canonical) > MAX_ID_CHARS:
        return "url-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
    return check_id(canonical, where)


def _decode(path: Path, raw: bytes | None = None) -> str:
    raw = path.read_bytes() if raw is None else raw
    if b"\x00" in raw[:8192]:
        raise BadDocument(f"{path}: binary file, not a text article")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadDocument(f"{path}: invalid UTF-8 at byte {exc.start}") from None


def read_file(
    path: Path, *, id_from: IdFrom = "content", limits: Limits = Limits()
) -> Iterator[Article | Problem]:
    """Articles of one file, with a Problem for every bad file or record (the rest still come).

    `id_from="path"` keys a `.txt`/`.md` file by its path, so an edited file replaces itself.
    """
    suffix = path.suffix.lower()
    path_id = path.as_posix() if id_from == "path" else None
    if suffix in HTML_SUFFIXES | FEED_SUFFIXES | PDF_SUFFIXES:
        yield from _read_source(path, suffix, limits, path_id)
        return
    try:
        raw = path.read_bytes()
        text = _decode(path, raw)
    except (BadDocument, OSError) as exc:
        yield Problem(str(path), str(exc).removeprefix(f"{path}: "))
        return
    if suffix in TEXT_SUFFIXES:
        try:
            yield article_from_text(text, str(path), path_id)
        except BadDocument as exc:
            yield Problem(str(path), str(exc).removeprefix(f"{path}: "))
    elif suffix == ".jsonl":
        for lineno, line in enumerate(text.splitlines(), start=1):
            where = f"{path}:{lineno}"
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except (ValueError, RecursionError) as exc:
                yield Problem(where, _json_problem(exc))
                continue
            try:
                yield article_from_record(record, where)
            except BadDocument as exc:
                yield Problem(where, str(exc).removeprefix(f"{where}: "))
    elif suffix == ".json":
        yield from _read_json(path, text)
    elif _looks_like_feed(raw):
        yield from _read_source(path, ".xml", limits, path_id)
    else:
        yield Problem(str(path), f"unsupported file type {suffix or '(none)'}")


def _looks_like_feed(raw: bytes) -> bool:
    """An RSS/Atom document under another name (`feed`, `index.php`, ...)."""
    head = raw[:2048].lstrip().lower()
    return head.startswith(b"<?xml") or head.startswith(b"<rss") or head.startswith(b"<feed")


def _read_source(
    path: Path, suffix: str, limits: Limits, path_id: str | None
) -> Iterator[Article | Problem]:
    """A web page, a feed or a PDF through its converter; a bad one is one Problem.

    A page's id is its canonical URL when it names one, else `path_id` or a content hash."""
    from rag.ingest import feeds, html, pdf

    limit = limits.max_pdf_bytes if suffix in PDF_SUFFIXES else limits.max_page_bytes
    try:
        size = path.stat().st_size
        if size > limit:
            raise BadDocument(
                f"{size:,} bytes, over the limit of {limit:,} for a "
                f"{'PDF' if suffix in PDF_SUFFIXES else 'page or feed'}; not read"
            )
        raw = path.read_bytes()
        found: list[Article | Problem]
        if suffix in PDF_SUFFIXES:
            found = [pdf.article_from_pdf(raw, str(path), fallback_id=path_id)]
        elif suffix in HTML_SUFFIXES:
            found = [html.article_from_html(raw, str(path), fallback_id=path_id)]
        else:
            found = feeds.articles_from_feed(raw, str(path))
    except BadDocument as exc:
        yield Problem(str(path), str(exc).removeprefix(f"{path}: "))
        return
    except OSError as exc:
        yield Problem(str(path), f"cannot be read ({exc.strerror or exc})")
        return
    yield from found


def _read_json(path: Path, text: str) -> Iterator[Article | Problem]:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        where = f"{path}:{exc.lineno}" if isinstance(exc, json.JSONDecodeError) else str(path)
        yield Problem(where, _json_problem(exc))
        return
    records = data if isinstance(data, list) else [data]
    for i, record in enumerate(records):
        where = f"{path}[{i}]" if isinstance(data, list) else str(path)
        try:
            yield article_from_record(record, where)
        except BadDocument as exc:
            yield Problem(where, str(exc).removeprefix(f"{where}: "))


def iter_paths(paths: Iterable[Path]) -> Iterator[Path | Problem]:
    """Files under the given paths (folders walked in sorted order), or a Problem for each bad path."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and child.suffix.lower() in SUPPORTED_SUFFIXES:
                    yield child
        elif path.is_file():
            yield path
        else:
            yield Problem(str(path), "no such file or folder")


def read_paths(
    paths: Iterable[Path], *, id_from: IdFrom = "content", limits: Limits = Limits()
) -> Iterator[Article | Problem]:
    for item in iter_paths(paths):
        if isinstance(item, Problem):
            yield item
        else:
            yield from read_file(item, id_from=id_from, limits=limits)
