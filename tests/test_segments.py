"""A segmented index searches, merges and migrates as one index would."""

from __future__ import annotations

import hashlib
import json
import random
import threading
from pathlib import Path

import faiss
import numpy as np
import pytest

from rag.documents import Article
from rag.embedding import HashingEmbedder
from rag.integrity import check_index
from rag.merging import plan_merge, tier
from rag.pipeline import Pipeline
from rag.postings import Postings
from rag.settings import Settings
from rag.store import _write_meta
from rag.vector_index import CoarseLists, IndexParams, build_index

PLACES = ["Kharkiv", "Odesa", "Sumy", "Kherson", "Dnipro", "Lviv", "Mariupol", "Zaporizhzhia"]
WHAT = ["drone", "missile", "shelling", "strike", "attack", "blast"]


def articles(n: int, seed: int = 0, prefix: str = "a") -> list[Article]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        place, what = rng.choice(PLACES), rng.choice(WHAT)
        text = " ".join(
            f"A {rng.choice(WHAT)} hit {rng.choice(PLACES)} district {rng.randint(1, 40)} and "
            f"{rng.randint(2, 90)} people were wounded, officials in {place} said."
            for _ in range(rng.randint(1, 12))
        )
        out.append(Article(id=f"{prefix}{i:03d}", title=f"{what} in {place}", text=text))
    return out


QUESTIONS = [
    "how many were wounded in Kharkiv?",
    "drone strike Odesa district",
    "missile attack on Sumy",
    "blast Lviv officials",
    "Mariupol shelling wounded people",
]


def pipeline_at(tmp_path: Path, name: str, **settings: object) -> Pipeline:
    base = {"index_dir": tmp_path / name, "fold_copies": False, "merge_factor": 0}
    return Pipeline(Settings(**{**base, **settings}), embedder=HashingEmbedder(dim=64))  # type: ignore[arg-type]


def results(pipeline: Pipeline) -> list[list[tuple[str, int, int, float, float | None]]]:
    return [
        [(p.doc_id, p.start, p.end, p.score, p.lexical_score) for p in pipeline.search(q, k=10)]
        for q in QUESTIONS
    ]


def test_many_segments_with_tombstones_rank_as_one_segment(tmp_path: Path):
    corpus = articles(60)
    replaced = articles(10, seed=7)  # the same ids a000..a009, new text
    many = pipeline_at(tmp_path, "many")
    for start in range(0, 60, 6):
        many.ingest(corpus[start : start + 6])  # ten segments
    many.ingest(replaced)  # a replacement: tombstones in the first segments
    many.delete("a042")
    # the first segment was wholly replaced: dropped; the second keeps tombstones
    assert len(many.snapshot.segments) == 10 and any(many.snapshot.deleted.values())
    final = {a.id: a for a in corpus} | {a.id: a for a in replaced}
    final.pop("a042")
    one = pipeline_at(tmp_path, "one")
    one.ingest(list(final.values()))
    assert len(one.snapshot.segments) == 1
    assert many.snapshot.articles.keys() == one.snapshot.articles.keys()
    got, want = results(many), results(one)
    assert [[r[:3] for r in q] for q in got] == [[r[:3] for r in q] for q in want]
    for q_got, q_want in zip(got, want, strict=True):
        assert [r[3] for r in q_got] == pytest.approx([r[3] for r in q_want], abs=1e-5)
        assert [r[4] or 0.0 for r in q_got] == pytest.approx(
            [r[4] or 0.0 for r in q_want], abs=1e-4
        )
    assert check_index(many.store) == [] and check_index(one.store) == []


