"""The extractive answerer: pick the best-supported sentence, copy a typed span, cite it, or abstain."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from rag.attribution import attribution
from rag.clauses import after_preposition, predicate, speech_complements
from rag.describe import describe, modified_noun
from rag.embedding import Embedder
from rag.evidence import EvidenceScorer, ScoredSentence
from rag.lexicon import Lexicon
from rag.question import AnswerType, QuestionAnalysis, analyze_question
from rag.retrieval import Passage
from rag.sentences import Sentence
from rag.slots import date_fit
from rag.spans import Candidate, typed_candidates
from rag.store import Snapshot
from rag.text import Analyzer, words
from rag.voice import clause_starts, count_fit, passive_subject

NO_ANSWER = "The sources do not say."
SENTENCES_READ = 8  # best sentences searched for a span
MAX_CITATIONS = 3
# "how many X" vs the words after a number: cosine below the floor is no match, floor+span full.
FOCUS_SIM_FLOOR = 0.3
FOCUS_SIM_SPAN = 0.4
CURRENCY = re.compile(
    r"[$€£₴₽¥]|\b(?:dollars?|euros?|pounds?|rubles?|roubles?|hryvnias?|hryvnia|yuan|yen|usd|eur)\b",
    re.IGNORECASE,
)
CARRIED = 0.85  # a name taken from the sentence before the best-supported one
CITY_NOUNS = {"city", "town", "village", "capital", "port", "settlement"}
KIND_MATCH: dict[AnswerType, dict[AnswerType, float]] = {
    # Countries and institutions act in the news ("Russia accused ..."): a "who" may be one.
    AnswerType.PERSON: {
        AnswerType.PERSON: 1.0,
        AnswerType.ORGANIZATION: 0.85,
        AnswerType.PLACE: 0.8,
    },
    AnswerType.ORGANIZATION: {
        AnswerType.ORGANIZATION: 1.0,
        AnswerType.PERSON: 0.5,
        AnswerType.PLACE: 0.5,
    },
    AnswerType.PLACE: {AnswerType.PLACE: 1.0, AnswerType.ORGANIZATION: 0.3, AnswerType.PERSON: 0.3},
}
ENTITY_TYPES = set(KIND_MATCH)


@dataclass(frozen=True)
class Citation:
    doc_id: str
    title: str
    source: str | None
    url: str | None
    published_at: str | None
    quote: str  # the supporting sentence, verbatim: article.text[start:end]
    start: int
    end: int
    score: float
    answer_start: int | None = None  # the answer's characters in the article
    answer_end: int | None = None

    @classmethod
    def of(
        cls, passage: Passage, sentence: Sentence, score: float, answer: tuple[int, int]
    ) -> Citation:
        """The citation of an answer at `answer` (article offsets) in this sentence."""
        return cls(
            doc_id=passage.doc_id,
            title=passage.title,
            source=passage.source,
            url=passage.url,
            published_at=passage.published_at,
            quote=sentence.text,
            start=sentence.start,
            end=sentence.end,
            score=round(score, 4),
            answer_start=answer[0],
            answer_end=answer[1],
        )


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str | None
    answer_type: str
    normalized: float | int | str | None
    confidence: float
    abstained: bool
    attribution: str | None
    sentence: str | None
    message: str | None
    citations: list[Citation] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    # What several articles say (rag/reports.py); the rule answerer leaves these empty.
    reports: list[Any] = field(default_factory=list)
    agreement: str | None = None  # single | consistent | updated | disputed
    as_of: str | None = None  # the date of the chosen report
    independent_sources: int | None = None  # outlets behind the chosen figure

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Proposal:
    scored: ScoredSentence
    candidate: Candidate
    score: float
    confidence: float


class Answerer:
    """Rules over retrieved passages; the same code for any article and any question."""

    @property
    def threshold(self) -> float:
        return self.abstain_threshold

    def __init__(
        self, embedder: Embedder, analyzer: Analyzer, lexicon: Lexicon, abstain_threshold: float
    ) -> None:
        self.embedder = embedder
        self.analyzer = analyzer
        self.lexicon = lexicon
        self.abstain_threshold = abstain_threshold
        self.name = "rules"
        self.evidence = EvidenceScorer(embedder, analyzer, lexicon)
        self._reporting_terms = {analyzer.term(v) for v in lexicon.reporting_verbs} - {""}

    # ----- factors ------------------------------------------------------------------------
    def _focus_factor(self, qa: QuestionAnalysis, sentence: str, cand: Candidate) -> float:
        """For "how many X": does the number count X? For "how much did it cost": is it money?"""
        if qa.wants_money:
            around = sentence[max(0, cand.start - 2) : cand.end + 25]
            return (
                1.0
                if CURRENCY.search(cand.text)
                or CURRENCY.match(around[len(cand.text) :].strip())
                or CURRENCY.search(around[:3])
                else 0.0
            )
        if not qa.focus_terms:
            return 1.0
        following = words(sentence[cand.end :])[:4]
        following_terms = [self.analyzer.term(t.text) for t in following]
        if any(t in qa.focus_terms for t in following_terms):
            return 1.0
        nearby = [
            t.text.lower() for t, term in zip(following, following_terms, strict=True) if term
        ]
        if not nearby:
            return 0.0
        vecs = self.evidence.word_vectors([*qa.focus_terms, *nearby])
        similarity = max(float(vecs[f] @ vecs[w]) for f in qa.focus_terms for w in nearby)
        return max(0.0, min(1.0, (similarity - FOCUS_SIM_FLOOR) / FOCUS_SIM_SPAN))

    def _proximity(self, sentence: str, cand: Candidate, row: ScoredSentence) -> float:
        """Mean closeness of the candidate to each matched question word (nearest occurrence)."""
        if not row.hits:
            return 0.5
        nearest: dict[str, int] = {}
        for hit in row.hits:
            lo, hi = sorted((hit.start, cand.start))
            if cand.start <= hit.start < cand.end:
                continue
            distance = len(words(sentence[lo:hi])) - (1 if hit.start < cand.start else 0)
            key = self.analyzer.term(hit.text) or hit.text.lower()
            nearest[key] = min(nearest.get(key, 10_000), max(distance, 0))
        if not nearest:
            return 0.5
        return float(np.mean([1.0 / (1.0 + d / 6.0) for d in nearest.values()]))

    def _role_factor(self, qa: QuestionAnalysis, sentence: str, cand: Candidate) -> float:
        """A place after "in"/"near" is a location: good for "where", poor for "who"; a
        "which city" is not answered by a country."""
        if qa.owned:  # "whose spokesperson": the name right before "'s spokesperson"
            owner = re.match(rf"['’]s\s+{re.escape(qa.owned)}", sentence[cand.end :], re.I)
            return 1.0 if owner else 0.5
        before = sentence[: cand.start].split()
        located = bool(before) and before[-1].lower() in self.lexicon.place_prepositions
        if cand.kind is AnswerType.PLACE and qa.answer_type is AnswerType.PLACE:
            if CITY_NOUNS & set(qa.wh) and cand.text.lower().strip(".") in self.lexicon.countries:
                return 0.2
            return 1.0 if located else 0.8
        if cand.kind is AnswerType.PLACE and located:
            return 0.25
        return 1.0

    def _descriptions(self, qa: QuestionAnalysis, row: ScoredSentence) -> list[Candidate]:
        text, tokens, hits = row.sentence.text, words(row.sentence.text), list(row.hits)
        if qa.passive:  # "what was damaged": the subject of "... were damaged"
            starts = clause_starts(text, tokens, self._is_reporting)
            found = passive_subject(text, tokens, qa.passive, self.analyzer.term, starts)
            if found is not None:
                return [found]
        fallback = 0.5 if qa.passive else 1.0  # a sentence without "were damaged" is a guess
        if qa.wh:
            noun = self.analyzer.term(qa.wh[0])
            found = modified_noun(text, tokens, noun, self.analyzer.term) if noun else None
            if found is not None:
                return [found]
        if qa.happened and hits:  # "what happened to X": X's predicate
            found = predicate(text, hits[-1].end)
            if found is not None:
                return [found]
        out: list[Candidate] = []
        if qa.verb and qa.verb in self._reporting_terms:  # "what did X say": the said clause
            out += [
                self._on_topic(qa, c) for c in speech_complements(text, tokens, self._is_reporting)
            ]
        verb_hits = frozenset(h.start for h in hits if self.analyzer.term(h.text) == qa.verb)
        out += describe(text, hits, set(qa.terms), self.analyzer.term, verb_hits)
        if qa.stranded:
            out = [after_preposition(text, c, qa.stranded) for c in out]
        if fallback < 1.0:
            out = [replace(c, value=fallback * _weight(c)) for c in out]
        return out

    def _on_topic(self, qa: QuestionAnalysis, cand: Candidate) -> Candidate:
        """ "What did X say about Y": a statement that does not mention Y is less likely it."""
        topic = set(qa.terms[qa.terms.index(qa.verb) + 1 :]) if qa.verb in qa.terms else set()
        if not topic:
            return cand
        share = len(topic & set(self.analyzer.terms(cand.text))) / len(topic)
        return replace(cand, value=0.5 + 0.5 * share)

    def _is_reporting(self, word: str) -> bool:
        return word.lower() in self.lexicon.reporting_verbs

    def _candidates(
        self, qa: QuestionAnalysis, row: ScoredSentence, snapshot: Snapshot
    ) -> list[tuple[ScoredSentence, Candidate, bool]]:
        """Candidates of a sentence; for a place, the sentence just before may set the scene
        ("... in Odessa, where drones struck. Three were wounded.")."""
        if qa.answer_type is AnswerType.DESCRIPTION:
            return [(row, c, False) for c in self._descriptions(qa, row)]
        typer = self.evidence.typer(snapshot, row.passage.doc_id)
        own = typed_candidates(row.sentence.text, qa.answer_type, typer)
        if qa.answer_type is not AnswerType.PLACE or any(c.kind is qa.answer_type for c in own):
            return [(row, c, False) for c in own]
        sents = self.evidence.sentences(snapshot, row.passage.doc_id)
        index = next((i for i, x in enumerate(sents) if x.start == row.sentence.start), 0)
        out = [(row, c, False) for c in own]
        if index > 0:
            prev = replace(row, sentence=sents[index - 1], hits=())
            for cand in typed_candidates(prev.sentence.text, qa.answer_type, typer):
                if cand.kind is qa.answer_type:
                    out.append((prev, cand, True))
        return out

    def propose(
        self, qa: QuestionAnalysis, scored: list[ScoredSentence], snapshot: Snapshot
    ) -> list[Proposal]:
        proposals = []
        for best_row in scored[:SENTENCES_READ]:
            for row, cand, carried in self._candidates(qa, best_row, snapshot):
                sentence = row.sentence.text
                cand_terms = set(self.analyzer.terms(cand.text))
                if cand_terms and cand_terms <= set(qa.terms):
                    continue  # the question's own words are not its answer
                if qa.answer_type in ENTITY_TYPES and cand_terms & qa.proper_terms:
                    continue  # nor is a name the question already gives
                kind = 1.0
                if qa.answer_type in KIND_MATCH:
                    kind = KIND_MATCH[qa.answer_type].get(cand.kind, 0.0)
                    kind *= 1.0 if cand.confident else 0.8
                    kind *= self._role_factor(qa, sentence, cand)
                    kind *= CARRIED if carried else 1.0
                if qa.answer_type is AnswerType.DATE:
                    kind = date_fit(qa, sentence, cand)
                if qa.answer_type is AnswerType.COUNT:  # "twelve were injured" is not "killed"
                    kind *= count_fit(
                        qa.passive,
                        sentence,
                        words(sentence),
                        set(self.analyzer.terms(sentence)),
                        cand,
                        self.analyzer.term,
                    )
                if qa.answer_type is AnswerType.DESCRIPTION:
                    kind = 0.8 * (cand.value if isinstance(cand.value, float) else 1.0)
                focus = 1.0
                if qa.answer_type is AnswerType.COUNT:
                    focus = self._focus_factor(qa, sentence, cand)
                prox = self._proximity(sentence, cand, row)
                score = row.score * (0.4 + 0.6 * prox) * kind * focus
                confidence = _confidence(row, kind, focus, prox)
                proposals.append(Proposal(row, cand, score, confidence))
        return sorted(proposals, key=lambda p: -p.score)

    # ----- the whole answer ---------------------------------------------------------------
    def answer(
        self,
        question: str,
        passages: list[Passage],
        snapshot: Snapshot,
        query_vector: np.ndarray,
        answer_passages: int,
    ) -> Answer:
        qa = analyze_question(question, self.analyzer)
        scored = self.evidence.score(
            qa, query_vector, passages[:answer_passages], snapshot, exact_top=SENTENCES_READ
        )
        proposals = self.propose(qa, scored, snapshot)
        if not proposals or proposals[0].confidence < self.abstain_threshold:
            confidence = 1.0 - proposals[0].confidence if proposals else 1.0
            return Answer(
                question,
                None,
                qa.answer_type.value,
                None,
                round(confidence, 4),
                True,
                None,
                None,
                NO_ANSWER,
                [],
                passages,
            )
        best = proposals[0]
        cand, row = best.candidate, best.scored
        citations = [_citation(row, cand)]
        for other in proposals[1:]:
            if len(citations) >= MAX_CITATIONS:
                break
            same = other.candidate.text.casefold() == cand.text.casefold()
            if same and all(
                c.start != other.scored.sentence.start or c.doc_id != other.scored.passage.doc_id
                for c in citations
            ):
                citations.append(_citation(other.scored, other.candidate))
        return Answer(
            question=question,
            answer=cand.text,
            answer_type=qa.answer_type.value,
            normalized=_normalized(cand)
            if qa.answer_type in (AnswerType.COUNT, AnswerType.DATE)
            else None,
            confidence=round(best.confidence, 4),
            abstained=False,
            attribution=attribution(row.sentence.text, cand.start, self.lexicon),
            sentence=row.sentence.text,
            message=None,
            citations=citations,
            passages=passages,
        )


def _confidence(row: ScoredSentence, kind: float, focus: float, prox: float) -> float:
    """A [0, 1] score that grows with every piece of evidence for the answer, and falls with
    every question word the text does not contain (a claim about something else)."""
    z = (
        -6.0
        + 6.0 * row.coverage
        + 3.0 * max(row.similarity, 0.0)
        + 1.5 * kind
        + 2.5 * focus
        + 0.5 * prox
        - 5.0 * row.missing
        - 2.5 * row.name_missing
        - 3.0 * (row.direct < 0.05)
    )
    return 1.0 / (1.0 + math.exp(-z))


def _normalized(cand: Candidate) -> float | int | str | None:
    if isinstance(cand.value, float) and cand.value.is_integer():
        return int(cand.value)
    return cand.value


def _citation(row: ScoredSentence, cand: Candidate) -> Citation:
    s = row.sentence
    return Citation.of(row.passage, s, row.score, (s.start + cand.start, s.start + cand.end))


def _weight(cand: Candidate) -> float:
    return cand.value if isinstance(cand.value, float) else 1.0
