"""Answer metrics, SQuAD-style: normalization, exact match, token F1, number-aware match.

Gold answers are a list of acceptable strings; an empty list means the sources do not say, and
then (SQuAD 2.0) only an empty prediction, an abstention, scores 1.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence

from rag.quantities import find_quantities

ARTICLES = re.compile(r"\b(a|an|the)\b")
ASCII_PUNCTUATION = frozenset(string.punctuation)


def _is_punctuation(char: str) -> bool:
    # SQuAD strips string.punctuation; curly quotes and dashes from news copy go the same way.
    return char in ASCII_PUNCTUATION or unicodedata.category(char).startswith("P")


def normalize_answer(text: str | None) -> str:
    """SQuAD's normalization: lower-case, drop punctuation and a/an/the, collapse spaces.

    >>> normalize_answer("The  “Easter truce”!")
    'easter truce'
    >>> normalize_answer("U.S. and European representatives")
    'us and european representatives'
    """
    if not text:
        return ""
    text = "".join(c for c in text.lower() if not _is_punctuation(c))
    return " ".join(ARTICLES.sub(" ", text).split())


def tokens(text: str | None) -> list[str]:
    return normalize_answer(text).split()


def exact_match(prediction: str | None, gold: str) -> float:
    """1.0 when both normalize to the same string.

    >>> exact_match("the Kremlin", "Kremlin"), exact_match("Kremlin spokesman", "Kremlin")
    (1.0, 0.0)
    """
    return float(normalize_answer(prediction) == normalize_answer(gold))


def token_f1(prediction: str | None, gold: str) -> float:
    """Harmonic mean of token precision and recall (bags of tokens, as SQuAD counts them).

    >>> round(token_f1("Dmitry Peskov, the spokesperson", "Peskov"), 4)
    0.5
    """
    pred, ref = tokens(prediction), tokens(gold)
    if not pred or not ref:
        return float(pred == ref)  # SQuAD 2.0: empty against empty is a match
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def _format_value(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def canonical_numbers(text: str | None) -> str:
    """The text normalized, with every number phrase replaced by its value.

    >>> canonical_numbers("nearly 3,000 violations"), canonical_numbers("Three individuals")
    ('3000 violations', '3 individuals')
    """
    if not text:
        return ""
    pieces, cursor = [], 0
    for quantity in find_quantities(text):
        if quantity.value is None:
            continue  # vague amounts ("dozens") stay words
        pieces += [text[cursor : quantity.start], f" {_format_value(quantity.value)} "]
        cursor = quantity.end
    pieces.append(text[cursor:])
    return normalize_answer("".join(pieces))


def number_match(prediction: str | None, gold: str) -> float:
    """Exact match after numbers are read as values: "3" = "three", "3,000" = "nearly 3,000".

    >>> number_match("three", "3"), number_match("3,000", "3000"), number_match("two", "3")
    (1.0, 1.0, 0.0)
    """
    return float(canonical_numbers(prediction) == canonical_numbers(gold))


def is_empty(prediction: str | None) -> bool:
    return not normalize_answer(prediction)


def best_score(
    prediction: str | None, answers: Sequence[str], metric: Callable[[str | None, str], float]
) -> float:
    """The best score over the acceptable answers; with none, 1.0 only for an empty prediction.

    >>> best_score("three", ["nearly 3,000", "three"], exact_match)
    1.0
    >>> best_score(None, [], exact_match), best_score("Paris", [], exact_match)
    (1.0, 0.0)
    """
    if not answers:
        return float(is_empty(prediction))
    return max(metric(prediction, gold) for gold in answers)
