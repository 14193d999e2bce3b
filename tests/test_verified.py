"""Opening an index hashes only segment files that changed since they last hashed whole;
a changed file is still refused, and `rag check` still hashes everything."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import rag.store
from rag.errors import CorruptIndex
from rag.integrity import check_index
from tests.test_segments import articles, pipeline_at


def hashed_files(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real = rag.store._sha256

    def counting(path: Path) -> str:
        seen.append(path.name)
        return real(path)

    monkeypatch.setattr(rag.store, "_sha256", counting)
    return seen


def test_a_written_segment_opens_without_hashing(tmp_path: Path, monkeypatch):
    writer = pipeline_at(tmp_path, "i")
    writer.ingest(articles(5))
    writer.ingest(articles(3, seed=1, prefix="b"))
    seen = hashed_files(monkeypatch)
    reader = pipeline_at(tmp_path, "i")
    assert len(reader.snapshot.articles) == 8 and seen == []
    always = pipeline_at(tmp_path, "i", checksum_on_load="always")
    assert len(always.snapshot.articles) == 8 and "vectors.npy" in seen


def test_a_changed_file_is_hashed_and_refused_even_with_its_times_put_back(tmp_path: Path):
    writer = pipeline_at(tmp_path, "i")
    writer.ingest(articles(5))
    (segment,) = writer.snapshot.segments
    path = segment.folder / "vectors.npy"
    before = os.stat(path)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # same size; mtime put back below, ctime cannot be
    path.write_bytes(bytes(data))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    with pytest.raises(CorruptIndex, match="checksum"):
        pipeline_at(tmp_path, "i").open()
    assert any("checksum" in p.message for p in check_index(writer.store))


def test_check_hashes_every_file_whatever_the_stamps_say(tmp_path: Path, monkeypatch):
    writer = pipeline_at(tmp_path, "i")
    writer.ingest(articles(5))
    seen = hashed_files(monkeypatch)
    monkeypatch.setattr("rag.integrity._sha256", rag.store._sha256)
    assert check_index(writer.store) == []
    assert "vectors.npy" in seen and "index.faiss" in seen


def test_pruned_segments_are_forgotten(tmp_path: Path):
    pipeline = pipeline_at(tmp_path, "i", merge_factor=2, merge_floor_chunks=1000)
    for i in range(4):
        pipeline.ingest(articles(2, seed=i, prefix=f"p{i}"))
        pipeline.wait_merges()
    stamps = pipeline.store.verified._read()
    on_disk = {f"segments/{p.name}" for p in pipeline.store.segments_dir.iterdir()}
    assert stamps.keys() <= on_disk | {
        f"snapshots/{p.name}" for p in pipeline.store.snapshots_dir.iterdir()
    }
    assert {f"segments/{s.name}" for s in pipeline.snapshot.segments} <= stamps.keys()
