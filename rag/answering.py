"""The extractive answerer: pick the best-supported sentence, copy a typed span, cite it, or abstain."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from rag.attribution import attribution
from rag.embedding import Embedder
from rag.lexicon import Lexicon
from rag.question import AnswerType, QuestionAnalysis, analyze_question
from rag.retrieval import Passage
from rag.sentences import Sentence, split_sentences
from rag.spans import Candidate, EntityTyper, learn_entity_kinds, typed_candidates
from rag.store import Snapshot
from rag.text import Analyzer, words

NO_ANSWER = "The sources do not say."
NEIGHBOUR_WEIGHT = 0.7  # a question term found in an adjacent sentence counts this much
PROPER_WEIGHT = 2.0  # names and places weigh more than common words
SENTENCES_READ = 8  # best sentences searched for a span
MAX_CITATIONS = 3
DESCRIPTION_MAX_WORDS = 25
# "how many X" vs the words after a number: cosine below the floor is no match, floor+span full.
FOCUS_SIM_FLOOR = 0.3
FOCUS_SIM_SPAN = 0.4
# A question word missing from the text may be paraphrased ("injured" ~ "wounded"): word
# embeddings above the floor earn up to SOFT_MAX of a match.
SOFT_SIM_FLOOR = 0.55
SOFT_SIM_SPAN = 0.2
SOFT_MAX = 0.8
WORD_CACHE_LIMIT = 100_000
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
FUNCTION_LEAD = re.compile(
    r"^(?:(?:that|to|was|were|is|are|be|been|by|of|as|for|with|on|in|it|has|have|had|being)\s+)+",
    re.I,
)


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ScoredSentence:
    passage: Passage
    sentence: Sentence
    score: float
    coverage: float
    similarity: float
    matched: frozenset[str]
    missing: float  # weighted share of question terms found nowhere near, not even paraphrased


@dataclass(frozen=True)
class Proposal:
    scored: ScoredSentence
    candidate: Candidate
    score: float
    confidence: float


class Answerer:
    """Rules over retrieved passages; the same code for any article and any question."""

    def __init__(
        self, embedder: Embedder, analyzer: Analyzer, lexicon: Lexicon, abstain_threshold: float
    ) -> None:
        self.embedder = embedder
        self.analyzer = analyzer
        self.lexicon = lexicon
        self.abstain_threshold = abstain_threshold
        self._word_vectors: dict[str, np.ndarray] = {}

    def word_vectors(self, items: list[str]) -> dict[str, np.ndarray]:
        """Embeddings of single words, cached for the life of the answerer."""
        missing = sorted({w for w in items if w not in self._word_vectors})
        if missing:
            if len(self._word_vectors) > WORD_CACHE_LIMIT:
                self._word_vectors.clear()
            for w, vec in zip(missing, self.embedder.encode(missing), strict=True):
                self._word_vectors[w] = vec
        return {w: self._word_vectors[w] for w in items}

    def _soft_credit(self, question_word: str, text_words: list[str]) -> float:
        if not text_words:
            return 0.0
        vecs = self.word_vectors([question_word.lower(), *text_words])
        q = vecs[question_word.lower()]
        best = max(float(q @ vecs[w]) for w in text_words)
        return SOFT_MAX * max(0.0, min(1.0, (best - SOFT_SIM_FLOOR) / SOFT_SIM_SPAN))

    def _content_words(self, text: str) -> list[str]:
        return sorted({t.text.lower() for t in words(text) if self.analyzer.term(t.text)})

    # ----- article-level caches (per snapshot) ---------------------------------------------
    def _sentences(self, snapshot: Snapshot, doc_id: str) -> list[Sentence]:
        cache = snapshot.extras.setdefault("sentences", {})
        if doc_id not in cache:
            article = snapshot.articles[doc_id]
            cache[doc_id] = [
                s for a, b in article.spans() for s in split_sentences(article.text[a:b], a)
            ]
        return cache[doc_id]

    def _typer(self, snapshot: Snapshot, doc_id: str) -> EntityTyper:
        cache = snapshot.extras.setdefault("typers", {})
        if doc_id not in cache:
            base = EntityTyper(self.lexicon)
            known = learn_entity_kinds([s.text for s in self._sentences(snapshot, doc_id)], base)
            cache[doc_id] = EntityTyper(self.lexicon, known)
        return cache[doc_id]

    def _terms(self, snapshot: Snapshot, doc_id: str, sentence: Sentence) -> frozenset[str]:
        cache = snapshot.extras.setdefault("sentence_terms", {})
        key = (doc_id, sentence.start)
        if key not in cache:
            cache[key] = frozenset(self.analyzer.terms(sentence.text))
        return cache[key]

    def _vectors(
        self, snapshot: Snapshot, keys: list[tuple[str, int]], texts: list[str]
    ) -> np.ndarray:
        cache: dict[tuple[str, int], np.ndarray] = snapshot.extras.setdefault(
            "sentence_vectors", {}
        )
        missing = [i for i, k in enumerate(keys) if k not in cache]
        if missing:
            encoded = self.embedder.encode([texts[i] for i in missing])
            for i, vec in zip(missing, encoded, strict=True):
                cache[keys[i]] = vec
        return np.stack([cache[k] for k in keys]) if keys else np.zeros((0, 1), np.float32)

    # ----- scoring ------------------------------------------------------------------------
    def score_sentences(
        self,
        qa: QuestionAnalysis,
        query_vector: np.ndarray,
        passages: list[Passage],
        snapshot: Snapshot,
    ) -> list[ScoredSentence]:
        weights = {t: PROPER_WEIGHT if t in qa.proper_terms else 1.0 for t in qa.terms}
        surface = dict(zip(qa.terms, qa.surfaces, strict=True))
        total = sum(weights.values())
        rows: list[tuple[Passage, Sentence, frozenset[str], float, float]] = []
        seen: set[tuple[str, int]] = set()
        for passage in passages:
            sents = self._sentences(snapshot, passage.doc_id)
            for idx, sent in enumerate(sents):
                if sent.end <= passage.start or sent.start >= passage.end:
                    continue
                if (passage.doc_id, sent.start) in seen:
                    continue
                seen.add((passage.doc_id, sent.start))
                own = self._terms(snapshot, passage.doc_id, sent)
                around: set[str] = set()
                for j in (idx - 1, idx + 1):
                    if 0 <= j < len(sents):
                        around |= self._terms(snapshot, passage.doc_id, sents[j])
                covered, missing = 0.0, 0.0
                for term, weight in weights.items():
                    if term in own:
                        covered += weight
                    elif term in around:
                        covered += NEIGHBOUR_WEIGHT * weight
                    elif term in qa.proper_terms:  # names match exactly (aliases aside)
                        missing += weight
                    else:
                        credit = self._soft_credit(surface[term], self._content_words(sent.text))
                        covered += credit * weight
                        missing += (1.0 - credit / SOFT_MAX) * weight
                coverage = covered / total if total else 0.0
                rows.append(
                    (passage, sent, own & set(weights), coverage, missing / total if total else 1.0)
                )
        if not rows:
            return []
        keys = [(p.doc_id, s.start) for p, s, *_ in rows]
        sims = self._vectors(snapshot, keys, [s.text for _, s, *_ in rows]) @ query_vector
        scored = [
            ScoredSentence(p, s, 0.5 * cov + 0.5 * max(float(sim), 0.0), cov, float(sim), m, miss)
            for (p, s, m, cov, miss), sim in zip(rows, sims, strict=True)
        ]
        return sorted(scored, key=lambda r: -r.score)

    def _focus_factor(self, qa: QuestionAnalysis, sentence: str, cand: Candidate) -> float:
        """For "how many X": does the number count X? 1.0 when X follows it, else similarity."""
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
        vecs = self.word_vectors([*qa.focus_terms, *nearby])
        similarity = max(float(vecs[f] @ vecs[w]) for f in qa.focus_terms for w in nearby)
        return max(0.0, min(1.0, (similarity - FOCUS_SIM_FLOOR) / FOCUS_SIM_SPAN))

    def _proximity(self, sentence: str, cand: Candidate, matched: frozenset[str]) -> float:
        positions = [t.start for t in words(sentence) if self.analyzer.term(t.text) in matched]
        if not positions:
            return 0.5
        distance = min(
            len(words(sentence[min(p, cand.start) : max(p, cand.start)])) for p in positions
        )
        return 1.0 / (1.0 + distance / 6.0)

    def _role_factor(self, wanted: AnswerType, sentence: str, cand: Candidate) -> float:
        """A place after "in"/"near" is a location: good for "where", poor for "who"."""
        before = sentence[: cand.start].split()
        located = bool(before) and before[-1].lower() in self.lexicon.place_prepositions
        if cand.kind is AnswerType.PLACE and wanted is AnswerType.PLACE:
            return 1.0 if located else 0.8
        if cand.kind is AnswerType.PLACE and located:
            return 0.25
        return 1.0

    def _describe(self, scored: ScoredSentence) -> Candidate | None:
        """A descriptive span: what follows the last question term, to the end of its clause."""
        text = scored.sentence.text
        toks = words(text)
        hits = [i for i, t in enumerate(toks) if self.analyzer.term(t.text) in scored.matched]
        if not hits:
            return None
        after = text[toks[hits[-1]].end :]
        clause = re.split(r"[,;:“”\"()]|\s[–—-]\s|\.$", after)[0]
        span = FUNCTION_LEAD.sub("", clause.strip())
        if len(span.split()) < 2:
            before = text[: toks[hits[0]].start]
            clause = re.split(r"[,;:]", before)[-1]
            span = FUNCTION_LEAD.sub("", clause.strip())
        span = " ".join(span.split()[:DESCRIPTION_MAX_WORDS]).rstrip(".,;: ")
        if len(span.split()) < 2:
            return None
        start = text.find(span)
        if start < 0:
            return None
        return Candidate(start, start + len(span), span, AnswerType.DESCRIPTION, None, False)

    def propose(
        self, qa: QuestionAnalysis, scored: list[ScoredSentence], snapshot: Snapshot
    ) -> list[Proposal]:
        proposals = []
        for row in scored[:SENTENCES_READ]:
            sentence = row.sentence.text
            if qa.answer_type is AnswerType.DESCRIPTION:
                described = self._describe(row)
                cands = [described] if described else []
            else:
                cands = typed_candidates(
                    sentence, qa.answer_type, self._typer(snapshot, row.passage.doc_id)
                )
            for cand in cands:
                cand_terms = set(self.analyzer.terms(cand.text))
                if cand_terms and cand_terms <= set(qa.terms):
                    continue  # the question's own words are not its answer
                kind = 1.0
                if qa.answer_type in KIND_MATCH:
                    kind = KIND_MATCH[qa.answer_type].get(cand.kind, 0.0)
                    kind *= 1.0 if cand.confident else 0.8
                    kind *= self._role_factor(qa.answer_type, sentence, cand)
                if qa.answer_type is AnswerType.DESCRIPTION:
                    kind = 0.8
                focus = 1.0
                if qa.answer_type is AnswerType.COUNT:
                    focus = self._focus_factor(qa, sentence, cand)
                prox = self._proximity(sentence, cand, row.matched)
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
        scored = self.score_sentences(qa, query_vector, passages[:answer_passages], snapshot)
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
            normalized=_normalized(cand),
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
    )
    return 1.0 / (1.0 + math.exp(-z))


def _normalized(cand: Candidate) -> float | int | str | None:
    if isinstance(cand.value, float) and cand.value.is_integer():
        return int(cand.value)
    return cand.value


def _citation(row: ScoredSentence, cand: Candidate) -> Citation:
    p, s = row.passage, row.sentence
    return Citation(
        doc_id=p.doc_id,
        title=p.title,
        source=p.source,
        url=p.url,
        published_at=p.published_at,
        quote=s.text,
        start=s.start,
        end=s.end,
        score=round(row.score, 4),
        answer_start=s.start + cand.start,
        answer_end=s.start + cand.end,
    )
