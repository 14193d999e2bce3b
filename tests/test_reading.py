"""The reader's answer path around the network: picking across passages, typing, citations,
calibrated abstention and yes/no questions. A stub stands in for the network, so these run in
milliseconds; the real trained reader is exercised in test_reader_answers.py."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pytest

from rag.documents import Article
from rag.lexicon import load_lexicon
from rag.reader.calibration import AbstentionModel
from rag.reader.inference import SpanProposal, WindowReading
from rag.reading import ReaderAnswerer, is_yes_no
from rag.retrieval import Passage
from rag.text import Analyzer

TEXT_A = (
    "Five civilians were killed and twelve were injured in Kherson on Tuesday, the governor said. "
    "Power was cut in two districts."
)
TEXT_B = "Officials in Kherson said five people died. Repairs began on Wednesday."


@dataclass
class StubManifest:
    calibration: AbstentionModel | None
    passage_weight: float = 0.0


@dataclass
class StubReader:
    """Proposes, for each window, the spans of `answers` found in it (score from the table)."""

    answers: dict[str, float]
    no_answer: float = 0.0
    manifest: StubManifest = field(
        default_factory=lambda: StubManifest(
            AbstentionModel(("margin",), (-1.0,), 0.0, 0.5, "test", 0)
        )
    )
    read_windows: list[str] = field(default_factory=list)

    def read(self, question: str, windows: list[str]) -> list[WindowReading]:
        self.read_windows += windows
        out = []
        for window in windows:
            spans = []
            for text, score in self.answers.items():
                at = window.find(text)
                if at >= 0:
                    spans.append(SpanProposal(at, at + len(text), text, score))
            out.append(WindowReading(sorted(spans, key=lambda s: -s.score), self.no_answer))
        return out


class StubSnapshot:
    def __init__(self, *articles: Article) -> None:
        self.articles = {a.id: a for a in articles}


def passage(article: Article, start: int, end: int, dense: float = 0.6) -> Passage:
    return Passage(
        chunk_id=0,
        doc_id=article.id,
        title=article.title,
        source="Wire",
        url=None,
        published_at="2025-03-04",
        text=article.text[start:end],
        start=start,
        end=end,
        score=1.0,
        dense_score=dense,
        lexical_score=None,
    )


A = Article(id="a", title="Kherson", text="Kherson\n\n" + TEXT_A)
B = Article(id="b", title="Kherson again", text=TEXT_B)
SNAPSHOT = StubSnapshot(A, B)
PASSAGES = [passage(A, 9, len(A.text)), passage(B, 0, len(B.text), dense=0.4)]


def answer(reader: StubReader, question: str, passages=PASSAGES, **kw):
    return ReaderAnswerer(reader, load_lexicon(), **kw).answer(question, passages, SNAPSHOT, 5)


def test_the_best_span_of_all_passages_wins_with_exact_offsets() -> None:
    got = answer(StubReader({"Five": 0.5, "twelve": 6.0, "five": 0.4}), "How many were injured?")
    assert got.answer == "twelve" and not got.abstained
    assert got.normalized == 12 and got.answer_type == "count"
    cite = got.citations[0]
    assert A.text[cite.answer_start : cite.answer_end] == "twelve"
    assert A.text[cite.start : cite.end] == cite.quote == TEXT_A.split(" Power")[0]
    assert got.sentence == cite.quote
    assert got.attribution == "governor"


def test_the_count_rule_is_off_unless_asked_for() -> None:
    # measured: preferring a span with a number lowered span F1 on SQuAD count questions
    reader = StubReader({"the governor": 9.0, "Five": 5.0})
    typed = answer(reader, "How many civilians were killed?", prefer_typed=True)
    assert typed.answer == "Five"
    assert answer(reader, "How many civilians were killed?").answer == "the governor"


def test_a_count_copied_as_a_clause_is_cut_to_its_figure() -> None:
    clause = "twelve were injured in Kherson"
    got = answer(StubReader({clause: 6.0}), "How many were injured?", narrow_counts=True)
    assert got.answer == "twelve" and got.normalized == 12
    cite = got.citations[0]
    assert A.text[cite.answer_start : cite.answer_end] == "twelve"
    kept = answer(StubReader({clause: 6.0}), "How many were injured?", narrow_counts=False)
    assert kept.answer == clause
    # a span with two figures, neither an earlier one, is left as the reader gave it
    both = "Five civilians were killed and twelve"
    assert answer(StubReader({both: 6.0}), "How many were hurt?", narrow_counts=True).answer == both
    # only counts are cut: a description keeps its words
    described = answer(StubReader({clause: 6.0}), "What happened in Kherson?", narrow_counts=True)
    assert described.answer == clause


def test_the_same_answer_in_another_article_is_cited_too() -> None:
    got = answer(StubReader({"Five": 5.0, "five": 4.0}), "How many were killed?")
    assert [c.doc_id for c in got.citations] == ["a", "b"]
    assert B.text[got.citations[1].answer_start : got.citations[1].answer_end] == "five"


def test_below_the_calibrated_threshold_it_abstains_with_the_complement() -> None:
    # margin = no_answer - score = 2 - 1 = 1 -> p = sigmoid(-1) = 0.27 < 0.5
    got = answer(StubReader({"twelve": 1.0}, no_answer=2.0), "How many were injured?")
    assert got.abstained and got.answer is None and got.citations == []
    assert got.confidence == pytest.approx(1 - 0.2689, abs=1e-3)
    assert got.message == "The sources do not say."
    forced = answer(StubReader({"twelve": 1.0}, no_answer=2.0), "How many?", threshold=0.0)
    assert forced.answer == "twelve"


def test_no_span_at_all_abstains() -> None:
    got = answer(StubReader({}), "Who ordered the strike?")
    assert got.abstained and got.confidence == 1.0


@pytest.mark.parametrize(
    "question",
    [
        "Was anyone hurt?",
        "Did Russia comment on the strike?",
        "Is the bridge still open?",
        "Were children among the dead?",
        "Has the ministry confirmed it?",
    ],
)
def test_yes_no_questions_abstain_and_say_why_without_reading(question: str) -> None:
    reader = StubReader({"Five": 9.0})
    got = answer(reader, question)
    assert got.abstained and "yes/no" in (got.message or "")
    assert reader.read_windows == []
    assert is_yes_no(question)


@pytest.mark.parametrize(
    "question",
    [
        "How many were killed?",
        "Did officials say how many were killed?",
        "Who said it?",
        "Which city was hit?",
        "When was the power cut?",
        "Kherson casualties?",
    ],
)
def test_questions_with_a_wh_word_or_none_are_not_yes_no(question: str) -> None:
    assert not is_yes_no(question)


def test_agreement_and_retrieval_reach_the_calibration() -> None:
    model = AbstentionModel(
        ("margin", "retrieval", "agreement"), (0.0, 0.0, 10.0), -5.0, 0.5, "t", 0
    )
    agreeing = StubReader({"Five": 5.0, "five": 4.0}, manifest=StubManifest(model))
    alone = StubReader({"twelve": 5.0}, manifest=StubManifest(model))
    assert answer(agreeing, "How many were killed?").confidence > 0.99  # 1 of 1 other agrees
    assert answer(alone, "How many were injured?").abstained  # p = sigmoid(-5)


def test_an_artifact_without_calibration_is_refused() -> None:
    from rag.reader import ReaderError

    with pytest.raises(ReaderError, match="calibrat"):
        ReaderAnswerer(StubReader({}, manifest=StubManifest(None)), load_lexicon())


# ----- which spans become reports of a count (several articles, several figures) ------------
TOLL_A = (
    "A missile hit a market in Izium on Monday, killing six people and wounding 11, the "
    "governor said. Two of the dead were children. About 3,000 families live nearby."
)
TOLL_B = "The number of people killed in the strike on the market in Izium has risen to nine."
TA = Article(id="ta", title="Izium", text=TOLL_A)
TB = Article(id="tb", title="Izium toll", text=TOLL_B)


def toll_answer(reader: StubReader, question: str):
    answerer = ReaderAnswerer(reader, load_lexicon(), analyzer=Analyzer({}))
    passages = [passage(TA, 0, len(TOLL_A)), passage(TB, 0, len(TOLL_B), dense=0.5)]
    return answerer.answer(question, passages, StubSnapshot(TA, TB), 5)


def test_figures_of_another_role_a_part_or_no_role_are_not_reports() -> None:
    reader = StubReader({"six": 6.0, "11": 5.0, "Two": 5.0, "3,000": 5.0, "nine": 0.4})
    got = toll_answer(reader, "How many people were killed in Izium?")
    values = sorted(r.normalized for r in got.reports)
    # 11 were wounded, two of the dead is a part, 3,000 families is no toll; nine is the
    # other article's toll, a report although much less sure than six (0.60 against 0.998)
    assert values == [6, 9]
    assert got.agreement == "updated"


def test_a_best_span_of_two_figures_is_cut_to_the_question_s() -> None:
    both = "six people and wounding 11"
    got = toll_answer(StubReader({both: 6.0}), "How many people were wounded in Izium?")
    assert got.answer == "11" and got.normalized == 11
    cite = got.citations[0]
    assert TOLL_A[cite.answer_start : cite.answer_end] == "11"
    # a question without a verb to tell the figures apart keeps the span as the reader gave it
    kept = toll_answer(StubReader({both: 6.0}), "What is the toll in Izium?")
    assert kept.answer == both


def test_a_best_figure_of_another_role_gives_way_to_the_question_s() -> None:
    got = toll_answer(StubReader({"six": 6.0, "11": 5.0}), "How many people were wounded in Izium?")
    assert got.answer == "11"
    # nothing else of the question's role: no answer rather than the killed as the wounded
    alone = toll_answer(StubReader({"six": 6.0}), "How many were wounded in Izium?")
    assert alone.abstained and alone.answer is None


def test_a_toll_that_changed_is_the_question_s_figure() -> None:
    text = (
        "The number of people killed in the shelling of the market in Izium had increased to 38."
        " On Monday 21 people were killed, officials said."
    )
    article = Article(id="tc", title="Izium", text=text)
    reader = StubReader({"38": 6.0, "21": 5.0})  # "increased" is no role: 38 stays the answer
    answerer = ReaderAnswerer(reader, load_lexicon(), analyzer=Analyzer({}))
    got = answerer.answer(
        "How many people were killed in Izium?",
        [passage(article, 0, len(text))],
        StubSnapshot(article),
        5,
    )
    assert got.answer == "38"


def test_a_when_question_prefers_a_span_that_names_a_day() -> None:
    text = (
        "Strikes on Izium have been frequent since the start of the year and since 2022. "
        "A missile hit the market in Izium on Monday, and residents said yesterday that "
        "prices had doubled."
    )
    article = Article(id="td", title="Izium", text=text)

    def ask(answers: dict[str, float], question: str):
        answerer = ReaderAnswerer(StubReader(answers), load_lexicon(), analyzer=Analyzer({}))
        return answerer.answer(question, [passage(article, 0, len(text))], StubSnapshot(article), 5)

    # the passage was published on Tuesday 2025-03-04
    got = ask({"start of the year": 6.0, "on Monday": 5.0}, "When was the market in Izium hit?")
    assert got.answer == "on Monday" and got.normalized == "2025-03-03"
    # a year or a month is a time too: the reader's choice stands
    text_year = ask({"since 2022": 6.0, "on Monday": 5.0}, "When was the market in Izium hit?")
    assert text_year.answer == "since 2022"
    # a span that starts with a day is read as that day
    said = ask({"yesterday that prices had doubled": 6.0}, "When did residents speak in Izium?")
    assert said.normalized == "2025-03-03"
    # "on what night" is a date question too
    night = ask({"on Monday": 6.0}, "On what night was the market in Izium hit?")
    assert night.answer_type == "date" and night.normalized == "2025-03-03"


# ----- an answer comes from an article that names what the question names -------------------
ODESA = Article(
    id="od", title="Port strike", text="Three people were killed in Odesa, police said."
)
SUMY = Article(
    id="su", title="Border shelling", text="Seven Ukrainian soldiers were killed near Sumy."
)


def named_answer(reader: StubReader, question: str):
    answerer = ReaderAnswerer(reader, load_lexicon(), analyzer=Analyzer({}))
    passages = [
        passage(SUMY, 0, len(SUMY.text), dense=0.7),
        passage(ODESA, 0, len(ODESA.text)),
    ]
    return answerer.answer(question, passages, StubSnapshot(SUMY, ODESA), 5)


def test_a_span_of_an_article_that_does_not_name_the_question_s_place_is_no_answer() -> None:
    reader = StubReader({"Seven": 6.0, "Three": 4.0})
    assert named_answer(reader, "How many people were killed in Odesa?").answer == "Three"
    # no article names Kharkiv: the sources do not say, though the reader is sure of "Seven"
    assert named_answer(reader, "How many people were killed in Kharkiv?").abstained
    # a demonym names its country; a weekday names a time, not what the article is about
    assert named_answer(reader, "How many Ukraine soldiers were killed?").answer == "Seven"
    assert named_answer(reader, "How many were killed near Sumy on Monday?").answer == "Seven"


def one_article(text: str, spans: dict[str, float]):
    """An `ask(question)` over one article ("Izium") whose reader proposes `spans`."""
    article = Article(id="one", title="Izium", text=text)
    answerer = ReaderAnswerer(StubReader(spans), load_lexicon(), analyzer=Analyzer({}))
    return lambda q: answerer.answer(q, [passage(article, 0, len(text))], StubSnapshot(article), 5)


def test_a_figure_whose_verb_is_another_role_s_gives_way() -> None:
    text = "The death toll in Izium climbed to 34, with about 60 people wounded, doctors said."
    ask = one_article(text, {"about 60": 6.0, "34": 5.0})
    # the sentence names the dead ("death toll") but "about 60" belongs to "wounded"
    assert ask("How many people died in Izium?").answer == "34"
    assert ask("According to doctors, how many people died in Izium?").answer == "34"
    assert ask("How many people were wounded in Izium?").answer == "about 60"


def test_a_figure_of_another_story_is_no_report() -> None:
    izium = Article(id="iz", title="Market strike", text="A missile killed six people in Izium.")
    later_izium = Article(
        id="iz2", title="Toll rises", text="The toll in Izium has risen to nine, officials said."
    )
    odesa = Article(id="od2", title="Port attack", text="Drones killed eleven people in Odesa.")
    reader = StubReader({"six": 6.0, "nine": 5.0, "eleven": 5.5})
    answerer = ReaderAnswerer(reader, load_lexicon(), analyzer=Analyzer({}))
    got = answerer.answer(
        "How many people were killed?",
        [passage(a, 0, len(a.text)) for a in (izium, odesa, later_izium)],
        StubSnapshot(izium, odesa, later_izium),
        5,
    )
    # Izium's two figures are one story (an update); Odesa's is another event's
    assert sorted(r.normalized for r in got.reports) == [6, 9]
    assert got.agreement == "updated"


def test_the_dateline_is_no_answer() -> None:
    text = "MOGADISHU, March 19 (Horn Wire) - A suicide bomber killed nine recruits at the gate."
    ask = one_article(text, {"MOGADISHU": 6.0, "the gate": 5.0})
    assert ask("Where did the bomber strike?").answer == "the gate"
    assert ask("Who was the suicide bomber?").answer != "MOGADISHU"


def test_a_count_is_the_figure_of_what_the_question_counts() -> None:
    text = "He said 19 women and nine children were among the dead in Izium."
    ask = one_article(text, {"19 women and nine": 6.0, "19": 5.0})
    children = ask("How many children were among the dead in Izium?")
    assert children.answer == "nine" and [r.normalized for r in children.reports] == [9]
    assert ask("How many women were among the dead in Izium?").answer == "19"


def test_a_figure_a_role_s_verb_governs_counts_that_role_only() -> None:
    text = "Six soldiers were killed in Izium, the army said. Three others were missing."
    ask = one_article(text, {"Six": 6.0, "Three": 5.0})
    # "missing" is not in the sentence of "Six", whose verb is another role's
    assert ask("How many soldiers were missing in Izium?").answer == "Three"
    # asked through a reporting verb, the role is not the question's to tell
    assert ask("How many soldiers were reported killed in Izium?").answer == "Six"


def test_spans_of_one_figure_pool_their_scores() -> None:
    """The reader's belief in a figure is spread over the boundaries it might have: "at least
    21" and "21" are one answer, surer together than either alone."""
    text = "Shelling killed at least 21 civilians in the market in Izium, doctors said."
    article = Article(id="one", title="Izium", text=text)
    reader = StubReader({"at least 21": 1.0, "21 civilians": 0.9, "21": 0.8}, no_answer=1.2)

    def ask(**kw):
        answerer = ReaderAnswerer(reader, load_lexicon(), analyzer=Analyzer({}), **kw)
        return answerer.answer(
            "How many civilians were killed in Izium?",
            [passage(article, 0, len(text))],
            StubSnapshot(article),
            5,
        )

    alone = ask(pool_values=False)  # the best span's margin, 0.2, is under the 0.5 cut
    assert alone.abstained
    pooled = ask()
    assert not pooled.abstained and pooled.normalized == 21
    assert pooled.confidence > 0.5 > 1.0 - alone.confidence


