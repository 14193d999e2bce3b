"""Evidence for an answer: which sentences of the retrieved passages carry the question's
words (exactly, as aliases, or paraphrased) and its meaning."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rag.embedding import Embedder
from rag.lexicon import Lexicon
from rag.lru import Lru
from rag.question import QuestionAnalysis
from rag.retrieval import Passage
from rag.sentences import Sentence, article_sentences
from rag.spans import EntityTyper, learn_entity_kinds
from rag.store import Snapshot
from rag.text import Analyzer, Token, words

NEIGHBOUR_WEIGHT = 0.7  # a question term found in an adjacent sentence counts this much
PROPER_WEIGHT = 2.0  # names and places weigh more than common words
# A question word missing from the text may be paraphrased ("injured" ~ "wounded"): word
# embeddings above the floor earn up to SOFT_MAX of a match.
SOFT_SIM_FLOOR = 0.55
SOFT_SIM_SPAN = 0.2
SOFT_MAX = 0.8
WORD_CACHE_LIMIT = 100_000
# Per-snapshot caches of what the answerer derives from articles (sentences, their terms,
# vectors and entity kinds), bounded so a long-running server's memory stays flat.
ARTICLE_CACHE_LIMIT = 2_000  # articles
SENTENCE_CACHE_LIMIT = 50_000  # sentences (vectors: 1.5 KB each at 384 dimensions)


def _cache(snapshot: Snapshot, name: str, limit: int) -> Lru[Any, Any]:
    cache = snapshot.extras.get(name)
    if cache is None:
        cache = snapshot.extras.setdefault(name, Lru(limit))
    return cache


@dataclass(frozen=True)
class ScoredSentence:
    passage: Passage
    sentence: Sentence
    score: float
    coverage: float  # weighted share of question terms found here or next door (0..1)
    direct: float  # weighted share found in this very sentence (exactly or paraphrased)
    similarity: float  # cosine of sentence and question
    matched: frozenset[str]  # question terms found in this sentence
    hits: tuple[Token, ...]  # the words of this sentence that match question terms
    missing: float  # weighted share of question terms found nowhere near, not even paraphrased
    name_missing: bool  # a name of the question is absent, or belongs to another sentence's actor


class EvidenceScorer:
    """Scores sentences against a question; caches per snapshot and per word."""

    def __init__(self, embedder: Embedder, analyzer: Analyzer, lexicon: Lexicon) -> None:
        self.embedder = embedder
        self.analyzer = analyzer
        self.lexicon = lexicon
        self._word_vectors: Lru[str, np.ndarray] = Lru(WORD_CACHE_LIMIT)

    # ----- caches --------------------------------------------------------------------------
    def word_vectors(self, items: list[str]) -> dict[str, np.ndarray]:
        """Embeddings of single words, cached for the life of the scorer."""
        found = {w: v for w in set(items) if (v := self._word_vectors.get(w)) is not None}
        missing = sorted(set(items) - found.keys())
        for w, vec in zip(missing, self.embedder.encode_reading(missing), strict=True):
            found[w] = self._word_vectors.put(w, vec)
        return found

    def sentences(self, snapshot: Snapshot, doc_id: str) -> list[Sentence]:
        return _cache(snapshot, "sentences", ARTICLE_CACHE_LIMIT).get_or(
            doc_id, lambda: article_sentences(snapshot.articles[doc_id])
        )

    def typer(self, snapshot: Snapshot, doc_id: str) -> EntityTyper:
        def learn() -> EntityTyper:
            base = EntityTyper(self.lexicon)
            known = learn_entity_kinds([s.text for s in self.sentences(snapshot, doc_id)], base)
            return EntityTyper(self.lexicon, known)

        return _cache(snapshot, "typers", ARTICLE_CACHE_LIMIT).get_or(doc_id, learn)

    def _terms(self, snapshot: Snapshot, doc_id: str, sentence: Sentence) -> frozenset[str]:
        return _cache(snapshot, "sentence_terms", SENTENCE_CACHE_LIMIT).get_or(
            (doc_id, sentence.start), lambda: frozenset(self.analyzer.terms(sentence.text))
        )

    def _words(self, snapshot: Snapshot, doc_id: str, sentence: Sentence) -> tuple[Token, ...]:
        return _cache(snapshot, "sentence_words", SENTENCE_CACHE_LIMIT).get_or(
            (doc_id, sentence.start), lambda: tuple(words(sentence.text))
        )

    def _actors(self, snapshot: Snapshot, doc_id: str, sentence: str) -> list[tuple[Any, str]]:
        """(kind, text) of the names and places a sentence holds, per the article's typer."""
        return _cache(snapshot, "sentence_actors", SENTENCE_CACHE_LIMIT).get_or(
            (doc_id, sentence),
            lambda: [(c.kind, c.text) for c in self.typer(snapshot, doc_id).candidates(sentence)],
        )

    def _sentence_vectors(self, snapshot: Snapshot, rows: list[_Row]) -> np.ndarray:
        """The rows' sentence vectors: stored with the snapshot when its reading encoder is
        this one (rag/sentence_vectors.py), else encoded now and cached."""
        out: list[np.ndarray | None] = [None] * len(rows)
        stored = snapshot.sentences
        if stored is not None and stored.usable_by(self.embedder.reading_id):
            for i, r in enumerate(rows):
                doc = stored.of(r.passage.doc_id, len(self.sentences(snapshot, r.passage.doc_id)))
                if doc is not None:
                    out[i] = doc[r.index]
        missing = [i for i, v in enumerate(out) if v is None]
        if missing:
            cache = _cache(snapshot, "sentence_vectors", SENTENCE_CACHE_LIMIT)
            keys = [(rows[i].passage.doc_id, rows[i].sentence.start) for i in missing]
            found = {k: v for k in keys if (v := cache.get(k)) is not None}
            todo = {
                k: rows[i].sentence.text
                for i, k in zip(missing, keys, strict=True)
                if k not in found
            }
            if todo:
                encoded = self.embedder.encode_reading(list(todo.values()))
                for key, vec in zip(todo, encoded, strict=True):
                    found[key] = cache.put(key, vec)
            for i, key in zip(missing, keys, strict=True):
                out[i] = found[key]
        return np.stack(out).astype(np.float32, copy=False)

    # ----- matching -------------------------------------------------------------------------
    def soft_match(self, question_word: str, tokens: list[Token]) -> tuple[float, Token | None]:
        """Credit (0..SOFT_MAX) of the sentence word closest in meaning, and that word."""
        content = [t for t in tokens if self.analyzer.term(t.text)]
        if not content:
            return 0.0, None
        vecs = self.word_vectors([question_word.lower(), *(t.text.lower() for t in content)])
        q = vecs[question_word.lower()]
        sims = [float(q @ vecs[t.text.lower()]) for t in content]
        best = int(np.argmax(sims))
        credit = SOFT_MAX * max(0.0, min(1.0, (sims[best] - SOFT_SIM_FLOOR) / SOFT_SIM_SPAN))
        return credit, content[best] if credit > 0 else None

    def _name_belongs_elsewhere(
        self, snapshot: Snapshot, doc_id: str, surface: str, sentence: str, qa: QuestionAnalysis
    ) -> bool:
        """A name found only next door, while this sentence has its own actor of that kind
        ("Zelensky alleged ..." next to a sentence naming Trump)."""
        typer = self.typer(snapshot, doc_id)
        kind = typer.known.get(surface.lower())
        if kind is None:
            return False
        for cand_kind, text in self._actors(snapshot, doc_id, sentence):
            if cand_kind is kind and not set(self.analyzer.terms(text)) & set(qa.terms):
                return True
        return False

    def score(
        self,
        qa: QuestionAnalysis,
        query_vector: np.ndarray,
        passages: list[Passage],
        snapshot: Snapshot,
        exact_top: int = 8,
    ) -> list[ScoredSentence]:
        """Every sentence of the passages, best supported first.

        Paraphrase matching embeds every word of a sentence, the costliest step of an answer.
        It only ever adds credit, so a sentence whose score could not reach the `exact_top`-th
        best even with full credit for every unmatched word skips it: the first `exact_top`
        rows are exactly what scoring every sentence would give, the rest are lower bounds.
        """
        weights = {t: PROPER_WEIGHT if t in qa.proper_terms else 1.0 for t in qa.terms}
        total = sum(weights.values()) or 1.0
        rows = self._exact_rows(qa, weights, passages, snapshot)
        if not rows:
            return []
        sims = self._sentence_vectors(snapshot, rows) @ query_vector
        floors = [
            0.5 * r.covered / total + 0.5 * max(float(sim), 0.0)
            for r, sim in zip(rows, sims, strict=True)
        ]
        bar = sorted(floors, reverse=True)[exact_top - 1] if len(rows) >= exact_top else -1.0
        soft = [
            r
            for r, floor in zip(rows, floors, strict=True)
            if r.soft_terms
            and floor + 0.5 * SOFT_MAX * sum(weights[t] for t in r.soft_terms) / total >= bar
        ]
        if soft:  # one batch for all the words those sentences need
            self.word_vectors(
                [qa_surface.lower() for qa_surface in qa.surfaces]
                + [t.text.lower() for r in soft for t in r.tokens if self.analyzer.term(t.text)]
            )
        surface = dict(zip(qa.terms, qa.surfaces, strict=True))
        for r in soft:
            for term in r.soft_terms:
                credit, token = self.soft_match(surface[term], r.tokens)
                r.covered += credit * weights[term]
                r.direct += credit * weights[term]
                r.missing -= credit / SOFT_MAX * weights[term]
                if token is not None:
                    r.hits.append(token)
        scored = [
            ScoredSentence(
                passage=r.passage,
                sentence=r.sentence,
                score=0.5 * r.covered / total + 0.5 * max(float(sim), 0.0),
                coverage=r.covered / total,
                direct=r.direct / total,
                similarity=float(sim),
                matched=r.matched,
                hits=tuple(sorted(r.hits, key=lambda t: t.start)),
                missing=r.missing / total,
                name_missing=r.name_missing,
            )
            for r, sim in zip(rows, sims, strict=True)
        ]
        return sorted(scored, key=lambda r: -r.score)

    def _exact_rows(
        self,
        qa: QuestionAnalysis,
        weights: dict[str, float],
        passages: list[Passage],
        snapshot: Snapshot,
    ) -> list[_Row]:
        """Each sentence of the passages once, with the question words it holds exactly, as
        an alias, or next door; the words left for paraphrase matching count as missing."""
        surface = dict(zip(qa.terms, qa.surfaces, strict=True))
        rows: list[_Row] = []
        seen: set[tuple[str, int]] = set()
        for passage in passages:
            sents = self.sentences(snapshot, passage.doc_id)
            for idx, sent in enumerate(sents):
                key = (passage.doc_id, sent.start)
                if sent.end <= passage.start or sent.start >= passage.end or key in seen:
                    continue
                seen.add(key)
                own = self._terms(snapshot, passage.doc_id, sent)
                around: set[str] = set()
                for j in (idx - 1, idx + 1):
                    if 0 <= j < len(sents):
                        around |= self._terms(snapshot, passage.doc_id, sents[j])
                tokens = list(self._words(snapshot, passage.doc_id, sent))
                row = _Row(passage, sent, idx, tokens, own & set(weights))
                row.hits = [t for t in tokens if self.analyzer.term(t.text) in weights]
                for term, weight in weights.items():
                    if term in own:
                        row.covered += weight
                        row.direct += weight
                    elif term in qa.proper_terms:  # names match exactly (aliases aside)
                        if term in around and not self._name_belongs_elsewhere(
                            snapshot, passage.doc_id, surface[term], sent.text, qa
                        ):
                            row.covered += NEIGHBOUR_WEIGHT * weight
                        else:
                            row.missing += weight
                            row.name_missing = True
                    elif term in around:
                        row.covered += NEIGHBOUR_WEIGHT * weight
                    else:
                        row.soft_terms.append(term)
                        row.missing += weight
                rows.append(row)
        return rows


@dataclass
class _Row:
    """A sentence being scored (weighted sums; divided by the total weight at the end)."""

    passage: Passage
    sentence: Sentence
    index: int  # of the sentence in its article
    tokens: list[Token]
    matched: frozenset[str]
    covered: float = 0.0
    direct: float = 0.0
    missing: float = 0.0
    name_missing: bool = False
    hits: list[Token] = field(default_factory=list)
    soft_terms: list[str] = field(default_factory=list)
