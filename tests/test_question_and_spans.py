import pytest

from rag.attribution import attribution
from rag.lexicon import load_lexicon
from rag.question import AnswerType, analyze_question, answer_type_of
from rag.settings import DEFAULT_ALIASES
from rag.spans import EntityTyper, date_candidates, quantity_candidates, typed_candidates
from rag.text import Analyzer, load_aliases


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("how many were wounded in Odessa?", AnswerType.COUNT),
        ("How much aid did the EU pledge?", AnswerType.COUNT),
        ("What number of drones were shot down?", AnswerType.COUNT),
        ("Who alleged ceasefire violations?", AnswerType.PERSON),
        ("Which official confirmed the casualties?", AnswerType.PERSON),
        ("Which organization monitors the plant?", AnswerType.ORGANIZATION),
        ("Where will the talks take place?", AnswerType.PLACE),
        ("In which city were drones launched?", AnswerType.PLACE),
        ("When did the invasion begin?", AnswerType.DATE),
        ("What year did the war start?", AnswerType.DATE),
        ("What did Peskov say the comments highlighted?", AnswerType.DESCRIPTION),
        ("Why were talks absent?", AnswerType.DESCRIPTION),
    ],
)
def test_answer_type(question, kind):
    assert answer_type_of(question) is kind


def test_aliases_make_spellings_meet():
    analyzer = Analyzer(load_aliases(DEFAULT_ALIASES))
    assert analyzer.terms("Odessa Kiev Kharkov Zelensky") == analyzer.terms(
        "Odesa Kyiv Kharkiv Zelenskyy"
    )


def test_count_question_focus_noun():
    analyzer = Analyzer(load_aliases(DEFAULT_ALIASES))
    qa = analyze_question("How many tanks did Russia lose in Odessa?", analyzer)
    assert qa.focus_terms == ("tank",)
    assert "odesa" in qa.terms and "odesa" in qa.proper_terms
    assert analyze_question("how many were wounded?", analyzer).focus_terms == ()


def test_typed_spans():
    sentence = "On 24 February 2022, President Vladimir Putin ordered 190,000 troops into Ukraine."
    assert [c.text for c in quantity_candidates(sentence)] == ["190,000"]
    assert [(c.text, c.value) for c in date_candidates(sentence)] == [
        ("24 February 2022", "2022-02-24")
    ]
    typer = EntityTyper(load_lexicon())
    kinds = {c.text: c.kind for c in typed_candidates(sentence, AnswerType.PERSON, typer)}
    assert kinds == {"Vladimir Putin": AnswerType.PERSON, "Ukraine": AnswerType.PLACE}


def test_organizations_and_places_are_told_apart():
    typer = EntityTyper(load_lexicon())
    sentence = "The Ministry of Defence said drones struck a depot near Kramatorsk on Monday."
    kinds = {c.text: c.kind for c in typer.candidates(sentence)}
    assert kinds["Ministry of Defence"] is AnswerType.ORGANIZATION
    assert kinds["Kramatorsk"] is AnswerType.PLACE


@pytest.mark.parametrize(
    ("sentence", "answer", "speaker"),
    [
        (
            "Local officials confirmed that three individuals were wounded.",
            "three",
            "Local officials",
        ),
        ("Two soldiers died, the governor said.", "Two", "governor"),
        ("According to the UN, 500 civilians fled.", "500", "the UN"),
        ("Three bridges were destroyed in the attack.", "Three", None),
        ("Hostilities were reported in the port city of Odessa.", "Odessa", None),
    ],
)
def test_attribution(sentence, answer, speaker):
    assert attribution(sentence, sentence.index(answer), load_lexicon()) == speaker