def test_a_part_named_by_its_noun_answers_how_many_of_that_noun() -> None:
    text = "Five police officers were among the 14 people wounded in the bombing in Izium."
    ask = one_article(text, {"Five police officers were among the 14": 6.0, "14": 5.0})
    assert ask("How many police officers were wounded in Izium?").answer == "Five"
    assert ask("How many people were wounded in Izium?").answer == "14"


def test_a_count_asked_inside_a_what_question_is_checked_for_its_role() -> None:
    text = "The ministry said six of its soldiers were killed and nine wounded in Izium."
    ask = one_article(text, {"six": 6.0, "nine": 5.0})
    asked = "What did the ministry say about how many soldiers were wounded in Izium?"
    assert ask(asked).answer == "nine"  # had answered "six", the killed
    assert ask("How many soldiers were killed in Izium?").answer == "six"


def test_the_question_s_verb_inside_the_figure_s_phrase_counts_for_it() -> None:
    """'one missile launched from Yemen' is a count of missiles launched, though 'intercepted'
    governs it; and another noun's figure ('20 fighter jets') does not replace it."""
    text = (
        "About 20 fighter jets took part in the raids on Izium. The army said it had "
        "intercepted one missile launched from Yemen."
    )
    ask = one_article(text, {"one": 6.0, "About 20": 5.0})
    got = ask("What does the army say about how many missiles were launched from Yemen?")
    assert got.answer == "one"


