"""The answer path with the trained reader: it reads the top passages, the best span wins, a
calibrated model decides whether to say it, and the typing layer adds what people need around it
(the answer type, the number or date, who says so, the sentence and citations with offsets).

The reader proposes spans per passage with a start+end score and a no-answer score
([CLS]); spans of different passages compete on that score. What decides between answering and
abstaining is the artifact's calibration, fitted on held-out open-corpus readings
(`python -m rag.reader.calibrate`) on three features: the reader's no-answer margin in the
passage it answers from, that passage's cosine to the question, and how many of the other
passages agree.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from rag.answering import NO_ANSWER, Answer, Citation
from rag.attribution import DATELINE, attribution, named_earlier
from rag.dates import WEEKDAYS, YEAR, event_date, resolve, without_time
from rag.lexicon import Lexicon
from rag.quantities import find_quantities
from rag.question import (
    AUXILIARIES,
    AnswerType,
    answer_type_of,
    counted_noun,
    question_verb,
)
from rag.reader.artifact import ReaderError
from rag.reports import (
    Candidate,
    by_source,
    decide,
    in_time,
    reports_of,
    source_terms,
    value_of,
    without_source,
)
from rag.retrieval import Passage
from rag.sentences import Sentence, article_sentences
from rag.spans import DATE, MONTHS_RE, normalize_date
from rag.spans import Candidate as SpanCandidate
from rag.store import Snapshot
from rag.stories import names_in, same_story
from rag.text import WORD, Analyzer, words
from rag.voice import COUNTING, count_fit, governing_verb

if TYPE_CHECKING:
    from rag.documents import Article
    from rag.reader.inference import Reader, SpanProposal

MAX_CITATIONS = 3
NAMES_A_TIME = re.compile(rf"{YEAR.pattern}|\b(?:{MONTHS_RE})(?!\w)")  # "2022", "in March"
# A span much less sure than the best answer is no report (set a priori); figures are the
# exception: each article's own figure is a report if it passes the answering threshold, or a
# later toll less sure than the first one would never be shown.
REPORT_BAND = 0.3
VOCABULARIES_KEPT = 1024
# "two of the dead", "five police officers were among the 14 wounded": a part of a figure
PARTITIVE = re.compile(
    r"\s+of\s+(?:the|them|those|whom|these)\b|(?:\s+[\w'-]+){0,3}?\s+(?:were|was)\s+among\b",
    re.I,
)
# ... and a part named before its figure: "14 people, including six children", "among them six"
INCLUDED = re.compile(
    r"\b(?:including|includ(?:es|ed)|among them|among whom|of whom|of them)\s+"
    r"(?:at least\s+|about\s+|around\s+|some\s+)?$",
    re.I,
)
# The two roles conflict reports count most, by index term: a count question about one is
# answered in other reports by a figure in a sentence that names the role in some word.
ROLES = (
    frozenset(
        {"kill", "dead", "death", "die", "toll", "bodi", "fatal", "perish", "slain", "murder"}
    ),  # not "lives": "live"
    frozenset({"wound", "injur", "injuri", "hurt", "casualti"}),
)
# a figure totalled over a period ("more than 3,000 people in Haiti since the start of the
# year"): no report of one event's toll, unless the question asks about such a period
PERIOD = re.compile(
    rf"\bsince (?:the (?:start|beginning) of |early |late )?(?:the |this |last )?"
    rf"(?:year|month|war|conflict|(?:full-scale )?invasion|fighting|{MONTHS_RE}|\d{{4}})\b"
    r"|\bso far (?:this|in) \w+|\bin total\b",
    re.I,
)
# what a count of everyone is followed by; a question counting a group within ("how many
# Hamas militants", "how many women") is not answered by it
EVERYONE = "people persons civilians individuals"
# nouns that count the toll itself, not a group within it ("how many deaths")
TOLL_NOUNS = "deaths fatalities casualties victims dead bodies injuries wounded residents"
# who attacked: "four gunmen were killed" is no count of the people an attack killed
ATTACKERS = "attackers gunmen assailants bombers militants insurgents jihadists raiders"
ANAPHORIC = frozenset({"other", "more", "them"})  # "three others were missing"
ASKS_A_PART = re.compile(r"\bhow\s+many\s+of\b", re.I)  # "how many of the wounded"
YES_NO = re.compile(rf"^(?:{AUXILIARIES}|isn't|wasn't|didn't|doesn't|hasn't|aren't)\b", re.I)
WH = re.compile(r"\b(?:who|whom|whose|what|which|where|when|why|how)\b", re.I)
# "What did the spokesman say?" read in "did not respond to requests for comment": no statement
ASKS_WHAT_WAS_SAID = re.compile(
    r"^what (?:did|does|has|have|had) .+? (?:say|said|tell|told|write|wrote|state|stated)\b", re.I
)
NO_COMMENT = re.compile(
    r"\b(?:did not|didn't|has not|hasn't|had not|hadn't|declined to|refused to|would not|"
    r"wouldn't|could not be|was not|were not)\b[^.;]{0,30}?\b(?:respond|comment|repl|answer|"
    r"reached|available)",
    re.I,
)
YES_NO_MESSAGE = (
    "This is a yes/no question. The service answers by copying a short span from the sources, "
    "so it cannot answer yes or no; ask what, who, how many, where or when instead "
    "(for example 'how many were killed?')."
)
PUNCTUATION = "\"'“”‘’«»()[],;:.-–— "


def is_yes_no(question: str) -> bool:
    """A question that starts with an auxiliary and asks no wh-word is answered by yes or no.

    >>> is_yes_no("Was anyone hurt?"), is_yes_no("Did Russia comment on the strike?")
    (True, True)
    >>> is_yes_no("Did officials say how many were killed?"), is_yes_no("How many died?")
    (False, False)
    """
    text = question.strip()
    return bool(YES_NO.match(text)) and not WH.search(text)


@dataclass(frozen=True)
class SpanChoice:
    """One proposed answer: characters `start:end` of its article."""

    passage: Passage
    start: int
    end: int
    text: str
    score: float  # the reader's start + end logit
    margin: float  # the passage's no-answer score minus this span's score
    retrieval: float  # cosine of the question and the passage
    agreement: float  # share of the other passages whose best span says the same
    rank: float = 0.0  # what spans of different passages compete on (best first)


@dataclass(frozen=True)
class Counting:
    """What a count question counts: by which verb ("kill" in "how many were killed"), which
    noun ("children"), and whether it asks for a part of a figure ("how many children",
    "how many of the wounded": "five of them children" answers it)."""

    verb: str | None
    noun: str | None
    part: bool


CLAUSE_WORDS = 3  # words before a figure that make a span a clause ("has risen to 9"), as a
# verb of the figure's does ("twelve were injured in Kherson")
FROM_FIGURE = re.compile(r"\bfrom\s+$", re.I)  # "up from 6", "revised down from 31"
PRONOUNS = frozenset({"it", "he", "she", "they", "we", "i", "this", "that", "these", "those"})
RANGE_END = re.compile(
    r"\s*(?:and|to|or|-|–)\s*(?:\d|(?:one|two|three|four|five|six|seven|eight|nine|ten)\b)", re.I
)


def count_part(text: str) -> tuple[int, int] | None:
    """Where the one figure of a count answer lies in a longer span, or None: the reader
    sometimes copies a clause ("has risen to 9, up from 6"); a count is its figure ("9").
    A figure after "from" is the earlier one; two other figures leave the span as it is.

    >>> count_part("has risen to 9, up from 6"), count_part("twelve were injured in Kherson")
    ((13, 14), (0, 6))
    >>> count_part("at least 20"), count_part("killing six and wounding 22"), count_part("six teams")
    (None, None, None)
    >>> count_part("seven from four")
    (0, 5)
    """
    found_all = find_quantities(text)
    figures = [q for q in found_all if not FROM_FIGURE.search(text[: q.start])]
    if len(figures) != 1:
        return None
    start, end = figures[0].start, figures[0].end
    found = SpanCandidate(start, end, text[start:end], AnswerType.COUNT)
    if (
        len(figures) == len(found_all)  # "seven from four" is a change, not a noun phrase
        and len(text[:start].split()) < CLAUSE_WORDS
        and governing_verb(text, words(text), found) is None
    ):
        return None  # "six teams", "3 million people": a figure with its noun, not a clause
    return start, end


NAMED = (AnswerType.PERSON, AnswerType.ORGANIZATION, AnswerType.PLACE)


def is_a_count(text: str) -> bool:
    """Whether a span opens with a figure, after at most two lower-case words: a count
    ("five", "at least 12", "in five villages"), which no place, person or group is.

    >>> is_a_count("five"), is_a_count("at least 12."), is_a_count("five villages")
    (True, True, True)
    >>> is_a_count("Route 5"), is_a_count("the 47th Brigade"), is_a_count("Kamianka")
    (False, False, False)
    >>> is_a_count("in five"), is_a_count("Kamianka and two other villages")
    (True, False)
    """
    found = find_quantities(text)
    if not found:
        return False
    lead = text[: found[0].start].split()
    return len(lead) <= 2 and all(w.islower() for w in lead)


def in_a_range(text: str, start: int, end: int) -> bool:
    """Whether the figure at text[start:end] is one end of a range ("between 19 and 27",
    "19 to 27 people", "40-50"): a report of neither.

    >>> t = "reports that between 19 and 27 people were killed; 40 to 50 were hurt."
    >>> [in_a_range(t, t.index(n), t.index(n) + 2) for n in ("19", "27", "40", "50")]
    [True, True, True, True]
    >>> t = "The toll rose to 19 and 27 were hurt."
    >>> in_a_range(t, 17, 19), in_a_range(t, 24, 26)
    (False, False)
    """
    before = text[max(0, start - 30) : start]
    if re.search(r"\bbetween\s+\S+\s+and\s*$|\d\s*(?:to|-|–)\s*$", before):
        return True  # the upper end
    after = text[end : end + 20]
    if re.match(r"\s*(?:to|-|–)\s*\d", after):
        return True
    return bool(re.search(r"\bbetween\s+$", before) and RANGE_END.match(after))


def narrowed(choice: SpanChoice) -> SpanChoice:
    """A count answer cut to its figure (`count_part`), its characters still the article's."""
    part = count_part(choice.text)
    if part is None:
        return choice
    start, end = choice.start + part[0], choice.start + part[1]
    return replace(choice, start=start, end=end, text=choice.text[part[0] : part[1]])


