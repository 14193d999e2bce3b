"""Runs the benchmark parts in order, prints their tables and writes one JSON report.

Order matters for honesty: the peer comparison runs before anything else has asked the same
questions (so no cached question vectors help either side), and each HTTP server is a fresh
process.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.bench.common import load_average, machine
from rag.bench.corpus import SYNTHETIC_HOW, load_corpus
from rag.bench.http import ENDPOINTS, ask_request, many_clients, one_client, serving
from rag.bench.ingest import bench_pipeline, measure_growth, start_ingestion
from rag.bench.peer import langchain_peer, ours
from rag.bench.scale import SCALE_HOW, measure_scale
from rag.bench.tables import (
    concurrency_table,
    growth_table,
    ingestion_table,
    latency_table,
    machine_summary,
    peer_table,
    scale_table,
    startup_table,
)
from rag.embedder_factory import make_embedder
from rag.errors import RagError
from rag.evaluation import load_questions
from rag.pipeline import Pipeline
from rag.settings import PROJECT_ROOT, Settings
from rag.vector_index import IndexParams

SEED_QUESTIONS = PROJECT_ROOT / "eval" / "seed.jsonl"
REPORTS = PROJECT_ROOT / "eval" / "reports"


@dataclass
class BenchOptions:
    min_chunks: int = 2000
    questions: int = 1000  # SQuAD questions for the peer's R@5 and latency (0: all)
    sizes: tuple[int, ...] = (1_000, 10_000, 100_000)
    requests: int = 100  # per endpoint and index, one client
    warm_up_questions: int = 300  # other questions asked before the warm /ask timing
    http_seconds: float = 60.0  # per endpoint and index, one client
    concurrency: tuple[int, ...] = (8, 32)
    concurrency_seconds: float = 10.0
    concurrency_requests: int = 400
    # question encoders compared; the first is the default (RAG_EMBEDDING_BACKEND=auto)
    backends: tuple[str, ...] = ("onnx", "torch", "onnx-int8")
    peer: bool = True
    scale: bool = False
    scale_chunks: int = 1_000_000
    scale_queries: int = 200
    out: Path = REPORTS


@dataclass
class Report:
    data: dict[str, Any] = field(default_factory=dict)
    text: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def section(self, title: str, body: str) -> None:
        block = f"### {title}\n\n{body}\n"
        print(block, flush=True)
        self.text.append(block)

    def note(self, line: str) -> None:
        print(line, file=sys.stderr, flush=True)


def run(settings: Settings, options: BenchOptions) -> int:
    report = Report()
    report.data = {
        "machine": machine(),
        "options": {k: str(v) for k, v in dataclasses.asdict(options).items()},
        "settings": _settings_summary(settings),
    }
    started = time.perf_counter()
    try:
        corpus = load_corpus(options.min_chunks, settings.chunk_size, settings.chunk_overlap)
    except RagError as exc:
        print(f"rag bench: skipped: {exc}", file=sys.stderr)
        return 0
    embedder = make_embedder(settings)
    with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp:
        workdir = Path(tmp)
        base_settings = settings.model_copy(update={"index_dir": workdir / "ingest"})
        report.note(
            f"ingestion: {len(corpus.articles)} paragraphs and {len(corpus.extra)} whole "
            f"articles from {', '.join(corpus.files)}"
        )
        ingestion = start_ingestion(corpus.articles, corpus.extra, embedder, base_settings)
        pipeline = ingestion.pipeline
        questions = corpus.sample_questions(options.questions)
        if options.peer:
            _part(
                report,
                "peer",
                lambda: _peer(report, pipeline, questions, options, settings, ingestion.commits[0]),
            )
        ingestion.ingest(corpus.extra)
        report.data["ingestion"] = ingestion.result()
        report.section("Ingestion (real text)", ingestion_table(report.data["ingestion"]))
        # fresh questions at each size: a cached question vector would flatter the larger ones
        per_size = 201
        growth_questions = [
            q.question for q in corpus.sample_questions(per_size * len(options.sizes), seed=1)
        ]
        batch = [
            dataclasses.replace(a, id=f"bench-batch-{i}")
            for i, a in enumerate(corpus.articles[:10])
        ]
        largest: list[Path | None] = [None]

        def growth() -> None:
            rows, largest[0] = measure_growth(
                pipeline,
                list(options.sizes),
                growth_questions,
                per_size,
                batch,
                workdir,
                base_settings,
            )
            report.data["growth"] = rows
            report.section("Growth (in process)", growth_table(rows))

        _part(report, "growth", growth)
        http_questions = [q.question for q in corpus.sample_questions(0, seed=2)]
        _part(
            report,
            "http",
            lambda: _http(report, settings, embedder, workdir, largest[0], http_questions, options),
        )
        if options.scale:
            _part(report, "scale", lambda: _scale(report, pipeline, questions, options, settings))
    report.data["wall_s"] = round(time.perf_counter() - started, 1)
    report.data["machine"]["load_average_at_end"] = load_average()
    _write(report, options.out)
    return 1 if report.failed else 0


def _part(report: Report, name: str, body: Any) -> None:
    """Run one part; a failure is recorded and printed, and the other parts still run."""
    started = time.perf_counter()
    try:
        body()
    except Exception as exc:  # a benchmark part failing must not lose the others' numbers
        report.failed.append(name)
        report.data.setdefault("errors", {})[name] = f"{type(exc).__name__}: {exc}"
        print(f"rag bench: part {name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
    report.note(f"part {name}: {time.perf_counter() - started:.0f} s")


def _peer(
    report: Report,
    pipeline: Pipeline,
    questions: list[Any],
    options: BenchOptions,
    settings: Settings,
    our_ingest: tuple[int, float],
) -> None:
    snapshot = pipeline.snapshot
    rows: dict[str, dict[str, Any]] = {}
    backends = options.backends if hasattr(pipeline.embedder, "model") else ("torch",)
    for backend in backends:
        if backend == getattr(pipeline.embedder, "backend", "torch"):
            rows[f"ours ({backend})"] = ours(pipeline, questions)
            continue
        from rag.embedding import SentenceTransformerEmbedder

        embedder = SentenceTransformerEmbedder(
            settings.embedding_model or None,
            settings.embedding_batch_size,
            backend=backend,  # type: ignore[arg-type]
            reading_backend=settings.reading_backend,
            cache_size=settings.embedding_cache_size,
            cache_dir=settings.cache_dir,
            threads=settings.query_threads,
        )
        variant = bench_pipeline(
            settings.model_copy(update={"index_dir": pipeline.store.root}), embedder
        )
        rows[f"ours ({backend})"] = ours(variant, questions)
    model_path = getattr(pipeline.embedder, "path", None)
    if model_path is not None:
        rows["LangChain FAISS + HuggingFaceEmbeddings"] = langchain_peer(
            model_path,
            [c.text for c in snapshot.chunks],
            [c.article_id for c in snapshot.chunks],
            questions,
        )
    else:
        report.note("peer: skipped LangChain (it needs the real model, not a test embedder)")
    report.data["peer"] = {
        "questions": len(questions),
        "chunks": len(snapshot.chunks),
        "ours_ingest_s": round(our_ingest[1], 2),
        **rows,
    }
    report.section(
        f"Peer, same chunks ({len(snapshot.chunks)}), same model, {len(questions)} SQuAD v1.1 "
        "questions (in process)",
        peer_table(rows, our_ingest[1]),
    )


def _http(
    report: Report,
    settings: Settings,
    embedder: Any,
    workdir: Path,
    large: Path | None,
    squad_questions: list[str],
    options: BenchOptions,
) -> None:
    """Seed index, the ingested SQuAD index and the largest growth index, each served by a
    fresh `rag serve` per backend."""
    seed_dir = workdir / "seed-index"
    seed_settings = settings.model_copy(update={"index_dir": seed_dir})
    bench_pipeline(seed_settings, embedder).ingest_paths([settings.seeds_dir])
    seed_questions = [q.question for q in load_questions([SEED_QUESTIONS])]
    targets = [("seed", seed_dir, seed_questions, options.backends[:1])]
    # The ingested SQuAD text (every chunk distinct): the large index repeats these texts, so
    # the passages an answer reads there often share sentences; here they never do.
    targets.append(("squad", workdir / "ingest", squad_questions, options.backends[:1]))
    if large is not None:
        targets.append(("large", large, squad_questions, options.backends))
    latency, startup, concurrency = [], [], []
    # Every timed request asks a question no earlier request asked that server (when there are
    # enough): the servers cache question vectors, and a repeat would flatter the numbers.
    for label, folder, questions, backends in targets:
        chunks = _chunk_count(folder)
        for backend in backends:
            tag = {"index": label, "chunks": chunks, "backend": backend}
            log = workdir / f"server-{label}-{backend}.log"
            with serving(folder, {"RAG_EMBEDDING_BACKEND": backend}, log) as server:
                startup.append(
                    {**tag, "ready_s": round(server.ready_s, 2), "rss_mb_at_rest": server.rss_mb}
                )
                for step, (endpoint, request) in enumerate(ENDPOINTS.items()):
                    asked = questions[step * options.requests : (step + 1) * options.requests]
                    asked = asked or questions[: options.requests]  # few questions: they repeat
                    result = one_client(server.base_url, request, asked, options.http_seconds)
                    latency.append({**tag, "endpoint": endpoint, **result})
                if label == "large" and backend == backends[0]:
                    fresh = questions[2 * options.requests :]
                    # A server that has been up a while has the answerer's word and sentence
                    # vectors of earlier questions cached: time fresh questions after others.
                    warm_up, fresh = _take(fresh, options.warm_up_questions, questions)
                    one_client(server.base_url, ask_request, warm_up, options.http_seconds * 5)
                    asked, fresh = _take(fresh, options.requests, questions)
                    result = one_client(server.base_url, ask_request, asked, options.http_seconds)
                    endpoint = f"POST /ask after {len(warm_up)} other questions"
                    latency.append({**tag, "endpoint": endpoint, **result})
                    for endpoint, request in ENDPOINTS.items():
                        for clients in options.concurrency:
                            asked, fresh = _take(fresh, options.concurrency_requests, questions)
                            result = many_clients(
                                server.base_url,
                                request,
                                asked,
                                clients,
                                options.concurrency_seconds,
                                options.concurrency_requests,
                            )
                            concurrency.append({**tag, "endpoint": endpoint, **result})
                startup[-1]["rss_mb_after_queries"] = server.rss_mb
    report.data["http"] = {
        "latency": latency,
        "concurrency": concurrency,
        "startup": startup,
        "large_index": SYNTHETIC_HOW,
    }
    report.section(
        "HTTP latency, one client (real `rag serve` on 127.0.0.1)", latency_table(latency)
    )
    if concurrency:
        report.section("Concurrency (GET /search and POST /ask)", concurrency_table(concurrency))
    report.section("Start-up", startup_table(startup))


def _scale(
    report: Report,
    pipeline: Pipeline,
    questions: list[Any],
    options: BenchOptions,
    settings: Settings,
) -> None:
    seeds = np.asarray(pipeline.snapshot.vectors, dtype=np.float32)
    queries = pipeline.embedder.encode([q.question for q in questions[: options.scale_queries]])
    rows = measure_scale(seeds, queries, options.scale_chunks, IndexParams.from_settings(settings))
    report.data["scale"] = {"rows": rows, "how": SCALE_HOW}
    report.section(f"Scale: {options.scale_chunks:,} chunks, synthetic vectors", scale_table(rows))


def _take(fresh: list[str], n: int, fallback: list[str]) -> tuple[list[str], list[str]]:
    """The next n unused questions and the rest (all of `fallback` once they run out)."""
    if len(fresh) >= n:
        return fresh[:n], fresh[n:]
    return fallback, []


def _chunk_count(folder: Path) -> int:
    manifest = json.loads(
        (
            folder / "snapshots" / (folder / "CURRENT").read_text().strip() / "manifest.json"
        ).read_text()
    )
    return int(manifest["counts"]["chunks"])


def _settings_summary(settings: Settings) -> dict[str, Any]:
    keys = (
        "embedding_model",
        "embedding_backend",
        "reading_backend",
        "query_threads",
        "embedding_cache_size",
        "index_type",
        "index_auto_threshold",
        "hnsw_m",
        "hnsw_ef_construction",
        "hnsw_ef_search",
        "ivf_nlist",
        "ivf_nprobe",
        "index_mmap",
        "candidate_k",
        "fusion",
        "top_k",
    )
    return {k: getattr(settings, k) for k in keys}


def _write(report: Report, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    machine_line = machine_summary(report.data["machine"], report.data.get("wall_s"))
    report.data["tables_markdown"] = "\n".join([machine_line, "", *report.text])
    for path in (out / f"bench-{stamp}.json", out / "bench.json"):
        path.write_text(json.dumps(report.data, indent=2, default=str) + "\n", encoding="utf-8")
    (out / "bench.md").write_text(report.data["tables_markdown"] + "\n", encoding="utf-8")
    print(machine_line)
    print(f"written {out / 'bench.json'} (and bench-{stamp}.json, bench.md)")
    if report.failed:
        print(f"rag bench: failed parts: {', '.join(report.failed)}", file=sys.stderr)
