"""Fixtures for the HTTP edge: in-process clients on the fake embedder, and a real `rag serve`.

Test modules load them with `pytest_plugins = ["api_fixtures"]` (tests/conftest.py belongs to
the core) and get constants through fixtures (`token`, `auth`): importing this module by name
as well would keep pytest from rewriting its asserts.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.config import ApiSettings
from rag.pipeline import Pipeline
from rag.settings import PROJECT_ROOT

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ODESSA = "how many were wounded in Odessa?"
SERVER_START_S = 180  # model load + seed index build on a slow, shared CI machine
SERVER_STOP_S = 15


def make_api_settings(**overrides: Any) -> ApiSettings:
    """API settings independent of the caller's environment (every field given)."""
    values: dict[str, Any] = {
        "api_token": TOKEN,
        "protect_reads": False,
        "max_body_bytes": 64_000,
        "max_batch": 20,
        "cors_origins": [],
    }
    values.update(overrides)
    return ApiSettings(**values)


@pytest.fixture
def make_client(fake_pipeline: Pipeline) -> Iterator[Callable[..., TestClient]]:
    """Start the app (lifespan included) on the fake pipeline with the given API settings."""
    started: list[TestClient] = []

    def start(pipeline: Pipeline | None = None, **overrides: Any) -> TestClient:
        pipeline = pipeline or fake_pipeline
        app = create_app(pipeline.settings, pipeline, make_api_settings(**overrides))
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        started.append(client)
        return client

    yield start
    for client in started:
        client.__exit__(None, None, None)


@pytest.fixture
def token() -> str:
    return TOKEN


@pytest.fixture
def auth() -> dict[str, str]:
    """Headers that carry the test token."""
    return dict(AUTH)


@pytest.fixture
def fresh_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    """rag/cli.py appends to a module list on every main(); start each test from an empty one."""
    import rag.cli

    monkeypatch.setattr(rag.cli, "EXTENSIONS", [])


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    base_url: str
    index_dir: Path
    log_path: Path
    env: dict[str, str]

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=60, **kwargs)

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]


def server_env(seeds: Path, token: str | None) -> dict[str, str]:
    """The parent's environment minus any RAG_ setting, plus what the test server needs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(
        RAG_SEEDS_DIR=str(seeds),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        PYTHONUNBUFFERED="1",
    )
    if token:
        env["RAG_API_TOKEN"] = token
    return env


def wait_ready(proc: subprocess.Popen[bytes], base_url: str, deadline_s: float) -> bool:
    """True once /readyz answers 200; False if the process exits first."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    return False


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=SERVER_STOP_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def running_server(workdir: Path, token: str | None = TOKEN) -> Iterator[LiveServer]:
    """A real `rag serve` (real bundled model) on a free port, over a copy of the seeds."""
    seeds = workdir / "seeds"
    shutil.copytree(PROJECT_ROOT / "seeds", seeds)
    index_dir, log_path = workdir / "index", workdir / "server.log"
    env = server_env(seeds, token)
    for _attempt in range(3):  # another process may grab the free port before the server does
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "rag.cli", "serve", "--host", "127.0.0.1"]
        command += ["--port", str(port), "--index", str(index_dir)]
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            if wait_ready(proc, base_url, SERVER_START_S):
                yield LiveServer(base_url, index_dir, log_path, env)
                return
            if proc.poll() is None:  # neither ready nor dead in time
                break
        finally:
            stop(proc)
    tail = log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
    pytest.fail(f"`rag serve` did not become ready; its log ends with:\n{tail}")


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One real server for the whole session; tests clean up what they add."""
    with running_server(tmp_path_factory.mktemp("live-server")) as server:
        yield server
