"""The real bundled model over the real seed article."""

import os

import pytest

from rag.documents import Article
from rag.embedding import HashingEmbedder
from rag.errors import IncompatibleIndex
from rag.pipeline import Pipeline
from tests.conftest import SEED_FILE

pytestmark = pytest.mark.integration


def test_odessa_question_answers_three_with_exact_citation(seed_pipeline: Pipeline):
    answer = seed_pipeline.ask("how many were wounded in Odessa?")
    assert answer.answer == "three"
    assert answer.normalized == 3
    assert answer.answer_type == "count"
    assert not answer.abstained
    seed_text = SEED_FILE.read_text(encoding="utf-8")
    cite = answer.citations[0]
    assert seed_text[cite.start : cite.end] == cite.quote == answer.sentence
    assert seed_text[cite.answer_start : cite.answer_end] == "three"
    assert "wounded" in cite.quote


def test_spelling_variant_gives_the_same_answer(seed_pipeline: Pipeline):
    assert seed_pipeline.ask("How many people were injured in Odesa?").answer == "three"


def test_tanks_question_abstains(seed_pipeline: Pipeline):
    answer = seed_pipeline.ask("How many tanks did Russia lose in Odessa?")
    assert answer.abstained and answer.answer is None
    assert answer.passages


def test_claims_are_attributed(seed_pipeline: Pipeline):
    answer = seed_pipeline.ask("How many ceasefire violations did Zelensky allege?")
    assert answer.normalized == 3000
    assert answer.attribution == "Zelensky"


def test_confidence_orders_an_answer_above_an_abstention(seed_pipeline: Pipeline):
    good = seed_pipeline.ask("how many were wounded in Odessa?")
    bad = seed_pipeline.ask("How many tanks did Russia lose in Odessa?")
    assert 0.0 <= bad.confidence <= 1.0 and 0.0 <= good.confidence <= 1.0
    assert good.confidence > 1.0 - bad.confidence  # bad.confidence is the abstention's


def test_index_built_with_another_model_is_refused(seed_pipeline: Pipeline):
    with pytest.raises(IncompatibleIndex, match="rebuild"):
        Pipeline(seed_pipeline.settings, embedder=HashingEmbedder(dim=384)).open()


def test_interrupted_write_leaves_the_old_index_usable(seed_pipeline: Pipeline, monkeypatch):
    from rag.documents import Article

    before = seed_pipeline.store.current_name()

    def crash(*args, **kwargs):
        raise OSError("simulated crash before the commit point")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        seed_pipeline.ingest([Article("new", "New", "Ten drones were downed over Lviv.")])
    monkeypatch.undo()
    reopened = Pipeline(seed_pipeline.settings, embedder=seed_pipeline.embedder)
    assert reopened.store.current_name() == before
    assert "new" not in reopened.open().articles
    assert reopened.ask("how many were wounded in Odessa?").answer == "three"


@pytest.mark.parametrize("answerer", ["rules", "reader"])
def test_asking_imports_neither_pytorch_nor_the_chunker(seed_pipeline: Pipeline, answerer: str):
    """`rag ask` runs the question on the ONNX exports the index build left in the cache (and,
    with the reader, on the reader's export): the model, PyTorch, transformers and the text
    splitter are never imported (they cost ~7 s a call)."""
    if answerer == "reader":  # the reader's ONNX export, made once (this one imports PyTorch)
        from rag.pipeline import shared_reader
        from rag.reader import DEFAULT_ARTIFACT_DIR

        shared_reader(DEFAULT_ARTIFACT_DIR, "onnx-int8")
    import json
    import subprocess
    import sys

    probe = (
        "import sys, contextlib, io\n"
        "from rag.cli import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    code = main(['ask', '--json', 'how many were wounded in Odessa?'])\n"
        "heavy = ('torch', 'sentence_transformers', 'transformers', 'langchain_text_splitters')\n"
        "print(json.dumps({'code': code, 'answer': json.loads(out.getvalue())['answer'],\n"
        "                  'loaded': [m for m in heavy if m in sys.modules]}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env["RAG_INDEX_DIR"] = str(seed_pipeline.settings.index_dir)
    env["RAG_ANSWERER"] = answerer
    run = subprocess.run(
        [sys.executable, "-c", "import json\n" + probe],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result == {"code": 0, "answer": "three", "loaded": []}


def test_a_wire_copy_of_a_stored_article_folds_with_the_real_model(seed_pipeline: Pipeline):
    """A write whose only article is a copy moves the stored original into a new segment with
    its stored chunks and embeds nothing: the real embedder must give an empty [0, dim] array
    for no texts (it gave a 1-D one, and every such write was a 500; the fake embedder hid it)."""
    assert seed_pipeline.embedder.encode_documents([]).shape == (0, seed_pipeline.embedder.dim)
    original = next(iter(seed_pipeline.snapshot.articles.values()))
    copy = Article(
        "wire-copy", original.title, original.text + "\n\nUpdated.", "Another Outlet", None, None
    )
    report = seed_pipeline.ingest([copy])
    assert report.folded == [("wire-copy", original.id)] and report.committed
    assert [c.id for c in seed_pipeline.article(original.id).also_published] == ["wire-copy"]
    assert seed_pipeline.ask("How many were wounded in Odessa?").answer == "three"
