"""The pipeline with the fake embedder: ingest, idempotence, replacement, delete, search, ask."""

import json
from pathlib import Path

import numpy as np
import pytest

from rag.documents import Article
from rag.embedding import HashingEmbedder
from rag.errors import DocumentNotFound, EmptyQuestion, IncompatibleIndex, QuestionTooLong
from rag.pipeline import Pipeline
from rag.retrieval import Filters, rrf, top_positive
from rag.settings import Settings


def _article(doc_id: str, text: str, **kw) -> Article:
    return Article(id=doc_id, title=kw.pop("title", doc_id), text=text, **kw)


def test_seed_ingest_then_reingest_changes_nothing(fake_pipeline: Pipeline):
    first = fake_pipeline.ensure_index()
    assert first is not None and len(first.added) == 1 and first.committed
    name = fake_pipeline.store.current_name()
    again = fake_pipeline.ingest_paths([fake_pipeline.settings.seeds_dir])
    assert again.unchanged == first.added and not again.committed
    assert fake_pipeline.store.current_name() == name


def test_changed_article_replaces_its_chunks(fake_pipeline: Pipeline):
    fake_pipeline.ingest([_article("a", "Three people were hurt in Kharkiv on Monday.")])
    report = fake_pipeline.ingest([_article("a", "Five people were hurt in Sumy on Tuesday.")])
    assert report.replaced == ["a"]
    snap = fake_pipeline.snapshot
    assert len(snap.articles) == 1
    assert all("Sumy" in c.text for c in snap.chunks)
    assert snap.vectors.shape[0] == len(snap.chunks)
    # the old version is a tombstone in its segment: never returned
    assert all("Sumy" in p.text for p in fake_pipeline.search("people hurt Kharkiv", k=10))


def test_delete_removes_article_chunks_and_vectors(fake_pipeline: Pipeline):
    fake_pipeline.ingest([_article("a", "Alpha text here."), _article("b", "Beta text here.")])
    fake_pipeline.delete("a")
    snap = fake_pipeline.snapshot
    assert set(snap.articles) == {"b"}
    assert {c.article_id for c in snap.chunks} == {"b"}
    assert snap.vectors.shape[0] == len(snap.chunks)
    assert {p.doc_id for p in fake_pipeline.search("Alpha text", k=10)} == {"b"}
    with pytest.raises(DocumentNotFound):
        fake_pipeline.delete("a")


def test_reopened_index_equals_written_one(fake_pipeline: Pipeline, settings: Settings):
    fake_pipeline.ensure_index()
    reopened = Pipeline(settings, embedder=HashingEmbedder(dim=64)).open()
    original = fake_pipeline.snapshot
    assert reopened.articles == original.articles
    assert reopened.chunks == original.chunks
    assert (reopened.vectors == original.vectors).all()


def test_chunks_are_embedded_after_their_title_and_stored_without_it(settings: Settings):
    titled_settings = settings.model_copy(update={"embed_titles": True})
    fake_pipeline = Pipeline(titled_settings, embedder=HashingEmbedder(dim=64))
    article = Article("a", "Strike on Kharkiv", "Three people were hurt on Monday.")
    fake_pipeline.ingest([article])
    snap = fake_pipeline.snapshot
    assert snap.manifest["embed_titles"] is True
    (chunk,) = snap.chunks
    assert chunk.text == article.text  # citations point into the text, not the title
    embedder = fake_pipeline.embedder
    titled = embedder.encode_documents([f"Strike on Kharkiv\n{article.text}"])[0]
    assert np.allclose(snap.vectors[0], titled)
    assert not np.allclose(snap.vectors[0], embedder.encode_documents([article.text])[0])


