"""Typed candidate answer spans in a sentence: quantities, dates and named entities."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.lexicon import Lexicon
from rag.quantities import find_quantities
from rag.question import AnswerType
from rag.text import STOPWORDS

MONTHS_RE = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Jan\.?|Feb\.?|Mar\.?|Apr\.?|Jun\.?|Jul\.?|Aug\.?|Sept?\.?|Oct\.?|Nov\.?|Dec\.?)"
)
WEEKDAYS_RE = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
DATE = re.compile(
    rf"\b(?:(?:\d{{1,2}}(?:st|nd|rd|th)?\s+)?{MONTHS_RE}(?:\s+\d{{1,2}}(?:st|nd|rd|th)?)?"
    rf"(?:,?\s+(?:1[89]|20)\d\d)?"
    rf"|{WEEKDAYS_RE}(?:\s+(?:morning|afternoon|evening|night))?"
    rf"|(?:early|mid|late)-?\s?(?:1[89]|20)\d\d"
    rf"|(?:1[89]|20)\d\d(?:s)?"
    rf"|(?:last|this|next|earlier this|later this)\s+(?:year|month|week|weekend|night|morning|"
    rf"spring|summer|autumn|fall|winter)"
    rf"|yesterday|today|tonight|overnight"
    rf"|(?:\d+|a|one|two|three|four|five|six|seven|eight|nine|ten|several)\s+"
    rf"(?:days|weeks|months|years|decades)\s+ago"
    rf"|(?:the\s+)?(?:\d+(?:st|nd|rd|th)|[a-z]+teenth|twentieth|twenty-first)\s+century)\b"
)
MONTH_NUMBERS = {
    m: i
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
        start=1,
    )
}
CAP_WORD = re.compile(r"(?:[A-Z][\w'’-]*|[A-Z]\.(?:[A-Z]\.)+)")
CONNECTORS = {"of", "de", "al", "al-", "von", "van", "der", "bin", "da", "du", "and", "for", "the"}


@dataclass(frozen=True)
class Candidate:
    start: int  # offsets within the sentence
    end: int
    text: str
    kind: AnswerType
    value: float | str | None = None
    confident: bool = True  # False when the kind is a guess (a lone capitalized word)


def normalize_date(text: str) -> str | None:
    """ISO form of an absolute date phrase, or None for relative or partial ones.

    >>> normalize_date("February 2022"), normalize_date("24 February 2022"), normalize_date("2022")
    ('2022-02', '2022-02-24', '2022')
    """
    low = text.lower().replace(",", " ")
    year = re.search(r"\b(1[89]\d\d|20\d\d)\b", low)
    month = next((n for m, n in MONTH_NUMBERS.items() if re.search(rf"\b{m}", low)), None)
    day = re.search(r"\b(\d{1,2})(?:st|nd|rd|th)?\b", re.sub(r"\b\d{4}\b", "", low))
    if not year:
        return None
    if month is None:
        return year.group(1) if re.fullmatch(r"\s*\d{4}\s*", low) else None
    if day:
        return f"{year.group(1)}-{month:02d}-{int(day.group(1)):02d}"
    return f"{year.group(1)}-{month:02d}"


def quantity_candidates(sentence: str) -> list[Candidate]:
    return [
        Candidate(q.start, q.end, q.text, AnswerType.COUNT, q.value)
        for q in find_quantities(sentence)
        if not _inside_date(sentence, q.start, q.end)
    ]


def _inside_date(sentence: str, start: int, end: int) -> bool:
    return any(m.start() <= start and end <= m.end() for m in DATE.finditer(sentence))


def date_candidates(sentence: str) -> list[Candidate]:
    return [
        Candidate(m.start(), m.end(), m.group(), AnswerType.DATE, normalize_date(m.group()))
        for m in DATE.finditer(sentence)
    ]


def capitalized_sequences(sentence: str) -> list[tuple[int, int]]:
    """Runs of capitalized words (joined by 'of', 'de', ...), split at possessives.

    >>> s = "The Kremlin's spokesperson, Dmitry Peskov, met the Ministry of Defence."
    >>> [s[a:b] for a, b in capitalized_sequences(s)]
    ['The Kremlin', 'Dmitry Peskov', 'Ministry of Defence']
    """
    tokens = list(re.finditer(r"[\w'’.-]+", sentence))
    runs: list[tuple[int, int]] = []
    i = 0
    while i < len(tokens):
        if not CAP_WORD.fullmatch(tokens[i].group().rstrip(".")) and not re.fullmatch(
            r"[A-Z]\.(?:[A-Z]\.)+", tokens[i].group()
        ):
            i += 1
            continue
        j = i
        while True:
            word = tokens[j].group()
            if re.search(r"['’]s$", word) or word.endswith((",",)):
                break
            gap = sentence[tokens[j].end() : tokens[j + 1].start()] if j + 1 < len(tokens) else ","
            if gap != " ":
                break
            nxt = tokens[j + 1].group()
            if CAP_WORD.fullmatch(nxt.rstrip(".")):
                j += 1
                continue
            if (
                nxt.lower() in CONNECTORS - {"and", "the"}
                and j + 2 < len(tokens)
                and CAP_WORD.fullmatch(tokens[j + 2].group().rstrip("."))
            ):
                j += 2
                continue
            break
        start, end = tokens[i].start(), tokens[j].end()
        text = sentence[start:end]
        possessive = re.search(r"['’]s$", text)
        if possessive:
            end -= len(possessive.group())
        while end > start and sentence[end - 1] in ".-’'":
            if re.search(r"[A-Z]\.[A-Z]\.$", sentence[start:end]):
                break
            end -= 1
        runs.append((start, end))
        i = j + 1
    return runs


class EntityTyper:
    """Types capitalized runs as person, organization or place from cue words and context."""

    def __init__(self, lexicon: Lexicon, known: dict[str, AnswerType] | None = None) -> None:
        self.lex = lexicon
        self.known = known or {}

    def classify(self, sentence: str, start: int, end: int) -> tuple[AnswerType, bool] | None:
        text = sentence[start:end]
        toks = text.split()
        lows = [t.lower().strip(".") for t in toks]
        before = sentence[:start].split()
        prev = before[-1].lower().strip(",") if before else ""
        after = sentence[end:].split()
        nxt = after[0].lower().strip(",.;:") if after else ""
        whole = " ".join(lows)
        calendar = self.lex.months | self.lex.weekdays
        if all(w in STOPWORDS or w in self.lex.demonyms or w in calendar for w in lows):
            return None
        if any(w in self.lex.org_words for w in lows) or (
            re.fullmatch(r"[A-Z]{2,6}", text) and whole not in self.lex.places
        ):
            return AnswerType.ORGANIZATION, True
        if whole in self.lex.places or nxt in self.lex.place_words:
            return AnswerType.PLACE, True
        if lows[0] in self.lex.person_titles or prev in self.lex.person_titles:
            return AnswerType.PERSON, True
        if whole in self.known:
            return self.known[whole], True
        if lows[-1] in self.known and self.known[lows[-1]] == AnswerType.PERSON:
            return AnswerType.PERSON, True
        if prev in self.lex.place_prepositions and len(toks) <= 3:
            return AnswerType.PLACE, False
        if len(toks) in (2, 3) and all(re.fullmatch(r"[A-Z][a-z’'-]+", t) for t in toks):
            return AnswerType.PERSON, False
        if start == 0 and len(toks) == 1:
            return None  # a capital that may only mark the start of the sentence
        return AnswerType.PERSON, False

    def groups(self, sentence: str) -> list[Candidate]:
        """Groups named by nationality: "Russian forces", "U.S. and European representatives"."""
        nouns = "|".join(
            sorted((re.escape(n) for n in self.lex.group_nouns), key=len, reverse=True)
        )
        mod = r"(?:[A-Z][a-z]+|(?:[A-Z]\.){2,}|[A-Z]{2,3})"
        pattern = rf"\b(?P<mods>{mod}(?:\s+and\s+{mod})?)\s+(?:state\s+)?(?:{nouns})\b"
        out = []
        for match in re.finditer(pattern, sentence, re.IGNORECASE):
            text = match.group()
            mods = [m.lower().strip(".") for m in re.findall(mod, match.group("mods"))]
            if not mods or not text[0].isupper():
                continue
            if all(m in self.lex.demonyms or m in self.lex.places for m in mods):
                out.append(Candidate(match.start(), match.end(), text, AnswerType.ORGANIZATION))
        return out

    def candidates(self, sentence: str) -> list[Candidate]:
        groups = self.groups(sentence)
        out = list(groups)
        for start, end in capitalized_sequences(sentence):
            start, end = self._strip_leading(sentence, start, end)
            if start >= end:
                continue
            typed = self.classify(sentence, start, end)
            if typed is None:
                continue
            kind, confident = typed
            if kind is AnswerType.PERSON:
                start = self._strip_titles(sentence, start, end)
                if start >= end:
                    continue
            if any(g.start <= start and end <= g.end for g in groups):
                continue  # "U.S." inside "U.S. and European representatives"
            out.append(Candidate(start, end, sentence[start:end], kind, None, confident))
        return out

    def _strip_leading(self, sentence: str, start: int, end: int) -> tuple[int, int]:
        """Drop a capitalized function word ("The", "In", "While") that only opens the run."""
        while start < end:
            first = sentence[start:end].split()[0]
            if first.lower() in STOPWORDS or first.lower() in self.lex.demonyms:
                start += len(first)
                while start < end and sentence[start] == " ":
                    start += 1
            else:
                break
        return start, end

    def _strip_titles(self, sentence: str, start: int, end: int) -> int:
        """Drop titles ("President", "U.S. President") before a person's name."""
        while start < end:
            parts = sentence[start:end].split()
            first = parts[0]
            rest = sentence[start + len(first) : end].strip()
            low = first.lower().strip(".")
            nation = (
                low in self.lex.places
                or low in self.lex.demonyms
                or re.fullmatch(r"(?:[A-Z]\.)+", first)
            )
            title_next = len(parts) > 2 and parts[1].lower().strip(".") in self.lex.person_titles
            if (low in self.lex.person_titles or (nation and title_next)) and rest:
                start += len(first)
                while start < end and sentence[start] == " ":
                    start += 1
            else:
                break
        return start


def learn_entity_kinds(sentences: list[str], typer: EntityTyper) -> dict[str, AnswerType]:
    """Kinds of names known with confidence in an article; a lone surname then resolves later.

    A full name typed as a person ("President Volodymyr Zelensky") makes a later bare
    "Zelensky" a person too.
    """
    known: dict[str, AnswerType] = {}
    for sentence in sentences:
        for cand in typer.candidates(sentence):
            if not cand.confident:
                continue
            low = cand.text.lower()
            known.setdefault(low, cand.kind)
            if cand.kind is AnswerType.PERSON:
                known.setdefault(low.split()[-1], AnswerType.PERSON)
    return known


def typed_candidates(sentence: str, answer_type: AnswerType, typer: EntityTyper) -> list[Candidate]:
    """Candidates of the wanted kind (a person question also accepts organizations and places,
    at a lower confidence, since countries and institutions act in the news)."""
    if answer_type is AnswerType.COUNT:
        return quantity_candidates(sentence)
    if answer_type is AnswerType.DATE:
        return date_candidates(sentence)
    if answer_type in (AnswerType.PERSON, AnswerType.ORGANIZATION, AnswerType.PLACE):
        return typer.candidates(sentence)
    return []
