"""Vectors of every article's sentences, made at ingestion and stored with the snapshot.

The answerer compares each sentence of the passages it reads with the question. Encoding
those sentences per question was most of an answer's time (about 50 ms of 77 on distinct
SQuAD text); encoded once when the article is ingested, they are a lookup. They come from
the answerer's own reading encoder (`Embedder.encode_reading_bulk`), so they are the vectors
it would have computed, and they are used only by a reader with the same encoder and the
same sentence splitter; anything else (an older index, another backend) encodes as before.

Stored as float16 rows (`sentences.npy`), an article's sentences contiguous, with a table
article -> (first row, count) in meta.sqlite. Articles with the same text may share rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from rag.sentences import SPLITTER_VERSION, article_sentences

if TYPE_CHECKING:
    from rag.documents import Article
    from rag.embedding import Embedder

FILE = "sentences.npy"
DTYPE = np.float16


@dataclass(frozen=True)
class SentenceVectors:
    encoder: str  # the Embedder.reading_id that made them
    splitter: str  # rag.sentences.SPLITTER_VERSION when they were made
    rows: dict[str, tuple[int, int]]  # article id -> (first row, number of sentences)
    vectors: np.ndarray  # float16 [rows, dim]

    def usable_by(self, encoder: str | None) -> bool:
        return encoder == self.encoder and self.splitter == SPLITTER_VERSION

    def of(self, doc_id: str, count: int) -> np.ndarray | None:
        """The article's sentence vectors, when stored for exactly `count` sentences."""
        span = self.rows.get(doc_id)
        if span is None or span[1] != count:
            return None
        return self.vectors[span[0] : span[0] + count]

    def problems(self, dim: int, articles: Iterable[str]) -> list[str]:
        """What makes these rows unusable for a snapshot of `articles` (empty when whole)."""
        out = []
        unknown = sorted(set(self.rows) - set(articles))
        if unknown:
            out.append(f"sentence rows of {len(unknown)} unknown articles (e.g. {unknown[0]!r})")
        if self.vectors.ndim != 2 or self.vectors.dtype != DTYPE or self.vectors.shape[1] != dim:
            out.append(f"{FILE} holds {self.vectors.dtype} {self.vectors.shape}, not [n, {dim}]")
            return out
        bad = [
            doc_id
            for doc_id, (first, count) in self.rows.items()
            if not (first >= 0 and count > 0 and first + count <= len(self.vectors))
        ]
        if bad:
            out.append(
                f"sentence rows of {len(bad)} articles fall outside {FILE} (e.g. {bad[0]!r})"
            )
        return out

    def kept(self, keep: Iterable[str]) -> SentenceVectors:
        """Only the rows of the `keep` articles; the array is compacted once it is mostly
        rows no article uses any more (after deletions and replacements)."""
        rows = {d: self.rows[d] for d in keep if d in self.rows}
        used = sum(count for _, count in set(rows.values()))
        if 2 * used >= len(self.vectors):
            return SentenceVectors(self.encoder, self.splitter, rows, self.vectors)
        moved: dict[tuple[int, int], int] = {}
        parts = []
        at = 0
        for first, count in sorted(set(rows.values())):
            moved[(first, count)] = at
            parts.append(self.vectors[first : first + count])
            at += count
        vectors = np.concatenate(parts) if parts else self.vectors[:0]
        rows = {d: (moved[span], span[1]) for d, span in rows.items()}
        return SentenceVectors(self.encoder, self.splitter, rows, np.ascontiguousarray(vectors))

    def plus(self, rows: dict[str, tuple[int, int]], vectors: np.ndarray) -> SentenceVectors:
        """These rows and vectors appended (their rows count from 0 in `vectors`)."""
        base = len(self.vectors)
        merged = dict(self.rows)
        merged.update({d: (first + base, count) for d, (first, count) in rows.items()})
        stacked = np.concatenate([self.vectors, vectors.astype(DTYPE)])
        return SentenceVectors(self.encoder, self.splitter, merged, stacked)


def empty(encoder: str, dim: int) -> SentenceVectors:
    return SentenceVectors(encoder, SPLITTER_VERSION, {}, np.zeros((0, dim), dtype=DTYPE))


def encode_articles(
    articles: Iterable[Article], embedder: Embedder, *, show_progress: bool = False
) -> tuple[dict[str, tuple[int, int]], np.ndarray]:
    """Rows (from 0) and float16 vectors of the sentences of `articles`, in one bulk encode."""
    rows: dict[str, tuple[int, int]] = {}
    texts: list[str] = []
    for article in articles:
        sentences = [s.text for s in article_sentences(article)]
        if sentences:
            rows[article.id] = (len(texts), len(sentences))
            texts.extend(sentences)
    if not texts:
        return rows, np.zeros((0, embedder.dim), dtype=DTYPE)
    vectors = embedder.encode_reading_bulk(texts, show_progress=show_progress)
    return rows, np.ascontiguousarray(vectors, dtype=DTYPE)


def for_write(
    base: SentenceVectors | None,
    keep: Iterable[str],
    new: list[Article],
    embedder: Embedder,
    *,
    show_progress: bool = False,
) -> SentenceVectors | None:
    """The sentence vectors of a snapshot that keeps `keep` of `base`'s articles and adds
    `new`: the kept rows carried over (when `base` is this reader's), the new ones encoded."""
    encoder = embedder.reading_id
    if encoder is None:
        return None
    start = base.kept(keep) if base is not None and base.usable_by(encoder) else None
    rows, vectors = encode_articles(new, embedder, show_progress=show_progress)
    return (start or empty(encoder, embedder.dim)).plus(rows, vectors)
