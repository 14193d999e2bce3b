"""The store contract on a real PostgreSQL 18 + pgvector (127.0.0.1, removed after).

The HTTP and pipeline tests that define the contract are imported from test_api.py and
test_pipeline.py and run again here with `fake_pipeline` over PostgreSQL; the rest are the
PostgreSQL-specific promises (transactions, migrations, SQL filters, hostile input).
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from test_api import (  # the HTTP contract, run again below on PostgreSQL
    GatedEmbedder,
    article,
    error_of,
    test_ask_filters_by_date,
    test_ask_rejects_bad_input,
    test_ask_returns_the_answer_document_of_the_cli,
    test_ask_top_k_and_filters,
    test_bad_articles_write_nothing,
    test_concurrent_writes_are_serialized,
    test_documents_are_paged_by_id,
    test_get_one_document,
    test_reads_are_open_by_default_and_can_be_protected,
    test_readyz_reports_counts_and_model,
    test_same_article_again_is_unchanged_and_a_change_replaces,
    test_search_filters_by_source,
    test_search_rejects_bad_input,
    test_search_returns_cited_passages,
    test_start_up_builds_the_missing_index_from_seeds,
    test_unknown_document_is_404,
    test_write_is_visible_to_the_next_query_then_gone_after_delete,
    test_writes_need_the_token,
)
from test_folding import (  # folding wire copies, the same on both stores
    KHARKIV,
    ODESA,
    copy_of,
    test_a_batch_folds_among_itself_in_order,
    test_a_copy_from_another_outlet_is_stored_once_with_who_published_it,
    test_a_copy_rewritten_into_another_story_comes_out_of_the_fold,
    wire,
)
from test_pipeline import (  # the pipeline contract
    _article,
    test_abstains_when_the_sources_hold_no_answer_of_that_kind,
    test_answer_is_a_verbatim_cited_span,
    test_filters_restrict_by_source_and_date,
    test_question_errors,
    test_search_is_hybrid_and_matches_spelling_variants,
)

from rag.embedding import HashingEmbedder
from rag.errors import DocumentNotFound, IncompatibleIndex, IndexNotFound
from rag.pipeline import Pipeline, open_pipeline
from rag.retrieval import Filters
from rag.settings import Settings

pytest_plugins = ["api_fixtures", "pg_fixtures"]
# A real PostgreSQL process per test: with the other real-process tests, outside `-m "not slow"`.
pytestmark = pytest.mark.integration

CONTRACT = [
    test_ask_filters_by_date,
    test_ask_rejects_bad_input,
    test_ask_returns_the_answer_document_of_the_cli,
    test_ask_top_k_and_filters,
    test_bad_articles_write_nothing,
    test_concurrent_writes_are_serialized,
    test_documents_are_paged_by_id,
    test_get_one_document,
    test_readyz_reports_counts_and_model,
    test_reads_are_open_by_default_and_can_be_protected,
    test_same_article_again_is_unchanged_and_a_change_replaces,
    test_search_filters_by_source,
    test_search_rejects_bad_input,
    test_search_returns_cited_passages,
    test_start_up_builds_the_missing_index_from_seeds,
    test_unknown_document_is_404,
    test_write_is_visible_to_the_next_query_then_gone_after_delete,
    test_writes_need_the_token,
    test_abstains_when_the_sources_hold_no_answer_of_that_kind,
    test_answer_is_a_verbatim_cited_span,
    test_filters_restrict_by_source_and_date,
    test_question_errors,
    test_search_is_hybrid_and_matches_spelling_variants,
    test_a_batch_folds_among_itself_in_order,
    test_a_copy_from_another_outlet_is_stored_once_with_who_published_it,
    test_a_copy_rewritten_into_another_story_comes_out_of_the_fold,
]
ODESSA = "how many were wounded in Odessa?"


@pytest.fixture
def settings(tmp_path: Path, settings: Settings, database_url: str) -> Settings:
    """conftest's settings (a copy of the seeds), on a fresh PostgreSQL database."""
    return settings.model_copy(
        update={
            "store": "postgres",
            "database_url": SecretStr(database_url),
            "index_dir": tmp_path / "unused-index",
        }
    )


