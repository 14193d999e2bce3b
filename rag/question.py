"""What a question asks for: its answer type, its key terms, and the noun a count is about."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from rag.text import STOPWORDS, Analyzer, words


class AnswerType(StrEnum):
    COUNT = "count"
    PERSON = "person"
    ORGANIZATION = "organization"
    PLACE = "place"
    DATE = "date"
    DESCRIPTION = "description"


PERSON_NOUNS = (
    r"person|people|man|woman|official|leader|president|minister|spokesperson|spokesman|"
    r"spokeswoman|commander|general|politician|journalist|author|reporter|envoy|diplomat|head"
)
ORG_NOUNS = (
    r"organi[sz]ation|group|agency|company|ministry|party|alliance|institution|body|"
    r"newspaper|outlet|network|union|army|unit|force|forces|government|bank|team|club"
)
PLACE_NOUNS = (
    r"city|town|village|country|nation|region|oblast|province|place|location|port|"
    r"capital|area|state|district|continent|island|river|sea|border|site|base|airport"
)
DATE_NOUNS = r"year|date|day|month|time|week|century|decade|season|period|hour"
COUNT_NOUNS = r"number|amount|percentage|percent|share|total|figure|sum|count|toll|cost|price"

RULES: list[tuple[re.Pattern[str], AnswerType]] = [
    (
        re.compile(r"\bhow (many|much)\b|\bhow (large|big|long|far|old|high|tall)\b"),
        AnswerType.COUNT,
    ),
    (re.compile(rf"\b(what|which) ({COUNT_NOUNS})\b|\bthe ({COUNT_NOUNS}) of\b"), AnswerType.COUNT),
    (re.compile(r"\bwhen\b|\bsince when\b|\bhow long ago\b"), AnswerType.DATE),
    (
        re.compile(rf"\b(what|which|in what|in which|on what|on which) ({DATE_NOUNS})s?\b"),
        AnswerType.DATE,
    ),
    (re.compile(r"\bwhere\b"), AnswerType.PLACE),
    (re.compile(rf"\b(what|which|in what|in which) ({PLACE_NOUNS})\b"), AnswerType.PLACE),
    (re.compile(rf"\b(what|which) ({ORG_NOUNS})\b"), AnswerType.ORGANIZATION),
    (
        re.compile(rf"\b(what|which) ({PERSON_NOUNS})\b|\bwho\b|\bwhom\b|\bwhose\b"),
        AnswerType.PERSON,
    ),
]


@dataclass(frozen=True)
class QuestionAnalysis:
    text: str
    answer_type: AnswerType
    terms: tuple[str, ...]  # index terms of the question's content words
    surfaces: tuple[str, ...]  # the question's word for each term (for soft matching)
    focus_terms: tuple[str, ...]  # for counts: what is counted ("tanks" in "how many tanks ...")
    proper_terms: frozenset[str]  # terms from capitalized words: names weigh more


def answer_type_of(question: str) -> AnswerType:
    """The kind of answer a question wants.

    >>> answer_type_of("How many were wounded in Odessa?").value
    'count'
    >>> answer_type_of("Which city was struck?").value, answer_type_of("Who alleged it?").value
    ('place', 'person')
    """
    low = " ".join(question.lower().split())
    for pattern, answer_type in RULES:
        if pattern.search(low):
            return answer_type
    return AnswerType.DESCRIPTION


FOCUS_STOP = {
    "were",
    "was",
    "did",
    "do",
    "does",
    "have",
    "has",
    "had",
    "are",
    "is",
    "will",
    "would",
    "could",
    "can",
    "in",
    "of",
    "on",
    "at",
    "by",
    "for",
    "to",
    "the",
    "a",
}
QUESTION_WORDS = {"what", "which", "who", "whom", "whose", "when", "where", "why", "how"}


def analyze_question(question: str, analyzer: Analyzer) -> QuestionAnalysis:
    answer_type = answer_type_of(question)
    tokens = words(question)
    terms: list[str] = []
    surfaces: list[str] = []
    proper: set[str] = set()
    for i, tok in enumerate(tokens):
        low = tok.text.lower()
        if low in QUESTION_WORDS or low in STOPWORDS:
            continue
        term = analyzer.term(tok.text)
        if not term or term in terms:
            continue
        terms.append(term)
        surfaces.append(tok.text)
        if tok.text[:1].isupper() and i > 0:
            proper.add(term)
    focus: list[str] = []
    match = re.search(r"\bhow (?:many|much)\s+(.*)", question, re.IGNORECASE)
    if match:
        for tok in words(match.group(1)):
            if tok.text.lower() in FOCUS_STOP:
                break
            term = analyzer.term(tok.text)
            if term:
                focus.append(term)
    kept = [(t, w) for t, w in zip(terms, surfaces, strict=True) if t not in ("mani", "number")]
    return QuestionAnalysis(
        question,
        answer_type,
        tuple(t for t, _ in kept),
        tuple(w for _, w in kept),
        tuple(focus),
        frozenset(proper),
    )