def _pooled(spans: Sequence[SpanProposal]) -> list[float]:
    """Each span's score pooled (log-sum-exp) with the window's other spans of the same value
    ("at least 21", "21 civilians" and "21" are one figure): the reader's belief in a figure
    is spread over the boundaries it might have."""
    keys = [_value(span.text) for span in spans]
    groups: dict[float | str, list[float]] = {}
    for span, key in zip(spans, keys, strict=True):
        groups.setdefault(key, []).append(span.score)
    return [float(np.logaddexp.reduce(groups[key])) for key in keys]


def _value(text: str) -> float | str:
    """A span's figure when it holds exactly one, else its words (`_key`)."""
    found = find_quantities(text)
    return found[0].value if len(found) == 1 and found[0].value is not None else _key(text)


def _key(text: str) -> str:
    """What two spans must share to be the same answer.

    >>> _key("three individuals") == _key("Three individuals.")
    True
    """
    return " ".join(text.casefold().strip(PUNCTUATION).split())


def normalized_value(
    text: str, answer_type: AnswerType, published_at: str | None = None
) -> float | int | str | None:
    """The number of a count, the ISO date of a date (relative ones read from the publication
    date: "on Tuesday" in an article of 2024-06-06 is 2024-06-04); None for other answers.

    >>> normalized_value("nearly 3,000", AnswerType.COUNT), normalized_value("three", AnswerType.COUNT)
    (3000, 3)
    >>> normalized_value("24 February 2022", AnswerType.DATE), normalized_value("Kyiv", AnswerType.PLACE)
    ('2022-02-24', None)
    """
    if answer_type is AnswerType.COUNT:
        found = [q.value for q in find_quantities(text) if q.value is not None]
        if not found:
            return None
        value = found[0]
        return int(value) if float(value).is_integer() else value
    if answer_type is AnswerType.DATE:
        named = event_date(text, published_at)  # "yesterday that prices had doubled"
        return resolve(text, published_at) or normalize_date(text) or (named and named[1])
    return None


