"""Answer metrics against hand-computed cases and SQuAD's own evaluation code."""

import collections
import random
import re
import string

import pytest

from rag.metrics import (
    best_score,
    canonical_numbers,
    exact_match,
    normalize_answer,
    number_match,
    token_f1,
)


# ----- the official SQuAD v2.0 evaluation functions, verbatim in substance (reference) --------
def squad_normalize(s):
    def remove_articles(text):
        return re.sub(re.compile(r"\b(a|an|the)\b", re.UNICODE), " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    return white_space_fix(remove_articles(remove_punc(s.lower())))


def squad_f1(a_gold, a_pred):
    gold_toks = squad_normalize(a_gold).split() if a_gold else []
    pred_toks = squad_normalize(a_pred).split() if a_pred else []
    common = collections.Counter(gold_toks) & collections.Counter(pred_toks)
    num_same = sum(common.values())
    if len(gold_toks) == 0 or len(pred_toks) == 0:
        return int(gold_toks == pred_toks)
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(pred_toks)
    recall = 1.0 * num_same / len(gold_toks)
    return (2 * precision * recall) / (precision + recall)


def test_agrees_with_the_squad_script_on_random_ascii_answers():
    rng = random.Random(7)
    vocab = [
        "the",
        "a",
        "an",
        "The",
        "Denver",
        "Broncos",
        "broncos,",
        "3,000",
        "U.S.",
        "of",
        "(",
        "!",
        "x",
    ]
    for _ in range(500):
        pred = " ".join(rng.choices(vocab, k=rng.randint(0, 6)))
        gold = " ".join(rng.choices(vocab, k=rng.randint(1, 6)))
        assert normalize_answer(pred) == squad_normalize(pred)
        assert exact_match(pred, gold) == float(squad_normalize(pred) == squad_normalize(gold))
        assert token_f1(pred, gold) == pytest.approx(squad_f1(gold, pred))


# ----- normalization ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("The Denver Broncos", "denver broncos"),
        ("an apple, a pear and the  plum.", "apple pear and plum"),
        ("Theatre", "theatre"),  # articles are whole words only
        ("U.S.", "us"),
        ("“Easter truce”", "easter truce"),  # curly quotes go too (news copy uses them)
        ("Kyiv – Odesa", "kyiv odesa"),
        ("3,000", "3000"),
        ("", ""),
        (None, ""),
    ],
)
def test_normalize_answer(text, normalized):
    assert normalize_answer(text) == normalized


# ----- exact match and F1, hand-computed --------------------------------------------------------
def test_exact_match_ignores_case_articles_and_punctuation():
    assert exact_match("the Eiffel Tower.", "Eiffel tower") == 1.0
    assert exact_match("Eiffel", "Eiffel Tower") == 0.0


def test_f1_partial_overlap():
    # pred [cat, sat, on, mat], gold [cat, on, mat]: P = 3/4, R = 1, F1 = 6/7
    assert token_f1("The cat sat on the mat", "cat on mat") == pytest.approx(6 / 7)


def test_f1_counts_repeated_tokens_once_each():
    # pred [x, x, y], gold [x, y, y]: common x1 y1 = 2, P = R = 2/3
    assert token_f1("x x y", "x y y") == pytest.approx(2 / 3)


def test_f1_no_overlap_is_zero():
    assert token_f1("Paris", "London") == 0.0


def test_several_gold_answers_take_the_best():
    golds = ["Denver Broncos", "The Denver Broncos", "Broncos"]
    assert best_score("the denver broncos", golds, exact_match) == 1.0
    # vs "Denver Broncos": P = 2/3, R = 1 -> 0.8; vs "Broncos": P = 1/3, R = 1 -> 0.5
    assert best_score("Broncos of Denver", golds, token_f1) == pytest.approx(0.8)
    assert best_score("Broncos of Denver", golds, exact_match) == 0.0


# ----- SQuAD 2.0: unanswerable questions ---------------------------------------------------
@pytest.mark.parametrize("metric", [exact_match, token_f1, number_match])
@pytest.mark.parametrize(
    ("prediction", "score"), [(None, 1.0), ("", 1.0), ("the.", 1.0), ("Paris", 0.0)]
)
def test_unanswerable_scores_only_an_empty_prediction(metric, prediction, score):
    assert best_score(prediction, [], metric) == score


@pytest.mark.parametrize("metric", [exact_match, token_f1, number_match])
def test_abstaining_on_an_answerable_question_scores_zero(metric):
    assert best_score(None, ["Paris"], metric) == 0.0


# ----- number-aware match --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("prediction", "gold", "score"),
    [
        ("three", "3", 1.0),
        ("3", "three", 1.0),
        ("3,000", "3000", 1.0),
        ("nearly 3,000", "3,000", 1.0),  # a qualifier does not change the value
        ("three individuals", "3 individuals", 1.0),
        ("1.5 million", "1,500,000", 1.0),
        ("twenty-five", "25", 1.0),
        ("two", "3", 0.0),
        ("3 tanks", "3 drones", 0.0),
        ("dozens", "12", 0.0),  # vague amounts have no value
        ("Odessa", "Odesa", 0.0),  # not numbers: plain exact match
    ],
)
def test_number_match(prediction, gold, score):
    assert number_match(prediction, gold) == score


def test_exact_match_alone_does_not_read_numbers():
    assert exact_match("three", "3") == 0.0
    assert best_score("three", ["3"], number_match) == 1.0


def test_canonical_numbers_keeps_years():
    assert canonical_numbers("Since February 2022, three") == "since february 2022 3"
