"""`rag check`: verify an index end to end and say exactly what is wrong.

Checked, in order: the `CURRENT` pointer, the manifest (types, format, compatibility with the
settings), every file's checksum, the counts in the manifest vs `meta.sqlite` vs `vectors.npy`
vs FAISS, that FAISS ids and chunk records match one to one (and hold the same vectors), that
every chunk's article exists and its offsets lie inside the article, that no article lacks
chunks, and that the files are owner-only. Nothing is written; a damaged file is never handed
to FAISS (its checksum must match first).
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag import sentence_vectors
from rag.documents import Article
from rag.errors import RagError
from rag.postings import Postings
from rag.segments import POSTINGS_FILES, SEGMENT_FILE, files_of, read_info
from rag.store import (
    FORMAT_VERSION,
    LEGACY_FORMAT,
    OPTIONAL_FILES,
    IndexStore,
    _is_snapshot_name,
    _sha256,
    read_faiss,
    read_sentence_vectors,
    read_vectors,
)
from rag.vector_index import RECONSTRUCTION_TOLERANCE, index_type_of

MAX_LISTED = 10  # row-level problems of one kind listed before "... and N more"
NORM_TOLERANCE = 1e-3  # vectors are L2-normalized float32
MANIFEST_TYPES: dict[str, type] = {
    "format_version": int,
    "embedding_model": str,
    "model_fingerprint": str,
    "dim": int,
    "chunk_size": int,
    "chunk_overlap": int,
    "splitter": str,
    "counts": dict,
}


@dataclass(frozen=True)
class IndexProblem:
    """One thing wrong with an index: where (a path under the index folder) and what."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class IndexCheck:
    """What `inspect_index` found: the snapshot checked, its counts, and every problem."""

    snapshot: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[IndexProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, where: str, message: str) -> None:
        self.problems.append(IndexProblem(where, message))

    def add_rows(self, where: str, what: str, items: list[str]) -> None:
        """One problem listing up to MAX_LISTED offending rows."""
        if items:
            more = f" ... and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else ""
            self.add(where, f"{what}: {', '.join(items[:MAX_LISTED])}{more}")


def check_index(store: IndexStore) -> list[IndexProblem]:
    """Every problem with the index's current snapshot; empty when it is whole."""
    return inspect_index(store).problems


def inspect_index(store: IndexStore) -> IndexCheck:
    report = IndexCheck()
    name = _check_pointer(store, report)
    if name is None:
        return report
    report.snapshot = name
    manifest = _check_manifest(store, name, report)
    if manifest is None:
        return report
    if manifest.get("format_version") == LEGACY_FORMAT:
        meta = _check_folder(
            store, store.snapshots_dir / name, manifest, report, f"snapshots/{name}"
        )
        if meta is not None:
            report.counts = {"articles": len(meta[0]), "chunks": len(meta[1])}
    else:
        _check_segments(store, manifest, report)
    return report


def _check_segments(store: IndexStore, manifest: dict[str, Any], report: IndexCheck) -> None:
    """Every listed segment whole; tombstones name its articles; an article is live once; the
    manifest's counts are the live articles and chunks."""
    entries = manifest.get("segments")
    if not isinstance(entries, list):
        report.add(f"snapshots/{report.snapshot}/manifest.json", "has no list of segments")
        return
    live: dict[str, str] = {}
    twice, live_chunks = [], 0
    for entry in entries:
        name = entry.get("name") if isinstance(entry, dict) else None
        deleted = entry.get("deleted") if isinstance(entry, dict) else None
        if not (isinstance(name, str) and _is_snapshot_name(name) and isinstance(deleted, list)):
            report.add(
                f"snapshots/{report.snapshot}/manifest.json", f"malformed segment {entry!r:.60}"
            )
            continue
        where, folder = f"segments/{name}", store.segments_dir / name
        if not folder.is_dir():
            report.add(where, "does not exist, but the manifest lists it")
            continue
        try:
            info = read_info(folder)
        except RagError as exc:
            report.add(f"{where}/{SEGMENT_FILE}", str(exc))
            continue
        meta = _check_folder(store, folder, info, report, where)
        if meta is None:
            continue
        articles, rows = meta
        dead = set(deleted)
        report.add_rows(
            f"snapshots/{report.snapshot}/manifest.json",
            f"tombstones in segment {name} for articles it does not hold",
            sorted(repr(d) for d in dead - set(articles)),
        )
        for doc_id in set(articles) - dead:
            if doc_id in live:
                twice.append(f"{doc_id!r} (segments {live[doc_id]} and {name})")
            live[doc_id] = name
        live_chunks += sum(1 for row in rows if row[1] not in dead)
    report.add_rows("segments", "articles live in two segments", twice)
    report.counts = {"articles": len(live), "chunks": live_chunks, "segments": len(entries)}
    counts = manifest.get("counts")
    if isinstance(counts, dict) and (counts.get("articles"), counts.get("chunks")) != (
        len(live),
        live_chunks,
    ):
        report.add(
            "counts",
            f"disagree: manifest.json chunks {counts.get('chunks')!r:.20}, articles "
            f"{counts.get('articles')!r:.20}; live in the segments: {live_chunks} chunks, "
            f"{len(live)} articles",
        )


