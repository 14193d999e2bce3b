"""Word-level text analysis shared by BM25 and the answerer: tokens, stems, stopwords, aliases."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import Stemmer

WORD = re.compile(r"\w+(?:[-'’]\w+)*", re.UNICODE)
# Lucene's English stop set (EnglishAnalyzer; the list bm25s ships as STOPWORDS_EN, copied here:
# importing bm25s for it pulled in SciPy, a tenth of a second of every start-up)
LUCENE_STOPWORDS = [
    "a",
    "an",
    "and",
    "are",
    "as",
    "at",
    "be",
    "but",
    "by",
    "for",
    "if",
    "in",
    "into",
    "is",
    "it",
    "no",
    "not",
    "of",
    "on",
    "or",
    "such",
    "that",
    "the",
    "their",
    "then",
    "there",
    "these",
    "they",
    "this",
    "to",
    "was",
    "will",
    "with",
]
# Lucene's list plus question words and common function words.
STOPWORDS = frozenset(LUCENE_STOPWORDS) | frozenset(
    [
        "s",
        "t",
        "i",
        "me",
        "my",
        "we",
        "our",
        "you",
        "your",
        "he",
        "him",
        "his",
        "she",
        "her",
        "its",
        "them",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "am",
        "were",
        "been",
        "being",
        "have",
        "has",
        "had",
        "having",
        "do",
        "does",
        "did",
        "doing",
        "would",
        "should",
        "could",
        "can",
        "may",
        "might",
        "must",
        "shall",
        "from",
        "up",
        "down",
        "out",
        "off",
        "over",
        "under",
        "again",
        "further",
        "once",
        "here",
        "all",
        "any",
        "both",
        "each",
        "few",
        "more",
        "most",
        "other",
        "some",
        "own",
        "same",
        "so",
        "than",
        "too",
        "very",
        "just",
        "also",
        "only",
        "about",
        "against",
        "between",
        "through",
        "during",
        "before",
        "after",
        "above",
        "below",
        "until",
        "while",
        "because",
        "those",
        "this",
        "these",
        "there's",
        "much",
        "many",
        "one's",
    ]
)


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int


def words(text: str) -> list[Token]:
    """Word tokens with offsets.

    >>> [t.text for t in words("Kyiv's 3,000 drones")]
    ["Kyiv's", '3', '000', 'drones']
    """
    return [Token(m.group(), m.start(), m.end()) for m in WORD.finditer(text)]


@lru_cache(maxsize=8)
def load_aliases(path: Path) -> dict[str, str]:
    """Map every spelling variant to its group's canonical spelling."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    table: dict[str, str] = {}
    for group in data["groups"]:
        canonical = group[0].lower()
        for variant in group:
            table[variant.lower()] = canonical
    return table


class Analyzer:
    """Turns text into index terms: lower case, possessive stripped, alias-canonical, stemmed."""

    def __init__(self, aliases: dict[str, str]) -> None:
        self.aliases = aliases
        self._stemmer = Stemmer.Stemmer("english")
        self._cache: dict[str, str] = {}

    def term(self, word: str) -> str:
        """Index term of one word ('' for a stopword).

        >>> Analyzer({"odessa": "odesa"}).term("Odessa's")
        'odesa'
        """
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        low = word.lower().replace("’", "'")
        if low.endswith("'s"):
            low = low[:-2]
        if low in STOPWORDS:
            result = ""
        elif low in self.aliases:
            result = self.aliases[low]
        else:
            result = self._stemmer.stemWord(low)
        if len(self._cache) < 200_000:
            self._cache[word] = result
        return result

    def terms(self, text: str) -> list[str]:
        """Index terms of a text, in order (BM25 indexes every chunk through this).

        >>> Analyzer({}).terms("The drones struck Kyiv's port")
        ['drone', 'struck', 'kyiv', 'port']
        """
        cache, out = self._cache, []
        for word in WORD.findall(text):
            term = cache.get(word)
            if term is None:
                term = self.term(word)
            if term:
                out.append(term)
        return out
