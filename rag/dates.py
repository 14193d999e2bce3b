"""Dates as articles write them ("on Tuesday", "yesterday", "March 3") made absolute against the
article's publication date, with dateparser; and the time a question asks about.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from rag.spans import DATE

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
RELATIVE_DAY = re.compile(
    r"\b(?:yesterday|today|tonight|overnight|last night|days? ago|" + "|".join(WEEKDAYS) + r")\b",
    re.I,
)
MONTH_DAY = re.compile(
    r"\b\d{1,2}(?:st|nd|rd|th)?\s+(?:" + "|".join(m[:3] for m in MONTHS) + r")"
    r"|\b(?:" + "|".join(m[:3] for m in MONTHS) + r")[a-z]*\.?\s+\d{1,2}\b",
    re.I,
)
WEEKDAY_PHRASE = re.compile(
    r"(?P<last>last\s+)?(?P<day>"
    + "|".join(WEEKDAYS)
    + r")(?:\s+(?:morning|afternoon|evening|night))?",
    re.I,
)
YEAR = re.compile(r"\b(?:1[89]|20)\d\d\b")
TIME_OPENS = re.compile(  # the words that open a date phrase: "as of", "on", "in"
    r"\b(?:as of|as at|by|until|up to|on|in)\s+(?:the\s+)?$", re.I
)
UNTIL = re.compile(r"\b(?:as of|by|until|up to|as at)\s+(?:the\s+)?$", re.I)  # before a date
EARLIEST = re.compile(
    r"\b(?:first|initial(?:ly)?|at first|earliest|originally|early reports?)\b", re.I
)


def parse_iso(value: str | None) -> date | None:
    """The date of an ISO string ("2024-06-06", or a timestamp starting with one), else None.

    >>> parse_iso("2024-06-06T10:00:00Z"), parse_iso("June"), parse_iso(None)
    (datetime.date(2024, 6, 6), None, None)
    """
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


@lru_cache(maxsize=4096)
def resolve(phrase: str, published_at: str | None) -> str | None:
    """The ISO day a date phrase names, read from the day the article was published.

    >>> resolve("on Tuesday", "2024-06-06"), resolve("yesterday", "2024-06-06")
    ('2024-06-04', '2024-06-05')
    >>> resolve("March 3", "2024-06-06"), resolve("3 March 2023", None)
    ('2024-03-03', '2023-03-03')
    >>> resolve("Tuesday", None) is None  # relative, and nothing to read it from
    True
    >>> resolve("on Thursday night", "2024-06-06"), resolve("last Thursday", "2024-06-06")
    ('2024-06-06', '2024-05-30')
    """
    import dateparser  # type: ignore[import-untyped]

    base = parse_iso(published_at)
    text = re.sub(r"^(?:on|since|by|from|in)\s+", "", phrase.strip(), flags=re.I)
    if not (RELATIVE_DAY.search(text) or MONTH_DAY.search(text)):
        return None  # "2022", "March 2024", "last year": not a day
    absolute = bool(YEAR.search(text))
    if base is None and not absolute:
        return None
    weekday = WEEKDAY_PHRASE.fullmatch(text)
    if weekday and base is not None:  # news: "on Tuesday" in Tuesday's paper is that day
        back = (base.weekday() - WEEKDAYS.index(weekday.group("day").lower())) % 7
        if weekday.group("last") and back == 0:
            back = 7
        return (base - timedelta(days=back)).isoformat()
    settings: dict[str, object] = {"PREFER_DATES_FROM": "past"}
    if base is not None:
        settings["RELATIVE_BASE"] = datetime(base.year, base.month, base.day)
    found = dateparser.parse(text, languages=["en"], settings=settings)
    return found.date().isoformat() if found else None


def event_date(sentence: str, published_at: str | None) -> tuple[str, str] | None:
    """The first date phrase of a sentence that names a day, and that day (ISO).

    >>> event_date("Three were killed in a strike on Tuesday, officials said.", "2024-06-06")
    ('on Tuesday', '2024-06-04')
    >>> event_date("The toll rose to 17.", "2024-06-06") is None
    True
    """
    for match in DATE.finditer(sentence):
        start = match.start()
        before = sentence[max(0, start - 3) : start]
        phrase = ("on " if before.lower() == "on " else "") + match.group()
        day = resolve(phrase, published_at)
        if day:
            return phrase, day
    return None


@dataclass(frozen=True)
class TimeScope:
    """The time a question asks about: fields of a day to match, or the earliest report."""

    year: int | None = None
    month: int | None = None
    day: int | None = None
    weekday: int | None = None
    earliest: bool = False
    text: str = ""
    until: bool = False  # "as of June 5", "by June 5": that day or before it

    def matches(self, iso: str | None) -> bool:
        found = parse_iso(iso)
        if found is None:
            return False
        if self.until and self.month is not None and self.day is not None:
            year = self.year if self.year is not None else found.year
            return (found.year, found.month, found.day) <= (year, self.month, self.day)
        return (
            (self.year is None or found.year == self.year)
            and (self.month is None or found.month == self.month)
            and (self.day is None or found.day == self.day)
            and (self.weekday is None or found.weekday() == self.weekday)
        )

    @property
    def names_a_time(self) -> bool:
        return any(v is not None for v in (self.year, self.month, self.day, self.weekday))


def time_scope(question: str) -> TimeScope | None:
    """The time a question names ("on March 12", "in 2024", "on Monday", "at first"), or None.

    >>> time_scope("How many were killed on June 3?")
    TimeScope(year=None, month=6, day=3, weekday=None, earliest=False, text='June 3', until=False)
    >>> time_scope("What was the toll in 2024?").year, time_scope("What did the mayor say first?").earliest
    (2024, True)
    >>> time_scope("How many were killed on Monday?").weekday, time_scope("How many died?") is None
    (0, True)
    >>> as_of = time_scope("How many had died as of June 5?")
    >>> as_of.until, as_of.matches("2024-06-03"), as_of.matches("2024-06-05"), as_of.matches("2024-06-07")
    (True, True, True, False)
    """
    named = _named_time(question)
    if named is not None:
        return named[1]
    if EARLIEST.search(question.lower()):
        return TimeScope(earliest=True, text=EARLIEST.search(question.lower()).group())  # type: ignore[union-attr]
    return None


def _named_time(question: str) -> tuple[re.Match[str], TimeScope] | None:
    """The first date phrase of a question that names a day, month, year or weekday."""
    for match in DATE.finditer(question):
        words = match.group().lower().split()
        year = next((int(w) for w in words if YEAR.fullmatch(w)), None)
        month = next(
            (i for i, m in enumerate(MONTHS, start=1) if any(w.startswith(m[:3]) for w in words)),
            None,
        )
        day_word = next((w for w in words if re.fullmatch(r"\d{1,2}(?:st|nd|rd|th)?,?", w)), None)
        day = int(re.sub(r"\D", "", day_word)) if day_word and month else None
        weekday = next((i for i, d in enumerate(WEEKDAYS) if d in words), None)
        if any(v is not None for v in (year, month, day, weekday)):
            until = bool(UNTIL.search(question[: match.start()]))
            return match, TimeScope(year, month, day, weekday, False, match.group(), until)
    return None


def without_time(question: str) -> str:
    """The question without the day it names, as the reader reads it: a reader trained on
    questions that name no day is surer of every day's figure without one, and `decide`
    then takes the figure of that day.

    >>> without_time("As of September 18, 2025, how many deaths had been reported?")
    'How many deaths had been reported?'
    >>> without_time("What was the death toll from the bombing on September 17, 2025?")
    'What was the death toll from the bombing?'
    >>> without_time("How many were killed in the attack as of June 5, according to the army?")
    'How many were killed in the attack, according to the army?'
    >>> without_time("How many were killed in the attack?")
    'How many were killed in the attack?'
    """
    named = _named_time(question)
    if named is None:
        return question
    match = named[0]
    opening = TIME_OPENS.search(question[: match.start()])
    left = question[: opening.start() if opening else match.start()].rstrip(" ,")
    right = question[match.end() :].lstrip(" ")
    if not left:
        right = right.lstrip(",").lstrip()
        return right[:1].upper() + right[1:]
    return left + right if right[:1] in "?.!," else f"{left} {right}"