def test_another_article_s_telling_of_the_answer_s_figure_corroborates_it() -> None:
    """A figure the reader finds less surely in a second article, the same as the answer's,
    is a second citation of it (consistent), not a report left out."""
    first = Article(
        id="c1",
        title="Izium",
        text="Seventeen people were wounded in the shelling of Izium on Monday, officials said.",
        source="Wire",
        published_at="2025-03-04",
    )
    second = Article(
        id="c2",
        title="Izium",
        text="The shelling of Izium on Monday wounded 17 people, the governor said.",
        source="Daily",
        published_at="2025-03-05",
    )
    reader = StubReader({"Seventeen": 2.0, "17": -0.3})  # 17: P 0.43, under the 0.5 threshold
    answerer = ReaderAnswerer(reader, load_lexicon(), analyzer=Analyzer({}))
    got = answerer.answer(
        "How many people were wounded in Izium?",
        [passage(first, 0, len(first.text)), passage(second, 0, len(second.text))],
        StubSnapshot(first, second),
        5,
    )
    assert got.normalized == 17 and got.agreement == "consistent"
    assert {c.doc_id for c in got.citations} == {"c1", "c2"}


def test_only_figures_of_what_was_asked_are_reports_beside_the_answer() -> None:
    """'How many had been living there': a toll of the killed in another sentence, or a vague
    'several', is no second report of the 60 residents."""
    text = (
        "About 60 people had been living in the building in Izium. The number of people killed "
        "there has risen to 22, up from 15, officials said. It had housed several families."
    )
    ask = one_article(text, {"About 60": 6.0, "22": 5.0, "15": 4.5, "several": 4.0})
    got = ask("How many people had been living in the building in Izium?")
    assert got.answer == "About 60" and got.agreement == "single"
    assert [r.answer for r in got.reports] == ["About 60"]


