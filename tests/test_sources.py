"""Real sources in: news pages, feeds and PDFs written to disk, ingested, then read back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sources import (
    BOILERPLATE,
    KHARKIV_BODY,
    MYKOLAIV_BODY,
    ODESA_BODY,
    REPORT_LINES,
    atom_feed,
    local_paper_page,
    pdf_bytes,
    rss_feed,
    wire_site_page,
    write_mixed_folder,
)

from rag.documents import Limits, read_file
from rag.settings import PROJECT_ROOT

pytest_plugins = ["api_fixtures"]

ODESA_URL = "https://www.reuters.example/world/europe/odesa-port-strike-2024-03-03/"
KHARKIV_URL = "https://kharkiv-today.example/news/guided-bomb-apartment"


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    return write_mixed_folder(tmp_path / "mixed")


def _only(path: Path, **kwargs):
    items = list(read_file(path, **kwargs))
    assert len(items) == 1, items
    return items[0]


def test_a_wire_page_keeps_its_story_and_drops_the_site(mixed: Path) -> None:
    article = _only(mixed / "reuters-odesa.html")
    for paragraph in ODESA_BODY:
        assert paragraph in article.text
    for junk in BOILERPLATE:
        assert junk not in article.text
    assert article.title == "Russian strike on Odesa port wounds three, governor says"
    assert not article.text.startswith(article.title)  # the headline is not repeated as text
    assert (article.id, article.url) == (ODESA_URL, ODESA_URL)  # utm_source dropped
    assert (article.source, article.author) == ("Reuters", "Olena Harmash")
    assert article.published_at == "2024-03-03" and article.place == "Odesa"


def test_a_local_paper_page_loses_its_comments(mixed: Path) -> None:
    article = _only(mixed / "kharkiv-today.htm")
    assert all(paragraph in article.text for paragraph in KHARKIV_BODY)
    assert "Stay strong" not in article.text and "Share on" not in article.text
    assert (article.id, article.source, article.author) == (
        KHARKIV_URL,
        "Kharkiv Today",
        "Maria Koval",
    )
    assert article.published_at == "2024-05-14"
    assert article.place == "Kharkiv, Ukraine"


def test_a_page_without_metadata_gets_a_title_and_a_content_id(mixed: Path) -> None:
    article = _only(mixed / "mykolaiv-portal.html")
    assert all(paragraph in article.text for paragraph in MYKOLAIV_BODY)
    assert "cookies" not in article.text and "Read also" not in article.text
    assert article.title == "Power restored in Mykolaiv after drone attack"
    assert article.id.startswith("doc-") and article.url is None
    path_keyed = _only(mixed / "mykolaiv-portal.html", id_from="path")
    assert path_keyed.id == (mixed / "mykolaiv-portal.html").as_posix()


def test_a_dateline_dates_a_page_whose_metadata_does_not(tmp_path: Path) -> None:
    page = wire_site_page("https://news.example/2024/03/03/odesa").replace(
        '<meta property="article:published_time" content="2024-03-03T09:41:00Z">', ""
    )
    path = tmp_path / "undated.html"
    path.write_text(page)
    article = _only(path)
    assert (article.published_at, article.place) == ("2024-03-03", "Odesa")


def test_rss_entries_are_articles(tmp_path: Path) -> None:
    path = tmp_path / "kyivwire.rss"
    path.write_text(rss_feed())
    first, second, empty = read_file(path)
    assert first.id == "https://kyivwire.example/2024/06/02/drones-kyiv"  # utm_medium dropped
    assert first.text == (
        "Air defences shot down 21 drones over the Kyiv region overnight, the regional military "
        "administration said.\n\nNo casualties were reported."
    )
    assert (first.title, first.source) == ("Drones shot down over Kyiv region", "Kyiv Wire")
    assert first.published_at == "2024-06-02T07:15:00+00:00"
    assert second.text.startswith("Ukrzaliznytsia said") and second.published_at.startswith(
        "2024-06-01"
    )
    assert empty.location == f"{path} entry 3" and "no content or summary" in empty.message


def test_atom_entries_prefer_content_over_summary(tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    path.write_text(atom_feed())
    hospital, talks = read_file(path)
    assert hospital.text.startswith("KHERSON, July 4 - Russian shelling damaged")
    assert "Short summary only" not in hospital.text
    assert (hospital.url, hospital.author) == (
        "https://frontline.example/reports/kherson-hospital",
        "Field Team",
    )
    assert hospital.published_at == "2024-07-04T16:20:00+00:00" and hospital.place == "Kherson"
    assert talks.id == "tag:frontline.example,2024:talks" and talks.url is None
    assert talks.source == "Front Line Monitor" and talks.published_at.startswith("2024-07-03")


def test_a_feed_under_another_name_is_read_as_one(tmp_path: Path) -> None:
    path = tmp_path / "feed"
    path.write_text(rss_feed())
    assert len([a for a in read_file(path) if hasattr(a, "text")]) == 2


def test_a_pdf_report_is_one_article_titled_from_its_metadata(mixed: Path, tmp_path: Path) -> None:
    article = _only(mixed / "may-update.pdf")
    assert "174 civilians killed" in article.text and "690 injured" in article.text
    assert article.title == "Protection of Civilians: May 2024"
    assert (article.author, article.published_at) == ("OHCHR", "2024-06-10")
    untitled = tmp_path / "untitled.pdf"
    untitled.write_bytes(pdf_bytes(REPORT_LINES))
    assert _only(untitled).title == REPORT_LINES[0]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("scan.pdf", pdf_bytes(None), "no extractable text"),
        ("broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog", "not a readable PDF"),
        ("fake.pdf", b"<html>not a pdf</html>", "not a PDF"),
        ("binary.html", bytes(range(256)) * 40, "binary content"),
        ("plain.html", b"just words, no markup at all " * 20, "no HTML markup"),
        (
            "empty.html",
            b"<html><body><nav><a href='/'>Home</a></nav></body></html>",
            "no article text",
        ),
        ("bad.rss", b"<rss><channel><title>x</title>", "no entries"),
        (
            "config.xml",
            b'<?xml version="1.0"?><config><a>1</a></config>',
            "not an RSS or Atom feed",
        ),
    ],
)
def test_bad_sources_are_one_line_with_their_path(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    problem = _only(path)
    assert problem.location == str(path) and message in problem.message, problem


def test_an_encrypted_pdf_says_so(mixed: Path) -> None:
    assert "encrypted" in _only(mixed / "locked.pdf").message


def test_a_huge_page_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.html"
    path.write_bytes(b"<html><body><p>" + b"word " * 10_000_000 + b"</p></body></html>")  # 50 MB
    problem = _only(path)
    assert "over the limit of 10,000,000" in problem.message
    small = _only(tmp_path / "huge.html", limits=Limits(max_page_bytes=100))
    assert "over the limit of 100" in small.message


def test_a_mixed_folder_goes_in_and_reingesting_replaces(mixed: Path, fake_pipeline) -> None:
    report = fake_pipeline.ingest_paths([mixed])
    assert sorted(p.location for p in report.skipped) == sorted(
        [str(mixed / "scan.pdf"), str(mixed / "locked.pdf"), f"{mixed / 'kyivwire.rss'} entry 3"]
    )
    assert len(report.added) == 3 + 2 + 2 + 1 and report.committed
    stored = fake_pipeline.article(ODESA_URL)
    assert stored.text == _only(mixed / "reuters-odesa.html").text
    assert stored.author == "Olena Harmash" and stored.place == "Odesa"  # kept by the store

    again = fake_pipeline.ingest_paths([mixed])
    assert not again.added and not again.committed and len(again.unchanged) == 8
    (mixed / "reuters-odesa.html").write_text(
        wire_site_page().replace("wounded three people", "wounded four people")
    )
    edited = fake_pipeline.ingest_paths([mixed / "reuters-odesa.html"])
    assert (
        edited.replaced == [ODESA_URL]
        and "wounded four people" in fake_pipeline.article(ODESA_URL).text
    )


def test_strict_writes_nothing_when_one_file_is_bad(mixed: Path, fake_pipeline) -> None:
    report = fake_pipeline.ingest_paths([mixed], strict=True)
    assert report.skipped and not report.committed and not fake_pipeline.store.exists()


def test_post_documents_takes_a_web_page(make_client, auth) -> None:
    client = make_client()
    page = local_paper_page()
    added = client.post(
        "/documents", json={"html": page, "url": "https://ignored.example/x"}, headers=auth
    )
    assert added.status_code == 201, added.text
    assert added.json()["added"] == [KHARKIV_URL]  # the page's own canonical URL wins
    body = client.get(f"/documents/{KHARKIV_URL.replace('/', '%2F')}").json()
    assert KHARKIV_BODY[0] in body["text"] and "Great reporting" not in body["text"]
    assert (body["source"], body["author"], body["published_at"]) == (
        "Kharkiv Today",
        "Maria Koval",
        "2024-05-14",
    )
    named = client.post(
        "/documents", json={"html": page, "id": "kharkiv-1", "source": "Desk"}, headers=auth
    )
    assert named.json()["added"] == [] or named.status_code in (200, 201)
    bad = client.post("/documents", json={"html": "<html><body></body></html>"}, headers=auth)
    assert bad.status_code == 422 and "no article text" in bad.json()["error"]["message"]


def test_rag_ingest_a_mixed_folder_from_the_command_line(mixed: Path, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "RAG_EMBEDDING_MODEL": "hashing:64",
        "RAG_INDEX_DIR": str(tmp_path / "index"),
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    run = subprocess.run(
        [sys.executable, "-m", "rag.cli", "ingest", str(mixed)],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "8 added, 0 replaced, 0 folded as copies, 0 unchanged, 3 skipped" in run.stdout
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith(f"rag: skipped {mixed}") for line in lines)
    assert "\r" not in run.stderr  # no progress bar when stderr is not a terminal
    info = subprocess.run(
        [sys.executable, "-m", "rag.cli", "info", "--json"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert json.loads(info.stdout)["articles"] == 8


def test_the_progress_line_shows_files_articles_and_chunk_rate() -> None:
    import io

    from rag.ingest.progress import Progress

    stream = io.StringIO()
    progress = Progress(stream, enabled=True)
    progress.reading(3, 3, 7)
    progress.embedding(0, 512)
    progress.embedding(512, 512)
    progress.close()
    shown = stream.getvalue()
    assert "reading 3/3 files, 7 articles" in shown
    assert "3 files, 7 articles; embedding 512/512 chunks" in shown and "chunks/s, ETA" in shown
    assert shown.endswith("\r")  # the line is cleared for the summary
    quiet = io.StringIO()
    Progress(quiet).reading(1, 1, 1)  # a StringIO is not a terminal
    assert quiet.getvalue() == ""
