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


def test_ask_on_the_page(live_server, page) -> None:
    page.goto(live_server.base_url + "/")
    ask_on_page(page, ODESSA)
    assert page.text_content("#answer") == "three"
    assert page.text_content("#sentence mark") == "three"
    assert "Local officials" in page.text_content("#attribution")
    assert "%" in page.text_content("#confidence")
    cards = page.locator("#citations > li")
    assert cards.count() >= 1
    assert cards.first.locator("mark").text_content() == "three"
    assert "wounded" in cards.first.text_content()
    assert screenshot(page, "ask.png").stat().st_size > 10_000
    assert page.errors == []


def test_an_abstention_is_shown_with_the_closest_passages(live_server, page) -> None:
    page.goto(live_server.base_url + "/")
    ask_on_page(page, "how many tanks were destroyed near Bakhmut?")
    assert "do not say" in page.text_content("#abstention")
    assert page.locator("#answer").count() == 0
    assert "%" in page.text_content("#confidence")
    passages = page.locator("#passages > li")
    assert passages.count() >= 1
    assert "Putin" in passages.first.text_content()  # the seed article, closest anyway
    screenshot(page, "abstain.png")


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
