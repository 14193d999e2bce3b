"""Fixtures for the HTTP edge: in-process clients on the fake embedder, and a real `rag serve`.

Test modules load them with `pytest_plugins = ["api_fixtures"]` (tests/conftest.py belongs to
the core) and get constants through fixtures (`token`, `auth`): importing this module by name
as well would keep pytest from rewriting its asserts.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.config import ApiSettings
from rag.pipeline import Pipeline
from rag.serve_process import ServeProcess, start
from rag.settings import PROJECT_ROOT

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ODESSA = "how many were wounded in Odessa?"
FAKE_EMBEDDING_MODEL = "hashing:64"  # rag/embedder_factory.py: no model load
SERVER_START_S = 180  # model load + seed index build on a slow, shared CI machine


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


def running_server(
    workdir: Path, token: str | None = TOKEN, extra_env: dict[str, str] | None = None
) -> ServeProcess:
    """A real `rag serve` (real bundled model) on a free port, over a copy of the seeds."""
    seeds = workdir / "seeds"
    shutil.copytree(PROJECT_ROOT / "seeds", seeds)
    env = {"RAG_SEEDS_DIR": str(seeds), "TRANSFORMERS_OFFLINE": "1", **(extra_env or {})}
    if token:
        env["RAG_API_TOKEN"] = token
    return start(
        workdir / "index",
        workdir / "server.log",
        env=env,
        clean_env=True,
        start_timeout_s=SERVER_START_S,
    )


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """One real server for the whole session; tests clean up what they add."""
    with running_server(tmp_path_factory.mktemp("live-server")) as server:
        yield server


@pytest.fixture(scope="session")
def fake_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """A real `rag serve` process on the fake embedder (starts in seconds): for the HTTP edge
    and the CLI's --server, where what is measured is not the model."""
    workdir = tmp_path_factory.mktemp("fake-server")
    with running_server(workdir, extra_env={"RAG_EMBEDDING_MODEL": FAKE_EMBEDDING_MODEL}) as server:
        yield server
