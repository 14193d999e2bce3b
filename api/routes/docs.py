"""GET /redoc: ReDoc from the bundled script, with its one outside image (a CDN logo) kept out.

/docs (Swagger UI) comes from fastapi-offline as it is; its ReDoc page would still fetch the
"API docs by Redocly" logo from a CDN, so this one says `img-src 'self' data:`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html
from fastapi.responses import HTMLResponse

from api.routes.page import FAVICON_URL

DOCS_ASSETS_URL = "/static-docs"  # fastapi-offline's Swagger UI and ReDoc files, mounted here
REDOC_HEADERS = {"Content-Security-Policy": "img-src 'self' data:"}

router = APIRouter(include_in_schema=False)


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    page = get_redoc_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=f"{root}{DOCS_ASSETS_URL}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{FAVICON_URL}",
        with_google_fonts=False,
    )
    page.headers.update(REDOC_HEADERS)
    return page