def _check_folder(
    store: IndexStore, folder: Path, manifest: dict[str, Any], report: IndexCheck, where: str
) -> tuple[dict[str, Article], list[ChunkRow]] | None:
    """One snapshot folder (format 1) or segment: files, records, vectors, FAISS, postings."""
    intact = _check_files(folder, manifest, report, where)
    dim = manifest["dim"] if type(manifest.get("dim")) is int else store.spec.dim
    meta = _read_meta(folder / "meta.sqlite", report, f"{where}/meta.sqlite")
    vectors = _read_vectors(folder / "vectors.npy", dim, report, f"{where}/vectors.npy")
    faiss_index = None
    if "index.faiss" in intact:  # never parse an unverified file with FAISS' C++ reader
        try:
            faiss_index = read_faiss(folder / "index.faiss")
        except RagError as exc:
            report.add(f"{where}/index.faiss", str(exc))
    if meta is not None:
        _check_chunks(meta[0], meta[1], report, f"{where}/meta.sqlite")
    _check_counts(manifest, meta, vectors, faiss_index, report)
    _check_faiss(faiss_index, vectors, meta, dim, report, f"{where}/index.faiss")
    if sentence_vectors.FILE in intact and meta is not None:
        _check_sentences(folder, manifest, set(meta[0]), dim, report, where)
    if meta is not None and all(f in intact for f in POSTINGS_FILES):
        _check_postings(store, folder, manifest, meta, report, where)
    _check_permissions(store, folder, report)
    return meta


def _check_postings(
    store: IndexStore,
    folder: Path,
    info: dict[str, Any],
    meta: tuple[dict[str, Article], list[ChunkRow]],
    report: IndexCheck,
    where: str,
) -> None:
    """The BM25 arrays are consistent, and equal the chunks' terms when this analyzer wrote them."""
    try:
        postings = Postings.load(folder, mmap=True)
    except (OSError, ValueError, EOFError) as exc:
        report.add(f"{where}/bm25", f"unreadable postings ({exc})")
        return
    articles, rows = meta
    for problem in postings.problems(len(rows)):
        report.add(f"{where}/bm25", problem)
    if info.get("bm25_analyzer") != store.analyzer_id or len(postings.doc_len) != len(rows):
        return
    texts = []
    for _, article_id, start, end in rows:
        article = articles.get(article_id)
        ok = article is not None and type(start) is int and type(end) is int
        texts.append(article.text[start:end] if ok else "")  # type: ignore[union-attr]
    rebuilt = Postings.build([store.analyzer.terms(t) for t in texts])
    if _canonical(rebuilt) != _canonical(postings) or not np.array_equal(
        rebuilt.doc_len, postings.doc_len
    ):
        report.add(f"{where}/bm25", "postings differ from the terms of the chunks' text")


def _canonical(postings: Postings) -> tuple[list[str], bytes, bytes, bytes]:
    """Postings in term order (a merge numbers terms differently from a build)."""
    order = np.argsort(postings.terms, kind="stable")
    counts = np.diff(postings.indptr)[order]
    starts = postings.indptr[:-1][order]
    picks = (
        np.concatenate([np.arange(a, a + n) for a, n in zip(starts, counts, strict=True)])
        if len(order)
        else np.zeros(0, dtype=np.int64)
    )
    return (
        postings.terms[order].tolist(),
        counts.astype(np.int64).tobytes(),
        postings.docs[picks].astype(np.int64).tobytes(),
        postings.tf[picks].astype(np.float32).tobytes(),
    )