def test_a_merge_keeps_the_results_and_drops_tombstones(tmp_path: Path):
    many = pipeline_at(tmp_path, "many")
    for start in range(0, 40, 5):
        many.ingest(articles(40)[start : start + 5])
    many.delete("a003")
    before = results(many)
    names = [s.name for s in many.snapshot.segments]
    merged = many.store.merge(names[:4])
    assert merged is not None and len(merged.segments) == len(names) - 3
    assert not merged.deleted.get(merged.segments[0].name)  # rewritten without the deleted
    assert "a003" not in merged.segments[0].articles
    many._install(merged)
    assert [[r[:3] for r in q] for q in results(many)] == [[r[:3] for r in q] for q in before]
    assert check_index(many.store) == []
    assert {p.name for p in (many.store.root / "segments").iterdir()} >= {
        s.name for s in merged.segments
    }


def test_writes_during_a_merge_are_kept(tmp_path: Path, monkeypatch):
    """A delete that lands while a merge builds its segment is carried onto the merged one."""
    many = pipeline_at(tmp_path, "many")
    for start in range(0, 20, 5):
        many.ingest(articles(20)[start : start + 5])
    names = [s.name for s in many.snapshot.segments]
    original = many.store._write_merged

    def slow_write(*args, **kwargs):
        segment = original(*args, **kwargs)
        writer = threading.Thread(
            target=lambda: (many.delete("a001"), many.ingest(articles(2, 5, "n")))
        )
        writer.start()
        writer.join()  # the write does not wait for the merge
        return segment

    monkeypatch.setattr(many.store, "_write_merged", slow_write)
    merged = many.store.merge(names)
    assert merged is not None
    assert "a001" not in merged.articles and {"n000", "n001"} <= merged.articles.keys()
    assert len(merged.articles) == 21 and check_index(many.store) == []


def test_background_merging_bounds_the_segments(tmp_path: Path):
    pipeline = pipeline_at(tmp_path, "bg", merge_factor=3, merge_floor_chunks=30)
    corpus = articles(60)
    for start in range(0, 60, 2):
        pipeline.ingest(corpus[start : start + 2])
    pipeline.wait_merges()
    snapshot = pipeline.store.load()
    sizes = [int(m.sum()) for m in snapshot.live]
    assert len(snapshot.articles) == 60 and len(sizes) < 30
    assert plan_merge([(n, n) for n in sizes], 30, 3) is None
    assert check_index(pipeline.store) == []


def test_tiers():
    assert [tier(n, 1000, 4) for n in (1, 999, 1000, 4000, 64_000)] == [0, 0, 1, 2, 4]


def test_postings_concat_equals_a_build_of_the_kept_rows():
    docs = [["kyiv", "port"], ["odesa"], [], ["kyiv", "kyiv", "strike"], ["port"]]
    first, second = Postings.build(docs[:3]), Postings.build(docs[3:])
    keep = [np.array([True, False, True]), np.array([True, True])]
    merged = Postings.concat([(first, keep[0]), (second, keep[1])])
    built = Postings.build([docs[0], docs[2], docs[3], docs[4]])
    for term in ("kyiv", "port", "strike", "odesa"):
        a, b = merged.lookup(term), built.lookup(term)
        assert (a is None) == (b is None)
        if a is not None and b is not None:
            assert a[0].tolist() == b[0].tolist() and a[1].tolist() == b[1].tolist()
    assert merged.doc_len.tolist() == built.doc_len.tolist()
    assert merged.problems(4) == []


