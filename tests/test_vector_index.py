"""The vector index: type chosen by size, approximate recall vs exact, snapshots that round-trip."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import faiss
import numpy as np
import pytest

from rag.documents import Article
from rag.embedding import HashingEmbedder
from rag.errors import CorruptIndex
from rag.integrity import check_index
from rag.query_encoder import CachedEncoder, VectorCache, mean_pool_normalize
from rag.store import ChunkRecord, IndexSpec, IndexStore
from rag.vector_index import (
    INDEX_TYPES,
    RECONSTRUCTION_TOLERANCE,
    CoarseLists,
    IndexParams,
    build_index,
    choose_index_type,
    coarse_key,
    configure,
    fits_trained_range,
    index_type_of,
    ivf_lists,
    read_index,
    search_segments,
)
from rag.word_table import WordTable

DIM = 32


def clustered(n: int, seed: int = 0, centers: int = 50) -> np.ndarray:
    """Unit vectors around random centers: structured like text embeddings, unlike pure noise."""
    rng = np.random.default_rng(seed)
    middle = rng.standard_normal((centers, DIM)).astype(np.float32)
    x = middle[rng.integers(0, centers, n)] + 0.35 * rng.standard_normal((n, DIM))
    x = x.astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize(
    ("n", "choice", "threshold", "expected"),
    [
        (0, "auto", 100, "flat"),
        (99, "auto", 100, "flat"),
        (100, "auto", 100, "ivf"),
        (10**6, "auto", 20_000, "ivf"),
        (10, "hnsw", 100, "hnsw"),
        (10**6, "flat", 100, "flat"),
        (10**6, "ivf", 100, "ivf"),
    ],
)
def test_index_type_is_chosen_by_size_unless_set(n, choice, threshold, expected):
    params = IndexParams(choice=choice, auto_threshold=threshold)
    assert choose_index_type(n, params) == expected


def test_settings_reach_the_index_parameters():
    from rag.settings import Settings

    settings = Settings(index_type="ivf", ivf_nprobe=7, hnsw_ef_search=99, index_mmap=False)
    params = IndexParams.from_settings(settings)
    assert (params.choice, params.ivf_nprobe, params.hnsw_ef_search, params.mmap) == (
        "ivf",
        7,
        99,
        False,
    )


@pytest.mark.parametrize("n", [0, 1, 38, 39, 1_000, 10**6])
def test_ivf_lists_have_enough_points_to_train(n):
    lists = ivf_lists(n)
    assert lists >= 1
    assert n < 39 or n // lists >= 39


def test_segments_on_shared_lists_find_what_one_index_on_those_lists_finds():
    """Ten segments built on one segment's coarse lists, searched with one assignment, return
    exactly what one index over all their vectors on those lists returns (same lists probed,
    same candidates), and each segment what its own full search returns."""
    data = clustered(12_050, seed=3)
    vectors, queries = data[:12_000], data[12_000:]
    params = IndexParams(ivf_nprobe=4)
    first = build_index(vectors[:6_000], DIM, params, "ivf")
    shared = CoarseLists.of(first, 6_000)
    assert shared is not None and len(shared.centroids) == first.nlist
    parts = [first] + [
        build_index(vectors[start : start + 600], DIM, params, shared=shared)
        for start in range(6_000, 12_000, 600)
    ]
    for part in parts:
        configure(part, params)
    offsets = np.cumsum([0] + [p.ntotal for p in parts])
    keys = {coarse_key(p) for p in parts}
    assert len(keys) == 1 and None not in keys
    whole = build_index(vectors, DIM, params, shared=shared)
    configure(whole, params)
    k = 10
    for query in queries:
        found = search_segments([(p, coarse_key(p), k) for p in parts], query.reshape(1, -1))
        for part, (scores, ids) in zip(parts, found, strict=True):
            own_scores, own_ids = part.search(query.reshape(1, -1), k)
            assert ids.tolist() == own_ids[0].tolist()
            assert scores.tolist() == pytest.approx(own_scores[0].tolist())
        ids = np.concatenate([i[i >= 0] + o for (_, i), o in zip(found, offsets, strict=False)])
        scores = np.concatenate([s[i >= 0] for s, i in found])
        best = ids[np.lexsort((ids, -scores))[:k]]
        want_scores, want = whole.search(query.reshape(1, -1), k)
        assert best.tolist() == want[0].tolist()
    # a segment of its own lists is searched on them (no shared assignment)
    own = build_index(vectors[:3_000], DIM, params, "ivf")
    configure(own, params)
    assert coarse_key(own) not in keys
    flat = build_index(vectors[:100], DIM, params, "flat")
    assert coarse_key(flat) is None


def test_a_segment_shares_the_lists_only_while_they_fit_it():
    shared = CoarseLists(np.zeros((100, DIM), dtype=np.float32), trained_on=5_000)
    # its own would be ivf_lists(n): 200 at 7,800 vectors, 205 at 8,000
    assert shared.fits(10, IndexParams()) and shared.fits(7_800, IndexParams())
    assert not shared.fits(8_000, IndexParams())
    assert not shared.fits(10, IndexParams(choice="hnsw"))
    assert not shared.fits(10, IndexParams(choice="flat"))
    assert shared.fits(10**6, IndexParams(ivf_nlist=200))  # lists set: 200 <= 2 x 100


def same_vectors(kind, found: np.ndarray, expected: np.ndarray) -> bool:
    """Exact for every type but the 8-bit one, which keeps each value to its tolerance."""
    return bool(np.abs(found - expected).max() <= RECONSTRUCTION_TOLERANCE.get(kind, 0.0))


@pytest.mark.parametrize("kind", ["hnsw", "ivf", "ivf-sq8"])
def test_approximate_recall_at_10_against_exact(kind):
    data = clustered(20_200)
    vectors, queries = data[:20_000], data[20_000:]  # queries from the same distribution
    k = 10
    _, truth = build_index(vectors, DIM, IndexParams(), "flat").search(queries, k)
    params = IndexParams(ivf_nprobe=16)
    _, found = build_index(vectors, DIM, params, kind).search(queries, k)
    recall = np.mean([len(set(f) & set(t)) / k for f, t in zip(found, truth, strict=True)])
    assert recall >= 0.95, recall


@pytest.mark.parametrize("kind", INDEX_TYPES)
def test_ids_are_row_positions(kind):
    vectors = clustered(2_000)
    index = build_index(vectors, DIM, IndexParams(), kind)
    assert index_type_of(index) == kind
    assert same_vectors(kind, index.reconstruct_n(0, len(vectors)), vectors)
    _, ids = index.search(vectors[:50], 1)
    assert (ids[:, 0] == np.arange(50)).mean() >= 0.98  # each vector finds itself


def _store(root: Path, params: IndexParams) -> IndexStore:
    return IndexStore(root, IndexSpec("test-model", "test-fp", DIM, 600, 120), params)


def _snapshot_parts(n: int, seed: int = 0) -> tuple[dict[str, Article], list[ChunkRecord]]:
    articles, chunks = {}, []
    for i in range(n):
        text = f"Report {i} of seed {seed}: shelling near station {i}."
        articles[f"a{seed}-{i}"] = Article(f"a{seed}-{i}", f"Report {i}", text)
        chunks.append(ChunkRecord(f"a{seed}-{i}", 0, len(text), text))
    return articles, chunks


@pytest.mark.parametrize("kind", INDEX_TYPES)
@pytest.mark.parametrize("mmap", [True, False])
def test_snapshot_round_trip_keeps_type_vectors_and_results(tmp_path: Path, kind, mmap):
    params = IndexParams(choice=kind, mmap=mmap)
    articles, chunks = _snapshot_parts(3_000)
    vectors = clustered(3_000)
    store = _store(tmp_path / "index", params)
    with store.write_lock():
        written = store.commit(articles, chunks, vectors)
    loaded = _store(tmp_path / "index", params).load()
    assert loaded.manifest["index_type"] == written.manifest["index_type"]
    assert index_type_of(loaded.faiss_index) == kind
    assert np.array_equal(np.asarray(loaded.vectors), vectors)
    assert same_vectors(kind, loaded.faiss_index.reconstruct_n(0, 3_000), vectors)
    queries = clustered(20, seed=5)
    assert np.array_equal(
        written.faiss_index.search(queries, 5)[1], loaded.faiss_index.search(queries, 5)[1]
    )
    assert check_index(store) == []


@pytest.mark.parametrize("kind", ["hnsw", "ivf", "ivf-sq8"])
def test_appending_extends_the_index_and_deleting_rebuilds_it(tmp_path: Path, kind):
    store = _store(tmp_path / "index", IndexParams(choice=kind))
    first_articles, first_chunks = _snapshot_parts(2_000)
    more_articles, more_chunks = _snapshot_parts(500, seed=1)
    first, more = clustered(2_000), clustered(500, seed=1)
    with store.write_lock():
        store.commit(first_articles, first_chunks, first)
        grown = store.commit(
            {**first_articles, **more_articles},
            first_chunks + more_chunks,
            np.vstack([first, more]),
        )
        assert grown.faiss_index.ntotal == 2_500
        # extended, not rebuilt; except that 8-bit codes trained on the first vectors' ranges
        # would clip these (other clusters), so that index is rebuilt
        expected = 2_500 if kind == "ivf-sq8" else 2_000
        assert grown.manifest["index_built_on_chunks"] == expected
        assert same_vectors(
            kind, grown.faiss_index.reconstruct_n(0, 2_500), np.vstack([first, more])
        )
        assert check_index(store) == []
        kept = list(range(100, 2_500))  # the first 100 articles deleted: rows shift
        kept_chunks = [grown.chunks[i] for i in kept]
        shrunk = store.commit(
            {c.article_id: grown.articles[c.article_id] for c in kept_chunks},
            kept_chunks,
            np.vstack([first, more])[kept],
        )
    assert shrunk.faiss_index.ntotal == 2_400
    assert shrunk.manifest["index_built_on_chunks"] == 2_400  # rebuilt
    assert same_vectors(
        kind, shrunk.faiss_index.reconstruct_n(0, 2_400), np.vstack([first, more])[kept]
    )
    assert check_index(store) == []


def test_an_ivf_index_is_rebuilt_once_appends_double_it(tmp_path: Path):
    store = _store(tmp_path / "index", IndexParams(choice="ivf"))
    articles, chunks = _snapshot_parts(4_000)
    vectors = clustered(4_000)
    built_on = []
    with store.write_lock():
        for n in (1_000, 1_500, 1_999, 2_000, 3_000, 4_000):
            snapshot = store.commit(
                {c.article_id: articles[c.article_id] for c in chunks[:n]}, chunks[:n], vectors[:n]
            )
            built_on.append(snapshot.manifest["index_built_on_chunks"])
    assert built_on == [1_000, 1_000, 1_000, 2_000, 2_000, 4_000]
    assert check_index(store) == []


def test_pipeline_writes_after_a_memory_mapped_load(tmp_path: Path):
    """A memory-mapped snapshot is read-only: the next write must still work from it."""
    from rag.pipeline import Pipeline
    from rag.settings import Settings

    settings = Settings(index_dir=tmp_path / "index", index_mmap=True)
    pipeline = Pipeline(settings, embedder=HashingEmbedder(64))
    pipeline.ingest([Article("a", "A", "Three people were hurt in Kharkiv.")])
    reopened = Pipeline(settings, embedder=HashingEmbedder(64))
    assert not reopened.snapshot.vectors.flags.writeable
    reopened.ingest([Article("b", "B", "Two drones were shot down near Odesa.")])
    reopened.delete("a")
    assert [c.article_id for c in reopened.snapshot.chunks] == ["b"]
    assert reopened.search("drones Odesa")[0].doc_id == "b"


def test_a_file_that_disagrees_with_the_manifest_is_refused(tmp_path: Path):
    path = tmp_path / "index.faiss"
    faiss.write_index(build_index(clustered(100), DIM, IndexParams(), "flat"), str(path))
    assert index_type_of(read_index(path, "flat")) == "flat"
    with pytest.raises(CorruptIndex, match="manifest says hnsw"):
        read_index(path, "hnsw")
    path.write_bytes(b"IxPQ" + path.read_bytes()[4:])
    with pytest.raises(CorruptIndex, match="not a flat inner-product"):
        read_index(path)


def test_vector_cache_keeps_the_most_recent():
    cache = VectorCache(2)
    for i, text in enumerate(["a", "b", "a", "c"]):
        cache.put(text, np.full(3, i, np.float32))
    assert cache.get("b") is None  # least recently used, evicted
    assert cache.get("a")[0] == 2 and cache.get("c")[0] == 3
    with pytest.raises(ValueError):
        cache.get("a")[0] = 9  # cached vectors are read-only
    assert VectorCache(0).get("a") is None


def test_mean_pooling_ignores_padding():
    hidden = np.array([[[1.0, 0.0], [3.0, 0.0], [100.0, 100.0]]], np.float32)
    mask = np.array([[1, 1, 0]])
    assert np.allclose(mean_pool_normalize(hidden, mask), [[1.0, 0.0]])


@pytest.mark.integration
@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_fast_query_path_matches_sentence_transformers(backend, tmp_path: Path):
    """Same vectors as `SentenceTransformer.encode`, to float precision (real bundled model)."""
    from rag.embedding import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder(
        backend=backend, cache_size=16, cache_dir=tmp_path, word_table=False
    )
    texts = ["how many were wounded in Odessa?", "Kyiv", "a longer sentence " * 30]
    fast = embedder.encode(texts)
    reference = embedder.sentence_transformers_encode(texts)
    assert np.abs(fast - reference).max() < 1e-4
    assert np.abs(embedder.encode_documents(texts) - reference).max() < 1e-4
    assert np.array_equal(embedder.encode(texts[:1])[0], fast[0])  # from the cache


@pytest.mark.integration
def test_auto_backend_takes_onnx_and_falls_back_to_torch(tmp_path: Path):
    """`auto` exports to ONNX once; where the export cannot be written it still answers."""
    from rag.embedding import SentenceTransformerEmbedder

    auto = SentenceTransformerEmbedder(cache_size=0, cache_dir=tmp_path / "cache", word_table=False)
    assert auto.backend == "onnx"
    assert list((tmp_path / "cache" / "onnx").glob("*/model.onnx"))
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder would go")
    fallback = SentenceTransformerEmbedder(cache_size=0, cache_dir=blocked, word_table=False)
    assert fallback.backend == "torch"
    texts = ["how many were wounded in Odessa?"]
    assert np.abs(auto.encode(texts) - fallback.encode(texts)).max() < 1e-4


@pytest.mark.integration
def test_int8_reading_vectors_stay_close_to_the_model(tmp_path: Path):
    """The answerer's int8 encoder: approximate, but close enough to rank the same way."""
    from rag.embedding import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder(cache_size=0, cache_dir=tmp_path, word_table=False)
    assert (embedder.backend, embedder.reading_backend) == ("onnx", "onnx-int8")
    texts = ["wounded", "injured", "Odessa", "Three people were wounded in the strike on the port."]
    exact = embedder.sentence_transformers_encode(texts)
    approx = embedder.encode_reading(texts)
    assert np.min(np.sum(exact * approx, axis=1)) > 0.9  # cosine of each pair (0.94-0.97 here)
    question = embedder.encode(["how many were injured?"])[0]
    assert np.argmax(approx[:2] @ question) == np.argmax(exact[:2] @ question)


