"""The on-disk index: immutable segments listed by snapshot manifests, switched by an atomic
rename of `CURRENT`.

Layout::

    index/CURRENT                 name of the live snapshot, e.g. "000007"
    index/snapshots/000007/       manifest.json: the live segments and each one's deleted articles
    index/segments/000012/        one segment (rag/segments.py): manifest.json, meta.sqlite,
                                  vectors.npy, index.faiss, bm25_*.npy, sentences.npy (optional)

A write adds one small segment (the batch's articles) and a new manifest, flushes them, then
renames a new CURRENT into place; a deletion or a replacement is a tombstone in the manifest.
A crash at any moment leaves the previous snapshot current and whole. Merges combine segments
the same way (rag/merging.py says when). Format 1 (one snapshot folder holding every file) is
still read; the first write, or `rag check --upgrade`, turns its folder into a segment.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from rag import sentence_vectors
from rag.documents import Article, Copy
from rag.errors import CorruptIndex, IncompatibleIndex, IndexNotFound
from rag.heap import collection_paused
from rag.ingest.folding import signature_kind, signature_rows
from rag.postings import Postings, analyzer_fingerprint
from rag.segments import (
    MINHASH_FILE,
    MINHASH_KEY,
    ChunkRecord,
    Segment,
    files_of,
    read_info,
    write_info,
)
from rag.sentence_vectors import SentenceVectors
from rag.sentences import SPLITTER_VERSION
from rag.settings import DEFAULT_ALIASES
from rag.text import Analyzer, load_aliases
from rag.vector_index import (
    INDEX_TYPES,
    IVF_TYPES,
    CoarseLists,
    IndexParams,
    IndexType,
    build_index,
    choose_index_type,
    configure,
    extend_index,
    fits_trained_range,
    for_segments,
    index_type_of,
    kind_from_manifest,
    manifest_name,
    read_index,
)
from rag.verified import VerifiedFiles

FORMAT_VERSION = 2  # segments; 1: one snapshot folder holding every file (still read)
LEGACY_FORMAT = 1
LEGACY_SEGMENT = "000000"  # the name a format-1 snapshot's folder has as a segment
SPLITTER_NAME = "langchain-recursive-sentences-v1"
FILES = ("meta.sqlite", "vectors.npy", "index.faiss")
OPTIONAL_FILES = (sentence_vectors.FILE, MINHASH_FILE)  # checked when the manifest lists them
FILE_MODE = 0o600
DIR_MODE = 0o700
SNAPSHOT_NAME = re.compile(r"[0-9]{1,12}")  # ASCII digits only: "\u0661".isdigit() is True
IVF_REBUILD_GROWTH = 2  # an IVF index trained on n vectors is rebuilt once it holds 2n
TRAINED_ON = "index_built_on_chunks"  # manifest: chunks when the index was last built whole


@dataclass(frozen=True)
class IndexSpec:
    """What an index must have been built with to be opened by this configuration."""

    embedding_model: str
    model_fingerprint: str
    dim: int
    chunk_size: int
    chunk_overlap: int
    # How new chunks are embedded (see Pipeline._embedded_text): an index keeps the choice it
    # was built with, so it is written to the manifest but never a reason to refuse an index.
    embed_titles: bool = False

    def mismatches(self, manifest: dict[str, Any]) -> list[str]:
        wanted = {
            "embedding_model": self.embedding_model,
            "model_fingerprint": self.model_fingerprint,
            "dim": self.dim,
            "chunk_size": self.chunk_size,
            "chunk_overlap": self.chunk_overlap,
            "splitter": SPLITTER_NAME,
        }
        return [
            f"{key}: index has {manifest.get(key)!r}, settings give {value!r}"
            for key, value in wanted.items()
            if manifest.get(key) != value
        ]


class Snapshot:
    """One loaded, immutable state of the index: its segments minus their tombstones.

    Consumers see one index: `articles` (the live ones), `chunks` (the live chunks, global id =
    position) and the vectors of those ids; each segment keeps its own FAISS index and postings.
    """

    def __init__(
        self,
        name: str,
        manifest: dict[str, Any],
        segments: list[Segment],
        deleted: dict[str, frozenset[str]] | None = None,
    ) -> None:
        self.name = name
        self.manifest = manifest
        self.segments = segments
        self.deleted = deleted or {}
        self.extras: dict[str, Any] = {}  # caches built on top (BM25 statistics, answerer's)
        self.live = [s.live_rows(self.deleted.get(s.name, frozenset())) for s in segments]
        counts = [int(m.sum()) for m in self.live]
        self.dead_rows = [s.rows - c for s, c in zip(segments, counts, strict=True)]
        self.offsets = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]).astype(np.int64)
        self.to_global: list[np.ndarray] = []
        for mask, base in zip(self.live, self.offsets[:-1], strict=True):
            ids = np.full(len(mask), -1, dtype=np.int64)
            ids[mask] = base + np.arange(int(mask.sum()))
            self.to_global.append(ids)
        self.segment_of = np.repeat(np.arange(len(segments), dtype=np.int32), counts)
        self.local_of = (
            np.concatenate([np.flatnonzero(m) for m in self.live])
            if segments
            else np.zeros(0, dtype=np.int64)
        )
        self.articles: dict[str, Article] = {}
        self.article_segment: dict[str, int] = {}
        for i, segment in enumerate(segments):
            dead = self.deleted.get(segment.name, frozenset())
            for doc_id, article in segment.articles.items():
                if doc_id not in dead:
                    self.articles[doc_id] = article
                    self.article_segment[doc_id] = i
        self.chunks = LiveChunks(self)
        with_sentences = [s for s in segments if s.sentences is not None]
        self.sentences = (
            SegmentSentences(self, with_sentences[-1].sentences) if with_sentences else None
        )  # type: ignore[arg-type]

    @property
    def dim(self) -> int:
        return int(self.manifest["dim"])

    @property
    def vectors(self) -> np.ndarray:
        """The live chunks' vectors as one array (a copy unless there is one whole segment)."""
        if len(self.segments) == 1 and self.live[0].all():
            return self.segments[0].vectors
        cached = self.extras.get("vectors")
        if cached is None:
            parts = [s.vectors[m] for s, m in zip(self.segments, self.live, strict=True)]
            cached = np.concatenate(parts) if parts else np.zeros((0, self.dim), np.float32)
            self.extras["vectors"] = cached
        return cached

    def vectors_at(self, ids: np.ndarray) -> np.ndarray:
        """Vectors of some global chunk ids, read from their segments."""
        ids = np.asarray(ids, dtype=np.int64)
        out = np.empty((len(ids), self.dim), dtype=np.float32)
        segment = self.segment_of[ids]
        for i in np.unique(segment):
            picked = segment == i
            out[picked] = self.segments[i].vectors[self.local_of[ids[picked]]]
        return out

    @property
    def faiss_index(self) -> faiss.Index:
        """The largest segment's FAISS index (its type is the type the index reports)."""
        if not self.segments:
            return faiss.IndexFlatIP(self.dim)
        return max(self.segments, key=lambda s: s.rows).faiss_index

    def article_rows(self, doc_id: str) -> tuple[Segment, np.ndarray]:
        """The segment holding a live article and its rows there."""
        segment = self.segments[self.article_segment[doc_id]]
        return segment, np.flatnonzero(segment.row_article == segment.article_ids.index(doc_id))


