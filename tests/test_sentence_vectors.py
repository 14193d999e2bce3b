"""Sentence vectors made at ingestion and stored with the snapshot (rag/sentence_vectors.py):
kept in step with writes, used only by the encoder that made them, checked like the rest."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pytest

from rag.documents import Article
from rag.embedding import HashingEmbedder
from rag.errors import CorruptIndex
from rag.integrity import check_index
from rag.pipeline import Pipeline
from rag.sentence_vectors import SentenceVectors, empty
from rag.sentences import SPLITTER_VERSION, article_sentences
from rag.settings import Settings

KHARKIV = Article(
    "kharkiv",
    "Kharkiv",
    "Three people were wounded in Kharkiv on Monday. The regional governor said a drone hit "
    "a school. Rescuers worked through the night.",
)
SUMY = Article(
    "sumy",
    "Sumy",
    "Two civilians were killed in Sumy. Officials reported damage to a power line.",
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Sentence vectors are the rule engine's (the reader reads passages, not sentence vectors)."""
    return settings.model_copy(update={"answerer": "rules"})


class RecordingEmbedder(HashingEmbedder):
    """The fake embedder, noting every text the answerer asks it to encode."""

    def __init__(self, reading: str = "hashing-64-v1") -> None:
        super().__init__(dim=64)
        self.read: list[str] = []
        self._reading = reading

    @property
    def reading_id(self) -> str:
        return self._reading

    def encode_reading(self, texts: Sequence[str]) -> np.ndarray:
        self.read.extend(texts)
        return super().encode_reading(texts)


def _sentences_read(embedder: RecordingEmbedder) -> list[str]:
    return [t for t in embedder.read if " " in t]  # words come one at a time


def test_ingest_stores_every_sentence_and_answers_without_encoding_them(settings: Settings):
    embedder = RecordingEmbedder()
    pipeline = Pipeline(settings, embedder=embedder)
    pipeline.ingest([KHARKIV, SUMY])
    stored = pipeline.snapshot.sentences
    assert stored is not None and stored.encoder == "hashing-64-v1"
    for article in (KHARKIV, SUMY):
        texts = [s.text for s in article_sentences(article)]
        vectors = stored.of(article.id, len(texts))
        assert vectors is not None and vectors.dtype == np.float16
        assert np.allclose(vectors, embedder.encode(texts), atol=1e-3)
    answer = pipeline.ask("How many people were wounded in Kharkiv?")
    assert answer.answer == "Three"
    assert _sentences_read(embedder) == []  # looked up, not encoded

    reopened = Pipeline(settings, embedder=RecordingEmbedder()).open().sentences
    assert reopened is not None and reopened.rows == stored.rows
    assert np.array_equal(np.asarray(reopened.vectors), stored.vectors)


def test_replacing_and_deleting_articles_keep_the_rows_in_step(settings: Settings):
    pipeline = Pipeline(settings, embedder=RecordingEmbedder())
    pipeline.ingest([KHARKIV, SUMY])
    changed = dataclasses.replace(SUMY, text="Five civilians were killed in Sumy overnight.")
    pipeline.ingest([changed])
    stored = pipeline.snapshot.sentences
    assert stored is not None and set(stored.rows) == {"kharkiv", "sumy"}
    assert stored.of("sumy", 1) is not None and stored.of("sumy", 2) is None
    pipeline.delete("kharkiv")
    stored = pipeline.snapshot.sentences
    assert stored is not None and set(stored.rows) == {"sumy"}
    assert check_index(pipeline.store) == []


def test_another_reading_encoder_encodes_instead_of_using_stored_vectors(settings: Settings):
    Pipeline(settings, embedder=RecordingEmbedder("model-a-int8")).ingest([KHARKIV])
    other = RecordingEmbedder("model-a-fp32")
    pipeline = Pipeline(settings, embedder=other)
    assert pipeline.ask("How many people were wounded in Kharkiv?").answer == "Three"
    assert "Three people were wounded in Kharkiv on Monday." in _sentences_read(other)
    pipeline.ingest([SUMY])  # the old rows are not this encoder's: only the new are kept
    stored = pipeline.snapshot.sentences
    assert stored is not None and stored.encoder == "model-a-fp32"
    assert set(stored.rows) == {"sumy"}


