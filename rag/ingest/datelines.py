"""Datelines: "KYIV, March 3 (Reuters) -" at the top of a wire story gives its place and date."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = r"(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_PLACE = r"(?P<place>[A-Z][A-Z'.\-]+(?: [A-Z][A-Z'.\-]+){0,3}(?:, [A-Z][A-Za-z'.\-]+(?: [A-Z][A-Za-z'.\-]+){0,2})?)"
_DAY_FIRST = rf"(?P<day1>\d{{1,2}}) {_MONTH}(?:,? (?P<year1>\d{{4}}))?"
_MONTH_FIRST = _MONTH.replace("month", "month2") + r" (?P<day2>\d{1,2})(?:, (?P<year2>\d{4}))?"
DATELINE = re.compile(
    rf"^\s*{_PLACE},?(?: (?:{_MONTH_FIRST}|{_DAY_FIRST}))?"
    r"(?: \((?P<agency>[A-Za-z .\-]{2,30})\))?\s*[-\u2013\u2014]+\s",
    re.IGNORECASE,
)
URL_YEAR = re.compile(r"/(20\d\d|19\d\d)/")


@dataclass(frozen=True)
class Dateline:
    """What a dateline says; `day` is ISO (YYYY-MM-DD) only when a year is known."""

    place: str
    day: str | None
    agency: str | None


def parse_dateline(text: str, year: int | None = None) -> Dateline | None:
    """The dateline opening `text`, if any; `year` completes a date that names none.

    >>> parse_dateline("KYIV, March 3 (Reuters) - A strike...", 2024)
    Dateline(place='Kyiv', day='2024-03-03', agency='Reuters')
    >>> parse_dateline("ODESA, Ukraine (AP) \u2014 Three were wounded.")
    Dateline(place='Odesa, Ukraine', day=None, agency='AP')
    >>> parse_dateline("Officials said three were wounded.") is None
    True
    """
    match = DATELINE.match(text[:200])
    if match is None or not match.group("place").split(",")[0].isupper():
        return None  # the place of a dateline is written in capitals
    month = match.group("month") or match.group("month2")
    day = match.group("day1") or match.group("day2")
    given_year = match.group("year1") or match.group("year2")
    iso = None
    if month and day and (given_year or year):
        try:
            iso = date(int(given_year or year), MONTHS[month.lower()], int(day)).isoformat()
        except ValueError:
            iso = None
    place = ", ".join(
        part.strip().title() if part.strip().isupper() else part.strip()
        for part in match.group("place").split(",")
    )
    return Dateline(place, iso, match.group("agency"))


def year_from_url(url: str | None) -> int | None:
    """The year a news URL names in its path (`/2024/03/03/...`), if any."""
    found = URL_YEAR.search(url or "")
    return int(found.group(1)) if found else None
