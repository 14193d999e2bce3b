"""The HTTP API in-process (FastAPI TestClient) on the fake embedder: every endpoint, every error."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api import cli as api_cli
from api.schemas import AnswerOut, CitationOut, PassageOut
from rag.answering import Answer, Citation
from rag.embedding import HashingEmbedder
from rag.pipeline import Pipeline
from rag.retrieval import Passage
from rag.settings import Settings

pytest_plugins = ["api_fixtures"]

ODESSA = "how many were wounded in Odessa?"

ClientFactory = Callable[..., TestClient]


def error_of(response: Any, status: int, code: str) -> str:
    """Check the error shape, status and code; return the message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    message = body["error"]["message"]
    assert isinstance(message, str) and len(message) > 10
    return message


def article(doc_id: str, text: str, **fields: Any) -> dict[str, Any]:
    return {"id": doc_id, "text": text, **fields}


# ----- health -------------------------------------------------------------------------------
def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_reports_counts_and_model(client: TestClient) -> None:
    body = client.get("/readyz").json()
    assert body["status"] == "ready"
    assert body["articles"] == 1 and body["chunks"] >= 1
    assert body["embedding_model"] == "hashing-64"


def test_start_up_builds_the_missing_index_from_seeds(
    make_client: ClientFactory, fake_pipeline: Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    assert not fake_pipeline.store.exists()
    with caplog.at_level(logging.INFO, logger="api"):
        make_client()
    assert fake_pipeline.store.exists()
    assert "building it from" in caplog.text


def test_the_answerer_loads_before_the_server_is_ready(
    make_client: ClientFactory,
    fake_pipeline: Pipeline,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The reader loads (on a fresh clone, exports itself) at start-up, not in the first
    question; one that cannot load is logged, and /ask says why while /search serves."""
    make_client()
    assert fake_pipeline._answerer is not None
    assert fake_pipeline._answerer.name == "reader"
    broken = fake_pipeline.settings.model_copy(
        update={"answerer": "reader", "reader_dir": tmp_path / "no-reader"}
    )
    with caplog.at_level(logging.ERROR, logger="api"):
        client = make_client(Pipeline(broken, embedder=HashingEmbedder(dim=64)))
    assert "the answerer cannot load" in caplog.text
    assert client.get("/search", params={"q": "Odessa"}).status_code == 200
    response = client.post("/ask", json={"question": ODESSA})
    assert response.status_code == 503 and "no reader artifact" in response.text


def test_no_index_and_no_seeds_is_503_until_the_first_article(
    make_client: ClientFactory, tmp_path: Path, auth: dict[str, str]
) -> None:
    settings = Settings(index_dir=tmp_path / "empty-index", seeds_dir=tmp_path / "no-seeds")
    client = make_client(Pipeline(settings, embedder=HashingEmbedder(dim=64)))
    assert "no index" in error_of(client.get("/readyz"), 503, "index_not_found")
    error_of(client.post("/ask", json={"question": ODESSA}), 503, "index_not_found")
    added = client.post("/documents", json=article("first", "A first article."), headers=auth)
    assert added.status_code == 201
    assert client.get("/readyz").json()["articles"] == 1


# ----- POST /ask ----------------------------------------------------------------------------
def test_ask_returns_the_answer_document_of_the_cli(
    client: TestClient, fake_pipeline: Pipeline
) -> None:
    response = client.post("/ask", json={"question": ODESSA})
    assert response.status_code == 200
    body = response.json()
    assert body["answer"] == "three" and not body["abstained"]
    # Exactly `rag ask --json`: the same dataclass, serialized the same way.
    expected = json.loads(json.dumps(fake_pipeline.ask(ODESSA).to_dict()))
    assert body == expected
    citation = body["citations"][0]
    text = client.get(f"/documents/{citation['doc_id']}").json()["text"]
    assert text[citation["start"] : citation["end"]] == citation["quote"]
    assert text[citation["answer_start"] : citation["answer_end"]] == "three"


def test_ask_top_k_and_filters(client: TestClient) -> None:
    body = client.post("/ask", json={"question": ODESSA, "top_k": 2}).json()
    assert len(body["passages"]) == 2
    nothing = client.post(
        "/ask", json={"question": ODESSA, "filters": {"source": "No Such Wire"}}
    ).json()
    assert nothing["abstained"] and nothing["answer"] is None and nothing["passages"] == []


def test_ask_filters_by_date(client: TestClient, auth: dict[str, str]) -> None:
    dated = article(
        "dated",
        "Officials in Kherson said seven people were evacuated from the ferry.",
        published_at="2024-03-05",
        source="River Wire",
    )
    assert client.post("/documents", json=dated, headers=auth).status_code == 201
    question = "how many were evacuated from the Kherson ferry?"
    inside = {"published_after": "2024-03-01", "published_before": "2024-03-31"}
    outside = {"published_after": "2024-04-01"}
    hit = client.post("/ask", json={"question": question, "filters": inside}).json()
    assert {p["doc_id"] for p in hit["passages"]} == {"dated"}
    miss = client.post("/ask", json={"question": question, "filters": outside}).json()
    assert miss["passages"] == []


LONG = "x" * 1001


@pytest.mark.parametrize(
    ("payload", "status", "code", "hint"),
    [
        ({"question": ""}, 422, "empty_question", "empty"),
        ({"question": " \n\t "}, 422, "empty_question", "empty"),
        ({"question": LONG}, 422, "question_too_long", "1,000"),
        ({"question": 42}, 422, "invalid_request", "question"),
        ({"question": "q", "top_k": 0}, 422, "invalid_request", "top_k"),
        ({"question": "q", "top_k": 51}, 422, "invalid_request", "top_k"),
        ({"question": "q", "top_k": "five"}, 422, "invalid_request", "top_k"),
        ({"question": "q", "k": 3}, 422, "invalid_request", "k"),
        ({"question": "q", "filters": {"published_after": "2024-13-01"}}, 422, "invalid_request", "YYYY-MM-DD"),
        ({"question": "q", "filters": {"published_before": "yesterday"}}, 422, "invalid_request", "published_before"),
        ({"question": "q", "filters": {"published_after": "20240101"}}, 422, "invalid_request", "YYYY-MM-DD"),
        (
            {"question": "q", "filters": {"published_after": "2024-02-01", "published_before": "2024-01-01"}},
            422,
            "invalid_request",
            "later than",
        ),
        ({"question": "q", "filters": {"author": "x"}}, 422, "invalid_request", "author"),
        (["how many?"], 422, "invalid_request", "JSON object"),
        ({}, 422, "invalid_request", "question"),
    ],
)  # fmt: skip
def test_ask_rejects_bad_input(
    client: TestClient, payload: Any, status: int, code: str, hint: str
) -> None:
    assert hint in error_of(client.post("/ask", json=payload), status, code)


@pytest.mark.parametrize(
    ("content", "headers", "status", "code"),
    [
        (b'{"question": "how', {"Content-Type": "application/json"}, 400, "malformed_json"),
        (b"{'question': 'q'}", {"Content-Type": "application/json"}, 400, "malformed_json"),
        (b'{"question": "q"}', {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
        (b"question=q", {"Content-Type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"),
        (b'{"question": "q"}', {}, 415, "unsupported_media_type"),
        (b"", {"Content-Type": "application/json"}, 422, "invalid_request"),
    ],
)  # fmt: skip
def test_ask_rejects_bad_bodies(
    client: TestClient, content: bytes, headers: dict[str, str], status: int, code: str
) -> None:
    error_of(client.post("/ask", content=content, headers=headers), status, code)


def test_json_with_charset_and_vendor_type_is_accepted(client: TestClient) -> None:
    body = json.dumps({"question": ODESSA})
    for content_type in ("application/json; charset=utf-8", "application/vnd.api+json"):
        response = client.post("/ask", content=body, headers={"Content-Type": content_type})
        assert response.status_code == 200, response.text


def test_body_over_the_limit_is_413(make_client: ClientFactory) -> None:
    client = make_client(max_body_bytes=2048)
    big = json.dumps({"question": "q" * 5000})
    message = error_of(
        client.post("/ask", content=big, headers={"Content-Type": "application/json"}),
        413,
        "body_too_large",
    )
    assert "2,048" in message and "RAG_MAX_BODY_BYTES" in message


def test_streamed_body_over_the_limit_is_413(make_client: ClientFactory) -> None:
    client = make_client(max_body_bytes=2048)

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"question": "'
        for _ in range(10):
            yield b"q" * 1000
        yield b'"}'

    response = client.post("/ask", content=chunks(), headers={"Content-Type": "application/json"})
    error_of(response, 413, "body_too_large")


def test_unexpected_failure_is_a_clean_500(
    client: TestClient, fake_pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(fake_pipeline, "ask", broken)
    message = error_of(client.post("/ask", json={"question": ODESSA}), 500, "internal_error")
    assert "secret internals" not in message


# ----- GET /search --------------------------------------------------------------------------
def test_search_returns_cited_passages(client: TestClient, fake_pipeline: Pipeline) -> None:
    body = client.get("/search", params={"q": "wounded in Odessa", "k": 3}).json()
    assert set(body) == {"results"} and len(body["results"]) == 3
    expected = [dataclasses.asdict(p) for p in fake_pipeline.search("wounded in Odessa", 3)]
    assert body["results"] == json.loads(json.dumps(expected))
    top = body["results"][0]
    assert "Odessa" in top["text"] and top["end"] > top["start"]


def test_search_filters_by_source(client: TestClient, auth: dict[str, str]) -> None:
    client.post(
        "/documents",
        json=article("wire-1", "Kharkiv metro reopened.", source="Metro Wire"),
        headers=auth,
    )
    results = client.get("/search", params={"q": "reopened", "source": "metro wire"}).json()
    assert [r["doc_id"] for r in results["results"]] == ["wire-1"]


@pytest.mark.parametrize(
    ("params", "code", "hint"),
    [
        ({}, "invalid_request", "'q'"),
        ({"q": "   "}, "empty_question", "empty"),
        ({"q": LONG}, "question_too_long", "limit"),
        ({"q": "Odessa", "k": 0}, "invalid_request", "'k'"),
        ({"q": "Odessa", "k": 51}, "invalid_request", "'k'"),
        ({"q": "Odessa", "k": "many"}, "invalid_request", "'k'"),
        ({"q": "Odessa", "published_after": "2024-02-30"}, "invalid_request", "published_after"),
        ({"q": "Odessa", "published_before": "soon"}, "invalid_request", "YYYY-MM-DD"),
    ],
)
def test_search_rejects_bad_input(
    client: TestClient, params: dict[str, Any], code: str, hint: str
) -> None:
    assert hint in error_of(client.get("/search", params=params), 422, code)


# ----- /documents ---------------------------------------------------------------------------
def test_documents_are_paged_by_id(client: TestClient, auth: dict[str, str]) -> None:
    batch = [article(f"page-{i}", f"Article number {i} about Lviv.") for i in range(3)]
    assert client.post("/documents", json=batch, headers=auth).status_code == 201
    first = client.get("/documents", params={"limit": 2}).json()
    assert first["total"] == 4 and first["offset"] == 0 and first["limit"] == 2
    rest = client.get("/documents", params={"offset": 2, "limit": 2}).json()
    ids = [d["id"] for d in first["documents"] + rest["documents"]]
    assert ids == sorted(ids) and len(set(ids)) == 4
    assert {"page-0", "page-1", "page-2"} <= set(ids)
    assert "text" not in first["documents"][0] and first["documents"][0]["chars"] > 0


@pytest.mark.parametrize("params", [{"offset": -1}, {"limit": 0}, {"limit": 501}])
def test_documents_paging_is_checked(client: TestClient, params: dict[str, int]) -> None:
    error_of(client.get("/documents", params=params), 422, "invalid_request")


def test_get_one_document(client: TestClient, auth: dict[str, str]) -> None:
    record = article(
        "kyiv-1",
        "Air raid sirens sounded in Kyiv overnight.",
        title="Sirens in Kyiv",
        url="https://example.org/kyiv",
        source="Example",
        published_at="2024-03-01",
    )
    client.post("/documents", json=record, headers=auth)
    body = client.get("/documents/kyiv-1").json()
    extras = {"author": None, "place": None, "also_published": []}
    assert body == {**record, "chars": len(record["text"]), **extras}


def test_unknown_document_is_404(client: TestClient, auth: dict[str, str]) -> None:
    assert "nope" in error_of(client.get("/documents/nope"), 404, "document_not_found")
    error_of(client.delete("/documents/nope", headers=auth), 404, "document_not_found")


def test_write_is_visible_to_the_next_query_then_gone_after_delete(
    client: TestClient, auth: dict[str, str]
) -> None:
    record = article("mykolaiv-1", "A pontoon bridge near Mykolaiv was rebuilt by volunteers.")
    report = client.post("/documents", json=record, headers=auth)
    assert report.status_code == 201
    assert report.json()["added"] == ["mykolaiv-1"] and report.json()["committed"]
    hits = client.get("/search", params={"q": "pontoon bridge Mykolaiv"}).json()["results"]
    assert hits[0]["doc_id"] == "mykolaiv-1"
    assert client.delete("/documents/mykolaiv-1", headers=auth).json() == {"deleted": "mykolaiv-1"}
    hits = client.get("/search", params={"q": "pontoon bridge Mykolaiv"}).json()["results"]
    assert "mykolaiv-1" not in {h["doc_id"] for h in hits}
    error_of(client.get("/documents/mykolaiv-1"), 404, "document_not_found")


def test_same_article_again_is_unchanged_and_a_change_replaces(
    client: TestClient, auth: dict[str, str]
) -> None:
    record = article("dnipro-1", "Power was restored in Dnipro.")
    assert client.post("/documents", json=record, headers=auth).status_code == 201
    again = client.post("/documents", json=record, headers=auth)
    assert again.status_code == 200 and again.json()["unchanged"] == ["dnipro-1"]
    changed = {**record, "text": "Power was restored in Dnipro on Sunday."}
    replaced = client.post("/documents", json=[changed], headers=auth).json()
    assert replaced["replaced"] == ["dnipro-1"]
    assert client.get("/documents/dnipro-1").json()["text"] == changed["text"]


@pytest.mark.parametrize(
    ("payload", "hint"),
    [
        ({"title": "no text"}, "text"),
        ({"text": "   "}, "text"),
        ({"text": "ok", "id": "i" * 513}, "id"),
        ({"text": "ok", "published_at": "March 1st"}, "published_at"),
        ({"text": "ok", "title": 5}, "title"),
        ([{"text": "fine", "id": "fine-1"}, {"text": ""}], "documents[1]"),
        ("just a string", "article object"),
        ([], "non-empty"),
    ],
)
def test_bad_articles_write_nothing(
    client: TestClient, payload: Any, hint: str, auth: dict[str, str]
) -> None:
    before = client.get("/documents").json()["total"]
    message = error_of(client.post("/documents", json=payload, headers=auth), 422, "bad_document")
    assert hint in message
    assert client.get("/documents").json()["total"] == before


def test_article_over_the_size_limit_writes_nothing(
    make_client: ClientFactory, tmp_path: Path, auth: dict[str, str]
) -> None:
    settings = Settings(index_dir=tmp_path / "i", seeds_dir=tmp_path / "none", max_article_chars=50)
    client = make_client(Pipeline(settings, embedder=HashingEmbedder(dim=64)))
    batch = [article("short", "Short."), article("long", "word " * 40)]
    message = error_of(client.post("/documents", json=batch, headers=auth), 422, "bad_document")
    assert "RAG_MAX_ARTICLE_CHARS" in message
    error_of(client.get("/documents/short"), 503, "index_not_found")


def test_too_many_articles_in_one_request_is_413(
    make_client: ClientFactory, auth: dict[str, str]
) -> None:
    client = make_client(max_batch=2)
    batch = [article(f"b{i}", f"Article {i}.") for i in range(3)]
    message = error_of(
        client.post("/documents", json=batch, headers=auth), 413, "too_many_documents"
    )
    assert "RAG_MAX_BATCH" in message


def test_documents_post_needs_json(client: TestClient, auth: dict[str, str]) -> None:
    response = client.post(
        "/documents", content="text=hello", headers={**auth, "Content-Type": "text/plain"}
    )
    error_of(response, 415, "unsupported_media_type")
    response = client.post(
        "/documents", content="[{", headers={**auth, "Content-Type": "application/json"}
    )
    error_of(response, 400, "malformed_json")


# ----- auth ---------------------------------------------------------------------------------
WRITES = [
    ("post", "/documents", {"json": {"text": "An article."}}),
    ("delete", "/documents/doc-609a6206bad7a554", {}),
]


@pytest.mark.parametrize(("method", "url", "kwargs"), WRITES)
def test_writes_need_the_token(
    client: TestClient,
    method: str,
    url: str,
    kwargs: dict[str, Any],
    auth: dict[str, str],
    token: str,
) -> None:
    send = getattr(client, method)
    response = send(url, **kwargs)
    assert "Authorization: Bearer" in error_of(response, 401, "missing_token")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    error_of(
        send(url, headers={"Authorization": "Basic dXNlcjpwYXNz"}, **kwargs), 401, "missing_token"
    )
    error_of(send(url, headers={"Authorization": "Bearer wrong"}, **kwargs), 403, "invalid_token")
    error_of(
        send(url, headers={"Authorization": f"Bearer {token}x"}, **kwargs), 403, "invalid_token"
    )
    assert send(url, headers=auth, **kwargs).status_code in {200, 201}


@pytest.mark.parametrize(("method", "url", "kwargs"), WRITES)
def test_writes_are_off_without_a_configured_token(
    make_client: ClientFactory, method: str, url: str, kwargs: dict[str, Any], auth: dict[str, str]
) -> None:
    client = make_client(api_token=None)
    response = getattr(client, method)(url, headers=auth, **kwargs)
    assert "RAG_API_TOKEN" in error_of(response, 403, "writes_disabled")


def test_blank_token_setting_counts_as_none(make_client: ClientFactory) -> None:
    client = make_client(api_token="   ")
    response = client.post("/documents", json={"text": "x"}, headers={"Authorization": "Bearer "})
    error_of(response, 403, "writes_disabled")


def test_reads_are_open_by_default_and_can_be_protected(
    make_client: ClientFactory, auth: dict[str, str]
) -> None:
    client = make_client(protect_reads=True)
    error_of(client.post("/ask", json={"question": ODESSA}), 401, "missing_token")
    error_of(client.get("/search", params={"q": "Odessa"}), 401, "missing_token")
    error_of(client.get("/documents"), 401, "missing_token")
    error_of(
        client.get("/documents/x", headers={"Authorization": "Bearer no"}), 403, "invalid_token"
    )
    assert client.post("/ask", json={"question": ODESSA}, headers=auth).json()["answer"] == "three"
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/").status_code == 200


def test_the_token_never_reaches_the_log(
    client: TestClient, caplog: pytest.LogCaptureFixture, auth: dict[str, str], token: str
) -> None:
    with caplog.at_level(logging.DEBUG):
        client.post("/documents", json={"text": "x"}, headers={"Authorization": "Bearer guess"})
        client.post("/documents", json={"text": "Token test article."}, headers=auth)
    assert token not in caplog.text and "guess" not in caplog.text


# ----- concurrency --------------------------------------------------------------------------
class GatedEmbedder(HashingEmbedder):
    """Blocks while embedding texts that contain a marker, until released."""

    def __init__(self, marker: str) -> None:
        super().__init__(dim=64)
        self.marker = marker
        self.entered = threading.Event()
        self.release = threading.Event()

    def encode_documents(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        if any(self.marker in t for t in texts):
            self.entered.set()
            assert self.release.wait(timeout=30)
        return super().encode_documents(texts, show_progress=show_progress)


def test_queries_are_served_during_a_write(
    make_client: ClientFactory, settings: Settings, auth: dict[str, str]
) -> None:
    embedder = GatedEmbedder("Zaporizhzhia")
    client = make_client(Pipeline(settings, embedder=embedder))
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
        # The write is half done; reads still answer, from the old snapshot.
        during = client.post("/ask", json={"question": ODESSA})
        assert during.status_code == 200 and during.json()["answer"] == "three"
        hits = client.get("/search", params={"q": "power plant"}).json()["results"]
        assert "zap-1" not in {h["doc_id"] for h in hits}
    finally:
        embedder.release.set()
        writer.join(timeout=30)
    assert results["write"] == 201
    hits = client.get("/search", params={"q": "Zaporizhzhia power plant"}).json()["results"]
    assert hits[0]["doc_id"] == "zap-1"


class GatedQuestions(GatedEmbedder):
    """Blocks while encoding a question (or any text) that contains the marker, until released."""

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if any(self.marker in t for t in texts):
            self.entered.set()
            assert self.release.wait(timeout=30)
        return super().encode(texts)


@pytest.mark.parametrize("slots", [1, 2])
def test_questions_beyond_the_query_slots_wait_their_turn_and_writes_do_not(
    make_client: ClientFactory, settings: Settings, auth: dict[str, str], slots: int
) -> None:
    """RAG_QUERY_CONCURRENCY questions are computed at once; the next waits for a slot (and is
    then answered), while a write goes ahead whatever the questions hold."""
    embedder = GatedQuestions("Kramatorsk")
    client = make_client(Pipeline(settings, embedder=embedder), query_concurrency=slots)
    held: dict[str, int] = {}
    first = threading.Thread(
        target=lambda: held.update(
            first=client.get("/search", params={"q": "Kramatorsk station"}).status_code
        )
    )
    first.start()
    try:
        assert embedder.entered.wait(timeout=30), "the first question never started"
        second = threading.Thread(
            target=lambda: held.update(
                second=client.post("/ask", json={"question": ODESSA}).status_code
            )
        )
        second.start()
        second.join(timeout=3 if slots == 2 else 1)
        assert second.is_alive() == (slots == 1)  # one slot: held by the first question
        record = article("slov-1", "Sloviansk railway station was shelled overnight.")
        assert client.post("/documents", json=record, headers=auth).status_code == 201
    finally:
        embedder.release.set()
        first.join(timeout=30)
    second.join(timeout=30)
    assert held == {"first": 200, "second": 200}


def test_concurrent_writes_are_serialized(client: TestClient, auth: dict[str, str]) -> None:
    codes: list[int] = []

    def write(i: int) -> None:
        record = article(f"c{i}", f"Concurrent article {i} about Sumy.")
        codes.append(client.post("/documents", json=record, headers=auth).status_code)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(codes) == [201] * 4
    ids = {d["id"] for d in client.get("/documents").json()["documents"]}
    assert {"c0", "c1", "c2", "c3"} <= ids


# ----- the page, docs, routing --------------------------------------------------------------
def test_page_is_served_with_a_strict_policy(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    assert 'id="question"' in response.text and 'src="/static/app.js"' in response.text
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "http" not in response.text.split("<body>")[0]  # no CDN in the head
    script = client.get("/static/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "innerHTML" not in script.text and "insertAdjacentHTML" not in script.text
    assert client.get("/static/style.css").status_code == 200


def test_openapi_docs(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    assert client.get("/redoc").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/ask", "/search", "/documents", "/documents/{doc_id}", "/healthz", "/readyz"} <= set(
        paths
    )


@pytest.mark.parametrize("url", ["/docs", "/redoc"])
def test_docs_load_every_asset_from_this_server(client: TestClient, url: str) -> None:
    html = client.get(url).text
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    assets += re.findall(r"""url: *["']([^"']+)["']""", html)
    assert assets and all(a.startswith("/") and not a.startswith("//") for a in assets), assets
    assert "cdn" not in html.lower() and "fonts.googleapis" not in html
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


def test_favicon_is_an_icon(client: TestClient) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/x-icon"
    assert response.content[:4] == b"\x00\x00\x01\x00"  # the ICO header
    assert '<link rel="icon" href="/favicon.ico"' in client.get("/").text


def test_unknown_route_and_method_are_json(client: TestClient) -> None:
    assert "/docs" in error_of(client.get("/nothing-here"), 404, "not_found")
    response = client.put("/ask", json={"question": "q"})
    error_of(response, 405, "method_not_allowed")
    assert "POST" in response.headers["allow"]


@pytest.mark.parametrize(
    ("model", "dataclass_"), [(AnswerOut, Answer), (CitationOut, Citation), (PassageOut, Passage)]
)
def test_documented_schemas_match_the_core_dataclasses(model: Any, dataclass_: Any) -> None:
    assert list(model.model_fields) == [f.name for f in dataclasses.fields(dataclass_)]


# ----- rag serve ----------------------------------------------------------------------------
@pytest.mark.usefixtures("fresh_cli")
def test_serve_is_a_rag_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    from rag.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "--port" in out and "--host" in out and "--index" in out


@pytest.mark.usefixtures("fresh_cli")
def test_serve_loads_once_then_runs_uvicorn(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, tmp_path: Path, token: str
) -> None:
    import uvicorn

    import rag.pipeline

    calls: dict[str, Any] = {}
    real_pipeline = rag.pipeline.Pipeline
    monkeypatch.setattr(
        rag.pipeline, "Pipeline", lambda s: real_pipeline(s, embedder=HashingEmbedder(dim=64))
    )
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.update(app=app, **kw))
    monkeypatch.setenv("RAG_SEEDS_DIR", str(settings.seeds_dir))
    monkeypatch.delenv("RAG_API_TOKEN", raising=False)
    index = tmp_path / "served-index"
    parser_args = ["serve", "--port", "8123", "--index", str(index)]
    from rag.cli import main

    assert main(parser_args) == 0
    assert calls["host"] == "127.0.0.1" and calls["port"] == 8123
    assert (index / "CURRENT").is_file()  # built from the seeds before serving
    assert api_cli.DEFAULT_PORT == 8000
    with TestClient(calls["app"]) as served:
        assert served.get("/readyz").json()["articles"] == 1


@pytest.mark.parametrize("prepares", [True, False])
def test_a_server_prepares_for_writes_at_start_only_when_it_takes_them(
    make_client: ClientFactory, fake_pipeline: Pipeline, token: str, prepares: bool
) -> None:
    """With a token set, the fold index is built in the background at start (api/app.py);
    a read-only server does not build it."""
    fake_pipeline.ensure_index()
    prepared = threading.Event()
    fake_pipeline.prepare_writes = prepared.set  # type: ignore[method-assign]
    make_client(fake_pipeline, api_token=token if prepares else None)
    assert prepared.wait(timeout=30 if prepares else 1) is prepares
