"""The one object every edge uses: ingest, delete, search and ask over one index."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from rag import sentence_vectors
from rag.answering import Answer, Answerer
from rag.chunking import chunk_article, make_splitter
from rag.documents import Article, IdFrom, Limits, Problem, iter_paths, read_file
from rag.embedder_factory import make_embedder
from rag.embedding import Embedder
from rag.errors import (
    BadDocument,
    DocumentNotFound,
    EmptyQuestion,
    QuestionTooLong,
    RagError,
)
from rag.heap import release_free_memory
from rag.ingest.folding import CopyIndex, FoldPlan, fold
from rag.ingest.progress import Progress
from rag.lexicon import Lexicon, load_lexicon
from rag.merging import plan_merge
from rag.reading import ReaderAnswerer
from rag.retrieval import Filters, Passage, Retriever
from rag.settings import Settings
from rag.store import ChunkRecord, IndexSpec, IndexStore, Snapshot
from rag.text import Analyzer, load_aliases
from rag.vector_index import IndexParams

logger = logging.getLogger(__name__)
EMBED_SLICE = 256  # chunks embedded between two progress redraws on a terminal


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[Problem] = field(default_factory=list)
    folded: list[tuple[str, str]] = field(default_factory=list)  # (copy id, kept article id)
    chunks_added: int = 0
    committed: bool = False
    embed_s: float = 0.0  # of the write's time, encoding chunks and sentences (the rest: index)

    def to_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "replaced": self.replaced,
            "unchanged": self.unchanged,
            "folded": [{"id": copy, "into": kept} for copy, kept in self.folded],
            "skipped": [{"location": p.location, "error": p.message} for p in self.skipped],
            "chunks_added": self.chunks_added,
            "committed": self.committed,
        }


def admit(articles: Iterable[Article], max_chars: int, report: IngestReport) -> dict[str, Article]:
    """The articles a write takes, by id: one over the size limit goes to `report.skipped`,
    and the last of duplicate ids wins, in its place."""
    incoming: dict[str, Article] = {}
    for article in articles:
        if len(article.text) > max_chars:
            report.skipped.append(
                Problem(
                    article.id,
                    f"article has {len(article.text):,} characters, over the limit of "
                    f"{max_chars:,} (RAG_MAX_ARTICLE_CHARS)",
                )
            )
            continue
        incoming.pop(article.id, None)
        incoming[article.id] = article
    return incoming


def sort_changes(
    plan: FoldPlan, stored: Mapping[str, Article], report: IngestReport
) -> tuple[dict[str, Article], dict[str, Article]]:
    """(changed: new text, to chunk and embed; updated: the record alone changed, e.g. a wire
    copy folded in) of a folding plan against the stored articles; the report says which ids
    were added, replaced or unchanged."""
    changed: dict[str, Article] = {}
    updated = {k: a for k, a in plan.touched.items() if a != stored[k]}
    for doc_id, article in plan.store.items():
        old = stored.get(doc_id)
        if old is not None and old.content_hash == article.content_hash:
            report.unchanged.append(doc_id)
            if old != article:
                updated[doc_id] = article
        else:
            (report.replaced if old is not None else report.added).append(doc_id)
            changed[doc_id] = article
    return changed, updated


def check_question(question: object, max_chars: int) -> str:
    """The question with its whitespace collapsed, or a clear error."""
    if not isinstance(question, str) or not question.strip():
        raise EmptyQuestion("the question is empty; ask something, e.g. 'how many were wounded?'")
    if len(question) > max_chars:
        raise QuestionTooLong(
            f"the question has {len(question):,} characters; the limit is {max_chars:,} "
            "(RAG_MAX_QUESTION_CHARS)"
        )
    if "\x00" in question:
        raise EmptyQuestion("the question contains a NUL character")
    try:
        question.encode("utf-8")
    except UnicodeEncodeError:
        raise EmptyQuestion("the question is not valid UTF-8 text") from None
    return " ".join(question.split())


class Pipeline:
    """Owns the embedder, the index store and the live snapshot; safe to share across threads."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.embedder: Embedder = embedder or make_embedder(settings)
        self.analyzer = Analyzer(load_aliases(settings.aliases_path))
        self.lexicon = load_lexicon()
        self.store = self._open_store(
            IndexSpec(
                embedding_model=self.embedder.name,
                model_fingerprint=self.embedder.fingerprint,
                dim=self.embedder.dim,
                chunk_size=settings.chunk_size,
                chunk_overlap=settings.chunk_overlap,
                embed_titles=settings.embed_titles,
            )
        )
        self._answerer: Answerer | ReaderAnswerer | None = None
        self._answerer_lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._retriever: Retriever | None = None
        self._swap = threading.Lock()
        self._following = threading.Lock()  # held while a newer snapshot is being loaded
        self._checked_at = time.monotonic()
        self._unloadable = ""  # a newer snapshot that failed to load
        self._signatures: dict[str, tuple[str, Any]] = {}  # article MinHashes, kept across writes
        self._signed_segments: set[str] = set()  # segments whose stored MinHashes are cached
        self._copies: CopyIndex | None = None  # their LSH index (under the write lock)
        self._merge_state = threading.Lock()
        self._merger: threading.Thread | None = None
        self._merge_again = False

    def _open_store(self, spec: IndexSpec) -> IndexStore:
        """The store this pipeline reads and writes: the index folder."""
        return IndexStore(
            self.settings.index_dir,
            spec,
            IndexParams.from_settings(self.settings),
            self.analyzer,
            checksum_on_load=self.settings.checksum_on_load,
        )

    @cached_property
    def splitter(self) -> Any:
        """The chunker, made on the first write (asking never needs it)."""
        return make_splitter(self.settings.chunk_size, self.settings.chunk_overlap)

    # ----- state --------------------------------------------------------------------------
    def open(self) -> Snapshot:
        """Load the current snapshot (raises IndexNotFound / IncompatibleIndex / CorruptIndex)."""
        self._install(self.store.load())
        assert self._snapshot is not None
        return self._snapshot

    def _install(self, snapshot: Snapshot) -> None:
        retriever = Retriever(
            snapshot,
            self.embedder,
            self.analyzer,
            self.settings.candidate_k,
            self.settings.rrf_k,
            self.settings.fusion,
            self.settings.dense_weight,
        )
        with self._swap:
            if self._snapshot is None or _age(snapshot) >= _age(self._snapshot):
                self._snapshot, self._retriever = snapshot, retriever

    def _current(self) -> tuple[Snapshot, Retriever]:
        with self._swap:
            snapshot, retriever = self._snapshot, self._retriever
        if snapshot is None or retriever is None:
            self.open()
            return self._current()
        self._follow(snapshot)
        return snapshot, retriever

    def _follow(self, serving: Snapshot) -> None:
        """Pick up a snapshot another process wrote (`rag ingest` beside `rag serve`).

        At most every `reload_check_s` seconds, one small read of CURRENT; when it names a
        newer snapshot, a background thread loads it while requests go on with this one.
        """
        interval = self.settings.reload_check_s
        now = time.monotonic()
        if interval < 0 or now - self._checked_at < interval:
            return
        self._checked_at = now
        try:
            name = self.store.current_name()
        except RagError:
            return  # a damaged pointer: keep serving the snapshot in memory
        if name in (serving.name, self._unloadable) or not self._following.acquire(blocking=False):
            return

        def load() -> None:
            try:
                self._install(self.store.load())
            except RagError as exc:
                self._unloadable = name  # said once, not every second
                logger.warning("index at %s changed but cannot be loaded: %s", self.store.root, exc)
            finally:
                self._following.release()

        threading.Thread(target=load, name="rag-follow", daemon=True).start()

    def wait_followed(self, timeout: float = 60.0) -> None:
        """Block until a background load started by `_follow` is done (tests, shutdown)."""
        if self._following.acquire(timeout=timeout):
            self._following.release()

    @property
    def snapshot(self) -> Snapshot:
        return self._current()[0]

    # ----- writes -------------------------------------------------------------------------
    def ingest_paths(
        self,
        paths: Iterable[Path],
        *,
        strict: bool = False,
        show_progress: bool = False,
        id_from: IdFrom = "content",
    ) -> IngestReport:
        progress = Progress(enabled=show_progress)
        files = list(iter_paths(paths))
        articles: list[Article] = []
        problems: list[Problem] = [f for f in files if isinstance(f, Problem)]
        readable = [f for f in files if isinstance(f, Path)]
        limits = Limits(self.settings.max_page_bytes, self.settings.max_pdf_bytes)
        for done, path in enumerate(readable, start=1):
            for item in read_file(path, id_from=id_from, limits=limits):
                (problems if isinstance(item, Problem) else articles).append(item)  # type: ignore[arg-type]
            progress.reading(done, len(readable), len(articles))
        try:
            return self.ingest(articles, problems=problems, strict=strict, progress=progress)
        finally:
            progress.close()

    def ingest(
        self,
        articles: list[Article],
        *,
        problems: list[Problem] | None = None,
        strict: bool = False,
        show_progress: bool = False,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Add or replace articles in one atomic write; bad ones are reported, not fatal;
        wire copies of stored articles are folded into them (`also_published`)."""
        report = IngestReport(skipped=list(problems or []))
        progress = progress or Progress(enabled=show_progress)
        incoming = admit(articles, self.settings.max_article_chars, report)
        if strict and report.skipped:
            return report
        with self.store.write_lock():
            base = self.store.base_for_write()
            self._keep_embedding_choice(base)
            copies = self._copy_index(base) if self.settings.fold_copies else None
            plan = fold(base.articles, incoming.values(), copies)
            report.folded = plan.folded
            changed, updated = sort_changes(plan, base.articles, report)
            if not changed and not updated:
                self._install(base) if base.name else None
                return report
            new_chunks = [c for a in changed.values() for c in chunk_article(a, self.splitter)]
            embedding = time.perf_counter()
            vectors = self._embed_chunks(
                [self._embedded_text(changed[c.article_id], c.text) for c in new_chunks], progress
            )
            chunks = [ChunkRecord(c.article_id, c.start, c.end, c.text) for c in new_chunks]
            sentences = sentence_vectors.for_write(
                None, (), list(changed.values()), self.embedder, show_progress=progress.enabled
            )
            report.embed_s = time.perf_counter() - embedding
            # an article whose record changed (a wire copy folded in) moves to the new segment
            # with its stored chunks and vectors: nothing is embedded again
            moved = [a for doc_id, a in updated.items() if doc_id not in changed]
            if moved:
                chunks, vectors, sentences = _with_moved(base, moved, chunks, vectors, sentences)
            snapshot = self.store.add(
                base,
                {**{a.id: a for a in moved}, **changed},
                chunks,
                vectors,
                sentences,
                remove=set(changed) | set(updated),
                signatures=self._copies.rows_of(changed | updated) if self._copies else None,
            )
            report.chunks_added = len(new_chunks)
            report.committed = True
        self._install(snapshot)
        self._schedule_merge()
        return report

    def prepare_writes(self) -> None:
        """Build ahead of the first write what it would build first: the stored articles'
        MinHash index that wire copies are folded against (1.2-1.6 s at 100k chunks, paid by
        the first write after a start otherwise). Under the write lock, like a write."""
        if not self.settings.fold_copies:
            return
        with self.store.write_lock():
            base = self.store.base_for_write()
            if base.name:
                self._copy_index(base)

    def _copy_index(self, base: Snapshot) -> CopyIndex:
        """The stored articles' MinHash index, kept from write to write (fold syncs it). The
        signatures of articles this process has not seen come from their segments' stored
        rows (made at write time), not from shingling the archive again."""
        if self._copies is None:
            self._copies = CopyIndex(self.settings.fold_threshold, self._signatures)
        for segment in base.segments:
            if segment.name not in self._signed_segments:
                self._signed_segments.add(segment.name)
                self._copies.seed(segment, base.deleted.get(segment.name, frozenset()))
        return self._copies

    def _keep_embedding_choice(self, base: Snapshot) -> None:
        """A new index embeds titles as the settings say; an existing one as it was built
        (indexes from before the setting: without), so its vectors stay of one kind."""
        titles = bool(base.manifest.get("embed_titles", False)) if base.chunks else None
        if titles is not None and titles != self.store.spec.embed_titles:
            self.store.spec = replace(self.store.spec, embed_titles=titles)

    def _embedded_text(self, article: Article, text: str) -> str:
        """What a chunk's vector is made of: its article's title, a newline and its text
        (a chunk deep in a long article rarely names what it is about); or the text alone."""
        title = article.title.strip()
        return f"{title}\n{text}" if self.store.spec.embed_titles and title else text

    def _embed_chunks(self, texts: list[str], progress: Progress) -> np.ndarray:
        """The chunks' vectors, a slice at a time so a terminal shows chunks/s and time left."""
        if not progress.enabled or not texts:
            return self.embedder.encode_documents(texts)
        parts = []
        for start in range(0, len(texts), EMBED_SLICE):
            progress.embedding(start, len(texts))
            parts.append(self.embedder.encode_documents(texts[start : start + EMBED_SLICE]))
        progress.embedding(len(texts), len(texts))
        progress.close()  # the sentence vectors that follow draw their own bar
        return np.concatenate(parts)

    def delete(self, doc_id: str) -> None:
        with self.store.write_lock():
            base = self.store.base_for_write(missing_ok=False)
            self._keep_embedding_choice(base)
            if doc_id not in base.articles:
                raise DocumentNotFound(f"no article with id {doc_id!r} in the index")
            empty = np.zeros((0, self.embedder.dim), dtype=np.float32)
            snapshot = self.store.add(base, {}, [], empty, None, remove={doc_id})
        self._install(snapshot)
        self._schedule_merge()

    def upgrade(self) -> bool:
        """Migrate an index in the format before segments (`rag check --upgrade`)."""
        if self.store.exists():  # the migrated manifest records how the vectors were made
            self._keep_embedding_choice(self.store.load())
        upgraded = self.store.upgrade()
        if upgraded:
            self.open()
        return upgraded

    # ----- merging ------------------------------------------------------------------------
    def _schedule_merge(self) -> None:
        """Merge segments in a background thread when the policy asks for it; reads and writes
        go on meanwhile (a merge holds the write lock only to commit)."""
        if self.settings.merge_factor < 2:
            return
        with self._merge_state:
            if self._merger is not None and self._merger.is_alive():
                self._merge_again = True
                return
            self._merge_again = False
            self._merger = threading.Thread(target=self._merge_loop, name="rag-merge", daemon=True)
            self._merger.start()

    def merge_plan(self, snapshot: Snapshot) -> list[str] | None:
        """Names of the segments the merge policy would merge next in this snapshot."""
        sizes = [
            (s.rows, int(m.sum())) for s, m in zip(snapshot.segments, snapshot.live, strict=True)
        ]
        plan = plan_merge(sizes, self.settings.merge_floor_chunks, self.settings.merge_factor)
        return None if plan is None else [snapshot.segments[i].name for i in plan]

    def _merge_loop(self) -> None:
        while True:
            try:
                with self.store.write_lock():
                    snapshot = self.store.base_for_write(missing_ok=False)
                    self._keep_embedding_choice(snapshot)  # the merged manifest keeps it
                plan = self.merge_plan(snapshot)
                merged = self.store.merge(plan) if plan else None
            except RagError as exc:
                logger.warning("merging segments of %s failed: %s", self.store.root, exc)
                merged = None
            if merged is not None:
                self._install(merged)
                release_free_memory()  # what the merged segments and their building freed
                continue
            with self._merge_state:
                if not self._merge_again:
                    self._merger = None
                    return
                self._merge_again = False

    def wait_merges(self, timeout: float | None = None) -> None:
        """Block until background merging is done (the CLI before it exits, tests)."""
        with self._merge_state:
            merger = self._merger
        if merger is not None:
            merger.join(timeout)

    def ensure_index(self, seeds_dir: Path | None = None) -> IngestReport | None:
        """Build the index from the seed articles when there is none yet."""
        if self.store.exists():
            return None
        seeds = seeds_dir or self.settings.seeds_dir
        if not seeds.is_dir():
            raise BadDocument(f"no index at {self.store.root} and no seed folder at {seeds}")
        return self.ingest_paths([seeds])

    # ----- reads --------------------------------------------------------------------------
    @property
    def answerer(self) -> Answerer | ReaderAnswerer:
        """The answerer the settings name, made on first use (ingesting never loads the reader)."""
        with self._answerer_lock:
            if self._answerer is None:
                self._answerer = make_answerer(
                    self.settings, self.embedder, self.analyzer, self.lexicon
                )
            return self._answerer

    def check_question(self, question: str) -> str:
        return check_question(question, self.settings.max_question_chars)

    def search(
        self, question: str, k: int | None = None, filters: Filters | None = None
    ) -> list[Passage]:
        question = self.check_question(question)
        _, retriever = self._current()
        return retriever.search(question, k or self.settings.top_k, filters)

    def ask(self, question: str, k: int | None = None, filters: Filters | None = None) -> Answer:
        question = self.check_question(question)
        snapshot, retriever = self._current()
        query_vector = self.embedder.encode([question])[0]
        k = k or self.settings.top_k
        pool = max(k, self.settings.answer_passages)
        passages = retriever.search(question, pool, filters, query_vector=query_vector)
        answerer = self.answerer
        if isinstance(answerer, ReaderAnswerer):
            answer = answerer.answer(question, passages, snapshot, self.settings.answer_passages)
        else:
            answer = answerer.answer(
                question, passages, snapshot, query_vector, self.settings.answer_passages
            )
        return Answer(**{**answer.__dict__, "passages": passages[:k]})

    def article(self, doc_id: str) -> Article:
        article = self.snapshot.articles.get(doc_id)
        if article is None:
            raise DocumentNotFound(f"no article with id {doc_id!r} in the index")
        return article

    def info(self) -> dict[str, Any]:
        snapshot = self.snapshot
        return {
            "index_dir": str(self.store.root),
            "snapshot": snapshot.name,
            "articles": len(snapshot.articles),
            "copies_folded": sum(len(a.also_published) for a in snapshot.articles.values()),
            "chunks": len(snapshot.chunks),
            "embedding_model": snapshot.manifest.get("embedding_model"),
            "dim": snapshot.manifest.get("dim"),
            "chunk_size": snapshot.manifest.get("chunk_size"),
            "chunk_overlap": snapshot.manifest.get("chunk_overlap"),
            "created_at": snapshot.manifest.get("created_at"),
            "format_version": snapshot.manifest.get("format_version"),
        }


def open_pipeline(settings: Settings, embedder: Embedder | None = None) -> Pipeline:
    """The pipeline over the store the settings name: the index folder, or PostgreSQL."""
    if settings.store == "postgres":
        from rag.pg.pipeline import PgPipeline

        return PgPipeline(settings, embedder)
    return Pipeline(settings) if embedder is None else Pipeline(settings, embedder=embedder)


_READERS: dict[tuple[str, str], Any] = {}
_READERS_LOCK = threading.Lock()


def shared_reader(directory: Path, backend: str) -> Any:
    """One loaded reader per artifact folder and backend in a process (it is read-only)."""
    from rag.reader import load_reader

    key = (str(directory), backend)
    with _READERS_LOCK:
        if key not in _READERS:
            _READERS[key] = load_reader(
                directory,
                backend="torch" if backend == "torch" else "onnx",
                quantize=backend == "onnx-int8",
            )
        return _READERS[key]


def make_answerer(
    settings: Settings, embedder: Embedder, analyzer: Analyzer, lexicon: Lexicon
) -> Answerer | ReaderAnswerer:
    """The trained reader when settings ask for it (or auto and it ships), else the rules."""
    from rag.reader import DEFAULT_ARTIFACT_DIR, ReaderError, artifact_exists

    directory = settings.reader_dir or DEFAULT_ARTIFACT_DIR
    if settings.answerer == "reader" or (
        settings.answerer == "auto" and artifact_exists(directory)
    ):
        if not artifact_exists(directory):
            raise ReaderError(
                f"RAG_ANSWERER=reader but there is no reader artifact in {directory}; "
                "train one with `python -m rag.reader.train --out DIR` or set RAG_ANSWERER=rules"
            )
        return ReaderAnswerer(
            shared_reader(directory, settings.reader_backend),
            lexicon,
            threshold=settings.reader_threshold,
            analyzer=analyzer,
        )
    return Answerer(embedder, analyzer, lexicon, settings.abstain_threshold)


def _with_moved(
    base: Snapshot,
    moved: list[Article],
    chunks: list[ChunkRecord],
    vectors: np.ndarray,
    sentences: sentence_vectors.SentenceVectors | None,
) -> tuple[list[ChunkRecord], np.ndarray, sentence_vectors.SentenceVectors | None]:
    """The new segment's rows plus the stored chunks, vectors and sentence rows of `moved`."""
    parts = [vectors]
    chunks = list(chunks)
    for article in moved:
        segment, rows = base.article_rows(article.id)
        chunks += [segment.chunks[r] for r in rows]
        parts.append(np.asarray(segment.vectors[rows], dtype=np.float32))
        stored = segment.sentences
        span = None if stored is None else stored.rows.get(article.id)
        if sentences is not None and span is not None and stored.usable_by(sentences.encoder):  # type: ignore[union-attr]
            first, count = span
            sentences = sentences.plus(
                {article.id: (0, count)},
                np.asarray(stored.vectors[first : first + count]),  # type: ignore[union-attr]
            )
    return chunks, np.concatenate(parts), sentences


def _age(snapshot: Snapshot) -> int:
    """Snapshots are numbered in write order; the empty one ("") is the oldest."""
    return int(snapshot.name) if snapshot.name else -1