class CountingEncoder:
    """A fake short-text encoder that records what it was asked to encode."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def encode(self, texts):
        self.seen.extend(texts)
        return np.stack([np.full(4, len(t), np.float32) for t in texts])


def test_pinned_texts_are_looked_up_not_encoded():
    table = WordTable(["shell", "strike"], np.eye(2, 4, dtype=np.float32))
    inner = CountingEncoder()
    encoder = CachedEncoder(inner, cache_size=8, pinned=table)
    out = encoder.encode(["strike", "drone", "shell", "drone"])
    assert inner.seen == ["drone"]  # once, though asked twice
    assert out[0].tolist() == [0, 1, 0, 0] and out[2].tolist() == [1, 0, 0, 0]
    assert out[1].tolist() == out[3].tolist() == [5, 5, 5, 5]


def test_word_table_round_trips_and_rebuilds_what_does_not_match(tmp_path: Path):
    path = tmp_path / "words" / "table.npz"
    inner = CountingEncoder()
    built = WordTable.cached(path, ["attack", "port"], inner.encode)
    assert inner.seen == ["attack", "port"] and path.is_file()
    again = WordTable.cached(path, ["attack", "port"], inner.encode)
    assert inner.seen == ["attack", "port"]  # read from disk, not encoded again
    assert np.array_equal(again.get("port"), built.get("port")) and again.get("ship") is None
    WordTable.cached(path, ["attack", "port", "ship"], inner.encode)  # another vocabulary
    assert inner.seen[2:] == ["attack", "port", "ship"]
    path.write_bytes(b"not an npz file")
    assert len(WordTable.cached(path, ["ship"], inner.encode)) == 1  # damaged: rebuilt
    assert len(WordTable.load(path)) == 1
    with pytest.raises(ValueError, match="2 words but 1 vectors"):
        WordTable(["a", "b"], np.zeros((1, 4), np.float32))


def test_length_groups_cover_every_text_once_without_padding():
    from rag.embedding import bundled_model_path
    from rag.query_encoder import Tokens, encode_by_length

    tokens = Tokens(bundled_model_path() / "tokenizer.json", 256)
    texts = ["shelling", "a longer sentence about the port", "drone", "x " * 400]
    groups = tokens.by_length(texts)
    assert sorted(i for rows, _ in groups for i in rows) == [0, 1, 2, 3]
    for rows, inputs in groups:
        assert inputs["attention_mask"].all()  # nothing padded
        assert len({len(tokens.tokenizer.encode(texts[i]).ids) for i in rows}) == 1
    assert max(inputs["input_ids"].shape[1] for _, inputs in groups) == 256  # truncated
    # Each text gets the pooled vector of its own token states, in the caller's order.
    out = encode_by_length(tokens, texts, lambda b: b["input_ids"][..., None].astype(np.float32))
    assert out.shape == (4, 1) and np.allclose(out, 1.0)


@pytest.mark.integration
def test_word_table_holds_the_reading_vectors_of_whole_words(tmp_path: Path):
    """The table's vectors are the reading encoder's own, for the model's whole words."""
    from rag.embedding import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder(cache_size=0, cache_dir=tmp_path)
    table = embedder.reading.pinned
    assert 20_000 < len(table) < 30_000 and table.get("wounded") is not None
    assert table.get("##ing") is None and table.get("[CLS]") is None
    plain = SentenceTransformerEmbedder(cache_size=0, cache_dir=tmp_path, word_table=False)
    words = ["wounded", "injured", "shelling", "kherson"]
    cosines = np.sum(embedder.encode_reading(words) * plain.encode_reading(words), axis=1)
    # int8 activations are quantized per batch, so a word's vector moves a little with the
    # words it was encoded beside (0.985-1.0 here); words outside the table are unchanged.
    assert cosines.min() > 0.97 and np.allclose(cosines[2:], 1.0, atol=1e-5)
    assert list((tmp_path / "words").glob("*-onnx-int8.npz"))