class LiveChunks(Sequence[ChunkRecord]):
    """The live chunks of a snapshot in global id order, read from their segments."""

    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot

    def __len__(self) -> int:
        return len(self._snapshot.local_of)

    def __getitem__(self, i):  # type: ignore[no-untyped-def,override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        s = self._snapshot
        return s.segments[s.segment_of[i]].chunks[s.local_of[i]]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=False))

    __hash__ = None  # type: ignore[assignment]

    def __iter__(self) -> Iterator[ChunkRecord]:
        for segment, mask in zip(self._snapshot.segments, self._snapshot.live, strict=True):
            if mask.all():
                yield from segment.chunks
            else:
                for row in np.flatnonzero(mask):
                    yield segment.chunks[row]


class SegmentSentences:
    """The stored sentence vectors of a snapshot's segments, seen as one SentenceVectors.

    Only segments made by the newest segment's reading encoder count; the articles of others
    are encoded at answer time, as for an index written before sentence vectors existed."""

    def __init__(self, snapshot: Snapshot, newest: SentenceVectors) -> None:
        self._snapshot = snapshot
        self.encoder = newest.encoder
        self.splitter = newest.splitter

    def usable_by(self, encoder: str | None) -> bool:
        return encoder == self.encoder and self.splitter == SPLITTER_VERSION

    def _own(self, segment: Segment) -> SentenceVectors | None:
        stored = segment.sentences
        if stored is None or (stored.encoder, stored.splitter) != (self.encoder, self.splitter):
            return None
        return stored

    def of(self, doc_id: str, count: int) -> np.ndarray | None:
        i = self._snapshot.article_segment.get(doc_id)
        stored = None if i is None else self._own(self._snapshot.segments[i])
        return None if stored is None else stored.of(doc_id, count)

    @property
    def rows(self) -> dict[str, tuple[int, int]]:
        """Article -> (first row, count) in `vectors`."""
        return self._combined()[0]

    @property
    def vectors(self) -> np.ndarray:
        return self._combined()[1]

    def _combined(self) -> tuple[dict[str, tuple[int, int]], np.ndarray]:
        cached = self._snapshot.extras.get("sentence_rows")
        if cached is None:
            rows: dict[str, tuple[int, int]] = {}
            parts, base = [], 0
            for i, segment in enumerate(self._snapshot.segments):
                stored = self._own(segment)
                if stored is None:
                    continue
                for doc_id, (first, count) in stored.rows.items():
                    if self._snapshot.article_segment.get(doc_id) == i:
                        rows[doc_id] = (first + base, count)
                parts.append(stored.vectors)
                base += len(stored.vectors)
            dim = self._snapshot.dim
            vectors = np.concatenate(parts) if parts else np.zeros((0, dim), sentence_vectors.DTYPE)
            cached = self._snapshot.extras["sentence_rows"] = (rows, vectors)
        return cached


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    with path.open("rb+") as fh:
        os.fsync(fh.fileno())


