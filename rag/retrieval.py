"""Hybrid retrieval: dense (FAISS) and lexical (BM25) rankings fused, over every live segment."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import numpy as np

from rag.documents import Copy
from rag.embedding import Embedder
from rag.errors import BadQuery
from rag.postings import Postings, bm25_scores
from rag.store import Snapshot
from rag.text import Analyzer
from rag.vector_index import search_segments


@dataclass(frozen=True)
class Filters:
    """Restrict retrieval to some articles; dates are inclusive ISO dates."""

    source: str | None = None
    published_after: str | None = None
    published_before: str | None = None

    def __post_init__(self) -> None:
        for name in ("published_after", "published_before"):
            value = getattr(self, name)
            if value is not None:
                try:
                    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                        raise ValueError(value)
                    date.fromisoformat(value)
                except ValueError:
                    raise BadQuery(
                        f"{name} must be an ISO date (YYYY-MM-DD), got {value!r}"
                    ) from None

    @property
    def active(self) -> bool:
        return any((self.source, self.published_after, self.published_before))

    def admits(self, source: str | None, published_at: str | None) -> bool:
        if self.source and (source or "").casefold() != self.source.casefold():
            return False
        day = (published_at or "")[:10]
        if self.published_after and (not day or day < self.published_after[:10]):
            return False
        return not (self.published_before and (not day or day > self.published_before[:10]))


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with everything needed to cite it."""

    chunk_id: int
    doc_id: str
    title: str
    source: str | None
    url: str | None
    published_at: str | None
    text: str
    start: int
    end: int
    score: float  # fused score, higher is better
    dense_score: float | None  # cosine similarity to the question, when ranked by FAISS
    lexical_score: float | None  # BM25 score, when ranked by BM25
    # Wire copies of the article folded at ingestion: other outlets that published it.
    also_published: tuple[Copy, ...] = ()


def rrf(rankings: list[list[int]], k: int) -> dict[int, float]:
    """Reciprocal rank fusion: sum over rankings of 1 / (k + rank), ranks from 1.

    >>> rrf([[7, 8], [8]], k=60) == {7: 1 / 61, 8: 1 / 62 + 1 / 61}
    True
    """
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return fused


def convex_fusion(
    dense: list[tuple[int, float]], lexical: list[tuple[int, float]], dense_weight: float
) -> dict[int, float]:
    """Weighted sum of min-max normalized dense and BM25 scores (missing side counts 0).

    >>> convex_fusion([(1, 0.9), (2, 0.5)], [(2, 8.0), (3, 4.0)], 0.5)
    {1: 0.5, 2: 0.5, 3: 0.25}
    """
    fused: dict[int, float] = {}
    if dense:
        high, low = dense[0][1], min(s for _, s in dense)
        span = max(high - low, 1e-9)
        for i, s in dense:
            fused[i] = dense_weight * (s - low) / span
    if lexical:
        top = max(s for _, s in lexical) or 1.0
        for i, s in lexical:
            fused[i] = fused.get(i, 0.0) + (1.0 - dense_weight) * s / top
    return fused


