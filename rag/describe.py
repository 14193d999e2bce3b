"""Descriptive answers: the phrase a question's words point at, cut at clause boundaries."""

from __future__ import annotations

import re

from rag.question import AnswerType
from rag.spans import Candidate
from rag.text import STOPWORDS, Token

MAX_WORDS = 25
OF_WORDS = 12  # longest "of" phrase kept after a noun
CLAUSE = re.compile(r"[,;:()]|\s[–—-]\s|”\s|\.$")
EDGE_WORDS = {
    "that",
    "to",
    "was",
    "were",
    "is",
    "are",
    "be",
    "been",
    "by",
    "of",
    "as",
    "for",
    "with",
    "on",
    "in",
    "it",
    "has",
    "have",
    "had",
    "being",
    "from",
    "regarding",
    "about",
    "into",
    "and",
    "or",
    "but",
    "which",
    "who",
    "while",
    "if",
    "at",
    "than",
    "also",
    "then",
    "would",
    "will",
    "could",
}
TRAILING_ONLY = {"the", "a", "an", "its", "their", "his", "her"}
EDGE_WORDS |= {"did", "does", "do", "not", "he", "she", "they", "we", "this", "these", "those"}
OPENING = r"^[\s“\"'‘]+"
CLOSING = r"[\s”\"'’.,;:]+$"


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink [start, end) past edge function words and stray quotes or punctuation."""
    while start < end:
        piece = text[start:end]
        lead = re.match(OPENING, piece)
        if lead:
            start += lead.end()
            continue
        first = re.match(r"[\w'’-]+", piece)
        past_verb = first and re.fullmatch(r"[a-z]{3,}ed", first.group()) and " " in piece.strip()
        if first and (first.group().lower() in EDGE_WORDS or past_verb):
            start += first.end()
            continue
        break
    while end > start:
        piece = text[start:end]
        tail = re.search(CLOSING, piece)
        if tail:
            end = start + tail.start()
            continue
        last = re.search(r"[\w'’-]+$", piece)
        if last and last.group().lower() in EDGE_WORDS | TRAILING_ONLY:
            end = start + last.start()
            continue
        break
    return start, end


def segments(
    text: str, hits: list[Token], verb_hits: frozenset[int] = frozenset()
) -> list[tuple[int, int, float, bool]]:
    """Phrases between matched question words and clause breaks, with a position prior:
    right after a matched word (its object) scores 1.0, right before it 0.6. When the
    question's verb is matched (`verb_hits`: its starts), its object is the one wanted; the
    flag marks that object when the question's next word closes it (a one-word object fits).
    """
    out: list[tuple[int, int, float, bool]] = []
    breaks = sorted({m.start() for m in CLAUSE.finditer(text)} | {len(text)})
    for n, hit in enumerate(hits):
        slot = hit.start in verb_hits if verb_hits else n == len(hits) - 1
        after_prior = 1.0 if slot else 0.8
        next_hit = min([t.start for t in hits if t.start > hit.end], default=len(text) + 1)
        end = min([b for b in breaks if b >= hit.end] + [next_hit])
        closed = bool(verb_hits) and slot and end == next_hit
        start, end = _trim(text, hit.end, end)
        if start < end:
            out.append((start, end, after_prior, closed))
        preceding = [b + 1 for b in breaks if b < hit.start] + [
            t.end for t in hits if t.end < hit.start
        ]
        start = max(preceding) if preceding else 0
        start, end = _trim(text, start, hit.start)
        if start < end:
            out.append((start, end, 0.6, False))
    return out


def modified_noun(text: str, tokens: list[Token], noun_term: str, term_of) -> Candidate | None:
    """For "what kind of strikes" / "which truce": the noun in the text with its modifiers.

    >>> from rag.text import words
    >>> t = "drone strikes resulted in damage"
    >>> modified_noun(t, words(t), "strike", lambda w: w.lower().rstrip("s")).text
    'drone strikes'
    >>> t = "They raised the pressing question of grain exports, officials said."
    >>> modified_noun(t, words(t), "question", str.lower).text
    'pressing question of grain exports'
    """
    for i, tok in enumerate(tokens):
        if term_of(tok.text) != noun_term:
            continue
        j = i
        while j > 0 and i - j < 2:
            prev = tokens[j - 1]
            gap = text[prev.end : tokens[j].start]
            if prev.text.lower() in STOPWORDS or prev.text.lower() in EDGE_WORDS:
                break
            if not re.fullmatch(r"\s*[“\"‘]?\s*", gap):
                break
            j -= 1
        end = _of_complement(text, tokens, i)
        if j < i or end > tok.end:
            start = tokens[j].start
            return Candidate(start, end, text[start:end], AnswerType.DESCRIPTION, None, False)
    return None


def _of_complement(text: str, tokens: list[Token], i: int) -> int:
    """End of "issue of avoiding strikes": an "of" phrase names what the noun is, up to the
    clause's end; else the noun's own end."""
    nxt = i + 1
    if nxt + 1 >= len(tokens) or tokens[nxt].text.lower() != "of":
        return tokens[i].end
    if text[tokens[i].end : tokens[nxt].start] != " ":
        return tokens[i].end
    stop = min([m.start() for m in CLAUSE.finditer(text, tokens[nxt].end)] + [len(text)])
    _, end = _trim(text, tokens[nxt].end, stop)
    if end <= tokens[nxt].end or len(text[tokens[nxt].end : end].split()) > OF_WORDS:
        return tokens[i].end
    return end


def describe(
    text: str,
    hits: list[Token],
    question_terms: set[str],
    term_of,
    verb_hits: frozenset[int] = frozenset(),
) -> list[Candidate]:
    """Descriptive candidates of a sentence: phrases next to the matched question words that
    hold none of the question's words themselves."""
    out = []
    for start, end, prior, closed in segments(text, hits, verb_hits):
        words_in = re.findall(r"[\w'’-]+", text[start:end])
        if not words_in or len(words_in) > MAX_WORDS:
            continue
        if any(term_of(w) in question_terms for w in words_in):
            continue
        if all(w.lower() in STOPWORDS for w in words_in):
            continue
        content = [w for w in words_in if w.lower() not in STOPWORDS]
        if not closed:
            prior *= min(1.0, len(content) / 2)  # a bare word is rarely the whole description
        cand = Candidate(start, end, text[start:end], AnswerType.DESCRIPTION, prior, False)
        out.append(cand)
    return out
