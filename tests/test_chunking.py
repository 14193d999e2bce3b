import pytest

from rag.chunking import chunk_article, make_splitter
from rag.documents import Article, article_from_text
from tests.conftest import SEED_FILE


@pytest.mark.parametrize(("size", "overlap"), [(600, 120), (200, 50), (80, 0), (1000, 300)])
def test_every_chunk_is_the_exact_article_slice(size, overlap):
    article = article_from_text(SEED_FILE.read_text(encoding="utf-8"), "seed")
    chunks = chunk_article(article, make_splitter(size, overlap))
    assert chunks
    for chunk in chunks:
        assert article.text[chunk.start : chunk.end] == chunk.text
        assert len(chunk.text) <= size
        assert chunk.article_id == article.id


def test_chunks_cover_all_indexed_text_and_skip_the_repeated_title():
    article = article_from_text(SEED_FILE.read_text(encoding="utf-8"), "seed")
    chunks = chunk_article(article, make_splitter(300, 0))
    covered = set()
    for c in chunks:
        covered.update(range(c.start, c.end))
    for a, b in article.spans():
        for i in range(a, b):
            assert i in covered or article.text[i].isspace()
    joined = " ".join(c.text for c in chunks)
    assert joined.count(article.title) == 1


def test_chunks_break_at_sentence_ends():
    text = "Alpha one two three. Beta four five six. Gamma seven eight nine."
    chunks = chunk_article(Article("a", "t", text), make_splitter(45, 0))
    assert [c.text for c in chunks] == [
        "Alpha one two three. Beta four five six.",
        "Gamma seven eight nine.",
    ]


def test_unicode_offsets_hold():
    text = "Zelenskyy 🇺🇦 said: «три» — three. Combining é here. مرحبا بالعالم."
    chunks = chunk_article(Article("u", "t", text), make_splitter(30, 5))
    for c in chunks:
        assert text[c.start : c.end] == c.text