def _replace_durably(path: Path, text: str) -> None:
    """Write `text` to a temporary file, flush it, and rename it onto `path`: a reader (or a
    writer killed half-way) sees the old file or the whole new one, never a torn one."""
    tmp = path.with_name(f"{path.name}.tmp.{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.chmod(tmp, FILE_MODE)
    _fsync_file(tmp)
    os.replace(tmp, path)


class IndexStore:
    """Reads and writes snapshots of one index folder; writers are serialized by a file lock,
    merges by another (`.merge-lock`), so a merge never waits for nor blocks a write but for
    the moment of its commit."""

    def __init__(
        self,
        root: Path,
        spec: IndexSpec,
        params: IndexParams | None = None,
        analyzer: Analyzer | None = None,
        checksum_on_load: str = "changed",
    ) -> None:
        self.root = Path(root)
        self.checksum_on_load = checksum_on_load  # "always", or "changed" (rag/verified.py)
        self.verified = VerifiedFiles(self.root, FILE_MODE)
        self.spec = spec
        self.params = params or IndexParams()
        self.analyzer = analyzer or Analyzer(load_aliases(DEFAULT_ALIASES))
        self.analyzer_id = analyzer_fingerprint(self.analyzer.aliases)
        self._thread_lock = threading.Lock()
        self._merge_thread_lock = threading.Lock()
        self._cache_lock = threading.Lock()
        self._segments: dict[str, Segment] = {}  # loaded segments, by name (they never change)
        self._latest: Snapshot | None = None  # the last snapshot loaded or written here

    @property
    def current_file(self) -> Path:
        return self.root / "CURRENT"

    @property
    def snapshots_dir(self) -> Path:
        return self.root / "snapshots"

    @property
    def segments_dir(self) -> Path:
        return self.root / "segments"

    def exists(self) -> bool:
        # lexists: a CURRENT that is a folder or a dangling link is a damaged index, not no index
        return os.path.lexists(self.current_file)

    def current_name(self) -> str:
        try:
            name = self.current_file.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise IndexNotFound(
                f"no index at {self.root}; build one with `rag ingest PATH --index {self.root}`"
            ) from None
        except NotADirectoryError:
            raise IndexNotFound(f"{self.root} is a file, not an index folder") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise CorruptIndex(f"{self.current_file} is unreadable ({exc})") from None
        if not SNAPSHOT_NAME.fullmatch(name):
            raise CorruptIndex(f"{self.current_file} does not name a snapshot: {name[:40]!r}")
        return name

    # ----- reading -------------------------------------------------------------------------
    def read_manifest(self, name: str | None = None) -> dict[str, Any]:
        folder = self.snapshots_dir / (name or self.current_name())
        if not folder.is_dir():
            raise CorruptIndex(
                f"{self.current_file} names snapshot {folder.name}, but {folder} does not exist"
            )
        try:
            manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CorruptIndex(f"snapshot {folder} has no manifest.json") from None
        except (OSError, ValueError, RecursionError) as exc:
            raise CorruptIndex(f"{folder / 'manifest.json'} is not valid JSON ({exc})") from None
        if not isinstance(manifest, dict):
            raise CorruptIndex(f"{folder / 'manifest.json'} is not a JSON object")
        return manifest

    def verify(self, name: str | None = None) -> list[str]:
        """Every problem with a legacy (format 1) snapshot's files (empty when it is whole)."""
        name = name or self.current_name()
        folder = self.snapshots_dir / name
        manifest = self.read_manifest(name)
        problems = []
        if manifest.get("format_version") not in (LEGACY_FORMAT, FORMAT_VERSION):
            problems.append(
                f"format_version {manifest.get('format_version')!r} != {FORMAT_VERSION}"
            )
        return problems + _file_problems(folder, manifest)

    def load(self) -> Snapshot:
        """Open the current snapshot, refusing a damaged or incompatible one with a clear message.

        Segments already loaded by this store are reused (they never change), so following a
        write costs the new segment only."""
        name = self.current_name()
        manifest = self.read_manifest(name)
        mismatches = self.spec.mismatches(manifest)
        if mismatches:
            raise IncompatibleIndex(
                f"index at {self.root} was built with other settings ({'; '.join(mismatches)}); "
                f"rebuild it: move the folder away and run `rag ingest ARTICLES --index {self.root}`"
            )
        version = manifest.get("format_version")
        if version == LEGACY_FORMAT:
            snapshot = self._load_legacy(name, manifest)
        elif version == FORMAT_VERSION:
            entries = _segment_entries(manifest, self.root)
            with collection_paused():
                segments = [self._segment(segment) for segment, _ in entries]
            snapshot = Snapshot(name, manifest, segments, dict(entries))
            counts = manifest.get("counts")
            if not isinstance(counts, dict) or counts.get("chunks") != len(snapshot.chunks):
                raise CorruptIndex(
                    f"index at {self.root} is inconsistent: the manifest counts {counts!r:.80}, "
                    f"the segments hold {len(snapshot.chunks)} live chunks; run `rag check`"
                )
        else:
            raise CorruptIndex(
                f"index at {self.root}: format_version {version!r:.20} is not "
                f"{FORMAT_VERSION} (or {LEGACY_FORMAT}); run `rag check`"
            )
        with self._cache_lock:
            self._segments = {s.name: s for s in snapshot.segments}
        self._latest = snapshot
        return snapshot

    def _segment(self, name: str) -> Segment:
        with self._cache_lock:
            cached = self._segments.get(name)
        if cached is not None:
            return cached
        folder = self.segments_dir / name
        if not folder.is_dir():
            raise CorruptIndex(f"index at {self.root}: segment {name} is missing; run `rag check`")
        info = read_info(folder)
        return self._read_folder(name, folder, info)

    def _load_legacy(self, name: str, manifest: dict[str, Any]) -> Snapshot:
        """A format-1 snapshot (one folder, BM25 rebuilt from text) as a one-segment snapshot."""
        segment = self._read_folder(LEGACY_SEGMENT, self.snapshots_dir / name, manifest)
        return Snapshot(name, manifest, [segment])

    def _read_folder(self, name: str, folder: Path, info: dict[str, Any]) -> Segment:
        names = _listed_files(info)
        if self.checksum_on_load == "always" or not self.verified.unchanged(folder, names):
            problems = _file_problems(folder, info)
            if problems:
                raise CorruptIndex(
                    f"index at {self.root} is damaged: {'; '.join(problems)}; "
                    "run `rag check` for details, or rebuild it with `rag ingest`"
                )
            self.verified.record(folder, names)
        kind = kind_from_manifest(info.get("index_type"))
        if kind is None:
            raise CorruptIndex(
                f"index at {self.root}: index_type {info.get('index_type')!r:.40} of {folder.name} "
                f"is none of {', '.join(INDEX_TYPES)}; run `rag check`"
            )
        articles, chunks = _read_meta(folder / "meta.sqlite")
        vectors = read_vectors(folder / "vectors.npy", mmap=self.params.mmap)
        faiss_index = read_index(folder / "index.faiss", kind, mmap=self.params.mmap)
        configure(faiss_index, self.params)
        if (
            vectors.shape != (len(chunks), self.spec.dim)
            or faiss_index.ntotal != len(chunks)
            or faiss_index.d != self.spec.dim
        ):
            raise CorruptIndex(
                f"index at {self.root} is inconsistent: {len(chunks)} chunk records, "
                f"vectors of shape {vectors.shape}, {faiss_index.ntotal} FAISS entries "
                f"of dimension {faiss_index.d} (expected {self.spec.dim}); run `rag check`"
            )
        sentences = read_sentence_vectors(folder, info, mmap=self.params.mmap)
        problems = [] if sentences is None else sentences.problems(self.spec.dim, articles)
        if problems:
            raise CorruptIndex(f"index at {self.root} is damaged: {'; '.join(problems)}")
        postings = self._postings(folder, info, chunks)
        return Segment.assemble(
            name, folder, info, articles, chunks, vectors, faiss_index, postings, sentences
        )

    def _postings(self, folder: Path, info: dict[str, Any], chunks: list[ChunkRecord]) -> Postings:
        """The stored BM25 postings when this analyzer wrote them, else built from the text
        (a legacy snapshot, or another alias table since)."""
        if info.get("bm25_analyzer") == self.analyzer_id:
            try:
                postings = Postings.load(folder, mmap=self.params.mmap)
            except (OSError, ValueError, EOFError) as exc:
                raise CorruptIndex(f"{folder}: unreadable BM25 postings ({exc})") from None
            problems = postings.problems(len(chunks)) if not self.params.mmap else []
            if len(postings.doc_len) != len(chunks) or problems:
                raise CorruptIndex(
                    f"{folder}: BM25 postings do not match the chunks; run `rag check`"
                )
            return postings
        return self.build_postings(chunks)

    def build_postings(self, chunks: Sequence[ChunkRecord]) -> Postings:
        return Postings.build([self.analyzer.terms(c.text) for c in chunks])

    def empty(self) -> Snapshot:
        manifest = self._manifest([], 0, 0)
        return Snapshot("", manifest, [])

    def base_for_write(self, missing_ok: bool = True) -> Snapshot:
        """What a writer holding the lock builds on: the snapshot this store last loaded or
        wrote when it is still the current one (snapshots never change in place, so it need
        not be read and checksummed again: seconds at 100k chunks), else the one on disk."""
        if missing_ok and not self.exists():
            return self.empty()
        last = self._latest
        if last is not None and last.name and last.name == self.current_name():
            return last
        return self.load()

    # ----- writing -------------------------------------------------------------------------
    @contextlib.contextmanager
    def write_lock(self) -> Iterator[None]:
        """Serialize writers in this process (threads) and across processes (flock)."""
        with self._thread_lock, self._flock(".lock", blocking=True):
            yield

    @contextlib.contextmanager
    def _flock(self, name: str, blocking: bool) -> Iterator[bool]:
        if self.root.exists() and not self.root.is_dir():
            raise IndexNotFound(f"{self.root} is a file, not an index folder")
        try:
            self.root.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            fd = os.open(self.root / name, os.O_RDWR | os.O_CREAT, FILE_MODE)
        except OSError as exc:
            raise IndexNotFound(
                f"cannot use {self.root} as an index folder ({exc.strerror or exc})"
            ) from None
        with os.fdopen(fd, "r+") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def _manifest(
        self, entries: list[tuple[Segment, frozenset[str]]], n_articles: int, n_chunks: int
    ) -> dict[str, Any]:
        largest = max((s for s, _ in entries), key=lambda s: s.rows, default=None)
        kind = "flat" if largest is None else index_type_of(largest.faiss_index)
        return {
            "format_version": FORMAT_VERSION,
            "embedding_model": self.spec.embedding_model,
            "model_fingerprint": self.spec.model_fingerprint,
            "dim": self.spec.dim,
            "chunk_size": self.spec.chunk_size,
            "chunk_overlap": self.spec.chunk_overlap,
            "splitter": SPLITTER_NAME,
            "embed_titles": self.spec.embed_titles,
            "index_type": manifest_name(kind),
            "counts": {"articles": n_articles, "chunks": n_chunks},
            "segments": [
                {"name": s.name, "rows": s.rows, "deleted": sorted(dead)} for s, dead in entries
            ],
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            TRAINED_ON: None if largest is None else largest.info.get(TRAINED_ON, largest.rows),
        }

    def commit(
        self,
        articles: dict[str, Article],
        chunks: list[ChunkRecord],
        vectors: np.ndarray,
        sentences: SentenceVectors | None = None,
    ) -> Snapshot:
        """Replace the whole index by these contents, as one segment. Call under `write_lock()`.

        (Bulk builds and tests; ingestion adds segments with `add`.)"""
        if vectors.shape != (len(chunks), self.spec.dim):
            raise ValueError(f"vectors {vectors.shape} do not match {len(chunks)} chunks")
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        kind = choose_index_type(len(chunks), self.params)
        extended = self._extended_index(chunks, vectors, kind)
        segment = self._write_segment(
            self._new_segment_folder(),
            articles,
            chunks,
            vectors,
            sentences,
            self.build_postings(chunks),
            extended,
            whole=True,
        )
        return self._commit_manifest([(segment, frozenset())])

    def add(
        self,
        base: Snapshot,
        articles: dict[str, Article],
        chunks: list[ChunkRecord],
        vectors: np.ndarray,
        sentences: SentenceVectors | None,
        remove: set[str],
        signatures: dict[str, np.ndarray] | None = None,
    ) -> Snapshot:
        """Commit `base` plus one new segment of these articles, with the live versions of
        the `remove` ids tombstoned. Call under `write_lock()` with `base` from
        `base_for_write()`. A legacy index is migrated first (its files become a segment).
        `signatures`: MinHash rows the caller already made for some of the articles."""
        if vectors.shape != (len(chunks), self.spec.dim):
            raise ValueError(f"vectors {vectors.shape} do not match {len(chunks)} chunks")
        entries = self._entries_of(base)  # in base's order (a legacy folder: adopted)
        dead = [set(d) for _, d in entries]
        for doc_id in remove:
            i = base.article_segment.get(doc_id)
            if i is not None:
                dead[i].add(doc_id)
        entries = [(s, frozenset(d)) for (s, _), d in zip(entries, dead, strict=True)]
        if articles:
            segment = self._write_segment(
                self._new_segment_folder(),
                articles,
                chunks,
                np.ascontiguousarray(vectors, dtype=np.float32),
                sentences,
                self.build_postings(chunks),
                signatures=signatures,
                shared=_coarse_lists([s for s, _ in entries]),
            )
            entries.append((segment, frozenset()))
        return self._commit_manifest(entries)

    def upgrade(self) -> bool:
        """Migrate a legacy (format 1) index to segments; False when there is nothing to do."""
        with self.write_lock():
            base = self.base_for_write(missing_ok=False)
            if base.manifest.get("format_version") != LEGACY_FORMAT:
                return False
            self._commit_manifest(self._entries_of(base))
            return True

    def _entries_of(self, base: Snapshot) -> list[tuple[Segment, frozenset[str]]]:
        """The base's segments and tombstones; a legacy snapshot's folder adopted as a segment."""
        if base.manifest.get("format_version") != LEGACY_FORMAT:
            return [(s, base.deleted.get(s.name, frozenset())) for s in base.segments]
        legacy = base.segments[0]
        folder = self._new_segment_folder()
        for file_name in _listed_files(legacy.info):
            try:
                os.link(legacy.folder / file_name, folder / file_name)
            except OSError:
                shutil.copy2(legacy.folder / file_name, folder / file_name)
        written = legacy.postings.save(folder)
        files = dict(legacy.info["files"])
        for file_name in written:
            os.chmod(folder / file_name, FILE_MODE)
            _fsync_file(folder / file_name)
            files[file_name] = _sha256(folder / file_name)
        info = {k: v for k, v in legacy.info.items() if k not in ("format_version", "files")}
        info.update({"files": files, "bm25_analyzer": self.analyzer_id})
        info[TRAINED_ON] = legacy.info.get(TRAINED_ON, legacy.rows)
        write_info(folder, info, FILE_MODE)
        _fsync_dir(folder)
        segment = Segment.assemble(
            folder.name,
            folder,
            info,
            legacy.articles,
            legacy.chunks,
            legacy.vectors,
            legacy.faiss_index,
            legacy.postings,
            legacy.sentences,
        )
        return [(segment, frozenset())]

    def _new_segment_folder(self) -> Path:
        """A fresh segment folder, numbered after every existing one. Call under the write lock."""
        self.segments_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        os.chmod(self.root, DIR_MODE)
        os.chmod(self.segments_dir, DIR_MODE)
        existing = [int(p.name) for p in self.segments_dir.iterdir() if _is_snapshot_name(p.name)]
        folder = self.segments_dir / f"{max(existing, default=0) + 1:06d}"
        folder.mkdir(mode=DIR_MODE)
        return folder

    def _write_segment(
        self,
        folder: Path,
        articles: dict[str, Article],
        chunks: list[ChunkRecord],
        vectors: np.ndarray,
        sentences: SentenceVectors | None,
        postings: Postings,
        faiss_index: faiss.Index | None = None,
        whole: bool = False,
        signatures: dict[str, np.ndarray] | None = None,
        shared: CoarseLists | None = None,
    ) -> Segment:
        """Write and flush a segment's files into `folder` (which exists and is empty); `whole`:
        it is the whole index (`commit`), else one of several (its index type: `for_segments`,
        on the index's `shared` IVF lists while they fit it).
        `signatures`: MinHash rows already made for some of the articles (a merge's)."""
        if sentences is not None:
            sentences = sentences.kept(articles)
        _write_meta(folder / "meta.sqlite", articles, chunks, sentences)
        np.save(folder / "vectors.npy", vectors, allow_pickle=False)
        written = [*FILES, *postings.save(folder)]
        if sentences is not None:
            np.save(folder / sentence_vectors.FILE, sentences.vectors, allow_pickle=False)
            written.append(sentence_vectors.FILE)
        np.save(folder / MINHASH_FILE, _copy_signatures(articles, signatures), allow_pickle=False)
        written.append(MINHASH_FILE)
        params = self.params if whole else for_segments(self.params)
        kind = choose_index_type(len(chunks), params)
        built_on = len(chunks)
        if faiss_index is None and shared is not None and shared.fits(len(chunks), params):
            kind, built_on = "ivf", shared.trained_on
            faiss_index = build_index(vectors, self.spec.dim, params, kind, shared)
        elif faiss_index is None:
            faiss_index = build_index(vectors, self.spec.dim, params, kind)
        elif self._latest is not None and self._latest.segments:
            built_on = _built_on(self._latest)
        faiss.write_index(faiss_index, str(folder / "index.faiss"))
        files = {}
        for file_name in written:
            path = folder / file_name
            os.chmod(path, FILE_MODE)
            _fsync_file(path)
            files[file_name] = _sha256(path)
        info: dict[str, Any] = {
            "dim": self.spec.dim,
            "index_type": manifest_name(kind),
            "counts": {"articles": len(articles), "chunks": len(chunks)},
            "files": files,
            "bm25_analyzer": self.analyzer_id,
            TRAINED_ON: built_on,
            MINHASH_KEY: signature_kind(),
        }
        if sentences is not None:
            info["sentence_vectors"] = {
                "encoder": sentences.encoder,
                "splitter": sentences.splitter,
                "rows": len(sentences.vectors),
            }
        write_info(folder, info, FILE_MODE)
        _fsync_dir(folder)
        self.verified.record(folder, _listed_files(info))  # hashed above, as written
        if self.params.mmap:
            # held as a segment opened from disk is: its arrays mapped from the files just
            # written, not kept on the heap (a long-running server's writes and merges grew it)
            vectors = read_vectors(folder / "vectors.npy", mmap=True)
            faiss_index = read_index(folder / "index.faiss", kind, mmap=True)
            configure(faiss_index, self.params)
            postings = Postings.load(folder, mmap=True)
            sentences = read_sentence_vectors(folder, info, mmap=True)
        return Segment.assemble(
            folder.name,
            folder,
            info,
            dict(articles),
            list(chunks),
            vectors,
            faiss_index,
            postings,
            sentences,
        )

    def _commit_manifest(self, entries: list[tuple[Segment, frozenset[str]]]) -> Snapshot:
        """Write a new snapshot manifest listing these segments and make it current."""
        entries = [(s, d) for s, d in entries if s.live_rows(d).any()]  # fully deleted: dropped
        self.snapshots_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        os.chmod(self.root, DIR_MODE)
        os.chmod(self.snapshots_dir, DIR_MODE)
        existing = [int(p.name) for p in self.snapshots_dir.iterdir() if _is_snapshot_name(p.name)]
        previous = self._current_or_none()
        name = f"{max(existing, default=0) + 1:06d}"
        folder = self.snapshots_dir / name
        folder.mkdir(mode=DIR_MODE)
        snapshot = Snapshot(name, {}, [s for s, _ in entries], {s.name: d for s, d in entries})
        snapshot.manifest = self._manifest(entries, len(snapshot.articles), len(snapshot.chunks))
        # a snapshot folder holds a manifest only once it is whole (integrity checks and
        # recovery hints count a folder with one as complete)
        _replace_durably(folder / "manifest.json", json.dumps(snapshot.manifest, indent=2))
        _fsync_dir(folder)
        _fsync_dir(self.snapshots_dir)
        if self.segments_dir.is_dir():
            _fsync_dir(self.segments_dir)
        _replace_durably(self.current_file, name + "\n")  # the commit point
        _fsync_dir(self.root)
        self._prune(keep={name, previous} - {None})
        with self._cache_lock:
            self._segments = {s.name: s for s in snapshot.segments}
        self._latest = snapshot
        return snapshot

    # ----- merging -------------------------------------------------------------------------
    def merge(self, names: list[str]) -> Snapshot | None:
        """Merge these segments of the current snapshot into one and commit it; None when
        another merge runs or a writer dropped one of them meanwhile.

        The new segment is built and flushed outside the write lock (writes go on), in a
        `merge.*` folder that only the commit renames into place; tombstones added to the merged
        segments meanwhile are carried over. A crash leaves the old state and a folder the next
        writer removes."""
        with self._merge_thread_lock, self._flock(".merge-lock", blocking=False) as got:
            if not got:
                return None
            with self.write_lock():
                base = self.base_for_write(missing_ok=False)
            picked = [i for i, s in enumerate(base.segments) if s.name in names]
            if len(picked) != len(set(names)) or len(picked) < 1:
                return None
            tmp = self.segments_dir / f"merge.{os.getpid()}.{threading.get_ident()}"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(mode=DIR_MODE)
            try:
                segment = self._write_merged(tmp, base, picked)
                with self.write_lock():
                    current = self.base_for_write(missing_ok=False)
                    present = {s.name for s in current.segments}
                    if not set(names) <= present:
                        return None
                    folder = self._new_segment_folder()
                    folder.rmdir()
                    os.rename(tmp, folder)
                    _fsync_dir(self.segments_dir)
                    segment.name, segment.folder = folder.name, folder
                    self.verified.record(folder, _listed_files(segment.info))
                    late: set[str] = set()  # deleted by writers while the merge ran
                    for n in names:
                        late |= current.deleted.get(n, frozenset()) - base.deleted.get(
                            n, frozenset()
                        )
                    entries: list[tuple[Segment, frozenset[str]]] = []
                    for s in current.segments:
                        if s.name not in names:
                            entries.append((s, current.deleted.get(s.name, frozenset())))
                        elif all(e[0] is not segment for e in entries):  # where the first was
                            entries.append((segment, frozenset(late)))
                    return self._commit_manifest(entries)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)

    def _write_merged(self, folder: Path, base: Snapshot, picked: list[int]) -> Segment:
        segments = [base.segments[i] for i in picked]
        masks = [base.live[i] for i in picked]
        articles: dict[str, Article] = {}
        for i in picked:
            segment = base.segments[i]
            dead = base.deleted.get(segment.name, frozenset())
            articles.update({k: a for k, a in segment.articles.items() if k not in dead})
        chunks = [
            s.chunks[row] for s, m in zip(segments, masks, strict=True) for row in np.flatnonzero(m)
        ]
        vectors = np.ascontiguousarray(
            np.concatenate([s.vectors[m] for s, m in zip(segments, masks, strict=True)]),
            dtype=np.float32,
        )
        postings = Postings.concat([(s.postings, m) for s, m in zip(segments, masks, strict=True)])
        return self._write_segment(
            folder,
            articles,
            chunks,
            vectors,
            _merged_sentences(segments, articles),
            postings,
            signatures=stored_signatures(segments),
            shared=_coarse_lists(base.segments),
        )

    def _extended_index(
        self, chunks: list[ChunkRecord], vectors: np.ndarray, kind: IndexType
    ) -> faiss.Index | None:
        """The previous one-segment snapshot's index plus the new rows, when `commit` only
        appends to it.

        Building IVF over 1M vectors takes over a minute on two cores (HNSW two); adding a few
        articles' vectors to a copy takes a fraction of that. Deletes and replacements shift row
        ids, so they rebuild; so does an IVF index that has doubled since it was trained.
        """
        last = self._latest
        if last is None or not last.name or last.name != self._current_or_none():
            return None
        if len(last.segments) != 1 or not last.live[0].all():
            return None
        segment = last.segments[0]
        n_old = segment.rows
        if kind == "flat" or not 0 < n_old <= len(chunks):
            return None  # an exact index is as cheap to build as to copy
        if index_type_of(segment.faiss_index) != kind:
            return None
        if kind in IVF_TYPES and len(chunks) >= IVF_REBUILD_GROWTH * _built_on(last):
            return None  # its lists were trained on too few vectors for this many
        if chunks[:n_old] != segment.chunks or not np.array_equal(vectors[:n_old], segment.vectors):
            return None
        if not fits_trained_range(segment.faiss_index, vectors[n_old:]):
            return None  # 8-bit codes trained on other ranges would clip the new vectors
        grown = extend_index(segment.faiss_index, vectors[n_old:])
        configure(grown, self.params)
        return grown

    def _current_or_none(self) -> str | None:
        try:
            return self.current_name()
        except (IndexNotFound, CorruptIndex):
            return None

    def _prune(self, keep: set[str | None]) -> None:
        """Remove old and half-written snapshots and the segments no kept snapshot lists; the
        snapshot just replaced stays for readers mid-load. Runs under the write lock, so every
        numbered segment folder not listed is garbage (a merge renames its folder into place
        under the same lock)."""
        listed: set[str] = set()
        for name in keep:
            try:
                manifest = self.read_manifest(name)
            except CorruptIndex:
                continue
            for entry in manifest.get("segments") or []:
                if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                    listed.add(entry["name"])
        for path in self.snapshots_dir.iterdir():
            if _is_snapshot_name(path.name) and path.name not in keep:
                shutil.rmtree(path, ignore_errors=True)
        if self.segments_dir.is_dir():
            for path in self.segments_dir.iterdir():
                if _is_snapshot_name(path.name) and path.name not in listed:
                    shutil.rmtree(path, ignore_errors=True)
            if any(p.name.startswith("merge.") for p in self.segments_dir.iterdir()):
                with self._flock(".merge-lock", blocking=False) as idle:
                    if idle:  # no merge is running: its folder is left by a crash
                        for path in self.segments_dir.glob("merge.*"):
                            shutil.rmtree(path, ignore_errors=True)
        for stray in self.root.glob("CURRENT.tmp.*"):
            stray.unlink(missing_ok=True)
        kept = {self.segments_dir / n for n in listed}
        self.verified.retain(kept | {self.snapshots_dir / n for n in keep if n})


