import json
from pathlib import Path

import pytest

from rag.documents import Problem, article_from_record, content_id, read_paths, title_and_spans
from tests.conftest import SEED_FILE


def test_seed_title_is_the_repeated_line_and_is_indexed_once():
    text = SEED_FILE.read_text(encoding="utf-8")
    title, spans = title_and_spans(text)
    assert title == "Putin Expresses Openness to Dialogue with Ukraine Amid Ongoing Conflict"
    indexed = "".join(text[a:b] for a, b in spans)
    assert indexed.count(title) == 1
    assert text.count(title) == 2


def test_markdown_heading_is_the_title():
    title, spans = title_and_spans("# Strikes on Kharkiv\n\nTwo people were hurt.")
    assert title == "Strikes on Kharkiv"
    assert spans == ((0, 43),)


def test_ids_are_stable_and_hash_the_text():
    assert content_id("a") == content_id("a") != content_id("b")
    record = {"text": "Some text.", "title": "T"}
    assert article_from_record(record, "x").id == content_id("Some text.")
    assert article_from_record({**record, "id": "r-1"}, "x").id == "r-1"


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"title": "no text"}, "no 'text'"),
        ({"text": "   "}, "no 'text'"),
        ({"text": 3}, "no 'text'"),
        ({"text": "ok", "id": "x" * 513}, "not allowed"),
        ({"text": "ok", "id": "line\nbreak"}, "control characters"),
        ({"text": "ok", "published_at": "yesterday"}, "not an ISO date"),
        ({"text": "ok", "title": ["x"]}, "must be a string"),
        (["not", "an", "object"], "expected a JSON object"),
    ],
)
def test_bad_records_are_refused_with_a_reason(record, message):
    from rag.errors import BadDocument

    with pytest.raises(BadDocument, match=message):
        article_from_record(record, "file.jsonl:3")


def test_bad_files_become_problems_and_the_rest_still_comes(tmp_path: Path):
    (tmp_path / "good.txt").write_text("Title\n\nBody sentence.", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    (tmp_path / "binary.md").write_bytes(b"\x00\x01\x02abc")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    lines = [json.dumps({"id": "a", "text": "First."}), "{not json", json.dumps({"id": "b"})]
    (tmp_path / "batch.jsonl").write_text("\n".join(lines), encoding="utf-8")
    items = list(read_paths([tmp_path, tmp_path / "missing.txt"]))
    articles = [i for i in items if not isinstance(i, Problem)]
    problems = {str(i) for i in items if isinstance(i, Problem)}
    assert sorted(a.title for a in articles) == ["First.", "Title"]
    assert any("batch.jsonl:2" in p and "invalid JSON" in p for p in problems)
    assert any("batch.jsonl:3" in p and "no 'text'" in p for p in problems)
    assert any("empty.txt" in p and "empty" in p for p in problems)
    assert any("binary.md" in p and "binary" in p for p in problems)
    assert any("latin1.txt" in p and "UTF-8" in p for p in problems)
    assert any("missing.txt" in p for p in problems)


def test_an_article_read_back_from_the_store_is_an_ordinary_frozen_article():
    """`Article.stored` skips the frozen __init__ for speed; it must set every field (a field
    added to Article later and not here fails this) and stay frozen and comparable."""
    import dataclasses

    from rag.documents import Article

    stored = Article.stored("k1", "Title", "Some text.", "Reuters", None, "2024-03-01", ((0, 4),))
    made = Article("k1", "Title", "Some text.", "Reuters", None, "2024-03-01", ((0, 4),))
    assert {f.name for f in dataclasses.fields(Article)} <= set(vars(stored))
    assert stored == made and hash(stored) == hash(made)
    assert stored.content_hash == made.content_hash
    with pytest.raises(dataclasses.FrozenInstanceError):
        stored.title = "changed"  # type: ignore[misc]