def clean_attribution(speaker: str | None) -> str | None:
    """An attribution without stray quotes or punctuation, or None when nothing is left or
    what is left is a time ("..., said on Monday" names no speaker).

    >>> clean_attribution('"the mayor,'), clean_attribution('"'), clean_attribution("on Monday")
    ('the mayor', None, None)
    >>> clean_attribution("It"), clean_attribution("they")  # who "it" is, the text said before
    (None, None)
    """
    if speaker is None:
        return None
    cleaned = speaker.strip(PUNCTUATION)
    if cleaned.casefold() in PRONOUNS:
        return None
    if DATE.fullmatch(re.sub(r"^(?:on|in|at|late|early)\s+", "", cleaned, flags=re.I)):
        return None
    return cleaned if any(c.isalnum() for c in cleaned) else None


class ReaderAnswerer:
    """Answers from the trained reader; the same interface as the rule answerer."""

    name = "reader"

    def __init__(
        self,
        reader: Reader,
        lexicon: Lexicon,
        *,
        threshold: float | None = None,
        prefer_typed: bool = False,
        narrow_counts: bool = True,
        analyzer: Analyzer | None = None,
        pool_values: bool = True,
    ) -> None:
        calibration = reader.manifest.calibration
        if calibration is None:
            raise ReaderError(
                "the reader artifact carries no calibration; fit one with "
                "`python -m rag.reader.calibrate`"
            )
        self.reader = reader
        self.lexicon = lexicon
        self.calibration = calibration
        self.threshold = calibration.threshold if threshold is None else threshold
        self.prefer_typed = prefer_typed
        self.narrow_counts = narrow_counts
        self.pool_values = pool_values
        self.analyzer = analyzer
        self.passage_weight = reader.manifest.passage_weight
        self._vocabularies: dict[tuple[str, int, int], frozenset[str]] = {}
        self._sentences: dict[tuple[str, int, int], list[Sentence]] = {}
        self._reporting_terms = frozenset(self.terms(" ".join(sorted(COUNTING))))

    def choices(self, question: str, passages: Sequence[Passage]) -> list[SpanChoice]:
        """Every span the reader proposes in the passages, best first: by the reader's score
        plus the artifact's passage weight times the passage's retrieval score (raw span scores
        of different passages are not comparable; measured in rag.reader.calibrate). With
        `pool_values` a span's score is that of its value in its window (`_pooled`): "at
        least 21" at P 0.363 beside "21" and "at least 21 civilians" had abstained."""
        readings = self.reader.read(question, [p.text for p in passages])
        tops = [_key(r.best.text) if r.best else None for r in readings]
        weight = self.passage_weight
        out = []
        for i, (passage, reading) in enumerate(zip(passages, readings, strict=True)):
            others = len(passages) - 1
            pooled = _pooled(reading.spans) if self.pool_values else None
            for n, span in enumerate(reading.spans):
                key = _key(span.text)
                agree = sum(1 for j, t in enumerate(tops) if j != i and t == key)
                score = pooled[n] if pooled is not None else span.score
                out.append(
                    SpanChoice(
                        passage=passage,
                        start=passage.start + span.start,
                        end=passage.start + span.end,
                        text=span.text,
                        score=score,
                        margin=reading.no_answer - score,
                        retrieval=float(passage.dense_score or 0.0),
                        agreement=agree / others if others else 0.0,
                        rank=score + weight * passage.score,
                    )
                )
        return sorted(out, key=lambda c: -c.rank)

    def pick(self, choices: Sequence[SpanChoice], answer_type: AnswerType) -> SpanChoice | None:
        """The best span. `prefer_typed` (a count takes the best span holding a number) is off:
        measured by rag.reader.calibrate on 173 count questions it lowered span F1 from 0.729
        to 0.634, so the reader's own choice stands."""
        if not choices:
            return None
        if self.prefer_typed and answer_type is AnswerType.COUNT:
            typed = [c for c in choices if find_quantities(c.text)]
            if typed:
                return typed[0]
        return choices[0]

    def probability(self, choice: SpanChoice) -> float:
        return self.calibration.probability(
            **{
                name: getattr(choice, name)
                for name in self.calibration.features
                if name in ("margin", "retrieval", "agreement")
            }
        )

    def answer(
        self,
        question: str,
        passages: list[Passage],
        snapshot: Snapshot,
        answer_passages: int,
    ) -> Answer:
        answer_type = answer_type_of(question)
        if is_yes_no(question):
            return _abstain(question, answer_type, 1.0, passages, YES_NO_MESSAGE)
        read = passages[:answer_passages]
        answer = self._answer_as(question, question, read, passages, snapshot, answer_type)
        # "According to the abbot, how many monks died?", "As of May 3, how many had died?":
        # a reader trained on questions that name no source and no day is surer of each
        # source's and each day's figure without them; the named source's own figure, or the
        # named day's, then answers, or nothing does
        untimed = without_time(question)
        for reading in dict.fromkeys((without_source(question), untimed, without_source(untimed))):
            if not answer.abstained:
                break
            if reading != question:
                second = self._answer_as(
                    question, reading, read, passages, snapshot, answer_type, scoped=True
                )
                answer = second if not second.abstained else answer
        return answer

    def _answer_as(
        self,
        question: str,
        reading: str,
        read: list[Passage],
        passages: list[Passage],
        snapshot: Snapshot,
        answer_type: AnswerType,
        *,
        scoped: bool = False,
    ) -> Answer:
        """The answer to `question` from the reader's reading of `reading` in `read`; with
        `scoped`, only a report of the source and the day the question names answers."""
        choices = self._about(
            question, _past_datelines(self.choices(reading, read), snapshot), snapshot
        )
        best = self.pick(choices, answer_type)
        if best is None:
            return _abstain(question, answer_type, 1.0, passages, NO_ANSWER)
        counting = self._counting(question) if answer_type is AnswerType.COUNT else None
        if answer_type is AnswerType.DATE:
            best = _dated_part(self._of_a_day(best, choices))
        silence = self._no_comment(best, snapshot) if ASKS_WHAT_WAS_SAID.search(question) else None
        if silence is not None:
            message = f'The sources say only that no comment was given: "{silence}".'
            return _abstain(question, answer_type, 1.0, passages, message)
        if answer_type in NAMED and is_a_count(best.text):
            # "In which locations did the drones hit?" read as "five": a place, person or
            # group is no count; another sure span that is none answers, or nothing does
            best = self._first_sure(best, choices, lambda c: not is_a_count(c.text))
            if is_a_count(best.text):
                return _abstain(question, answer_type, 1.0, passages, NO_ANSWER)
        if (
            counting is not None
            and self._counts_a_group(counting)
            and self._counts_everyone(best, snapshot)
        ):
            # "at least 18 people" is no count of the Hamas militants among them
            best = self._first_sure(best, choices, lambda c: not self._counts_everyone(c, snapshot))
            if self._counts_everyone(best, snapshot):
                return _abstain(question, answer_type, 1.0, passages, NO_ANSWER)
        if (
            counting is not None
            and not self._counts_a_group(counting)
            and self._counts_attackers(best, snapshot)
        ):
            # "four gunmen had been killed" is no count of the people the attack killed
            best = self._first_sure(
                best, choices, lambda c: not self._counts_attackers(c, snapshot)
            )
            if self._counts_attackers(best, snapshot):
                return _abstain(question, answer_type, 1.0, passages, NO_ANSWER)
        if counting is not None:
            best = self._of_the_role(
                counting, self._one_figure(counting, best, snapshot), choices, snapshot
            )
            if counting.verb is not None and not self._counts_for(counting, best, snapshot):
                # no span of the question's role: "30 soldiers were killed" is no count of
                # the soldiers unaccounted for, and no other count answers it
                return _abstain(question, answer_type, 1.0, passages, NO_ANSWER)
        p = self.probability(best)
        if p < self.threshold:
            return _abstain(question, answer_type, 1.0 - p, passages, NO_ANSWER)
        candidates = self.candidates(choices, best, answer_type, snapshot, counting, question)
        reports = reports_of(candidates, answer_type, snapshot.articles)
        verdict = decide(question, reports, self.terms)
        chosen = verdict.chosen
        if chosen is None:  # the question's time is before every figure
            return _abstain(question, answer_type, p, passages, verdict.message or NO_ANSWER)
        if scoped and not (
            (without_source(question) == question or by_source(chosen, question, self.terms))
            and in_time(chosen, question)
        ):
            return _abstain(question, answer_type, 1.0 - p, passages, NO_ANSWER)
        first = chosen.citations[0]
        return Answer(
            question=question,
            answer=chosen.answer,
            answer_type=answer_type.value,
            normalized=normalized_value(chosen.answer, answer_type, chosen.published_at),
            confidence=round(chosen.confidence, 4),
            abstained=False,
            attribution=chosen.attribution,
            sentence=first.quote,
            message=verdict.message,
            citations=chosen.citations[:MAX_CITATIONS],
            passages=passages,
            reports=reports,
            agreement=verdict.agreement,
            as_of=verdict.as_of,
            independent_sources=verdict.independent_sources,
        )

    def terms(self, text: str) -> list[str]:
        return self.analyzer.terms(text) if self.analyzer is not None else text.lower().split()

    def candidates(
        self,
        choices: Sequence[SpanChoice],
        best: SpanChoice,
        answer_type: AnswerType,
        snapshot: Snapshot,
        counting: Counting | None = None,
        question: str = "",
    ) -> list[Candidate]:
        """The spans worth reporting: the best one, and every other span of the answer's type
        said with at least the answering confidence (and not far below the best), in an
        article that tells the same story (rag.stories), not overlapping a better span."""
        best_p = self.probability(best)
        counts = answer_type is AnswerType.COUNT
        dated = answer_type is AnswerType.DATE and _day(best) is not None
        story = snapshot.articles[best.passage.doc_id]
        noun = counting.noun if counting else None
        counted = self.terms(noun)[:1] if noun else []
        if not self._counts_noun(best, story.text, counted):
            counted = []  # the answer's own figure is not "nine children": no test of others
        kept: list[tuple[SpanChoice, float]] = [(best, best_p)]
        best_value = value_of(best.text, answer_type) if counts else None
        other_verb = self._other_than_roles(counting, best, snapshot)
        over_a_period = counts and bool(PERIOD.search(question))
        group = counting is not None and self._counts_a_group(counting)
        for choice in choices:
            if choice is best or any(_overlaps(choice, k) for k, _ in kept):
                continue
            article = snapshot.articles[choice.passage.doc_id]
            if not same_story(story, article):
                continue  # another event's figure neither updates nor disputes this one
            figures = find_quantities(choice.text) if counts else []
            if counts and len(figures) != 1:
                continue  # no figure, or two ("six people and wounding 11"): no one report
            if figures and figures[0].value is None:
                continue  # "several", "dozens": no figure to set beside the answer's
            if figures and in_a_range(
                article.text, choice.start + figures[0].start, choice.start + figures[0].end
            ):
                continue  # "between 19" of "between 19 and 27" is neither figure
            if counted and not self._counts_noun(choice, article.text, counted):
                continue  # "19 women" is no report of how many children
            if answer_type in NAMED and is_a_count(choice.text):
                continue  # "five" is no report of which village
            if dated and _day(choice) is None and not NAMES_A_TIME.search(choice.text):
                continue  # the answer names a day: "the start of the year" is no report of it
            if counts and not over_a_period and self._over_a_period(choice, snapshot):
                continue  # "killed more than 3,000 people since the start of the year"
            if group and self._counts_everyone(choice, snapshot):
                continue  # "at least seven people" is no report of how many attackers
            if counting is not None and not group and self._counts_attackers(choice, snapshot):
                continue  # "four gunmen" is no report of how many people were killed
            p = self.probability(choice)
            bar = self.threshold if counts else max(self.threshold, best_p - REPORT_BAND)
            if p < bar and not (counts and value_of(choice.text, answer_type) == best_value):
                continue
            if counting and counting.verb and not self._counts_for(counting, choice, snapshot):
                continue
            if other_verb and self._of_a_role_not(other_verb, choice, snapshot):
                continue  # "how many had been living there": not the killed in another sentence
            kept.append((choice, p))
        out = []
        for choice, p in kept:
            if answer_type is AnswerType.COUNT and self.narrow_counts:
                choice = narrowed(choice)
            article = snapshot.articles[choice.passage.doc_id]
            sentence = self._sentence(choice, snapshot)
            speaker = attribution(sentence.text, choice.start - sentence.start, self.lexicon)
            out.append(
                Candidate(
                    text=choice.text,
                    confidence=round(p, 4),
                    citation=_citation(choice, sentence),
                    sentence=sentence.text,
                    attribution=named_earlier(
                        clean_attribution(speaker), article.text, sentence.start
                    ),
                )
            )
        return out

    def _no_comment(self, choice: SpanChoice, snapshot: Snapshot) -> str | None:
        """The sentence a span lies in where the span is its "did not respond to requests
        for comment", else None."""
        sentence = self._sentence(choice, snapshot)
        at = choice.start - sentence.start
        found = any(m.start() <= at < m.end() + 30 for m in NO_COMMENT.finditer(sentence.text))
        return sentence.text.strip() if found else None

    def _counts_a_group(self, counting: Counting) -> bool:
        """Whether the question counts a group within everyone ("women", "Hamas militants")."""
        noun = self.terms(counting.noun)[:1] if counting.noun else []
        return bool(noun) and noun[0] not in self.terms(EVERYONE + " " + TOLL_NOUNS)

    def _counts_everyone(self, choice: SpanChoice, snapshot: Snapshot) -> bool:
        """Whether the span's first figure is followed by "people" (or the like)."""
        figures = find_quantities(choice.text)
        if not figures:
            return False
        text = snapshot.articles[choice.passage.doc_id].text
        after = self.terms(text[choice.start + figures[0].end : choice.start + figures[0].end + 30])
        return bool(after) and after[0] in self.terms(EVERYONE)

    def _counts_attackers(self, choice: SpanChoice, snapshot: Snapshot) -> bool:
        """Whether the span's first figure is followed by "gunmen" (or the like): the word
        itself, as "attackers" and "attacks" share a stem."""
        figures = find_quantities(choice.text)
        if not figures:
            return False
        text = snapshot.articles[choice.passage.doc_id].text
        after = re.match(r"\W*(\w+)", text[choice.start + figures[0].end :])
        return after is not None and after.group(1).lower() in ATTACKERS.split()

    def _over_a_period(self, choice: SpanChoice, snapshot: Snapshot) -> bool:
        """Whether the span's figure is a total over a period: the period named in the
        figure's clause after it, or opening its sentence ("Since January, ...")."""
        article = snapshot.articles[choice.passage.doc_id]
        sentence = self._sentence(choice, snapshot)
        clause = re.split(r"[,;:.]", article.text[choice.end : sentence.end], maxsplit=1)[0]
        return bool(PERIOD.search(clause) or PERIOD.match(sentence.text))

    def _other_than_roles(
        self, counting: Counting | None, best: SpanChoice, snapshot: Snapshot
    ) -> str | None:
        """The question's verb where it is no role's (kill, wound) and no reporting verb, and
        the answer's own sentence uses it ("had been living"); else None."""
        verb = counting.verb if counting else None
        if verb is None or verb in self._reporting_terms or any(verb in r for r in ROLES):
            return None
        return verb if verb in self.terms(self._sentence(best, snapshot).text) else None

    def _of_a_role_not(self, verb: str, choice: SpanChoice, snapshot: Snapshot) -> bool:
        """Whether the span's sentence counts a role (the killed, the wounded) and never uses
        the question's verb."""
        terms = set(self.terms(self._sentence(choice, snapshot).text))
        return verb not in terms and any(terms & role for role in ROLES)

    def _counting(self, question: str) -> Counting:
        """What a count question counts; its verb as a term ("kill"), when the analyzer is
        at hand."""
        verb = question_verb(question)
        noun = counted_noun(question)
        return Counting(
            self.analyzer.term(verb) if verb and self.analyzer is not None else None,
            noun,
            noun is not None or bool(ASKS_A_PART.search(question)),
        )

    def _of_a_day(self, best: SpanChoice, choices: Sequence[SpanChoice]) -> SpanChoice:
        """For a date question, the best span unless it names no time at all ("start of the
        year", "recent years": no day, month or year) and another span names a day."""
        if _day(best) is not None or NAMES_A_TIME.search(best.text):
            return best
        return self._first_sure(best, choices, lambda c: _day(c) is not None)

    def _of_the_role(
        self,
        counting: Counting,
        best: SpanChoice,
        choices: Sequence[SpanChoice],
        snapshot: Snapshot,
    ) -> SpanChoice:
        """The best span, unless its figure belongs to another verb or role than the
        question's ("how many died" read as "about 60 were wounded") and another span holds
        one figure of the question's; then that span."""
        if counting.verb is None or self._counts_for(counting, best, snapshot):
            return best
        counted = self.terms(counting.noun)[:1] if counting.noun else []
        text = snapshot.articles[best.passage.doc_id].text
        if not self._counts_noun(best, text, counted):
            counted = []

        def fits(c: SpanChoice) -> bool:
            if len(find_quantities(c.text)) != 1 or not self._counts_for(counting, c, snapshot):
                return False
            # where the best figure counts the question's noun ("one missile"), another
            # counts it too or a role alone ("nine wounded"), not another noun ("20 jets")
            return not counted or self._counts_noun_or_role(c, snapshot, counted)

        return self._first_sure(best, choices, fits)

    def _counts_noun_or_role(
        self, choice: SpanChoice, snapshot: Snapshot, counted: list[str]
    ) -> bool:
        text = snapshot.articles[choice.passage.doc_id].text
        figure = find_quantities(choice.text)[0]
        after = self.terms(text[choice.start + figure.end : choice.start + figure.end + 40])[:1]
        return self._counts_noun(choice, text, counted) or any(
            t in ANAPHORIC or any(t in role for role in ROLES) for t in after
        )

    def _first_sure(
        self, best: SpanChoice, choices: Sequence[SpanChoice], fits: Callable[[SpanChoice], bool]
    ) -> SpanChoice:
        """The first other span the reader proposed, sure enough to answer, that fits; else
        the best one."""
        return next(
            (
                c
                for c in choices
                if c is not best and self.probability(c) >= self.threshold and fits(c)
            ),
            best,
        )

    def _one_figure(self, counting: Counting, best: SpanChoice, snapshot: Snapshot) -> SpanChoice:
        """A span of two figures ("three people were killed and 8", "19 women and nine")
        cut to the one that belongs to the question's verb, or else is followed by what it
        counts ("nine children" for "how many children"), when exactly one does; else the
        span as it is."""
        figures = find_quantities(best.text)
        verb, noun = counting.verb, counting.noun
        if len(figures) < 2 or (verb is None and noun is None):
            return best
        parts = [
            replace(
                best,
                start=best.start + q.start,
                end=best.start + q.end,
                text=best.text[q.start : q.end],
            )
            for q in figures
        ]
        if verb is not None:
            fitting = [p for p in parts if self._counts_for(counting, p, snapshot)]
            if len(fitting) == 1:
                return fitting[0]
        if noun is not None:
            text = snapshot.articles[best.passage.doc_id].text
            counted = self.terms(noun)[:1]
            fitting = [p for p in parts if self._followed_by(text, p.end, counted)]
            if len(fitting) == 1:
                return fitting[0]
        return best

    def _counts_noun(self, choice: SpanChoice, text: str, counted: list[str]) -> bool:
        """Whether the first figure of a span is followed by what the question counts."""
        figures = find_quantities(choice.text)
        return bool(figures) and self._followed_by(text, choice.start + figures[0].end, counted)

    def _followed_by(self, text: str, end: int, counted: list[str]) -> bool:
        """Whether one of the three words after a figure, in its clause, is what it counts."""
        clause = re.split(r"[,.;:()]|\band\b", text[end : end + 60], maxsplit=1)[0]
        return bool(counted) and counted[0] in self.terms(clause)[:3]

    def _counts_for(self, counting: Counting, choice: SpanChoice, snapshot: Snapshot) -> bool:
        """False when the figure belongs to another verb of a sentence that also has the
        question's ("wounding 11" beside "killing six" for "how many were killed"), when
        the question asks about the killed or the wounded and the sentence names neither
        ("about 3,000 families shelter there"), or when the figure is a part of another
        ("two of the dead were children") and the question does not ask for a part ("how many
        children", "how many of the wounded")."""
        assert self.analyzer is not None and counting.verb is not None
        verb = counting.verb
        article = snapshot.articles[choice.passage.doc_id]
        sentence = self._sentence(choice, snapshot)
        figures = find_quantities(choice.text)
        start, end = choice.start, choice.end  # the figure itself, within the span
        if figures:
            start, end = choice.start + figures[0].start, choice.start + figures[0].end
        if not counting.part and (
            PARTITIVE.match(article.text, end)
            or INCLUDED.search(article.text[max(0, start - 40) : start])
        ):
            return False  # a part of a figure ("two of the dead were children"), not one
        if self._followed_by(article.text, end, [verb]):
            return True  # the verb within the figure's phrase: "one missile launched from"
        terms = set(self.analyzer.terms(sentence.text))
        role = next((r for r in ROLES if verb in r), None)
        if role is not None and not terms & role:
            return False
        at = start - sentence.start
        found = SpanCandidate(at, at + end - start, article.text[start:end], AnswerType.COUNT)
        # "about 60 people wounded" is no count of the dead, nor "30 were killed" of the
        # soldiers unaccounted for: a figure a role's verb governs counts that role only
        tokens = words(sentence.text)
        governs = governing_verb(sentence.text, tokens, found)
        term = self.analyzer.term(governs.text) if governs is not None else ""
        reporting = role is None and verb in self._reporting_terms
        if not reporting and any(term in other for other in ROLES if other is not role):
            return False  # ("how many were reported killed" asks through "reported")
        fit = count_fit(verb, sentence.text, tokens, terms, found, self.analyzer.term)
        return fit >= 1.0

    def _about(
        self, question: str, choices: list[SpanChoice], snapshot: Snapshot
    ) -> list[SpanChoice]:
        """The spans of articles that name what the question names ("at Abu Shouk", "the
        Arakan Army"): a span of an article about something else answers another question."""
        names = self._named(question)
        if not names:
            return choices
        holds: dict[str, bool] = {}
        for choice in choices:
            doc = choice.passage.doc_id
            if doc not in holds:
                vocabulary = self._vocabulary(snapshot.articles[doc])
                holds[doc] = all(names_in(name, vocabulary) for name in names)
        return [c for c in choices if holds[c.passage.doc_id]]

    def _sentence(self, choice: SpanChoice, snapshot: Snapshot) -> Sentence:
        """The sentence of the article a span lies in; an article's sentences are split once
        (kept for the last 1,024 articles read, as vocabularies are), not once per span."""
        article = snapshot.articles[choice.passage.doc_id]
        key = (article.id, hash(article.text), hash(article.spans()))
        sentences = self._sentences.get(key)
        if sentences is None:
            sentences = article_sentences(article)
            if len(self._sentences) >= VOCABULARIES_KEPT:
                self._sentences.pop(next(iter(self._sentences)))
            self._sentences[key] = sentences
        return _sentence_of(article.text, sentences, choice.start, choice.end)

    def _vocabulary(self, article: Article) -> frozenset[str]:
        """An article's words in lower case and its terms (kept for the last 1,024 read:
        a long article takes milliseconds, and the same few answer many questions)."""
        key = (article.id, hash(article.title), hash(article.text))
        found = self._vocabularies.get(key)
        if found is None:
            text = article.title + " " + article.text
            found = frozenset({w.lower() for w in WORD.findall(text)} | set(self.terms(text)))
            if len(self._vocabularies) >= VOCABULARIES_KEPT:
                self._vocabularies.pop(next(iter(self._vocabularies)))
            self._vocabularies[key] = found
        return found

    def _named(self, question: str) -> list[tuple[str, str]]:
        """The names a question gives (capitalized words past its first), each as its lower
        case and its term, less the source it names and times ("on Monday", "in March": the
        date decides those)."""
        source = source_terms(question, self.terms) or set()
        first, *rest = WORD.findall(question.strip()) or [""]
        named = []
        for word in rest:
            if not any(part[:1].isupper() for part in word.split("-")):
                continue
            if word == "I" or word.lower() in WEEKDAYS or NAMES_A_TIME.fullmatch(word):
                continue
            terms = self.terms(word)
            if terms and terms[0] not in source:
                named.append((word.lower(), terms[0]))
        return named


