"""Full text in PostgreSQL through our own analyzer, so both stores index the same terms.

PostgreSQL's English configuration stems differently and knows nothing of our aliases
(Odesa = Odessa); a `tsvector` written from `Analyzer.terms` keeps retrieval the same
whichever store holds the chunks. Lexemes are written as quoted literals with positions:

>>> tsvector_literal(["drone", "kyiv", "drone"])
"'drone':1,3 'kyiv':2"
>>> tsquery_literal(["o'brien", "kyiv", "kyiv"])
"'o''brien' | 'kyiv'"
"""

from __future__ import annotations

from collections.abc import Sequence

MAX_POSITION = 16383  # PostgreSQL keeps positions up to this
MAX_LEXEME_BYTES = 2046


def _quoted(term: str) -> str | None:
    if not term or len(term.encode("utf-8")) > MAX_LEXEME_BYTES:
        return None
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_literal(terms: Sequence[str]) -> str:
    """The text form of a tsvector holding `terms` at their positions (from 1)."""
    positions: dict[str, list[int]] = {}
    for at, term in enumerate(terms[:MAX_POSITION], start=1):
        positions.setdefault(term, []).append(at)
    parts = []
    for term, where in positions.items():
        quoted = _quoted(term)
        if quoted is not None:
            parts.append(f"{quoted}:{','.join(map(str, where))}")
    return " ".join(parts)


def tsquery_literal(terms: Sequence[str]) -> str:
    """Any of the terms (an OR query), each once; '' when there is none."""
    seen = dict.fromkeys(q for q in map(_quoted, terms) if q is not None)
    return " | ".join(seen)