def _check_sentences(
    folder: Path,
    manifest: dict[str, Any],
    articles: set[str],
    dim: int,
    report: IndexCheck,
    where: str,
) -> None:
    """sentences.npy: float16 rows of the model's width, each article's range inside it."""
    try:
        stored = read_sentence_vectors(folder, manifest, mmap=True)
    except RagError as exc:
        report.add(f"{where}/{sentence_vectors.FILE}", f"unreadable ({exc})")
        return
    if stored is None:
        report.add(f"{where}/manifest.json", "lists sentences.npy but no sentence_vectors entry")
        return
    for problem in stored.problems(dim, articles):
        report.add(f"{where}/{sentence_vectors.FILE}", problem)


def _check_pointer(store: IndexStore, report: IndexCheck) -> str | None:
    """The snapshot CURRENT names, when it names one that exists."""
    if not store.root.is_dir():
        state = (
            "is a file, not an index folder"
            if store.root.exists()
            else "does not exist; build an index with `rag ingest PATH --index DIR`"
        )
        report.add(str(store.root), state)
        return None
    if not os.path.lexists(store.current_file):
        complete = _complete_snapshots(store)
        hint = (
            f"but snapshots/ holds {', '.join(complete)}: if the newest is the live state, "
            f"restore the pointer with `echo {complete[-1]} > {store.current_file}`"
            if complete
            else "no index here; build one with `rag ingest PATH`"
        )
        report.add("CURRENT", f"missing, {hint}")
        return None
    try:
        name = store.current_name()
    except RagError as exc:
        report.add("CURRENT", str(exc))
        return None
    if not store.snapshots_dir.is_dir():
        report.add("snapshots", f"missing, but CURRENT names snapshot {name}")
        return None
    if not (store.snapshots_dir / name).is_dir():
        others = ", ".join(_complete_snapshots(store)) or "none"
        report.add("CURRENT", f"names snapshot {name}, which does not exist (complete: {others})")
        return None
    return name


def _complete_snapshots(store: IndexStore) -> list[str]:
    if not store.snapshots_dir.is_dir():
        return []
    names = [p.name for p in store.snapshots_dir.iterdir() if _is_snapshot_name(p.name)]
    complete = [n for n in names if (store.snapshots_dir / n / "manifest.json").is_file()]
    return sorted(complete, key=int)


def _check_manifest(store: IndexStore, name: str, report: IndexCheck) -> dict[str, Any] | None:
    where = f"snapshots/{name}/manifest.json"
    try:
        manifest = store.read_manifest(name)
    except RagError as exc:
        report.add(where, str(exc))
        return None
    for key, wanted in MANIFEST_TYPES.items():
        value = manifest.get(key)
        if key not in manifest:
            report.add(where, f"{key!r} is missing")
        elif type(value) is not wanted:  # `type is`: a bool is not a count
            report.add(where, f"{key!r} should be {wanted.__name__}, found {value!r:.60}")
    if manifest.get("format_version") not in (FORMAT_VERSION, LEGACY_FORMAT):
        report.add(
            where, f"format_version {manifest.get('format_version')!r:.20} is not {FORMAT_VERSION}"
        )
    elif (
        manifest.get("format_version") == LEGACY_FORMAT and type(manifest.get("files")) is not dict
    ):
        report.add(where, "'files' should be dict (the checksums of a format-1 snapshot)")
    for mismatch in store.spec.mismatches(manifest):
        report.add(where, f"not compatible with the settings: {mismatch}")
    counts = manifest.get("counts")
    if isinstance(counts, dict):
        for key in ("articles", "chunks"):
            if type(counts.get(key)) is not int or counts[key] < 0:
                report.add(where, f"counts.{key} should be a count, found {counts.get(key)!r:.40}")
    return manifest


