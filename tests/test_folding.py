"""Wire copies folded: the same story from several outlets is stored once, with its copies."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

from rag.documents import Article
from rag.ingest.folding import CopyIndex, fold
from rag.pipeline import Pipeline
from rag.settings import PROJECT_ROOT, Settings

sys.path.insert(0, str(PROJECT_ROOT / "eval"))
import fold_pairs  # noqa: E402

STORIES = [json.loads(line) for line in fold_pairs.STORIES.read_text().splitlines()]
ODESA, KHARKIV = STORIES[0], STORIES[1]


def wire(doc_id: str, text: str, source: str, day: str = "2024-03-03") -> Article:
    return Article(doc_id, f"{source} headline", text, source, f"https://{doc_id}.example/", day)


def copy_of(text: str) -> str:
    return fold_pairs.EDITS["a sentence added"](fold_pairs.EDITS["dateline cut"](text))


def test_a_copy_from_another_outlet_is_stored_once_with_who_published_it(
    fake_pipeline: Pipeline,
) -> None:
    fake_pipeline.ingest([wire("reuters", ODESA["a"], "Reuters")])
    report = fake_pipeline.ingest(
        [
            wire("kyivpost", copy_of(ODESA["a"]), "Kyiv Post", "2024-03-04"),
            wire("other", ODESA["b"], "AP"),
        ]
    )
    assert report.folded == [("kyivpost", "reuters")] and report.added == ["other"]
    assert set(fake_pipeline.snapshot.articles) == {"reuters", "other"}
    kept = fake_pipeline.article("reuters")
    assert [asdict(c) for c in kept.also_published] == [
        {
            "id": "kyivpost",
            "source": "Kyiv Post",
            "url": "https://kyivpost.example/",
            "published_at": "2024-03-04",
            "title": "Kyiv Post headline",
        }
    ]
    assert kept.text == ODESA["a"]  # the first one in keeps the story
    assert fake_pipeline.info()["copies_folded"] == 1
    passages = fake_pipeline.search("missile strike Odesa port grain terminal", k=3)
    assert any(p.doc_id == "reuters" and p.also_published == kept.also_published for p in passages)


def test_folding_survives_a_reload_and_a_second_ingest_of_the_copy(
    fake_pipeline: Pipeline, settings: Settings
) -> None:
    fake_pipeline.ingest(
        [wire("reuters", ODESA["a"], "Reuters"), wire("copy", copy_of(ODESA["a"]), "Copy")]
    )
    again = fake_pipeline.ingest([wire("copy", copy_of(ODESA["a"]), "Copy")])
    assert again.folded == [("copy", "reuters")] and not again.committed  # nothing new to write
    reopened = Pipeline(settings, embedder=fake_pipeline.embedder)
    assert [c.id for c in reopened.article("reuters").also_published] == ["copy"]
    # Replacing the kept article keeps its copies.
    fake_pipeline.ingest([wire("reuters", ODESA["a"] + " Updated.", "Reuters")])
    assert [c.id for c in fake_pipeline.article("reuters").also_published] == ["copy"]


def test_a_copy_rewritten_into_another_story_comes_out_of_the_fold(fake_pipeline: Pipeline) -> None:
    fake_pipeline.ingest(
        [wire("reuters", ODESA["a"], "Reuters"), wire("copy", copy_of(ODESA["a"]), "Copy")]
    )
    report = fake_pipeline.ingest([wire("copy", KHARKIV["b"], "Copy")])
    assert report.added == ["copy"] and not report.folded
    assert fake_pipeline.article("reuters").also_published == ()


def test_a_batch_folds_among_itself_in_order(fake_pipeline: Pipeline) -> None:
    copies = [
        wire(f"outlet{i}", fold_pairs.EDITS[e](KHARKIV["a"]), f"Outlet {i}")
        for i, e in enumerate(fold_pairs.EDITS)
    ]
    report = fake_pipeline.ingest(copies)
    assert report.added == ["outlet0"] and len(report.folded) == len(copies) - 1
    assert len(fake_pipeline.article("outlet0").also_published) == len(copies) - 1


def test_folding_can_be_turned_off(settings: Settings) -> None:
    from rag.embedding import HashingEmbedder

    pipeline = Pipeline(
        settings.model_copy(update={"fold_copies": False}), embedder=HashingEmbedder(dim=64)
    )
    report = pipeline.ingest([wire("a", ODESA["a"], "A"), wire("b", ODESA["a"], "B")])
    assert report.added == ["a", "b"] and not report.folded


def test_fold_plan_without_an_index_stores_everything() -> None:
    plan = fold({}, [wire("a", ODESA["a"], "A"), wire("b", ODESA["a"], "B")], None)
    assert list(plan.store) == ["a", "b"] and not plan.folded


def test_same_event_different_stories_are_not_copies() -> None:
    index = CopyIndex(Settings().fold_threshold)
    for story in STORIES:
        index.add(Article(story["event"], "", story["a"]))
    for story in STORIES:
        assert index.original_of(Article("b-" + story["event"], "", story["b"])) is None
        assert (
            index.original_of(Article("c-" + story["event"], "", copy_of(story["a"])))
            == story["event"]
        )


@pytest.mark.parametrize("threshold", [Settings().fold_threshold])
def test_the_default_threshold_is_the_measured_one(threshold: float) -> None:
    """eval/fold_pairs.py: at the default, no different story is folded and few copies are missed."""
    (row,) = fold_pairs.measure([threshold])
    assert row["precision"] == 1.0 and row["recall"] >= 0.95, row
    (lower,) = fold_pairs.measure([threshold - 0.2])
    assert lower["precision"] < 1.0  # a lower threshold starts folding follow-ups


def test_the_fold_set_is_the_one_described(tmp_path: Path) -> None:
    pairs = fold_pairs.pairs()
    assert sum(c for *_, c in pairs) == 7 * len(STORIES) and sum(
        not c for *_, c in pairs
    ) == 5 * len(STORIES)


def test_the_copy_index_is_kept_between_writes_and_follows_deletes(
    fake_pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write signs and indexes its own articles, not every stored one again."""
    fake_pipeline.ingest([wire("reuters", ODESA["a"], "Reuters"), wire("ap", KHARKIV["a"], "AP")])
    added: list[str] = []
    real_add = CopyIndex.add_all

    def spy(self: CopyIndex, articles: list[Article]) -> None:
        added.extend(a.id for a in articles)
        real_add(self, articles)

    monkeypatch.setattr(CopyIndex, "add_all", spy)
    report = fake_pipeline.ingest(
        [wire("kyivpost", copy_of(ODESA["a"]), "Kyiv Post"), wire("new", ODESA["b"], "AP")]
    )
    assert report.folded == [("kyivpost", "reuters")]
    assert added == ["new"]  # untouched stored articles stay indexed as they were
    fake_pipeline.delete("ap")
    report = fake_pipeline.ingest([wire("ukrinform", copy_of(KHARKIV["a"]), "Ukrinform")])
    assert report.added == ["ukrinform"] and report.folded == []  # "ap" left the index too