def stored_signatures(segments: Sequence[Segment]) -> dict[str, np.ndarray]:
    """Article id -> MinHash row, from the segments that keep rows made the current way."""
    kind = signature_kind()
    out: dict[str, np.ndarray] = {}
    for segment in segments:
        rows = segment.copy_signatures(kind)
        if rows is not None:
            out.update(zip(segment.article_ids, rows, strict=True))
    return out


def _copy_signatures(
    articles: dict[str, Article], known: dict[str, np.ndarray] | None
) -> np.ndarray:
    """The articles' MinHash rows in their order: the known ones kept, the rest made."""
    known = known or {}
    missing = [a for k, a in articles.items() if k not in known]
    made = dict(zip((a.id for a in missing), signature_rows(a.text for a in missing), strict=True))
    rows = [known[k] if k in known else made[k] for k in articles]
    return signature_rows([]) if not rows else np.stack(rows)


def _merged_sentences(
    segments: list[Segment], articles: dict[str, Article]
) -> SentenceVectors | None:
    """The merged articles' sentence vectors, when every merged segment has them from one
    encoder (else none: those articles are encoded at answer time, as in older indexes)."""
    stored = [s.sentences for s in segments]
    if any(s is None for s in stored):
        return None
    kinds = {(s.encoder, s.splitter) for s in stored if s is not None}
    if len(kinds) != 1:
        return None
    ((encoder, splitter),) = kinds
    out = SentenceVectors(
        encoder, splitter, {}, np.zeros((0, segments[0].vectors.shape[1]), sentence_vectors.DTYPE)
    )
    for s in stored:
        assert s is not None
        part = s.kept(a for a in s.rows if a in articles)
        out = out.plus(part.rows, np.asarray(part.vectors))
    return out


