"""`rag bench`: the performance benchmark (registered into `rag` by rag/cli.py)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

TINY: dict[str, Any] = {  # a smoke run in seconds (tests: RAG_EMBEDDING_MODEL=hashing:64)
    "min_chunks": 20,
    "questions": 10,
    "sizes": (200, 500),
    "requests": 5,
    "warm_up_questions": 5,
    "http_seconds": 10.0,
    "concurrency": (2,),
    "concurrency_seconds": 1.0,
    "concurrency_requests": 10,
    "backends": ("torch",),
    "peer": False,
    "scale_chunks": 2_000,
    "scale_queries": 10,
}


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v.replace("_", "")) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of counts"
        ) from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give counts of at least 1")
    return values


def _backends(text: str) -> tuple[str, ...]:
    values = tuple(v.strip() for v in text.split(",") if v.strip())
    bad = [v for v in values if v not in ("torch", "onnx", "onnx-int8")]
    if not values or bad:
        raise argparse.ArgumentTypeError("backends are torch, onnx, onnx-int8 (comma-separated)")
    return values


TINY_SEGMENTS: dict[str, Any] = {
    "base_chunks": 40,
    "small": 200,
    "large": 2_000,
    "layout": (1_220, 200, 200, 200, 50, 50, 50, 10, 10, 10),
    "writes": 3,
    "requests": 5,
    "soak_minutes": 0.1,
    "soak_clients": 2,
    "reader": False,  # the reader's row is the real run's; the tiny run checks the plumbing
}


def cmd_bench(args: argparse.Namespace) -> int:
    if args.store == "postgres":
        import json

        from rag.bench.pg_scale import run_pg_scale
        from rag.cli import _settings

        report = run_pg_scale(
            args.scale_chunks or 1_000_000,
            _settings(args),
            queries=args.requests or 200,
            m=args.hnsw_m,
            ef_construction=args.hnsw_ef_construction,
            maintenance_work_mem=args.pg_maintenance_work_mem,
            out=Path(args.out) if args.out else Path("eval/reports"),
        )
        print(json.dumps(report, indent=2))
        return 0
    from rag.bench.run import BenchOptions, run
    from rag.cli import _settings

    if args.segments or args.soak is not None:
        return _segments(args, _settings(args))

    options = BenchOptions(**(TINY if args.tiny else {}))
    given = {
        "sizes": args.sizes,
        "questions": args.questions,
        "requests": args.requests,
        "backends": args.backends,
        "scale_chunks": args.scale_chunks,
        "out": Path(args.out) if args.out else None,
    }
    for key, value in given.items():
        if value is not None:
            setattr(options, key, value)
    options.scale = args.scale
    options.peer = options.peer and not args.no_peer
    return run(_settings(args), options)


def register(sub: Any, add: Any) -> None:
    p = add("bench", cmd_bench, "measure ingestion, latency, concurrency, start-up, growth")
    p.add_argument("--scale", action="store_true", help="also the 1M-vector index-type test")
    p.add_argument("--scale-chunks", type=int, help="vectors in the scale test (1,000,000)")
    p.add_argument("--sizes", type=_ints, help="growth sizes, e.g. 1000,10000,100000")
    p.add_argument("--questions", type=int, help="SQuAD questions for the peer (0: all 5,397)")
    p.add_argument("--requests", type=int, help="HTTP requests per endpoint, one client (100)")
    p.add_argument("--backends", type=_backends, help="query encoders: torch,onnx,onnx-int8")
    p.add_argument("--no-peer", action="store_true", help="skip the LangChain comparison")
    p.add_argument("--out", help="report folder (default eval/reports)")
    p.add_argument("--tiny", action="store_true", help="a smoke run on tiny sizes")
    p.add_argument(
        "--store",
        choices=("embedded", "postgres"),
        default="embedded",
        help="postgres: the --scale vectors in PostgreSQL + pgvector HNSW beside FAISS HNSW "
        "(--scale-chunks N, --requests = queries)",
    )
    p.add_argument("--hnsw-m", type=int, default=16, help="with --store postgres: HNSW m (16)")
    p.add_argument(
        "--hnsw-ef-construction",
        type=int,
        default=64,
        help="with --store postgres: HNSW ef_construction (64)",
    )
    p.add_argument(
        "--pg-maintenance-work-mem",
        default="8GB",
        help="with --store postgres: memory for the HNSW build (keep the graph in it; 8GB)",
    )
    p.add_argument(
        "--segments",
        action="store_true",
        help="only the segmented index's rows: one article's write at 1k and 100k chunks, "
        "start-up, queries over 1 vs 10 segments, and a soak",
    )
    p.add_argument(
        "--soak",
        type=float,
        metavar="MINUTES",
        help="with --segments: minutes of one write a second while 8 clients query (2; 0: none)",
    )


def _segments(args: argparse.Namespace, settings: Any) -> int:
    import json
    import tempfile
    import time

    from rag.bench.segments import SegmentOptions, run_segments, segment_tables
    from rag.settings import PROJECT_ROOT

    options = SegmentOptions(**(TINY_SEGMENTS if args.tiny else {}))
    if args.soak is not None:
        options.soak_minutes = args.soak
    if args.requests is not None:
        options.requests = args.requests
    out = Path(args.out) if args.out else PROJECT_ROOT / "eval" / "reports"
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rag-bench-segments-") as tmp:
        data = run_segments(settings, options, Path(tmp))
    data["wall_s"] = round(time.perf_counter() - started, 1)
    text = segment_tables(data)
    print(text)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench-segments.json").write_text(json.dumps(data, indent=2, default=str) + "\n")
    (out / "bench-segments.md").write_text(text)
    print(f"written {out / 'bench-segments.json'} (and bench-segments.md), {data['wall_s']} s")
    return 0
