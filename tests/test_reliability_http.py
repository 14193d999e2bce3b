"""A real `rag serve` under concurrent reads and writes, and what it tells its operator.

The server runs the fake embedder (RAG_EMBEDDING_MODEL=hashing:64) so it starts in a second;
`serving` and `launch` are also used by test_server_crash.py and test_hostile_http.py.
Reads during writes: reader threads send /search and /ask without pause while a writer adds,
replaces and deletes articles over the API. Every read must be a 200 that matches exactly one
of the states the writes pass through (never a mix of two), and no reader may see the index
go back in time. Operations: JSON log lines with request ids and timings, Prometheus metrics.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.schemas import AnswerOut, SearchOut
from rag.embedding import HashingEmbedder
from rag.quantities import find_quantities
from rag.serve_process import ServeProcess, start
from rag.serve_process import stop as stop  # for test_server_crash.py
from rag.settings import PROJECT_ROOT

pytest_plugins = ["api_fixtures"]

FAKE_MODEL = "hashing:64"
SERVER_TOKEN = "reliability-token-5f2c9a7e31"
START_S, STOP_S, REQUEST_S = 60, 15, 60  # STOP_S: how long a log line may lag
ODESSA = "how many were wounded in Odessa?"
SEED_ID = "doc-609a6206bad7a554"


# ----- a real server on the fake embedder ---------------------------------------------------
Server = ServeProcess  # the name test_hostile_http.py and test_server_crash.py import


def fake_model_env(**settings: str) -> dict[str, str]:
    """On top of the caller's environment less its RAG_ settings: the fake model and the token."""
    return {
        "RAG_EMBEDDING_MODEL": FAKE_MODEL,
        "RAG_API_TOKEN": SERVER_TOKEN,
        "RAG_SEEDS_DIR": str(PROJECT_ROOT / "seeds"),
        # the convoy reports differ in a word or two: folded as wire copies, they would not be
        # the separate articles these tests follow through writes
        "RAG_FOLD_COPIES": "false",
        **settings,
    }


def launch(index_dir: Path, log_path: Path, env: dict[str, str], *args: str) -> Server:
    """`rag serve` (default host) on a free port, once /readyz answers 200; `with` it to stop."""
    return start(
        index_dir,
        log_path,
        args=args,
        env=env,
        clean_env=True,
        explicit_host=False,
        start_timeout_s=START_S,
    )


def serving(workdir: Path, *args: str, **settings: str) -> Server:
    return launch(workdir / "index", workdir / "server.log", fake_model_env(**settings), *args)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One JSON-logging server for this module, at debug level to log as much as it can."""
    with serving(
        tmp_path_factory.mktemp("reliability"), "--log-level", "debug", RAG_LOG_JSON="1"
    ) as running:
        yield running


def writer_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {SERVER_TOKEN}"}


# ----- reads during writes ------------------------------------------------------------------
ROUNDS, PER_ROUND, READERS = 6, 4, 3
SEARCH_K = 50  # over every chunk: the result lists the whole state (fewer than 50 chunks)
TOWNS = ["Kharkiv", "Sumy", "Izium", "Kupiansk", "Bakhmut", "Avdiivka"]
State = dict[str, str]  # article id -> text


def report(doc_id: str, round_: int, version: int) -> str:
    town = TOWNS[round_ % len(TOWNS)]
    return (
        f"Convoy report {doc_id} version {version}: {round_ + version + 2} drones were shot "
        f"down over {town} overnight, the regional governor said. Crews cleared the road."
    )


@dataclass(frozen=True)
class Write:
    method: str
    path: str
    body: Any
    state: State  # the index once this write is done


def plan_writes(seed: State) -> list[Write]:
    """Adds, replacements and deletions, each with the state it leaves behind."""
    writes, state = [], dict(seed)
    for r in range(ROUNDS):
        batch = [{"id": f"r{r}-{i}", "text": report(f"r{r}-{i}", r, 1)} for i in range(PER_ROUND)]
        state = {**state, **{a["id"]: a["text"] for a in batch}}
        writes.append(Write("POST", "/documents", batch, state))
        if r:
            changed = {"id": f"r{r - 1}-0", "text": report(f"r{r - 1}-0", r - 1, 2)}
            state = {**state, changed["id"]: changed["text"]}
            writes.append(Write("POST", "/documents", changed, state))
            state = {k: v for k, v in state.items() if k != f"r{r - 1}-1"}
            writes.append(Write("DELETE", f"/documents/r{r - 1}-1", None, state))
    return writes


def cosine(question: str, text: str) -> float:
    vectors = HashingEmbedder(64).encode([question, text])
    return float(np.dot(vectors[0], vectors[1]))


def search_state(body: dict[str, Any], question: str, states: list[State]) -> int:
    """Index of the one state a /search over every chunk shows; raises when it shows none."""
    SearchOut.model_validate(body)
    seen: dict[str, set[str]] = {}
    for passage in body["results"]:
        # The vector FAISS returned for this chunk id is the embedding of this chunk's text:
        # vectors and chunk records come from one snapshot.
        assert abs(passage["dense_score"] - cosine(question, passage["text"])) < 1e-4, passage
        seen.setdefault(passage["doc_id"], set()).add(passage["text"])
    for i, state in enumerate(states):
        if seen.keys() == state.keys() and all(
            all(text in state[doc_id] for text in texts) for doc_id, texts in seen.items()
        ):
            return i
    raise AssertionError(f"a mixed state: {sorted(seen)}")


def cites_the_answer(text: str, start: int, end: int, body: dict) -> bool:
    """A citation's answer characters are the answer, or (the schema's promise) the same value
    in the article's own words ("3" cited for "three"), a whole figure ("3" of "3,000" is not)."""
    cited = text[start:end]
    if cited == body["answer"]:
        return True
    whole = not re.match(r"[,.]\d", text[end : end + 2]) and not re.search(
        r"\d[,.]?$", text[:start]
    )
    return (
        whole
        and body.get("normalized") is not None
        and [q.value for q in find_quantities(cited)] == [body["normalized"]]
    )


