"""The pipeline over PostgreSQL: the same ingest, search and ask, the same answer document.

Retrieval asks the database for the dense (HNSW) and full-text (GIN) candidates, fuses them
with the embedded store's own fusion, and hands the answerer a `View`: the few articles the
passages come from and their stored sentence vectors, read in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, cast

import numpy as np

from rag import sentence_vectors
from rag.answering import Answer
from rag.chunking import chunk_article
from rag.documents import Article, Problem
from rag.errors import BadDocument, DocumentNotFound
from rag.ingest.folding import NUM_PERM, Banding, CopyIndex, fold, signature_rows
from rag.ingest.progress import Progress
from rag.pg.store import ChunkRow, Hit, PgStore
from rag.pipeline import IngestReport, Pipeline, admit, sort_changes
from rag.reading import ReaderAnswerer
from rag.retrieval import Filters, Passage, convex_fusion, rrf
from rag.sentences import SPLITTER_VERSION
from rag.store import IndexSpec, Snapshot


class StoredArticles(Mapping[str, Article]):
    """The database's articles as a read-only mapping, each read when asked for."""

    def __init__(self, store: PgStore) -> None:
        self.store = store

    def __getitem__(self, doc_id: str) -> Article:
        with self.store.reading() as conn:
            found = self.store.articles(conn, [doc_id])
        if doc_id not in found:
            raise KeyError(doc_id)
        return found[doc_id]

    def __iter__(self) -> Iterator[str]:
        with self.store.reading() as conn:
            return iter(self.store.ids(conn))

    def __len__(self) -> int:
        with self.store.reading() as conn:
            return self.store.counts(conn)[0]

    def values(self) -> Iterator[Article]:  # type: ignore[override]
        with self.store.reading() as conn:
            ids = self.store.ids(conn)
            for start in range(0, len(ids), 500):
                page = self.store.articles(conn, ids[start : start + 500])
                yield from (page[i] for i in ids[start : start + 500])


