"""Several articles, several answers: the distinct reports the sources give, which one answers the
question, and whether the sources agree.

A report is one answer value (a count's number, else the span's words) with everything that says
who gives it and when: the outlet and publication date, the speaker ("according to ..."), the day
the text names (resolved against the publication date), whether it is phrased as a change ("rose
to", "up from 31"), and its citations. By default the latest report answers (by the day the text
names, then the publication date); a question that names a source or a time is answered by the
reports of that source or time. Agreement: "single", "consistent" (one value), "updated" (later
figures replace earlier ones) or "disputed" (different values at the same time, or a report's own
sentence says it is contested: "disputing the Houthis' figure of 17").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from rag.answering import Citation
from rag.dates import TimeScope, event_date, time_scope
from rag.quantities import find_quantities
from rag.question import AnswerType, answer_type_of

CHANGED_TO = (
    r"\b(?:(?:has|have|had)\s+)?(?:rose|risen|rises|climbed|increased|grew|jumped|went up|"
    r"fell|dropped|decreased|revised(?:\s+(?:up|down)(?:ward)?)?|updated|raised|lowered|"
    r"down)\s+to\b"  # "revised the toll ... down to eight"; never "up to 60", a bound
)
CHANGE = re.compile(CHANGED_TO + r"|\b(?:up|down|revised)\s+from\b|\bnow stands at\b", re.I)
EARLIER = re.compile(r"\b(?:up|down|revised(?:\s+(?:up|down))?)\s+from\s+", re.I)
# "rose to seven from four": after a change's figure, the one after "from" is the one replaced
FROM_EARLIER = re.compile(CHANGED_TO + r"\s+(?:[\w,.-]+\s+){1,3}?from\s+$", re.I)
FROM = re.compile(r"\s+from\s+", re.I)
SIDES = {
    "russia": ("russia", "russian", "moscow", "kremlin"),
    "ukraine": ("ukraine", "ukrainian", "kyiv", "kiev"),
}
SOURCE_PATTERNS = (
    re.compile(r"\baccording to (?:the )?(?P<who>[^,?.;]+)", re.I),
    re.compile(
        r"\b(?:does|do|did) (?:the )?(?P<who>.+?) (?:say|said|claim|claimed|report|reported|"
        r"put|count|give|estimate)\b",
        re.I,
    ),
    re.compile(r"\b(?:reported|given|claimed|cited|stated) by (?:the )?(?P<who>[^,?.;]+)", re.I),
    re.compile(r"\b(?P<who>[A-Z][\w-]*(?:\s+[\w-]+){0,3})(?:'s|’s) (?:figure|count|toll|tally)\b"),
    re.compile(
        r"^(?:how many|what)\b.*?\b(?:the )?(?P<who>[\w\s-]+?) (?:say|says|claim|claims|report|"
        r"reports)\b",
        re.I,
    ),
)
REPORTED_ON = re.compile(
    r"\b(?:reported|given|published|announced|released|as of|put|stood)\b", re.I
)
DISPUTES = re.compile(
    r"(?<!\bnot )(?<!n't )(?<!never )(?<!\bno one )(?<!nobody )"
    r"\b(?:disput(?:e|es|ed|ing)|contradict(?:s|ed|ing)?|den(?:y|ies|ied|ying)|"
    r"reject(?:s|ed|ing)?|(?:higher|lower|different)\s+(?:figure|toll|number|count|estimate)"
    r"\s+than)\b",
    re.I,
)  # "disputing the Houthis' figure of 17", "contradicting Moscow's statement"; not "It did
# not dispute that 4 soldiers were killed", which agrees; "27, a higher figure than the one given
# by the ministry" sets one source against another
GENERIC = {"say", "said", "claim", "report", "figur", "count", "toll", "offici", "number", "the"}


@dataclass(frozen=True)
class Report:
    answer: str
    normalized: float | int | str | None
    source: str | None
    published_at: str | None
    event_date: str | None  # the day the sentence names, resolved (ISO)
    date_text: str | None  # that date as written
    attribution: str | None
    confidence: float
    change: bool  # phrased as an update of an earlier figure ("rose to", "up from")
    earlier: bool = False  # the earlier figure of an "up from 31"
    citations: list[Citation] = field(default_factory=list)

    @property
    def when(self) -> str | None:
        """The report's time: the day its text names, else its publication date."""
        return self.event_date or (self.published_at or "")[:10] or None

    def order(self) -> tuple[str, str, int]:
        """Sort key, oldest first: the publication, then the day the text names, an 'up from'
        before its update. A later article's "the toll from Sunday's strike has reached 10"
        names the day of the strike, not of the figure: 10 is newer than Monday's "seven"."""
        published = (self.published_at or "")[:10]
        return (published or self.when or "", self.when or "", 0 if self.earlier else 1)

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