def write_legacy_index(pipeline: Pipeline, corpus: list[Article]) -> None:
    """An index as format 1 wrote it: one snapshot folder holding every file, no postings."""
    from rag.chunking import chunk_article
    from rag.store import ChunkRecord

    chunks = [
        ChunkRecord(c.article_id, c.start, c.end, c.text)
        for a in corpus
        for c in chunk_article(a, pipeline.splitter)
    ]
    vectors = pipeline.embedder.encode_documents([c.text for c in chunks])
    folder = pipeline.store.snapshots_dir / "000001"
    folder.mkdir(parents=True, mode=0o700)
    _write_meta(folder / "meta.sqlite", {a.id: a for a in corpus}, chunks)
    np.save(folder / "vectors.npy", vectors, allow_pickle=False)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    faiss.write_index(index, str(folder / "index.faiss"))
    spec = pipeline.store.spec
    files = {
        f: hashlib.sha256((folder / f).read_bytes()).hexdigest()
        for f in ("meta.sqlite", "vectors.npy", "index.faiss")
    }
    manifest = {
        "format_version": 1,
        "embedding_model": spec.embedding_model,
        "model_fingerprint": spec.model_fingerprint,
        "dim": spec.dim,
        "chunk_size": spec.chunk_size,
        "chunk_overlap": spec.chunk_overlap,
        "splitter": "langchain-recursive-sentences-v1",
        "index_type": "flat-ip",
        "counts": {"articles": len(corpus), "chunks": len(chunks)},
        "files": files,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    for path in (folder / "meta.sqlite", folder / "vectors.npy", folder / "index.faiss"):
        path.chmod(0o600)
    (folder / "manifest.json").chmod(0o600)
    (pipeline.store.root / "CURRENT").write_text("000001\n")
    (pipeline.store.root / "CURRENT").chmod(0o600)
    for path in (pipeline.store.root, pipeline.store.snapshots_dir):
        path.chmod(0o700)


@pytest.mark.parametrize("how", ["first write", "rag check --upgrade"])
def test_an_index_in_the_old_format_opens_then_migrates(tmp_path: Path, how: str):
    corpus = articles(20)
    old = pipeline_at(tmp_path, "old")
    write_legacy_index(old, corpus)
    assert check_index(old.store) == []
    titled = old.settings.model_copy(update={"embed_titles": True})  # the old index has none
    legacy = Pipeline(titled, embedder=HashingEmbedder(dim=64))
    before = results(legacy)  # opens as it is, BM25 built from the text
    assert legacy.snapshot.manifest["format_version"] == 1
    if how == "first write":
        legacy.ingest(articles(2, seed=3, prefix="n"))
        legacy.delete("n000")
        legacy.delete("n001")
    else:
        assert legacy.upgrade()
        assert not legacy.upgrade()
    reopened = Pipeline(old.settings, embedder=HashingEmbedder(dim=64))
    assert reopened.snapshot.manifest["format_version"] == 2
    assert reopened.snapshot.manifest["embed_titles"] is False  # as its vectors were made
    assert reopened.snapshot.articles.keys() == {a.id for a in corpus}
    assert [[r[:3] for r in q] for q in results(reopened)] == [[r[:3] for r in q] for q in before]
    assert check_index(reopened.store) == []
    if how == "first write":  # two commits later the old folder is pruned
        assert not (old.store.snapshots_dir / "000001").exists()


def test_check_finds_postings_that_do_not_match_the_text(tmp_path: Path):
    pipeline = pipeline_at(tmp_path, "p")
    pipeline.ingest(articles(5))
    folder = pipeline.snapshot.segments[0].folder
    tf = np.load(folder / "bm25_tf.npy")
    tf[0] += 1
    np.save(folder / "bm25_tf.npy", tf)
    info = json.loads((folder / "manifest.json").read_text())
    info["files"]["bm25_tf.npy"] = hashlib.sha256((folder / "bm25_tf.npy").read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(info))
    problems = [str(p) for p in check_index(pipeline.store)]
    assert any("bm25" in p for p in problems), problems


def test_a_write_killed_before_its_manifest_is_whole_leaves_no_manifest(
    tmp_path: Path, monkeypatch
):
    """The snapshot manifest is renamed into place whole: a writer that dies while writing it
    (here: the rename never happens) leaves a folder without one, which neither the loader nor
    `check_index` takes for a complete snapshot, and the next write clears it away."""
    import rag.store

    pipeline = pipeline_at(tmp_path, "index")
    pipeline.ingest(articles(6))
    before = set(pipeline.store.load().articles)
    real_replace = rag.store.os.replace

    def dies_at_the_manifest(src, dst):
        if Path(dst).name == "manifest.json" and Path(dst).parent.parent.name == "snapshots":
            raise KeyboardInterrupt("killed")
        return real_replace(src, dst)

    monkeypatch.setattr(rag.store.os, "replace", dies_at_the_manifest)
    with pytest.raises(KeyboardInterrupt):
        pipeline.ingest(articles(3, seed=2, prefix="b"))
    monkeypatch.undo()

    snapshots = tmp_path / "index" / "snapshots"
    torn = [p for p in snapshots.iterdir() if not (p / "manifest.json").exists()]
    assert len(torn) == 1 and list(torn[0].glob("manifest.json.tmp.*"))
    reopened = pipeline_at(tmp_path, "index")
    assert set(reopened.store.load().articles) == before
    assert check_index(reopened.store) == []
    reopened.ingest(articles(3, seed=2, prefix="b"))
    assert set(reopened.store.load().articles) == before | {"b000", "b001", "b002"}
    assert all((p / "manifest.json").is_file() for p in snapshots.iterdir())


def test_written_and_merged_segments_are_memory_mapped_as_opened_ones_are(tmp_path: Path):
    """A long-running server's writes and merges must not pile their arrays on the heap: the
    segment a write or a merge makes is held as one opened from disk is, mapped from its files
    (a 10-minute soak's heap grew by the merged segments it kept)."""
    pipeline = pipeline_at(tmp_path, "index")
    for start in range(0, 12, 4):
        pipeline.ingest(articles(4, seed=start, prefix=f"s{start}-"))
    assert pipeline.store.merge([s.name for s in pipeline.store.load().segments]) is not None
    for segment in pipeline.store.load().segments:
        assert isinstance(segment.vectors, np.memmap)
        assert isinstance(segment.postings.docs.base, np.memmap)


def test_written_and_merged_segments_share_the_largest_segments_ivf_lists(tmp_path: Path):
    """Segments added to an index with an IVF segment are built on its coarse lists, so a
    question is assigned to lists once for all of them; what they return together is what one
    index over the same rows on those lists returns, and `rag check` accepts them."""
    pipeline = pipeline_at(tmp_path, "index", index_type="ivf", ivf_nprobe=2)
    pipeline.ingest(articles(300, seed=1, prefix="big-"))
    for start in range(0, 24, 6):
        pipeline.ingest(articles(6, seed=start, prefix=f"s{start}-"))
    pipeline.delete("s6-001")
    snapshot = pipeline.snapshot
    first = snapshot.segments[0].faiss_index
    assert first.nlist > 2 and all(
        isinstance(s.faiss_index, faiss.IndexIVFFlat) for s in snapshot.segments
    )
    assert len({s.coarse_key for s in snapshot.segments}) == 1
    shared = CoarseLists.of(first, snapshot.segments[0].rows)
    assert shared is not None
    whole = build_index(
        np.asarray(snapshot.vectors_at(np.arange(len(snapshot.chunks)))),
        64,
        IndexParams(),
        shared=shared,
    )
    whole.nprobe = 2
    retriever = pipeline._current()[1]
    embedder = HashingEmbedder(dim=64)
    for question in QUESTIONS:
        vector = embedder.encode([question])[0]
        want_scores, want = whole.search(vector.reshape(1, -1), 10)
        got = retriever.dense(vector, 10)
        assert [s for _, s in got] == pytest.approx(want_scores[0].tolist(), abs=1e-6)
        above = want_scores[0][-1] + 1e-6  # ids tied at the 10th score may differ
        assert {i for i, s in got if s > above} == set(want[0][want_scores[0] > above].tolist())
    assert check_index(pipeline.store) == []
    names = [s.name for s in snapshot.segments[1:]]
    merged = pipeline.store.merge(names)
    assert merged is not None and len(merged.segments) == 2
    assert merged.segments[1].coarse_key == merged.segments[0].coarse_key
    assert check_index(pipeline.store) == []
