"""Reports across articles: grouping by value, latest by date, source and time scopes, change
phrases, agreement labels, relative dates. Made-up sentences; no model."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rag.answering import Citation
from rag.dates import resolve, time_scope
from rag.question import AnswerType
from rag.reports import Candidate, agreement_of, decide, reports_of
from rag.text import Analyzer

TERMS = Analyzer({}).terms


def cand(text: str, sentence: str, *, doc: str, source: str, published: str, who=None, p=0.9):
    at = sentence.index(text)
    citation = Citation(
        doc_id=doc,
        title=doc,
        source=source,
        url=None,
        published_at=published,
        quote=sentence,
        start=100,
        end=100 + len(sentence),
        score=1.0,
        answer_start=100 + at,
        answer_end=100 + at + len(text),
    )
    return Candidate(text, p, citation, sentence, who)


MONDAY = cand(
    "at least 12",
    "The mayor said at least 12 people were killed in the strike on Monday.",
    doc="a",
    source="City Daily",
    published="2024-06-03",
    who="the mayor",
)
THURSDAY = cand(
    "17",
    "The death toll from Monday's strike has risen to 17, up from 12, rescuers said.",
    doc="b",
    source="Wire",
    published="2024-06-06",
    who="rescuers",
)


def test_a_rising_toll_answers_with_the_latest_and_keeps_the_earlier() -> None:
    reports = reports_of([THURSDAY, MONDAY], AnswerType.COUNT, {"a": 1, "b": 1})
    assert [r.normalized for r in reports] == [12, 17]
    assert reports[1].change and not reports[0].change
    assert len(reports[0].citations) == 2  # "up from 12" and the mayor's 12 are one report
    verdict = decide("How many people were killed in the strike?", reports, TERMS)
    assert verdict.chosen.answer == "17"
    assert verdict.agreement == "updated" and verdict.as_of == "2024-06-06"


def test_a_when_answer_is_the_surest_report_not_the_latest() -> None:
    first = cand(
        "late on Friday",
        "A motorcycle bomb blew up near the police station late on Friday, the mayor said.",
        doc="a",
        source="City Daily",
        published="2026-06-15",
        p=0.8,
    )
    later = cand(
        "Wednesday",
        "The minister said police had arrested two suspects on Wednesday.",
        doc="c",
        source="Wire",
        published="2026-06-18",
        p=0.5,
    )
    reports = reports_of([first, later], AnswerType.DATE, {"a": 1, "c": 1})
    verdict = decide("When did the motorcycle bomb go off?", reports, TERMS)
    assert verdict.chosen.answer == "late on Friday" and len(verdict.reports) == 2
    # a count's latest figure still answers, however sure the earlier one was
    sure_monday = replace(MONDAY, confidence=0.99)
    counted = reports_of([sure_monday, THURSDAY], AnswerType.COUNT, {"a": 1, "b": 1})
    assert decide("How many were killed?", counted, TERMS).chosen.answer == "17"


def test_a_question_naming_the_source_or_the_time_gets_that_report() -> None:
    reports = reports_of([THURSDAY, MONDAY], AnswerType.COUNT, {"a": 1, "b": 1})
    by_mayor = decide("How many were killed, according to the mayor?", reports, TERMS)
    assert by_mayor.chosen.normalized == 12
    on_day = decide("How many were killed as reported on June 3?", reports, TERMS)
    assert on_day.chosen.normalized == 12
    first = decide("What was the first toll given?", reports, TERMS)
    assert first.chosen.normalized == 12


def test_as_of_a_day_is_the_latest_figure_said_by_then() -> None:
    reports = reports_of([THURSDAY, MONDAY], AnswerType.COUNT, {"a": 1, "b": 1})
    ask = lambda q: decide(q, reports, TERMS).chosen.answer  # noqa: E731
    assert ask("How many had been killed as of June 4, 2024?") == "at least 12"
    assert ask("How many had been killed by June 7?") == "17"
    # "on June 4" asks for a figure of that day: none, so every report stays in the running
    assert ask("How many were killed on June 4?") == "17"


def test_a_later_article_naming_the_day_of_the_strike_still_gives_the_newer_figure() -> None:
    """ "Sunday's strike" dates the strike, not the figure: a toll published on Thursday is
    newer than Tuesday's, whatever day its sentence names."""
    tuesday = cand(
        "seven",
        "The death toll from the strike on the bus station rose to seven, rescuers said.",
        doc="b",
        source="Wire",
        published="2025-09-16",
    )
    thursday = cand(
        "10",
        "The toll from Sunday's strike on the bus station has reached 10 dead, the mayor said.",
        doc="c",
        source="Review",
        published="2025-09-18",
    )
    reports = reports_of([thursday, tuesday], AnswerType.COUNT, {})
    assert reports[-1].event_date == "2025-09-14"  # the day named, kept on the report
    assert [r.answer for r in reports] == ["seven", "10"]
    assert decide("What is the death toll from the strike?", reports, TERMS).chosen.answer == "10"


