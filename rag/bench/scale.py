"""A million chunks (synthetic vectors): build time, memory, latency and recall@10 per index type.

The vectors are real MiniLM chunk vectors (from the ingestion part) plus Gaussian noise,
renormalized, so they cluster as real embeddings do; the queries are real question vectors
when there are some. Ground truth is exact search (`IndexFlatIP`) over the same vectors.
"""

from __future__ import annotations

import gc
import time
from typing import Any

import faiss
import numpy as np

from rag.bench.common import Latency, rss_mb
from rag.bench.corpus import NOISE_SIGMA, perturbed
from rag.vector_index import INDEX_TYPES, IndexParams, build_index, configure

RECALL_K = 10
BLOCK = 100_000  # rows generated at a time
SCALE_HOW = (
    "synthetic vectors: the real MiniLM vectors of the ingested chunks, cycled, plus Gaussian "
    f"noise (sigma {NOISE_SIGMA} per dimension), renormalized; queries: real SQuAD question "
    "vectors; truth: exact search over the same vectors"
)
SWEEP = {
    "hnsw": ("hnsw_ef_search", (32, 64, 128, 256)),
    "ivf": ("ivf_nprobe", (8, 16, 32, 64)),
    "ivf-sq8": ("ivf_nprobe", (16, 32, 64)),
}


def synthetic_vectors(seeds: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """n unit vectors: seed rows (cycled) plus noise."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, seeds.shape[1]), dtype=np.float32)
    for start in range(0, n, BLOCK):
        stop = min(n, start + BLOCK)
        rows = np.arange(start, stop) % len(seeds)
        out[start:stop] = perturbed(seeds[rows], rng, NOISE_SIGMA)
    return out


def recall_at(found: np.ndarray, truth: np.ndarray, k: int) -> float:
    """Mean share of the true top-k found in the top-k.

    >>> recall_at(np.array([[1, 2]]), np.array([[2, 3]]), 2)
    0.5
    """
    return float(
        np.mean([len(set(f[:k]) & set(t[:k])) / k for f, t in zip(found, truth, strict=True)])
    )


def exact_truth(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Row ids of each query's true top-k by inner product (exact search)."""
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    _, truth = exact.search(np.ascontiguousarray(queries, dtype=np.float32), k)
    return np.asarray(truth)


def search_each(index: faiss.Index, queries: np.ndarray, k: int) -> tuple[np.ndarray, Latency]:
    """Each query alone (as a user asks), its top-k ids and the latency of every search."""
    ids, seconds = [], []
    for q in queries:
        started = time.perf_counter()
        _, found = index.search(q.reshape(1, -1), k)
        seconds.append(time.perf_counter() - started)
        ids.append(found[0])
    return np.stack(ids), Latency.of_seconds(seconds)


def measure_scale(
    seeds: np.ndarray, queries: np.ndarray, n: int, params: IndexParams
) -> list[dict[str, Any]]:
    """One row per index type at its default parameters, then sweep rows for HNSW and IVF."""
    vectors = synthetic_vectors(seeds, n)
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    truth = exact_truth(vectors, queries, RECALL_K)
    rows = []
    for kind in INDEX_TYPES:
        gc.collect()
        before = rss_mb()
        started = time.perf_counter()
        index = build_index(vectors, vectors.shape[1], params, kind)
        build_s = time.perf_counter() - started
        grown = rss_mb() - before
        found, latency = search_each(index, queries, RECALL_K)
        rows.append(
            {
                "index_type": kind,
                "chunks": n,
                "build_s": round(build_s, 1),
                "rss_added_mb": round(grown, 0),
                "query_ms": latency.to_dict(),
                "recall@10": round(recall_at(found, truth, RECALL_K), 4),
                "params": _params_of(kind, params),
            }
        )
        if kind in SWEEP:
            field, values = SWEEP[kind]
            for value in values:
                swept = IndexParams(**{**params.__dict__, field: value})
                configure(index, swept)
                found, latency = search_each(index, queries, RECALL_K)
                rows.append(
                    {
                        "index_type": kind,
                        "chunks": n,
                        "sweep": {field: value},
                        "query_ms": latency.to_dict(),
                        "recall@10": round(recall_at(found, truth, RECALL_K), 4),
                    }
                )
        del index
    return rows


def _params_of(kind: str, params: IndexParams) -> dict[str, Any]:
    if kind == "hnsw":
        return {
            "M": params.hnsw_m,
            "efConstruction": params.hnsw_ef_construction,
            "efSearch": params.hnsw_ef_search,
        }
    if kind in ("ivf", "ivf-sq8"):
        return {"nlist": params.ivf_nlist or "4*sqrt(n)", "nprobe": params.ivf_nprobe}
    return {}
