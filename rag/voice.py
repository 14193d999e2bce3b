"""Which verb a number or a subject belongs to: "Five civilians were killed and twelve were
injured" answers "how many were killed" with five, and "what was damaged" with the subject of
"were damaged"."""

from __future__ import annotations

import re
from collections.abc import Callable

from rag.describe import CLAUSE
from rag.question import NOT_A_VERB, AnswerType
from rag.spans import Candidate
from rag.text import Token

Term = Callable[[str], str]

AUX = {"was", "were", "is", "are", "been", "be", "being"}
ADVERBS = {"also", "reportedly", "allegedly", "then", "later", "all", "both", "since", "now"}
# "at least five", "more than 20": words between an active verb and its number
QUANTIFIERS = {"at", "least", "about", "some", "more", "than", "nearly", "over", "up", "to"}
QUANTIFIERS |= {"around", "roughly", "almost", "approximately", "another", "a", "further"}
# verbs that report or total a number rather than say what happened to it
COUNTING = {"including", "included", "reported", "recorded", "counted", "totalled", "totaled"}
COUNTING |= {"numbering", "estimated", "confirmed", "said", "stated", "added", "listed"}
# ... or change it: "the toll increased to 38" says nothing of what happened to the 38
COUNTING |= {"increased", "climbed", "jumped", "dropped", "revised", "updated", "raised"}
COUNTING |= {"lowered", "decreased", "rising", "climbing", "increasing", "standing"}
CONJUNCTIONS = {"and", "or", "but", "while", "as", "when", "after", "before", "whereas"}
OTHER_VERB = 0.3  # a number that another verb of the same sentence claims
MAX_SUBJECT_WORDS = 12
PRONOUNS = {"it", "this", "that", "they", "these", "those", "he", "she", "there", "which", "who"}


def _joined(text: str, left: Token, right: Token) -> bool:
    """No clause punctuation between two tokens ("..., roughly 500" is not "submitted 500")."""
    return not re.search(r"[,;:()\[\]—–]", text[left.end : right.start])


def _verb_after(text: str, tokens: list[Token], i: int) -> Token | None:
    """The participle of "N (noun words) were (also) killed" or the verb of "N people died",
    for the number ending at token i."""
    for j in range(i + 1, min(i + 5, len(tokens))):
        low = tokens[j].text.lower()
        if low in CONJUNCTIONS or not _joined(text, tokens[j - 1], tokens[j]):
            return None  # "4 residents and rescuers evacuated": another clause's verb
        if low in AUX:
            k = j + 1
            while k < len(tokens) and tokens[k].text.lower() in ADVERBS | AUX:
                k += 1
            # "five police officers were among the 14 wounded": no verb of the five
            return (
                tokens[k] if k < len(tokens) and tokens[k].text.lower() not in NOT_A_VERB else None
            )
        if low.endswith("ed"):
            return tokens[j]
    return None


def _verb_before(text: str, tokens: list[Token], i: int) -> Token | None:
    """The verb of "the strike killed (at least) five", for the number starting at token i."""
    j = i - 1
    while (
        j >= 0 and tokens[j].text.lower() in QUANTIFIERS and _joined(text, tokens[j], tokens[j + 1])
    ):
        j -= 1
    if j < 0 or not _joined(text, tokens[j], tokens[j + 1]):
        return None
    low = tokens[j].text.lower()
    if low.endswith(("ed", "ing")) and low not in COUNTING:
        return tokens[j]
    return None


