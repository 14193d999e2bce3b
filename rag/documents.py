"""Articles: parsing `.txt`/`.md`/`.json`/`.jsonl` files into validated records with stable ids."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from rag.errors import BadDocument

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
RECORD_SUFFIXES = {".json", ".jsonl"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | RECORD_SUFFIXES
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
MAX_TITLE_CHARS = 200
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

    @property
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
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        raise BadDocument(f"{where}: record has no 'text' (a non-empty string is required)")
    if "\x00" in text:
        raise BadDocument(f"{where}: text contains NUL bytes")
    _valid_unicode(text, "text", where)
    raw_id = record.get("id")
    if raw_id is not None and not isinstance(raw_id, str | int):
        raise BadDocument(f"{where}: id must be a string or an integer")
    doc_id = str(raw_id).strip() if raw_id is not None else None
    if doc_id is not None and not ID_PATTERN.match(doc_id):
        raise BadDocument(
            f"{where}: id {doc_id[:40]!r} is not allowed "
            "(1-128 letters, digits, '.', '_', ':', '-'; starting with a letter or digit)"
        )
    title = _optional_str(record, "title", where)
    if title is None:
        title, spans = title_and_spans(text)
    else:
        spans = ()
    return Article(
        id=doc_id or content_id(text),
        title=title[:MAX_TITLE_CHARS],
        text=text,
        source=_optional_str(record, "source", where),
        url=_optional_str(record, "url", where),
        published_at=normalize_date(record.get("published_at"), where),
        index_spans=spans,
    )


def _decode(path: Path) -> str:
    raw = path.read_bytes()
    if b"\x00" in raw[:8192]:
        raise BadDocument(f"{path}: binary file, not a text article")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadDocument(f"{path}: invalid UTF-8 at byte {exc.start}") from None


def read_file(path: Path) -> Iterator[Article | Problem]:
    """Articles of one file, with a Problem for every bad file or record (the rest still come)."""
    suffix = path.suffix.lower()
    try:
        text = _decode(path)
    except (BadDocument, OSError) as exc:
        yield Problem(str(path), str(exc).removeprefix(f"{path}: "))
        return
    if suffix in TEXT_SUFFIXES:
        try:
            yield article_from_text(text, str(path))
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
    else:
        yield Problem(str(path), f"unsupported file type {suffix or '(none)'}")


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


def read_paths(paths: Iterable[Path]) -> Iterator[Article | Problem]:
    for item in iter_paths(paths):
        if isinstance(item, Problem):
            yield item
        else:
            yield from read_file(item)