def test_an_index_keeps_the_embedding_it_was_built_with(settings: Settings):
    """An index built without titles (any index from before the setting) opens with titles
    switched on and stays without them through writes and deletes."""
    Pipeline(settings, embedder=HashingEmbedder(dim=64)).ingest(
        [_article("a", "Alpha text here."), _article("b", "Beta text here.")]
    )
    # titles switched on, and merging, so a merge commits a manifest too
    titled = settings.model_copy(update={"embed_titles": True, "merge_factor": 2})
    default = Pipeline(titled, embedder=HashingEmbedder(dim=64))
    default.open()
    default.ingest([Article("c", "Gamma", "Gamma text here.")])
    default.delete("b")
    default.wait_merges()
    snap = default.snapshot
    assert len(snap.segments) == 1
    assert snap.manifest["embed_titles"] is False
    row = next(i for i, c in enumerate(snap.chunks) if c.article_id == "c")
    assert np.allclose(
        snap.vectors[row], default.embedder.encode_documents([snap.chunks[row].text])[0]
    )


def test_other_model_or_chunking_is_refused_with_rebuild_advice(fake_pipeline, settings):
    fake_pipeline.ensure_index()
    with pytest.raises(IncompatibleIndex, match="rebuild"):
        Pipeline(settings, embedder=HashingEmbedder(dim=32)).open()
    other = settings.model_copy(update={"chunk_size": 300})
    with pytest.raises(IncompatibleIndex, match="chunk_size"):
        Pipeline(other, embedder=HashingEmbedder(dim=64)).open()


def test_bad_articles_are_skipped_and_the_index_is_not_damaged(fake_pipeline, tmp_path: Path):
    fake_pipeline.ensure_index()
    before = fake_pipeline.store.current_name()
    batch = tmp_path / "batch.jsonl"
    batch.write_text(
        "\n".join([json.dumps({"id": "ok", "text": "Fine article."}), json.dumps({"id": "x"})]),
        encoding="utf-8",
    )
    strict = fake_pipeline.ingest_paths([batch], strict=True)
    assert not strict.committed and fake_pipeline.store.current_name() == before
    report = fake_pipeline.ingest_paths([batch])
    assert report.added == ["ok"] and len(report.skipped) == 1
    assert "batch.jsonl:2" in str(report.skipped[0])


def test_search_is_hybrid_and_matches_spelling_variants(fake_pipeline: Pipeline):
    fake_pipeline.ingest(
        [
            _article("odesa", "Drones hit the port of Odesa overnight."),
            _article("kyiv", "Air defence worked over Kyiv."),
            _article("other", "Grain exports rose this season."),
        ]
    )
    hits = fake_pipeline.search("drones over Odessa", k=2)
    assert hits[0].doc_id == "odesa"
    assert hits[0].lexical_score is not None
    assert fake_pipeline.search("Kiev air defence", k=1)[0].doc_id == "kyiv"
    passage = hits[0]
    article = fake_pipeline.article(passage.doc_id)
    assert article.text[passage.start : passage.end] == passage.text


def test_filters_restrict_by_source_and_date(fake_pipeline: Pipeline):
    fake_pipeline.ingest(
        [
            _article("a", "Shelling in Kherson.", source="Reuters", published_at="2024-01-05"),
            _article("b", "Shelling in Kherson again.", source="AP", published_at="2024-03-01"),
        ]
    )
    assert {p.doc_id for p in fake_pipeline.search("Kherson", 5, Filters(source="reuters"))} == {
        "a"
    }
    after = Filters(published_after="2024-02-01")
    assert {p.doc_id for p in fake_pipeline.search("Kherson", 5, after)} == {"b"}


def test_rrf_prefers_items_both_rankers_like():
    fused = rrf([[1, 2, 3], [3, 2]], k=60)
    assert max(fused, key=fused.get) in (2, 3)
    assert fused[2] > fused[1]


@pytest.mark.parametrize("seed", range(20))
def test_top_positive_equals_a_full_sort(seed: int):
    rng = np.random.default_rng(seed)
    # few distinct values, many zeros: ties at the cut and rows without any query term
    scores = rng.choice([0.0, 0.0, 0.0, 0.5, 1.0, 1.5, 2.0], size=200).astype(np.float32)
    for k in (1, 3, 10, 50, 500):
        full = sorted(
            ((i, float(s)) for i, s in enumerate(scores) if s > 0), key=lambda r: (-r[1], r[0])
        )
        assert top_positive(scores, k) == full[:k]


