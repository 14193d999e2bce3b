"""The slot a question leaves open: date prepositions and units, the object of a question's
verb, a stranded preposition, what was said, what happened to something. Made-up sentences."""

import pytest

from rag.clauses import after_preposition, predicate, speech_complements
from rag.describe import describe, modified_noun
from rag.question import AnswerType, QuestionAnalysis, analyze_question, question_slot
from rag.settings import DEFAULT_ALIASES
from rag.slots import date_fit
from rag.spans import Candidate, date_candidates
from rag.text import Analyzer, load_aliases, words

ANALYZER = Analyzer(load_aliases(DEFAULT_ALIASES))


def _date_fits(question: str, sentence: str) -> dict[str, float]:
    qa = analyze_question(question, ANALYZER)
    return {c.text: date_fit(qa, sentence, c) for c in date_candidates(sentence)}


def test_since_when_wants_the_date_after_since():
    fits = _date_fits(
        "Since when has the ferry been suspended?",
        "The ferry stopped running last month, and has been suspended since June 2019.",
    )
    assert fits["June 2019"] > fits["last month"]


def test_what_year_wants_a_year_not_a_relative_date():
    fits = _date_fits("In what year did the dam open?", "It opened in 1987 and closed last year.")
    assert fits["1987"] == 1.0 and fits["last year"] < 0.5


def test_the_asked_for_unit_is_not_a_term_to_find():
    qa = analyze_question("In what year did the dam open?", ANALYZER)
    assert ANALYZER.term("year") not in qa.terms and qa.date_unit == "year"
    happened = analyze_question("What happened to the fishing truce?", ANALYZER)
    assert happened.happened and ANALYZER.term("happened") not in happened.terms


@pytest.mark.parametrize(
    ("question", "slot"),
    [
        ("What has Mayor Varga voiced about the budget?", ("voiced", None, False)),
        ("What did the coastguard accuse the trawler of?", (None, "of", False)),
        ("What did Velmora accuse Tarn of?", ("accuse", "of", False)),
        ("What has happened to the harbour deal?", (None, None, True)),
        ("What did French engineers design?", (None, None, False)),  # no named subject
        ("What did Velmora's mayor promise?", (None, None, False)),  # "mayor" is no verb
        ("What is the capital of Tarn?", (None, None, False)),
    ],
)
def test_question_slot(question, slot):
    assert question_slot(question) == slot


def test_the_object_of_the_question_verb_beats_the_phrase_after_its_last_word():
    text = "Admiral Tal voiced concern about the blockade if no ships are released."
    hits = [t for t in words(text) if t.text in ("Tal", "voiced", "blockade")]
    terms = {ANALYZER.term(t.text) for t in hits}
    verb = frozenset(t.start for t in hits if t.text == "voiced")
    best = max(describe(text, hits, terms, ANALYZER.term, verb), key=lambda c: c.value)
    assert best.text == "concern"
    plain = max(describe(text, hits, terms, ANALYZER.term), key=lambda c: c.value)
    assert plain.text == "no ships are released"  # without the verb: after the last word


def test_stranded_preposition_cuts_to_its_object():
    text = "Both navies accused each other of ramming a patrol boat."
    start = text.index("each")
    cand = Candidate(start, len(text) - 1, text[start:-1], AnswerType.DESCRIPTION, 1.0, False)
    assert after_preposition(text, cand, "of").text == "ramming a patrol boat"
    direct = text.index("ramming")
    cand = Candidate(direct, len(text) - 1, text[direct:-1], AnswerType.DESCRIPTION, 1.0, False)
    assert after_preposition(text, cand, "of") == cand


def test_speech_complement():
    text = "Mayor Ilse Varga said that the shelters would stay open all winter, and left."
    out = speech_complements(text, words(text), lambda w: w == "said")
    assert [c.text for c in out] == ["the shelters would stay open all winter"]
    text = "The minister voiced doubts about the plan."
    assert speech_complements(text, words(text), lambda w: w == "voiced") == []


@pytest.mark.parametrize(
    ("sentence", "subject", "answer"),
    [
        (
            "The fishing truce agreed by both coastguards has now collapsed.",
            "truce",
            "has now collapsed",
        ),
        (
            "They signed a pact backed by Oslo, which was later suspended.",
            "pact",
            "was later suspended",
        ),
        (
            "The ferry, which had sailed for decades, capsized in a storm.",
            "ferry",
            "capsized in a storm",
        ),
    ],
)
def test_what_happened_is_the_predicate_of_the_thing(sentence, subject, answer):
    found = predicate(sentence, sentence.index(subject) + len(subject))
    assert found is not None and found.text == answer