LEADING_DATE = re.compile(rf"(?:(?:on|in|at|since|by|late|early)\s+)?(?:{DATE.pattern})", re.I)


DATE_GOES_ON = frozenset({"", "and", "or", "to", "through", "until", "till", "-", "–", "—"})
CLAUSE_OPENS = frozenset({"that", "when", "while", "because", "as", "after", "before"})


def _dated_part(choice: SpanChoice) -> SpanChoice:
    """A when-answer that runs on past its date ("yesterday that food prices had doubled")
    cut to the date it starts with; a span that is a date, or holds more than one, is kept.

    >>> from types import SimpleNamespace as S
    >>> c = SpanChoice(S(published_at=None), 10, 60, "yesterday that prices had doubled", 1, 0, 0, 0, 0)
    >>> _dated_part(c).text, _dated_part(c).end
    ('yesterday', 19)
    >>> _dated_part(replace(c, text="late on Monday")).text, _dated_part(replace(c, text="March 10 and 11 in Dar")).text
    ('late on Monday', 'March 10 and 11 in Dar')
    >>> _dated_part(replace(c, text="Monday's strikes died in hospital on Thursday")).text
    'on Thursday'
    >>> _dated_part(replace(c, text="last month that strikes had killed dozens since January")).text
    'last month'
    >>> _dated_part(replace(c, text="March to integrate the SDF")).text, _dated_part(replace(c, text="May 3 to 5 in Goma")).text
    ('March', 'May 3 to 5 in Goma')
    >>> _dated_part(replace(c, text="rose to three after a patrolman died in Cali last night")).text
    'last night'
    >>> _dated_part(replace(c, text="after the talks on Monday")).text, _dated_part(replace(c, text="after the ceasefire collapsed")).text
    ('after the talks on Monday', 'after the ceasefire collapsed')
    """
    lead = LEADING_DATE.match(choice.text)
    if lead and choice.text.startswith(("'s", "’s"), lead.end()):
        # "Monday's strikes ... died in hospital on Thursday": the possessive day names the
        # strikes, the span's own time is the next date it holds
        later = next(
            (
                m
                for m in LEADING_DATE.finditer(choice.text, lead.end())
                if not choice.text.startswith(("'s", "’s"), m.end())
            ),
            None,
        )
        if later is not None:
            a, b = later.span()
            return replace(
                choice, start=choice.start + a, end=choice.start + b, text=choice.text[a:b]
            )
    if lead is None:
        # "rose to three after a patrolman died in hospital last night": a span that holds
        # one time among words that are none is cut to it
        times = list(LEADING_DATE.finditer(choice.text))
        if len(times) != 1 or len(choice.text.split()) - len(times[0].group().split()) < 4:
            return choice
        a, b = times[0].span()
        return replace(choice, start=choice.start + a, end=choice.start + b, text=choice.text[a:b])
    rest = choice.text[lead.end() :].split()
    if len(rest) < 2:
        return choice
    clause = rest[0].lower() in CLAUSE_OPENS  # "last month that ... since January": its own
    if DATE.search(choice.text, lead.end()) and not clause:
        return choice
    if rest[0].lower().strip(",") in DATE_GOES_ON and (
        rest[0] in ("-", "–", "—") or DATE.match(" ".join(rest[1:])) or rest[1][:1].isdigit()
    ):  # "March 10 and 11", "May 3 to 5"; not "March to integrate the SDF"
        return choice
    return replace(choice, end=choice.start + lead.end(), text=choice.text[: lead.end()])