class ChunkCount:
    """Stands for the chunk list where only its length is read (info, metrics)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n


@dataclass
class View:
    """What the answerer reads of a snapshot: articles by id, sentence vectors, caches."""

    name: str
    manifest: dict[str, Any]
    articles: Mapping[str, Article]
    chunks: Any
    sentences: sentence_vectors.SentenceVectors | None = None
    extras: dict[str, Any] = field(default_factory=dict)


class PgPipeline(Pipeline):
    """`Pipeline` with PostgreSQL as its store; stateless, so any number can share one database."""

    _signed: str | None = None  # the banding every stored article has keys of

    def _open_store(self, spec: IndexSpec) -> PgStore:  # type: ignore[override]
        """The database the settings name (opened on first use, not here); chunks are
        embedded without their titles there."""
        settings = self.settings
        return PgStore(
            settings.database_dsn(),
            replace(spec, embed_titles=False),
            pool_size=settings.pg_pool_size,
            ef_search=settings.pg_ef_search,
            hnsw_m=settings.pg_hnsw_m,
            hnsw_ef_construction=settings.pg_hnsw_ef_construction,
        )

    @property
    def pg(self) -> PgStore:
        return cast(PgStore, self.store)

    # ----- state --------------------------------------------------------------------------
    def open(self) -> Snapshot:
        return self.snapshot

    @property
    def snapshot(self) -> Snapshot:
        """The whole database as a snapshot-like view (articles read lazily)."""
        with self.pg.reading() as conn:
            _, chunks = self.pg.counts(conn)
        view = View("postgres", self._manifest(), StoredArticles(self.pg), ChunkCount(chunks))
        return cast(Snapshot, view)

    def wait_followed(self, timeout: float = 60.0) -> None:
        return None  # every read goes to the database: nothing to follow

    def wait_merges(self, timeout: float | None = None) -> None:
        return None  # PostgreSQL has no segments to merge (the CLI waits after every write)

    def _manifest(self) -> dict[str, Any]:
        spec = self.pg.spec
        return {
            "embedding_model": spec.embedding_model,
            "dim": spec.dim,
            "chunk_size": spec.chunk_size,
            "chunk_overlap": spec.chunk_overlap,
            "format_version": "postgres",
            "created_at": None,
        }

    # ----- writes -------------------------------------------------------------------------
    def ingest(
        self,
        articles: list[Article],
        *,
        problems: list[Problem] | None = None,
        strict: bool = False,
        show_progress: bool = False,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Add or replace articles in one transaction; wire copies are folded as in the
        embedded store, against every stored article (their LSH band keys are in the
        database). The embedding is done before the transaction, for the articles a fold
        over a plain read says are stored anew; under the writers' lock the fold is decided
        again, and an article it stores that was not embedded yet is embedded there."""
        report = IngestReport(skipped=list(problems or []))
        progress = progress or Progress(enabled=show_progress)
        incoming = admit(articles, self.settings.max_article_chars, report)
        if (strict and report.skipped) or not incoming:
            return report
        if self.pg.exists():
            with self.pg.connection() as conn:
                likely, _ = self._plan(conn, incoming, IngestReport(), lock=False)
                conn.rollback()
        else:
            likely = dict(incoming)
        prepared = self._prepared(list(likely.values()), progress)
        with self.pg.writing() as conn:
            self._sign_stored(conn)
            changed, updated = self._plan(conn, incoming, report, lock=True)
            if not changed and not updated:
                return report
            missing = [a for k, a in changed.items() if not _made_from(prepared.get(k), a)]
            prepared.update(self._prepared(missing, progress))
            rows = [r for k in changed for r in prepared[k][1]]
            sentences = {k: prepared[k][2] for k in changed if prepared[k][2] is not None}
            written = [*updated.values(), *changed.values()]
            self.pg.put_articles(conn, written)
            self._put_signatures(conn, written)
            self.pg.replace_chunks(
                conn, list(changed), rows, sentences if self.embedder.reading_id else None
            )
            report.chunks_added = len(rows)
            report.committed = True
        return report

    def _plan(
        self, conn: Any, incoming: dict[str, Article], report: IngestReport, lock: bool
    ) -> tuple[dict[str, Article], dict[str, Article]]:
        """(changed, updated) as `sort_changes` gives them, after folding the incoming
        articles into the stored ones with the same ids or copies and those sharing an LSH
        band with them."""
        base = self.pg.related(conn, incoming, lock=lock)
        copies = None
        if self.settings.fold_copies:
            copies = self._copy_index()
            keys = copies.banding.keys(np.stack([copies.row(a) for a in incoming.values()]))
            found = self.pg.copy_candidates(conn, keys, copies.banding.name, base, lock=lock)
            for doc_id, (article, row) in found.items():
                copies.cache[doc_id] = (article.content_hash, row)
                base[doc_id] = article
        plan = fold(base, incoming.values(), copies)
        report.folded = plan.folded
        return sort_changes(plan, base, report)

    def prepare_writes(self) -> None:
        """Nothing to build: copies are found by the database's band keys."""

    def _copy_index(self) -> CopyIndex:
        """A fresh MinHash index over the signatures this process has made or read."""
        return CopyIndex(self.settings.fold_threshold, self._signatures)

    def _prepared(
        self, articles: list[Article], progress: Progress
    ) -> dict[str, tuple[Article, list[ChunkRow], tuple[str, str, np.ndarray] | None]]:
        """Each article's chunk rows and sentence vectors, by id (with the article they were
        made from)."""
        if not articles:
            return {}
        rows, sentences = self.prepare(articles, progress)
        out: dict[str, tuple[Article, list[ChunkRow], tuple[str, str, np.ndarray] | None]] = {
            a.id: (a, [], None if sentences is None else sentences.get(a.id)) for a in articles
        }
        for row in rows:
            out[row.article_id][1].append(row)
        return out

    def _sign_stored(self, conn: Any) -> None:
        """Give stored articles without band keys of this banding (written before schema
        version 2, or under another fold threshold) their MinHash rows and keys; once a
        process, a thousand at a time."""
        banding = Banding.for_threshold(self.settings.fold_threshold)
        if self._signed == banding.name:
            return
        while batch := self.pg.unsigned(conn, banding.name, 1000):
            rows = {
                doc_id: np.frombuffer(stored, dtype=np.uint32)
                if stored is not None and len(stored) == 4 * NUM_PERM
                else signature_rows([text])[0]
                for doc_id, text, stored in batch
            }
            self.pg.put_signatures(
                conn, rows, banding.keys(np.stack(list(rows.values()))), banding.name
            )
        self._signed = banding.name

    def _put_signatures(self, conn: Any, articles: list[Article]) -> None:
        copies = self._copy_index()
        rows = {a.id: copies.row(a) for a in articles}
        keys = copies.banding.keys(np.stack(list(rows.values())))
        self.pg.put_signatures(conn, rows, keys, copies.banding.name)

    def prepare(
        self, articles: list[Article], progress: Progress | None = None
    ) -> tuple[list[ChunkRow], dict[str, tuple[str, str, np.ndarray]] | None]:
        """Chunks with vectors and index terms, and sentence vectors: the CPU-heavy part of a
        write, done before (or, on Ray, far from) the transaction."""
        chunks = [c for a in articles for c in chunk_article(a, self.splitter)]
        vectors = self._embed_chunks([c.text for c in chunks], progress or Progress(False))
        rows = [
            ChunkRow(c.article_id, c.start, c.end, c.text, v, self.analyzer.terms(c.text))
            for c, v in zip(chunks, vectors, strict=True)
        ]
        encoder = self.embedder.reading_id
        if encoder is None:
            return rows, None
        spans, sentence_rows = sentence_vectors.encode_articles(articles, self.embedder)
        return rows, {
            doc_id: (encoder, SPLITTER_VERSION, sentence_rows[first : first + count])
            for doc_id, (first, count) in spans.items()
        }

    def delete(self, doc_id: str) -> None:
        if not self.pg.exists():
            raise DocumentNotFound(f"no article with id {doc_id!r} in the index")
        with self.pg.writing() as conn:
            self.pg.delete(conn, doc_id)

    def ensure_index(self, seeds_dir: Any = None) -> IngestReport | None:
        if self.pg.exists():
            return None
        seeds = seeds_dir or self.settings.seeds_dir
        if not seeds.is_dir():
            raise BadDocument(f"no index in {self.pg.root} and no seed folder at {seeds}")
        return self.ingest_paths([seeds])

    # ----- reads --------------------------------------------------------------------------
    def _retrieve(
        self,
        conn: Any,
        question: str,
        k: int,
        filters: Filters | None,
        query_vector: np.ndarray,
    ) -> list[Passage]:
        pool = max(self.settings.candidate_k, k)
        dense = self.pg.dense(conn, query_vector, pool, filters)
        lexical = self.pg.lexical(conn, self.analyzer.terms(question), pool, filters)
        if self.settings.fusion == "rrf":
            fused = rrf([[i for i, _ in dense], [i for i, _ in lexical]], self.settings.rrf_k)
        else:
            fused = convex_fusion(dense, lexical, self.settings.dense_weight)
        ranked = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]
        hits = self.pg.hits(conn, [i for i, _ in ranked], query_vector)
        articles = self.pg.articles(conn, {h.article_id for h in hits.values()})
        lexical_by_id = dict(lexical)
        return [
            _passage(hits[i], s, articles[hits[i].article_id], lexical_by_id.get(i))
            for i, s in ranked
        ]

    def search(
        self, question: str, k: int | None = None, filters: Filters | None = None
    ) -> list[Passage]:
        question = self.check_question(question)
        query_vector = self.embedder.encode([question])[0]
        with self.pg.reading() as conn:
            return self._retrieve(conn, question, k or self.settings.top_k, filters, query_vector)

    def ask(self, question: str, k: int | None = None, filters: Filters | None = None) -> Answer:
        question = self.check_question(question)
        query_vector = self.embedder.encode([question])[0]
        k = k or self.settings.top_k
        pool = max(k, self.settings.answer_passages)
        answerer = self.answerer
        with self.pg.reading() as conn:
            passages = self._retrieve(conn, question, pool, filters, query_vector)
            ids = {p.doc_id for p in passages}
            articles = self.pg.articles(conn, ids)
            sentences = self.pg.sentence_vectors(
                conn, ids, self.embedder.reading_id, SPLITTER_VERSION
            )
        view = cast(Snapshot, View("postgres", {}, articles, [], sentences))
        if isinstance(answerer, ReaderAnswerer):
            answer = answerer.answer(question, passages, view, self.settings.answer_passages)
        else:
            answer = answerer.answer(
                question, passages, view, query_vector, self.settings.answer_passages
            )
        return Answer(**{**answer.__dict__, "passages": passages[:k]})

    def article(self, doc_id: str) -> Article:
        with self.pg.reading() as conn:
            found = self.pg.articles(conn, [doc_id])
        if doc_id not in found:
            raise DocumentNotFound(f"no article with id {doc_id!r} in the index")
        return found[doc_id]

    def info(self) -> dict[str, Any]:
        with self.pg.reading() as conn:
            n_articles, n_chunks = self.pg.counts(conn)
            copies = self.pg.copies_folded(conn)
        manifest = self._manifest()
        return {
            "index_dir": self.pg.root,
            "snapshot": "postgres",
            "articles": n_articles,
            "copies_folded": copies,
            "chunks": n_chunks,
            "embedding_model": manifest["embedding_model"],
            "dim": manifest["dim"],
            "chunk_size": manifest["chunk_size"],
            "chunk_overlap": manifest["chunk_overlap"],
            "created_at": None,
            "format_version": "postgres",
        }


def _made_from(prepared: tuple[Article, Any, Any] | None, article: Article) -> bool:
    """Whether prepared chunks were made from this article's current content."""
    return prepared is not None and prepared[0].content_hash == article.content_hash


def _passage(hit: Hit, score: float, article: Article, lexical: float | None) -> Passage:
    return Passage(
        chunk_id=hit.chunk_id,
        doc_id=article.id,
        title=article.title,
        source=article.source,
        url=article.url,
        published_at=article.published_at,
        text=hit.text,
        start=hit.start,
        end=hit.end,
        score=round(score, 6),
        dense_score=round(hit.cosine, 6),
        lexical_score=None if lexical is None else round(lexical, 6),
        also_published=article.also_published,
    )
