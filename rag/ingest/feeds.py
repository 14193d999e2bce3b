"""Feeds: every entry of an RSS or Atom feed as an article (its content, else its summary)."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from typing import Any

from rag.documents import MAX_TITLE_CHARS, Article, Problem, content_id, url_id
from rag.errors import BadDocument
from rag.ingest.datelines import parse_dateline, year_from_url
from rag.ingest.ids import canonical_url, id_problem

BLOCK_TAGS = {
    "p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6",
    "blockquote", "tr", "section", "article", "pre",
}  # fmt: skip


def articles_from_feed(raw: bytes, where: str) -> list[Article | Problem]:
    """The entries of a feed, each an Article or a Problem naming the entry."""
    try:
        import feedparser
    except ImportError:  # pragma: no cover - a declared dependency
        raise BadDocument("reading feeds needs feedparser: pip install feedparser") from None
    if b"\x00" in raw[:8192]:
        raise BadDocument(f"{where}: binary content, not a feed")
    parsed = feedparser.parse(raw)
    if not parsed.get("version") and not parsed.entries:
        reason = parsed.get("bozo_exception")
        detail = f" ({str(reason).splitlines()[0][:80]})" if reason else ""
        raise BadDocument(f"{where}: not an RSS or Atom feed it can read{detail}")
    source = " ".join(str(parsed.feed.get("title") or "").split()) or None
    out: list[Article | Problem] = []
    for i, entry in enumerate(parsed.entries):
        label = f"{where} entry {i + 1}"
        try:
            out.append(_article(entry, source, label))
        except BadDocument as exc:
            out.append(Problem(label, str(exc).removeprefix(f"{label}: ")))
    if not out:
        raise BadDocument(f"{where}: the feed has no entries")
    return out


def _article(entry: Any, source: str | None, where: str) -> Article:
    text = entry_text(entry)
    title = " ".join(str(entry.get("title") or "").split())
    if not text:
        raise BadDocument(f"{where}: {title[:60]!r} has no content or summary")
    link = str(entry.get("link") or "").strip()
    url = canonical_url(link) if link.lower().startswith(("http://", "https://")) else None
    published = _published(entry)
    dateline = parse_dateline(text, year_from_url(url))
    if published is None and dateline is not None:
        published = dateline.day
    guid = str(entry.get("id") or "").strip()
    return Article(
        id=url_id(url, where) or (guid if guid and not id_problem(guid) else content_id(text)),
        title=(title or text.split("\n", 1)[0])[:MAX_TITLE_CHARS],
        text=text,
        source=source,
        url=url,
        published_at=published,
        author=str(entry.get("author") or "").strip() or None,
        place=dateline.place if dateline else None,
    )


def entry_text(entry: Any) -> str:
    """The entry's full content when it carries one, else its summary, as plain paragraphs."""
    candidates = [(c.get("value") or "", c.get("type") or "") for c in entry.get("content") or []]
    if entry.get("summary"):
        detail = entry.get("summary_detail") or {}
        candidates.append((entry["summary"], detail.get("type") or "text/html"))
    texts = [html_fragment_text(v) if "html" in t else _plain(v) for v, t in candidates]
    return max(texts, key=len, default="")


def html_fragment_text(fragment: str) -> str:
    """Plain text of an HTML fragment, one paragraph per block element.

    >>> html_fragment_text("<p>One <b>two</b>.</p><p>Three.</p>")
    'One two.\\n\\nThree.'
    """
    import lxml.html
    from lxml.etree import ParserError

    if "<" not in fragment:
        return _plain(fragment)
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (ParserError, ValueError):
        return _plain(fragment)
    for bad in root.xpath("//script|//style"):
        bad.drop_tree()
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.lower() in BLOCK_TAGS:
            element.tail = "\n" + (element.tail or "")
    return _plain(root.text_content())


def _plain(text: str) -> str:
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n\n".join(line for line in lines if line)


def _published(entry: Any) -> str | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC).isoformat()
    except (OverflowError, ValueError, OSError):
        return None