def test_a_new_process_folds_from_the_stored_signatures_without_shingling_the_archive(
    fake_pipeline: Pipeline, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each segment keeps its articles' MinHash rows (made once, at write time; a merge
    carries them over), so the first write of a new process signs only its own articles:
    shingling every stored article again took 30 s at 58k articles."""
    import rag.ingest.folding as folding

    fake_pipeline.ingest([wire("reuters", ODESA["a"], "Reuters")])
    fake_pipeline.ingest([wire("ap", KHARKIV["a"], "AP")])
    fake_pipeline.store.merge([s.name for s in fake_pipeline.store.load().segments])
    assert len(fake_pipeline.store.load().segments) == 1  # the rows went through a merge
    signed: list[str] = []
    real_signature = folding.signature

    def spy(text: str):
        signed.append(text)
        return real_signature(text)

    monkeypatch.setattr(folding, "signature", spy)
    reopened = Pipeline(settings, embedder=fake_pipeline.embedder)
    report = reopened.ingest([wire("kyivpost", copy_of(ODESA["a"]), "Kyiv Post")])
    assert report.folded == [("kyivpost", "reuters")]
    assert signed == [copy_of(ODESA["a"])]  # the incoming article only
    # the rows are what shingling the stored text gives
    from rag.store import stored_signatures

    rows = stored_signatures(reopened.store.load().segments)
    assert (rows["reuters"] == real_signature(ODESA["a"]).hashvalues).all()
    assert (rows["ap"] == real_signature(KHARKIV["a"]).hashvalues).all()


def test_writes_prepared_ahead_seed_the_copy_index_so_the_first_write_does_not(
    fake_pipeline: Pipeline, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that takes writes builds the fold index at start (api/app.py), in the
    background: the first write after a start no longer pays for it (1.2-1.6 s at 100k)."""
    fake_pipeline.ingest([wire("reuters", ODESA["a"], "Reuters")])
    fake_pipeline.ingest([wire("ap", KHARKIV["a"], "AP")])
    reopened = Pipeline(settings, embedder=fake_pipeline.embedder)
    seeded: list[str] = []
    real_seed = CopyIndex.seed

    def spy(self: CopyIndex, segment, deleted) -> None:  # type: ignore[no-untyped-def]
        seeded.append(segment.name)
        real_seed(self, segment, deleted)

    monkeypatch.setattr(CopyIndex, "seed", spy)
    reopened.prepare_writes()
    segments = {s.name for s in reopened.store.load().segments}
    assert set(seeded) == segments  # every stored segment, before any write
    seeded.clear()
    report = reopened.ingest([wire("kyivpost", copy_of(ODESA["a"]), "Kyiv Post")])
    assert report.folded == [("kyivpost", "reuters")]
    assert seeded == []  # the write found it ready
