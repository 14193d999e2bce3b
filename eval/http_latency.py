"""Latency of POST /ask over HTTP: start a real `rag serve` on the seed index, time N requests.

    .venv/bin/python eval/http_latency.py --requests 200 --warmup 10

The server runs on a free 127.0.0.1 port over a temporary copy of seeds/ (the real bundled
model), and is stopped when the script ends, whatever happens.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = (
    "how many were wounded in Odessa?",
    "who supported Putin's stance?",
    "where were drone strikes reported?",
    "how many tanks were destroyed near Bakhmut?",  # the sources do not say
)
START_TIMEOUT_S = 180
STOP_TIMEOUT_S = 15


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of a non-empty sample.

    >>> percentile([1, 2, 3, 4], 0.5), percentile([1, 2, 3, 4], 0.95)
    (2, 4)
    """
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(workdir: Path, port: int) -> subprocess.Popen[bytes]:
    shutil.copytree(ROOT / "seeds", workdir / "seeds")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(
        RAG_SEEDS_DIR=str(workdir / "seeds"), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false"
    )
    command = [sys.executable, "-m", "rag.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--index", str(workdir / "index"), "--log-level", "warning"]
    log = (workdir / "server.log").open("wb")
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_ready(proc: subprocess.Popen[bytes], base_url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with status {proc.returncode}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server was not ready after {START_TIMEOUT_S} s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def time_requests(base_url: str, questions: Sequence[str], n: int, concurrency: int) -> list[float]:
    """Seconds per POST /ask, questions taken in turn; every answer must be a 200."""

    def one(i: int, client: httpx.Client) -> float:
        started = time.perf_counter()
        response = client.post("/ask", json={"question": questions[i % len(questions)]})
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"POST /ask answered {response.status_code}: {response.text[:200]}")
        return elapsed

    with httpx.Client(base_url=base_url, timeout=60) as client:
        if concurrency == 1:
            return [one(i, client) for i in range(n)]
        with ThreadPoolExecutor(concurrency) as pool:
            return list(pool.map(lambda i: one(i, client), range(n)))


def report(latencies: Sequence[float], wall_s: float, concurrency: int) -> str:
    ms = [x * 1000 for x in latencies]
    rows = [
        ("requests", f"{len(ms)}"),
        ("concurrency", f"{concurrency}"),
        ("p50 ms", f"{percentile(ms, 0.50):.1f}"),
        ("p95 ms", f"{percentile(ms, 0.95):.1f}"),
        ("p99 ms", f"{percentile(ms, 0.99):.1f}"),
        ("mean ms", f"{statistics.fmean(ms):.1f}"),
        ("max ms", f"{max(ms):.1f}"),
        ("throughput req/s", f"{len(ms) / wall_s:.1f}"),
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
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="rag-latency-") as tmp:
        workdir = Path(tmp)
        started = time.monotonic()
        proc = start_server(workdir, port)
        try:
            wait_ready(proc, base_url)
            print(
                f"server ready in {time.monotonic() - started:.1f} s at {base_url}", file=sys.stderr
            )
            time_requests(base_url, questions, args.warmup, 1)
            began = time.perf_counter()
            latencies = time_requests(base_url, questions, args.requests, args.concurrency)
            wall = time.perf_counter() - began
        except RuntimeError as exc:
            tail = (workdir / "server.log").read_text(errors="replace")[-2000:]
            print(f"http_latency: {exc}\n{tail}", file=sys.stderr)
            return 1
        finally:
            stop_server(proc)
    print(f"POST /ask over HTTP, seed index, {len(questions)} question(s) asked in turn")
    print(report(latencies, wall, args.concurrency))
    return 0


if __name__ == "__main__":
    sys.exit(main())
