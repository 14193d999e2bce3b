"""The on-disk index: immutable snapshot folders, switched by an atomic rename of `CURRENT`.

Layout::

    index/CURRENT                 name of the live snapshot, e.g. "000007"
    index/snapshots/000007/       manifest.json, meta.sqlite, vectors.npy, index.faiss,
                                  sentences.npy (the answerer's sentence vectors; optional)

A write builds a whole new snapshot, flushes it, then renames a new CURRENT into place; a
crash at any moment leaves the previous snapshot current and whole. The FAISS index is exact
or approximate by size (rag/vector_index.py); an append-only write extends the previous
snapshot's index instead of rebuilding it.
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
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from rag import sentence_vectors
from rag.documents import Article, Copy
from rag.errors import CorruptIndex, IncompatibleIndex, IndexNotFound
from rag.sentence_vectors import SentenceVectors
from rag.vector_index import (
    INDEX_TYPES,
    IVF_TYPES,
    IndexParams,
    IndexType,
    build_index,
    choose_index_type,
    configure,
    extend_index,
    fits_trained_range,
    index_type_of,
    kind_from_manifest,
    manifest_name,
    read_index,
)

FORMAT_VERSION = 1
SPLITTER_NAME = "langchain-recursive-sentences-v1"
FILES = ("meta.sqlite", "vectors.npy", "index.faiss")
OPTIONAL_FILES = (sentence_vectors.FILE,)  # checked when the manifest lists them
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


@dataclass(frozen=True)
class ChunkRecord:
    """A stored chunk; its position in the snapshot is its FAISS id."""

    article_id: str
    start: int
    end: int
    text: str


@dataclass
class Snapshot:
    """One loaded, immutable state of the index."""

    name: str
    manifest: dict[str, Any]
    articles: dict[str, Article]
    chunks: list[ChunkRecord]
    vectors: np.ndarray
    faiss_index: faiss.Index
    extras: dict[str, Any] = field(default_factory=dict)  # caches built on top (BM25, ...)
    sentences: SentenceVectors | None = None  # absent in indexes written before them

    @property
    def dim(self) -> int:
        return int(self.manifest["dim"])


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


class IndexStore:
    """Reads and writes snapshots of one index folder; writers are serialized by a file lock."""

    def __init__(self, root: Path, spec: IndexSpec, params: IndexParams | None = None) -> None:
        self.root = Path(root)
        self.spec = spec
        self.params = params or IndexParams()
        self._thread_lock = threading.Lock()
        self._latest: Snapshot | None = None  # the last snapshot loaded or written here

    @property
    def current_file(self) -> Path:
        return self.root / "CURRENT"

    @property
    def snapshots_dir(self) -> Path:
        return self.root / "snapshots"

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
        """Every problem with a snapshot's files (empty when it is whole)."""
        name = name or self.current_name()
        folder = self.snapshots_dir / name
        manifest = self.read_manifest(name)
        problems = []
        if manifest.get("format_version") != FORMAT_VERSION:
            problems.append(
                f"format_version {manifest.get('format_version')!r} != {FORMAT_VERSION}"
            )
        files = manifest.get("files")
        if not isinstance(files, dict):
            problems.append("manifest.json has no 'files' object with the files' checksums")
            files = {}
        for file_name in (*FILES, *(f for f in OPTIONAL_FILES if f in files)):
            path = folder / file_name
            expected = files.get(file_name)
            if not path.is_file():
                problems.append(f"{path} is missing")
            elif expected != _sha256(path):
                problems.append(f"{path} checksum does not match the manifest (damaged file)")
        return problems

    def load(self) -> Snapshot:
        """Open the current snapshot, refusing a damaged or incompatible one with a clear message."""
        name = self.current_name()
        manifest = self.read_manifest(name)
        mismatches = self.spec.mismatches(manifest)
        if mismatches:
            raise IncompatibleIndex(
                f"index at {self.root} was built with other settings ({'; '.join(mismatches)}); "
                f"rebuild it: move the folder away and run `rag ingest ARTICLES --index {self.root}`"
            )
        problems = self.verify(name)
        if problems:
            raise CorruptIndex(
                f"index at {self.root} is damaged: {'; '.join(problems)}; "
                "run `rag check` for details, or rebuild it with `rag ingest`"
            )
        kind = kind_from_manifest(manifest.get("index_type"))
        if kind is None:
            raise CorruptIndex(
                f"index at {self.root}: manifest index_type {manifest.get('index_type')!r:.40} "
                f"is none of {', '.join(INDEX_TYPES)}; run `rag check`"
            )
        folder = self.snapshots_dir / name
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
        sentences = self._read_sentences(folder, manifest, articles)
        snapshot = Snapshot(
            name, manifest, articles, chunks, vectors, faiss_index, sentences=sentences
        )
        self._latest = snapshot
        return snapshot

    def _read_sentences(
        self, folder: Path, manifest: dict[str, Any], articles: dict[str, Article]
    ) -> SentenceVectors | None:
        stored = read_sentence_vectors(folder, manifest, mmap=self.params.mmap)
        problems = [] if stored is None else stored.problems(self.spec.dim, articles)
        if problems:
            raise CorruptIndex(f"index at {self.root} is damaged: {'; '.join(problems)}")
        return stored

    def empty(self) -> Snapshot:
        vectors = np.zeros((0, self.spec.dim), dtype=np.float32)
        return Snapshot(
            name="",
            manifest=self._manifest({}, 0, 0, "flat"),
            articles={},
            chunks=[],
            vectors=vectors,
            faiss_index=build_index(vectors, self.spec.dim, self.params, "flat"),
        )

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
        if self.root.exists() and not self.root.is_dir():
            raise IndexNotFound(f"{self.root} is a file, not an index folder")
        try:
            self.root.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, FILE_MODE)
        except OSError as exc:
            raise IndexNotFound(
                f"cannot use {self.root} as an index folder ({exc.strerror or exc})"
            ) from None
        with self._thread_lock, os.fdopen(fd, "r+") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def _manifest(
        self, files: dict[str, str], n_articles: int, n_chunks: int, kind: IndexType
    ) -> dict[str, Any]:
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
            "files": files,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }

    def commit(
        self,
        articles: dict[str, Article],
        chunks: list[ChunkRecord],
        vectors: np.ndarray,
        sentences: SentenceVectors | None = None,
    ) -> Snapshot:
        """Write a complete new snapshot and make it current. Call under `write_lock()`."""
        if vectors.shape != (len(chunks), self.spec.dim):
            raise ValueError(f"vectors {vectors.shape} do not match {len(chunks)} chunks")
        self.snapshots_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, DIR_MODE)
        os.chmod(self.snapshots_dir, DIR_MODE)
        existing = [int(p.name) for p in self.snapshots_dir.iterdir() if _is_snapshot_name(p.name)]
        previous = self._current_or_none()
        name = f"{max(existing, default=0) + 1:06d}"
        folder = self.snapshots_dir / name
        folder.mkdir(mode=DIR_MODE)
        if sentences is not None:
            sentences = sentences.kept(articles)
        _write_meta(folder / "meta.sqlite", articles, chunks, sentences)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        np.save(folder / "vectors.npy", vectors, allow_pickle=False)
        written = FILES
        if sentences is not None:
            np.save(folder / sentence_vectors.FILE, sentences.vectors, allow_pickle=False)
            written = (*FILES, sentence_vectors.FILE)
        kind = choose_index_type(len(chunks), self.params)
        faiss_index = self._extended_index(previous, chunks, vectors, kind)
        built_on = len(chunks)
        if faiss_index is None:
            faiss_index = build_index(vectors, self.spec.dim, self.params, kind)
        elif self._latest is not None:
            built_on = _built_on(self._latest)
        faiss.write_index(faiss_index, str(folder / "index.faiss"))
        files = {}
        for file_name in written:
            path = folder / file_name
            os.chmod(path, FILE_MODE)
            _fsync_file(path)
            files[file_name] = _sha256(path)
        manifest = self._manifest(files, len(articles), len(chunks), kind)
        manifest[TRAINED_ON] = built_on
        if sentences is not None:
            manifest["sentence_vectors"] = {
                "encoder": sentences.encoder,
                "splitter": sentences.splitter,
                "rows": len(sentences.vectors),
            }
        manifest_path = folder / "manifest.json"
        manifest_path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        os.chmod(manifest_path, FILE_MODE)
        _fsync_file(manifest_path)
        _fsync_dir(folder)
        _fsync_dir(self.snapshots_dir)
        tmp = self.root / f"CURRENT.tmp.{os.getpid()}"
        tmp.write_text(name + "\n", encoding="utf-8")
        os.chmod(tmp, FILE_MODE)
        _fsync_file(tmp)
        os.replace(tmp, self.current_file)  # the commit point
        _fsync_dir(self.root)
        self._prune(keep={name, previous} - {None})
        snapshot = Snapshot(
            name,
            manifest,
            dict(articles),
            list(chunks),
            vectors,
            faiss_index,
            sentences=sentences,
        )
        self._latest = snapshot
        return snapshot

    def _extended_index(
        self, previous: str | None, chunks: list[ChunkRecord], vectors: np.ndarray, kind: IndexType
    ) -> faiss.Index | None:
        """The previous snapshot's index plus the new rows, when this write only appends.

        Building IVF over 1M vectors takes over a minute on two cores (HNSW two); adding a few
        articles' vectors to a copy takes a fraction of that. Deletes and replacements shift row
        ids, so they rebuild; so does an IVF index that has doubled since it was trained.
        """
        last = self._latest
        if last is None or not last.name or last.name != previous:
            return None
        n_old = len(last.chunks)
        if kind == "flat" or not 0 < n_old <= len(chunks):
            return None  # an exact index is as cheap to build as to copy
        if index_type_of(last.faiss_index) != kind:
            return None
        if kind in IVF_TYPES and len(chunks) >= IVF_REBUILD_GROWTH * _built_on(last):
            return None  # its lists were trained on too few vectors for this many
        if chunks[:n_old] != last.chunks or not np.array_equal(vectors[:n_old], last.vectors):
            return None
        if not fits_trained_range(last.faiss_index, vectors[n_old:]):
            return None  # 8-bit codes trained on other ranges would clip the new vectors
        grown = extend_index(last.faiss_index, vectors[n_old:])
        configure(grown, self.params)
        return grown

    def _current_or_none(self) -> str | None:
        try:
            return self.current_name()
        except (IndexNotFound, CorruptIndex):
            return None

    def _prune(self, keep: set[str | None]) -> None:
        """Remove old and half-written snapshots; the one just replaced stays for readers mid-load."""
        for path in self.snapshots_dir.iterdir():
            if _is_snapshot_name(path.name) and path.name not in keep:
                shutil.rmtree(path, ignore_errors=True)
        for stray in self.root.glob("CURRENT.tmp.*"):
            stray.unlink(missing_ok=True)