@pytest.fixture
def fake_pipeline(settings: Settings) -> Pipeline:
    pipeline = open_pipeline(settings, HashingEmbedder(dim=64))
    yield pipeline
    pipeline.store.close()


def test_the_contract_tests_run_on_postgres(fake_pipeline: Pipeline) -> None:
    from rag.pg.pipeline import PgPipeline

    assert isinstance(fake_pipeline, PgPipeline)
    assert all(f.__name__ in globals() for f in CONTRACT)


# ----- writes are transactions ------------------------------------------------------------
def test_replace_and_delete_leave_no_chunk_behind(fake_pipeline: Pipeline) -> None:
    fake_pipeline.ingest([_article("a", "Three people were hurt in Kharkiv on Monday.")])
    report = fake_pipeline.ingest([_article("a", "Five people were hurt in Sumy on Tuesday.")])
    assert report.replaced == ["a"]
    with fake_pipeline.store.reading() as conn:
        texts = [r[0] for r in conn.execute("SELECT text FROM chunks").fetchall()]
    assert texts and all("Sumy" in t for t in texts)
    fake_pipeline.delete("a")
    with fake_pipeline.store.reading() as conn:
        assert fake_pipeline.store.counts(conn) == (0, 0)
        assert conn.execute("SELECT count(*) FROM sentence_vectors").fetchone()[0] == 0
    with pytest.raises(DocumentNotFound):
        fake_pipeline.delete("a")


def test_a_failed_write_changes_nothing(fake_pipeline: Pipeline, monkeypatch) -> None:
    fake_pipeline.ensure_index()
    store = fake_pipeline.store
    real = store.replace_chunks

    def crash(*args: Any, **kwargs: Any) -> None:
        real(*args, **kwargs)  # the chunks are written, then the transaction fails
        raise OSError("simulated crash before the commit")

    monkeypatch.setattr(store, "replace_chunks", crash)
    with pytest.raises(OSError):
        fake_pipeline.ingest([_article("new", "Ten drones were downed over Lviv.")])
    monkeypatch.undo()
    with store.reading() as conn:
        assert store.counts(conn) == (1, 6)
    assert fake_pipeline.ask(ODESSA).answer == "three"


def test_queries_are_served_during_a_write(
    make_client, settings: Settings, auth: dict[str, str]
) -> None:
    embedder = GatedEmbedder("Zaporizhzhia")
    pipeline = open_pipeline(settings, embedder)
    client = make_client(pipeline)
    record = article("zap-1", "Zaporizhzhia power plant lost external power twice.")
    results: dict[str, Any] = {}
    writer = threading.Thread(
        target=lambda: results.update(
            write=client.post("/documents", json=record, headers=auth).status_code
        )
    )
    writer.start()
    try:
        assert embedder.entered.wait(timeout=30), "the write never started embedding"
        during = client.post("/ask", json={"question": ODESSA})
        assert during.status_code == 200 and during.json()["answer"] == "three"
    finally:
        embedder.release.set()
        writer.join(timeout=30)
    assert results["write"] == 201
    hits = client.get("/search", params={"q": "Zaporizhzhia power plant"}).json()["results"]
    assert hits[0]["doc_id"] == "zap-1"


def test_an_empty_database_is_503_until_the_first_article(
    make_client, settings: Settings, tmp_path: Path, auth: dict[str, str]
) -> None:
    empty = settings.model_copy(update={"seeds_dir": tmp_path / "no-seeds"})
    client = make_client(open_pipeline(empty, HashingEmbedder(dim=64)))
    assert "no index" in error_of(client.get("/readyz"), 503, "index_not_found")
    error_of(client.post("/ask", json={"question": ODESSA}), 503, "index_not_found")
    added = client.post("/documents", json=article("first", "A first article."), headers=auth)
    assert added.status_code == 201
    assert client.get("/readyz").json()["articles"] == 1