def _segment_entries(manifest: dict[str, Any], root: Path) -> list[tuple[str, frozenset[str]]]:
    entries = manifest.get("segments")
    if not isinstance(entries, list):
        raise CorruptIndex(
            f"index at {root}: the manifest has no list of segments; run `rag check`"
        )
    out = []
    for entry in entries:
        name = entry.get("name") if isinstance(entry, dict) else None
        deleted = entry.get("deleted") if isinstance(entry, dict) else None
        if not (isinstance(name, str) and _is_snapshot_name(name) and isinstance(deleted, list)):
            raise CorruptIndex(f"index at {root}: malformed segment entry {entry!r:.80}")
        out.append((name, frozenset(str(d) for d in deleted)))
    return out


def _listed_files(info: dict[str, Any]) -> tuple[str, ...]:
    return files_of(info)


def _file_problems(folder: Path, info: dict[str, Any]) -> list[str]:
    files = info.get("files")
    if not isinstance(files, dict):
        return [f"{folder}: no 'files' object with the files' checksums"]
    problems = []
    for file_name in files_of(info):
        path = folder / file_name
        expected = files.get(file_name)
        if not path.is_file():
            problems.append(f"{path} is missing")
        elif expected != _sha256(path):
            problems.append(f"{path} checksum does not match the manifest (damaged file)")
    return problems


