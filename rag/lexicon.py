"""Cue-word lists (data in `rag/data/lexicon.json`) used to type question words and spans."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

LEXICON_PATH = Path(__file__).resolve().parent / "data" / "lexicon.json"


@dataclass(frozen=True)
class Lexicon:
    org_words: frozenset[str]
    person_titles: frozenset[str]
    place_words: frozenset[str]
    place_prepositions: frozenset[str]
    places: frozenset[str]
    demonyms: frozenset[str]
    reporting_verbs: frozenset[str]
    months: frozenset[str]
    weekdays: frozenset[str]
    countries: frozenset[str]
    group_nouns: frozenset[str]


@lru_cache(maxsize=2)
def load_lexicon(path: Path = LEXICON_PATH) -> Lexicon:
    data = json.loads(path.read_text(encoding="utf-8"))
    return Lexicon(**{key: frozenset(data[key]) for key in Lexicon.__dataclass_fields__})
