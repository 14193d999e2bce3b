"""Shared fixtures: settings on a temporary index, a pipeline with the fake embedder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag.embedding import HashingEmbedder
from rag.pipeline import Pipeline
from rag.settings import PROJECT_ROOT, Settings

SEEDS = PROJECT_ROOT / "seeds"
SEED_FILE = next(SEEDS.glob("*.txt"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """An integration test (real model, browser, server) is a slow one: `-m "not slow"` skips it."""
    for item in items:
        if item.get_closest_marker("integration") and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS, seeds)
    return Settings(index_dir=tmp_path / "index", seeds_dir=seeds)


@pytest.fixture
def fake_pipeline(settings: Settings) -> Pipeline:
    """A pipeline whose embedder is a deterministic bag of words (no model load)."""
    return Pipeline(settings, embedder=HashingEmbedder(dim=64))


@pytest.fixture(scope="session")
def real_embedder():
    """The real bundled all-MiniLM-L6-v2, loaded once per test session."""
    from rag.embedding import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture
def seed_pipeline(settings: Settings, real_embedder) -> Pipeline:
    pipeline = Pipeline(settings, embedder=real_embedder)
    pipeline.ensure_index()
    return pipeline