@dataclass(frozen=True)
class Candidate:
    """One span the reader found worth saying, with its place in the article."""

    text: str
    confidence: float
    citation: Citation
    sentence: str  # the quote (citation.quote)
    attribution: str | None


@dataclass(frozen=True)
class Verdict:
    chosen: Report | None
    reports: list[Report]
    agreement: str | None  # single | consistent | updated | disputed
    as_of: str | None  # when the chosen figure was published
    independent_sources: int
    message: str | None = None


def value_of(text: str, answer_type: AnswerType) -> float | int | str:
    """What makes two reports the same: a count's number, else the casefolded words.

    >>> value_of("at least 12", AnswerType.COUNT), value_of("Twelve", AnswerType.COUNT)
    (12, 12)
    >>> value_of("the Mayor.", AnswerType.PERSON)
    'the mayor'
    >>> value_of("between 19 and 27", AnswerType.COUNT), value_of("40 to 50", AnswerType.COUNT)
    ('19-27', '40-50')
    """
    if answer_type is AnswerType.COUNT:
        quantities = [q for q in find_quantities(text) if q.value is not None]
        found = [_number(q.value) for q in quantities]
        if len(found) >= 2 and _a_range(text, quantities[0], quantities[1]):
            return f"{found[0]}-{found[1]}"  # a range is neither of its ends' reports
        if found:
            return found[0]
    return " ".join(re.sub(r"[^\w\s-]", " ", text.casefold()).split())


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _a_range(text: str, first: Any, second: Any) -> bool:
    """Whether two figures of a span are the ends of one range ("between 19 and 27")."""
    joint = text[first.end : second.start]
    if re.fullmatch(r"\s*(?:to|-|–)\s*", joint):
        return True
    return bool(
        re.fullmatch(r"\s+and\s+", joint) and re.search(r"\bbetween\s+$", text[: first.start])
    )


def earlier_figure(sentence: str, answer_end: int) -> tuple[str, int, int] | None:
    """The figure of an "up from 31" after the answer: (text, start, end) in the sentence.

    >>> earlier_figure("The toll rose to 17, up from 12 on Monday.", 19)
    ('12', 29, 31)
    >>> earlier_figure("The toll rose to seven from four.", 22)
    ('four', 28, 32)
    >>> earlier_figure("It revised the toll from the strike down to eight from 12.", 49)
    ('12', 55, 57)
    >>> earlier_figure("It killed 12 people from 3 villages.", 12) is None
    True
    """
    match = EARLIER.search(sentence, answer_end)
    if not match or match.start() - answer_end > 40:
        match = FROM.match(sentence, answer_end)
        if not match or not FROM_EARLIER.search(sentence[max(0, answer_end - 60) : match.end()]):
            return None
    following = [q for q in find_quantities(sentence[match.end() :]) if q.start == 0]
    if not following:
        return None
    q = following[0]
    return q.text, match.end() + q.start, match.end() + q.end


def is_earlier_figure(sentence: str, start: int, text: str) -> bool:
    """True for the figure an update replaced: a span "up from five", or "five" right after
    "up from" / "down from" / "revised down from".

    >>> s = "The toll has risen to nine, up from five."
    >>> is_earlier_figure(s, 28, "up from five"), is_earlier_figure(s, 36, "five")
    (True, True)
    >>> is_earlier_figure(s, 22, "nine")
    False
    >>> is_earlier_figure("The toll rose to seven from four.", 28, "four")
    True
    """
    lead = EARLIER.match(text)
    if lead is not None and find_quantities(text[lead.end() :]):
        return True
    before = sentence[max(0, start - 60) : start]
    return bool(
        re.search(EARLIER.pattern + r"$", before[-30:], re.I) or FROM_EARLIER.search(before)
    )


def source_terms(question: str, terms: Callable[[str], list[str]]) -> set[str] | None:
    """The index terms of the source a question names ("according to the mayor"), or None.

    >>> from rag.text import Analyzer
    >>> sorted(source_terms("How many drones were downed, according to the Ukrainian air force?", Analyzer({}).terms))
    ['air', 'forc', 'ukraine']
    >>> source_terms("What does Moscow say about the drones?", Analyzer({}).terms)
    {'russia'}
    >>> source_terms("How many drones were shot down?", Analyzer({}).terms) is None
    True
    """
    for pattern in SOURCE_PATTERNS:
        match = pattern.search(question)
        if match:
            found = {_side(t) for t in terms(match.group("who"))} - GENERIC
            if found:
                return found
    return None