def test_an_index_written_without_sentence_vectors_still_answers(settings: Settings):
    embedder = RecordingEmbedder()
    pipeline = Pipeline(settings, embedder=embedder)
    vectors = embedder.encode_documents([KHARKIV.text])
    from rag.store import ChunkRecord

    chunk = ChunkRecord("kharkiv", 0, len(KHARKIV.text), KHARKIV.text)
    with pipeline.store.write_lock():
        pipeline.store.commit({"kharkiv": KHARKIV}, [chunk], vectors)  # as older versions did
    assert not (pipeline.store.segments_dir / "000001" / "sentences.npy").exists()
    assert Pipeline(settings, embedder=embedder).open().sentences is None
    pipeline = Pipeline(settings, embedder=embedder)
    assert pipeline.ask("How many people were wounded in Kharkiv?").answer == "Three"
    assert _sentences_read(embedder)
    assert check_index(pipeline.store) == []


def test_damaged_sentence_vectors_are_refused_and_reported(settings: Settings):
    pipeline = Pipeline(settings, embedder=RecordingEmbedder())
    pipeline.ingest([KHARKIV])
    path = pipeline.store.segments_dir / "000001" / "sentences.npy"
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptIndex, match="sentences.npy checksum"):
        Pipeline(settings, embedder=RecordingEmbedder()).open()
    problems = [str(p) for p in check_index(pipeline.store)]
    assert any("sentences.npy" in p and "checksum" in p for p in problems)


def test_rows_outside_the_array_are_a_problem():
    rows = SentenceVectors(
        "e", SPLITTER_VERSION, {"a": (0, 2), "b": (1, 5)}, np.zeros((3, 4), np.float16)
    )
    assert rows.problems(4, {"a", "b"}) == [
        "sentence rows of 1 articles fall outside sentences.npy (e.g. 'b')"
    ]
    assert "not [n, 8]" in rows.problems(8, {"a", "b"})[0]


def test_kept_rows_are_compacted_once_mostly_unused_and_shared_rows_survive():
    vectors = np.arange(12, dtype=np.float16).reshape(6, 2)
    rows = {"a": (0, 2), "copy-of-a": (0, 2), "b": (2, 3), "c": (5, 1)}
    stored = SentenceVectors("e", SPLITTER_VERSION, rows, vectors)
    same = stored.kept(["a", "copy-of-a", "c"])  # 3 of 6 rows still used: no copy
    assert same.vectors is vectors and set(same.rows) == {"a", "copy-of-a", "c"}
    small = stored.kept(["copy-of-a"])  # 2 of 6: compacted
    assert small.rows == {"copy-of-a": (0, 2)}
    assert np.array_equal(small.vectors, vectors[:2])
    grown = small.plus({"d": (0, 1)}, np.ones((1, 2), np.float32))
    assert grown.rows == {"copy-of-a": (0, 2), "d": (2, 1)} and grown.vectors.dtype == np.float16
    assert empty("e", 2).plus({}, np.zeros((0, 2), np.float32)).vectors.shape == (0, 2)
    assert not stored.usable_by("other") and stored.usable_by("e")
    assert not dataclasses.replace(stored, splitter="sentences-v0").usable_by("e")


@pytest.mark.integration
def test_stored_vectors_are_the_reading_encoders_own(seed_pipeline: Pipeline):
    """With the real model: each stored row is the int8 reading vector of its sentence."""
    snapshot = seed_pipeline.snapshot
    stored = snapshot.sentences
    article = next(iter(snapshot.articles.values()))
    texts = [s.text for s in article_sentences(article)]
    assert stored is not None and stored.usable_by(seed_pipeline.embedder.reading_id)
    rows = np.asarray(stored.of(article.id, len(texts)), dtype=np.float32)
    fresh = seed_pipeline.embedder.encode_reading(texts)
    cosines = np.sum(rows * fresh, axis=1)
    assert cosines.min() > 0.97  # int8 batches and float16 storage: 0.98-1.0 here