def test_two_pipelines_share_one_database(fake_pipeline: Pipeline, settings: Settings) -> None:
    """A second replica sees a write at once: no snapshot to reload."""
    fake_pipeline.ensure_index()
    other = open_pipeline(settings, HashingEmbedder(dim=64))
    fake_pipeline.ingest([_article("lviv", "Ten drones were downed over Lviv.")])
    assert other.search("drones Lviv", 1)[0].doc_id == "lviv"
    other.delete("lviv")
    with pytest.raises(DocumentNotFound):
        fake_pipeline.article("lviv")


def test_other_model_or_chunking_is_refused(fake_pipeline: Pipeline, settings: Settings) -> None:
    fake_pipeline.ensure_index()
    with pytest.raises(IncompatibleIndex, match="rebuild"):
        open_pipeline(settings, HashingEmbedder(dim=32)).search("Odessa")
    other = settings.model_copy(update={"chunk_size": 300})
    with pytest.raises(IncompatibleIndex, match="chunk_size"):
        open_pipeline(other, HashingEmbedder(dim=64)).ingest([_article("x", "Some text.")])


# ----- wire copies ---------------------------------------------------------------------------
def test_a_copy_folds_into_any_stored_article_found_by_its_band_keys(
    fake_pipeline: Pipeline, settings: Settings
) -> None:
    """Not only same ids: a copy from another outlet, written later by another process, folds
    into the stored story its LSH band keys (GIN-indexed) point to; stories that merely share
    a topic do not."""
    fake_pipeline.ingest([wire("reuters", ODESA["a"], "Reuters"), wire("ap", KHARKIV["a"], "AP")])
    fake_pipeline.ingest([wire("other", ODESA["b"], "AFP")])  # same event, another story
    later = open_pipeline(settings, HashingEmbedder(dim=64))  # a new process: no cache
    try:
        report = later.ingest(
            [wire("kyivpost", copy_of(ODESA["a"]), "Kyiv Post"), wire("new", KHARKIV["b"], "X")]
        )
        assert report.folded == [("kyivpost", "reuters")] and report.added == ["new"]
        assert [c.id for c in later.article("reuters").also_published] == ["kyivpost"]
        with pytest.raises(DocumentNotFound):
            later.article("kyivpost")
        with later.store.reading() as conn:
            unsigned = conn.execute("SELECT count(*) FROM articles WHERE bands IS NULL")
            assert unsigned.fetchone()[0] == 0
    finally:
        later.store.close()


def test_articles_written_before_the_band_keys_are_signed_by_the_next_writer(
    fake_pipeline: Pipeline, settings: Settings
) -> None:
    """A database from schema version 1 (or another fold threshold) has articles without
    band keys: the next writer signs them first, so a copy of one still folds."""
    fake_pipeline.ingest([wire("reuters", ODESA["a"], "Reuters"), wire("ap", KHARKIV["a"], "AP")])
    with fake_pipeline.store.connection() as conn:
        conn.execute("UPDATE articles SET minhash = NULL, bands = NULL, banding = NULL")
        conn.commit()
    later = open_pipeline(settings, HashingEmbedder(dim=64))
    try:
        report = later.ingest([wire("ukrinform", copy_of(KHARKIV["a"]), "Ukrinform")])
        assert report.folded == [("ukrinform", "ap")]
        with later.store.reading() as conn:
            rows = conn.execute("SELECT id, banding, length(minhash) FROM articles ORDER BY id")
            names = {r[1] for r in rows.fetchall()}
        assert len(names) == 1 and None not in names
    finally:
        later.store.close()


def test_migrations_are_versioned_and_applied_once(fake_pipeline: Pipeline) -> None:
    from rag.pg.schema import LATEST, MIGRATIONS, applied_version, migrate

    store = fake_pipeline.store
    fake_pipeline.ensure_index()
    with store.connection() as conn:
        assert applied_version(conn) == LATEST == len(MIGRATIONS)
        assert migrate(conn, store.layout) == []  # nothing left to apply
        conn.execute("INSERT INTO rag_schema VALUES (%s, 'from the future')", [LATEST + 1])
        conn.commit()
        with pytest.raises(IncompatibleIndex, match="upgrade"):
            migrate(conn, store.layout)


