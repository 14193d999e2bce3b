"""Articles, chunks and vectors in PostgreSQL: pgvector HNSW (cosine), tsvector GIN, SQL filters.

Every write is one transaction (upsert by id, delete, replace), so every reader sees the old
or the new state of an article, never a mix; writers are serialized by an advisory lock, as
the embedded store's writers are by its file lock, because folding wire copies reads what is
stored before deciding what to write.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from rag.documents import Article, Copy
from rag.errors import DocumentNotFound, IncompatibleIndex, IndexNotFound, RagError
from rag.pg.fulltext import tsquery_literal, tsvector_literal
from rag.pg.schema import Layout, migrate
from rag.retrieval import Filters
from rag.sentence_vectors import DTYPE, SentenceVectors
from rag.store import SPLITTER_NAME, IndexSpec, extras_of

WRITE_LOCK = 0x7261_6702  # pg_advisory_xact_lock key for writers
CONNECT_TIMEOUT_S = 10


class DatabaseUnavailable(RagError):
    status_code = 503


def require_driver() -> Any:
    """psycopg, or an error that names the fix."""
    try:
        import psycopg
    except ModuleNotFoundError:
        raise RagError(
            "RAG_STORE=postgres needs psycopg and pgvector: pip install -e '.[cluster]'"
        ) from None
    return psycopg


def redacted(dsn: str) -> str:
    """The URL without its password, for messages and logs.

    >>> redacted("postgresql://rag:secret@db.local:5432/news")
    'postgresql://rag@db.local:5432/news'
    """
    parts = urlsplit(dsn)
    if not parts.scheme:
        return "postgresql (connection string)"
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    user = f"{parts.username}@" if parts.username else ""
    return f"{parts.scheme}://{user}{host}{port}{parts.path}"


@dataclass(frozen=True)
class ChunkRow:
    """A chunk to store: its offsets in the article, its text, vector and index terms."""

    article_id: str
    start: int
    end: int
    text: str
    vector: np.ndarray
    terms: list[str]


@dataclass(frozen=True)
class Hit:
    """A stored chunk as search returns it, with what a Passage cites."""

    chunk_id: int
    article_id: str
    start: int
    end: int
    text: str
    cosine: float


def spec_dict(spec: IndexSpec) -> dict[str, Any]:
    return {
        "embedding_model": spec.embedding_model,
        "model_fingerprint": spec.model_fingerprint,
        "dim": spec.dim,
        "chunk_size": spec.chunk_size,
        "chunk_overlap": spec.chunk_overlap,
        "splitter": SPLITTER_NAME,
    }


def _scope(filters: Filters | None) -> tuple[str, str, list[Any]] | None:
    """(join, where, params) restricting chunks to the filters' articles; None when the
    filters can match nothing (a source PostgreSQL cannot hold: a NUL, a lone surrogate)."""
    where, params = _filter_sql(filters)
    if where and not _clean(filters.source if filters else None):
        return None
    return ("JOIN articles a ON a.id = c.article_id" if where else ""), where, params


def _filter_sql(filters: Filters | None) -> tuple[str, list[Any]]:
    """A WHERE fragment over `a` (articles) for the filters, and its parameters."""
    if filters is None or not filters.active:
        return "", []
    clauses, params = [], []
    if filters.source:
        clauses.append("a.source_key = lower(%s)")
        params.append(filters.source)
    if filters.published_after:
        clauses.append("a.published_day >= %s")
        params.append(filters.published_after[:10])
    if filters.published_before:
        clauses.append("a.published_day <= %s")
        params.append(filters.published_before[:10])
    return " AND " + " AND ".join(clauses), params


def _clean(value: str | None) -> bool:
    """Whether PostgreSQL can hold this text (no NUL, no lone surrogate)."""
    if value is None:
        return True
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


ARTICLE_COLUMNS = "id, title, text, source, url, published_at, index_spans, extras"


def article_of(row: Sequence[Any]) -> Article:
    doc_id, title, text, source, url, published_at, spans, extras = row
    copies = tuple(Copy(**c) for c in extras.get("also_published", ()))
    return Article(
        doc_id,
        title,
        text,
        source,
        url,
        published_at,
        tuple(tuple(s) for s in spans),  # type: ignore[misc]
        author=extras.get("author"),
        place=extras.get("place"),
        also_published=copies,
    )


class PgStore:
    """One PostgreSQL database holding one index; a pool of connections shared by threads."""

    def __init__(
        self,
        dsn: str,
        spec: IndexSpec,
        *,
        pool_size: int = 4,
        ef_search: int = 100,
        hnsw_m: int = 16,
        hnsw_ef_construction: int = 64,
    ) -> None:
        self.dsn = dsn
        self.spec = spec
        self.root = redacted(dsn)  # where the index is, for messages (the embedded store's path)
        self.pool_size = pool_size
        self.ef_search = ef_search
        self.layout = Layout(spec.dim, hnsw_m, hnsw_ef_construction)
        self._pool: Any = None
        self._open_lock = threading.Lock()
        self._spec_checked = False

    # ----- connections --------------------------------------------------------------------
    def _connect_error(self, exc: Exception) -> DatabaseUnavailable:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return DatabaseUnavailable(f"cannot use the PostgreSQL at {self.root}: {first}")

    def _configure(self, conn: Any) -> None:
        from pgvector.psycopg import register_vector

        register_vector(conn)
        conn.execute("SELECT set_config('hnsw.ef_search', %s, false)", [str(self.ef_search)])
        # filtered searches keep walking the graph until k rows pass the filter (pgvector 0.8)
        conn.execute("SELECT set_config('hnsw.iterative_scan', 'strict_order', false)")
        conn.commit()

    def open(self) -> Any:
        """The pool, after the schema is migrated (once per process)."""
        if self._pool is not None:
            return self._pool
        with self._open_lock:
            if self._pool is not None:
                return self._pool
            psycopg = require_driver()
            from psycopg_pool import ConnectionPool

            try:
                with psycopg.connect(self.dsn, connect_timeout=CONNECT_TIMEOUT_S) as conn:
                    migrate(conn, self.layout)
                pool = ConnectionPool(
                    self.dsn,
                    min_size=1,
                    max_size=self.pool_size,
                    kwargs={"connect_timeout": CONNECT_TIMEOUT_S},
                    configure=self._configure,
                    open=False,
                    name="rag",
                )
                pool.open(wait=True, timeout=CONNECT_TIMEOUT_S * 2)
            except (psycopg.Error, OSError) as exc:
                raise self._connect_error(exc) from None
            except Exception as exc:  # psycopg_pool.PoolTimeout is not a psycopg.Error
                if type(exc).__name__ == "PoolTimeout":
                    raise self._connect_error(exc) from None
                raise
            self._pool = pool
            return pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    @contextlib.contextmanager
    def connection(self) -> Iterator[Any]:
        psycopg = require_driver()
        pool = self.open()
        try:
            with pool.connection() as conn:
                yield conn
        except psycopg.OperationalError as exc:
            raise self._connect_error(exc) from None

    @contextlib.contextmanager
    def reading(self) -> Iterator[Any]:
        """A read-only, repeatable-read transaction: every query in it sees one state."""
        with self.connection() as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            try:
                self._check_spec(conn)
                yield conn
            finally:
                conn.rollback()

    @contextlib.contextmanager
    def writing(self) -> Iterator[Any]:
        """A transaction holding the writers' lock; it commits when the block ends cleanly."""
        with self.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK])
            stored = self._stored_spec(conn)
            if stored is None:
                conn.execute(
                    "INSERT INTO rag_spec (spec) VALUES (%s)", [json.dumps(spec_dict(self.spec))]
                )
            else:
                self._refuse_mismatch(stored)
            yield conn

    # ----- the spec ----------------------------------------------------------------------
    def _stored_spec(self, conn: Any) -> dict[str, Any] | None:
        row = conn.execute("SELECT spec FROM rag_spec").fetchone()
        return None if row is None else dict(row[0])

    def _refuse_mismatch(self, stored: dict[str, Any]) -> None:
        mismatches = self.spec.mismatches(stored)
        if mismatches:
            raise IncompatibleIndex(
                f"the index in {self.root} was built with other settings "
                f"({'; '.join(mismatches)}); rebuild it into an empty database"
            )

    def _check_spec(self, conn: Any) -> None:
        if self._spec_checked:
            return
        stored = self._stored_spec(conn)
        if stored is None:
            raise IndexNotFound(
                f"no index in {self.root} yet; build one with `RAG_STORE=postgres rag ingest PATH`"
            )
        self._refuse_mismatch(stored)
        self._spec_checked = True

    def exists(self) -> bool:
        with self.connection() as conn:
            return self._stored_spec(conn) is not None

    # ----- writes (inside `writing()`) -----------------------------------------------------
    def related(self, conn: Any, ids: Iterable[str], lock: bool = True) -> dict[str, Article]:
        """The stored articles with these ids, and those that hold them as wire copies
        (`lock`: locked for this write)."""
        ids = [i for i in ids if _clean(i)]
        rows = conn.execute(
            f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE id = ANY(%s) OR copy_ids && %s"
            + (" FOR UPDATE" if lock else ""),
            [ids, ids],
        ).fetchall()
        return {row[0]: article_of(row) for row in rows}

    def copy_candidates(
        self, conn: Any, keys: np.ndarray, banding: str, exclude: Iterable[str], lock: bool = True
    ) -> dict[str, tuple[Article, np.ndarray]]:
        """Stored articles sharing an LSH band key with `keys` (made with `banding`), with
        their MinHash rows (`lock`: locked for this write)."""
        if not keys.size:
            return {}
        rows = conn.execute(
            f"SELECT {ARTICLE_COLUMNS}, minhash FROM articles "
            "WHERE bands && %s AND banding = %s AND NOT id = ANY(%s)"
            + (" FOR UPDATE" if lock else ""),
            [np.unique(keys).tolist(), banding, [i for i in exclude if _clean(i)]],
        ).fetchall()
        return {
            row[0]: (article_of(row[:-1]), np.frombuffer(row[-1], dtype=np.uint32)) for row in rows
        }

    def unsigned(self, conn: Any, banding: str, limit: int) -> list[tuple[str, str, Any]]:
        """(id, text, stored MinHash or None) of articles without band keys of `banding`
        (written before schema version 2, or under another fold threshold)."""
        return conn.execute(
            "SELECT id, text, minhash FROM articles WHERE banding IS DISTINCT FROM %s LIMIT %s",
            [banding, limit],
        ).fetchall()

    def put_signatures(
        self, conn: Any, rows: dict[str, np.ndarray], keys: np.ndarray, banding: str
    ) -> None:
        """Store the articles' MinHash rows and band keys (`keys`: one row per article, in
        `rows`' order)."""
        with conn.cursor() as cur:
            cur.executemany(
                "UPDATE articles SET minhash = %s, bands = %s, banding = %s WHERE id = %s",
                [
                    (np.ascontiguousarray(r, dtype=np.uint32).tobytes(), k.tolist(), banding, i)
                    for (i, r), k in zip(rows.items(), keys, strict=True)
                ],
            )

    def hashes(self, conn: Any, ids: Sequence[str]) -> dict[str, str]:
        """content_hash of the stored articles among `ids`."""
        rows = conn.execute(
            "SELECT id, content_hash FROM articles WHERE id = ANY(%s)",
            [[i for i in ids if _clean(i)]],
        ).fetchall()
        return dict(rows)

    def put_articles(self, conn: Any, articles: Iterable[Article]) -> None:
        """Insert or update the articles' records (their chunks are left as they are)."""
        rows = []
        for a in articles:
            fields = (a.id, a.title, a.text, a.source, a.url, a.published_at)
            if not all(_clean(f) for f in fields):
                raise RagError(f"article {a.id[:80]!r} holds a NUL or an invalid character")
            rows.append(
                (
                    *fields,
                    json.dumps(a.index_spans),
                    a.content_hash,
                    json.dumps(extras_of(a), ensure_ascii=False),
                    [c.id for c in a.also_published],
                )
            )
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO articles (id, title, text, source, url, published_at, index_spans, "
                "content_hash, extras, copy_ids) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, text = EXCLUDED.text, "
                "source = EXCLUDED.source, url = EXCLUDED.url, "
                "published_at = EXCLUDED.published_at, index_spans = EXCLUDED.index_spans, "
                "content_hash = EXCLUDED.content_hash, extras = EXCLUDED.extras, "
                "copy_ids = EXCLUDED.copy_ids, written_at = now()",
                rows,
            )

    def replace_chunks(
        self,
        conn: Any,
        doc_ids: Sequence[str],
        chunks: Sequence[ChunkRow],
        sentences: dict[str, tuple[str, str, np.ndarray]] | None = None,
    ) -> None:
        """The articles' chunks (and sentence vectors) replaced by these, copied in bulk."""
        conn.execute("DELETE FROM chunks WHERE article_id = ANY(%s)", [list(doc_ids)])
        conn.execute("DELETE FROM sentence_vectors WHERE article_id = ANY(%s)", [list(doc_ids)])
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY chunks (article_id, start_char, end_char, text, embedding, terms) FROM STDIN"
            ) as copy,
        ):
            for c in chunks:
                vector = "[" + ",".join(f"{x:.8g}" for x in c.vector.tolist()) + "]"
                copy.write_row(
                    (c.article_id, c.start, c.end, c.text, vector, tsvector_literal(c.terms))
                )
        if sentences:
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO sentence_vectors VALUES (%s, %s, %s, %s, %s)",
                    [
                        (
                            doc_id,
                            encoder,
                            splitter,
                            len(v),
                            np.ascontiguousarray(v, DTYPE).tobytes(),
                        )
                        for doc_id, (encoder, splitter, v) in sentences.items()
                    ],
                )

    def delete(self, conn: Any, doc_id: str) -> None:
        if not _clean(doc_id):
            raise DocumentNotFound(f"no article with id {doc_id[:80]!r} in the index")
        gone = conn.execute("DELETE FROM articles WHERE id = %s RETURNING id", [doc_id]).fetchone()
        if gone is None:
            raise DocumentNotFound(f"no article with id {doc_id!r} in the index")

    # ----- reads (inside `reading()`) -------------------------------------------------------
    def dense(
        self, conn: Any, query: np.ndarray, k: int, filters: Filters | None
    ) -> list[tuple[int, float]]:
        """The k nearest chunks by cosine (HNSW), best first."""
        if k <= 0:
            return []
        scope = _scope(filters)
        if scope is None:
            return []
        join, where, params = scope
        rows = conn.execute(
            f"SELECT c.id, 1 - (c.embedding <=> %s) FROM chunks c {join} "
            f"WHERE true {where} ORDER BY c.embedding <=> %s LIMIT %s",
            [query, *params, query, k],
        ).fetchall()
        return [(int(i), float(s)) for i, s in rows]

    def lexical(
        self, conn: Any, terms: Sequence[str], k: int, filters: Filters | None
    ) -> list[tuple[int, float]]:
        """The k chunks ranked best by ts_rank over the question's terms (GIN), best first."""
        query = tsquery_literal(terms)
        if not query or k <= 0:
            return []
        scope = _scope(filters)
        if scope is None:
            return []
        join, where, params = scope
        rows = conn.execute(
            f"SELECT c.id, ts_rank(c.terms, q, 1) AS rank FROM chunks c {join}, "
            f"CAST(%s AS tsquery) q WHERE c.terms @@ q {where} ORDER BY rank DESC, c.id LIMIT %s",
            [query, *params, k],
        ).fetchall()
        return [(int(i), float(s)) for i, s in rows if s > 0]

    def hits(self, conn: Any, chunk_ids: Sequence[int], query: np.ndarray) -> dict[int, Hit]:
        rows = conn.execute(
            "SELECT id, article_id, start_char, end_char, text, 1 - (embedding <=> %s) "
            "FROM chunks WHERE id = ANY(%s)",
            [query, list(chunk_ids)],
        ).fetchall()
        return {int(r[0]): Hit(int(r[0]), r[1], r[2], r[3], r[4], float(r[5])) for r in rows}

    def articles(self, conn: Any, ids: Iterable[str]) -> dict[str, Article]:
        rows = conn.execute(
            f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE id = ANY(%s)",
            [[i for i in set(ids) if _clean(i)]],
        ).fetchall()
        return {row[0]: article_of(row) for row in rows}

    def sentence_vectors(
        self, conn: Any, ids: Iterable[str], encoder: str | None, splitter: str
    ) -> SentenceVectors | None:
        """The stored sentence vectors of these articles made by `encoder` (None: none)."""
        if encoder is None:
            return None
        rows = conn.execute(
            "SELECT article_id, count, vectors FROM sentence_vectors "
            "WHERE article_id = ANY(%s) AND encoder = %s AND splitter = %s",
            [[i for i in set(ids) if _clean(i)], encoder, splitter],
        ).fetchall()
        spans: dict[str, tuple[int, int]] = {}
        parts, at = [], 0
        for doc_id, count, raw in rows:
            vectors = np.frombuffer(raw, dtype=DTYPE)
            if vectors.size != count * self.spec.dim:
                continue  # not this model's width: encoded again by the answerer
            parts.append(vectors.reshape(count, self.spec.dim))
            spans[doc_id] = (at, count)
            at += count
        stacked = np.concatenate(parts) if parts else np.zeros((0, self.spec.dim), dtype=DTYPE)
        return SentenceVectors(encoder, splitter, spans, stacked)

    def counts(self, conn: Any) -> tuple[int, int]:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM chunks)"
        ).fetchone()
        return int(row[0]), int(row[1])

    def copies_folded(self, conn: Any) -> int:
        row = conn.execute("SELECT coalesce(sum(cardinality(copy_ids)), 0) FROM articles")
        return int(row.fetchone()[0])

    def ids(self, conn: Any, offset: int = 0, limit: int | None = None) -> list[str]:
        rows = conn.execute(
            'SELECT id FROM articles ORDER BY id COLLATE "C" OFFSET %s LIMIT %s',
            [offset, limit],
        ).fetchall()
        return [r[0] for r in rows]