# a source set off from the question it scopes: "According to X, how many ...?", "How many
# ..., according to X?", "What does X say about how many ...?"
SOURCE_CLAUSES = (
    (
        re.compile(r"^according to .+?,\s*(?P<rest>(?:how|what|when|where|who|which)\b.+)$", re.I),
        "{rest}",
    ),
    (re.compile(r"^(?P<rest>.+?),? according to [^,?]+(?P<end>\?*)$", re.I), "{rest}{end}"),
    (
        re.compile(
            r"^what (?:does|do|did) [^?]+? say about (?P<rest>(?:how|what|when|where).+)$", re.I
        ),
        "{rest}",
    ),
    (
        re.compile(r"^what (?:does|do|did) [^?]+? say (?P<rest>(?:was|were) .+)$", re.I),
        "what {rest}",
    ),
    (  # "How many people does the committee say were wounded ...?"
        re.compile(
            r"^(?P<head>how many (?:[\w'-]+\s+){0,4}?)(?:does|do|did) [^?]+? "
            r"(?:say|claim|estimate|believe)s? (?P<rest>(?:was|were|had|have|has)\b.+)$",
            re.I,
        ),
        "{head}{rest}",
    ),
    (  # "What death toll did the minister give for the attack?"
        re.compile(
            r"^what (?P<noun>(?:[\w'-]+\s+){0,3}?(?:toll|figure|number|count|tally)"
            r"(?: of [\w'-]+)?) (?:does|do|did) [^?]+? (?:give|report|put|cite|announce)s? "
            r"(?P<rest>(?:for|after|in|on|from)\b.+)$",
            re.I,
        ),
        "what was the {noun} {rest}",
    ),
)


def without_source(question: str) -> str:
    """The question without the source it names, as the reader reads it: a reader trained on
    questions that name no source is surer of every source's figure without one, and `decide`
    then takes the named source's own.

    >>> without_source("According to the regional governor, how many were wounded in Sumy?")
    'How many were wounded in Sumy?'
    >>> without_source("How many were killed, according to local health officials?")
    'How many were killed?'
    >>> without_source("What does Moscow say about how many drones were destroyed?")
    'How many drones were destroyed?'
    >>> without_source("What does the military say was the death toll?")
    'What was the death toll?'
    >>> without_source("According to Tomás Langa, the district administrator, how many died?")
    'How many died?'
    >>> without_source("How many people does the committee say were wounded in the attack?")
    'How many people were wounded in the attack?'
    >>> without_source("What death toll did Yusuf Dhoore, the minister, give for the attack?")
    'What was the death toll for the attack?'
    >>> without_source("How many drones were shot down?")
    'How many drones were shot down?'
    """
    for pattern, template in SOURCE_CLAUSES:
        match = pattern.match(question.strip())
        if match:
            rest = template.format(**match.groupdict()).strip()
            return rest[:1].upper() + rest[1:]
    return question


def _side(term: str) -> str:
    for side, names in SIDES.items():
        if any(term.startswith(n[:6]) for n in names):
            return side
    return term


def reports_of(
    candidates: Sequence[Candidate], answer_type: AnswerType, articles: dict[str, Any]
) -> list[Report]:
    """Candidates grouped by value, one report per value, oldest first."""
    by_value: dict[Any, Report] = {}
    for cand in candidates:
        c = cand.citation
        article = articles.get(c.doc_id)
        published = c.published_at
        rel_start = (c.answer_start or c.start) - c.start
        rel_end = (c.answer_end or c.end) - c.start
        dated = event_date(cand.sentence, published)
        change = bool(CHANGE.search(cand.sentence[max(0, rel_start - 40) : rel_end + 40]))
        # the span is itself the earlier figure of an update ("up from five", or "five" after it)
        was = answer_type is AnswerType.COUNT and is_earlier_figure(
            cand.sentence, rel_start, cand.text
        )
        found = [
            Report(
                answer=cand.text,
                normalized=_normalized(cand.text, answer_type),
                source=c.source,
                published_at=published,
                event_date=dated[1] if dated else None,
                date_text=dated[0] if dated else None,
                attribution=cand.attribution,
                confidence=cand.confidence,
                change=change,
                earlier=was,
                citations=[c],
            )
        ]
        earlier = (
            earlier_figure(cand.sentence, rel_end) if answer_type is AnswerType.COUNT else None
        )
        if earlier is not None and article is not None:
            text, a, b = earlier
            found.append(
                replace(
                    found[0],
                    answer=text,
                    normalized=_normalized(text, answer_type),
                    change=False,
                    earlier=True,
                    citations=[replace(c, answer_start=c.start + a, answer_end=c.start + b)],
                )
            )
        for report in found:
            key = value_of(report.answer, answer_type)
            if key in by_value:
                by_value[key] = _merge(by_value[key], report)
            else:
                by_value[key] = report
    return sorted(by_value.values(), key=Report.order)