def count_fit(
    verb_term: str | None,
    text: str,
    tokens: list[Token],
    sentence_terms: set[str],
    cand: Candidate,
    term: Term,
) -> float:
    """1.0 unless the number belongs to another verb while the question's verb is in the
    same sentence ("how many were killed" against "twelve were injured" beside "five were
    killed"); then OTHER_VERB. Paraphrases ("injured" for "wounded") are left alone.

    >>> from rag.text import Analyzer, words
    >>> from rag.spans import quantity_candidates
    >>> t = "Five civilians were killed and twelve were injured, and the strike wounded 30 more."
    >>> a = Analyzer({})
    >>> [(c.text, count_fit(a.term("killed"), t, words(t), set(a.terms(t)), c, a.term))
    ...  for c in quantity_candidates(t)]
    [('Five', 1.0), ('twelve', 0.3), ('30', 0.3)]
    >>> t = "Officials reported 12 people killed and 30 injured."
    >>> [(c.text, count_fit(a.term("killed"), t, words(t), set(a.terms(t)), c, a.term))
    ...  for c in quantity_candidates(t)]
    [('12', 1.0), ('30', 0.3)]
    >>> t = "While many were killed or submitted, roughly 500 had fled."
    >>> [(c.text, count_fit(a.term("fled"), t, words(t), set(a.terms(t)), c, a.term))
    ...  for c in quantity_candidates(t)]
    [('roughly 500', 1.0)]
    """
    if verb_term is None or verb_term not in sentence_terms:
        return 1.0
    verb = governing_verb(text, tokens, cand)
    if verb is None or term(verb.text) == verb_term:
        return 1.0
    return OTHER_VERB


def governing_verb(text: str, tokens: list[Token], cand: Candidate) -> Token | None:
    """The verb a number belongs to: before it ("the strike killed five", "wounding 11"),
    else after it ("five were killed", "about 60 people wounded"); None when neither.

    >>> from rag.text import words
    >>> from rag.spans import quantity_candidates
    >>> t = "The toll climbed to 34, with about 60 people wounded."
    >>> [(c.text, getattr(governing_verb(t, words(t), c), "text", None))
    ...  for c in quantity_candidates(t)]
    [('34', None), ('about 60', 'wounded')]
    >>> t = "Five police officers were among the 14 people wounded."
    >>> [(c.text, getattr(governing_verb(t, words(t), c), "text", None))
    ...  for c in quantity_candidates(t)]
    [('Five', None), ('14', 'wounded')]
    """
    first = next((i for i, t in enumerate(tokens) if t.start >= cand.start), None)
    last = next((i for i in range(len(tokens) - 1, -1, -1) if tokens[i].end <= cand.end), None)
    if first is None or last is None:
        return None
    return _verb_before(text, tokens, first) or _verb_after(text, tokens, last)


def passive_subject(
    text: str, tokens: list[Token], verb_term: str, term: Term, clause_start: Callable[[int], int]
) -> Candidate | None:
    """For "what was damaged": the subject of "... were (also) damaged" in this sentence.

    `clause_start(i)` gives where the clause holding character i begins (after a reporting
    verb, "that", or clause punctuation).
    """
    for k, tok in enumerate(tokens):
        if k < 2 or term(tok.text) != verb_term:
            continue
        j = k - 1
        while j > 0 and tokens[j].text.lower() in ADVERBS:
            j -= 1
        if tokens[j].text.lower() not in AUX:
            continue
        while j > 0 and tokens[j - 1].text.lower() in AUX | {"has", "have", "had"}:
            j -= 1
        end = tokens[j].start
        start = clause_start(end)
        words_in = [t for t in tokens if start <= t.start < end]
        if not words_in or len(words_in) > MAX_SUBJECT_WORDS:
            continue
        if len(words_in) == 1 and words_in[0].text.lower() in PRONOUNS:
            continue  # "It was believed that ...": no subject to give
        start = words_in[0].start
        end = words_in[-1].end
        return Candidate(start, end, text[start:end], AnswerType.DESCRIPTION, 1.0, False)
    return None


def clause_starts(
    text: str, tokens: list[Token], reporting: Callable[[str], bool]
) -> Callable[[int], int]:
    """Where the clause holding a character begins: after clause punctuation, or after a
    reporting verb and its "that" ("Officials said (that) a school was hit").

    >>> from rag.text import words
    >>> t = "On Monday, officials said that a school and a clinic were hit."
    >>> start = clause_starts(t, words(t), lambda w: w == "said")(t.index("were"))
    >>> t[start:t.index("were")].strip()
    'a school and a clinic'
    """
    cuts = [m.end() for m in CLAUSE.finditer(text)]
    for i, tok in enumerate(tokens):
        if reporting(tok.text):
            after_that = i + 1 < len(tokens) and tokens[i + 1].text.lower() == "that"
            cuts.append(tokens[i + 1].end if after_that else tok.end)

    def start(position: int) -> int:
        return max([c for c in cuts if c <= position], default=0)

    return start