def _past_datelines(choices: list[SpanChoice], snapshot: Snapshot) -> list[SpanChoice]:
    """The spans that are not in their article's dateline ("MOGADISHU, March 19 (Horn
    Courier) -"): where a story was filed is no answer to who, where or when it happened."""
    ends: dict[str, int] = {}
    for choice in choices:
        doc = choice.passage.doc_id
        if doc not in ends:
            found = DATELINE.match(snapshot.articles[doc].text)
            ends[doc] = found.end() if found else 0
    return [c for c in choices if c.start >= ends[c.passage.doc_id]]


def _day(choice: SpanChoice) -> str | None:
    """The ISO day a span names, read from its passage's publication date, or None."""
    value = normalized_value(choice.text, AnswerType.DATE, choice.passage.published_at)
    return value if isinstance(value, str) and len(value) == 10 else None


def _abstain(
    question: str,
    answer_type: AnswerType,
    confidence: float,
    passages: list[Passage],
    message: str,
) -> Answer:
    return Answer(
        question,
        None,
        answer_type.value,
        None,
        round(confidence, 4),
        True,
        None,
        None,
        message,
        [],
        passages,
    )


def _sentence_of(text: str, sentences: Sequence[Sentence], start: int, end: int) -> Sentence:
    """The sentence (or run of sentences) of an article that holds its characters `start:end`.

    >>> text = "One. Two and three. Four."
    >>> _sentence_of(text, [Sentence(0, 4, "One."), Sentence(5, 19, "Two and three."), Sentence(20, 25, "Four.")], 9, 12).text
    'Two and three.'
    """
    covering = [s for s in sentences if s.start < end and s.end > start]
    lo = covering[0].start if covering else start
    hi = covering[-1].end if covering else end
    return Sentence(lo, hi, text[lo:hi])


def _overlaps(a: SpanChoice, b: SpanChoice) -> bool:
    return a.passage.doc_id == b.passage.doc_id and a.start < b.end and b.start < a.end


def _citation(choice: SpanChoice, sentence: Sentence) -> Citation:
    return Citation.of(choice.passage, sentence, choice.passage.score, (choice.start, choice.end))
