"""The benchmark's text: SQuAD paragraphs (real prose nobody here wrote), and bigger indexes
made from them by repetition, with vectors perturbed so copies are neighbours, not twins."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass

import numpy as np

from rag.chunking import chunk_article, make_splitter
from rag.documents import Article
from rag.evaluation import EvalQuestion
from rag.sentence_vectors import SentenceVectors
from rag.squad import load_squad, resolve_squad_file
from rag.store import ChunkRecord, SegmentSentences

SQUAD_FILES = ("squad-v1.1-dev-public-half.json", "squad-v2.0-dev-public-half.json")
NOISE_SIGMA = 0.03  # per dimension; a copy keeps cosine ~0.86 with its original
SYNTHETIC_HOW = (
    "each real SQuAD chunk repeated under new article ids (text unchanged); each copy's vector "
    f"is the real MiniLM vector of its chunk plus Gaussian noise (sigma {NOISE_SIGMA} per "
    "dimension), renormalized: the texts are real, the vectors of copies are synthetic"
)


@dataclass(frozen=True)
class BenchCorpus:
    """SQuAD v1.1 paragraphs (one article each) with their questions, and `extra` articles.

    The public halves hold 1,023 distinct paragraphs, 1,920 chunks; the v2.0 file reuses
    v1.1's paragraphs. To pass 2,000 chunks of real text, `extra` joins v2.0's paragraphs into
    whole articles (one per SQuAD title), which chunk at other boundaries. The peer compares
    on the paragraphs alone, so the extra articles never compete with a question's paragraph.
    """

    articles: list[Article]
    questions: list[EvalQuestion]
    extra: list[Article]
    files: tuple[str, ...]

    def sample_questions(self, n: int, seed: int = 0) -> list[EvalQuestion]:
        """n questions (all when n <= 0 or n is more than there are), in a fixed random order."""
        pool = [q for q in self.questions if q.doc_id and q.answers]
        return random.Random(seed).sample(pool, n if 0 < n < len(pool) else len(pool))


def load_corpus(min_chunks: int, chunk_size: int, chunk_overlap: int) -> BenchCorpus:
    """SQuAD v1.1's public half, plus whole v2.0 articles until `min_chunks` chunks in all.

    Raises SquadDataMissing (a RagError) when the data is not there.
    """
    splitter = make_splitter(chunk_size, chunk_overlap)
    v11 = load_squad(resolve_squad_file(SQUAD_FILES[0]))
    chunks = sum(len(chunk_article(a, splitter)) for a in v11.articles)
    extra: list[Article] = []
    files = [SQUAD_FILES[0]]
    if chunks < min_chunks:
        files.append(SQUAD_FILES[1])
        for article in whole_articles(load_squad(resolve_squad_file(SQUAD_FILES[1])).articles):
            if chunks >= min_chunks:
                break
            extra.append(article)
            chunks += len(chunk_article(article, splitter))
    return BenchCorpus(list(v11.articles), list(v11.questions), extra, tuple(files))


def whole_articles(paragraphs: list[Article]) -> list[Article]:
    """Paragraphs of the same title joined into one article, blank lines between them."""
    by_title: dict[str, list[str]] = {}
    for paragraph in paragraphs:
        by_title.setdefault(paragraph.title, []).append(paragraph.text)
    return [
        Article(f"squad-article-{i}", title, "\n\n".join(texts))
        for i, (title, texts) in enumerate(by_title.items())
    ]


def perturbed(vectors: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Unit vectors near the given ones: add Gaussian noise, renormalize."""
    noisy = vectors + rng.standard_normal(vectors.shape, dtype=np.float32) * np.float32(sigma)
    noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
    return noisy.astype(np.float32, copy=False)


def replicate(
    articles: dict[str, Article],
    chunks: list[ChunkRecord],
    vectors: np.ndarray,
    n_chunks: int,
    seed: int = 0,
    sentences: SentenceVectors | SegmentSentences | None = None,
) -> tuple[dict[str, Article], list[ChunkRecord], np.ndarray, SentenceVectors | None]:
    """An index of exactly n_chunks chunks: the originals, then copies (see SYNTHETIC_HOW).

    A copy's stored sentence vectors are its original's rows (the text is the same, so the
    vectors would be); an index without them gets none.
    """
    by_article: dict[str, list[int]] = {}
    for i, chunk in enumerate(chunks):
        by_article.setdefault(chunk.article_id, []).append(i)
    order = list(by_article)
    out_articles: dict[str, Article] = {}
    out_chunks: list[ChunkRecord] = []
    rows: list[int] = []
    is_copy: list[bool] = []
    sentence_rows: dict[str, tuple[int, int]] = {}
    copy = 0
    while len(out_chunks) < n_chunks:
        for doc_id in order:
            if len(out_chunks) >= n_chunks:
                break
            article = articles[doc_id]
            new_id = doc_id if copy == 0 else f"{doc_id}~{copy}"
            title = article.title if copy == 0 else f"{article.title} (copy {copy})"
            out_articles[new_id] = dataclasses.replace(article, id=new_id, title=title)
            if sentences is not None and doc_id in sentences.rows:
                sentence_rows[new_id] = sentences.rows[doc_id]
            for i in by_article[doc_id][: n_chunks - len(out_chunks)]:
                c = chunks[i]
                out_chunks.append(ChunkRecord(new_id, c.start, c.end, c.text))
                rows.append(i)
                is_copy.append(copy > 0)
        copy += 1
    out_vectors = vectors[np.asarray(rows, dtype=np.int64)].astype(np.float32)
    copies = np.asarray(is_copy, dtype=bool)
    if copies.any():
        rng = np.random.default_rng(seed)
        out_vectors[copies] = perturbed(out_vectors[copies], rng, NOISE_SIGMA)
    out_sentences = (
        None
        if sentences is None  # a segmented snapshot's are a view: made one array here
        else SentenceVectors(
            sentences.encoder, sentences.splitter, sentence_rows, np.asarray(sentences.vectors)
        )
    )
    return out_articles, out_chunks, out_vectors, out_sentences