def test_a_bare_noun_speaker_is_named_as_the_article_named_it() -> None:
    text = (
        "Ukraine's State Emergency Service said six people died in Izium. "
        "The number of wounded rose to 38, the service said."
    )
    got = one_article(text, {"38": 6.0})("How many people were wounded in Izium?")
    assert got.answer == "38" and got.attribution == "Ukraine's State Emergency Service"


# ----- a question that names its source --------------------------------------------------
@dataclass
class SourceShyReader(StubReader):
    """Unsure of every span while the question names a source (as the trained reader is on
    "According to X, how many ...?", SQuAD having few such questions), sure without one."""

    questions: list[str] = field(default_factory=list)

    def read(self, question: str, windows: list[str]) -> list[WindowReading]:
        self.questions.append(question)
        readings = super().read(question, windows)
        if "ccording to" in question:
            return [WindowReading(r.spans, no_answer=20.0) for r in readings]
        return readings


def test_a_source_named_question_is_read_again_without_the_source() -> None:
    reader = SourceShyReader({"Five": 5.0, "twelve": 4.0})
    got = answer(reader, "According to the governor, how many civilians were killed?")
    assert got.answer == "Five" and not got.abstained and got.attribution == "governor"
    assert reader.questions[-1] == "How many civilians were killed?"