def test_lexical_respects_filters(fake_pipeline: Pipeline):
    fake_pipeline.ensure_index()
    _, retriever = fake_pipeline._current()
    everything = retriever.lexical("wounded Odessa", 50)
    assert everything
    allowed = np.zeros(len(fake_pipeline.snapshot.chunks), dtype=bool)
    allowed[everything[-1][0]] = True
    assert [i for i, _ in retriever.lexical("wounded Odessa", 50, allowed)] == [everything[-1][0]]
    assert retriever.lexical("wounded Odessa", 50, np.zeros_like(allowed)) == []


def test_question_errors(fake_pipeline: Pipeline):
    with pytest.raises(EmptyQuestion):
        fake_pipeline.ask("   ")
    with pytest.raises(QuestionTooLong):
        fake_pipeline.ask("x" * 1001)


def test_answer_is_a_verbatim_cited_span(fake_pipeline: Pipeline):
    fake_pipeline.ingest(
        [
            _article(
                "k",
                "Shelling hit Kharkiv on Monday. Regional officials said four people were killed.",
            )
        ]
    )
    answer = fake_pipeline.ask("How many people were killed in Kharkiv?")
    assert answer.answer == "four" and answer.normalized == 4
    assert answer.attribution == "Regional officials"
    cite = answer.citations[0]
    text = fake_pipeline.article("k").text
    assert text[cite.start : cite.end] == cite.quote == answer.sentence
    assert text[cite.answer_start : cite.answer_end] == answer.answer


def test_abstains_when_the_sources_hold_no_answer_of_that_kind(fake_pipeline: Pipeline):
    fake_pipeline.ingest(
        [_article("k", "Shelling hit Kharkiv on Monday. Four people were killed.")]
    )
    answer = fake_pipeline.ask("How many tanks were destroyed in Kherson?")
    assert answer.abstained and answer.answer is None and answer.message
    assert answer.passages  # the closest passages are still returned


def test_a_pipeline_follows_writes_by_another_process(settings: Settings):
    """`rag ingest` beside `rag serve`: the reader picks the new snapshot up by itself."""
    follow = settings.model_copy(update={"reload_check_s": 0.0})
    writer = Pipeline(follow, embedder=HashingEmbedder(dim=64))
    reader = Pipeline(follow, embedder=HashingEmbedder(dim=64))
    writer.ensure_index()
    assert "kherson-1" not in reader.snapshot.articles
    writer.ingest(
        [
            Article(
                id="kherson-1", title="Kherson", text="Shelling hit Kherson's river port on Monday."
            )
        ]
    )
    reader.search("Kherson port")  # notices CURRENT changed; loads it in the background
    reader.wait_followed()
    assert "kherson-1" in reader.snapshot.articles
    assert reader.search("Kherson river port")[0].doc_id == "kherson-1"


def test_a_pipeline_keeps_serving_when_the_new_snapshot_is_damaged(settings: Settings):
    follow = settings.model_copy(update={"reload_check_s": 0.0})
    writer = Pipeline(follow, embedder=HashingEmbedder(dim=64))
    reader = Pipeline(follow, embedder=HashingEmbedder(dim=64))
    writer.ensure_index()
    before = reader.snapshot.name
    writer.ingest(
        [
            Article(
                id="kherson-1", title="Kherson", text="Shelling hit Kherson's river port on Monday."
            )
        ]
    )
    segment = writer.store.read_manifest()["segments"][-1]["name"]
    newest = writer.store.segments_dir / segment / "vectors.npy"
    newest.write_bytes(b"garbage")
    reader.search("Kherson port")
    reader.wait_followed()
    assert reader.snapshot.name == before  # the damaged one is refused; the old one serves
    assert reader.search("wounded Odessa")


def test_a_write_builds_on_the_snapshot_in_memory(fake_pipeline: Pipeline, monkeypatch):
    fake_pipeline.ensure_index()
    monkeypatch.setattr(
        fake_pipeline.store, "load", lambda: pytest.fail("reloaded a snapshot it already holds")
    )
    fake_pipeline.ingest(
        [Article(id="kherson-1", title="Kherson", text="Shelling hit Kherson on Monday.")]
    )
    assert "kherson-1" in fake_pipeline.snapshot.articles
