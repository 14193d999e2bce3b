"""Sentence splitting with character offsets (abbreviation-aware, no model needed)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

ABBREVIATIONS = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "gen",
    "col",
    "lt",
    "sgt",
    "capt",
    "gov",
    "sen",
    "rep",
    "st",
    "jr",
    "sr",
    "no",
    "vs",
    "etc",
    "inc",
    "ltd",
    "co",
    "corp",
    "u.s",
    "u.k",
    "u.n",
    "e.g",
    "i.e",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "approx",
}
# Names this splitter's behaviour; sentence vectors stored with an index (rag/sentence_vectors.py)
# are used only by a splitter of the same version. Change it when the splitting changes.
SPLITTER_VERSION = "sentences-v1"
BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+|$)|\n\s*\n|\n")


class SpannedText(Protocol):
    text: str

    def spans(self) -> tuple[tuple[int, int], ...]: ...


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int
    text: str


NEXT_CHAR = re.compile(r"\s*(\S)")


def split_sentences(text: str, offset: int = 0) -> list[Sentence]:
    """Sentences of a text; offsets are `offset` + positions in `text`.

    >>> [s.text for s in split_sentences("Mr. Smith left. The U.S. agreed! Done")]
    ['Mr. Smith left.', 'The U.S. agreed!', 'Done']
    """
    out: list[Sentence] = []
    start = 0
    for match in BOUNDARY.finditer(text):
        end = match.end()
        if match.group().startswith("."):
            before = text[start : match.start()].split()
            last = before[-1].lower().rstrip(".") if before else ""
            found = NEXT_CHAR.match(text, end)  # not text[end:].lstrip(): O(n) per boundary
            following = found.group(1) if found else ""
            if last in ABBREVIATIONS or (len(last) == 1 and last.isalpha()):
                continue
            if following and following.islower():
                continue
        _append(out, text, start, end, offset)
        start = end
    _append(out, text, start, len(text), offset)
    return out


def article_sentences(article: SpannedText) -> list[Sentence]:
    """The sentences of an article's indexed spans, with offsets into its whole text."""
    return [s for a, b in article.spans() for s in split_sentences(article.text[a:b], a)]


def _append(out: list[Sentence], text: str, start: int, end: int, offset: int) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if not stripped:
        return
    lead = len(piece) - len(piece.lstrip())
    s = start + lead
    out.append(Sentence(offset + s, offset + s + len(stripped), stripped))