def test_of_figures_given_at_one_time_the_update_answers() -> None:
    risen = cand(
        "17",
        "The toll from the strike on the tents has risen to 17 dead, the ministry said.",
        doc="b",
        source="Chronicle",
        published="2025-08-13",
        p=0.45,
    )
    other = cand(
        "hundreds",
        "The UN said strikes on tent areas had killed hundreds of people in recent weeks.",
        doc="b",
        source="Chronicle",
        published="2025-08-13",
        p=0.75,
    )
    reports = reports_of([other, risen], AnswerType.COUNT, {})
    assert (
        decide("How many people were killed in the strike?", reports, TERMS).chosen.answer == "17"
    )


def test_a_figure_repeated_later_was_known_as_of_its_first_publication() -> None:
    repeated = cand(
        "17",
        "The hospital said it had registered 17 people killed in Monday night's strike.",
        doc="c",
        source="Field Reports",
        published="2024-06-07",
    )
    reports = reports_of([THURSDAY, MONDAY, repeated], AnswerType.COUNT, {"a": 1, "b": 1})
    seventeen = next(r for r in reports if r.normalized == 17)
    assert seventeen.published_at == "2024-06-07" and len(seventeen.citations) == 2
    assert decide("What was the toll as of June 6?", reports, TERMS).chosen.normalized == 17


def test_two_sides_with_different_figures_at_the_same_time_are_disputed() -> None:
    kyiv = cand(
        "41",
        "Ukraine's air force said 41 of 48 drones were shot down overnight.",
        doc="c",
        source="Kyiv Post",
        published="2024-06-03",
        who="Ukraine's air force",
        p=0.8,
    )
    moscow = cand(
        "48",
        "Russia's defence ministry said 48 drones were destroyed overnight.",
        doc="d",
        source="TASS",
        published="2024-06-03",
        who="Russia's defence ministry",
        p=0.85,
    )
    reports = reports_of([kyiv, moscow], AnswerType.COUNT, {})
    verdict = decide("How many drones were shot down?", reports, TERMS)
    assert verdict.agreement == "disputed"
    assert "Sources disagree" in verdict.message and "41" in verdict.message
    assert decide("What does Moscow say was destroyed?", reports, TERMS).chosen.answer == "48"
    kyiv_says = decide(
        "How many were shot down according to the Ukrainian air force?", reports, TERMS
    )
    assert kyiv_says.chosen.answer == "41"


def test_the_same_figure_from_two_outlets_is_one_consistent_report() -> None:
    one = cand(
        "Nine", "Nine people died, police said.", doc="e", source="A", published="2024-01-02"
    )
    two = cand("nine", "Police said nine people died.", doc="f", source="B", published="2024-01-02")
    reports = reports_of([one, two], AnswerType.COUNT, {})
    assert len(reports) == 1 and agreement_of(reports) == "consistent"
    assert decide("How many died?", reports, TERMS).independent_sources == 2
    assert agreement_of(reports_of([one], AnswerType.COUNT, {})) == "single"


def test_every_citation_of_a_report_marks_the_report_s_words() -> None:
    """One copy read "4 drones", the other "4": the report answers "4", and each citation's
    answer characters are "4" (the API promises article.text[answer_start:answer_end] is it)."""
    sentence = "4 drones were shot down over Sumy overnight, the governor said."
    wide = cand("4 drones", sentence, doc="g", source="A", published="2024-01-02")
    narrow = cand("4", sentence, doc="h", source="B", published="2024-01-03")
    for order in ([wide, narrow], [narrow, wide]):
        (report,) = reports_of(order, AnswerType.COUNT, {})
        assert report.answer == "4"
        for c in report.citations:
            assert c.quote[c.answer_start - c.start : c.answer_end - c.start] == "4"


