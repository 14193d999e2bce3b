"""The shipped reader, for real: it loads offline from rag/data/reader/, answers the seed's
Odessa question with a copied span and its citation, abstains where the seed does not say, and a
tampered adapter stops the answerer with a message that says how to fix it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag.embedding import HashingEmbedder
from rag.pipeline import Pipeline
from rag.reader import DEFAULT_ARTIFACT_DIR, ReaderError, artifact_exists
from rag.reader.artifact import ADAPTER_FILE
from rag.reading import ReaderAnswerer

pytestmark = pytest.mark.integration


@pytest.fixture
def reader_pipeline(settings, real_embedder) -> Pipeline:
    assert artifact_exists(DEFAULT_ARTIFACT_DIR), "the trained reader ships in rag/data/reader/"
    pipeline = Pipeline(settings.model_copy(update={"answerer": "reader"}), embedder=real_embedder)
    pipeline.ensure_index()
    assert isinstance(pipeline.answerer, ReaderAnswerer)
    return pipeline


def test_the_reader_answers_the_odessa_question_with_a_cited_span(reader_pipeline) -> None:
    answer = reader_pipeline.ask("How many people were wounded in Odessa?")
    assert not answer.abstained and answer.answer is not None
    assert answer.normalized == 3 and "three" in answer.answer.lower()
    article = reader_pipeline.article(answer.citations[0].doc_id)
    cite = answer.citations[0]
    assert article.text[cite.answer_start : cite.answer_end] == answer.answer
    assert article.text[cite.start : cite.end] == cite.quote == answer.sentence
    assert answer.confidence >= reader_pipeline.answerer.threshold


@pytest.mark.parametrize(
    "question",
    [
        "How many tanks were destroyed near Bakhmut?",
        "Who is the mayor of Lviv?",
        "Was anyone killed in Odessa?",
    ],
)
def test_the_reader_abstains_where_the_seed_does_not_say(reader_pipeline, question) -> None:
    answer = reader_pipeline.ask(question)
    assert answer.abstained and answer.answer is None and answer.message


def test_a_tampered_adapter_is_refused_with_a_clear_message(tmp_path: Path, settings) -> None:
    copy = tmp_path / "reader"
    shutil.copytree(DEFAULT_ARTIFACT_DIR, copy, ignore=shutil.ignore_patterns("onnx"))
    data = bytearray((copy / ADAPTER_FILE).read_bytes())
    data[-10] ^= 0xFF
    (copy / ADAPTER_FILE).write_bytes(bytes(data))
    pipeline = Pipeline(
        settings.model_copy(update={"reader_dir": copy, "answerer": "reader"}),
        embedder=HashingEmbedder(dim=64),  # the reader is refused before any model matters
    )
    with pytest.raises(ReaderError, match="does not match its manifest"):
        _ = pipeline.answerer


def test_asking_for_the_reader_without_an_artifact_says_how_to_get_one(tmp_path, settings) -> None:
    pipeline = Pipeline(
        settings.model_copy(update={"reader_dir": tmp_path / "none", "answerer": "reader"}),
        embedder=HashingEmbedder(dim=64),
    )
    with pytest.raises(ReaderError, match="no reader artifact"):
        _ = pipeline.answerer