def _merge(kept: Report, other: Report) -> Report:
    """One value from several places: a direct telling beats an "up from" mention, then the
    latest telling keeps its dates and speaker; citations add up."""
    if kept.earlier != other.earlier:
        latest, earliest = (kept, other) if other.earlier else (other, kept)
    else:
        latest, earliest = (other, kept) if other.order() > kept.order() else (kept, other)
    seen = {(c.doc_id, c.answer_start) for c in latest.citations}
    worded = [_worded(c, latest.answer) for c in earliest.citations]
    extra = [c for c in worded if (c.doc_id, c.answer_start) not in seen]
    return replace(
        latest,
        confidence=max(kept.confidence, other.confidence),
        change=kept.change or other.change,
        earlier=kept.earlier and other.earlier,
        citations=[*latest.citations, *extra],
    )


def _worded(citation: Citation, answer: str) -> Citation:
    """The citation's answer characters cut to the report's words where its span holds them:
    one article read "4 drones", another "4", and the report says "4".

    >>> c = Citation("d", "t", None, None, None, "Then 4 drones fell.", 10, 29, 1.0, 15, 23)
    >>> w = _worded(c, "4")
    >>> w.quote[w.answer_start - w.start : w.answer_end - w.start]
    '4'
    >>> _worded(c, "four") == c  # the same value in other words keeps its own span
    True
    """
    a, b = citation.answer_start, citation.answer_end
    if a is None or b is None or not citation.start <= a <= b <= citation.end:
        return citation
    span = citation.quote[a - citation.start : b - citation.start]
    found = re.search(rf"(?<!\w){re.escape(answer)}(?!\w)", span)
    if span == answer or found is None:
        return citation
    return replace(citation, answer_start=a + found.start(), answer_end=a + found.end())


def _normalized(text: str, answer_type: AnswerType) -> float | int | str | None:
    if answer_type is AnswerType.COUNT:
        value = value_of(text, answer_type)
        return value if not isinstance(value, str) else None
    return None


def _clause(sentence: str, start: int) -> str:
    """The words from `start` to the end of their clause, quoted.

    >>> _clause("Nine died, disputing the rebels' figure of 17, officials said.", 11)
    "“disputing the rebels' figure of 17”"
    """
    end = min((i for i in (sentence.find(c, start) for c in ",.;") if i >= 0), default=None)
    return f"“{sentence[start:end].strip()}”"


def independent_sources(report: Report) -> int:
    """Outlets behind a report, each counted once (wire copies folded at ingestion count once)."""
    return len({(c.source or c.doc_id).casefold() for c in report.citations})


def _said_by(report: Report, wanted: set[str], terms: Callable[[str], list[str]]) -> int:
    """How many terms of the source asked for the report's speaker and outlet share."""
    said_by = " ".join(x for x in (report.attribution, report.source) if x)
    return len(wanted & {_side(t) for t in terms(said_by)})


def _quoted(report: Report, wanted: set[str], terms: Callable[[str], list[str]]) -> bool:
    """Whether the report's sentences name the source asked for (a speaker not found)."""
    quotes = " ".join(c.quote for c in report.citations)
    return bool(wanted <= {_side(t) for t in terms(quotes)})


def by_source(report: Report, question: str, terms: Callable[[str], list[str]]) -> bool:
    """Whether the report is the source's the question names: its speaker or outlet shares
    the source's words (a sentence that only mentions the source is not enough here)."""
    wanted = source_terms(question, terms)
    return bool(wanted) and _said_by(report, wanted, terms) > 0


def in_time(report: Report, question: str) -> bool:
    """Whether the report is of the day, month or year the question names (True where it
    names none)."""
    scope = time_scope(question)
    return scope is None or not scope.names_a_time or _in_scope(report, scope, question)


