"""The segmented index's rows (issue 15): one article's write at 1k and 100k chunks, start-up,
queries over one segment vs ten, and a soak that writes while clients query.

`rag bench --segments [--soak MINUTES]`. The large index is also served with the trained
reader answering (RAG_ANSWERER=reader), paired with the rule answerer's servers. The 100k
indexes are made as the growth rows make theirs (rag/bench/corpus.py `replicate`: real SQuAD
chunk texts, perturbed copies of their real vectors); the articles written are real SQuAD text,
embedded by the real model.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import random
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from rag.bench.common import Latency, load_average, machine, rss_mb, table
from rag.bench.corpus import SYNTHETIC_HOW, load_corpus, replicate, whole_articles
from rag.bench.http import REQUEST_TIMEOUT_S, ask_request, search_request, serving, timed
from rag.bench.ingest import bench_pipeline
from rag.documents import Article
from rag.embedder_factory import make_embedder
from rag.embedding import Embedder
from rag.merging import plan_merge
from rag.pipeline import Pipeline
from rag.settings import Settings
from rag.squad import load_squad, resolve_squad_file
from rag.store import Snapshot

ARTICLE_WORDS = 1_000
# the live segments of a 100k index the tiered policy (floor 1,000, factor 4) allows at most
# three of per tier: one of tier 3, three each of tiers 2, 1 and 0
TEN_SEGMENTS = (61_000, 10_000, 10_000, 10_000, 2_500, 2_500, 2_500, 500, 500, 500)
SOAK_TOKEN = "bench-soak-token"


@dataclasses.dataclass
class SegmentOptions:
    base_chunks: int = 1_000  # real chunks embedded, then replicated
    small: int = 1_000
    large: int = 100_000
    layout: tuple[int, ...] = TEN_SEGMENTS
    writes: int = 7
    requests: int = 100
    soak_minutes: float = 2.0
    reader: bool = True  # also serve the large index with the trained reader answering
    soak_clients: int = 8


def long_articles(n: int, words: int = ARTICLE_WORDS, seed_text: str = "") -> list[Article]:
    """n articles of about `words` words of real text: whole SQuAD v2.0 articles cut at the
    paragraph where they pass `words`; past those, each article is real paragraphs drawn at
    random (seeded by its number) from all of them, so it is a new story, not a wire copy that
    folding would store as an `also_published` entry."""
    squad = load_squad(resolve_squad_file("squad-v2.0-dev-public-half.json"))
    articles = whole_articles(list(squad.articles))
    whole = [a for a in articles if len(a.text.split()) >= words]
    pool = [(a.title, p) for a in articles for p in a.text.split("\n\n")]
    out = []
    for i in range(n):
        if i < len(whole):
            source = whole[i]
            paragraphs = [(source.title, p) for p in source.text.split("\n\n")]
        else:
            paragraphs = random.Random(i).sample(pool, len(pool))
        kept, count = [], 0
        for _, paragraph in paragraphs:
            kept.append(paragraph)
            count += len(paragraph.split())
            if count >= words:
                break
        text = "\n\n".join(kept) + (seed_text and f"\n\n{seed_text.strip()}")
        out.append(Article(f"bench-long-{i}", paragraphs[0][0], text))
    return out


def layout_index(
    folder: Path, settings: Settings, embedder: Embedder, base: Snapshot, sizes: tuple[int, ...]
) -> Pipeline:
    """An index of sum(sizes) replicated chunks, written as one segment per size (in order)."""
    articles, chunks, vectors, sentences = replicate(
        base.articles, base.chunks, np.asarray(base.vectors), sum(sizes), sentences=base.sentences
    )
    settings = settings.model_copy(update={"index_dir": folder, "merge_factor": 0})
    pipeline = bench_pipeline(settings, embedder)
    store = pipeline.store
    with store.write_lock():
        if len(sizes) == 1:
            store.commit(articles, chunks, vectors, sentences)
        else:
            ids = list(articles)
            first = 0
            snapshot = store.empty()
            for size in sizes:
                end = first + size
                while (
                    0 < end < len(chunks) and chunks[end].article_id == chunks[end - 1].article_id
                ):
                    end += 1  # an article stays whole in one segment
                part = chunks[first:end]
                doc_ids = dict.fromkeys(c.article_id for c in part)
                snapshot = store.add(
                    snapshot,
                    {d: articles[d] for d in doc_ids},
                    part,
                    vectors[first:end],
                    sentences,
                    remove=set(),
                )
                first = end
            assert len(snapshot.articles) == len(ids) and len(snapshot.chunks) == len(chunks)
    return pipeline


def measure_writes(pipeline: Pipeline, articles: list[Article]) -> dict[str, Any]:
    """Ingest each article alone: total, embedding and index-write seconds, then the merge."""
    totals, embeds, merges, chunks = [], [], [], []
    for article in articles:
        started = time.perf_counter()
        report = pipeline.ingest([article])
        totals.append(time.perf_counter() - started)
        embeds.append(report.embed_s)
        chunks.append(report.chunks_added)
        started = time.perf_counter()
        pipeline.wait_merges()
        merges.append(time.perf_counter() - started)
    writes = [t - e for t, e in zip(totals, embeds, strict=True)]
    return {
        "chunks": len(pipeline.snapshot.chunks) - sum(chunks),
        "writes": len(articles),
        "article_words": round(statistics.median(len(a.text.split()) for a in articles)),
        "article_chunks": round(statistics.median(chunks)),
        "total_p50_s": round(statistics.median(totals), 3),
        "total_max_s": round(max(totals), 3),
        "embed_p50_s": round(statistics.median(embeds), 3),
        "index_write_p50_s": round(statistics.median(writes), 3),
        "index_write_max_s": round(max(writes), 3),
        "merge_wait_p50_s": round(statistics.median(merges), 3),
        "segments_after": len(pipeline.snapshot.segments),
        "totals_s": [round(t, 3) for t in totals],
    }


def policy_segments(
    start: int, writes: int, per_write: int, floor: int, factor: int
) -> dict[str, int]:
    """Live segments the tiered policy leaves after `writes` writes of `per_write` chunks to an
    index of one `start`-chunk segment (merges run to completion after each write)."""
    sizes = [start]
    most = 1
    for _ in range(writes):
        sizes.append(per_write)
        most = max(most, len(sizes))
        while (plan := plan_merge([(s, s) for s in sizes], floor, factor)) is not None:
            merged = sum(sizes[i] for i in plan)
            sizes = [s for i, s in enumerate(sizes) if i not in plan] + [merged]
    return {"start": start, "writes": writes, "segments_most": most, "segments_after": len(sizes)}


def serve_latency(
    folders: dict[str, tuple[Path, dict[str, str]]],
    questions: list[str],
    requests: int,
    workdir: Path,
) -> list[dict[str, Any]]:
    """A fresh `rag serve` per index (with its own environment, e.g. the answerer), started
    one after another (time to ready), then p50 of /search and /ask over the same questions,
    asked of every server in turn (the order alternating), so that each server's p50 is taken
    under the same host load as the others'.
    """
    with contextlib.ExitStack() as stack:
        servers = {
            label: stack.enter_context(serving(folder, env, workdir / f"server-{label}.log"))
            for label, (folder, env) in folders.items()
        }
        clients = {
            label: stack.enter_context(
                httpx.Client(base_url=server.base_url, timeout=REQUEST_TIMEOUT_S)
            )
            for label, server in servers.items()
        }
        seconds: dict[tuple[str, str], list[float]] = {}
        errors = dict.fromkeys(servers, 0)
        for kind, request in (("search", search_request), ("ask", ask_request)):
            for i, question in enumerate(questions[:requests]):
                labels = list(servers) if i % 2 == 0 else list(reversed(servers))
                for label in labels:
                    elapsed, response = timed(clients[label], request, question)
                    seconds.setdefault((label, kind), []).append(elapsed)
                    errors[label] += response.status_code != 200
        rows = []
        for label, server in servers.items():
            search = Latency.of_seconds(seconds[(label, "search")])
            ask = Latency.of_seconds(seconds[(label, "ask")])
            rows.append(
                {
                    "index": label,
                    "ready_s": round(server.ready_s, 2),
                    "search_p50_ms": search.p50,
                    "search_p95_ms": search.p95,
                    "ask_p50_ms": ask.p50,
                    "ask_p95_ms": ask.p95,
                    "errors": errors[label],
                    "rss_mb": server.rss_mb,
                }
            )
    return rows


def soak(
    folder: Path, articles: list[Article], questions: list[str], options: SegmentOptions, log: Path
) -> dict[str, Any]:
    """`rag serve` with one article written a second while `clients` threads query (half
    /search, half /ask) for the given minutes: errors, latency, memory, writes done."""
    seconds = options.soak_minutes * 60
    headers = {"Authorization": f"Bearer {SOAK_TOKEN}"}
    with serving(folder, {"RAG_API_TOKEN": SOAK_TOKEN}, log) as server:
        stop = threading.Event()
        lock = threading.Lock()
        latencies: list[float] = []
        failures: list[str] = []
        write_failures: list[str] = []
        write_s: list[float] = []
        memory: list[tuple[float, float, float]] = []  # (seconds, RSS, anonymous) MB
        started = time.monotonic()

        def query(worker: int) -> None:
            request = search_request if worker % 2 else ask_request
            with httpx.Client(base_url=server.base_url, timeout=REQUEST_TIMEOUT_S) as client:
                i = worker
                while not stop.is_set():
                    began = time.perf_counter()
                    try:
                        failed = request(client, questions[i % len(questions)]).status_code != 200
                        kind = "status"
                    except httpx.HTTPError as exc:
                        failed, kind = True, type(exc).__name__
                    with lock:
                        latencies.append(time.perf_counter() - began)
                        if failed:
                            failures.append(kind)
                    i += options.soak_clients

        def write() -> None:
            with httpx.Client(base_url=server.base_url, timeout=REQUEST_TIMEOUT_S) as client:
                i = 0
                while not stop.is_set():
                    began = time.perf_counter()
                    body = dataclasses.asdict(articles[i % len(articles)])
                    body = {k: body[k] for k in ("id", "title", "text")}
                    try:
                        response = client.post("/documents", json=body, headers=headers)
                        failed = response.status_code not in (200, 201)
                        why = f"HTTP {response.status_code}"
                    except httpx.HTTPError as exc:
                        failed, why = True, type(exc).__name__
                    elapsed = time.perf_counter() - began
                    with lock:
                        write_s.append(elapsed)
                        if failed:
                            failures.append("write")
                            write_failures.append(why)
                    i += 1
                    stop.wait(max(0.0, 1.0 - elapsed))

        threads = [threading.Thread(target=query, args=(w,)) for w in range(options.soak_clients)]
        threads.append(threading.Thread(target=write))
        for thread in threads:
            thread.start()
        while time.monotonic() - started < seconds:
            memory.append((time.monotonic() - started, server.rss_mb, server.anon_mb or 0.0))
            time.sleep(5)
        stop.set()
        for thread in threads:
            thread.join()
        wall = time.monotonic() - started
        manifest = _current_manifest(folder)
    latency = Latency.of_seconds(latencies)
    first = [m for m in memory if m[0] < seconds / 4] or memory[:1]
    last = [m for m in memory if m[0] >= 3 * seconds / 4] or memory[-1:]
    return {
        "minutes": options.soak_minutes,
        "clients": options.soak_clients,
        "queries": latency.n,
        "queries_per_s": round(latency.n / wall, 1),
        "query_p50_ms": latency.p50,
        "query_p99_ms": latency.p99,
        "writes": len(write_s),
        "writes_per_s": round(len(write_s) / wall, 2),
        "write_p50_s": round(statistics.median(write_s), 2) if write_s else None,
        "errors": len(failures),
        "error_kinds": sorted(set(failures)),
        "rss_mb_first_quarter": round(statistics.median(m[1] for m in first)),
        "rss_mb_last_quarter": round(statistics.median(m[1] for m in last)),
        "rss_mb_max": round(max(m[1] for m in memory)),
        # the heap alone: RSS also counts the cached pages of the mapped segment files
        "anon_mb_first_quarter": round(statistics.median(m[2] for m in first)),
        "anon_mb_last_quarter": round(statistics.median(m[2] for m in last)),
        "anon_mb_max": round(max(m[2] for m in memory)),
        # the heap sampled each minute: flat after the first writes is what stable means
        "anon_mb_by_minute": [round(m[2]) for m in memory if int(m[0]) % 60 < 5],
        "write_failures": sorted(set(write_failures)),
        "segments_at_end": len(manifest["segments"]),
        "chunks_at_end": manifest["counts"]["chunks"],
    }


def _current_manifest(folder: Path) -> dict[str, Any]:
    name = (folder / "CURRENT").read_text().strip()
    return json.loads((folder / "snapshots" / name / "manifest.json").read_text())


def run_segments(settings: Settings, options: SegmentOptions, workdir: Path) -> dict[str, Any]:
    """Every row; a dict for the JSON report (see `segment_tables` for the text)."""
    data: dict[str, Any] = {"machine": machine(), "how": SYNTHETIC_HOW}
    corpus = load_corpus(0, settings.chunk_size, settings.chunk_overlap)
    embedder = make_embedder(settings)
    base = bench_pipeline(settings.model_copy(update={"index_dir": workdir / "base"}), embedder)
    paragraphs, chunks = [], 0
    for article in corpus.articles:  # real paragraphs until base_chunks chunks
        if chunks >= options.base_chunks:
            break
        paragraphs.append(article)
        chunks += max(1, len(article.text) // settings.chunk_size + 1)
    started = time.perf_counter()
    base.ingest(paragraphs)
    data["base"] = {
        "paragraphs": len(paragraphs),
        "chunks": len(base.snapshot.chunks),
        "ingest_s": round(time.perf_counter() - started, 1),
    }
    questions = [q.question for q in corpus.sample_questions(0, seed=3)]
    snapshot = base.snapshot

    # one segment vs ten at the large size: start-up and query latency on fresh servers
    started = time.perf_counter()
    one = layout_index(workdir / "large-1", settings, embedder, snapshot, (options.large,))
    ten = layout_index(workdir / "large-10", settings, embedder, snapshot, options.layout)
    data["build_s"] = round(time.perf_counter() - started, 1)
    opened = []
    for label, pipeline, checksums in (
        ("1 segment", one, "changed"),
        ("1 segment, every file hashed", one, "always"),
        (f"{len(options.layout)} segments", ten, "changed"),
    ):
        update = {"checksum_on_load": checksums}
        fresh = bench_pipeline(pipeline.settings.model_copy(update=update), embedder)
        began = time.perf_counter()
        fresh.open()
        opened.append({"index": label, "open_s": round(time.perf_counter() - began, 2)})
    data["open_in_process"] = opened
    small = layout_index(workdir / "small", settings, embedder, snapshot, (options.small,))
    rules = {"RAG_ANSWERER": "rules"}
    folders = {
        f"{options.small:,} chunks, 1 segment": (small.store.root, rules),
        f"{options.large:,} chunks, 1 segment": (one.store.root, rules),
        f"{options.large:,} chunks, {len(options.layout)} segments": (ten.store.root, rules),
    }
    if options.reader:  # the trained reader answering over the same index (issue 12's row)
        folders[f"{options.large:,} chunks, 1 segment, reader"] = (
            one.store.root,
            {"RAG_ANSWERER": "reader"},
        )
    data["http"] = serve_latency(folders, questions, options.requests, workdir)
    del one, ten

    # one article written alone, at the small and the large size (the large: 1 segment)
    articles = long_articles(options.writes)
    writes = []
    for folder in (small.store.root, workdir / "large-1"):
        pipeline = bench_pipeline(settings.model_copy(update={"index_dir": folder}), embedder)
        pipeline.open()
        writes.append(measure_writes(pipeline, articles))
    data["writes"] = writes
    data["write_ratio"] = round(writes[1]["total_p50_s"] / writes[0]["total_p50_s"], 2)
    per_write = writes[1]["article_chunks"]
    data["policy"] = [
        policy_segments(n, 1_000, per_write, settings.merge_floor_chunks, settings.merge_factor)
        for n in (1_000, 10_000, 100_000)
    ]

    if options.soak_minutes > 0:
        soak_articles = long_articles(int(options.soak_minutes * 60) + 10, seed_text=" (soak)")
        data["soak"] = soak(
            workdir / "large-10", soak_articles, questions, options, workdir / "server-soak.log"
        )
    data["machine"]["load_average_at_end"] = load_average()
    data["bench_rss_mb"] = rss_mb()
    return data


def segment_tables(data: dict[str, Any]) -> str:
    """The report as markdown tables."""
    out = [f"Indexes: {data['how']}.", ""]
    out.append("#### One article written to an index (in process)")
    out.append(
        table(
            [
                "index chunks",
                "writes",
                "words",
                "chunks",
                "total p50 s",
                "embedding p50 s",
                "index write p50 s",
                "index write max s",
                "merge after p50 s",
                "segments after",
            ],
            [
                [
                    w["chunks"],
                    w["writes"],
                    w["article_words"],
                    w["article_chunks"],
                    w["total_p50_s"],
                    w["embed_p50_s"],
                    w["index_write_p50_s"],
                    w["index_write_max_s"],
                    w["merge_wait_p50_s"],
                    w["segments_after"],
                ]
                for w in data["writes"]
            ],
        )
    )
    out.append(f"\nRatio of the total p50, large / small: {data['write_ratio']}\n")
    out.append(
        "#### Start-up and queries, a fresh `rag serve` each, all asked the same questions in turn (HTTP, one client)"
    )
    out.append(
        table(
            [
                "index",
                "time to ready s",
                "/search p50 ms",
                "p95",
                "/ask p50 ms",
                "p95",
                "errors",
                "RSS MB",
            ],
            [
                [
                    r["index"],
                    r["ready_s"],
                    r["search_p50_ms"],
                    r["search_p95_ms"],
                    r["ask_p50_ms"],
                    r["ask_p95_ms"],
                    r["errors"],
                    r["rss_mb"],
                ]
                for r in data["http"]
            ],
        )
    )
    opened = ", ".join(f"{o['index']} {o['open_s']} s" for o in data["open_in_process"])
    out.append(f"\nOpening the large index in process (model already loaded): {opened}\n")
    out.append("#### Segments the merge policy leaves (1,000 writes of one article each)")
    out.append(
        table(
            ["index chunks", "writes", "most live segments", "segments after"],
            [
                [p["start"], p["writes"], p["segments_most"], p["segments_after"]]
                for p in data["policy"]
            ],
        )
    )
    if "soak" in data:
        s = data["soak"]
        out.append("\n#### Soak: writes while clients query (`rag serve`, the 10-segment index)")
        if s.get("write_failures"):
            out.append(f"Failed writes: {', '.join(s['write_failures'])}")
        out.append(
            table(
                [
                    "minutes",
                    "clients",
                    "queries",
                    "q/s",
                    "p50 ms",
                    "p99 ms",
                    "writes",
                    "writes/s",
                    "write p50 s",
                    "errors",
                    "RSS MB first / last quarter / max",
                    "heap MB first / last quarter / max",
                    "segments at end",
                ],
                [
                    [
                        s["minutes"],
                        s["clients"],
                        s["queries"],
                        s["queries_per_s"],
                        s["query_p50_ms"],
                        s["query_p99_ms"],
                        s["writes"],
                        s["writes_per_s"],
                        s["write_p50_s"],
                        s["errors"],
                        f"{s['rss_mb_first_quarter']} / {s['rss_mb_last_quarter']} / "
                        f"{s['rss_mb_max']}",
                        f"{s['anon_mb_first_quarter']} / {s['anon_mb_last_quarter']} / "
                        f"{s['anon_mb_max']}",
                        s["segments_at_end"],
                    ]
                ],
            )
        )
        by_minute = s.get("anon_mb_by_minute") or []
        out.append(f"\nHeap MB at each minute: {', '.join(str(m) for m in by_minute)}")
    return "\n".join(out) + "\n"