def check_answer(body: dict[str, Any], states: list[State]) -> None:
    """Every citation quotes an article as it was in some state, at the offsets it gives."""
    AnswerOut.model_validate(body)
    versions: dict[str, set[str]] = {}
    for state in states:
        for doc_id, text in state.items():
            versions.setdefault(doc_id, set()).add(text)
    for citation in body["citations"]:
        assert any(
            text[citation["start"] : citation["end"]] == citation["quote"]
            and (
                citation["answer_start"] is None
                or cites_the_answer(text, citation["answer_start"], citation["answer_end"], body)
            )
            for text in versions[citation["doc_id"]]
        ), citation


def test_reads_during_writes_see_the_old_or_the_new_state(server: Server) -> None:
    with server.client() as http:
        seed = {SEED_ID: http.get(f"/documents/{SEED_ID}").json()["text"]}
        assert http.get("/readyz").json()["articles"] == 1
    writes = plan_writes(seed)
    states = [seed] + [w.state for w in writes]
    done = threading.Event()
    failures: list[str] = []
    counts: dict[str, int] = {"search": 0, "ask": 0}

    def read(reader: int) -> None:
        last = 0  # the state this reader saw last: it may only move forward
        question = f"convoy drones shot down over {TOWNS[reader % len(TOWNS)]}"
        with server.client() as http:
            while not done.is_set() and len(failures) < 5:
                try:
                    found = http.get("/search", params={"q": question, "k": SEARCH_K})
                    assert found.status_code == 200, found.text
                    now = search_state(found.json(), question, states)
                    assert now >= last, f"went back from state {last} to {now}"
                    last = now
                    asked = http.post("/ask", json={"question": ODESSA})
                    assert asked.status_code == 200, asked.text
                    assert asked.json()["answer"] == "three"
                    check_answer(asked.json(), states)
                    town = TOWNS[(reader + last) % len(TOWNS)]
                    other = http.post("/ask", json={"question": f"how many drones over {town}?"})
                    assert other.status_code == 200, other.text
                    check_answer(other.json(), states)
                    counts["search"] += 1
                    counts["ask"] += 2
                except Exception as exc:  # reported below with the reader's number
                    failures.append(f"reader {reader}: {type(exc).__name__}: {exc}"[:2000])

    readers = [threading.Thread(target=read, args=(i,)) for i in range(READERS)]
    for thread in readers:
        thread.start()
    try:
        with server.client(headers=writer_headers()) as http:
            for write in writes:
                response = http.request(write.method, write.path, json=write.body)
                assert response.status_code in (200, 201), response.text
                time.sleep(0.05)  # let the readers see every state
            time.sleep(0.3)
    finally:
        done.set()
        for thread in readers:
            thread.join(timeout=REQUEST_S)
    assert not failures, "\n".join(failures)
    print(f"\nreads during {len(writes)} writes: {counts}")
    assert counts["search"] >= len(writes), counts  # the reads really overlapped the writes
    with server.client() as http:
        final = http.get("/search", params={"q": "convoy", "k": SEARCH_K}).json()
        assert search_state(final, "convoy", states) == len(states) - 1
        for doc_id in set(states[-1]) - {SEED_ID}:
            assert http.delete(f"/documents/{doc_id}", headers=writer_headers()).status_code == 200