def test_read_without_the_source_only_that_source_answers() -> None:
    # B's "five" is said by officials, not by the army the question names: nobody answers
    reader = SourceShyReader({"five": 5.0})
    got = answer(reader, "According to the army, how many people died?")
    assert got.abstained and got.answer is None
    # a question that names no source is read once
    plain = SourceShyReader({"five": 5.0})
    assert answer(plain, "How many people died?").answer == "five"
    assert plain.questions == ["How many people died?"]


def test_a_part_named_before_its_figure_is_no_report_of_the_whole() -> None:
    text = "Shelling killed 14 people in Izium, including six children, the governor said."
    ask = one_article(text, {"14": 6.0, "six": 5.0})
    whole = ask("How many people were killed in Izium?")
    assert whole.answer == "14" and [r.normalized for r in whole.reports] == [14]
    assert whole.agreement == "single"
    # asked for the part, the part answers
    part = one_article(text, {"six": 6.0, "14": 5.0})("How many children were killed in Izium?")
    assert part.answer == "six"


def test_a_range_is_its_own_report_not_one_of_its_ends() -> None:
    ministry = Article(
        id="m",
        title="Kadugli",
        text="Shelling killed 19 people in Kadugli, the health ministry said.",
    )
    union = Article(
        id="g",
        title="Kadugli toll",
        text="A medical union said 27 people were killed in Kadugli, a higher figure than "
        "the ministry gave.",
    )
    un = Article(
        id="u",
        title="Kadugli UN",
        text="The UN said between 19 and 27 people were killed in Kadugli.",
    )
    reader = StubReader({"between 19 and 27": 6.0, "19": 5.5, "27": 5.5})
    answerer = ReaderAnswerer(reader, load_lexicon(), analyzer=Analyzer({}))
    got = answerer.answer(
        "How many people were killed in Kadugli, according to the health ministry?",
        [passage(a, 0, len(a.text)) for a in (un, ministry, union)],
        StubSnapshot(ministry, union, un),
        5,
    )
    # "between 19 and 27" had taken the ministry's 19 into its report, and the UN's words
    # answered for the ministry
    assert got.answer == "19" and got.citations[0].doc_id == "m"
    assert sorted(r.answer for r in got.reports) == ["19", "27", "between 19 and 27"]
    assert got.agreement == "disputed"  # "a higher figure than" the ministry's