def test_noun_with_an_of_phrase_keeps_the_phrase():
    text = "Envoys raised the thorny question of grain exports, diplomats said."
    found = modified_noun(text, words(text), ANALYZER.term("question"), ANALYZER.term)
    assert found is not None and found.text == "thorny question of grain exports"
    text = "Drone strikes hit the harbour."
    found = modified_noun(text, words(text), ANALYZER.term("strikes"), ANALYZER.term)
    assert found is not None and found.text == "Drone strikes"


def test_on_topic_question_analysis_fields_default():
    qa = QuestionAnalysis("", AnswerType.DATE, (), (), (), frozenset())
    assert qa.verb is None and qa.stranded is None and not qa.happened


# ----- which verb a number or a subject belongs to (rag/voice.py) --------------------------
def _count_fits(question: str, sentence: str) -> dict[str, float]:
    from rag.spans import quantity_candidates
    from rag.voice import count_fit

    qa = analyze_question(question, ANALYZER)
    terms = set(ANALYZER.terms(sentence))
    return {
        c.text: count_fit(qa.passive, sentence, words(sentence), terms, c, ANALYZER.term)
        for c in quantity_candidates(sentence)
    }


@pytest.mark.parametrize(
    ("question", "sentence", "right", "wrong"),
    [
        (
            "How many were killed in the village?",
            "Two farmers were killed and seven were injured in the village.",
            "Two",
            "seven",
        ),
        (
            "How many were injured in the village?",
            "Two farmers were killed and seven were injured in the village.",
            "seven",
            "Two",
        ),
        (
            "How many people were evacuated?",
            "The flood killed 4 residents and rescuers evacuated about 300 families.",
            "about 300",
            "4",
        ),
        (
            "How many soldiers died?",
            "Nine soldiers died and 14 were captured near the ridge.",
            "Nine",
            "14",
        ),
    ],
)
def test_a_number_belongs_to_its_own_verb(question, sentence, right, wrong):
    fits = _count_fits(question, sentence)
    assert fits[right] == 1.0 and fits[wrong] < 0.5


def test_a_paraphrased_verb_is_left_to_the_meaning_match():
    """ "wounded" is not in the sentence: "injured" may well be its paraphrase."""
    fits = _count_fits("How many were wounded?", "Two were killed and seven were injured.")
    assert set(fits.values()) == {1.0}


def test_what_was_done_takes_the_passive_subject():
    from rag.voice import clause_starts, passive_subject

    qa = analyze_question("What was destroyed in the fire?", ANALYZER)
    assert qa.passive == ANALYZER.term("destroyed")
    text = "Officials said that two warehouses and a bakery were destroyed in the fire."
    tokens = words(text)
    starts = clause_starts(text, tokens, lambda w: w == "said")
    found = passive_subject(text, tokens, qa.passive, ANALYZER.term, starts)
    assert found is not None and found.text == "two warehouses and a bakery"
    assert (
        passive_subject(
            "The fire destroyed a barn.",
            words("The fire destroyed a barn."),
            qa.passive,
            ANALYZER.term,
            lambda _: 0,
        )
        is None
    )  # active: no subject


@pytest.mark.integration
def test_the_answer_counts_what_the_question_counts(tmp_path):
    """End to end with the real model: the count the question's verb describes, not the
    number nearest to its word."""
    from rag.documents import Article
    from rag.pipeline import Pipeline
    from rag.settings import Settings

    pipeline = Pipeline(Settings(index_dir=tmp_path / "index"))
    text = (
        "Drones struck the river port of Mykolaiv overnight, the regional governor said. "
        "Three dock workers were killed and eleven were injured when a warehouse caught fire. "
        "The port authority said a grain terminal and two cranes were damaged."
    )
    pipeline.ingest([Article(id="port", title="Port strike", text=text)])
    assert pipeline.ask("How many were killed in the port strike?").answer == "Three"
    assert pipeline.ask("How many were injured?").answer == "eleven"
    damaged = pipeline.ask("What was damaged?")
    assert damaged.answer == "a grain terminal and two cranes"
