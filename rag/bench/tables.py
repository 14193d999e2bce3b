"""The report's Markdown tables, one per benchmark part (pure: dicts in, text out)."""

from __future__ import annotations

from typing import Any

from rag.bench.common import table

PEER = "LangChain FAISS + HuggingFaceEmbeddings"


def machine_summary(machine: dict[str, Any], wall_s: float | None) -> str:
    """
    >>> machine_summary({"cpu": "X", "cores": 2, "memory_gb": 8.0, "load_average_at_start": 1.5,
    ...                  "load_average_at_end": 2.0, "started_at": "t"}, 10.0)
    'Machine: X, 2 cores, 8.0 GB; load average 1.5 at start, 2.0 at end; run started t, took 10 s.'
    """
    return (
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gb']} GB; "
        f"load average {machine['load_average_at_start']} at start, "
        f"{machine.get('load_average_at_end', '?')} at end; "
        f"run started {machine['started_at']}, took {wall_s:.0f} s."
    )


def ingestion_table(r: dict[str, Any]) -> str:
    rows = [
        ["raw SentenceTransformer.encode", r["raw_encode_s"], r["raw_chunks_per_s"], r["raw_mb_per_s"], 1.0],
        ["rag ingest (chunk + embed + write)", r["ingest_s"], r["ingest_chunks_per_s"], r["ingest_mb_per_s"], r["ingest_vs_raw"]],
    ]  # fmt: skip
    commits = " + ".join(f"{c['chunks']:,} chunks in {c['seconds']} s" for c in r["commits"])
    head = (
        f"{r['chunks']:,} chunks of SQuAD text ({r['megabytes']} MB): the v1.1 paragraphs, then "
        f"whole v2.0 articles appended ({commits})\n\n"
    )
    return head + table(["", "seconds", "chunks/s", "MB/s", "x raw encode"], rows)


def peer_table(rows: dict[str, dict[str, Any]], our_ingest_s: float) -> str:
    body = []
    for name, r in rows.items():
        q = r["query_ms"]
        ingest_s = r.get("ingest_s", our_ingest_s if name.startswith("ours") else None)
        body.append([name, ingest_s or "-", q["p50"], q["p95"], q["mean"], round(r["R@5"], 3)])
    text = table(["", "ingest s", "query p50 ms", "p95 ms", "mean ms", "R@5"], body)
    ours = next(iter(rows.values()))
    peer = rows.get(PEER)
    if peer is None:
        return text
    ratios = [
        f"ingest time ours/peer {our_ingest_s / peer['ingest_s']:.2f}",
        f"query p50 peer/ours {peer['query_ms']['p50'] / ours['query_ms']['p50']:.2f} "
        f"(mean {peer['query_ms']['mean'] / ours['query_ms']['mean']:.2f})",
        f"R@5 ours/peer {ours['R@5'] / peer['R@5']:.3f}",
    ]
    return text + "\n\nRatios (default backend): " + "; ".join(ratios) + "."


def growth_table(rows: list[dict[str, Any]]) -> str:
    body = [
        [
            f"{r['chunks']:,}",
            r["index_type"],
            r["build_s"],
            r["open_s"],
            r["search_ms"]["p50"],
            r["search_ms"]["p95"],
            r["ingest_batch_chunks"],
            r["ingest_batch_s"],
        ]
        for r in rows
    ]
    head = "Index built from real chunk texts; " + (rows[0]["how"] if rows else "") + ".\n\n"
    headers = ["chunks", "index", "build s", "open + first query s", "search p50 ms", "p95 ms"]
    return head + table([*headers, "batch chunks", "ingest batch s"], body)


def latency_table(rows: list[dict[str, Any]]) -> str:
    body = [
        [r["index"], f"{r['chunks']:,}", r["backend"], r["endpoint"], r["n"], r["p50"], r["p95"], r["p99"], r["errors"]]
        for r in rows
    ]  # fmt: skip
    headers = ["index", "chunks", "query encoder", "endpoint", "requests", "p50 ms", "p95 ms"]
    return table([*headers, "p99 ms", "errors"], body)


def concurrency_table(rows: list[dict[str, Any]]) -> str:
    body = [
        [f"{r['chunks']:,}", r["endpoint"], r["clients"], r["requests"], r["requests_per_s"], r["p50"], r["p99"], r["errors"]]
        for r in rows
    ]  # fmt: skip
    headers = ["chunks", "endpoint", "clients", "requests", "req/s", "p50 ms", "p99 ms", "errors"]
    return table(headers, body)


def startup_table(rows: list[dict[str, Any]]) -> str:
    body = [
        [r["index"], f"{r['chunks']:,}", r["backend"], r["ready_s"], r["rss_mb_at_rest"], r.get("rss_mb_after_queries", "-")]
        for r in rows
    ]  # fmt: skip
    headers = ["index", "chunks", "query encoder", "time to ready s", "RSS at rest MB"]
    return table([*headers, "RSS after queries MB"], body)


def scale_table(rows: list[dict[str, Any]]) -> str:
    body = []
    for r in rows:
        setting = ", ".join(
            f"{k}={v}" for k, v in (r.get("sweep") or r.get("params") or {}).items()
        )
        body.append(
            [
                r["index_type"] + (" (sweep)" if "sweep" in r else ""),
                setting or "-",
                r.get("build_s", "-"),
                r.get("rss_added_mb", "-"),
                r["query_ms"]["p50"],
                r["query_ms"]["p95"],
                r["recall@10"],
            ]
        )
    headers = ["index", "parameters", "build s", "RSS added MB", "query p50 ms", "p95 ms"]
    return table([*headers, "recall@10"], body)
