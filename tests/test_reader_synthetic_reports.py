"""The reader's synthetic updates and named-source figures: reproducible, well-formed, correct."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from rag.quantities import find_quantities
from rag.reader.synthetic import MAX_WORDS, MIN_WORDS, kind_of
from rag.reader.synthetic_reports import KINDS, SOURCE, generate

N = 400


@pytest.fixture(scope="module")
def examples():
    return generate(N, seed=5)


def test_same_seed_same_output_and_another_seed_other_text(examples) -> None:
    assert generate(N, seed=5) == examples
    other = {e.context for e in generate(N, seed=6)}
    assert len(other & {e.context for e in examples}) < N // 20


def test_answers_at_their_offsets_and_paragraph_shape(examples) -> None:
    assert len({e.id for e in examples}) == N and {e.source for e in examples} == {SOURCE}
    for e in examples:
        assert MIN_WORDS <= len(e.context.split()) <= MAX_WORDS
        if e.answers:
            answer = e.answers[0]
            assert e.context[e.answer_start : e.answer_end] == answer
            assert len(find_quantities(answer)) == 1, answer  # a figure, without its noun
        else:
            assert e.answer_start == -1


def test_every_kind_appears_near_its_weight(examples) -> None:
    counts = Counter(kind_of(e) for e in examples)
    for kind, weight in KINDS:
        assert abs(counts[kind] / N - weight) < 0.08, (kind, counts)


def test_an_update_is_answered_by_the_newer_figure_unless_the_earlier_is_asked(examples) -> None:
    updates = [e for e in examples if kind_of(e).startswith("update")]
    assert updates
    for e in updates:
        figures = [q.text for q in find_quantities(e.context) if q.value is not None]
        assert e.answers[0] in e.context
        asks_earlier = bool(re.search(r"\b(?:initially|first|earlier)\b", e.question))
        assert asks_earlier == (kind_of(e) == "update_earlier")
        assert len(figures) >= 2


def test_a_source_question_names_a_source_of_the_paragraph_and_takes_its_figure(examples) -> None:
    sourced = [e for e in examples if kind_of(e) == "source"]
    assert sourced
    for e in sourced:
        sentence_start = max(e.context.rfind(". ", 0, e.answer_start), 0)
        sentence = e.context[sentence_start : e.context.find(".", e.answer_end) + 1]
        figures = {q.value for q in find_quantities(sentence) if q.value is not None}
        assert len(figures) >= 1
    # the same paragraph asked of two different sources gives two different answers
    two = [e for e in sourced if len({q.value for q in find_quantities(e.context)}) > 2]
    assert len(two) > len(sourced) // 2


def test_an_absent_source_is_unanswerable(examples) -> None:
    absent = [e for e in examples if kind_of(e) == "unanswerable_source"]
    assert absent
    for e in absent:
        assert e.answers == () and e.answer_start == -1
        named = re.search(
            r"(?:according to|does|did|is) (.+?)(?:'s count| say| give| report|,|\?)",
            e.question,
            re.I,
        )
        assert named, e.question
        assert named.group(1).lower().removeprefix("the ") not in e.context.lower()
