"""Evidence for an answer: which sentences of the retrieved passages carry the question's
words (exactly, as aliases, or paraphrased) and its meaning."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rag.embedding import Embedder
from rag.lexicon import Lexicon
from rag.question import QuestionAnalysis
from rag.retrieval import Passage
from rag.sentences import Sentence, split_sentences
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
        self._word_vectors: dict[str, np.ndarray] = {}

    # ----- caches --------------------------------------------------------------------------
    def word_vectors(self, items: list[str]) -> dict[str, np.ndarray]:
        """Embeddings of single words, cached for the life of the scorer."""
        missing = sorted({w for w in items if w not in self._word_vectors})
        if missing:
            if len(self._word_vectors) > WORD_CACHE_LIMIT:
                self._word_vectors.clear()
            for w, vec in zip(missing, self.embedder.encode(missing), strict=True):
                self._word_vectors[w] = vec
        return {w: self._word_vectors[w] for w in items}

    def sentences(self, snapshot: Snapshot, doc_id: str) -> list[Sentence]:
        cache = snapshot.extras.setdefault("sentences", {})
        if doc_id not in cache:
            article = snapshot.articles[doc_id]
            cache[doc_id] = [
                s for a, b in article.spans() for s in split_sentences(article.text[a:b], a)
            ]
        return cache[doc_id]

    def typer(self, snapshot: Snapshot, doc_id: str) -> EntityTyper:
        cache = snapshot.extras.setdefault("typers", {})
        if doc_id not in cache:
            base = EntityTyper(self.lexicon)
            known = learn_entity_kinds([s.text for s in self.sentences(snapshot, doc_id)], base)
            cache[doc_id] = EntityTyper(self.lexicon, known)
        return cache[doc_id]

    def _terms(self, snapshot: Snapshot, doc_id: str, sentence: Sentence) -> frozenset[str]:
        cache = snapshot.extras.setdefault("sentence_terms", {})
        key = (doc_id, sentence.start)
        if key not in cache:
            cache[key] = frozenset(self.analyzer.terms(sentence.text))
        return cache[key]

    def _sentence_vectors(
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
        return np.stack([cache[k] for k in keys])

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
        for cand in typer.candidates(sentence):
            if cand.kind is kind and not set(self.analyzer.terms(cand.text)) & set(qa.terms):
                return True
        return False

    def score(
        self,
        qa: QuestionAnalysis,
        query_vector: np.ndarray,
        passages: list[Passage],
        snapshot: Snapshot,
    ) -> list[ScoredSentence]:
        """Every sentence of the passages, best supported first."""
        weights = {t: PROPER_WEIGHT if t in qa.proper_terms else 1.0 for t in qa.terms}
        surface = dict(zip(qa.terms, qa.surfaces, strict=True))
        total = sum(weights.values()) or 1.0
        rows = []
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
                tokens = words(sent.text)
                hits = [t for t in tokens if self.analyzer.term(t.text) in weights]
                covered = direct = missing = 0.0
                name_missing = False
                for term, weight in weights.items():
                    if term in own:
                        covered += weight
                        direct += weight
                    elif term in qa.proper_terms:  # names match exactly (aliases aside)
                        if term in around and not self._name_belongs_elsewhere(
                            snapshot, passage.doc_id, surface[term], sent.text, qa
                        ):
                            covered += NEIGHBOUR_WEIGHT * weight
                        else:
                            missing += weight
                            name_missing = True
                    elif term in around:
                        covered += NEIGHBOUR_WEIGHT * weight
                    else:
                        credit, token = self.soft_match(surface[term], tokens)
                        covered += credit * weight
                        direct += credit * weight
                        missing += (1.0 - credit / SOFT_MAX) * weight
                        if token is not None:
                            hits.append(token)
                rows.append(
                    (
                        passage,
                        sent,
                        own & set(weights),
                        covered / total,
                        direct / total,
                        missing / total,
                        name_missing,
                        tuple(sorted(hits, key=lambda t: t.start)),
                    )
                )
        if not rows:
            return []
        keys = [(r[0].doc_id, r[1].start) for r in rows]
        sims = self._sentence_vectors(snapshot, keys, [r[1].text for r in rows]) @ query_vector
        scored = [
            ScoredSentence(
                passage=p,
                sentence=s,
                score=0.5 * cov + 0.5 * max(float(sim), 0.0),
                coverage=cov,
                direct=dr,
                similarity=float(sim),
                matched=m,
                hits=h,
                missing=miss,
                name_missing=nm,
            )
            for (p, s, m, cov, dr, miss, nm, h), sim in zip(rows, sims, strict=True)
        ]
        return sorted(scored, key=lambda r: -r.score)