# ----- operations: logs and request ids -----------------------------------------------------
def access_lines(server: Server, *request_ids: str) -> dict[str, dict[str, Any]]:
    """Access log entries by request id, once all the given ids are there.

    The server logs a request just after answering it, so the line may lag the response.
    """
    deadline = time.monotonic() + STOP_S
    while True:
        lines = [line for line in server.log().splitlines() if line.strip()]
        entries = [json.loads(line) for line in lines]  # every line is one JSON object
        found = {e["request_id"]: e for e in entries if "duration_ms" in e}
        if set(request_ids) <= found.keys() or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_request_id_is_echoed_and_logged_with_timings(server: Server) -> None:
    with server.client() as http:
        given = http.get("/healthz", headers={"X-Request-ID": "trace-42.a:b"})
        fresh = http.post("/ask", json={"question": ODESSA})
        unsafe = http.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert given.headers["X-Request-ID"] == "trace-42.a:b"
    assert len(fresh.headers["X-Request-ID"]) == 32
    assert unsafe.headers["X-Request-ID"] != "bad id\twith spaces"
    ids = [r.headers["X-Request-ID"] for r in (given, fresh, unsafe)]
    access = access_lines(server, *ids)
    line = access["trace-42.a:b"]
    assert line["route"] == "/healthz" and line["status"] == 200 and line["level"] == "info"
    ask = access[fresh.headers["X-Request-ID"]]
    assert ask["method"] == "POST" and ask["path"] == "/ask" and ask["duration_ms"] > 0
    assert unsafe.headers["X-Request-ID"] in access


def test_the_token_never_reaches_the_log(server: Server) -> None:
    near_miss = SERVER_TOKEN[:-1] + "x"
    with server.client() as http:
        added = http.post(
            "/documents", json={"id": "tok", "text": "Token log test."}, headers=writer_headers()
        )
        assert added.status_code == 201, added.text
        assert http.delete("/documents/tok", headers=writer_headers()).status_code == 200
        wrong = http.post(
            "/documents", json={"text": "x"}, headers={"Authorization": f"Bearer {near_miss}"}
        )
        assert wrong.status_code == 403
        assert http.get("/documents", params={"token": SERVER_TOKEN}).status_code == 200
    access_lines(server, *(r.headers["X-Request-ID"] for r in (added, wrong)))
    log = server.log()
    assert "DELETE /documents/tok 200" in log and "POST /documents 403" in log  # logged ...
    assert SERVER_TOKEN not in log and near_miss not in log  # ... without any token
    assert "Bearer" not in log


# ----- operations: metrics ------------------------------------------------------------------
def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(metrics: dict[Any, float], name: str, **labels: str) -> float:
    return metrics.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_requests_answers_and_the_index(
    client: TestClient, auth: dict[str, str]
) -> None:
    for _ in range(3):
        assert client.post("/ask", json={"question": ODESSA}).status_code == 200
    nowhere = {"question": ODESSA, "filters": {"source": "no such source"}}
    abstained = client.post("/ask", json=nowhere)
    assert abstained.json()["abstained"], abstained.json()
    client.get("/documents/no-such-doc")
    client.get("/no/such/route")
    for invented in ("BREW", "SPY", "X1"):  # neither paths nor methods multiply the series
        client.request(invented, f"/no/such/{invented}")
    client.post("/documents", json={"id": "m1", "text": "Metrics test article."}, headers=auth)
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    metrics = samples(response.text)
    ask = {"method": "POST", "route": "/ask", "status": "200"}
    assert value(metrics, "rag_http_requests_total", **ask) == 4
    assert value(metrics, "rag_http_request_duration_seconds_count", **ask) == 4
    assert value(metrics, "rag_http_request_duration_seconds_sum", **ask) > 0
    by_route = {"method": "GET", "route": "/documents/{doc_id:path}", "status": "404"}
    assert value(metrics, "rag_http_requests_total", **by_route) == 1
    assert value(metrics, "rag_http_requests_total", method="GET", route="unmatched", status="404")
    assert (
        value(metrics, "rag_http_requests_total", method="other", route="unmatched", status="404")
        == 3
    )
    assert value(metrics, "rag_answers_total", outcome="answered") == 3
    assert value(metrics, "rag_answers_total", outcome="abstained") == 1
    assert value(metrics, "rag_index_articles") == 2
    ready = client.get("/readyz").json()
    assert value(metrics, "rag_index_chunks") == ready["chunks"] > ready["articles"]
    assert value(metrics, "process_resident_memory_bytes") > 0


def test_metrics_follow_the_read_protection(
    make_client: Callable[..., TestClient], auth: dict[str, str]
) -> None:
    client = make_client(protect_reads=True)
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=auth).status_code == 200


def test_unexpected_failure_is_logged_once_with_its_request_id(
    client: TestClient, fake_pipeline: Any, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(fake_pipeline, "search", broken)
    with caplog.at_level("INFO", logger="api"):
        response = client.get("/search", params={"q": "Odessa"}, headers={"X-Request-ID": "r-500"})
    assert response.status_code == 500 and response.headers["X-Request-ID"] == "r-500"
    assert response.json()["error"]["code"] == "internal_error"
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and errors[0].request_id == "r-500" and errors[0].exc_info
    metrics = samples(client.get("/metrics").text)
    assert value(metrics, "rag_http_requests_total", method="GET", route="/search", status="500")
