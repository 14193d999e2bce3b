"""A real `rag serve` on 127.0.0.1: start-up, memory at rest, latency, concurrency."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from rag.bench.common import Latency
from rag.serve_process import ServeProcess, start

START_TIMEOUT_S = 600
REQUEST_TIMEOUT_S = 120

Request = Callable[[httpx.Client, str], httpx.Response]


def search_request(client: httpx.Client, question: str) -> httpx.Response:
    return client.get("/search", params={"q": question, "k": 5})


def ask_request(client: httpx.Client, question: str) -> httpx.Response:
    return client.post("/ask", json={"question": question})


ENDPOINTS: dict[str, Request] = {"GET /search": search_request, "POST /ask": ask_request}


def serving(index_dir: Path, env: dict[str, str], log: Path) -> ServeProcess:
    """`rag serve --index DIR` in a child process; `with` it to stop it whatever happens."""
    return start(
        index_dir, log, args=("--log-level", "warning"), env=env, start_timeout_s=START_TIMEOUT_S
    )


def timed(client: httpx.Client, request: Request, question: str) -> tuple[float, httpx.Response]:
    """One request, and the seconds it took."""
    started = time.perf_counter()
    response = request(client, question)
    return time.perf_counter() - started, response


def one_client(
    base_url: str, request: Request, questions: list[str], max_s: float
) -> dict[str, Any]:
    """Each question once, in turn, one request at a time, until they run out or time does."""
    seconds, errors = [], 0
    deadline = time.monotonic() + max_s
    with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_S) as client:
        for question in questions:
            if time.monotonic() > deadline:
                break
            elapsed, response = timed(client, request, question)
            seconds.append(elapsed)
            errors += response.status_code != 200
    return {**Latency.of_seconds(seconds).to_dict(), "errors": errors}


def many_clients(
    base_url: str,
    request: Request,
    questions: list[str],
    clients: int,
    max_s: float,
    max_requests: int,
) -> dict[str, Any]:
    """`clients` threads, each with its own connection, sharing a request budget and a deadline."""
    lock = threading.Lock()
    seconds: list[float] = []
    failures: list[str] = []
    issued = 0
    deadline = time.monotonic() + max_s

    def worker() -> None:
        nonlocal issued
        with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_S) as client:
            while time.monotonic() < deadline:
                with lock:
                    if issued >= max_requests:
                        return
                    question = questions[issued % len(questions)]
                    issued += 1
                started = time.perf_counter()
                try:
                    response = request(client, question)
                    failed = "" if response.status_code == 200 else str(response.status_code)
                except httpx.HTTPError as exc:
                    failed = type(exc).__name__
                with lock:
                    seconds.append(time.perf_counter() - started)
                    if failed:
                        failures.append(failed)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    latency = Latency.of_seconds(seconds)
    return {
        "clients": clients,
        "requests": len(seconds),
        "wall_s": round(wall, 2),
        "requests_per_s": round(len(seconds) / wall, 1) if wall else 0.0,
        "p50": latency.p50,
        "p99": latency.p99,
        "errors": len(failures),
        "error_kinds": sorted(set(failures)),
    }