def _coarse_lists(segments: list[Segment]) -> CoarseLists | None:
    """The IVF-Flat lists new segments share: those of the segment with the most lists."""
    best: CoarseLists | None = None
    for segment in segments:
        index = segment.faiss_index
        if not isinstance(index, faiss.IndexIVFFlat):
            continue
        if best is not None and index.nlist <= len(best.centroids):
            continue
        trained_on = segment.info.get(TRAINED_ON)
        best = CoarseLists.of(index, trained_on if type(trained_on) is int else segment.rows)
    return best


def _built_on(snapshot: Snapshot) -> int:
    """Chunks in a one-segment index when it was last built whole (appends do not count)."""
    segment = snapshot.segments[0]
    value = segment.info.get(TRAINED_ON)
    return value if type(value) is int and value > 0 else segment.rows


def _is_snapshot_name(name: str) -> bool:
    return SNAPSHOT_NAME.fullmatch(name) is not None


def read_vectors(path: Path, mmap: bool = False) -> np.ndarray:
    """vectors.npy as float32 [chunks, dim] (read-only when memory-mapped); never unpickles."""
    try:
        vectors = np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)
    except (OSError, ValueError, EOFError) as exc:
        raise CorruptIndex(f"{path} is not a readable vector file ({exc})") from None
    if not isinstance(vectors, np.ndarray) or vectors.dtype != np.float32 or vectors.ndim != 2:
        raise CorruptIndex(f"{path} does not hold a 2-D float32 array")
    return vectors