def _check_files(
    folder: Path, manifest: dict[str, Any], report: IndexCheck, where: str
) -> set[str]:
    """Names of the files whose checksum matches the manifest."""
    files = manifest.get("files")
    files = files if isinstance(files, dict) else {}
    intact = set()
    for name in files_of(manifest):
        path, expected = folder / name, files.get(name)
        if not path.is_file():
            report.add(f"{where}/{name}", "missing")
        elif path.stat().st_size == 0:
            report.add(f"{where}/{name}", "empty (a truncated file)")
        elif not isinstance(expected, str):
            report.add(f"{where}/{name}", "has no checksum in manifest.json")
        elif expected != _sha256(path):
            report.add(f"{where}/{name}", "checksum does not match the manifest (damaged file)")
        else:
            intact.add(name)
    return intact


ChunkRow = tuple[Any, Any, Any, Any]


def _read_meta(
    path: Path, report: IndexCheck, where: str
) -> tuple[dict[str, Article], list[ChunkRow]] | None:
    if not path.is_file() or path.stat().st_size == 0:
        return None
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        report.add(where, f"cannot be opened ({exc})")
        return None
    try:
        verdict = con.execute("PRAGMA quick_check").fetchone()[0]
        if verdict != "ok":
            report.add(where, f"SQLite reports damage: {verdict}")
        rows = con.execute(
            "SELECT id, title, text, source, url, published_at, index_spans, content_hash"
            " FROM articles"
        ).fetchall()
        chunk_rows = con.execute('SELECT id, article_id, start, "end" FROM chunks ORDER BY id')
        chunks = chunk_rows.fetchall()
    except sqlite3.Error as exc:
        report.add(where, f"not a readable index database ({exc})")
        return None
    finally:
        con.close()
    return _articles(rows, report, where), chunks


def _articles(rows: list[Any], report: IndexCheck, where: str) -> dict[str, Article]:
    articles: dict[str, Article] = {}
    bad, changed = [], []
    for row in rows:
        doc_id, title, text = row[0], row[1], row[2]
        try:
            if not all(isinstance(v, str) for v in (doc_id, title, text)) or not text.strip():
                raise ValueError("no id, title or text")
            spans = tuple((int(a), int(b)) for a, b in json.loads(row[6]))
            if any(not 0 <= a <= b <= len(text) for a, b in spans):
                raise ValueError("index_spans outside the text")
        except (ValueError, TypeError, RecursionError) as exc:
            bad.append(f"{doc_id!r:.40} ({exc})")
            continue
        article = Article(doc_id, title, text, row[3], row[4], row[5], spans)
        if article.content_hash != row[7]:
            changed.append(repr(doc_id))
        articles[doc_id] = article
    report.add_rows(where, "malformed article records", bad)
    report.add_rows(where, "articles whose content no longer matches their content_hash", changed)
    return articles


def _check_chunks(
    articles: dict[str, Article], rows: list[ChunkRow], report: IndexCheck, where: str
) -> None:
    """Chunk ids are 0..n-1 (the FAISS ids); each chunk lies inside an existing article."""
    out_of_order = [f"{cid!r}" for i, (cid, *_) in enumerate(rows) if cid != i]
    report.add_rows(
        where, "chunk ids are not 0..n-1 in order (FAISS id = chunk id) at", out_of_order
    )
    orphans, outside, chunked = [], [], set()
    for cid, article_id, start, end in rows:
        article = articles.get(article_id)
        if article is None:
            orphans.append(f"chunk {cid} -> {article_id!r:.40}")
            continue
        chunked.add(article_id)
        if not (type(start) is int and type(end) is int and 0 <= start < end <= len(article.text)):
            outside.append(f"chunk {cid} ({start!r:.12}-{end!r:.12} in {len(article.text)} chars)")
    report.add_rows(where, "chunks whose article is missing", orphans)
    report.add_rows(where, "chunk offsets outside their article", outside)
    unchunked = [
        repr(doc_id)
        for doc_id, article in articles.items()
        if doc_id not in chunked and any(article.text[a:b].strip() for a, b in article.spans())
    ]
    report.add_rows(where, "articles with text but no chunks (not searchable)", unchunked)


def _read_vectors(path: Path, dim: int, report: IndexCheck, where: str) -> np.ndarray | None:
    if not path.is_file() or path.stat().st_size == 0:
        return None
    try:
        vectors = read_vectors(path)
    except RagError as exc:
        report.add(where, str(exc))
        return None
    if vectors.shape[1] != dim:
        report.add(where, f"vectors have dimension {vectors.shape[1]}, the manifest says {dim}")
    norms = np.linalg.norm(vectors, axis=1) if len(vectors) else np.zeros(0)
    bad_rows = np.flatnonzero(~np.isfinite(norms) | (np.abs(norms - 1.0) > NORM_TOLERANCE))
    report.add_rows(where, "rows that are not unit-length vectors", [str(i) for i in bad_rows])
    return vectors