def test_as_of_a_day_before_every_figure_no_figure_answers() -> None:
    later = Article(
        id="l1",
        title="Izium",
        text="The number of people killed in the shelling of Izium has risen to 12, officials said.",
        source="Wire",
        published_at="2025-03-07",
    )
    latest = Article(
        id="l2",
        title="Izium",
        text="The shelling of Izium killed 13 people, the governor said.",
        source="Daily",
        published_at="2025-03-09",
    )
    answerer = ReaderAnswerer(
        StubReader({"12": 6.0, "13": 5.0}), load_lexicon(), analyzer=Analyzer({})
    )

    def ask(question: str):
        passages = [
            replace(passage(a, 0, len(a.text)), published_at=a.published_at, source=a.source)
            for a in (later, latest)
        ]
        return answerer.answer(question, passages, StubSnapshot(later, latest), 5)

    early = ask("How many people had been reported killed in Izium as of March 5?")
    assert early.abstained and early.answer is None
    assert early.message is not None and "12 (officials, 2025-03-07)" in early.message
    # a day after the first figure: that figure
    assert ask("How many people had been reported killed in Izium as of March 8?").answer == "12"


@dataclass
class DayShyReader(StubReader):
    """Unsure of every span while the question names a day (as the trained reader is on "As
    of March 5, 2025, how many ...?"), sure without one."""

    questions: list[str] = field(default_factory=list)

    def read(self, question: str, windows: list[str]) -> list[WindowReading]:
        self.questions.append(question)
        readings = super().read(question, windows)
        if "March" in question:
            return [WindowReading(r.spans, no_answer=20.0) for r in readings]
        return readings


