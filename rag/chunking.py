"""Sentence-aware chunks that remember their exact character offsets in the article."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rag.documents import Article

if TYPE_CHECKING:  # imported when a splitter is made: asking a question never chunks
    from langchain_text_splitters import RecursiveCharacterTextSplitter

# Paragraphs first, then lines, then sentence ends, then clauses, then words.
SEPARATORS = ["\n\n", "\n", r"(?<=[.!?…][\"”’')\]]) ", r"(?<=[.!?…]) ", "; ", ", ", " ", ""]


@dataclass(frozen=True)
class Chunk:
    """A piece of an article: `article.text[start:end] == text`."""

    article_id: str
    start: int
    end: int
    text: str


def make_splitter(chunk_size: int, chunk_overlap: int) -> RecursiveCharacterTextSplitter:
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter(
        separators=SEPARATORS,
        is_separator_regex=True,
        keep_separator="end",
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        strip_whitespace=True,
    )


def chunk_article(article: Article, splitter: RecursiveCharacterTextSplitter) -> list[Chunk]:
    """Chunks of the indexed spans of an article, each located exactly in `article.text`.

    >>> from rag.documents import Article
    >>> a = Article(id="a", title="t", text="One. Two.")
    >>> [(c.start, c.end, c.text) for c in chunk_article(a, make_splitter(100, 0))]
    [(0, 9, 'One. Two.')]
    """
    chunks: list[Chunk] = []
    for span_start, span_end in article.spans():
        segment = article.text[span_start:span_end]
        cursor = 0
        for piece in splitter.split_text(segment):
            found = segment.find(piece, cursor)
            if found < 0:  # the splitter never rewrites text; this guards the offsets contract
                found = segment.find(piece)
            if found < 0:
                raise AssertionError(f"chunk not found in article {article.id}")
            start = span_start + found
            chunks.append(Chunk(article.id, start, start + len(piece), piece))
            cursor = found + 1
    return chunks
