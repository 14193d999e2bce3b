"""A real `rag serve` process with the real bundled model, driven over HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest

from rag.settings import PROJECT_ROOT

pytest_plugins = ["api_fixtures"]
pytestmark = pytest.mark.integration

ODESSA = "how many were wounded in Odessa?"


def test_ask_odessa(live_server) -> None:
    with live_server.client() as http:
        response = http.post("/ask", json={"question": ODESSA})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["answer"] == "three" and not body["abstained"]
        citation = body["citations"][0]
        text = http.get(f"/documents/{citation['doc_id']}").json()["text"]
    assert text[citation["start"] : citation["end"]] == citation["quote"]
    assert text[citation["answer_start"] : citation["answer_end"]] == "three"


def test_ask_over_http_is_rag_ask_json(live_server) -> None:
    with live_server.client() as http:
        served = http.post("/ask", json={"question": ODESSA}).json()
    command = [sys.executable, "-m", "rag.cli", "ask", "--json", "--index"]
    command += [str(live_server.index_dir), ODESSA]
    cli = subprocess.run(
        command, cwd=PROJECT_ROOT, env=live_server.env, capture_output=True, text=True, timeout=300
    )
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout) == served


def test_add_find_delete(live_server, auth) -> None:
    doc_id = f"test-{uuid.uuid4().hex[:12]}"
    record = {
        "id": doc_id,
        "title": "Grain corridor convoy reaches Izmail",
        "source": "Integration Wire",
        "published_at": "2024-05-02",
        "text": (
            "A convoy of forty grain barges reached the Danube port of Izmail on Thursday, "
            "port authorities said. The barges had waited nine days for an escort."
        ),
    }
    query = {"q": "grain barges Izmail Danube convoy", "k": 3}
    with live_server.client() as http:
        try:
            added = http.post("/documents", json=record, headers=auth)
            assert added.status_code == 201, added.text
            assert added.json()["added"] == [doc_id]
            hits = http.get("/search", params=query).json()["results"]
            assert hits[0]["doc_id"] == doc_id
            answer = http.post(
                "/ask",
                json={
                    "question": "how many days did the barges wait?",
                    "filters": {"source": "Integration Wire"},
                },
            ).json()
            assert {c["doc_id"] for c in answer["citations"]} <= {doc_id}
        finally:
            deleted = http.delete(f"/documents/{doc_id}", headers=auth)
        assert deleted.status_code == 200, deleted.text
        hits = http.get("/search", params=query).json()["results"]
        assert doc_id not in {h["doc_id"] for h in hits}
        assert http.get(f"/documents/{doc_id}").status_code == 404


def test_writes_without_the_token_are_refused(live_server) -> None:
    with live_server.client() as http:
        before = http.get("/readyz").json()["articles"]
        missing = http.post("/documents", json={"text": "Unauthorized article."})
        assert missing.status_code == 401
        assert missing.json()["error"]["code"] == "missing_token"
        wrong = http.delete(
            "/documents/doc-609a6206bad7a554", headers={"Authorization": "Bearer nope"}
        )
        assert wrong.status_code == 403
        assert http.get("/readyz").json()["articles"] == before


def test_bad_input_over_http_is_4xx_json(live_server) -> None:
    with live_server.client() as http:
        cases = [
            http.post("/ask", json={"question": "   "}),
            http.post("/ask", json={"question": ODESSA, "top_k": 99}),
            http.post("/ask", content=b"{", headers={"Content-Type": "application/json"}),
            http.get("/search", params={"q": "Odessa", "published_after": "last week"}),
        ]
    for response in cases:
        assert 400 <= response.status_code < 500, response.text
        assert set(response.json()["error"]) >= {"code", "message"}


def test_server_log_says_it_built_the_index(live_server) -> None:
    log = live_server.log_tail(20_000)
    assert "building it from" in log and "serving" in log


def test_page_is_served(live_server) -> None:
    with live_server.client() as http:
        page = http.get("/")
    assert page.status_code == 200 and 'id="ask-form"' in page.text


@pytest.fixture(autouse=True)
def _no_leftovers(live_server) -> None:
    """Each test starts from the seed index (tests clean up what they add)."""
    with live_server.client() as http:
        assert http.get("/readyz").json()["articles"] == 1, live_server.log_tail()
