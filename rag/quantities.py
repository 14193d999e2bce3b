"""Quantities in text: "three", "3", "nearly 3,000", "1.5 million", "dozens" -> spans and values."""

from __future__ import annotations

import re
from dataclasses import dataclass

UNITS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "a dozen": 12,
    "dozen": 12,
}
TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
SCALES = {
    "hundred": 100,
    "thousand": 1_000,
    "million": 1_000_000,
    "billion": 1_000_000_000,
    "trillion": 1_000_000_000_000,
}
VAGUE = (
    "tens of thousands|hundreds of thousands|dozens|scores|hundreds|thousands|millions|"
    "several|a few|a handful|numerous"
)
QUALIFIERS = (
    "nearly|almost|about|around|approximately|roughly|some|over|under|at least|at most|"
    "more than|fewer than|less than|up to|as many as|an estimated|upwards of|close to"
)
_unit = "|".join(sorted((k for k in UNITS if " " not in k), key=len, reverse=True))
_tens = "|".join(TENS)
_scale = "|".join(SCALES)
_word_number = (
    rf"(?:(?:{_tens})(?:[-\s](?:{_unit}))?|(?:{_unit})|a dozen)"
    rf"(?:\s+(?:{_scale})(?:\s+(?:and\s+)?(?:(?:{_tens})(?:[-\s](?:{_unit}))?|{_unit}))?)*"
)
_digits = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_amount = (
    rf"(?:[$€£]\s?)?(?:{_digits})(?:\s*(?:{_scale}|bn|m|k)\b)?(?:\s*(?:%|percent|per cent))?"
    rf"|{_word_number}(?:\s*(?:%|percent|per cent))?"
    rf"|{VAGUE}"
)
QUANTITY = re.compile(rf"\b(?:(?:{QUALIFIERS})\s+)?(?:{_amount})(?!\w)", re.IGNORECASE)
YEAR = re.compile(r"^(?:1[89]|20)\d\d$")


@dataclass(frozen=True)
class Quantity:
    start: int
    end: int
    text: str
    value: float | None  # None for vague amounts ("dozens")


def parse_number(text: str) -> float | None:
    """Numeric value of a number phrase, ignoring qualifiers; None when vague or not a number.

    >>> parse_number("three"), parse_number("nearly 3,000"), parse_number("1.5 million")
    (3.0, 3000.0, 1500000.0)
    >>> parse_number("twenty-five"), parse_number("two hundred and five"), parse_number("dozens")
    (25.0, 205.0, None)
    """
    low = re.sub(r"^(?:" + QUALIFIERS + r")\s+", "", text.strip().lower())
    low = low.replace("per cent", "").replace("percent", "").replace("%", "")
    low = re.sub(r"[$€£]", "", low).strip()
    if re.fullmatch(VAGUE, low):
        return None
    match = re.fullmatch(rf"({_digits})\s*({_scale}|bn|m|k)?", low)
    if match:
        value = float(match.group(1).replace(",", ""))
        scale = {"bn": "billion", "m": "million", "k": "thousand"}.get(
            match.group(2) or "", match.group(2)
        )
        return value * SCALES[scale] if scale else value
    total, current, seen = 0.0, 0.0, False
    for word in re.split(r"[\s-]+", low.replace(" and ", " ")):
        if word in ("a", ""):
            continue
        if word in UNITS:
            current += UNITS[word]
        elif word in TENS:
            current += TENS[word]
        elif word in SCALES:
            scale_value = SCALES[word]
            if scale_value == 100:
                current = (current or 1) * 100
            else:
                total += (current or 1) * scale_value
                current = 0
        else:
            return None
        seen = True
    return total + current if seen else None


def find_quantities(text: str) -> list[Quantity]:
    """Every quantity phrase in a text, except bare years (those are dates).

    >>> [(q.text, q.value) for q in find_quantities("In 2022, three people and nearly 3,000 ...")]
    [('three', 3.0), ('nearly 3,000', 3000.0)]
    """
    out = []
    for match in QUANTITY.finditer(text):
        phrase = match.group()
        if YEAR.match(phrase):
            continue
        out.append(Quantity(match.start(), match.end(), phrase, parse_number(phrase)))
    return out