def read_faiss(path: Path) -> faiss.Index:
    """index.faiss, refusing anything but the inner-product index types this store writes."""
    return read_index(path)


def _write_meta(
    path: Path,
    articles: dict[str, Article],
    chunks: list[ChunkRecord],
    sentences: SentenceVectors | None = None,
) -> None:
    con = sqlite3.connect(path)
    try:
        con.executescript(
            """
            CREATE TABLE articles (
                id TEXT PRIMARY KEY, title TEXT NOT NULL, text TEXT NOT NULL, source TEXT,
                url TEXT, published_at TEXT, index_spans TEXT NOT NULL, content_hash TEXT NOT NULL
            );
            CREATE TABLE chunks (
                id INTEGER PRIMARY KEY, article_id TEXT NOT NULL REFERENCES articles(id),
                start INTEGER NOT NULL, "end" INTEGER NOT NULL
            );
            CREATE INDEX chunks_article ON chunks(article_id);
            CREATE TABLE sentence_rows (
                article_id TEXT PRIMARY KEY REFERENCES articles(id),
                first INTEGER NOT NULL, count INTEGER NOT NULL
            );
            CREATE TABLE article_extras (
                article_id TEXT PRIMARY KEY REFERENCES articles(id), extras TEXT NOT NULL
            );
            """
        )
        con.executemany(
            "INSERT INTO article_extras VALUES (?, ?)",
            [
                (a.id, json.dumps(extras_of(a), ensure_ascii=False))
                for a in articles.values()
                if extras_of(a)
            ],
        )
        if sentences is not None:
            con.executemany(
                "INSERT INTO sentence_rows VALUES (?, ?, ?)",
                [(d, first, count) for d, (first, count) in sentences.rows.items()],
            )
        con.executemany(
            "INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    a.id,
                    a.title,
                    a.text,
                    a.source,
                    a.url,
                    a.published_at,
                    json.dumps(a.index_spans),
                    a.content_hash,
                )
                for a in articles.values()
            ],
        )
        con.executemany(
            "INSERT INTO chunks VALUES (?, ?, ?, ?)",
            [(i, c.article_id, c.start, c.end) for i, c in enumerate(chunks)],
        )
        con.commit()
    finally:
        con.close()