def izium_tolls(reader: StubReader):
    """An `ask(question)` over two Izium articles: nine killed (March 4), then 12 (March 7)."""
    first = Article(
        id="i1",
        title="Izium",
        text="Shelling killed nine people in Izium, the governor said.",
        source="Wire",
        published_at="2025-03-04",
    )
    later = Article(
        id="i2",
        title="Izium",
        text="The number of people killed in the shelling of Izium has risen to 12, the "
        "governor said.",
        source="Daily",
        published_at="2025-03-07",
    )
    answerer = ReaderAnswerer(reader, load_lexicon(), analyzer=Analyzer({}))
    passages = [
        replace(passage(a, 0, len(a.text)), published_at=a.published_at, source=a.source)
        for a in (later, first)
    ]
    return lambda q: answerer.answer(q, passages, StubSnapshot(first, later), 5)


def test_a_day_named_question_is_read_again_without_the_day() -> None:
    reader = DayShyReader({"nine": 5.0, "12": 6.0})
    got = izium_tolls(reader)("As of March 5, 2025, how many people were killed in Izium?")
    assert got.answer == "nine" and not got.abstained
    assert reader.questions[-1] == "How many people were killed in Izium?"
    # the figure of the day the question names, not the latest
    reader = DayShyReader({"nine": 5.0, "12": 6.0})
    assert izium_tolls(reader)("What was the death toll in Izium on March 7?").answer == "12"


def test_read_without_the_day_only_that_day_s_figure_answers() -> None:
    # no figure was given on March 1: the latest does not answer for it
    reader = DayShyReader({"nine": 5.0, "12": 6.0})
    got = izium_tolls(reader)("How many people were killed in Izium on March 1?")
    assert got.abstained and got.answer is None
    # a question that names no day is read once
    plain = DayShyReader({"nine": 5.0, "12": 6.0})
    assert izium_tolls(plain)("How many people were killed in Izium?").answer == "12"
    assert plain.questions == ["How many people were killed in Izium?"]


