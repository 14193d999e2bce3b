"""Ingestion throughput beside the raw encoder, and how write and query costs grow with size."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.bench.common import Latency, load_average
from rag.bench.corpus import SYNTHETIC_HOW, replicate
from rag.chunking import chunk_article, make_splitter
from rag.documents import Article
from rag.embedding import Embedder
from rag.pipeline import Pipeline
from rag.settings import Settings
from rag.vector_index import IndexParams, index_type_of

WARMUP_TEXTS = 16


def raw_encode(embedder: Embedder, texts: list[str], batch_size: int) -> np.ndarray:
    """The model alone: `SentenceTransformer.encode` (or the fake embedder's encode)."""
    model = getattr(embedder, "model", None)
    if model is None:
        return embedder.encode_documents(texts)
    return np.asarray(
        model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)
    )


def bench_pipeline(settings: Settings, embedder: Embedder) -> Pipeline:
    """A pipeline on the bench's settings, its store using the bench's index settings."""
    pipeline = Pipeline(settings, embedder=embedder)
    pipeline.store.params = IndexParams.from_settings(settings)
    return pipeline


@dataclass
class Ingestion:
    """Raw encode of every chunk first; then `Pipeline.ingest` of the paragraphs (the peer's
    corpus), and later of the extra articles, appended to the same index."""

    pipeline: Pipeline
    chunks: int
    megabytes: float
    raw_s: float
    commits: list[tuple[int, float]] = field(default_factory=list)  # (chunks, seconds)
    load: list[float] = field(default_factory=list)

    def ingest(self, articles: list[Article]) -> float:
        started = time.perf_counter()
        report = self.pipeline.ingest(articles)
        seconds = time.perf_counter() - started
        self.commits.append((report.chunks_added, seconds))
        self.load.append(load_average())
        return seconds

    def result(self) -> dict[str, Any]:
        chunks = sum(n for n, _ in self.commits)
        if chunks != self.chunks:
            raise RuntimeError(f"ingested {chunks} chunks, the raw encoder had {self.chunks}")
        ingest_s = sum(s for _, s in self.commits)
        return {
            "chunks": self.chunks,
            "megabytes": round(self.megabytes, 3),
            "raw_encode_s": round(self.raw_s, 2),
            "raw_chunks_per_s": round(self.chunks / self.raw_s, 1),
            "raw_mb_per_s": round(self.megabytes / self.raw_s, 4),
            "ingest_s": round(ingest_s, 2),
            "ingest_chunks_per_s": round(self.chunks / ingest_s, 1),
            "ingest_mb_per_s": round(self.megabytes / ingest_s, 4),
            "ingest_vs_raw": round(self.raw_s / ingest_s, 3),
            "commits": [{"chunks": n, "seconds": round(s, 2)} for n, s in self.commits],
            "load_average": self.load,
        }


def start_ingestion(
    paragraphs: list[Article], extra: list[Article], embedder: Embedder, settings: Settings
) -> Ingestion:
    """Time the raw encoder on every chunk, then ingest the paragraphs (timed)."""
    splitter = make_splitter(settings.chunk_size, settings.chunk_overlap)
    everything = paragraphs + extra
    texts = [c.text for a in everything for c in chunk_article(a, splitter)]
    megabytes = sum(len(a.text.encode("utf-8")) for a in everything) / 1e6
    raw_encode(embedder, texts[:WARMUP_TEXTS], settings.embedding_batch_size)
    load = [load_average()]
    started = time.perf_counter()
    raw_encode(embedder, texts, settings.embedding_batch_size)
    raw_s = time.perf_counter() - started
    run = Ingestion(bench_pipeline(settings, embedder), len(texts), megabytes, raw_s, load=load)
    run.ingest(paragraphs)
    return run


def measure_growth(
    base: Pipeline,
    sizes: list[int],
    questions: list[str],
    per_size: int,
    batch: list[Article],
    workdir: Path,
    settings: Settings,
) -> tuple[list[dict[str, Any]], Path | None]:
    """At each size: build (vectors given), open, query p50/p95, and ingest a small real batch.

    Each size asks its own `per_size` questions (the first one, untimed, with opening).

    Returns the rows and the folder of the largest index (served over HTTP next).
    """
    snapshot = base.snapshot
    rows, largest = [], None
    for step, n in enumerate(sizes):
        asked = questions[step * per_size : (step + 1) * per_size] or questions[:per_size]
        articles, chunks, vectors, sentences = replicate(
            snapshot.articles,
            snapshot.chunks,
            np.asarray(snapshot.vectors),
            n,
            sentences=snapshot.sentences,
        )
        folder = workdir / f"growth-{n}"
        pipeline = bench_pipeline(settings.model_copy(update={"index_dir": folder}), base.embedder)
        started = time.perf_counter()
        with pipeline.store.write_lock():
            pipeline.store.commit(articles, chunks, vectors, sentences)
        build_s = time.perf_counter() - started
        del articles, chunks, vectors, sentences
        started = time.perf_counter()
        pipeline.open()
        pipeline.search(asked[0])  # the first query builds the BM25 cache when not yet built
        open_s = time.perf_counter() - started
        search_s = []
        for q in asked[1:]:
            started = time.perf_counter()
            pipeline.search(q)
            search_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        report = pipeline.ingest(batch)
        write_s = time.perf_counter() - started
        rows.append(
            {
                "chunks": n,
                "index_type": index_type_of(pipeline.snapshot.faiss_index),
                "build_s": round(build_s, 2),
                "open_s": round(open_s, 2),
                "search_ms": Latency.of_seconds(search_s).to_dict(),
                "ingest_batch_chunks": report.chunks_added,
                "ingest_batch_s": round(write_s, 2),
                "how": SYNTHETIC_HOW,
            }
        )
        largest = folder
    return rows, largest