def test_filters_are_sql_and_match_the_embedded_store(
    fake_pipeline: Pipeline, settings: Settings
) -> None:
    embedded = Pipeline(
        settings.model_copy(update={"store": "embedded"}), embedder=HashingEmbedder(dim=64)
    )
    batch = [
        _article("a", "Shelling in Kherson.", source="Reuters", published_at="2024-01-05"),
        _article("b", "Shelling in Kherson again.", source="AP", published_at="2024-03-01T09:00"),
        _article("c", "Shelling in Kherson, no date.", source="reuters"),
    ]
    for pipeline in (fake_pipeline, embedded):
        pipeline.ingest(batch)
    for filters in (
        Filters(source="REUTERS"),
        Filters(published_after="2024-01-05"),
        Filters(published_before="2024-03-01"),
        Filters(source="AP", published_before="2024-02-01"),
        Filters(source="nul\x00source"),
    ):
        got = {p.doc_id for p in fake_pipeline.search("Kherson shelling", 5, filters)}
        assert got == {p.doc_id for p in embedded.search("Kherson shelling", 5, filters)}, filters


def test_the_answer_document_equals_the_embedded_stores(
    fake_pipeline: Pipeline, settings: Settings
) -> None:
    """Same seed, same fake model: the same answer, sentence and citation offsets."""
    embedded = Pipeline(
        settings.model_copy(update={"store": "embedded"}), embedder=HashingEmbedder(dim=64)
    )
    fake_pipeline.ensure_index()
    embedded.ensure_index()
    for question in (ODESSA, "How many ceasefire violations did Zelensky allege?"):
        ours, theirs = fake_pipeline.ask(question), embedded.ask(question)
        assert (ours.answer, ours.sentence, ours.attribution) == (
            theirs.answer,
            theirs.sentence,
            theirs.attribution,
        )
        strip = ("score",)
        assert [
            {k: v for k, v in dataclasses.asdict(c).items() if k not in strip}
            for c in ours.citations
        ] == [
            {k: v for k, v in dataclasses.asdict(c).items() if k not in strip}
            for c in theirs.citations
        ]


def test_unreachable_database_is_one_clear_error(settings: Settings) -> None:
    from rag.pg.local import free_port

    gone = settings.model_copy(
        update={"database_url": SecretStr(f"postgresql://postgres@127.0.0.1:{free_port()}/none")}
    )
    with pytest.raises(Exception, match="cannot use the PostgreSQL at postgresql://postgres@"):
        open_pipeline(gone, HashingEmbedder(dim=64)).search("Odessa")


def test_no_database_url_names_the_setting(settings: Settings) -> None:
    with pytest.raises(IndexNotFound, match="RAG_DATABASE_URL"):
        open_pipeline(settings.model_copy(update={"database_url": None}))


def test_hostile_ids_and_filters_are_clean_errors(client: TestClient, auth: dict[str, str]):
    for doc_id in ("nul%00id", "%F0%9F%9A%80", "..%2F..%2Fetc", "a" * 600):
        error_of(client.get(f"/documents/{doc_id}"), 404, "document_not_found")
        error_of(client.delete(f"/documents/{doc_id}", headers=auth), 404, "document_not_found")
    body = client.post("/ask", json={"question": ODESSA, "filters": {"source": "x\x00y"}})
    assert body.status_code == 200 and body.json()["passages"] == []
    odd = client.post(
        "/documents",
        json=article("odd", "It's O'Brien's \\ report: 'quoted' & more."),
        headers=auth,
    )
    assert odd.status_code == 201
    hits = client.get("/search", params={"q": "O'Brien's \\ 'quoted' & | ! :*"}).json()
    assert hits["results"][0]["doc_id"] == "odd"