def test_a_figure_its_own_sentence_says_is_contested_is_disputed() -> None:
    later = cand(
        "nine",
        "The government said nine people were killed, disputing the rebels' figure of 17.",
        doc="g",
        source="Wire",
        published="2024-06-04",
        who="The government",
    )
    earlier = cand(
        "17", "Rebels said 17 people were killed.", doc="h", source="B", published="2024-06-03"
    )
    # a day apart, so by time alone the later figure would be an update of the earlier one
    both = decide(
        "How many were killed?", reports_of([later, earlier], AnswerType.COUNT, {}), TERMS
    )
    assert both.agreement == "disputed" and "Sources disagree" in both.message
    alone = decide("How many were killed?", reports_of([later], AnswerType.COUNT, {}), TERMS)
    assert alone.agreement == "disputed" and "disputing the rebels' figure" in alone.message
    # the same shape without a word of dispute stays an update
    plain = cand(
        "nine",
        "The government said nine people were killed.",
        doc="g",
        source="Wire",
        published="2024-06-04",
    )
    assert agreement_of(reports_of([plain, earlier], AnswerType.COUNT, {})) == "updated"


@pytest.mark.parametrize(
    "sentence",
    [
        "The army did not dispute that 4 soldiers were killed.",
        "Nobody disputes that 4 soldiers were killed.",
        "The rebels didn't deny that 4 soldiers were killed.",
    ],
)
def test_a_figure_nobody_contests_is_not_disputed(sentence: str) -> None:
    """A negated dispute agrees: one telling of it stays single."""
    only = cand("4", sentence, doc="g", source="Wire", published="2024-06-04")
    assert agreement_of(reports_of([only], AnswerType.COUNT, {})) == "single"


@pytest.mark.parametrize(
    ("phrase", "published", "day"),
    [
        ("on Tuesday", "2024-06-06", "2024-06-04"),
        ("on Thursday", "2024-06-06", "2024-06-06"),
        ("yesterday", "2024-06-06", "2024-06-05"),
        ("two days ago", "2024-06-06", "2024-06-04"),
        ("Monday night", "2024-06-06", "2024-06-03"),
        ("March 3, 2023", None, "2023-03-03"),
        ("2022", "2024-06-06", None),
    ],
)
def test_relative_dates_resolve_against_the_publication_date(phrase, published, day) -> None:
    assert resolve(phrase, published) == day


def test_a_report_carries_the_day_its_text_names() -> None:
    reports = reports_of([MONDAY], AnswerType.COUNT, {})
    assert reports[0].event_date == "2024-06-03" and reports[0].date_text == "on Monday"
    assert time_scope("How many died in 2023?").year == 2023


def test_a_named_source_takes_the_report_that_names_it_most_fully() -> None:
    """'the regional governor' shares 'region' with an outlet called 'Region Courier' but both
    words only with the governor: a later figure of that outlet is not the governor's."""
    governor = cand(
        "31",
        "Regional governor Oleh Marchuk said 31 people were wounded.",
        doc="a",
        source="Daily Wire",
        published="2025-10-20",
        who="regional governor Oleh Marchuk",
    )
    mayor = cand(
        "12",
        "The toll climbed to 12 after three of the wounded died, the acting mayor said.",
        doc="c",
        source="Kharkiv Region Courier",
        published="2025-10-23",
        who="acting mayor",
    )
    reports = reports_of([governor, mayor], AnswerType.COUNT, {})
    asked = "According to the regional governor, how many people were wounded?"
    assert decide(asked, reports, TERMS).chosen.answer == "31"
    assert decide("How many people were wounded?", reports, TERMS).chosen.answer == "12"


def test_a_figure_set_against_another_source_s_is_disputed() -> None:
    """'27, a higher figure than the one given by the ministry' is no update of the 19 a day
    before: two sources disagree."""
    ministry = cand(
        "19",
        "The state health ministry said 19 people were killed.",
        doc="a",
        source="A",
        published="2025-12-10",
        who="state health ministry",
    )
    group = cand(
        "27",
        "A medical group said 27 people were killed, a higher figure than the one given by "
        "the health ministry.",
        doc="b",
        source="B",
        published="2025-12-11",
        who="medical group",
    )
    verdict = decide(
        "How many were killed?", reports_of([ministry, group], AnswerType.COUNT, {}), TERMS
    )
    assert verdict.agreement == "disputed" and verdict.message
