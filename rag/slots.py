"""How well a candidate fills the slot a question leaves open, beyond its type: the
preposition a date question puts before its wh-word, the calendar unit it names."""

from __future__ import annotations

import re

from rag.question import QuestionAnalysis
from rag.spans import Candidate

UNIT_PATTERNS = {
    "year": re.compile(r"\b(?:1[0-9]|20)\d\d\b"),
    "decade": re.compile(r"\b(?:1[0-9]|20)\d0s\b"),
    "century": re.compile(r"\bcentury\b", re.I),
}
OTHER_PREPOSITION = 0.6  # "since when": a date after "in" or "last" is the wrong slot
WRONG_UNIT = 0.3  # "in what year": "last year" does not name one


def date_fit(qa: QuestionAnalysis, sentence: str, cand: Candidate) -> float:
    """1.0 when the date sits where the question's preposition puts it and names its unit.

    >>> from rag.question import AnswerType
    >>> from rag.spans import date_candidates
    >>> qa = QuestionAnalysis("", AnswerType.DATE, (), (), (), frozenset(), date_prep="since")
    >>> s = "Talks stopped last year; the border has been shut since March 2021."
    >>> [(c.text, date_fit(qa, s, c)) for c in date_candidates(s)]
    [('last year', 0.6), ('March 2021', 1.0)]
    """
    fit = 1.0
    if qa.date_prep:
        before = sentence[: cand.start].split()
        fit *= 1.0 if before and before[-1].lower() == qa.date_prep else OTHER_PREPOSITION
    unit = UNIT_PATTERNS.get(qa.date_unit or "")
    if unit is not None and not unit.search(cand.text):
        fit *= WRONG_UNIT
    return fit