def top_positive(scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The k best positive scores as (row, score), best first; ties go to the lower row.

    Selecting among the few rows that hold a query term, rather than sorting every row,
    is what keeps BM25 under a millisecond at 100k chunks.

    >>> top_positive(np.array([0.0, 2.0, 1.0, 2.0, 0.0]), 2)
    [(1, 2.0), (3, 2.0)]
    """
    rows = np.flatnonzero(scores > 0)
    if k <= 0 or not len(rows):
        return []
    if len(rows) > k:
        rows = rows[np.argpartition(-scores[rows], k - 1)[:k]]
        # argpartition may cut through a tie at the k-th score: take the tie's lowest rows
        kth = scores[rows].min()
        rows = np.union1d(rows[scores[rows] > kth], np.flatnonzero(scores == kth))
    order = np.lexsort((rows, -scores[rows]))[:k]
    return [(int(rows[i]), float(scores[rows[i]])) for i in order]


@dataclass(frozen=True)
class LexicalIndex:
    """BM25 over a snapshot: each segment's postings with its local -> global ids, and the
    statistics of the live rows of all of them (so many segments rank as one would)."""

    parts: list[tuple[Postings, np.ndarray]]
    docs: int
    avg_len: float
    doc_len: np.ndarray  # the live rows' lengths by global id

    def knows(self, term: str) -> bool:
        return any(term in postings.vocab for postings, _ in self.parts)

    def scores(self, terms: list[str]) -> np.ndarray:
        return bm25_scores(self.parts, terms, self.docs, self.avg_len, self.docs, self.doc_len)


def build_bm25(snapshot: Snapshot, analyzer: Analyzer) -> LexicalIndex | None:
    """BM25 over the snapshot's live chunks, cached on the snapshot. The postings were made by
    the store's analyzer when the segments were written (or loaded), never here."""
    if "bm25" in snapshot.extras:
        return snapshot.extras["bm25"]
    docs = len(snapshot.chunks)
    result = None
    if docs:
        doc_len = np.concatenate(
            [
                s.postings.doc_len[mask]
                for s, mask in zip(snapshot.segments, snapshot.live, strict=True)
            ]
        )
        parts = [
            (s.postings, ids) for s, ids in zip(snapshot.segments, snapshot.to_global, strict=True)
        ]
        result = LexicalIndex(parts, docs, float(doc_len.sum(dtype=np.float64)) / docs, doc_len)
    snapshot.extras["bm25"] = result
    return result


class Retriever:
    """Searches one snapshot; cheap to build, so build one per snapshot."""

    def __init__(
        self,
        snapshot: Snapshot,
        embedder: Embedder,
        analyzer: Analyzer,
        candidate_k: int,
        rrf_k: int,
        fusion: str = "convex",
        dense_weight: float = 0.4,
    ) -> None:
        self.fusion = fusion
        self.dense_weight = dense_weight
        self.snapshot = snapshot
        self.embedder = embedder
        self.analyzer = analyzer
        self.candidate_k = candidate_k
        self.rrf_k = rrf_k
        self.bm25 = build_bm25(snapshot, analyzer)

    def _allowed(self, filters: Filters | None) -> np.ndarray | None:
        if filters is None or not filters.active:
            return None
        ok = {
            a.id
            for a in self.snapshot.articles.values()
            if filters.admits(a.source, a.published_at)
        }
        return np.array([c.article_id in ok for c in self.snapshot.chunks], dtype=bool)

    def dense(
        self, query_vector: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        snapshot = self.snapshot
        if len(snapshot.chunks) == 0 or k <= 0:
            return []
        if allowed is None:
            # from each segment as many more as it has deleted rows, then drop those
            asked = [
                (s.faiss_index, s.coarse_key, min(s.rows, k + dead))
                for s, dead in zip(snapshot.segments, snapshot.dead_rows, strict=True)
            ]
            found = search_segments(asked, np.ascontiguousarray(query_vector.reshape(1, -1)))
            found_ids, found_scores = [], []
            for (scores, ids), to_global in zip(found, snapshot.to_global, strict=True):
                found_ids.append(np.where(ids >= 0, to_global[ids], -1))
                found_scores.append(scores)
            ids, scores = np.concatenate(found_ids), np.concatenate(found_scores)
            keep = ids >= 0
            ids, scores = ids[keep], scores[keep]
            best = np.lexsort((ids, -scores))[:k]  # by score, ties to the lower id
            return list(zip(ids[best].tolist(), scores[best].tolist(), strict=True))
        rows = np.flatnonzero(allowed)
        if not len(rows):
            return []
        sims = snapshot.vectors_at(rows) @ query_vector.reshape(-1)
        top = np.argsort(-sims, kind="stable")[:k]
        return [(int(rows[i]), float(sims[i])) for i in top]

    def lexical(
        self, question: str, k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        if self.bm25 is None:
            return []
        terms = [t for t in self.analyzer.terms(question) if self.bm25.knows(t)]
        if not terms:
            return []
        scores = self.bm25.scores(terms)
        if allowed is not None:
            scores *= allowed.astype(np.float32)
        return top_positive(scores, k)

    def search(
        self,
        question: str,
        k: int,
        filters: Filters | None = None,
        query_vector: np.ndarray | None = None,
    ) -> list[Passage]:
        """Top-k passages for a question, best first."""
        allowed = self._allowed(filters)
        if query_vector is None:
            query_vector = self.embedder.encode([question])[0]
        pool = max(self.candidate_k, k)
        dense = self.dense(query_vector, pool, allowed)
        lexical = self.lexical(question, pool, allowed)
        if self.fusion == "rrf":
            fused = rrf([[i for i, _ in dense], [i for i, _ in lexical]], self.rrf_k)
        else:
            fused = convex_fusion(dense, lexical, self.dense_weight)
        dense_by_id, lexical_by_id = dict(dense), dict(lexical)
        ranked = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]
        return [self._passage(i, s, dense_by_id, lexical_by_id, query_vector) for i, s in ranked]

    def _passage(
        self,
        chunk_id: int,
        score: float,
        dense: dict[int, float],
        lexical: dict[int, float],
        query_vector: np.ndarray,
    ) -> Passage:
        chunk = self.snapshot.chunks[chunk_id]
        article = self.snapshot.articles[chunk.article_id]
        cosine = dense.get(chunk_id)
        if cosine is None:  # ranked by BM25 only: still report its similarity to the question
            cosine = float(
                self.snapshot.vectors_at(np.array([chunk_id]))[0] @ query_vector.reshape(-1)
            )
        return Passage(
            chunk_id=chunk_id,
            doc_id=article.id,
            title=article.title,
            source=article.source,
            url=article.url,
            published_at=article.published_at,
            text=chunk.text,
            start=chunk.start,
            end=chunk.end,
            score=round(score, 6),
            dense_score=round(cosine, 6),
            lexical_score=None if chunk_id not in lexical else round(lexical[chunk_id], 6),
            also_published=article.also_published,
        )
