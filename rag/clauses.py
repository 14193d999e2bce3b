"""Clause-shaped descriptive answers: what a speaker said, what happened to a thing, and the
object of a question's stranded preposition."""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import dropwhile

from rag.describe import CLAUSE, CLOSING, EDGE_WORDS, OPENING, TRAILING_ONLY
from rag.question import AnswerType
from rag.spans import Candidate
from rag.text import Token

AUXILIARY = {"has", "have", "had", "was", "were", "is", "are", "will", "would", "could", "may"}
AUXILIARY |= {"might", "been", "remains", "remained"}
RELATIVE = {"which", "that", "who"}
PASSIVE = {"is", "are", "was", "were", "be", "been", "being"}
MAX_WORDS = 25
BARE_CLAUSE_VERBS = {"said", "says", "say"}  # "he said the bridge would reopen": no "that"
WORD = re.compile(r"[\w'’-]+")


def _clause_end(text: str, start: int) -> int:
    return min([m.start() for m in CLAUSE.finditer(text, start)] + [len(text)])


def _tidy(text: str, start: int, end: int) -> tuple[int, int]:
    """Strip opening quotes and closing punctuation or a dangling article; keep the verbs."""
    lead = re.match(OPENING, text[start:end])
    start += lead.end() if lead else 0
    while end > start:
        tail = re.search(CLOSING, text[start:end])
        last = re.search(r"[\w'’-]+$", text[start:end])
        if tail:
            end = start + tail.start()
        elif last and last.group().lower() in TRAILING_ONLY | {"and", "or", "but"}:
            end = start + last.start()
        else:
            break
    return start, end


def _candidate(text: str, start: int, end: int) -> Candidate | None:
    start, end = _tidy(text, start, end)
    if start >= end or len(WORD.findall(text[start:end])) > MAX_WORDS:
        return None
    return Candidate(start, end, text[start:end], AnswerType.DESCRIPTION, 1.0, False)


def speech_complements(
    text: str, tokens: list[Token], reporting: Callable[[str], bool]
) -> list[Candidate]:
    """What is said after a reporting verb, up to its clause's end.

    >>> from rag.text import words
    >>> t = "The mayor said that the bridge would reopen soon, and left."
    >>> [c.text for c in speech_complements(t, words(t), lambda w: w == "said")]
    ['the bridge would reopen soon']
    >>> t = "He voiced doubts, and remarked: “talks will fail”."
    >>> [c.text for c in speech_complements(t, words(t), lambda w: w in ("voiced", "remarked"))]
    ['talks will fail']
    """
    out = []
    for i, tok in enumerate(tokens):
        if not reporting(tok.text) or (i and tokens[i - 1].text.lower() in PASSIVE):
            continue
        start = tok.end
        opener = re.match(r"\s*(?:that\b|:|[“\"])\s*", text[start:])
        if opener is None and tok.text.lower() not in BARE_CLAUSE_VERBS:
            continue  # "voiced skepticism": a noun object, not a reported clause
        start += opener.end() if opener else 0
        cand = _candidate(text, start, _clause_end(text, start + 1))
        if cand is not None:
            out.append(cand)
    return out


def predicate(text: str, subject_end: int) -> Candidate | None:
    """For "what happened to X": the first verb phrase after X that X is the subject of. A
    participle "by" phrase only describes X and is skipped; so is a phrase set off between
    commas when X's own verb follows it ("X, which had held for years, collapsed").

    >>> t = "The ceasefire agreed by both sides, which had held for a week, collapsed."
    >>> predicate(t, 13).text
    'collapsed'
    >>> predicate("Both sides signed a deal brokered by Oslo, which has since expired.", 25).text
    'has since expired'
    >>> predicate("The old bridge collapsed on Monday.", 14).text
    'collapsed on Monday'
    """
    found: list[tuple[Candidate, bool]] = []  # verb-led clauses, and whether a relative leads
    start = subject_end
    for _ in range(4):
        if start >= len(text):
            break
        end = _clause_end(text, start)
        clause = list(WORD.finditer(text, start, end))
        relative = bool(clause) and clause[0].group().lower() in RELATIVE
        clause = clause[1:] if relative else clause
        if len(clause) > 1 and clause[1].group().lower() == "by":  # "X agreed by Y has lapsed"
            clause = list(dropwhile(lambda m: m.group().lower() not in AUXILIARY, clause))
        if clause and _verb_led([m.group() for m in clause[:2]]):
            cand = _candidate(text, clause[0].start(), end)
            if cand is not None:
                found.append((cand, relative))
        elif found:
            break
        start = end + 1
    if len(found) > 1 and not found[1][1]:
        return found[1][0]
    return found[0][0] if found else None


def _verb_led(first: list[str]) -> bool:
    head = first[0]
    by = len(first) > 1 and first[1].lower() == "by"
    return head.lower() in AUXILIARY or (bool(re.fullmatch(r"[a-z]{3,}ed", head)) and not by)


def after_preposition(text: str, cand: Candidate, preposition: str) -> Candidate:
    """For "what did X accuse Y of?": cut a candidate to what follows the stranded
    preposition ("each other of violating the truce" -> "violating the truce")."""
    if text[: cand.start].split()[-1:] == [preposition]:
        return cand
    for m in WORD.finditer(cand.text):
        if len(WORD.findall(cand.text[: m.start()])) >= 4:
            break
        if m.group().lower() == preposition and cand.text[m.end() :].strip():
            start, end = _tidy(text, cand.start + m.end(), cand.end)
            while (lead := WORD.match(text, start)) and lead.group().lower() in EDGE_WORDS:
                start = lead.end() + 1
            if start < end:
                return Candidate(start, end, text[start:end], cand.kind, cand.value, False)
    return cand
