"""The PostgreSQL schema, as numbered migrations applied once each, in order.

`rag_schema` records every version applied. A migration runs in its own transaction under an
advisory lock, so two processes starting at once (two Serve replicas) apply it once. A
database migrated by a newer release than this one is refused rather than guessed at.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rag.errors import IncompatibleIndex

MIGRATE_LOCK = 0x7261_6701  # pg_advisory_xact_lock key: "rag" + 1


@dataclass(frozen=True)
class Layout:
    """What the first migration needs to know: the vector width and the HNSW build settings."""

    dim: int
    hnsw_m: int
    hnsw_ef_construction: int


def _v1(layout: Layout) -> str:
    return f"""
    CREATE EXTENSION IF NOT EXISTS vector;
    CREATE TABLE rag_spec (
        only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
        spec jsonb NOT NULL
    );
    CREATE TABLE articles (
        id text PRIMARY KEY,
        title text NOT NULL,
        text text NOT NULL,
        source text,
        url text,
        published_at text,
        -- the filters' columns: the embedded store compares casefolded sources and ISO days
        source_key text GENERATED ALWAYS AS (lower(source)) STORED,
        published_day text GENERATED ALWAYS AS (nullif(left(published_at, 10), '')) STORED,
        index_spans jsonb NOT NULL,
        content_hash text NOT NULL,
        extras jsonb NOT NULL DEFAULT '{{}}'::jsonb,
        copy_ids text[] NOT NULL DEFAULT '{{}}',
        written_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX articles_source ON articles (source_key);
    CREATE INDEX articles_day ON articles (published_day);
    CREATE INDEX articles_copies ON articles USING gin (copy_ids);
    CREATE TABLE chunks (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        article_id text NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        start_char integer NOT NULL,
        end_char integer NOT NULL,
        text text NOT NULL,
        embedding vector({layout.dim}) NOT NULL,
        terms tsvector NOT NULL,
        CHECK (0 <= start_char AND start_char < end_char)
    );
    CREATE INDEX chunks_article ON chunks (article_id);
    CREATE INDEX chunks_terms ON chunks USING gin (terms);
    CREATE INDEX chunks_embedding ON chunks USING hnsw (embedding vector_cosine_ops)
        WITH (m = {layout.hnsw_m}, ef_construction = {layout.hnsw_ef_construction});
    CREATE TABLE sentence_vectors (
        article_id text PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
        encoder text NOT NULL,
        splitter text NOT NULL,
        count integer NOT NULL CHECK (count > 0),
        vectors bytea NOT NULL
    );
    """


def _v2(layout: Layout) -> str:
    # each article's MinHash (uint32 values) and its LSH band keys under a GIN index, so a
    # write finds the stored articles an incoming one may copy without reading them all;
    # rows written before this version are signed by the next writer (PgPipeline)
    return """
    ALTER TABLE articles ADD COLUMN minhash bytea, ADD COLUMN bands bigint[],
        ADD COLUMN banding text;
    CREATE INDEX articles_bands ON articles USING gin (bands);
    """


# (version, what it does, its SQL). Append only: a released migration never changes.
MIGRATIONS: list[tuple[int, str, Callable[[Layout], str]]] = [
    (1, "articles, chunks (pgvector HNSW, tsvector GIN), sentence vectors", _v1),
    (2, "articles' MinHash and LSH band keys (GIN), for folding wire copies", _v2),
]
LATEST = MIGRATIONS[-1][0]


def applied_version(conn) -> int:  # type: ignore[no-untyped-def]
    """The highest migration applied (0 for an empty database)."""
    exists = conn.execute("SELECT to_regclass('rag_schema') IS NOT NULL").fetchone()[0]
    if not exists:
        return 0
    return int(conn.execute("SELECT coalesce(max(version), 0) FROM rag_schema").fetchone()[0])


def migrate(conn, layout: Layout) -> list[int]:  # type: ignore[no-untyped-def]
    """Apply the migrations this database lacks; the versions applied now."""
    done: list[int] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [MIGRATE_LOCK])
        conn.execute(
            "CREATE TABLE IF NOT EXISTS rag_schema (version integer PRIMARY KEY, "
            "description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        current = applied_version(conn)
        if current > LATEST:
            raise IncompatibleIndex(
                f"the database is at schema version {current}; this release knows up to "
                f"{LATEST}: upgrade conflict-rag"
            )
        for version, description, sql in MIGRATIONS:
            if version <= current:
                continue
            conn.execute(sql(layout))
            conn.execute(
                "INSERT INTO rag_schema (version, description) VALUES (%s, %s)",
                [version, description],
            )
            done.append(version)
    return done
