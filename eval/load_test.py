"""Load test: concurrent clients on POST /ask and GET /search for a fixed time, on 127.0.0.1.

    .venv/bin/python eval/load_test.py                      # 32 clients, 10 s warm-up, 60 s
    .venv/bin/python eval/load_test.py --clients 8 --duration 20 --report eval/reports/load.json

By default it starts its own `rag serve` (the real bundled model) over a temporary copy of
seeds/ on a free 127.0.0.1 port and stops it at the end; `--url` points it at a server already
running on this machine (loopback addresses only). Bounded in time (`--warmup` + `--duration`)
and in requests (`--max-requests`). Questions come from eval/seed.jsonl; each client alternates
/ask and /search. Resident memory is the server's own `process_resident_memory_bytes` from
/metrics, read once a second from the end of the warm-up.

Passes (exit 0) with no 5xx, no failed connection, and resident memory at the end less than
`--max-rss-growth` (10%) above what it was after the warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from http_latency import seed_server
from prometheus_client.parser import text_string_to_metric_families

from rag.bench.common import percentile

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
REQUEST_TIMEOUT_S = 60
RSS_EVERY_S = 1.0


@dataclass
class Sample:
    endpoint: str
    status: int  # 0: the connection failed
    seconds: float


@dataclass
class Run:
    samples: list[Sample] = field(default_factory=list)
    rss: list[tuple[float, int]] = field(default_factory=list)  # (seconds into the run, bytes)
    wall_s: float = 0.0


def questions_from(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


async def resident_bytes(client: httpx.AsyncClient) -> int:
    text = (await client.get("/metrics")).text
    for family in text_string_to_metric_families(text):
        if family.name == "process_resident_memory_bytes":
            return int(family.samples[0].value)
    raise RuntimeError("/metrics has no process_resident_memory_bytes")


async def one(client: httpx.AsyncClient, endpoint: str, question: str) -> Sample:
    started = time.perf_counter()
    try:
        if endpoint == "ask":
            response = await client.post("/ask", json={"question": question})
        else:
            response = await client.get("/search", params={"q": question})
        status = response.status_code
    except httpx.TransportError:
        status = 0
    return Sample(endpoint, status, time.perf_counter() - started)


async def load(
    client: httpx.AsyncClient,
    questions: Sequence[str],
    clients: int,
    seconds: float,
    budget: int,
    watch_rss: bool,
) -> Run:
    """`clients` loops sending requests until `seconds` pass or `budget` requests are sent."""
    run = Run()
    began = time.perf_counter()
    deadline = began + seconds
    sent = 0

    async def client_loop(n: int) -> None:
        nonlocal sent
        i = n
        while time.perf_counter() < deadline and sent < budget:
            sent += 1
            endpoint = "ask" if i % 2 == 0 else "search"
            run.samples.append(await one(client, endpoint, questions[i % len(questions)]))
            i += 1

    async def rss_loop() -> None:
        while time.perf_counter() < deadline:
            run.rss.append((time.perf_counter() - began, await resident_bytes(client)))
            await asyncio.sleep(RSS_EVERY_S)

    tasks = [client_loop(n) for n in range(clients)]
    await asyncio.gather(*tasks, *([rss_loop()] if watch_rss else []))
    run.wall_s = time.perf_counter() - began
    if watch_rss:  # and once more, after the last request
        run.rss.append((run.wall_s, await resident_bytes(client)))
    return run


def summary(run: Run, clients: int) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for endpoint in ("ask", "search", "all"):
        picked = [s for s in run.samples if endpoint in (s.endpoint, "all")]
        ms = [s.seconds * 1000 for s in picked if s.status]
        rows[endpoint] = {
            "requests": len(picked),
            "req_per_s": round(len(picked) / run.wall_s, 1),
            "p50_ms": round(percentile(ms, 0.50), 1) if ms else None,
            "p99_ms": round(percentile(ms, 0.99), 1) if ms else None,
            "max_ms": round(max(ms), 1) if ms else None,
        }
    statuses = Counter(s.status for s in run.samples)
    first, last = run.rss[0][1], run.rss[-1][1]
    return {
        "clients": clients,
        "seconds": round(run.wall_s, 1),
        "endpoints": rows,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "server_errors": sum(v for k, v in statuses.items() if k >= 500),
        "failed_connections": statuses.get(0, 0),
        "rss_mb": {
            "after_warmup": round(first / 2**20, 1),
            "end": round(last / 2**20, 1),
            "max": round(max(b for _, b in run.rss) / 2**20, 1),
            "growth_pct": round(100 * (last - first) / first, 2),
        },
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        "| endpoint | requests | req/s | p50 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in result["endpoints"].items():
        lines.append(
            f"| {name} | {row['requests']} | {row['req_per_s']} | {row['p50_ms']} "
            f"| {row['p99_ms']} | {row['max_ms']} |"
        )
    rss = result["rss_mb"]
    lines += [
        "",
        f"statuses {result['statuses']}; 5xx: {result['server_errors']}; "
        f"failed connections: {result['failed_connections']}",
        f"resident memory: {rss['after_warmup']} MB after warm-up, {rss['end']} MB at the end "
        f"(max {rss['max']} MB): {rss['growth_pct']:+.2f}%",
    ]
    return "\n".join(lines)


async def measure(base_url: str, args: argparse.Namespace) -> dict[str, Any]:
    questions = questions_from(args.questions)
    token = os.environ.get("RAG_API_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    limits = httpx.Limits(max_connections=args.clients + 1, max_keepalive_connections=args.clients)
    async with httpx.AsyncClient(
        base_url=base_url, timeout=REQUEST_TIMEOUT_S, limits=limits, headers=headers
    ) as client:
        print(f"warm-up: {args.clients} clients, {args.warmup:.0f} s", file=sys.stderr)
        warm = await load(client, questions, args.clients, args.warmup, args.max_requests, False)
        budget = max(args.max_requests - len(warm.samples), 0)
        print(f"measuring: {args.clients} clients, {args.duration:.0f} s", file=sys.stderr)
        run = await load(client, questions, args.clients, args.duration, budget, True)
    result = summary(run, args.clients)
    result["warmup"] = {"seconds": round(warm.wall_s, 1), "requests": len(warm.samples)}
    result["warmup"]["server_errors"] = sum(s.status >= 500 for s in warm.samples)
    return result


def loopback_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme != "http" or parts.hostname not in LOOPBACK:
        raise argparse.ArgumentTypeError(f"{text!r}: only http:// on 127.0.0.1 (or localhost)")
    return text.rstrip("/")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (32)")
    parser.add_argument("--duration", type=float, default=60, help="measured seconds (60)")
    parser.add_argument("--warmup", type=float, default=10, help="seconds of load first (10)")
    parser.add_argument("--max-requests", type=int, default=100_000, help="bound on requests")
    parser.add_argument("--max-rss-growth", type=float, default=10.0, help="percent (10)")
    parser.add_argument("--url", type=loopback_url, help="a running server on 127.0.0.1")
    parser.add_argument("--questions", type=Path, default=ROOT / "eval" / "seed.jsonl")
    parser.add_argument("--report", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 256 or not 0 < args.duration <= 600 or args.warmup < 0:
        parser.error("--clients 1-256, --duration 0-600 s, --warmup at least 0")

    with tempfile.TemporaryDirectory(prefix="rag-load-") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        base_url = args.url
        try:
            if base_url is None:
                server = stack.enter_context(seed_server(workdir))
                base_url = server.base_url
                print(f"server ready in {server.ready_s:.1f} s", file=sys.stderr)
            result = asyncio.run(measure(base_url, args))
        except RuntimeError as exc:  # ServerNotReady's message ends with the server's log
            print(f"load_test: {exc}", file=sys.stderr)
            return 1
    print(
        f"{args.clients} clients on POST /ask and GET /search for {result['seconds']} s "
        f"after a {result['warmup']['seconds']} s warm-up"
    )
    print(table(result))
    if args.report:
        args.report.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    ok = (
        result["server_errors"] == 0
        and result["warmup"]["server_errors"] == 0
        and result["failed_connections"] == 0
        and result["rss_mb"]["growth_pct"] < args.max_rss_growth
    )
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
