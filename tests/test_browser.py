"""The page in a real headless Chromium (Debian's), against a real `rag serve`."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from rag.settings import PROJECT_ROOT

pytest_plugins = ["api_fixtures"]
pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = PROJECT_ROOT / "eval" / "reports" / "screenshots"  # gitignored
ODESSA = "how many were wounded in Odessa?"
WAIT_MS = 60_000
SCRIPT_PAYLOAD = "<script>window.__pwned=1</script>"
IMG_PAYLOAD = '<img src=x onerror="window.__pwned=1">'


def skip_or_fail(reason: str) -> None:
    """Skip on a machine without a browser; fail where CI says the browser must be there."""
    if os.environ.get("REQUIRE_BROWSER_TESTS") == "1":
        pytest.fail(f"{reason} (REQUIRE_BROWSER_TESTS=1)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.is_file():
        skip_or_fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    try:
        from playwright import sync_api
    except ImportError:
        skip_or_fail("playwright is missing: pip install playwright (no `playwright install`)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.errors = []  # uncaught script errors on the page
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    try:
        yield page
    finally:
        context.close()


def block_all_but_loopback(page: Any) -> list[str]:
    """Abort every request to a host other than 127.0.0.1; the list fills with what was tried."""
    blocked: list[str] = []

    def route(request_route: Any) -> None:
        url = request_route.request.url
        if urlsplit(url).hostname == "127.0.0.1" or url.startswith(("data:", "blob:")):
            request_route.continue_()
        else:
            blocked.append(url)
            request_route.abort()

    page.context.route("**/*", route)
    return blocked


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


def open_filters(page: Any) -> None:
    page.click(".filters > summary")


def ask_on_page(page: Any, question: str) -> None:
    page.fill("#question", question)
    page.click("#ask")
    page.wait_for_selector("#result:not([hidden]) #answer-card", timeout=WAIT_MS)


ABSTAIN = "how many tanks were destroyed near Bakhmut?"
PHONE = {"width": 375, "height": 812}
LIKELY = 0.8  # api/static/app.js: the one confidence band shown in colour


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    try:
        yield page
    finally:
        context.close()


def ask_and_read(page: Any, question: str) -> dict[str, Any]:
    """Ask on the page with the keyboard (type, Enter); the answer document the page got."""
    page.fill("#question", question)
    with page.expect_response(lambda r: r.url.endswith("/ask")) as response:
        page.press("#question", "Enter")
    page.wait_for_selector("#result:not([hidden]) #answer-card", timeout=WAIT_MS)
    return dict(response.value.json())


def article_count(server: Any) -> int:
    with server.client() as http:
        return int(http.get("/readyz").json()["articles"])


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def shown_text(page: Any, selector: str) -> str:
    """What a reader sees (innerText leaves out a closed <details>)."""
    return str(page.inner_text(selector))


def test_ask_on_the_page(live_server, page) -> None:
    page.goto(live_server.base_url + "/")
    assert page.evaluate("document.activeElement.id") == "question"  # ready to type
    doc = ask_and_read(page, ODESSA)
    assert page.text_content("#answer") == "three"
    assert page.text_content("#sentence mark") == "three"
    assert "Local officials" in page.text_content("#attribution")
    # the cited sentence once, with its article's title under it
    shown = shown_text(page, "#result")
    assert shown.count(doc["sentence"]) == 1
    assert doc["citations"][0]["title"] in shown
    # the status line says what was searched
    articles, read = article_count(live_server), len(doc["passages"])
    status = page.text_content("#status")
    assert status == f"Searched {plural(articles, 'article')}, read {plural(read, 'passage')}."
    assert page.errors == []
    assert screenshot(page, "ask.png").stat().st_size > 10_000


def test_confidence_is_in_words_and_coloured_only_when_likely(live_server, page) -> None:
    page.goto(live_server.base_url + "/")
    doc = ask_and_read(page, ODESSA)
    words = page.text_content("#confidence strong")
    assert words == ("Likely" if doc["confidence"] >= LIKELY else "Uncertain")
    assert "%" not in page.inner_text("#confidence")  # the number is in the details
    colour = page.eval_on_selector("#confidence strong", "e => getComputedStyle(e).color")
    muted = page.eval_on_selector("#confidence", "e => getComputedStyle(e).color")
    assert (colour != muted) == (words == "Likely")


def test_ids_and_offsets_wait_behind_the_details_toggle(live_server, page) -> None:
    page.goto(live_server.base_url + "/")
    doc = ask_and_read(page, ODESSA)
    first = doc["citations"][0]
    offsets = f"characters {first['start']}–{first['end']}"
    assert first["doc_id"] not in shown_text(page, "#result")
    assert offsets not in shown_text(page, "#result")
    page.click("#details > summary")
    details = shown_text(page, "#details")
    assert first["doc_id"] in details and offsets in details
    assert f"{round(doc['confidence'] * 100)}%" in details


def test_the_question_travels_in_the_address(live_server, page, browser) -> None:
    page.goto(live_server.base_url + "/")
    ask_and_read(page, ODESSA)
    shared = page.url
    assert "?q=how+many+were+wounded+in+Odessa" in shared
    other = browser.new_context(viewport={"width": 1100, "height": 900}).new_page()
    try:
        other.goto(shared)  # someone opens the shared link: it asks on load
        other.wait_for_selector("#result:not([hidden]) #answer-card", timeout=WAIT_MS)
        assert other.text_content("#answer") == "three"
        assert other.input_value("#question") == ODESSA
    finally:
        other.context.close()
    ask_and_read(page, ABSTAIN)  # a second question is a new entry in the history
    assert "Bakhmut" in page.url
    page.go_back()  # the page asks the earlier question again
    page.wait_for_selector("#answer", timeout=WAIT_MS)  # (wait_for_function would need eval)
    assert page.text_content("#answer") == "three"
    assert page.input_value("#question") == ODESSA


def test_the_keyboard_reaches_everything_with_a_visible_focus(live_server, page) -> None:
    page.goto(live_server.base_url + "/")
    page.fill("#question", ODESSA)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "ask"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none")
    page.keyboard.press("Enter")
    page.wait_for_selector("#result:not([hidden]) #answer-card", timeout=WAIT_MS)
    page.click("body", position={"x": 5, "y": 5})
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "question"


def test_an_abstention_is_shown_with_the_closest_passages(live_server, page) -> None:
    page.goto(live_server.base_url + "/")
    doc = ask_and_read(page, ABSTAIN)
    assert doc["abstained"]
    assert "do not say" in page.text_content("#abstention")
    assert page.locator("#answer, #confidence").count() == 0
    assert page.text_content("#status").endswith("; the sources do not say.")
    passages = page.locator("#passages > li")
    assert passages.count() >= 1
    assert "Putin" in passages.first.text_content()  # the seed article, closest anyway
    assert doc["passages"][0]["doc_id"] not in shown_text(page, "#result")
    assert page.errors == []
    screenshot(page, "abstain.png")


@pytest.mark.parametrize(("question", "name"), [(ODESSA, "answer"), (ABSTAIN, "abstain")])
def test_the_page_fits_a_phone(live_server, phone, question: str, name: str) -> None:
    phone.goto(live_server.base_url + "/")
    ask_and_read(phone, question)
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    box = phone.locator("#ask").bounding_box()
    assert box is not None and box["x"] + box["width"] <= PHONE["width"]
    assert phone.errors == []
    screenshot(phone, f"phone-{name}.png")


def test_nothing_matching_the_filters_is_an_abstention(live_server, page) -> None:
    page.goto(live_server.base_url + "/")
    open_filters(page)
    page.fill("#source", "No Such Wire")
    ask_on_page(page, ODESSA)
    assert page.locator("#abstention").count() == 1
    assert "No passage matched" in page.text_content("#result")


def test_an_error_is_shown_to_the_reader(live_server, page) -> None:
    page.goto(live_server.base_url + "/")
    open_filters(page)
    page.fill("#published-after", "2024-05-01")
    page.fill("#published-before", "2024-01-01")
    page.fill("#question", ODESSA)
    page.click("#ask")
    page.wait_for_selector("#error:not([hidden])", timeout=WAIT_MS)
    assert "later than" in page.text_content("#error")


def test_article_text_is_shown_never_run(live_server, page, auth) -> None:
    doc_id = f"xss-{uuid.uuid4().hex[:12]}"
    record = {
        "id": doc_id,
        "title": f"Kherson ferry {IMG_PAYLOAD}",
        "source": "Payload Wire",
        "url": "javascript:window.__pwned=1",
        "text": (
            f"The Kherson river ferry resumed service on Friday. {SCRIPT_PAYLOAD} "
            f"Engineers said the ferry had been repaired in twelve days. {IMG_PAYLOAD}"
        ),
    }
    with live_server.client() as http:
        assert http.post("/documents", json=record, headers=auth).status_code == 201
        try:
            page.goto(live_server.base_url + "/")
            open_filters(page)
            page.fill("#source", "Payload Wire")
            for question in ("when did the Kherson ferry resume service?", "who owns the ferry?"):
                ask_on_page(page, question)
                shown = page.text_content("#result")
                assert IMG_PAYLOAD in shown  # the title, as text
                assert page.locator("#result img, #result script").count() == 0
                assert page.locator("#result a[href^='javascript']").count() == 0
                page.wait_for_timeout(300)  # give an injected handler the chance to fire
                assert page.evaluate("typeof window.__pwned") == "undefined"
            screenshot(page, "escaped.png")
            assert page.errors == []
        finally:
            http.delete(f"/documents/{doc_id}", headers=auth)


def test_swagger_ui_renders_with_no_network(fake_server, page) -> None:
    blocked = block_all_but_loopback(page)
    page.goto(fake_server.base_url + "/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=WAIT_MS)
    text = page.text_content(".swagger-ui")
    assert "conflict-rag" in text and "/ask" in text and "/search" in text
    assert page.locator(".swagger-ui .opblock").count() >= 6
    assert blocked == []
    assert page.errors == []
    screenshot(page, "docs.png")


def test_redoc_renders_with_no_network(fake_server, page) -> None:
    blocked = block_all_but_loopback(page)
    page.goto(fake_server.base_url + "/redoc")
    page.wait_for_selector(".api-content h1", timeout=WAIT_MS)
    assert "conflict-rag" in page.text_content(".api-content h1")
    assert "/ask" in page.text_content("body")
    assert blocked == []
    assert page.errors == []


# ----- several reports of one event (a server over eval/updates' articles) -------------------
TOLL = "How many people were killed in the shelling of the central market in Kherson?"


@pytest.fixture(scope="module")
def updates_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from api_fixtures import SERVER_START_S

    from rag.serve_process import start

    workdir = tmp_path_factory.mktemp("updates-server")
    seeds = workdir / "seeds"
    seeds.mkdir()
    (seeds / "articles.jsonl").write_bytes(
        (PROJECT_ROOT / "eval" / "updates" / "articles.jsonl").read_bytes()
    )
    env = {"RAG_SEEDS_DIR": str(seeds), "TRANSFORMERS_OFFLINE": "1", "RAG_ANSWERER": "reader"}
    with start(
        workdir / "index",
        workdir / "server.log",
        env=env,
        clean_env=True,
        start_timeout_s=SERVER_START_S,
    ) as server:
        yield server


def test_reports_of_several_articles_show_as_a_timeline(updates_server, page) -> None:
    page.goto(updates_server.base_url + "/?q=" + TOLL.replace(" ", "+"))
    page.wait_for_selector("#result:not([hidden]) #answer-card", timeout=WAIT_MS)
    with updates_server.client() as http:
        doc = http.post("/ask", json={"question": TOLL}).json()
    assert len(doc["reports"]) >= 2, doc["reports"]  # the toll changed across the articles
    page.wait_for_selector("#reports")
    items = page.query_selector_all("#reports .timeline > li")
    assert len(items) == len(doc["reports"])
    labels = {
        "updated": "Figures were updated over time",
        "disputed": "Sources disagree",
        "consistent": "Sources agree",
    }
    assert page.text_content("#agreement").startswith(labels[doc["agreement"]])
    page.click("#reports .timeline > li:first-child summary")  # a figure opens its quote
    first = doc["reports"][0]["citations"][0]["quote"]
    assert first in shown_text(page, "#reports")
    assert page.errors == []
    screenshot(page, "reports.png")