def test_check_finds_an_eight_bit_index_that_no_longer_matches_its_vectors(tmp_path: Path):
    """The 8-bit index is compared within its tolerance: a real difference is still found."""
    store = _store(tmp_path / "index", IndexParams(choice="ivf-sq8"))
    articles, chunks = _snapshot_parts(2_000)
    vectors = clustered(2_000)
    with store.write_lock():
        snapshot = store.commit(articles, chunks, vectors)
    assert snapshot.manifest["index_type"] == "ivf-sq8-ip" and check_index(store) == []
    swapped = vectors.copy()
    swapped[[7, 8]] = swapped[[8, 7]]  # two stored vectors exchanged behind the index's back
    folder = store.segments_dir / snapshot.segments[0].name
    np.save(folder / "vectors.npy", swapped, allow_pickle=False)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["vectors.npy"] = hashlib.sha256(
        (folder / "vectors.npy").read_bytes()
    ).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))
    problems = [str(p) for p in check_index(store)]
    assert any("differ from vectors.npy at ids: 7-8" in p for p in problems), problems


def test_an_eight_bit_index_is_extended_by_vectors_in_its_trained_range(tmp_path: Path):
    store = _store(tmp_path / "index", IndexParams(choice="ivf-sq8"))
    articles, chunks = _snapshot_parts(2_500)
    first = clustered(2_000)
    vectors = np.vstack([first, first[:500]])  # the same points again: inside every range
    with store.write_lock():
        built = store.commit(dict(list(articles.items())[:2_000]), chunks[:2_000], first)
        assert fits_trained_range(built.faiss_index, first[:500])
        assert not fits_trained_range(built.faiss_index, clustered(50, seed=9, centers=3) * 3)
        grown = store.commit(articles, chunks, vectors)
    assert grown.manifest["index_built_on_chunks"] == 2_000  # appended
    assert same_vectors("ivf-sq8", grown.faiss_index.reconstruct_n(0, 2_500), vectors)
    assert check_index(store) == []


def test_the_embedders_sessions_load_in_the_background_and_their_errors_surface(
    tmp_path: Path, monkeypatch
):
    """The ONNX sessions load in a thread while the caller goes on (a server opens its index
    meanwhile); a failure there is raised by the first use and by `wait_ready`, not lost."""
    import rag.embedding
    from rag.errors import ModelNotFound

    def broken(*args, **kwargs):
        raise ModelNotFound("RAG_EMBEDDING_BACKEND=onnx needs ONNX Runtime")

    monkeypatch.setattr(rag.embedding, "make_short_encoder", broken)
    embedder = rag.embedding.SentenceTransformerEmbedder(cache_dir=tmp_path, word_table=False)
    assert embedder.dim == 384  # known from the model's files, without the sessions
    with pytest.raises(ModelNotFound, match="needs ONNX Runtime"):
        embedder.wait_ready()
    with pytest.raises(ModelNotFound, match="needs ONNX Runtime"):
        embedder.encode(["how many were wounded?"])
