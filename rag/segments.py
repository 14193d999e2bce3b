"""One immutable segment of the index: a few articles' chunks with everything to search them.

Layout of `index/segments/000012/`: `manifest.json` (counts, index type, checksums of the other
files), `meta.sqlite` (articles and chunk rows), `vectors.npy`, `index.faiss`, the BM25
postings (`bm25_*.npy`, rag/postings.py) and optionally `sentences.npy` and `minhash.npy` (the
articles' MinHash rows, in `article_ids` order, for folding wire copies). A segment is written
once, flushed, and never changed; the snapshot manifest lists the live segments and the articles
deleted from each (tombstones). Merging writes a new segment from several and drops them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple

import faiss
import numpy as np

from rag import postings as bm25_files
from rag.documents import Article
from rag.errors import CorruptIndex
from rag.postings import Postings
from rag.sentence_vectors import FILE as SENTENCES_FILE
from rag.sentence_vectors import SentenceVectors
from rag.vector_index import coarse_key

SEGMENT_FILE = "manifest.json"  # the segment's own: counts, index type, file checksums
CORE_FILES = ("meta.sqlite", "vectors.npy", "index.faiss")
POSTINGS_FILES = tuple(bm25_files.FILES.values())
MINHASH_FILE = "minhash.npy"
MINHASH_KEY = "copy_signatures"  # in manifest.json: how the rows were made


class ChunkRecord(NamedTuple):
    """A stored chunk; its position in its segment is its FAISS id there. A named tuple: an
    index of 100k chunks makes 100k of them at start-up, a fifth of the time a frozen
    dataclass takes."""

    article_id: str
    start: int
    end: int
    text: str


@dataclass
class Segment:
    """A loaded segment; shared by every snapshot that lists it (it never changes)."""

    name: str
    folder: Path
    info: dict[str, Any]  # manifest.json (or a legacy snapshot's manifest)
    articles: dict[str, Article]
    chunks: list[ChunkRecord]
    vectors: np.ndarray
    faiss_index: faiss.Index
    postings: Postings
    sentences: SentenceVectors | None
    row_article: np.ndarray  # int32: position of each chunk's article in `article_ids`
    article_ids: list[str]

    @classmethod
    def assemble(
        cls,
        name: str,
        folder: Path,
        info: dict[str, Any],
        articles: dict[str, Article],
        chunks: list[ChunkRecord],
        vectors: np.ndarray,
        faiss_index: faiss.Index,
        postings: Postings,
        sentences: SentenceVectors | None,
    ) -> Segment:
        article_ids = list(articles)
        position = {a: i for i, a in enumerate(article_ids)}
        row_article = np.fromiter(
            (position[c.article_id] for c in chunks), dtype=np.int32, count=len(chunks)
        )
        return cls(
            name,
            folder,
            info,
            articles,
            chunks,
            vectors,
            faiss_index,
            postings,
            sentences,
            row_article,
            article_ids,
        )

    @property
    def rows(self) -> int:
        return len(self.chunks)

    @cached_property
    def coarse_key(self) -> bytes | None:
        """Its IVF index's coarse lists (segments with equal keys share one assignment)."""
        return coarse_key(self.faiss_index)

    def copy_signatures(self, kind: dict[str, Any]) -> np.ndarray | None:
        """The articles' stored MinHash rows (`article_ids` order), read on first use; None
        when the segment has none or made them another way. The file's checksum was checked
        with the others when the segment was loaded."""
        if self.info.get(MINHASH_KEY) != kind or MINHASH_FILE not in self.info.get("files", {}):
            return None
        try:
            rows = np.load(self.folder / MINHASH_FILE, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise CorruptIndex(f"{self.folder / MINHASH_FILE} is not readable ({exc})") from None
        if rows.ndim != 2 or rows.shape[0] != len(self.article_ids):
            raise CorruptIndex(
                f"{self.folder / MINHASH_FILE} holds {rows.shape[0]} rows for "
                f"{len(self.article_ids)} articles; run `rag check`"
            )
        return rows

    def live_rows(self, deleted: frozenset[str]) -> np.ndarray:
        """Bool mask of the rows whose article is not deleted."""
        if not deleted:
            return np.ones(self.rows, dtype=bool)
        dead = np.array([i for i, a in enumerate(self.article_ids) if a in deleted], np.int32)
        return ~np.isin(self.row_article, dead)


def write_info(folder: Path, info: dict[str, Any], file_mode: int) -> None:
    path = folder / SEGMENT_FILE
    path.write_text(json.dumps(info, indent=2), encoding="utf-8")
    os.chmod(path, file_mode)
    with path.open("rb+") as fh:
        os.fsync(fh.fileno())


def read_info(folder: Path) -> dict[str, Any]:
    path = folder / SEGMENT_FILE
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CorruptIndex(f"segment {folder} has no {SEGMENT_FILE}") from None
    except (OSError, ValueError, RecursionError) as exc:
        raise CorruptIndex(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(info, dict) or not isinstance(info.get("files"), dict):
        raise CorruptIndex(f"{path} has no 'files' object with the files' checksums")
    return info


def files_of(info: dict[str, Any]) -> tuple[str, ...]:
    """The files a segment must hold: the core ones, its postings and sentence vectors when
    it lists them (a legacy snapshot has no postings)."""
    listed = info.get("files") if isinstance(info.get("files"), dict) else {}
    optional = tuple(f for f in (*POSTINGS_FILES, SENTENCES_FILE, MINHASH_FILE) if f in listed)
    return (*CORE_FILES, *optional)