def test_a_count_of_everyone_is_no_report_of_a_group() -> None:
    text = (
        "Gunmen stormed a hotel in Izium, killing at least seven people, police said. "
        "Security forces ended the siege, and four gunmen were killed, police said."
    )
    # the answer's own figure is not followed by the question's noun ("four gunmen"), so
    # the noun itself tells no figure apart
    got = one_article(text, {"four": 6.0, "at least seven": 5.5})("How many attackers were killed?")
    assert got.answer == "four" and [r.answer for r in got.reports] == ["four"]
    assert got.agreement == "single"
    # asked for everyone, the people are the report (the gunmen are no victims: see below)
    both = one_article(text, {"at least seven": 6.0, "four": 5.5})("How many were killed?")
    assert [r.answer for r in both.reports] == ["at least seven"]


def test_a_count_of_attackers_is_no_count_of_the_people_killed() -> None:
    text = (
        "Gunmen stormed a hotel in Izium, killing at least seven people, police said. "
        "Security forces ended the siege, and four gunmen were killed, police said."
    )
    ask = one_article(text, {"four": 6.0, "at least seven": 5.5})
    got = ask("How many people were killed in the attack on the hotel?")
    assert got.answer == "at least seven" and [r.answer for r in got.reports] == ["at least seven"]
    assert ask("How many gunmen were killed?").answer == "four"
    # "attacks" is no attacker, though the two share a stem
    tally = one_article("The WHO counted 63 attacks on clinics in Izium.", {"63": 6.0})
    assert tally("How many attacks on clinics were there in Izium?").answer == "63"


def test_a_total_over_a_period_is_no_report_of_one_event() -> None:
    text = (
        "The attack on Izium killed 21 people, the UN said. The UN said shelling had killed "
        "more than 3,000 people in the region since the start of the year."
    )
    ask = one_article(text, {"21": 6.0, "more than 3,000": 5.0})
    got = ask("How many people were killed in the attack on Izium?")
    assert got.answer == "21" and [r.answer for r in got.reports] == ["21"]
    assert got.agreement == "single"
    # asked about the period, the total is a report
    total = ask("How many people has shelling killed in Izium since the start of the year?")
    assert "more than 3,000" in [r.answer for r in total.reports]


def test_a_place_person_or_group_is_no_bare_number() -> None:
    text = "Drones hit five villages near Izium, including Kamianka, the governor said."
    where = one_article(text, {"five": 6.0, "Kamianka": 5.0})("In which village did a drone hit?")
    assert where.answer == "Kamianka"
    nowhere = one_article(text, {"five": 6.0})("In which locations did the drones hit?")
    assert nowhere.abstained and nowhere.answer is None
    # a count still takes its figure
    assert one_article(text, {"five": 6.0})("How many villages were hit?").answer == "five"


def test_what_someone_said_is_no_refusal_to_comment() -> None:
    text = "The army spokesman did not respond to requests for comment on the strike in Izium."
    got = one_article(text, {"respond to requests for comment": 6.0})(
        "What did the army spokesman say about the strike in Izium?"
    )
    assert got.abstained and "no comment was given" in (got.message or "")
    said = "The army spokesman said the strike in Izium hit a weapons depot."
    answer = one_article(said, {"hit a weapons depot": 6.0})(
        "What did the army spokesman say about the strike in Izium?"
    )
    assert answer.answer == "hit a weapons depot"


def test_a_count_of_everyone_is_no_count_of_a_group_within() -> None:
    text = "Shelling killed at least 18 people in Izium, including two police officers."
    group = one_article(text, {"at least 18": 6.0, "two": 5.0})
    assert group("How many police officers were killed in Izium?").answer == "two"
    alone = one_article(text, {"at least 18": 6.0})
    assert alone("How many police officers were killed in Izium?").abstained
    assert alone("How many people were killed in Izium?").answer == "at least 18"
    assert alone("How many civilians were killed in Izium?").answer == "at least 18"
    assert alone("How many deaths were reported in Izium?").answer == "at least 18"
