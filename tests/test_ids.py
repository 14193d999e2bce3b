"""Ids as users have them: any string up to 512 characters, URLs in canonical form."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from rag.documents import article_from_record, read_file
from rag.errors import BadDocument
from rag.ingest.ids import canonical_url, check_id
from rag.settings import PROJECT_ROOT

pytest_plugins = ["api_fixtures"]

URL_ID = "https://www.example.com/world/europe/odesa-port-strike?id=7&page=2"


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("HTTPS://WWW.Example.COM/World/A", "https://www.example.com/World/A"),
        (
            "https://example.com/a?utm_source=x&utm_medium=rss&id=3#comments",
            "https://example.com/a?id=3",
        ),
        ("http://example.com:80/a?fbclid=abc", "http://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://example.com", "https://example.com/"),
        ("  https://example.com/a?q=b%20c  ", "https://example.com/a?q=b%20c"),
        ("tag:example.com,2024:talks", "tag:example.com,2024:talks"),
    ],
)
def test_canonical_urls(given: str, canonical: str) -> None:
    assert canonical_url(given) == canonical


@pytest.mark.parametrize(
    "doc_id",
    [URL_ID, "notes/kyiv 2024.md", "/srv/articles/a.txt", "Київ-1", "x" * 512, "../up", 42],
)
def test_ids_as_users_have_them_are_kept(doc_id: str | int) -> None:
    assert article_from_record({"id": doc_id, "text": "Three were wounded."}, "r").id == str(doc_id)
    assert check_id(doc_id, "r") == str(doc_id)


@pytest.mark.parametrize("doc_id", ["", "  ", "x" * 513, "a\nb", "a\tb", "a\x00b", True, 1.5])
def test_unusable_ids_are_refused(doc_id: object) -> None:
    with pytest.raises(BadDocument, match="id"):
        article_from_record({"id": doc_id, "text": "Three were wounded."}, "r")


def test_an_article_with_a_url_and_no_id_is_known_by_its_canonical_url() -> None:
    record = {"text": "Three were wounded.", "url": "https://Example.com/a?utm_campaign=x#top"}
    assert article_from_record(record, "r").id == "https://example.com/a"
    given = article_from_record({**record, "id": "mine"}, "r")
    assert given.id == "mine" and given.url == record["url"]


def test_a_url_too_long_for_an_id_gets_a_stable_short_one() -> None:
    url = "https://example.com/" + "a" * 600
    first = article_from_record({"text": "x y", "url": url}, "r").id
    assert (
        first.startswith("url-") and first == article_from_record({"text": "z", "url": url}, "r").id
    )


def test_reingesting_a_url_keyed_article_replaces_it(fake_pipeline) -> None:
    one = article_from_record(
        {"text": "Two were wounded in Odesa.", "url": URL_ID + "&utm_source=a"}, "r"
    )
    two = article_from_record({"text": "Three were wounded in Odesa.", "url": URL_ID + "#x"}, "r")
    assert fake_pipeline.ingest([one]).added == [URL_ID]
    report = fake_pipeline.ingest([two])
    assert report.replaced == [URL_ID] and not report.added
    assert fake_pipeline.article(URL_ID).text.startswith("Three")
    assert len(fake_pipeline.snapshot.articles) == 1


def test_id_from_path_keys_text_files_by_their_path(tmp_path: Path, fake_pipeline) -> None:
    note = tmp_path / "notes" / "kyiv.md"
    note.parent.mkdir()
    note.write_text("# Kyiv\n\nTwo drones were shot down.\n")
    assert [a.id for a in read_file(note, id_from="path")] == [note.as_posix()]
    assert fake_pipeline.ingest_paths([tmp_path / "notes"], id_from="path").added == [
        note.as_posix()
    ]
    note.write_text("# Kyiv\n\nFive drones were shot down.\n")
    report = fake_pipeline.ingest_paths([tmp_path / "notes"], id_from="path")
    assert report.replaced == [note.as_posix()] and len(fake_pipeline.snapshot.articles) == 1


def test_http_routes_take_url_encoded_ids(make_client, auth) -> None:
    client = make_client()
    doc_id = "https://example.com/a/b?c=d"
    assert (
        client.post(
            "/documents", json={"id": doc_id, "text": "Nine were hurt."}, headers=auth
        ).status_code
        == 201
    )
    got = client.get(f"/documents/{quote(doc_id, safe='')}")
    assert got.status_code == 200 and got.json()["id"] == doc_id
    assert client.delete(f"/documents/{quote(doc_id, safe='')}", headers=auth).json() == {
        "deleted": doc_id
    }
    assert client.get(f"/documents/{quote(doc_id, safe='')}").status_code == 404


def _rag(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *argv],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_url_id_round_trips_through_the_cli_and_a_real_server(tmp_path: Path, token: str) -> None:
    from rag.serve_process import start

    env = {
        **os.environ,
        "RAG_EMBEDDING_MODEL": "hashing:64",
        "RAG_INDEX_DIR": str(tmp_path / "index"),
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    articles = tmp_path / "articles.jsonl"
    record = {"text": "A strike wounded three in Odesa.", "url": URL_ID + "&utm_source=x"}
    articles.write_text(json.dumps(record) + "\n")
    ingested = _rag(env, "ingest", "--json", str(articles))
    assert ingested.returncode == 0, ingested.stderr
    assert json.loads(ingested.stdout)["added"] == [URL_ID]
    info = json.loads(_rag(env, "info", "--json").stdout)
    assert [d["id"] for d in info["documents"]] == [URL_ID]

    server_env = {k: v for k, v in env.items() if k.startswith(("RAG_", "PYTHONPATH"))}
    server_env["RAG_API_TOKEN"] = token
    with (
        start(
            tmp_path / "index", tmp_path / "server.log", env=server_env, clean_env=True
        ) as server,
        server.client() as http,
    ):
        got = http.get(f"/documents/{quote(URL_ID, safe='')}")
        assert got.status_code == 200 and got.json()["url"] == record["url"]
        gone = http.delete(
            f"/documents/{quote(URL_ID, safe='')}", headers={"Authorization": f"Bearer {token}"}
        )
        assert gone.json() == {"deleted": URL_ID}
    assert _rag(env, "delete", URL_ID).returncode == 1  # the server deleted it already
