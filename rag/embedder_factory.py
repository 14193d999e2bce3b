"""Pick the embedder the settings name: the bundled model, a local folder, or the test fake.

`RAG_EMBEDDING_MODEL=hashing:64` selects the deterministic `HashingEmbedder` (64 dimensions),
so tests can drive a real `rag` process in well under a second per call. It is for tests only:
an index built with it is refused by the real model (the manifest records `hashing-64`).
"""

from __future__ import annotations

import re

from rag.embedding import Embedder, HashingEmbedder, SentenceTransformerEmbedder
from rag.errors import ModelNotFound
from rag.settings import Settings

HASHING_PREFIX = "hashing:"
_HASHING = re.compile(r"^hashing:(\d{1,4})$")
MIN_HASHING_DIM, MAX_HASHING_DIM = 8, 4096


def hashing_dim(model: str | None) -> int | None:
    """The dimension of a `hashing:N` model name, or None for any other name.

    >>> hashing_dim("hashing:64"), hashing_dim("/models/minilm"), hashing_dim(None)
    (64, None, None)
    """
    if model is None or not model.startswith(HASHING_PREFIX):
        return None
    match = _HASHING.match(model)
    dim = int(match.group(1)) if match else 0
    if not MIN_HASHING_DIM <= dim <= MAX_HASHING_DIM:
        raise ModelNotFound(
            f"RAG_EMBEDDING_MODEL={model!r}: the test embedder takes a dimension between "
            f"{MIN_HASHING_DIM} and {MAX_HASHING_DIM}, e.g. 'hashing:64'"
        )
    return dim


def make_embedder(settings: Settings) -> Embedder:
    """The embedder for these settings (loads the model; call once per process)."""
    dim = hashing_dim(settings.embedding_model)
    if dim is not None:
        return HashingEmbedder(dim)
    # An empty RAG_EMBEDDING_MODEL means the bundled model, under the bundled model's name.
    return SentenceTransformerEmbedder(
        settings.embedding_model or None,
        settings.embedding_batch_size,
        backend=settings.embedding_backend,
        reading_backend=settings.reading_backend,
        word_table=settings.word_table,
        bulk_threads=settings.ingest_threads,
        cache_size=settings.embedding_cache_size,
        cache_dir=settings.cache_dir,
        threads=settings.query_threads,
    )