def _built_on(snapshot: Snapshot) -> int:
    """Chunks in the index when it was last built whole (appends since then do not count)."""
    value = snapshot.manifest.get(TRAINED_ON)
    return value if type(value) is int and value > 0 else len(snapshot.chunks)


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
            spans = tuple(tuple(s) for s in json.loads(row[6]))
            articles[row[0]] = Article(row[0], row[1], row[2], row[3], row[4], row[5], spans)  # type: ignore[arg-type]
        chunks = []
        for i, (cid, article_id, start, end) in enumerate(
            con.execute('SELECT id, article_id, start, "end" FROM chunks ORDER BY id')
        ):
            article = articles.get(article_id)
            if cid != i or article is None:
                raise CorruptIndex(f"{path}: chunk {cid} has no article or is out of order")
            if not (isinstance(start, int) and isinstance(end, int)):
                raise CorruptIndex(f"{path}: chunk {cid} has non-integer offsets")
            if not 0 <= start < end <= len(article.text):
                raise CorruptIndex(
                    f"{path}: chunk {cid} offsets {start}-{end} are outside its article"
                )
            chunks.append(ChunkRecord(article_id, start, end, article.text[start:end]))
        return _with_extras(con, articles), chunks
    except sqlite3.Error as exc:
        raise CorruptIndex(f"{path} is not a readable index database ({exc})") from None
    except (ValueError, TypeError, RecursionError) as exc:
        raise CorruptIndex(f"{path} holds malformed records ({exc})") from None
    finally:
        con.close()
