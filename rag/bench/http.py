"""A real `rag serve` on 127.0.0.1: start-up, memory at rest, latency, concurrency."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from rag.bench.common import Latency, rss_mb
from rag.settings import PROJECT_ROOT

START_TIMEOUT_S = 600
STOP_TIMEOUT_S = 15
REQUEST_TIMEOUT_S = 120

Request = Callable[[httpx.Client, str], httpx.Response]


def search_request(client: httpx.Client, question: str) -> httpx.Response:
    return client.get("/search", params={"q": question, "k": 5})


def ask_request(client: httpx.Client, question: str) -> httpx.Response:
    return client.post("/ask", json={"question": question})


ENDPOINTS: dict[str, Request] = {"GET /search": search_request, "POST /ask": ask_request}


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    base_url: str
    ready_s: float
    log: Path

    @property
    def rss_mb(self) -> float:
        return rss_mb(self.proc.pid)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serving(index_dir: Path, env: dict[str, str], log: Path) -> Iterator[Server]:
    """`rag serve --index DIR` in a child process until the block ends, whatever happens."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    child_env = {**os.environ, **env, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    command = [sys.executable, "-m", "rag.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--index", str(index_dir), "--log-level", "warning"]
    with log.open("wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=child_env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            _wait_ready(proc, base_url, log)
            yield Server(proc, base_url, time.perf_counter() - started, log)
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def _wait_ready(proc: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-1500:]
            raise RuntimeError(f"the server exited with status {proc.returncode}:\n{tail}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"the server was not ready after {START_TIMEOUT_S} s")


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
            started = time.perf_counter()
            response = request(client, question)
            seconds.append(time.perf_counter() - started)
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