def _in_scope(report: Report, scope: TimeScope, question: str) -> bool:
    if scope.until:  # "as of June 5": the figures known by then, by when first said
        return any(scope.matches(day) for day in _said_on(report))
    if REPORTED_ON.search(question):  # "the toll reported on June 5": when it was said
        return scope.matches(report.published_at)
    return scope.matches(report.event_date) or scope.matches(report.published_at)


def _said_on(report: Report) -> list[str | None]:
    """The days a report was published, one per citation (a figure repeated by a later
    article was known from the first), else the day its text names."""
    return [c.published_at for c in report.citations if c.published_at] or [report.event_date]


def agreement_of(reports: Sequence[Report]) -> str | None:
    """single, consistent, updated or disputed (reports oldest first, one per value)."""
    real = [r for r in reports if not r.earlier] or list(reports)
    if not reports:
        return None
    if any(
        r.normalized is not None and DISPUTES.search(c.quote) for r in real for c in r.citations
    ):
        return "disputed"  # a figure whose own sentence says it is contested
    if len(reports) == 1:
        return "single" if len(real[0].citations) == 1 else "consistent"
    latest = reports[-1]
    same_time = [r for r in reports if r.order()[:2] == latest.order()[:2] and not r.earlier]
    if len(same_time) > 1 and not any(r.change for r in same_time):
        return "disputed"
    return "updated"


def decide(
    question: str,
    reports: list[Report],
    terms: Callable[[str], list[str]],
) -> Verdict:
    """Which report answers the question, and what the reports say together: the one of the
    source or the time the question names, else for a count the latest figure, and for any
    other answer the surest report."""
    if not reports:
        return Verdict(None, [], None, None, 0)
    pool = reports
    wanted = source_terms(question, terms)
    if wanted:
        # the source's own reports; a sentence that only names it ("three of the wounded
        # died in the regional hospital", for "the regional governor") where none is its own
        # (the most of its words: "regional governor" over an outlet "... Region Courier")
        shared = [_said_by(r, wanted, terms) for r in reports]
        most = max(shared)
        scoped = [r for r, n in zip(reports, shared, strict=True) if most and n == most] or [
            r for r in reports if _quoted(r, wanted, terms)
        ]
        pool = scoped or pool
    scope: TimeScope | None = time_scope(question)
    if scope is not None and scope.names_a_time:
        dated = [r for r in pool if _in_scope(r, scope, question)]
        if scope.until and not dated and all(day for r in pool for day in _said_on(r)):
            # every figure was given later: none answers what was known by then
            first = min(pool, key=lambda r: min(d for d in _said_on(r) if d))
            return Verdict(
                None,
                reports,
                agreement_of(reports),
                None,
                0,
                f"No figure was reported by {scope.text}; the first after it: "
                f"{first.answer} ({first.attribution or first.source or 'unattributed'}, "
                f"{min(d for d in _said_on(first) if d)[:10]}).",
            )
        pool = dated or pool
    agreement = agreement_of(reports)
    if scope is not None and scope.earliest:
        chosen = pool[0]
    elif not wanted and scope is None and answer_type_of(question) is not AnswerType.COUNT:
        # figures change from report to report; where, when or who one event happened does
        # not: the surest report answers ("late on Friday", not a later "last week's")
        chosen = max(pool, key=lambda r: r.confidence)
    else:
        latest = pool[-1]
        tied = [r for r in pool if r.order()[:2] == latest.order()[:2] and not r.earlier]
        # of figures given at one time, one phrased as an update ("has risen to 17") is the
        # newest word: the others are older figures or figures of something else
        chosen = max(tied, key=lambda r: (r.change, r.confidence)) if len(tied) > 1 else latest
    message = None
    if agreement == "disputed":
        tied = [r for r in reports if r.order()[:2] == reports[-1].order()[:2] and not r.earlier]
        if len(tied) < 2:
            tied = [r for r in reports if not r.earlier]
        if len(tied) > 1:
            message = "Sources disagree: " + "; ".join(
                f"{r.answer} ({r.attribution or r.source or 'unattributed'})" for r in tied
            )
        else:
            message = "Disputed: the source says " + next(
                _clause(c.quote, m.start())
                for r in reports
                for c in r.citations
                if (m := DISPUTES.search(c.quote))
            )
    return Verdict(
        chosen,
        reports,
        agreement,
        (chosen.published_at or "")[:10] or chosen.when,
        independent_sources(chosen),
        message,
    )
