"""Latency of POST /ask over HTTP: start a real `rag serve` on the seed index, time N requests.

    .venv/bin/python eval/http_latency.py --requests 200 --warmup 10

The server runs on a free 127.0.0.1 port over a temporary copy of seeds/ (the real bundled
model), and is stopped when the script ends, whatever happens.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from rag import serve_process
from rag.bench.common import Latency
from rag.bench.http import ask_request, timed
from rag.serve_process import ServerNotReady

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = (
    "how many were wounded in Odessa?",
    "who supported Putin's stance?",
    "where were drone strikes reported?",
    "how many tanks were destroyed near Bakhmut?",  # the sources do not say
)
START_TIMEOUT_S = 180
SERVER_ARGS = ("--log-level", "warning")


def seed_server(workdir: Path) -> serve_process.ServeProcess:
    """`rag serve` building its index from a copy of seeds/ in `workdir`, once ready."""
    return serve_process.start(
        workdir / "index",
        workdir / "server.log",
        args=SERVER_ARGS,
        env=seeds_env(workdir),
        clean_env=True,
        start_timeout_s=START_TIMEOUT_S,
    )


def seeds_env(workdir: Path) -> dict[str, str]:
    """A copy of seeds/ in `workdir` for the server to build its index from, as its setting."""
    shutil.copytree(ROOT / "seeds", workdir / "seeds")
    return {"RAG_SEEDS_DIR": str(workdir / "seeds")}


def time_requests(base_url: str, questions: Sequence[str], n: int, concurrency: int) -> list[float]:
    """Seconds per POST /ask, questions taken in turn; every answer must be a 200."""

    def one(i: int, client: httpx.Client) -> float:
        elapsed, response = timed(client, ask_request, questions[i % len(questions)])
        if response.status_code != 200:
            raise RuntimeError(f"POST /ask answered {response.status_code}: {response.text[:200]}")
        return elapsed

    with httpx.Client(base_url=base_url, timeout=60) as client:
        if concurrency == 1:
            return [one(i, client) for i in range(n)]
        with ThreadPoolExecutor(concurrency) as pool:
            return list(pool.map(lambda i: one(i, client), range(n)))


def report(latencies: Sequence[float], wall_s: float, concurrency: int) -> str:
    latency = Latency.of_seconds(latencies)
    rows = [
        ("requests", f"{latency.n}"),
        ("concurrency", f"{concurrency}"),
        ("p50 ms", f"{latency.p50:.1f}"),
        ("p95 ms", f"{latency.p95:.1f}"),
        ("p99 ms", f"{latency.p99:.1f}"),
        ("mean ms", f"{latency.mean:.1f}"),
        ("max ms", f"{max(latencies) * 1000:.1f}"),
        ("throughput req/s", f"{latency.n / wall_s:.1f}"),
    ]
    width = max(len(k) for k, _ in rows)
    vwidth = max(len("value"), *(len(v) for _, v in rows))
    lines = [
        f"| {'metric':{width}} | {'value':>{vwidth}} |",
        f"|{'-' * (width + 2)}|{'-' * (vwidth + 2)}|",
    ]
    lines += [f"| {k:{width}} | {v:>{vwidth}} |" for k, v in rows]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="timed requests (default 200)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed requests first")
    parser.add_argument("--concurrency", type=int, default=1, help="requests in flight at once")
    parser.add_argument("--question", action="append", help="question to ask (repeatable)")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.warmup < 0 or args.concurrency < 1:
        parser.error("--requests and --concurrency must be at least 1, --warmup at least 0")
    questions = tuple(args.question or QUESTIONS)
    with tempfile.TemporaryDirectory(prefix="rag-latency-") as tmp:
        workdir = Path(tmp)
        started = time.monotonic()
        try:
            with seed_server(workdir) as server:
                base_url = server.base_url
                ready_s = time.monotonic() - started
                print(f"server ready in {ready_s:.1f} s at {base_url}", file=sys.stderr)
                time_requests(base_url, questions, args.warmup, 1)
                began = time.perf_counter()
                latencies = time_requests(base_url, questions, args.requests, args.concurrency)
                wall = time.perf_counter() - began
        except ServerNotReady as exc:  # its message ends with the server's log
            print(f"http_latency: {exc}", file=sys.stderr)
            return 1
        except RuntimeError as exc:
            tail = (workdir / "server.log").read_text(errors="replace")[-2000:]
            print(f"http_latency: {exc}\n{tail}", file=sys.stderr)
            return 1
    print(f"POST /ask over HTTP, seed index, {len(questions)} question(s) asked in turn")
    print(report(latencies, wall, args.concurrency))
    return 0


if __name__ == "__main__":
    sys.exit(main())