def _check_counts(
    manifest: dict[str, Any],
    meta: tuple[dict[str, Article], list[ChunkRow]] | None,
    vectors: np.ndarray | None,
    faiss_index: Any,
    report: IndexCheck,
) -> None:
    counts = manifest.get("counts")
    counts = counts if isinstance(counts, dict) else {}
    found = {"manifest.json chunks": counts.get("chunks")}
    if meta is not None:
        found["meta.sqlite chunks"] = len(meta[1])
        if counts.get("articles") != len(meta[0]):
            report.add(
                "counts",
                f"manifest.json says {counts.get('articles')!r:.20} articles, "
                f"meta.sqlite holds {len(meta[0])}",
            )
    if vectors is not None:
        found["vectors.npy rows"] = len(vectors)
    if faiss_index is not None:
        found["FAISS entries"] = int(faiss_index.ntotal)
    if len({repr(v) for v in found.values()}) > 1:
        report.add("counts", "disagree: " + ", ".join(f"{k} {v!r:.20}" for k, v in found.items()))


def _check_faiss(
    faiss_index: Any,
    vectors: np.ndarray | None,
    meta: tuple[dict[str, Article], list[ChunkRow]] | None,
    dim: int,
    report: IndexCheck,
    where: str,
) -> None:
    """FAISS id i <-> chunk record i <-> vectors.npy row i, with the same vector."""
    if faiss_index is None:
        return
    import faiss

    if faiss_index.d != dim or faiss_index.metric_type != faiss.METRIC_INNER_PRODUCT:
        report.add(where, f"not an inner-product index of dimension {dim} (d={faiss_index.d})")
        return
    ntotal = int(faiss_index.ntotal)
    if meta is not None:
        ids = {cid for cid, *_ in meta[1] if type(cid) is int}
        report.add_rows(
            where, "FAISS ids without a chunk record", _ranges(sorted(set(range(ntotal)) - ids))
        )
        report.add_rows(
            where,
            "chunk records without a FAISS vector",
            _ranges(sorted(i for i in ids if not 0 <= i < ntotal)),
        )
    if vectors is not None and vectors.shape[1] == dim:
        n = min(ntotal, len(vectors))
        stored = faiss_index.reconstruct_n(0, n) if n else np.zeros((0, dim), np.float32)
        tolerance = RECONSTRUCTION_TOLERANCE.get(index_type_of(faiss_index), 0.0)
        differ = np.flatnonzero(np.any(np.abs(stored - vectors[:n]) > tolerance, axis=1))
        report.add_rows(
            where, "FAISS vectors that differ from vectors.npy at ids", _ranges(list(differ))
        )


def _ranges(ids: list[int]) -> list[str]:
    """Consecutive ids folded into ranges.

    >>> _ranges([1, 2, 3, 7])
    ['1-3', '7']
    """
    out: list[str] = []
    for i in ids:
        if out and out[-1].split("-")[-1] == str(i - 1):
            out[-1] = f"{out[-1].split('-')[0]}-{i}"
        else:
            out.append(str(i))
    return out


def _check_permissions(store: IndexStore, folder: Path, report: IndexCheck) -> None:
    """Owner-only: folders 0700, files 0600 (the index may hold unpublished reporting)."""
    paths = [store.root, store.snapshots_dir, folder, store.current_file]
    paths += [
        folder / name
        for name in (*files_of({"files": dict.fromkeys(POSTINGS_FILES)}), *OPTIONAL_FILES)
    ]
    paths += [folder / "manifest.json", folder / SEGMENT_FILE]
    for path in paths:
        try:
            mode = stat.S_IMODE(path.lstat().st_mode)
        except OSError:
            continue  # a missing file is reported by the checks above
        if mode & 0o077:
            rel = path.relative_to(store.root) if path != store.root else Path(".")
            report.add(
                str(rel), f"is accessible to other users (mode {mode:04o}); `chmod go-rwx` it"
            )