# ----- the real model, and hostile input over a real `rag serve` ---------------------------
@pytest.mark.integration
def test_seed_answers_three_with_the_embedded_stores_citation(
    settings: Settings, real_embedder: Any
) -> None:
    pg = open_pipeline(settings, real_embedder)
    embedded = Pipeline(settings.model_copy(update={"store": "embedded"}), embedder=real_embedder)
    pg.ensure_index()
    embedded.ensure_index()
    ours, theirs = pg.ask(ODESSA), embedded.ask(ODESSA)
    assert ours.answer == theirs.answer == "three"
    cite, their_cite = ours.citations[0], theirs.citations[0]
    assert (cite.doc_id, cite.start, cite.end, cite.answer_start, cite.answer_end) == (
        their_cite.doc_id,
        their_cite.start,
        their_cite.end,
        their_cite.answer_start,
        their_cite.answer_end,
    )
    assert pg.ask("How many tanks did Russia lose in Odessa?").abstained


@pytest.fixture(scope="module")
def pg_server(postgres, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A real `rag serve` (fake model) on its own database of the session's PostgreSQL."""
    import psycopg
    from test_reliability_http import serving

    with psycopg.connect(postgres.url, autocommit=True) as conn:
        conn.execute("CREATE DATABASE hostile")
    url = postgres.url.rsplit("/", 1)[0] + "/hostile"
    try:
        with serving(
            tmp_path_factory.mktemp("pg-hostile"), RAG_STORE="postgres", RAG_DATABASE_URL=url
        ) as running:
            yield running, url
    finally:
        with psycopg.connect(postgres.url, autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS hostile WITH (FORCE)")


def _database_state(url: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT a.id, a.content_hash, count(c.id) FROM articles a "
            "LEFT JOIN chunks c ON c.article_id = a.id GROUP BY a.id ORDER BY a.id"
        ).fetchall()


def test_hostile_input_on_postgres(pg_server) -> None:  # type: ignore[no-untyped-def]
    """Every case of test_hostile_http.py: the same status and code as the embedded store,
    the database unchanged by every refused request, the server answering after each."""
    from urllib.parse import quote

    from test_hostile_http import CASES, WRITER, check_answer

    server, url = pg_server
    seed_state = _database_state(url)
    failures = []
    with server.client() as http:
        for name, case in CASES.items():
            try:
                reply = case.send(http, server)
                if reply.status != case.status:
                    failures.append(f"{name}: {reply.status} != {case.status}: {reply.text[:200]}")
                elif reply.status >= 400 and not case.plain_http:
                    error = reply.json()["error"]
                    if case.code and error["code"] != case.code:
                        failures.append(f"{name}: code {error['code']} != {case.code}")
                elif reply.status < 400 and case.answers:
                    check_answer(http, reply)
            finally:
                for doc_id in case.writes:
                    http.delete(f"/documents/{quote(doc_id, safe='')}", headers=WRITER)
            if _database_state(url) != seed_state:
                failures.append(f"{name}: the database changed")
            assert http.post("/ask", json={"question": ODESSA}).json()["answer"] == "three"
    assert not failures, failures
    assert len(CASES) >= 40


def test_the_cli_ingests_asks_and_deletes_on_postgres(database_url: str, tmp_path: Path):
    """`rag ingest`, `rag ask` and `rag delete` as a user runs them with RAG_STORE=postgres
    (real processes; the fake embedder so no model loads)."""
    import json
    import os
    import subprocess
    import sys

    from rag.settings import PROJECT_ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(
        RAG_STORE="postgres", RAG_DATABASE_URL=database_url, RAG_EMBEDDING_MODEL="hashing:64"
    )

    def rag(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "rag.cli", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
        )

    ingest = rag("ingest", str(PROJECT_ROOT / "seeds"))
    assert ingest.returncode == 0, ingest.stderr
    assert "1 added" in ingest.stdout
    ask = rag("ask", "--json", ODESSA)
    assert ask.returncode == 0, ask.stderr
    doc_id = json.loads(ask.stdout)["citations"][0]["doc_id"]
    deleted = rag("delete", doc_id)
    assert deleted.returncode == 0, deleted.stderr
    gone = rag("delete", doc_id)
    assert gone.returncode != 0 and "no article" in gone.stderr