def extras_of(article: Article) -> dict[str, Any]:
    """What an article carries beyond the `articles` columns (author, place, folded copies)."""
    extras: dict[str, Any] = {}
    if article.author:
        extras["author"] = article.author
    if article.place:
        extras["place"] = article.place
    if article.also_published:
        extras["also_published"] = [asdict(c) for c in article.also_published]
    return extras


def _with_extras(con: sqlite3.Connection, articles: dict[str, Article]) -> dict[str, Article]:
    """The articles with their extras (indexes written before the table have none)."""
    try:
        rows = con.execute("SELECT article_id, extras FROM article_extras").fetchall()
    except sqlite3.OperationalError:
        return articles
    for doc_id, raw in rows:
        article = articles.get(doc_id)
        if article is None:
            raise CorruptIndex(f"extras for {doc_id!r}, which is not an article")
        extras = json.loads(raw)
        copies = tuple(Copy(**c) for c in extras.get("also_published", ()))
        articles[doc_id] = replace(
            article, author=extras.get("author"), place=extras.get("place"), also_published=copies
        )
    return articles


def _chunk_problem(cid: object, i: int, text: str | None, start: object, end: object) -> str:
    if cid != i or text is None:
        return f"chunk {cid} has no article or is out of order"
    if type(start) is not int or type(end) is not int:  # as `_read_meta` checks them
        return f"chunk {cid} has non-integer offsets"
    return f"chunk {cid} offsets {start}-{end} are outside its article"


def _read_only(path: Path) -> sqlite3.Connection:
    try:
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise CorruptIndex(f"{path} cannot be opened ({exc})") from None


def read_sentence_vectors(
    folder: Path, manifest: dict[str, Any], mmap: bool = False
) -> SentenceVectors | None:
    """The snapshot's stored sentence vectors as written (None when it has none); unchecked:
    see `SentenceVectors.problems`."""
    info = manifest.get("sentence_vectors")
    files = manifest.get("files")
    if (
        not isinstance(info, dict)
        or not isinstance(files, dict)
        or sentence_vectors.FILE not in files
    ):
        return None
    path = folder / sentence_vectors.FILE
    try:
        vectors = np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)
    except (OSError, ValueError, EOFError) as exc:
        raise CorruptIndex(f"{path} is not a readable vector file ({exc})") from None
    rows = read_sentence_rows(folder / "meta.sqlite")
    return SentenceVectors(str(info.get("encoder")), str(info.get("splitter")), rows, vectors)


def read_sentence_rows(path: Path) -> dict[str, tuple[int, int]]:
    """Article id -> (first row, count) of its stored sentence vectors."""
    con = _read_only(path)
    try:
        rows = {}
        for doc_id, first, count in con.execute(
            "SELECT article_id, first, count FROM sentence_rows"
        ):
            if not (isinstance(doc_id, str) and type(first) is int and type(count) is int):
                raise CorruptIndex(f"{path}: malformed sentence row for {doc_id!r}")
            rows[doc_id] = (first, count)
        return rows
    except sqlite3.Error as exc:
        raise CorruptIndex(f"{path} has no readable sentence rows ({exc})") from None
    finally:
        con.close()


def _read_meta(path: Path) -> tuple[dict[str, Article], list[ChunkRecord]]:
    con = _read_only(path)
    try:
        articles = {}
        for row in con.execute(
            "SELECT id, title, text, source, url, published_at, index_spans FROM articles"
        ):
            if not isinstance(row[0], str) or not isinstance(row[2], str):
                raise CorruptIndex(f"{path}: article {row[0]!r} has no text")
            spans = () if row[6] == "[]" else tuple(tuple(s) for s in json.loads(row[6]))
            articles[row[0]] = Article.stored(*row[:6], spans)  # type: ignore[arg-type]
        texts = {doc_id: article.text for doc_id, article in articles.items()}
        chunks = []
        for i, (cid, article_id, start, end) in enumerate(
            con.execute('SELECT id, article_id, start, "end" FROM chunks ORDER BY id')
        ):
            text = texts.get(article_id)
            if (
                cid != i
                or text is None
                or type(start) is not int
                or type(end) is not int
                or not 0 <= start < end <= len(text)
            ):
                raise CorruptIndex(f"{path}: {_chunk_problem(cid, i, text, start, end)}")
            chunks.append(ChunkRecord(article_id, start, end, text[start:end]))
        return _with_extras(con, articles), chunks
    except sqlite3.Error as exc:
        raise CorruptIndex(f"{path} is not a readable index database ({exc})") from None
    except (ValueError, TypeError, RecursionError) as exc:
        raise CorruptIndex(f"{path} holds malformed records ({exc})") from None
    finally:
        con.close()
