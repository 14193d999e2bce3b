"""GET / and /favicon.ico: the page to ask from (served by the app itself, no CDN)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
FAVICON_URL = "/favicon.ico"
FAVICON_MAX_AGE_S = 86_400
# The page runs only its own script and style; article text can never become code.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

router = APIRouter(include_in_schema=False)


@router.get("/")
def page() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", headers=PAGE_HEADERS)


@router.get(FAVICON_URL)
def favicon() -> FileResponse:
    """The icon browsers ask for on their own (and the docs pages name)."""
    return FileResponse(
        STATIC_DIR / "favicon.ico",
        media_type="image/x-icon",
        headers={"Cache-Control": f"public, max-age={FAVICON_MAX_AGE_S}"},
    )
