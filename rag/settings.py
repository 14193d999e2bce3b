"""One validated settings object, read from `RAG_`-prefixed environment variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ALIASES = Path(__file__).resolve().parent / "data" / "aliases.json"
DEFAULT_CACHE_DIR = Path.home() / ".cache" / "conflict-rag"


class Settings(BaseSettings):
    """Every tunable of the service; the CLI, the API and the eval suite build one each."""

    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore")

    index_dir: Path = Field(default=PROJECT_ROOT / "index", description="Where the index lives.")
    seeds_dir: Path = Field(default=PROJECT_ROOT / "seeds", description="Default articles.")
    embedding_model: str | None = Field(
        default=None,
        description="Local path of a sentence-transformers model; default: the bundled MiniLM.",
    )
    embedding_batch_size: int = Field(
        default=16,
        ge=1,
        le=4096,
        description="Chunks per forward pass when ingesting: 16 encodes 58 chunks/s here, 64 only 46.",
    )

    chunk_size: int = Field(default=600, ge=50, le=20000, description="Characters per chunk.")
    chunk_overlap: int = Field(default=120, ge=0, le=10000)
    embed_titles: bool = Field(
        default=False,
        description="Embed each chunk as its article's title, a newline, then the chunk's text "
        "(stored text and citations are the chunk's own); an existing index keeps its choice.",
    )

    top_k: int = Field(default=5, ge=1, le=50, description="Passages returned by default.")
    candidate_k: int = Field(default=50, ge=1, le=1000, description="Per-retriever pool.")
    fusion: Literal["convex", "rrf"] = Field(
        default="convex",
        description="How dense and BM25 rankings merge: min-max normalized weighted sum, or RRF.",
    )
    dense_weight: float = Field(default=0.4, ge=0.0, le=1.0, description="Convex fusion weight.")
    rrf_k: int = Field(default=60, ge=1, description="Reciprocal rank fusion constant.")
    answer_passages: int = Field(default=5, ge=1, le=50, description="Passages the answerer reads.")
    abstain_threshold: float = Field(
        default=0.45, ge=0.0, le=1.0, description="The rule answerer's abstention cut."
    )
    answerer: Literal["auto", "reader", "rules"] = Field(
        default="auto",
        description="Who picks the answer span: auto (default) = the trained reader "
        "(rag/data/reader/) when its artifact is there, else the rule engine; reader; rules. On "
        "new conflict reports the rules are confidently wrong on half their answers, the reader "
        "on none (README, Answer quality).",
    )
    reader_dir: Path | None = Field(
        default=None, description="The reader artifact folder; default: rag/data/reader/."
    )
    reader_threshold: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="The reader's abstention cut on its calibrated confidence; default: the "
        "one fitted with its calibration.",
    )
    reader_backend: Literal["onnx-int8", "onnx", "torch"] = Field(
        default="onnx-int8",
        description="How the reader runs: ONNX Runtime int8 (exported once beside the artifact), "
        "fp32, or PyTorch.",
    )
    aliases_path: Path = Field(default=DEFAULT_ALIASES)

    max_question_chars: int = Field(default=1000, ge=1)
    max_article_chars: int = Field(default=5_000_000, ge=1)
    reload_check_s: float = Field(
        default=1.0,
        ge=-1,
        description="How often a running service looks for snapshots written by another "
        "process (seconds; 0: every request; -1: never).",
    )
    keep_snapshots: int = Field(default=2, ge=1, description="Snapshots kept after a write.")
    merge_factor: int = Field(
        default=4,
        ge=0,
        description="Segments of one size tier merged into one in the background (rag/merging.py); "
        "0 or 1: never merge.",
    )
    checksum_on_load: Literal["changed", "always"] = Field(
        default="changed",
        description="Opening the index hashes a segment's files only when their size, times "
        "or inode changed since they last hashed whole (rag/verified.py); always: every load. "
        "`rag check` always hashes everything.",
    )
    merge_floor_chunks: int = Field(
        default=1000, ge=1, description="Segments below this many live chunks form the lowest tier."
    )

    # Ingestion of pages, feeds and PDFs (rag/ingest/)
    max_page_bytes: int = Field(
        default=10_000_000, ge=1, description="A web page or feed larger than this is not read."
    )
    max_pdf_bytes: int = Field(
        default=100_000_000, ge=1, description="A PDF larger than this is not read."
    )
    fold_copies: bool = Field(
        default=True, description="Store a wire story once; later copies become also_published."
    )
    fold_threshold: float = Field(
        default=0.5,
        gt=0.0,
        le=1.0,
        description="Estimated Jaccard similarity of 5-word shingles at which a new article is "
        "a copy of a stored one (eval/fold_pairs.jsonl).",
    )

    # Vector index (rag/vector_index.py) and query encoder (rag/embedding.py)
    index_type: Literal["auto", "flat", "hnsw", "ivf", "ivf-sq8"] = Field(
        default="auto",
        description="auto: exact (flat) below index_auto_threshold chunks, IVF from there on.",
    )
    index_auto_threshold: int = Field(default=20_000, ge=1, description="Chunks: flat below.")
    index_segment_threshold: int = Field(
        default=2_000,
        ge=1,
        description="The same for a segment added or merged into an index (auto: flat below, "
        "IVF from there on): ten exact segments cost more per query than IVF over each.",
    )
    hnsw_m: int = Field(default=32, ge=4, le=128, description="HNSW links per node.")
    hnsw_ef_construction: int = Field(default=80, ge=8, le=2048)
    hnsw_ef_search: int = Field(default=128, ge=8, le=4096, description="HNSW search breadth.")
    ivf_nlist: int = Field(default=0, ge=0, description="IVF lists; 0: about 4 * sqrt(chunks).")
    ivf_nprobe: int = Field(default=32, ge=1, description="IVF lists searched per query.")
    index_mmap: bool = Field(default=True, description="Memory-map vectors and flat storage.")
    embedding_backend: Literal["auto", "torch", "onnx", "onnx-int8"] = Field(
        default="auto",
        description="Encoder for questions: auto = ONNX Runtime fp32 when it works (exported "
        "once into cache_dir; the same vectors as PyTorch), else PyTorch.",
    )
    reading_backend: Literal["auto", "torch", "onnx", "onnx-int8"] = Field(
        default="auto",
        description="Encoder for the answerer's words and sentences: auto = ONNX int8 when it "
        "works (about 3x faster than fp32, same seed and SQuAD scores), else PyTorch.",
    )
    word_table: bool = Field(
        default=True,
        description="Keep the reading vectors of the model's ~22k whole words in cache_dir "
        "(built once, in seconds) so the answerer does not encode them per question.",
    )
    query_threads: int = Field(
        default=1,
        ge=1,
        le=64,
        description="ONNX threads per query-time encode; one serves concurrent requests best.",
    )
    ingest_threads: int = Field(
        default=0,
        ge=0,
        le=256,
        description="ONNX threads for encoding chunks and sentences at ingestion; 0: all cores.",
    )
    embedding_cache_size: int = Field(
        default=4096, ge=0, description="Short texts whose embeddings are kept (LRU); 0: off."
    )
    cache_dir: Path = Field(
        default=DEFAULT_CACHE_DIR,
        description="Where derived files (the ONNX export, the word table) are kept.",
    )

    # The store: the embedded snapshot folder (default) or PostgreSQL + pgvector (rag/pg/)
    store: Literal["embedded", "postgres"] = Field(
        default="embedded",
        description="Where articles, chunks and vectors live: the index folder, or the "
        "PostgreSQL at database_url (install the `cluster` extra).",
    )
    database_url: SecretStr | None = Field(
        default=None, description="postgresql://user:password@host:port/db for store=postgres."
    )
    pg_pool_size: int = Field(default=4, ge=1, le=256, description="Connections per process.")
    # m 32 / ef_construction 200 / ef_search 1000: recall@10 0.950 at 1M, 7 ms (docs/capacity.md)
    pg_hnsw_m: int = Field(default=32, ge=4, le=100, description="pgvector HNSW links per node.")
    pg_hnsw_ef_construction: int = Field(default=200, ge=8, le=1000)
    pg_ef_search: int = Field(
        default=1000,
        ge=1,
        le=1000,
        description="pgvector HNSW search breadth (hnsw.ef_search); `rag bench --store "
        "postgres` measures recall@10 against it.",
    )
    pg_write_batch: int = Field(
        default=64, ge=1, le=10_000, description="Articles per transaction in `rag ingest --ray`."
    )

    # HTTP service
    api_token: SecretStr | None = Field(default=None, description="Bearer token for writes.")
    protect_reads: bool = Field(default=False, description="Require the token for reads too.")
    max_body_bytes: int = Field(default=2_000_000, ge=1024)
    max_batch: int = Field(default=100, ge=1, le=10_000, description="Articles per POST.")
    query_concurrency: int = Field(
        default=0,
        ge=0,
        le=1024,
        description="Questions (/ask, /search) computed at once; others wait their turn. "
        "0: one per CPU core.",
    )
    malloc_arenas: int = Field(
        default=2,
        ge=0,
        le=1024,
        description="glibc malloc arenas the server's threads share (fewer: less free memory "
        "kept per thread); 0: glibc's default, 8 per core. MALLOC_ARENA_MAX, if set, wins.",
    )
    cors_origins: list[str] = Field(default_factory=list)

    def query_slots(self) -> int:
        return self.query_concurrency or os.cpu_count() or 1

    def database_dsn(self) -> str:
        """The PostgreSQL URL, or a one-line error that names the setting."""
        from rag.errors import IndexNotFound

        url = self.database_url.get_secret_value().strip() if self.database_url else ""
        if not url:
            raise IndexNotFound("RAG_STORE=postgres needs RAG_DATABASE_URL=postgresql://...")
        return url

    def token(self) -> str | None:
        """The configured API token, or None when unset or blank."""
        if self.api_token is None:
            return None
        return self.api_token.get_secret_value().strip() or None

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Settings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("RAG_CHUNK_OVERLAP must be smaller than RAG_CHUNK_SIZE")
        return self
